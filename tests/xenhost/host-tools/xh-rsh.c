/*
 * xh-rsh - a remote shell for the two-host test bed (tests/xenhost), used in
 * place of ssh: by `xl migrate -s xh-rsh DOM HOST` and by the scenarios'
 * xh_on.  Only for the private test link between the two test dom0s: no
 * authentication, no encryption.
 *
 *   xh-rsh -l PORT              serve: run each connection's command with bash
 *   xh-rsh [-p PORT] HOST CMD...   run CMD (joined by spaces, as ssh does) on
 *                               HOST; stdin goes to it unchanged (binary),
 *                               its stdout and stderr come back separately,
 *                               and its exit status is ours (255: no link)
 *
 * Wire: the client sends "XHRSH1 <len>\n" and the command's <len> bytes, then
 * its stdin raw (shutdown(SHUT_WR) at EOF).  The server sends frames
 * <chan:1><len:4, big-endian><data>: chan 1 stdout, 2 stderr, 3 the exit
 * status (len 4).  The command's stdin is the socket itself.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_PORT 7000
#define MAX_CMD 65536

/* Write (out != 0) or read exactly len bytes; -1 on an error or EOF. */
static int io_all(int fd, void *buf, size_t len, int out)
{
    char *p = buf;

    while (len) {
        ssize_t r = out ? write(fd, p, len) : read(fd, p, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
    return io_all(fd, (void *)buf, len, 1);
}

static int read_all(int fd, void *buf, size_t len)
{
    return io_all(fd, buf, len, 0);
}

static int send_frame(int fd, int chan, const void *data, uint32_t len)
{
    unsigned char h[5];
    uint32_t n = htonl(len);

    h[0] = (unsigned char)chan;
    memcpy(h + 1, &n, 4);
    return write_all(fd, h, 5) < 0 || write_all(fd, data, len) < 0 ? -1 : 0;
}

/* ---- server ------------------------------------------------------------- */

/* Relay the child's stdout/stderr pipes as frames until both end, or until
 * the child has exited and nothing more came for 200 ms (a background
 * process it left may hold the pipes open). */
static void relay_child(int sock, pid_t pid, int out, int err)
{
    struct pollfd p[2] = { { out, POLLIN, 0 }, { err, POLLIN, 0 } };
    char buf[65536];
    int status = 0, exited = 0, open = 2;
    uint32_t code;

    while (open) {
        int i, r;

        if (!exited && waitpid(pid, &status, WNOHANG) == pid)
            exited = 1;
        r = poll(p, 2, exited ? 200 : 500);
        if (r < 0 && errno != EINTR)
            break;
        if (r == 0 && exited)
            break;
        for (i = 0; i < 2; i++) {
            ssize_t n;

            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            n = read(p[i].fd, buf, sizeof(buf));
            if (n > 0) {
                if (send_frame(sock, i + 1, buf, (uint32_t)n) < 0)
                    _exit(1);
            } else if (n == 0 || errno != EINTR) {
                close(p[i].fd);
                p[i].fd = -1;
                open--;
            }
        }
    }
    if (!exited)
        waitpid(pid, &status, 0);
    code = WIFEXITED(status) ? (uint32_t)WEXITSTATUS(status) : 128u + (uint32_t)WTERMSIG(status);
    code = htonl(code);
    send_frame(sock, 3, &code, 4);
}

static void serve_one(int sock)
{
    char hdr[32], *cmd;
    size_t i = 0;
    unsigned long len;
    int out[2], err[2];
    pid_t pid;

    /* the header line, byte by byte: what follows is the command's stdin */
    while (i < sizeof(hdr) - 1 && read(sock, hdr + i, 1) == 1 && hdr[i] != '\n')
        i++;
    hdr[i] = '\0';
    if (sscanf(hdr, "XHRSH1 %lu", &len) != 1 || len == 0 || len > MAX_CMD)
        _exit(2);
    cmd = malloc(len + 1);
    if (!cmd || read_all(sock, cmd, len) < 0)
        _exit(2);
    cmd[len] = '\0';
    if (pipe(out) < 0 || pipe(err) < 0)
        _exit(2);
    pid = fork();
    if (pid < 0)
        _exit(2);
    if (pid == 0) {
        dup2(sock, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(sock);
        close(out[0]);
        close(out[1]);
        close(err[0]);
        close(err[1]);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGCHLD, SIG_DFL);
        execl("/bin/bash", "bash", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    relay_child(sock, pid, out[0], err[0]);
    _exit(0);
}

static int serve(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_ANY) };
    int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);

    if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 16) < 0) {
        fprintf(stderr, "xh-rsh: cannot listen on port %d: %s\n", port, strerror(errno));
        return 1;
    }
    signal(SIGCHLD, SIG_IGN); /* handlers are reaped by the kernel */
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        int s = accept(ls, NULL, NULL);

        if (s < 0) {
            if (errno == EINTR)
                continue;
            perror("xh-rsh: accept");
            return 1;
        }
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (fork() == 0) {
            close(ls);
            signal(SIGCHLD, SIG_DFL);
            serve_one(s);
        }
        close(s);
    }
}

