/*
 * xsd-preload.c - a test double for the hypervisor, loaded (LD_PRELOAD) into
 * Debian's C xenstored 4.17 so that the real daemon runs in user space on a
 * machine without Xen.  It is never linked into or loaded by project code:
 * only xsd.c and xsd-run.sh put it into xenstored's environment.
 *
 * xenstored talks to the hypervisor through three libraries and two /proc
 * files.  Without Xen each of them fails and xenstored exits.  This library
 * defines the few functions xenstored 4.17 imports (check with
 * `nm -D --undefined-only xenstored`) and answers them as follows:
 *
 *  libxenctrl
 *   xc_interface_open/close   a dummy handle; no hypercall interface.
 *   xc_domain_getinfo         every domid below XSD_MAX_DOMID (environment,
 *                             default 64) exists and is running, except those
 *                             listed in $XENSTORED_RUNDIR/dead-domains (one
 *                             "DOMID [dying|shutdown|crashed]" per line, the
 *                             state defaulting to dying).  xenstored asks when
 *                             a domain is introduced and when VIRQ_DOM_EXC
 *                             fires; "dying" makes it drop the domain's
 *                             connection and fire @releaseDomain, "shutdown"
 *                             and "crashed" fire @releaseDomain only.
 *  libxenevtchn
 *   xenevtchn_open/fdopen/fd  the "event channel device" is the FIFO
 *                             $XENSTORED_RUNDIR/virq-dom-exc (an eventfd that
 *                             never fires when there is no run dir).  Each
 *                             byte written to the FIFO delivers VIRQ_DOM_EXC
 *                             once; nothing else ever fires.
 *   xenevtchn_bind_*          hand out increasing local port numbers.
 *   xenevtchn_pending         consumes one byte; returns the VIRQ's port.
 *   notify/unmask/unbind      succeed and do nothing.
 *  libxengnttab
 *   xengnttab_open/close, set_max_grants   dummy handle, succeed.
 *   xengnttab_map_grant_ref   a fresh zeroed anonymous page: the guest's ring
 *                             stays empty, so the guest never says anything.
 *   xengnttab_unmap           munmap.
 *  open()
 *   /proc/xen/xsd_port        a memfd holding "1": dom0's xenstore port.
 *   /proc/xen/xsd_kva         a memfd one page long: dom0's (empty) ring.
 *   anything else             passed on to openat(), which is not interposed.
 *
 * Set XSD_PRELOAD_TRACE=1 in xenstored's environment to log each call to
 * stderr.
 *
 * Build it without sanitizers: it runs inside the uninstrumented xenstored.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* memfd_create, O_TMPFILE (config.h has it too) */
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <xenctrl.h>        /* before xenevtchn.h: see the project notes */
#include <xenevtchn.h>
#include <xengnttab.h>

/* The interposed symbols must stay visible despite -fvisibility=hidden. */
#define XSD_EXPORT __attribute__((visibility("default")))

#define XSD_DEFAULT_MAX_DOMID 64
#define XSD_DOM0_PORT 1     /* what /proc/xen/xsd_port reports */

struct xc_interface_core { int unused; };
struct xenevtchn_handle { int fd; int virq_port; };
struct xengntdev_handle { int unused; };

static struct xc_interface_core the_xc;
static struct xengntdev_handle the_gnttab;
static int next_port = 1;   /* xenstored is single-threaded */

