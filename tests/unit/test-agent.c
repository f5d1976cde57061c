/* What a guest agent writes: application specs (data-driven, hostile input)
 * and the command round trip through a fake xenstore. */
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "unit.h"
#include "schema.h"

static const char *mode_name(maint_app_mode m)
{
    return m == MAINT_APP_REDIRECT ? "redirect" : m == MAINT_APP_STATE ? "state" : "checkpoint";
}

/* tests/data/agent/<case>.in is a spec value; <case>.out the verdict. */
static char *spec_verdict(const char *buf, size_t len)
{
    maint_app app;
    char *why = NULL, *v;
    int rc;

    memset(&app, 0, sizeof(app));
    rc = maint__app_spec_parse(buf, len, &app, &why);
    if (rc == MAINT_OK)
        v = g_strdup_printf("ok mode=%s port=%u state=%u", mode_name(app.mode), app.port,
                            app.nr_state);
    else
        v = g_strdup_printf("error %s: %s", maint_strerror(rc), why ? why : "?");
    free(why);
    return v;
}

static void test_spec_cases(void)
{
    CU_ASSERT(unit_each_case("agent", spec_verdict) >= 8);
}

static void test_names(void)
{
    CU_ASSERT(maint_app_name_valid("web"));
    CU_ASSERT(maint_app_name_valid("db_2-x"));
    CU_ASSERT_FALSE(maint_app_name_valid(""));
    CU_ASSERT_FALSE(maint_app_name_valid(NULL));
    CU_ASSERT_FALSE(maint_app_name_valid("a/b"));
    CU_ASSERT_FALSE(maint_app_name_valid("bad..name"));
    CU_ASSERT_FALSE(maint_app_name_valid("0123456789012345678901234567890123"));
    CU_ASSERT(maint_app_name_valid("01234567890123456789012345678901"));
}

/* The agent (played by a write hook) answers commands in the fake store. */
static void agent_hook(fake_port *fp, const char *path, const char *value, void *opaque)
{
    unsigned dom;
    char seq[32], rp[128];

    if (sscanf(path, "/local/domain/%u/xmaint/control/%31s", &dom, seq) != 2)
        return;
    snprintf(rp, sizeof(rp), MAINT_XS_AGENT_RESULT_FMT, dom, seq);
    if (strstr(value, "\"op\":\"start\""))
        fake_port_put(fp, rp, "{\"ok\":true}");
    else
        fake_port_put(fp, rp, "{\"ok\":false,\"error\":\"no application x here\"}");
}

