/*
 * Applications moved between two domains' agents: the commands (stop,
 * start, the state copy over libxenvchan), the service address switched to
 * the instance that serves.  Workflows (wfsteps.c) and hot-standby pairs
 * (standby.c) both move applications this way; these calls block, so they
 * run in the callers' worker threads, each with its own library context.
 *
 * Fault injection for tests: XMAINT_FAULT=POINT (or POINT:after) makes the
 * daemon kill itself with SIGKILL when the point is reached (or passed).
 */
#define G_LOG_DOMAIN "xmaintd-appmove"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <unistd.h>

#include "xmaintd.h"
#include "schema.h"

#define CMD_TIMEOUT_MS      (120 * 1000)
#define ANSWER_TIMEOUT_MS   60000
#define VCHAN_TIMEOUT_MS    30000

void xmd_fault_point(const char *point, gboolean after)
{
    const char *f = g_getenv("XMAINT_FAULT");
    g_autofree char *want = NULL;

    if (!f)
        return;
    want = g_strdup_printf("%s%s", point, after ? ":after" : "");
    if (!strcmp(f, want)) {
        g_warning("XMAINT_FAULT=%s: killing xmaintd here", f);
        kill(getpid(), SIGKILL);
    }
}

/* An agent command as JSON, its strings escaped: {"op":..,"app":..[,"placed":true]} */
static char *command_json(const char *op, const char *app, gboolean placed)
{
    maint__json *j = maint__json_new();

    maint__json_map_open(j);
    maint__json_kv_string(j, "op", op);
    maint__json_kv_string(j, "app", app);
    if (placed) {
        maint__json_kv_bool(j, "placed", true);
    }
    maint__json_map_close(j);
    return xmd_json_finish(j);
}

gboolean xmd_agent_cmd(maint_ctx *ctx, uint32_t domid, const char *json, unsigned timeout_ms,
                       GError **error)
{
    char *err = NULL;
    int rc = maint_agent_command(ctx, domid, json, timeout_ms, &err);

    if (rc != MAINT_OK) {
        g_set_error(error, XMD_ERROR, 1, "d%u's agent: %s: %s", domid, json,
                    err ? err : maint_strerror(rc));
        free(err);
        return FALSE;
    }
    return TRUE;
}

gboolean xmd_app_cmd(maint_ctx *ctx, uint32_t domid, const char *op, const char *app,
                     unsigned timeout_ms, GError **error)
{
    g_autofree char *json = command_json(op, app, FALSE);

    return xmd_agent_cmd(ctx, domid, json, timeout_ms, error);
}

gboolean xmd_app_cmd_send(maint_ctx *ctx, uint32_t domid, const char *op, const char *app,
                          gboolean placed, char *seq, size_t n)
{
    g_autofree char *json = command_json(op, app, placed);

    return maint_agent_command_send(ctx, domid, json, seq, n) == MAINT_OK;
}

