/* maint_request() against a fake port whose write hook plays the daemon. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <glib.h>

#include "unit.h"
#include "schema.h"

#define REQ_DIR "/local/domain/0/xmaint/request/"

enum mode { ANSWER_OK, ANSWER_ERROR, ANSWER_BIG, SILENT };

static void daemon_hook(fake_port *fp, const char *path, const char *value,
                        void *opaque)
{
    enum mode *mode = opaque;
    const char *id;
    maint__request req;
    char *err = NULL, *resp = NULL;

    if (strncmp(path, REQ_DIR, strlen(REQ_DIR)))
        return;
    id = path + strlen(REQ_DIR);
    CU_ASSERT(maint__request_id_valid(id));
    CU_ASSERT_EQUAL_FATAL(maint__request_parse(value, strlen(value), &req, &err), 0);
    switch (*mode) {
    case ANSWER_OK:
        resp = maint__response_format_ok(req.nonce, "{\"pong\":true}");
        break;
    case ANSWER_ERROR:
        resp = maint__response_format_error(req.nonce, req.op, "unknown operation");
        break;
    case ANSWER_BIG: {
        GString *s = g_string_new("[");
        for (int i = 0; i < 3000; i++)
            g_string_append_printf(s, "%s\"%s-%d\"", i ? "," : "", req.op, i);
        g_string_append(s, "]");
        resp = maint__response_format_ok(req.nonce, s->str);
        g_string_free(s, TRUE);
        break;
    }
    case SILENT:
        break;
    }
    maint__request_dispose(&req);
    if (resp) {
        maint__port port = fake_port_port(fp);

        fake_port_set_write_hook(fp, NULL, NULL);
        CU_ASSERT_EQUAL(maint__response_write(&port, NULL, 0, id, resp), MAINT_OK);
        fake_port_set_write_hook(fp, daemon_hook, opaque);
        free(resp);
    }
}

static maint_ctx *ctx_with(fake_port **fp_r, enum mode *mode)
{
    maint__port port;
    maint_ctx *ctx = NULL;

    *fp_r = fake_port_new(&port);
    fake_port_set_write_hook(*fp_r, daemon_hook, mode);
    CU_ASSERT_EQUAL(maint__ctx_from_port(&ctx, NULL, &port), 0);
    return ctx;
}

static void test_request_ok(void)
{
    enum mode mode = ANSWER_OK;
    fake_port *fp;
    maint_ctx *ctx = ctx_with(&fp, &mode);
    char *result = NULL, *error = NULL;

    CU_ASSERT_EQUAL(maint_request(ctx, "ping", NULL, 1000, &result, &error), MAINT_OK);
    CU_ASSERT_STRING_EQUAL(result, "{\"pong\":true}");
    CU_ASSERT_PTR_NULL(error);
    free(result);
    /* the client removed the response it read; the request is the daemon's */
    CU_ASSERT_EQUAL(fake_port_count_prefix(fp, "/local/domain/0/xmaint/response"), 1);
    maint_ctx_close(ctx);
}

static void test_request_error(void)
{
    enum mode mode = ANSWER_ERROR;
    fake_port *fp;
    maint_ctx *ctx = ctx_with(&fp, &mode);
    char *result = NULL, *error = NULL;

    CU_ASSERT_EQUAL(maint_request(ctx, "frob", "{}", 1000, &result, &error),
                    MAINT_ERROR_REMOTE);
    CU_ASSERT_STRING_EQUAL(error, "unknown operation");
    CU_ASSERT_PTR_NULL(result);
    free(error);
    maint_ctx_close(ctx);
}

