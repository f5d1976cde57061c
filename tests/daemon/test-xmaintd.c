/*
 * xmaintd against Debian's real xenstored (in user space, tests/xsd/): the
 * daemon publishes the host identity with the schema's permissions, answers
 * requests, refuses hostile ones and keeps answering, follows domains
 * arriving and departing, survives kill -9 and stops cleanly.
 *
 * Exit: 0 all passed, 1 some failed, 77 skipped (no xenstored), 99 error.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib.h>
#include <CUnit/Basic.h>
#include <xenstore.h>

#include "internal.h"
#include "schema.h"
#include "xsd.h"
#include "daemon-env.h"
#include "../cunit-report.h"

static struct xsd *xsd;
static struct xs_handle *xs;
static maint_ctx *ctx;
static char *workdir, *state_dir, *log_path;
static pid_t daemon_pid;
static struct daemon_env env;

static const char *xmaintd_bin(void)
{
    const char *e = getenv("XMAINTD");

    return e ? e : XMAINTD_BIN;
}

static char *xs_get(const char *path)
{
    unsigned len;

    return xs_read(xs, XBT_NULL, path, &len);
}

static bool wait_for_path(const char *path, bool present, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        char *v = xs_get(path);
        bool there = v != NULL;

        free(v);
        if (there == present)
            return true;
        g_usleep(10000);
    }
    return false;
}

static bool log_contains(const char *needle)
{
    g_autofree char *text = NULL;

    for (int i = 0; i < 200; i++) {
        g_free(text);
        text = NULL;
        if (g_file_get_contents(log_path, &text, NULL, NULL) && strstr(text, needle))
            return true;
        g_usleep(10000);
    }
    fprintf(stderr, "\nlog lacks '%s'; log:\n%s\n", needle, text ? text : "(none)");
    return false;
}

static void daemon_start(void)
{
    pid_t pid = fork();

    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        execl(xmaintd_bin(), "xmaintd", "--foreground", "--pidfile", "",
              "--state-dir", state_dir, "--log-file", log_path, "--verbose",
              (char *)NULL);
        _exit(127);
    }
    daemon_pid = pid;
    /* Up when its state says so. */
    if (!daemon_env_wait_up(&env, pid))
        CU_FAIL_FATAL("xmaintd did not come up");
}

static int daemon_stop(int sig)
{
    return daemon_env_stop(&daemon_pid, sig);
}

/* A protocol-2 request value for a raw client: op, a fixed nonce, args. */
#define NONCE "0123456789abcdef0123456789abcdef"
#define RAW(op_and_args) "{\"nonce\":\"" NONCE "\"," op_and_args "}"

/* Write a raw request value as domain `domid` and wait for its answer (one
 * that carries `nonce`, when that is not NULL). */
static char *raw_request_n(unsigned domid, const char *id, const char *value, size_t len,
                           const char *nonce)
{
    g_autofree char *req = g_strdup_printf(MAINT_XS_REQUEST_FMT, domid, id);
    g_autofree char *resp = g_strdup_printf(MAINT_XS_RESPONSE_FMT, domid, id);
    maint__port port;
    char *out = NULL;

    CU_ASSERT_FATAL(xs_write(xs, XBT_NULL, req, value, (unsigned)len));
    CU_ASSERT_FATAL(maint__port_xen_open(&port, NULL, MAINT_CTX_NO_LIBXL) == 0);
    for (int i = 0; i < 500 && !out; i++) {
        if (maint__response_read(&port, domid, id, &out) == MAINT_OK && nonce &&
            !strstr(out, nonce)) {
            free(out);
            out = NULL;
        }
        if (!out)
            g_usleep(10000);
    }
    port.ops->close(port.priv);
    return out;
}

static char *raw_request(unsigned domid, const char *id, const char *value, size_t len)
{
    return raw_request_n(domid, id, value, len, NULL);
}

static void assert_error_response(const char *resp, const char *needle)
{
    char *result = NULL, *error = NULL;

    CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
    CU_ASSERT_EQUAL(maint__response_parse(resp, strlen(resp), NULL, &result, &error),
                    MAINT_ERROR_REMOTE);
    if (!error || !strstr(error, needle))
        fprintf(stderr, "\nerror '%s' lacks '%s'\n", error ? error : "(none)", needle);
    CU_ASSERT_PTR_NOT_NULL(error && strstr(error, needle));
    free(result);
    free(error);
}

