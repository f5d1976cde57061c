/*
 * xsd-bench.c - figures for the xenstored test harness: how long xsd_start()
 * takes, and how many requests one client gets through.  Prints figures, no
 * pass/fail.  Usage: xsd-bench [PAIRS]  (default 20000)
 *
 * Baseline, measured in the same run: reads alone; the write+read figure is
 * reported next to it as a ratio.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xenstore.h>

#include "xsd.h"

#define STARTS 20

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* N write+read pairs (or reads only) on distinct keys; seconds, <0 on error. */
static double run(struct xs_handle *h, unsigned int n, int write)
{
    char key[64], val[32];
    unsigned int i, len;
    double t0 = now_s();
    char *v;

    for (i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "/bench/k%u", i % 1000);
        snprintf(val, sizeof(val), "%u", i);
        if (write && !xs_write(h, XBT_NULL, key, val, strlen(val)))
            return -1;
        v = xs_read(h, XBT_NULL, key, &len);
        if (!v)
            return -1;
        free(v);
    }
    return now_s() - t0;
}

int main(int argc, char **argv)
{
    unsigned int pairs = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
    double start[STARTS], stop[STARTS], t, tw, tr;
    struct xs_handle *h;
    struct xsd *xsd;
    int rc, i;

    for (i = 0; i < STARTS; i++) {
        t = now_s();
        rc = xsd_start(&xsd);
        if (rc)
            return xsd_exit_code(rc);
        start[i] = now_s() - t;
        t = now_s();
        xsd_stop(xsd);
        stop[i] = now_s() - t;
    }
    qsort(start, STARTS, sizeof(double), cmp_double);
    qsort(stop, STARTS, sizeof(double), cmp_double);
    printf("xsd_start (until a read answers): median %.1f ms, min %.1f ms, "
           "max %.1f ms over %d\n", start[STARTS / 2] * 1e3, start[0] * 1e3,
           start[STARTS - 1] * 1e3, STARTS);
    printf("xsd_stop: median %.1f ms\n", stop[STARTS / 2] * 1e3);

    rc = xsd_start(&xsd);
    if (rc)
        return xsd_exit_code(rc);
    h = xsd_open(xsd);
    if (!h)
        return 99;
    tw = run(h, pairs, 1);      /* also creates the keys the reads need */
    tr = run(h, pairs, 0);
    tw = run(h, pairs, 1);
    if (tw < 0 || tr < 0) {
        perror("xsd-bench: request failed");
        return 99;
    }
    printf("reads alone (baseline): %.0f reads/s\n", pairs / tr);
    printf("write+read pairs: %.0f pairs/s (%.0f requests/s), %.2f x the "
           "baseline's request rate\n", pairs / tw, 2 * pairs / tw,
           (2 * pairs / tw) / (pairs / tr));
    xs_close(h);
    xsd_stop(xsd);
    return 0;
}
