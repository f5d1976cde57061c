/*
 * Workflows through the typed API: options per kind, start, abort, and the
 * workflow state xmaintd reports, read strictly into opaque objects.  The
 * wire is the request protocol (workflow-start, workflow-abort,
 * workflow-list) and the published state (events.c reads that).
 */
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "internal.h"

static const char *const kind_names[] = {
    [MAINT_WORKFLOW_HW_REMOVE] = "hw-remove",
    [MAINT_WORKFLOW_HW_ADD] = "hw-add",
    [MAINT_WORKFLOW_OS_UPGRADE] = "os-upgrade",
    [MAINT_WORKFLOW_OS_PATCH] = "os-patch",
    [MAINT_WORKFLOW_APP_MAINT] = "app-maint",
    [MAINT_WORKFLOW_RECONFIGURE] = "reconfigure",
};
#define NR_KINDS (sizeof(kind_names) / sizeof(kind_names[0]))

static const char *const state_names[] = {
    [MAINT_WORKFLOW_STATE_UNKNOWN] = "unknown",
    [MAINT_WORKFLOW_STATE_RUNNING] = "running",
    [MAINT_WORKFLOW_STATE_ROLLING_BACK] = "rolling-back",
    [MAINT_WORKFLOW_STATE_DONE] = "done",
    [MAINT_WORKFLOW_STATE_FAILED] = "failed",
    [MAINT_WORKFLOW_STATE_ROLLED_BACK] = "rolled-back",
};
#define NR_STATES (sizeof(state_names) / sizeof(state_names[0]))

MAINT_EXPORT const char *maint_workflow_kind_name(maint_workflow_kind kind)
{
    return kind > MAINT_WORKFLOW_UNKNOWN && (size_t)kind < NR_KINDS ? kind_names[kind] : NULL;
}

MAINT_EXPORT maint_workflow_kind maint_workflow_kind_from_name(const char *name)
{
    for (size_t k = 1; name && k < NR_KINDS; k++)
        if (!strcmp(kind_names[k], name))
            return (maint_workflow_kind)k;
    return MAINT_WORKFLOW_UNKNOWN;
}

MAINT_EXPORT const char *maint_workflow_state_name(maint_workflow_state state)
{
    return (size_t)state < NR_STATES ? state_names[state] : state_names[0];
}

MAINT_EXPORT bool maint_workflow_state_ended(maint_workflow_state state)
{
    return state == MAINT_WORKFLOW_STATE_DONE || state == MAINT_WORKFLOW_STATE_FAILED ||
           state == MAINT_WORKFLOW_STATE_ROLLED_BACK;
}

static maint_workflow_state state_from_name(const char *name)
{
    for (size_t s = 1; name && s < NR_STATES; s++)
        if (!strcmp(state_names[s], name))
            return (maint_workflow_state)s;
    return MAINT_WORKFLOW_STATE_UNKNOWN;
}

/* ---- Options -------------------------------------------------------------- */

struct maint_workflow_opts {
    maint_workflow_kind kind;
    maint__args args;             /* workflow-start's schema */
    char *error;                  /* the last refusal */
};

/* Keys only one kind takes; every other key of the schema suits every kind. */
static const struct { const char *key; maint_workflow_kind kind; } kind_keys[] = {
    { "hide_pci", MAINT_WORKFLOW_HW_REMOVE },
    { "remove", MAINT_WORKFLOW_HW_REMOVE },
    { "add", MAINT_WORKFLOW_HW_ADD },
    { "patch", MAINT_WORKFLOW_OS_PATCH },
    { "change", MAINT_WORKFLOW_APP_MAINT },
};

/* Keep why as opts' last refusal; returns rc. */
static int refuse(maint_workflow_opts *opts, int rc, char *why)
{
    free(opts->error);
    opts->error = why;
    return rc;
}

static int check_kind(maint_workflow_opts *opts, const char *key)
{
    for (size_t i = 0; i < sizeof(kind_keys) / sizeof(kind_keys[0]); i++)
        if (!strcmp(kind_keys[i].key, key) && kind_keys[i].kind != opts->kind)
            return refuse(opts, MAINT_ERROR_INVAL,
                          maint__sprintf("workflow-start: option '%s' belongs to %s, "
                                         "not %s", key, kind_names[kind_keys[i].kind],
                                         kind_names[opts->kind]));
    return MAINT_OK;
}

