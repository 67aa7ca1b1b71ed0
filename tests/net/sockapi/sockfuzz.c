// SPDX-License-Identifier: MIT
/* sockfuzz: a seeded sequence of socket calls, hostile arguments among them, that prints
 * one line per call with what it returned.  sockfuzz.sh runs it natively and under
 * `bypass-run --net=dpdk` against the same kernel peer (sockapi-peer) and compares the two
 * transcripts line by line: every line is Linux's answer, so any difference is a place
 * where the LibOS socket layer is not Linux.
 *
 * What a line may say is only what both runs must agree on: the program keeps a model of
 * each socket (what the peer will send back, whether an end of stream is on its way) and
 * masks the readiness bits and counts that depend on when frames arrive.  Ports it binds
 * are printed relative to PORT_BASE, ephemeral ones as "eph", fds as slot numbers.
 *
 * usage: sockfuzz SEED STEPS PEER_IP LOCAL_IP PORT_BASE
 *   PORT_BASE..PORT_BASE+3 are bound and listened on; the two runs use different bases
 *   so the peer's TIME_WAIT from one cannot meet the other.  Exit 0 when the run ends,
 *   1 on a model failure (echoed bytes wrong), 3 when a call hangs (10 s). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/sockios.h>

#define NSLOT		8
#define NOBJ		16
#define NREG		32
#define RING		16384		/* bytes the peer still owes a TCP socket, at most */
#define OWE_MAX		8192		/* sends stop there until a drain */
#define DGRAM_MAX	8		/* datagrams owed, at most */

#define P_ECHO		7000
#define P_UECHO		7002
#define P_BACK		7006
#define P_CLOSED	7999

#define BAD_LOW		((void *)8)			/* unmapped */
#define BAD_KERNEL	((void *)0xffff888000000000ull)	/* never a user address */

enum kind { K_NONE, K_TCP, K_UDP, K_EPOLL, K_PIPE_R, K_PIPE_W };

struct obj {
	enum kind kind;
	int refs;
	bool listening;
	bool connected;		/* the model knows the peer (TCP established, UDP connected) */
	int peer_port;
	int lport;		/* fixed local port (PORT_BASE + k) or 0 */
	bool shut_wr, shut_rd;
	bool fin_sent;		/* shutdown for writing of a connection: its end is coming */
	bool eof_owed;		/* the peer will end the stream; recv must see it */
	bool eof_seen;
	bool unsure;		/* state left to timing: readiness of this socket is masked */
	/* TCP: the bytes the peer owes, a ring [got, sent) */
	uint8_t ring[RING];
	uint64_t sent, got;
	/* UDP: datagrams owed, their lengths and first bytes */
	int dq_n;
	uint16_t dq_len[DGRAM_MAX];
	uint8_t dq_first[DGRAM_MAX];
};

struct reg {			/* an epoll registration, keyed by id in data.u64 */
	struct obj *ep, *target;
	int fd;
	uint32_t events;
	bool used;
};

static struct obj g_obj[NOBJ];
static struct { int fd; struct obj *o; } g_slot[NSLOT];
static struct reg g_reg[NREG];
static uint64_t g_rng;
static uint64_t g_rng_drain;	/* op_drain's: it calls as often as frames came */
static unsigned g_step;
static volatile sig_atomic_t g_sigpipe;
static struct in_addr g_peer, g_local;
static int g_base;
static int g_file = -1;		/* sendfile's source: 64 KiB of known bytes */

