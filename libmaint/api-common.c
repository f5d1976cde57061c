/* What the typed API's calls share: arrays of result objects, built
 * arguments sent or refused. */
#include <stdlib.h>
#include <yajl/yajl_tree.h>

#include "internal.h"

int maint__parse_array(xentoollog_logger *lg, const char *what, struct yajl_val_s *arr,
                       maint__item_parse_fn *parse, maint__item_free_fn *free_fn,
                       void ***list_r, unsigned *nr_r)
{
    void **list;
    unsigned nr = 0;
    int rc = MAINT_OK;

    *list_r = NULL;
    *nr_r = 0;
    if (!YAJL_IS_ARRAY(arr)) {
        LOG(lg, ERROR, "%s: the answer is not an array", what);
        return MAINT_ERROR_PROTOCOL;
    }
    if (!(list = calloc(arr->u.array.len + 1, sizeof(*list))))
        return MAINT_ERROR_NOMEM;
    for (size_t i = 0; i < arr->u.array.len && !rc; i++)
        if ((list[nr] = parse(lg, arr->u.array.values[i], &rc)))
            nr++;
    if (rc) {
        for (unsigned i = 0; i < nr; i++)
            free_fn(list[i]);
        free(list);
        return rc;
    }
    *list_r = list;
    *nr_r = nr;
    return MAINT_OK;
}

char *maint__json_array_raw(void *const *items, unsigned nr, maint__item_json_fn *text)
{
    maint__json *j = maint__json_new();

    if (!j)
        return NULL;
    maint__json_array_open(j);
    for (unsigned i = 0; i < nr; i++)
        maint__json_raw(j, text(items[i]));
    maint__json_array_close(j);
    return maint__json_finish(j);
}

int maint__refuse_here(maint_ctx *ctx, int rc, char *why, char **error_r)
{
    /* reported once: to a caller who takes the reason, else to the log */
    if (error_r)
        LOG(ctx->lg, DEBUG, "%s", why ? why : maint_strerror(rc));
    else
        LOG(ctx->lg, ERROR, "%s", why ? why : maint_strerror(rc));
    if (error_r)
        *error_r = why;
    else
        free(why);
    return rc;
}

int maint__call_built(maint_ctx *ctx, const char *op, maint__args *a, int build_rc,
                      char *why, unsigned timeout_ms, struct yajl_val_s **result_r,
                      char **error_r)
{
    int rc;

    *result_r = NULL;
    if (error_r)
        *error_r = NULL;
    if (build_rc)
        rc = maint__refuse_here(ctx, build_rc, why, error_r);
    else
        rc = maint__call(ctx, op, a, timeout_ms, result_r, error_r);
    if (a)
        maint__args_dispose(a);
    return rc;
}
