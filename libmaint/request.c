/*
 * The xenstore request/response protocol between clients (dom0 tools and
 * guests) and xmaintd.  Everything parsed here may come from a hostile guest:
 * lengths are bounded before parsing, the grammar is strict, and every
 * rejection carries a message that is written back to the requester.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "internal.h"
#include "schema.h"

#define REQUEST_MAX_DEPTH 8

void maint__request_init(maint__request *req)
{
    memset(req, 0, sizeof(*req));
}

void maint__request_dispose(maint__request *req)
{
    yajl_tree_free(req->tree);
    maint__request_init(req);
}

bool maint__request_id_valid(const char *id)
{
    size_t n = 0;

    for (; id[n]; n++) {
        char c = id[n];
        if (n >= MAINT_REQUEST_ID_MAX)
            return false;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return n > 0 && strcmp(id, ".") && strcmp(id, "..");
}

bool maint__nonce_valid(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++)
        if (n >= MAINT_NONCE_LEN ||
            !((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == MAINT_NONCE_LEN;
}

int maint__nonce_new(char *buf)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[MAINT_NONCE_LEN / 2];
    size_t got = 0;

    while (got < sizeof(raw)) {
        ssize_t r = getrandom(raw + got, sizeof(raw) - got, 0);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return MAINT_ERROR_FAIL;
        got += (size_t)r;
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        buf[2 * i] = hex[raw[i] >> 4];
        buf[2 * i + 1] = hex[raw[i] & 15];
    }
    buf[MAINT_NONCE_LEN] = '\0';
    return MAINT_OK;
}

void maint__request_id(char *buf, size_t size)
{
    static unsigned long counter;   /* shared by every context of the process */

    snprintf(buf, size, "c%ld-%lu", (long)getpid(),
             __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
}

