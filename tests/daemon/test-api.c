/*
 * The typed client API (<maint/maint.h>: workflows, services, standby,
 * workflow events) against Debian's real xenstored (tests/xsd/), first with
 * a stand-in for xmaintd that serves workflow-start/-list/-abort with the
 * daemon's own argument schema and publishes workflow states as xmaintd
 * does (this test's xenstored has no hypervisor, so the real daemon cannot
 * start a workflow), then against the real xmaintd: its refusals, its
 * published state of a workflow resumed from a journal, services, standby,
 * and xl-maint's --json output byte for byte against the raw answers.
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
#include <yajl/yajl_tree.h>

#include "internal.h"
#include "schema.h"
#include "xsd.h"
#include "daemon-env.h"
#include "../cunit-report.h"

static struct daemon_env env;    /* xenstored, its handle, a context, xmaintd's dirs */
static GPid daemon_pid;

#define WF_PATH(id) g_strdup_printf(MAINT_XS_WORKFLOW_FMT, id)

/* A workflow's published state, as xmaintd writes it. */
static char *wf_json(const char *id, const char *state, const char *step, const char *msg,
                     unsigned done)
{
    static const char *const steps[] = { "substitute", "patch", "move", "retire" };
    maint__json *j = maint__json_new();

    maint__json_map_open(j);
    maint__json_key(j, "id");
    maint__json_string(j, id);
    maint__json_key(j, "type");
    maint__json_string(j, "os-patch");
    maint__json_key(j, "domain");
    maint__json_string(j, "g1");
    maint__json_key(j, "substitute");
    maint__json_string(j, "g1-sub");
    maint__json_key(j, "state");
    maint__json_string(j, state);
    maint__json_key(j, "step");
    maint__json_string(j, step);
    maint__json_key(j, "message");
    maint__json_string(j, msg);
    maint__json_key(j, "steps");
    maint__json_array_open(j);
    for (unsigned i = 0; i < 4; i++) {
        maint__json_map_open(j);
        maint__json_key(j, "name");
        maint__json_string(j, steps[i]);
        maint__json_key(j, "done");
        maint__json_bool(j, i < done);
        maint__json_map_close(j);
    }
    maint__json_array_close(j);
    maint__json_map_close(j);
    return maint__json_finish(j);
}

/* Any thread (no CUnit assertion here): false when it could not. */
static bool publish(const char *id, const char *state, const char *step, const char *msg,
                    unsigned done)
{
    g_autofree char *path = WF_PATH(id);
    char *json = wf_json(id, state, step, msg, done);
    bool ok = json && xs_write(env.xs, XBT_NULL, path, json, (unsigned)strlen(json));

    free(json);
    return ok;
}

/* ---- a stand-in for xmaintd's workflow requests ------------------------------- */

struct standin {
    gint stop;
    GThread *thread;
    GMutex lock;
    GPtrArray *ids;               /* workflows started */
    char *last_args;              /* the arguments of the last start, as parsed */
    unsigned served;
};

static struct standin standin;

/* Serve one request value; the answer's text (malloc'd). */
static char *standin_answer(maint__request *req)
{
    maint__args a;
    char *why = NULL, *out = NULL;
    const char *id;

    if (maint__args_parse(req->op, req->args, &a, &why) != MAINT_OK) {
        out = maint__response_format_error(req->nonce, req->op, why);
    } else if (!strcmp(req->op, "workflow-start")) {
        g_autofree char *wid = g_strdup_printf("T-%s-%u", maint__args_str(&a, "type"),
                                               standin.served);
        g_autofree char *res = g_strdup_printf("{\"id\":\"%s\"}", wid);

        g_mutex_lock(&standin.lock);
        free(standin.last_args);
        standin.last_args = maint__args_to_json(&a);
        g_ptr_array_add(standin.ids, g_strdup(wid));
        g_mutex_unlock(&standin.lock);
        publish(wid, "running", "substitute", "started", 0);
        out = maint__response_format_ok(req->nonce, res);
    } else if (!strcmp(req->op, "workflow-list")) {
        GString *s = g_string_new("[");

        g_mutex_lock(&standin.lock);
        for (guint i = 0; i < standin.ids->len; i++) {
            g_autofree char *p = WF_PATH((char *)g_ptr_array_index(standin.ids, i));
            unsigned len;
            char *v = xs_read(env.xs, XBT_NULL, p, &len);

            g_string_append_printf(s, "%s%s", i ? "," : "", v ? v : "null");
            free(v);
        }
        g_mutex_unlock(&standin.lock);
        g_string_append_c(s, ']');
        out = maint__response_format_ok(req->nonce, s->str);
        g_string_free(s, TRUE);
    } else if (!strcmp(req->op, "workflow-abort")) {
        gboolean known = FALSE;

        id = maint__args_str(&a, "id");
        g_mutex_lock(&standin.lock);
        for (guint i = 0; i < standin.ids->len; i++)
            known |= !strcmp(g_ptr_array_index(standin.ids, i), id);
        g_mutex_unlock(&standin.lock);
        if (known) {
            publish(id, "rolling-back", "substitute", "undoing", 0);
            publish(id, "rolled-back", "substitute", "aborted by the administrator", 0);
            out = maint__response_format_ok(req->nonce, "{\"aborting\":true}");
        } else {
            g_autofree char *e = g_strdup_printf("no workflow %s", id);
            out = maint__response_format_error(req->nonce, req->op, e);
        }
    } else {
        out = maint__response_format_error(req->nonce, req->op, "unknown operation");
    }
    free(why);
    maint__args_dispose(&a);
    return out;
}

