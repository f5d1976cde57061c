/* JSON generation and strict validation of untrusted JSON text (yajl). */
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

#include "internal.h"

struct maint__json {
    yajl_gen g;
    bool failed;
};

maint__json *maint__json_new(void)
{
    maint__json *j = calloc(1, sizeof(*j));

    if (!j)
        return NULL;
    j->g = yajl_gen_alloc(NULL);
    if (!j->g) {
        free(j);
        return NULL;
    }
    yajl_gen_config(j->g, yajl_gen_validate_utf8, 1);
    return j;
}

void maint__json_free(maint__json *j)
{
    if (!j)
        return;
    yajl_gen_free(j->g);
    free(j);
}

#define CHECK(j, expr) do { if ((j) && !(j)->failed && (expr) != yajl_gen_status_ok) (j)->failed = true; } while (0)

void maint__json_map_open(maint__json *j) { CHECK(j, yajl_gen_map_open(j->g)); }
void maint__json_map_close(maint__json *j) { CHECK(j, yajl_gen_map_close(j->g)); }
void maint__json_array_open(maint__json *j) { CHECK(j, yajl_gen_array_open(j->g)); }
void maint__json_array_close(maint__json *j) { CHECK(j, yajl_gen_array_close(j->g)); }
void maint__json_null(maint__json *j) { CHECK(j, yajl_gen_null(j->g)); }
void maint__json_bool(maint__json *j, bool v) { CHECK(j, yajl_gen_bool(j->g, v)); }
void maint__json_int(maint__json *j, int64_t v) { CHECK(j, yajl_gen_integer(j->g, (long long)v)); }

void maint__json_key(maint__json *j, const char *key)
{
    CHECK(j, yajl_gen_string(j->g, (const unsigned char *)key, strlen(key)));
}

void maint__json_string(maint__json *j, const char *s)
{
    if (!s)
        maint__json_null(j);
    else
        CHECK(j, yajl_gen_string(j->g, (const unsigned char *)s, strlen(s)));
}

void maint__json_kv_string(maint__json *j, const char *key, const char *s)
{
    maint__json_key(j, key);
    maint__json_string(j, s);
}

void maint__json_kv_uint(maint__json *j, const char *key, uint64_t v)
{
    maint__json_key(j, key);
    maint__json_uint(j, v);
}

void maint__json_kv_int(maint__json *j, const char *key, int64_t v)
{
    maint__json_key(j, key);
    maint__json_int(j, v);
}

void maint__json_kv_bool(maint__json *j, const char *key, bool v)
{
    maint__json_key(j, key);
    maint__json_bool(j, v);
}

void maint__json_uint(maint__json *j, uint64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);

    CHECK(j, yajl_gen_number(j->g, buf, (size_t)n));
}

void maint__json_raw(maint__json *j, const char *text)
{
    /* yajl_gen_number emits its argument verbatim in value position. */
    CHECK(j, yajl_gen_number(j->g, text, strlen(text)));
}

char *maint__json_finish(maint__json *j)
{
    const unsigned char *buf;
    size_t len;
    char *out = NULL;

    if (!j)
        return NULL;
    if (!j->failed && yajl_gen_get_buf(j->g, &buf, &len) == yajl_gen_status_ok) {
        out = malloc(len + 1);
        if (out) {
            memcpy(out, buf, len);
            out[len] = '\0';
        }
    }
    maint__json_free(j);
    return out;
}

/* ---- Validation -------------------------------------------------------- */

struct depth_state {
    unsigned depth, max_depth;
    bool too_deep, has_nul;
};

/* Decoded strings and keys must not hide a NUL (\u0000) from C code. */
static int v_string(void *ctx, const unsigned char *s, size_t len)
{
    struct depth_state *st = ctx;

    if (memchr(s, '\0', len)) {
        st->has_nul = true;
        return 0;
    }
    return 1;
}

static int v_open(void *ctx)
{
    struct depth_state *st = ctx;

    if (++st->depth > st->max_depth) {
        st->too_deep = true;
        return 0;
    }
    return 1;
}

static int v_close(void *ctx)
{
    struct depth_state *st = ctx;

    st->depth--;
    return 1;
}

static int v_map_open(void *ctx) { return v_open(ctx); }
static int v_array_open(void *ctx) { return v_open(ctx); }

static const yajl_callbacks validate_callbacks = {
    .yajl_string = v_string,
    .yajl_map_key = v_string,
    .yajl_start_map = v_map_open,
    .yajl_end_map = v_close,
    .yajl_start_array = v_array_open,
    .yajl_end_array = v_close,
};