static uint64_t rnd(void)
{
	uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* Draws that timing decides the number of (a receive per arrival) come from their own
 * stream, so that the main one, and the calls after, stay the same in both runs. */
static unsigned pick_timed(unsigned n)
{
	uint64_t keep = g_rng;

	g_rng = g_rng_drain;
	unsigned v = pick(n);
	g_rng_drain = g_rng;
	g_rng = keep;
	return v;
}

static bool chance(unsigned percent)
{
	return pick(100) < percent;
}

static void line(const char *fmt, ...)
{
	va_list ap;

	printf("%u ", g_step);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* A return value as the transcript shows it: the number, or the errno's name. */
static const char *res(long r)
{
	static char b[4][48];
	static int i;
	char *s = b[i++ & 3];

	if (r < 0)
		snprintf(s, sizeof(b[0]), "-%s", strerrorname_np(errno) ?: "E?");
	else
		snprintf(s, sizeof(b[0]), "%ld", r);
	return s;
}

static void die(const char *what)
{
	line("MODEL FAIL: %s", what);
	exit(1);
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char m[] = "hung: a call did not return in 10 s\n";
	(void)!write(1, m, sizeof(m) - 1);
	_exit(3);
}

static void on_pipe(int sig)
{
	(void)sig;
	g_sigpipe++;
}

/* ---- slots and objects ---- */

static int slot_free(void)
{
	for (int i = 0; i < NSLOT; i++)
		if (g_slot[i].o == NULL)
			return i;
	return -1;
}

/* A used slot of one of @kinds (a bit mask of 1 << kind), at random; -1 if none. */
static int slot_of(unsigned kinds)
{
	int c[NSLOT], n = 0;

	for (int i = 0; i < NSLOT; i++)
		if (g_slot[i].o && (kinds >> g_slot[i].o->kind & 1))
			c[n++] = i;
	return n ? c[pick((unsigned)n)] : -1;
}

static struct obj *obj_new(enum kind k)
{
	for (int i = 0; i < NOBJ; i++)
		if (!g_obj[i].refs) {
			memset(&g_obj[i], 0, sizeof(g_obj[i]));
			g_obj[i].kind = k;
			return &g_obj[i];
		}
	die("objects");
	return NULL;
}

static void slot_set(int i, int fd, struct obj *o)
{
	g_slot[i].fd = fd;
	g_slot[i].o = o;
	o->refs++;
}

/* The slot's fd is gone (closed, or replaced by dup2): registrations on the file
 * go with its last fd, as in Linux. */
static void slot_drop(int i)
{
	struct obj *o = g_slot[i].o;

	g_slot[i].o = NULL;
	g_slot[i].fd = -1;
	if (--o->refs)
		return;
	for (int r = 0; r < NREG; r++)
		if (g_reg[r].used && (g_reg[r].target == o || g_reg[r].ep == o))
			g_reg[r].used = false;
}

/* ---- addresses ---- */

static const char *port_name(int port)
{
	static char b[4][16];
	static int i;
	char *s = b[i++ & 3];

	if (port >= g_base && port < g_base + 4)
		snprintf(s, sizeof(b[0]), "P%d", port - g_base);
	else if (port >= 7000 && port < 8000)
		snprintf(s, sizeof(b[0]), "%d", port);
	else if (port == 0)
		snprintf(s, sizeof(b[0]), "0");
	else
		snprintf(s, sizeof(b[0]), "eph");
	return s;
}

static const char *addr_name(const struct sockaddr_in *a, socklen_t len)
{
	static char b[2][64];
	static int i;
	char *s = b[i++ & 1];
	const char *ip;

	if (len < sizeof(sa_family_t)) {
		snprintf(s, sizeof(b[0]), "len%u", len);
		return s;
	}
	if (a->sin_addr.s_addr == g_local.s_addr)
		ip = "LOCAL";
	else if (a->sin_addr.s_addr == g_peer.s_addr)
		ip = "PEER";
	else
		ip = inet_ntoa(a->sin_addr);
	snprintf(s, sizeof(b[0]), "len%u fam%d %s:%s", len, a->sin_family, ip,
		 port_name(ntohs(a->sin_port)));
	return s;
}

/* An address argument: mostly good ones, some that Linux refuses. */
static socklen_t pick_addr(struct sockaddr_storage *ss, bool for_bind, char *desc, size_t dn,
			   const void **ptr)
{
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	socklen_t len = sizeof(*a);
	int port;

	memset(ss, 0, sizeof(*ss));
	a->sin_family = AF_INET;
	*ptr = ss;
	if (for_bind) {
		static const uint32_t any = INADDR_ANY;
		unsigned w = pick(10);

		a->sin_addr.s_addr = w < 4 ? g_local.s_addr : w < 8 ? any :
				     w == 8 ? g_peer.s_addr : htonl(0xe0000001);	/* 224.0.0.1 */
		port = chance(40) ? 0 : g_base + (int)pick(4);
	} else {
		static const int ports[] = { P_ECHO, P_ECHO, P_ECHO, P_UECHO, P_UECHO, P_BACK,
					     P_CLOSED };
		a->sin_addr = g_peer;
		port = ports[pick(sizeof(ports) / sizeof(ports[0]))];
	}
	a->sin_port = htons((uint16_t)port);
	switch (pick(20)) {
	case 0: a->sin_family = AF_UNSPEC; break;
	case 1: a->sin_family = AF_INET6; break;
	case 2: len = 8; break;
	case 3: len = (socklen_t)pick(3); break;
	case 4: len = 128; break;
	case 5: len = 129; break;
	case 6: *ptr = chance(50) ? BAD_LOW : BAD_KERNEL; break;
	case 7: *ptr = NULL; break;
	}
	snprintf(desc, dn, "%s%s", *ptr == ss ? "" : *ptr ? "bad " : "NULL ",
		 addr_name(a, len));
	return len;
}

/* ---- what the peer owes ---- */

static void owe_bytes(struct obj *o, const uint8_t *b, size_t n)
{
	if (o->sent - o->got + n > RING)
		die("ring");
	for (size_t i = 0; i < n; i++)
		o->ring[(o->sent + i) % RING] = b[i];
	o->sent += n;
}

static void fill(uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rnd();
		memcpy(b + i, &v, n - i < 8 ? n - i : 8);
	}
}

/* Bytes that came to slot @i: must be the next ones owed. */
static void took_bytes(int i, const uint8_t *b, size_t n)
{
	struct obj *o = g_slot[i].o;

	if (n > o->sent - o->got)
		die("more bytes than the peer owes");
	for (size_t k = 0; k < n; k++) {
		if (o->ring[(o->got + k) % RING] != b[k]) {
			line("s%d: byte %llu of %zu taken (%llu sent): %#x, %#x expected", i,
			     (unsigned long long)(o->got + k), n, (unsigned long long)o->sent,
			     b[k], o->ring[(o->got + k) % RING]);
			die("echoed bytes differ");
		}
	}
	o->got += n;
}

static bool owes(const struct obj *o)
{
	if (o->kind == K_TCP)
		return o->sent != o->got || (o->eof_owed && !o->eof_seen);
	if (o->kind == K_UDP)
		return o->dq_n > 0;
	return false;
}

/* The readiness bits that timing decides for @o (they are masked out of what is
 * printed). */
static short timing_bits(const struct obj *o)
{
	if (o->unsure)
		return ~0;
	if (owes(o))
		return POLLIN | POLLRDNORM | POLLRDHUP | POLLHUP;
	return 0;
}

/* ---- receiving what is owed ---- */

/* One receive of at most @cap bytes by a call chosen at random; the bytes land in @b. */
static ssize_t recv_some(int fd, uint8_t *b, size_t cap, int flags, socklen_t *alen)
{
	struct sockaddr_in from;
	struct iovec iov[2];
	struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from) };
	size_t h = cap / 2;
	ssize_t n = -1;

	*alen = 99;
	switch (pick_timed(flags ? 3 : 5)) {
	case 0:
		n = recv(fd, b, cap, flags);
		break;
	case 1:
		*alen = sizeof(from);
		n = recvfrom(fd, b, cap, flags, (struct sockaddr *)&from, alen);
		break;
	case 2:
		iov[0] = (struct iovec){ b, h };
		iov[1] = (struct iovec){ b + h, cap - h };
		mh.msg_iov = iov;
		mh.msg_iovlen = 2;
		n = recvmsg(fd, &mh, flags);
		*alen = mh.msg_namelen;
		break;
	case 3:
		n = read(fd, b, cap);
		break;
	case 4:
		iov[0] = (struct iovec){ b, h };
		iov[1] = (struct iovec){ b + h, cap - h };
		n = readv(fd, iov, 2);
		break;
	}
	return n;
}

/* Take everything the peer owes slot @i: bytes and end of stream (TCP) or datagrams
 * (UDP), by assorted receive calls, each after poll says POLLIN.  One line: how much,
 * and the address lengths a TCP recvfrom reported (Linux: 0, TCP fills no address). */
static void op_drain(int i)
{
	struct obj *o = g_slot[i].o;
	int fd = g_slot[i].fd;
	uint8_t b[4096];
	uint64_t bytes = 0;
	int dgrams = 0;
	bool told = false;	/* a wrong address length was told */
	const char *err = NULL;
	long errv = 0;

	if (o->unsure || !owes(o))
		return;
	if (o->kind == K_TCP && chance(20)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		/* a bad buffer: -EFAULT, and the bytes stay queued; at the end of the
		 * stream nothing is copied: 0 */
		if (poll(&p, 1, 3000) == 1) {
			ssize_t n = recv(fd, chance(50) ? BAD_LOW : BAD_KERNEL, 100, MSG_DONTWAIT);
			line("recv s%d bad buffer, %s owed = %s", i,
			     o->sent != o->got ? "bytes" : "eof", res(n));
			if (n == 0 && o->sent == o->got)
				o->eof_seen = true;
			else if (n >= 0)
				o->unsure = true;
		}
	}
	while (owes(o) && !err) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, 3000);
		if (r != 1) {
			err = r ? "poll" : "poll timed out";
			errv = r;
			break;
		}
		socklen_t alen;
		ssize_t n;
		if (o->kind == K_TCP) {
			size_t cap = 1 + pick_timed(sizeof(b));
			bool peek = pick_timed(100) < 15;
			n = recv_some(fd, b, cap, MSG_DONTWAIT | (peek ? MSG_PEEK : 0), &alen);
			if (n < 0) {
				err = "recv";
				errv = n;
			} else if (n == 0) {
				if (o->sent != o->got || !o->eof_owed)
					err = "early end of stream";
				o->eof_seen = true;
			} else if (peek) {
				if ((uint64_t)n > o->sent - o->got)
					die("peeked more bytes than owed");
				for (ssize_t k = 0; k < n; k++)
					if (o->ring[(o->got + (uint64_t)k) % RING] != b[k])
						die("peeked bytes differ");
			} else {
				took_bytes(i, b, (size_t)n);
				bytes += (uint64_t)n;
			}
			/* how many calls there were is timing's: only a wrong length shows */
			if (alen != 99 && alen != 0 && !told) {
				line("recvfrom s%d: TCP gave an address of %u bytes", i, alen);
				told = true;
			}
		} else {
			uint16_t want = o->dq_len[0];
			bool small = want > 1 && pick_timed(100) < 20;
			size_t cap = small ? want / 2 : sizeof(b);
			bool trunc = pick_timed(100) < 30;
			bool peek = pick_timed(100) < 15;	/* it stays queued */
			n = recv_some(fd, b, cap, MSG_DONTWAIT | (trunc ? MSG_TRUNC : 0) |
				      (peek ? MSG_PEEK : 0), &alen);
			if (n < 0) {
				err = "recv";
				errv = n;
				break;
			}
			size_t expect = trunc ? want : small ? cap : want;
			if ((size_t)n != expect || (want && b[0] != o->dq_first[0])) {
				line("datagram of %zd bytes, %zu expected (%u sent, %d owed)", n,
				     expect, want, o->dq_n);
				die("datagram differs");
			}
			if (peek)
				continue;
			memmove(o->dq_len, o->dq_len + 1, sizeof(o->dq_len) - sizeof(o->dq_len[0]));
			memmove(o->dq_first, o->dq_first + 1, sizeof(o->dq_first) - 1);
			o->dq_n--;
			dgrams++;
			if (alen != 99 && alen != sizeof(struct sockaddr_in) && !told) {
				line("recvfrom s%d: UDP gave an address of %u bytes", i, alen);
				told = true;
			}
		}
	}
	if (err) {
		o->unsure = true;
		line("drain s%d: %s %s after %llu bytes %d datagrams", i, err, res(errv),
		     (unsigned long long)bytes, dgrams);
		return;
	}
	line("drain s%d: %llu bytes %d datagrams%s", i, (unsigned long long)bytes, dgrams,
	     o->eof_seen ? " eof" : "");
}

