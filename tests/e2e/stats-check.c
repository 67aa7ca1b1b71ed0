/* SPDX-License-Identifier: MIT */
/* e2e_stats: reads the JSON written by `bypass-run --stats=FILE` / BYPASS_STATS so the e2e
 * scripts need neither python nor jq. A tiny JSON reader flattens every scalar to a dotted path
 * ("calls.total", "syscalls.4919", "exe").
 *   e2e_stats validate FILE...      required keys present, calls.total == fast+libos+trap and
 *                                   == the sum of "syscalls"; exit 1 naming what is wrong
 *   e2e_stats ratio MIN FILE...     sum calls over FILEs: (fast+libos)/total >= MIN and
 *                                   trap/total <= 1-MIN; prints the totals
 *   e2e_stats get KEY FILE          prints the number at KEY (a missing syscalls.N is 0)
 *   e2e_stats sum KEY FILE...       prints the sum of KEY over FILEs
 * Exit status: 0 ok, 1 check failed, 2 usage or unreadable/malformed file. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 4096
#define MAX_PATH 256

struct item {
	char path[MAX_PATH];
	int is_num;
	long long num;
	int is_object; /* path names an object (recorded so empty objects still exist) */
};

struct doc {
	const char *file;
	const char *s; /* cursor */
	struct item items[MAX_ITEMS];
	int n;
	const char *err;
};

static void skip_ws(struct doc *d)
{
	while (isspace((unsigned char)*d->s))
		d->s++;
}

static struct item *add(struct doc *d, const char *path)
{
	if (d->n >= MAX_ITEMS) {
		d->err = "too many values";
		return NULL;
	}
	struct item *it = &d->items[d->n++];
	memset(it, 0, sizeof(*it));
	snprintf(it->path, sizeof(it->path), "%s", path);
	return it;
}

/* Reads a string into out (escapes kept as the escaped char; enough for keys and paths). */
static int parse_string(struct doc *d, char *out, size_t cap)
{
	size_t len = 0;
	if (*d->s != '"')
		return d->err = "expected string", -1;
	d->s++;
	while (*d->s && *d->s != '"') {
		if (*d->s == '\\' && d->s[1])
			d->s++;
		if (len + 1 < cap)
			out[len++] = *d->s;
		d->s++;
	}
	if (*d->s != '"')
		return d->err = "unterminated string", -1;
	d->s++;
	out[len] = 0;
	return 0;
}

static int parse_value(struct doc *d, const char *path, int depth);

static int parse_container(struct doc *d, const char *path, int depth, int is_obj)
{
	struct item *self = add(d, path);
	if (!self)
		return -1;
	self->is_object = is_obj;
	d->s++;
	skip_ws(d);
	char close = is_obj ? '}' : ']';
	if (*d->s == close) {
		d->s++;
		return 0;
	}
	for (int idx = 0;; idx++) {
		char key[128], sub[MAX_PATH];
		skip_ws(d);
		if (is_obj) {
			if (parse_string(d, key, sizeof(key)) < 0)
				return -1;
			skip_ws(d);
			if (*d->s != ':')
				return d->err = "expected ':'", -1;
			d->s++;
		} else {
			snprintf(key, sizeof(key), "%d", idx);
		}
		snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", key);
		if (parse_value(d, sub, depth + 1) < 0)
			return -1;
		skip_ws(d);
		if (*d->s == ',') {
			d->s++;
			continue;
		}
		if (*d->s == close) {
			d->s++;
			return 0;
		}
		return d->err = "expected ',' or closing bracket", -1;
	}
}

static int parse_value(struct doc *d, const char *path, int depth)
{
	if (depth > 32)
		return d->err = "nested too deeply", -1;
	skip_ws(d);
	if (*d->s == '{' || *d->s == '[')
		return parse_container(d, path, depth, *d->s == '{');
	struct item *it = add(d, path);
	if (!it)
		return -1;
	if (*d->s == '"') {
		char tmp[1024];
		return parse_string(d, tmp, sizeof(tmp));
	}
	if (*d->s == '-' || isdigit((unsigned char)*d->s)) {
		char *end;
		errno = 0;
		it->num = strtoll(d->s, &end, 10);
		if (*end == '.' || *end == 'e' || *end == 'E') /* non-integer: keep integer part */
			strtod(d->s, &end);
		if (errno)
			return d->err = "number out of range", -1;
		it->is_num = 1;
		d->s = end;
		return 0;
	}
	static const char *const words[] = { "true", "false", "null" };
	for (int i = 0; i < 3; i++)
		if (strncmp(d->s, words[i], strlen(words[i])) == 0) {
			d->s += strlen(words[i]);
			return 0;
		}
	return d->err = "unexpected character", -1;
}

