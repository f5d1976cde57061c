/* The request/response protocol: data-driven parse cases and round trips. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <yajl/yajl_tree.h>

#include "unit.h"
#include "schema.h"

/* A request's args as JSON text (g_free), or "(none)". */
static char *args_text(const maint__request *req)
{
    maint__json *j;
    char *t, *out;

    if (!req->args)
        return g_strdup("(none)");
    j = maint__json_new();
    maint__json_tree(j, req->args);
    t = maint__json_finish(j);
    out = g_strdup(t);
    free(t);
    return out;
}

/* tests/data/request/<case>.in is a request value; <case>.out the verdict. */
static char *request_verdict(const char *buf, size_t len)
{
    maint__request req;
    char *err = NULL, *v;
    int rc = maint__request_parse(buf, len, &req, &err);

    if (rc == MAINT_OK) {
        g_autofree char *a = args_text(&req);
        v = g_strdup_printf("ok op=%s args=%s", req.op, a);
    } else
        v = g_strdup_printf("error %s: %s", maint_strerror(rc), err);
    maint__request_dispose(&req);
    free(err);
    return v;
}

static void test_parse_cases(void)
{
    CU_ASSERT(unit_each_case("request", request_verdict) >= 10);
}

/*
 * tests/data/args/<case>.in is a request value; <case>.out the verdict of
 * its arguments against the op's schema: the typed values (as JSON, in
 * schema order) or the refusal.  client-*: what the real clients send
 * (xl-maint, xmaint-agent, examples/), each accepted.
 */
static char *args_verdict(const char *buf, size_t len)
{
    maint__request req;
    maint__args args;
    char *err = NULL, *v;
    int rc = maint__request_parse(buf, len, &req, &err);

    maint__args_init(&args);
    if (rc == MAINT_OK)
        rc = maint__args_parse(req.op, req.args, &args, &err);
    if (rc == MAINT_OK) {
        char *t = maint__args_to_json(&args);
        v = g_strdup_printf("ok %s %s", req.op, t ? t : "(no memory)");
        free(t);
    } else {
        v = g_strdup_printf("error %s: %s", maint_strerror(rc), err);
    }
    maint__args_dispose(&args);
    maint__args_dispose(&args);     /* idempotent */
    maint__request_dispose(&req);
    free(err);
    return v;
}

static void test_args_cases(void)
{
    CU_ASSERT(unit_each_case("args", args_verdict) >= 20);
}

/* Every op that has a schema is one the daemon serves, and every key of
 * every schema is sane (typed accessors find what the parse set). */
static void test_args_schema(void)
{
    static const char *const with_args[] = {
        "workflow-start", "workflow-abort", "service-add", "service-remove",
        "standby-create", "standby-destroy", "mem-request", "mem-release", "app-fault",
    };
    static const char *const without[] = {
        "ping", "list", "host-info", "workflow-list", "service-list", "standby-show",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(with_args); i++) {
        const maint__op_args_schema *s = maint__op_args_schema_find(with_args[i]);

        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        for (unsigned k = 0; k < s->nr; k++) {
            CU_ASSERT(s->keys[k].min <= s->keys[k].max);
            CU_ASSERT(s->keys[k].type != MAINT__ARG_INT || s->keys[k].min >= 0);
            CU_ASSERT(s->keys[k].type != MAINT__ARG_STRV || s->keys[k].item_max > 0);
        }
    }
    for (size_t i = 0; i < G_N_ELEMENTS(without); i++)
        CU_ASSERT_PTR_NULL(maint__op_args_schema_find(without[i]));
    {
        static const char req[] = "{\"op\":\"mem-request\",\"args\":{\"kb\":4096,\"app\":\"db\"}}";
        const char *none[1];
        maint__request r;
        maint__args a;
        char *err = NULL;

        CU_ASSERT_EQUAL_FATAL(maint__request_parse(req, strlen(req), &r, &err), MAINT_OK);
        CU_ASSERT_EQUAL_FATAL(maint__args_parse(r.op, r.args, &a, &err), MAINT_OK);
        maint__request_dispose(&r);         /* the values are the args' own */
        CU_ASSERT_STRING_EQUAL(maint__args_str(&a, "app"), "db");
        CU_ASSERT_EQUAL(maint__args_int(&a, "kb", -1), 4096);
        /* a key of another type, or not in the schema: not given */
        CU_ASSERT_PTR_NULL(maint__args_str(&a, "kb"));
        CU_ASSERT_EQUAL(maint__args_int(&a, "app", -1), -1);
        CU_ASSERT_EQUAL(maint__args_strv(&a, "app", none, 1), 0);
        CU_ASSERT_PTR_NULL(maint__args_str(&a, "nope"));
        maint__args_dispose(&a);
    }
}

