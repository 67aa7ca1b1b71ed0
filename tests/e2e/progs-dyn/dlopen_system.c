/* SPDX-License-Identifier: MIT */
/* dlopen of the system's libm.so.6 and libz.so.1 (zlib1g: a dependency of dpkg, so on every
 * Debian) by soname, found through ld.so's search path and cache: functions called through
 * dlsym, results printed (they must be the same natively and under bypass-run), zlib's
 * compress/uncompress round trip and a gzip stream written to a file and read back through
 * zlib's own file I/O (its read/write/lseek/close calls come from libz's code). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"

#define SYM(h, name) dlsym((h), (name))

static void test_libm(void)
{
	void *m = dlopen("libm.so.6", RTLD_NOW);
	e2e_check(m != NULL, "dlopen_libm", "%s", m ? "" : dlerror());
	if (!m)
		return;
	double (*fcos)(double), (*fpow)(double, double), (*fsqrt)(double), (*flgamma)(double);
	double (*fatan2)(double, double);
	*(void **)&fcos = SYM(m, "cos");
	*(void **)&fpow = SYM(m, "pow");
	*(void **)&fsqrt = SYM(m, "sqrt");
	*(void **)&flgamma = SYM(m, "lgamma");
	*(void **)&fatan2 = SYM(m, "atan2");
	int have = fcos && fpow && fsqrt && flgamma && fatan2;
	E2E_CHECK(have, "libm_dlsym");
	if (!have)
		return;
	double pi = 4 * fatan2(1, 1);
	printf("libm: pi=%.12f cos(1)=%.12f pow(2,0.5)=%.12f sqrt(2)=%.12f lgamma(10)=%.9f\n", pi,
	       fcos(1.0), fpow(2, 0.5), fsqrt(2), flgamma(10));
	E2E_CHECK(fpow(2, 10) == 1024 && fsqrt(144) == 12 && pi > 3.14159 && pi < 3.1416,
		  "libm_values");
	E2E_CHECK(dlclose(m) == 0, "dlclose_libm");
}

typedef unsigned long uLong;
typedef unsigned char Bytef;

static void test_libz(void)
{
	void *z = dlopen("libz.so.1", RTLD_NOW);
	e2e_check(z != NULL, "dlopen_libz", "%s", z ? "" : dlerror());
	if (!z)
		return;
	const char *(*zversion)(void);
	uLong (*zcrc32)(uLong, const Bytef *, unsigned), (*zadler32)(uLong, const Bytef *, unsigned);
	uLong (*zbound)(uLong);
	int (*zcompress2)(Bytef *, uLong *, const Bytef *, uLong, int);
	int (*zuncompress)(Bytef *, uLong *, const Bytef *, uLong);
	void *(*gzopen)(const char *, const char *);
	int (*gzwrite)(void *, const void *, unsigned), (*gzread)(void *, void *, unsigned);
	int (*gzclose)(void *);
	*(void **)&zversion = SYM(z, "zlibVersion");
	*(void **)&zcrc32 = SYM(z, "crc32");
	*(void **)&zadler32 = SYM(z, "adler32");
	*(void **)&zbound = SYM(z, "compressBound");
	*(void **)&zcompress2 = SYM(z, "compress2");
	*(void **)&zuncompress = SYM(z, "uncompress");
	*(void **)&gzopen = SYM(z, "gzopen");
	*(void **)&gzwrite = SYM(z, "gzwrite");
	*(void **)&gzread = SYM(z, "gzread");
	*(void **)&gzclose = SYM(z, "gzclose");
	int have = zversion && zcrc32 && zadler32 && zbound && zcompress2 && zuncompress && gzopen &&
		   gzwrite && gzread && gzclose;
	E2E_CHECK(have, "libz_dlsym");
	if (!have)
		return;
	E2E_CHECK(zversion()[0] == '1', "zlib_version");
	uLong crc = zcrc32(0, (const Bytef *)"hello", 5);
	uLong adler = zadler32(1, (const Bytef *)"hello", 5);
	printf("libz: crc32(hello)=%#lx adler32(hello)=%#lx\n", crc, adler);
	E2E_CHECK(crc == 0x3610a686 && adler == 0x062c0215, "zlib_checksums");

	static Bytef src[64 * 1024], packed[80 * 1024], unpacked[64 * 1024];
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (Bytef)("the quick brown fox "[i % 20] + (i / 4096));
	uLong plen = sizeof(packed), ulen = sizeof(unpacked);
	int rc1 = zcompress2(packed, &plen, src, sizeof(src), 9);
	int rc2 = zuncompress(unpacked, &ulen, packed, plen);
	printf("libz: 65536 bytes -> %lu compressed\n", plen);
	E2E_CHECK(rc1 == 0 && rc2 == 0 && ulen == sizeof(src) && memcmp(src, unpacked, ulen) == 0 &&
			  plen < zbound(sizeof(src)),
		  "zlib_roundtrip");

	void *gz = gzopen("data.gz", "wb9");
	int wrote = gz ? gzwrite(gz, src, sizeof(src)) : -1;
	int closed = gz ? gzclose(gz) : -1;
	gz = gzopen("data.gz", "rb");
	memset(unpacked, 0, sizeof(unpacked));
	int got = gz ? gzread(gz, unpacked, sizeof(unpacked)) : -1;
	if (gz)
		gzclose(gz);
	e2e_check(wrote == (int)sizeof(src) && closed == 0 && got == (int)sizeof(src) &&
			  memcmp(src, unpacked, sizeof(src)) == 0,
		  "zlib_gzfile_roundtrip", "wrote=%d closed=%d got=%d", wrote, closed, got);
	E2E_CHECK(dlclose(z) == 0, "dlclose_libz");
}

int main(void)
{
	e2e_init();
	test_libm();
	test_libz();
	/* Both again: the second mapping must work as the first. */
	test_libz();
	return e2e_finish();
}
