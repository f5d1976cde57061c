/*
 * xmaintd as the toolstack of the domains it created (xmaintd/shutdown.c):
 * which shutdowns it acts on, the action a configuration names, what it
 * does for each, what it logs, and which domains are its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/CUnit.h>

#include "../cunit-report.h"
#include "shutdown.h"

static const libxl_shutdown_reason acted_on[] = {
    LIBXL_SHUTDOWN_REASON_CRASH, LIBXL_SHUTDOWN_REASON_REBOOT,
    LIBXL_SHUTDOWN_REASON_WATCHDOG, LIBXL_SHUTDOWN_REASON_SOFT_RESET,
};
static const libxl_shutdown_reason left_alone[] = {
    LIBXL_SHUTDOWN_REASON_POWEROFF, LIBXL_SHUTDOWN_REASON_SUSPEND,
    LIBXL_SHUTDOWN_REASON_UNKNOWN,
};

static void test_reasons(void)
{
    for (unsigned i = 0; i < sizeof(acted_on) / sizeof(acted_on[0]); i++)
        CU_ASSERT_TRUE(xmd_sd_applies(acted_on[i]));
    for (unsigned i = 0; i < sizeof(left_alone) / sizeof(left_alone[0]); i++) {
        CU_ASSERT_FALSE(xmd_sd_applies(left_alone[i]));
        /* whatever the configuration says: a retirement, a save, a migration */
        for (int a = LIBXL_ACTION_ON_SHUTDOWN_DESTROY; a <= LIBXL_ACTION_ON_SHUTDOWN_SOFT_RESET; a++)
            for (int f = 0; f < 2; f++)
                CU_ASSERT_EQUAL(xmd_sd_decide(left_alone[i], a, f).verb, XMD_SD_NOTHING);
    }
}

static void test_action_from_config(void)
{
    libxl_domain_config c;

    memset(&c, 0, sizeof(c));
    c.on_crash = LIBXL_ACTION_ON_SHUTDOWN_PRESERVE;
    c.on_reboot = LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
    c.on_watchdog = LIBXL_ACTION_ON_SHUTDOWN_COREDUMP_DESTROY;
    c.on_soft_reset = LIBXL_ACTION_ON_SHUTDOWN_RESTART;
    CU_ASSERT_EQUAL(xmd_sd_action(&c, LIBXL_SHUTDOWN_REASON_CRASH),
                    LIBXL_ACTION_ON_SHUTDOWN_PRESERVE);
    CU_ASSERT_EQUAL(xmd_sd_action(&c, LIBXL_SHUTDOWN_REASON_REBOOT),
                    LIBXL_ACTION_ON_SHUTDOWN_DESTROY);
    CU_ASSERT_EQUAL(xmd_sd_action(&c, LIBXL_SHUTDOWN_REASON_WATCHDOG),
                    LIBXL_ACTION_ON_SHUTDOWN_COREDUMP_DESTROY);
    CU_ASSERT_EQUAL(xmd_sd_action(&c, LIBXL_SHUTDOWN_REASON_SOFT_RESET),
                    LIBXL_ACTION_ON_SHUTDOWN_RESTART);
    /* unset (0) or unreadable: xl's defaults */
    memset(&c, 0, sizeof(c));
    for (int k = 0; k < 2; k++) {
        const libxl_domain_config *cfg = k ? NULL : &c;

        CU_ASSERT_EQUAL(xmd_sd_action(cfg, LIBXL_SHUTDOWN_REASON_CRASH),
                        LIBXL_ACTION_ON_SHUTDOWN_DESTROY);
        CU_ASSERT_EQUAL(xmd_sd_action(cfg, LIBXL_SHUTDOWN_REASON_REBOOT),
                        LIBXL_ACTION_ON_SHUTDOWN_RESTART);
        CU_ASSERT_EQUAL(xmd_sd_action(cfg, LIBXL_SHUTDOWN_REASON_WATCHDOG),
                        LIBXL_ACTION_ON_SHUTDOWN_DESTROY);
        CU_ASSERT_EQUAL(xmd_sd_action(cfg, LIBXL_SHUTDOWN_REASON_SOFT_RESET),
                        LIBXL_ACTION_ON_SHUTDOWN_SOFT_RESET);
    }
    /* a value out of range is no action */
    c.on_crash = 99;
    CU_ASSERT_EQUAL(xmd_sd_action(&c, LIBXL_SHUTDOWN_REASON_CRASH),
                    LIBXL_ACTION_ON_SHUTDOWN_DESTROY);
}

