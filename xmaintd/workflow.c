/*
 * Maintenance workflows: each a state machine run by a worker thread, every
 * step journalled durably (STATE_DIR/workflows/ID.journal, one JSON record a
 * line, fsync'd) before and after it runs.  A daemon that dies mid-step
 * finds the journal on restart and runs the step again (steps are
 * idempotent) or finishes a rollback it had begun.
 *
 *   hw-remove   substitute (PCI hidden, devices removed) -> move apps -> retire
 *   hw-add      substitute with the new device (the original never sees it)
 *               -> move -> retire
 *   os-upgrade  substitute (new kernel/ramdisk/disks) -> move -> retire
 *   os-patch    substitute (same image) -> patch in it -> move -> retire
 *   app-maint   substitute -> change the second instance -> cut over -> retire
 *   reconfigure substitute -> move -> the original restarted with overrides
 *               -> move back -> retire the substitute
 *
 * Fault injection for tests: XMAINT_FAULT=STEP (or STEP:after) makes the
 * daemon kill itself with SIGKILL when the step begins (or is done).
 */
#define G_LOG_DOMAIN "xmaintd-workflow"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "xmaintd.h"
#include "schema.h"
#include "shutdown.h"

#define AGENT_TIMEOUT_MS    (120 * 1000)
#define CMD_TIMEOUT_MS      (120 * 1000)
#define RETIRE_TIMEOUT_MS   (120 * 1000)

typedef enum { WF_RUNNING, WF_DONE, WF_FAILED, WF_ROLLED_BACK } wf_state;
static const char *const state_names[] = { "running", "done", "failed", "rolled-back" };

struct xmd_wf {
    xmd *d;
    char *id, *type, *domain, *substitute;
    char *args;                  /* argv as JSON (journal, xenstore), malloc'd */
    maint__args argv;            /* the typed arguments (workflow-start's schema) */
    GPtrArray *steps;            /* step names, in order */
    GHashTable *done;            /* steps finished */
    guint reached;               /* steps begun (the first `reached`, the last
                                  * perhaps failed): what a rollback undoes.
                                  * The worker's own once it runs. */
    GArray *created;             /* xmd_sd_created: the domains it made (under lock) */
    gboolean rolling_back;
    wf_state state;
    char *step, *message;
    gint abort;                  /* atomic */
    GThread *thread;
    maint_ctx *ctx;              /* the worker's own context */
    GMutex lock;                 /* step/message/state for readers */
};

static GMutex wf_list_lock;
static gint stopping;          /* the daemon is exiting: pause at the next step */

/* ---- args ---------------------------------------------------------------- */

/* A yajl string's text, never NULL. */
static const char *ystr(yajl_val v)
{
    const char *s = v ? YAJL_GET_STRING(v) : NULL;
    return s ? s : "";
}

/* ---- journal ------------------------------------------------------------- */

static char *journal_path(xmd *d, const char *id)
{
    g_autofree char *name = g_strdup_printf("%s.journal", id);
    return g_build_filename(d->state_dir, "workflows", name, NULL);
}

/* One record; kv: more key/value string pairs, NULL-terminated (or NULL). */
static void journal_kv(xmd_wf *w, const char *event, const char *step,
                       const char *const *kv)
{
    g_autofree char *path = journal_path(w->d, w->id);
    g_autofree char *dir = g_path_get_dirname(path);
    maint__json *j = maint__json_new();
    g_autofree char *nl = NULL;
    char *line;
    int fd;

    maint__json_map_open(j);
    maint__json_key(j, "time");
    maint__json_int(j, g_get_real_time() / 1000);
    maint__json_key(j, "event");
    maint__json_string(j, event);
    if (!strcmp(event, "start")) {
        maint__json_key(j, "type");
        maint__json_string(j, w->type);
        maint__json_key(j, "domain");
        maint__json_string(j, w->domain);
        maint__json_key(j, "substitute");
        maint__json_string(j, w->substitute);
        maint__json_key(j, "args");
        maint__json_raw(j, w->args);
    }
    if (step) {
        maint__json_key(j, "step");
        maint__json_string(j, step);
    }
    for (; kv && kv[0]; kv += 2) {
        maint__json_key(j, kv[0]);
        maint__json_string(j, kv[1]);
    }
    maint__json_map_close(j);
    line = maint__json_finish(j);
    /* one write a record: the main thread may add one (xmd_workflow_note) */
    nl = line ? g_strdup_printf("%s\n", line) : NULL;
    g_mkdir_with_parents(dir, 0700);
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || !nl || write(fd, nl, strlen(nl)) < 0 || fsync(fd) < 0)
        g_warning("workflow %s: cannot write its journal %s: %s", w->id, path,
                  g_strerror(errno));
    if (fd >= 0)
        close(fd);
    free(line);
}

static void journal(xmd_wf *w, const char *event, const char *step, const char *extra_key,
                    const char *extra)
{
    const char *kv[] = { extra_key, extra, NULL };

    journal_kv(w, event, step, kv);
}

static void fault_point(const char *step, gboolean after)
{
    const char *f = g_getenv("XMAINT_FAULT");
    g_autofree char *want = NULL;

    if (!f)
        return;
    want = g_strdup_printf("%s%s", step, after ? ":after" : "");
    if (!strcmp(f, want)) {
        g_warning("XMAINT_FAULT=%s: killing xmaintd here", f);
        kill(getpid(), SIGKILL);
    }
}

/* ---- publication ---------------------------------------------------------- */