static void standin_serve_one(maint__port *port, const char *id)
{
    g_autofree char *path = g_strdup_printf(MAINT_XS_REQUEST_FMT, 0u, id);
    maint__request req;
    char *value, *err = NULL, *answer;
    unsigned len;

    value = xs_read(env.xs, XBT_NULL, path, &len);
    if (!value)
        return;
    if (maint__request_parse(value, len, &req, &err) == MAINT_OK)
        answer = standin_answer(&req);
    else
        answer = maint__response_format_error(req.nonce, NULL, err);
    xs_rm(env.xs, XBT_NULL, path);
    if (answer)
        maint__response_write(port, NULL, 0, id, answer);
    standin.served++;
    free(answer);
    free(err);
    free(value);
    maint__request_dispose(&req);
}

static gpointer standin_thread(gpointer data)
{
    maint__port port;

    if (maint__port_xen_open(&port, NULL, MAINT_CTX_NO_LIBXL) != MAINT_OK)
        return NULL;
    while (!g_atomic_int_get(&standin.stop)) {
        unsigned n = 0;
        char **ids = xs_directory(env.xs, XBT_NULL, "/local/domain/0/xmaint/request", &n);

        for (unsigned i = 0; ids && i < n; i++)
            standin_serve_one(&port, ids[i]);
        free(ids);
        g_usleep(5000);
    }
    port.ops->close(port.priv);
    return NULL;
}

static void standin_start(void)
{
    g_mutex_init(&standin.lock);
    standin.ids = g_ptr_array_new_with_free_func(g_free);
    standin.thread = g_thread_new("standin", standin_thread, NULL);
}

static void standin_stop(void)
{
    g_atomic_int_set(&standin.stop, 1);
    g_thread_join(standin.thread);
    g_ptr_array_free(standin.ids, TRUE);
    free(standin.last_args);
    g_mutex_clear(&standin.lock);
}

/* ---- options refused before anything is sent ---------------------------------- */

/* rc is MAINT_ERROR_INVAL and text names key. */
static void assert_names(int rc, const char *text, const char *key)
{
    g_autofree char *quoted = g_strdup_printf("'%s'", key);

    CU_ASSERT_EQUAL(rc, MAINT_ERROR_INVAL);
    if (!text || !strstr(text, quoted))
        fprintf(stderr, "\n'%s' does not name %s\n", text ? text : "(none)", quoted);
    CU_ASSERT_PTR_NOT_NULL(text && strstr(text, quoted));
}

/* The call first, then its reason (argument order is unspecified in C). */
#define NAMES(call, text, key) do { int rc_ = (call); assert_names(rc_, (text), (key)); } while (0)

