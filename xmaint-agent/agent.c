/*
 * xmaint-agent main loop: announce, heartbeat, carry out commands.
 *
 * Writes (the domain's own keys, xenstore-schema/xenstore-paths.md):
 *   ~/xmaint/agent/{state,version,heartbeat,addr}
 *   ~/xmaint/agent/apps/NAME/{spec,status}
 *   ~/xmaint/agent/result/SEQ
 * Reads commands from ~/xmaint/control/SEQ (written by dom0 only), one JSON
 * object each: {"op": "start"|"stop"|"status"|"state-recv"|"state-send"|"run"|"ping", ...}
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>
#include <yajl/yajl_tree.h>

#include "agent.h"
#include "schema.h"

#define MAX_CONTROL    64          /* commands looked at per pass */
#define MAX_CMD_BYTES  4096

static struct xs_handle *xs;
static unsigned domid;
static char state_path[128], beat_path[128];
static char last_addr[64] = "-";          /* the address last published */
static agent_app apps[AGENT_MAX_APPS];
static unsigned napps;
static const char *app_dir = "/etc/xmaint/apps";
static const char *run_dir = "/run/xmaint-agent";
static volatile sig_atomic_t stop_flag;
static bool skip_memory_request;       /* set while xmaintd starts an app it placed */
static unsigned long done_seq[256];   /* handled command numbers (ring) */
static unsigned done_n;

