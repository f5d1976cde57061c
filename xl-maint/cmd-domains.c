/* xl-maint: what is on this host -- list, status, host, config -- and a raw request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "xl-maint.h"

/* ---- list ---------------------------------------------------------------- */

static void print_domains(const maint_domain_info *list, unsigned nr)
{
    printf("%-24s %5s %9s %9s %5s %-8s %-4s\n", "Name", "ID", "Mem(MiB)",
           "Target", "VCPUs", "State", "Type");
    for (unsigned i = 0; i < nr; i++)
        printf("%-24s %5u %9llu %9llu %5u %-8s %-4s\n",
               list[i].name ? list[i].name : "-", list[i].domid,
               (unsigned long long)(list[i].mem_actual_kb / 1024),
               (unsigned long long)(list[i].mem_target_kb / 1024),
               list[i].vcpus_online, maint_domain_state_name(list[i].state),
               maint_domain_type_name(list[i].type));
}

int main_list(int argc, char **argv)
{
    maint_domain_info *list = NULL;
    maint_ctx *ctx;
    bool json = false;
    unsigned nr = 0;
    int rc, ret = EXIT_FAILURE;

    if (parse_opts(argc, argv, "list", &json, 0, 0) < 0)
        return EXIT_FAILURE;
    if (!(ctx = open_ctx(0)))
        return EXIT_FAILURE;
    rc = maint_domain_list(ctx, &list, &nr);
    if (rc) {
        fprintf(stderr, "xl maint list: %s\n", maint_strerror(rc));
        goto out;
    }
    if (json) {
        char *j = maint_domain_list_to_json(list, nr);
        if (!j)
            goto out;
        print_json_line(j);
        free(j);
    } else {
        print_domains(list, nr);
    }
    ret = EXIT_SUCCESS;
out:
    maint_domain_list_free(list, nr);
    maint_ctx_close(ctx);
    return ret;
}

/* ---- status -------------------------------------------------------------- */

int main_status(int argc, char **argv)
{
    maint_domain_info *list = NULL;
    maint_daemon_status st;
    maint_ctx *ctx;
    bool json = false;
    unsigned nr = 0;
    int rc, ret = EXIT_FAILURE;
    char *domains = NULL;

    maint_daemon_status_init(&st);
    if (parse_opts(argc, argv, "status", &json, 0, 0) < 0)
        return EXIT_FAILURE;
    if (!(ctx = open_ctx(0)))
        return EXIT_FAILURE;
    maint_daemon_status_get(ctx, 2000, &st);
    rc = maint_domain_list(ctx, &list, &nr);
    if (rc) {
        fprintf(stderr, "xl maint status: cannot list domains: %s\n",
                maint_strerror(rc));
        goto out;
    }
    if (json) {
        yajl_gen g = yajl_gen_alloc(NULL);
        const unsigned char *buf;
        size_t len;

        domains = maint_domain_list_to_json(list, nr);
        if (!g || !domains)
            goto out;
#define S(s) yajl_gen_string(g, (const unsigned char *)(s), strlen(s))
        yajl_gen_map_open(g);
        S("daemon");
        yajl_gen_map_open(g);
        S("answering"); yajl_gen_bool(g, st.answering);
        S("state"); st.state ? S(st.state) : yajl_gen_null(g);
        S("version"); st.version ? S(st.version) : yajl_gen_null(g);
        S("pid"); yajl_gen_integer(g, st.pid);
        S("host_id"); st.host_id ? S(st.host_id) : yajl_gen_null(g);
        yajl_gen_map_close(g);
        S("domains");
        yajl_gen_number(g, domains, strlen(domains));   /* verbatim JSON */
        yajl_gen_map_close(g);
#undef S
        yajl_gen_get_buf(g, &buf, &len);
        fwrite(buf, 1, len, stdout);
        fputc('\n', stdout);
        yajl_gen_free(g);
    } else {
        printf("xmaintd: %s", st.answering ? "running" :
               st.state ? st.state : "not running");
        if (st.answering)
            printf(" (version %s, pid %ld, host %s)", st.version ? st.version : "?",
                   st.pid, st.host_id ? st.host_id : "?");
        else if (st.state && !strcmp(st.state, "running"))
            printf(" but not answering");
        printf("\n\n");
        print_domains(list, nr);
    }
    ret = st.answering ? EXIT_SUCCESS : EXIT_FAILURE;
out:
    free(domains);
    maint_daemon_status_dispose(&st);
    maint_domain_list_free(list, nr);
    maint_ctx_close(ctx);
    return ret;
}

/* ---- host ---------------------------------------------------------------- */

