/*
 * Serving xenstore requests.  A request is one value a domain writes under
 * its own request directory; it is hostile input until parsed.  The answer
 * goes to the same domain's response directory, never anywhere else.
 */
#define G_LOG_DOMAIN "xmaintd-requests"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xmaintd.h"
#include "schema.h"

typedef struct xmd_op {
    const char *name;
    bool dom0_only;
    bool rate_limited;                /* at most XMD_GUEST_RATE_PER_S a second per domain */
    /* Returns a MAINT_* code; on success *result_r is JSON (g_free), on
     * failure *error_r is text for the requester (g_free).  args: parsed
     * and checked against the op's schema (libmaint/args.c); the op may
     * take them over (leaving *args initialised). */
    int (*run)(xmd *d, xmd_domain *dom, maint__args *args,
               char **result_r, char **error_r);
} xmd_op;

static int op_ping(xmd *d, xmd_domain *dom, maint__args *args, char **result_r,
                   char **error_r)
{
    maint__json *j = maint__json_new();

    maint__json_map_open(j);
    maint__json_kv_bool(j, "pong", true);
    maint__json_kv_string(j, "version", PACKAGE_VERSION);
    maint__json_kv_uint(j, "domid", dom->domid);
    maint__json_kv_string(j, "host_id", d->host_id);
    maint__json_map_close(j);
    *result_r = xmd_json_finish(j);
    return MAINT_OK;
}

static int no_hypervisor(char **error_r)
{
    *error_r = g_strdup("the hypervisor is not available to xmaintd");
    return MAINT_ERROR_UNAVAILABLE;
}

static int op_list(xmd *d, xmd_domain *dom, maint__args *args, char **result_r,
                   char **error_r)
{
    char *json = NULL;
    int rc;

    if (!d->hv)
        return no_hypervisor(error_r);
    rc = maint__domain_list_json(&d->ctx->port, &json);
    if (rc) {
        *error_r = g_strdup_printf("cannot list domains: %s", maint_strerror(rc));
        return rc;
    }
    *result_r = g_strdup(json);
    free(json);
    return MAINT_OK;
}

static int op_host_info(xmd *d, xmd_domain *dom, maint__args *args,
                        char **result_r, char **error_r)
{
    maint_host_info info;
    char *json;
    int rc;

    if (dom->domid != 0) {
        /* A guest learns the identity it may compare, nothing more. */
        maint__json *j = maint__json_new();

        maint__json_map_open(j);
        maint__json_kv_string(j, "host_id", d->host_id);
        maint__json_kv_string(j, "cpu_signature", d->cpu_signature);
        maint__json_map_close(j);
        *result_r = xmd_json_finish(j);
        return MAINT_OK;
    }
    if (!d->hv)
        return no_hypervisor(error_r);
    rc = maint_host_info_get(d->ctx, &info);
    if (rc) {
        *error_r = g_strdup_printf("cannot read host information: %s",
                                   maint_strerror(rc));
        return rc;
    }
    json = maint_host_info_to_json(&info);
    maint_host_info_dispose(&info);
    if (!json)
        return MAINT_ERROR_NOMEM;
    *result_r = g_strdup(json);
    free(json);
    return MAINT_OK;
}

static int op_error(GError *e, char **error_r)
{
    *error_r = g_strdup(e ? e->message : "failed");
    return MAINT_ERROR_INVAL;
}

static int op_workflow_start(xmd *d, xmd_domain *dom, maint__args *args, char **result_r,
                             char **error_r)
{
    g_autoptr(GError) e = NULL;
    g_autofree char *id = xmd_workflow_start(d, args, &e);

    if (!id)
        return op_error(e, error_r);
    *result_r = g_strdup_printf("{\"id\":\"%s\"}", id);
    return MAINT_OK;
}

static int op_workflow_abort(xmd *d, xmd_domain *dom, maint__args *args, char **result_r,
                             char **error_r)
{
    g_autoptr(GError) e = NULL;
    const char *id = maint__args_str(args, "id");    /* required */

    if (!xmd_workflow_abort(d, id, &e))
        return op_error(e, error_r);
    *result_r = g_strdup("{\"aborting\":true}");
    return MAINT_OK;
}

