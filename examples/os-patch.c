/*
 * A toolstack's view of a workflow: start an os-patch of a domain (the
 * system is patched in a substitute, the applications move to it), follow
 * its progress events in our own poll() loop, and wait for the end.
 * Ctrl-C asks xmaintd to roll the workflow back and keeps following it.
 * Only <maint/maint.h>; build against an installed libmaint:
 *
 *   cc os-patch.c $(pkg-config --cflags --libs libmaint) -o os-patch
 *
 *   os-patch DOMAIN 'apt-get -y upgrade' [SUBSTITUTE]   start one, follow it
 *   os-patch --follow ID                                follow a running one
 *
 * Exit status: 0 when the workflow finished, 1 when it failed or was rolled
 * back, 2 on a usage error or when it could not be started or followed.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <maint/maint.h>

#if !defined(MAINT_HAVE_WORKFLOW_API) || !defined(MAINT_HAVE_WORKFLOW_EVENTS)
#error "this example needs libmaint's workflow API and events (MAINT_API_VERSION 0x000200)"
#endif

static void print_event(const maint_workflow_info *ev)
{
    const char *step = maint_workflow_info_step(ev);
    int percent = maint_workflow_info_percent(ev);

    printf("%-12s %-10s %3d%%  %s\n", maint_workflow_info_state_name(ev),
           step ? step : "-", percent < 0 ? 0 : percent, maint_workflow_info_message(ev));
    fflush(stdout);
}

/* Start the workflow; *id_r is its id (free()). */
static int start(maint_ctx *ctx, const char *domain, const char *patch, const char *sub,
                 char **id_r)
{
    maint_workflow_opts *opts = NULL;
    char *error = NULL;
    int rc;

    rc = maint_workflow_opts_new(&opts, MAINT_WORKFLOW_OS_PATCH, domain);
    if (!rc)
        rc = maint_workflow_opts_set_patch(opts, patch);
    if (!rc && sub)
        rc = maint_workflow_opts_set_substitute(opts, sub);
    if (rc)
        fprintf(stderr, "options: %s\n", opts && maint_workflow_opts_error(opts)
                                         ? maint_workflow_opts_error(opts) : maint_strerror(rc));
    else if ((rc = maint_workflow_start(ctx, opts, 0, id_r, &error)))
        fprintf(stderr, "os-patch of %s: %s\n", domain, error ? error : maint_strerror(rc));
    else
        printf("workflow %s started\n", *id_r);
    free(error);
    maint_workflow_opts_free(opts);
    return rc;
}

/* SIGINT and SIGTERM as an fd for the loop (blocked as signals). */
static int signal_fd(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -1;
    return signalfd(-1, &set, SFD_CLOEXEC);
}

/*
 * Our own loop: the watch's fd and a signal fd.  Returns the final state,
 * or MAINT_WORKFLOW_STATE_UNKNOWN when following failed.
 */
static maint_workflow_state follow(maint_ctx *ctx, maint_workflow_watch *w, const char *id)
{
    struct pollfd fds[2] = {
        { .fd = maint_workflow_watch_fd(w), .events = POLLIN },
        { .fd = signal_fd(), .events = POLLIN },
    };
    maint_workflow_state end = MAINT_WORKFLOW_STATE_UNKNOWN;
    maint_workflow_info *ev;
    bool ended = false;
    int rc;

    while (!ended) {
        if (poll(fds, fds[1].fd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
            break;
        if (fds[1].fd >= 0 && (fds[1].revents & POLLIN)) {
            struct signalfd_siginfo si;
            char *error = NULL;

            if (read(fds[1].fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                rc = maint_workflow_abort(ctx, id, 0, &error);
            else
                rc = MAINT_ERROR_FAIL;
            fprintf(stderr, "abort: %s\n", rc ? (error ? error : maint_strerror(rc))
                                              : "requested; it rolls back at its next step");
            free(error);
        }
        /* every event pending now, in order */
        while (!ended && (rc = maint_workflow_watch_read(w, &ev)) == MAINT_OK) {
            print_event(ev);
            if (maint_workflow_state_ended(maint_workflow_info_state(ev))) {
                end = maint_workflow_info_state(ev);
                ended = true;
            }
            maint_workflow_info_free(ev);
        }
        if (!ended && rc != MAINT_ERROR_NOENT) {
            fprintf(stderr, "events: %s\n", maint_strerror(rc));
            break;
        }
    }
    if (fds[1].fd >= 0)
        close(fds[1].fd);
    return end;
}

int main(int argc, char **argv)
{
    xentoollog_logger_stdiostream *lg = xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    maint_workflow_watch *w = NULL;
    maint_workflow_state end = MAINT_WORKFLOW_STATE_UNKNOWN;
    maint_ctx *ctx = NULL;
    char *id = NULL;
    int rc, ret = 2;

    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s DOMAIN PATCH-COMMAND [SUBSTITUTE] | --follow ID\n", argv[0]);
        goto out;
    }
    rc = maint_ctx_open(&ctx, (xentoollog_logger *)lg, MAINT_CTX_NO_LIBXL);
    if (rc) {
        fprintf(stderr, "maint_ctx_open: %s\n", maint_strerror(rc));
        goto out;
    }
    if (!strcmp(argv[1], "--follow"))
        id = strdup(argv[2]);
    else if (start(ctx, argv[1], argv[2], argc > 3 ? argv[3] : NULL, &id))
        goto out;
    if (!id)
        goto out;
    /* watch, then (events are never lost: the first one is the state now) */
    rc = maint_workflow_watch_open(ctx, &w);
    if (!rc)
        rc = maint_workflow_watch_add(w, id);
    if (rc) {
        fprintf(stderr, "watch %s: %s\n", id, maint_strerror(rc));
        goto out;
    }
    end = follow(ctx, w, id);
    if (end != MAINT_WORKFLOW_STATE_UNKNOWN) {
        printf("workflow %s: %s\n", id, maint_workflow_state_name(end));
        ret = end == MAINT_WORKFLOW_STATE_DONE ? 0 : 1;
    }
out:
    free(id);
    maint_workflow_watch_close(w);
    maint_ctx_close(ctx);
    xtl_logger_destroy((xentoollog_logger *)lg);
    return ret;
}
