/*
 * The hot-standby memory arbiter (arbiter.h): pure bookkeeping.
 *
 * Rules:
 *  - a grant comes from free memory above the reserve, never beyond the
 *    domain's static maximum, and only for the active of a pair;
 *  - a pair's protected areas together never exceed the reserve, so a
 *    failover can always grow the standby at once, before the failed
 *    active's memory has come back;
 *  - the standby also never exceeds its static maximum when it takes them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "arbiter.h"
#include "internal.h"

#define FAIL(msg) do { *why_r = (msg); return -1; } while (0)

void arb_init(arb *a, uint64_t free_kb, uint64_t reserve_kb)
{
    memset(a, 0, sizeof(*a));
    a->free_kb = free_kb;
    a->reserve_kb = reserve_kb;
}

arb_pair *arb_pair_of(arb *a, uint32_t domid)
{
    for (unsigned i = 0; i < a->nr_pairs; i++)
        if (a->pairs[i].active == domid || a->pairs[i].standby == domid)
            return &a->pairs[i];
    return NULL;
}

arb_area *arb_area_find(arb *a, const char *name)
{
    for (unsigned i = 0; i < a->nr_areas; i++)
        if (!strcmp(a->areas[i].name, name))
            return &a->areas[i];
    return NULL;
}

static bool name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (!n || n > ARB_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

static uint64_t protected_kb(const arb *a, const arb_pair *p)
{
    uint64_t sum = 0;

    for (unsigned i = 0; i < a->nr_areas; i++)
        if (a->areas[i].owner == p->active || a->areas[i].owner == p->standby)
            sum += a->areas[i].kb;
    return sum;
}

int arb_pair_add(arb *a, uint32_t active, uint64_t active_target_kb, uint64_t active_max_kb,
                 uint32_t standby, uint64_t standby_target_kb, uint64_t standby_max_kb,
                 uint64_t standby_min_kb, const char **why_r)
{
    arb_pair *p;

    if (!active || !standby || active == standby)
        FAIL("a pair is two different guests");
    if (arb_pair_of(a, active) || arb_pair_of(a, standby))
        FAIL("a domain is already in a pair");
    if (a->nr_pairs == ARB_MAX_PAIRS)
        FAIL("too many pairs");
    if (active_target_kb > active_max_kb || standby_target_kb > standby_max_kb ||
        active_max_kb > ARB_MAX_KB || standby_max_kb > ARB_MAX_KB)
        FAIL("a target above its static maximum");
    if (!standby_min_kb || standby_min_kb > standby_target_kb)
        FAIL("the standby's minimum must be between 1 KiB and its current target");
    p = &a->pairs[a->nr_pairs++];
    memset(p, 0, sizeof(*p));
    p->active = active;
    p->standby = standby;
    p->active_target_kb = active_target_kb;
    p->active_max_kb = active_max_kb;
    p->standby_max_kb = standby_max_kb;
    p->standby_min_kb = standby_min_kb;
    /* the standby goes down to its minimum: the difference is the host's */
    p->standby_target_kb = standby_min_kb;
    a->free_kb += standby_target_kb - standby_min_kb;
    return 0;
}

int arb_pair_remove(arb *a, uint32_t active, const char **why_r)
{
    arb_pair *p = arb_pair_of(a, active);
    unsigned idx;

    if (!p || p->active != active)
        FAIL("no pair with that active");
    /* the domains keep their memory; their areas are simply no longer
     * protected (after a failover they are the standby's) */
    for (unsigned i = 0; i < a->nr_areas;) {
        if (a->areas[i].owner == p->active || a->areas[i].owner == p->standby) {
            memmove(&a->areas[i], &a->areas[i + 1], (a->nr_areas - i - 1) * sizeof(a->areas[0]));
            a->nr_areas--;
        } else {
            i++;
        }
    }
    idx = (unsigned)(p - a->pairs);
    memmove(&a->pairs[idx], &a->pairs[idx + 1], (a->nr_pairs - idx - 1) * sizeof(*p));
    a->nr_pairs--;
    return 0;
}

