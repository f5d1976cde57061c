/*
 * Domain arrival and departure: every domain gets its xmaint tree (with the
 * permissions of xenstore-schema/) and the host identity; its request
 * directory is watched until it goes.  What else follows a domain's life
 * observes it here (xmd_domain_observe): arrival, shutdown, and its going,
 * told once per domain whether libxl's death event or xenstored's
 * @releaseDomain comes first.
 */
#define G_LOG_DOMAIN "xmaintd-domains"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xmaintd.h"
#include "schema.h"

static void domain_free(gpointer p)
{
    xmd_domain *dom = p;

    g_hash_table_destroy(dom->removed);
    g_hash_table_destroy(dom->answered);
    g_free(dom->name);
    g_free(dom);
}

void xmd_domains_init(xmd *d)
{
    d->domains = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                       domain_free);
}

/* ---- observers ------------------------------------------------------------ */

void xmd_domain_observe(xmd *d, const xmd_domain_observer *o)
{
    if (!d->observers)
        d->observers = g_ptr_array_new();
    g_ptr_array_add(d->observers, (gpointer)o);
}

#define EACH_OBSERVER(d, o) \
    for (guint i_ = 0; (d)->observers && i_ < (d)->observers->len; i_++) \
        for (const xmd_domain_observer *o = g_ptr_array_index((d)->observers, i_); o; o = NULL)

static void tell_gone(xmd *d, uint32_t domid, xmd_domain *dom, const char *why)
{
    EACH_OBSERVER(d, o)
        if (o->gone)
            o->gone(d, domid, dom, why);
}

void xmd_domain_shut_down(xmd *d, uint32_t domid, int reason)
{
    EACH_OBSERVER(d, o)
        if (o->shutdown)
            o->shutdown(d, domid, reason);
}

typedef struct recheck {
    xmd *d;
    uint32_t domid;
} recheck;

static gboolean recheck_idle(gpointer data)
{
    recheck *c = data;

    XMD_TSAN_ACQUIRE(c);
    xmd_domain_shut_down(c->d, c->domid, -1);
    g_free(c);
    return G_SOURCE_REMOVE;
}

void xmd_domain_recheck(xmd *d, uint32_t domid)
{
    recheck *c = g_new0(recheck, 1);

    c->d = d;
    c->domid = domid;
    XMD_TSAN_RELEASE(c);            /* from a worker thread to the main loop */
    g_idle_add(recheck_idle, c);
}

xmd_domain *xmd_domain_find(xmd *d, uint32_t domid)
{
    return g_hash_table_lookup(d->domains, GUINT_TO_POINTER(domid));
}

const char *xmd_domain_label(xmd_domain *dom)
{
    return dom->name ? dom->name : "(unnamed)";
}

gboolean xmd_host_identity_load(xmd *d, GError **error)
{
    g_autofree gchar *path = g_build_filename(d->state_dir, "host-id", NULL);
    g_autofree gchar *contents = NULL;
    maint_host_info info;

    if (g_file_get_contents(path, &contents, NULL, NULL)) {
        g_strstrip(contents);
        if (!g_uuid_string_is_valid(contents)) {
            g_set_error(error, XMD_ERROR, 1, "%s does not hold a UUID: remove it "
                        "to make a new host identity", path);
            return FALSE;
        }
        d->host_id = g_steal_pointer(&contents);
    } else {
        g_autofree gchar *line = NULL;

        d->host_id = g_uuid_string_random();
        line = g_strdup_printf("%s\n", d->host_id);
        if (g_mkdir_with_parents(d->state_dir, 0755) < 0 ||
            !g_file_set_contents(path, line, -1, error)) {
            if (error && !*error)
                g_set_error(error, XMD_ERROR, 1, "cannot create %s: %s",
                            d->state_dir, g_strerror(errno));
            return FALSE;
        }
        g_message("created host identity %s in %s", d->host_id, path);
    }

    maint_host_info_init(&info);
    if (d->hv && maint_host_info_get(d->ctx, &info) == MAINT_OK) {
        d->cpu_signature = g_strdup(info.cpu_signature);
    } else {
        char *sig = maint__cpu_signature(&info);  /* CPU only: no physinfo */
        d->cpu_signature = g_strdup(sig);
        free(sig);
    }
    maint_host_info_dispose(&info);
    return TRUE;
}

/* Is the domain still alive?  The hypervisor knows; without it, xenstored does. */
static bool domain_alive(xmd *d, uint32_t domid)
{
    maint__port *port = &d->ctx->port;
    maint_domain_info info;
    int rc;

    if (!d->hv)
        return port->ops->xs_introduced(port->priv, domid);
    rc = maint_domain_info_get(d->ctx, domid, &info);
    maint_domain_info_dispose(&info);
    if (rc == MAINT_ERROR_NOENT)
        return false;
    if (rc == MAINT_OK && info.state == MAINT_DOMAIN_STATE_DYING)
        return false;
    return true;
}

