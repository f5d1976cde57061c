/*
 * Operation arguments: one typed schema per operation, and the one parse of
 * a request's "args" object into typed values.  The args object may come
 * from a hostile guest: every key must be in the operation's schema, every
 * value of the schema's type and within its bounds, or the request is
 * refused with the key named.  Integers are range-checked as signed 64-bit
 * values before anyone sees them: no negative value is ever cast to
 * unsigned.  The rule is documented in xenstore-schema/xenstore-paths.md
 * ("Operation arguments").
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "internal.h"

#define KIB_MAX (1LL << 40)         /* 1 PiB in KiB: anything larger is absurd */
#define NAME_MAX_LEN 64             /* a domain's or an application's name */

#define STR(k, req, lo, hi)           { k, MAINT__ARG_STR, req, lo, hi, 0 }
#define INT(k, req, lo, hi)           { k, MAINT__ARG_INT, req, lo, hi, 0 }
#define STRV(k, req, lo, hi, item)    { k, MAINT__ARG_STRV, req, lo, hi, item }

/* What `xl maint hw-remove|hw-add|os-upgrade|os-patch|app-maint|reconfigure`
 * sends; which keys a kind uses is the workflow's business. */
static const maint__arg_spec workflow_start[] = {
    STR("type", true, 1, 16),
    STR("domain", true, 1, NAME_MAX_LEN),
    STR("substitute", false, 1, NAME_MAX_LEN),
    STR("kernel", false, 1, 1024),
    STR("ramdisk", false, 1, 1024),
    STR("cmdline", false, 0, 2048),
    STR("firmware", false, 1, 1024),
    STR("patch", false, 1, 2048),
    STR("change", false, 1, 2048),
    STRV("hide_pci", false, 0, MAINT_HIDE_MAX_PCI, 16),
    STRV("remove", false, 0, 16, 256),
    STRV("add", false, 0, 16, 1024),
    STRV("disks", false, 0, 8, 1024),
    STRV("sets", false, 0, 32, 1024),
    INT("drain_ms", false, 0, 600000),
    INT("timeout_ms", false, 1000, 3600000),
    INT("vcpus", false, 1, 4096),
    INT("memory_kb", false, 1024, KIB_MAX),
};

static const maint__arg_spec workflow_abort[] = {
    STR("id", true, 1, 128),
};

static const maint__arg_spec service_add[] = {
    STR("app", true, 1, NAME_MAX_LEN),
    STR("vip", true, 7, 15),
    INT("port", true, 1, 65535),
    STR("domain", true, 1, NAME_MAX_LEN),
};

static const maint__arg_spec service_remove[] = {
    STR("app", true, 1, NAME_MAX_LEN),
};

static const maint__arg_spec standby_create[] = {
    STR("active", true, 1, NAME_MAX_LEN),
    STR("standby", true, 1, NAME_MAX_LEN),
    INT("standby_min_kb", true, 16384, KIB_MAX),
    INT("reserve_kb", true, 0, KIB_MAX),
    INT("stall_s", false, 3, 3600),
};

static const maint__arg_spec standby_destroy[] = {
    STR("active", true, 1, NAME_MAX_LEN),
};

static const maint__arg_spec mem_request[] = {
    STR("app", true, 1, NAME_MAX_LEN),
    INT("kb", true, 1, KIB_MAX),
};

static const maint__arg_spec mem_release[] = {
    STR("app", true, 1, NAME_MAX_LEN),
};

static const maint__arg_spec app_fault[] = {
    STR("app", true, 1, NAME_MAX_LEN),
    STR("level", true, 5, 5),
};

#define SCHEMA(op, t) { op, t, sizeof(t) / sizeof(t[0]) }

/* Operations not listed take no arguments (an absent or empty object). */
static const maint__op_args_schema schemas[] = {
    SCHEMA("workflow-start", workflow_start),
    SCHEMA("workflow-abort", workflow_abort),
    SCHEMA("service-add", service_add),
    SCHEMA("service-remove", service_remove),
    SCHEMA("standby-create", standby_create),
    SCHEMA("standby-destroy", standby_destroy),
    SCHEMA("mem-request", mem_request),
    SCHEMA("mem-release", mem_release),
    SCHEMA("app-fault", app_fault),
};

const maint__op_args_schema *maint__op_args_schema_find(const char *op)
{
    for (size_t i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++)
        if (!strcmp(schemas[i].op, op))
            return &schemas[i];
    return NULL;
}

void maint__args_init(maint__args *a)
{
    memset(a, 0, sizeof(*a));
}

void maint__args_dispose(maint__args *a)
{
    if (a->val && a->schema) {
        for (unsigned i = 0; i < a->schema->nr; i++) {
            free(a->val[i].s);
            for (unsigned k = 0; k < a->val[i].n; k++)
                free(a->val[i].v[k]);
            free(a->val[i].v);
        }
    }
    free(a->val);
    maint__args_init(a);
}