static void test_parse_limits(void)
{
    maint__request req;
    char *err = NULL;
    GString *s = g_string_new("{\"op\":\"ping\",\"args\":{\"pad\":\"");
    int rc;

    while (s->len < MAINT_REQUEST_MAX + 10)
        g_string_append_c(s, 'x');
    g_string_append(s, "\"}}");
    rc = maint__request_parse(s->str, s->len, &req, &err);
    CU_ASSERT_EQUAL(rc, MAINT_ERROR_TOOBIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "too long"));
    free(err);
    /* 100 KiB of garbage */
    g_string_set_size(s, 100 * 1024);
    for (gsize i = 0; i < s->len; i++)
        s->str[i] = (char)(g_random_int() & 0xff);
    rc = maint__request_parse(s->str, s->len, &req, &err);
    CU_ASSERT(rc < 0);
    CU_ASSERT_PTR_NOT_NULL(err);
    free(err);
    g_string_free(s, TRUE);
}

static void test_ids(void)
{
    char a[MAINT_REQUEST_ID_MAX + 1], b[MAINT_REQUEST_ID_MAX + 1];
    char n1[MAINT_NONCE_LEN + 1], n2[MAINT_NONCE_LEN + 1];

    maint__request_id(a, sizeof(a));
    maint__request_id(b, sizeof(b));
    CU_ASSERT(maint__request_id_valid(a));
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
    CU_ASSERT_EQUAL_FATAL(maint__nonce_new(n1), MAINT_OK);
    CU_ASSERT_EQUAL_FATAL(maint__nonce_new(n2), MAINT_OK);
    CU_ASSERT(maint__nonce_valid(n1));
    CU_ASSERT_STRING_NOT_EQUAL(n1, n2);
    CU_ASSERT_FALSE(maint__nonce_valid("0123456789ABCDEF0123456789abcdef"));
    CU_ASSERT_FALSE(maint__nonce_valid("0123456789abcdef"));

    CU_ASSERT(maint__request_id_valid("c123-4"));
    CU_ASSERT(maint__request_id_valid("A_b.c-9"));
    CU_ASSERT(maint__request_id_valid("0123456789abcdef0123456789abcdef"));
    CU_ASSERT_FALSE(maint__request_id_valid("0123456789abcdef0123456789abcdefX"));
    CU_ASSERT_FALSE(maint__request_id_valid(""));
    CU_ASSERT_FALSE(maint__request_id_valid("."));
    CU_ASSERT_FALSE(maint__request_id_valid(".."));
    CU_ASSERT_FALSE(maint__request_id_valid("a b"));
    CU_ASSERT_FALSE(maint__request_id_valid("a/b"));
    CU_ASSERT_FALSE(maint__request_id_valid("\xc3\xa9"));
}

static void test_format_roundtrip(void)
{
    static const char nonce[] = "0123456789abcdef0123456789abcdef";
    char *req = maint__request_format("host-info", "{\"k\":[1,2]}", nonce);
    char *ok = maint__response_format_ok(nonce, "{\"pong\":true}");
    char *bad = maint__response_format_error(nonce, "frob", "unknown operation 'frob'");
    char *result = NULL, *error = NULL;
    maint__request r;
    char *err = NULL;

    CU_ASSERT_STRING_EQUAL(req, "{\"op\":\"host-info\",\"nonce\":\"0123456789abcdef"
                           "0123456789abcdef\",\"args\":{\"k\":[1,2]}}");
    CU_ASSERT_EQUAL(maint__request_parse(req, strlen(req), &r, &err), MAINT_OK);
    CU_ASSERT_STRING_EQUAL(r.op, "host-info");
    CU_ASSERT_STRING_EQUAL(r.nonce, nonce);
    {
        g_autofree char *a = args_text(&r);
        CU_ASSERT_STRING_EQUAL(a, "{\"k\":[1,2]}");
    }
    maint__request_dispose(&r);

    CU_ASSERT_STRING_EQUAL(ok, "{\"status\":\"ok\",\"nonce\":\"0123456789abcdef"
                           "0123456789abcdef\",\"result\":{\"pong\":true}}");
    CU_ASSERT_EQUAL(maint__response_parse(ok, strlen(ok), nonce, &result, &error), MAINT_OK);
    CU_ASSERT_STRING_EQUAL(result, "{\"pong\":true}");
    CU_ASSERT_PTR_NULL(error);
    free(result);
    /* an answer to another request (another nonce, or none) is not ours */
    CU_ASSERT_EQUAL(maint__response_parse(ok, strlen(ok), "ffffffffffffffffffffffffffffffff",
                                          &result, &error), MAINT_ERROR_NOENT);
    {
        static const char old[] = "{\"status\":\"ok\",\"result\":1}";

        CU_ASSERT_EQUAL(maint__response_parse(old, strlen(old), nonce, &result, &error),
                        MAINT_ERROR_NOENT);
    }
    CU_ASSERT_PTR_NULL(result);

    CU_ASSERT_EQUAL(maint__response_parse(bad, strlen(bad), nonce, &result, &error),
                    MAINT_ERROR_REMOTE);
    CU_ASSERT_STRING_EQUAL(error, "unknown operation 'frob'");
    CU_ASSERT_PTR_NULL(result);
    free(error);

    CU_ASSERT_EQUAL(maint__response_parse("{\"status\":7}", 12, NULL, &result, &error),
                    MAINT_ERROR_PROTOCOL);
    CU_ASSERT_EQUAL(maint__response_parse("nonsense", 8, NULL, &result, &error),
                    MAINT_ERROR_PROTOCOL);
    free(req);
    free(ok);
    free(bad);
}

