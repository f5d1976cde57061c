/*
 * What the tests against the real xenstored and xmaintd share: a fresh
 * xenstored (tests/xsd/), a work directory with xmaintd's state directory
 * and log path, a xenstore handle and a libmaint context; and the teardown,
 * which keeps the work directory of a failed run (or with XSD_KEEP) and
 * turns the failure count into the exit status (0, 1, 99; 77 at setup).
 */
#ifndef XMAINT_TESTS_DAEMON_ENV_H
#define XMAINT_TESTS_DAEMON_ENV_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <glib.h>
#include <xenstore.h>

#include "internal.h"
#include "xsd.h"

struct daemon_env {
    struct xsd *xsd;
    struct xs_handle *xs;
    maint_ctx *ctx;
    char *workdir, *state_dir, *log_path;
};

/* 0, or the exit status to leave with (77: no xenstored). */
static inline int daemon_env_open(struct daemon_env *e, const char *tmpl)
{
    int rc = xsd_start(&e->xsd);

    if (rc)
        return xsd_exit_code(rc);
    e->workdir = g_dir_make_tmp(tmpl, NULL);
    e->state_dir = g_build_filename(e->workdir, "state", NULL);
    e->log_path = g_build_filename(e->workdir, "xmaintd.log", NULL);
    e->xs = xsd_open(e->xsd);
    if (!e->xs || maint_ctx_open(&e->ctx, NULL, MAINT_CTX_NO_LIBXL)) {
        fprintf(stderr, "cannot reach the test xenstored\n");
        return 99;
    }
    return 0;
}

/* Is xmaintd pid up (its pid published) within 5 s? */
static inline bool daemon_env_wait_up(struct daemon_env *e, long pid)
{
    for (int i = 0; i < 500; i++) {
        unsigned len;
        char *v = xs_read(e->xs, XBT_NULL, "/local/domain/0/xmaint/daemon/pid", &len);
        bool up = v && atol(v) == pid;

        free(v);
        if (up)
            return true;
        g_usleep(10000);
    }
    return false;
}

/* Stop the daemon *pid (if running) with sig and reap it: its wait status,
 * or -1. */
static inline int daemon_env_stop(int *pid, int sig)
{
    int status = -1;

    if (*pid <= 0)
        return -1;
    kill(*pid, sig);
    waitpid(*pid, &status, 0);
    *pid = 0;
    return status;
}

/* Tear down after `failed` failures (-1: CUnit failed); the exit status. */
static inline int daemon_env_close(struct daemon_env *e, int failed)
{
    maint_ctx_close(e->ctx);
    xs_close(e->xs);
    xsd_stop(e->xsd);
    if (!failed && !getenv("XSD_KEEP")) {
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", e->workdir);
        if (system(cmd)) { /* best effort */ }
    } else {
        fprintf(stderr, "daemon log kept in %s\n", e->log_path);
    }
    return failed < 0 ? 99 : failed ? 1 : 0;
}

#endif
