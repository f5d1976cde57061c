/*
 * The guest agents of a fake port's guests (see fake-agent.h).  Commands are
 * answered as xmaint-agent answers them (xmaint-agent/agent.c): start, stop,
 * run, state-recv (a channel published under ~/xmaint/vchan/SEQ, answered
 * once the peer has sent) and state-send (refused while the application
 * runs; the state lands in the peer that listens).
 *
 * Locking: the hooks run under the fake's lock; the agents' own lock is
 * never held while the fake is called (what they write is collected and
 * written after), so the two locks have one order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <yajl/yajl_tree.h>

#include "fake-agent.h"
#include "schema.h"

/* Three strings: an application (NAME, SPEC, STATE: what it holds when
 * started by the guest itself) or a refusal (DOMAIN, OP, APP: NULL, any). */
typedef struct three {
    char *v[3];
} three;
enum { NAME, SPEC, STATE };
enum { DOMAIN, OP, APP };

typedef struct guest {
    GHashTable *running;       /* application names */
    GHashTable *state;         /* application -> its state */
    GHashTable *listening;     /* state-recv seq -> "PEER:APP" */
} guest;

struct fake_agent {
    GRecMutex lock;            /* everything below (apps: set before use) */
    fake_port *fp;
    char *addr;
    GPtrArray *apps;           /* three* */
    GHashTable *guests;        /* domid -> guest* */
    GPtrArray *refusals;       /* three* */
    GString *log;
    unsigned killed;
};

/* What a command or a boot writes to the store: path, value (NULL: rm). */
typedef struct out {
    GPtrArray *paths, *values;
} out;

#define LOCK(a) g_autoptr(GRecMutexLocker) locker G_GNUC_UNUSED = g_rec_mutex_locker_new(&(a)->lock)

static void out_init(out *o)
{
    o->paths = g_ptr_array_new_with_free_func(g_free);
    o->values = g_ptr_array_new_with_free_func(g_free);
}

static void emit(out *o, char *path, const char *value)
{
    g_ptr_array_add(o->paths, path);
    g_ptr_array_add(o->values, g_strdup(value));
}

/* Written to the store, the agent's lock not held. */
static void out_flush(fake_agent *a, out *o)
{
    maint__port port = fake_port_port(a->fp);

    for (guint i = 0; i < o->paths->len; i++) {
        const char *p = o->paths->pdata[i], *v = o->values->pdata[i];

        if (v)
            fake_port_put(a->fp, p, v);
        else
            port.ops->xs_rm(port.priv, MAINT__XS_NO_TXN, p);
    }
    g_ptr_array_free(o->paths, TRUE);
    g_ptr_array_free(o->values, TRUE);
}

static three *three_new(const char *a, const char *b, const char *c)
{
    three *t = g_new0(three, 1);

    t->v[0] = g_strdup(a);
    t->v[1] = g_strdup(b);
    t->v[2] = g_strdup(c);
    return t;
}

static void three_free(gpointer p)
{
    three *t = p;

    for (guint i = 0; i < G_N_ELEMENTS(t->v); i++)
        g_free(t->v[i]);
    g_free(t);
}

static void guest_free(gpointer p)
{
    guest *g = p;
    GHashTable *tables[] = { g->running, g->state, g->listening };

    for (guint i = 0; i < G_N_ELEMENTS(tables); i++)
        g_hash_table_destroy(tables[i]);
    g_free(g);
}

static guest *guest_of(fake_agent *a, uint32_t domid)
{
    return g_hash_table_lookup(a->guests, GUINT_TO_POINTER(domid));
}

static const three *app_find(fake_agent *a, const char *name)
{
    for (guint i = 0; name && i < a->apps->len; i++)
        if (!strcmp(((three *)a->apps->pdata[i])->v[NAME], name))
            return a->apps->pdata[i];
    return NULL;
}

static void set_running(guest *g, uint32_t domid, const char *app, gboolean on, out *o)
{
    if (on)
        g_hash_table_add(g->running, g_strdup(app));
    else
        g_hash_table_remove(g->running, app);
    emit(o, g_strdup_printf(MAINT_XS_AGENT_APP_STATUS_FMT, domid, app),
         on ? "running" : "stopped");
}

/* An agent comes up in domid: applications announced, started (with their
 * state) when autostart, then ready. */
static void boot(fake_agent *a, uint32_t domid, gboolean autostart, out *o)
{
    guest *g = g_new0(guest, 1);

    g->running = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g->state = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g->listening = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_hash_table_replace(a->guests, GUINT_TO_POINTER(domid), g);
    for (guint i = 0; i < a->apps->len; i++) {
        const three *d = a->apps->pdata[i];

        emit(o, g_strdup_printf(MAINT_XS_AGENT_APP_SPEC_FMT, domid, d->v[NAME]), d->v[SPEC]);
        set_running(g, domid, d->v[NAME], autostart, o);
        if (autostart && d->v[STATE])
            g_hash_table_replace(g->state, g_strdup(d->v[NAME]), g_strdup(d->v[STATE]));
    }
    emit(o, g_strdup_printf(MAINT_XS_AGENT_ADDR_FMT, domid), a->addr);
    emit(o, g_strdup_printf(MAINT_XS_AGENT_STATE_FMT, domid), "ready");
}

