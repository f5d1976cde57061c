/*
 * Hot-standby pairs: the arbiter's table (arbiter.c) kept durable, memory
 * granted on request and carried out through the port, faults detected and
 * failed over.
 *
 *  - standby-create / standby-destroy / standby-show (dom0);
 *  - mem-request {app, kb} / mem-release {app} / app-fault {app, level}
 *    (the guest's agent; a domain only ever names its own applications,
 *    at most XMD_GUEST_RATE_PER_S such requests a second per domain: the
 *    request dispatcher checks xmd_standby_rate_ok first);
 *  - the active's death (the port's events) or a stalled heartbeat: failover -- the
 *    standby grows by the protected areas, its agent starts them, their
 *    service addresses follow;
 *  - app-fault minor: restarted in place; major: its area and the
 *    application move to the standby.
 * Balloon moves are confirmed: a domain that does not reach its new target
 * within 10 s is logged as uncooperative (as squeezed does).
 */
#define G_LOG_DOMAIN "xmaintd-standby"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "xmaintd.h"
#include "arbiter.h"
#include "schema.h"

#define BALLOON_WAIT_MS   10000
#define STALL_DEFAULT_S   15

typedef struct beat {
    char *value;
    gint64 changed_us;
    uint64_t cpu_ns;
} beat;

static void beat_free(gpointer p)
{
    beat *b = p;

    g_free(b->value);
    g_free(b);
}

struct xmd_standby {
    arb a;
    uint64_t host_kb;             /* what the arbiter manages: free + targets */
    unsigned stall_s;
    GHashTable *beats;            /* active domid -> beat */
    GHashTable *rate;             /* domid -> gint64 window start | count */
    GHashTable *names;            /* domid -> name (to retarget services) */
    guint timer;
    GHashTable *balloons;         /* balloon_check* under way (owned) */
    gint jobs;                    /* application jobs under way (atomic) */
};

static char *table_path(xmd *d)
{
    return g_build_filename(d->state_dir, "standby.json", NULL);
}

/* The durable copy first, then the published one. */
static void save(xmd *d)
{
    xmd_standby *s = d->standby;
    g_autofree char *path = table_path(d);
    g_autoptr(GError) e = NULL;
    char *json = arb_to_json(&s->a);
    g_autofree char *file = NULL;

    if (!json)
        return;
    file = g_strdup_printf("{\"host_kb\":%llu,\"stall_s\":%u,\"table\":%s}",
                           (unsigned long long)s->host_kb, s->stall_s, json);
    if (!g_file_set_contents(path, file, -1, &e))
        g_warning("cannot save the resource table: %s", e->message);
    d->ctx->port.ops->xs_write(d->ctx->port.priv, MAINT__XS_NO_TXN, MAINT_XS_STANDBY_TABLE,
                               json, (unsigned)strlen(json));
    free(json);
}

static void load(xmd *d)
{
    xmd_standby *s = d->standby;
    g_autofree char *path = table_path(d);
    g_autofree char *text = NULL;
    char err[128];
    yajl_val v;
    const char *ph[] = { "host_kb", NULL }, *pst[] = { "stall_s", NULL };
    const char *why = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return;
    v = yajl_tree_parse(text, err, sizeof(err));
    {
        yajl_val h = v ? yajl_tree_get(v, ph, yajl_t_number) : NULL;
        yajl_val st = v ? yajl_tree_get(v, pst, yajl_t_number) : NULL;
        const char *tk = strstr(text, "\"table\":");
        g_autofree char *table = tk ? g_strndup(tk + 8, strlen(tk + 8) - 1) : NULL;

        if (!h || !table || arb_from_json(&s->a, table, &why) != 0) {
            g_warning("%s: unreadable (%s); hot-standby pairs start empty", path,
                      why ? why : "not the expected JSON");
            arb_init(&s->a, 0, 0);
        } else {
            s->host_kb = (uint64_t)YAJL_GET_INTEGER(h);
            if (st && YAJL_IS_INTEGER(st))
                s->stall_s = (unsigned)YAJL_GET_INTEGER(st);
            g_message("resource table restored: %u pair(s), %u area(s)", s->a.nr_pairs,
                      s->a.nr_areas);
        }
    }
    yajl_tree_free(v);
}

