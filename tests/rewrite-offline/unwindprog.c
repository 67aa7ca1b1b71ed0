// SPDX-License-Identifier: MIT
// Unwinding through a rewritten syscall site (unwind.sh runs it rewritten, natively and
// under gdb).  Built with -fexceptions, so the cleanup below is a landing pad that only
// an unwinder walking every frame reaches.
//   unwindprog say        write "hi" from say() (gdb: catch syscall write, bt)
//   unwindprog cancel     a thread blocked in read() is cancelled: pthread_cancel's
//                         forced unwind starts in the signal handler, crosses the read's
//                         stub and must run the cleanup of reader() on its way
//   unwindprog backtrace  backtrace() in a SIGALRM handler that interrupts read(): the
//                         frames must reach blocker()'s caller
// Prints one line; exit 0 when the unwinding reached where it must, 1 when not, 2 usage.
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int g_pipe[2];
static volatile int g_cleaned;
static void *volatile g_ret;	// blocker()'s return address: in main
static volatile int g_found, g_frames;

__attribute__((noinline)) static void say(const char *s)
{
	if (write(1, s, strlen(s)) < 0)
		g_cleaned = -1;	// not a tail call: say() keeps its frame
}

static void cleanup(int *p)
{
	(void)p;
	g_cleaned = 1;
}

static void *reader(void *arg)
{
	int guard __attribute__((cleanup(cleanup))) = 0;
	char c;

	(void)arg;
	(void)guard;
	if (read(g_pipe[0], &c, 1) < 0)	// blocks: nothing is ever written
		return NULL;
	return arg;
}

static int cancel(void)
{
	pthread_t t;
	void *ret = NULL;

	pthread_create(&t, NULL, reader, NULL);
	usleep(100000);		// let it block (a cancel before the read is also acted on)
	pthread_cancel(t);
	pthread_join(t, &ret);
	printf("canceled=%d cleanup=%d\n", ret == PTHREAD_CANCELED, g_cleaned);
	return !(ret == PTHREAD_CANCELED && g_cleaned);
}

static void on_alarm(int sig)
{
	void *pc[64];
	int n = backtrace(pc, 64);

	(void)sig;
	g_frames = n;
	for (int i = 0; i < n; i++)
		g_found |= pc[i] == g_ret;
}

__attribute__((noinline)) static void blocker(void)
{
	char c;

	g_ret = __builtin_return_address(0);
	if (read(g_pipe[0], &c, 1) < 0)	// EINTR from SIGALRM (no SA_RESTART)
		g_frames += 0;	// not a tail call: blocker() keeps its frame
}

static int trace(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	backtrace((void *[1]){ 0 }, 1);	// load the unwinder before the signal
	alarm(1);
	blocker();
	printf("frames=%d caller_found=%d\n", g_frames, g_found);
	return !g_found;
}

int main(int argc, char **argv)
{
	if (pipe(g_pipe))
		return 2;
	if (argc == 2 && !strcmp(argv[1], "say")) {
		say("hi\n");
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "cancel"))
		return cancel();
	if (argc == 2 && !strcmp(argv[1], "backtrace"))
		return trace();
	fprintf(stderr, "usage: unwindprog say|cancel|backtrace\n");
	return 2;
}