static void test_options_refused(void)
{
    maint_workflow_opts *o = NULL;
    char *id = NULL, *error = NULL;
    GString *big = g_string_new(NULL);

    CU_ASSERT_EQUAL(maint_workflow_opts_new(&o, MAINT_WORKFLOW_UNKNOWN, "g1"), MAINT_ERROR_INVAL);
    CU_ASSERT_PTR_NULL(o);
    CU_ASSERT_EQUAL_FATAL(maint_workflow_opts_new(&o, MAINT_WORKFLOW_HW_REMOVE, "g1"), MAINT_OK);
    /* an option of another kind, out of range, too long, too many */
    NAMES(maint_workflow_opts_set_patch(o, "true"), maint_workflow_opts_error(o), "patch");
    NAMES(maint_workflow_opts_add_add(o, "vif:bridge=b"), maint_workflow_opts_error(o), "add");
    NAMES(maint_workflow_opts_set_drain_ms(o, 600001), maint_workflow_opts_error(o),
                 "drain_ms");
    NAMES(maint_workflow_opts_set_timeout_ms(o, 999), maint_workflow_opts_error(o),
                 "timeout_ms");
    NAMES(maint_workflow_opts_set_memory_kb(o, UINT64_MAX), maint_workflow_opts_error(o),
                 "memory_kb");
    for (int i = 0; i < 70; i++)
        g_string_append_c(big, 'n');
    NAMES(maint_workflow_opts_set_substitute(o, big->str), maint_workflow_opts_error(o),
                 "substitute");
    for (int i = 0; i < 16; i++)
        CU_ASSERT_EQUAL(maint_workflow_opts_add_remove(o, "vif:1"), MAINT_OK);
    NAMES(maint_workflow_opts_add_remove(o, "vif:2"), maint_workflow_opts_error(o), "remove");
    maint_workflow_opts_free(o);
    o = NULL;
    /* what a kind needs, checked at start, before sending: no request written */
    CU_ASSERT_EQUAL_FATAL(maint_workflow_opts_new(&o, MAINT_WORKFLOW_OS_PATCH, "g1"), MAINT_OK);
    env.ctx->last_request_id[0] = '\0';
    NAMES(maint_workflow_start(env.ctx, o, 1000, &id, &error), error, "patch");
    CU_ASSERT_PTR_NULL(id);
    CU_ASSERT_EQUAL(env.ctx->last_request_id[0], '\0');
    free(error);
    error = NULL;
    maint_workflow_opts_free(o);
    /* services and pairs: the schema's checks, here */
    NAMES(maint_service_add(env.ctx, "web", "10.0.0.1", 0, "g1", 1000, NULL, NULL, &error),
                 error, "port");
    free(error);
    NAMES(maint_service_add(env.ctx, "a/b", "10.0.0.1", 80, "g1", 1000, NULL, NULL, &error),
                 error, "app");
    free(error);
    NAMES(maint_standby_create(env.ctx, "a", NULL, NULL, 1000, NULL, &error), error, "standby");
    free(error);
    {
        maint_standby_opts *so = NULL;

        CU_ASSERT_EQUAL_FATAL(maint_standby_opts_new(&so), MAINT_OK);
        CU_ASSERT_EQUAL(maint_standby_opts_set_standby_min_kb(so, 1024), MAINT_ERROR_INVAL);
        CU_ASSERT_EQUAL(maint_standby_opts_set_stall_s(so, 2), MAINT_ERROR_INVAL);
        CU_ASSERT_EQUAL(maint_standby_opts_set_stall_s(so, 3), MAINT_OK);
        maint_standby_opts_free(so);
    }
    CU_ASSERT_EQUAL(env.ctx->last_request_id[0], '\0');
    g_string_free(big, TRUE);
}

/* ---- typed round trip (the stand-in) -------------------------------------------- */

static const maint_workflow_info *find_in(maint_workflow_info **list, unsigned nr,
                                          const char *id)
{
    for (unsigned i = 0; i < nr; i++)
        if (!strcmp(maint_workflow_info_id(list[i]), id))
            return list[i];
    return NULL;
}

/* Start a typed os-patch through the stand-in; its id (free()). */
static char *start_os_patch(const char *domain)
{
    maint_workflow_opts *o = NULL;
    char *id = NULL, *error = NULL;

    CU_ASSERT_EQUAL_FATAL(maint_workflow_opts_new(&o, MAINT_WORKFLOW_OS_PATCH, domain), MAINT_OK);
    CU_ASSERT_EQUAL(maint_workflow_opts_set_patch(o, "apt-get -y \"upgrade\""), MAINT_OK);
    CU_ASSERT_EQUAL(maint_workflow_opts_set_substitute(o, "g1-new"), MAINT_OK);
    CU_ASSERT_EQUAL(maint_workflow_opts_add_set(o, "memory=512"), MAINT_OK);
    CU_ASSERT_EQUAL(maint_workflow_opts_set_drain_ms(o, 0), MAINT_OK);
    CU_ASSERT_EQUAL(maint_workflow_start(env.ctx, o, 5000, &id, &error), MAINT_OK);
    CU_ASSERT_PTR_NULL(error);
    free(error);
    maint_workflow_opts_free(o);
    return id;
}

