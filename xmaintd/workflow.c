/*
 * Maintenance workflows: each a state machine run by a worker thread over
 * its kind's table of steps (wfsteps.c), every step journalled durably
 * (journal.c) before and after it runs.  A daemon that dies mid-step finds
 * the journal on restart and runs the step again (steps are idempotent) or
 * finishes a rollback it had begun.  A rollback takes back what the failed
 * step left behind (its cleanup), then undoes the finished steps, newest
 * first, each once; a step that never ran is never undone.
 *
 * Fault injection for tests: XMAINT_FAULT=STEP (or STEP:after) makes the
 * daemon kill itself with SIGKILL when the step begins (or is done).
 */
#define G_LOG_DOMAIN "xmaintd-workflow"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workflow.h"
#include "schema.h"

static GMutex wf_list_lock;
static gint stopping;          /* the daemon is exiting: pause at the next step */

static gboolean is_done(xmd_wf *w, const char *step)
{
    gboolean done;

    g_mutex_lock(&w->lock);
    done = g_hash_table_contains(w->done, step);
    g_mutex_unlock(&w->lock);
    return done;
}

/* Past the point of no return: the applications are in the substitute. */
static gboolean past_return_locked(xmd_wf *w)
{
    return g_hash_table_contains(w->done, w->kind->point_of_no_return);
}

/* ---- the worker ----------------------------------------------------------- */

static void finish(xmd_wf *w, xmd_wf_state st, const char *msg)
{
    g_mutex_lock(&w->lock);
    w->state = st;
    g_mutex_unlock(&w->lock);
    xmd_journal(w, "end", NULL, "state", xmd_wf_state_names[st]);
    xmd_wf_progress(w, NULL, "%s", msg);
    /* last: from now on the retention may forget it (its node and journal
     * written for the last time above) */
    g_mutex_lock(&w->lock);
    w->ended_ms = g_get_real_time() / 1000;
    g_mutex_unlock(&w->lock);
}

/* Run the steps not done yet.  TRUE: all done, or paused (*paused_r). */
static gboolean run_steps(xmd_wf *w, gboolean *paused_r, GError **error)
{
    *paused_r = FALSE;
    for (guint i = 0; i < w->kind->nr_steps; i++) {
        const xmd_wf_step *s = &w->kind->steps[i];

        if (is_done(w, s->name))
            continue;
        if (g_atomic_int_get(&stopping)) {
            xmd_wf_progress(w, s->name, "paused: xmaintd is stopping; resumes when it starts");
            *paused_r = TRUE;
            return TRUE;
        }
        /* an abort is refused once the applications moved (see
         * xmd_workflow_abort); one that came during that step is too late */
        if (xmd_wf_aborted(w) && !is_done(w, w->kind->point_of_no_return)) {
            g_set_error(error, XMD_ERROR, 1, "aborted by the administrator");
            return FALSE;
        }
        xmd_journal(w, "begin", s->name, NULL, NULL);
        xmd_journal_began(w, s->name, g_get_real_time() / 1000);
        xmd_wf_progress(w, s->name, "started");
        xmd_fault_point(s->name, FALSE);
        if (!s->run(w, error)) {
            const char *why = *error ? (*error)->message : "failed";

            if (!*error)
                g_set_error(error, XMD_ERROR, 1, "%s failed", s->name);
            xmd_journal(w, "fail", s->name, "error", why);
            xmd_wf_progress(w, s->name, "failed: %s", why);
            w->failed_step = s->name;
            return FALSE;
        }
        g_mutex_lock(&w->lock);     /* readers: the JSON, abort, xmd_workflow_created */
        g_hash_table_add(w->done, g_strdup(s->name));
        g_mutex_unlock(&w->lock);
        xmd_journal(w, "done", s->name, NULL, NULL);
        xmd_wf_progress(w, s->name, "done");
        xmd_fault_point(s->name, TRUE);
    }
    return TRUE;
}