static void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void trace(const char *fmt, ...)
{
    const char *t = getenv("XSD_PRELOAD_TRACE");
    va_list ap;

    if (!t || !*t || !strcmp(t, "0"))
        return;
    va_start(ap, fmt);
    fputs("xsd-preload: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Run dir file name, or NULL if XENSTORED_RUNDIR is unset or too long. */
static const char *rundir_file(char *buf, size_t len, const char *name)
{
    const char *dir = getenv("XENSTORED_RUNDIR");
    int n;

    if (!dir || !*dir)
        return NULL;
    n = snprintf(buf, len, "%s/%s", dir, name);
    return n > 0 && (size_t)n < len ? buf : NULL;
}

static unsigned int max_domid(void)
{
    const char *s = getenv("XSD_MAX_DOMID");
    char *end;
    unsigned long v;

    if (!s || !*s)
        return XSD_DEFAULT_MAX_DOMID;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v > DOMID_FIRST_RESERVED)
        return XSD_DEFAULT_MAX_DOMID;
    return v;
}

enum dom_state { DOM_RUNNING, DOM_DYING, DOM_SHUTDOWN, DOM_CRASHED };

/* The state the dead-domains file gives DOMID; the last line for it wins. */
static enum dom_state dom_state(uint32_t domid)
{
    char path[4096], line[128], word[32];
    enum dom_state st = DOM_RUNNING;
    unsigned int id;
    FILE *f;
    int n;

    if (!rundir_file(path, sizeof(path), "dead-domains"))
        return DOM_RUNNING;
    f = fopen(path, "re");
    if (!f)
        return DOM_RUNNING;
    while (fgets(line, sizeof(line), f)) {
        n = sscanf(line, "%u %31s", &id, word);
        if (n < 1 || id != domid)
            continue;
        if (n == 1 || !strcmp(word, "dying"))
            st = DOM_DYING;
        else if (!strcmp(word, "shutdown"))
            st = DOM_SHUTDOWN;
        else if (!strcmp(word, "crashed"))
            st = DOM_CRASHED;
        else if (!strcmp(word, "running"))
            st = DOM_RUNNING;
    }
    fclose(f);
    return st;
}

/* ---- libxenctrl ---- */

XSD_EXPORT xc_interface *xc_interface_open(xentoollog_logger *logger,
                                           xentoollog_logger *dombuild_logger,
                                           unsigned open_flags)
{
    trace("xc_interface_open");
    return &the_xc;
}

XSD_EXPORT int xc_interface_close(xc_interface *xch)
{
    trace("xc_interface_close");
    return 0;
}

/* Like Xen: info on up to MAX_DOMS existing domains from FIRST_DOMID up. */
XSD_EXPORT int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid,
                                 unsigned int max_doms, xc_dominfo_t *info)
{
    unsigned int limit = max_domid();
    unsigned int n = 0;
    uint32_t d;

    for (d = first_domid; d < limit && n < max_doms; d++, n++) {
        enum dom_state st = dom_state(d);
        xc_dominfo_t *i = &info[n];

        memset(i, 0, sizeof(*i));
        i->domid = d;
        i->running = st == DOM_RUNNING;
        i->dying = st == DOM_DYING;
        i->shutdown = st == DOM_SHUTDOWN || st == DOM_DYING;
        i->crashed = st == DOM_CRASHED;
        i->shutdown_reason = st == DOM_CRASHED ? SHUTDOWN_crash
                                               : SHUTDOWN_poweroff;
        i->nr_online_vcpus = 1;
    }
    trace("xc_domain_getinfo(%u, %u) = %u", first_domid, max_doms, n);
    return n;
}

/* ---- libxenevtchn ---- */

static xenevtchn_handle *evtchn_new(int fd)
{
    xenevtchn_handle *xce = calloc(1, sizeof(*xce));

    if (!xce)
        return NULL;
    xce->fd = fd;
    xce->virq_port = -1;
    return xce;
}

XSD_EXPORT xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger,
                                            unsigned int flags)
{
    char path[4096];
    xenevtchn_handle *xce;
    int fd = -1;

    if (rundir_file(path, sizeof(path), "virq-dom-exc")) {
        if (mkfifo(path, 0600) < 0 && errno != EEXIST)
            return NULL;
        /* O_RDWR: opening never blocks and poll never reports POLLHUP. */
        fd = openat(AT_FDCWD, path, O_RDWR | O_CLOEXEC);
    } else {
        fd = eventfd(0, EFD_CLOEXEC);
    }
    if (fd < 0)
        return NULL;
    xce = evtchn_new(fd);
    if (!xce)
        close(fd);
    trace("xenevtchn_open = fd %d", fd);
    return xce;
}

