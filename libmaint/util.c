/* Logging, error strings and small helpers. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>

#include "internal.h"

MAINT_EXPORT const char *maint_strerror(int rc)
{
    switch (rc) {
    case MAINT_OK: return "success";
    case MAINT_ERROR_FAIL: return "operation failed";
    case MAINT_ERROR_INVAL: return "invalid argument";
    case MAINT_ERROR_NOMEM: return "out of memory";
    case MAINT_ERROR_NOENT: return "no such object";
    case MAINT_ERROR_XENSTORE: return "xenstore access failed";
    case MAINT_ERROR_HYPERVISOR: return "hypervisor call failed";
    case MAINT_ERROR_TOOBIG: return "too large";
    case MAINT_ERROR_PERM: return "permission denied";
    case MAINT_ERROR_BUSY: return "busy";
    case MAINT_ERROR_TIMEOUT: return "timed out";
    case MAINT_ERROR_PROTOCOL: return "protocol error";
    case MAINT_ERROR_REMOTE: return "the daemon reported an error";
    case MAINT_ERROR_UNAVAILABLE: return "hypervisor not available";
    default: return "unknown error";
    }
}

MAINT_EXPORT const char *maint_version(void)
{
    return PACKAGE_VERSION;
}

void maint__log(xentoollog_logger *lg, xentoollog_level lvl, int errnoval,
                const char *file, int line, const char *func, long domid,
                const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    int saved = errno;

    if (!lg) {
        errno = saved;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (domid >= 0)
        xtl_log(lg, lvl, errnoval, "libmaint", "%s:%d:%s: d%ld: %s",
                file, line, func, domid, msg);
    else
        xtl_log(lg, lvl, errnoval, "libmaint", "%s:%d:%s: %s",
                file, line, func, msg);
    errno = saved;
}

char *maint__sprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int r;

    va_start(ap, fmt);
    r = vasprintf(&s, fmt, ap);
    va_end(ap);
    return r < 0 ? NULL : s;
}

int64_t maint__now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int maint__ms_left(int64_t deadline_ms)
{
    int64_t left = deadline_ms - maint__now_ms();

    return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

const libxl_childproc_hooks maint__libxl_childproc = {
    .chldowner = libxl_sigchld_owner_libxl_always_selective_reap,
};

int maint__child_wait(pid_t pid, int *status_r)
{
    int status = 0;
    pid_t r;

    if (pid <= 0) {
        errno = EINVAL;
        return -1;
    }
    do
        r = waitpid(pid, &status, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -1;
    if (status_r)
        *status_r = status;
    return 0;
}

int maint__xs_transaction(maint__port *port,
                          int (*body)(maint__port *port, uint32_t txn, void *user),
                          void *user)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        uint32_t t;
        int saved;

        if (port->ops->xs_txn_start(port->priv, &t) < 0)
            return -1;
        if (body(port, t, user) < 0) {
            saved = errno;
            port->ops->xs_txn_end(port->priv, t, true);
            errno = saved;
            return -1;
        }
        if (port->ops->xs_txn_end(port->priv, t, false) == 0)
            return 0;
        if (errno != EAGAIN)
            return -1;
    }
    errno = EAGAIN;
    return -1;
}