static void test_commands_and_apps(void)
{
    maint__port port;
    fake_port *fp = fake_port_new(&port);
    maint_ctx *ctx = NULL;
    maint_domain_info info;
    maint_app *apps = NULL;
    unsigned n = 0;
    char *err = NULL, buf[32];

    maint_domain_info_init(&info);
    info.domid = 7;
    info.name = strdup("g");
    fake_port_add_domain(fp, &info);
    maint_domain_info_dispose(&info);
    CU_ASSERT_EQUAL_FATAL(maint__ctx_from_port(&ctx, NULL, &port), MAINT_OK);
    fake_port_set_write_hook(fp, agent_hook, NULL);

    CU_ASSERT_EQUAL(maint_agent_command(ctx, 7, "{\"op\":\"start\",\"app\":\"web\"}", 1000, &err),
                    MAINT_OK);
    CU_ASSERT_PTR_NULL(err);
    CU_ASSERT_EQUAL(maint_agent_command(ctx, 7, "{\"op\":\"stop\",\"app\":\"x\"}", 1000, &err),
                    MAINT_ERROR_REMOTE);
    CU_ASSERT_STRING_EQUAL(err ? err : "", "no application x here");
    free(err);
    /* answered commands are cleaned up */
    CU_ASSERT_EQUAL(fake_port_count_prefix(fp, "/local/domain/7/xmaint/control/"), 0);
    CU_ASSERT_EQUAL(fake_port_count_prefix(fp, "/local/domain/7/xmaint/agent/result/"), 0);

    /* apps: a good one, a bad spec, a bad name -> only the good one */
    fake_port_put(fp, "/local/domain/7/xmaint/agent/apps/web/spec",
                  "{\"mode\":\"redirect\",\"port\":80,\"state\":[]}");
    fake_port_put(fp, "/local/domain/7/xmaint/agent/apps/web/status", "running");
    fake_port_put(fp, "/local/domain/7/xmaint/agent/apps/evil/spec", "{\"mode\":\"rm -rf\"}");
    fake_port_put(fp, "/local/domain/7/xmaint/agent/apps/a.b/spec", "{\"mode\":\"state\"}");
    CU_ASSERT_EQUAL(maint_agent_apps(ctx, 7, &apps, &n), MAINT_OK);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_STRING_EQUAL(apps[0].name, "web");
    CU_ASSERT_STRING_EQUAL(apps[0].status, "running");
    free(apps);
    /* "stopping" (a checkpoint dump under way) is one of the set */
    fake_port_put(fp, "/local/domain/7/xmaint/agent/apps/web/status", "stopping");
    CU_ASSERT_EQUAL(maint_agent_app_status(ctx, 7, "web", buf, sizeof(buf)), MAINT_OK);
    CU_ASSERT_STRING_EQUAL(buf, "stopping");
    /* status values outside the set read as unknown */
    fake_port_put(fp, "/local/domain/7/xmaint/agent/apps/web/status", "pwned");
    CU_ASSERT_EQUAL(maint_agent_app_status(ctx, 7, "web", buf, sizeof(buf)), MAINT_OK);
    CU_ASSERT_STRING_EQUAL(buf, "unknown");
    /* addresses: only unicast IPv4 */
    fake_port_put(fp, "/local/domain/7/xmaint/agent/addr", "10.99.0.7");
    CU_ASSERT_EQUAL(maint_agent_addr(ctx, 7, buf, sizeof(buf)), MAINT_OK);
    CU_ASSERT_STRING_EQUAL(buf, "10.99.0.7");
    fake_port_put(fp, "/local/domain/7/xmaint/agent/addr", "255.255.255.255");
    CU_ASSERT_EQUAL(maint_agent_addr(ctx, 7, buf, sizeof(buf)), MAINT_ERROR_NOENT);
    fake_port_put(fp, "/local/domain/7/xmaint/agent/addr", "10.99.0.7; rm -rf /");
    CU_ASSERT_EQUAL(maint_agent_addr(ctx, 7, buf, sizeof(buf)), MAINT_ERROR_NOENT);
    fake_port_put(fp, "/local/domain/7/xmaint/agent/addr", "127.0.0.1");
    CU_ASSERT_EQUAL(maint_agent_addr(ctx, 7, buf, sizeof(buf)), MAINT_ERROR_NOENT);
    maint_ctx_close(ctx);
}

/* The waits: an answer, none in time, the domain gone meanwhile. */
static void test_waits(void)
{
    maint__port port;
    fake_port *fp = fake_port_new(&port);
    maint_ctx *ctx = NULL;
    maint_domain_info info;
    char *err = NULL, seq[24];
    int64_t t0;

    maint_domain_info_init(&info);
    info.domid = 9;
    fake_port_add_domain(fp, &info);
    maint_domain_info_dispose(&info);
    CU_ASSERT_EQUAL_FATAL(maint__ctx_from_port(&ctx, NULL, &port), MAINT_OK);

    fake_port_put(fp, "/local/domain/9/xmaint/agent/state", "starting");
    t0 = maint__now_ms();
    CU_ASSERT_EQUAL(maint_agent_wait_ready(ctx, 9, 300), MAINT_ERROR_TIMEOUT);
    CU_ASSERT(maint__now_ms() - t0 >= 300);
    fake_port_put(fp, "/local/domain/9/xmaint/agent/state", "ready");
    CU_ASSERT_EQUAL(maint_agent_wait_ready(ctx, 9, 300), MAINT_OK);

    /* a command nobody answers: a timeout that says so; left for a later look */
    CU_ASSERT_EQUAL_FATAL(maint_agent_command_send(ctx, 9, "{\"op\":\"start\",\"app\":\"web\"}",
                                                   seq, sizeof(seq)), MAINT_OK);
    CU_ASSERT_EQUAL(maint_agent_command_wait(ctx, 9, seq, 200, &err), MAINT_ERROR_TIMEOUT);
    CU_ASSERT_STRING_EQUAL(err ? err : "", "no answer from d9's agent within 200 ms");
    free(err);
    err = NULL;
    /* a malformed answer is the agent's refusal, named as such, and cleaned up */
    {
        char *rp = g_strdup_printf("/local/domain/9/xmaint/agent/result/%s", seq);

        fake_port_put(fp, rp, "{\"ok\":");
        CU_ASSERT_EQUAL(maint_agent_command_wait(ctx, 9, seq, 200, &err), MAINT_ERROR_REMOTE);
        CU_ASSERT_STRING_EQUAL(err ? err : "", "malformed answer from the agent");
        CU_ASSERT_PTR_NULL(fake_port_get(fp, rp));
        free(err);
        err = NULL;
        g_free(rp);
    }

    /* the domain goes: both waits end at once with NOENT, not at their timeout */
    fake_port_put(fp, "/local/domain/9/xmaint/agent/state", "starting");
    fake_port_remove_domain(fp, 9);
    t0 = maint__now_ms();
    CU_ASSERT_EQUAL(maint_agent_wait_ready(ctx, 9, 5000), MAINT_ERROR_NOENT);
    CU_ASSERT_EQUAL(maint_agent_command_wait(ctx, 9, "77", 5000, &err), MAINT_ERROR_NOENT);
    CU_ASSERT_STRING_EQUAL(err ? err : "", "d9 is gone");
    CU_ASSERT(maint__now_ms() - t0 < 2000);
    free(err);
    maint_ctx_close(ctx);
}