static void test_round_trip(void)
{
    maint_workflow_info **list = NULL, *w = NULL, *none = NULL;
    maint_workflow_watch *watch = NULL;
    maint_workflow_state end = MAINT_WORKFLOW_STATE_UNKNOWN;
    unsigned nr = 0;
    char *id, *error = NULL;

    standin_start();
    id = start_os_patch("g1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    /* what arrived, parsed by workflow-start's schema, in its order */
    g_mutex_lock(&standin.lock);
    CU_ASSERT_STRING_EQUAL(standin.last_args ? standin.last_args : "",
        "{\"type\":\"os-patch\",\"domain\":\"g1\",\"substitute\":\"g1-new\","
        "\"patch\":\"apt-get -y \\\"upgrade\\\"\",\"sets\":[\"memory=512\"],\"drain_ms\":0}");
    g_mutex_unlock(&standin.lock);
    CU_ASSERT_EQUAL(maint_workflow_list(env.ctx, 5000, &list, &nr), MAINT_OK);
    CU_ASSERT_EQUAL(nr, 1);
    CU_ASSERT_PTR_NOT_NULL(find_in(list, nr, id));
    CU_ASSERT_EQUAL(maint_workflow_get(env.ctx, id, 5000, &w), MAINT_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_STRING_EQUAL(maint_workflow_info_id(w), id);
    CU_ASSERT_EQUAL(maint_workflow_info_kind(w), MAINT_WORKFLOW_OS_PATCH);
    CU_ASSERT_STRING_EQUAL(maint_workflow_info_domain(w), "g1");
    CU_ASSERT_EQUAL(maint_workflow_info_state(w), MAINT_WORKFLOW_STATE_RUNNING);
    CU_ASSERT_STRING_EQUAL(maint_workflow_info_step(w), "substitute");
    CU_ASSERT_EQUAL(maint_workflow_info_nr_steps(w), 4);
    CU_ASSERT_STRING_EQUAL(maint_workflow_info_step_name(w, 3), "retire");
    CU_ASSERT_FALSE(maint_workflow_info_step_done(w, 0));
    CU_ASSERT_EQUAL(maint_workflow_info_percent(w), 0);
    CU_ASSERT_EQUAL(maint_workflow_get(env.ctx, "T-nope", 5000, &none), MAINT_ERROR_NOENT);
    CU_ASSERT_PTR_NULL(none);
    /* abort: the stand-in rolls it back; the blocking wait sees the end */
    CU_ASSERT_EQUAL(maint_workflow_abort(env.ctx, id, 5000, &error), MAINT_OK);
    CU_ASSERT_EQUAL(maint_workflow_abort(env.ctx, "T-nope", 5000, &error), MAINT_ERROR_REMOTE);
    CU_ASSERT_PTR_NOT_NULL(error && strstr(error, "no workflow T-nope"));
    free(error);
    CU_ASSERT_EQUAL_FATAL(maint_workflow_watch_open(env.ctx, &watch), MAINT_OK);
    CU_ASSERT_EQUAL(maint_workflow_wait(watch, id, 5000, NULL, NULL, &end), MAINT_OK);
    CU_ASSERT_EQUAL(end, MAINT_WORKFLOW_STATE_ROLLED_BACK);
    CU_ASSERT_EQUAL(maint_workflow_wait(watch, "T-never", 5000, NULL, NULL, &end),
                    MAINT_ERROR_NOENT);
    maint_workflow_watch_close(watch);
    maint_workflow_info_free(w);
    maint_workflow_info_list_free(list, nr);
    standin_stop();
    free(id);
}

/* ---- events ------------------------------------------------------------------ */

/* Publish id's states n = 0..steps-1 ("n=NN"), then done, gap_ms apart. */
struct writer {
    const char *id;
    unsigned steps, gap_ms, delay_ms;
    GThread *thread;
    bool ok;
};

static gpointer writer_thread(gpointer data)
{
    struct writer *w = data;
    bool ok = true;

    g_usleep(w->delay_ms * 1000);
    for (unsigned n = 0; n <= w->steps && ok; n++) {
        g_autofree char *msg = g_strdup_printf("n=%02u", n);

        ok = publish(w->id, n < w->steps ? "running" : "done", "patch", msg,
                     n * 4 / w->steps);
        g_usleep(w->gap_ms * 1000);
    }
    w->ok = ok;
    return NULL;
}

static void writer_start(struct writer *w)
{
    w->thread = g_thread_new("writer", writer_thread, w);
}

static void test_events_in_order(void)
{
    struct writer wr = { .id = "E1", .steps = 20, .gap_ms = 30, .delay_ms = 100 };
    maint_workflow_watch *w = NULL;
    maint_workflow_info *ev;
    int last = -1, got = 0, last_pct = -1, rc;
    bool ended = false, ordered = true;
    gint64 until = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    CU_ASSERT_EQUAL_FATAL(maint_workflow_watch_open(env.ctx, &w), MAINT_OK);
    CU_ASSERT_EQUAL_FATAL(maint_workflow_watch_add(w, "E1"), MAINT_OK);
    CU_ASSERT_EQUAL(maint_workflow_watch_read(w, &ev), MAINT_ERROR_NOENT); /* not yet published */
    /* ids as xmaintd makes them may be longer than a request id (33 here) */
    CU_ASSERT_EQUAL(maint_workflow_watch_add(w, "20261207-101010-reconfigure-32000"), MAINT_OK);
    CU_ASSERT_EQUAL(maint_workflow_watch_add(w, "../x"), MAINT_ERROR_INVAL);
    CU_ASSERT_EQUAL(maint_workflow_watch_add(w, ""), MAINT_ERROR_INVAL);
    writer_start(&wr);
    /* the caller's own loop: poll the fd, then read what is pending */
    while (!ended && g_get_monotonic_time() < until) {
        struct pollfd p = { .fd = maint_workflow_watch_fd(w), .events = POLLIN };

        if (poll(&p, 1, 1000) <= 0)
            continue;
        while ((rc = maint_workflow_watch_read(w, &ev)) == MAINT_OK) {
            int n = atoi(maint_workflow_info_message(ev) + 2);

            ordered &= n > last && maint_workflow_info_percent(ev) >= last_pct;
            last = n;
            last_pct = maint_workflow_info_percent(ev);
            got++;
            ended = maint_workflow_state_ended(maint_workflow_info_state(ev));
            if (ended)
                CU_ASSERT_EQUAL(maint_workflow_info_state(ev), MAINT_WORKFLOW_STATE_DONE);
            maint_workflow_info_free(ev);
        }
        CU_ASSERT_EQUAL(rc, MAINT_ERROR_NOENT);
    }
    g_thread_join(wr.thread);
    fprintf(stderr, "\n  %d of %u states seen, in order: %s", got, wr.steps + 1,
            ordered ? "yes" : "no");
    CU_ASSERT(wr.ok);
    CU_ASSERT(ended);
    CU_ASSERT(ordered);
    CU_ASSERT_EQUAL(last, (int)wr.steps);
    CU_ASSERT(got >= (int)(wr.steps + 1) / 2);   /* 30 ms apart: nearly all */
    CU_ASSERT_EQUAL(last_pct, 100);
    maint_workflow_watch_close(w);
}

/* States rewritten faster than they are read: the latest once, no repeat;
 * a malformed state is an error, the next good one is delivered. */
static void test_latest_once_and_strict(void)
{
    g_autofree char *path = WF_PATH("E2");
    maint_workflow_watch *w = NULL;
    maint_workflow_info *ev = NULL;
    const char *bad[] = { "{not json", "{\"id\":\"E2\",\"type\":\"os-patch\",\"domain\":\"g1\","
                          "\"state\":5}", "{\"id\":\"E9\",\"type\":\"os-patch\","
                          "\"domain\":\"g1\",\"state\":\"running\"}" };

    CU_ASSERT_EQUAL_FATAL(maint_workflow_watch_open(env.ctx, &w), MAINT_OK);
    CU_ASSERT_EQUAL_FATAL(maint_workflow_watch_add(w, "E2"), MAINT_OK);
    CU_ASSERT(publish("E2", "running", "substitute", "one", 0));
    CU_ASSERT(publish("E2", "running", "patch", "two", 1));
    CU_ASSERT(publish("E2", "running", "move", "three", 2));
    g_usleep(200000);
    CU_ASSERT_EQUAL(maint_workflow_watch_read(w, &ev), MAINT_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    CU_ASSERT_STRING_EQUAL(maint_workflow_info_message(ev), "three");
    CU_ASSERT_EQUAL(maint_workflow_info_percent(ev), 50);
    maint_workflow_info_free(ev);
    CU_ASSERT_EQUAL(maint_workflow_watch_read(w, &ev), MAINT_ERROR_NOENT);
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        CU_ASSERT(xs_write(env.xs, XBT_NULL, path, bad[i], (unsigned)strlen(bad[i])));
        g_usleep(100000);
        CU_ASSERT_EQUAL(maint_workflow_watch_read(w, &ev), MAINT_ERROR_PROTOCOL);
        CU_ASSERT_PTR_NULL(ev);
    }
    CU_ASSERT(publish("E2", "failed", "move", "four", 2));
    g_usleep(100000);
    CU_ASSERT_EQUAL(maint_workflow_watch_read(w, &ev), MAINT_OK);
    CU_ASSERT(ev && maint_workflow_info_state(ev) == MAINT_WORKFLOW_STATE_FAILED);
    maint_workflow_info_free(ev);
    maint_workflow_watch_close(w);
}

static gpointer cancel_later(gpointer data)
{
    g_usleep(200000);
    maint_workflow_watch_cancel(data);
    return NULL;
}

/* A wait cancelled from another thread returns at once; a cancel before a
 * wait ends that wait; a passed deadline is TIMEOUT. */
static void test_cancel_and_deadline(void)
{
    maint_workflow_watch *w = NULL;
    maint_workflow_info *ev = NULL;
    GThread *t;
    gint64 t0, dt;

    CU_ASSERT(publish("E4", "running", "patch", "a long patch", 1));
    CU_ASSERT_EQUAL_FATAL(maint_workflow_watch_open(env.ctx, &w), MAINT_OK);
    t0 = g_get_monotonic_time();
    t = g_thread_new("cancel", cancel_later, w);
    CU_ASSERT_EQUAL(maint_workflow_wait(w, "E4", 0, NULL, NULL, NULL), MAINT_ERROR_CANCELLED);
    dt = g_get_monotonic_time() - t0;
    g_thread_join(t);
    fprintf(stderr, "\n  cancelled after %lld ms", (long long)dt / 1000);
    CU_ASSERT(dt >= 150000 && dt < 1500000);
    /* before: the next read (or wait) is cancelled, once */
    maint_workflow_watch_cancel(w);
    CU_ASSERT_EQUAL(maint_workflow_watch_read(w, &ev), MAINT_ERROR_CANCELLED);
    maint_workflow_watch_cancel(w);
    t0 = g_get_monotonic_time();
    CU_ASSERT_EQUAL(maint_workflow_wait(w, "E4", 5000, NULL, NULL, NULL), MAINT_ERROR_CANCELLED);
    CU_ASSERT(g_get_monotonic_time() - t0 < 500000);
    /* consumed: now the deadline */
    t0 = g_get_monotonic_time();
    CU_ASSERT_EQUAL(maint_workflow_wait(w, "E4", 300, NULL, NULL, NULL), MAINT_ERROR_TIMEOUT);
    dt = g_get_monotonic_time() - t0;
    CU_ASSERT(dt >= 290000 && dt < 3000000);
    maint_workflow_watch_close(w);
    /* a request nobody answers (no daemon yet): TIMEOUT by its deadline */
    {
        maint_workflow_info **list = NULL;
        unsigned nr = 7;

        t0 = g_get_monotonic_time();
        CU_ASSERT_EQUAL(maint_workflow_list(env.ctx, 300, &list, &nr), MAINT_ERROR_TIMEOUT);
        dt = g_get_monotonic_time() - t0;
        CU_ASSERT(dt >= 290000 && dt < 3000000);
        CU_ASSERT(list == NULL && nr == 0);
    }
}

/* examples/os-patch follows a workflow in its own poll loop to the end. */
static void test_example_follows(void)
{
    struct writer wr = { .id = "E5", .steps = 4, .gap_ms = 50, .delay_ms = 300 };
    const char *argv[] = { EXAMPLE_OS_PATCH_BIN, "--follow", "E5", NULL };
    g_autofree char *out = NULL, *err = NULL;
    int status = -1;

    writer_start(&wr);
    CU_ASSERT(g_spawn_sync(NULL, (char **)argv, NULL, 0, NULL, NULL, &out, &err, &status,
                           NULL));
    g_thread_join(wr.thread);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "workflow E5: done"));
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "n=04"));
    if (!WIFEXITED(status) || WEXITSTATUS(status))
        fprintf(stderr, "\nexample: %s%s\n", out ? out : "", err ? err : "");
}

