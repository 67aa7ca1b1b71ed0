// SPDX-License-Identifier: MIT
/* sockapi-peer: the kernel side of the socket-semantics tests, run inside the rig's
 * network namespace.  One service per port (a child process per TCP connection):
 *   7000 echo        echo until EOF, then close
 *   7001 silent      accept, never read; hold until the client goes
 *   7002 udp echo    each datagram back to its sender, with IP_TOS 0x20
 *   7003 late        send "late\n" after 1.5 s, then wait for EOF
 *   7004 rstcheck    send 1000 bytes, then read until EOF or error; note which in DIR/last
 *   7005 query       send the contents of DIR/last, close
 *   7006 connectback read "PORT\n", connect to the client's address at PORT, send
 *                    "hello", close
 *   7007 slowsink    (small receive buffer) read nothing for 2 s, then read until EOF or
 *                    error; note "FIN N" / "RST N" / "ERR N" (N bytes read) in DIR/last
 *   7008 udp ttl/tos each datagram answered with "ttl=T tos=S", its header's values
 *                    (IP_RECVTTL, IP_RECVTOS)
 *   7009 tcp ttl/tos read "PORT\n"; PORT 0: this connection, else connect back to the
 *                    client's address at PORT; on that connection send "r", then
 *                    answer "ttl=T tos=S\n" with the header of the first data segment
 *                    that comes on it (seen through a raw IPPROTO_TCP socket)
 *   7010 tcp syn     read a line, answer "ttl=T tos=S\n" with the header of the SYN that
 *                    opened this connection (a raw socket open since the start kept it)
 *   7011 pinger      read a line, then send 5 ICMP echo requests to the client's address
 *                    100 ms apart; answer "replies=K maxrtt_us=M medrtt_us=D\n" (K
 *                    answered within 1 s of the last request, M the slowest, D the
 *                    median)
 *   7012 connectmany read "PORT N\n", start N connections to the client's address at
 *                    PORT at once; answer "done=K\n", K of them established within
 *                    500 ms; hold them until the client closes this one
 * usage: sockapi-peer DIR   (writes DIR/ready when listening; exits on SIGTERM) */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *g_dir;

/* SIGTERM: take the per-connection children along (they are in our process group). */
static void on_term(int sig)
{
	(void)sig;
	kill(0, SIGKILL);
}

static int listen_on(int type, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, fd = socket(AF_INET, type, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (port == 7001 || port == 7007) {
		int small = 4096;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	}
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || (type == SOCK_STREAM && listen(fd, 64)))
		return -1;
	return fd;
}

static void note(const char *what)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/last", g_dir);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(what, f);
		fclose(f);
	}
}

/* 7009: the TTL and TOS of the first data segment from the client on @c, as the raw
 * socket @raw (opened before "r" went out) saw them. */
static void ttl_tos_report(int c, int raw)
{
	struct sockaddr_in me, him;
	socklen_t l = sizeof(me);
	unsigned char pkt[65536];
	char line[64];

	getsockname(c, (struct sockaddr *)&me, &l);
	l = sizeof(him);
	getpeername(c, (struct sockaddr *)&him, &l);
	for (;;) {
		ssize_t n = recv(raw, pkt, sizeof(pkt), 0);
		if (n <= 0) {
			snprintf(line, sizeof(line), "none\n");
			break;
		}
		const struct iphdr *ih = (const struct iphdr *)pkt;
		size_t hl = ih->ihl * 4u;
		if ((size_t)n < hl + sizeof(struct tcphdr) || ih->saddr != him.sin_addr.s_addr)
			continue;
		const struct tcphdr *th = (const struct tcphdr *)(pkt + hl);
		if (th->source != him.sin_port || th->dest != me.sin_port ||
		    (size_t)n <= hl + th->doff * 4u)
			continue;
		snprintf(line, sizeof(line), "ttl=%d tos=%d\n", ih->ttl, ih->tos);
		break;
	}
	(void)!write(c, line, strlen(line));
}

/* A raw IPPROTO_TCP socket open from the start (7010 looks for its connection's SYN). */
static int g_synraw = -1;