/* The command's answer in domid's result directory (err NULL: ok). */
static void answer(uint32_t domid, const char *seq, const char *err, out *o)
{
    g_autofree char *e = err ? g_strescape(err, NULL) : NULL;
    g_autofree char *v = e ? g_strdup_printf("{\"ok\":false,\"error\":\"%s\"}", e)
                           : g_strdup("{\"ok\":true}");

    emit(o, g_strdup_printf(MAINT_XS_AGENT_RESULT_FMT, domid, seq), v);
}

static const char *jstr(yajl_val v, const char *key)
{
    const char *p[] = { key, NULL };
    yajl_val m = v ? yajl_tree_get(v, p, yajl_t_string) : NULL;

    return m ? YAJL_GET_STRING(m) : NULL;
}

static long long jint(yajl_val v, const char *key)
{
    const char *p[] = { key, NULL };
    yajl_val m = v ? yajl_tree_get(v, p, yajl_t_number) : NULL;

    return m && YAJL_IS_INTEGER(m) ? YAJL_GET_INTEGER(m) : -1;
}

/* Is this command one the test wants refused?  (The rule is used up.) */
static gboolean refused(fake_agent *a, const char *domain, const char *op, const char *app)
{
    for (guint i = 0; i < a->refusals->len; i++) {
        const three *r = a->refusals->pdata[i];

        if (!strcmp(r->v[DOMAIN], domain) && !strcmp(r->v[OP], op) &&
            (!r->v[APP] || (app && !strcmp(r->v[APP], app)))) {
            g_ptr_array_remove_index(a->refusals, i);     /* freed */
            return TRUE;
        }
    }
    return FALSE;
}

/* state-recv: a channel under the domain's own tree, answered when the
 * peer has sent. */
static void listen_state(guest *g, uint32_t domid, const char *seq, const char *app,
                         long long peer, out *o)
{
    g_hash_table_replace(g->listening, g_strdup(seq), g_strdup_printf("%lld:%s", peer, app));
    emit(o, g_strdup_printf(MAINT_XS_VCHAN_RING_FMT, domid, seq), "8");
}

/* state-send from domid to the peer listening at path: NULL, or why not. */
static char *send_state(fake_agent *a, guest *g, uint32_t domid, const char *app,
                        long long peer, const char *path, out *o)
{
    unsigned pdom = 0;
    char pseq[24];
    int n = 0;
    guest *pg;
    g_autofree char *want = g_strdup_printf("%u:%s", domid, app);
    const char *what, *state;

    if (g_hash_table_contains(g->running, app))
        return g_strdup("state-send: the application is still running");
    if (!path || sscanf(path, "/local/domain/%u/xmaint/vchan/%20[0-9]%n", &pdom, pseq, &n) != 2 ||
        path[n] || pdom != peer || !(pg = guest_of(a, pdom)) ||
        !(what = g_hash_table_lookup(pg->listening, pseq)) || strcmp(what, want))
        return g_strdup_printf("state-send: nobody listens at %s", path ? path : "-");
    state = g_hash_table_lookup(g->state, app);
    if (state)
        g_hash_table_replace(pg->state, g_strdup(app), g_strdup(state));
    else
        g_hash_table_remove(pg->state, app);
    g_hash_table_remove(pg->listening, pseq);
    emit(o, g_strdup(path), NULL);
    answer(pdom, pseq, NULL, o);
    return NULL;
}

/* One command to domid's agent (named name); NULL or why it failed.  The
 * state-recv answer comes later: *later_r. */
static char *carry_out(fake_agent *a, uint32_t domid, const char *name, const char *seq,
                       yajl_val v, gboolean *later_r, out *o)
{
    const char *op = jstr(v, "op"), *app = jstr(v, "app");
    guest *g = guest_of(a, domid);

    if (!g || !op)
        return g_strdup("no agent, or a command without an \"op\"");
    if (refused(a, name, op, app))
        return g_strdup_printf("%s: refused as the test told", op);
    if (!strcmp(op, "run")) {
        g_string_append_printf(a->log, "%s:run:%s\n", name, jstr(v, "command") ?: "-");
        return NULL;
    }
    if (!app_find(a, app))
        return g_strdup_printf("%s: no application %s here", op, app ? app : "(none given)");
    g_string_append_printf(a->log, "%s:%s:%s\n", name, op, app);
    if (!strcmp(op, "start") || !strcmp(op, "stop"))
        set_running(g, domid, app, op[2] == 'a', o);
    else if (!strcmp(op, "state-recv"))
        listen_state(g, domid, seq, app, jint(v, "peer"), o), *later_r = TRUE;
    else if (!strcmp(op, "state-send"))
        return send_state(a, g, domid, app, jint(v, "peer"), jstr(v, "path"), o);
    else
        return g_strdup_printf("unknown op %s", op);
    return NULL;
}

