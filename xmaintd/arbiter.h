/*
 * The hot-standby memory arbiter: pure bookkeeping, no hypervisor calls.
 * xmaintd drives it (standby.c) and carries its decisions out with libxl;
 * the property test drives it with random sequences.
 *
 * The arbiter owns the memory it has been given to manage: the host's free
 * memory it may hand out (`free_kb`, of which `reserve_kb` is kept back for
 * failovers), and the targets of the paired domains.  Every area it grants
 * is a row of the resource table: name (the application), size, owner,
 * and the domain it goes to when its owner fails.
 */
#ifndef XMAINTD_ARBITER_H
#define XMAINTD_ARBITER_H

#include <stdbool.h>
#include <stdint.h>

#define ARB_MAX_PAIRS   16
#define ARB_MAX_AREAS   64
#define ARB_NAME_MAX    32
#define ARB_MAX_KB      (1ull << 40)    /* 1 PiB: anything larger is absurd */

typedef struct arb_area {
    char name[ARB_NAME_MAX + 1];        /* the application */
    uint64_t kb;
    uint32_t owner;                     /* domid */
    uint32_t failover;                  /* domid it goes to; 0: none */
} arb_area;

typedef struct arb_pair {
    uint32_t active, standby;           /* domids */
    uint64_t active_target_kb, active_max_kb;
    uint64_t standby_target_kb, standby_max_kb, standby_min_kb;
    bool failed_over;                   /* the active is gone; the standby serves */
} arb_pair;

typedef struct arb {
    uint64_t free_kb;                   /* host memory the arbiter may hand out */
    uint64_t reserve_kb;                /* part of free_kb kept for failovers */
    unsigned nr_pairs, nr_areas;
    arb_pair pairs[ARB_MAX_PAIRS];
    arb_area areas[ARB_MAX_AREAS];
} arb;

typedef enum { ARB_MINOR, ARB_MAJOR } arb_level;

void arb_init(arb *a, uint64_t free_kb, uint64_t reserve_kb);

/* Each returns 0, or -1 with *why_r a static reason; nothing changes then. */
int arb_pair_add(arb *a, uint32_t active, uint64_t active_target_kb, uint64_t active_max_kb,
                 uint32_t standby, uint64_t standby_target_kb, uint64_t standby_max_kb,
                 uint64_t standby_min_kb, const char **why_r);
int arb_pair_remove(arb *a, uint32_t active, const char **why_r);
/* A protected application of domain `domid` asks for kb. */
int arb_request(arb *a, uint32_t domid, const char *app, uint64_t kb, const char **why_r);
int arb_release(arb *a, uint32_t domid, const char *app, const char **why_r);
/* The active's OS failed: its memory is reclaimed, its areas go to the standby. */
int arb_fail_os(arb *a, uint32_t active, const char **why_r);
/* An application failed: minor -> restarted in place (table unchanged);
 * major -> its area moves to the standby. */
int arb_fail_app(arb *a, uint32_t domid, const char *app, arb_level level, const char **why_r);

arb_pair *arb_pair_of(arb *a, uint32_t domid);
arb_area *arb_area_find(arb *a, const char *name);

/* The invariants; 0 when they hold, else -1 and *why_r says which broke. */
int arb_check(const arb *a, uint64_t host_kb, const char **why_r);

/* The table as JSON (malloc'd) and back (strict). */
char *arb_to_json(const arb *a);
int arb_from_json(arb *a, const char *json, const char **why_r);

#endif