/* Guests asked to shut down: "reaped" (its toolstack removes it at once),
 * "lingers" (shut down, nobody reaps it), "deaf" (ignores the request). */
static void retiring(fake_port *fp, uint32_t domid, const char *event, void *opaque)
{
    const char *how = *(const char **)opaque;

    if (strcmp(event, "shutdown"))
        return;
    if (!strcmp(how, "reaped"))
        fake_port_remove_domain(fp, domid);
    else if (!strcmp(how, "lingers"))
        fake_port_set_domain_state(fp, domid, MAINT_DOMAIN_STATE_SHUTDOWN);
}

/* maint_domain_retire: asked, reaped by its toolstack, or destroyed after
 * the caller's reap wait or the shutdown timeout; gone in every case. */
static void test_retire(void)
{
    static const struct {
        const char *how;
        unsigned timeout_ms;
        int64_t at_least_ms, below_ms;
    } cases[] = {
        { "reaped", 5000, 0, 1000 },
        { "lingers", 5000, 300, 2000 },          /* the reap wait (300 ms) */
        { "deaf", 400, 400, 2000 },              /* the timeout, then destroyed */
    };
    maint__port port;
    fake_port *fp = fake_port_new(&port);
    maint_ctx *ctx = NULL;
    const char *how = "";
    maint_domain_info info;

    CU_ASSERT_EQUAL_FATAL(maint__ctx_from_port(&ctx, NULL, &port), MAINT_OK);
    fake_port_set_hypervisor(fp, 30, retiring, &how);
    CU_ASSERT_EQUAL(maint_ctx_set_reap_wait(ctx, 300), MAINT_OK);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t t0, ms;

        maint_domain_info_init(&info);
        info.domid = 40 + (uint32_t)i;
        info.state = MAINT_DOMAIN_STATE_RUNNING;
        fake_port_add_domain(fp, &info);
        how = cases[i].how;
        t0 = maint__now_ms();
        CU_ASSERT_EQUAL(maint_domain_retire(ctx, info.domid, cases[i].timeout_ms), MAINT_OK);
        ms = maint__now_ms() - t0;
        CU_ASSERT(ms >= cases[i].at_least_ms && ms < cases[i].below_ms);
        CU_ASSERT_EQUAL(maint_domain_info_get(ctx, info.domid, &info), MAINT_ERROR_NOENT);
    }
    CU_ASSERT_EQUAL(maint_domain_retire(ctx, 99, 100), MAINT_OK);   /* long gone */
    CU_ASSERT_EQUAL(maint_domain_retire(ctx, 0, 100), MAINT_ERROR_INVAL);
    maint_ctx_close(ctx);
}

void suite_agent_register(void)
{
    CU_pSuite s = CU_add_suite("agent", NULL, NULL);

    CU_add_test(s, "retire: reaped, reap wait, timeout", test_retire);
    CU_add_test(s, "waits: answered, timed out, domain gone", test_waits);
    CU_add_test(s, "spec cases (tests/data/agent)", test_spec_cases);
    CU_add_test(s, "application names", test_names);
    CU_add_test(s, "commands, applications, addresses", test_commands_and_apps);
}