/* The write hook: a command under some domain's ~/xmaint/control. */
static void on_write(fake_port *fp, const char *path, const char *value, void *opaque)
{
    fake_agent *a = opaque;
    unsigned domid;
    char seq[24];
    int n = 0;
    g_autofree char *namep = NULL, *name = NULL, *err = NULL;
    gboolean later = FALSE;
    yajl_val v;
    out o;

    if (sscanf(path, "/local/domain/%u/xmaint/control/%20[0-9]%n", &domid, seq, &n) != 2 ||
        path[n])
        return;
    namep = g_strdup_printf(MAINT_XS_DOMAIN_NAME_FMT, domid);
    name = g_strdup(fake_port_get(fp, namep) ?: "?");
    v = yajl_tree_parse(value, NULL, 0);
    out_init(&o);
    {
        LOCK(a);
        err = carry_out(a, domid, name, seq, v, &later, &o);
        if (!later)
            answer(domid, seq, err, &o);
    }
    yajl_tree_free(v);
    out_flush(a, &o);
}

/* The guest hook: unpaused, an agent comes up (applications started
 * unless the domain has a role: a substitute's wait for xmaintd); asked to
 * shut down, the guest does (its applications die with it). */
static void on_guest(fake_port *fp, uint32_t domid, const char *event, void *opaque)
{
    fake_agent *a = opaque;
    g_autofree char *rolep = g_strdup_printf(MAINT_XS_ROLE_FMT, domid);
    const char *role = fake_port_get(fp, rolep);
    gboolean autostart = !role || !role[0];
    out o;

    out_init(&o);
    if (!strcmp(event, "unpause")) {
        LOCK(a);
        boot(a, domid, autostart, &o);
    } else if (!strcmp(event, "shutdown")) {
        LOCK(a);
        guest *g = guest_of(a, domid);

        if (g) {
            a->killed += g_hash_table_size(g->running);
            g_hash_table_remove_all(g->running);
        }
    }
    out_flush(a, &o);
    if (!strcmp(event, "shutdown"))
        fake_port_set_domain_state(fp, domid, MAINT_DOMAIN_STATE_SHUTDOWN);
}

fake_agent *fake_agent_new(fake_port *fp, uint32_t first_domid, const char *addr)
{
    fake_agent *a = g_new0(fake_agent, 1);

    g_rec_mutex_init(&a->lock);
    a->fp = fp;
    a->addr = g_strdup(addr);
    a->apps = g_ptr_array_new_with_free_func(three_free);
    a->guests = g_hash_table_new_full(NULL, NULL, NULL, guest_free);
    a->refusals = g_ptr_array_new_with_free_func(three_free);
    a->log = g_string_new("");
    fake_port_set_write_hook(fp, on_write, a);
    fake_port_set_hypervisor(fp, first_domid, on_guest, a);
    return a;
}

void fake_agent_free(fake_agent *a)
{
    g_ptr_array_free(a->apps, TRUE);
    g_ptr_array_free(a->refusals, TRUE);
    g_hash_table_destroy(a->guests);
    g_string_free(a->log, TRUE);
    g_free(a->addr);
    g_rec_mutex_clear(&a->lock);
    g_free(a);
}

void fake_agent_add_app(fake_agent *a, const char *name, const char *spec, const char *state)
{
    LOCK(a);
    g_ptr_array_add(a->apps, three_new(name, spec, state));
}

void fake_agent_boot(fake_agent *a, uint32_t domid)
{
    out o;

    out_init(&o);
    {
        LOCK(a);
        boot(a, domid, TRUE, &o);
    }
    out_flush(a, &o);
}

void fake_agent_refuse(fake_agent *a, const char *domain, const char *op, const char *app)
{
    LOCK(a);
    g_ptr_array_add(a->refusals, three_new(domain, op, app));
}

gboolean fake_agent_runs(fake_agent *a, uint32_t domid, const char *app)
{
    LOCK(a);
    guest *g = guest_of(a, domid);

    return g && g_hash_table_contains(g->running, app);
}

char *fake_agent_state(fake_agent *a, uint32_t domid, const char *app)
{
    LOCK(a);
    guest *g = guest_of(a, domid);

    return g ? g_strdup(g_hash_table_lookup(g->state, app)) : NULL;
}

unsigned fake_agent_killed(fake_agent *a)
{
    LOCK(a);
    return a->killed;
}

char *fake_agent_log(fake_agent *a)
{
    LOCK(a);
    return g_strdup(a->log->str);
}
