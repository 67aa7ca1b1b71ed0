/* SPDX-License-Identifier: MIT */
/* The main() of every Check unit test: run a suite, each test in its own process. */
#ifndef BYPASS_TEST_CHECK_RUN_H
#define BYPASS_TEST_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

/* Run every test of @s (CK_NORMAL output); the exit status for ctest. */
static inline int check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
