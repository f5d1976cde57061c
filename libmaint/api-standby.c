/*
 * Hot-standby pairs through the typed API (standby-create, -destroy,
 * -show).  The resource table is read strictly into an opaque object;
 * standby-show's answer and standby-create's (the arbiter's own table)
 * differ in a few fields, which are optional here.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "internal.h"

#define KIB_MIB 1024ull

struct maint_standby_opts {
    uint64_t standby_min_kb, reserve_kb;
    unsigned stall_s;
};

MAINT_EXPORT int maint_standby_opts_new(maint_standby_opts **opts_r)
{
    if (!opts_r)
        return MAINT_ERROR_INVAL;
    *opts_r = calloc(1, sizeof(**opts_r));
    if (!*opts_r)
        return MAINT_ERROR_NOMEM;
    (*opts_r)->standby_min_kb = 64 * KIB_MIB;
    (*opts_r)->reserve_kb = 256 * KIB_MIB;
    (*opts_r)->stall_s = 15;
    return MAINT_OK;
}

MAINT_EXPORT void maint_standby_opts_free(maint_standby_opts *opts)
{
    free(opts);
}

/* Is v within key's bounds in standby-create's schema? */
static bool in_schema(const char *key, uint64_t v)
{
    const maint__op_args_schema *s = maint__op_args_schema_find("standby-create");

    for (unsigned i = 0; s && i < s->nr; i++)
        if (!strcmp(s->keys[i].key, key))
            return v <= (uint64_t)s->keys[i].max && (long long)v >= s->keys[i].min;
    return false;
}

