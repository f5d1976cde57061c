/*
 * xsd.c - start, drive and stop a real xenstored for tests.  See xsd.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* config.h has it too */
#endif

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <xenstore.h>

#include "xsd.h"

#ifndef XSD_XENSTORED
#define XSD_XENSTORED ""        /* not found by configure: XENSTORED needed */
#endif
#ifndef XSD_PRELOAD
#define XSD_PRELOAD ""          /* not built: XSD_PRELOAD needed */
#endif

#define XSD_START_TIMEOUT_MS 10000
#define XSD_STOP_TIMEOUT_MS  2000
#define XSD_KILL_TIMEOUT_MS  5000
#define XSD_DOMID_LIMIT      0x7ff0     /* DOMID_FIRST_RESERVED */

struct xsd {
    struct xsd *next;           /* every instance ever started */
    char *dir;
    char *socket;
    pid_t pid;                  /* -1 once stopped */
    pid_t owner;                /* the process that started it */
    bool stopped;               /* xsd_stop() did its work */
};

static struct xsd *instances;   /* keeps them reachable until exit */
static bool atexit_done;

static void xsd_stop_all(void)
{
    struct xsd *x;

    for (x = instances; x; x = x->next)
        xsd_stop(x);
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* getenv(NAME) if set and not empty, else DFLT. */
static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);

    return v && *v ? v : dflt;
}

static bool env_flag(const char *name)
{
    const char *v = getenv(name);

    return v && *v && strcmp(v, "0");
}

static char *path_in(const struct xsd *x, const char *name)
{
    char *p;

    if (asprintf(&p, "%s/%s", x->dir, name) < 0)
        return NULL;
    return p;
}

