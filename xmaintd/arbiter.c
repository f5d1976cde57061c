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
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "arbiter.h"

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

#define S(g, s) yajl_gen_string(g, (const unsigned char *)(s), strlen(s))

char *arb_to_json(const arb *a)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t len;
    char *out = NULL;

    if (!g)
        return NULL;
    yajl_gen_map_open(g);
    S(g, "free_kb"); yajl_gen_integer(g, (long long)a->free_kb);
    S(g, "reserve_kb"); yajl_gen_integer(g, (long long)a->reserve_kb);
    S(g, "pairs");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < a->nr_pairs; i++) {
        const arb_pair *p = &a->pairs[i];
        yajl_gen_map_open(g);
        S(g, "active"); yajl_gen_integer(g, p->active);
        S(g, "standby"); yajl_gen_integer(g, p->standby);
        S(g, "active_target_kb"); yajl_gen_integer(g, (long long)p->active_target_kb);
        S(g, "active_max_kb"); yajl_gen_integer(g, (long long)p->active_max_kb);
        S(g, "standby_target_kb"); yajl_gen_integer(g, (long long)p->standby_target_kb);
        S(g, "standby_max_kb"); yajl_gen_integer(g, (long long)p->standby_max_kb);
        S(g, "standby_min_kb"); yajl_gen_integer(g, (long long)p->standby_min_kb);
        S(g, "failed_over"); yajl_gen_bool(g, p->failed_over);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    S(g, "areas");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < a->nr_areas; i++) {
        const arb_area *ar = &a->areas[i];
        yajl_gen_map_open(g);
        S(g, "name"); S(g, ar->name);
        S(g, "kb"); yajl_gen_integer(g, (long long)ar->kb);
        S(g, "owner"); yajl_gen_integer(g, ar->owner);
        S(g, "failover"); yajl_gen_integer(g, ar->failover);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok && (out = malloc(len + 1))) {
        memcpy(out, buf, len);
        out[len] = 0;
    }
    yajl_gen_free(g);
    return out;
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
    if (!get_u64(v, "free_kb", ARB_MAX_KB, &n.free_kb) ||
        !get_u64(v, "reserve_kb", ARB_MAX_KB, &n.reserve_kb) || !pairs || !areas)
        goto out;
    *why_r = "too many pairs or areas";
    if (pairs->u.array.len > ARB_MAX_PAIRS || areas->u.array.len > ARB_MAX_AREAS)
        goto out;
    *why_r = "a malformed pair";
    for (size_t i = 0; i < pairs->u.array.len; i++) {
        yajl_val o = pairs->u.array.values[i];
        const char *pf[] = { "failed_over", NULL };
        yajl_val f = yajl_tree_get(o, pf, yajl_t_any);
        arb_pair *p = &n.pairs[n.nr_pairs++];
        uint64_t act, sb;

        if (!get_u64(o, "active", 0x7fef, &act) || !get_u64(o, "standby", 0x7fef, &sb) ||
            !get_u64(o, "active_target_kb", ARB_MAX_KB, &p->active_target_kb) ||
            !get_u64(o, "active_max_kb", ARB_MAX_KB, &p->active_max_kb) ||
            !get_u64(o, "standby_target_kb", ARB_MAX_KB, &p->standby_target_kb) ||
            !get_u64(o, "standby_max_kb", ARB_MAX_KB, &p->standby_max_kb) ||
            !get_u64(o, "standby_min_kb", ARB_MAX_KB, &p->standby_min_kb) ||
            !f || !(YAJL_IS_TRUE(f) || YAJL_IS_FALSE(f)))
            goto out;
        p->active = (uint32_t)act;
        p->standby = (uint32_t)sb;
        p->failed_over = YAJL_IS_TRUE(f);
    }
    *why_r = "a malformed area";
    for (size_t i = 0; i < areas->u.array.len; i++) {
        yajl_val o = areas->u.array.values[i];
        const char *pn[] = { "name", NULL };
        yajl_val nm = yajl_tree_get(o, pn, yajl_t_string);
        arb_area *ar = &n.areas[n.nr_areas++];
        uint64_t owner, fo;

        if (!nm || !name_ok(YAJL_GET_STRING(nm)) ||
            !get_u64(o, "kb", ARB_MAX_KB, &ar->kb) || !get_u64(o, "owner", 0x7fef, &owner) ||
            !get_u64(o, "failover", 0x7fef, &fo))
            goto out;
        snprintf(ar->name, sizeof(ar->name), "%s", YAJL_GET_STRING(nm));
        ar->owner = (uint32_t)owner;
        ar->failover = (uint32_t)fo;
    }
    *a = n;
    rc = 0;
out:
    yajl_tree_free(v);
    return rc;
}
