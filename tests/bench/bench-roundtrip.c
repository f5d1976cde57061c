/*
 * Benchmark: a request's round trip through xenstore to xmaintd and back,
 * beside the same exchange between two bare C processes through the same
 * xenstored, measured in the same run.
 *
 *   baseline: the client writes /bench/req, the peer wakes on its watch,
 *             reads it, writes /bench/resp; the client wakes on its watch
 *             and reads the answer.
 *   xmaintd:  maint_request(ctx, "ping"): the client writes a request under
 *             /local/domain/0/xmaint/request, xmaintd wakes, parses, answers
 *             under response/, removes the request; the client wakes, reads
 *             and removes the response.
 *
 * Usage: bench-roundtrip [N]   (default 3000 round trips each)
 * Prints requests/s, p50 and p99 latency of each and the ratios.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#include "internal.h"
#include "schema.h"
#include "xsd.h"

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

struct stats {
    double per_s, p50, p99;
};

static struct stats summarise(double *lat, int n, double total_us)
{
    struct stats s;

    qsort(lat, (size_t)n, sizeof(double), cmp_double);
    s.per_s = n / (total_us / 1e6);
    s.p50 = lat[n / 2];
    s.p99 = lat[(n * 99) / 100];
    return s;
}

static void wait_watch(struct xs_handle *h, const char *token)
{
    struct pollfd pfd = { .fd = xs_fileno(h), .events = POLLIN };
    unsigned n;

    for (;;) {
        char **ev;

        if (poll(&pfd, 1, 5000) != 1) {
            fprintf(stderr, "bench: no watch event\n");
            exit(99);
        }
        ev = xs_read_watch(h, &n);
        if (ev && !strcmp(ev[XS_WATCH_TOKEN], token)) {
            free(ev);
            return;
        }
        free(ev);
    }
}

/* The bare peer: answer every /bench/req with /bench/resp. */
static void peer(void)
{
    struct xs_handle *h = xs_open(0);
    unsigned len;

    if (!h || !xs_watch(h, "/bench/req", "req"))
        _exit(99);
    wait_watch(h, "req");                   /* the registration's event */
    if (!xs_write(h, XBT_NULL, "/bench/ready", "1", 1))
        _exit(99);
    for (;;) {
        char *v;

        wait_watch(h, "req");
        v = xs_read(h, XBT_NULL, "/bench/req", &len);
        if (!v)
            continue;
        if (!strcmp(v, "quit"))
            _exit(0);
        xs_write(h, XBT_NULL, "/bench/resp", v, len);
        free(v);
    }
}

static struct stats bench_bare(int n)
{
    struct xs_handle *h = xs_open(0);
    double *lat = calloc((size_t)n, sizeof(double)), t0, start;
    char buf[32];
    unsigned len;
    pid_t pid;
    char *v = NULL;

    xs_rm(h, XBT_NULL, "/bench");
    pid = fork();
    if (pid == 0)
        peer();
    while (!(v = xs_read(h, XBT_NULL, "/bench/ready", &len)))
        usleep(1000);
    free(v);
    xs_watch(h, "/bench/resp", "resp");
    wait_watch(h, "resp");
    start = now_us();
    for (int i = 0; i < n; i++) {
        snprintf(buf, sizeof(buf), "%d", i);
        t0 = now_us();
        xs_write(h, XBT_NULL, "/bench/req", buf, (unsigned)strlen(buf));
        for (;;) {
            wait_watch(h, "resp");
            v = xs_read(h, XBT_NULL, "/bench/resp", &len);
            if (v && !strcmp(v, buf))
                break;
            free(v);
        }
        free(v);
        lat[i] = now_us() - t0;
    }
    struct stats s = summarise(lat, n, now_us() - start);
    xs_write(h, XBT_NULL, "/bench/req", "quit", 4);
    waitpid(pid, NULL, 0);
    xs_close(h);
    free(lat);
    return s;
}

static struct stats bench_xmaintd(maint_ctx *ctx, int n)
{
    double *lat = calloc((size_t)n, sizeof(double)), t0, start;

    start = now_us();
    for (int i = 0; i < n; i++) {
        char *result = NULL;

        t0 = now_us();
        if (maint_request(ctx, "ping", NULL, 5000, &result, NULL) != MAINT_OK) {
            fprintf(stderr, "bench: ping %d failed\n", i);
            exit(99);
        }
        lat[i] = now_us() - t0;
        free(result);
    }
    struct stats s = summarise(lat, n, now_us() - start);
    free(lat);
    return s;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 3000;
    const char *bin = getenv("XMAINTD") ? getenv("XMAINTD") : XMAINTD_BIN;
    char state[] = "/tmp/bench-xmaintd-XXXXXX";
    struct stats bare, xm, bare2;
    maint_ctx *ctx = NULL;
    struct xsd *xsd;
    pid_t daemon;
    int rc;

    if (n < 100) {
        fprintf(stderr, "usage: bench-roundtrip [N >= 100]\n");
        return 2;
    }
    rc = xsd_start(&xsd);
    if (rc)
        return xsd_exit_code(rc);
    if (!mkdtemp(state))
        return 99;
    daemon = fork();
    if (daemon == 0) {
        execl(bin, "xmaintd", "--foreground", "--pidfile", "", "--state-dir", state,
              "--log-file", "/dev/null", (char *)NULL);
        _exit(127);
    }
    if (maint_ctx_open(&ctx, NULL, MAINT_CTX_NO_LIBXL))
        return 99;
    /* wait until it answers, then warm both paths up */
    for (int i = 0; i < 500 && maint_request(ctx, "ping", NULL, 100, NULL, NULL); i++)
        ;
    bench_xmaintd(ctx, 100);
    bench_bare(100);

    /* bare, xmaintd, bare again: the baseline brackets the measurement */
    bare = bench_bare(n);
    xm = bench_xmaintd(ctx, n);
    bare2 = bench_bare(n);
    if (bare2.p50 < bare.p50)
        bare = bare2;

    printf("round trips: %d each, one client, one xenstored (user space)\n", n);
    printf("%-34s %10s %10s %10s\n", "", "req/s", "p50 us", "p99 us");
    printf("%-34s %10.0f %10.1f %10.1f\n", "baseline: two bare C processes",
           bare.per_s, bare.p50, bare.p99);
    printf("%-34s %10.0f %10.1f %10.1f\n", "xmaintd ping (libmaint client)",
           xm.per_s, xm.p50, xm.p99);
    printf("ratio xmaintd/baseline: p50 %.2fx, p99 %.2fx, throughput %.2fx slower "
           "(goal <= 1.5x)\n", xm.p50 / bare.p50, xm.p99 / bare.p99,
           bare.per_s / xm.per_s);

    maint_ctx_close(ctx);
    kill(daemon, SIGTERM);
    waitpid(daemon, NULL, 0);
    xsd_stop(xsd);
    {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
        if (system(cmd)) { /* best effort */ }
    }
    return 0;
}
