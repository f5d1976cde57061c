/*
 * Application state between two agents over a libxenvchan channel.  The
 * target listens (server, its ring published under its own
 * ~/xmaint/vchan/<seq>), the source connects and streams:
 *   "D <octal mode> <path>\n"                a directory
 *   "F <octal mode> <size> <path>\n" BYTES    a regular file
 *   "E\n"                                     the end
 * and the target answers "OK\n" or "ERR <reason>\n".  The target accepts
 * only paths inside the state paths the application declares, so a peer
 * cannot write anywhere else in the guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <libxenvchan.h>

#include "agent.h"

#define IO_TIMEOUT_MS   30000
#define CONNECT_TIMEOUT 30         /* seconds the source retries to connect */
#define MAX_FILE        (1ull << 30)
#define LINE_MAX_LEN    (PATH_MAX + 64)

static void set_err(char **err_r, const char *fmt, ...)
{
    va_list ap;

    if (*err_r)
        return;
    va_start(ap, fmt);
    if (vasprintf(err_r, fmt, ap) < 0)
        *err_r = NULL;
    va_end(ap);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for the channel to change state; 0 on a change, -1 on timeout/close. */
static int vc_wait(struct libxenvchan *vc, int64_t deadline)
{
    struct pollfd p = { .fd = libxenvchan_fd_for_select(vc), .events = POLLIN };
    int64_t left = deadline - now_ms();

    if (!libxenvchan_is_open(vc) || left <= 0)
        return -1;
    if (poll(&p, 1, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
        return -1;
    if (p.revents & POLLIN)
        libxenvchan_wait(vc);
    return 0;
}

static int vc_write_all(struct libxenvchan *vc, const void *buf, size_t n)
{
    const char *p = buf;
    int64_t deadline = now_ms() + IO_TIMEOUT_MS;

    while (n) {
        int w = libxenvchan_write(vc, p, n);

        if (w < 0)
            return -1;
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            deadline = now_ms() + IO_TIMEOUT_MS;
        } else if (vc_wait(vc, deadline) < 0)
            return -1;
    }
    return 0;
}

static int vc_read_exact(struct libxenvchan *vc, void *buf, size_t n)
{
    char *p = buf;
    int64_t deadline = now_ms() + IO_TIMEOUT_MS;

    while (n) {
        int r = libxenvchan_read(vc, p, n);

        if (r < 0)
            return -1;
        if (r > 0) {
            p += r;
            n -= (size_t)r;
            deadline = now_ms() + IO_TIMEOUT_MS;
        } else if (vc_wait(vc, deadline) < 0) {
            /* a closed peer may still have left data behind */
            if (libxenvchan_data_ready(vc) > 0)
                continue;
            return -1;
        }
    }
    return 0;
}

/* A line of at most LINE_MAX_LEN bytes, without its newline. */
static int vc_read_line(struct libxenvchan *vc, char *buf, size_t size)
{
    size_t i;

    for (i = 0; i + 1 < size; i++) {
        if (vc_read_exact(vc, &buf[i], 1) < 0)
            return -1;
        if (buf[i] == '\n') {
            buf[i] = 0;
            return 0;
        }
        if (buf[i] == 0)
            return -1;
    }
    return -1;
}

/* ---- source ---- */

static struct libxenvchan *send_vc;
static char **send_err;

static int send_file(const char *path, const struct stat *st)
{
    char hdr[LINE_MAX_LEN], buf[16384];
    int fd, n;
    uint64_t left = (uint64_t)st->st_size;

    if ((uint64_t)st->st_size > MAX_FILE) {
        set_err(send_err, "%s is larger than %llu bytes", path, MAX_FILE);
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        set_err(send_err, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    n = snprintf(hdr, sizeof(hdr), "F %o %" PRIu64 " %s\n",
                 (unsigned)(st->st_mode & 07777), left, path);
    if (vc_write_all(send_vc, hdr, (size_t)n) < 0)
        goto io;
    while (left) {
        ssize_t r = read(fd, buf, left < sizeof(buf) ? left : sizeof(buf));

        if (r <= 0) {
            set_err(send_err, "%s changed while it was sent", path);
            close(fd);
            return -1;
        }
        if (vc_write_all(send_vc, buf, (size_t)r) < 0)
            goto io;
        left -= (uint64_t)r;
    }
    close(fd);
    return 0;
io:
    set_err(send_err, "the channel to the peer broke while sending %s", path);
    close(fd);
    return -1;
}

static int send_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
    char hdr[LINE_MAX_LEN];
    int n;

    if (strchr(path, '\n'))
        return 0;                 /* not representable; never declared */
    if (type == FTW_D) {
        n = snprintf(hdr, sizeof(hdr), "D %o %s\n", (unsigned)(st->st_mode & 07777), path);
        if (vc_write_all(send_vc, hdr, (size_t)n) < 0) {
            set_err(send_err, "the channel to the peer broke");
            return -1;
        }
        return 0;
    }
    if (type == FTW_F && S_ISREG(st->st_mode))
        return send_file(path, st);
    return 0;                     /* symlinks, devices, unreadable: skipped */
}

int agent_state_send(int peer, const char *path, agent_app *app, char **err_r)
{
    struct libxenvchan *vc = NULL;
    char reply[256];
    time_t end = time(NULL) + CONNECT_TIMEOUT;
    unsigned i;
    int rc = -1;

    while (!(vc = libxenvchan_client_init(NULL, peer, path))) {
        if (time(NULL) >= end) {
            set_err(err_r, "cannot connect to d%d's channel at %s", peer, path);
            return -1;
        }
        usleep(200000);
    }
    vc->blocking = 0;
    send_vc = vc;
    send_err = err_r;
    for (i = 0; i < app->nstate; i++) {
        struct stat st;

        if (lstat(app->state[i], &st) < 0) {
            if (errno == ENOENT)
                continue;         /* nothing there yet */
            set_err(err_r, "%s: %s", app->state[i], strerror(errno));
            goto out;
        }
        if (nftw(app->state[i], send_one, 16, FTW_PHYS) != 0) {
            set_err(err_r, "cannot send %s", app->state[i]);
            goto out;
        }
    }
    if (vc_write_all(vc, "E\n", 2) < 0 || vc_read_line(vc, reply, sizeof(reply)) < 0) {
        set_err(err_r, "no answer from d%d", peer);
        goto out;
    }
    if (strcmp(reply, "OK")) {
        set_err(err_r, "d%d refused the state: %.200s", peer, reply);
        goto out;
    }
    rc = 0;
out:
    libxenvchan_close(vc);
    return rc;
}

/* ---- target ---- */

/* Is PATH one of the app's state paths or inside one? */
static bool declared(const agent_app *app, const char *path)
{
    unsigned i;

    if (path[0] != '/' || strstr(path, "/../") || strstr(path, "//") ||
        strstr(path, "/./"))
        return false;
    {
        size_t n = strlen(path);
        if ((n >= 3 && !strcmp(path + n - 3, "/..")) || (n >= 2 && !strcmp(path + n - 2, "/.")))
            return false;
    }
    for (i = 0; i < app->nstate; i++) {
        size_t n = strlen(app->state[i]);

        if (!strncmp(path, app->state[i], n) && (path[n] == 0 || path[n] == '/'))
            return true;
    }
    return false;
}

static int mkparents(const char *path)
{
    char tmp[PATH_MAX];
    char *p;

    if (strlen(path) >= sizeof(tmp))
        return -1;
    strcpy(tmp, path);
    for (p = tmp + 1; (p = strchr(p, '/')); p++) {
        *p = 0;
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

static int parse_mode(const char *s, char **end_r, unsigned *mode_r)
{
    unsigned long m;

    errno = 0;
    m = strtoul(s, end_r, 8);
    if (errno || *end_r == s || **end_r != ' ' || m > 07777)
        return -1;
    *mode_r = (unsigned)m & 0777;   /* no set-id bits from a peer */
    return 0;
}

static int recv_file(struct libxenvchan *vc, const char *path, unsigned mode,
                     uint64_t size, char **err_r)
{
    char tmp[PATH_MAX], buf[16384];
    int fd;

    if (snprintf(tmp, sizeof(tmp), "%s.xmaint-new", path) >= (int)sizeof(tmp) ||
        mkparents(path) < 0) {
        set_err(err_r, "cannot create the directories of %s", path);
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        set_err(err_r, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    while (size) {
        size_t n = size < sizeof(buf) ? size : sizeof(buf);

        if (vc_read_exact(vc, buf, n) < 0) {
            set_err(err_r, "the channel broke while receiving %s", path);
            goto fail;
        }
        if (write(fd, buf, n) != (ssize_t)n) {
            set_err(err_r, "cannot write %s: %s", tmp, strerror(errno));
            goto fail;
        }
        size -= n;
    }
    if (fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
        set_err(err_r, "cannot install %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
fail:
    close(fd);
    unlink(tmp);
    return -1;
}

int agent_state_recv(int peer, const char *path, agent_app *app, char **err_r)
{
    struct libxenvchan *vc;
    char line[LINE_MAX_LEN];
    int64_t deadline = now_ms() + CONNECT_TIMEOUT * 1000;
    int rc = -1;

    vc = libxenvchan_server_init(NULL, peer, path, 0, 0);
    if (!vc) {
        set_err(err_r, "cannot set up a channel for d%d at %s: %s", peer, path,
                strerror(errno));
        return -1;
    }
    vc->blocking = 0;
    while (libxenvchan_is_open(vc) == 2) {
        struct pollfd p = { .fd = libxenvchan_fd_for_select(vc), .events = POLLIN };

        if (now_ms() >= deadline) {
            set_err(err_r, "d%d did not connect within %d s", peer, CONNECT_TIMEOUT);
            goto out;
        }
        if (poll(&p, 1, 500) > 0)
            libxenvchan_wait(vc);
    }
    for (;;) {
        char *end, *p;
        unsigned mode;

        if (vc_read_line(vc, line, sizeof(line)) < 0) {
            set_err(err_r, "the state stream from d%d broke", peer);
            goto out;
        }
        if (!strcmp(line, "E"))
            break;
        if (line[0] == 'D' && line[1] == ' ') {
            if (parse_mode(line + 2, &end, &mode) < 0 || !declared(app, end + 1)) {
                set_err(err_r, "refused directory record '%.100s'", line);
                goto out;
            }
            if (mkparents(end + 1) < 0 || (mkdir(end + 1, mode | 0700) < 0 && errno != EEXIST)) {
                set_err(err_r, "cannot create %s: %s", end + 1, strerror(errno));
                goto out;
            }
        } else if (line[0] == 'F' && line[1] == ' ') {
            unsigned long long size;

            if (parse_mode(line + 2, &end, &mode) < 0)
                goto bad;
            p = end + 1;
            errno = 0;
            size = strtoull(p, &end, 10);
            if (errno || end == p || *end != ' ' || size > MAX_FILE || !declared(app, end + 1))
                goto bad;
            if (recv_file(vc, end + 1, mode, size, err_r) < 0)
                goto out;
        } else {
            goto bad;
        }
    }
    rc = 0;
    vc_write_all(vc, "OK\n", 3);
    /* let the source read the answer before the ring goes away */
    {
        int64_t until = now_ms() + 5000;
        while (libxenvchan_is_open(vc) == 1 && now_ms() < until)
            vc_wait(vc, until);
    }
    goto out;
bad:
    set_err(err_r, "refused record '%.100s' (outside %s's state paths, or malformed)",
            line, app->name);
out:
    if (rc < 0) {
        char msg[300];
        int n = snprintf(msg, sizeof(msg), "ERR %.250s\n", *err_r ? *err_r : "failed");
        vc_write_all(vc, msg, (size_t)n);
    }
    libxenvchan_close(vc);
    return rc;
}