static bool set_target(xmd *d, uint32_t domid, uint64_t kb)
{
    maint__port *port = &d->ctx->port;
    int rc;

    if (!d->hv)
        return false;
    rc = port->ops->set_memory_target(port->priv, domid, kb);
    if (rc != MAINT_OK) {
        g_warning("d%u: cannot set the memory target to %llu KiB: %s", domid,
                  (unsigned long long)kb, maint_strerror(rc));
        return false;
    }
    g_message("d%u: memory target %llu KiB", domid, (unsigned long long)kb);
    return true;
}

/* ---- balloon confirmation -------------------------------------------------- */

typedef struct balloon_check {
    xmd *d;
    guint id;                     /* its timeout */
    uint32_t domid;
    uint64_t want_kb;
    gint64 deadline_us;
} balloon_check;

static gboolean balloon_tick(gpointer data)
{
    balloon_check *b = data;
    maint_domain_info info;
    gboolean again = G_SOURCE_CONTINUE;

    maint_domain_info_init(&info);
    if (maint_domain_info_get(b->d->ctx, b->domid, &info) != MAINT_OK) {
        again = G_SOURCE_REMOVE;
    } else if (info.mem_actual_kb + 1024 >= b->want_kb && info.mem_actual_kb <= b->want_kb + 1024) {
        g_message("d%u: reached its target (%llu KiB)", b->domid,
                  (unsigned long long)info.mem_actual_kb);
        again = G_SOURCE_REMOVE;
    } else if (g_get_monotonic_time() > b->deadline_us) {
        g_warning("d%u: uncooperative: holds %llu KiB %d s after its target became %llu KiB",
                  b->domid, (unsigned long long)info.mem_actual_kb, BALLOON_WAIT_MS / 1000,
                  (unsigned long long)b->want_kb);
        again = G_SOURCE_REMOVE;
    }
    maint_domain_info_dispose(&info);
    if (again == G_SOURCE_REMOVE)
        g_hash_table_remove(b->d->standby->balloons, b);    /* frees b */
    return again;
}

static void move_target(xmd *d, uint32_t domid, uint64_t kb)
{
    balloon_check *b;

    if (!set_target(d, domid, kb))
        return;
    b = g_new0(balloon_check, 1);
    b->d = d;
    b->domid = domid;
    b->want_kb = kb;
    b->deadline_us = g_get_monotonic_time() + BALLOON_WAIT_MS * 1000;
    b->id = g_timeout_add(500, balloon_tick, b);
    g_hash_table_add(d->standby->balloons, b);
}

/* ---- applications on the agents (in a thread: commands block) ------------- */

typedef struct app_job {
    xmd *d;
    uint32_t stop_in, start_in;   /* 0: none */
    char *start_name;             /* the domain now serving (for services) */
    gint64 since_us;
    GPtrArray *apps;
} app_job;

typedef struct seq_buf {
    char s[24];
} seq_buf;

/* Point APP's service (if it has one) at the domain that now runs it. */
static void retarget(app_job *j, maint_ctx *ctx, const char *app)
{
    g_autoptr(GError) e = NULL;

    if (j->start_name && xmd_service_retarget(j->d, ctx, app, NULL, j->start_name, &e) < 0)
        g_warning("service %s: %s", app, e->message);
}

/*
 * Stop the applications in one domain (if any), then start them in the
 * other, all start commands sent at once and then waited for.  After a
 * failover (nothing to stop: the old instance is dead) the services are
 * switched first, so the switch and the starts overlap; otherwise a service
 * follows once its application runs.
 */
