/* Host information: physinfo, CPU topology, NUMA, and the host identity. */
#include <cpuid.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "schema.h"

MAINT_EXPORT void maint_host_info_init(maint_host_info *info)
{
    memset(info, 0, sizeof(*info));
}

MAINT_EXPORT void maint_host_info_dispose(maint_host_info *info)
{
    if (!info)
        return;
    free(info->xen_version);
    free(info->host_id);
    free(info->cpu_signature);
    free(info->cpus);
    free(info->nodes);
    maint_host_info_init(info);
}

/* FNV-1a, for a short digest of the feature words. */
static uint32_t fnv1a(uint32_t h, const void *data, size_t len)
{
    const unsigned char *p = data;

    while (len--) {
        h ^= *p++;
        h *= 16777619u;
    }
    return h;
}

/*
 * What a guest's code may depend on: vendor, family/model/stepping, the
 * feature words and the shape of the host.  Two hosts with the same
 * signature need no post-migration patching.
 */
char *maint__cpu_signature(const maint_host_info *info)
{
    unsigned a = 0, b = 0, c = 0, d = 0, family, model, stepping;
    uint32_t words[4], h = 2166136261u;
    char vendor[13];

    __cpuid(0, a, b, c, d);
    memcpy(vendor, &b, 4);
    memcpy(vendor + 4, &d, 4);
    memcpy(vendor + 8, &c, 4);
    vendor[12] = '\0';
    __cpuid(1, a, b, c, d);
    family = (a >> 8) & 0xf;
    model = (a >> 4) & 0xf;
    stepping = a & 0xf;
    if (family == 0xf)
        family += (a >> 20) & 0xff;
    if (family >= 6)
        model |= ((a >> 16) & 0xf) << 4;
    words[0] = c;
    words[1] = d;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        words[2] = b;
        words[3] = c;
    } else {
        words[2] = words[3] = 0;
    }
    h = fnv1a(h, words, sizeof(words));
    return maint__sprintf("%s-%u-%u-%u-%ut%uc%un-%08x", vendor, family, model,
                          stepping, info->threads_per_core,
                          info->cores_per_socket, info->nr_nodes, h);
}

MAINT_EXPORT int maint_host_info_get(maint_ctx *ctx, maint_host_info *info_r)
{
    char *path;
    unsigned len = 0;
    int rc;

    if (!ctx || !info_r)
        return MAINT_ERROR_INVAL;
    maint_host_info_init(info_r);
    rc = ctx->port.ops->host_info(ctx->port.priv, info_r);
    if (rc) {
        maint_host_info_dispose(info_r);
        return rc;
    }
    info_r->cpu_signature = maint__cpu_signature(info_r);
    /* The identity is the daemon's: read what it published, if it runs. */
    path = maint__sprintf(MAINT_XS_HOST_ID_FMT, ctx->self_domid);
    if (path) {
        info_r->host_id = ctx->port.ops->xs_read(ctx->port.priv, MAINT__XS_NO_TXN,
                                                 path, &len);
        free(path);
    }
    return MAINT_OK;
}

#define HOST(member, type) MAINT__OF(maint_host_info, member, type)
static const maint__ofield host_fields[] = {
    HOST(xen_version, STRP), HOST(host_id, STRP), HOST(cpu_signature, STRP),
    HOST(nr_cpus, U32), HOST(threads_per_core, U32), HOST(cores_per_socket, U32),
    HOST(cpu_khz, U32), HOST(total_kb, U64), HOST(free_kb, U64),
};

MAINT_EXPORT char *maint_host_info_to_json(const maint_host_info *info)
{
    maint__json *j = maint__json_new();
    unsigned i;

    if (!j)
        return NULL;
    maint__json_map_open(j);
    maint__json_kv_struct(j, info, host_fields, sizeof(host_fields) / sizeof(host_fields[0]));
    maint__json_key(j, "virt_caps");
    maint__json_array_open(j);
    if (info->pv)
        maint__json_string(j, "pv");
    if (info->hvm)
        maint__json_string(j, "hvm");
    if (info->hap)
        maint__json_string(j, "hap");
    maint__json_array_close(j);
    maint__json_key(j, "cpus");
    maint__json_array_open(j);
    for (i = 0; info->cpus && i < info->nr_cpus; i++) {
        maint__json_map_open(j);
        maint__json_kv_uint(j, "cpu", i);
        maint__json_kv_uint(j, "core", info->cpus[i].core);
        maint__json_kv_uint(j, "socket", info->cpus[i].socket);
        maint__json_kv_uint(j, "node", info->cpus[i].node);
        maint__json_map_close(j);
    }
    maint__json_array_close(j);
    maint__json_key(j, "numa_nodes");
    maint__json_array_open(j);
    for (i = 0; info->nodes && i < info->nr_nodes; i++) {
        maint__json_map_open(j);
        maint__json_kv_uint(j, "node", i);
        maint__json_kv_uint(j, "size_kb", info->nodes[i].size_kb);
        maint__json_kv_uint(j, "free_kb", info->nodes[i].free_kb);
        maint__json_map_close(j);
    }
    maint__json_array_close(j);
    maint__json_map_close(j);
    return maint__json_finish(j);
}