int maint__json_validate(const char *text, size_t len, size_t max_len,
                         unsigned max_depth, const char **why_r)
{
    struct depth_state st = { .max_depth = max_depth };
    yajl_handle h;
    yajl_status s;
    int rc = MAINT_OK;

    *why_r = NULL;
    if (len > max_len) {
        *why_r = "too long";
        return MAINT_ERROR_TOOBIG;
    }
    if (memchr(text, '\0', len)) {
        *why_r = "contains a NUL byte";
        return MAINT_ERROR_PROTOCOL;
    }
    h = yajl_alloc(&validate_callbacks, NULL, &st);
    if (!h) {
        *why_r = "out of memory";
        return MAINT_ERROR_NOMEM;
    }
    s = yajl_parse(h, (const unsigned char *)text, len);
    if (s == yajl_status_ok)
        s = yajl_complete_parse(h);
    if (st.has_nul) {
        *why_r = "a string contains a NUL character";
        rc = MAINT_ERROR_PROTOCOL;
    } else if (st.too_deep) {
        *why_r = "nested too deeply";
        rc = MAINT_ERROR_TOOBIG;
    } else if (s != yajl_status_ok) {
        *why_r = "not well-formed JSON";
        rc = MAINT_ERROR_PROTOCOL;
    }
    yajl_free(h);
    return rc;
}

/* ---- Typed reading of trusted-format answers --------------------------- */

yajl_val maint__json_parse(const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    yajl_val v;

    if (!copy)
        return NULL;
    memcpy(copy, text, len);
    copy[len] = '\0';
    v = yajl_tree_parse(copy, NULL, 0);
    free(copy);
    return v;
}

char *maint__json_text(yajl_val v)
{
    maint__json *j = maint__json_new();

    if (!j)
        return NULL;
    maint__json_tree(j, v);
    return maint__json_finish(j);
}

static const char *jtype_name(maint__jtype t)
{
    switch (t) {
    case MAINT__J_UINT: return "a non-negative integer";
    case MAINT__J_BOOL: return "true or false";
    default: return "a string";
    }
}

/* Store v (of f's type) at base + f->offset; false when v has another type. */
static bool jfield_store(const maint__jfield *f, yajl_val v, void *base, bool *nomem_r)
{
    char *p = (char *)base + f->offset;

    switch (f->type) {
    case MAINT__J_STR:
        if (YAJL_IS_NULL(v) && !f->required)
            return true;
        if (!YAJL_IS_STRING(v))
            return false;
        free(*(char **)p);
        *(char **)p = strdup(v->u.string);
        *nomem_r = *(char **)p == NULL;
        return true;
    case MAINT__J_UINT:
        if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0)
            return false;
        *(uint64_t *)p = (uint64_t)YAJL_GET_INTEGER(v);
        return true;
    case MAINT__J_BOOL:
        if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
            return false;
        *(bool *)p = YAJL_IS_TRUE(v);
        return true;
    }
    return false;
}

_Static_assert(sizeof(unsigned) == sizeof(uint32_t), "U32 serves unsigned members too");

void maint__json_kv_struct(maint__json *j, const void *base, const maint__ofield *fields,
                           unsigned nr)
{
    for (unsigned i = 0; i < nr; i++) {
        const maint__ofield *f = &fields[i];
        const char *p = (const char *)base + f->offset;

        maint__json_key(j, f->key);
        switch (f->type) {
        case MAINT__O_STRP: maint__json_string(j, *(char *const *)p); break;
        case MAINT__O_STRA: maint__json_string(j, p); break;
        case MAINT__O_U32: maint__json_uint(j, *(const uint32_t *)p); break;
        case MAINT__O_U64: maint__json_uint(j, *(const uint64_t *)p); break;
        case MAINT__O_BOOL: maint__json_bool(j, *(const bool *)p); break;
        }
    }
}

int maint__json_fields(xentoollog_logger *lg, const char *what, yajl_val obj,
                       const maint__jfield *fields, unsigned nr, void *base)
{
    if (!YAJL_IS_OBJECT(obj)) {
        LOG(lg, ERROR, "%s: not a JSON object", what);
        return MAINT_ERROR_PROTOCOL;
    }
    for (unsigned i = 0; i < nr; i++) {
        const maint__jfield *f = &fields[i];
        yajl_val v = NULL;
        bool nomem = false;

        for (size_t k = 0; k < obj->u.object.len && !v; k++)
            if (!strcmp(obj->u.object.keys[k], f->key))
                v = obj->u.object.values[k];
        if (!v) {
            if (!f->required)
                continue;
            LOG(lg, ERROR, "%s: field '%s' is missing", what, f->key);
            return MAINT_ERROR_PROTOCOL;
        }
        if (!jfield_store(f, v, base, &nomem)) {
            LOG(lg, ERROR, "%s: field '%s' must be %s", what, f->key, jtype_name(f->type));
            return MAINT_ERROR_PROTOCOL;
        }
        if (nomem)
            return MAINT_ERROR_NOMEM;
    }
    return MAINT_OK;
}