static gpointer app_job_run(gpointer data)
{
    app_job *j = data;
    maint_ctx *ctx = NULL;
    g_autofree seq_buf *seqs = NULL;

    if ((j->d->ctx_open ? j->d->ctx_open : maint_ctx_open)(&ctx, j->d->xtl, 0) != MAINT_OK) {
        g_warning("standby: cannot open a library context for the applications");
        goto out;
    }
    seqs = g_new0(seq_buf, j->apps->len ? j->apps->len : 1);
    for (guint i = 0; i < j->apps->len && j->stop_in; i++) {
        const char *app = g_ptr_array_index(j->apps, i);
        g_autoptr(GError) e = NULL;

        if (!xmd_app_cmd(ctx, j->stop_in, "stop", app, 30000, &e))
            g_warning("cannot stop %s: %s", app, e->message);
    }
    if (!j->start_in)
        goto out;
    if (maint_agent_wait_ready(ctx, j->start_in, 60000) != MAINT_OK) {
        g_warning("d%u: its agent is not ready: %u application(s) not started", j->start_in,
                  j->apps->len);
        goto out;
    }
    for (guint i = 0; i < j->apps->len; i++)
        if (!xmd_app_cmd_send(ctx, j->start_in, "start", g_ptr_array_index(j->apps, i), TRUE,
                              seqs[i].s, sizeof(seqs[i].s)))
            seqs[i].s[0] = 0;
    for (guint i = 0; i < j->apps->len && !j->stop_in; i++)
        retarget(j, ctx, g_ptr_array_index(j->apps, i));
    g_info("start commands sent to d%u%s: %lld ms", j->start_in,
           j->stop_in ? "" : ", services switched",
           (long long)(g_get_monotonic_time() - j->since_us) / 1000);
    for (guint i = 0; i < j->apps->len; i++) {
        const char *app = g_ptr_array_index(j->apps, i);
        char *err = NULL;

        if (!seqs[i].s[0] ||
            maint_agent_command_wait(ctx, j->start_in, seqs[i].s, 60000, &err) != MAINT_OK) {
            g_warning("d%u: cannot start %s: %s", j->start_in, app,
                      err ? err : "no answer from its agent");
        } else {
            g_message("d%u: %s started (%lld ms after the request)", j->start_in, app,
                      (long long)(g_get_monotonic_time() - j->since_us) / 1000);
            if (j->stop_in)
                retarget(j, ctx, app);
        }
        free(err);
    }
out:
    maint_ctx_close(ctx);
    g_ptr_array_free(j->apps, TRUE);
    g_free(j->start_name);
    g_atomic_int_dec_and_test(&j->d->standby->jobs);
    g_free(j);
    return NULL;
}

static void run_apps(xmd *d, uint32_t stop_in, uint32_t start_in, GPtrArray *apps)
{
    app_job *j = g_new0(app_job, 1);
    const char *n = g_hash_table_lookup(d->standby->names, GUINT_TO_POINTER(start_in));

    j->d = d;
    j->stop_in = stop_in;
    j->start_in = start_in;
    j->start_name = g_strdup(n);
    j->apps = apps;
    j->since_us = g_get_monotonic_time();
    g_atomic_int_inc(&d->standby->jobs);
    g_thread_unref(g_thread_new("standby-apps", app_job_run, j));
}

/* ---- failover -------------------------------------------------------------- */

typedef struct destroying {
    xmd *d;
    uint32_t domid;
} destroying;

static void destroyed(void *data, int rc)
{
    destroying *x = data;

    x->d->hv_aos--;
    if (rc != MAINT_OK && rc != MAINT_ERROR_NOENT)
        g_warning("d%u: destroying the failed active: %s", x->domid, maint_strerror(rc));
    else
        g_message("d%u: the failed active is destroyed, its memory back", x->domid);
    g_free(x);
}

/* The names of the areas domid owns (g_ptr_array_free). */
static GPtrArray *areas_of(xmd_standby *s, uint32_t domid)
{
    GPtrArray *apps = g_ptr_array_new_with_free_func(g_free);

    for (unsigned i = 0; i < s->a.nr_areas; i++)
        if (s->a.areas[i].owner == domid)
            g_ptr_array_add(apps, g_strdup(s->a.areas[i].name));
    return apps;
}