static char *wf_json_locked(xmd_wf *w)
{
    maint__json *j = maint__json_new();
    char *out, *ret;

    maint__json_map_open(j);
    maint__json_key(j, "id");
    maint__json_string(j, w->id);
    maint__json_key(j, "type");
    maint__json_string(j, w->type);
    maint__json_key(j, "domain");
    maint__json_string(j, w->domain);
    maint__json_key(j, "substitute");
    maint__json_string(j, w->substitute);
    maint__json_key(j, "state");
    maint__json_string(j, w->rolling_back && w->state == WF_RUNNING ? "rolling-back"
                                                                  : state_names[w->state]);
    maint__json_key(j, "step");
    maint__json_string(j, w->step);
    maint__json_key(j, "message");
    maint__json_string(j, w->message);
    maint__json_key(j, "steps");
    maint__json_array_open(j);
    for (guint i = 0; i < w->steps->len; i++) {
        const char *s = g_ptr_array_index(w->steps, i);
        maint__json_map_open(j);
        maint__json_key(j, "name");
        maint__json_string(j, s);
        maint__json_key(j, "done");
        maint__json_bool(j, g_hash_table_contains(w->done, s));
        maint__json_map_close(j);
    }
    maint__json_array_close(j);
    maint__json_map_close(j);
    out = maint__json_finish(j);
    ret = g_strdup(out);
    free(out);
    return ret;
}

char *xmd_workflow_json(xmd_wf *w)
{
    char *s;

    g_mutex_lock(&w->lock);
    s = wf_json_locked(w);
    g_mutex_unlock(&w->lock);
    return s;
}

static void publish(xmd_wf *w)
{
    g_autofree char *json = xmd_workflow_json(w);
    g_autofree char *path = g_strdup_printf(MAINT_XS_WORKFLOW_FMT, w->id);
    maint_ctx *ctx = w->ctx ? w->ctx : w->d->ctx;

    if (ctx->port.ops->xs_write(ctx->port.priv, MAINT__XS_NO_TXN, path, json,
                                (unsigned)strlen(json)) < 0)
        g_warning("workflow %s: cannot publish %s: %s", w->id, path, g_strerror(errno));
}