static int op_workflow_list(xmd *d, xmd_domain *dom, maint__args *args, char **result_r,
                            char **error_r)
{
    *result_r = xmd_workflows_json(d);
    return MAINT_OK;
}

static int op_service_add(xmd *d, xmd_domain *dom, maint__args *args, char **result_r,
                          char **error_r)
{
    g_autoptr(GError) e = NULL;
    /* all required, the port in 1-65535 (the schema) */
    const char *app = maint__args_str(args, "app"), *vip = maint__args_str(args, "vip"),
               *domain = maint__args_str(args, "domain");
    long long port = maint__args_int(args, "port", 0);

    if (!maint_app_name_valid(app)) {
        *error_r = g_strdup("service-add: \"app\" is not an application name");
        return MAINT_ERROR_INVAL;
    }
    if (!xmd_ipv4_valid(vip)) {
        *error_r = g_strdup("service-add: \"vip\" is not an IPv4 address");
        return MAINT_ERROR_INVAL;
    }
    if (!xmd_service_add(d, d->ctx, app, vip, (unsigned)port, domain, &e))
        return op_error(e, error_r);
    *result_r = xmd_services_json(d);
    return MAINT_OK;
}

static int op_service_remove(xmd *d, xmd_domain *dom, maint__args *args, char **result_r,
                             char **error_r)
{
    g_autoptr(GError) e = NULL;
    const char *app = maint__args_str(args, "app");  /* required */

    if (!xmd_service_remove(d, app, &e))
        return op_error(e, error_r);
    *result_r = xmd_services_json(d);
    return MAINT_OK;
}

static int op_service_list(xmd *d, xmd_domain *dom, maint__args *args, char **result_r,
                           char **error_r)
{
    *result_r = xmd_services_json(d);
    return MAINT_OK;
}

static const xmd_op ops[] = {
    { "ping", false, false, op_ping },
    { "list", true, false, op_list },
    { "host-info", false, false, op_host_info },
    { "workflow-start", true, false, op_workflow_start },
    { "workflow-abort", true, false, op_workflow_abort },
    { "workflow-list", true, false, op_workflow_list },
    { "service-add", true, false, op_service_add },
    { "service-remove", true, false, op_service_remove },
    { "service-list", true, false, op_service_list },
    { "standby-create", true, false, xmd_op_standby_create },
    { "standby-destroy", true, false, xmd_op_standby_destroy },
    { "standby-show", true, false, xmd_op_standby_show },
    { "mem-request", false, true, xmd_op_mem_request },
    { "mem-release", false, true, xmd_op_mem_release },
    { "app-fault", false, true, xmd_op_app_fault },
};

static const xmd_op *find_op(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(ops); i++)
        if (!strcmp(ops[i].name, name))
            return &ops[i];
    return NULL;
}

static char *known_ops(void)
{
    GString *s = g_string_new(NULL);

    for (size_t i = 0; i < G_N_ELEMENTS(ops); i++)
        g_string_append_printf(s, "%s%s", i ? ", " : "", ops[i].name);
    return g_string_free(s, FALSE);
}

typedef struct response_age {
    const char *id;
    gint64 at;                  /* G_MININT64: not written by this daemon */
} response_age;

static int response_age_cmp(const void *a, const void *b)
{
    const response_age *x = a, *y = b;

    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return strcmp(x->id, y->id);
}

/*
 * Keep each domain's response directory bounded: clients remove what they
 * read, so what stays was not read.  The oldest go first, by the time this
 * daemon recorded when it answered (xenstored lists children in no
 * promised order); answers it has no record of (an earlier run's, or the
 * domain's own writing) count as oldest.  Records of answers that are gone
 * are forgotten.
 */
