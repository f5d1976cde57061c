/* Shared pieces of the CUnit unit tests. */
#ifndef XMAINT_UNIT_H
#define XMAINT_UNIT_H

#include <CUnit/CUnit.h>
#include "internal.h"

/* Each module's suite registration (one per test-*.c file). */
void suite_json_register(void);
void suite_request_register(void);
void suite_client_register(void);
void suite_substitute_register(void);
void suite_agent_register(void);
void suite_api_register(void);
void suite_util_register(void);

/*
 * Compare actual output with tests/data/<module>/<name>.out (found through
 * $top_srcdir).  With XMAINT_REGENERATE=1 the file is written instead.
 */
void unit_check_output(const char *module, const char *name, const char *actual);

/*
 * For every tests/data/<module>/<case>.in: verdict(value, length) (g_malloc'd
 * text, the trailing newline of the file not part of the value) is compared
 * with <case>.out.  Returns the number of cases.
 */
unsigned unit_each_case(const char *module, char *(*verdict)(const char *buf, size_t len));

/* ---- The fake port: an in-memory xenstore and a scripted hypervisor. ---- */

typedef struct fake_port fake_port;

/* A hook run after every write (path, value): used to play the daemon. */
typedef void (*fake_write_hook)(fake_port *fp, const char *path, const char *value,
                                void *opaque);

fake_port *fake_port_new(maint__port *port_r);
/* The port of a fake (same priv: writes land in the same store), not to be
 * closed; fake_port_ref's is closed like any port (a context of a worker
 * thread): the fake goes with the last of the ports that close it. */
maint__port fake_port_port(fake_port *fp);
maint__port fake_port_ref(fake_port *fp);
void fake_port_set_write_hook(fake_port *fp, fake_write_hook hook, void *opaque);
void fake_port_add_domain(fake_port *fp, const maint_domain_info *info);
/* The domain is gone (no longer listed, no longer introduced). */
void fake_port_remove_domain(fake_port *fp, uint32_t domid);
/*
 * A scripted hypervisor (without it: UNAVAILABLE, as with no Xen): created
 * domains get ids from first_domid on, paused, their name in xenstore;
 * destroy removes them and their home at once; guest (or NULL) plays the
 * guests on "unpause" and "shutdown" (it may write the agent's keys, set a
 * state or remove the domain).
 */
typedef void (*fake_guest_hook)(fake_port *fp, uint32_t domid, const char *event,
                                void *opaque);
void fake_port_set_hypervisor(fake_port *fp, uint32_t first_domid, fake_guest_hook guest,
                              void *opaque);
/* domain_create answers rc (0: creates) */
void fake_port_set_create_rc(fake_port *fp, int rc);
/* libxl's JSON of the last configuration created, or NULL (not a copy). */
const char *fake_port_last_created(fake_port *fp);
void fake_port_set_domain_state(fake_port *fp, uint32_t domid, maint_domain_state state);
/* The stored value at path, or NULL (not a copy). */
const char *fake_port_get(fake_port *fp, const char *path);
int fake_port_put(fake_port *fp, const char *path, const char *value);
unsigned fake_port_count_prefix(fake_port *fp, const char *prefix);
/* The hypervisor's side: a known domain's configuration is what fill makes
 * of an initialised cfg (NULL: UNAVAILABLE, as without a hypervisor); its
 * device model has present[devfn] on PCI bus 0 (NULL: cannot be asked). */
typedef void (*fake_config_fill)(libxl_domain_config *cfg, uint32_t domid);
void fake_port_set_config_fill(fake_port *fp, fake_config_fill fill);
void fake_port_set_pci_bus0(fake_port *fp, const bool present[256]);
/*
 * Transactions work on a copy of the store and commit only if nothing
 * changed it meanwhile (else EAGAIN).  With conflict_once, every
 * transaction's first commit in a thread answers EAGAIN as well, and the
 * next one commits: code that does not retry fails.  Counted: conflicts
 * answered, transactions committed.  Every operation takes the fake's lock:
 * one fake may be shared by threads.
 */
void fake_port_set_conflict_once(fake_port *fp, bool on);
/*
 * Events and asynchronous operations (events_attach, as xmaintd uses them):
 * told through a pipe the fake registers with the caller's loop, so they
 * arrive on the loop as libxl's do.  fake_port_shutdown: the domain shut
 * down by itself (a libxl_shutdown_reason; CRASH leaves it crashed); its
 * watchers are told.  Removing or destroying a domain tells them of its
 * death.  Asynchronous destroys and configuration reads end on the loop.
 */
void fake_port_shutdown(fake_port *fp, uint32_t domid, int reason);
/* host_info answers a host with kb free (0: UNAVAILABLE, the default). */
void fake_port_set_host_free(fake_port *fp, uint64_t kb);
/* spawn_detached runs nothing: it records argv (last_spawn, space-separated,
 * not a copy) and the program says "ready" on fd 3 unless told it fails. */
void fake_port_set_spawn_fails(fake_port *fp, bool fails);
/*
 * A daemon killed at any moment, in process: the nth operation (from 1) of
 * a port from fake_port_ref made by any thread but the caller's ends the
 * life of the daemon those ports belong to -- the thread making it, and
 * every thread of that life at its next operation, stop for good (before
 * the operation: nothing of it is done), holding none of the fake's locks.
 * Ports taken after the kill belong to the next life.  Creating a domain is
 * two operations: a kill between them leaves it half built (paused, not
 * introduced to xenstored, nameless, with its UUID).  kills: how many
 * happened.  The code run must hold no lock of its own across a port
 * operation, or the next life blocks on it as it would not on a real kill.
 */
void fake_port_kill_at(fake_port *fp, unsigned nth);
unsigned fake_port_kills(fake_port *fp);
/* The daemon's operations counted since the last fake_port_kill_at (with
 * nth beyond them all: how many a run makes). */
unsigned fake_port_ops(fake_port *fp);
/* A killed daemon's process is gone, and with it what the hypervisor was
 * still to tell it: its pending events and asynchronous completions, its
 * event loop's registration (the next life attaches again). */
void fake_port_forget_life(fake_port *fp);
const char *fake_port_last_spawn(fake_port *fp);
unsigned fake_port_conflicts(fake_port *fp);
unsigned fake_port_commits(fake_port *fp);

#endif
