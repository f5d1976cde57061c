/*
 * xmaint-agent --host: the identity of the host this domain runs on, as the
 * host's xmaintd publishes it in the domain's own tree (~/xmaint/host/id and
 * ~/xmaint/host/cpu-signature), with the domain id.  With --follow, one line
 * each time any of them changes (a live migration, a save/restore), stamped
 * with this guest's CLOCK_MONOTONIC in milliseconds.
 *
 * Paths are relative, so xenstored resolves them under the domain's current
 * home: after a move they name the new domain's keys without a restart.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xenstore.h>

#include "agent.h"

/* A printable copy of a guest-readable value ("-" when absent), at most
 * 64 characters of [A-Za-z0-9._:-]. */
static void read_value(struct xs_handle *xs, const char *path, char *out, size_t size)
{
    unsigned len = 0, i, n = 0;
    char *v = xs_read(xs, XBT_NULL, path, &len);

    if (!v || !len) {
        snprintf(out, size, "-");
        free(v);
        return;
    }
    for (i = 0; i < len && n + 1 < size && n < 64; i++) {
        char c = v[i];
        out[n++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || strchr("._:-", c) ? c : '?';
    }
    out[n] = '\0';
    free(v);
}

static unsigned long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000ull;
}

int agent_host_print(struct xs_handle *xs, bool follow, unsigned interval_ms)
{
    char last[256] = "", line[256], dom[16], id[80], cpu[80];

    for (;;) {
        read_value(xs, "domid", dom, sizeof(dom));
        read_value(xs, "xmaint/host/id", id, sizeof(id));
        read_value(xs, "xmaint/host/cpu-signature", cpu, sizeof(cpu));
        snprintf(line, sizeof(line), "domid=%s host-id=%s cpu-signature=%s", dom, id, cpu);
        if (!follow) {
            printf("%s\n", line);
            return strcmp(id, "-") ? 0 : 1;
        }
        if (strcmp(line, last)) {
            printf("%llu %s\n", mono_ms(), line);
            fflush(stdout);
            snprintf(last, sizeof(last), "%s", line);
        }
        poll(NULL, 0, (int)interval_ms);
    }
}