/* A response bigger than one xenstore value goes in parts, and comes back whole. */
static void test_chunked_response(void)
{
    maint__port port;
    fake_port *fp = fake_port_new(&port);
    GString *big = g_string_new("{\"status\":\"ok\",\"result\":[");
    char *back = NULL;
    const char *head;

    for (int i = 0; i < 2000; i++)
        g_string_append_printf(big, "%s%d", i ? "," : "", i * 7919);
    g_string_append(big, "]}");
    CU_ASSERT(big->len > 2 * MAINT_XS_CHUNK);
    CU_ASSERT_EQUAL(maint__response_write(&port, NULL, 5, "r1", big->str), MAINT_OK);
    head = fake_port_get(fp, "/local/domain/5/xmaint/response/r1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(head);
    CU_ASSERT_EQUAL(strncmp(head, "{\"parts\":", 9), 0);
    CU_ASSERT_EQUAL(maint__response_read(&port, 5, "r1", &back), MAINT_OK);
    CU_ASSERT_STRING_EQUAL(back, big->str);
    free(back);
    /* small ones stay one value */
    CU_ASSERT_EQUAL(maint__response_write(&port, NULL, 5, "r2", "{\"status\":\"ok\"}"), 0);
    CU_ASSERT_STRING_EQUAL(fake_port_get(fp, "/local/domain/5/xmaint/response/r2"),
                           "{\"status\":\"ok\"}");
    /* a forged head with absurd parts is a protocol error, not a crash */
    fake_port_put(fp, "/local/domain/5/xmaint/response/r3", "{\"parts\":999999}");
    CU_ASSERT_EQUAL(maint__response_read(&port, 5, "r3", &back), MAINT_ERROR_PROTOCOL);
    fake_port_put(fp, "/local/domain/5/xmaint/response/r4", "{\"parts\":2}");
    CU_ASSERT_EQUAL(maint__response_read(&port, 5, "r4", &back), MAINT_ERROR_PROTOCOL);
    CU_ASSERT_EQUAL(maint__response_read(&port, 5, "nope", &back), MAINT_ERROR_NOENT);
    g_string_free(big, TRUE);
    port.ops->close(port.priv);
}

/* The parts and the head go in one transaction: a conflict is retried, a
 * half-written response is never seen, and a transaction that conflicts on
 * every attempt is an error, not a partial answer. */
static void test_response_conflicts(void)
{
    maint__port port;
    fake_port *fp = fake_port_new(&port);
    GString *big = g_string_new("{\"status\":\"ok\",\"result\":\"");
    char *back = NULL;
    uint32_t t;

    for (int i = 0; i < 3 * MAINT_XS_CHUNK; i++)
        g_string_append_c(big, (char)('a' + i % 26));
    g_string_append(big, "\"}");
    fake_port_set_conflict_once(fp, true);
    CU_ASSERT_EQUAL(maint__response_write(&port, NULL, 5, "r1", big->str), MAINT_OK);
    CU_ASSERT_EQUAL(fake_port_conflicts(fp), 1);
    CU_ASSERT_EQUAL(fake_port_commits(fp), 1);
    CU_ASSERT_EQUAL(maint__response_read(&port, 5, "r1", &back), MAINT_OK);
    CU_ASSERT_STRING_EQUAL(back, big->str);
    free(back);
    /* a real conflict: the store changed under an open transaction */
    fake_port_set_conflict_once(fp, false);
    CU_ASSERT_EQUAL_FATAL(port.ops->xs_txn_start(port.priv, &t), 0);
    CU_ASSERT_EQUAL(port.ops->xs_write(port.priv, t, "/local/domain/5/x", "1", 1), 0);
    CU_ASSERT_PTR_NULL(fake_port_get(fp, "/local/domain/5/x"));   /* not yet seen */
    fake_port_put(fp, "/local/domain/5/y", "2");
    CU_ASSERT_EQUAL(port.ops->xs_txn_end(port.priv, t, false), -1);
    CU_ASSERT_EQUAL(errno, EAGAIN);
    CU_ASSERT_PTR_NULL(fake_port_get(fp, "/local/domain/5/x"));
    g_string_free(big, TRUE);
    port.ops->close(port.priv);
}

void suite_request_register(void)
{
    CU_pSuite s = CU_add_suite("request", NULL, NULL);

    CU_add_test(s, "parse cases (tests/data/request)", test_parse_cases);
    CU_add_test(s, "argument cases (tests/data/args)", test_args_cases);
    CU_add_test(s, "argument schemas and accessors", test_args_schema);
    CU_add_test(s, "size limits and garbage", test_parse_limits);
    CU_add_test(s, "request ids", test_ids);
    CU_add_test(s, "format and parse round trip", test_format_roundtrip);
    CU_add_test(s, "chunked responses", test_chunked_response);
    CU_add_test(s, "chunked responses under transaction conflicts", test_response_conflicts);
}