int arb_request(arb *a, uint32_t domid, const char *app, uint64_t kb, const char **why_r)
{
    arb_pair *p = arb_pair_of(a, domid);
    arb_area *ar;

    if (!name_ok(app))
        FAIL("the application name is 1-32 letters, digits, - or _");
    if (kb == 0 || kb > ARB_MAX_KB)
        FAIL("the size is zero or absurd");
    if (!p || p->failed_over || p->active != domid)
        FAIL("only the active of a pair asks for protected memory (others use their own)");
    if (arb_area_find(a, app))
        FAIL("that application already holds an area");
    if (a->nr_areas == ARB_MAX_AREAS)
        FAIL("the resource table is full");
    if (p->active_target_kb + kb > p->active_max_kb)
        FAIL("more than the domain's static maximum");
    if (a->free_kb < a->reserve_kb || kb > a->free_kb - a->reserve_kb)
        FAIL("the host has not that much free memory (beyond the failover reserve)");
    if (protected_kb(a, p) + kb > a->reserve_kb)
        FAIL("the failover reserve could not cover this pair's protected memory");
    if (p->standby_target_kb + protected_kb(a, p) + kb > p->standby_max_kb)
        FAIL("the standby could not take it over (its static maximum)");
    ar = &a->areas[a->nr_areas++];
    memset(ar, 0, sizeof(*ar));
    snprintf(ar->name, sizeof(ar->name), "%s", app);
    ar->kb = kb;
    ar->owner = domid;
    ar->failover = p->standby;
    a->free_kb -= kb;
    p->active_target_kb += kb;
    return 0;
}

static void area_remove(arb *a, arb_area *ar)
{
    unsigned idx = (unsigned)(ar - a->areas);

    memmove(&a->areas[idx], &a->areas[idx + 1], (a->nr_areas - idx - 1) * sizeof(*ar));
    a->nr_areas--;
}

int arb_release(arb *a, uint32_t domid, const char *app, const char **why_r)
{
    arb_area *ar = name_ok(app) ? arb_area_find(a, app) : NULL;
    arb_pair *p;

    if (!ar || ar->owner != domid)
        FAIL("that domain holds no such area");
    p = arb_pair_of(a, domid);
    if (!p)
        FAIL("the area's owner is in no pair");
    if (p->active == domid && !p->failed_over)
        p->active_target_kb -= ar->kb;
    else
        p->standby_target_kb -= ar->kb;
    a->free_kb += ar->kb;
    area_remove(a, ar);
    return 0;
}

int arb_fail_os(arb *a, uint32_t active, const char **why_r)
{
    arb_pair *p = arb_pair_of(a, active);
    uint64_t moving;

    if (!p || p->active != active || p->failed_over)
        FAIL("not the active of a pair");
    moving = 0;
    for (unsigned i = 0; i < a->nr_areas; i++)
        if (a->areas[i].owner == active)
            moving += a->areas[i].kb;
    /* the reserve covers it (arb_request made sure) */
    if (moving > a->free_kb)
        FAIL("internal: the reserve does not cover the failover");
    a->free_kb -= moving;
    p->standby_target_kb += moving;
    for (unsigned i = 0; i < a->nr_areas; i++) {
        if (a->areas[i].owner == active) {
            a->areas[i].owner = p->standby;
            a->areas[i].failover = 0;
        }
    }
    /* then the failed active's memory comes back */
    a->free_kb += p->active_target_kb;
    p->active_target_kb = 0;
    p->failed_over = true;
    return 0;
}

