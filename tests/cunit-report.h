/*
 * Run the registered CUnit suites and report the project's way: CUnit's run
 * functions return 0 even when tests fail, so the verdict comes from the
 * failure count.  Prints "N passed, N failed"; returns the number failed, or
 * -1 when CUnit itself failed (the caller exits 99).
 */
#ifndef XMAINT_CUNIT_REPORT_H
#define XMAINT_CUNIT_REPORT_H

#include <stdio.h>
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

#endif