/* A connection whose end the model expects: whether it is over yet (-ENOTCONN from
 * getpeername and shutdown, a bind again) is timing's until it is.  Drain what can be
 * drained; one that has sent its FIN too is over once the peer's came and ours was
 * acknowledged: wait for TIME_WAIT or CLOSE (TCP_INFO), at most 3 s. */
static void settle_end(int i)
{
	struct obj *o = g_slot[i].o;

	if (o->kind != K_TCP || !o->eof_owed)
		return;
	if (!o->eof_seen)
		op_drain(i);
	if (!o->fin_sent)
		return;
	for (int k = 0; k < 3000; k++) {
		struct tcp_info ti;
		socklen_t len = sizeof(ti);
		if (getsockopt(g_slot[i].fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
		    ti.tcpi_state == TCP_TIME_WAIT || ti.tcpi_state == TCP_CLOSE)
			return;
		usleep(1000);
	}
}

/* ---- the operations ---- */

static void op_socket(void)
{
	static const int types[] = { SOCK_STREAM, SOCK_STREAM, SOCK_STREAM, SOCK_DGRAM,
				     SOCK_DGRAM, SOCK_SEQPACKET, 99 };
	static const int protos[] = { 0, 0, 0, 0, IPPROTO_TCP, IPPROTO_UDP, 255 };
	int i = slot_free();
	int dom = chance(95) ? AF_INET : chance(50) ? 12345 : -1;
	int type = types[pick(7)] | (chance(30) ? SOCK_NONBLOCK : 0) |
		   (chance(30) ? SOCK_CLOEXEC : 0) | (chance(2) ? 0x400 : 0);
	int proto = protos[pick(7)];

	if (i < 0)
		return;
	int fd = socket(dom, type, proto);
	line("socket(%d, %#x, %d) = %s", dom, type, proto, fd < 0 ? res(fd) : "fd");
	if (fd < 0)
		return;
	int base = type & 0xf;
	slot_set(i, fd, obj_new(base == SOCK_STREAM ? K_TCP : base == SOCK_DGRAM ? K_UDP :
				  K_NONE));
	line("  -> s%d", i);
}

static void op_bind(int i)
{
	struct obj *o = g_slot[i].o;

	struct sockaddr_storage ss;
	const void *p;
	char d[96];
	socklen_t len = pick_addr(&ss, true, d, sizeof(d), &p);
	settle_end(i);		/* a connection over may be bound again */
	long r = bind(g_slot[i].fd, p, len);

	line("bind s%d %s = %s", i, d, res(r));
	int port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (r == 0 && port)
		o->lport = port;
}

static void op_listen(int i)
{
	static const int backlogs[] = { 0, 1, 5, 128, -1, 1 << 20 };
	struct obj *o = g_slot[i].o;
	int bl = backlogs[pick(6)];
	long r = listen(g_slot[i].fd, bl);

	line("listen s%d %d = %s", i, bl, res(r));
	if (r == 0 && o->kind == K_TCP)
		o->listening = true;
}

/* A listening socket with a known port, for the peer to connect back to. */
static struct obj *listener(int *port)
{
	for (int k = 0; k < NSLOT; k++) {
		struct obj *o = g_slot[k].o;
		if (o && o->kind == K_TCP && o->listening && !o->unsure && o->lport) {
			*port = o->lport;
			return o;
		}
	}
	return NULL;
}

static int g_backs;		/* connections the peer makes back, not yet accepted */

static void op_connect(int i)
{
	struct obj *o = g_slot[i].o;
	int fd = g_slot[i].fd;
	struct sockaddr_storage ss;
	const void *p;
	char d[96];
	socklen_t len = pick_addr(&ss, false, d, sizeof(d), &p);
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;
	int port = ntohs(a->sin_port);
	bool good = p == &ss && len >= sizeof(*a) && a->sin_family == AF_INET;

	if (o->kind == K_UDP && owes(o))
		op_drain(i);		/* what is queued already stays: keep it simple */
	if (o->kind == K_TCP && port == P_UECHO)
		port = P_ECHO, a->sin_port = htons(P_ECHO);
	if (o->kind == K_UDP && port != P_UECHO && port != P_CLOSED)
		port = P_UECHO, a->sin_port = htons(P_UECHO);
	if (o->kind == K_TCP && o->connected) {
		/* EISCONN either way; keep the model's peer */
		good = false;
	}
	long r = connect(fd, p, len);
	line("connect s%d %s = %s", i, d, res(r));
	if (r < 0 && errno == EINPROGRESS) {
		struct pollfd pf = { .fd = fd, .events = POLLOUT };
		int e = 0;
		socklen_t el = sizeof(e);
		int n = 0;
		/* a socket shut both ways is a hang-up at once: wait for the outcome */
		for (int k = 0; k < 3000; k++) {
			n = poll(&pf, 1, 3000);
			if (n != 1 || (pf.revents & (POLLOUT | POLLERR)))
				break;
			usleep(1000);
		}
		long g = getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
		line("  poll %d revents %#x SO_ERROR %s %s", n, pf.revents, res(g),
		     e ? strerrorname_np(e) : "0");
		r = n == 1 && e == 0 ? 0 : -1;
	}
	if (o->kind == K_TCP && r == 0 && a->sin_family == AF_UNSPEC && p == &ss) {
		/* tcp_disconnect(): a connection is reset, a listener stops; nothing is owed
		 * any more, and what the reset left (SO_ERROR) is timing's */
		if (o->connected || o->listening)
			o->unsure = true;
		o->connected = o->listening = false;
		o->peer_port = 0;
		o->got = o->sent;
		o->eof_owed = o->eof_seen = o->shut_wr = o->shut_rd = o->fin_sent = false;
		return;
	}
	if (o->kind == K_UDP && r == 0) {
		o->connected = a->sin_family != AF_UNSPEC;
		o->peer_port = o->connected ? port : 0;
		return;
	}
	if (!good || r != 0 || o->kind != K_TCP)
		return;
	o->connected = true;
	o->peer_port = port;
	if (port == P_BACK) {
		/* the peer reads a port, connects back to it, says "hello" and closes both */
		int lp = 1;
		struct obj *l = listener(&lp);
		char msg[16];
		int m = snprintf(msg, sizeof(msg), "%d\n", lp);
		ssize_t w = write(fd, msg, (size_t)m);
		line("  connect back to %s: write %s", l ? port_name(lp) : "nothing", res(w));
		o->eof_owed = true;
		if (w == m && l)
			g_backs++;
		else if (w != m)
			o->unsure = true;
	}
}

static void op_accept(int i)
{
	struct obj *o = g_slot[i].o;
	int fd = g_slot[i].fd;
	int j = slot_free();
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	static const int flagset[] = { 0, SOCK_NONBLOCK, SOCK_CLOEXEC, 1 };
	int flags = flagset[pick(4)];
	void *ap = &a;
	socklen_t *lp = &alen;

	if (j < 0)
		return;
	if (!o->listening || !g_backs) {
		/* nothing will come: only a non-blocking socket may ask */
		int fl = fcntl(fd, F_GETFL);
		line("accept s%d: F_GETFL %s nonblock %d", i, res(fl), fl >= 0 && (fl & O_NONBLOCK));
		if (fl < 0 || !(fl & O_NONBLOCK))
			return;
	} else {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n = poll(&p, 1, 3000);
		line("accept s%d: poll %d revents %#x", i, n, p.revents);
		if (n != 1)
			return;
	}
	switch (pick(8)) {
	case 0: ap = NULL; lp = NULL; break;
	case 1: alen = 4; break;
	case 2: lp = BAD_LOW; break;
	case 3: ap = BAD_KERNEL; break;
	}
	int c = accept4(fd, ap, lp, flags);
	line("accept4 s%d %s%s flags %#x = %s  addr %s", i, ap == &a ? "" : "badaddr ",
	     lp == &alen ? "" : "badlen ", flags, c < 0 ? res(c) : "fd",
	     c >= 0 && ap == &a && lp == &alen ? addr_name(&a, alen) : "-");
	if (c < 0) {
		/* a bad address loses the connection, as in Linux */
		if (errno == EFAULT && o->listening && g_backs)
			g_backs--;
		return;
	}
	if (!o->listening || !g_backs)
		die("a connection nobody made");
	g_backs--;
	struct obj *n = obj_new(K_TCP);
	n->connected = true;
	n->peer_port = -1;
	owe_bytes(n, (const uint8_t *)"hello", 5);
	n->eof_owed = true;
	slot_set(j, c, n);
	line("  -> s%d", j);
}

/* May slot @i's object send now and know what comes back? */
static bool may_send(const struct obj *o)
{
	if (o->unsure || o->shut_rd)
		return false;
	if (o->kind == K_TCP)
		return o->connected && o->peer_port == P_ECHO && !o->eof_owed &&
		       o->sent - o->got < OWE_MAX;
	return o->dq_n < DGRAM_MAX && (!o->connected || o->peer_port == P_UECHO);
}

static void op_send(int i)
{
	struct obj *o = g_slot[i].o;
	int fd = g_slot[i].fd;
	uint8_t b[2049];
	size_t len = chance(10) ? 0 : chance(20) ? 1 : 1 + pick(o->kind == K_UDP ? 1400 : 2048);
	static const int flagset[] = { 0, 0, MSG_DONTWAIT, MSG_NOSIGNAL, MSG_MORE, MSG_CONFIRM,
				       MSG_EOR, MSG_OOB, 0x40000000 };
	int flags = flagset[pick(9)];
	const void *buf = b;
	bool bad = len && chance(5);
	bool live = may_send(o);	/* the bytes go to a peer that answers */
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = g_peer,
				  .sin_port = htons(P_UECHO) };
	int dest = o->connected ? o->peer_port : 0;
	struct iovec iov[3];
	struct msghdr mh = { 0 };
	const char *how;
	ssize_t r = -1;

	if (o->kind == K_TCP && o->connected && !live && !o->shut_wr)
		return;			/* whatever it did would race the peer */
	if (o->kind == K_UDP && !live)
		return;
	if (o->kind == K_TCP && flags == MSG_OOB && o->connected)
		flags = 0;		/* urgent data is not echoed as sent */
	if (o->kind == K_UDP && flags == MSG_MORE)
		flags = 0;		/* UDP corking is not served: see the README */
	fill(b, len + 1);
	if (bad)
		buf = chance(50) ? BAD_LOW : BAD_KERNEL;
	if (o->kind == K_UDP && !o->connected && chance(30))
		to.sin_port = htons(chance(50) ? P_CLOSED - 1 : P_UECHO);
	int sig0 = g_sigpipe;
	switch (pick(5)) {
	case 0:
		how = "send";
		r = send(fd, buf, len, flags);
		break;
	case 1:
		how = "sendto";
		r = sendto(fd, buf, len, flags, (struct sockaddr *)&to, sizeof(to));
		dest = ntohs(to.sin_port);
		break;
	case 2:
		how = "sendmsg";
		iov[0] = (struct iovec){ (void *)buf, len / 3 };
		iov[1] = (struct iovec){ NULL, 0 };
		iov[2] = (struct iovec){ (uint8_t *)buf + len / 3, len - len / 3 };
		mh.msg_iov = iov;
		mh.msg_iovlen = 3;
		if (o->kind == K_UDP && !o->connected) {
			mh.msg_name = &to;
			mh.msg_namelen = sizeof(to);
			dest = ntohs(to.sin_port);
		}
		r = sendmsg(fd, &mh, flags);
		break;
	case 3:
		how = "write";
		flags = 0;
		r = write(fd, buf, len);
		break;
	default:
		how = "writev";
		flags = 0;
		iov[0] = (struct iovec){ (void *)buf, len / 2 };
		iov[1] = (struct iovec){ (uint8_t *)buf + len / 2, len - len / 2 };
		r = writev(fd, iov, 2);
		break;
	}
	line("%s s%d %zu%s flags %#x = %s sigpipe %d", how, i, len, bad ? " bad" : "", flags,
	     res(r), g_sigpipe - sig0);
	/* nothing to write: TCP sends nothing; nor does writev, which stops at an empty
	 * vector (vfs_writev()); send, sendto, sendmsg and write make an empty datagram */
	if (r < 0 || (r == 0 && (o->kind == K_TCP || !strcmp(how, "writev"))))
		return;
	if (!live || bad) {
		o->unsure = true;	/* bytes went where the model did not expect */
		return;
	}
	if ((size_t)r != len) {
		o->unsure = true;
		return;
	}
	if (flags & MSG_MORE) {
		/* corked until a send without it: that one ends the segment or datagram */
		ssize_t r2 = send(fd, b + len, 1, 0);
		line("  send s%d 1 = %s", i, res(r2));
		if (r2 != 1) {
			o->unsure = true;
			return;
		}
		len++;
	}
	if (o->kind == K_TCP) {
		owe_bytes(o, b, len);
		return;
	}
	if (dest == P_UECHO) {	/* one to the closed port does not come back */
		o->dq_len[o->dq_n] = (uint16_t)len;
		o->dq_first[o->dq_n] = len ? b[0] : 0;
		o->dq_n++;
	}
}