static void test_decisions(void)
{
    /* v: while the creating workflow runs and has not moved the
     * applications; done: once they are moved or it is over (a domain in
     * service is not destroyed for want of a restart) */
    static const struct { libxl_action_on_shutdown a; xmd_sd_verb v, done; } table[] = {
        { LIBXL_ACTION_ON_SHUTDOWN_DESTROY, XMD_SD_DESTROY, XMD_SD_DESTROY },
        { LIBXL_ACTION_ON_SHUTDOWN_RESTART, XMD_SD_DESTROY, XMD_SD_LEAVE },
        { LIBXL_ACTION_ON_SHUTDOWN_RESTART_RENAME, XMD_SD_DESTROY, XMD_SD_LEAVE },
        { LIBXL_ACTION_ON_SHUTDOWN_SOFT_RESET, XMD_SD_DESTROY, XMD_SD_LEAVE },
        { LIBXL_ACTION_ON_SHUTDOWN_PRESERVE, XMD_SD_LEAVE, XMD_SD_LEAVE },
        { LIBXL_ACTION_ON_SHUTDOWN_COREDUMP_DESTROY, XMD_SD_LEAVE, XMD_SD_LEAVE },
        { LIBXL_ACTION_ON_SHUTDOWN_COREDUMP_RESTART, XMD_SD_LEAVE, XMD_SD_LEAVE },
    };

    for (unsigned r = 0; r < sizeof(acted_on) / sizeof(acted_on[0]); r++)
        for (unsigned i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
            xmd_sd_plan p = xmd_sd_decide(acted_on[r], table[i].a, true);

            CU_ASSERT_EQUAL(xmd_sd_decide(acted_on[r], table[i].a, false).verb,
                            table[i].done);
            CU_ASSERT_EQUAL(p.verb, table[i].v);
            CU_ASSERT_EQUAL(p.reason, acted_on[r]);
            CU_ASSERT_EQUAL(p.action, table[i].a);
        }
}

static void said_when(bool in_flight, libxl_shutdown_reason r, libxl_action_on_shutdown a,
                      const char *want)
{
    xmd_sd_plan p = xmd_sd_decide(r, a, in_flight);
    char *s = xmd_sd_describe(&p);

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    if (strcmp(s, want))
        fprintf(stderr, "said \"%s\"\nwant \"%s\"\n", s, want);
    CU_ASSERT_STRING_EQUAL(s, want);
    free(s);
}
#define said(...) said_when(true, __VA_ARGS__)

