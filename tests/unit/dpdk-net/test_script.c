// SPDX-License-Identifier: MIT
// dpdk-net stack tests: every scripts/*.pkt file is one Check test, run against a context
// whose device is a net_ring double (no NIC) with a virtual clock.  Pass script names as
// arguments to run only those.
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ring.h>

#include "dpdk-net/port.h"
#include "script.h"

#define MAX_SCRIPTS 128

static struct dnet_port g_port;
static struct script_dev g_dev = { .port = &g_port };
static char *g_scripts[MAX_SCRIPTS];
static int g_nscripts;

START_TEST(test_script)
{
    char err[1200];
    int rc = script_run_file(&g_dev, g_scripts[_i], err, sizeof(err));

    ck_assert_msg(rc == 0, "%s", err);
}
END_TEST

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void collect_scripts(int argc, char **argv)
{
    DIR *d;
    struct dirent *e;

    for (int i = 1; i < argc && g_nscripts < MAX_SCRIPTS; i++) {
        char path[512];

        snprintf(path, sizeof(path), "%s/%s%s", DNET_SCRIPT_DIR, argv[i],
                 strstr(argv[i], ".pkt") ? "" : ".pkt");
        g_scripts[g_nscripts++] = strdup(path);
    }
    if (g_nscripts)
        return;
    d = opendir(DNET_SCRIPT_DIR);
    while (d && (e = readdir(d)) != NULL && g_nscripts < MAX_SCRIPTS) {
        char path[512];
        size_t l = strlen(e->d_name);

        if (l < 5 || strcmp(e->d_name + l - 4, ".pkt"))
            continue;
        snprintf(path, sizeof(path), "%s/%s", DNET_SCRIPT_DIR, e->d_name);
        g_scripts[g_nscripts++] = strdup(path);
    }
    if (d)
        closedir(d);
    qsort(g_scripts, (size_t)g_nscripts, sizeof(g_scripts[0]), cmp_str);
}

static int setup_device(void)
{
    char *eal[] = { "test", "--no-pci", "--no-huge", "-m", "256", "--no-shconf",
                    "-l", "0", "--log-level=error" };
    int port_id;

    if (rte_eal_init((int)RTE_DIM(eal), eal) < 0) {
        fprintf(stderr, "rte_eal_init failed\n");
        return -1;
    }
    g_dev.rx = rte_ring_create("dnet_t_rx", 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    g_dev.tx = rte_ring_create("dnet_t_tx", 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!g_dev.rx || !g_dev.tx)
        return -1;
    port_id = rte_eth_from_rings("net_ring_dnet", &g_dev.rx, 1, &g_dev.tx, 1, 0);
    if (port_id < 0 || dnet_port_setup(&g_port, (uint16_t)port_id, NULL) < 0) {
        fprintf(stderr, "net_ring port set-up failed\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    Suite *s = suite_create("dpdk-net.script");
    TCase *tc = tcase_create("scripts");
    SRunner *sr;
    int failed;

    collect_scripts(argc, argv);
    if (!g_nscripts) {
        fprintf(stderr, "no scripts in %s\n", DNET_SCRIPT_DIR);
        return 1;
    }
    if (setup_device() < 0)
        return 1;
    /* The port has no offloads: every checksum goes through the software path. */
    if (g_port.offloads)
        fprintf(stderr, "note: net_ring reports offloads 0x%x\n", g_port.offloads);
    tcase_add_loop_test(tc, test_script, 0, g_nscripts);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    /* EAL runs once per process: no fork per test. */
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    dnet_port_teardown(&g_port);
    rte_eal_cleanup();
    return failed ? 1 : 0;
}