/* The failed active's memory back, if it is still there (asynchronously). */
static void reclaim(xmd *d, uint32_t active)
{
    maint__port *port = &d->ctx->port;
    destroying *x;
    int rc;

    if (!d->hv)
        return;
    x = g_new0(destroying, 1);
    x->d = d;
    x->domid = active;
    d->hv_aos++;
    rc = port->ops->destroy_async(port->priv, active, destroyed, x);
    if (rc != MAINT_OK) {       /* not started: no callback */
        d->hv_aos--;
        g_free(x);
        if (rc != MAINT_ERROR_NOENT)
            g_warning("d%u: cannot destroy it: %s", active, maint_strerror(rc));
    }
}

/* What a failover does once the table says it happened: the protected
 * applications started in the standby (their services switched), the
 * standby's memory target, the failed active destroyed.  Each part is
 * idempotent: a daemon killed half-way does it all again on restart. */
static void carry_out(xmd *d, arb_pair *p)
{
    run_apps(d, 0, p->standby, areas_of(d->standby, p->standby));
    move_target(d, p->standby, p->standby_target_kb);
    reclaim(d, p->active);
}

static void failover(xmd *d, arb_pair *p, const char *why)
{
    xmd_standby *s = d->standby;
    uint32_t active = p->active, standby = p->standby;
    GPtrArray *apps = areas_of(s, active);
    const char *err;

    if (arb_fail_os(&s->a, active, &err) != 0) {
        g_warning("d%u: failover refused: %s", active, err);
        g_ptr_array_free(apps, TRUE);
        return;
    }
    g_warning("d%u: the active failed (%s): failing over to d%u with %u protected "
              "application(s)", active, why, standby, apps->len);
    g_ptr_array_free(apps, TRUE);
    save(d);
    g_hash_table_remove(s->beats, GUINT_TO_POINTER(active));
    /* the applications first: the reserve covers the standby's growth, so
     * it need not wait for the active's memory to come back */
    carry_out(d, p);
}

typedef struct gone {
    xmd *d;
    uint32_t domid;
    char *why;
} gone;

static gboolean gone_idle(gpointer data)
{
    gone *g = data;
    arb_pair *p;

    if (g->d->standby && (p = arb_pair_of(&g->d->standby->a, g->domid))) {
        if (p->active == g->domid && !p->failed_over)
            failover(g->d, p, g->why);
        else if (p->standby == g->domid && !p->failed_over)
            g_warning("d%u: the standby of d%u is gone: the pair is unprotected", g->domid,
                      p->active);
    }
    g_free(g->why);
    g_free(g);
    return G_SOURCE_REMOVE;
}

/* A domain died or crashed: an active's pair fails over.  Called from the
 * port's event callback, where it may not be called back into
 * synchronously, so the failover runs from the main loop. */
static void domain_gone(xmd *d, uint32_t domid, const char *why)
{
    gone *g;

    if (!d->standby || !arb_pair_of(&d->standby->a, domid))
        return;
    g = g_new0(gone, 1);
    g->d = d;
    g->domid = domid;
    g->why = g_strdup(why);
    g_idle_add(gone_idle, g);
}

/* Heartbeats: an active whose agent stops counting while it runs is stalled. */
static gboolean stall_tick(gpointer data)
{
    xmd *d = data;
    xmd_standby *s = d->standby;

    if (!s)
        return G_SOURCE_REMOVE;       /* stopped */
    for (unsigned i = 0; i < s->a.nr_pairs; i++) {
        arb_pair *p = &s->a.pairs[i];
        g_autofree char *path = g_strdup_printf(MAINT_XS_AGENT_HEARTBEAT_FMT, p->active);
        char *v;
        unsigned len;
        beat *b;
        maint_domain_info info;
        gint64 now = g_get_monotonic_time();

        if (p->failed_over)
            continue;
        v = d->ctx->port.ops->xs_read(d->ctx->port.priv, MAINT__XS_NO_TXN, path, &len);
        b = g_hash_table_lookup(s->beats, GUINT_TO_POINTER(p->active));
        if (!b) {
            b = g_new0(beat, 1);
            b->changed_us = now;
            g_hash_table_insert(s->beats, GUINT_TO_POINTER(p->active), b);
        }
        maint_domain_info_init(&info);
        if (maint_domain_info_get(d->ctx, p->active, &info) != MAINT_OK) {
            free(v);
            maint_domain_info_dispose(&info);
            failover(d, p, "gone");
            return G_SOURCE_CONTINUE;
        }
        if (v && (!b->value || strcmp(v, b->value))) {
            g_free(b->value);
            b->value = g_strndup(v, 32);
            b->changed_us = now;
            b->cpu_ns = info.cpu_time_ns;
        } else if (info.state != MAINT_DOMAIN_STATE_PAUSED && b->value &&
                   now - b->changed_us > (gint64)s->stall_s * G_USEC_PER_SEC) {
            g_autofree char *why = g_strdup_printf(
                "heartbeat stuck at %s for %u s, vCPU time +%llu ms meanwhile", b->value,
                s->stall_s, (unsigned long long)(info.cpu_time_ns > b->cpu_ns ?
                                                 (info.cpu_time_ns - b->cpu_ns) / 1000000 : 0));
            free(v);
            maint_domain_info_dispose(&info);
            failover(d, p, why);
            return G_SOURCE_CONTINUE;      /* the table changed: next tick */
        } else if (info.state == MAINT_DOMAIN_STATE_PAUSED) {
            b->changed_us = now;           /* paused by the administrator: not a stall */
        }
        free(v);
        maint_domain_info_dispose(&info);
    }
    return G_SOURCE_CONTINUE;
}