/* A receive where Linux's answer does not depend on timing. */
static void op_recv_now(int i)
{
	struct obj *o = g_slot[i].o;
	uint8_t b[256];
	static const int flagset[] = { MSG_DONTWAIT, MSG_DONTWAIT, MSG_DONTWAIT | MSG_PEEK,
				       MSG_DONTWAIT | MSG_OOB, MSG_DONTWAIT | MSG_ERRQUEUE,
				       MSG_DONTWAIT | MSG_WAITALL, MSG_DONTWAIT | MSG_TRUNC };
	int flags = flagset[pick(7)];
	void *buf = chance(10) ? BAD_LOW : b;

	if (o->unsure || owes(o))
		return;
	ssize_t r = recv(g_slot[i].fd, buf, sizeof(b), flags);
	line("recv s%d flags %#x%s = %s", i, flags, buf == b ? "" : " bad", res(r));
	if (r > 0)
		o->unsure = true;
}

static void op_shutdown(int i)
{
	struct obj *o = g_slot[i].o;

	settle_end(i);
	int how = chance(95) ? (int)pick(3) : chance(50) ? 3 : -1;
	long r = shutdown(g_slot[i].fd, how);

	line("shutdown s%d %d = %s", i, how, res(r));
	/* with no connection Linux says -ENOTCONN and shuts all the same */
	if (r != 0 && !(errno == ENOTCONN && !o->listening))
		return;
	if (o->listening) {
		o->listening = false;	/* SHUT_RD stops a listener; let timing have it */
		o->unsure = true;
		return;
	}
	if (how != SHUT_RD) {
		o->shut_wr = true;
		o->fin_sent |= r == 0 && o->kind == K_TCP && o->connected;
		if (r == 0 && o->kind == K_TCP && o->peer_port == P_ECHO)
			o->eof_owed = true;	/* the echo ends when we do */
	}
	if (how != SHUT_WR) {
		o->shut_rd = true;
		if (owes(o))
			o->unsure = true;
	}
}

