// SPDX-License-Identifier: MIT
// udp-echo-server: the program side of the application rig's UDP echo test, meant to run
// unmodified under `bypass-run --net=dpdk`.  Binds 0.0.0.0:PORT, sends every datagram back to
// where it came from, and exits after COUNT datagrams or IDLE_S seconds without one (poll()
// timeout), printing how many it echoed.  Prints "ready" once bound so the rig knows when to
// start sending.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_DGRAM 65536

static int parse_count(const char *s, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_in me = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
    static char buf[MAX_DGRAM];
    long port, count, idle_s, echoed = 0;
    int fd;

    if (argc != 4 || parse_count(argv[1], 65535, &port) || parse_count(argv[2], 1L << 30, &count) ||
        parse_count(argv[3], 3600, &idle_s)) {
        fprintf(stderr, "usage: udp-echo-server PORT COUNT IDLE_S\n");
        return 2;
    }
    me.sin_port = htons((unsigned short)port);
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
        fprintf(stderr, "udp-echo-server: %s: %s\n", fd < 0 ? "socket" : "bind", strerror(errno));
        return 1;
    }
    printf("udp-echo-server: ready on port %ld\n", port);
    fflush(stdout);
    while (echoed < count) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        struct sockaddr_in from;
        socklen_t flen = sizeof(from);
        ssize_t n;
        int r;

        /* poll() first so a program blocked on a LibOS socket is what is exercised, and so
         * the server gives up by itself when the other side has stopped sending. */
        r = poll(&pfd, 1, (int)idle_s * 1000);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fprintf(stderr, "udp-echo-server: poll: %s\n", strerror(errno));
            return 1;
        }
        if (r == 0)
            break;
        n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
        if (n < 0) {
            fprintf(stderr, "udp-echo-server: recvfrom: %s\n", strerror(errno));
            return 1;
        }
        if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, flen) != n) {
            fprintf(stderr, "udp-echo-server: sendto: %s\n", strerror(errno));
            return 1;
        }
        echoed++;
    }
    printf("udp-echo-server: echoed=%ld\n", echoed);
    close(fd);
    return 0;
}
