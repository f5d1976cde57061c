/*
 * xmaint-pci-hole — the "PCI hole": an ioreq server in dom0 that claims the
 * PCI configuration space of chosen slots of an HVM domain and answers every
 * read with all-ones (what an empty slot reads as) and drops every write, so
 * that neither hvmloader nor the guest OS finds a device there.
 *
 *   xmaint-pci-hole [--ready-fd N] DOMID BB:DD.F...
 *
 * Start it while the domain is paused: it registers, claims the slots,
 * enables its server, binds every vCPU's event channel, then reports ready
 * (a line "ready" on --ready-fd, default stdout) and serves until the domain
 * dies or it gets SIGTERM/SIGINT.  Xen asks servers in descending id order,
 * so this server (created after qemu's) answers for the slots it claims.
 *
 * All state is in one struct; setup runs in stages and teardown undoes
 * exactly the stages reached, in reverse.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xendevicemodel.h>
#include <xenforeignmemory.h>
#include <xenstore.h>
#include <xen/hvm/ioreq.h>
#include <xen/hvm/hvm_op.h>
#include <xen/memory.h>

#define MAX_SLOTS 16
#define MAX_VCPUS 128

struct hole {
    /* arguments */
    domid_t domid;
    unsigned nr_slots;
    struct { uint8_t bus, dev, fn; } slot[MAX_SLOTS];
    int ready_fd;

    /* stages */
    xc_interface *xch;
    xendevicemodel_handle *dmod;
    xenforeignmemory_handle *fmem;
    xenevtchn_handle *xce;
    struct xs_handle *xs;
    ioservid_t id;
    bool server_created, server_enabled;
    xenforeignmemory_resource_handle *res;
    shared_iopage_t *iopage;
    unsigned nr_vcpus;
    evtchn_port_t local_port[MAX_VCPUS];   /* 0: not bound */

    /* counters */
    unsigned long reads, writes, others;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    stop = 1;
}

static void die_usage(const char *msg)
{
    fprintf(stderr, "xmaint-pci-hole: %s\n"
            "usage: xmaint-pci-hole [--ready-fd N] DOMID BB:DD.F...\n", msg);
    exit(2);
}

static bool parse_bdf(const char *s, uint8_t *bus, uint8_t *dev, uint8_t *fn)
{
    unsigned b, d, f;
    int n = 0;

    if (sscanf(s, "%2x:%2x.%1x%n", &b, &d, &f, &n) != 3 || s[n] != '\0' ||
        strlen(s) != 7 || d >= 32 || f >= 8)
        return false;
    *bus = (uint8_t)b;
    *dev = (uint8_t)d;
    *fn = (uint8_t)f;
    return true;
}

static int setup(struct hole *h)
{
    xc_domaininfo_t info;
    unsigned i;

    h->xch = xc_interface_open(NULL, NULL, 0);
    h->dmod = xendevicemodel_open(NULL, 0);
    h->fmem = xenforeignmemory_open(NULL, 0);
    h->xce = xenevtchn_open(NULL, 0);
    h->xs = xs_open(XS_OPEN_READONLY);
    if (!h->xch || !h->dmod || !h->fmem || !h->xce || !h->xs) {
        fprintf(stderr, "xmaint-pci-hole: cannot open the Xen interfaces: %s\n",
                strerror(errno));
        return -1;
    }
    if (xc_domain_getinfolist(h->xch, h->domid, 1, &info) != 1 ||
        info.domain != h->domid) {
        fprintf(stderr, "xmaint-pci-hole: d%u: no such domain\n", h->domid);
        return -1;
    }
    if (!(info.flags & XEN_DOMINF_hvm_guest)) {
        fprintf(stderr, "xmaint-pci-hole: d%u is not an HVM domain\n", h->domid);
        return -1;
    }
    h->nr_vcpus = info.max_vcpu_id + 1;
    if (h->nr_vcpus > MAX_VCPUS) {
        fprintf(stderr, "xmaint-pci-hole: d%u has %u vCPUs; at most %d\n", h->domid,
                h->nr_vcpus, MAX_VCPUS);
        return -1;
    }
    if (xendevicemodel_create_ioreq_server(h->dmod, h->domid, HVM_IOREQSRV_BUFIOREQ_OFF,
                                           &h->id)) {
        fprintf(stderr, "xmaint-pci-hole: d%u: cannot create an ioreq server: %s\n",
                h->domid, strerror(errno));
        return -1;
    }
    h->server_created = true;
    h->res = xenforeignmemory_map_resource(h->fmem, h->domid, XENMEM_resource_ioreq_server,
                                           h->id, XENMEM_resource_ioreq_server_frame_ioreq(0),
                                           1, (void **)&h->iopage, PROT_READ | PROT_WRITE, 0);
    if (!h->res) {
        fprintf(stderr, "xmaint-pci-hole: d%u: cannot map the ioreq page: %s\n",
                h->domid, strerror(errno));
        return -1;
    }
    for (i = 0; i < h->nr_slots; i++) {
        if (xendevicemodel_map_pcidev_to_ioreq_server(h->dmod, h->domid, h->id, 0,
                                                      h->slot[i].bus, h->slot[i].dev,
                                                      h->slot[i].fn)) {
            fprintf(stderr, "xmaint-pci-hole: d%u: cannot claim %02x:%02x.%x: %s\n",
                    h->domid, h->slot[i].bus, h->slot[i].dev, h->slot[i].fn,
                    strerror(errno));
            return -1;
        }
    }
    if (xendevicemodel_set_ioreq_server_state(h->dmod, h->domid, h->id, 1)) {
        fprintf(stderr, "xmaint-pci-hole: d%u: cannot enable the server: %s\n",
                h->domid, strerror(errno));
        return -1;
    }
    h->server_enabled = true;
    /* The event channels exist only once the server is enabled. */
    for (i = 0; i < h->nr_vcpus; i++) {
        xenevtchn_port_or_error_t p =
            xenevtchn_bind_interdomain(h->xce, h->domid, h->iopage->vcpu_ioreq[i].vp_eport);

        if (p < 0) {
            fprintf(stderr, "xmaint-pci-hole: d%u: cannot bind vCPU %u's event channel: %s\n",
                    h->domid, i, strerror(errno));
            return -1;
        }
        h->local_port[i] = (evtchn_port_t)p;
    }
    if (!xs_watch(h->xs, "@releaseDomain", "release")) {
        fprintf(stderr, "xmaint-pci-hole: cannot watch @releaseDomain\n");
        return -1;
    }
    return 0;
}