static bool xs_put(xmd *d, uint32_t txn, const char *path, const char *val)
{
    maint__port *port = &d->ctx->port;

    return port->ops->xs_write(port->priv, txn, path, val, (unsigned)strlen(val)) == 0;
}

static bool xs_perms(xmd *d, uint32_t txn, const char *path, uint32_t owner,
                     uint32_t reader)
{
    maint__port *port = &d->ctx->port;
    maint__perm p[2] = { { owner, 'n' }, { reader, 'r' } };

    return port->ops->xs_set_perms(port->priv, txn, path, p,
                                   reader == owner ? 1 : 2) == 0;
}

typedef struct tree {
    xmd *d;
    xmd_domain *dom;
    bool gone, logged;
} tree;

/* In transaction t: the domain's tree, with the host identity. */
static int tree_write(maint__port *port, uint32_t t, void *user)
{
    tree *tr = user;
    xmd *d = tr->d;
    uint32_t D = tr->dom->domid;
    g_autofree char *home = g_strdup_printf(MAINT_XS_DOMAIN_FMT, D);
    g_autofree char *root = g_strdup_printf(MAINT_XS_ROOT_FMT, D);
    g_autofree char *host = g_strdup_printf(MAINT_XS_HOST_FMT, D);
    g_autofree char *hid = g_strdup_printf(MAINT_XS_HOST_ID_FMT, D);
    g_autofree char *hcpu = g_strdup_printf(MAINT_XS_HOST_CPU_FMT, D);
    g_autofree char *req = g_strdup_printf(MAINT_XS_REQUEST_DIR_FMT, D);
    g_autofree char *resp = g_strdup_printf(MAINT_XS_RESPONSE_DIR_FMT, D);
    g_autofree char *agent = g_strdup_printf(MAINT_XS_AGENT_FMT, D);
    g_autofree char *control = g_strdup_printf(MAINT_XS_CONTROL_DIR_FMT, D);
    g_autofree char *vchan = g_strdup_printf(MAINT_XS_VCHAN_DIR_FMT, D);
    char *v;
    bool ok;

    /* Never resurrect a home the toolstack removed. */
    v = port->ops->xs_read(port->priv, t, home, NULL);
    if (!v) {
        tr->gone = true;
        return -1;
    }
    free(v);
    /* root and host: dom0's, readable by the domain */
    ok = port->ops->xs_mkdir(port->priv, t, root) == 0 &&
         xs_perms(d, t, root, 0, D) &&
         port->ops->xs_mkdir(port->priv, t, host) == 0 &&
         xs_perms(d, t, host, 0, D) &&
         xs_put(d, t, hid, d->host_id) && xs_perms(d, t, hid, 0, D) &&
         xs_put(d, t, hcpu, d->cpu_signature) && xs_perms(d, t, hcpu, 0, D) &&
         /* request and response: the domain's own */
         port->ops->xs_mkdir(port->priv, t, req) == 0 &&
         xs_perms(d, t, req, D, D) &&
         port->ops->xs_mkdir(port->priv, t, resp) == 0 &&
         xs_perms(d, t, resp, D, D) &&
         /* the agent's area and its channels: the domain's */
         port->ops->xs_mkdir(port->priv, t, agent) == 0 &&
         xs_perms(d, t, agent, D, D) &&
         port->ops->xs_mkdir(port->priv, t, vchan) == 0 &&
         xs_perms(d, t, vchan, D, D) &&
         /* commands for the agent: dom0's, readable by the domain */
         port->ops->xs_mkdir(port->priv, t, control) == 0 &&
         xs_perms(d, t, control, 0, D);
    if (!ok) {
        g_warning("d%u (%s): cannot create %s: %s", D, xmd_domain_label(tr->dom), root,
                  g_strerror(errno));
        tr->logged = true;
        return -1;
    }
    return 0;
}

/* Create the domain's tree and publish the host identity, atomically. */
static gboolean publish(xmd *d, xmd_domain *dom)
{
    tree tr = { .d = d, .dom = dom };

    if (maint__xs_transaction(&d->ctx->port, tree_write, &tr) == 0)
        return TRUE;
    if (!tr.gone && !tr.logged)
        g_warning("d%u (%s): cannot commit its xmaint tree: %s", dom->domid,
                  xmd_domain_label(dom), g_strerror(errno));
    return FALSE;
}