static struct doc *load(const char *file)
{
	FILE *f = fopen(file, "r");
	if (!f) {
		fprintf(stderr, "e2e_stats: cannot open %s: %s\n", file, strerror(errno));
		exit(2);
	}
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	struct doc *d = calloc(1, sizeof(*d));
	d->file = file;
	d->s = buf;
	skip_ws(d);
	if (*d->s != '{')
		d->err = "top level is not an object";
	else if (parse_value(d, "", 0) == 0) {
		skip_ws(d);
		if (*d->s)
			d->err = "trailing garbage";
	}
	if (d->err) {
		fprintf(stderr, "e2e_stats: %s: malformed JSON near offset %ld: %s\n", file,
			(long)(d->s - buf), d->err);
		exit(2);
	}
	return d;
}

static const struct item *find(const struct doc *d, const char *path)
{
	for (int i = 0; i < d->n; i++)
		if (strcmp(d->items[i].path, path) == 0)
			return &d->items[i];
	return NULL;
}

/* Number at path; a missing "syscalls.N" counts as 0 when "syscalls" exists. */
static int get_num(const struct doc *d, const char *path, long long *out)
{
	const struct item *it = find(d, path);
	if (it && it->is_num) {
		*out = it->num;
		return 0;
	}
	if (!it && strncmp(path, "syscalls.", 9) == 0 && find(d, "syscalls")) {
		*out = 0;
		return 0;
	}
	fprintf(stderr, "e2e_stats: %s: %s is %s\n", d->file, path, it ? "not a number" : "missing");
	return -1;
}

static int cmd_validate(int argc, char **argv)
{
	static const char *const nums[] = { "pid", "sites.found", "sites.displaced", "sites.island",
					    "sites.trap", "calls.total", "calls.fast", "calls.libos",
					    "calls.trap" };
	int bad = 0;
	for (int f = 0; f < argc; f++) {
		struct doc *d = load(argv[f]);
		long long v[9];
		int miss = 0;
		for (int i = 0; i < 9; i++)
			miss |= get_num(d, nums[i], &v[i]) < 0;
		const struct item *exe = find(d, "exe");
		const struct item *sc = find(d, "syscalls");
		if (!exe || exe->is_num || exe->is_object) {
			fprintf(stderr, "e2e_stats: %s: exe missing or not a string\n", argv[f]);
			miss = 1;
		}
		if (!sc || !sc->is_object) {
			fprintf(stderr, "e2e_stats: %s: syscalls missing or not an object\n", argv[f]);
			miss = 1;
		}
		if (miss) {
			bad++;
			free(d);
			continue;
		}
		long long sum = 0;
		for (int i = 0; i < d->n; i++)
			if (strncmp(d->items[i].path, "syscalls.", 9) == 0 && d->items[i].is_num)
				sum += d->items[i].num;
		if (v[5] != v[6] + v[7] + v[8]) {
			fprintf(stderr, "e2e_stats: %s: calls.total %lld != fast %lld + libos %lld + trap %lld\n",
				argv[f], v[5], v[6], v[7], v[8]);
			bad++;
		} else if (sum != v[5]) {
			fprintf(stderr, "e2e_stats: %s: sum of syscalls %lld != calls.total %lld\n", argv[f],
				sum, v[5]);
			bad++;
		}
		free(d);
	}
	return bad ? 1 : 0;
}

static int cmd_ratio(int argc, char **argv)
{
	double min = strtod(argv[0], NULL);
	long long t = 0, fast = 0, libos = 0, trap = 0;
	for (int f = 1; f < argc; f++) {
		struct doc *d = load(argv[f]);
		long long a, b, c, e;
		if (get_num(d, "calls.total", &a) || get_num(d, "calls.fast", &b) ||
		    get_num(d, "calls.libos", &c) || get_num(d, "calls.trap", &e))
			return 2;
		t += a;
		fast += b;
		libos += c;
		trap += e;
		free(d);
	}
	double patched = t ? (double)(fast + libos) / (double)t : 0.0;
	printf("calls over %d file(s): total=%lld fast=%lld libos=%lld trap=%lld patched=%.4f (min %.4f)\n",
	       argc - 1, t, fast, libos, trap, patched, min);
	if (t == 0) {
		fprintf(stderr, "e2e_stats: no calls recorded at all\n");
		return 1;
	}
	if (patched < min || (double)trap > (1.0 - min) * (double)t) {
		fprintf(stderr, "e2e_stats: only %.2f%% of calls went through patched sites (need %.2f%%)\n",
			100.0 * patched, 100.0 * min);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "validate") == 0)
		return cmd_validate(argc - 2, argv + 2);
	if (argc >= 4 && strcmp(argv[1], "ratio") == 0)
		return cmd_ratio(argc - 2, argv + 2);
	if (argc >= 4 && (strcmp(argv[1], "get") == 0 || strcmp(argv[1], "sum") == 0)) {
		if (strcmp(argv[1], "get") == 0 && argc != 4)
			goto usage;
		long long sum = 0;
		for (int f = 3; f < argc; f++) {
			struct doc *d = load(argv[f]);
			long long v;
			if (get_num(d, argv[2], &v) < 0)
				return 2;
			sum += v;
			free(d);
		}
		printf("%lld\n", sum);
		return 0;
	}
usage:
	fprintf(stderr, "usage: e2e_stats validate FILE... | ratio MIN FILE... | get KEY FILE | "
			"sum KEY FILE...\n");
	return 2;
}
