/*
 * Application declarations: one file per application in the agent's
 * configuration directory (default /etc/xmaint/apps), NAME.conf, lines of
 * KEY=VALUE:
 *   start=COMMAND        how to start it (sh -c), required
 *   stop=COMMAND         how to stop it; default SIGTERM to its process group
 *   mode=redirect|state|checkpoint   how it moves to another domain
 *   port=N               redirect: the TCP port it serves
 *   state=PATH           a file or directory carried over (repeatable, <= 8)
 *   memory=SIZE          protected (hot-standby pair): memory asked of xmaintd
 *                        before it starts (e.g. 64M, 1G, 4096K)
 * Blank lines and lines starting with '#' are ignored; anything else is an
 * error that names the file and line.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

const char *agent_mode_name(agent_mode m)
{
    switch (m) {
    case MODE_REDIRECT: return "redirect";
    case MODE_STATE: return "state";
    case MODE_CHECKPOINT: return "checkpoint";
    }
    return "?";
}

bool agent_name_ok(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > AGENT_NAME_MAX)
        return false;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || (c >= 'A' && c <= 'Z')))
            return false;
    }
    return true;
}

static int copy_value(char *dst, size_t size, const char *v, const char *file,
                      unsigned line, const char *key)
{
    if (strlen(v) >= size) {
        fprintf(stderr, "xmaint-agent: %s:%u: %s is longer than %zu bytes\n",
                file, line, key, size - 1);
        return -1;
    }
    strcpy(dst, v);
    return 0;
}

static int load_one(const char *path, const char *name, agent_app *app)
{
    FILE *f = fopen(path, "r");
    char buf[AGENT_CMD_MAX + 64];
    unsigned line = 0;
    int rc = -1;

    if (!f) {
        fprintf(stderr, "xmaint-agent: %s: %s\n", path, strerror(errno));
        return -1;
    }
    memset(app, 0, sizeof(*app));
    strcpy(app->name, name);
    app->mode = MODE_STATE;
    app->status = "stopped";
    while (fgets(buf, sizeof(buf), f)) {
        char *eq, *v;
        size_t n = strlen(buf);

        line++;
        if (n && buf[n - 1] == '\n')
            buf[--n] = 0;
        else if (n == sizeof(buf) - 1) {
            fprintf(stderr, "xmaint-agent: %s:%u: line too long\n", path, line);
            goto out;
        }
        if (buf[0] == 0 || buf[0] == '#')
            continue;
        eq = strchr(buf, '=');
        if (!eq) {
            fprintf(stderr, "xmaint-agent: %s:%u: expected KEY=VALUE\n", path, line);
            goto out;
        }
        *eq = 0;
        v = eq + 1;
        if (!strcmp(buf, "start")) {
            if (copy_value(app->start, sizeof(app->start), v, path, line, buf))
                goto out;
        } else if (!strcmp(buf, "stop")) {
            if (copy_value(app->stop, sizeof(app->stop), v, path, line, buf))
                goto out;
        } else if (!strcmp(buf, "mode")) {
            if (!strcmp(v, "redirect")) app->mode = MODE_REDIRECT;
            else if (!strcmp(v, "state")) app->mode = MODE_STATE;
            else if (!strcmp(v, "checkpoint")) app->mode = MODE_CHECKPOINT;
            else {
                fprintf(stderr, "xmaint-agent: %s:%u: mode '%s' is not redirect, "
                        "state or checkpoint\n", path, line, v);
                goto out;
            }
        } else if (!strcmp(buf, "port")) {
            char *end;
            unsigned long p;

            errno = 0;
            p = strtoul(v, &end, 10);
            if (errno || *end || end == v || p == 0 || p > 65535) {
                fprintf(stderr, "xmaint-agent: %s:%u: port '%s' is not 1-65535\n",
                        path, line, v);
                goto out;
            }
            app->port = (unsigned)p;
        } else if (!strcmp(buf, "memory")) {
            char *end;
            unsigned long long m;

            errno = 0;
            m = strtoull(v, &end, 10);
            if (errno || end == v || m == 0 || (*end && end[1])) {
                fprintf(stderr, "xmaint-agent: %s:%u: memory '%s' is not a size\n", path, line, v);
                goto out;
            }
            if (*end == 'G' || *end == 'g') m <<= 20;
            else if (*end == 'M' || *end == 'm' || !*end) m <<= 10;
            else if (*end != 'K' && *end != 'k') {
                fprintf(stderr, "xmaint-agent: %s:%u: memory '%s': use K, M or G\n", path, line, v);
                goto out;
            }
            if (m > (1ull << 40)) {
                fprintf(stderr, "xmaint-agent: %s:%u: memory '%s' is absurd\n", path, line, v);
                goto out;
            }
            app->memory_kb = m;
        } else if (!strcmp(buf, "state")) {
            if (app->nstate == AGENT_MAX_STATE) {
                fprintf(stderr, "xmaint-agent: %s:%u: more than %d state paths\n",
                        path, line, AGENT_MAX_STATE);
                goto out;
            }
            n = strlen(v);
            if (v[0] != '/' || n < 2 || strstr(v, "/../") || strstr(v, "/./") ||
                strstr(v, "//") || (n >= 3 && !strcmp(v + n - 3, "/..")) ||
                (n >= 2 && !strcmp(v + n - 2, "/."))) {
                fprintf(stderr, "xmaint-agent: %s:%u: state '%s' is not a plain "
                        "absolute path\n", path, line, v);
                goto out;
            }
            if (copy_value(app->state[app->nstate], sizeof(app->state[0]), v, path,
                           line, buf))
                goto out;
            app->nstate++;
        } else {
            fprintf(stderr, "xmaint-agent: %s:%u: unknown key '%s'\n", path, line, buf);
            goto out;
        }
    }
    if (!app->start[0]) {
        fprintf(stderr, "xmaint-agent: %s: no start= line\n", path);
        goto out;
    }
    if (app->mode == MODE_REDIRECT && !app->port) {
        fprintf(stderr, "xmaint-agent: %s: mode=redirect needs port=\n", path);
        goto out;
    }
    if (app->mode == MODE_CHECKPOINT && app->nstate == 0) {
        fprintf(stderr, "xmaint-agent: %s: mode=checkpoint needs a state= "
                "directory for its images\n", path);
        goto out;
    }
    rc = 0;
out:
    fclose(f);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const agent_app *)a)->name, ((const agent_app *)b)->name);
}

int agent_apps_load(const char *dir, agent_app *apps, unsigned max, unsigned *n_r)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    unsigned n = 0;
    int rc = 0;

    *n_r = 0;
    if (!d) {
        if (errno == ENOENT)
            return 0;
        fprintf(stderr, "xmaint-agent: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        char name[AGENT_NAME_MAX + 1], path[4096];

        if (len < 6 || strcmp(e->d_name + len - 5, ".conf"))
            continue;
        if (len - 5 > AGENT_NAME_MAX) {
            fprintf(stderr, "xmaint-agent: %s/%s: name too long\n", dir, e->d_name);
            rc = -1;
            continue;
        }
        memcpy(name, e->d_name, len - 5);
        name[len - 5] = 0;
        if (!agent_name_ok(name)) {
            fprintf(stderr, "xmaint-agent: %s/%s: names are letters, digits, - and _\n",
                    dir, e->d_name);
            rc = -1;
            continue;
        }
        if (n == max) {
            fprintf(stderr, "xmaint-agent: more than %u applications in %s\n", max, dir);
            rc = -1;
            break;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (load_one(path, name, &apps[n]) == 0)
            n++;
        else
            rc = -1;
    }
    closedir(d);
    qsort(apps, n, sizeof(apps[0]), by_name);
    *n_r = n;
    return rc;
}