static void domain_add(xmd *d, uint32_t domid)
{
    maint__port *port = &d->ctx->port;
    g_autofree char *namepath = g_strdup_printf(MAINT_XS_DOMAIN_NAME_FMT, domid);
    g_autofree char *req = g_strdup_printf(MAINT_XS_REQUEST_DIR_FMT, domid);
    g_autofree char *token = g_strdup_printf("req:%u", domid);
    xmd_domain *dom = g_new0(xmd_domain, 1);
    unsigned len;
    char *name;

    dom->domid = domid;
    dom->removed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    dom->answered = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    name = port->ops->xs_read(port->priv, MAINT__XS_NO_TXN, namepath, &len);
    if (name && g_utf8_validate(name, -1, NULL))
        dom->name = g_strndup(name, 64);
    free(name);
    g_hash_table_insert(d->domains, GUINT_TO_POINTER(domid), dom);

    if (!publish(d, dom))
        return;
    if (port->ops->xs_watch(port->priv, req, token) < 0) {
        g_warning("d%u (%s): cannot watch %s: %s", domid, xmd_domain_label(dom),
                  req, g_strerror(errno));
        return;
    }
    dom->watching = true;
    EACH_OBSERVER(d, o)
        if (o->arrived)
            o->arrived(d, dom);
    g_message("d%u (%s): domain arrived; host identity published, requests served",
              domid, xmd_domain_label(dom));
    /* The watch fires once at registration, which scans what is pending. */
}

static void unwatch(xmd *d, xmd_domain *dom)
{
    maint__port *port = &d->ctx->port;

    if (dom->watching) {
        g_autofree char *req = g_strdup_printf(MAINT_XS_REQUEST_DIR_FMT, dom->domid);
        g_autofree char *token = g_strdup_printf("req:%u", dom->domid);

        port->ops->xs_unwatch(port->priv, req, token);
    }
    dom->watching = false;
}

/* The one place a domain goes: out of the table, its observers told once
 * (the other way of noticing finds no entry) -- also one that went without
 * a death event (e.g. while the daemon restarted). */
static void domain_remove(xmd *d, xmd_domain *dom, const char *why)
{
    unwatch(d, dom);
    g_message("d%u (%s): domain departed", dom->domid, xmd_domain_label(dom));
    tell_gone(d, dom->domid, dom, why);
    g_hash_table_remove(d->domains, GUINT_TO_POINTER(dom->domid));
}

void xmd_domain_died(xmd *d, uint32_t domid)
{
    xmd_domain *dom = xmd_domain_find(d, domid);

    /* no entry: its going was told when @releaseDomain removed it (its
     * death is followed only while it has one) */
    if (dom)
        domain_remove(d, dom, "died");
}

/* Parse a /local/domain child name as a domid, strictly. */
static bool parse_domid(const char *s, uint32_t *domid_r)
{
    guint64 v;

    if (!g_ascii_string_to_unsigned(s, 10, 0, 0x7fef, &v, NULL))
        return false;
    *domid_r = (uint32_t)v;
    return true;
}

void xmd_domains_rescan(xmd *d)
{
    maint__port *port = &d->ctx->port;
    g_autoptr(GHashTable) present = g_hash_table_new(g_direct_hash, g_direct_equal);
    GHashTableIter it;
    gpointer key, value;
    GSList *gone = NULL;
    char **names = NULL;
    unsigned nr = 0, i;

    if (port->ops->xs_directory(port->priv, MAINT__XS_NO_TXN, MAINT_XS_DOMAINS,
                                &names, &nr) < 0) {
        g_warning("cannot list %s: %s", MAINT_XS_DOMAINS, g_strerror(errno));
        return;
    }
    for (i = 0; i < nr; i++) {
        uint32_t domid;

        if (parse_domid(names[i], &domid) && domain_alive(d, domid))
            g_hash_table_add(present, GUINT_TO_POINTER(domid));
    }
    free(names);

    g_hash_table_iter_init(&it, d->domains);
    while (g_hash_table_iter_next(&it, &key, &value))
        if (!g_hash_table_contains(present, key))
            gone = g_slist_prepend(gone, value);
    for (GSList *l = gone; l; l = l->next)
        domain_remove(d, l->data, "departed");
    g_slist_free(gone);

    g_hash_table_iter_init(&it, present);
    while (g_hash_table_iter_next(&it, &key, NULL))
        if (!xmd_domain_find(d, GPOINTER_TO_UINT(key)))
            domain_add(d, GPOINTER_TO_UINT(key));
}

void xmd_domain_tree_lost(xmd *d, xmd_domain *dom)
{
    /* xenstored removes a dead domain's own nodes (request, response). */
    if (!domain_alive(d, dom->domid) || !publish(d, dom)) {
        xmd_domains_rescan(d);
        return;
    }
    g_message("d%u (%s): its request directory was removed; recreated it",
              dom->domid, xmd_domain_label(dom));
}

void xmd_domains_fini(xmd *d)
{
    GHashTableIter it;
    gpointer value;

    if (!d->domains)
        return;
    g_hash_table_iter_init(&it, d->domains);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        xmd_domain *dom = value;

        unwatch(d, dom);
        EACH_OBSERVER(d, o)
            if (o->released)
                o->released(d, dom);
    }
    g_hash_table_destroy(d->domains);
    d->domains = NULL;
    if (d->observers)
        g_ptr_array_free(d->observers, TRUE);
    d->observers = NULL;
}