XSD_EXPORT xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger,
                                              int fd, unsigned open_flags)
{
    trace("xenevtchn_fdopen(%d)", fd);
    return evtchn_new(fd);
}

XSD_EXPORT int xenevtchn_close(xenevtchn_handle *xce)
{
    if (!xce)
        return 0;
    close(xce->fd);
    free(xce);
    return 0;
}

XSD_EXPORT int xenevtchn_fd(xenevtchn_handle *xce)
{
    return xce->fd;
}

XSD_EXPORT xenevtchn_port_or_error_t
xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
                           evtchn_port_t remote_port)
{
    trace("xenevtchn_bind_interdomain(%u, %u) = %d", domid, remote_port,
          next_port);
    return next_port++;
}

XSD_EXPORT xenevtchn_port_or_error_t
xenevtchn_bind_virq(xenevtchn_handle *xce, unsigned int virq)
{
    if (virq != VIRQ_DOM_EXC) {
        errno = EINVAL;
        return -1;
    }
    xce->virq_port = next_port++;
    trace("xenevtchn_bind_virq(%u) = %d", virq, xce->virq_port);
    return xce->virq_port;
}

/* Called only once poll() saw the fd readable: one byte, one VIRQ_DOM_EXC. */
XSD_EXPORT xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
    char byte;
    ssize_t r = read(xce->fd, &byte, 1);

    if (r < 0)
        return -1;
    if (r == 0 || xce->virq_port < 0) {
        errno = EAGAIN;
        return -1;
    }
    trace("xenevtchn_pending = %d (VIRQ_DOM_EXC)", xce->virq_port);
    return xce->virq_port;
}

XSD_EXPORT int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
    return 0;
}

XSD_EXPORT int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
    return 0;
}

XSD_EXPORT int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
    trace("xenevtchn_unbind(%u)", port);
    return 0;
}

/* ---- libxengnttab ---- */

XSD_EXPORT xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger,
                                            unsigned open_flags)
{
    trace("xengnttab_open");
    return &the_gnttab;
}

XSD_EXPORT int xengnttab_close(xengnttab_handle *xgt)
{
    return 0;
}

XSD_EXPORT int xengnttab_set_max_grants(xengnttab_handle *xgt,
                                        uint32_t nr_grants)
{
    return 0;
}

XSD_EXPORT void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid,
                                         uint32_t ref, int prot)
{
    void *p = mmap(NULL, sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    trace("xengnttab_map_grant_ref(%u, %u) = %p", domid, ref, p);
    return p == MAP_FAILED ? NULL : p;
}

XSD_EXPORT int xengnttab_unmap(xengnttab_handle *xgt, void *start_address,
                               uint32_t count)
{
    trace("xengnttab_unmap(%p)", start_address);
    return munmap(start_address, (size_t)count * sysconf(_SC_PAGESIZE));
}

/* ---- open() of the xenstored /proc/xen files ---- */

static int fake_proc_file(const char *name, int flags)
{
    int fd = memfd_create(name, (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
    char port[16];
    int n;

    if (fd < 0)
        return -1;
    if (!strcmp(name, "xsd_port")) {
        n = snprintf(port, sizeof(port), "%d\n", XSD_DOM0_PORT);
        if (write(fd, port, n) != n || lseek(fd, 0, SEEK_SET) < 0)
            goto fail;
    } else if (ftruncate(fd, sysconf(_SC_PAGESIZE)) < 0) {
        goto fail;
    }
    trace("open(/proc/xen/%s) = memfd %d", name, fd);
    return fd;

fail:
    close(fd);
    return -1;
}

XSD_EXPORT int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    va_list ap;

    if (!strcmp(path, "/proc/xen/xsd_port"))
        return fake_proc_file("xsd_port", flags);
    if (!strcmp(path, "/proc/xen/xsd_kva"))
        return fake_proc_file("xsd_kva", flags);
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    return openat(AT_FDCWD, path, flags, mode);
}