static void logmsg(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "xmaint-agent: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static bool put(const char *path, const char *val)
{
    if (!xs_write(xs, XBT_NULL, path, val, strlen(val))) {
        logmsg("cannot write %s: %s", path, strerror(errno));
        return false;
    }
    return true;
}

/* JSON string escaping for the values the agent writes. */
static void json_str(char *out, size_t size, const char *s)
{
    size_t o = 0;

    if (size < 3)
        return;
    out[o++] = '"';
    for (; *s && o + 8 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = 0;
}

static void publish_app(agent_app *a)
{
    char rel[128], spec[4096], q[600];
    size_t o;
    unsigned i;

    o = (size_t)snprintf(spec, sizeof(spec), "{\"mode\":\"%s\",\"port\":%u,\"state\":[",
                         agent_mode_name(a->mode), a->port);
    for (i = 0; i < a->nstate && o < sizeof(spec) - 600; i++) {
        json_str(q, sizeof(q), a->state[i]);
        o += (size_t)snprintf(spec + o, sizeof(spec) - o, "%s%s", i ? "," : "", q);
    }
    snprintf(spec + o, sizeof(spec) - o, "]}");
    snprintf(rel, sizeof(rel), MAINT_XS_AGENT_APP_SPEC_FMT, domid, a->name);
    put(rel, spec);
    snprintf(rel, sizeof(rel), MAINT_XS_AGENT_APP_STATUS_FMT, domid, a->name);
    put(rel, a->status);
}

static void set_status(agent_app *a, const char *status)
{
    char rel[128];

    if (a->status == status || !strcmp(a->status, status))
        return;
    a->status = status;
    snprintf(rel, sizeof(rel), MAINT_XS_AGENT_APP_STATUS_FMT, domid, a->name);
    put(rel, status);
    logmsg("%s: %s", a->name, status);
}

static void publish_addr(void)
{
    struct ifaddrs *ifs, *i;
    char addr[64] = "";

    if (getifaddrs(&ifs) < 0)
        return;
    for (i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
            (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
            continue;
        inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, addr,
                  sizeof(addr));
        break;
    }
    freeifaddrs(ifs);
    {
        if (strcmp(last_addr, addr)) {
            char p[128];
            snprintf(p, sizeof(p), MAINT_XS_AGENT_ADDR_FMT, domid);
            put(p, addr);
            strcpy(last_addr, addr);
        }
    }
}

static agent_app *find_app(const char *name)
{
    unsigned i;

    for (i = 0; i < napps; i++)
        if (!strcmp(apps[i].name, name))
            return &apps[i];
    return NULL;
}

static void pidfile_path(const agent_app *a, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s.pid", run_dir, a->name);
}

static void save_pid(agent_app *a)
{
    char p[PATH_MAX], v[32];
    FILE *f;

    pidfile_path(a, p, sizeof(p));
    if (!a->pid) {
        unlink(p);
        return;
    }
    snprintf(v, sizeof(v), "%d\n", (int)a->pid);
    if ((f = fopen(p, "w"))) {
        fputs(v, f);
        fclose(f);
    }
}

/* After a restart of the agent: adopt applications it started before. */
static void adopt(agent_app *a)
{
    char p[PATH_MAX];
    FILE *f;
    int pid;

    pidfile_path(a, p, sizeof(p));
    if (!(f = fopen(p, "r")))
        return;
    if (fscanf(f, "%d", &pid) == 1 && pid > 1 && kill(pid, 0) == 0) {
        a->pid = pid;
        a->status = "running";
        logmsg("%s: adopted running process %d", a->name, pid);
    }
    fclose(f);
}

static int sh(const char *cmd, const char *log, pid_t *pid_r, bool wait_it, int *status_r)
{
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
        sigset_t all;

        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        setsid();
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        fd = open("/dev/null", O_RDONLY);
        if (fd >= 0)
            dup2(fd, 0);
        /* nothing of the agent's (its xenstore connection above all) leaks */
        for (fd = 3; fd < 1024; fd++)
            close(fd);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    if (pid_r)
        *pid_r = pid;
    if (wait_it) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        if (status_r)
            *status_r = st;
    }
    return 0;
}

/*
 * A checkpointed application runs as the init of its own PID namespace and
 * session, its output to /dev/null: a process tree that holds nothing of the
 * agent's, which criu dumps and restores in another domain whatever PIDs
 * are taken there.  *pid_r is its PID as this namespace sees it; the agent,
 * a child subreaper, becomes its parent when the go-between exits.
 */
static int sh_pidns(const char *cmd, pid_t *pid_r)
{
    int p[2], st;
    pid_t mid, app = 0;
    ssize_t n;

    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    if ((mid = fork()) < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (mid == 0) {
        pid_t g;

        if (unshare(CLONE_NEWPID) < 0)
            _exit(126);
        if ((g = fork()) == 0) {
            sigset_t all;
            int fd = open("/dev/null", O_RDWR);

            sigemptyset(&all);
            sigprocmask(SIG_SETMASK, &all, NULL);
            setsid();
            for (int i = 0; i < 3 && fd >= 0; i++)
                dup2(fd, i);
            for (fd = 3; fd < 1024; fd++)
                close(fd);
            execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
            _exit(127);
        }
        if (write(p[1], &g, sizeof(g)) != (ssize_t)sizeof(g))
            _exit(1);
        _exit(g < 0);
    }
    close(p[1]);
    n = read(p[0], &app, sizeof(app));
    close(p[0]);
    while (waitpid(mid, &st, 0) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof(app) || app <= 0) {
        errno = ECHILD;
        return -1;
    }
    *pid_r = app;
    return 0;
}

static char *errf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

/* Does the response value v carry nonce (protocol 2: it answers our request)? */
static bool answer_is_ours(const char *v, const char *nonce)
{
    static const char *path[] = { "nonce", NULL };
    yajl_val root = yajl_tree_parse(v, NULL, 0), n;
    bool ours;

    n = root ? yajl_tree_get(root, path, yajl_t_string) : NULL;
    ours = n && !strcmp(n->u.string, nonce);
    yajl_tree_free(root);
    return ours;
}

/*
 * One request to xmaintd through this domain's own ~/xmaint/request (the
 * protocol of xenstore-schema/: a random nonce in the request, echoed in
 * the answer; the answer removed once read, the request on timeout);
 * *answer_r gets the response value.
 */
static int daemon_request(const char *op, const char *args, unsigned timeout_ms,
                          char **answer_r)
{
    static unsigned n;
    char id[32], rq[160], rs[160], body[1024], nonce[33];
    unsigned char raw[16];
    unsigned len, waited;
    char *v;

    *answer_r = NULL;
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return -1;
    for (unsigned i = 0; i < sizeof(raw); i++)
        snprintf(nonce + 2 * i, 3, "%02x", raw[i]);
    snprintf(id, sizeof(id), "agent-%ld-%u", (long)getpid(), ++n);
    snprintf(rq, sizeof(rq), MAINT_XS_REQUEST_FMT, domid, id);
    snprintf(rs, sizeof(rs), MAINT_XS_RESPONSE_FMT, domid, id);
    snprintf(body, sizeof(body), "{\"op\":\"%s\",\"nonce\":\"%s\",\"args\":%s}",
             op, nonce, args);
    xs_rm(xs, XBT_NULL, rs);          /* a stale answer of an earlier agent */
    if (!put(rq, body))
        return -1;
    for (waited = 0; waited < timeout_ms; waited += 100) {
        if ((v = xs_read(xs, XBT_NULL, rs, &len))) {
            if (answer_is_ours(v, nonce)) {
                *answer_r = v;
                xs_rm(xs, XBT_NULL, rs);
                return 0;
            }
            free(v);
        }
        poll(NULL, 0, 100);
    }
    xs_rm(xs, XBT_NULL, rq);
    xs_rm(xs, XBT_NULL, rs);
    return -1;
}

/* A protected application asks for its memory before it starts. */
static void ask_memory(agent_app *a)
{
    char args[128], *answer = NULL;

    if (!a->memory_kb || a->granted)
        return;
    snprintf(args, sizeof(args), "{\"app\":\"%s\",\"kb\":%llu}", a->name, a->memory_kb);
    if (daemon_request("mem-request", args, 10000, &answer) < 0)
        logmsg("%s: no answer from xmaintd to its memory request", a->name);
    else {
        a->granted = strstr(answer, "\"status\":\"ok\"") != NULL;
        a->asks++;
        logmsg("%s: memory request for %llu KiB: %s", a->name, a->memory_kb, answer);
    }
    free(answer);
}

static int app_start(agent_app *a, char **err_r)
{
    char log[PATH_MAX];

    if (a->pid && kill(a->pid, 0) == 0)
        return 0;
    snprintf(log, sizeof(log), "/var/log/xmaint-app-%s.log", a->name);
    if (a->mode == MODE_CHECKPOINT) {
        char dump[PATH_MAX + 8], cmd[PATH_MAX * 2 + 128], pidf[PATH_MAX];
        struct stat st;

        snprintf(dump, sizeof(dump), "%s/inventory.img", a->state[0]);
        if (stat(dump, &st) == 0) {
            int status;
            FILE *f;
            int pid = 0;

            snprintf(pidf, sizeof(pidf), "%s/%s.restored", run_dir, a->name);
            unlink(pidf);
            snprintf(cmd, sizeof(cmd), "criu restore -D '%s' -d --pidfile '%s' "
                     "-o restore.log && rm -f '%s'/*.img", a->state[0], pidf, a->state[0]);
            if (sh(cmd, log, NULL, true, &status) < 0 || !WIFEXITED(status) ||
                WEXITSTATUS(status)) {
                *err_r = errf("criu restore of %s failed (see %s and %s/restore.log)",
                              a->name, log, a->state[0]);
                return -1;
            }
            if ((f = fopen(pidf, "r"))) {
                if (fscanf(f, "%d", &pid) != 1)
                    pid = 0;
                fclose(f);
            }
            if (pid <= 1) {
                *err_r = errf("criu restored %s but left no pid", a->name);
                return -1;
            }
            a->pid = pid;
            save_pid(a);
            set_status(a, "running");
            return 0;
        }
    }
    if (skip_memory_request)
        a->granted = true;            /* xmaintd placed it with its memory */
    else
        ask_memory(a);
    if ((a->mode == MODE_CHECKPOINT ? sh_pidns(a->start, &a->pid)
                                    : sh(a->start, log, &a->pid, false, NULL)) < 0) {
        *err_r = errf("cannot start %s: %s", a->name, strerror(errno));
        return -1;
    }
    save_pid(a);
    set_status(a, "running");
    return 0;
}

static void reap(void);

static int app_stop(agent_app *a, char **err_r)
{
    int i, status;

    if (!a->pid || kill(a->pid, 0) < 0) {
        a->pid = 0;
        save_pid(a);
        set_status(a, "stopped");
        return 0;
    }
    set_status(a, "stopping");
    if (a->mode == MODE_CHECKPOINT) {
        char cmd[PATH_MAX * 2 + 128], log[PATH_MAX];

        snprintf(log, sizeof(log), "/var/log/xmaint-app-%s.log", a->name);
        snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && criu dump -t %d -D '%s' -o dump.log",
                 a->state[0], (int)a->pid, a->state[0]);
        if (sh(cmd, log, NULL, true, &status) < 0 || !WIFEXITED(status) ||
            WEXITSTATUS(status)) {
            set_status(a, "running");          /* criu let it go on */
            *err_r = errf("criu dump of %s failed (see %s and %s/dump.log)", a->name,
                          log, a->state[0]);
            return -1;
        }
    } else if (a->stop[0]) {
        sh(a->stop, NULL, NULL, true, &status);
    } else {
        kill(-a->pid, SIGTERM);
        kill(a->pid, SIGTERM);
    }
    for (i = 0; i < 100 && kill(a->pid, 0) == 0; i++) {
        reap();
        if (!a->pid)
            break;
        usleep(100000);
    }
    if (a->pid && kill(a->pid, 0) == 0) {
        kill(-a->pid, SIGKILL);
        kill(a->pid, SIGKILL);
        usleep(100000);
        reap();
    }
    a->pid = 0;
    save_pid(a);
    set_status(a, "stopped");
    return 0;
}

static void reap(void)
{
    pid_t pid;
    int st;
    unsigned i;

    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (i = 0; i < napps; i++) {
            if (apps[i].pid == pid) {
                apps[i].pid = 0;
                save_pid(&apps[i]);
                set_status(&apps[i], WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "exited" : "failed");
            }
        }
    }
    /* adopted processes are not our children */
    for (i = 0; i < napps; i++) {
        if (apps[i].pid && kill(apps[i].pid, 0) < 0 && errno == ESRCH) {
            apps[i].pid = 0;
            save_pid(&apps[i]);
            set_status(&apps[i], "exited");
        }
    }
}

