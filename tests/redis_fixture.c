/*
 * redis_fixture.c - the Redis suites' shared fixture (redis_fixture.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <check.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "log.h"
#include "redis.h"
#include "redis_fixture.h"
#include "redis_srv.h"
#include "util.h"

struct redis_srv S, S2, S3;
char top[64];

/* ---- the loop -------------------------------------------------------- */

struct event_base *B;

static void
tick(evutil_socket_t fd, short what, void *arg)
{
}

/* Run the loop until cond(arg) or ms pass; returns cond's last value. */
int
run_until(int (*cond)(void *), void *arg, int ms)
{
	struct event *t = event_new(B, -1, EV_PERSIST, tick, NULL);
	struct timeval tv = { 0, 10000 };
	int64_t until = util_mono_ms() + ms;
	int ok;

	event_add(t, &tv);
	while (!(ok = cond(arg)) && util_mono_ms() < until)
		event_base_loop(B, EVLOOP_ONCE);
	event_free(t);
	return (ok);
}

int
is_up(void *arg)
{
	struct redis_stats st;

	redis_stats(arg, &st);
	return (st.connected);
}

/* ---- commands and their answers -------------------------------------- */

void
on_ans(void *arg, enum redis_err err, const struct redisReply *rp)
{
	struct ans *a = arg;

	a->calls++;
	a->err = err;
	if (rp != NULL) {
		a->type = rp->type;
		a->integer = rp->integer;
		if (rp->str != NULL) {
			util_strlcpy(a->str, rp->str, sizeof(a->str));
			a->len = rp->len;
			memcpy(a->raw, rp->str, rp->len < sizeof(a->raw) ?
			    rp->len : sizeof(a->raw));
		}
	}
}

int
all_answered(void *arg)
{
	struct many *m = arg;
	int i;

	for (i = 0; i < m->n; i++)
		if (m->a[i].calls == 0)
			return (0);
	return (1);
}

/* argc words (at most 8) from ap into argv and their lengths. */
void
words(int argc, va_list ap, const char **argv, size_t *len)
{
	int i;

	ck_assert_int_le(argc, 8);
	for (i = 0; i < argc; i++) {
		argv[i] = va_arg(ap, const char *);
		len[i] = strlen(argv[i]);
	}
}

/* Send a command given as words (no binary). */
int
cmd(struct redis *r, struct ans *a, int argc, ...)
{
	const char *argv[8];
	size_t len[8];
	va_list ap;

	memset(a, 0, sizeof(*a));
	va_start(ap, argc);
	words(argc, ap, argv, len);
	va_end(ap);
	return (redis_command(r, on_ans, a, argc, argv, len));
}

struct redis_config
config(const char *addr)
{
	struct redis_config c;

	memset(&c, 0, sizeof(c));
	c.addr = addr;
	c.connect_timeout_ms = 2000;
	c.command_timeout_ms = 5000;
	c.reconnect_min_ms = 20;
	c.reconnect_max_ms = 200;
	c.max_inflight = 64;
	return (c);
}

struct redis *
connect_up(const struct redis_config *c)
{
	char err[256];
	struct redis *r;

	r = redis_new(B, c, err, sizeof(err));
	ck_assert_msg(r != NULL, "redis_new: %s", err);
	ck_assert_msg(run_until(is_up, r, 5000), "not connected in 5 s");
	return (r);
}

void
setup(void)
{
	B = event_base_new();
	ck_assert_ptr_nonnull(B);
	memset(&S, 0, sizeof(S));
	memset(&S2, 0, sizeof(S2));
	memset(&S3, 0, sizeof(S3));
	atexit(redis_srv_kill_all);
}

void
teardown(void)
{
	redis_srv_rm(&S);
	redis_srv_rm(&S2);
	redis_srv_rm(&S3);
	event_base_free(B);
	B = NULL;
}

/* ---- a peer that answers PING once and then nothing ------------------ */

/* A bulk that says 1 GB and sends 64 KiB of it (the socket's room). */
static void
mute_huge(int fd)
{
	static char blob[65536];
	ssize_t n;

	memset(blob, 'z', sizeof(blob));
	ck_assert_int_eq(write(fd, "$1000000000\r\n", 14), 14);
	n = write(fd, blob, sizeof(blob));
	ck_assert_int_gt(n, 0);
}

