/*
 * The unit-test runner: every module's CUnit suite, one process.
 * Exit status: 0 all passed, 1 failures, 99 hard error (CUnit itself).
 * CUnit's run functions return 0 even when tests fail, so the status comes
 * from the failure count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <CUnit/Basic.h>

#include "unit.h"
#include "../cunit-report.h"

void unit_check_output(const char *module, const char *name, const char *actual)
{
    const char *srcdir = getenv("top_srcdir");
    g_autofree char *path = NULL, *expected = NULL;
    g_autoptr(GError) error = NULL;

    path = g_strdup_printf("%s/tests/data/%s/%s.out", srcdir ? srcdir : ".",
                           module, name);
    if (getenv("XMAINT_REGENERATE")) {
        g_autofree char *text = g_strdup_printf("%s\n", actual);
        CU_ASSERT_FATAL(g_file_set_contents(path, text, -1, NULL));
        return;
    }
    if (!g_file_get_contents(path, &expected, NULL, &error)) {
        fprintf(stderr, "\n%s\n", error->message);
        CU_FAIL_FATAL("expected output missing (XMAINT_REGENERATE=1 writes it)");
    }
    g_strchomp(expected);
    if (strcmp(expected, actual))
        fprintf(stderr, "\n%s differs:\n expected: %s\n actual:   %s\n", path,
                expected, actual);
    CU_ASSERT_STRING_EQUAL(actual, expected);
}

unsigned unit_each_case(const char *module, char *(*verdict)(const char *buf, size_t len))
{
    const char *srcdir = getenv("top_srcdir");
    g_autofree char *dir = g_strdup_printf("%s/tests/data/%s", srcdir ? srcdir : ".", module);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;
    unsigned cases = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    while ((name = g_dir_read_name(d))) {
        g_autofree char *path = NULL, *buf = NULL, *base = NULL;
        char *v;
        gsize len;

        if (!g_str_has_suffix(name, ".in"))
            continue;
        path = g_build_filename(dir, name, NULL);
        CU_ASSERT_FATAL(g_file_get_contents(path, &buf, &len, NULL));
        /* files end with a newline that is not part of the value */
        if (len && buf[len - 1] == '\n')
            len--;
        v = verdict(buf, len);
        base = g_strndup(name, strlen(name) - 3);
        unit_check_output(module, base, v ? v : "(no verdict)");
        g_free(v);
        cases++;
    }
    return cases;
}

int main(void)
{
    int failed;

    if (CU_initialize_registry() != CUE_SUCCESS) {
        fprintf(stderr, "cannot initialise CUnit: %s\n", CU_get_error_msg());
        return 99;
    }
    suite_json_register();
    suite_request_register();
    suite_client_register();
    suite_substitute_register();
    suite_agent_register();
    suite_api_register();
    suite_util_register();
    if (CU_get_error() != CUE_SUCCESS) {
        fprintf(stderr, "cannot register the suites: %s\n", CU_get_error_msg());
        CU_cleanup_registry();
        return 99;
    }
    failed = cunit_run_and_report();
    return failed < 0 ? 99 : failed ? 1 : 0;
}
