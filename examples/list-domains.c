/*
 * A cloud toolstack's view of libmaint: open a context, list the domains,
 * ask xmaintd for the host identity.  Build against an installed libmaint:
 *
 *   cc list-domains.c $(pkg-config --cflags --libs libmaint xentoollog) -o list-domains
 */
#include <stdio.h>
#include <stdlib.h>
#include <maint/maint.h>

int main(void)
{
    xentoollog_logger_stdiostream *lg = xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    maint_domain_info *list = NULL;
    maint_ctx *ctx = NULL;
    char *result = NULL, *error = NULL;
    unsigned nr = 0, i;
    int rc;

    rc = maint_ctx_open(&ctx, (xentoollog_logger *)lg, 0);
    if (rc) {
        fprintf(stderr, "maint_ctx_open: %s\n", maint_strerror(rc));
        goto out;
    }
    rc = maint_domain_list(ctx, &list, &nr);
    if (rc) {
        fprintf(stderr, "maint_domain_list: %s\n", maint_strerror(rc));
        goto out;
    }
    for (i = 0; i < nr; i++)
        printf("%5u  %-20s %-4s %-8s %6llu MiB\n", list[i].domid,
               list[i].name ? list[i].name : "-", maint_domain_type_name(list[i].type),
               maint_domain_state_name(list[i].state),
               (unsigned long long)(list[i].mem_actual_kb / 1024));
    rc = maint_request(ctx, "host-info", NULL, 2000, &result, &error);
    if (rc == MAINT_OK)
        printf("host: %s\n", result);
    else
        fprintf(stderr, "host-info: %s%s%s\n", maint_strerror(rc), error ? ": " : "",
                error ? error : "");
out:
    free(result);
    free(error);
    maint_domain_list_free(list, nr);
    maint_ctx_close(ctx);
    xtl_logger_destroy((xentoollog_logger *)lg);
    return rc ? EXIT_FAILURE : EXIT_SUCCESS;
}