/* 7010: the TTL and TOS of the SYN from @him that opened a connection to us. */
static void syn_report(int c, const struct sockaddr_in *him)
{
	unsigned char pkt[65536];
	char line[64] = "none\n";
	struct timeval tv = { 2, 0 };

	setsockopt(g_synraw, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (;;) {
		ssize_t n = recv(g_synraw, pkt, sizeof(pkt), 0);
		if (n <= 0)
			break;
		const struct iphdr *ih = (const struct iphdr *)pkt;
		size_t hl = ih->ihl * 4u;
		if ((size_t)n < hl + sizeof(struct tcphdr) || ih->saddr != him->sin_addr.s_addr)
			continue;
		const struct tcphdr *th = (const struct tcphdr *)(pkt + hl);
		if (th->source != him->sin_port || th->dest != htons(7010) || !th->syn || th->ack)
			continue;
		snprintf(line, sizeof(line), "ttl=%d tos=%d\n", ih->ttl, ih->tos);
		break;
	}
	(void)!write(c, line, strlen(line));
}

static uint64_t mono_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static uint16_t icmp_sum(const void *p, size_t n)
{
	const uint16_t *w = p;
	uint32_t s = 0;

	for (; n > 1; n -= 2)
		s += *w++;
	if (n)
		s += *(const uint8_t *)w;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* 7011: 5 echo requests to @him 100 ms apart; how many came back and the slowest. */
static void ping_report(int c, const struct sockaddr_in *him)
{
	enum { N = 5 };
	uint64_t sent[N] = { 0 }, rtt[N] = { 0 }, maxrtt = 0, last = 0;
	int raw = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), got = 0, seen[N] = { 0 };
	uint16_t id = (uint16_t)getpid();
	char line[64];

	for (int i = 0; raw >= 0 && (i < N || mono_us() - last < 1000000) && got < N;) {
		if (i < N && (i == 0 || mono_us() - last >= 100000)) {
			struct icmphdr ih = { .type = ICMP_ECHO };
			ih.un.echo.id = id;
			ih.un.echo.sequence = htons((uint16_t)i);
			ih.checksum = icmp_sum(&ih, sizeof(ih));
			last = sent[i] = mono_us();
			sendto(raw, &ih, sizeof(ih), 0, (const struct sockaddr *)him, sizeof(*him));
			i++;
		}
		struct timeval tv = { 0, 10000 };
		fd_set r;
		FD_ZERO(&r);
		FD_SET(raw, &r);
		if (select(raw + 1, &r, NULL, NULL, &tv) <= 0)
			continue;
		unsigned char pkt[1500];
		ssize_t n = recv(raw, pkt, sizeof(pkt), 0);
		const struct iphdr *ip = (const struct iphdr *)pkt;
		if (n < (ssize_t)sizeof(*ip) || ip->saddr != him->sin_addr.s_addr)
			continue;
		const struct icmphdr *ih = (const struct icmphdr *)(pkt + ip->ihl * 4u);
		unsigned q = ntohs(ih->un.echo.sequence);
		if ((size_t)n < ip->ihl * 4u + sizeof(*ih) || ih->type != ICMP_ECHOREPLY ||
		    ih->un.echo.id != id || q >= N || seen[q])
			continue;
		seen[q] = 1;
		rtt[got++] = mono_us() - sent[q];
		if (rtt[got - 1] > maxrtt)
			maxrtt = rtt[got - 1];
	}
	/* The median too: one stall of the machine should not decide alone. */
	for (int i = 1; i < got; i++)
		for (int j = i; j > 0 && rtt[j - 1] > rtt[j]; j--) {
			uint64_t t = rtt[j];
			rtt[j] = rtt[j - 1];
			rtt[j - 1] = t;
		}
	snprintf(line, sizeof(line), "replies=%d maxrtt_us=%llu medrtt_us=%llu\n", got,
		 (unsigned long long)maxrtt, (unsigned long long)(got ? rtt[got / 2] : 0));
	(void)!write(c, line, strlen(line));
}

/* 7012: @n connections to @to at once; how many the listener there took within 500 ms
 * (a SYN it drops is resent only after a second). */
static void connect_many(int c, struct sockaddr_in to, int n)
{
	struct pollfd p[32];
	char line[32];
	int done = 0;

	n = n < 1 ? 1 : n > 32 ? 32 : n;
	for (int i = 0; i < n; i++) {
		p[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		p[i].events = POLLOUT;
		if (p[i].fd >= 0)
			(void)connect(p[i].fd, (struct sockaddr *)&to, sizeof(to));
	}
	for (uint64_t end = mono_us() + 500000, now; done < n && (now = mono_us()) < end;) {
		if (poll(p, (nfds_t)n, (int)((end - now + 999) / 1000)) <= 0)
			break;
		for (int i = 0; i < n; i++) {
			int err = 1;
			socklen_t l = sizeof(err);
			if (!(p[i].revents & (POLLOUT | POLLERR | POLLHUP)))
				continue;
			getsockopt(p[i].fd, SOL_SOCKET, SO_ERROR, &err, &l);
			done += err == 0;
			p[i].fd = -p[i].fd - 1;	/* counted: poll skips it */
		}
	}
	snprintf(line, sizeof(line), "done=%d\n", done);
	(void)!write(c, line, strlen(line));
	while (read(c, line, sizeof(line)) > 0)	/* until the client closes */
		;
	for (int i = 0; i < n; i++)
		close(p[i].fd < 0 ? -p[i].fd - 1 : p[i].fd);
}

static void serve(int port, int c, const struct sockaddr_in *from)
{
	char buf[65536];
	ssize_t n;

	switch (port) {
	case 7000:
		while ((n = read(c, buf, sizeof(buf))) > 0)
			if (write(c, buf, (size_t)n) != n)
				break;
		break;
	case 7001:
		for (;;) {
			n = recv(c, buf, 1, MSG_PEEK | MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				break;
			usleep(100000);
		}
		break;
	case 7003:
		usleep(1500000);
		(void)!write(c, "late\n", 5);
		while (read(c, buf, sizeof(buf)) > 0)
			;
		break;
	case 7004:
		memset(buf, 'x', 1000);
		(void)!write(c, buf, 1000);
		for (;;) {
			n = read(c, buf, sizeof(buf));
			if (n > 0)
				continue;
			note(n == 0 ? "FIN" : errno == ECONNRESET ? "RST" : "ERR");
			break;
		}
		break;
	case 7007: {
		long total = 0;
		char what[64];
		usleep(2000000);
		for (;;) {
			n = read(c, buf, sizeof(buf));
			if (n > 0) {
				total += n;
				continue;
			}
			snprintf(what, sizeof(what), "%s %ld",
				 n == 0 ? "FIN" : errno == ECONNRESET ? "RST" : "ERR", total);
			note(what);
			break;
		}
		break;
	}
	case 7005: {
		char path[4096];
		snprintf(path, sizeof(path), "%s/last", g_dir);
		int f = open(path, O_RDONLY);
		n = f >= 0 ? read(f, buf, sizeof(buf)) : 0;
		if (n > 0)
			(void)!write(c, buf, (size_t)n);
		break;
	}
	case 7009: {
		int k = 0;
		struct timeval tv = { 5, 0 };
		while (k < 15 && read(c, buf + k, 1) == 1 && buf[k] != '\n')
			k++;
		buf[k] = '\0';
		int raw = socket(AF_INET, SOCK_RAW, IPPROTO_TCP);
		setsockopt(raw, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		int s = c;
		if (atoi(buf)) {
			struct sockaddr_in to = *from;
			to.sin_port = htons((uint16_t)atoi(buf));
			s = socket(AF_INET, SOCK_STREAM, 0);
			if (connect(s, (struct sockaddr *)&to, sizeof(to)) != 0)
				break;
		}
		(void)!write(s, "r", 1);
		ttl_tos_report(s, raw);
		while (read(s, buf, sizeof(buf)) > 0)	/* until the client closes */
			;
		break;
	}
	case 7010:
		while (read(c, buf, 1) == 1 && buf[0] != '\n')
			;
		syn_report(c, from);
		while (read(c, buf, sizeof(buf)) > 0)	/* until the client closes */
			;
		break;
	case 7011: {
		struct sockaddr_in him = *from;
		while (read(c, buf, 1) == 1 && buf[0] != '\n')
			;
		him.sin_port = 0;
		ping_report(c, &him);
		while (read(c, buf, sizeof(buf)) > 0)	/* until the client closes */
			;
		break;
	}
	case 7012: {
		int k = 0, to_port = 0, cnt = 0;
		while (k < 31 && read(c, buf + k, 1) == 1 && buf[k] != '\n')
			k++;
		buf[k] = '\0';
		struct sockaddr_in to = *from;
		if (sscanf(buf, "%d %d", &to_port, &cnt) == 2) {
			to.sin_port = htons((uint16_t)to_port);
			connect_many(c, to, cnt);
		}
		break;
	}
	case 7006: {
		int k = 0;
		n = 0;
		while (k < 15 && read(c, buf + k, 1) == 1 && buf[k] != '\n')
			k++;
		buf[k] = '\0';
		struct sockaddr_in to = *from;
		to.sin_port = htons((uint16_t)atoi(buf));
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (s >= 0 && connect(s, (struct sockaddr *)&to, sizeof(to)) == 0)
			(void)!write(s, "hello", 5);
		close(s);
		break;
	}
	}
	close(c);
}

int main(int argc, char **argv)
{
	static const int tcp[] = { 7000, 7001, 7003, 7004, 7005, 7006, 7007, 7009, 7010, 7011,
				    7012 };
	int fds[sizeof(tcp) / sizeof(tcp[0])], n = 0, u, u2;
	char path[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: sockapi-peer DIR\n");
		return 2;
	}
	g_dir = argv[1];
	signal(SIGCHLD, SIG_IGN);	/* no zombies */
	setpgid(0, 0);
	signal(SIGTERM, on_term);
	int big = 4 << 20;
	g_synraw = socket(AF_INET, SOCK_RAW, IPPROTO_TCP);
	setsockopt(g_synraw, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	for (size_t i = 0; i < sizeof(tcp) / sizeof(tcp[0]); i++)
		if ((fds[n++] = listen_on(SOCK_STREAM, tcp[i])) < 0) {
			perror("sockapi-peer: listen");
			return 1;
		}
	if ((u = listen_on(SOCK_DGRAM, 7002)) < 0) {
		perror("sockapi-peer: udp");
		return 1;
	}
	int tos = 0x20;		/* the echoes carry it: udp_cmsg reads it back (IP_RECVTOS) */
	setsockopt(u, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
	if ((u2 = listen_on(SOCK_DGRAM, 7008)) < 0) {
		perror("sockapi-peer: udp 7008");
		return 1;
	}
	int one = 1;
	setsockopt(u2, IPPROTO_IP, IP_RECVTTL, &one, sizeof(one));
	setsockopt(u2, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one));
	note("NONE");
	snprintf(path, sizeof(path), "%s/ready", g_dir);
	close(open(path, O_WRONLY | O_CREAT, 0644));
	for (;;) {
		fd_set r;
		int max = u > u2 ? u : u2;
		FD_ZERO(&r);
		FD_SET(u, &r);
		FD_SET(u2, &r);
		for (int i = 0; i < n; i++) {
			FD_SET(fds[i], &r);
			if (fds[i] > max)
				max = fds[i];
		}
		if (select(max + 1, &r, NULL, NULL, NULL) < 0)
			continue;
		if (FD_ISSET(u, &r)) {
			char buf[65536];
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			ssize_t k = recvfrom(u, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
			if (k >= 0)
				sendto(u, buf, (size_t)k, 0, (struct sockaddr *)&from, fl);
		}
		if (FD_ISSET(u2, &r)) {
			char buf[65536], ctl[256], line[64];
			struct sockaddr_in from;
			struct iovec iov = { buf, sizeof(buf) };
			struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof(from),
					    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
					    .msg_controllen = sizeof(ctl) };
			int ttl = -1, tos = -1;
			if (recvmsg(u2, &m, 0) >= 0) {
				for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
					if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_TTL)
						memcpy(&ttl, CMSG_DATA(cm), sizeof(ttl));
					if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_TOS)
						tos = *(unsigned char *)CMSG_DATA(cm);
				}
				snprintf(line, sizeof(line), "ttl=%d tos=%d", ttl, tos);
				sendto(u2, line, strlen(line), 0, (struct sockaddr *)&from,
				       sizeof(from));
			}
		}
		for (int i = 0; i < n; i++) {
			if (!FD_ISSET(fds[i], &r))
				continue;
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			int c = accept(fds[i], (struct sockaddr *)&from, &fl);
			if (c < 0)
				continue;
			if (fork() == 0) {
				for (int j = 0; j < n; j++)
					close(fds[j]);
				close(u);
				close(u2);
				serve(tcp[i], c, &from);
				_exit(0);
			}
			close(c);
		}
	}
}
