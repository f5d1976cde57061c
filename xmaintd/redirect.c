/*
 * Service addresses and the request-stream redirect.  A service binds an
 * application name to a virtual address (VIP:PORT) and to the domain that
 * serves it; dom0 sends the VIP's traffic to that domain's address with
 * nftables DNAT (table "ip xmaint", prerouting for other hosts and output for
 * dom0's own clients).  Switching a service rewrites the whole table in one
 * nft transaction, so the switch is atomic; connections already open keep
 * their translation (conntrack) and finish on the old instance.
 *
 * The table is durable: STATE_DIR/services.json, rewritten atomically.
 */
#define G_LOG_DOMAIN "xmaintd-redirect"
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <nftables/libnftables.h>
#include <yajl/yajl_tree.h>

#include "xmaintd.h"

struct xmd_service {
    char *app;
    char *vip;
    unsigned port;
    char *domain;        /* the serving domain's name */
    char *addr;          /* its address when the rule was made, or NULL */
};

static GMutex svc_lock;

static void service_free(gpointer p)
{
    xmd_service *s = p;

    g_free(s->app);
    g_free(s->vip);
    g_free(s->domain);
    g_free(s->addr);
    g_free(s);
}

gboolean xmd_ipv4_valid(const char *s)
{
    struct in_addr a;

    return s && strlen(s) < INET_ADDRSTRLEN && inet_pton(AF_INET, s, &a) == 1;
}

static char *services_path(xmd *d)
{
    return g_build_filename(d->state_dir, "services.json", NULL);
}

#define SVC(member, type) MAINT__OF(xmd_service, member, type)
static const maint__ofield service_fields[] = {
    SVC(app, STRP), SVC(vip, STRP), SVC(port, U32), SVC(domain, STRP), SVC(addr, STRP),
};

static char *services_json_locked(xmd *d)
{
    maint__json *j = maint__json_new();

    maint__json_array_open(j);
    for (guint i = 0; i < d->services->len; i++) {
        xmd_service *s = g_ptr_array_index(d->services, i);

        maint__json_map_open(j);
        maint__json_kv_struct(j, s, service_fields, G_N_ELEMENTS(service_fields));
        maint__json_map_close(j);
    }
    maint__json_array_close(j);
    return xmd_json_finish(j);
}

char *xmd_services_json(xmd *d)
{
    char *s;

    g_mutex_lock(&svc_lock);
    s = services_json_locked(d);
    g_mutex_unlock(&svc_lock);
    return s;
}

static gboolean save_locked(xmd *d, GError **error)
{
    g_autofree char *path = services_path(d);
    g_autofree char *json = services_json_locked(d);

    if (g_mkdir_with_parents(d->state_dir, 0755) < 0) {
        g_set_error(error, XMD_ERROR, 1, "cannot create %s: %s", d->state_dir,
                    g_strerror(errno));
        return FALSE;
    }
    return g_file_set_contents(path, json, -1, error);   /* write + rename */
}

static void refused(GError **error, const char *msg)
{
    g_autofree char *m = g_strdup(msg && *msg ? msg : "(no message)");

    g_set_error(error, XMD_ERROR, 1, "nft refused the redirect table: %s", g_strstrip(m));
}

/* In process (libnftables): no program to start, one transaction. */
static gboolean load_in_process(const char *script, GError **error)
{
    struct nft_ctx *nc = nft_ctx_new(NFT_CTX_DEFAULT);
    gboolean ok;

    if (!nc) {
        g_set_error(error, XMD_ERROR, 1, "libnftables: cannot make a context");
        return FALSE;
    }
    nft_ctx_buffer_output(nc);
    nft_ctx_buffer_error(nc);
    ok = nft_run_cmd_from_buffer(nc, script) == 0;
    if (!ok)
        refused(error, nft_ctx_get_error_buffer(nc));
    nft_ctx_free(nc);
    return ok;
}

/* Through a program (XMAINT_NFT, for tests): PROGRAM -f STATE_DIR/xmaint.nft. */
static gboolean load_with(xmd *d, const char *nft, const char *script, GError **error)
{
    g_autofree char *file = g_build_filename(d->state_dir, "xmaint.nft", NULL);
    g_autofree char *out = NULL, *err = NULL;
    const char *argv[] = { nft, "-f", file, NULL };
    int status = 0;

    if (!g_file_set_contents(file, script, -1, error) ||
        !g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                      &status, error))
        return FALSE;
    if (!g_spawn_check_wait_status(status, NULL)) {
        refused(error, err);
        return FALSE;
    }
    return TRUE;
}