static void test_request_big(void)
{
    enum mode mode = ANSWER_BIG;
    fake_port *fp;
    maint_ctx *ctx = ctx_with(&fp, &mode);
    char *result = NULL;

    CU_ASSERT_EQUAL(maint_request(ctx, "list", NULL, 1000, &result, NULL), MAINT_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(result);
    CU_ASSERT(strlen(result) > 3 * MAINT_XS_CHUNK);
    CU_ASSERT_PTR_NOT_NULL(strstr(result, "\"list-2999\"]"));
    free(result);
    maint_ctx_close(ctx);
}

static void test_request_timeout(void)
{
    enum mode mode = SILENT;
    fake_port *fp;
    maint_ctx *ctx = ctx_with(&fp, &mode);
    char *result = NULL;
    gint64 t0 = g_get_monotonic_time();

    CU_ASSERT_EQUAL(maint_request(ctx, "ping", NULL, 200, &result, NULL),
                    MAINT_ERROR_TIMEOUT);
    CU_ASSERT(g_get_monotonic_time() - t0 >= 190000);
    /* the unanswered request was withdrawn */
    CU_ASSERT_EQUAL(fake_port_count_prefix(fp, "/local/domain/0/xmaint/request") , 1);
    maint_ctx_close(ctx);
}

static volatile sig_atomic_t guard_fired;

static void guard_handler(int sig)
{
    guard_fired = 1;
}

/* A deadline that has already passed: TIMEOUT at once, the request withdrawn.
 * (Unsigned, deadline - now wrapped into poll's "wait forever": only the
 * guard timer, which interrupts the poll, got it out.) */
static void test_request_deadline_passed(void)
{
    enum mode mode = SILENT;
    fake_port *fp;
    maint_ctx *ctx = ctx_with(&fp, &mode);
    struct sigaction sa = { .sa_handler = guard_handler }, old;
    struct itimerval guard = { .it_value = { .tv_sec = 5 } }, off = { { 0, 0 }, { 0, 0 } };

    guard_fired = 0;
    sigemptyset(&sa.sa_mask);
    CU_ASSERT_FATAL(sigaction(SIGALRM, &sa, &old) == 0);   /* no SA_RESTART */
    setitimer(ITIMER_REAL, &guard, NULL);
    CU_ASSERT_EQUAL(maint__request_until(ctx, "ping", NULL, maint__now_ms() - 1000, NULL, NULL),
                    MAINT_ERROR_TIMEOUT);
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    if (guard_fired)
        fprintf(stderr, "\nthe wait outlived its passed deadline by 5 s\n");
    CU_ASSERT_FALSE(guard_fired);
    CU_ASSERT_EQUAL(fake_port_count_prefix(fp, "/local/domain/0/xmaint/request"), 1);
    maint_ctx_close(ctx);
}

static void test_request_bad_args(void)
{
    enum mode mode = ANSWER_OK;
    fake_port *fp;
    maint_ctx *ctx = ctx_with(&fp, &mode);
    GString *huge = g_string_new("{\"a\":\"");

    CU_ASSERT_EQUAL(maint_request(ctx, "ping", "{not json", 100, NULL, NULL),
                    MAINT_ERROR_INVAL);
    while (huge->len < MAINT_REQUEST_MAX)
        g_string_append(huge, "xxxxxxxx");
    g_string_append(huge, "\"}");
    CU_ASSERT_EQUAL(maint_request(ctx, "ping", huge->str, 100, NULL, NULL),
                    MAINT_ERROR_INVAL);
    CU_ASSERT_EQUAL(maint_request(NULL, "ping", NULL, 100, NULL, NULL), MAINT_ERROR_INVAL);
    g_string_free(huge, TRUE);
    maint_ctx_close(ctx);
}

void suite_client_register(void)
{
    CU_pSuite s = CU_add_suite("client", NULL, NULL);

    CU_add_test(s, "answered request", test_request_ok);
    CU_add_test(s, "refused request", test_request_error);
    CU_add_test(s, "chunked answer", test_request_big);
    CU_add_test(s, "no daemon: timeout and withdrawal", test_request_timeout);
    CU_add_test(s, "a deadline already passed", test_request_deadline_passed);
    CU_add_test(s, "bad arguments", test_request_bad_args);
}
