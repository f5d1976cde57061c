/*
 * xmaintd — the xmaint dom0 daemon.
 *
 * Publishes the host identity to every domain, follows domains arriving and
 * departing, and serves requests written to xenstore (xenstore-schema/).
 */
#define G_LOG_DOMAIN "xmaintd"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <glib-unix.h>

#include "xmaintd.h"
#include "schema.h"

G_DEFINE_QUARK(xmaintd-error-quark, xmd_error)

static gboolean log_verbose;

/* One line per message: time, daemon, level, text (which names the domain). */
static GLogWriterOutput log_writer(GLogLevelFlags level, const GLogField *fields,
                                   gsize n_fields, gpointer user_data)
{
    const char *msg = NULL, *dom = NULL, *lvl;
    char stamp[32];
    struct timespec ts;
    struct tm tm;

    if ((level & G_LOG_LEVEL_DEBUG) && !log_verbose)
        return G_LOG_WRITER_HANDLED;
    for (gsize i = 0; i < n_fields; i++) {
        if (!strcmp(fields[i].key, "MESSAGE"))
            msg = fields[i].value;
        else if (!strcmp(fields[i].key, "GLIB_DOMAIN"))
            dom = fields[i].value;
    }
    if (level & G_LOG_LEVEL_ERROR) lvl = "error";
    else if (level & G_LOG_LEVEL_CRITICAL) lvl = "critical";
    else if (level & G_LOG_LEVEL_WARNING) lvl = "warning";
    else if (level & G_LOG_LEVEL_MESSAGE) lvl = "notice";
    else if (level & G_LOG_LEVEL_INFO) lvl = "info";
    else lvl = "debug";
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ld xmaintd[%ld] %s %s: %s\n", stamp,
            ts.tv_nsec / 1000000, (long)getpid(), dom ? dom : "xmaintd", lvl,
            msg ? msg : "");
    fflush(stderr);
    return G_LOG_WRITER_HANDLED;
}

static gboolean open_log_file(xmd *d, GError **error)
{
    int fd;

    if (!d->log_file)
        return TRUE;
    fd = open(d->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        g_set_error(error, XMD_ERROR, 1, "cannot open log file %s: %s",
                    d->log_file, g_strerror(errno));
        return FALSE;
    }
    dup2(fd, STDERR_FILENO);
    close(fd);
    return TRUE;
}