static int rm_entry(const char *path, const struct stat *st, int type,
                    struct FTW *ftw)
{
    if (remove(path) < 0)
        fprintf(stderr, "xsd: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

/* Print the daemon's output: the reason it failed is usually in there. */
static void dump_log(const struct xsd *x)
{
    char *path = path_in(x, "xenstored.log");
    char buf[4096];
    FILE *f = NULL;
    size_t n;

    if (!path)
        return;
    f = fopen(path, "re");
    if (f) {
        fprintf(stderr, "xsd: --- %s ---\n", path);
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
            fwrite(buf, 1, n, stderr);
        fprintf(stderr, "xsd: --- end ---\n");
        fclose(f);
    }
    free(path);
}

/*
 * The daemon's environment: ours without the variables we set, plus
 * XENSTORED_RUNDIR and LD_PRELOAD.  Built before fork(): the child only
 * calls async-signal-safe functions.
 */
static char **child_env(const char *dir, const char *preload)
{
    extern char **environ;
    char *rundir = NULL, *ld = NULL;
    size_t n = 0, i, j = 0;
    char **env;

    while (environ[n])
        n++;
    env = calloc(n + 3, sizeof(*env));
    if (asprintf(&rundir, "XENSTORED_RUNDIR=%s", dir) < 0)
        rundir = NULL;
    if (asprintf(&ld, "LD_PRELOAD=%s", preload) < 0)
        ld = NULL;
    if (!env || !rundir || !ld) {
        free(env);
        free(rundir);
        free(ld);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        if (strncmp(environ[i], "LD_PRELOAD=", 11) &&
            strncmp(environ[i], "XENSTORED_RUNDIR=", 17) &&
            strncmp(environ[i], "XENSTORED_PATH=", 15))
            env[j++] = environ[i];
    }
    env[j++] = rundir;
    env[j] = ld;
    return env;
}

static void free_child_env(char **env)
{
    size_t n = 0;

    if (!env)
        return;
    while (env[n])
        n++;
    /* The last two are ours; the rest belong to environ. */
    free(env[n - 1]);
    free(env[n - 2]);
    free(env);
}

/* A socket-only connection to X, quietly (errno set on failure). */
static struct xs_handle *connect_socket(const struct xsd *x)
{
    char *old = NULL;
    const char *cur = getenv("XENSTORED_PATH");
    struct xs_handle *h;
    int saved;

    if (cur)
        old = strdup(cur);
    setenv("XENSTORED_PATH", x->socket, 1);
    h = xs_open(XS_OPEN_SOCKETONLY);
    saved = errno;
    if (old)
        setenv("XENSTORED_PATH", old, 1);
    else
        unsetenv("XENSTORED_PATH");
    free(old);
    errno = saved;
    return h;
}

struct xs_handle *xsd_open(struct xsd *x)
{
    struct xs_handle *h = connect_socket(x);

    if (!h)
        fprintf(stderr, "xsd: connecting to %s: %s\n", x->socket,
                strerror(errno));
    return h;
}

/* Poll until the daemon answers a read of "/", or it died, or time's up. */
static int wait_ready(struct xsd *x)
{
    long deadline = now_ms() + XSD_START_TIMEOUT_MS;
    struct xs_handle *h;
    unsigned int len;
    char *v;
    int status;

    for (;;) {
        h = connect_socket(x);
        if (h) {
            v = xs_read(h, XBT_NULL, "/", &len);
            xs_close(h);
            if (v) {
                free(v);
                return 0;
            }
        }
        if (waitpid(x->pid, &status, WNOHANG) == x->pid) {
            x->pid = -1;
            fprintf(stderr, "xsd: xenstored exited (status 0x%x) before "
                    "answering on %s\n", status, x->socket);
            dump_log(x);
            return XSD_ERROR_FAIL;
        }
        if (now_ms() > deadline) {
            fprintf(stderr, "xsd: xenstored did not answer on %s within "
                    "%d ms\n", x->socket, XSD_START_TIMEOUT_MS);
            dump_log(x);
            return XSD_ERROR_FAIL;
        }
        sleep_ms(1);
    }
}

static void child_exec(const char *xenstored, char **argv, char **env,
                       int nullfd, int logfd, pid_t parent)
{
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    sigset_t none;

    /* Async-signal-safe calls only, and _exit, never exit. */
    if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
        _exit(127);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    sigaction(SIGTERM, &dfl, NULL);     /* xsd_stop() relies on it */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    execve(xenstored, argv, env);
    _exit(127);
}

int xsd_start(struct xsd **xsd_r)
{
    const char *xenstored = env_or("XENSTORED", XSD_XENSTORED);
    const char *preload = env_or("XSD_PRELOAD", XSD_PRELOAD);
    const char *tmpdir = env_or("TMPDIR", P_tmpdir);
    char *argv[6] = { NULL };
    char **env = NULL;
    char *logpath = NULL;
    struct xsd *x = NULL;
    bool registered = false;
    int logfd = -1, nullfd = -1;
    pid_t parent = getpid();
    int rc = XSD_ERROR_FAIL;

    *xsd_r = NULL;
    if (!*xenstored) {
        fprintf(stderr, "xsd: no xenstored: configure did not find one; "
                "set XENSTORED to its path\n");
        return XSD_ERROR_MISSING;
    }
    if (access(xenstored, X_OK) < 0) {
        fprintf(stderr, "xsd: cannot run xenstored %s: %s (set XENSTORED)\n",
                xenstored, strerror(errno));
        return XSD_ERROR_MISSING;
    }
    if (!*preload || access(preload, R_OK) < 0) {
        fprintf(stderr, "xsd: the preload library %s is missing: %s (build "
                "tests/xsd/libxsdpreload.la or set XSD_PRELOAD)\n", preload,
                *preload ? strerror(errno) : "not configured");
        return XSD_ERROR_FAIL;
    }

    x = calloc(1, sizeof(*x));
    if (!x)
        goto oom;
    x->pid = -1;
    x->owner = parent;
    if (asprintf(&x->dir, "%s/xsd.XXXXXX", tmpdir) < 0) {
        x->dir = NULL;
        goto oom;
    }
    if (!mkdtemp(x->dir)) {
        fprintf(stderr, "xsd: mkdtemp %s: %s\n", x->dir, strerror(errno));
        free(x->dir);
        x->dir = NULL;
        goto out;
    }
    x->socket = path_in(x, "socket");
    logpath = path_in(x, "xenstored.log");
    argv[3] = path_in(x, "pid");
    if (!x->socket || !logpath || !argv[3])
        goto oom;
    if (strlen(x->socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        fprintf(stderr, "xsd: socket path %s is too long: use a shorter "
                "TMPDIR\n", x->socket);
        goto out;
    }
    argv[0] = (char *)xenstored;
    argv[1] = "-N";                     /* stay in the foreground */
    argv[2] = "-F";                     /* pid file: argv[3] */
    if (env_flag("XSD_TRACE") && asprintf(&argv[4], "-T%s/trace", x->dir) < 0) {
        argv[4] = NULL;
        goto oom;
    }
    env = child_env(x->dir, preload);
    if (!env)
        goto oom;
    logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (logfd < 0 || nullfd < 0) {
        fprintf(stderr, "xsd: opening %s: %s\n", logpath, strerror(errno));
        goto out;
    }

    x->pid = fork();
    if (x->pid < 0) {
        fprintf(stderr, "xsd: fork: %s\n", strerror(errno));
        goto out;
    }
    if (x->pid == 0)
        child_exec(xenstored, argv, env, nullfd, logfd, parent);

    /* From here on the registry owns x and xsd_stop() undoes everything. */
    x->next = instances;
    instances = x;
    registered = true;
    if (!atexit_done) {
        atexit(xsd_stop_all);
        atexit_done = true;
    }
    rc = wait_ready(x);
    if (rc)
        goto out;
    setenv("XENSTORED_PATH", x->socket, 1);
    *xsd_r = x;
    goto out;

oom:
    fprintf(stderr, "xsd: out of memory\n");
out:
    if (rc && registered) {
        xsd_stop(x);
    } else if (rc && x) {
        if (x->dir)
            nftw(x->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        free(x->dir);
        free(x->socket);
        free(x);
    }
    if (logfd >= 0)
        close(logfd);
    if (nullfd >= 0)
        close(nullfd);
    free_child_env(env);
    free(argv[3]);
    free(argv[4]);
    free(logpath);
    return rc;
}

void xsd_stop(struct xsd *x)
{
    long deadline;
    const char *cur;
    int status;

    if (!x || x->stopped || x->owner != getpid())
        return;
    x->stopped = true;
    if (x->pid > 0) {
        kill(x->pid, SIGTERM);
        deadline = now_ms() + XSD_STOP_TIMEOUT_MS;
        while (waitpid(x->pid, &status, WNOHANG) == 0) {
            if (now_ms() > deadline) {
                kill(x->pid, SIGKILL);
                waitpid(x->pid, &status, 0);
                break;
            }
            sleep_ms(1);
        }
        x->pid = -1;
    }
    cur = getenv("XENSTORED_PATH");
    if (cur && x->socket && !strcmp(cur, x->socket))
        unsetenv("XENSTORED_PATH");
    if (x->dir && access(x->dir, F_OK) == 0) {
        if (env_flag("XSD_KEEP"))
            fprintf(stderr, "xsd: keeping %s (XSD_KEEP)\n", x->dir);
        else
            nftw(x->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    }
}

int xsd_exit_code(int rc)
{
    if (!rc)
        return 0;
    return rc == XSD_ERROR_MISSING ? 77 : 99;
}

const char *xsd_dir(const struct xsd *x)
{
    return x->dir;
}

const char *xsd_socket(const struct xsd *x)
{
    return x->socket;
}

/*
 * Set DOMID's state in the shim's dead-domains file (STATE NULL: alive).
 * The file is replaced by rename, so the shim never reads half of it.
 */
static int set_dom_state(struct xsd *x, unsigned int domid, const char *state)
{
    char *path = path_in(x, "dead-domains");
    char *tmp = path_in(x, "dead-domains.tmp");
    char line[128];
    unsigned int id;
    FILE *in = NULL, *out = NULL;
    int rc = XSD_ERROR_FAIL;

    if (!path || !tmp)
        goto out;
    out = fopen(tmp, "we");
    if (!out)
        goto io_error;
    in = fopen(path, "re");
    while (in && fgets(line, sizeof(line), in)) {
        if (sscanf(line, "%u", &id) == 1 && id != domid)
            fputs(line, out);
    }
    if (state)
        fprintf(out, "%u %s\n", domid, state);
    if (fclose(out) != 0) {
        out = NULL;
        goto io_error;
    }
    out = NULL;
    if (rename(tmp, path) < 0)
        goto io_error;
    rc = 0;
    goto out;

io_error:
    fprintf(stderr, "xsd: writing %s: %s\n", path, strerror(errno));
out:
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    free(path);
    free(tmp);
    return rc;
}

/* One byte into the shim's FIFO: xenstored sees VIRQ_DOM_EXC once. */
static int raise_virq(struct xsd *x)
{
    char *path = path_in(x, "virq-dom-exc");
    int fd = -1, rc = XSD_ERROR_FAIL;

    if (!path)
        goto out;
    fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 || write(fd, "!", 1) != 1) {
        fprintf(stderr, "xsd: raising VIRQ_DOM_EXC through %s: %s\n", path,
                strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    free(path);
    return rc;
}

static bool domid_ok(unsigned int domid, const char *what)
{
    if (domid >= 1 && domid < XSD_DOMID_LIMIT)
        return true;
    fprintf(stderr, "xsd: %s: domid %u is not a guest domid\n", what, domid);
    return false;
}

int xsd_introduce(struct xsd *x, unsigned int domid)
{
    struct xs_handle *h = NULL;
    struct xs_permissions perms[2] = {
        { .id = 0, .perms = XS_PERM_NONE },     /* owner: dom0 */
        { .id = domid, .perms = XS_PERM_READ },
    };
    char path[64], key[80], val[32];
    xs_transaction_t t;
    bool ok;
    int rc = XSD_ERROR_FAIL;

    if (!domid_ok(domid, "introduce"))
        return XSD_ERROR_FAIL;
    if (set_dom_state(x, domid, NULL))
        return XSD_ERROR_FAIL;
    h = xsd_open(x);
    if (!h)
        goto out;
    snprintf(path, sizeof(path), "/local/domain/%u", domid);
    for (;;) {
        t = xs_transaction_start(h);
        if (t == XBT_NULL)
            goto xs_error;
        snprintf(val, sizeof(val), "%u", domid);
        snprintf(key, sizeof(key), "%s/domid", path);
        ok = xs_mkdir(h, t, path) &&
             xs_set_permissions(h, t, path, perms, 2) &&
             xs_write(h, t, key, val, strlen(val));
        snprintf(val, sizeof(val), "xsd-%u", domid);
        snprintf(key, sizeof(key), "%s/name", path);
        ok = ok && xs_write(h, t, key, val, strlen(val));
        if (!ok) {
            xs_transaction_end(h, t, true);
            goto xs_error;
        }
        if (xs_transaction_end(h, t, false))
            break;
        if (errno != EAGAIN)
            goto xs_error;
    }
    /* The ring is a blank page the shim maps; mfn and port are unused. */
    if (!xs_introduce_domain(h, domid, 1, 1))
        goto xs_error;
    rc = 0;
    goto out;

xs_error:
    fprintf(stderr, "xsd: introducing domain %u: %s\n", domid,
            strerror(errno));
out:
    if (h)
        xs_close(h);
    return rc;
}

int xsd_kill_domain(struct xsd *x, unsigned int domid)
{
    long deadline = now_ms() + XSD_KILL_TIMEOUT_MS;
    struct xs_handle *h = NULL;
    int rc = XSD_ERROR_FAIL;

    if (!domid_ok(domid, "kill") || set_dom_state(x, domid, "dying") ||
        raise_virq(x))
        return XSD_ERROR_FAIL;
    h = xsd_open(x);
    if (!h)
        goto out;
    while (xs_is_domain_introduced(h, domid)) {
        if (now_ms() > deadline) {
            fprintf(stderr, "xsd: xenstored still knows domain %u %d ms "
                    "after it died\n", domid, XSD_KILL_TIMEOUT_MS);
            goto out;
        }
        sleep_ms(1);
    }
    rc = 0;
out:
    if (h)
        xs_close(h);
    return rc;
}

int xsd_shutdown_domain(struct xsd *x, unsigned int domid)
{
    if (!domid_ok(domid, "shutdown") || set_dom_state(x, domid, "shutdown") ||
        raise_virq(x))
        return XSD_ERROR_FAIL;
    return 0;
}
