/*
 * The library's shared helpers: the xenstore transaction-retry loop and
 * "has the domain gone down", each against a scripted port of its own.
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include <CUnit/CUnit.h>

#include "unit.h"

/* ---- a port that scripts transactions and one domain's state ------------ */

static struct {
    int conflicts;          /* commits that fail with EAGAIN before one succeeds */
    int starts, commits, aborts, bodies;
    int body_errno;         /* the body fails with it (0: succeeds) */
    int info_rc;            /* domain_info's answer */
    maint_domain_state state;
} sc;

static int s_txn_start(void *priv, uint32_t *txn_r)
{
    *txn_r = (uint32_t)++sc.starts;
    return 0;
}

static int s_txn_end(void *priv, uint32_t txn, bool abort)
{
    if (abort) {
        sc.aborts++;
        return 0;
    }
    if (sc.conflicts > 0) {
        sc.conflicts--;
        errno = EAGAIN;
        return -1;
    }
    sc.commits++;
    return 0;
}

static int s_domain_info(void *priv, uint32_t domid, maint_domain_info *info_r)
{
    if (sc.info_rc)
        return sc.info_rc;
    info_r->domid = domid;
    info_r->state = sc.state;
    return MAINT_OK;
}

static const maint__port_ops script_ops = {
    .xs_txn_start = s_txn_start,
    .xs_txn_end = s_txn_end,
    .domain_info = s_domain_info,
};

static maint__port script_port(void)
{
    maint__port p = { .ops = &script_ops, .priv = NULL };

    memset(&sc, 0, sizeof(sc));
    return p;
}

static int body(maint__port *port, uint32_t txn, void *user)
{
    sc.bodies++;
    CU_ASSERT_EQUAL(txn, (uint32_t)sc.starts);     /* inside the current one */
    if (sc.body_errno) {
        errno = sc.body_errno;
        return -1;
    }
    return 0;
}

static void test_txn_retry(void)
{
    maint__port p = script_port();

    /* three conflicts: the body runs again each time, the fourth commits */
    sc.conflicts = 3;
    CU_ASSERT_EQUAL(maint__xs_transaction(&p, body, NULL), 0);
    CU_ASSERT_EQUAL(sc.bodies, 4);
    CU_ASSERT_EQUAL(sc.starts, 4);
    CU_ASSERT_EQUAL(sc.commits, 1);
    CU_ASSERT_EQUAL(sc.aborts, 0);

    /* conflicting for ever: 8 attempts, then EAGAIN */
    p = script_port();
    sc.conflicts = 1000;
    errno = 0;
    CU_ASSERT_EQUAL(maint__xs_transaction(&p, body, NULL), -1);
    CU_ASSERT_EQUAL(errno, EAGAIN);
    CU_ASSERT_EQUAL(sc.bodies, 8);
    CU_ASSERT_EQUAL(sc.commits, 0);

    /* the body fails: aborted once, its errno kept, no retry */
    p = script_port();
    sc.body_errno = EACCES;
    CU_ASSERT_EQUAL(maint__xs_transaction(&p, body, NULL), -1);
    CU_ASSERT_EQUAL(errno, EACCES);
    CU_ASSERT_EQUAL(sc.bodies, 1);
    CU_ASSERT_EQUAL(sc.aborts, 1);
    CU_ASSERT_EQUAL(sc.commits, 0);
}

static void test_domain_down(void)
{
    static const struct {
        int rc;
        maint_domain_state state;
        bool down;
        const char *what;
    } cases[] = {
        { MAINT_ERROR_NOENT, MAINT_DOMAIN_STATE_RUNNING, true, "gone" },
        { MAINT_ERROR_HYPERVISOR, MAINT_DOMAIN_STATE_RUNNING, false, "unknown" },
        { MAINT_OK, MAINT_DOMAIN_STATE_RUNNING, false, NULL },
        { MAINT_OK, MAINT_DOMAIN_STATE_PAUSED, false, NULL },
        { MAINT_OK, MAINT_DOMAIN_STATE_SHUTDOWN, true, NULL },
        { MAINT_OK, MAINT_DOMAIN_STATE_CRASHED, true, NULL },
        { MAINT_OK, MAINT_DOMAIN_STATE_DYING, true, NULL },
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        maint__port p = script_port();
        const char *what = NULL;

        sc.info_rc = cases[i].rc;
        sc.state = cases[i].state;
        CU_ASSERT_EQUAL(maint__domain_down(&p, 7, &what), cases[i].down);
        CU_ASSERT_STRING_EQUAL(what, cases[i].what ? cases[i].what
                                                   : maint_domain_state_name(cases[i].state));
        CU_ASSERT_EQUAL(maint__domain_down(&p, 7, NULL), cases[i].down);
    }
}

/* maint_hide_spec_write, one transaction, read back as written; what is not
 * hidden any more is removed. */
static void test_hide_spec_write(void)
{
    maint__port port;
    fake_port *fp = fake_port_new(&port);
    maint_ctx *ctx = NULL;
    maint_hide_spec s, back;

    CU_ASSERT_EQUAL_FATAL(maint__ctx_from_port(&ctx, NULL, &port), MAINT_OK);
    maint_hide_spec_init(&s);
    maint_hide_spec_add_pci(&s, "00:05.0");
    maint_hide_spec_add_mem(&s, "0x8000000-0x8ffffff");
    fake_port_put(fp, "/local/domain/9/xmaint/hide/vcpus", "3");      /* stale */
    CU_ASSERT_EQUAL(maint_hide_spec_write(ctx, 9, &s), MAINT_OK);
    CU_ASSERT_STRING_EQUAL(fake_port_get(fp, "/local/domain/9/xmaint/hide/pci"), "00:05.0");
    CU_ASSERT_STRING_EQUAL(fake_port_get(fp, "/local/domain/9/xmaint/hide/memory"),
                           "0x8000000-0x8ffffff");
    CU_ASSERT_PTR_NULL(fake_port_get(fp, "/local/domain/9/xmaint/hide/vcpus"));
    maint_hide_spec_init(&back);
    CU_ASSERT_EQUAL(maint__hide_spec_read(ctx, 9, &back), MAINT_OK);
    CU_ASSERT_EQUAL(back.nr_pci, 1);
    CU_ASSERT_EQUAL(back.nr_mem, 1);
    CU_ASSERT_EQUAL(back.nr_vcpus, 0);
    CU_ASSERT_EQUAL(maint_hide_spec_write(ctx, 0, &s), MAINT_ERROR_INVAL);   /* dom0 */
    maint_ctx_close(ctx);
}

void suite_util_register(void)
{
    CU_pSuite s = CU_add_suite("util", NULL, NULL);

    CU_add_test(s, "a transaction runs again while it conflicts, 8 times at most",
                test_txn_retry);
    CU_add_test(s, "has the domain gone down", test_domain_down);
    CU_add_test(s, "the hiding spec in one transaction", test_hide_spec_write);
}