/* Set (or, for an array, add) key; the schema's and the kind's checks. */
static int opt_put(maint_workflow_opts *opts, const char *key, const char *s,
                   long long i, bool is_int, bool is_item)
{
    char *why = NULL;
    int rc;

    if (!opts)
        return MAINT_ERROR_INVAL;
    if ((rc = check_kind(opts, key)))
        return rc;
    rc = is_int ? maint__args_set_int(&opts->args, key, i, &why)
       : is_item ? maint__args_add_str(&opts->args, key, s, &why)
       : maint__args_set_str(&opts->args, key, s, &why);
    return rc ? refuse(opts, rc, why) : MAINT_OK;
}

MAINT_EXPORT int maint_workflow_opts_new(maint_workflow_opts **opts_r,
                                         maint_workflow_kind kind, const char *domain)
{
    maint_workflow_opts *o;
    char *why = NULL;
    int rc;

    if (!opts_r)
        return MAINT_ERROR_INVAL;
    *opts_r = NULL;
    if (!maint_workflow_kind_name(kind) || !domain)
        return MAINT_ERROR_INVAL;
    if (!(o = calloc(1, sizeof(*o))))
        return MAINT_ERROR_NOMEM;
    o->kind = kind;
    rc = maint__args_new_for("workflow-start", &o->args);
    if (!rc)
        rc = maint__args_set_str(&o->args, "type", kind_names[kind], &why);
    if (!rc)
        rc = maint__args_set_str(&o->args, "domain", domain, &why);
    free(why);
    if (rc) {
        maint_workflow_opts_free(o);
        return rc;
    }
    *opts_r = o;
    return MAINT_OK;
}

MAINT_EXPORT void maint_workflow_opts_free(maint_workflow_opts *opts)
{
    if (!opts)
        return;
    maint__args_dispose(&opts->args);
    free(opts->error);
    free(opts);
}

MAINT_EXPORT const char *maint_workflow_opts_error(const maint_workflow_opts *opts)
{
    return opts ? opts->error : NULL;
}

#define OPT_STR(fn, key) \
    MAINT_EXPORT int maint_workflow_opts_##fn(maint_workflow_opts *opts, const char *v) \
    { return opt_put(opts, key, v, 0, false, false); }
#define OPT_ITEM(fn, key) \
    MAINT_EXPORT int maint_workflow_opts_##fn(maint_workflow_opts *opts, const char *v) \
    { return opt_put(opts, key, v, 0, false, true); }

OPT_STR(set_substitute, "substitute")
OPT_STR(set_kernel, "kernel")
OPT_STR(set_ramdisk, "ramdisk")
OPT_STR(set_cmdline, "cmdline")
OPT_STR(set_firmware, "firmware")
OPT_STR(set_patch, "patch")
OPT_STR(set_change, "change")
OPT_ITEM(add_disk, "disks")
OPT_ITEM(add_set, "sets")
OPT_ITEM(add_remove, "remove")
OPT_ITEM(add_add, "add")

MAINT_EXPORT int maint_workflow_opts_add_hide_pci(maint_workflow_opts *opts, const char *bdf)
{
    maint_hide_spec spec;

    maint_hide_spec_init(&spec);
    if (opts && bdf && opts->kind == MAINT_WORKFLOW_HW_REMOVE &&
        maint_hide_spec_add_pci(&spec, bdf) != MAINT_OK)
        return refuse(opts, MAINT_ERROR_INVAL,
                      maint__sprintf("workflow-start: option 'hide_pci': '%.32s' is not "
                                     "a PCI address BB:DD.F", bdf));
    return opt_put(opts, "hide_pci", bdf, 0, false, true);
}

MAINT_EXPORT int maint_workflow_opts_set_vcpus(maint_workflow_opts *opts, unsigned vcpus)
{
    return opt_put(opts, "vcpus", NULL, vcpus, true, false);
}