int arb_fail_app(arb *a, uint32_t domid, const char *app, arb_level level, const char **why_r)
{
    arb_area *ar = name_ok(app) ? arb_area_find(a, app) : NULL;
    arb_pair *p = arb_pair_of(a, domid);

    if (!ar || ar->owner != domid || !p)
        FAIL("that domain holds no such area");
    if (level == ARB_MINOR)
        return 0;                       /* restarted in place */
    if (p->active != domid || p->failed_over)
        FAIL("the application already runs on the standby");
    if (p->standby_target_kb + ar->kb > p->standby_max_kb)
        FAIL("internal: the standby cannot take the area");
    p->active_target_kb -= ar->kb;
    p->standby_target_kb += ar->kb;
    ar->owner = p->standby;
    ar->failover = 0;
    return 0;
}

int arb_check(const arb *a, uint64_t host_kb, const char **why_r)
{
    uint64_t sum = a->free_kb;

    for (unsigned i = 0; i < a->nr_pairs; i++) {
        const arb_pair *p = &a->pairs[i];
        uint64_t own_a = 0, own_s = 0;

        if (p->active_target_kb > p->active_max_kb || p->standby_target_kb > p->standby_max_kb)
            FAIL("a target exceeds its static maximum");
        if (p->standby_target_kb < p->standby_min_kb && !p->failed_over)
            FAIL("a standby below its minimum");
        for (unsigned j = 0; j < a->nr_areas; j++) {
            if (a->areas[j].owner == p->active)
                own_a += a->areas[j].kb;
            if (a->areas[j].owner == p->standby)
                own_s += a->areas[j].kb;
        }
        if (own_a > p->active_target_kb || own_s > p->standby_target_kb)
            FAIL("a domain holds areas larger than its target");
        if (p->failed_over && own_a)
            FAIL("a failed active still owns areas");
        sum += p->active_target_kb + p->standby_target_kb;
    }
    if (sum != host_kb)
        FAIL("memory was created or lost (free + targets != host)");
    for (unsigned i = 0; i < a->nr_areas; i++) {
        if (!arb_pair_of((arb *)a, a->areas[i].owner))
            FAIL("an area's owner is in no pair");
        for (unsigned j = i + 1; j < a->nr_areas; j++)
            if (!strcmp(a->areas[i].name, a->areas[j].name))
                FAIL("an area has two rows (two owners)");
    }
    return 0;
}

/* ---- JSON ------------------------------------------------------------------ */

#define PAIR(member, type) MAINT__OF(arb_pair, member, type)
#define AREA(member, type) MAINT__OF(arb_area, member, type)
static const maint__ofield top_fields[] = {
    MAINT__OF(arb, free_kb, U64), MAINT__OF(arb, reserve_kb, U64),
};
static const maint__ofield pair_fields[] = {
    PAIR(active, U32), PAIR(standby, U32), PAIR(active_target_kb, U64),
    PAIR(active_max_kb, U64), PAIR(standby_target_kb, U64), PAIR(standby_max_kb, U64),
    PAIR(standby_min_kb, U64), PAIR(failed_over, BOOL),
};
static const maint__ofield area_fields[] = {
    AREA(name, STRA), AREA(kb, U64), AREA(owner, U32), AREA(failover, U32),
};

/* rows: nr structs of `size` bytes from base, each a map of its fields */
static void rows(maint__json *j, const char *key, const void *base, size_t size, unsigned nr,
                 const maint__ofield *fields, unsigned nr_fields)
{
    maint__json_key(j, key);
    maint__json_array_open(j);
    for (unsigned i = 0; i < nr; i++) {
        maint__json_map_open(j);
        maint__json_kv_struct(j, (const char *)base + i * size, fields, nr_fields);
        maint__json_map_close(j);
    }
    maint__json_array_close(j);
}

#define N(t) (unsigned)(sizeof(t) / sizeof(t[0]))

