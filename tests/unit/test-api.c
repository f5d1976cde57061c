/*
 * The typed API's reading of xmaintd's answers and what it sends, against a
 * fake port whose write hook plays the daemon.  Data-driven: each
 * tests/data/api/<case>.in is an operation's name on its first line and the
 * result the daemon answers with; <case>.out is what the typed call makes of
 * it (its fields, or its error code): a mistyped or missing field is a
 * protocol error, an unknown field is ignored.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "unit.h"
#include "schema.h"

#define REQ_DIR "/local/domain/0/xmaint/request/"

/* What the fake daemon answers, and what it was sent. */
static struct {
    const char *op;               /* the operation expected */
    const char *result;           /* answered with (JSON text) */
    char *args;                   /* the last request's args, as parsed (schema order) */
    char *op_seen;
} fake_daemon;

static void answer_hook(fake_port *fp, const char *path, const char *value, void *opaque)
{
    maint__request req;
    maint__args a;
    char *err = NULL, *resp = NULL;
    const char *id = path + strlen(REQ_DIR);

    if (strncmp(path, REQ_DIR, strlen(REQ_DIR)))
        return;
    CU_ASSERT_EQUAL_FATAL(maint__request_parse(value, strlen(value), &req, &err), MAINT_OK);
    g_free(fake_daemon.op_seen);
    fake_daemon.op_seen = g_strdup(req.op);
    if (maint__args_parse(req.op, req.args, &a, &err) == MAINT_OK) {
        free(fake_daemon.args);
        fake_daemon.args = maint__args_to_json(&a);
        resp = maint__response_format_ok(req.nonce, fake_daemon.result);
    } else {
        resp = maint__response_format_error(req.nonce, req.op, err);
    }
    maint__args_dispose(&a);
    maint__request_dispose(&req);
    free(err);
    {
        maint__port port = fake_port_port(fp);

        fake_port_set_write_hook(fp, NULL, NULL);
        CU_ASSERT_EQUAL(maint__response_write(&port, NULL, 0, id, resp), MAINT_OK);
        fake_port_set_write_hook(fp, answer_hook, opaque);
    }
    free(resp);
}

static maint_ctx *fake_ctx(fake_port **fp_r)
{
    maint__port port;
    maint_ctx *ctx = NULL;

    *fp_r = fake_port_new(&port);
    fake_port_set_write_hook(*fp_r, answer_hook, NULL);
    CU_ASSERT_EQUAL_FATAL(maint__ctx_from_port(&ctx, NULL, &port), MAINT_OK);
    return ctx;
}

/* ---- verdicts ------------------------------------------------------------------- */

static void show_json_equal(GString *out, char *json)
{
    g_string_append_printf(out, " json-as-answered=%s",
                           json && !strcmp(json, fake_daemon.result) ? "yes" : "NO");
    free(json);
}

/* The call's result code in out; true when it succeeded. */
static bool put_rc(GString *out, int rc)
{
    g_string_append_printf(out, "rc=%s", maint_strerror(rc));
    return rc == MAINT_OK;
}