MAINT_EXPORT int maint_workflow_opts_set_memory_kb(maint_workflow_opts *opts, uint64_t kb)
{
    /* beyond LLONG_MAX it is out of every range: keep it out, never negative */
    long long v = kb > (uint64_t)LLONG_MAX ? LLONG_MAX : (long long)kb;

    return opt_put(opts, "memory_kb", NULL, v, true, false);
}

MAINT_EXPORT int maint_workflow_opts_set_drain_ms(maint_workflow_opts *opts, unsigned ms)
{
    return opt_put(opts, "drain_ms", NULL, ms, true, false);
}

MAINT_EXPORT int maint_workflow_opts_set_timeout_ms(maint_workflow_opts *opts, unsigned ms)
{
    return opt_put(opts, "timeout_ms", NULL, ms, true, false);
}

/* What a kind cannot start without; NULL when opts have it. */
static char *kind_needs(const maint_workflow_opts *opts)
{
    const maint__args *a = &opts->args;
    const char *k = kind_names[opts->kind];

    switch (opts->kind) {
    case MAINT_WORKFLOW_HW_REMOVE:
        if (maint__args_has(a, "hide_pci") || maint__args_has(a, "remove"))
            return NULL;
        return maint__sprintf("workflow-start: %s needs 'hide_pci' or 'remove'", k);
    case MAINT_WORKFLOW_HW_ADD:
        return maint__args_has(a, "add") ? NULL
             : maint__sprintf("workflow-start: %s needs 'add'", k);
    case MAINT_WORKFLOW_OS_UPGRADE:
        if (maint__args_has(a, "kernel") || maint__args_has(a, "ramdisk") ||
            maint__args_has(a, "cmdline") || maint__args_has(a, "disks"))
            return NULL;
        return maint__sprintf("workflow-start: %s needs 'kernel', 'ramdisk', 'cmdline' "
                              "or 'disks'", k);
    case MAINT_WORKFLOW_OS_PATCH:
        return maint__args_has(a, "patch") ? NULL
             : maint__sprintf("workflow-start: %s needs 'patch'", k);
    case MAINT_WORKFLOW_APP_MAINT:
        return maint__args_has(a, "change") ? NULL
             : maint__sprintf("workflow-start: %s needs 'change'", k);
    case MAINT_WORKFLOW_RECONFIGURE:
        return maint__args_has(a, "sets") ? NULL
             : maint__sprintf("workflow-start: %s needs 'sets'", k);
    default:
        return maint__sprintf("workflow-start: no such kind");
    }
}

/* A string member of a result object, or NULL. */
static const char *result_str(yajl_val obj, const char *key)
{
    const char *path[] = { key, NULL };
    yajl_val v = obj ? yajl_tree_get(obj, path, yajl_t_string) : NULL;

    return v ? v->u.string : NULL;
}

MAINT_EXPORT int maint_workflow_start(maint_ctx *ctx, const maint_workflow_opts *opts,
                                      unsigned timeout_ms, char **id_r, char **error_r)
{
    yajl_val result = NULL;
    const char *id;
    char *why;
    int rc;

    if (id_r)
        *id_r = NULL;
    if (error_r)
        *error_r = NULL;
    if (!ctx || !opts || !id_r)
        return MAINT_ERROR_INVAL;
    if ((why = kind_needs(opts)))
        return maint__refuse_here(ctx, MAINT_ERROR_INVAL, why, error_r);
    rc = maint__call(ctx, "workflow-start", &opts->args, timeout_ms ? timeout_ms : 30000,
                     &result, error_r);
    if (rc)
        return rc;
    id = result_str(result, "id");
    if (!id || !*id) {
        LOG(ctx->lg, ERROR, "workflow-start: the answer carries no id");
        rc = MAINT_ERROR_PROTOCOL;
    } else if (!(*id_r = strdup(id))) {
        rc = MAINT_ERROR_NOMEM;
    }
    yajl_tree_free(result);
    return rc;
}