/* ---- the real xmaintd ----------------------------------------------------------- */

#define DONE_ID "20260101-000000-os-patch-9"      /* ended before the restart */
#define RESUMED_ID "20260101-000000-os-patch-7"   /* resumed: fails, no hypervisor */

static void write_journals(void)
{
    g_autofree char *wdir = g_build_filename(env.state_dir, "workflows", NULL);
    g_autofree char *done = g_build_filename(wdir, DONE_ID ".journal", NULL);
    g_autofree char *resumed = g_build_filename(wdir, RESUMED_ID ".journal", NULL);
    long long now_ms = g_get_real_time() / 1000;   /* recent: within the retention */
    g_autofree char *done_text = g_strdup_printf(
        "{\"time\":%lld,\"event\":\"start\",\"type\":\"os-patch\",\"domain\":\"g9\","
        "\"substitute\":\"g9-sub\",\"args\":{\"type\":\"os-patch\",\"domain\":\"g9\","
        "\"patch\":\"true\"}}\n{\"time\":%lld,\"event\":\"end\",\"state\":\"done\"}\n",
        now_ms - 2000, now_ms - 1000);
    g_autofree char *resumed_text = g_strdup_printf(
        "{\"time\":%lld,\"event\":\"start\",\"type\":\"os-patch\",\"domain\":\"g7\","
        "\"substitute\":\"g7-sub\",\"args\":{\"type\":\"os-patch\",\"domain\":\"g7\","
        "\"patch\":\"true\"}}\n{\"time\":%lld,\"event\":\"begin\",\"step\":\"substitute\"}\n",
        now_ms - 2000, now_ms - 1000);

    CU_ASSERT_EQUAL_FATAL(g_mkdir_with_parents(wdir, 0700), 0);
    CU_ASSERT_FATAL(g_file_set_contents(done, done_text, -1, NULL));
    CU_ASSERT_FATAL(g_file_set_contents(resumed, resumed_text, -1, NULL));
}

