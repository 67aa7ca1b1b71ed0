// SPDX-License-Identifier: MIT
// udp-echo-check: the kernel side of the rig's UDP echo test.  Sends COUNT datagrams of
// varying sizes to IP:PORT one at a time over a kernel socket, expects each back unchanged
// within a second, and prints how many came back and the median round trip.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAYLOAD 1472   /* one unfragmented frame at MTU 1500 */

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    struct sockaddr_in to = { .sin_family = AF_INET };
    static uint8_t out[MAX_PAYLOAD], in[MAX_PAYLOAD + 1];
    double *rtt;
    int fd, count, ok = 0, bad = 0;

    if (argc != 4 || inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
        fprintf(stderr, "usage: udp-echo-check IP PORT COUNT\n");
        return 2;
    }
    to.sin_port = htons((uint16_t)atoi(argv[2]));
    count = atoi(argv[3]);
    rtt = calloc((size_t)count + 1, sizeof(*rtt));
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || !rtt || connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
        perror("udp-echo-check: socket");
        return 1;
    }
    for (int i = 0; i < count; i++) {
        /* Sizes sweep 1..MAX_PAYLOAD; bytes depend on the index so a stale echo shows. */
        size_t len = 1 + (size_t)i * 977 % MAX_PAYLOAD;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        double t0 = now_us();

        for (size_t k = 0; k < len; k++)
            out[k] = (uint8_t)(i * 31 + k);
        if (send(fd, out, len, 0) != (ssize_t)len) {
            perror("udp-echo-check: send");
            return 1;
        }
        while (poll(&pfd, 1, 1000) == 1) {
            ssize_t r = recv(fd, in, sizeof(in), 0);

            if (r == (ssize_t)len && !memcmp(in, out, len)) {
                rtt[ok++] = now_us() - t0;
                break;
            }
            bad++;   /* wrong length or content (or a late echo of an earlier one) */
        }
    }
    qsort(rtt, (size_t)ok, sizeof(*rtt), cmp_double);
    printf("udp-echo-check: sent=%d echoed=%d bad=%d rtt_p50_us=%.1f\n", count, ok, bad,
           ok ? rtt[ok / 2] : 0.0);
    return ok == count && !bad ? 0 : 1;
}