MAINT_EXPORT int maint_workflow_abort(maint_ctx *ctx, const char *id, unsigned timeout_ms,
                                      char **error_r)
{
    maint__args a;
    yajl_val result = NULL;
    char *why = NULL;
    int rc;

    if (!ctx || !id)
        return MAINT_ERROR_INVAL;
    rc = maint__args_build(&a, "workflow-abort", &why, "s:id", id, NULL);
    rc = maint__call_built(ctx, "workflow-abort", &a, rc, why, timeout_ms, &result, error_r);
    yajl_tree_free(result);
    return rc;
}

/* ---- Workflow state ---------------------------------------------------------- */

struct maint_workflow_info {
    char *id, *type, *domain, *substitute, *state, *step, *message;
    maint_workflow_state st;
    unsigned nr_steps;
    char **step_names;
    bool *step_done;
    char *json;                   /* as xmaintd wrote it */
};

#define WF_FIELD(key, type, req, member) \
    { key, MAINT__J_##type, req, offsetof(struct maint_workflow_info, member) }
static const maint__jfield wf_fields[] = {
    WF_FIELD("id", STR, true, id),
    WF_FIELD("type", STR, true, type),
    WF_FIELD("domain", STR, true, domain),
    WF_FIELD("substitute", STR, false, substitute),
    WF_FIELD("state", STR, true, state),
    WF_FIELD("step", STR, false, step),
    WF_FIELD("message", STR, false, message),
};

struct step_row { char *name; bool done; };
static const maint__jfield step_fields[] = {
    { "name", MAINT__J_STR, true, offsetof(struct step_row, name) },
    { "done", MAINT__J_BOOL, true, offsetof(struct step_row, done) },
};

static int parse_steps(xentoollog_logger *lg, yajl_val obj, maint_workflow_info *w)
{
    const char *path[] = { "steps", NULL };
    yajl_val steps = yajl_tree_get(obj, path, yajl_t_any);
    size_t n;

    if (!steps)
        return MAINT_OK;
    if (!YAJL_IS_ARRAY(steps)) {
        LOG(lg, ERROR, "workflow %s: field 'steps' must be an array", w->id);
        return MAINT_ERROR_PROTOCOL;
    }
    n = steps->u.array.len;
    w->step_names = calloc(n + 1, sizeof(*w->step_names));
    w->step_done = calloc(n + 1, sizeof(*w->step_done));
    if (!w->step_names || !w->step_done)
        return MAINT_ERROR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        struct step_row row = { NULL, false };
        int rc = maint__json_fields(lg, "workflow step", steps->u.array.values[i],
                                    step_fields, 2, &row);
        if (rc) {
            free(row.name);
            return rc;
        }
        w->step_names[w->nr_steps] = row.name;
        w->step_done[w->nr_steps++] = row.done;
    }
    return MAINT_OK;
}

maint_workflow_info *maint__workflow_info_parse(xentoollog_logger *lg, yajl_val obj,
                                                int *rc_r)
{
    maint_workflow_info *w = calloc(1, sizeof(*w));
    int rc = MAINT_ERROR_NOMEM;

    if (!w)
        goto out;
    rc = maint__json_fields(lg, "workflow", obj, wf_fields,
                            sizeof(wf_fields) / sizeof(wf_fields[0]), w);
    if (!rc)
        rc = parse_steps(lg, obj, w);
    if (!rc && (!w->message && !(w->message = strdup(""))))
        rc = MAINT_ERROR_NOMEM;
    if (!rc && !(w->json = maint__json_text(obj)))
        rc = MAINT_ERROR_NOMEM;
    if (!rc)
        w->st = state_from_name(w->state);
out:
    if (rc) {
        maint_workflow_info_free(w);
        w = NULL;
    }
    *rc_r = rc;
    return w;
}

MAINT_EXPORT void maint_workflow_info_free(maint_workflow_info *info)
{
    if (!info)
        return;
    for (unsigned i = 0; info->step_names && i < info->nr_steps; i++)
        free(info->step_names[i]);
    free(info->step_names);
    free(info->step_done);
    free(info->id);
    free(info->type);
    free(info->domain);
    free(info->substitute);
    free(info->state);
    free(info->step);
    free(info->message);
    free(info->json);
    free(info);
}

