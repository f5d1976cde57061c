/*
 * Every xenstore path the project reads or writes.  The notation, owners and
 * permissions are documented in xenstore-schema/xenstore-paths.md; the test
 * tests/check-schema.sh fails when a path used here is missing there.
 *
 * %u is a domid, %s a request id.
 */
#ifndef MAINT_SCHEMA_H
#define MAINT_SCHEMA_H

#define MAINT_XS_DOMAINS          "/local/domain"
#define MAINT_XS_DOMAIN_FMT       "/local/domain/%u"
#define MAINT_XS_DOMAIN_NAME_FMT  "/local/domain/%u/name"
#define MAINT_XS_DOMAIN_STATIC_MAX_FMT "/local/domain/%u/memory/static-max"
/* Relative to the caller's own home: a guest learns its domid here. */
#define MAINT_XS_SELF_DOMID       "domid"
#define MAINT_XS_ROOT_FMT         "/local/domain/%u/xmaint"
#define MAINT_XS_HOST_FMT         "/local/domain/%u/xmaint/host"
#define MAINT_XS_HOST_ID_FMT      "/local/domain/%u/xmaint/host/id"
#define MAINT_XS_HOST_CPU_FMT     "/local/domain/%u/xmaint/host/cpu-signature"
#define MAINT_XS_REQUEST_DIR_FMT  "/local/domain/%u/xmaint/request"
#define MAINT_XS_REQUEST_FMT      "/local/domain/%u/xmaint/request/%s"
#define MAINT_XS_RESPONSE_DIR_FMT "/local/domain/%u/xmaint/response"
#define MAINT_XS_RESPONSE_FMT     "/local/domain/%u/xmaint/response/%s"
#define MAINT_XS_RESPONSE_PART_FMT "/local/domain/%u/xmaint/response/%s/%u"
#define MAINT_XS_HIDE_FMT         "/local/domain/%u/xmaint/hide"
#define MAINT_XS_HIDE_PCI_FMT     "/local/domain/%u/xmaint/hide/pci"
#define MAINT_XS_HIDE_VCPUS_FMT   "/local/domain/%u/xmaint/hide/vcpus"
#define MAINT_XS_HIDE_MEM_FMT     "/local/domain/%u/xmaint/hide/memory"
/* The substitute marker (dom0's, readable by the domain). */
#define MAINT_XS_ROLE_FMT         "/local/domain/%u/xmaint/role"
/* The guest agent's own area (the domain's, see the schema). */
#define MAINT_XS_AGENT_FMT        "/local/domain/%u/xmaint/agent"
#define MAINT_XS_AGENT_STATE_FMT  "/local/domain/%u/xmaint/agent/state"
#define MAINT_XS_AGENT_VERSION_FMT "/local/domain/%u/xmaint/agent/version"
#define MAINT_XS_AGENT_HEARTBEAT_FMT "/local/domain/%u/xmaint/agent/heartbeat"
#define MAINT_XS_AGENT_ADDR_FMT   "/local/domain/%u/xmaint/agent/addr"
#define MAINT_XS_AGENT_APPS_FMT   "/local/domain/%u/xmaint/agent/apps"
#define MAINT_XS_AGENT_APP_SPEC_FMT "/local/domain/%u/xmaint/agent/apps/%s/spec"
#define MAINT_XS_AGENT_APP_STATUS_FMT "/local/domain/%u/xmaint/agent/apps/%s/status"
#define MAINT_XS_AGENT_RESULT_DIR_FMT "/local/domain/%u/xmaint/agent/result"
#define MAINT_XS_AGENT_RESULT_FMT "/local/domain/%u/xmaint/agent/result/%s"
/* Commands for the agent (dom0's, readable by the domain). */
#define MAINT_XS_CONTROL_DIR_FMT  "/local/domain/%u/xmaint/control"
#define MAINT_XS_CONTROL_FMT      "/local/domain/%u/xmaint/control/%s"
/* Inter-domain channels the agent serves (the domain's). */
#define MAINT_XS_VCHAN_DIR_FMT    "/local/domain/%u/xmaint/vchan"
#define MAINT_XS_VCHAN_FMT        "/local/domain/%u/xmaint/vchan/%s"
#define MAINT_XS_VCHAN_RING_FMT   "/local/domain/%u/xmaint/vchan/%s/ring-ref"
#define MAINT_XS_DAEMON           "/local/domain/0/xmaint/daemon"
#define MAINT_XS_DAEMON_PID       "/local/domain/0/xmaint/daemon/pid"
#define MAINT_XS_DAEMON_VERSION   "/local/domain/0/xmaint/daemon/version"
#define MAINT_XS_DAEMON_STATE     "/local/domain/0/xmaint/daemon/state"
/* Workflows (dom0 only): one JSON value per workflow. */
#define MAINT_XS_WORKFLOWS        "/local/domain/0/xmaint/workflow"
#define MAINT_XS_WORKFLOW_FMT     "/local/domain/0/xmaint/workflow/%s"
/* Hot-standby pairs (dom0 only): the resource table, as JSON. */
#define MAINT_XS_STANDBY_TABLE    "/local/domain/0/xmaint/standby/table"

/* Special watch paths fired by xenstored. */
#define MAINT_XS_INTRODUCE        "@introduceDomain"
#define MAINT_XS_RELEASE          "@releaseDomain"

/* Limits the daemon enforces on what a domain writes (see the schema). */
#define MAINT_XS_MAX_PENDING      32   /* requests handled per domain per pass */
#define MAINT_XS_MAX_RESPONSES    64   /* unread responses kept per domain */
#define MAINT_XS_CHUNK            3072 /* bytes of one response part */
#define MAINT_XS_MAX_APPS         16   /* applications an agent may announce */
#define MAINT_XS_MAX_SPEC         4096 /* bytes of one application spec */

#endif /* MAINT_SCHEMA_H */