static void verdict_standby(GString *out, maint_ctx *ctx)
{
    maint_standby_table *t = NULL;
    int rc = !strcmp(fake_daemon.op, "standby-show")
           ? maint_standby_show(ctx, 1000, &t)
           : maint_standby_create(ctx, "web1", "web1-sb", NULL, 1000, &t, NULL);

    if (!put_rc(out, rc))
        return;
    g_string_append_printf(out, " free=%" PRIu64 " reserve=%" PRIu64,
                           maint_standby_table_free_kb(t), maint_standby_table_reserve_kb(t));
    for (unsigned i = 0; i < maint_standby_table_nr_pairs(t); i++)
        g_string_append_printf(out, " pair[d%u %s -> d%u %s, %" PRIu64 "/%" PRIu64
                               "/%" PRIu64 "%s]", maint_standby_pair_active(t, i),
                               maint_standby_pair_active_name(t, i) ?: "(null)",
                               maint_standby_pair_standby(t, i),
                               maint_standby_pair_standby_name(t, i) ?: "(null)",
                               maint_standby_pair_active_target_kb(t, i),
                               maint_standby_pair_standby_target_kb(t, i),
                               maint_standby_pair_standby_min_kb(t, i),
                               maint_standby_pair_failed_over(t, i) ? " failed over" : "");
    for (unsigned i = 0; i < maint_standby_table_nr_areas(t); i++)
        g_string_append_printf(out, " area[%s %" PRIu64 " d%u %s -> d%u]",
                               maint_standby_area_name(t, i), maint_standby_area_kb(t, i),
                               maint_standby_area_owner(t, i),
                               maint_standby_area_owner_name(t, i) ?: "(null)",
                               maint_standby_area_failover(t, i));
    show_json_equal(out, maint_standby_table_to_json(t));
    maint_standby_table_free(t);
}

static void verdict_services(GString *out, maint_ctx *ctx)
{
    maint_service_info **list = NULL;
    unsigned nr = 0;

    if (!put_rc(out, maint_service_list(ctx, 1000, &list, &nr)))
        return;
    for (unsigned i = 0; i < nr; i++)
        g_string_append_printf(out, " [%s %s:%u %s %s]", maint_service_info_app(list[i]),
                               maint_service_info_vip(list[i]), maint_service_info_port(list[i]),
                               maint_service_info_domain(list[i]),
                               maint_service_info_addr(list[i]) ?: "(null)");
    show_json_equal(out, maint_service_info_list_to_json(list, nr));
    maint_service_info_list_free(list, nr);
}

static void verdict_workflows(GString *out, maint_ctx *ctx)
{
    maint_workflow_info **list = NULL;
    unsigned nr = 0;

    if (!put_rc(out, maint_workflow_list(ctx, 1000, &list, &nr)))
        return;
    for (unsigned i = 0; i < nr; i++) {
        const maint_workflow_info *w = list[i];

        g_string_append_printf(out, " [%s kind=%s(%s) %s sub=%s state=%s(%s) step=%s "
                               "msg='%s' %d%%", maint_workflow_info_id(w),
                               maint_workflow_kind_name(maint_workflow_info_kind(w)) ?: "?",
                               maint_workflow_info_kind_name(w), maint_workflow_info_domain(w),
                               maint_workflow_info_substitute(w) ?: "(null)",
                               maint_workflow_state_name(maint_workflow_info_state(w)),
                               maint_workflow_info_state_name(w),
                               maint_workflow_info_step(w) ?: "(null)",
                               maint_workflow_info_message(w), maint_workflow_info_percent(w));
        for (unsigned k = 0; k < maint_workflow_info_nr_steps(w); k++)
            g_string_append_printf(out, " %s%s", maint_workflow_info_step_name(w, k),
                                   maint_workflow_info_step_done(w, k) ? "+" : "-");
        g_string_append_c(out, ']');
    }
    show_json_equal(out, maint_workflow_info_list_to_json(list, nr));
    maint_workflow_info_list_free(list, nr);
}

static char *verdict(const char *buf, size_t len)
{
    const char *nl = memchr(buf, '\n', len);
    g_autofree char *op = nl ? g_strndup(buf, (gsize)(nl - buf)) : NULL;
    g_autofree char *result = nl ? g_strndup(nl + 1, len - (gsize)(nl - buf) - 1) : NULL;
    GString *out = g_string_new(NULL);
    fake_port *fp;
    maint_ctx *ctx;

    CU_ASSERT_PTR_NOT_NULL_FATAL(op);
    fake_daemon.op = op;
    fake_daemon.result = result;
    ctx = fake_ctx(&fp);
    if (g_str_has_prefix(op, "standby-"))
        verdict_standby(out, ctx);
    else if (g_str_has_prefix(op, "service-"))
        verdict_services(out, ctx);
    else
        verdict_workflows(out, ctx);
    CU_ASSERT_STRING_EQUAL(fake_daemon.op_seen ? fake_daemon.op_seen : "", op);
    maint_ctx_close(ctx);
    return g_string_free(out, FALSE);
}

