/*
 * check_notify.c - smsverifyd as systemd runs it.  The daemon and the
 * simulator run as processes; systemd's side is played by the test: a
 * unix datagram socket in the test's directory named by NOTIFY_SOCKET
 * (and WATCHDOG_USEC) receives what the daemon reports (sd_notify), and
 * tests/seccomp_run applies the unit's own SystemCallFilter= (read from
 * the built conf/smsverifyd.service) before executing the daemon.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "harness.h"

#define PHONE "+14155550188"
#define MSG_MAX 1024             /* messages kept (the newest) */

static struct harness H;
/* systemd's side: a thread reads the socket all the time, as PID 1 does
 * (the daemon's sd_notify() blocks when nobody reads a full queue). */
static int nfd = -1;             /* the notify socket */
static pthread_t reader;
static int reading;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char msgs[MSG_MAX][256];  /* received, in order (the newest kept) */
static int nmsg;

static void
setup(void)
{
	ck_assert_int_eq(h_init(&H), 0);
}

static void
teardown(void)
{
	if (reading) {
		shutdown(nfd, SHUT_RDWR);
		pthread_cancel(reader);
		pthread_join(reader, NULL);
		reading = 0;
	}
	if (nfd >= 0)
		close(nfd);
	nfd = -1;
	h_fini(&H);
}

static void *
read_notify(void *arg)
{
	char buf[256];
	ssize_t len;

	for (;;) {
		len = recv(nfd, buf, sizeof(buf) - 1, 0);
		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0)
			return NULL;
		buf[len] = '\0';
		pthread_mutex_lock(&mu);
		if (nmsg == MSG_MAX) {
			memmove(msgs, msgs + 1, sizeof(msgs[0]) * (MSG_MAX - 1));
			nmsg--;
		}
		memcpy(msgs[nmsg++], buf, (size_t)len + 1);
		pthread_mutex_unlock(&mu);
	}
}

/* Play systemd: a datagram socket at DIR/notify, in NOTIFY_SOCKET for the
 * daemon this test starts (it inherits the environment). */