static void say(const xmd_appmove *m, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void say(const xmd_appmove *m, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    if (!m->say)
        return;
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    m->say(m->user, msg);
}

/* TCP connect to addr:port within timeout (the new instance answers). */
static gboolean port_answers(const char *addr, unsigned port, unsigned timeout_ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    do {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        int err = 1;
        socklen_t len = sizeof(err);

        if (fd < 0)
            return FALSE;
        inet_pton(AF_INET, addr, &sa.sin_addr);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            err = 0;
        else if (errno == EINPROGRESS && poll(&p, 1, 1000) == 1)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        close(fd);
        if (err == 0)
            return TRUE;
        g_usleep(200000);
    } while (g_get_monotonic_time() < end);
    return FALSE;
}

/* The instance in dst answers on the application's port (when its agent
 * tells dst's address; require_addr: it must). */
static gboolean answers(const xmd_appmove *m, const maint_app *a, const char *dst_name,
                        uint32_t dst, gboolean require_addr, GError **error)
{
    char addr[INET_ADDRSTRLEN];

    if (maint_agent_addr(m->ctx, dst, addr, sizeof(addr)) != MAINT_OK) {
        if (require_addr)
            g_set_error(error, XMD_ERROR, 1, "%s has no address from its agent", dst_name);
        return !require_addr;
    }
    if (!port_answers(addr, a->port, ANSWER_TIMEOUT_MS)) {
        g_set_error(error, XMD_ERROR, 1, "%s in %s does not answer on %s:%u", a->name,
                    dst_name, addr, a->port);
        return FALSE;
    }
    return TRUE;
}

/* Wait until the target's ~/xmaint/vchan/SEQ/ring-ref exists. */
static gboolean vchan_ready(maint_ctx *ctx, uint32_t domid, const char *seq,
                            unsigned timeout_ms)
{
    g_autofree char *p = g_strdup_printf(MAINT_XS_VCHAN_RING_FMT, domid, seq);
    gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    do {
        unsigned len;
        char *v = ctx->port.ops->xs_read(ctx->port.priv, MAINT__XS_NO_TXN, p, &len);
        if (v) {
            free(v);
            return TRUE;
        }
        g_usleep(50000);
    } while (g_get_monotonic_time() < end);
    return FALSE;
}

/* Redirect mode: the new instance starts, answers, takes the service
 * address; the old one drains and stops. */
static gboolean move_redirect(const xmd_appmove *m, const maint_app *a, const char *src_name,
                              uint32_t src, const char *dst_name, uint32_t dst,
                              gboolean src_alive, GError **error)
{
    say(m, "%s: starting the instance in %s", a->name, dst_name);
    if (!xmd_app_cmd(m->ctx, dst, "start", a->name, CMD_TIMEOUT_MS, error) ||
        !answers(m, a, dst_name, dst, TRUE, error))
        return FALSE;
    xmd_fault_point("switch", FALSE);
    if (xmd_service_retarget(m->d, m->ctx, a->name, src_name, dst_name, error) < 0)
        return FALSE;
    xmd_fault_point("switch", TRUE);
    say(m, "%s: requests go to %s; draining %s for %u ms", a->name, dst_name, src_name,
        m->drain_ms);
    g_usleep((gulong)m->drain_ms * 1000);
    return !src_alive || xmd_app_cmd(m->ctx, src, "stop", a->name, CMD_TIMEOUT_MS, error);
}

/* The state command seq in domain `name` (domid) is through: "<name>
 * could not <verb> <app>'s state" when it failed. */
static gboolean state_done(const xmd_appmove *m, uint32_t domid, const char *seq,
                           const char *name, const char *verb, const maint_app *a,
                           GError **error)
{
    char *err = NULL;
    int rc = maint_agent_command_wait(m->ctx, domid, seq, CMD_TIMEOUT_MS, &err);

    if (rc == MAINT_OK)
        return TRUE;
    g_set_error(error, XMD_ERROR, 1, "%s could not %s %s's state: %s", name, verb, a->name,
                err ? err : maint_strerror(rc));
    free(err);
    return FALSE;
}

/* State / checkpoint mode: the agents copy the stopped application's state
 * from src to dst over libxenvchan. */
static gboolean copy_state(const xmd_appmove *m, const maint_app *a, const char *src_name,
                           uint32_t src, const char *dst_name, uint32_t dst, GError **error)
{
    char send_seq[24], recv_seq[24], *err = NULL;
    g_autofree char *recv = NULL, *send = NULL, *path = NULL;

    say(m, "%s: copying its state from %s to %s", a->name, src_name, dst_name);
    recv = g_strdup_printf("{\"op\":\"state-recv\",\"app\":\"%s\",\"peer\":%u}", a->name, src);
    if (maint_agent_command_send(m->ctx, dst, recv, recv_seq, sizeof(recv_seq)) != MAINT_OK) {
        g_set_error(error, XMD_ERROR, 1, "cannot ask %s to receive", dst_name);
        return FALSE;
    }
    if (!vchan_ready(m->ctx, dst, recv_seq, VCHAN_TIMEOUT_MS)) {
        maint_agent_command_wait(m->ctx, dst, recv_seq, 1000, &err);
        g_set_error(error, XMD_ERROR, 1, "%s does not listen for %s's state: %s", dst_name,
                    a->name, err ? err : "no channel");
        free(err);
        return FALSE;
    }
    path = g_strdup_printf(MAINT_XS_VCHAN_FMT, dst, recv_seq);
    send = g_strdup_printf("{\"op\":\"state-send\",\"app\":\"%s\",\"peer\":%u,\"path\":\"%s\"}",
                           a->name, dst, path);
    if (maint_agent_command_send(m->ctx, src, send, send_seq, sizeof(send_seq)) != MAINT_OK) {
        g_set_error(error, XMD_ERROR, 1, "cannot ask %s to send", src_name);
        return FALSE;
    }
    if (!state_done(m, src, send_seq, src_name, "send", a, error)) {
        maint_agent_command_wait(m->ctx, dst, recv_seq, 5000, NULL);
        return FALSE;
    }
    return state_done(m, dst, recv_seq, dst_name, "take", a, error);
}

/* A state move that failed after the application stopped in src: it is
 * started there again (its state is still there) rather than left running
 * nowhere (a failure past a workflow's point of no return, with no
 * rollback after it, left it so).  FALSE: the move failed all the same. */
static gboolean restart_in_src(const xmd_appmove *m, const maint_app *a, const char *src_name,
                               uint32_t src)
{
    g_autoptr(GError) e = NULL;

    say(m, "%s: not moved; starting it in %s again", a->name, src_name);
    if (!xmd_app_cmd(m->ctx, src, "start", a->name, CMD_TIMEOUT_MS, &e))
        g_warning("%s: cannot start it in %s again: %s", a->name, src_name, e->message);
    return FALSE;
}

gboolean xmd_app_move(const xmd_appmove *m, const maint_app *a, const char *src_name,
                      uint32_t src, const char *dst_name, uint32_t dst, gboolean src_alive,
                      GError **error)
{
    char st[16];

    if (maint_agent_app_status(m->ctx, dst, a->name, st, sizeof(st)) != MAINT_OK)
        snprintf(st, sizeof(st), "unknown");
    if (!strcmp(st, "running")) {
        /* moved before a restart: make sure the rest holds */
        if (xmd_service_retarget(m->d, m->ctx, a->name, src_name, dst_name, error) < 0)
            return FALSE;
        return !src_alive || xmd_app_cmd(m->ctx, src, "stop", a->name, CMD_TIMEOUT_MS, error);
    }
    if (a->mode == MAINT_APP_REDIRECT)
        return move_redirect(m, a, src_name, src, dst_name, dst, src_alive, error);
    /* state / checkpoint: stop, copy, start */
    if (src_alive) {
        say(m, "%s: stopping it in %s", a->name, src_name);
        if (!xmd_app_cmd(m->ctx, src, "stop", a->name, CMD_TIMEOUT_MS, error))
            return FALSE;
        xmd_fault_point("transfer", FALSE);
        if (!copy_state(m, a, src_name, src, dst_name, dst, error))
            return restart_in_src(m, a, src_name, src);
    }
    say(m, "%s: starting it in %s", a->name, dst_name);
    if (!xmd_app_cmd(m->ctx, dst, "start", a->name, CMD_TIMEOUT_MS, error))
        return src_alive ? restart_in_src(m, a, src_name, src) : FALSE;
    /* an application with a service address: its traffic follows it */
    if (a->port && (!answers(m, a, dst_name, dst, FALSE, error) ||
                    xmd_service_retarget(m->d, m->ctx, a->name, src_name, dst_name, error) < 0))
        return FALSE;
    return TRUE;
}