static gboolean pidfile_take(xmd *d, GError **error)
{
    g_autofree char *pid = NULL;

    if (!d->pidfile || !*d->pidfile)
        return TRUE;
    d->pidfile_fd = open(d->pidfile, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (d->pidfile_fd < 0) {
        g_set_error(error, XMD_ERROR, 1, "cannot open %s: %s", d->pidfile,
                    g_strerror(errno));
        return FALSE;
    }
    if (flock(d->pidfile_fd, LOCK_EX | LOCK_NB) < 0) {
        g_set_error(error, XMD_ERROR, 1, "%s is locked: is xmaintd already running?",
                    d->pidfile);
        close(d->pidfile_fd);
        d->pidfile_fd = -1;
        return FALSE;
    }
    pid = g_strdup_printf("%ld\n", (long)getpid());
    if (ftruncate(d->pidfile_fd, 0) < 0 ||
        write(d->pidfile_fd, pid, strlen(pid)) != (ssize_t)strlen(pid)) {
        g_set_error(error, XMD_ERROR, 1, "cannot write %s: %s", d->pidfile,
                    g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

static void pidfile_release(xmd *d)
{
    if (d->pidfile_fd < 0)
        return;
    unlink(d->pidfile);
    close(d->pidfile_fd);
    d->pidfile_fd = -1;
}

static gboolean ctx_open(xmd *d, GError **error)
{
    int rc;

    d->xtl = (xentoollog_logger *)xtl_createlogger_stdiostream(
        stderr, d->verbose ? XTL_DEBUG : XTL_WARN, XTL_STDIOSTREAM_HIDE_PROGRESS);
    rc = maint_ctx_open(&d->ctx, d->xtl, MAINT__CTX_CALLER_HOOKS);
    if (rc == MAINT_ERROR_UNAVAILABLE) {
        g_warning("the hypervisor is not available: serving xenstore requests only "
                  "(list and host-info will be refused)");
        rc = maint_ctx_open(&d->ctx, d->xtl, MAINT_CTX_NO_LIBXL);
    }
    if (rc) {
        g_set_error(error, XMD_ERROR, 1, "cannot open libmaint: %s", maint_strerror(rc));
        return FALSE;
    }
    /* policy is ours, not the library's: the shim a test host stages */
    d->pci_hole_shim = getenv("XMAINT_PCI_HOLE");
    if (d->pci_hole_shim &&
        maint_ctx_set_path(d->ctx, MAINT_PATH_PCI_HOLE_SHIM, d->pci_hole_shim)) {
        g_set_error(error, XMD_ERROR, 1, "XMAINT_PCI_HOLE must be an absolute path");
        return FALSE;
    }
    xmd_hv_attach(d);
    return TRUE;
}

static void daemon_state(xmd *d, const char *state)
{
    maint__port *port = &d->ctx->port;
    g_autofree char *pid = g_strdup_printf("%ld", (long)getpid());

    port->ops->xs_write(port->priv, MAINT__XS_NO_TXN, MAINT_XS_DAEMON_PID, pid,
                        (unsigned)strlen(pid));
    port->ops->xs_write(port->priv, MAINT__XS_NO_TXN, MAINT_XS_DAEMON_VERSION,
                        PACKAGE_VERSION, (unsigned)strlen(PACKAGE_VERSION));
    port->ops->xs_write(port->priv, MAINT__XS_NO_TXN, MAINT_XS_DAEMON_STATE, state,
                        (unsigned)strlen(state));
}

static gboolean on_stop_signal(gpointer data)
{
    xmd *d = data;

    g_message("stopping on signal");
    g_main_loop_quit(d->loop);
    return G_SOURCE_CONTINUE;
}

static gboolean on_hup(gpointer data)
{
    xmd *d = data;
    g_autoptr(GError) error = NULL;

    if (!open_log_file(d, &error))
        g_warning("%s", error->message);
    g_message("SIGHUP: log reopened, rescanning domains");
    xmd_domains_rescan(d);
    return G_SOURCE_CONTINUE;
}

/* Fork; the parent exits when the child reports it is up (or failed). */
static int daemonize(int *notify_fd_r)
{
    int pfd[2];
    pid_t pid;
    char c;

    if (pipe(pfd) < 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0) {
        close(pfd[1]);
        _exit(read(pfd[0], &c, 1) == 1 ? EXIT_SUCCESS : EXIT_FAILURE);
    }
    close(pfd[0]);
    if (setsid() < 0)
        return -1;
    if (chdir("/") < 0)
        return -1;
    *notify_fd_r = pfd[1];
    return 0;
}

/* The command line into d: -1 to go on, else the exit status. */
static int parse_options(xmd *d, int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GOptionContext) oc = NULL;
    gboolean version = FALSE;
    GOptionEntry entries[] = {
        { "foreground", 'F', 0, G_OPTION_ARG_NONE, &d->foreground,
          "Stay in the foreground (do not daemonize)", NULL },
        { "pidfile", 'p', 0, G_OPTION_ARG_FILENAME, &d->pidfile,
          "Write the pid here (default " RUNSTATEDIR "/xmaintd.pid; '' for none)", "FILE" },
        { "state-dir", 's', 0, G_OPTION_ARG_FILENAME, &d->state_dir,
          "Durable state (default " LOCALSTATEDIR "/lib/xmaint)", "DIR" },
        { "log-file", 'l', 0, G_OPTION_ARG_FILENAME, &d->log_file,
          "Log here instead of standard error", "FILE" },
        { "workflow-retention", 'r', 0, G_OPTION_ARG_INT64, &d->wf_retention_s,
          "Forget an ended workflow (its journal and xenstore node) SECONDS after "
          "its end (default 86400, a day)", "SECONDS" },
        { "verbose", 'v', 0, G_OPTION_ARG_NONE, &d->verbose, "Log debug messages", NULL },
        { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL },
        { NULL }
    };

    d->wf_retention_s = XMD_WF_RETENTION_DEFAULT_S;
    oc = g_option_context_new("- the xmaint dom0 maintenance daemon");
    g_option_context_set_summary(oc, "Serves xmaint requests written to xenstore and "
                                 "publishes the host identity to every domain.");
    g_option_context_add_main_entries(oc, entries, NULL);
    if (!g_option_context_parse(oc, &argc, &argv, &error)) {
        fprintf(stderr, "xmaintd: %s\nTry 'xmaintd --help'.\n", error->message);
        return 2;
    }
    if (argc > 1) {
        fprintf(stderr, "xmaintd: unexpected argument '%s'\nTry 'xmaintd --help'.\n",
                argv[1]);
        return 2;
    }
    if (d->wf_retention_s < 0 || d->wf_retention_s > G_MAXINT64 / 1000) {
        fprintf(stderr, "xmaintd: --workflow-retention: %lld is not a number of seconds "
                "from 0\n", (long long)d->wf_retention_s);
        return 2;
    }
    if (version) {
        printf("xmaintd %s (libmaint %s)\n", PACKAGE_VERSION, maint_version());
        return 0;
    }
    return -1;
}

int main(int argc, char **argv)
{
    xmd d = { .pidfile_fd = -1 };
    g_autoptr(GError) error = NULL;
    gboolean lx_busy = FALSE;
    int notify_fd = -1, status = EXIT_FAILURE, devnull;

    signal(SIGPIPE, SIG_IGN);
    /* SIGCHLD has one owner, libxl: libmaint sets each of its contexts to
     * reap only its own children (util.c), and xmaintd reaps its own by
     * pid.  An inherited SIG_IGN would let the kernel reap every child
     * before any waiter saw its status. */
    signal(SIGCHLD, SIG_DFL);
    g_log_set_writer_func(log_writer, NULL, NULL);
    if ((status = parse_options(&d, argc, argv)) >= 0)
        return status;
    status = EXIT_FAILURE;
    log_verbose = d.verbose;
    if (!d.pidfile)
        d.pidfile = g_strdup(RUNSTATEDIR "/xmaintd.pid");
    if (!d.state_dir)
        d.state_dir = g_strdup(LOCALSTATEDIR "/lib/xmaint");

    /* Stage 1: detach, log file, pidfile. */
    if (!d.foreground && daemonize(&notify_fd) < 0) {
        g_printerr("xmaintd: cannot daemonize: %s\n", g_strerror(errno));
        goto out;
    }
    if (!open_log_file(&d, &error) || !pidfile_take(&d, &error))
        goto fail;
    if (!d.foreground && (devnull = open("/dev/null", O_RDWR)) >= 0) {
        dup2(devnull, STDIN_FILENO);
        dup2(devnull, STDOUT_FILENO);
        if (!d.log_file)
            dup2(devnull, STDERR_FILENO);
        close(devnull);
    }
    /* Stage 2: libmaint (xenstore + libxl on our loop), host identity. */
    d.loop = g_main_loop_new(NULL, FALSE);
    if (!ctx_open(&d, &error) || !xmd_host_identity_load(&d, &error))
        goto fail;
    /* Stage 3: signals, watches, domains. */
    d.sig_term = g_unix_signal_add(SIGTERM, on_stop_signal, &d);
    d.sig_int = g_unix_signal_add(SIGINT, on_stop_signal, &d);
    d.sig_hup = g_unix_signal_add(SIGHUP, on_hup, &d);
    xmd_domains_init(&d);
    xmd_toolstack_init(&d);
    if (!xmd_xs_source_add(&d, &error))
        goto fail;
    xmd_domains_rescan(&d);
    /* Stage 4: service redirects and workflows (resumed from their journals). */
    xmd_services_load(&d);
    xmd_workflows_init(&d);
    xmd_standby_init(&d);
    daemon_state(&d, "running");
    g_message("xmaintd %s running (host %s, %s hypervisor)", PACKAGE_VERSION,
              d.host_id, d.hv ? "with" : "without");
    if (notify_fd >= 0) {
        if (write(notify_fd, "1", 1) < 0) { /* the parent is gone: fine */ }
        close(notify_fd);
        notify_fd = -1;
    }

    g_main_loop_run(d.loop);

    daemon_state(&d, "stopped");
    g_message("stopped after serving %lu requests", d.requests_served);
    status = EXIT_SUCCESS;
    goto out;

fail:
    g_critical("%s", error ? error->message : "startup failed");
out:
    /* Teardown: exactly the stages reached, in reverse -- after the libxl
     * operations under way (a destroy takes seconds) are through: libxl's
     * context must not be freed with one in progress. */
    lx_busy = d.hv && !xmd_hv_drain(&d, 20 * 1000);
    xmd_standby_fini(&d);
    xmd_workflows_fini(&d);
    xmd_services_fini(&d);
    if (d.ctx) {
        xmd_domains_fini(&d);
        if (d.xs_source)
            g_source_remove(d.xs_source);
    }
    xmd_toolstack_fini(&d);
    if (d.sig_hup)
        g_source_remove(d.sig_hup);
    if (d.sig_int)
        g_source_remove(d.sig_int);
    if (d.sig_term)
        g_source_remove(d.sig_term);
    if (lx_busy)    /* freeing it would abort the daemon; exiting frees it */
        g_warning("exiting with the libxl context still busy");
    else
        maint_ctx_close(d.ctx);
    if (d.xtl)
        xtl_logger_destroy(d.xtl);
    if (d.loop)
        g_main_loop_unref(d.loop);
    pidfile_release(&d);
    if (notify_fd >= 0)
        close(notify_fd);
    g_free(d.host_id);
    g_free(d.cpu_signature);
    g_free(d.pidfile);
    g_free(d.state_dir);
    g_free(d.log_file);
    return status;
}