static void assert_ping(void)
{
    char *result = NULL, *error = NULL;
    int rc = maint_request(ctx, "ping", NULL, 5000, &result, &error);

    CU_ASSERT_EQUAL(rc, MAINT_OK);
    CU_ASSERT_PTR_NOT_NULL(result && strstr(result, "\"pong\":true"));
    free(result);
    free(error);
}

/* The xenstore path of ctx's last request (or of its response), named as
 * the client names it. */
static char *last_request_path(bool response)
{
    CU_ASSERT_FATAL(ctx->last_request_id[0]);
    return g_strdup_printf(response ? MAINT_XS_RESPONSE_FMT : MAINT_XS_REQUEST_FMT,
                           ctx->self_domid, ctx->last_request_id);
}

/* ---- tests ----------------------------------------------------------------- */

static void test_ping_and_identity(void)
{
    g_autofree char *id_file = g_build_filename(state_dir, "host-id", NULL);
    g_autofree char *stored = NULL, *want = NULL;
    char *result = NULL, *published;

    CU_ASSERT_EQUAL(maint_request(ctx, "ping", NULL, 5000, &result, NULL), MAINT_OK);
    CU_ASSERT_FATAL(g_file_get_contents(id_file, &stored, NULL, NULL));
    g_strstrip(stored);
    CU_ASSERT(g_uuid_string_is_valid(stored));
    want = g_strdup_printf("\"host_id\":\"%s\"", stored);
    CU_ASSERT_PTR_NOT_NULL(result && strstr(result, want));
    CU_ASSERT_PTR_NOT_NULL(result && strstr(result, "\"domid\":0"));
    free(result);
    published = xs_get("/local/domain/0/xmaint/host/id");
    CU_ASSERT_STRING_EQUAL(published, stored);
    free(published);
    /* the request, under the id the client gave it, was consumed; the
     * client removed the answer it read */
    {
        g_autofree char *req = last_request_path(false);
        g_autofree char *resp = last_request_path(true);

        CU_ASSERT(wait_for_path(resp, false, 100));
        CU_ASSERT(wait_for_path(req, false, 5000));
    }
}

static void test_guest_tree_and_permissions(void)
{
    struct xs_permissions *p;
    unsigned n;

    CU_ASSERT_EQUAL_FATAL(xsd_introduce(xsd, 5), 0);
    CU_ASSERT_FATAL(wait_for_path("/local/domain/5/xmaint/host/id", true, 5000));
    CU_ASSERT(log_contains("d5 (xsd-5): domain arrived"));

    /* ~/xmaint and ~/xmaint/host/id: dom0's, readable by the guest */
    p = xs_get_permissions(xs, XBT_NULL, "/local/domain/5/xmaint", &n);
    CU_ASSERT_FATAL(p && n == 2);
    CU_ASSERT(p[0].id == 0 && p[0].perms == XS_PERM_NONE);
    CU_ASSERT(p[1].id == 5 && p[1].perms == XS_PERM_READ);
    free(p);
    p = xs_get_permissions(xs, XBT_NULL, "/local/domain/5/xmaint/host/id", &n);
    CU_ASSERT_FATAL(p && n == 2);
    CU_ASSERT(p[0].id == 0 && p[1].id == 5 && p[1].perms == XS_PERM_READ);
    free(p);
    /* request and response: owned by the guest, nobody else */
    p = xs_get_permissions(xs, XBT_NULL, "/local/domain/5/xmaint/request", &n);
    CU_ASSERT_FATAL(p && n == 1);
    CU_ASSERT(p[0].id == 5 && p[0].perms == XS_PERM_NONE);
    free(p);
    p = xs_get_permissions(xs, XBT_NULL, "/local/domain/5/xmaint/response", &n);
    CU_ASSERT_FATAL(p && n == 1);
    CU_ASSERT(p[0].id == 5);
    free(p);
}

static void test_guest_requests(void)
{
    char *resp, *result = NULL, *error = NULL;

    /* a guest's ping is answered in its own tree, naming it */
    resp = raw_request(5, "g1", RAW("\"op\":\"ping\""), strlen(RAW("\"op\":\"ping\"")));
    CU_ASSERT_EQUAL(maint__response_parse(resp, strlen(resp), NONCE, &result, &error), MAINT_OK);
    CU_ASSERT_PTR_NOT_NULL(result && strstr(result, "\"domid\":5"));
    free(result);
    free(resp);
    CU_ASSERT_PTR_NULL(xs_get("/local/domain/0/xmaint/response/g1"));
    /* dom0-only operations are refused to a guest */
    resp = raw_request(5, "g2", RAW("\"op\":\"list\""), strlen(RAW("\"op\":\"list\"")));
    assert_error_response(resp, "only for dom0");
    free(resp);
    /* a guest learns the host identity only */
    resp = raw_request(5, "g3", RAW("\"op\":\"host-info\""),
                       strlen(RAW("\"op\":\"host-info\"")));
    CU_ASSERT_EQUAL(maint__response_parse(resp, strlen(resp), NONCE, &result, &error), MAINT_OK);
    CU_ASSERT_PTR_NOT_NULL(result && strstr(result, "\"host_id\""));
    CU_ASSERT_PTR_NULL(result && strstr(result, "free_kb"));
    free(result);
    free(resp);
}