static void op_close(int i)
{
	if (chance(3)) {
		line("close 1000 = %s", res(close(1000)));
		return;
	}
	long r = close(g_slot[i].fd);
	line("close s%d = %s", i, res(r));
	slot_drop(i);
}

static void op_dup(int i)
{
	int fd = g_slot[i].fd;
	int j = slot_free();
	int k = slot_of(~0u);
	long r;

	switch (pick(5)) {
	case 0:
		if (j < 0)
			return;
		r = dup(fd);
		line("dup s%d = %s", i, r < 0 ? res(r) : "fd");
		break;
	case 1:
		if (j < 0)
			return;
		r = fcntl(fd, F_DUPFD_CLOEXEC, 100);
		line("F_DUPFD_CLOEXEC s%d 100 = %s", i, r < 0 ? res(r) : r >= 100 ? "fd>=100" : "fd<100");
		break;
	case 2:
		r = dup3(fd, fd, chance(50) ? O_CLOEXEC : 0);
		line("dup3 s%d s%d = %s", i, i, res(r));
		return;
	default: {
		/* onto another slot's fd: that file loses this fd */
		if (k < 0 || k == i)
			return;
		int flags = pick(4) == 0 ? 1 : chance(50) ? O_CLOEXEC : 0;
		int target = g_slot[k].fd;
		r = pick(2) ? dup2(fd, target) : dup3(fd, target, flags);
		line("dup2/3 s%d s%d %#x = %s", i, k, flags, r == target ? "target" : res(r));
		if (r != target)
			return;
		struct obj *o = g_slot[i].o;
		slot_drop(k);
		slot_set(k, target, o);
		return;
	}
	}
	if (r >= 0) {
		slot_set(j, (int)r, g_slot[i].o);
		line("  -> s%d", j);
	}
}

/* ---- options ---- */

enum okind { O_INT, O_BOOL, O_LINGER, O_TIMEVAL, O_STR, O_RO, O_BUF, O_INFO };