static void teardown(struct hole *h)
{
    unsigned i;

    if (h->xs)
        xs_close(h->xs);
    for (i = 0; i < h->nr_vcpus; i++)
        if (h->local_port[i])
            xenevtchn_unbind(h->xce, h->local_port[i]);
    if (h->server_enabled)
        xendevicemodel_set_ioreq_server_state(h->dmod, h->domid, h->id, 0);
    if (h->res)
        xenforeignmemory_unmap_resource(h->fmem, h->res);
    if (h->server_created)
        xendevicemodel_destroy_ioreq_server(h->dmod, h->domid, h->id);
    if (h->xce)
        xenevtchn_close(h->xce);
    if (h->fmem)
        xenforeignmemory_close(h->fmem);
    if (h->dmod)
        xendevicemodel_close(h->dmod);
    if (h->xch)
        xc_interface_close(h->xch);
}

/* Answer one request: reads see an empty slot, writes vanish. */
static void serve(struct hole *h, unsigned vcpu)
{
    ioreq_t *req = &h->iopage->vcpu_ioreq[vcpu];

    if (req->state != STATE_IOREQ_READY)
        return;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (req->dir == IOREQ_READ) {
        if (!req->data_is_ptr)
            req->data = req->size >= 8 ? ~0ULL : (1ULL << (8 * req->size)) - 1;
        if (req->type == IOREQ_TYPE_PCI_CONFIG)
            h->reads++;
        else
            h->others++;
    } else {
        h->writes++;
    }
    __atomic_thread_fence(__ATOMIC_RELEASE);
    req->state = STATE_IORESP_READY;
    xenevtchn_notify(h->xce, h->local_port[vcpu]);
}

static bool domain_gone(struct hole *h)
{
    xc_domaininfo_t info;

    return xc_domain_getinfolist(h->xch, h->domid, 1, &info) != 1 ||
           info.domain != h->domid || (info.flags & XEN_DOMINF_dying) ||
           (info.flags & XEN_DOMINF_shutdown);
}

static void run(struct hole *h)
{
    struct pollfd pfd[2] = {
        { .fd = xenevtchn_fd(h->xce), .events = POLLIN },
        { .fd = xs_fileno(h->xs), .events = POLLIN },
    };

    while (!stop) {
        if (poll(pfd, 2, 1000) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[0].revents & POLLIN) {
            xenevtchn_port_or_error_t port = xenevtchn_pending(h->xce);

            if (port >= 0) {
                for (unsigned i = 0; i < h->nr_vcpus; i++)
                    if (h->local_port[i] == (evtchn_port_t)port)
                        serve(h, i);
                xenevtchn_unmask(h->xce, (evtchn_port_t)port);
            }
        }
        if (pfd[1].revents & POLLIN) {
            unsigned n;
            char **ev = xs_read_watch(h->xs, &n);

            free(ev);
            if (domain_gone(h))
                break;
        }
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "ready-fd", required_argument, NULL, 'r' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    struct hole h = { .ready_fd = STDOUT_FILENO };
    struct sigaction sa = { .sa_handler = on_signal };
    char *end;
    unsigned long v;
    int c, i, status = 1;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            v = strtoul(optarg, &end, 10);
            if (*end || v > 1024)
                die_usage("--ready-fd needs a file descriptor number");
            h.ready_fd = (int)v;
            break;
        case 'h':
            printf("usage: xmaint-pci-hole [--ready-fd N] DOMID BB:DD.F...\n");
            return 0;
        default:
            die_usage("unknown option");
        }
    }
    if (argc - optind < 2)
        die_usage("a domain and at least one slot are needed");
    v = strtoul(argv[optind], &end, 10);
    if (*end || !*argv[optind] || v == 0 || v >= DOMID_FIRST_RESERVED)
        die_usage("DOMID must be a guest's domain id");
    h.domid = (domid_t)v;
    for (i = optind + 1; i < argc; i++) {
        if (h.nr_slots >= MAX_SLOTS)
            die_usage("at most 16 slots");
        if (!parse_bdf(argv[i], &h.slot[h.nr_slots].bus, &h.slot[h.nr_slots].dev,
                       &h.slot[h.nr_slots].fn))
            die_usage("a slot is BB:DD.F in hex");
        h.nr_slots++;
    }
    signal(SIGPIPE, SIG_IGN);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    if (setup(&h) == 0) {
        if (dprintf(h.ready_fd, "ready\n") < 0) { /* the starter went away */ }
        if (h.ready_fd != STDOUT_FILENO)
            close(h.ready_fd);
        fprintf(stderr, "xmaint-pci-hole: d%u: ioreq server %u claims %u slot(s)\n",
                h.domid, h.id, h.nr_slots);
        run(&h);
        fprintf(stderr, "xmaint-pci-hole: d%u: done: %lu config reads answered empty, "
                "%lu writes dropped, %lu other requests\n", h.domid, h.reads, h.writes,
                h.others);
        status = 0;
    }
    teardown(&h);
    return status;
}