/* Render and load the nft table; addresses are re-read by the caller. */
static gboolean apply_locked(xmd *d, GError **error)
{
    g_autoptr(GString) rules = g_string_new(NULL);
    g_autoptr(GString) script = g_string_new(NULL);
    const char *nft = g_getenv("XMAINT_NFT");

    for (guint i = 0; i < d->services->len; i++) {
        xmd_service *s = g_ptr_array_index(d->services, i);

        if (s->addr)
            g_string_append_printf(rules, "    ip daddr %s tcp dport %u dnat to %s:%u\n",
                                   s->vip, s->port, s->addr, s->port);
    }
    /* create-then-delete makes the delete safe when the table is absent */
    g_string_append_printf(script,
        "table ip xmaint\n"
        "delete table ip xmaint\n"
        "table ip xmaint {\n"
        "  chain pre {\n    type nat hook prerouting priority -100; policy accept;\n%s  }\n"
        "  chain out {\n    type nat hook output priority -100; policy accept;\n%s  }\n"
        "}\n", rules->str, rules->str);
    return nft ? load_with(d, nft, script->str, error) : load_in_process(script->str, error);
}

/* The address of the running domain NAME, from its agent; NULL if none. */
static char *domain_addr(xmd *d, maint_ctx *ctx, const char *name)
{
    uint32_t domid;
    char buf[INET_ADDRSTRLEN];

    if (maint_domain_lookup(ctx, name, &domid) != MAINT_OK)
        return NULL;
    if (maint_agent_addr(ctx, domid, buf, sizeof(buf)) != MAINT_OK)
        return NULL;
    return g_strdup(buf);
}

void xmd_services_load(xmd *d)
{
    g_autofree char *path = services_path(d);
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    char errbuf[128];
    yajl_val v;

    d->services = g_ptr_array_new_with_free_func(service_free);
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return;
    v = yajl_tree_parse(text, errbuf, sizeof(errbuf));
    if (!v || !YAJL_IS_ARRAY(v)) {
        g_warning("%s is not a JSON array; services ignored", path);
        yajl_tree_free(v);
        return;
    }
    for (size_t i = 0; i < v->u.array.len; i++) {
        yajl_val e = v->u.array.values[i];
        const char *pa[] = { "app", NULL }, *pv[] = { "vip", NULL },
                   *pp[] = { "port", NULL }, *pd[] = { "domain", NULL },
                   *pr[] = { "addr", NULL };
        yajl_val a = yajl_tree_get(e, pa, yajl_t_string), vip = yajl_tree_get(e, pv, yajl_t_string),
                 port = yajl_tree_get(e, pp, yajl_t_number), dom = yajl_tree_get(e, pd, yajl_t_string),
                 addr = yajl_tree_get(e, pr, yajl_t_string);
        xmd_service *s;

        if (!a || !vip || !port || !dom || !YAJL_IS_INTEGER(port)) {
            g_warning("%s: entry %zu malformed; ignored", path, i);
            continue;
        }
        s = g_new0(xmd_service, 1);
        s->app = g_strdup(YAJL_GET_STRING(a));
        s->vip = g_strdup(YAJL_GET_STRING(vip));
        s->port = (unsigned)YAJL_GET_INTEGER(port);
        s->domain = g_strdup(YAJL_GET_STRING(dom));
        s->addr = addr && xmd_ipv4_valid(YAJL_GET_STRING(addr)) ? g_strdup(YAJL_GET_STRING(addr)) : NULL;
        g_ptr_array_add(d->services, s);
    }
    yajl_tree_free(v);
    if (d->services->len) {
        g_mutex_lock(&svc_lock);
        if (!apply_locked(d, &error))
            g_warning("cannot restore the redirect table: %s", error->message);
        else
            g_message("restored %u service redirect(s)", d->services->len);
        g_mutex_unlock(&svc_lock);
    }
}

void xmd_services_fini(xmd *d)
{
    if (d->services)
        g_ptr_array_free(d->services, TRUE);
    d->services = NULL;
}

static xmd_service *find_locked(xmd *d, const char *app)
{
    for (guint i = 0; i < d->services->len; i++) {
        xmd_service *s = g_ptr_array_index(d->services, i);
        if (!strcmp(s->app, app))
            return s;
    }
    return NULL;
}