static const struct opt {
	int level, name;
	const char *nm;
	enum okind k;
} g_opts[] = {
	{ SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR", O_BOOL },
	{ SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT", O_BOOL },
	{ SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", O_BOOL },
	{ SOL_SOCKET, SO_BROADCAST, "SO_BROADCAST", O_BOOL },
	{ SOL_SOCKET, SO_OOBINLINE, "SO_OOBINLINE", O_BOOL },
	{ SOL_SOCKET, SO_LINGER, "SO_LINGER", O_LINGER },
	{ SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF", O_BUF },
	{ SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF", O_BUF },
	{ SOL_SOCKET, SO_RCVLOWAT, "SO_RCVLOWAT", O_INT },
	{ SOL_SOCKET, SO_RCVTIMEO, "SO_RCVTIMEO", O_TIMEVAL },
	{ SOL_SOCKET, SO_SNDTIMEO, "SO_SNDTIMEO", O_TIMEVAL },
	{ SOL_SOCKET, SO_PRIORITY, "SO_PRIORITY", O_INT },
	{ SOL_SOCKET, SO_TYPE, "SO_TYPE", O_RO },
	{ SOL_SOCKET, SO_PROTOCOL, "SO_PROTOCOL", O_RO },
	{ SOL_SOCKET, SO_DOMAIN, "SO_DOMAIN", O_RO },
	{ SOL_SOCKET, SO_ACCEPTCONN, "SO_ACCEPTCONN", O_RO },
	{ SOL_SOCKET, SO_ERROR, "SO_ERROR", O_RO },
	{ SOL_SOCKET, SO_TIMESTAMP, "SO_TIMESTAMP", O_BOOL },
	{ IPPROTO_IP, IP_TTL, "IP_TTL", O_INT },
	{ IPPROTO_IP, IP_TOS, "IP_TOS", O_INT },
	{ IPPROTO_IP, IP_PKTINFO, "IP_PKTINFO", O_BOOL },
	{ IPPROTO_IP, IP_RECVTOS, "IP_RECVTOS", O_BOOL },
	{ IPPROTO_IP, IP_RECVTTL, "IP_RECVTTL", O_BOOL },
	{ IPPROTO_IP, IP_MTU_DISCOVER, "IP_MTU_DISCOVER", O_INT },
	{ IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", O_BOOL },
	{ IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", O_INT },
	{ IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", O_INT },
	{ IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", O_INT },
	{ IPPROTO_TCP, TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT", O_INT },
	{ IPPROTO_TCP, TCP_QUICKACK, "TCP_QUICKACK", O_BOOL },
	{ IPPROTO_TCP, TCP_MAXSEG, "TCP_MAXSEG", O_INT },
	{ IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT", O_INT },
	{ IPPROTO_TCP, TCP_NOTSENT_LOWAT, "TCP_NOTSENT_LOWAT", O_INT },
	{ IPPROTO_TCP, TCP_CONGESTION, "TCP_CONGESTION", O_STR },
	{ IPPROTO_TCP, TCP_INFO, "TCP_INFO", O_INFO },
	{ IPPROTO_TCP, TCP_CORK, "TCP_CORK", O_BOOL },
	{ SOL_SOCKET, 9999, "SOL_SOCKET/9999", O_INT },
	{ IPPROTO_TCP, 9999, "IPPROTO_TCP/9999", O_INT },
	{ 9999, 1, "9999/1", O_INT },
};
#define NOPT (sizeof(g_opts) / sizeof(g_opts[0]))

static const int g_vals[] = { 0, 1, 1, 2, 64, 255, 256, 1000, 65536, -1, 0x7fffffff };

static void op_setsockopt(int i)
{
	struct obj *o = g_slot[i].o;
	const struct opt *op = &g_opts[pick(NOPT)];
	union { int i; struct linger l; struct timeval tv; char s[16]; } v;
	socklen_t len;
	const void *p = &v;

	memset(&v, 0, sizeof(v));
	switch (op->k) {
	case O_LINGER:
		v.l.l_onoff = (int)pick(2);
		v.l.l_linger = g_vals[pick(6)];
		len = sizeof(v.l);
		break;
	case O_TIMEVAL:
		v.tv.tv_sec = (long)pick(3);
		v.tv.tv_usec = chance(90) ? (long)pick(1000000) : 1000000;
		len = sizeof(v.tv);
		break;
	case O_STR:
		strcpy(v.s, chance(70) ? "cubic" : chance(50) ? "reno" : "nonesuch");
		len = (socklen_t)strlen(v.s);
		break;
	default:
		v.i = g_vals[pick(sizeof(g_vals) / sizeof(g_vals[0]))];
		len = sizeof(int);
		break;
	}
	switch (pick(12)) {
	case 0: len = 0; break;
	case 1: len = 2; break;
	case 2: len = 3; break;
	case 3: len = 8; break;
	case 4: p = chance(50) ? BAD_LOW : NULL; break;
	}
	/* a cork, a linger or a user timeout on a live socket changes when bytes come
	 * back or how the end goes: the socket leaves the model */
	if (o->kind == K_TCP && o->connected &&
	    (op->name == TCP_CORK || op->name == SO_LINGER || op->name == TCP_USER_TIMEOUT ||
	     op->name == SO_RCVLOWAT || op->name == TCP_NOTSENT_LOWAT) && v.i)
		return;
	long r = setsockopt(g_slot[i].fd, op->level, op->name, p, len);
	line("setsockopt s%d %s val %d len %u%s = %s", i, op->nm, v.i, len,
	     p == &v ? "" : " bad", res(r));
	/* Linux drops a datagram that does not fit in SO_RCVBUF (its truesize counted);
	 * dpdk-net counts datagrams: which echoes are lost is not the model's */
	if (r == 0 && o->kind == K_UDP && op->level == SOL_SOCKET && op->name == SO_RCVBUF)
		o->unsure = true;
}

static void op_getsockopt(int i)
{
	struct obj *o = g_slot[i].o;
	const struct opt *op = &g_opts[pick(NOPT)];
	static const int lens[] = { 4, 4, 4, 0, 1, 2, 8, 16, 32, 256, -1 };
	uint8_t v[256];
	int want = lens[pick(sizeof(lens) / sizeof(lens[0]))];
	socklen_t len = (socklen_t)want;
	void *p = v;
	socklen_t *lp = &len;
	char val[128] = "";

	memset(v, 0xa5, sizeof(v));
	switch (pick(15)) {
	case 0: p = BAD_LOW; break;
	case 1: lp = BAD_LOW; break;
	case 2: lp = NULL; break;
	}
	long r = getsockopt(g_slot[i].fd, op->level, op->name, p, lp);
	if (r == 0 && p == v) {
		int iv = 0;
		memcpy(&iv, v, len < 4 ? len : 4);
		switch (op->k) {
		case O_INFO:
			/* the size is the kernel's; the state only once nothing is in flight */
			if (len && !o->unsure && !owes(o))
				snprintf(val, sizeof(val), " state %u", v[0]);
			else
				snprintf(val, sizeof(val), " state ?");
			break;
		case O_BUF:
			snprintf(val, sizeof(val), " %s", iv > 0 ? "positive" : "not positive");
			break;
		case O_STR:
			/* the default is the host's; ours names what runs (reno) */
			snprintf(val, sizeof(val), " ?");
			break;
		case O_LINGER:
			snprintf(val, sizeof(val), " %d,%d", iv, len >= 8 ? *(int *)(v + 4) : -9);
			break;
		case O_TIMEVAL:
			snprintf(val, sizeof(val), " %lld,%lld", len >= 8 ? *(long long *)v : -9LL,
				 len >= 16 ? *(long long *)(v + 8) : -9LL);
			break;
		default:
			/* Linux's delayed-ACK "pingpong" mode, which traffic turns on, reads
			 * as TCP_QUICKACK 0 */
			if ((op->level == IPPROTO_TCP && op->name == TCP_MAXSEG) ||
			    (op->level == IPPROTO_TCP && op->name == TCP_QUICKACK && o->connected) ||
			    (op->level == SOL_SOCKET && op->name == SO_ERROR && o->unsure))
				snprintf(val, sizeof(val), " ?");
			else
				snprintf(val, sizeof(val), " %d", iv);
			break;
		}
	}
	line("getsockopt s%d %s len %d%s%s = %s len %s%s", i, op->nm, want,
	     p == v ? "" : " badval", lp == &len ? "" : " badlen", res(r),
	     lp != &len ? "-" : op->k == O_INFO && len > 8 ? "big" : res(len), val);
}

/* ---- fcntl, ioctl, names ---- */

static void op_fcntl(int i)
{
	int fd = g_slot[i].fd;
	long r;

	switch (pick(6)) {
	case 0:
	case 1:
		r = fcntl(fd, F_GETFL);
		line("F_GETFL s%d = %s %#lx", i, res(r), r < 0 ? 0 : r);
		break;
	case 2: {
		static const int fl[] = { 0, O_NONBLOCK, O_NONBLOCK | O_APPEND, O_RDONLY | O_NONBLOCK };
		int f = fl[pick(4)];
		r = fcntl(fd, F_SETFL, f);
		line("F_SETFL s%d %#x = %s", i, f, res(r));
		break;
	}
	case 3:
		r = fcntl(fd, F_GETFD);
		line("F_GETFD s%d = %s", i, res(r));
		break;
	case 4: {
		int f = (int)pick(2);
		r = fcntl(fd, F_SETFD, f);
		line("F_SETFD s%d %d = %s", i, f, res(r));
		break;
	}
	default:
		r = fcntl(fd, 9999, 0);
		line("fcntl s%d 9999 = %s", i, res(r));
		break;
	}
}

static void op_ioctl(int i)
{
	struct obj *o = g_slot[i].o;
	int fd = g_slot[i].fd;
	int v[16] = { 0 };	/* room for a struct ifreq, named "" */
	void *p = chance(8) ? BAD_LOW : v;
	static const struct { unsigned long req; const char *nm; bool in, timed; } reqs[] = {
		{ FIONBIO, "FIONBIO", true, false },
		{ FIONREAD, "FIONREAD", false, true },
		{ SIOCOUTQ, "SIOCOUTQ", false, true },
		{ SIOCATMARK, "SIOCATMARK", false, false },
		{ FIOCLEX, "FIOCLEX", false, false },
		{ FIONCLEX, "FIONCLEX", false, false },
		{ FIOASYNC, "FIOASYNC", true, false },
		{ TIOCGWINSZ, "TIOCGWINSZ", false, false },
		{ 0x89ff, "0x89ff", false, false },
	};
	unsigned k = pick(sizeof(reqs) / sizeof(reqs[0]));

	if (reqs[k].in)
		v[0] = reqs[k].req == FIOASYNC ? 0 : (int)pick(2);
	long r = ioctl(fd, reqs[k].req, p);
	bool show = r == 0 && p == v && !reqs[k].in && reqs[k].req != FIOCLEX &&
		    reqs[k].req != FIONCLEX;
	/* UDP's SIOCOUTQ counts datagrams the device has not freed yet; TCP's, on a socket
	 * with no connection, what tcp_disconnect() left: write_seq moved on by the peer's
	 * largest window + 2 */
	if (show && reqs[k].timed && (o->unsure || owes(o) || o->kind == K_PIPE_R ||
				     (reqs[k].req == SIOCOUTQ &&
				      (o->kind == K_UDP || !o->connected))))
		show = false;
	line("ioctl s%d %s%s%s = %s%s%d", i, reqs[k].nm, reqs[k].in ? (v[0] ? " 1" : " 0") : "",
	     p == v ? "" : " bad", res(r), show ? " value " : "", show ? v[0] : 0);
}

static void op_getname(int i)
{
	struct sockaddr_in a;
	static const int lens[] = { 16, 16, 16, 8, 0, 32, -1 };
	socklen_t len = (socklen_t)lens[pick(7)];
	socklen_t want = len;
	bool peer = chance(50);
	void *p = chance(8) ? BAD_LOW : &a;
	socklen_t *lp = chance(5) ? BAD_LOW : &len;

	if (peer)
		settle_end(i);
	memset(&a, 0, sizeof(a));
	long r = peer ? getpeername(g_slot[i].fd, p, lp) : getsockname(g_slot[i].fd, p, lp);
	line("%s s%d len %d%s%s = %s %s", peer ? "getpeername" : "getsockname", i, (int)want,
	     p == &a ? "" : " badaddr", lp == &len ? "" : " badlen", res(r),
	     r == 0 && p == &a ? addr_name(&a, len) : "");
}

/* ---- readiness: poll, select, epoll ---- */

static short masked(const struct obj *o, short rev)
{
	if (o->kind == K_EPOLL)
		return 0;		/* an epoll's readiness is its members' */
	return (short)(rev & ~timing_bits(o));
}

static void op_poll(void)
{
	struct pollfd p[4];
	int idx[4], n = 1 + (int)pick(3);
	static const short evs[] = { POLLIN, POLLOUT, POLLIN | POLLOUT, POLLPRI,
				     POLLIN | POLLRDHUP, 0, POLLIN | POLLOUT | POLLRDHUP | POLLPRI };
	char out[256];
	int off = 0;
	bool sel = chance(30);

	for (int k = 0; k < n; k++) {
		idx[k] = slot_of(~0u);
		p[k].fd = idx[k] < 0 ? 999 : g_slot[idx[k]].fd;
		if (chance(5))
			idx[k] = -1, p[k].fd = chance(50) ? -1 : 999;
		p[k].events = evs[pick(7)];
		p[k].revents = 0;
	}
	if (sel) {
		fd_set rd, wr, ex;
		struct timeval tv = { 0, 0 };
		int max = -1;
		FD_ZERO(&rd);
		FD_ZERO(&wr);
		FD_ZERO(&ex);
		for (int k = 0; k < n; k++) {
			/* no closed fd: past the fd table's end select ignores one, inside it
			 * says EBADF, and bypass-run's table is larger */
			if (p[k].fd < 0 || p[k].fd >= FD_SETSIZE || idx[k] < 0)
				continue;
			if (p[k].events & POLLIN)
				FD_SET(p[k].fd, &rd);
			if (p[k].events & POLLOUT)
				FD_SET(p[k].fd, &wr);
			if (p[k].events & POLLPRI)
				FD_SET(p[k].fd, &ex);
			if (p[k].fd > max)
				max = p[k].fd;
		}
		int r = select(max + 1, &rd, &wr, &ex, &tv);
		off += snprintf(out + off, sizeof(out) - (size_t)off, "select = %s", r < 0 ? res(r) : "n");
		for (int k = 0; r >= 0 && k < n; k++) {
			if (p[k].fd < 0 || p[k].fd >= FD_SETSIZE || idx[k] < 0)
				continue;
			short rev = (short)((FD_ISSET(p[k].fd, &rd) ? POLLIN : 0) |
					    (FD_ISSET(p[k].fd, &wr) ? POLLOUT : 0) |
					    (FD_ISSET(p[k].fd, &ex) ? POLLPRI : 0));
			off += snprintf(out + off, sizeof(out) - (size_t)off, " %s%d:%#x",
					idx[k] < 0 ? "x" : "s", idx[k] < 0 ? p[k].fd : idx[k],
					idx[k] < 0 ? rev : masked(g_slot[idx[k]].o, rev));
		}
		line("%s", out);
		return;
	}
	int r = chance(50) ? poll(p, (nfds_t)n, 0) :
		ppoll(p, (nfds_t)n, &(struct timespec){ 0, 0 }, NULL);
	off += snprintf(out + off, sizeof(out) - (size_t)off, "poll = %s", r < 0 ? res(r) : "n");
	for (int k = 0; r >= 0 && k < n; k++)
		off += snprintf(out + off, sizeof(out) - (size_t)off, " %s%d:%#x/%#x",
				idx[k] < 0 ? "x" : "s", idx[k] < 0 ? p[k].fd : idx[k], p[k].events,
				idx[k] < 0 ? p[k].revents : masked(g_slot[idx[k]].o, p[k].revents));
	line("%s", out);
}

static void op_epoll_create(void)
{
	int i = slot_free();

	if (i < 0)
		return;
	int flags = chance(90) ? (chance(50) ? EPOLL_CLOEXEC : 0) : 1;
	int fd = chance(80) ? epoll_create1(flags) : epoll_create(chance(80) ? 1 : 0);
	line("epoll_create s%d = %s", i, fd < 0 ? res(fd) : "fd");
	if (fd >= 0)
		slot_set(i, fd, obj_new(K_EPOLL));
}

static struct reg *reg_find(const struct obj *ep, int fd, const struct obj *t)
{
	for (int r = 0; r < NREG; r++)
		if (g_reg[r].used && g_reg[r].ep == ep && g_reg[r].fd == fd && g_reg[r].target == t)
			return &g_reg[r];
	return NULL;
}

static void op_epoll_ctl(int i)
{
	struct obj *ep = g_slot[i].o;
	int t = slot_of(~0u);
	static const uint32_t bits[] = { EPOLLIN, EPOLLOUT, EPOLLPRI, EPOLLRDHUP, EPOLLET,
					 EPOLLONESHOT, EPOLLEXCLUSIVE, EPOLLERR, EPOLLHUP };
	uint32_t events = 0;
	int op = chance(95) ? 1 + (int)pick(3) : 99;
	struct epoll_event ev;
	void *p = chance(5) ? BAD_LOW : &ev;

	if (t < 0)
		return;
	for (unsigned k = 0; k < 9; k++)
		if (chance(k < 2 ? 60 : k < 4 ? 25 : 8))
			events |= bits[k];
	struct obj *to = g_slot[t].o;
	int tfd = chance(3) ? 999 : g_slot[t].fd;
	struct reg *r = reg_find(ep, tfd, to);
	int id = r ? (int)(r - g_reg) : -1;
	if (!r && op == EPOLL_CTL_ADD)
		for (int k = 0; k < NREG; k++)
			if (!g_reg[k].used) {
				id = k;
				break;
			}
	ev.events = events;
	ev.data.u64 = (uint64_t)id;
	long res_ = epoll_ctl(g_slot[i].fd, op, tfd, p);
	line("epoll_ctl s%d op %d %s%d events %#x%s = %s", i, op, tfd == 999 ? "x" : "s",
	     tfd == 999 ? tfd : t, events, p == &ev ? "" : " bad", res(res_));
	if (res_ != 0)
		return;
	if (op == EPOLL_CTL_ADD) {
		if (id < 0)
			die("registrations");
		g_reg[id] = (struct reg){ .ep = ep, .target = to, .fd = tfd, .events = events,
					  .used = true };
	} else if (op == EPOLL_CTL_MOD && r) {
		r->events = events;
	} else if (op == EPOLL_CTL_DEL && r) {
		r->used = false;
	}
}

static void op_epoll_wait(int i)
{
	struct obj *ep = g_slot[i].o;
	struct epoll_event ev[16];
	static const int maxes[] = { 16, 16, 16, 1, 0, -1 };
	int max = maxes[pick(6)];
	void *p = chance(5) ? BAD_KERNEL : ev;
	int nreg = 0;
	char out[256];
	int off = 0;
	bool sure = true;

	for (int r = 0; r < NREG; r++)
		if (g_reg[r].used && g_reg[r].ep == ep) {
			nreg++;
			/* an edge or a one-shot is reported when it came, and is then gone */
			if (g_reg[r].events & (EPOLLET | EPOLLONESHOT))
				sure = false;
		}
	int n = chance(50) ? epoll_wait(g_slot[i].fd, p, max, 0) :
		epoll_pwait(g_slot[i].fd, p, max, 0, NULL);
	off += snprintf(out + off, sizeof(out) - (size_t)off, "epoll_wait s%d max %d%s = %s", i,
			max, p == ev ? "" : " bad", n < 0 ? res(n) : "n");
	if (n >= 0 && (!sure || max < nreg)) {
		line("%s (not shown)", out);
		for (int r = 0; r < NREG; r++)	/* a one-shot that fired is disarmed */
			if (g_reg[r].used && g_reg[r].ep == ep && g_reg[r].events & EPOLLONESHOT)
				g_reg[r].events &= EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE;
		return;
	}
	/* in registration order, each with its bits less those timing decides */
	for (int r = 0; n > 0 && r < NREG; r++)
		for (int k = 0; k < n; k++)
			if (ev[k].data.u64 == (uint64_t)r && g_reg[r].used) {
				short m = masked(g_reg[r].target, (short)ev[k].events);
				if (m)
					off += snprintf(out + off, sizeof(out) - (size_t)off,
							" r%d:%#x", r, m);
			}
	line("%s", out);
}

/* ---- pipes (kernel fds among the sockets) and sendfile ---- */

static void op_pipe(void)
{
	int p[2], i = slot_free(), j = -1;

	for (int k = i + 1; i >= 0 && k < NSLOT && j < 0; k++)
		if (!g_slot[k].o)
			j = k;
	if (j < 0)
		return;
	int flags = chance(50) ? O_NONBLOCK : 0;
	long r = pipe2(p, flags);
	line("pipe2 %#x = %s", flags, res(r));
	if (r)
		return;
	slot_set(i, p[0], obj_new(K_PIPE_R));
	slot_set(j, p[1], obj_new(K_PIPE_W));
	line("  -> s%d s%d", i, j);
}

static void op_pipe_io(int i)
{
	struct obj *o = g_slot[i].o;
	uint8_t b[512] = { 0 };
	/* pipes are the kernel's and synchronous: ask poll first, never block */
	struct pollfd p = { .fd = g_slot[i].fd, .events = o->kind == K_PIPE_W ? POLLOUT : POLLIN };
	int n = poll(&p, 1, 0);

	if (n != 1 || !(p.revents & (POLLIN | POLLOUT | POLLHUP | POLLERR))) {
		line("poll pipe s%d = %s revents %#x", i, res(n), p.revents);
		return;
	}
	if (o->kind == K_PIPE_W) {
		int sig0 = g_sigpipe;
		ssize_t r = write(g_slot[i].fd, b, sizeof(b));
		line("write pipe s%d = %s sigpipe %d", i, res(r), g_sigpipe - sig0);
	} else {
		ssize_t r = read(g_slot[i].fd, b, sizeof(b));
		line("read pipe s%d = %s", i, res(r));
	}
}

static void op_sendfile(int i)
{
	struct obj *o = g_slot[i].o;
	off_t off = (off_t)pick(60000);
	size_t count = chance(10) ? 0 : 1 + pick(2048);
	uint8_t b[2048];
	off_t *op = &off;

	if (o->kind != K_TCP || !may_send(o))
		return;
	if (chance(20)) {
		op = NULL;
		lseek(g_file, off, SEEK_SET);
	}
	if (chance(5))
		op = BAD_LOW;
	off_t start = op == NULL ? lseek(g_file, 0, SEEK_CUR) : off;
	ssize_t r = sendfile(g_slot[i].fd, g_file, op, count);
	line("sendfile s%d %s%zu = %s", i, op == BAD_LOW ? "bad " : op ? "" : "pos ", count,
	     res(r));
	if (r <= 0)
		return;
	if ((size_t)r != count || pread(g_file, b, (size_t)r, start) != r) {
		o->unsure = true;
		return;
	}
	owe_bytes(o, b, (size_t)r);
}

/* ---- the run ---- */

static int sock_slot(void)
{
	int i = slot_of(1u << K_TCP | 1u << K_UDP);

	return i >= 0 && chance(90) ? i : slot_of(~0u);
}

static void step(void)
{
	static const struct { unsigned w; int op; } ops[] = {
		{ 8, 0 }, { 6, 1 }, { 4, 2 }, { 8, 3 }, { 4, 4 }, { 14, 5 }, { 5, 6 }, { 8, 7 },
		{ 3, 8 }, { 6, 9 }, { 4, 10 }, { 8, 11 }, { 8, 12 }, { 4, 13 }, { 5, 14 },
		{ 5, 15 }, { 6, 16 }, { 2, 17 }, { 5, 18 }, { 5, 19 }, { 1, 20 }, { 3, 21 },
		{ 3, 22 },
	};
	unsigned total = 0, w;
	int op = 0;

	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
		total += ops[k].w;
	w = pick(total);
	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
		if (w < ops[k].w) {
			op = ops[k].op;
			break;
		}
		w -= ops[k].w;
	}
	int i = sock_slot();
	int e = slot_of(1u << K_EPOLL);
	int pp = slot_of(1u << K_PIPE_R | 1u << K_PIPE_W);
	switch (op) {
	case 0: op_socket(); return;
	case 16: op_poll(); return;
	case 17: op_epoll_create(); return;
	case 18: if (e >= 0) op_epoll_ctl(e); return;
	case 19: if (e >= 0) op_epoll_wait(e); return;
	case 20: op_pipe(); return;
	case 21: if (pp >= 0) op_pipe_io(pp); return;
	}
	if (i < 0)
		return;
	switch (op) {
	case 1: op_bind(i); break;
	case 2: op_listen(i); break;
	case 3: op_connect(i); break;
	case 4: op_accept(i); break;
	case 5: op_send(i); break;
	case 6: op_recv_now(i); break;
	case 7: op_drain(i); break;
	case 8: op_shutdown(i); break;
	case 9: op_close(i); break;
	case 10: op_dup(i); break;
	case 11: op_setsockopt(i); break;
	case 12: op_getsockopt(i); break;
	case 13: op_fcntl(i); break;
	case 14: op_ioctl(i); break;
	case 15: op_getname(i); break;
	case 22: op_sendfile(i); break;
	}
}

int main(int argc, char **argv)
{
	if (argc != 6 || inet_aton(argv[3], &g_peer) == 0 || inet_aton(argv[4], &g_local) == 0) {
		fprintf(stderr, "usage: sockfuzz SEED STEPS PEER_IP LOCAL_IP PORT_BASE\n");
		return 2;
	}
	g_rng = strtoull(argv[1], NULL, 0);
	unsigned steps = (unsigned)strtoul(argv[2], NULL, 0);
	g_base = atoi(argv[5]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGALRM, on_alarm);
	struct sigaction sa = { .sa_handler = on_pipe };
	sigaction(SIGPIPE, &sa, NULL);
	for (int i = 0; i < NSLOT; i++)
		g_slot[i].fd = -1;

	/* sendfile's source: 64 KiB that only this seed makes */
	char path[] = "/tmp/sockfuzz.XXXXXX";
	uint8_t blk[4096];
	g_file = mkstemp(path);
	if (g_file < 0)
		return perror("sockfuzz: mkstemp"), 1;
	unlink(path);
	for (int k = 0; k < 16; k++) {
		fill(blk, sizeof(blk));
		if (write(g_file, blk, sizeof(blk)) != (ssize_t)sizeof(blk))
			return perror("sockfuzz: write"), 1;
	}

	for (g_step = 0; g_step < steps; g_step++) {
		alarm(10);
		step();
	}
	/* the end: everything owed comes, then every fd closes */
	for (int i = 0; i < NSLOT; i++)
		if (g_slot[i].o) {
			op_drain(i);
			line("close s%d = %s", i, res(close(g_slot[i].fd)));
			slot_drop(i);
		}
	alarm(0);
	line("end");
	return 0;
}
