/* Domains: listing, lookup, live configuration, JSON. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

MAINT_EXPORT const char *maint_domain_type_name(maint_domain_type t)
{
    switch (t) {
    case MAINT_DOMAIN_TYPE_PV: return "pv";
    case MAINT_DOMAIN_TYPE_PVH: return "pvh";
    case MAINT_DOMAIN_TYPE_HVM: return "hvm";
    default: return "unknown";
    }
}

MAINT_EXPORT const char *maint_domain_state_name(maint_domain_state s)
{
    switch (s) {
    case MAINT_DOMAIN_STATE_RUNNING: return "running";
    case MAINT_DOMAIN_STATE_BLOCKED: return "blocked";
    case MAINT_DOMAIN_STATE_PAUSED: return "paused";
    case MAINT_DOMAIN_STATE_SHUTDOWN: return "shutdown";
    case MAINT_DOMAIN_STATE_CRASHED: return "crashed";
    case MAINT_DOMAIN_STATE_DYING: return "dying";
    default: return "unknown";
    }
}

MAINT_EXPORT void maint_domain_info_init(maint_domain_info *info)
{
    memset(info, 0, sizeof(*info));
}

MAINT_EXPORT void maint_domain_info_dispose(maint_domain_info *info)
{
    if (!info)
        return;
    free(info->name);
    maint_domain_info_init(info);
}

MAINT_EXPORT void maint_domain_list_free(maint_domain_info *list, unsigned nr)
{
    unsigned i;

    if (!list)
        return;
    for (i = 0; i < nr; i++)
        maint_domain_info_dispose(&list[i]);
    free(list);
}

MAINT_EXPORT int maint_domain_list(maint_ctx *ctx, maint_domain_info **list_r,
                                   unsigned *nr_r)
{
    int n = 0, rc;

    if (!ctx || !list_r || !nr_r)
        return MAINT_ERROR_INVAL;
    *list_r = NULL;
    *nr_r = 0;
    rc = ctx->port.ops->domain_list(ctx->port.priv, list_r, &n);
    if (rc == MAINT_OK)
        *nr_r = n > 0 ? (unsigned)n : 0;   /* the port's count is an int */
    return rc;
}

MAINT_EXPORT int maint_domain_info_get(maint_ctx *ctx, uint32_t domid,
                                       maint_domain_info *info_r)
{
    if (!ctx || !info_r)
        return MAINT_ERROR_INVAL;
    maint_domain_info_init(info_r);
    return ctx->port.ops->domain_info(ctx->port.priv, domid, info_r);
}

MAINT_EXPORT int maint_domain_lookup(maint_ctx *ctx, const char *name_or_id,
                                     uint32_t *domid_r)
{
    maint_domain_info *list = NULL;
    unsigned nr = 0, i;
    int rc;
    char *end;
    unsigned long id;

    if (!ctx || !name_or_id || !*name_or_id || !domid_r)
        return MAINT_ERROR_INVAL;
    errno = 0;
    id = strtoul(name_or_id, &end, 10);
    if (*end == '\0' && errno == 0 && id < 0x7ff0 && name_or_id[0] != '-') {
        maint_domain_info info;

        rc = maint_domain_info_get(ctx, (uint32_t)id, &info);
        maint_domain_info_dispose(&info);
        if (rc == MAINT_OK)
            *domid_r = (uint32_t)id;
        else if (rc == MAINT_ERROR_NOENT)
            LOGD(ctx->lg, ERROR, id, "no such domain");
        return rc;
    }
    rc = maint_domain_list(ctx, &list, &nr);
    if (rc)
        return rc;
    rc = MAINT_ERROR_NOENT;
    for (i = 0; i < nr; i++) {
        if (list[i].name && !strcmp(list[i].name, name_or_id)) {
            *domid_r = list[i].domid;
            rc = MAINT_OK;
            break;
        }
    }
    if (rc)
        LOG(ctx->lg, ERROR, "no domain named '%s'", name_or_id);
    maint_domain_list_free(list, nr);
    return rc;
}

MAINT_EXPORT int maint_domain_config_json(maint_ctx *ctx, uint32_t domid,
                                          char **json_r)
{
    if (!ctx || !json_r)
        return MAINT_ERROR_INVAL;
    *json_r = NULL;
    return ctx->port.ops->domain_config_json(ctx->port.priv, domid, json_r);
}

#define DOM(member, type) MAINT__OF(maint_domain_info, member, type)
static const maint__ofield who[] = { DOM(domid, U32), DOM(name, STRP), DOM(uuid, STRA) };
static const maint__ofield sizes[] = {
    DOM(mem_target_kb, U64), DOM(mem_actual_kb, U64), DOM(mem_max_kb, U64),
    DOM(vcpus_online, U32), DOM(vcpus_max, U32), DOM(cpu_time_ns, U64),
};

static void gen_domain(maint__json *j, const maint_domain_info *d)
{
    maint__json_map_open(j);
    maint__json_kv_struct(j, d, who, 3);
    maint__json_kv_string(j, "state", maint_domain_state_name(d->state));
    maint__json_kv_string(j, "type", maint_domain_type_name(d->type));
    maint__json_kv_struct(j, d, sizes, 6);
    maint__json_map_close(j);
}

MAINT_EXPORT char *maint_domain_list_to_json(const maint_domain_info *list, unsigned nr)
{
    maint__json *j = maint__json_new();
    unsigned i;

    if (!j)
        return NULL;
    maint__json_array_open(j);
    for (i = 0; i < nr; i++)
        gen_domain(j, &list[i]);
    maint__json_array_close(j);
    return maint__json_finish(j);
}

int maint__domain_list_json(maint__port *port, char **json_r)
{
    maint_domain_info *list = NULL;
    int nr = 0, rc;

    *json_r = NULL;
    rc = port->ops->domain_list(port->priv, &list, &nr);
    if (rc)
        return rc;
    *json_r = maint_domain_list_to_json(list, nr > 0 ? (unsigned)nr : 0);
    maint_domain_list_free(list, nr > 0 ? (unsigned)nr : 0);
    return *json_r ? MAINT_OK : MAINT_ERROR_NOMEM;
}

bool maint__domain_down(maint__port *port, uint32_t domid, const char **what_r)
{
    maint_domain_info info;
    bool down = true;
    const char *what = "gone";
    int rc;

    maint_domain_info_init(&info);
    rc = port->ops->domain_info(port->priv, domid, &info);
    if (rc == MAINT_OK) {
        what = maint_domain_state_name(info.state);
        down = info.state == MAINT_DOMAIN_STATE_SHUTDOWN ||
               info.state == MAINT_DOMAIN_STATE_DYING ||
               info.state == MAINT_DOMAIN_STATE_CRASHED;
    } else if (rc != MAINT_ERROR_NOENT) {
        what = "unknown";                 /* cannot tell: not known to be down */
        down = false;
    }
    maint_domain_info_dispose(&info);
    if (what_r)
        *what_r = what;
    return down;
}