/* Take step s back with fn (its undo, or the cleanup of its failed run),
 * once: journalled "undone"; a failure ends the workflow failed. */
static gboolean take_back(xmd_wf *w, const xmd_wf_step *s,
                          gboolean (*fn)(xmd_wf *w, GError **error), const char *what)
{
    g_autoptr(GError) uerr = NULL;

    if (g_hash_table_contains(w->undone, s->name))
        return TRUE;
    xmd_wf_progress(w, s->name, "%s", what);
    if (fn && !fn(w, &uerr)) {
        xmd_journal(w, "undo-failed", s->name, "error", uerr ? uerr->message : "failed");
        finish(w, WF_FAILED, uerr ? uerr->message : "rollback failed");
        return FALSE;
    }
    g_hash_table_add(w->undone, g_strdup(s->name));
    xmd_journal(w, "undone", s->name, NULL, NULL);
    return TRUE;
}

/* The rollback: what the failed step left behind (its cleanup), then the
 * finished steps, newest first, each once (a rollback resumed after a
 * restart skips what it took back before). */
static void roll_back(xmd_wf *w, const char *reason)
{
    for (guint i = w->kind->nr_steps; i-- > 0;) {
        const xmd_wf_step *s = &w->kind->steps[i];

        if (w->failed_step && !strcmp(s->name, w->failed_step) && s->cleanup &&
            !take_back(w, s, s->cleanup, "cleaning up after it"))
            return;
        if (is_done(w, s->name) && !take_back(w, s, s->undo, "undoing"))
            return;
    }
    finish(w, WF_ROLLED_BACK, reason ? reason : "rolled back");
}

static gpointer worker(gpointer data)
{
    xmd_wf *w = data;
    g_autoptr(GError) error = NULL;
    gboolean paused, past;
    int rc;

    rc = (w->d->ctx_open ? w->d->ctx_open : maint_ctx_open)(&w->ctx, w->d->xtl, 0);
    if (rc != MAINT_OK) {
        g_warning("workflow %s: cannot open a library context: %s", w->id, maint_strerror(rc));
        finish(w, WF_FAILED, "no library context");
        return NULL;
    }
    if (w->d->pci_hole_shim)            /* checked at start-up (main.c) */
        maint_ctx_set_path(w->ctx, MAINT_PATH_PCI_HOLE_SHIM, w->d->pci_hole_shim);
    if (!w->rolling_back) {
        if (run_steps(w, &paused, &error)) {
            if (!paused)
                finish(w, WF_DONE, "finished");
            goto out;
        }
        g_mutex_lock(&w->lock);
        /* once the original is being retired there is no way back */
        past = past_return_locked(w);
        w->rolling_back = !past;
        g_mutex_unlock(&w->lock);
        if (past) {
            finish(w, WF_FAILED, error->message);
            goto out;
        }
        xmd_journal(w, "rollback", NULL, "reason", error->message);
    }
    roll_back(w, error ? error->message : NULL);
out:
    maint_ctx_close(w->ctx);
    w->ctx = NULL;
    return NULL;
}

/* ---- the list ------------------------------------------------------------- */

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

/* Under wf_list_lock: "STAMP-TYPE-DOMID", with "-N" after it when a
 * workflow of that kind on that domain started in the same second (its id,
 * its journal, are taken). */