/* ---- client ------------------------------------------------------------- */

static int connect_to(const char *host, int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int s, one = 1;

    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        fprintf(stderr, "xh-rsh: %s is not an IPv4 address\n", host);
        return -1;
    }
    s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
        fprintf(stderr, "xh-rsh: cannot connect to %s:%d: %s\n", host, port, strerror(errno));
        return -1;
    }
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return s;
}

/* Parse frames from the socket; returns the exit status, 255 if the link
 * broke before it came. */
static int client_loop(int s)
{
    unsigned char buf[65536], h[5];
    int in_open = 1;

    for (;;) {
        struct pollfd p[2] = { { s, POLLIN, 0 }, { in_open ? 0 : -1, POLLIN, 0 } };

        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 255;
        }
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(0, buf, sizeof(buf));
            if (n > 0) {
                if (write_all(s, buf, (size_t)n) < 0)
                    in_open = 0;
            } else if (n == 0 || errno != EINTR) {
                shutdown(s, SHUT_WR);
                in_open = 0;
            }
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            uint32_t len;

            if (read_all(s, h, 5) < 0)
                return 255;
            memcpy(&len, h + 1, 4);
            len = ntohl(len);
            while (len) {
                size_t chunk = len < sizeof(buf) ? len : sizeof(buf);
                if (read_all(s, buf, chunk) < 0)
                    return 255;
                if (h[0] == 3 && chunk == 4) {
                    uint32_t code;
                    memcpy(&code, buf, 4);
                    return (int)ntohl(code);
                }
                if (h[0] == 1 || h[0] == 2)
                    write_all(h[0], buf, chunk);
                len -= (uint32_t)chunk;
            }
        }
    }
}

static void usage(FILE *f, int code)
{
    fprintf(f, "Usage: xh-rsh -l PORT            serve (test link only: no authentication)\n"
               "       xh-rsh [-p PORT] HOST CMD...   run CMD on HOST (as ssh does)\n");
    exit(code);
}

int main(int argc, char **argv)
{
    int c, port = DEFAULT_PORT, listen_port = 0, s, i;
    char hdr[32], *cmd;
    size_t len = 0;

    while ((c = getopt(argc, argv, "+l:p:h")) != -1) {
        switch (c) {
        case 'l': listen_port = atoi(optarg); break;
        case 'p': port = atoi(optarg); break;
        case 'h': usage(stdout, 0); break;
        default: usage(stderr, 255);
        }
    }
    if (listen_port > 0)
        return serve(listen_port);
    if (argc - optind < 2 || port <= 0 || port > 65535)
        usage(stderr, 255);
    for (i = optind + 1; i < argc; i++)
        len += strlen(argv[i]) + 1;
    if (len > MAX_CMD) {
        fprintf(stderr, "xh-rsh: command longer than %d bytes\n", MAX_CMD);
        return 255;
    }
    cmd = calloc(1, len + 1);
    if (!cmd)
        return 255;
    for (i = optind + 1; i < argc; i++) {
        strcat(cmd, argv[i]);
        if (i + 1 < argc)
            strcat(cmd, " ");
    }
    signal(SIGPIPE, SIG_IGN);
    s = connect_to(argv[optind], port);
    if (s < 0)
        return 255;
    snprintf(hdr, sizeof(hdr), "XHRSH1 %zu\n", strlen(cmd));
    if (write_all(s, hdr, strlen(hdr)) < 0 || write_all(s, cmd, strlen(cmd)) < 0) {
        fprintf(stderr, "xh-rsh: %s: link broken\n", argv[optind]);
        return 255;
    }
    return client_loop(s);
}
