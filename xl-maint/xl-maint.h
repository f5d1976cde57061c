/*
 * xl-maint: what the command families share (main.c): the command table's
 * entry, usage errors, option parsing, the library context, output.
 * Each command family is one file (cmd-*.c); every handler parses its own
 * options and returns EXIT_SUCCESS or EXIT_FAILURE.  Only libmaint's public
 * API is used.
 */
#ifndef XL_MAINT_H
#define XL_MAINT_H

#include <stdbool.h>
#include <stdint.h>

#include <maint/maint.h>

struct cmd_spec {
    const char *name;
    int (*impl)(int argc, char **argv);
    int can_dryrun;
    int modifies;
    const char *desc;
    const char *usage;
    const char *options;
};

/* Help for one subcommand (NULL: all) on stdout. */
void help(const char *command);
/* "xl maint CMD: ..." and a hint on stderr; returns EXIT_FAILURE. */
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parse the common options (--json if json_r, --help); returns -1 on a
 * usage error (reported), else optind. */
int parse_opts(int argc, char **argv, const char *cmd, bool *json_r, int min_args,
               int max_args);
struct option;
/* getopt_long over argv from its start (*started false: reset getopt
 * first), getopt's own messages off. */
int next_option(int argc, char **argv, const char *shortopts, const struct option *opts,
                bool *started);
/* parse_opts with no minimum, then the subcommand word: *sub_r (dflt when
 * none).  Returns optind or -1. */
int parse_sub(int argc, char **argv, const char *cmd, bool *json_r, int max_args,
              const char *dflt, const char **sub_r);
/* A library context (MAINT_CTX_* flags), or NULL (reported). */
maint_ctx *open_ctx(unsigned flags);
void print_json_line(const char *json);
/* A failed call to xmaintd: its reason (error, when the daemon or the
 * library gave one) or the error code.  Returns EXIT_FAILURE. */
int request_print_error(const char *cmd, int rc, const char *error);
/* "256M", "1G", "131072k", plain numbers in MiB (as xl). 0 on error. */
uint64_t parse_size_kb(const char *s);

/* The command families. */
int main_list(int argc, char **argv);
int main_status(int argc, char **argv);
int main_host(int argc, char **argv);
int main_config(int argc, char **argv);
int main_request(int argc, char **argv);
int main_substitute(int argc, char **argv);
int main_hw_remove(int argc, char **argv);
int main_hw_add(int argc, char **argv);
int main_os_upgrade(int argc, char **argv);
int main_os_patch(int argc, char **argv);
int main_app_maint(int argc, char **argv);
int main_reconfigure(int argc, char **argv);
int main_workflow(int argc, char **argv);
int main_service(int argc, char **argv);
int main_standby(int argc, char **argv);

#endif
