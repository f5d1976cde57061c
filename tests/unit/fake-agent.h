/*
 * The guest agents (xmaint-agent) of a fake port's guests, played through
 * its write hook and guest hook: what xmaint-agent writes and answers
 * (libmaint/agent.c's side of ~/xmaint/agent and ~/xmaint/control), with
 * per-domain state a test asserts on (which applications run where, what
 * state each holds).  Thread-safe: the workflows' threads command it.
 */
#ifndef XMAINT_FAKE_AGENT_H
#define XMAINT_FAKE_AGENT_H

#include "unit.h"

typedef struct fake_agent fake_agent;

/*
 * Plays the agents of fp's guests: takes fp's write hook and its hypervisor
 * (domains created from first_domid on; an agent comes up in each when it
 * is unpaused, and a guest asked to shut down does so).  addr: the IPv4
 * address every agent publishes.  Free it after fp is closed.
 */
fake_agent *fake_agent_new(fake_port *fp, uint32_t first_domid, const char *addr);
void fake_agent_free(fake_agent *a);
/* An application every guest announces (spec: its JSON); state: what its
 * state holds in a domain the test boots (fake_agent_boot). */
void fake_agent_add_app(fake_agent *a, const char *name, const char *spec, const char *state);
/* The agent of domid (a domain the test added) comes up: its applications
 * announced and, as the guest has no role, started with their state. */
void fake_agent_boot(fake_agent *a, uint32_t domid);
/* The next command op (for app; NULL: any) to the agent of the domain
 * named domain is refused, as an agent refuses what it cannot do.  Not for
 * "state-recv": the daemon waits 30 s for a channel that never comes. */
void fake_agent_refuse(fake_agent *a, const char *domain, const char *op, const char *app);

/* Whether app runs in domid; its state there (g_free), or NULL. */
gboolean fake_agent_runs(fake_agent *a, uint32_t domid, const char *app);
char *fake_agent_state(fake_agent *a, uint32_t domid, const char *app);
/* Applications that were running in a domain when it shut down. */
unsigned fake_agent_killed(fake_agent *a);
/* The commands carried out, "NAME:op:app" (run: "NAME:run:command"), one
 * a line (g_free). */
char *fake_agent_log(fake_agent *a);

#endif