static void progress(xmd_wf *w, const char *step, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void progress(xmd_wf *w, const char *step, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_mutex_lock(&w->lock);
    if (step) {
        g_free(w->step);
        w->step = g_strdup(step);
    }
    g_free(w->message);
    w->message = msg;
    g_mutex_unlock(&w->lock);
    g_message("workflow %s (%s of %s): %s%s%s", w->id, w->type, w->domain,
              step ? step : "", step ? ": " : "", msg);
    publish(w);
}

/* ---- helpers ------------------------------------------------------------- */

static gboolean lookup(xmd_wf *w, const char *name, uint32_t *domid_r)
{
    return maint_domain_lookup(w->ctx, name, domid_r) == MAINT_OK;
}

/* The workflow made domain domid (at step): journalled with its UUID, so
 * xmaintd acts as its toolstack (toolstack.c), also after a restart. */
static void record_created(xmd_wf *w, const char *step, uint32_t domid)
{
    maint_domain_info info;
    xmd_sd_created c = { .domid = domid };
    gboolean known;

    maint_domain_info_init(&info);
    if (maint_domain_info_get(w->ctx, domid, &info) != MAINT_OK || !info.uuid[0]) {
        maint_domain_info_dispose(&info);
        g_warning("workflow %s: d%u is gone before it could be recorded", w->id, domid);
        return;
    }
    g_strlcpy(c.uuid, info.uuid, sizeof(c.uuid));
    maint_domain_info_dispose(&info);
    g_mutex_lock(&w->lock);
    known = xmd_sd_ours((xmd_sd_created *)(void *)w->created->data, w->created->len,
                        c.domid, c.uuid);
    if (!known)
        g_array_append_val(w->created, c);
    g_mutex_unlock(&w->lock);
    if (!known) {
        g_autofree char *id = g_strdup_printf("%u", domid);
        const char *kv[] = { "domid", id, "uuid", c.uuid, NULL };

        journal_kv(w, "created", step, kv);
    }
    /* it may have shut down before this record was there */
    xmd_toolstack_recheck(w->d, domid);
}

static gboolean agent_cmd(xmd_wf *w, uint32_t domid, const char *json, GError **error)
{
    char *err = NULL;
    int rc = maint_agent_command(w->ctx, domid, json, CMD_TIMEOUT_MS, &err);

    if (rc != MAINT_OK) {
        g_set_error(error, XMD_ERROR, 1, "d%u's agent: %s: %s", domid, json,
                    err ? err : maint_strerror(rc));
        free(err);
        return FALSE;
    }
    return TRUE;
}

static gboolean app_cmd(xmd_wf *w, uint32_t domid, const char *op, const char *app,
                        GError **error)
{
    g_autofree char *json = g_strdup_printf("{\"op\":\"%s\",\"app\":\"%s\"}", op, app);
    return agent_cmd(w, domid, json, error);
}

static void app_status(xmd_wf *w, uint32_t domid, const char *app, char *buf, size_t n)
{
    if (maint_agent_app_status(w->ctx, domid, app, buf, n) != MAINT_OK)
        snprintf(buf, n, "unknown");
}

/* TCP connect to addr:port within timeout (the new instance answers). */
static gboolean port_answers(const char *addr, unsigned port, unsigned timeout_ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    do {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        int err = 1;
        socklen_t len = sizeof(err);

        if (fd < 0)
            return FALSE;
        inet_pton(AF_INET, addr, &sa.sin_addr);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            err = 0;
        else if (errno == EINPROGRESS && poll(&p, 1, 1000) == 1)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        close(fd);
        if (err == 0)
            return TRUE;
        g_usleep(200000);
    } while (g_get_monotonic_time() < end);
    return FALSE;
}

/* Wait until the target's ~/xmaint/vchan/SEQ/ring-ref exists. */
static gboolean vchan_ready(xmd_wf *w, uint32_t domid, const char *seq, unsigned timeout_ms)
{
    g_autofree char *p = g_strdup_printf(MAINT_XS_VCHAN_RING_FMT, domid, seq);
    gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    do {
        unsigned len;
        char *v = w->ctx->port.ops->xs_read(w->ctx->port.priv, MAINT__XS_NO_TXN, p, &len);
        if (v) {
            free(v);
            return TRUE;
        }
        g_usleep(50000);
    } while (g_get_monotonic_time() < end);
    return FALSE;
}

/* Move one application from domain src to dst. */
static gboolean move_app(xmd_wf *w, const maint_app *a, const char *src_name, uint32_t src,
                         const char *dst_name, uint32_t dst, gboolean src_alive,
                         GError **error)
{
    char st[16];

    app_status(w, dst, a->name, st, sizeof(st));
    if (!strcmp(st, "running")) {
        /* moved before a restart: make sure the rest holds */
        if (xmd_service_retarget(w->d, w->ctx, a->name, src_name, dst_name, error) < 0)
            return FALSE;
        if (src_alive)
            return app_cmd(w, src, "stop", a->name, error);
        return TRUE;
    }
    if (a->mode == MAINT_APP_REDIRECT) {
        char addr[INET_ADDRSTRLEN];
        unsigned drain = (unsigned)maint__args_int(&w->argv, "drain_ms", 2000);

        progress(w, NULL, "%s: starting the instance in %s", a->name, dst_name);
        if (!app_cmd(w, dst, "start", a->name, error))
            return FALSE;
        if (maint_agent_addr(w->ctx, dst, addr, sizeof(addr)) != MAINT_OK) {
            g_set_error(error, XMD_ERROR, 1, "%s has no address from its agent", dst_name);
            return FALSE;
        }
        if (!port_answers(addr, a->port, 60000)) {
            g_set_error(error, XMD_ERROR, 1, "%s in %s does not answer on %s:%u", a->name,
                        dst_name, addr, a->port);
            return FALSE;
        }
        fault_point("switch", FALSE);
        if (xmd_service_retarget(w->d, w->ctx, a->name, src_name, dst_name, error) < 0)
            return FALSE;
        fault_point("switch", TRUE);
        progress(w, NULL, "%s: requests go to %s; draining %s for %u ms", a->name,
                 dst_name, src_name, drain);
        g_usleep((gulong)drain * 1000);
        if (src_alive && !app_cmd(w, src, "stop", a->name, error))
            return FALSE;
        return TRUE;
    }
    /* state / checkpoint: stop, copy, start */
    if (src_alive) {
        char send_seq[24], recv_seq[24], *err = NULL;
        g_autofree char *recv = NULL, *send = NULL, *path = NULL;
        int rc;

        progress(w, NULL, "%s: stopping it in %s", a->name, src_name);
        if (!app_cmd(w, src, "stop", a->name, error))
            return FALSE;
        fault_point("transfer", FALSE);
        progress(w, NULL, "%s: copying its state from %s to %s", a->name, src_name, dst_name);
        recv = g_strdup_printf("{\"op\":\"state-recv\",\"app\":\"%s\",\"peer\":%u}", a->name, src);
        if (maint_agent_command_send(w->ctx, dst, recv, recv_seq, sizeof(recv_seq)) != MAINT_OK) {
            g_set_error(error, XMD_ERROR, 1, "cannot ask %s to receive", dst_name);
            return FALSE;
        }
        if (!vchan_ready(w, dst, recv_seq, 30000)) {
            maint_agent_command_wait(w->ctx, dst, recv_seq, 1000, &err);
            g_set_error(error, XMD_ERROR, 1, "%s does not listen for %s's state: %s", dst_name,
                        a->name, err ? err : "no channel");
            free(err);
            return FALSE;
        }
        path = g_strdup_printf(MAINT_XS_VCHAN_FMT, dst, recv_seq);
        send = g_strdup_printf("{\"op\":\"state-send\",\"app\":\"%s\",\"peer\":%u,\"path\":\"%s\"}",
                               a->name, dst, path);
        if (maint_agent_command_send(w->ctx, src, send, send_seq, sizeof(send_seq)) != MAINT_OK) {
            g_set_error(error, XMD_ERROR, 1, "cannot ask %s to send", src_name);
            return FALSE;
        }
        rc = maint_agent_command_wait(w->ctx, src, send_seq, CMD_TIMEOUT_MS, &err);
        if (rc != MAINT_OK) {
            g_set_error(error, XMD_ERROR, 1, "%s could not send %s's state: %s", src_name,
                        a->name, err ? err : maint_strerror(rc));
            free(err);
            maint_agent_command_wait(w->ctx, dst, recv_seq, 5000, NULL);
            return FALSE;
        }
        rc = maint_agent_command_wait(w->ctx, dst, recv_seq, CMD_TIMEOUT_MS, &err);
        if (rc != MAINT_OK) {
            g_set_error(error, XMD_ERROR, 1, "%s could not take %s's state: %s", dst_name,
                        a->name, err ? err : maint_strerror(rc));
            free(err);
            return FALSE;
        }
    }
    progress(w, NULL, "%s: starting it in %s", a->name, dst_name);
    if (!app_cmd(w, dst, "start", a->name, error))
        return FALSE;
    /* an application with a service address: its traffic follows it */
    if (a->port) {
        char addr[INET_ADDRSTRLEN];

        if (maint_agent_addr(w->ctx, dst, addr, sizeof(addr)) == MAINT_OK &&
            !port_answers(addr, a->port, 60000)) {
            g_set_error(error, XMD_ERROR, 1, "%s in %s does not answer on %s:%u", a->name,
                        dst_name, addr, a->port);
            return FALSE;
        }
        if (xmd_service_retarget(w->d, w->ctx, a->name, src_name, dst_name, error) < 0)
            return FALSE;
    }
    return TRUE;
}

/* Move every application src announces to dst. */
static gboolean move_all(xmd_wf *w, const char *src_name, const char *dst_name,
                         gboolean rollback, GError **error)
{
    uint32_t src = 0, dst;
    maint_app *apps = NULL;
    unsigned n = 0, moved = 0;
    gboolean src_alive, ok = TRUE;

    if (!lookup(w, dst_name, &dst)) {
        g_set_error(error, XMD_ERROR, 1, "%s is not running", dst_name);
        return FALSE;
    }
    src_alive = lookup(w, src_name, &src);
    if (maint_agent_wait_ready(w->ctx, dst, AGENT_TIMEOUT_MS) != MAINT_OK) {
        g_set_error(error, XMD_ERROR, 1, "the agent in %s is not ready", dst_name);
        return FALSE;
    }
    /* the applications: the source's list, or the target's if the source is gone */
    if ((src_alive && maint_agent_apps(w->ctx, src, &apps, &n) != MAINT_OK) ||
        (!src_alive && maint_agent_apps(w->ctx, dst, &apps, &n) != MAINT_OK)) {
        g_set_error(error, XMD_ERROR, 1, "cannot read the applications of %s", src_name);
        return FALSE;
    }
    if (!src_alive && !rollback) {
        free(apps);
        g_set_error(error, XMD_ERROR, 1, "%s is not running", src_name);
        return FALSE;
    }
    for (unsigned i = 0; i < n && ok; i++) {
        if (!rollback && g_atomic_int_get(&w->abort)) {
            g_set_error(error, XMD_ERROR, 1, "aborted by the administrator");
            ok = FALSE;
            break;
        }
        ok = move_app(w, &apps[i], src_name, src, dst_name, dst, src_alive, error);
        if (ok) {
            moved++;
            journal(w, "app", NULL, "app", apps[i].name);
        }
    }
    if (ok)
        progress(w, NULL, "%u application(s) now in %s", moved, dst_name);
    free(apps);
    return ok;
}

/* ---- steps ---------------------------------------------------------------- */

static void substitute_progress(void *user, const char *stage, int pct)
{
    progress(user, NULL, "substitute: %s (%d%%)", stage, pct);
}

static gboolean step_substitute(xmd_wf *w, GError **error)
{
    maint_substitute_opts o;
    const char *hide[MAINT_HIDE_MAX_PCI], *sets[32], *disks[8], *remove[16], *add[16];
    uint32_t src, sub;
    unsigned nh, i;
    int rc;

    if (lookup(w, w->substitute, &sub)) {
        /* created before a restart: usable if its agent comes up */
        if (maint_agent_wait_ready(w->ctx, sub, AGENT_TIMEOUT_MS) == MAINT_OK) {
            record_created(w, "substitute", sub);
            return TRUE;
        }
        g_message("workflow %s: %s exists without a ready agent: recreating it", w->id,
                  w->substitute);
        maint_domain_retire(w->ctx, sub, 0);
    }
    if (!lookup(w, w->domain, &src)) {
        g_set_error(error, XMD_ERROR, 1, "%s is not running", w->domain);
        return FALSE;
    }
    maint_substitute_opts_init(&o);
    o.name = w->substitute;
    nh = maint__args_strv(&w->argv, "hide_pci", hide, MAINT_HIDE_MAX_PCI);
    for (i = 0; i < nh; i++)
        if (maint_hide_spec_add_pci(&o.hide, hide[i]) != MAINT_OK) {
            g_set_error(error, XMD_ERROR, 1, "bad PCI address %s", hide[i]);
            return FALSE;
        }
    o.kernel = maint__args_str(&w->argv, "kernel");
    o.ramdisk = maint__args_str(&w->argv, "ramdisk");
    o.cmdline = maint__args_str(&w->argv, "cmdline");
    o.firmware = maint__args_str(&w->argv, "firmware");
    o.vcpus = (unsigned)maint__args_int(&w->argv, "vcpus", 0);
    o.memory_kb = (uint64_t)maint__args_int(&w->argv, "memory_kb", 0);
    o.nr_disks = maint__args_strv(&w->argv, "disks", disks, G_N_ELEMENTS(disks));
    o.disks = o.nr_disks ? disks : NULL;
    /* reconfigure's overrides are for the original, not its stand-in */
    o.nr_sets = strcmp(w->type, "reconfigure") ? maint__args_strv(&w->argv, "sets", sets, G_N_ELEMENTS(sets)) : 0;
    o.sets = o.nr_sets ? sets : NULL;
    o.nr_remove = maint__args_strv(&w->argv, "remove", remove, G_N_ELEMENTS(remove));
    o.remove = o.nr_remove ? remove : NULL;
    o.nr_add = maint__args_strv(&w->argv, "add", add, G_N_ELEMENTS(add));
    o.add = o.nr_add ? add : NULL;
    o.mac = MAINT_MAC_NEW;
    rc = maint_substitute_create(w->ctx, src, &o,
                                 (unsigned)maint__args_int(&w->argv, "timeout_ms", 600000),
                                 substitute_progress, w, &sub);
    if (rc != MAINT_OK) {
        g_set_error(error, XMD_ERROR, 1, "cannot create the substitute %s: %s (see the log)",
                    w->substitute, maint_strerror(rc));
        return FALSE;
    }
    record_created(w, "substitute", sub);
    return TRUE;
}

static gboolean run_in(xmd_wf *w, const char *name, const char *key, GError **error)
{
    const char *cmd = maint__args_str(&w->argv, key);
    uint32_t id;
    maint__json *j;
    char *json;
    gboolean ok;

    if (!cmd)
        return TRUE;
    if (!lookup(w, name, &id)) {
        g_set_error(error, XMD_ERROR, 1, "%s is not running", name);
        return FALSE;
    }
    j = maint__json_new();
    maint__json_map_open(j);
    maint__json_key(j, "op");
    maint__json_string(j, "run");
    maint__json_key(j, "command");
    maint__json_string(j, cmd);
    maint__json_map_close(j);
    json = maint__json_finish(j);
    progress(w, NULL, "running the %s command in %s", key, name);
    ok = json && agent_cmd(w, id, json, error);
    free(json);
    return ok;
}

static gboolean step_patch(xmd_wf *w, GError **error)
{
    return run_in(w, w->substitute, "patch", error);
}

static gboolean step_move(xmd_wf *w, GError **error)
{
    return move_all(w, w->domain, w->substitute, FALSE, error);
}

static gboolean step_move_back(xmd_wf *w, GError **error)
{
    return move_all(w, w->substitute, w->domain, FALSE, error);
}

static gboolean step_retire(xmd_wf *w, const char *name, GError **error)
{
    uint32_t id;
    int rc;

    if (!lookup(w, name, &id))
        return TRUE;                          /* already gone */
    progress(w, NULL, "shutting %s (d%u) down; its disks are kept", name, id);
    rc = maint_domain_retire(w->ctx, id, RETIRE_TIMEOUT_MS);
    if (rc != MAINT_OK) {
        g_set_error(error, XMD_ERROR, 1, "cannot retire %s: %s", name, maint_strerror(rc));
        return FALSE;
    }
    return TRUE;
}

/* reconfigure: the original, emptied by "move", shut down and started again
 * with the overrides; its configuration is kept in the state directory so a
 * restart at any point finds it. */
static gboolean step_reconfigure(xmd_wf *w, GError **error)
{
    g_autofree char *base = g_build_filename(w->d->state_dir, "workflows", w->id, NULL);
    g_autofree char *cfgpath = g_strdup_printf("%s.config.json", base);
    g_autofree char *donepath = g_strdup_printf("%s.recreated", base);
    g_autofree char *json = NULL;
    g_autoptr(GError) ferr = NULL;
    uint32_t id, newid;
    int rc;

    if (!g_file_test(cfgpath, G_FILE_TEST_EXISTS)) {
        maint_substitute_opts o;
        const char *sets[32];
        char *out = NULL;

        if (!lookup(w, w->domain, &id)) {
            g_set_error(error, XMD_ERROR, 1, "%s is not running", w->domain);
            return FALSE;
        }
        maint_substitute_opts_init(&o);
        o.same_identity = true;
        o.mac = MAINT_MAC_KEEP;
        o.nr_sets = maint__args_strv(&w->argv, "sets", sets, G_N_ELEMENTS(sets));
        o.sets = o.nr_sets ? sets : NULL;
        o.vcpus = (unsigned)maint__args_int(&w->argv, "vcpus", 0);
        o.memory_kb = (uint64_t)maint__args_int(&w->argv, "memory_kb", 0);
        rc = maint_substitute_config_json(w->ctx, id, &o, &out);
        if (rc) {
            g_set_error(error, XMD_ERROR, 1, "cannot derive %s's new configuration: %s",
                        w->domain, maint_strerror(rc));
            return FALSE;
        }
        json = g_strdup(out);
        free(out);
        if (!g_file_set_contents(cfgpath, json, -1, &ferr)) {
            g_set_error(error, XMD_ERROR, 1, "%s", ferr->message);
            return FALSE;
        }
    } else if (!g_file_get_contents(cfgpath, &json, NULL, &ferr)) {
        g_set_error(error, XMD_ERROR, 1, "%s", ferr->message);
        return FALSE;
    }
    if (g_file_test(donepath, G_FILE_TEST_EXISTS)) {
        if (lookup(w, w->domain, &id) &&
            maint_agent_wait_ready(w->ctx, id, AGENT_TIMEOUT_MS) == MAINT_OK) {
            record_created(w, "reconfigure", id);
            return TRUE;
        }
        g_set_error(error, XMD_ERROR, 1, "the reconfigured %s is not up", w->domain);
        return FALSE;
    }
    if (lookup(w, w->domain, &id)) {
        progress(w, NULL, "shutting %s (d%u) down to reconfigure it", w->domain, id);
        if ((rc = maint_domain_retire(w->ctx, id, RETIRE_TIMEOUT_MS))) {
            g_set_error(error, XMD_ERROR, 1, "cannot shut %s down: %s", w->domain,
                        maint_strerror(rc));
            return FALSE;
        }
    }
    progress(w, NULL, "starting %s with its new configuration", w->domain);
    rc = maint_domain_create_json(w->ctx, json, "reconfigured",
                                  (unsigned)maint__args_int(&w->argv, "timeout_ms", 600000), &newid);
    if (rc) {
        g_set_error(error, XMD_ERROR, 1, "cannot start the reconfigured %s: %s", w->domain,
                    maint_strerror(rc));
        return FALSE;
    }
    record_created(w, "reconfigure", newid);
    if (!g_file_set_contents(donepath, "", 0, &ferr)) {
        g_set_error(error, XMD_ERROR, 1, "%s", ferr->message);
        return FALSE;
    }
    progress(w, NULL, "%s is back as d%u", w->domain, newid);
    return TRUE;
}

static gboolean run_step(xmd_wf *w, const char *step, GError **error)
{
    if (!strcmp(step, "substitute"))
        return step_substitute(w, error);
    if (!strcmp(step, "patch"))
        return step_patch(w, error);
    if (!strcmp(step, "change"))
        return run_in(w, w->substitute, "change", error);
    if (!strcmp(step, "move"))
        return step_move(w, error);
    if (!strcmp(step, "reconfigure"))
        return step_reconfigure(w, error);
    if (!strcmp(step, "move-back"))
        return step_move_back(w, error);
    if (!strcmp(step, "retire"))
        return step_retire(w, w->domain, error);
    if (!strcmp(step, "retire-substitute"))
        return step_retire(w, w->substitute, error);
    g_set_error(error, XMD_ERROR, 1, "unknown step %s", step);
    return FALSE;
}

/* Undo a finished step (rollback), newest first. */
static gboolean undo_step(xmd_wf *w, const char *step, GError **error)
{
    uint32_t id;

    if (!strcmp(step, "substitute")) {
        if (lookup(w, w->substitute, &id)) {
            progress(w, NULL, "destroying the substitute %s", w->substitute);
            return maint_domain_retire(w->ctx, id, 0) == MAINT_OK;
        }
        return TRUE;
    }
    if (!strcmp(step, "move"))
        return move_all(w, w->substitute, w->domain, TRUE, error);
    return TRUE;                 /* patch/change: the substitute goes anyway */
}

/* ---- the worker ----------------------------------------------------------- */

static void finish(xmd_wf *w, wf_state st, const char *msg)
{
    g_mutex_lock(&w->lock);
    w->state = st;
    g_mutex_unlock(&w->lock);
    journal(w, "end", NULL, "state", state_names[st]);
    progress(w, NULL, "%s", msg);
}

static gpointer worker(gpointer data)
{
    xmd_wf *w = data;
    g_autoptr(GError) error = NULL;
    int rc;

    rc = maint_ctx_open(&w->ctx, w->d->xtl, 0);
    if (rc != MAINT_OK) {
        g_warning("workflow %s: cannot open a library context: %s", w->id, maint_strerror(rc));
        finish(w, WF_FAILED, "no library context");
        return NULL;
    }
    if (!w->rolling_back) {
        for (guint i = 0; i < w->steps->len; i++) {
            const char *s = g_ptr_array_index(w->steps, i);

            if (g_hash_table_contains(w->done, s))
                continue;
            if (g_atomic_int_get(&stopping)) {
                progress(w, s, "paused: xmaintd is stopping; resumes when it starts");
                goto out;
            }
            if (g_atomic_int_get(&w->abort) && strcmp(s, "retire")) {
                g_set_error(&error, XMD_ERROR, 1, "aborted by the administrator");
                break;
            }
            w->reached = i + 1;
            journal(w, "begin", s, NULL, NULL);
            progress(w, s, "started");
            fault_point(s, FALSE);
            if (!run_step(w, s, &error)) {
                journal(w, "fail", s, "error", error ? error->message : "failed");
                progress(w, s, "failed: %s", error ? error->message : "failed");
                break;
            }
            g_mutex_lock(&w->lock);     /* readers: the JSON, xmd_workflow_created */
            g_hash_table_add(w->done, g_strdup(s));
            g_mutex_unlock(&w->lock);
            journal(w, "done", s, NULL, NULL);
            progress(w, s, "done");
            fault_point(s, TRUE);
        }
        if (!error) {
            finish(w, WF_DONE, "finished");
            goto out;
        }
        /* once the original is being retired there is no way back */
        if (g_hash_table_contains(w->done, "move")) {
            finish(w, WF_FAILED, error->message);
            goto out;
        }
        w->rolling_back = TRUE;
        journal(w, "rollback", NULL, "reason", error->message);
    }
    /* rollback, newest first: the steps begun, i.e. the finished ones and the
     * one that failed half-way (its partial effects); never one that did not
     * start (undoing "move" after a failed "substitute" waited for agents) */
    for (gint i = (gint)w->reached - 1; i >= 0; i--) {
        const char *s = g_ptr_array_index(w->steps, i);
        g_autoptr(GError) uerr = NULL;

        progress(w, s, "undoing");
        if (!undo_step(w, s, &uerr)) {
            journal(w, "undo-failed", s, "error", uerr ? uerr->message : "failed");
            finish(w, WF_FAILED, uerr ? uerr->message : "rollback failed");
            goto out;
        }
        journal(w, "undone", s, NULL, NULL);
    }
    finish(w, WF_ROLLED_BACK, error ? error->message : "rolled back");
out:
    maint_ctx_close(w->ctx);
    w->ctx = NULL;
    return NULL;
}

/* ---- the list ------------------------------------------------------------- */

static const char *const *steps_of(const char *type)
{
    static const char *const hw_remove[] = { "substitute", "move", "retire", NULL };
    static const char *const os_patch[] = { "substitute", "patch", "move", "retire", NULL };
    static const char *const app_maint[] = { "substitute", "change", "move", "retire", NULL };
    static const char *const reconf[] = { "substitute", "move", "reconfigure", "move-back",
                                          "retire-substitute", NULL };

    if (!strcmp(type, "hw-remove") || !strcmp(type, "hw-add") || !strcmp(type, "os-upgrade"))
        return hw_remove;
    if (!strcmp(type, "os-patch"))
        return os_patch;
    if (!strcmp(type, "app-maint"))
        return app_maint;
    if (!strcmp(type, "reconfigure"))
        return reconf;
    return NULL;
}

static void wf_free(gpointer p)
{
    xmd_wf *w = p;

    if (w->thread)
        g_thread_join(w->thread);
    g_free(w->id);
    g_free(w->type);
    g_free(w->domain);
    g_free(w->substitute);
    free(w->args);
    maint__args_dispose(&w->argv);
    g_ptr_array_free(w->steps, TRUE);
    g_hash_table_destroy(w->done);
    g_array_free(w->created, TRUE);
    g_free(w->step);
    g_free(w->message);
    g_mutex_clear(&w->lock);
    g_free(w);
}

/* A new workflow; it takes *args over (leaving it initialised). */
static xmd_wf *wf_new(xmd *d, const char *id, const char *type, const char *domain,
                      const char *substitute, maint__args *args)
{
    xmd_wf *w = g_new0(xmd_wf, 1);
    const char *const *s = steps_of(type);

    w->d = d;
    w->id = g_strdup(id);
    w->type = g_strdup(type);
    w->domain = g_strdup(domain);
    w->substitute = g_strdup(substitute);
    w->argv = *args;
    maint__args_init(args);
    w->args = maint__args_to_json(&w->argv);
    if (!w->args)
        g_error("out of memory");
    w->steps = g_ptr_array_new_with_free_func(g_free);
    for (; s && *s; s++)
        g_ptr_array_add(w->steps, g_strdup(*s));
    w->done = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    w->created = g_array_new(FALSE, TRUE, sizeof(xmd_sd_created));
    g_mutex_init(&w->lock);
    return w;
}

static void wf_start_thread(xmd_wf *w)
{
    g_autofree char *name = g_strdup_printf("wf-%s", w->id);
    w->thread = g_thread_new(name, worker, w);
}

static gboolean wf_active(xmd_wf *w)
{
    gboolean a;

    g_mutex_lock(&w->lock);
    a = w->state == WF_RUNNING;
    g_mutex_unlock(&w->lock);
    return a;
}

/* Is a domain name part of an active workflow? */
static xmd_wf *busy_with(xmd *d, const char *name)
{
    for (guint i = 0; i < d->workflows->len; i++) {
        xmd_wf *w = g_ptr_array_index(d->workflows, i);
        if (wf_active(w) && (!strcmp(w->domain, name) || !strcmp(w->substitute, name)))
            return w;
    }
    return NULL;
}

char *xmd_workflow_start(xmd *d, maint__args *args, GError **error)
{
    /* type and domain are required by the schema, substitute optional */
    const char *type = maint__args_str(args, "type"), *dom = maint__args_str(args, "domain"),
               *sub = maint__args_str(args, "substitute");
    g_autofree char *subname = NULL;
    char *id = NULL;
    uint32_t domid, subid;
    xmd_wf *w, *other;

    if (!type || !steps_of(type)) {
        g_set_error(error, XMD_ERROR, 1, "\"type\" is not one of hw-remove, "
                    "hw-add, os-upgrade, os-patch, app-maint, reconfigure");
        goto out;
    }
    if (!dom || !dom[0]) {
        g_set_error(error, XMD_ERROR, 1, "\"domain\" names no domain");
        goto out;
    }
    if (!d->lx) {
        g_set_error(error, XMD_ERROR, 1, "the hypervisor is not available to xmaintd");
        goto out;
    }
    if (maint_domain_lookup(d->ctx, dom, &domid) != MAINT_OK || domid == 0) {
        g_set_error(error, XMD_ERROR, 1, "no running domain %s", dom);
        goto out;
    }
    {
        /* workflows name domains, never ids: ids change */
        maint_domain_info info;
        maint_domain_info_init(&info);
        if (maint_domain_info_get(d->ctx, domid, &info) != MAINT_OK || !info.name) {
            maint_domain_info_dispose(&info);
            g_set_error(error, XMD_ERROR, 1, "domain %s has no name", dom);
            goto out;
        }
        subname = sub ? g_strdup(sub) : g_strdup_printf("%s-sub", info.name);
        g_mutex_lock(&wf_list_lock);
        other = busy_with(d, info.name);
        if (!other)
            other = busy_with(d, subname);
        if (other) {
            g_set_error(error, XMD_ERROR, 1, "%s is busy with workflow %s (%s)", info.name,
                        other->id, other->type);
            g_mutex_unlock(&wf_list_lock);
            maint_domain_info_dispose(&info);
            goto out;
        }
        if (maint_domain_lookup(d->ctx, subname, &subid) == MAINT_OK) {
            g_set_error(error, XMD_ERROR, 1, "a domain named %s exists already", subname);
            g_mutex_unlock(&wf_list_lock);
            maint_domain_info_dispose(&info);
            goto out;
        }
        {
            g_autoptr(GDateTime) now = g_date_time_new_now_utc();
            g_autofree char *stamp = g_date_time_format(now, "%Y%m%d-%H%M%S");
            id = g_strdup_printf("%s-%s-%u", stamp, type, domid);
        }
        w = wf_new(d, id, type, info.name, subname, args);
        maint_domain_info_dispose(&info);
        g_ptr_array_add(d->workflows, w);
        journal(w, "start", NULL, NULL, NULL);
        publish(w);
        wf_start_thread(w);
        g_mutex_unlock(&wf_list_lock);
        g_message("workflow %s: %s of %s started (substitute %s)", id, w->type, w->domain,
                  w->substitute);
    }
out:
    return id;
}

gboolean xmd_workflow_abort(xmd *d, const char *id, GError **error)
{
    gboolean ok = FALSE;

    g_mutex_lock(&wf_list_lock);
    for (guint i = 0; i < d->workflows->len; i++) {
        xmd_wf *w = g_ptr_array_index(d->workflows, i);
        gboolean active, moved;

        if (strcmp(w->id, id))
            continue;
        g_mutex_lock(&w->lock);         /* the worker adds to done under it */
        active = w->state == WF_RUNNING;
        moved = g_hash_table_contains(w->done, "move");
        g_mutex_unlock(&w->lock);
        if (!active) {
            g_set_error(error, XMD_ERROR, 1, "workflow %s has ended", id);
        } else if (moved) {
            g_set_error(error, XMD_ERROR, 1, "workflow %s has moved the applications: "
                        "only retiring the original is left", id);
        } else {
            g_atomic_int_set(&w->abort, 1);
            g_message("workflow %s: abort requested", id);
            ok = TRUE;
        }
        goto out;
    }
    g_set_error(error, XMD_ERROR, 1, "no workflow %s", id);
out:
    g_mutex_unlock(&wf_list_lock);
    return ok;
}

char *xmd_workflows_json(xmd *d)
{
    GString *s = g_string_new("[");

    g_mutex_lock(&wf_list_lock);
    for (guint i = 0; i < d->workflows->len; i++) {
        g_autofree char *j = xmd_workflow_json(g_ptr_array_index(d->workflows, i));
        g_string_append_printf(s, "%s%s", i ? "," : "", j);
    }
    g_mutex_unlock(&wf_list_lock);
    g_string_append_c(s, ']');
    return g_string_free(s, FALSE);
}

gboolean xmd_workflow_created(xmd *d, uint32_t domid, const char *uuid, char **id_r,
                              gboolean *disposable_r)
{
    gboolean found = FALSE;

    g_mutex_lock(&wf_list_lock);
    /* a (domid, UUID) is recorded by one workflow only: the first found */
    for (guint i = d->workflows ? d->workflows->len : 0; i-- > 0 && !found;) {
        xmd_wf *w = g_ptr_array_index(d->workflows, i);

        g_mutex_lock(&w->lock);
        found = xmd_sd_ours((xmd_sd_created *)(void *)w->created->data, w->created->len,
                            domid, uuid);
        /* before "move" the applications are still at home: the domain can
         * go (the workflow rolls back); after it, it holds them */
        if (found && disposable_r)
            *disposable_r = w->state == WF_RUNNING && !g_hash_table_contains(w->done, "move");
        g_mutex_unlock(&w->lock);
        if (found && id_r)
            *id_r = g_strdup(w->id);
    }
    g_mutex_unlock(&wf_list_lock);
    return found;
}

void xmd_workflow_note(xmd *d, const char *id, uint32_t domid, const char *text)
{
    g_autofree char *dom = g_strdup_printf("%u", domid);
    const char *kv[] = { "domid", dom, "what", text, NULL };

    g_mutex_lock(&wf_list_lock);
    for (guint i = 0; d->workflows && id && i < d->workflows->len; i++) {
        xmd_wf *w = g_ptr_array_index(d->workflows, i);

        if (!strcmp(w->id, id)) {
            journal_kv(w, "domain", NULL, kv);
            break;
        }
    }
    g_mutex_unlock(&wf_list_lock);
}

/* ---- restart: the journals ----------------------------------------------- */

static void resume_one(xmd *d, const char *path)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    xmd_wf *w = NULL;
    gboolean ended = FALSE;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return;
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        char err[128];
        yajl_val v;
        const char *pe[] = { "event", NULL }, *ps[] = { "step", NULL };
        yajl_val ev, st;

        if (!lines[i][0])
            continue;
        v = yajl_tree_parse(lines[i], err, sizeof(err));
        if (!v) {
            /* a torn last line (killed mid-write): the rest is what counts */
            g_warning("%s: line %u unreadable; ignored", path, i + 1);
            continue;
        }
        ev = yajl_tree_get(v, pe, yajl_t_string);
        st = yajl_tree_get(v, ps, yajl_t_string);
        if (ev && !strcmp(ystr(ev), "start") && !w) {
            const char *pt[] = { "type", NULL }, *pd[] = { "domain", NULL },
                       *pu[] = { "substitute", NULL }, *pa[] = { "args", NULL };
            yajl_val t = yajl_tree_get(v, pt, yajl_t_string), dm = yajl_tree_get(v, pd, yajl_t_string),
                     su = yajl_tree_get(v, pu, yajl_t_string), a = yajl_tree_get(v, pa, yajl_t_object);
            g_autofree char *base = g_path_get_basename(path);
            char *dot = strstr(base, ".journal");

            if (t && dm && su && a && dot && steps_of(ystr(t))) {
                /* the arguments as the start record holds them, checked again */
                maint__args args;
                char *why = NULL;

                if (maint__args_parse("workflow-start", a, &args, &why) == MAINT_OK) {
                    *dot = 0;
                    w = wf_new(d, base, ystr(t), ystr(dm), ystr(su), &args);
                } else {
                    g_warning("%s: line %u: %s", path, i + 1, why);
                }
                free(why);
                maint__args_dispose(&args);
            }
        } else if (w && ev && st && (!strcmp(ystr(ev), "begin") || !strcmp(ystr(ev), "done"))) {
            guint k;

            if (!strcmp(ystr(ev), "done"))
                g_hash_table_add(w->done, g_strdup(ystr(st)));
            if (g_ptr_array_find_with_equal_func(w->steps, ystr(st), g_str_equal, &k) &&
                k + 1 > w->reached)
                w->reached = k + 1;
        } else if (w && ev && !strcmp(ystr(ev), "created")) {
            const char *pi[] = { "domid", NULL }, *pu[] = { "uuid", NULL };
            yajl_val di = yajl_tree_get(v, pi, yajl_t_string), u = yajl_tree_get(v, pu, yajl_t_string);
            xmd_sd_created c = { 0 };
            guint64 id;

            if (di && u && g_ascii_string_to_unsigned(ystr(di), 10, 1, 0x7fef, &id, NULL) &&
                g_uuid_string_is_valid(ystr(u))) {
                c.domid = (uint32_t)id;
                g_strlcpy(c.uuid, ystr(u), sizeof(c.uuid));
                g_array_append_val(w->created, c);
            }
        } else if (w && ev && !strcmp(ystr(ev), "rollback")) {
            w->rolling_back = TRUE;
        } else if (w && ev && !strcmp(ystr(ev), "end")) {
            const char *pst[] = { "state", NULL };
            yajl_val s = yajl_tree_get(v, pst, yajl_t_string);
            ended = TRUE;
            w->state = WF_FAILED;
            for (unsigned k = 0; s && k < G_N_ELEMENTS(state_names); k++)
                if (!strcmp(ystr(s), state_names[k]))
                    w->state = (wf_state)k;
        }
        yajl_tree_free(v);
    }
    if (!w) {
        g_warning("%s: no start record; ignored", path);
        return;
    }
    g_ptr_array_add(d->workflows, w);
    if (ended) {
        w->step = g_strdup("");
        w->message = g_strdup("ended before the daemon restarted");
        return;
    }
    g_message("workflow %s: resuming %s of %s after a restart (%u of %u steps done%s)",
              w->id, w->type, w->domain, g_hash_table_size(w->done), w->steps->len,
              w->rolling_back ? ", rolling back" : "");
    journal(w, "resume", NULL, NULL, NULL);
    wf_start_thread(w);
}

void xmd_workflows_init(xmd *d)
{
    g_autofree char *dir = g_build_filename(d->state_dir, "workflows", NULL);
    GDir *dh;
    const char *name;

    d->workflows = g_ptr_array_new_with_free_func(wf_free);
    if (!(dh = g_dir_open(dir, 0, NULL)))
        return;
    g_mutex_lock(&wf_list_lock);
    while ((name = g_dir_read_name(dh))) {
        if (g_str_has_suffix(name, ".journal")) {
            g_autofree char *p = g_build_filename(dir, name, NULL);
            resume_one(d, p);
        }
    }
    g_mutex_unlock(&wf_list_lock);
    g_dir_close(dh);
}

void xmd_workflows_fini(xmd *d)
{
    if (!d->workflows)
        return;
    /* running workflows pause at their next step and resume on restart */
    g_atomic_int_set(&stopping, 1);
    for (guint i = 0; i < d->workflows->len; i++) {
        xmd_wf *w = g_ptr_array_index(d->workflows, i);
        if (wf_active(w))
            g_message("workflow %s: waiting for its current step before exiting", w->id);
    }
    g_ptr_array_free(d->workflows, TRUE);
    d->workflows = NULL;
}
