/* xl-maint standby: hot-standby pairs (show, create, destroy) through the typed API. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xl-maint.h"

static void print_table(const maint_standby_table *t)
{
    printf("%-16s %-16s %12s %12s %s\n", "Active", "Standby", "Active(MiB)", "Standby(MiB)", "State");
    for (unsigned i = 0; i < maint_standby_table_nr_pairs(t); i++) {
        const char *an = maint_standby_pair_active_name(t, i);
        const char *sn = maint_standby_pair_standby_name(t, i);

        printf("%-16s %-16s %12llu %12llu %s\n", an ? an : "?", sn ? sn : "?",
               (unsigned long long)maint_standby_pair_active_target_kb(t, i) / 1024,
               (unsigned long long)maint_standby_pair_standby_target_kb(t, i) / 1024,
               maint_standby_pair_failed_over(t, i) ? "failed over" : "protected");
    }
    printf("\n%-16s %10s %-16s %s\n", "Area", "Size(MiB)", "Owner", "On failure");
    for (unsigned i = 0; i < maint_standby_table_nr_areas(t); i++) {
        const char *nm = maint_standby_area_name(t, i), *on = maint_standby_area_owner_name(t, i);
        uint32_t f = maint_standby_area_failover(t, i);
        char where[32];

        if (f)
            snprintf(where, sizeof(where), "moves to d%u", f);
        else
            snprintf(where, sizeof(where), "(on the standby)");
        printf("%-16s %10llu %-16s %s\n", nm, (unsigned long long)maint_standby_area_kb(t, i) / 1024,
               on ? on : "?", where);
    }
}

static void print_table_json(const maint_standby_table *t)
{
    char *j = maint_standby_table_to_json(t);

    if (j)
        print_json_line(j);
    free(j);
}

/* The options; returns optind, or -1 after a usage error. */
static int standby_parse(int argc, char **argv, maint_standby_opts *o, bool *json_r)
{
    static const struct option opts[] = {
        { "standby-min", required_argument, NULL, 'm' },
        { "reserve", required_argument, NULL, 'r' },
        { "stall", required_argument, NULL, 's' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    unsigned long stall;
    uint64_t kb;
    char *end;
    bool started = false;
    int c;

    while ((c = next_option(argc, argv, "jh", opts, &started)) != -1) {
        switch (c) {
        case 'm':
            if (!(kb = parse_size_kb(optarg)))
                return usage_error("standby", "--standby-min '%s' is not a size (e.g. 64M)", optarg), -1;
            if (maint_standby_opts_set_standby_min_kb(o, kb))
                return usage_error("standby", "--standby-min '%s': 16M or more", optarg), -1;
            break;
        case 'r':
            if (!(kb = parse_size_kb(optarg)))
                return usage_error("standby", "--reserve '%s' is not a size (e.g. 256M)", optarg), -1;
            if (maint_standby_opts_set_reserve_kb(o, kb))
                return usage_error("standby", "--reserve '%s' is too large", optarg), -1;
            break;
        case 's':
            stall = strtoul(optarg, &end, 10);
            if (*end || stall < 3 || stall > 3600 || maint_standby_opts_set_stall_s(o, (unsigned)stall))
                return usage_error("standby", "--stall '%s': 3 to 3600 seconds", optarg), -1;
            break;
        case 'j': *json_r = true; break;
        case 'h': help("standby"); exit(EXIT_SUCCESS);
        default: return usage_error("standby", "unknown option '%s'", argv[optind - 1]), -1;
        }
    }
    return optind;
}

int main_standby(int argc, char **argv)
{
    maint_standby_opts *o = NULL;
    maint_standby_table *t = NULL;
    maint_ctx *ctx = NULL;
    bool json = false;
    char *error = NULL;
    const char *sub;
    int idx, n, rc, ret = EXIT_FAILURE;

    if (maint_standby_opts_new(&o))
        return EXIT_FAILURE;
    if ((idx = standby_parse(argc, argv, o, &json)) < 0)
        goto out;
    n = argc - idx;
    sub = n ? argv[idx] : "show";
    if (!strcmp(sub, "create") && n != 3) {
        usage_error("standby", "create ACTIVE STANDBY");
        goto out;
    } else if (!strcmp(sub, "destroy") && n != 2) {
        usage_error("standby", "destroy ACTIVE");
        goto out;
    } else if (!strcmp(sub, "show") && n > 1) {
        usage_error("standby", "unexpected argument '%s'", argv[idx + 1]);
        goto out;
    } else if (strcmp(sub, "create") && strcmp(sub, "destroy") && strcmp(sub, "show")) {
        usage_error("standby", "'%s' is not create, show or destroy", sub);
        goto out;
    }
    if (!(ctx = open_ctx(MAINT_CTX_NO_LIBXL)))
        goto out;
    if (!strcmp(sub, "create"))
        rc = maint_standby_create(ctx, argv[idx + 1], argv[idx + 2], o, 20000, &t, &error);
    else if (!strcmp(sub, "destroy"))
        rc = maint_standby_destroy(ctx, argv[idx + 1], 20000, &error);
    else
        rc = maint_standby_show(ctx, 20000, &t);
    if (rc) {
        request_print_error("standby", rc, error);
        goto out;
    }
    if (!strcmp(sub, "destroy"))
        puts("{\"destroyed\":true}");      /* what xmaintd answers, as before */
    else if (json || strcmp(sub, "show"))
        print_table_json(t);
    else
        print_table(t);
    ret = EXIT_SUCCESS;
out:
    maint_standby_table_free(t);
    maint_standby_opts_free(o);
    free(error);
    maint_ctx_close(ctx);
    return ret;
}