#define OPT_SET(member, type) \
    MAINT_EXPORT int maint_standby_opts_set_##member(maint_standby_opts *opts, type v) \
    { \
        if (!opts || !in_schema(#member, v)) \
            return MAINT_ERROR_INVAL; \
        opts->member = v; \
        return MAINT_OK; \
    }

OPT_SET(standby_min_kb, uint64_t)
OPT_SET(reserve_kb, uint64_t)
OPT_SET(stall_s, unsigned)

/* ---- The table ---------------------------------------------------------------- */

struct pair {
    uint64_t active, standby, active_target_kb, standby_target_kb, standby_min_kb;
    char *active_name, *standby_name;
    bool failed_over;
};

struct area {
    char *name, *owner_name;
    uint64_t kb, owner, failover;
};

struct maint_standby_table {
    uint64_t free_kb, reserve_kb;
    struct pair *pairs;
    unsigned nr_pairs;
    struct area *areas;
    unsigned nr_areas;
    char *json;                   /* as xmaintd answered */
};

#define F(st, key, type, req, member) \
    { key, MAINT__J_##type, req, offsetof(struct st, member) }
static const maint__jfield table_fields[] = {
    F(maint_standby_table, "free_kb", UINT, true, free_kb),
    F(maint_standby_table, "reserve_kb", UINT, true, reserve_kb),
};
static const maint__jfield pair_fields[] = {
    F(pair, "active", UINT, true, active),
    F(pair, "active_name", STR, false, active_name),
    F(pair, "standby", UINT, true, standby),
    F(pair, "standby_name", STR, false, standby_name),
    F(pair, "active_target_kb", UINT, true, active_target_kb),
    F(pair, "standby_target_kb", UINT, true, standby_target_kb),
    F(pair, "standby_min_kb", UINT, true, standby_min_kb),
    F(pair, "failed_over", BOOL, true, failed_over),
};
static const maint__jfield area_fields[] = {
    F(area, "name", STR, true, name),
    F(area, "kb", UINT, true, kb),
    F(area, "owner", UINT, true, owner),
    F(area, "owner_name", STR, false, owner_name),
    F(area, "failover", UINT, true, failover),
};
#define NR(t) (unsigned)(sizeof(t) / sizeof(t[0]))

MAINT_EXPORT void maint_standby_table_free(maint_standby_table *t)
{
    if (!t)
        return;
    for (unsigned i = 0; t->pairs && i < t->nr_pairs; i++) {
        free(t->pairs[i].active_name);
        free(t->pairs[i].standby_name);
    }
    for (unsigned i = 0; t->areas && i < t->nr_areas; i++) {
        free(t->areas[i].name);
        free(t->areas[i].owner_name);
    }
    free(t->pairs);
    free(t->areas);
    free(t->json);
    free(t);
}

/* The array at key, each element read with fields into rows of size bytes;
 * *nr_r counts the rows filled (they hold what must be freed). */
static int parse_rows(xentoollog_logger *lg, yajl_val obj, const char *key,
                      const maint__jfield *fields, unsigned nf, size_t size,
                      void **rows_r, unsigned *nr_r)
{
    const char *path[] = { key, NULL };
    yajl_val arr = yajl_tree_get(obj, path, yajl_t_any);
    char *rows;
    int rc = MAINT_OK;

    if (!arr || !YAJL_IS_ARRAY(arr)) {
        LOG(lg, ERROR, "standby table: field '%s' must be an array", key);
        return MAINT_ERROR_PROTOCOL;
    }
    if (!(rows = calloc(arr->u.array.len + 1, size)))
        return MAINT_ERROR_NOMEM;
    *rows_r = rows;
    for (size_t i = 0; i < arr->u.array.len && !rc; i++) {
        rc = maint__json_fields(lg, key, arr->u.array.values[i], fields, nf, rows + i * size);
        (*nr_r)++;                /* even half-filled: its strings are freed */
    }
    return rc;
}

static maint_standby_table *table_parse(xentoollog_logger *lg, yajl_val obj, int *rc_r)
{
    maint_standby_table *t = calloc(1, sizeof(*t));
    int rc = MAINT_ERROR_NOMEM;

    if (!t)
        goto out;
    rc = maint__json_fields(lg, "standby table", obj, table_fields, NR(table_fields), t);
    if (!rc)
        rc = parse_rows(lg, obj, "pairs", pair_fields, NR(pair_fields), sizeof(struct pair),
                        (void **)&t->pairs, &t->nr_pairs);
    if (!rc)
        rc = parse_rows(lg, obj, "areas", area_fields, NR(area_fields), sizeof(struct area),
                        (void **)&t->areas, &t->nr_areas);
    if (!rc && !(t->json = maint__json_text(obj)))
        rc = MAINT_ERROR_NOMEM;
out:
    if (rc) {
        maint_standby_table_free(t);
        t = NULL;
    }
    *rc_r = rc;
    return t;
}

MAINT_EXPORT uint64_t maint_standby_table_free_kb(const maint_standby_table *t) { return t->free_kb; }
MAINT_EXPORT uint64_t maint_standby_table_reserve_kb(const maint_standby_table *t) { return t->reserve_kb; }
MAINT_EXPORT unsigned maint_standby_table_nr_pairs(const maint_standby_table *t) { return t->nr_pairs; }
MAINT_EXPORT unsigned maint_standby_table_nr_areas(const maint_standby_table *t) { return t->nr_areas; }

/* Pair or area i of t, or a zeroed row past the end. */
static const struct pair *pair_at(const maint_standby_table *t, unsigned i)
{
    static const struct pair none;
    return i < t->nr_pairs ? &t->pairs[i] : &none;
}

static const struct area *area_at(const maint_standby_table *t, unsigned i)
{
    static const struct area none;
    return i < t->nr_areas ? &t->areas[i] : &none;
}

#define PAIR_GET(ret, fn, expr) \
    MAINT_EXPORT ret maint_standby_pair_##fn(const maint_standby_table *t, unsigned i) \
    { const struct pair *p = pair_at(t, i); return (ret)(expr); }
#define AREA_GET(ret, fn, expr) \
    MAINT_EXPORT ret maint_standby_area_##fn(const maint_standby_table *t, unsigned i) \
    { const struct area *a = area_at(t, i); return (ret)(expr); }

PAIR_GET(uint32_t, active, p->active)
PAIR_GET(const char *, active_name, p->active_name)
PAIR_GET(uint32_t, standby, p->standby)
PAIR_GET(const char *, standby_name, p->standby_name)
PAIR_GET(uint64_t, active_target_kb, p->active_target_kb)
PAIR_GET(uint64_t, standby_target_kb, p->standby_target_kb)
PAIR_GET(uint64_t, standby_min_kb, p->standby_min_kb)
PAIR_GET(bool, failed_over, p->failed_over)
AREA_GET(const char *, name, a->name)
AREA_GET(uint64_t, kb, a->kb)
AREA_GET(uint32_t, owner, a->owner)
AREA_GET(const char *, owner_name, a->owner_name)
AREA_GET(uint32_t, failover, a->failover)

MAINT_EXPORT char *maint_standby_table_to_json(const maint_standby_table *t)
{
    return t && t->json ? strdup(t->json) : NULL;
}

/* ---- Calls -------------------------------------------------------------------- */

/* The table of an answer (result of a call that returned rc) into *table_r,
 * if table_r.  Frees result. */
static int table_of(maint_ctx *ctx, int rc, yajl_val result, maint_standby_table **table_r)
{
    if (!rc && table_r)
        *table_r = table_parse(ctx->lg, result, &rc);
    yajl_tree_free(result);
    return rc;
}

MAINT_EXPORT int maint_standby_create(maint_ctx *ctx, const char *active,
                                      const char *standby, const maint_standby_opts *opts,
                                      unsigned timeout_ms, maint_standby_table **table_r,
                                      char **error_r)
{
    maint_standby_opts dflt = { 64 * KIB_MIB, 256 * KIB_MIB, 15 };
    yajl_val result = NULL;
    maint__args a;
    char *why = NULL;
    int rc;

    if (table_r)
        *table_r = NULL;
    if (!ctx)
        return MAINT_ERROR_INVAL;
    if (!opts)
        opts = &dflt;
    rc = maint__args_build(&a, "standby-create", &why, "s:active", active,
                           "s:standby", standby,
                           "i:standby_min_kb", (long long)opts->standby_min_kb,
                           "i:reserve_kb", (long long)opts->reserve_kb,
                           "i:stall_s", (long long)opts->stall_s, NULL);
    rc = maint__call_built(ctx, "standby-create", &a, rc, why,
                           timeout_ms ? timeout_ms : 20000, &result, error_r);
    return table_of(ctx, rc, result, table_r);
}

MAINT_EXPORT int maint_standby_destroy(maint_ctx *ctx, const char *active,
                                       unsigned timeout_ms, char **error_r)
{
    yajl_val result = NULL;
    maint__args a;
    char *why = NULL;
    int rc;

    if (!ctx)
        return MAINT_ERROR_INVAL;
    rc = maint__args_build(&a, "standby-destroy", &why, "s:active", active, NULL);
    rc = maint__call_built(ctx, "standby-destroy", &a, rc, why,
                           timeout_ms ? timeout_ms : 20000, &result, error_r);
    return table_of(ctx, rc, result, NULL);
}

MAINT_EXPORT int maint_standby_show(maint_ctx *ctx, unsigned timeout_ms,
                                    maint_standby_table **table_r)
{
    yajl_val result = NULL;
    int rc;

    if (!ctx || !table_r)
        return MAINT_ERROR_INVAL;
    rc = maint__call(ctx, "standby-show", NULL, timeout_ms ? timeout_ms : 20000, &result,
                     NULL);
    return table_of(ctx, rc, result, table_r);
}