static void result(const char *seq, const char *json)
{
    char rel[128];

    snprintf(rel, sizeof(rel), MAINT_XS_AGENT_RESULT_FMT, domid, seq);
    put(rel, json);
}

static void result_error(const char *seq, const char *msg)
{
    char buf[1200], q[1100];

    json_str(q, sizeof(q), msg ? msg : "failed");
    snprintf(buf, sizeof(buf), "{\"ok\":false,\"error\":%s}", q);
    result(seq, buf);
    logmsg("command %s failed: %s", seq, msg ? msg : "failed");
}

static const char *jstr(yajl_val v, const char *key)
{
    const char *path[] = { key, NULL };
    yajl_val s = yajl_tree_get(v, path, yajl_t_string);

    return s ? YAJL_GET_STRING(s) : NULL;
}

static bool jint(yajl_val v, const char *key, long long *out)
{
    const char *path[] = { key, NULL };
    yajl_val n = yajl_tree_get(v, path, yajl_t_number);

    if (!n || !YAJL_IS_INTEGER(n))
        return false;
    *out = YAJL_GET_INTEGER(n);
    return true;
}

/* Transfers run in a child so the agent keeps its heartbeat. */
static void transfer(const char *seq, bool send, agent_app *a, long long peer,
                     const char *path)
{
    pid_t pid = fork();

    if (pid < 0) {
        result_error(seq, "cannot fork");
        return;
    }
    if (pid == 0) {
        char *err = NULL;
        int rc;

        xs_daemon_close(xs);
        if (!(xs = xs_open(0)))
            _exit(1);
        rc = send ? agent_state_send((int)peer, path, a, &err)
                  : agent_state_recv((int)peer, path, a, &err);
        if (rc == 0)
            result(seq, "{\"ok\":true}");
        else
            result_error(seq, err);
        xs_close(xs);
        _exit(rc ? 1 : 0);
    }
}