/* ---- requests --------------------------------------------------------------- */

bool xmd_standby_rate_ok(xmd *d, uint32_t domid)
{
    gint64 now = g_get_monotonic_time();
    gint64 *w = g_hash_table_lookup(d->standby->rate, GUINT_TO_POINTER(domid));

    if (!w) {
        w = g_new0(gint64, 2);
        g_hash_table_insert(d->standby->rate, GUINT_TO_POINTER(domid), w);
    }
    if (now - w[0] > G_USEC_PER_SEC) {
        w[0] = now;
        w[1] = 0;
    }
    return ++w[1] <= XMD_GUEST_RATE_PER_S;
}

#define REFUSE(...) do { *error_r = g_strdup_printf(__VA_ARGS__); rc = MAINT_ERROR_INVAL; goto out; } while (0)

int xmd_op_standby_create(xmd *d, xmd_domain *dom, maint__args *args, char **result_r,
                          char **error_r)
{
    xmd_standby *s = d->standby;
    /* the schema: names required, the sizes required and in range */
    const char *an = maint__args_str(args, "active"), *sn = maint__args_str(args, "standby"), *why;
    uint64_t min_kb = (uint64_t)maint__args_int(args, "standby_min_kb", 16384),
             reserve_kb = (uint64_t)maint__args_int(args, "reserve_kb", 0),
             stall = (uint64_t)maint__args_int(args, "stall_s", STALL_DEFAULT_S);
    uint32_t ad, sd;
    maint_domain_info ai, si;
    maint_host_info hi;
    int rc = MAINT_OK;

    maint_domain_info_init(&ai);
    maint_domain_info_init(&si);
    maint_host_info_init(&hi);
    if (!d->hv)
        REFUSE("the hypervisor is not available to xmaintd");
    if (maint_domain_lookup(d->ctx, an, &ad) != MAINT_OK || ad == 0)
        REFUSE("no running domain %s", an);
    if (maint_domain_lookup(d->ctx, sn, &sd) != MAINT_OK || sd == 0)
        REFUSE("no running domain %s (the standby must be running)", sn);
    if (maint_domain_info_get(d->ctx, ad, &ai) != MAINT_OK ||
        maint_domain_info_get(d->ctx, sd, &si) != MAINT_OK ||
        maint_host_info_get(d->ctx, &hi) != MAINT_OK)
        REFUSE("cannot read the domains' or the host's memory");
    if (min_kb > si.mem_target_kb)
        REFUSE("the standby holds %llu KiB; its minimum cannot be more",
               (unsigned long long)si.mem_target_kb);
    if (s->a.nr_pairs == 0) {
        /* the first pair: the arbiter manages the host's free memory */
        if (reserve_kb > hi.free_kb)
            REFUSE("the host has %llu KiB free, less than the reserve",
                   (unsigned long long)hi.free_kb);
        arb_init(&s->a, hi.free_kb, reserve_kb);
        s->host_kb = hi.free_kb;
        s->stall_s = (unsigned)stall;
    }
    if (arb_pair_add(&s->a, ad, ai.mem_target_kb, ai.mem_max_kb, sd, si.mem_target_kb,
                     si.mem_max_kb, min_kb, &why) != 0)
        REFUSE("standby-create: %s", why);
    s->host_kb += ai.mem_target_kb + si.mem_target_kb;
    g_hash_table_insert(s->names, GUINT_TO_POINTER(ad), g_strdup(an));
    g_hash_table_insert(s->names, GUINT_TO_POINTER(sd), g_strdup(sn));
    save(d);
    /* the standby waits: nothing of its own runs, its agent starts nothing */
    maint__xs_put_readonly(d->ctx, sd, MAINT_XS_ROLE_FMT, "standby");
    {
        maint_app *apps = NULL;
        unsigned n = 0;
        GPtrArray *names = g_ptr_array_new_with_free_func(g_free);

        if (maint_agent_apps(d->ctx, sd, &apps, &n) == MAINT_OK)
            for (unsigned i = 0; i < n; i++)
                if (!strcmp(apps[i].status, "running"))
                    g_ptr_array_add(names, g_strdup(apps[i].name));
        free(apps);
        if (names->len)
            run_apps(d, sd, 0, names);
        else
            g_ptr_array_free(names, TRUE);
    }
    g_message("pair: active d%u (%s), standby d%u (%s) held at %llu KiB, reserve %llu KiB",
              ad, an, sd, sn, (unsigned long long)min_kb, (unsigned long long)s->a.reserve_kb);
    move_target(d, sd, min_kb);
    {
        char *j = arb_to_json(&s->a);
        *result_r = g_strdup(j);
        free(j);
    }
out:
    maint_domain_info_dispose(&ai);
    maint_domain_info_dispose(&si);
    maint_host_info_dispose(&hi);
    return rc;
}