static const char *type_name(maint__arg_type t)
{
    switch (t) {
    case MAINT__ARG_INT: return "an integer";
    case MAINT__ARG_STRV: return "an array of strings";
    default: return "a string";
    }
}

/* The keys an operation takes, for the "unknown argument" refusal. */
static char *keys_list(const maint__op_args_schema *s)
{
    size_t len = 1;
    char *out;

    for (unsigned i = 0; i < s->nr; i++)
        len += strlen(s->keys[i].key) + 2;
    out = malloc(len);
    if (!out)
        return NULL;
    out[0] = '\0';
    for (unsigned i = 0; i < s->nr; i++) {
        if (i)
            strcat(out, ", ");
        strcat(out, s->keys[i].key);
    }
    return out;
}

/* A number yajl could not hold as an integer: too big, or not whole? */
static bool integer_text(const char *r)
{
    if (*r == '-')
        r++;
    if (!*r)
        return false;
    for (; *r; r++)
        if (*r < '0' || *r > '9')
            return false;
    return true;
}

/* One string's length check; NULL when it fits, else a malloc'd reason. */
static char *check_len(const char *op, const char *key, const char *what,
                       const char *s, long long lo, long long hi)
{
    size_t n = strlen(s);

    if ((long long)n < lo || (long long)n > hi)
        return maint__sprintf("%s: argument '%s': %s of %zu bytes (%lld-%lld allowed)",
                              op, key, what, n, lo, hi);
    return NULL;
}

/* Parse one value of spec's type into *out; NULL or a malloc'd reason. */
static char *parse_value(const char *op, const maint__arg_spec *spec, yajl_val v,
                         maint__arg_value *out)
{
    char *why;

    switch (spec->type) {
    case MAINT__ARG_INT:
        if (!YAJL_IS_NUMBER(v))
            break;
        if (!YAJL_IS_INTEGER(v))
            return integer_text(v->u.number.r)
                ? maint__sprintf("%s: argument '%s': %.24s is not in %lld-%lld", op,
                                 spec->key, v->u.number.r, spec->min, spec->max)
                : maint__sprintf("%s: argument '%s' must be %s (%lld-%lld)", op,
                                 spec->key, type_name(spec->type), spec->min, spec->max);
        if (YAJL_GET_INTEGER(v) < spec->min || YAJL_GET_INTEGER(v) > spec->max)
            return maint__sprintf("%s: argument '%s': %lld is not in %lld-%lld", op,
                                  spec->key, (long long)YAJL_GET_INTEGER(v), spec->min,
                                  spec->max);
        out->i = YAJL_GET_INTEGER(v);
        out->set = true;
        return NULL;
    case MAINT__ARG_STR:
        if (!YAJL_IS_STRING(v))
            break;
        if ((why = check_len(op, spec->key, "a string", v->u.string, spec->min, spec->max)))
            return why;
        out->s = strdup(v->u.string);
        out->set = out->s != NULL;
        return out->set ? NULL : strdup("out of memory");
    case MAINT__ARG_STRV:
        if (!YAJL_IS_ARRAY(v))
            break;
        if ((long long)v->u.array.len < spec->min || (long long)v->u.array.len > spec->max)
            return maint__sprintf("%s: argument '%s': %zu items (%lld-%lld allowed)", op,
                                  spec->key, v->u.array.len, spec->min, spec->max);
        out->v = calloc(v->u.array.len + 1, sizeof(*out->v));
        if (!out->v)
            return strdup("out of memory");
        for (size_t k = 0; k < v->u.array.len; k++) {
            yajl_val item = v->u.array.values[k];

            if (!YAJL_IS_STRING(item))
                return maint__sprintf("%s: argument '%s' must be %s (item %zu is not)",
                                      op, spec->key, type_name(spec->type), k);
            if ((why = check_len(op, spec->key, "an item", item->u.string, 1,
                                 (long long)spec->item_max)))
                return why;
            if (!(out->v[k] = strdup(item->u.string)))
                return strdup("out of memory");
            out->n++;
        }
        out->set = true;
        return NULL;
    }
    return maint__sprintf("%s: argument '%s' must be %s", op, spec->key,
                          type_name(spec->type));
}

