/* The context: a port (xenstore + libxl) and a logger. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "schema.h"

/* A logger that drops everything, for callers that pass none. */
static void null_vmessage(struct xentoollog_logger *lg, xentoollog_level level,
                          int errnoval, const char *context, const char *format,
                          va_list al)
{
}

static void null_progress(struct xentoollog_logger *lg, const char *context,
                          const char *doing_what, int percent,
                          unsigned long done, unsigned long total)
{
}

static void null_destroy(struct xentoollog_logger *lg)
{
}

static xentoollog_logger null_logger = {
    .vmessage = null_vmessage,
    .progress = null_progress,
    .destroy = null_destroy,
};

/* Our own domid: 0 in dom0; in a guest, xenstore's relative root tells. */
static uint32_t discover_self_domid(maint__port *port)
{
    unsigned len = 0;
    char *v = port->ops->xs_read(port->priv, MAINT__XS_NO_TXN, MAINT_XS_SELF_DOMID, &len);
    uint32_t domid = 0;

    if (v && len > 0 && len < 6) {
        char *end;
        unsigned long d = strtoul(v, &end, 10);
        if (*end == '\0' && d < 0x7ff0)
            domid = (uint32_t)d;
    }
    free(v);
    return domid;
}

int maint__ctx_from_port(maint_ctx **ctx_r, xentoollog_logger *lg,
                         const maint__port *port)
{
    maint_ctx *ctx = calloc(1, sizeof(*ctx));

    if (!ctx)
        return MAINT_ERROR_NOMEM;
    ctx->lg = lg ? lg : &null_logger;
    ctx->port = *port;
    ctx->self_domid = discover_self_domid(&ctx->port);
    ctx->reap_wait_ms = 10000;
    *ctx_r = ctx;
    return MAINT_OK;
}

MAINT_EXPORT int maint_ctx_open(maint_ctx **ctx_r, xentoollog_logger *lg,
                                unsigned flags)
{
    maint__port port;
    int rc;

    if (!ctx_r || (flags & ~(MAINT_CTX_NO_LIBXL | MAINT__CTX_CALLER_HOOKS)))
        return MAINT_ERROR_INVAL;
    *ctx_r = NULL;
    if (!lg)
        lg = &null_logger;
    rc = maint__port_xen_open(&port, lg, flags);
    if (rc)
        return rc;
    rc = maint__ctx_from_port(ctx_r, lg, &port);
    if (rc) {
        port.ops->close(port.priv);
        return rc;
    }
    (*ctx_r)->flags = flags;
    return MAINT_OK;
}

MAINT_EXPORT void maint_ctx_close(maint_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->port.ops)
        ctx->port.ops->close(ctx->port.priv);
    for (unsigned i = 0; i < sizeof(ctx->paths) / sizeof(ctx->paths[0]); i++)
        free(ctx->paths[i]);
    free(ctx);
}

MAINT_EXPORT int maint_ctx_set_path(maint_ctx *ctx, maint_ctx_path which, const char *path)
{
    char *copy = NULL;

    if (!ctx || (unsigned)which >= sizeof(ctx->paths) / sizeof(ctx->paths[0]))
        return MAINT_ERROR_INVAL;
    if (path) {
        size_t n = strnlen(path, 1025);

        if (path[0] != '/' || n > 1024)
            return MAINT_ERROR_INVAL;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f)
                return MAINT_ERROR_INVAL;
        if (!(copy = strdup(path)))
            return MAINT_ERROR_NOMEM;
    }
    free(ctx->paths[which]);
    ctx->paths[which] = copy;
    return MAINT_OK;
}

const char *maint__ctx_path(const maint_ctx *ctx, maint_ctx_path which)
{
    static const char *const defaults[] = {
        [MAINT_PATH_PCI_HOLE_SHIM] = PKGLIBEXECDIR "/xmaint-pci-hole",
        [MAINT_PATH_LOG_DIR] = "/var/log/xen",
        [MAINT_PATH_CONSOLE_LOG_DIR] = "/var/log/xen/console",
    };

    return ctx->paths[which] ? ctx->paths[which] : defaults[which];
}

MAINT_EXPORT int maint_ctx_set_reap_wait(maint_ctx *ctx, unsigned ms)
{
    if (!ctx || ms > 600000)
        return MAINT_ERROR_INVAL;
    ctx->reap_wait_ms = ms;
    return MAINT_OK;
}
