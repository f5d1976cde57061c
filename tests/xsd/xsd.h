/*
 * xsd.h - run the real xenstored (Debian's C xenstored 4.17) in user space
 * for tests: each instance gets a private run directory, its own socket and
 * an empty in-memory database.  The hypervisor under it is faked by
 * libxsdpreload.so (see xsd-preload.c).
 *
 * Typical use in a CUnit runner:
 *
 *     struct xsd *xsd;
 *     int rc = xsd_start(&xsd);
 *     if (rc)
 *         return xsd_exit_code(rc);     // 77 (skip) or 99, reason printed
 *     ... xs_open(0) now reaches this instance ...
 *     xsd_stop(xsd);
 *
 * Programs: the xenstored binary is XENSTORED from the environment, else the
 * one configure found.  The preload library is XSD_PRELOAD from the
 * environment, else the one in the build tree.
 *
 * Other environment switches: XSD_KEEP=1 leaves the run directory behind
 * (its path is printed) for a post mortem; XSD_TRACE=1 makes xenstored write
 * its request trace to <dir>/trace; XSD_MAX_DOMID (default 64) is passed on
 * to the shim: domids at or above it do not exist.
 *
 * The run directory holds: socket, pid, xenstored.log (the daemon's stdout
 * and stderr), dead-domains and virq-dom-exc (the shim's controls).
 *
 * Functions report their failure once on stderr, naming the cause.
 * Not thread-safe: xsd_start() and xsd_open() modify the environment.
 */
#ifndef XMAINT_TESTS_XSD_H
#define XMAINT_TESTS_XSD_H

struct xsd;
struct xs_handle;

/* Return codes (0 is success). */
#define XSD_ERROR_FAIL    (-1)  /* the harness or xenstored failed: exit 99 */
#define XSD_ERROR_MISSING (-2)  /* xenstored is not installed: skip, exit 77 */

/*
 * Start a fresh xenstored and wait until it answers a request.  Sets
 * XENSTORED_PATH in this process's environment to its socket, so that
 * xs_open(0) and child processes reach it (the last one started wins; use
 * xsd_open() to address a given instance).  On success *xsd_r is the
 * instance, to be passed to xsd_stop(); on failure *xsd_r is NULL.
 * The daemon is killed (SIGKILL) if the thread that started it exits, and
 * stopped by an atexit handler if xsd_stop() was not called.
 */
int xsd_start(struct xsd **xsd_r);

/*
 * Stop the daemon and remove its directory.  Idempotent, accepts NULL, and
 * safe to call from an atexit handler or after the atexit cleanup ran.
 * Unsets XENSTORED_PATH if it points at this instance.  Does nothing in a
 * forked child of the process that started the instance.  The struct stays
 * valid (xsd_dir() etc. still answer) until the process exits.
 */
void xsd_stop(struct xsd *xsd);

/* 77 for XSD_ERROR_MISSING, 99 for any other error, 0 for 0. */
int xsd_exit_code(int rc);

/* The instance's private run directory (owned by xsd: do not free). */
const char *xsd_dir(const struct xsd *xsd);

/* Its socket path, the value for XENSTORED_PATH (owned by xsd). */
const char *xsd_socket(const struct xsd *xsd);

/*
 * A new socket connection to this instance, whatever XENSTORED_PATH says;
 * never falls back to the real xenbus device.  Returns NULL on failure
 * (reported).  Close it with xs_close().
 */
struct xs_handle *xsd_open(struct xsd *xsd);

/*
 * Do what a toolstack does when it builds domain DOMID (1 <= domid < 0x7ff0):
 * create /local/domain/DOMID (owned by dom0, readable by DOMID) with "domid"
 * and "name" (= "xsd-DOMID"), then xs_introduce_domain().  xenstored fires
 * @introduceDomain.  Brings a domid marked dead back to life first.  The
 * guest's ring stays empty: the guest never sends a request.
 * Returns 0 or XSD_ERROR_FAIL.
 */
int xsd_introduce(struct xsd *xsd, unsigned int domid);

/*
 * The domain dies: the shim now reports DOMID as dying and raises
 * VIRQ_DOM_EXC, as Xen does when a domain is destroyed; xenstored then drops
 * the domain's connection and fires @releaseDomain.  Returns once xenstored
 * no longer knows the domain (xs_is_domain_introduced() is false), 0 or
 * XSD_ERROR_FAIL.  /local/domain/DOMID is left alone: removing it is the
 * toolstack's job.
 */
int xsd_kill_domain(struct xsd *xsd, unsigned int domid);

/*
 * The domain shuts down but is not destroyed yet: the shim reports DOMID as
 * shut down and raises VIRQ_DOM_EXC; xenstored fires @releaseDomain and keeps
 * the domain.  Returns without waiting for the watch event, 0 or
 * XSD_ERROR_FAIL.
 */
int xsd_shutdown_domain(struct xsd *xsd, unsigned int domid);

#endif
