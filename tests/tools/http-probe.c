/*
 * http-probe: a client that keeps asking a service for "/" and says how the
 * service held up: requests, failures, the longest gap between two
 * successful answers, and which backend answered ("served by dN" bodies).
 *
 *   http-probe ADDR PORT [--interval-ms N] [--timeout-ms N]
 *              [--duration-s N] [--stop-file F] [--until TAG] [--out FILE]
 *
 * Runs until the stop file exists, the duration ends or (--until) the first
 * answer served by TAG (e.g. "d7") arrives, then prints one
 * JSON object (to --out, or stdout).  One request per connection (HTTP/1.0),
 * never retried: a refused, reset, timed-out or non-200 request is a failure.
 * Used by the Xen host scenarios, the demo and the migration benchmark.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BACKENDS 16

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One request; 0 and the body's "served by" tag on success. */
static int one(const struct sockaddr_in *sa, int timeout_ms, char *tag, size_t tagsz)
{
    char buf[2048];
    size_t got = 0;
    double end = now_ms() + timeout_ms;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct pollfd p = { .fd = fd };
    const char *req = "GET / HTTP/1.0\r\nHost: service\r\n\r\n";
    char *b;

    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 && errno != EINPROGRESS)
        goto fail;
    p.events = POLLOUT;
    if (poll(&p, 1, timeout_ms) != 1)
        goto fail;
    {
        int err = 0;
        socklen_t l = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err)
            goto fail;
    }
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
        goto fail;
    p.events = POLLIN;
    for (;;) {
        int left = (int)(end - now_ms());
        ssize_t n;

        if (left <= 0 || poll(&p, 1, left) != 1)
            goto fail;
        n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n < 0)
            goto fail;
        if (n == 0)
            break;
        got += (size_t)n;
        if (got == sizeof(buf) - 1)
            break;
    }
    close(fd);
    buf[got] = 0;
    if (strncmp(buf, "HTTP/1.", 7) || strncmp(buf + 8, " 200", 4))
        return -1;
    tag[0] = 0;
    if ((b = strstr(buf, "served by "))) {
        size_t i = 0;
        b += 10;
        while (b[i] && b[i] != '\n' && b[i] != '\r' && i + 1 < tagsz) {
            tag[i] = b[i];
            i++;
        }
        tag[i] = 0;
    }
    return 0;
fail:
    close(fd);
    return -1;
}

static void usage(void)
{
    fprintf(stderr, "Usage: http-probe ADDR PORT [--interval-ms N] [--timeout-ms N] "
            "[--duration-s N] [--stop-file F] [--until TAG] [--out FILE]\n");
    exit(1);
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    long interval = 20, timeout = 1000, duration = 0;
    const char *stop = NULL, *out = NULL, *until = NULL;
    char names[MAX_BACKENDS][32];
    unsigned long counts[MAX_BACKENDS] = { 0 }, nreq = 0, nok = 0, nfail = 0;
    unsigned nb = 0;
    double start, last_ok, gap = 0, first_fail = -1, last_fail = -1;
    FILE *f;
    char *end;
    long port;
    int i;

    if (argc < 3 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
        usage();
    port = strtol(argv[2], &end, 10);
    if (*end || port < 1 || port > 65535)
        usage();
    sa.sin_port = htons((uint16_t)port);
    for (i = 3; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        if (!strcmp(argv[i], "--interval-ms")) interval = atol(argv[++i]);
        else if (!strcmp(argv[i], "--timeout-ms")) timeout = atol(argv[++i]);
        else if (!strcmp(argv[i], "--duration-s")) duration = atol(argv[++i]);
        else if (!strcmp(argv[i], "--stop-file")) stop = argv[++i];
        else if (!strcmp(argv[i], "--out")) out = argv[++i];
        else if (!strcmp(argv[i], "--until")) until = argv[++i];
        else usage();
    }
    if (interval < 0 || timeout < 1 || (!stop && !until && duration <= 0))
        usage();
    start = last_ok = now_ms();
    for (;;) {
        char tag[32];
        double t = now_ms();

        if (stop && access(stop, F_OK) == 0)
            break;
        if (duration > 0 && t - start >= duration * 1e3)
            break;
        nreq++;
        if (one(&sa, (int)timeout, tag, sizeof(tag)) == 0) {
            double n = now_ms();
            unsigned k;

            nok++;
            if (n - last_ok > gap)
                gap = n - last_ok;
            last_ok = n;
            for (k = 0; k < nb && strcmp(names[k], tag); k++)
                ;
            if (k == nb && nb < MAX_BACKENDS)
                snprintf(names[nb++], sizeof(names[0]), "%s", tag);
            if (k < MAX_BACKENDS)
                counts[k]++;
            if (until && !strcmp(tag, until))
                break;
        } else {
            nfail++;
            if (first_fail < 0)
                first_fail = now_ms() - start;
            last_fail = now_ms() - start;
        }
        if (interval)
            usleep((useconds_t)interval * 1000);
    }
    f = out ? fopen(out, "w") : stdout;
    if (!f) {
        perror(out);
        return 1;
    }
    fprintf(f, "{\"requests\":%lu,\"ok\":%lu,\"failed\":%lu,\"longest_gap_ms\":%.1f,"
            "\"first_failure_ms\":%.0f,\"last_failure_ms\":%.0f,\"seconds\":%.1f,\"backends\":{",
            nreq, nok, nfail, gap, first_fail, last_fail, (now_ms() - start) / 1e3);
    for (unsigned k = 0; k < nb; k++)
        fprintf(f, "%s\"%s\":%lu", k ? "," : "", names[k], counts[k]);
    fprintf(f, "}}\n");
    if (out)
        fclose(f);
    return 0;
}