static void test_answers(void)
{
    CU_ASSERT(unit_each_case("api", verdict) >= 10);
}

/* What each kind sends: the options in workflow-start's schema order, the
 * daemon's parse accepts them. */
static void test_workflow_start_args(void)
{
    fake_port *fp;
    maint_ctx *ctx;
    maint_workflow_opts *o = NULL;
    char *id = NULL, *error = NULL;

    fake_daemon.op = "workflow-start";
    fake_daemon.result = "{\"id\":\"w-1\"}";
    ctx = fake_ctx(&fp);
    CU_ASSERT_EQUAL_FATAL(maint_workflow_opts_new(&o, MAINT_WORKFLOW_HW_REMOVE, "web1"), MAINT_OK);
    CU_ASSERT_EQUAL(maint_workflow_opts_add_remove(o, "vif:1"), MAINT_OK);
    CU_ASSERT_EQUAL(maint_workflow_opts_add_hide_pci(o, "00:05.0"), MAINT_OK);
    CU_ASSERT_EQUAL(maint_workflow_opts_set_kernel(o, "/boot/vmlinuz"), MAINT_OK);
    CU_ASSERT_EQUAL(maint_workflow_opts_set_cmdline(o, ""), MAINT_OK);
    CU_ASSERT_EQUAL(maint_workflow_opts_set_vcpus(o, 2), MAINT_OK);
    CU_ASSERT_EQUAL(maint_workflow_opts_set_memory_kb(o, 262144), MAINT_OK);
    CU_ASSERT_EQUAL(maint_workflow_opts_set_timeout_ms(o, 600000), MAINT_OK);
    CU_ASSERT_EQUAL(maint_workflow_start(ctx, o, 1000, &id, &error), MAINT_OK);
    CU_ASSERT_STRING_EQUAL(id ? id : "", "w-1");
    CU_ASSERT_STRING_EQUAL(fake_daemon.args ? fake_daemon.args : "",
        "{\"type\":\"hw-remove\",\"domain\":\"web1\",\"kernel\":\"/boot/vmlinuz\","
        "\"cmdline\":\"\",\"hide_pci\":[\"00:05.0\"],\"remove\":[\"vif:1\"],"
        "\"timeout_ms\":600000,\"vcpus\":2,\"memory_kb\":262144}");
    free(id);
    maint_workflow_opts_free(o);
    /* an answer without an id is a protocol error */
    fake_daemon.result = "{\"ident\":\"w-1\"}";
    CU_ASSERT_EQUAL_FATAL(maint_workflow_opts_new(&o, MAINT_WORKFLOW_APP_MAINT, "web1"), MAINT_OK);
    CU_ASSERT_EQUAL(maint_workflow_opts_set_change(o, "true"), MAINT_OK);
    id = NULL;
    CU_ASSERT_EQUAL(maint_workflow_start(ctx, o, 1000, &id, &error), MAINT_ERROR_PROTOCOL);
    CU_ASSERT_PTR_NULL(id);
    CU_ASSERT_PTR_NULL(error);
    maint_workflow_opts_free(o);
    maint_ctx_close(ctx);
    free(fake_daemon.args);
    g_free(fake_daemon.op_seen);
    memset(&fake_daemon, 0, sizeof(fake_daemon));
}

void suite_api_register(void)
{
    CU_pSuite s = CU_add_suite("typed API (fake daemon)", NULL, NULL);

    CU_add_test(s, "answers read strictly (tests/data/api)", test_answers);
    CU_add_test(s, "what workflow-start sends", test_workflow_start_args);
}