static void
mute_read(evutil_socket_t fd, short what, void *arg)
{
	struct mute *m = arg;
	char buf[4096];
	ssize_t n;
	int i;

	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0) {
		m->closed++;
		for (i = 0; i < m->n; i++)
			if (m->fds[i] == fd && m->evs[i] != NULL) {
				event_free(m->evs[i]);
				m->evs[i] = NULL;
			}
		return;
	}
	/* The handshake's PING is answered (not by a deaf peer); nothing
	 * else ever is, but with garbage. */
	buf[n] = '\0';
	if (m->answer[0] != '\0' && strstr(buf, "SUBSCRIBE") != NULL) {
		static const char ok[] = "*3\r\n$9\r\nsubscribe\r\n"
		    "$14\r\n+switch-master\r\n:1\r\n";

		m->sub_fd = fd;
		ck_assert_int_eq(write(fd, ok, sizeof(ok) - 1),
		    (ssize_t)sizeof(ok) - 1);
		return;
	}
	if (m->answer[0] != '\0' && strstr(buf, "SENTINEL") != NULL) {
		m->asked++;
		ck_assert_int_eq(write(fd, m->answer, strlen(m->answer)),
		    (ssize_t)strlen(m->answer));
		return;
	}
	if (m->mode == MUTE_DEAF)
		return;
	/* EVALSHA: "no such script"; the EVAL then: no answer. */
	if (m->mode == MUTE_NOSCRIPT && strstr(buf, "EVALSHA") != NULL) {
		ck_assert_int_eq(write(fd, "-NOSCRIPT No matching script.\r\n",
		    31), 31);
		return;
	}
	if (strstr(buf, "PING") != NULL) {
		/* chatty: one reply more than was asked for */
		if (m->mode == MUTE_CHATTY)
			ck_assert_int_eq(write(fd, "+PONG\r\n+MORE\r\n", 14),
			    14);
		else
			ck_assert_int_eq(write(fd, "+PONG\r\n", 7), 7);
	} else if (m->mode == MUTE_GARBAGE)
		ck_assert_int_eq(write(fd, "%garbage\r\n", 10), 10);
	else if (m->mode == MUTE_HUGE)
		mute_huge(fd);
}

static void
mute_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct mute *m = arg;
	int fd;

	fd = accept(lfd, NULL, NULL);
	if (fd == -1)
		return;
	ck_assert_int_lt(m->n, 8);
	evutil_make_socket_nonblocking(fd);
	m->fds[m->n] = fd;
	m->evs[m->n] = event_new(B, fd, EV_READ | EV_PERSIST, mute_read, m);
	event_add(m->evs[m->n], NULL);
	m->n++;
}

void
mute_start(struct mute *m)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int one = 1;

	memset(m, 0, sizeof(*m));
	m->lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(m->lfd, 0);
	setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(m->lfd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	ck_assert_int_eq(listen(m->lfd, 8), 0);
	ck_assert_int_eq(getsockname(m->lfd, (struct sockaddr *)&sin, &len),
	    0);
	m->port = ntohs(sin.sin_port);
	snprintf(m->addr, sizeof(m->addr), "127.0.0.1:%d", m->port);
	evutil_make_socket_nonblocking(m->lfd);
	m->lev = event_new(B, m->lfd, EV_READ | EV_PERSIST, mute_accept, m);
	event_add(m->lev, NULL);
}

void
mute_stop(struct mute *m)
{
	int i;

	for (i = 0; i < m->n; i++) {
		if (m->evs[i] != NULL)
			event_free(m->evs[i]);
		close(m->fds[i]);
	}
	event_free(m->lev);
	close(m->lfd);
}

void
write_file(const char *path, const char *s, size_t len)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(s, 1, len, f), len);
	fclose(f);
}

void
slurp(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

int
reconnects_ge3(void *arg)
{
	struct redis_stats st;

	redis_stats(arg, &st);
	return (st.reconnects >= 3);
}

/* main(): run s with top made under /tmp (named after name) and removed,
 * every redis-server killed; 77 (SKIP) when have is 0 and nothing
 * failed, saying that the server tests did not run. */
int
redis_fixture_run(Suite *s, const char *name, int have)
{
	SRunner *sr;
	char rm[96];
	int failed;

	snprintf(top, sizeof(top), "/tmp/%s.XXXXXX", name);
	if (mkdtemp(top) == NULL) {
		fprintf(stderr, "%s: mkdtemp: %s\n", name, strerror(errno));
		return (EXIT_FAILURE);
	}
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	redis_srv_kill_all();
	snprintf(rm, sizeof(rm), "rm -rf '%s'", top);
	if (system(rm) != 0)
		fprintf(stderr, "%s: could not remove %s\n", name, top);
	if (failed != 0)
		return (EXIT_FAILURE);
	if (!have) {
		fprintf(stderr, "%s: SKIPPED the server tests: %s is "
		    "missing (scripts/bootstrap installs redis-server)\n",
		    name, REDIS_SERVER);
		return (77);
	}
	return (EXIT_SUCCESS);
}