/* The agent's area is the guest's, its commands dom0's; workflows and
 * services are dom0's business and are validated before anything runs. */
/* dom0's request op(args) is refused with an error containing why. */
static void assert_refused(const char *op, const char *args, const char *why)
{
    char *result = NULL, *error = NULL;
    int rc = maint_request(ctx, op, args, 5000, &result, &error);

    CU_ASSERT_EQUAL(rc, MAINT_ERROR_REMOTE);
    if (!error || !strstr(error, why))
        fprintf(stderr, "\n%s %s: '%s' lacks '%s'\n", op, args, error ? error : "(none)", why);
    CU_ASSERT_PTR_NOT_NULL(error && strstr(error, why));
    free(result);
    free(error);
}

static void test_agent_tree_and_workflow_ops(void)
{
    struct xs_permissions *p;
    char *resp, *result = NULL, *error = NULL;
    unsigned n;
    int rc;

    CU_ASSERT_FATAL(wait_for_path("/local/domain/5/xmaint/agent", true, 5000));
    p = xs_get_permissions(xs, XBT_NULL, "/local/domain/5/xmaint/agent", &n);
    CU_ASSERT_FATAL(p && n == 1);
    CU_ASSERT(p[0].id == 5 && p[0].perms == XS_PERM_NONE);
    free(p);
    p = xs_get_permissions(xs, XBT_NULL, "/local/domain/5/xmaint/vchan", &n);
    CU_ASSERT_FATAL(p && n == 1);
    CU_ASSERT(p[0].id == 5);
    free(p);
    p = xs_get_permissions(xs, XBT_NULL, "/local/domain/5/xmaint/control", &n);
    CU_ASSERT_FATAL(p && n == 2);
    CU_ASSERT(p[0].id == 0 && p[0].perms == XS_PERM_NONE);
    CU_ASSERT(p[1].id == 5 && p[1].perms == XS_PERM_READ);
    free(p);

    /* a guest may not start workflows or touch services */
    {
        const char *v = "{\"nonce\":\"" NONCE "\",\"op\":\"workflow-start\",\"args\":{\"type\":\"hw-remove\"}}";
        resp = raw_request(5, "w1", v, strlen(v));
    }
    assert_error_response(resp, "only for dom0");
    free(resp);
    {
        const char *v = "{\"nonce\":\"" NONCE "\",\"op\":\"service-add\",\"args\":{\"app\":\"web\"}}";
        resp = raw_request(5, "w2", v, strlen(v));
    }
    assert_error_response(resp, "only for dom0");
    free(resp);

    /* dom0: bad workflow arguments are refused (the schema first: a negative
     * drain is refused, not cast to ~49 days), nothing is journalled; without
     * a hypervisor (this test's xenstored) a workflow cannot start */
    {
        static const struct { const char *args, *why; } bad[] = {
            { "{\"type\":\"teleport\",\"domain\":\"x\"}", "\"type\" is not one of" },
            { "{\"type\":\"hw-remove\"}", "missing argument 'domain'" },
            { "{\"type\":\"os-patch\",\"domain\":\"xsd-5\",\"patch\":\"true\",\"drain_ms\":-1}",
              "argument 'drain_ms': -1 is not in" },
            { "{\"type\":\"os-patch\",\"domain\":\"xsd-5\",\"pach\":\"true\"}",
              "unknown argument 'pach'" },
            { "{\"type\":\"hw-remove\",\"domain\":\"xsd-5\"}", "hypervisor is not available" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
            assert_refused("workflow-start", bad[i].args, bad[i].why);
    }
    {
        g_autofree char *wdir = g_build_filename(state_dir, "workflows", NULL);
        CU_ASSERT_FALSE(g_file_test(wdir, G_FILE_TEST_EXISTS));
    }
    rc = maint_request(ctx, "workflow-list", NULL, 5000, &result, &error);
    CU_ASSERT_EQUAL(rc, MAINT_OK);
    CU_ASSERT_STRING_EQUAL(result ? result : "", "[]");
    free(result);
    result = NULL;
    rc = maint_request(ctx, "workflow-abort", "{\"id\":\"nope\"}", 5000, &result, &error);
    CU_ASSERT_EQUAL(rc, MAINT_ERROR_REMOTE);
    CU_ASSERT_PTR_NOT_NULL(error && strstr(error, "no workflow nope"));
    free(error);
    error = NULL;

    /* services: every field checked; a domain without an agent address refused */
    {
        static const struct { const char *args, *why; } bad[] = {
            { "{\"app\":\"a/b\",\"vip\":\"10.0.0.1\",\"port\":80,\"domain\":\"x\"}", "not an application name" },
            { "{\"app\":\"web\",\"vip\":\"10.0.0.300\",\"port\":80,\"domain\":\"x\"}", "not an IPv4 address" },
            { "{\"app\":\"web\",\"vip\":\"10.0.0.1\",\"port\":0,\"domain\":\"x\"}", "argument 'port': 0 is not in 1-65535" },
            { "{\"app\":\"web\",\"vip\":\"10.0.0.1\",\"port\":\"80\",\"domain\":\"x\"}", "argument 'port' must be an integer" },
            { "{\"app\":\"web\",\"vip\":\"10.0.0.1\",\"port\":80}", "missing argument 'domain'" },
            { "{\"app\":\"web\",\"vip\":\"10.0.0.1\",\"port\":80,\"domain\":\"xsd-5\"}", "no address from its agent" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
            assert_refused("service-add", bad[i].args, bad[i].why);
    }
    rc = maint_request(ctx, "service-list", NULL, 5000, &result, &error);
    CU_ASSERT_EQUAL(rc, MAINT_OK);
    CU_ASSERT_STRING_EQUAL(result ? result : "", "[]");
    free(result);
}

/* Hot-standby requests a guest writes: validated, refused with a reason,
 * rate limited; dom0's pair commands need the hypervisor. */
static void test_standby_requests(void)
{
    static const struct { const char *req, *why; } bad[] = {
        { "{\"nonce\":\"" NONCE "\",\"op\":\"mem-request\",\"args\":{\"app\":\"web\",\"kb\":-5}}", "argument 'kb': -5 is not in" },
        { "{\"nonce\":\"" NONCE "\",\"op\":\"mem-request\",\"args\":{\"app\":\"web\",\"kb\":99999999999999999}}", "argument 'kb': 99999999999999999 is not in" },
        { "{\"nonce\":\"" NONCE "\",\"op\":\"mem-request\",\"args\":{\"app\":\"../x\",\"kb\":1024}}", "not an application name" },
        { "{\"nonce\":\"" NONCE "\",\"op\":\"mem-request\",\"args\":{\"app\":\"web\",\"kb\":1024}}", "only the active of a pair" },
    };
    char *resp, *result = NULL, *error = NULL;
    unsigned limited = 0;
    int rc;

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *id = g_strdup_printf("m%zu", i);
        resp = raw_request(5, id, bad[i].req, strlen(bad[i].req));
        assert_error_response(resp, bad[i].why);
        free(resp);
        g_usleep(300000);            /* stay under the rate limit */
    }
    /* another domain's application cannot be released or faulted */
    resp = raw_request(5, "m9", "{\"nonce\":\"" NONCE "\",\"op\":\"app-fault\",\"args\":{\"app\":\"web\",\"level\":\"major\"}}",
                       strlen("{\"nonce\":\"" NONCE "\",\"op\":\"app-fault\",\"args\":{\"app\":\"web\",\"level\":\"major\"}}"));
    assert_error_response(resp, "holds no such area");
    free(resp);
    g_usleep(1100000);
    /* a burst: at most 4 a second are considered */
    for (int i = 0; i < 10; i++) {
        g_autofree char *id = g_strdup_printf("b%d", i);
        const char *r = "{\"nonce\":\"" NONCE "\",\"op\":\"mem-release\",\"args\":{\"app\":\"web\"}}";
        resp = raw_request(5, id, r, strlen(r));
        if (resp && strstr(resp, "too many requests"))
            limited++;
        free(resp);
    }
    CU_ASSERT(limited >= 5);
    /* dom0: a pair needs the hypervisor; the table is empty */
    rc = maint_request(ctx, "standby-create", "{\"active\":\"a\",\"standby\":\"b\","
                       "\"standby_min_kb\":65536,\"reserve_kb\":262144,\"stall_s\":15}", 5000,
                       &result, &error);
    CU_ASSERT_EQUAL(rc, MAINT_ERROR_REMOTE);
    CU_ASSERT_PTR_NOT_NULL(error && strstr(error, "hypervisor is not available"));
    free(error);
    error = NULL;
    rc = maint_request(ctx, "standby-show", NULL, 5000, &result, &error);
    CU_ASSERT_EQUAL(rc, MAINT_OK);
    CU_ASSERT_PTR_NOT_NULL(result && strstr(result, "\"pairs\":[]"));
    free(result);
}

static void test_hostile_requests(void)
{
    GString *junk = g_string_new(NULL);
    char *resp;

    resp = raw_request(0, "h1", RAW("\"op\":\"frobnicate\""),
                       strlen(RAW("\"op\":\"frobnicate\"")));
    assert_error_response(resp, "unknown operation 'frobnicate'");
    CU_ASSERT_PTR_NOT_NULL(resp && strstr(resp, NONCE));     /* echoed */
    free(resp);
    assert_ping();

    /* an old client (no nonce) gets a clear refusal, not silence */
    resp = raw_request(0, "h0", "{\"op\":\"ping\"}", 13);
    assert_error_response(resp, "missing field 'nonce'");
    free(resp);

    resp = raw_request(0, "h2", "{\"args\":{}}", 11);
    assert_error_response(resp, "missing field 'op'");
    free(resp);
    assert_ping();

    resp = raw_request(0, "h3", RAW("\"op\":\"ping\",\"args\":{\"x\":1}"),
                       strlen(RAW("\"op\":\"ping\",\"args\":{\"x\":1}")));
    assert_error_response(resp, "takes no arguments");
    free(resp);

    /* 100 KiB of garbage: one maximal value, then many children of a request */
    for (int i = 0; i < 4000; i++)
        g_string_append_c(junk, (char)(1 + g_random_int_range(0, 255)));
    resp = raw_request(0, "h4", junk->str, junk->len);
    assert_error_response(resp, "request rejected");
    free(resp);
    for (int i = 0; i < 26; i++) {
        g_autofree char *p = g_strdup_printf("/local/domain/0/xmaint/request/h5/%d", i);
        CU_ASSERT(xs_write(xs, XBT_NULL, p, junk->str, (unsigned)junk->len));
    }
    CU_ASSERT(wait_for_path("/local/domain/0/xmaint/response/h5", true, 5000));
    resp = xs_get("/local/domain/0/xmaint/response/h5");
    assert_error_response(resp, "empty request");
    free(resp);
    CU_ASSERT(wait_for_path("/local/domain/0/xmaint/request/h5", false, 5000));
    assert_ping();

    /* paths outside the schema: an id that is not one, a key beside request */
    {
        const char *bad = "/local/domain/0/xmaint/request/"
                          "this-id-is-far-too-long-to-be-a-request-id";
        CU_ASSERT(xs_write(xs, XBT_NULL, bad, "{\"op\":\"ping\"}", 13));
        CU_ASSERT(wait_for_path(bad, false, 5000));
        CU_ASSERT(log_contains("dropped a request with an invalid id"));
    }
    CU_ASSERT(xs_write(xs, XBT_NULL, "/local/domain/0/xmaint/bogus", "{\"op\":\"ping\"}", 13));
    assert_ping();
    g_string_free(junk, TRUE);
    CU_ASSERT_EQUAL(kill(daemon_pid, 0), 0);
}

/* Served requests named like "fN" in the daemon's (verbose) log. */
static unsigned served_in_log(const char *prefix)
{
    g_autofree char *text = NULL;
    g_autofree char *needle = g_strdup_printf("served ping (%s", prefix);
    unsigned n = 0;

    if (!g_file_get_contents(log_path, &text, NULL, NULL))
        return 0;
    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_flood(void)
{
    unsigned n = 0;
    char **names;

    for (int i = 0; i < 200; i++) {
        g_autofree char *p = g_strdup_printf("/local/domain/0/xmaint/request/f%d", i);
        CU_ASSERT(xs_write(xs, XBT_NULL, p, RAW("\"op\":\"ping\""),
                           strlen(RAW("\"op\":\"ping\""))));
    }
    /* every request is served and consumed ... */
    for (int i = 0; i < 1000 && served_in_log("f") < 200; i++)
        g_usleep(10000);
    CU_ASSERT_EQUAL(served_in_log("f"), 200);
    names = xs_directory(xs, XBT_NULL, "/local/domain/0/xmaint/request", &n);
    CU_ASSERT_EQUAL(n, 0);
    free(names);
    /* ... and unread answers are pruned: at most 64 + 16 stay */
    assert_ping();
    names = xs_directory(xs, XBT_NULL, "/local/domain/0/xmaint/response", &n);
    CU_ASSERT(n >= 64 && n <= 64 + 16);
    free(names);
}

/* Unread answers are pruned oldest first by the time xmaintd answered, not
 * by xenstored's child order: an answer rewritten late (its node the oldest
 * child) outlives the answers written after it the first time. */
static void test_prune_by_answer_time(void)
{
    static const char renonce[] = "fedcba9876543210fedcba9876543210";
    g_autofree char *again = g_strdup_printf("{\"op\":\"ping\",\"nonce\":\"%s\"}", renonce);
    char *resp, **names;
    unsigned n = 0;

    for (int i = 0; i < 80; i++) {
        g_autofree char *id = g_strdup_printf("p%d", i);

        resp = raw_request(5, id, RAW("\"op\":\"ping\""), strlen(RAW("\"op\":\"ping\"")));
        CU_ASSERT_PTR_NOT_NULL(resp);
        free(resp);
    }
    resp = raw_request_n(5, "p0", again, strlen(again), renonce);
    CU_ASSERT_PTR_NOT_NULL(resp);
    free(resp);
    for (int i = 0; i < 16; i++) {     /* at least one pruning pass after p0 */
        g_autofree char *id = g_strdup_printf("q%d", i);

        free(raw_request(5, id, RAW("\"op\":\"ping\""), strlen(RAW("\"op\":\"ping\""))));
    }
    names = xs_directory(xs, XBT_NULL, "/local/domain/5/xmaint/response", &n);
    CU_ASSERT(n >= MAINT_XS_MAX_RESPONSES && n < MAINT_XS_MAX_RESPONSES + 16);
    free(names);
    resp = xs_get("/local/domain/5/xmaint/response/p0");
    CU_ASSERT_PTR_NOT_NULL(resp && strstr(resp, renonce));
    free(resp);
    resp = xs_get("/local/domain/5/xmaint/response/p1");
    CU_ASSERT_PTR_NULL(resp);
    free(resp);
    resp = xs_get("/local/domain/5/xmaint/response/q15");
    CU_ASSERT_PTR_NOT_NULL(resp);
    free(resp);
    xs_rm(xs, XBT_NULL, "/local/domain/5/xmaint/response");
    CU_ASSERT(xs_mkdir(xs, XBT_NULL, "/local/domain/5/xmaint/response"));
}

/* A deadline that passes while the daemon is stopped: TIMEOUT, and neither
 * the request nor an answer stays behind, even once the daemon goes on. */
static void test_deadline_mid_wait(void)
{
    g_autofree char *req = NULL, *resp = NULL;
    gint64 t0;
    int rc;

    CU_ASSERT_EQUAL_FATAL(kill(daemon_pid, SIGSTOP), 0);
    t0 = g_get_monotonic_time();
    rc = maint_request(ctx, "ping", NULL, 300, NULL, NULL);
    CU_ASSERT_EQUAL(rc, MAINT_ERROR_TIMEOUT);
    CU_ASSERT(g_get_monotonic_time() - t0 >= 290000);
    CU_ASSERT(g_get_monotonic_time() - t0 < 3000000);
    req = last_request_path(false);
    resp = last_request_path(true);
    CU_ASSERT(wait_for_path(req, false, 10));
    CU_ASSERT_EQUAL(kill(daemon_pid, SIGCONT), 0);
    assert_ping();                      /* the daemon has caught up ... */
    g_usleep(100000);
    CU_ASSERT(wait_for_path(req, false, 10));   /* ... and answered nothing late */
    CU_ASSERT(wait_for_path(resp, false, 10));
}

/* Two threads, each with its own context, in one process: every answer is
 * the answer to its own request (the unknown operation's name, different
 * for every request, comes back in the refusal). */
struct hammer {
    unsigned thread, count, wrong, failed;
    double seconds;
};

static gpointer hammer_thread(gpointer data)
{
    struct hammer *h = data;
    maint_ctx *c = NULL;
    gint64 t0 = g_get_monotonic_time();

    if (maint_ctx_open(&c, NULL, MAINT_CTX_NO_LIBXL)) {
        h->failed = h->count;
        return NULL;
    }
    for (unsigned i = 0; i < h->count; i++) {
        char op[MAINT_OP_MAX + 1], want[64];
        char *result = NULL, *error = NULL;
        int rc;

        snprintf(op, sizeof(op), "t%u-%u", h->thread, i);
        snprintf(want, sizeof(want), "unknown operation '%s'", op);
        rc = maint_request(c, op, NULL, 10000, &result, &error);
        if (rc != MAINT_ERROR_REMOTE)
            h->failed++;
        else if (!error || !strstr(error, want))
            h->wrong++;
        free(result);
        free(error);
    }
    h->seconds = (double)(g_get_monotonic_time() - t0) / 1e6;
    maint_ctx_close(c);
    return NULL;
}

static void test_two_contexts_two_threads(void)
{
    const char *e = getenv("XMAINT_TEST_REQUESTS");
    unsigned count = e ? (unsigned)atoi(e) : 10000;
    struct hammer h[2] = { { .thread = 1, .count = count }, { .thread = 2, .count = count } };
    GThread *t[2];
    char **names;
    unsigned n = 0;

    for (int i = 0; i < 2; i++)
        t[i] = g_thread_new("hammer", hammer_thread, &h[i]);
    for (int i = 0; i < 2; i++)
        g_thread_join(t[i]);
    for (int i = 0; i < 2; i++) {
        fprintf(stderr, "\n  thread %u: %u requests in %.2f s, %u wrong answers, "
                "%u failed", h[i].thread, h[i].count, h[i].seconds, h[i].wrong,
                h[i].failed);
        CU_ASSERT_EQUAL(h[i].wrong, 0);
        CU_ASSERT_EQUAL(h[i].failed, 0);
    }
    /* each client removed the answers it read */
    names = xs_directory(xs, XBT_NULL, "/local/domain/0/xmaint/request", &n);
    CU_ASSERT_EQUAL(n, 0);
    free(names);
}

static void test_domain_departure(void)
{
    char *resp;

    CU_ASSERT_EQUAL_FATAL(xsd_kill_domain(xsd, 5), 0);
    CU_ASSERT(xs_rm(xs, XBT_NULL, "/local/domain/5"));   /* as libxl does */
    CU_ASSERT(log_contains("d5 (xsd-5): domain departed"));
    /* its requests are no longer served (its tree is gone with it) */
    CU_ASSERT(xs_write(xs, XBT_NULL, "/local/domain/5/xmaint/request/late",
                       "{\"op\":\"ping\"}", 13));
    g_usleep(300000);
    resp = xs_get("/local/domain/5/xmaint/response/late");
    CU_ASSERT_PTR_NULL(resp);
    free(resp);
    xs_rm(xs, XBT_NULL, "/local/domain/5");
    assert_ping();
}

static void test_kill9_and_restart(void)
{
    g_autofree char *id_before = xs_get("/local/domain/0/xmaint/host/id");
    char *resp, *id_after;
    int status;

    status = daemon_stop(SIGKILL);
    CU_ASSERT(WIFSIGNALED(status));
    /* a request written while the daemon is down is served after restart */
    CU_ASSERT(xs_write(xs, XBT_NULL, "/local/domain/0/xmaint/request/while-down",
                       RAW("\"op\":\"ping\""), strlen(RAW("\"op\":\"ping\""))));
    {
        /* journals: read as JSON, whatever the order of the start record's
         * keys and whatever its strings hold; arguments checked again */
        g_autofree char *wdir = g_build_filename(state_dir, "workflows", NULL);
        g_autofree char *good = g_build_filename(wdir, "20260101-000000-os-patch-9.journal", NULL);
        g_autofree char *bad = g_build_filename(wdir, "20260101-000000-os-patch-8.journal", NULL);

        CU_ASSERT_EQUAL(g_mkdir_with_parents(wdir, 0700), 0);
        CU_ASSERT(g_file_set_contents(good,
            "{\"time\":1,\"event\":\"start\",\"args\":{\"type\":\"os-patch\",\"domain\":\"g9\","
            "\"patch\":\"echo '\\\"args\\\":{}}' >/x\"},\"type\":\"os-patch\",\"domain\":\"g9\","
            "\"substitute\":\"g9-sub\"}\n"
            "{\"time\":2,\"event\":\"end\",\"state\":\"done\"}\n", -1, NULL));
        CU_ASSERT(g_file_set_contents(bad,
            "{\"time\":1,\"event\":\"start\",\"type\":\"os-patch\",\"domain\":\"g8\","
            "\"substitute\":\"g8-sub\",\"args\":{\"type\":\"os-patch\",\"domain\":\"g8\","
            "\"drain_ms\":-1}}\n"
            "{\"time\":2,\"event\":\"end\",\"state\":\"done\"}\n", -1, NULL));
    }
    daemon_start();
    CU_ASSERT(wait_for_path("/local/domain/0/xmaint/response/while-down", true, 5000));
    resp = xs_get("/local/domain/0/xmaint/response/while-down");
    CU_ASSERT_PTR_NOT_NULL(resp && strstr(resp, "\"pong\":true"));
    free(resp);
    id_after = xs_get("/local/domain/0/xmaint/host/id");
    CU_ASSERT_STRING_EQUAL(id_after, id_before);     /* identity is durable */
    free(id_after);
    assert_ping();
    {
        char *result = NULL, *error = NULL;

        CU_ASSERT_EQUAL(maint_request(ctx, "workflow-list", NULL, 5000, &result, &error),
                        MAINT_OK);
        CU_ASSERT_PTR_NOT_NULL(result && strstr(result, "20260101-000000-os-patch-9"));
        CU_ASSERT_PTR_NULL(result && strstr(result, "20260101-000000-os-patch-8"));
        CU_ASSERT(log_contains("argument 'drain_ms': -1 is not in"));
        free(result);
        free(error);
    }
}

static void test_clean_shutdown(void)
{
    char *state;
    int status = daemon_stop(SIGTERM);

    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    state = xs_get(MAINT_XS_DAEMON_STATE);
    CU_ASSERT_STRING_EQUAL(state, "stopped");
    free(state);
    CU_ASSERT(log_contains("stopping on signal"));
    /* no daemon: a request times out and is withdrawn */
    CU_ASSERT_EQUAL(maint_request(ctx, "ping", NULL, 300, NULL, NULL), MAINT_ERROR_TIMEOUT);
    {
        g_autofree char *req = last_request_path(false);
        g_autofree char *resp = last_request_path(true);

        CU_ASSERT(wait_for_path(req, false, 100));
        CU_ASSERT(wait_for_path(resp, false, 100));
    }
}

static void test_bad_command_line(void)
{
    g_autofree char *out = NULL, *err = NULL;
    const char *argv1[] = { xmaintd_bin(), "--no-such-option", NULL };
    const char *argv2[] = { xmaintd_bin(), "--foreground", "stray", NULL };
    const char *argv3[] = { xmaintd_bin(), "--help", NULL };
    int status;

    CU_ASSERT(g_spawn_sync(NULL, (char **)argv1, NULL, 0, NULL, NULL, &out, &err,
                           &status, NULL));
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "Unknown option"));
    g_free(out); g_free(err); out = err = NULL;
    CU_ASSERT(g_spawn_sync(NULL, (char **)argv2, NULL, 0, NULL, NULL, &out, &err,
                           &status, NULL));
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    g_free(out); g_free(err); out = err = NULL;
    CU_ASSERT(g_spawn_sync(NULL, (char **)argv3, NULL, 0, NULL, NULL, &out, &err,
                           &status, NULL));
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--foreground"));
}

int main(void)
{
    int failed;
    CU_pSuite s;
    int rc;

    rc = daemon_env_open(&env, "xmaintd-test-XXXXXX");
    xsd = env.xsd;
    xs = env.xs;
    ctx = env.ctx;
    workdir = env.workdir;
    state_dir = env.state_dir;
    log_path = env.log_path;
    if (rc)
        return rc;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 99;
    s = CU_add_suite("xmaintd on real xenstored", NULL, NULL);
    CU_add_test(s, "bad command line", test_bad_command_line);
    CU_add_test(s, "start", daemon_start);
    CU_add_test(s, "ping and host identity", test_ping_and_identity);
    CU_add_test(s, "a guest's tree and permissions", test_guest_tree_and_permissions);
    CU_add_test(s, "a guest's requests", test_guest_requests);
    CU_add_test(s, "agent tree, workflow and service requests", test_agent_tree_and_workflow_ops);
    CU_add_test(s, "hot-standby requests", test_standby_requests);
    CU_add_test(s, "hostile requests", test_hostile_requests);
    CU_add_test(s, "a flood of requests", test_flood);
    CU_add_test(s, "unread answers pruned by answer time", test_prune_by_answer_time);
    CU_add_test(s, "a deadline passing mid-wait", test_deadline_mid_wait);
    CU_add_test(s, "two contexts in two threads", test_two_contexts_two_threads);
    CU_add_test(s, "domain departure", test_domain_departure);
    CU_add_test(s, "kill -9 and restart", test_kill9_and_restart);
    CU_add_test(s, "clean shutdown", test_clean_shutdown);
    failed = cunit_run_and_report();
    if (daemon_pid > 0)
        daemon_stop(SIGKILL);
    return daemon_env_close(&env, failed);
}