int xmd_op_standby_destroy(xmd *d, xmd_domain *dom, maint__args *args, char **result_r,
                           char **error_r)
{
    xmd_standby *s = d->standby;
    const char *an = maint__args_str(args, "active"), *why;   /* required */
    uint32_t ad = 0;
    int rc = MAINT_OK;

    for (unsigned i = 0; i < s->a.nr_pairs && !ad; i++) {
        const char *n = g_hash_table_lookup(s->names, GUINT_TO_POINTER(s->a.pairs[i].active));
        if (n && !strcmp(n, an))
            ad = s->a.pairs[i].active;
    }
    if (!ad && maint_domain_lookup(d->ctx, an, &ad) != MAINT_OK)
        REFUSE("no pair with active %s", an);
    if (arb_pair_remove(&s->a, ad, &why) != 0)
        REFUSE("standby-destroy: %s", why);
    save(d);
    *result_r = g_strdup("{\"destroyed\":true}");
out:
    return rc;
}

int xmd_op_standby_show(xmd *d, xmd_domain *dom, maint__args *args, char **result_r,
                        char **error_r)
{
    xmd_standby *s = d->standby;
    GString *out = g_string_new("{\"pairs\":[");

    for (unsigned i = 0; i < s->a.nr_pairs; i++) {
        arb_pair *p = &s->a.pairs[i];
        const char *an = g_hash_table_lookup(s->names, GUINT_TO_POINTER(p->active));
        const char *sn = g_hash_table_lookup(s->names, GUINT_TO_POINTER(p->standby));
        g_string_append_printf(out, "%s{\"active\":%u,\"active_name\":\"%s\",\"standby\":%u,"
                               "\"standby_name\":\"%s\",\"active_target_kb\":%llu,"
                               "\"standby_target_kb\":%llu,\"standby_min_kb\":%llu,"
                               "\"failed_over\":%s}", i ? "," : "", p->active, an ? an : "",
                               p->standby, sn ? sn : "",
                               (unsigned long long)p->active_target_kb,
                               (unsigned long long)p->standby_target_kb,
                               (unsigned long long)p->standby_min_kb,
                               p->failed_over ? "true" : "false");
    }
    g_string_append(out, "],\"areas\":[");
    for (unsigned i = 0; i < s->a.nr_areas; i++) {
        arb_area *ar = &s->a.areas[i];
        const char *on = g_hash_table_lookup(s->names, GUINT_TO_POINTER(ar->owner));
        g_string_append_printf(out, "%s{\"name\":\"%s\",\"kb\":%llu,\"owner\":%u,"
                               "\"owner_name\":\"%s\",\"failover\":%u}", i ? "," : "",
                               ar->name, (unsigned long long)ar->kb, ar->owner,
                               on ? on : "", ar->failover);
    }
    g_string_append_printf(out, "],\"free_kb\":%llu,\"reserve_kb\":%llu}",
                           (unsigned long long)s->a.free_kb,
                           (unsigned long long)s->a.reserve_kb);
    *result_r = g_string_free(out, FALSE);
    return MAINT_OK;
}