char *arb_to_json(const arb *a)
{
    maint__json *j = maint__json_new();

    if (!j)
        return NULL;
    maint__json_map_open(j);
    maint__json_kv_struct(j, a, top_fields, N(top_fields));
    rows(j, "pairs", a->pairs, sizeof(arb_pair), a->nr_pairs, pair_fields, N(pair_fields));
    rows(j, "areas", a->areas, sizeof(arb_area), a->nr_areas, area_fields, N(area_fields));
    maint__json_map_close(j);
    return maint__json_finish(j);
}

static bool get_u64(yajl_val o, const char *key, uint64_t max, uint64_t *v)
{
    const char *path[] = { key, NULL };
    yajl_val n = yajl_tree_get(o, path, yajl_t_number);

    if (!n || !YAJL_IS_INTEGER(n) || YAJL_GET_INTEGER(n) < 0 ||
        (uint64_t)YAJL_GET_INTEGER(n) > max)
        return false;
    *v = (uint64_t)YAJL_GET_INTEGER(n);
    return true;
}

/* The fields of a table's row back from o, each checked: sizes up to
 * ARB_MAX_KB, domids up to 0x7fef, names as arb_request takes them. */
static bool read_fields(yajl_val o, void *base, const maint__ofield *f, unsigned nr)
{
    for (unsigned i = 0; i < nr; i++) {
        const char *path[] = { f[i].key, NULL };
        yajl_val v = yajl_tree_get(o, path, yajl_t_any);
        char *p = (char *)base + f[i].offset;
        uint64_t u;

        switch (f[i].type) {
        case MAINT__O_U64:
            if (!get_u64(o, f[i].key, ARB_MAX_KB, (uint64_t *)p))
                return false;
            break;
        case MAINT__O_U32:
            if (!get_u64(o, f[i].key, 0x7fef, &u))
                return false;
            *(uint32_t *)p = (uint32_t)u;
            break;
        case MAINT__O_BOOL:
            if (!v || !(YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)))
                return false;
            *(bool *)p = YAJL_IS_TRUE(v);
            break;
        case MAINT__O_STRA:         /* the only one: an area's name */
            if (!v || !YAJL_IS_STRING(v) || !name_ok(YAJL_GET_STRING(v)))
                return false;
            snprintf(p, ARB_NAME_MAX + 1, "%s", YAJL_GET_STRING(v));
            break;
        default:
            return false;
        }
    }
    return true;
}

int arb_from_json(arb *a, const char *json, const char **why_r)
{
    char err[128];
    yajl_val v = yajl_tree_parse(json, err, sizeof(err)), pairs, areas;
    const char *pp[] = { "pairs", NULL }, *pa[] = { "areas", NULL };
    arb n;
    int rc = -1;

    *why_r = "the table is not a JSON object";
    if (!v || !YAJL_IS_OBJECT(v))
        goto out;
    memset(&n, 0, sizeof(n));
    pairs = yajl_tree_get(v, pp, yajl_t_array);
    areas = yajl_tree_get(v, pa, yajl_t_array);
    *why_r = "the table lacks free_kb, reserve_kb, pairs or areas";
    if (!read_fields(v, &n, top_fields, N(top_fields)) || !pairs || !areas)
        goto out;
    *why_r = "too many pairs or areas";
    if (pairs->u.array.len > ARB_MAX_PAIRS || areas->u.array.len > ARB_MAX_AREAS)
        goto out;
    *why_r = "a malformed pair";
    for (size_t i = 0; i < pairs->u.array.len; i++)
        if (!read_fields(pairs->u.array.values[i], &n.pairs[n.nr_pairs++], pair_fields,
                         N(pair_fields)))
            goto out;
    *why_r = "a malformed area";
    for (size_t i = 0; i < areas->u.array.len; i++)
        if (!read_fields(areas->u.array.values[i], &n.areas[n.nr_areas++], area_fields,
                         N(area_fields)))
            goto out;
    *a = n;
    rc = 0;
out:
    yajl_tree_free(v);
    return rc;
}
