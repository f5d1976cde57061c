/*
 * xmaint-agent: the guest side of xmaint.  Runs in a domU, announces the
 * applications it manages under the domain's own ~/xmaint/agent, carries out
 * what xmaintd asks under ~/xmaint/control, and copies application state to
 * the peer agent over a libxenvchan channel.
 */
#ifndef XMAINT_AGENT_H
#define XMAINT_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define AGENT_MAX_APPS        16
#define AGENT_MAX_STATE       8
#define AGENT_NAME_MAX        32
#define AGENT_CMD_MAX         1024

typedef enum { MODE_REDIRECT, MODE_STATE, MODE_CHECKPOINT } agent_mode;

typedef struct agent_app {
    char name[AGENT_NAME_MAX + 1];
    char start[AGENT_CMD_MAX];
    char stop[AGENT_CMD_MAX];         /* empty: SIGTERM the process group */
    agent_mode mode;
    unsigned port;                    /* redirect: the TCP port it serves */
    unsigned nstate;
    char state[AGENT_MAX_STATE][256]; /* files or directories */
    unsigned long long memory_kb;     /* protect: memory asked of xmaintd at start */
    bool granted;                     /* xmaintd granted it */
    unsigned asks;                    /* requests refused so far (backs off) */
    pid_t pid;                        /* 0: not running */
    const char *status;               /* "running", "stopped", "exited", "failed" */
} agent_app;

/* apps.c */
int agent_apps_load(const char *dir, agent_app *apps, unsigned max, unsigned *n_r);
const char *agent_mode_name(agent_mode m);
bool agent_name_ok(const char *s);

/* transfer.c: the state stream, "F <mode> <size> <path>\n" + bytes, ... "E\n" */
int agent_state_send(int domid_peer, const char *path, agent_app *app, char **err_r);
int agent_state_recv(int domid_peer, const char *path, agent_app *app, char **err_r);

/* hostid.c: --host [--follow] */
struct xs_handle;
int agent_host_print(struct xs_handle *xs, bool follow, unsigned interval_ms);

#endif
