/* Service addresses through the typed API (service-add, -remove, -list). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "internal.h"

struct maint_service_info {
    char *app, *vip, *domain, *addr;
    uint64_t port;
    char *json;                   /* as xmaintd answered */
};

#define SVC_FIELD(key, type, req, member) \
    { key, MAINT__J_##type, req, offsetof(struct maint_service_info, member) }
static const maint__jfield svc_fields[] = {
    SVC_FIELD("app", STR, true, app),
    SVC_FIELD("vip", STR, true, vip),
    SVC_FIELD("port", UINT, true, port),
    SVC_FIELD("domain", STR, true, domain),
    SVC_FIELD("addr", STR, false, addr),
};

static void service_free(void *item)
{
    maint_service_info *s = item;

    if (!s)
        return;
    free(s->app);
    free(s->vip);
    free(s->domain);
    free(s->addr);
    free(s->json);
    free(s);
}

MAINT_EXPORT void maint_service_info_list_free(maint_service_info **list, unsigned nr)
{
    for (unsigned i = 0; list && i < nr; i++)
        service_free(list[i]);
    free(list);
}

MAINT_EXPORT const char *maint_service_info_app(const maint_service_info *s) { return s->app; }
MAINT_EXPORT const char *maint_service_info_vip(const maint_service_info *s) { return s->vip; }
MAINT_EXPORT const char *maint_service_info_domain(const maint_service_info *s) { return s->domain; }
MAINT_EXPORT const char *maint_service_info_addr(const maint_service_info *s) { return s->addr; }

MAINT_EXPORT unsigned maint_service_info_port(const maint_service_info *s)
{
    return (unsigned)s->port;
}

static const char *service_json(const void *item)
{
    return ((const maint_service_info *)item)->json;
}

MAINT_EXPORT char *maint_service_info_list_to_json(maint_service_info *const *list,
                                                   unsigned nr)
{
    return maint__json_array_raw((void *const *)list, nr, service_json);
}

static void *service_parse(xentoollog_logger *lg, yajl_val obj, int *rc_r)
{
    maint_service_info *s = calloc(1, sizeof(*s));

    *rc_r = s ? maint__json_fields(lg, "service", obj, svc_fields,
                                   sizeof(svc_fields) / sizeof(svc_fields[0]), s)
              : MAINT_ERROR_NOMEM;
    if (!*rc_r && s->port > 65535) {
        LOG(lg, ERROR, "service %s: port %llu is not a port", s->app,
            (unsigned long long)s->port);
        *rc_r = MAINT_ERROR_PROTOCOL;
    }
    if (!*rc_r && !(s->json = maint__json_text(obj)))
        *rc_r = MAINT_ERROR_NOMEM;
    if (*rc_r) {
        service_free(s);
        return NULL;
    }
    return s;
}

/*
 * Send op with a (built with build_rc, why; NULL: no arguments); the
 * services xmaintd answers with into list_r/nr_r (both NULL, or both not).
 */
static int services_send(maint_ctx *ctx, const char *op, maint__args *a, int build_rc,
                         char *why, unsigned timeout_ms, maint_service_info ***list_r,
                         unsigned *nr_r, char **error_r)
{
    yajl_val result = NULL;
    int rc;

    if (error_r)
        *error_r = NULL;
    if (list_r && nr_r) {
        *list_r = NULL;
        *nr_r = 0;
    }
    if (!ctx || (!list_r) != (!nr_r)) {
        free(why);
        maint__args_dispose(a);
        return MAINT_ERROR_INVAL;
    }
    rc = maint__call_built(ctx, op, a, build_rc, why, timeout_ms ? timeout_ms : 20000,
                           &result, error_r);
    if (!rc && list_r)
        rc = maint__parse_array(ctx->lg, op, result, service_parse, service_free,
                                (void ***)list_r, nr_r);
    yajl_tree_free(result);
    return rc;
}

MAINT_EXPORT int maint_service_list(maint_ctx *ctx, unsigned timeout_ms,
                                    maint_service_info ***list_r, unsigned *nr_r)
{
    if (!list_r || !nr_r)
        return MAINT_ERROR_INVAL;
    return services_send(ctx, "service-list", NULL, MAINT_OK, NULL, timeout_ms, list_r,
                         nr_r, NULL);
}

MAINT_EXPORT int maint_service_add(maint_ctx *ctx, const char *app, const char *vip,
                                   unsigned port, const char *domain, unsigned timeout_ms,
                                   maint_service_info ***list_r, unsigned *nr_r,
                                   char **error_r)
{
    maint__args a;
    char *why = NULL;
    int rc;

    rc = maint__args_build(&a, "service-add", &why, "s:app", app, "s:vip", vip,
                           "i:port", (long long)port, "s:domain", domain, NULL);
    if (!rc && !maint_app_name_valid(app)) {
        why = maint__sprintf("service-add: argument 'app': '%s' is not an application "
                             "name", app);
        rc = MAINT_ERROR_INVAL;
    }
    return services_send(ctx, "service-add", &a, rc, why, timeout_ms, list_r, nr_r, error_r);
}

MAINT_EXPORT int maint_service_remove(maint_ctx *ctx, const char *app, unsigned timeout_ms,
                                      maint_service_info ***list_r, unsigned *nr_r,
                                      char **error_r)
{
    maint__args a;
    char *why = NULL;
    int rc;

    rc = maint__args_build(&a, "service-remove", &why, "s:app", app, NULL);
    return services_send(ctx, "service-remove", &a, rc, why, timeout_ms, list_r, nr_r,
                         error_r);
}