int maint__args_parse(const char *op, struct yajl_val_s *obj, maint__args *a_r,
                      char **err_r)
{
    const maint__op_args_schema *s = maint__op_args_schema_find(op);
    char *why = NULL;
    int rc = MAINT_ERROR_INVAL;

    maint__args_init(a_r);
    *err_r = NULL;
    if (obj && !YAJL_IS_OBJECT(obj)) {
        *err_r = maint__sprintf("%s: 'args' must be a JSON object", op);
        goto out;
    }
    if (!s) {
        if (obj && obj->u.object.len) {
            *err_r = maint__sprintf("operation '%s' takes no arguments", op);
            goto out;
        }
        return MAINT_OK;
    }
    a_r->schema = s;
    a_r->val = calloc(s->nr, sizeof(*a_r->val));
    if (!a_r->val) {
        rc = MAINT_ERROR_NOMEM;
        goto out;
    }
    for (size_t i = 0; obj && i < obj->u.object.len; i++) {
        const char *k = obj->u.object.keys[i];
        unsigned n = 0;

        while (n < s->nr && strcmp(s->keys[n].key, k))
            n++;
        if (n == s->nr) {
            char *keys = keys_list(s);

            *err_r = maint__sprintf("%s: unknown argument '%.32s' (it takes: %s)", op,
                                    k, keys ? keys : "?");
            free(keys);
            goto out;
        }
        if (a_r->val[n].set) {
            *err_r = maint__sprintf("%s: argument '%s' given twice", op, k);
            goto out;
        }
        if ((why = parse_value(op, &s->keys[n], obj->u.object.values[i], &a_r->val[n]))) {
            *err_r = why;
            goto out;
        }
    }
    for (unsigned n = 0; n < s->nr; n++)
        if (s->keys[n].required && !a_r->val[n].set) {
            *err_r = maint__sprintf("%s: missing argument '%s' (%s)", op, s->keys[n].key,
                                    type_name(s->keys[n].type));
            goto out;
        }
    rc = MAINT_OK;
out:
    if (rc) {
        maint__args_dispose(a_r);
        if (!*err_r)
            *err_r = strdup(maint_strerror(rc));
    }
    return rc;
}

/* The value of key, or NULL when the schema has no such key of type t. */
static const maint__arg_value *value_of(const maint__args *a, const char *key,
                                        maint__arg_type t)
{
    if (!a || !a->schema || !a->val)
        return NULL;
    for (unsigned i = 0; i < a->schema->nr; i++)
        if (!strcmp(a->schema->keys[i].key, key))
            return a->schema->keys[i].type == t && a->val[i].set ? &a->val[i] : NULL;
    return NULL;
}

const char *maint__args_str(const maint__args *a, const char *key)
{
    const maint__arg_value *v = value_of(a, key, MAINT__ARG_STR);

    return v ? v->s : NULL;
}

long long maint__args_int(const maint__args *a, const char *key, long long dflt)
{
    const maint__arg_value *v = value_of(a, key, MAINT__ARG_INT);

    return v ? v->i : dflt;
}

unsigned maint__args_strv(const maint__args *a, const char *key, const char **out,
                          unsigned max)
{
    const maint__arg_value *v = value_of(a, key, MAINT__ARG_STRV);
    unsigned n = 0;

    for (; v && n < v->n && n < max; n++)
        out[n] = v->v[n];
    return n;
}

char *maint__args_to_json(const maint__args *a)
{
    maint__json *j = maint__json_new();

    if (!j)
        return NULL;
    maint__json_map_open(j);
    for (unsigned i = 0; a && a->schema && a->val && i < a->schema->nr; i++) {
        const maint__arg_value *v = &a->val[i];

        if (!v->set)
            continue;
        maint__json_key(j, a->schema->keys[i].key);
        switch (a->schema->keys[i].type) {
        case MAINT__ARG_INT:
            maint__json_int(j, v->i);
            break;
        case MAINT__ARG_STR:
            maint__json_string(j, v->s);
            break;
        case MAINT__ARG_STRV:
            maint__json_array_open(j);
            for (unsigned k = 0; k < v->n; k++)
                maint__json_string(j, v->v[k]);
            maint__json_array_close(j);
            break;
        }
    }
    maint__json_map_close(j);
    return maint__json_finish(j);
}

/* ---- Building arguments (clients) ---------------------------------------- */

int maint__args_new_for(const char *op, maint__args *a_r)
{
    const maint__op_args_schema *s = maint__op_args_schema_find(op);

    maint__args_init(a_r);
    if (!s)
        return MAINT_ERROR_INVAL;
    a_r->val = calloc(s->nr, sizeof(*a_r->val));
    if (!a_r->val)
        return MAINT_ERROR_NOMEM;
    a_r->schema = s;
    return MAINT_OK;
}

/* key's spec and value slot in a, if the schema has key with type t;
 * else NULL with *err_r set. */
static maint__arg_value *slot_of(maint__args *a, const char *key, maint__arg_type t,
                                 const maint__arg_spec **spec_r, char **err_r)
{
    for (unsigned i = 0; a->schema && i < a->schema->nr; i++)
        if (!strcmp(a->schema->keys[i].key, key)) {
            *spec_r = &a->schema->keys[i];
            if (a->schema->keys[i].type == t)
                return &a->val[i];
            *err_r = maint__sprintf("%s: argument '%s' must be %s", a->schema->op, key,
                                    type_name(a->schema->keys[i].type));
            return NULL;
        }
    *err_r = maint__sprintf("%s: unknown argument '%.32s'",
                            a->schema ? a->schema->op : "?", key);
    return NULL;
}