int main_host(int argc, char **argv)
{
    maint_host_info info;
    maint_ctx *ctx;
    bool json = false;
    int rc, ret = EXIT_FAILURE;
    unsigned i;

    maint_host_info_init(&info);
    if (parse_opts(argc, argv, "host", &json, 0, 0) < 0)
        return EXIT_FAILURE;
    if (!(ctx = open_ctx(0)))
        return EXIT_FAILURE;
    rc = maint_host_info_get(ctx, &info);
    if (rc) {
        fprintf(stderr, "xl maint host: %s\n", maint_strerror(rc));
        goto out;
    }
    if (json) {
        char *j = maint_host_info_to_json(&info);
        if (!j)
            goto out;
        print_json_line(j);
        free(j);
    } else {
        printf("xen_version       : %s\n", info.xen_version ? info.xen_version : "?");
        printf("host_id           : %s\n", info.host_id ? info.host_id :
               "(not published: is xmaintd running?)");
        printf("cpu_signature     : %s\n", info.cpu_signature ? info.cpu_signature : "?");
        printf("nr_cpus           : %u\n", info.nr_cpus);
        printf("threads_per_core  : %u\n", info.threads_per_core);
        printf("cores_per_socket  : %u\n", info.cores_per_socket);
        printf("nr_nodes          : %u\n", info.nr_nodes);
        printf("cpu_mhz           : %u\n", info.cpu_khz / 1000);
        printf("total_memory      : %llu MiB\n", (unsigned long long)(info.total_kb / 1024));
        printf("free_memory       : %llu MiB\n", (unsigned long long)(info.free_kb / 1024));
        printf("virt_caps         :%s%s%s\n", info.pv ? " pv" : "", info.hvm ? " hvm" : "",
               info.hap ? " hap" : "");
        printf("cpu_topology      :\ncpu:    core    socket     node\n");
        for (i = 0; info.cpus && i < info.nr_cpus; i++)
            printf("%3u:    %4u    %6u     %4u\n", i, info.cpus[i].core,
                   info.cpus[i].socket, info.cpus[i].node);
        printf("numa_info         :\nnode:    memsize    memfree\n");
        for (i = 0; info.nodes && i < info.nr_nodes; i++)
            printf("%4u:    %7llu    %7llu\n", i,
                   (unsigned long long)(info.nodes[i].size_kb / 1024),
                   (unsigned long long)(info.nodes[i].free_kb / 1024));
    }
    ret = EXIT_SUCCESS;
out:
    maint_host_info_dispose(&info);
    maint_ctx_close(ctx);
    return ret;
}

/* ---- config -------------------------------------------------------------- */

int main_config(int argc, char **argv)
{
    maint_ctx *ctx;
    uint32_t domid;
    char *json = NULL;
    int idx, rc;

    idx = parse_opts(argc, argv, "config", NULL, 1, 1);
    if (idx < 0)
        return EXIT_FAILURE;
    if (!(ctx = open_ctx(0)))
        return EXIT_FAILURE;
    rc = maint_domain_lookup(ctx, argv[idx], &domid);
    if (rc == MAINT_OK)
        rc = maint_domain_config_json(ctx, domid, &json);
    if (rc == MAINT_OK)
        print_json_line(json);
    else
        fprintf(stderr, "xl maint config: %s: %s\n", argv[idx], maint_strerror(rc));
    free(json);
    maint_ctx_close(ctx);
    return rc == MAINT_OK ? EXIT_SUCCESS : EXIT_FAILURE;
}


/* ---- request ------------------------------------------------------------- */

int main_request(int argc, char **argv)
{
    char *result = NULL, *error = NULL;
    maint_ctx *ctx;
    int idx, rc;

    idx = parse_opts(argc, argv, "request", NULL, 1, 2);
    if (idx < 0)
        return EXIT_FAILURE;
    if (!(ctx = open_ctx(MAINT_CTX_NO_LIBXL)))
        return EXIT_FAILURE;
    rc = maint_request(ctx, argv[idx], argc - idx > 1 ? argv[idx + 1] : NULL, 10000,
                       &result, &error);
    if (rc == MAINT_OK)
        print_json_line(result);
    else if (rc == MAINT_ERROR_REMOTE)
        fprintf(stderr, "xl maint request: xmaintd refused: %s\n", error);
    else if (rc == MAINT_ERROR_INVAL)
        usage_error("request", "ARGS must be a JSON object");
    else
        fprintf(stderr, "xl maint request: %s\n", maint_strerror(rc));
    free(result);
    free(error);
    maint_ctx_close(ctx);
    return rc == MAINT_OK ? EXIT_SUCCESS : EXIT_FAILURE;
}