static char *new_id(xmd *d, const char *type, uint32_t domid)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *stamp = g_date_time_format(now, "%Y%m%d-%H%M%S");
    char *id = g_strdup_printf("%s-%s-%u", stamp, type, domid);

    for (unsigned n = 2;; n++) {
        g_autofree char *journal = xmd_journal_path(d, id);
        gboolean taken = g_file_test(journal, G_FILE_TEST_EXISTS);

        for (guint i = 0; i < d->workflows->len && !taken; i++)
            taken = !strcmp(((xmd_wf *)g_ptr_array_index(d->workflows, i))->id, id);
        if (!taken)
            return id;
        g_free(id);
        id = g_strdup_printf("%s-%s-%u-%u", stamp, type, domid, n);
    }
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

    if (!xmd_wf_kind_find(type)) {
        g_set_error(error, XMD_ERROR, 1, "\"type\" is not one of hw-remove, "
                    "hw-add, os-upgrade, os-patch, app-maint, reconfigure");
        goto out;
    }
    if (!dom || !dom[0]) {
        g_set_error(error, XMD_ERROR, 1, "\"domain\" names no domain");
        goto out;
    }
    if (!d->hv) {
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
            id = new_id(d, type, domid);
        }
        w = xmd_wf_new(d, id, xmd_wf_kind_find(type), info.name, subname, args);
        maint_domain_info_dispose(&info);
        g_ptr_array_add(d->workflows, w);
        xmd_journal(w, "start", NULL, NULL, NULL);
        xmd_wf_publish(w);
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
        /* decided and set under the lock the worker marks steps done and
         * decides on a rollback under: no step can finish in between */
        g_mutex_lock(&w->lock);
        active = w->state == WF_RUNNING;
        moved = past_return_locked(w);
        if (active && !moved)
            g_atomic_int_set(&w->abort, 1);
        g_mutex_unlock(&w->lock);
        if (!active) {
            g_set_error(error, XMD_ERROR, 1, "workflow %s has ended", id);
        } else if (moved) {
            g_set_error(error, XMD_ERROR, 1, "workflow %s has moved the applications: "
                        "only retiring the original is left", id);
        } else {
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
        found = xmd_wf_ours_locked(w, domid, uuid);
        /* before "move" the applications are still at home: the domain can
         * go (the workflow rolls back); after it, it holds them */
        if (found && disposable_r)
            *disposable_r = w->state == WF_RUNNING && !past_return_locked(w);
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
            xmd_journal_kv(w, "domain", NULL, kv);
            break;
        }
    }
    g_mutex_unlock(&wf_list_lock);
}

/* ---- retention ------------------------------------------------------------ */

/* workflow-list keeps at most so many ended workflows, the newest */
#define KEEP_ENDED 64

/* When it ended (wall-clock ms), 0 while it runs. */
static gint64 ended_at(xmd_wf *w)
{
    gint64 t;

    g_mutex_lock(&w->lock);
    t = w->ended_ms;
    g_mutex_unlock(&w->lock);
    return t;
}

static gint newest_first(gconstpointer a, gconstpointer b)
{
    gint64 ta = ended_at(*(xmd_wf *const *)a), tb = ended_at(*(xmd_wf *const *)b);

    return ta < tb ? 1 : ta > tb ? -1 : 0;
}

/* Its published node and its files go. */
static void forget(xmd *d, xmd_wf *w, gint64 now_ms)
{
    g_autofree char *path = g_strdup_printf(MAINT_XS_WORKFLOW_FMT, w->id);
    maint__port *port = &d->ctx->port;

    if (port->ops->xs_rm(port->priv, MAINT__XS_NO_TXN, path) < 0 && errno != ENOENT)
        g_warning("workflow %s: cannot remove %s: %s", w->id, path, g_strerror(errno));
    xmd_journal_remove(d, w->id);
    g_message("workflow %s: ended %lld s ago; its journal and %s removed", w->id,
              (long long)(now_ms - ended_at(w)) / 1000, path);
}

