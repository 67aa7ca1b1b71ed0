/* SPDX-License-Identifier: MIT */
/* A dynamic program with one DT_NEEDED library (libe2eneed.so) and no RUNPATH: ld.so's own
 * errors when that library is missing or of the wrong class are what dynlib-errors.sh
 * compares, natively and under bypass-run. */
#include <stdio.h>

int needlib_answer(void);

int main(void)
{
	printf("needlib says %d\n", needlib_answer());
	return 0;
}
