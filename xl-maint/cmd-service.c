/* xl-maint service: service addresses (list, add, remove) through the typed API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xl-maint.h"

static void print_services(maint_service_info *const *list, unsigned nr, bool json)
{
    char *j;

    if (json) {
        if ((j = maint_service_info_list_to_json(list, nr)))
            print_json_line(j);
        free(j);
        return;
    }
    printf("%-16s %-22s %-16s %s\n", "App", "Address", "Domain", "Backend");
    for (unsigned i = 0; i < nr; i++) {
        const char *b = maint_service_info_addr(list[i]);
        char addr[64];

        snprintf(addr, sizeof(addr), "%s:%u", maint_service_info_vip(list[i]),
                 maint_service_info_port(list[i]));
        printf("%-16s %-22s %-16s %s\n", maint_service_info_app(list[i]), addr,
               maint_service_info_domain(list[i]), b ? b : "-");
    }
}

/* Check `add APP VIP:PORT DOMAIN`; splits VIP:PORT in place. */
static int check_add(int argc, char **argv, int idx, unsigned *port_r)
{
    unsigned long port;
    char *colon, *end;

    if (argc - idx != 4)
        return usage_error("service", "add APP VIP:PORT DOMAIN");
    if (!maint_app_name_valid(argv[idx + 1]))
        return usage_error("service", "'%s' is not an application name", argv[idx + 1]);
    colon = strrchr(argv[idx + 2], ':');
    if (!colon)
        return usage_error("service", "'%s' is not VIP:PORT", argv[idx + 2]);
    *colon = 0;
    port = strtoul(colon + 1, &end, 10);
    if (*end || port == 0 || port > 65535)
        return usage_error("service", "port '%s' is not 1-65535", colon + 1);
    *port_r = (unsigned)port;
    return EXIT_SUCCESS;
}

int main_service(int argc, char **argv)
{
    maint_service_info **list = NULL;
    unsigned nr = 0, port = 0;
    bool json = false;
    const char *sub;
    char *error = NULL;
    maint_ctx *ctx;
    int idx, rc, ret = EXIT_FAILURE;

    if ((idx = parse_sub(argc, argv, "service", &json, 4, "list", &sub)) < 0)
        return EXIT_FAILURE;
    if (!strcmp(sub, "add")) {
        if (check_add(argc, argv, idx, &port) != EXIT_SUCCESS)
            return EXIT_FAILURE;
    } else if (!strcmp(sub, "remove")) {
        if (argc - idx != 2)
            return usage_error("service", "remove APP");
    } else if (!strcmp(sub, "list")) {
        if (argc - idx > 1)
            return usage_error("service", "unexpected argument '%s'", argv[idx + 1]);
    } else {
        return usage_error("service", "'%s' is not add, remove or list", sub);
    }
    if (!(ctx = open_ctx(MAINT_CTX_NO_LIBXL)))
        return EXIT_FAILURE;
    if (!strcmp(sub, "add"))
        rc = maint_service_add(ctx, argv[idx + 1], argv[idx + 2], port, argv[idx + 3], 20000,
                               &list, &nr, &error);
    else if (!strcmp(sub, "remove"))
        rc = maint_service_remove(ctx, argv[idx + 1], 20000, &list, &nr, &error);
    else
        rc = maint_service_list(ctx, 20000, &list, &nr);
    if (rc) {
        request_print_error("service", rc, error);
    } else {
        print_services(list, nr, json);
        ret = EXIT_SUCCESS;
    }
    maint_service_info_list_free(list, nr);
    free(error);
    maint_ctx_close(ctx);
    return ret;
}
