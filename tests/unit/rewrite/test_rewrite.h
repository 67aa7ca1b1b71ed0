/* SPDX-License-Identifier: MIT */
/* Shared by the rewrite unit tests: run a Check suite, exit status for ctest. */
#ifndef TEST_REWRITE_H
#define TEST_REWRITE_H

#include <check.h>
#include <stdlib.h>

/* Run every test of @s (forked, CK_NORMAL output); EXIT_SUCCESS when none failed. */
static inline int test_rewrite_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