static void command(const char *seq, const char *text, size_t len)
{
    char errbuf[256];
    yajl_val v;
    const char *op, *name;
    agent_app *a = NULL;
    char *err = NULL;
    long long peer = 0;
    int rc_start;

    if (len > MAX_CMD_BYTES || memchr(text, 0, len)) {
        result_error(seq, "command too long or not text");
        return;
    }
    v = yajl_tree_parse(text, errbuf, sizeof(errbuf));
    if (!v || !YAJL_IS_OBJECT(v) || !(op = jstr(v, "op"))) {
        result_error(seq, "command is not a JSON object with an \"op\"");
        goto out;
    }
    logmsg("command %s: %s", seq, op);
    if (!strcmp(op, "ping")) {
        result(seq, "{\"ok\":true}");
        goto out;
    }
    if (!strcmp(op, "run")) {
        const char *cmd = jstr(v, "command");
        int status = 0;
        char buf[256];

        if (!cmd) {
            result_error(seq, "run: no \"command\"");
            goto out;
        }
        if (sh(cmd, "/var/log/xmaint-run.log", NULL, true, &status) < 0 ||
            !WIFEXITED(status) || WEXITSTATUS(status)) {
            snprintf(buf, sizeof(buf), "command failed (status %d, see /var/log/xmaint-run.log)",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            result_error(seq, buf);
        } else {
            result(seq, "{\"ok\":true}");
        }
        goto out;
    }
    name = jstr(v, "app");
    if (!name || !(a = find_app(name))) {
        snprintf(errbuf, sizeof(errbuf), "%s: no application %.64s here", op,
                 name ? name : "(none given)");
        result_error(seq, errbuf);
        goto out;
    }
    if (!strcmp(op, "start")) {
        const char *pn[] = { "placed", NULL };
        yajl_val placed = yajl_tree_get(v, pn, yajl_t_any);

        skip_memory_request = placed && YAJL_IS_TRUE(placed);
        rc_start = app_start(a, &err);
        skip_memory_request = false;
        if (rc_start < 0)
            result_error(seq, err);
        else
            result(seq, "{\"ok\":true}");
    } else if (!strcmp(op, "stop")) {
        if (app_stop(a, &err) < 0)
            result_error(seq, err);
        else
            result(seq, "{\"ok\":true}");
    } else if (!strcmp(op, "state-send") || !strcmp(op, "state-recv")) {
        bool send = op[6] == 's';
        const char *path = jstr(v, "path");
        char own[128];

        if (!jint(v, "peer", &peer) || peer <= 0 || peer >= 0x7ff0 || (unsigned)peer == domid) {
            result_error(seq, "state transfer: \"peer\" is not another domain");
            goto out;
        }
        if (send && a->pid && kill(a->pid, 0) == 0) {
            result_error(seq, "state-send: the application is still running");
            goto out;
        }
        if (!send) {
            /* the target listens under its own tree, never elsewhere */
            snprintf(own, sizeof(own), MAINT_XS_VCHAN_FMT, domid, seq);
            path = own;
        } else if (!path || strlen(path) > 200) {
            result_error(seq, "state-send: no \"path\"");
            goto out;
        }
        transfer(seq, send, a, peer, path);
    } else {
        snprintf(errbuf, sizeof(errbuf), "unknown op %.64s", op);
        result_error(seq, errbuf);
    }
out:
    free(err);
    yajl_tree_free(v);
}

static bool seq_done(unsigned long s)
{
    unsigned i;

    for (i = 0; i < done_n && i < 256; i++)
        if (done_seq[i] == s)
            return true;
    return false;
}

static void scan_control(void)
{
    char path[256];
    char **ids;
    unsigned n, i, handled = 0;

    snprintf(path, sizeof(path), MAINT_XS_CONTROL_DIR_FMT, domid);
    ids = xs_directory(xs, XBT_NULL, path, &n);
    if (!ids)
        return;
    for (i = 0; i < n && handled < MAX_CONTROL; i++) {
        char *end, rp[256], cp[256], *text, *have;
        unsigned long s;
        unsigned len;

        errno = 0;
        s = strtoull(ids[i], &end, 10);
        if (errno || *end || end == ids[i] || strlen(ids[i]) > 20 || seq_done(s))
            continue;
        done_seq[done_n++ % 256] = s;
        snprintf(rp, sizeof(rp), MAINT_XS_AGENT_RESULT_FMT, domid, ids[i]);
        if ((have = xs_read(xs, XBT_NULL, rp, &len))) {
            free(have);           /* answered before a restart */
            continue;
        }
        snprintf(cp, sizeof(cp), MAINT_XS_CONTROL_FMT, domid, ids[i]);
        text = xs_read(xs, XBT_NULL, cp, &len);
        if (!text)
            continue;
        handled++;
        command(ids[i], text, len);
        free(text);
    }
    free(ids);
}

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/*
 * After xl save/restore or a live migration the domain has a new id and an
 * empty xenstore tree: announce everything again under the new one.
 */
static void check_tree(void)
{
    char *v, p[128];
    unsigned len, nd = 0, i;

    v = xs_read(xs, XBT_NULL, "domid", &len);
    if (!v || sscanf(v, "%u", &nd) != 1) {
        free(v);
        return;
    }
    free(v);
    if (nd == domid && (v = xs_read(xs, XBT_NULL, state_path, &len))) {
        free(v);
        return;
    }
    logmsg("my xenstore tree is gone (d%u, now d%u): announcing again", domid, nd);
    domid = nd;
    snprintf(p, sizeof(p), MAINT_XS_AGENT_FMT, domid);
    if (!(v = xs_read(xs, XBT_NULL, p, &len)))
        return;                      /* xmaintd has not made it yet: next time */
    free(v);
    snprintf(state_path, sizeof(state_path), MAINT_XS_AGENT_STATE_FMT, domid);
    snprintf(beat_path, sizeof(beat_path), MAINT_XS_AGENT_HEARTBEAT_FMT, domid);
    put(state_path, "starting");
    snprintf(p, sizeof(p), MAINT_XS_AGENT_VERSION_FMT, domid);
    put(p, PACKAGE_VERSION);
    for (i = 0; i < napps; i++)
        publish_app(&apps[i]);
    strcpy(last_addr, "-");
    publish_addr();
    put(state_path, "ready");
}

static void usage(FILE *f, int code)
{
    fprintf(f, "Usage: xmaint-agent [--apps DIR] [--run-dir DIR] [--no-start] [--check|--domid]\n"
            "       xmaint-agent --host [--follow [--interval MS]]\n"
            "Guest agent of xmaint: announces the applications declared in DIR\n"
            "(default /etc/xmaint/apps, one NAME.conf each) to xmaintd through\n"
            "xenstore, starts them, and moves them when xmaintd asks.\n"
            "  --apps DIR      application declarations\n"
            "  --run-dir DIR   pid files (default /run/xmaint-agent)\n"
            "  --no-start      do not start the applications at boot\n"
            "  --check         parse the declarations, print them, exit\n"
            "  --domid         print this domain's id (from xenstore), exit\n"
            "  --host          print the domain id and the identity of the host it\n"
            "                  runs on (host id, CPU signature, as xmaintd publishes\n"
            "                  them), exit (1 if no xmaintd published them)\n"
            "  --follow        with --host: a line, stamped with CLOCK_MONOTONIC ms,\n"
            "                  each time they change (a migration), until killed\n"
            "  --interval MS   with --follow: how often to look (default 20)\n"
            "  --fault APP minor|major   report an application fault to xmaintd\n"
            "                  (hot-standby pairs: minor restarts it in place, major\n"
            "                  moves it and its memory to the standby), exit\n");
    exit(code);
}

/* --fault APP LEVEL: tell xmaintd, print its answer; the exit status. */
static int report_fault(const char *app, const char *level)
{
    char args[128], *answer = NULL;
    int rc;

    if (!agent_name_ok(app))
        usage(stderr, 1);
    snprintf(args, sizeof(args), "{\"app\":\"%s\",\"level\":\"%s\"}", app, level);
    rc = daemon_request("app-fault", args, 10000, &answer);
    printf("%s\n", answer ? answer : "no answer from xmaintd");
    rc = rc == 0 && answer && strstr(answer, "\"status\":\"ok\"") ? 0 : 1;
    free(answer);
    return rc;
}

/* Wait for the tree xmaintd makes, announce the agent and its applications,
 * start them unless this domain is a substitute (or autostart is off). */
static void announce(bool autostart)
{
    char *v;
    unsigned len, i;

    /* xmaintd creates ~/xmaint/agent for us; wait for it */
    for (i = 0; i < 600 && !stop_flag; i++) {
        char p[128];
        snprintf(p, sizeof(p), MAINT_XS_AGENT_FMT, domid);
        if ((v = xs_read(xs, XBT_NULL, p, &len))) {
            free(v);
            break;
        }
        if (i == 0)
            logmsg("waiting for xmaintd to create %s", p);
        sleep(1);
    }
    snprintf(state_path, sizeof(state_path), MAINT_XS_AGENT_STATE_FMT, domid);
    snprintf(beat_path, sizeof(beat_path), MAINT_XS_AGENT_HEARTBEAT_FMT, domid);
    put(state_path, "starting");
    {
        char p[128];
        snprintf(p, sizeof(p), MAINT_XS_AGENT_VERSION_FMT, domid);
        put(p, PACKAGE_VERSION);
    }
    for (i = 0; i < napps; i++) {
        adopt(&apps[i]);
        publish_app(&apps[i]);
    }
    publish_addr();
    /* A substitute starts nothing by itself: xmaintd moves applications in. */
    {
        char p[128];
        snprintf(p, sizeof(p), MAINT_XS_ROLE_FMT, domid);
        if ((v = xs_read(xs, XBT_NULL, p, &len))) {
            if (v[0]) {
                logmsg("this domain's role is %.32s: applications wait for xmaintd", v);
                autostart = false;
            }
            free(v);
        }
    }
    for (i = 0; autostart && i < napps; i++) {
        char *err = NULL;

        if (!apps[i].pid && app_start(&apps[i], &err) < 0) {
            logmsg("%s", err ? err : "start failed");
            free(err);
        }
    }
    put(state_path, "ready");
    logmsg("d%u ready, %u application(s)", domid, napps);
}

/*
 * Commands are polled every 100 ms rather than watched: a watch makes
 * libxenstore start a reader thread, and one connection, synchronous,
 * is all this small static program needs.
 */
static void serve_loop(void)
{
    unsigned i, beat = 0;
    time_t last_beat = 0;

    while (!stop_flag) {
        time_t now;

        poll(NULL, 0, 100);
        scan_control();
        reap();
        now = time(NULL);
        if (now != last_beat) {
            char b[32];
            last_beat = now;
            snprintf(b, sizeof(b), "%u", ++beat);
            put(beat_path, b);
            if (beat % 5 == 0)
                publish_addr();
            if (beat % 2 == 0)
                check_tree();
            /* running protected applications keep asking until granted
             * (a pair may be made after they started) */
            for (i = 0; i < napps; i++)
                if (apps[i].pid && apps[i].memory_kb && !apps[i].granted &&
                    beat % (apps[i].asks < 6 ? 10 : 60) == 0)
                    ask_memory(&apps[i]);
        }
    }
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "apps", required_argument, NULL, 'a' },
        { "run-dir", required_argument, NULL, 'r' },
        { "no-start", no_argument, NULL, 'n' },
        { "check", no_argument, NULL, 'c' },
        { "domid", no_argument, NULL, 'd' },
        { "fault", required_argument, NULL, 'f' },
        { "host", no_argument, NULL, 'H' },
        { "follow", no_argument, NULL, 'F' },
        { "interval", required_argument, NULL, 'i' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    bool autostart = true, check = false, print_domid = false, host = false, follow = false;
    unsigned long interval = 20;
    char *end;
    const char *fault_app = NULL;
    char *v;
    unsigned len, i;
    int c;

    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'a': app_dir = optarg; break;
        case 'r': run_dir = optarg; break;
        case 'n': autostart = false; break;
        case 'c': check = true; break;
        case 'd': print_domid = true; break;
        case 'f': fault_app = optarg; break;
        case 'H': host = true; break;
        case 'F': follow = true; break;
        case 'i':
            interval = strtoul(optarg, &end, 10);
            if (*end || !*optarg || interval < 1 || interval > 60000)
                usage(stderr, 1);
            break;
        case 'h': usage(stdout, 0); break;
        default: usage(stderr, 1);
        }
    }
    if (fault_app ? optind != argc - 1 : optind != argc)
        usage(stderr, 1);
    if (follow && !host)
        usage(stderr, 1);
    if (host) {
        int rc;

        if (!(xs = xs_open(0))) {
            logmsg("cannot open xenstore: %s", strerror(errno));
            return 1;
        }
        rc = agent_host_print(xs, follow, (unsigned)interval);
        xs_close(xs);
        return rc;
    }
    if (fault_app && strcmp(argv[optind], "minor") && strcmp(argv[optind], "major"))
        usage(stderr, 1);
    if (agent_apps_load(app_dir, apps, AGENT_MAX_APPS, &napps) < 0 && check)
        return 1;
    if (check) {
        for (i = 0; i < napps; i++)
            printf("%s mode=%s port=%u state=%u\n", apps[i].name,
                   agent_mode_name(apps[i].mode), apps[i].port, apps[i].nstate);
        return 0;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    /* orphans of what the agent starts (a checkpointed application, a tree
     * criu restored) are reparented to the agent, which reaps them */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    mkdir(run_dir, 0755);

    xs = xs_open(0);
    if (!xs) {
        logmsg("cannot open xenstore: %s", strerror(errno));
        return 1;
    }
    v = xs_read(xs, XBT_NULL, "domid", &len);
    if (!v || sscanf(v, "%u", &domid) != 1) {
        logmsg("cannot read my domid from xenstore");
        return 1;
    }
    free(v);
    if (print_domid) {
        printf("%u\n", domid);
        xs_close(xs);
        return 0;
    }
    if (fault_app) {
        int rc = report_fault(fault_app, argv[optind]);

        xs_close(xs);
        return rc;
    }
    announce(autostart);
    serve_loop();
    put(state_path, "stopped");
    xs_close(xs);
    return 0;
}