static void test_descriptions(void)
{
    said(LIBXL_SHUTDOWN_REASON_CRASH, LIBXL_ACTION_ON_SHUTDOWN_DESTROY,
         "crashed; destroyed (on_crash=destroy)");
    said(LIBXL_SHUTDOWN_REASON_REBOOT, LIBXL_ACTION_ON_SHUTDOWN_RESTART,
         "rebooted; destroyed (on_reboot=restart: xmaintd does not restart the domains "
         "it creates, it destroys them)");
    said(LIBXL_SHUTDOWN_REASON_CRASH, LIBXL_ACTION_ON_SHUTDOWN_RESTART_RENAME,
         "crashed; destroyed (on_crash=rename-restart: xmaintd does not restart the "
         "domains it creates, it destroys them)");
    said(LIBXL_SHUTDOWN_REASON_SOFT_RESET, LIBXL_ACTION_ON_SHUTDOWN_SOFT_RESET,
         "asked for a soft reset; destroyed (on_soft_reset=soft-reset: xmaintd does not "
         "soft-reset the domains it creates, it destroys them)");
    said(LIBXL_SHUTDOWN_REASON_WATCHDOG, LIBXL_ACTION_ON_SHUTDOWN_PRESERVE,
         "its watchdog fired; left shut down (on_watchdog=preserve: 'xl destroy' it when done)");
    said(LIBXL_SHUTDOWN_REASON_CRASH, LIBXL_ACTION_ON_SHUTDOWN_COREDUMP_RESTART,
         "crashed; left shut down (on_crash=coredump-restart: xmaintd dumps no core; "
         "'xl dump-core' it, then 'xl destroy' it)");
    /* a substitute holding the applications (or after its workflow): kept */
    said_when(false, LIBXL_SHUTDOWN_REASON_REBOOT, LIBXL_ACTION_ON_SHUTDOWN_RESTART,
              "rebooted; left shut down (on_reboot=restart: it is in service and xmaintd "
              "does not restart domains; 'xl destroy' it and start it again)");
    said_when(false, LIBXL_SHUTDOWN_REASON_CRASH, LIBXL_ACTION_ON_SHUTDOWN_DESTROY,
              "crashed; destroyed (on_crash=destroy)");
    said(LIBXL_SHUTDOWN_REASON_POWEROFF, LIBXL_ACTION_ON_SHUTDOWN_DESTROY,
         "powered off; nothing done (on_poweroff=destroy)");
}

static void test_ours(void)
{
    xmd_sd_created recs[2] = {
        { 12, "0b0a5f3e-9d6c-4e7a-8f1b-2c3d4e5f6a7b" },
        { 30, "11111111-2222-3333-4444-555555555555" },
    };

    CU_ASSERT_TRUE(xmd_sd_ours(recs, 2, 12, "0b0a5f3e-9d6c-4e7a-8f1b-2c3d4e5f6a7b"));
    CU_ASSERT_TRUE(xmd_sd_ours(recs, 2, 30, "11111111-2222-3333-4444-555555555555"));
    CU_ASSERT_TRUE(xmd_sd_ours(recs, 2, 12, "0B0A5F3E-9D6C-4E7A-8F1B-2C3D4E5F6A7B"));
    /* the domid of one with the UUID of the other, a domid reused after a
     * wrap, a domain started again under the same UUID: not ours */
    CU_ASSERT_FALSE(xmd_sd_ours(recs, 2, 12, "11111111-2222-3333-4444-555555555555"));
    CU_ASSERT_FALSE(xmd_sd_ours(recs, 2, 12, "deadbeef-0000-0000-0000-000000000000"));
    CU_ASSERT_FALSE(xmd_sd_ours(recs, 2, 31, "11111111-2222-3333-4444-555555555555"));
    /* no UUID, no records: never */
    CU_ASSERT_FALSE(xmd_sd_ours(recs, 2, 12, ""));
    CU_ASSERT_FALSE(xmd_sd_ours(recs, 2, 12, NULL));
    CU_ASSERT_FALSE(xmd_sd_ours(NULL, 0, 12, "0b0a5f3e-9d6c-4e7a-8f1b-2c3d4e5f6a7b"));
    /* an administrator's domain (never recorded) with any domid */
    CU_ASSERT_FALSE(xmd_sd_ours(recs, 2, 1, "0b0a5f3e-9d6c-4e7a-8f1b-2c3d4e5f6a7c"));
}

int main(void)
{
    static const struct { const char *name; CU_TestFunc fn; } tests[] = {
        { "which shutdowns", test_reasons },
        { "the configured action, xl's defaults", test_action_from_config },
        { "reason and action -> what is done", test_decisions },
        { "what is logged", test_descriptions },
        { "created by xmaintd or not", test_ours },
    };
    CU_pSuite s;
    int failed;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 99;
    s = CU_add_suite("xmaintd as the toolstack of its domains", NULL, NULL);
    for (unsigned i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
        CU_add_test(s, tests[i].name, tests[i].fn);
    failed = cunit_run_and_report();
    return failed < 0 ? 99 : failed ? 1 : 0;
}