int maint__args_set_str(maint__args *a, const char *key, const char *s, char **err_r)
{
    const maint__arg_spec *spec = NULL;
    maint__arg_value *v = slot_of(a, key, MAINT__ARG_STR, &spec, err_r);
    char *copy;

    if (!v)
        return MAINT_ERROR_INVAL;
    if (!s) {
        *err_r = maint__sprintf("%s: argument '%s' must be %s", a->schema->op, key,
                                type_name(spec->type));
        return MAINT_ERROR_INVAL;
    }
    if ((*err_r = check_len(a->schema->op, key, "a string", s, spec->min, spec->max)))
        return MAINT_ERROR_INVAL;
    if (!(copy = strdup(s)))
        return MAINT_ERROR_NOMEM;
    free(v->s);
    v->s = copy;
    v->set = true;
    return MAINT_OK;
}

int maint__args_set_int(maint__args *a, const char *key, long long i, char **err_r)
{
    const maint__arg_spec *spec = NULL;
    maint__arg_value *v = slot_of(a, key, MAINT__ARG_INT, &spec, err_r);

    if (!v)
        return MAINT_ERROR_INVAL;
    if (i < spec->min || i > spec->max) {
        *err_r = maint__sprintf("%s: argument '%s': %lld is not in %lld-%lld",
                                a->schema->op, key, i, spec->min, spec->max);
        return MAINT_ERROR_INVAL;
    }
    v->i = i;
    v->set = true;
    return MAINT_OK;
}

int maint__args_add_str(maint__args *a, const char *key, const char *s, char **err_r)
{
    const maint__arg_spec *spec = NULL;
    maint__arg_value *v = slot_of(a, key, MAINT__ARG_STRV, &spec, err_r);
    char **grown, *copy;

    if (!v)
        return MAINT_ERROR_INVAL;
    if ((long long)v->n + 1 > spec->max) {
        *err_r = maint__sprintf("%s: argument '%s': %u items (%lld-%lld allowed)",
                                a->schema->op, key, v->n + 1, spec->min, spec->max);
        return MAINT_ERROR_INVAL;
    }
    if (!s) {
        *err_r = maint__sprintf("%s: argument '%s' must be %s", a->schema->op, key,
                                type_name(spec->type));
        return MAINT_ERROR_INVAL;
    }
    if ((*err_r = check_len(a->schema->op, key, "an item", s, 1, (long long)spec->item_max)))
        return MAINT_ERROR_INVAL;
    grown = realloc(v->v, (v->n + 2) * sizeof(*v->v));
    if (!grown)
        return MAINT_ERROR_NOMEM;
    v->v = grown;
    if (!(copy = strdup(s)))
        return MAINT_ERROR_NOMEM;
    v->v[v->n++] = copy;
    v->v[v->n] = NULL;
    v->set = true;
    return MAINT_OK;
}

bool maint__args_has(const maint__args *a, const char *key)
{
    for (unsigned i = 0; a->schema && a->val && i < a->schema->nr; i++)
        if (!strcmp(a->schema->keys[i].key, key))
            return a->val[i].set;
    return false;
}

char *maint__args_to_checked_json(const maint__args *a, char **err_r)
{
    char *json = maint__args_to_json(a);
    yajl_val tree = json ? maint__json_parse(json, strlen(json)) : NULL;
    maint__args back;

    *err_r = NULL;
    if (!tree) {
        free(json);
        *err_r = strdup("out of memory");
        return NULL;
    }
    /* the daemon's own check, here: a missing required key is named */
    if (maint__args_parse(a->schema->op, tree, &back, err_r) != MAINT_OK) {
        free(json);
        json = NULL;
    }
    maint__args_dispose(&back);
    yajl_tree_free(tree);
    return json;
}

int maint__args_build(maint__args *a_r, const char *op, char **err_r, ...)
{
    const char *key;
    va_list ap;
    int rc;

    *err_r = NULL;
    rc = maint__args_new_for(op, a_r);
    va_start(ap, err_r);
    while (!rc && (key = va_arg(ap, const char *))) {
        if (key[0] == 'i' && key[1] == ':')
            rc = maint__args_set_int(a_r, key + 2, va_arg(ap, long long), err_r);
        else if (key[0] == 's' && key[1] == ':')
            rc = maint__args_set_str(a_r, key + 2, va_arg(ap, const char *), err_r);
        else
            rc = MAINT_ERROR_INVAL;
    }
    va_end(ap);
    return rc;
}