static void responses_gc(xmd *d, xmd_domain *dom)
{
    maint__port *port = &d->ctx->port;
    g_autofree char *dir = g_strdup_printf(MAINT_XS_RESPONSE_DIR_FMT, dom->domid);
    g_autofree response_age *ages = NULL;
    GHashTable *kept;
    char **names = NULL;
    unsigned nr = 0, i, drop;

    if (port->ops->xs_directory(port->priv, MAINT__XS_NO_TXN, dir, &names, &nr) < 0)
        return;
    ages = g_new(response_age, nr ? nr : 1);
    for (i = 0; i < nr; i++) {
        gint64 *at = g_hash_table_lookup(dom->answered, names[i]);

        ages[i].id = names[i];
        ages[i].at = at ? *at : G_MININT64;
    }
    qsort(ages, nr, sizeof(*ages), response_age_cmp);
    drop = nr > MAINT_XS_MAX_RESPONSES ? nr - MAINT_XS_MAX_RESPONSES : 0;
    for (i = 0; i < drop; i++) {
        g_autofree char *p = g_strdup_printf("%s/%s", dir, ages[i].id);

        port->ops->xs_rm(port->priv, MAINT__XS_NO_TXN, p);
    }
    kept = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (i = drop; i < nr; i++) {
        gint64 *at = g_hash_table_lookup(dom->answered, ages[i].id);

        if (at)
            g_hash_table_insert(kept, g_strdup(ages[i].id), g_memdup2(at, sizeof(*at)));
    }
    g_hash_table_destroy(dom->answered);
    dom->answered = kept;
    if (drop)
        g_info("d%u (%s): dropped %u unread responses", dom->domid,
               xmd_domain_label(dom), drop);
    free(names);
}

static void respond(xmd *d, xmd_domain *dom, const char *id, const char *value)
{
    gint64 now = g_get_monotonic_time();

    if (maint__response_write(&d->ctx->port, d->xtl, dom->domid, id, value))
        g_warning("d%u (%s): cannot answer request %s", dom->domid,
                  xmd_domain_label(dom), id);
    else
        g_hash_table_insert(dom->answered, g_strdup(id), g_memdup2(&now, sizeof(now)));
    if (++dom->responses_since_gc >= 16) {
        dom->responses_since_gc = 0;
        responses_gc(d, dom);
    }
}

static void respond_error(xmd *d, xmd_domain *dom, const char *id, const char *nonce,
                          const char *op, const char *error)
{
    char *v = maint__response_format_error(nonce, op, error);

    g_message("d%u (%s): request %s%s%s refused: %s", dom->domid,
              xmd_domain_label(dom), id, op ? " " : "", op ? op : "", error);
    if (v)
        respond(d, dom, id, v);
    free(v);
}

static void remove_request(xmd *d, xmd_domain *dom, const char *id)
{
    maint__port *port = &d->ctx->port;
    g_autofree char *path = g_strdup_printf(MAINT_XS_REQUEST_FMT, dom->domid, id);

    /* Our own removal fires the watch again: remember to ignore it. */
    g_hash_table_add(dom->removed, g_strdup(id));
    if (port->ops->xs_rm(port->priv, MAINT__XS_NO_TXN, path) < 0 && errno != ENOENT) {
        g_hash_table_remove(dom->removed, id);
        g_warning("d%u (%s): cannot remove %s: %s", dom->domid,
                  xmd_domain_label(dom), path, g_strerror(errno));
    }
}