int xmd_op_mem_request(xmd *d, xmd_domain *dom, maint__args *args, char **result_r,
                       char **error_r)
{
    xmd_standby *s = d->standby;
    /* the schema: app required, kb required and in 1-2^40 */
    const char *app = maint__args_str(args, "app"), *why;
    uint64_t kb = (uint64_t)maint__args_int(args, "kb", 0);
    maint_host_info hi;
    arb_pair *p;
    int rc = MAINT_OK;

    maint_host_info_init(&hi);
    if (!maint_app_name_valid(app))
        REFUSE("mem-request: \"app\" is not an application name");
    /* never beyond what the host really has free */
    if (maint_host_info_get(d->ctx, &hi) == MAINT_OK && kb + s->a.reserve_kb > hi.free_kb)
        REFUSE("the host has %llu KiB free; %llu KiB plus the reserve do not fit",
               (unsigned long long)hi.free_kb, (unsigned long long)kb);
    if (arb_request(&s->a, dom->domid, app, kb, &why) != 0)
        REFUSE("refused: %s", why);
    p = arb_pair_of(&s->a, dom->domid);
    save(d);
    g_message("d%u (%s): %s granted %llu KiB", dom->domid, xmd_domain_label(dom), app,
              (unsigned long long)kb);
    move_target(d, dom->domid, p->active_target_kb);
    *result_r = g_strdup_printf("{\"granted_kb\":%llu,\"target_kb\":%llu}",
                                (unsigned long long)kb,
                                (unsigned long long)p->active_target_kb);
out:
    maint_host_info_dispose(&hi);
    return rc;
}

int xmd_op_mem_release(xmd *d, xmd_domain *dom, maint__args *args, char **result_r,
                       char **error_r)
{
    xmd_standby *s = d->standby;
    const char *app = maint__args_str(args, "app"), *why;    /* required */
    arb_pair *p;
    int rc = MAINT_OK;

    if (arb_release(&s->a, dom->domid, app, &why) != 0)
        REFUSE("mem-release: %s", why);
    p = arb_pair_of(&s->a, dom->domid);
    save(d);
    move_target(d, dom->domid, p->active == dom->domid ? p->active_target_kb : p->standby_target_kb);
    *result_r = g_strdup("{\"released\":true}");
out:
    return rc;
}

int xmd_op_app_fault(xmd *d, xmd_domain *dom, maint__args *args, char **result_r,
                     char **error_r)
{
    xmd_standby *s = d->standby;
    const char *app = maint__args_str(args, "app"), *level = maint__args_str(args, "level"), *why;
    arb_pair *p;
    GPtrArray *apps;
    int rc = MAINT_OK;

    if (strcmp(level, "minor") && strcmp(level, "major"))
        REFUSE("app-fault: give \"app\" and \"level\" (minor or major)");
    if (arb_fail_app(&s->a, dom->domid, app, level[1] == 'i' ? ARB_MINOR : ARB_MAJOR, &why) != 0)
        REFUSE("app-fault: %s", why);
    p = arb_pair_of(&s->a, dom->domid);
    apps = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(apps, g_strdup(app));
    if (level[1] == 'i') {
        g_message("d%u (%s): %s failed (minor): restarting it in place", dom->domid,
                  xmd_domain_label(dom), app);
        run_apps(d, dom->domid, dom->domid, apps);
        *result_r = g_strdup("{\"action\":\"restart-in-place\"}");
    } else {
        g_warning("d%u (%s): %s failed (major): moving it and its memory to d%u", dom->domid,
                  xmd_domain_label(dom), app, p->standby);
        save(d);
        move_target(d, p->active, p->active_target_kb);
        move_target(d, p->standby, p->standby_target_kb);
        run_apps(d, dom->domid, p->standby, apps);
        *result_r = g_strdup_printf("{\"action\":\"moved\",\"to\":%u}", p->standby);
    }
out:
    return rc;
}