static void daemon_up(void)
{
    const char *e = getenv("XMAINTD");
    const char *argv[] = { e ? e : XMAINTD_BIN, "--foreground", "--pidfile", "",
                           "--state-dir", env.state_dir, "--log-file", env.log_path, NULL };

    write_journals();
    CU_ASSERT_FATAL(g_spawn_async(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                  NULL, NULL, &daemon_pid, NULL));
    if (!daemon_env_wait_up(&env, daemon_pid))
        CU_FAIL_FATAL("xmaintd did not come up");
}

static void test_real_workflows(void)
{
    maint_workflow_info **list = NULL, *w = NULL;
    maint_workflow_watch *watch = NULL;
    maint_workflow_state end = MAINT_WORKFLOW_STATE_UNKNOWN;
    unsigned nr = 0;
    char *id = NULL, *error = NULL;
    const maint_workflow_info *d;
    int rc = MAINT_ERROR_FAIL;

    /* the resumed one fails (no hypervisor here): its published end, as events */
    CU_ASSERT_EQUAL_FATAL(maint_workflow_watch_open(env.ctx, &watch), MAINT_OK);
    /* xmaintd lists it at once, publishes it when its worker reports
     * (NOENT until then: what xl-maint's wait asks the list about) */
    for (int i = 0; i < 100; i++) {
        rc = maint_workflow_wait(watch, RESUMED_ID, 10000, NULL, NULL, &end);
        if (rc != MAINT_ERROR_NOENT || maint_workflow_get(env.ctx, RESUMED_ID, 5000, &w))
            break;
        maint_workflow_info_free(w);
        w = NULL;
        g_usleep(20000);
    }
    CU_ASSERT_EQUAL(rc, MAINT_OK);
    CU_ASSERT_EQUAL(end, MAINT_WORKFLOW_STATE_FAILED);
    maint_workflow_watch_close(watch);
    CU_ASSERT_EQUAL(maint_workflow_list(env.ctx, 5000, &list, &nr), MAINT_OK);
    CU_ASSERT_EQUAL(nr, 2);
    d = find_in(list, nr, DONE_ID);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_EQUAL(maint_workflow_info_kind(d), MAINT_WORKFLOW_OS_PATCH);
    CU_ASSERT_STRING_EQUAL(maint_workflow_info_domain(d), "g9");
    CU_ASSERT_STRING_EQUAL(maint_workflow_info_substitute(d), "g9-sub");
    CU_ASSERT_EQUAL(maint_workflow_info_state(d), MAINT_WORKFLOW_STATE_DONE);
    CU_ASSERT_STRING_EQUAL(maint_workflow_info_message(d), "ended before the daemon restarted");
    CU_ASSERT_EQUAL(maint_workflow_info_nr_steps(d), 4);
    CU_ASSERT_EQUAL(maint_workflow_get(env.ctx, RESUMED_ID, 5000, &w), MAINT_OK);
    CU_ASSERT(w && maint_workflow_info_state(w) == MAINT_WORKFLOW_STATE_FAILED);
    /* refusals of xmaintd, with its reason */
    CU_ASSERT_EQUAL(maint_workflow_abort(env.ctx, DONE_ID, 5000, &error), MAINT_ERROR_REMOTE);
    CU_ASSERT_PTR_NOT_NULL(error && strstr(error, "has ended"));
    free(error);
    {
        maint_workflow_opts *o = NULL;

        CU_ASSERT_EQUAL_FATAL(maint_workflow_opts_new(&o, MAINT_WORKFLOW_HW_REMOVE, "xsd-5"),
                              MAINT_OK);
        CU_ASSERT_EQUAL(maint_workflow_opts_add_remove(o, "vif:1"), MAINT_OK);
        CU_ASSERT_EQUAL(maint_workflow_start(env.ctx, o, 5000, &id, &error), MAINT_ERROR_REMOTE);
        CU_ASSERT_PTR_NOT_NULL(error && strstr(error, "hypervisor is not available"));
        CU_ASSERT_PTR_NULL(id);
        free(error);
        maint_workflow_opts_free(o);
    }
    maint_workflow_info_free(w);
    maint_workflow_info_list_free(list, nr);
}