static void handle(xmd *d, xmd_domain *dom, const char *id)
{
    maint__port *port = &d->ctx->port;
    g_autofree char *path = NULL;
    g_autofree char *result = NULL, *error = NULL;
    maint__request req;
    maint__args args;
    const xmd_op *op;
    char *value, *perr = NULL;
    unsigned len = 0;
    int rc;

    if (!maint__request_id_valid(id)) {
        /* No answer can be addressed to it: drop it, say so once. */
        g_message("d%u (%s): dropped a request with an invalid id (%zu bytes)",
                  dom->domid, xmd_domain_label(dom), strlen(id));
        remove_request(d, dom, id);
        return;
    }
    path = g_strdup_printf(MAINT_XS_REQUEST_FMT, dom->domid, id);
    value = port->ops->xs_read(port->priv, MAINT__XS_NO_TXN, path, &len);
    if (!value)
        return;                 /* withdrawn, or already served */

    maint__args_init(&args);
    rc = maint__request_parse(value, len, &req, &perr);
    free(value);
    if (rc) {
        respond_error(d, dom, id, req.nonce, NULL, perr ? perr : maint_strerror(rc));
        free(perr);
        maint__request_dispose(&req);
        remove_request(d, dom, id);
        return;
    }
    op = find_op(req.op);
    if (!req.nonce[0]) {
        /* An old client: it cannot check whose answer it reads. */
        respond_error(d, dom, id, NULL, req.op,
                      "request rejected: missing field 'nonce' (this xmaintd "
                      "speaks request protocol 2, xenstore-schema/xenstore-paths.md: "
                      "update the client's libmaint)");
    } else if (!op) {
        g_autofree char *known = known_ops();
        g_autofree char *msg = g_strdup_printf("unknown operation '%s' (known: %s)",
                                               req.op, known);
        respond_error(d, dom, id, req.nonce, req.op, msg);
    } else if (op->dom0_only && dom->domid != 0) {
        g_autofree char *msg = g_strdup_printf("operation '%s' is only for dom0",
                                               req.op);
        respond_error(d, dom, id, req.nonce, req.op, msg);
    } else if (op->rate_limited && !xmd_standby_rate_ok(d, dom->domid)) {
        g_autofree char *msg = g_strdup_printf("%s: too many requests: at most %d a second",
                                               req.op, XMD_GUEST_RATE_PER_S);
        respond_error(d, dom, id, req.nonce, req.op, msg);
    } else if (maint__args_parse(req.op, req.args, &args, &perr)) {
        respond_error(d, dom, id, req.nonce, req.op, perr);
    } else {
        rc = op->run(d, dom, &args, &result, &error);
        if (rc) {
            respond_error(d, dom, id, req.nonce, req.op, error ? error : maint_strerror(rc));
        } else {
            char *v = maint__response_format_ok(req.nonce, result);

            if (v)
                respond(d, dom, id, v);
            free(v);
            d->requests_served++;
            g_debug("d%u (%s): served %s (%s)", dom->domid, xmd_domain_label(dom),
                    req.op, id);
        }
    }
    free(perr);
    maint__args_dispose(&args);
    maint__request_dispose(&req);
    remove_request(d, dom, id);
}

void xmd_request_event(xmd *d, xmd_domain *dom, const char *id)
{
    if (g_hash_table_remove(dom->removed, id))
        return;                 /* the echo of our own removal */
    handle(d, dom, id);
}

static gboolean rescan_idle(gpointer data);

void xmd_requests_scan(xmd *d, xmd_domain *dom)
{
    maint__port *port = &d->ctx->port;
    g_autofree char *dir = g_strdup_printf(MAINT_XS_REQUEST_DIR_FMT, dom->domid);
    char **names = NULL;
    unsigned nr = 0, i;

    if (port->ops->xs_directory(port->priv, MAINT__XS_NO_TXN, dir, &names, &nr) < 0) {
        if (errno == ENOENT)
            xmd_domain_tree_lost(d, dom);   /* may free dom */
        return;
    }
    g_hash_table_remove_all(dom->removed);
    for (i = 0; i < nr && i < MAINT_XS_MAX_PENDING; i++)
        handle(d, dom, names[i]);
    free(names);
    if (nr > MAINT_XS_MAX_PENDING) {
        /* Serve the rest in later passes, so other domains get a turn. */
        struct rescan { xmd *d; uint32_t domid; } *r = g_new(struct rescan, 1);

        g_message("d%u (%s): %u requests pending; serving %u a pass",
                  dom->domid, xmd_domain_label(dom), nr, MAINT_XS_MAX_PENDING);
        r->d = d;
        r->domid = dom->domid;
        g_idle_add_full(G_PRIORITY_LOW, rescan_idle, r, g_free);
    }
}

static gboolean rescan_idle(gpointer data)
{
    struct rescan { xmd *d; uint32_t domid; } *r = data;
    xmd_domain *dom = r->d->domains ? xmd_domain_find(r->d, r->domid) : NULL;

    if (dom)
        xmd_requests_scan(r->d, dom);
    return G_SOURCE_REMOVE;
}