static void observe_gone(xmd *d, uint32_t domid, xmd_domain *dom, const char *why)
{
    domain_gone(d, domid, why);
}

static void observe_shutdown(xmd *d, uint32_t domid, int reason)
{
    if (reason == LIBXL_SHUTDOWN_REASON_CRASH)
        domain_gone(d, domid, "crashed");
}

static const xmd_domain_observer standby_observer = {
    .gone = observe_gone,
    .shutdown = observe_shutdown,
};

/* ---- life ------------------------------------------------------------------ */

void xmd_standby_init(xmd *d)
{
    xmd_standby *s = g_new0(xmd_standby, 1);

    d->standby = s;
    s->stall_s = STALL_DEFAULT_S;
    s->beats = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, beat_free);
    s->rate = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    s->names = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    s->balloons = g_hash_table_new_full(g_direct_hash, g_direct_equal, g_free, NULL);
    arb_init(&s->a, 0, 0);
    load(d);
    /* names of the domains still running (services follow by name) */
    for (unsigned i = 0; i < s->a.nr_pairs; i++) {
        uint32_t ids[2] = { s->a.pairs[i].active, s->a.pairs[i].standby };
        for (int k = 0; k < 2; k++) {
            maint_domain_info info;
            maint_domain_info_init(&info);
            if (maint_domain_info_get(d->ctx, ids[k], &info) == MAINT_OK && info.name)
                g_hash_table_insert(s->names, GUINT_TO_POINTER(ids[k]), g_strdup(info.name));
            else if (k == 0 && !s->a.pairs[i].failed_over)
                g_warning("d%u, an active, is gone: it failed while xmaintd was down", ids[k]);
            maint_domain_info_dispose(&info);
        }
    }
    if (s->a.nr_pairs)
        save(d);
    s->timer = g_timeout_add_seconds(1, stall_tick, d);
    xmd_domain_observe(d, &standby_observer);
    /* actives that died while the daemon was down fail over now; a
     * failover the daemon was carrying out when it died is finished */
    for (unsigned i = 0; i < s->a.nr_pairs; i++) {
        arb_pair *p = &s->a.pairs[i];
        if (!p->failed_over && !g_hash_table_contains(s->names, GUINT_TO_POINTER(p->active)))
            failover(d, p, "gone while xmaintd was down");
        else if (p->failed_over && g_hash_table_contains(s->names, GUINT_TO_POINTER(p->standby)))
            carry_out(d, p);
    }
}

void xmd_standby_fini(xmd *d)
{
    xmd_standby *s = d->standby;

    if (!s)
        return;
    if (s->timer)
        g_source_remove(s->timer);
    /* the application jobs use the daemon's services and this count: let
     * them end (their agents answer, or their waits time out), 30 s at most */
    for (int i = 0; i < 300 && g_atomic_int_get(&s->jobs) > 0; i++)
        g_usleep(100 * 1000);
    if (g_atomic_int_get(&s->jobs) > 0)
        g_warning("stopping with %d application job(s) still waiting for agents",
                  g_atomic_int_get(&s->jobs));
    {
        GHashTableIter it;
        gpointer b;

        g_hash_table_iter_init(&it, s->balloons);
        while (g_hash_table_iter_next(&it, &b, NULL))
            g_source_remove(((balloon_check *)b)->id);
        g_hash_table_destroy(s->balloons);
    }
    g_hash_table_destroy(s->beats);
    g_hash_table_destroy(s->rate);
    g_hash_table_destroy(s->names);
    g_free(s);
    d->standby = NULL;
}