static void test_real_services_standby(void)
{
    maint_service_info **svc = NULL;
    maint_standby_table *t = NULL;
    unsigned nr = 9;
    char *error = NULL;

    CU_ASSERT_EQUAL(maint_service_list(env.ctx, 5000, &svc, &nr), MAINT_OK);
    CU_ASSERT_EQUAL(nr, 0);
    maint_service_info_list_free(svc, nr);
    CU_ASSERT_EQUAL(maint_service_add(env.ctx, "web", "10.0.0.1", 80, "xsd-5", 5000, &svc, &nr,
                                      &error), MAINT_ERROR_REMOTE);
    CU_ASSERT_PTR_NOT_NULL(error && strstr(error, "no address from its agent"));
    CU_ASSERT(svc == NULL && nr == 0);
    free(error);
    CU_ASSERT_EQUAL(maint_standby_show(env.ctx, 5000, &t), MAINT_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(maint_standby_table_nr_pairs(t), 0);
    CU_ASSERT_EQUAL(maint_standby_table_nr_areas(t), 0);
    CU_ASSERT_PTR_NULL(maint_standby_pair_active_name(t, 0));   /* past the end */
    maint_standby_table_free(t);
    CU_ASSERT_EQUAL(maint_standby_create(env.ctx, "a", "b", NULL, 5000, &t, &error),
                    MAINT_ERROR_REMOTE);
    CU_ASSERT_PTR_NOT_NULL(error && strstr(error, "hypervisor is not available"));
    CU_ASSERT_PTR_NULL(t);
    free(error);
    CU_ASSERT_EQUAL(maint_standby_destroy(env.ctx, "a", 5000, &error), MAINT_ERROR_REMOTE);
    CU_ASSERT_PTR_NOT_NULL(error && strstr(error, "no pair with active a"));
    free(error);
}

/* xl-maint ARGS...: its exit status, stdout in *out (g_free). */
static int xl_maint(char **out, const char *a1, const char *a2, const char *a3)
{
    const char *argv[] = { XL_MAINT_BIN, a1, a2, a3, NULL };
    g_autofree char *err = NULL;
    int status = -1;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, 0, NULL, NULL, out, &err, &status, NULL))
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* --json prints xmaintd's answer byte for byte; wait follows to the end. */
static void test_xl_maint_output(void)
{
    static const struct { const char *sub, *what, *op; } same[] = {
        { "workflow", "list", "workflow-list" },
        { "service", "list", "service-list" },
        { "standby", "show", "standby-show" },
    };
    char *out = NULL, *raw = NULL;

    for (size_t i = 0; i < G_N_ELEMENTS(same); i++) {
        g_autofree char *want = NULL;

        CU_ASSERT_EQUAL(maint_request(env.ctx, same[i].op, NULL, 5000, &raw, NULL), MAINT_OK);
        want = g_strdup_printf("%s\n", raw ? raw : "?");
        CU_ASSERT_EQUAL(xl_maint(&out, same[i].sub, same[i].what, "--json"), 0);
        if (!out || strcmp(out, want))
            fprintf(stderr, "\nxl-maint %s %s --json: '%s', raw '%s'", same[i].sub,
                    same[i].what, out ? out : "", want);
        CU_ASSERT_STRING_EQUAL(out ? out : "", want);
        g_free(out);
        free(raw);
        out = raw = NULL;
    }
    /* show --json: the list's element; wait: the end (from the list when
     * it is not published, as after a reboot) and its exit status */
    CU_ASSERT_EQUAL(maint_request(env.ctx, "workflow-list", NULL, 5000, &raw, NULL), MAINT_OK);
    CU_ASSERT_EQUAL(xl_maint(&out, "workflow", "show", DONE_ID), 0);
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "state:      done"));
    g_free(out);
    CU_ASSERT_EQUAL(xl_maint(&out, "workflow", "show", "--json"), 1);   /* no id */
    g_free(out);
    {
        const char *argv[] = { XL_MAINT_BIN, "workflow", "show", DONE_ID, "--json", NULL };
        int status = -1;

        out = NULL;
        CU_ASSERT(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                               NULL, &out, NULL, &status, NULL));
        g_strchomp(out);
        CU_ASSERT(out && *out == '{' && raw && strstr(raw, out));
        g_free(out);
    }
    free(raw);
    CU_ASSERT_EQUAL(xl_maint(&out, "workflow", "wait", DONE_ID), 0);
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "workflow " DONE_ID ": done"));
    g_free(out);
    CU_ASSERT_EQUAL(xl_maint(&out, "workflow", "wait", RESUMED_ID), 1);
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "[failed] -: no library context"));
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "workflow " RESUMED_ID ": failed"));
    g_free(out);
    CU_ASSERT_EQUAL(xl_maint(&out, "workflow", "wait", "nope"), 1);
    g_free(out);
}

