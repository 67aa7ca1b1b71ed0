/* SPDX-License-Identifier: MIT */
/* Test fixture for loader.elf: a static-pie program (ET_DYN, no PT_INTERP) with
 * initialised data and .bss, mapped by the loader at a bias. */
#include <string.h>

char tiny_data[64] = "tiny data";
char tiny_bss[8192];

int main(int argc, char **argv)
{
	tiny_bss[argc] = 1;
	return (int)strlen(tiny_data) + tiny_bss[1] + (argv[0] == NULL);
}