/* An accessor: maint_workflow_info_NAME returns EXPR of info. */
#define INFO_GET(type, name, expr) \
    MAINT_EXPORT type maint_workflow_info_##name(const maint_workflow_info *info) \
    { return (expr); }

INFO_GET(const char *, id, info->id)
INFO_GET(maint_workflow_kind, kind, maint_workflow_kind_from_name(info->type))
INFO_GET(const char *, kind_name, info->type)
INFO_GET(const char *, domain, info->domain)
INFO_GET(const char *, substitute, info->substitute)
INFO_GET(maint_workflow_state, state, info->st)
INFO_GET(const char *, state_name, info->state)
INFO_GET(const char *, step, info->step)
INFO_GET(const char *, message, info->message)
INFO_GET(unsigned, nr_steps, info->nr_steps)

MAINT_EXPORT const char *maint_workflow_info_step_name(const maint_workflow_info *info,
                                                       unsigned i)
{
    return i < info->nr_steps ? info->step_names[i] : NULL;
}

MAINT_EXPORT bool maint_workflow_info_step_done(const maint_workflow_info *info, unsigned i)
{
    return i < info->nr_steps && info->step_done[i];
}

MAINT_EXPORT int maint_workflow_info_percent(const maint_workflow_info *info)
{
    unsigned done = 0;

    if (!info->nr_steps)
        return -1;
    for (unsigned i = 0; i < info->nr_steps; i++)
        done += info->step_done[i];
    return (int)(done * 100 / info->nr_steps);
}

MAINT_EXPORT char *maint_workflow_info_to_json(const maint_workflow_info *info)
{
    return info && info->json ? strdup(info->json) : NULL;
}

/* ---- List, get -------------------------------------------------------------- */

MAINT_EXPORT void maint_workflow_info_list_free(maint_workflow_info **list, unsigned nr)
{
    for (unsigned i = 0; list && i < nr; i++)
        maint_workflow_info_free(list[i]);
    free(list);
}

static const char *info_json(const void *item)
{
    return ((const maint_workflow_info *)item)->json;
}

MAINT_EXPORT char *maint_workflow_info_list_to_json(maint_workflow_info *const *list,
                                                    unsigned nr)
{
    return maint__json_array_raw((void *const *)list, nr, info_json);
}

static void *info_parse(xentoollog_logger *lg, yajl_val obj, int *rc_r)
{
    return maint__workflow_info_parse(lg, obj, rc_r);
}

static void info_free(void *item)
{
    maint_workflow_info_free(item);
}

MAINT_EXPORT int maint_workflow_list(maint_ctx *ctx, unsigned timeout_ms,
                                     maint_workflow_info ***list_r, unsigned *nr_r)
{
    yajl_val result = NULL;
    int rc;

    if (!ctx || !list_r || !nr_r)
        return MAINT_ERROR_INVAL;
    *list_r = NULL;
    *nr_r = 0;
    rc = maint__call(ctx, "workflow-list", NULL, timeout_ms, &result, NULL);
    if (!rc)
        rc = maint__parse_array(ctx->lg, "workflow-list", result, info_parse, info_free,
                                (void ***)list_r, nr_r);
    yajl_tree_free(result);
    return rc;
}

MAINT_EXPORT int maint_workflow_get(maint_ctx *ctx, const char *id, unsigned timeout_ms,
                                    maint_workflow_info **info_r)
{
    maint_workflow_info **list = NULL;
    unsigned nr = 0;
    int rc;

    if (!info_r || !id)
        return MAINT_ERROR_INVAL;
    *info_r = NULL;
    rc = maint_workflow_list(ctx, timeout_ms, &list, &nr);
    if (rc)
        return rc;
    rc = MAINT_ERROR_NOENT;
    for (unsigned i = 0; i < nr && rc; i++)
        if (!strcmp(list[i]->id, id)) {
            *info_r = list[i];
            list[i] = NULL;
            rc = MAINT_OK;
        }
    maint_workflow_info_list_free(list, nr);
    return rc;
}