/* A daemon that stops answering: the typed call returns TIMEOUT by its
 * deadline. */
static void test_real_deadline(void)
{
    maint_service_info **svc = NULL;
    unsigned nr = 0;
    gint64 t0, dt;

    CU_ASSERT_EQUAL_FATAL(kill(daemon_pid, SIGSTOP), 0);
    t0 = g_get_monotonic_time();
    CU_ASSERT_EQUAL(maint_service_list(env.ctx, 300, &svc, &nr), MAINT_ERROR_TIMEOUT);
    dt = g_get_monotonic_time() - t0;
    CU_ASSERT(dt >= 290000 && dt < 3000000);
    CU_ASSERT_EQUAL(kill(daemon_pid, SIGCONT), 0);
    CU_ASSERT_EQUAL(maint_service_list(env.ctx, 5000, &svc, &nr), MAINT_OK);
    maint_service_info_list_free(svc, nr);
}

int main(void)
{
    CU_pSuite s;
    int failed, rc;

    if ((rc = daemon_env_open(&env, "test-api-XXXXXX")))
        return rc;
    if (CU_initialize_registry() != CUE_SUCCESS ||
        !(s = CU_add_suite("the typed API on real xenstored", NULL, NULL)))
        return 99;
    CU_add_test(s, "options refused before sending, the key named", test_options_refused);
    CU_add_test(s, "typed start, list, get, abort, wait (stand-in daemon)", test_round_trip);
    CU_add_test(s, "events in order through the fd in a poll loop", test_events_in_order);
    CU_add_test(s, "the latest state once; malformed states refused", test_latest_once_and_strict);
    CU_add_test(s, "cancel from another thread; deadlines", test_cancel_and_deadline);
    CU_add_test(s, "examples/os-patch follows a workflow", test_example_follows);
    CU_add_test(s, "xmaintd starts (journals in its state)", daemon_up);
    CU_add_test(s, "xmaintd: workflows typed, a resumed one's end as events", test_real_workflows);
    CU_add_test(s, "xmaintd: services and standby typed", test_real_services_standby);
    CU_add_test(s, "xl-maint: --json as xmaintd answers, wait", test_xl_maint_output);
    CU_add_test(s, "xmaintd stopped: TIMEOUT by the deadline", test_real_deadline);
    failed = cunit_run_and_report();
    daemon_env_stop(&daemon_pid, SIGTERM);
    return daemon_env_close(&env, failed);
}