static bool op_valid(const char *op)
{
    size_t n = strlen(op);

    if (n == 0 || n > MAINT_OP_MAX || !(op[0] >= 'a' && op[0] <= 'z'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((op[i] >= 'a' && op[i] <= 'z') || (op[i] >= '0' && op[i] <= '9') ||
              op[i] == '-'))
            return false;
    return true;
}

void maint__json_tree(maint__json *j, yajl_val v)
{
    size_t i;

    if (YAJL_IS_OBJECT(v)) {
        maint__json_map_open(j);
        for (i = 0; i < v->u.object.len; i++) {
            maint__json_key(j, v->u.object.keys[i]);
            maint__json_tree(j, v->u.object.values[i]);
        }
        maint__json_map_close(j);
    } else if (YAJL_IS_ARRAY(v)) {
        maint__json_array_open(j);
        for (i = 0; i < v->u.array.len; i++)
            maint__json_tree(j, v->u.array.values[i]);
        maint__json_array_close(j);
    } else if (YAJL_IS_STRING(v)) {
        maint__json_string(j, v->u.string);
    } else if (YAJL_IS_NUMBER(v)) {
        maint__json_raw(j, v->u.number.r);
    } else if (YAJL_IS_TRUE(v)) {
        maint__json_bool(j, true);
    } else if (YAJL_IS_FALSE(v)) {
        maint__json_bool(j, false);
    } else {
        maint__json_null(j);
    }
}

/* Parse JSON text we have already validated into a tree. */
static yajl_val parse_tree(const char *buf, size_t len)
{
    return maint__json_parse(buf, len);
}

int maint__request_parse(const char *buf, size_t len, maint__request *req_r,
                         char **err_r)
{
    static const char *nonce_path[] = { "nonce", NULL };
    yajl_val root = NULL, op = NULL, args = NULL, nonce;
    const char *why;
    size_t i;
    int rc;

    maint__request_init(req_r);
    *err_r = NULL;

    if (len == 0) {
        *err_r = strdup("empty request");
        rc = MAINT_ERROR_PROTOCOL;
        goto out;
    }
    rc = maint__json_validate(buf, len, MAINT_REQUEST_MAX, REQUEST_MAX_DEPTH, &why);
    if (rc) {
        *err_r = maint__sprintf("request rejected: %s (at most %d bytes of JSON, "
                                "%d levels deep)", why, MAINT_REQUEST_MAX,
                                REQUEST_MAX_DEPTH);
        goto out;
    }
    root = parse_tree(buf, len);
    if (!root) {
        *err_r = strdup("request rejected: not well-formed JSON");
        rc = MAINT_ERROR_PROTOCOL;
        goto out;
    }
    if (!YAJL_IS_OBJECT(root)) {
        *err_r = strdup("request rejected: a request is a JSON object");
        rc = MAINT_ERROR_PROTOCOL;
        goto out;
    }
    /* First the nonce, so that any refusal below can echo it. */
    nonce = yajl_tree_get(root, nonce_path, yajl_t_any);
    if (nonce && (!YAJL_IS_STRING(nonce) || !maint__nonce_valid(nonce->u.string))) {
        *err_r = maint__sprintf("request rejected: 'nonce' must be a string of %d "
                                "lowercase hex digits", MAINT_NONCE_LEN);
        rc = MAINT_ERROR_PROTOCOL;
        goto out;
    }
    if (nonce)
        strcpy(req_r->nonce, nonce->u.string);
    for (i = 0; i < root->u.object.len; i++) {
        const char *k = root->u.object.keys[i];
        yajl_val v = root->u.object.values[i];

        if (!strcmp(k, "op") && !op) {
            op = v;
        } else if (!strcmp(k, "args") && !args) {
            args = v;
        } else if (!strcmp(k, "nonce") && v == nonce) {
            continue;
        } else if (!strcmp(k, "op") || !strcmp(k, "args") || !strcmp(k, "nonce")) {
            *err_r = maint__sprintf("request rejected: duplicate field '%s'", k);
            rc = MAINT_ERROR_PROTOCOL;
            goto out;
        } else {
            *err_r = maint__sprintf("request rejected: unexpected field '%.32s'", k);
            rc = MAINT_ERROR_PROTOCOL;
            goto out;
        }
    }
    if (!op) {
        *err_r = strdup("request rejected: missing field 'op'");
        rc = MAINT_ERROR_PROTOCOL;
        goto out;
    }
    if (!YAJL_IS_STRING(op) || !op_valid(op->u.string)) {
        *err_r = strdup("request rejected: 'op' must be a string of 1-32 "
                        "characters [a-z0-9-] starting with a letter");
        rc = MAINT_ERROR_PROTOCOL;
        goto out;
    }
    strcpy(req_r->op, op->u.string);
    if (args && !YAJL_IS_OBJECT(args)) {
        *err_r = strdup("request rejected: 'args' must be a JSON object");
        rc = MAINT_ERROR_PROTOCOL;
        goto out;
    }
    /* the tree is handed over: the arguments are parsed once, by the op's schema */
    req_r->tree = root;
    req_r->args = args;
    root = NULL;
    rc = MAINT_OK;

out:
    if (rc && !*err_r)
        *err_r = strdup(maint_strerror(rc));
    if (rc) {
        char keep[MAINT_NONCE_LEN + 1];

        strcpy(keep, req_r->nonce);
        maint__request_dispose(req_r);
        strcpy(req_r->nonce, keep);
    }
    yajl_tree_free(root);
    return rc;
}

char *maint__request_format(const char *op, const char *args_json, const char *nonce)
{
    maint__json *j = maint__json_new();

    if (!j)
        return NULL;
    maint__json_map_open(j);
    maint__json_kv_string(j, "op", op);
    if (nonce) {
        maint__json_kv_string(j, "nonce", nonce);
    }
    if (args_json) {
        maint__json_key(j, "args");
        maint__json_raw(j, args_json);
    }
    maint__json_map_close(j);
    return maint__json_finish(j);
}

/* {"status": status[, "nonce": nonce] ... (the map stays open) */
static maint__json *response_open(const char *status, const char *nonce)
{
    maint__json *j = maint__json_new();

    if (!j)
        return NULL;
    maint__json_map_open(j);
    maint__json_kv_string(j, "status", status);
    if (nonce && *nonce) {
        maint__json_kv_string(j, "nonce", nonce);
    }
    return j;
}

char *maint__response_format_ok(const char *nonce, const char *result_json)
{
    maint__json *j = response_open("ok", nonce);

    if (!j)
        return NULL;
    maint__json_key(j, "result");
    maint__json_raw(j, result_json ? result_json : "{}");
    maint__json_map_close(j);
    return maint__json_finish(j);
}

char *maint__response_format_error(const char *nonce, const char *op, const char *error)
{
    maint__json *j = response_open("error", nonce);

    if (!j)
        return NULL;
    if (op) {
        maint__json_kv_string(j, "op", op);
    }
    maint__json_kv_string(j, "error", error);
    maint__json_map_close(j);
    return maint__json_finish(j);
}

int maint__response_parse(const char *buf, size_t len, const char *nonce,
                          char **result_r, char **error_r)
{
    static const char *nonce_path[] = { "nonce", NULL };
    static const char *status_path[] = { "status", NULL };
    static const char *result_path[] = { "result", NULL };
    static const char *error_path[] = { "error", NULL };
    yajl_val root, status, v;
    maint__json *j;
    int rc = MAINT_ERROR_PROTOCOL;

    *result_r = NULL;
    *error_r = NULL;
    root = parse_tree(buf, len);
    if (!root || !YAJL_IS_OBJECT(root))
        goto out;
    status = yajl_tree_get(root, status_path, yajl_t_string);
    if (!status)
        goto out;
    if (nonce) {
        v = yajl_tree_get(root, nonce_path, yajl_t_string);
        if (!v || strcmp(v->u.string, nonce)) {
            rc = MAINT_ERROR_NOENT;     /* an answer to another request */
            goto out;
        }
    }
    if (!strcmp(status->u.string, "ok")) {
        v = yajl_tree_get(root, result_path, yajl_t_any);
        j = maint__json_new();
        if (!j) {
            rc = MAINT_ERROR_NOMEM;
            goto out;
        }
        if (v)
            maint__json_tree(j, v);
        else
            maint__json_null(j);
        *result_r = maint__json_finish(j);
        rc = *result_r ? MAINT_OK : MAINT_ERROR_NOMEM;
    } else if (!strcmp(status->u.string, "error")) {
        v = yajl_tree_get(root, error_path, yajl_t_string);
        *error_r = strdup(v ? v->u.string : "(no error text)");
        rc = *error_r ? MAINT_ERROR_REMOTE : MAINT_ERROR_NOMEM;
    }
out:
    yajl_tree_free(root);
    return rc;
}

/* ---- Reading and writing responses in xenstore --------------------------- */

/* The parts of an over-long response, then its head, in one transaction. */
typedef struct parts_write {
    uint32_t domid;
    const char *id, *path, *value, *head;
    size_t len;
    unsigned parts;
} parts_write;

static int parts_write_txn(maint__port *port, uint32_t txn, void *user)
{
    const parts_write *w = user;

    for (unsigned i = 0; i < w->parts; i++) {
        char *p = maint__sprintf(MAINT_XS_RESPONSE_PART_FMT, w->domid, w->id, i);
        size_t off = (size_t)i * MAINT_XS_CHUNK;
        size_t n = w->len - off < MAINT_XS_CHUNK ? w->len - off : MAINT_XS_CHUNK;
        int r = p ? port->ops->xs_write(port->priv, txn, p, w->value + off, (unsigned)n) : -1;

        free(p);
        if (r < 0)
            return -1;
    }
    return port->ops->xs_write(port->priv, txn, w->path, w->head, (unsigned)strlen(w->head));
}

int maint__response_write(maint__port *port, xentoollog_logger *lg,
                          uint32_t domid, const char *id, const char *value)
{
    parts_write w = { .domid = domid, .id = id, .value = value, .len = strlen(value) };
    char *path = NULL, *head = NULL;
    int rc = MAINT_ERROR_XENSTORE;

    w.path = path = maint__sprintf(MAINT_XS_RESPONSE_FMT, domid, id);
    if (!path)
        return MAINT_ERROR_NOMEM;
    if (w.len <= MAINT_XS_CHUNK) {
        if (port->ops->xs_write(port->priv, MAINT__XS_NO_TXN, path, value,
                                (unsigned)w.len) < 0) {
            LOGED(lg, ERROR, domid, "cannot write %s", path);
            goto out;
        }
        rc = MAINT_OK;
        goto out;
    }
    /* Too big for one value: parts as children, then the head, atomically. */
    w.parts = (unsigned)((w.len + MAINT_XS_CHUNK - 1) / MAINT_XS_CHUNK);
    w.head = head = maint__sprintf("{\"parts\":%u}", w.parts);
    if (!head) {
        rc = MAINT_ERROR_NOMEM;
        goto out;
    }
    if (maint__xs_transaction(port, parts_write_txn, &w) < 0) {
        LOGED(lg, ERROR, domid, "cannot write %s%s", path,
              errno == EAGAIN ? " (the transaction kept conflicting)" : "");
        goto out;
    }
    rc = MAINT_OK;
out:
    free(head);
    free(path);
    return rc;
}

int maint__response_read(maint__port *port, uint32_t domid, const char *id,
                         char **value_r)
{
    static const char *parts_path[] = { "parts", NULL };
    char *path, *val, *out = NULL;
    unsigned len, i, parts;
    size_t used = 0;
    yajl_val root, v;
    int rc = MAINT_ERROR_NOENT;

    *value_r = NULL;
    path = maint__sprintf(MAINT_XS_RESPONSE_FMT, domid, id);
    if (!path)
        return MAINT_ERROR_NOMEM;
    val = port->ops->xs_read(port->priv, MAINT__XS_NO_TXN, path, &len);
    free(path);
    if (!val || len == 0) {
        free(val);
        return MAINT_ERROR_NOENT;
    }
    if (strncmp(val, "{\"parts\":", 9)) {
        *value_r = val;
        return MAINT_OK;
    }
    root = parse_tree(val, len);
    free(val);
    v = root ? yajl_tree_get(root, parts_path, yajl_t_number) : NULL;
    if (!v || !YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) <= 0 ||
        YAJL_GET_INTEGER(v) > 4096) {
        rc = MAINT_ERROR_PROTOCOL;
        goto out;
    }
    parts = (unsigned)YAJL_GET_INTEGER(v);
    out = malloc((size_t)parts * MAINT_XS_CHUNK + 1);
    if (!out) {
        rc = MAINT_ERROR_NOMEM;
        goto out;
    }
    for (i = 0; i < parts; i++) {
        char *p = maint__sprintf(MAINT_XS_RESPONSE_PART_FMT, domid, id, i);
        char *chunk = p ? port->ops->xs_read(port->priv, MAINT__XS_NO_TXN, p, &len) : NULL;

        free(p);
        if (!chunk || len > MAINT_XS_CHUNK) {
            free(chunk);
            rc = MAINT_ERROR_PROTOCOL;
            goto out;
        }
        memcpy(out + used, chunk, len);
        used += len;
        free(chunk);
    }
    out[used] = '\0';
    *value_r = out;
    out = NULL;
    rc = MAINT_OK;
out:
    free(out);
    yajl_tree_free(root);
    return rc;
}
