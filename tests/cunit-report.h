/*
 * Run the registered CUnit suites and report the project's way: CUnit's run
 * functions return 0 even when tests fail, so the verdict comes from the
 * failure count.  Prints "N passed, N failed"; returns the number failed, or
 * -1 when CUnit itself failed (the caller exits 99).
 */
#ifndef XMAINT_CUNIT_REPORT_H
#define XMAINT_CUNIT_REPORT_H

#include <stdio.h>
#include <string.h>
#include <CUnit/Basic.h>

static inline int cunit_run_and_report(void)
{
    unsigned run, failed;

    CU_basic_set_mode(CU_BRM_VERBOSE);
    if (CU_basic_run_tests() != CUE_SUCCESS)
        return -1;
    run = CU_get_number_of_tests_run();
    failed = CU_get_number_of_tests_failed();
    printf("%u passed, %u failed\n", run - failed, failed);
    CU_cleanup_registry();
    return (int)failed;
}

#if defined(__GLIB_H_INSIDE__) || defined(__G_LIB_H__)
/*
 * glib's default log writer formats a time with localtime(), which is not
 * thread-safe: tests whose daemon threads log (the workflows', the standby's
 * jobs) use this plain one -- "domain level: message", one fprintf (stdio
 * locks the stream) -- so ThreadSanitizer reports the code under test, not
 * glib's writer.  Debug and info only with G_MESSAGES_DEBUG set.
 */
static const char *cunit_log_field(const GLogField *fields, gsize n, const char *key,
                                   const char *dflt)
{
    while (n-- > 0)
        if (!strcmp(fields[n].key, key))
            return fields[n].value;
    return dflt;
}

static GLogWriterOutput cunit_plain_writer(GLogLevelFlags level, const GLogField *fields,
                                           gsize n_fields, gpointer user_data)
{
    const char *msg = cunit_log_field(fields, n_fields, "MESSAGE", "");
    const char *dom = cunit_log_field(fields, n_fields, "GLIB_DOMAIN", "?");

    (void)user_data;
    if ((level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) && !g_getenv("G_MESSAGES_DEBUG"))
        return G_LOG_WRITER_HANDLED;
    fprintf(stderr, "%s %s: %s\n", dom,
            level & G_LOG_LEVEL_CRITICAL ? "critical" : level & G_LOG_LEVEL_WARNING ? "warning"
                                                                                     : "message",
            msg);
    return G_LOG_WRITER_HANDLED;
}

static inline void cunit_plain_log(void)
{
    g_log_set_writer_func(cunit_plain_writer, NULL, NULL);
}
#endif

#endif
