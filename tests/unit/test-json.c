/* JSON generation and validation. */
#include <string.h>
#include <stdlib.h>

#include "unit.h"

static void sample_domain(maint_domain_info *d, uint32_t domid, const char *name,
                          maint_domain_type type)
{
    maint_domain_info_init(d);
    d->domid = domid;
    d->name = name ? strdup(name) : NULL;
    snprintf(d->uuid, sizeof(d->uuid), "00000000-0000-0000-0000-%012u", domid);
    d->state = domid ? MAINT_DOMAIN_STATE_BLOCKED : MAINT_DOMAIN_STATE_RUNNING;
    d->type = type;
    d->mem_target_kb = 131072;
    d->mem_actual_kb = 131068;
    d->mem_max_kb = 132096;
    d->vcpus_online = 1;
    d->vcpus_max = 2;
    d->cpu_time_ns = 123456789;
}

static void test_domain_list_json(void)
{
    maint_domain_info list[3];
    char *json;

    sample_domain(&list[0], 0, "Domain-0", MAINT_DOMAIN_TYPE_PV);
    sample_domain(&list[1], 3, "web \"tier\"", MAINT_DOMAIN_TYPE_PVH);
    sample_domain(&list[2], 7, NULL, MAINT_DOMAIN_TYPE_HVM);
    json = maint_domain_list_to_json(list, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    unit_check_output("json", "domain-list", json);
    free(json);
    json = maint_domain_list_to_json(list, 0);
    CU_ASSERT_STRING_EQUAL(json, "[]");
    free(json);
    for (int i = 0; i < 3; i++)
        maint_domain_info_dispose(&list[i]);
    /* dispose is idempotent */
    maint_domain_info_dispose(&list[0]);
    CU_ASSERT_PTR_NULL(list[0].name);
}

static void test_host_info_json(void)
{
    maint_host_info h;
    maint_cpu_topo cpus[2] = { { 0, 0, 0 }, { 1, 0, 0 } };
    maint_numa_node nodes[1] = { { 3145728, 1048576 } };
    char *json;

    maint_host_info_init(&h);
    h.xen_version = strdup("4.17.7");
    h.host_id = strdup("6f1c7ae0-1111-4222-8333-944445555666");
    h.cpu_signature = strdup("AuthenticAMD-23-1-2-1t2c1n-0badcafe");
    h.nr_cpus = 2;
    h.threads_per_core = 1;
    h.cores_per_socket = 2;
    h.cpu_khz = 2400000;
    h.total_kb = 3145728;
    h.free_kb = 1048576;
    h.pv = h.hvm = h.hap = true;
    h.nr_nodes = 1;
    h.cpus = malloc(sizeof(cpus));
    memcpy(h.cpus, cpus, sizeof(cpus));
    h.nodes = malloc(sizeof(nodes));
    memcpy(h.nodes, nodes, sizeof(nodes));
    json = maint_host_info_to_json(&h);
    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    unit_check_output("json", "host-info", json);
    free(json);
    maint_host_info_dispose(&h);
    maint_host_info_dispose(&h);
}

static void test_validate(void)
{
    const char *why;
    char deep[64];

    CU_ASSERT_EQUAL(maint__json_validate("{\"a\":[1,2,{}]}", 14, 100, 8, &why), 0);
    CU_ASSERT_EQUAL(maint__json_validate("{\"a\":", 5, 100, 8, &why), MAINT_ERROR_PROTOCOL);
    CU_ASSERT_STRING_EQUAL(why, "not well-formed JSON");
    CU_ASSERT_EQUAL(maint__json_validate("{}{}", 4, 100, 8, &why), MAINT_ERROR_PROTOCOL);
    CU_ASSERT_EQUAL(maint__json_validate("{\"a\":1}", 7, 6, 8, &why), MAINT_ERROR_TOOBIG);
    CU_ASSERT_EQUAL(maint__json_validate("{\"a\":\0}", 7, 100, 8, &why), MAINT_ERROR_PROTOCOL);
    memset(deep, '[', 20);
    memset(deep + 20, ']', 20);
    CU_ASSERT_EQUAL(maint__json_validate(deep, 40, 100, 8, &why), MAINT_ERROR_TOOBIG);
    CU_ASSERT_STRING_EQUAL(why, "nested too deeply");
    CU_ASSERT_EQUAL(maint__json_validate(deep + 12, 16, 100, 8, &why), 0);
    /* invalid UTF-8 is rejected by yajl */
    CU_ASSERT_EQUAL(maint__json_validate("\"\xff\xfe\"", 4, 100, 8, &why), MAINT_ERROR_PROTOCOL);
    CU_ASSERT_EQUAL(maint__json_validate("[\"a\\u0000b\"]", 12, 100, 8, &why),
                    MAINT_ERROR_PROTOCOL);
    CU_ASSERT_STRING_EQUAL(why, "a string contains a NUL character");
}

static void test_strerror(void)
{
    CU_ASSERT_STRING_EQUAL(maint_strerror(MAINT_OK), "success");
    CU_ASSERT_STRING_EQUAL(maint_strerror(MAINT_ERROR_TIMEOUT), "timed out");
    CU_ASSERT_STRING_EQUAL(maint_strerror(-999), "unknown error");
    CU_ASSERT_STRING_EQUAL(maint_domain_type_name(MAINT_DOMAIN_TYPE_PVH), "pvh");
    CU_ASSERT_STRING_EQUAL(maint_domain_state_name(MAINT_DOMAIN_STATE_CRASHED), "crashed");
}

void suite_json_register(void)
{
    CU_pSuite s = CU_add_suite("json", NULL, NULL);

    CU_add_test(s, "domain list to JSON", test_domain_list_json);
    CU_add_test(s, "host info to JSON", test_host_info_json);
    CU_add_test(s, "strict validation", test_validate);
    CU_add_test(s, "names and error strings", test_strerror);
}