static void
notify_listen(void)
{
	struct sockaddr_un sa;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	ck_assert_int_lt(snprintf(sa.sun_path, sizeof(sa.sun_path),
	    "%s/notify", H.dir), (int)sizeof(sa.sun_path));
	nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(nfd, 0);
	ck_assert_int_eq(bind(nfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", sa.sun_path, 1), 0);
	nmsg = 0;
	ck_assert_int_eq(pthread_create(&reader, NULL, read_notify, NULL), 0);
	reading = 1;
}

/* Messages received so far that hold the line what (mu held). */
static int
seen_locked(const char *what)
{
	size_t len = strlen(what);
	int n = 0;

	for (int i = 0; i < nmsg; i++) {
		const char *m = msgs[i];

		for (const char *p = m; (p = strstr(p, what)) != NULL;
		    p += len)
			if ((p == m || p[-1] == '\n') &&
			    (p[len] == '\0' || p[len] == '\n')) {
				n++;
				break;
			}
	}
	return n;
}

static int
seen(const char *what)
{
	int n;

	pthread_mutex_lock(&mu);
	n = seen_locked(what);
	pthread_mutex_unlock(&mu);
	return n;
}

/* Wait (bounded by timeout_ms) until n messages hold the line what; 0,
 * or -1 when time ran out. */
static int
wait_msg(const char *what, int n, int timeout_ms)
{
	for (long long end = h_now_ms() + timeout_ms; h_now_ms() < end;) {
		if (seen(what) >= n)
			return 0;
		h_nap_ms(20);
	}
	return seen(what) >= n ? 0 : -1;
}

/* The index of the first message from from on that holds what, or -1. */
static int
first_of(const char *what, int from)
{
	int r = -1;

	pthread_mutex_lock(&mu);
	for (int i = from; i < nmsg && r < 0; i++)
		if (strstr(msgs[i], what) != NULL)
			r = i;
	pthread_mutex_unlock(&mu);
	return r;
}

START_TEST(notify_ready_watchdog_reload_stop)
{
	char out[1024];
	int r;

	notify_listen();
	/* A 1 s watchdog: pings every 500 ms. */
	ck_assert_int_eq(setenv("WATCHDOG_USEC", "1000000", 1), 0);
	unsetenv("WATCHDOG_PID");
	h_start_all(&H);
	ck_assert_msg(wait_msg("READY=1", 1, H_LOG_WAIT_MS) == 0,
	    "no READY=1 (see %s)", H.daemon_log);
	/* Ready means the API answers: the listener was up before. */
	ck_assert_int_eq(h_http(&H, "GET", "/healthz", NULL, NULL, NULL, out,
	    sizeof(out)), 200);
	ck_assert_int_eq(first_of("STOPPING=1", 0), -1);
	ck_assert_msg(wait_msg("WATCHDOG=1", 3, H_LOG_WAIT_MS) == 0,
	    "fewer than 3 WATCHDOG=1 in %d ms (see %s)", H_LOG_WAIT_MS,
	    H.daemon_log);
	ck_assert_msg(h_count_lines(H.daemon_log,
	    "event=notify.watchdog interval_ms=500") == 1, "see %s",
	    H.daemon_log);
	/* SIGHUP: RELOADING=1, then READY=1 again. */
	ck_assert_int_eq(h_daemon_reload(&H), 0);
	ck_assert_msg(wait_msg("READY=1", 2, H_LOG_WAIT_MS) == 0,
	    "no READY=1 after the reload");
	r = first_of("RELOADING=1", 0);
	ck_assert_msg(r >= 0, "no RELOADING=1");
	ck_assert_msg(first_of("READY=1", r + 1) > r, "READY=1 did not "
	    "follow RELOADING=1");
	/* SIGTERM: STOPPING=1 as the drain begins, and a clean exit. */
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
	ck_assert_msg(wait_msg("STOPPING=1", 1, 2000) == 0, "no STOPPING=1");
}
END_TEST

START_TEST(no_watchdog_without_usec)
{
	notify_listen();
	unsetenv("WATCHDOG_USEC");
	h_start_all(&H);
	ck_assert_int_eq(wait_msg("READY=1", 1, H_LOG_WAIT_MS), 0);
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
	ck_assert_int_eq(wait_msg("STOPPING=1", 1, 2000), 0);
	ck_assert_int_eq(seen("WATCHDOG=1"), 0);
	ck_assert_int_eq(h_count_lines(H.daemon_log, "event=notify."), 0);
}
END_TEST

/* The unit's SystemCallFilter= (and RestrictAddressFamilies=,
 * MemoryDenyWriteExecute=): the daemon's whole life under them. */
START_TEST(under_unit_syscall_filter)
{
	const char *bd = getenv("SV_BUILDDIR");
	char id[64], code[16];
	int st;

	bd = bd != NULL && *bd != '\0' ? bd : ".";
	ck_assert_int_lt(snprintf(H.daemon_wrap, sizeof(H.daemon_wrap),
	    "%s/tests/seccomp_run %s/conf/smsverifyd.service", bd, bd),
	    (int)sizeof(H.daemon_wrap));
	/* LeakSanitizer stops the world with ptrace, which no service
	 * filter allows; the other suites check leaks. */
	ck_assert_int_eq(setenv("ASAN_OPTIONS",
	    "detect_leaks=0:abort_on_error=1", 1), 0);
	notify_listen();
	ck_assert_int_eq(setenv("WATCHDOG_USEC", "1000000", 1), 0);
	snprintf(H.sim_args, sizeof(H.sim_args), "--dlr delivered "
	    "--dlr-delay-ms 50");
	h_start_all(&H);
	ck_assert_msg(h_count_lines(H.daemon_log, "seccomp_run: ") == 3 &&
	    h_count_lines(H.daemon_log, "system calls allowed") == 1 &&
	    h_count_lines(H.daemon_log, "address families AF_UNIX") == 1 &&
	    h_count_lines(H.daemon_log, "memory write xor execute") == 1,
	    "not run under the unit's filters (see %s)", H.daemon_log);
	ck_assert_int_eq(wait_msg("READY=1", 1, H_LOG_WAIT_MS), 0);
	/* Send, read the code off the handset, check it, get the receipt. */
	json_decref(h_send_code(&H, PHONE, id, sizeof(id), 201));
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	ck_assert_int_eq(h_code_valid(&H, id, code), 1);
	h_wait_delivery(&H, id, "delivered");
	/* Reload, and the watchdog keeps pinging. */
	ck_assert_msg(h_daemon_reload(&H) == 0, "see %s", H.daemon_log);
	ck_assert_int_eq(wait_msg("WATCHDOG=1", 2, H_LOG_WAIT_MS), 0);
	json_decref(h_send_code(&H, "+14155550189", NULL, 0, 201));
	/* A clean stop: 0, not 159 (killed by SIGSYS). */
	st = h_daemon_stop(&H, SIGTERM);
	ck_assert_msg(st == 0, "exit %d under the filter (see %s)", st,
	    H.daemon_log);
}
END_TEST

static Suite *
notify_suite(void)
{
	Suite *s = suite_create("notify");
	const struct h_test tests[] = {
		{ "ready_watchdog_reload_stop",
		    notify_ready_watchdog_reload_stop, 1 },
		{ "no_watchdog_without_usec", no_watchdog_without_usec, 1 },
		{ "under_unit_syscall_filter", under_unit_syscall_filter, 1 },
	};

	h_add_tests(s, tests, sizeof(tests) / sizeof(tests[0]), setup,
	    teardown);
	return s;
}

int
main(void)
{
	return h_run_suite(notify_suite());
}