gboolean xmd_service_add(xmd *d, maint_ctx *ctx, const char *app, const char *vip,
                         unsigned port, const char *domain, GError **error)
{
    xmd_service *s;
    char *addr = domain_addr(d, ctx, domain);     /* before the lock, as retarget */
    gboolean ok = FALSE;

    g_mutex_lock(&svc_lock);
    if (find_locked(d, app)) {
        g_set_error(error, XMD_ERROR, 1, "service %s exists: remove it first", app);
        goto out;
    }
    for (guint i = 0; i < d->services->len; i++) {
        xmd_service *o = g_ptr_array_index(d->services, i);
        if (!strcmp(o->vip, vip) && o->port == port) {
            g_set_error(error, XMD_ERROR, 1, "%s:%u is already service %s", vip, port, o->app);
            goto out;
        }
    }
    s = g_new0(xmd_service, 1);
    s->app = g_strdup(app);
    s->vip = g_strdup(vip);
    s->port = port;
    s->domain = g_strdup(domain);
    s->addr = addr;
    addr = NULL;
    if (!s->addr) {
        g_set_error(error, XMD_ERROR, 1, "domain %s has no address from its agent", domain);
        service_free(s);
        goto out;
    }
    g_ptr_array_add(d->services, s);
    if (!apply_locked(d, error) || !save_locked(d, error)) {
        g_ptr_array_remove(d->services, s);
        apply_locked(d, NULL);
        goto out;
    }
    g_message("service %s: %s:%u -> %s (%s)", app, vip, port, domain, s->addr);
    ok = TRUE;
out:
    g_mutex_unlock(&svc_lock);
    g_free(addr);
    return ok;
}

gboolean xmd_service_remove(xmd *d, const char *app, GError **error)
{
    xmd_service *s;
    gboolean ok = FALSE;

    g_mutex_lock(&svc_lock);
    if (!(s = find_locked(d, app))) {
        g_set_error(error, XMD_ERROR, 1, "no service %s", app);
        goto out;
    }
    g_ptr_array_remove(d->services, s);
    ok = apply_locked(d, error) && save_locked(d, error);
    if (ok)
        g_message("service %s removed", app);
out:
    g_mutex_unlock(&svc_lock);
    return ok;
}

int xmd_service_retarget(xmd *d, maint_ctx *ctx, const char *app, const char *from,
                         const char *to, GError **error)
{
    xmd_service *s;
    /* asked before the lock: no xenstore or hypervisor call is made with
     * it held (a daemon killed in one would leave it held) */
    char *addr = domain_addr(d, ctx, to), *old_addr, *old_dom;
    int rc = -1;

    g_mutex_lock(&svc_lock);
    if (!(s = find_locked(d, app))) {
        rc = 0;                          /* no service bound to this app */
        goto out;
    }
    if (from && strcmp(s->domain, from) && strcmp(s->domain, to)) {
        g_set_error(error, XMD_ERROR, 1, "service %s is served by %s, not %s", app,
                    s->domain, from ? from : "?");
        goto out;
    }
    if (!addr) {
        g_set_error(error, XMD_ERROR, 1, "domain %s has no address from its agent", to);
        goto out;
    }
    /* an address another service domain uses is refused */
    for (guint i = 0; i < d->services->len; i++) {
        xmd_service *o = g_ptr_array_index(d->services, i);
        if (o != s && o->addr && !strcmp(o->addr, addr) && strcmp(o->domain, to)) {
            g_set_error(error, XMD_ERROR, 1, "%s reports address %s, which %s serves",
                        to, addr, o->domain);
            goto out;
        }
    }
    old_addr = s->addr;
    old_dom = s->domain;
    s->addr = addr;
    s->domain = g_strdup(to);
    addr = NULL;
    if (!apply_locked(d, error)) {
        g_free(s->addr);
        g_free(s->domain);
        s->addr = old_addr;
        s->domain = old_dom;
        goto out;
    }
    g_message("service %s: %s:%u switched from %s (%s) to %s (%s)", app, s->vip, s->port,
              old_dom, old_addr ? old_addr : "-", s->domain, s->addr);
    g_free(old_addr);
    g_free(old_dom);
    if (!save_locked(d, error))
        goto out;
    rc = 1;
out:
    g_free(addr);
    g_mutex_unlock(&svc_lock);
    return rc;
}
