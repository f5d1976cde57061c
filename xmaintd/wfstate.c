/*
 * A workflow's state: made and freed, published under
 * /local/domain/0/xmaint/workflow/ID at every step, and what its steps
 * share (wfsteps.c): lookups, the abort flag, the domains it created.
 */
#define G_LOG_DOMAIN "xmaintd-workflow"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "workflow.h"
#include "schema.h"

const char *const xmd_wf_state_names[4] = { "running", "done", "failed", "rolled-back" };

void xmd_wf_free(gpointer p)
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
    g_hash_table_destroy(w->done);
    g_hash_table_destroy(w->undone);
    g_array_free(w->created, TRUE);
    g_hash_table_destroy(w->began);
    g_hash_table_destroy(w->cmd_seq);
    g_free(w->step);
    g_free(w->message);
    g_mutex_clear(&w->lock);
    g_free(w);
}

xmd_wf *xmd_wf_new(xmd *d, const char *id, const xmd_wf_kind *kind, const char *domain,
                   const char *substitute, maint__args *args)
{
    xmd_wf *w = g_new0(xmd_wf, 1);

    w->d = d;
    w->id = g_strdup(id);
    w->type = g_strdup(kind->name);
    w->kind = kind;
    w->domain = g_strdup(domain);
    w->substitute = g_strdup(substitute);
    w->argv = *args;
    maint__args_init(args);
    w->args = maint__args_to_json(&w->argv);
    if (!w->args)
        g_error("out of memory");
    w->done = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    w->undone = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    w->created = g_array_new(FALSE, TRUE, sizeof(xmd_sd_created));
    w->began = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    w->cmd_seq = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_mutex_init(&w->lock);
    return w;
}

/* ---- publication ---------------------------------------------------------- */

static char *wf_json_locked(xmd_wf *w)
{
    maint__json *j = maint__json_new();

    maint__json_map_open(j);
    maint__json_kv_string(j, "id", w->id);
    xmd_wf_json_names(j, w);
    maint__json_key(j, "state");
    maint__json_string(j, w->rolling_back && w->state == WF_RUNNING ? "rolling-back"
                                                                  : xmd_wf_state_names[w->state]);
    maint__json_kv_string(j, "step", w->step);
    maint__json_kv_string(j, "message", w->message);
    maint__json_key(j, "steps");
    maint__json_array_open(j);
    for (guint i = 0; i < w->kind->nr_steps; i++) {
        const char *s = w->kind->steps[i].name;
        maint__json_map_open(j);
        maint__json_kv_string(j, "name", s);
        maint__json_kv_bool(j, "done", g_hash_table_contains(w->done, s));
        maint__json_map_close(j);
    }
    maint__json_array_close(j);
    maint__json_map_close(j);
    return xmd_json_finish(j);
}

char *xmd_workflow_json(xmd_wf *w)
{
    char *s;

    g_mutex_lock(&w->lock);
    s = wf_json_locked(w);
    g_mutex_unlock(&w->lock);
    return s;
}

void xmd_wf_publish(xmd_wf *w)
{
    g_autofree char *json = xmd_workflow_json(w);
    g_autofree char *path = g_strdup_printf(MAINT_XS_WORKFLOW_FMT, w->id);
    maint_ctx *ctx = w->ctx ? w->ctx : w->d->ctx;

    if (ctx->port.ops->xs_write(ctx->port.priv, MAINT__XS_NO_TXN, path, json,
                                (unsigned)strlen(json)) < 0)
        g_warning("workflow %s: cannot publish %s: %s", w->id, path, g_strerror(errno));
}

void xmd_wf_progress(xmd_wf *w, const char *step, const char *fmt, ...)
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
    xmd_wf_publish(w);
}

/* ---- helpers for the steps ------------------------------------------------ */

gboolean xmd_wf_lookup(xmd_wf *w, const char *name, uint32_t *domid_r)
{
    return maint_domain_lookup(w->ctx, name, domid_r) == MAINT_OK;
}

gboolean xmd_wf_aborted(xmd_wf *w)
{
    return g_atomic_int_get(&w->abort) != 0;
}

unsigned xmd_wf_time_left(xmd_wf *w, const char *step, unsigned timeout_ms,
                          unsigned floor_ms)
{
    const gint64 *began = g_hash_table_lookup(w->began, step);
    gint64 left = timeout_ms;

    if (began)
        left -= g_get_real_time() / 1000 - *began;
    return left < floor_ms ? floor_ms : left > timeout_ms ? timeout_ms : (unsigned)left;
}

const char *xmd_wf_substitute_uuid(xmd_wf *w)
{
    gboolean fresh = FALSE;

    g_mutex_lock(&w->lock);
    if (!w->sub_uuid[0]) {
        g_autofree char *u = g_uuid_string_random();

        g_strlcpy(w->sub_uuid, u, sizeof(w->sub_uuid));
        fresh = TRUE;
    }
    g_mutex_unlock(&w->lock);
    if (fresh) {
        const char *kv[] = { "uuid", w->sub_uuid, "name", w->substitute, NULL };

        xmd_journal_kv(w, "intent", "substitute", kv);
    }
    return w->sub_uuid;
}

gboolean xmd_wf_ours_locked(xmd_wf *w, uint32_t domid, const char *uuid)
{
    return (w->sub_uuid[0] && uuid && !g_ascii_strcasecmp(w->sub_uuid, uuid)) ||
           xmd_sd_ours((xmd_sd_created *)(void *)w->created->data, w->created->len, domid,
                       uuid);
}

void xmd_wf_record_created(xmd_wf *w, const char *step, uint32_t domid)
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

        xmd_journal_kv(w, "created", step, kv);
    }
    /* it may have shut down before this record was there */
    xmd_domain_recheck(w->d, domid);
}