void xmd_workflows_prune(xmd *d)
{
    gint64 now = g_get_real_time() / 1000, keep_ms = d->wf_retention_s * 1000;
    g_autoptr(GPtrArray) ended = g_ptr_array_new();
    g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func(xmd_wf_free);

    g_mutex_lock(&wf_list_lock);
    for (guint i = 0; d->workflows && i < d->workflows->len; i++)
        if (ended_at(g_ptr_array_index(d->workflows, i)))
            g_ptr_array_add(ended, g_ptr_array_index(d->workflows, i));
    g_ptr_array_sort(ended, newest_first);
    for (guint i = 0; i < ended->len; i++) {
        xmd_wf *w = g_ptr_array_index(ended, i);
        guint k;

        if ((i >= KEEP_ENDED || now - ended_at(w) >= keep_ms) &&
            g_ptr_array_find(d->workflows, w, &k))
            g_ptr_array_add(gone, g_ptr_array_steal_index(d->workflows, k));
    }
    g_mutex_unlock(&wf_list_lock);
    /* out of the list: nobody else finds them now */
    for (guint i = 0; i < gone->len; i++)
        forget(d, g_ptr_array_index(gone, i), now);
}

static gboolean prune_tick(gpointer data)
{
    xmd_workflows_prune(data);
    return G_SOURCE_CONTINUE;
}

/* Published nodes of workflows xmaintd no longer has (their journals went
 * while it was down, or before it removed the node). */
static void remove_orphans(xmd *d)
{
    maint__port *port = &d->ctx->port;
    char **names = NULL;
    unsigned nr = 0;

    if (port->ops->xs_directory(port->priv, MAINT__XS_NO_TXN, MAINT_XS_WORKFLOWS,
                                &names, &nr) < 0)
        return;
    for (unsigned i = 0; i < nr; i++) {
        gboolean known = FALSE;

        for (guint k = 0; k < d->workflows->len && !known; k++)
            known = !strcmp(((xmd_wf *)g_ptr_array_index(d->workflows, k))->id, names[i]);
        if (!known) {
            g_autofree char *path = g_strdup_printf(MAINT_XS_WORKFLOW_FMT, names[i]);

            port->ops->xs_rm(port->priv, MAINT__XS_NO_TXN, path);
            g_message("%s: no such workflow (any more); removed", path);
        }
    }
    free(names);
}

/* ---- restart: the journals ----------------------------------------------- */

static xmd_wf *from_journal(xmd *d, const char *id, const char *type, const char *domain,
                            const char *substitute, maint__args *args)
{
    const xmd_wf_kind *kind = xmd_wf_kind_find(type);

    return kind ? xmd_wf_new(d, id, kind, domain, substitute, args) : NULL;
}

static void resume_one(xmd *d, const char *path)
{
    xmd_wf *w = xmd_journal_replay(d, path, from_journal);

    if (!w)
        return;
    g_ptr_array_add(d->workflows, w);
    if (w->state != WF_RUNNING) {
        w->step = g_strdup("");
        w->message = g_strdup("ended before the daemon restarted");
        return;
    }
    g_message("workflow %s: resuming %s of %s after a restart (%u of %u steps done%s)",
              w->id, w->type, w->domain, g_hash_table_size(w->done), w->kind->nr_steps,
              w->rolling_back ? ", rolling back" : "");
    xmd_journal(w, "resume", NULL, NULL, NULL);
    wf_start_thread(w);
}

static void load_journals(xmd *d)
{
    g_autofree char *dir = g_build_filename(d->state_dir, "workflows", NULL);
    GDir *dh;
    const char *name;

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

/* Ended workflows are kept d->wf_retention_s, checked a few times a
 * retention (at least every 10 minutes). */
static void retention_start(xmd *d)
{
    xmd_workflows_prune(d);
    g_mutex_lock(&wf_list_lock);
    remove_orphans(d);
    g_mutex_unlock(&wf_list_lock);
    d->wf_prune_timer = g_timeout_add_seconds((guint)CLAMP(d->wf_retention_s / 4, 1, 600),
                                              prune_tick, d);
}

void xmd_workflows_init(xmd *d)
{
    d->workflows = g_ptr_array_new_with_free_func(xmd_wf_free);
    g_atomic_int_set(&stopping, 0);
    load_journals(d);
    retention_start(d);
}

void xmd_workflows_fini(xmd *d)
{
    if (d->wf_prune_timer)
        g_source_remove(d->wf_prune_timer);
    d->wf_prune_timer = 0;
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
