/*
 * check_redis.c - src/redis.c against a real redis-server (Debian's
 * /usr/bin/redis-server, started per test in a temp dir, on a unix socket
 * and a free 127.0.0.1 port) and against a hostile peer the test holds (a
 * socket that answers the handshake's PING and then never again).
 *
 * Every wait is a bounded poll of the loop; every redis-server is killed
 * at teardown, at exit, and by the kernel if the test process dies
 * (PR_SET_PDEATHSIG).  Without redis-server the suite runs its pure tests
 * and exits 77 (SKIP) saying so.
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
#include "redis_srv.h"
#include "util.h"


/* ---- a redis-server per test ----------------------------------------- */

/* tests/redis_srv.c runs them; S2, S3: a replica, a sentinel. */
static struct redis_srv S, S2, S3;
static char top[64];    /* made by main, holds each test's dir; removed
			   by main even when a test failed */

/* A replica of the master at mport (--replicaof), in sync within 10 s. */
static int srv_in_sync(int);

static void
srv_start_replica(struct redis_srv *s, int mport)
{
	int64_t until;

	redis_srv_start_replica(s, top, mport);
	until = util_mono_ms() + 10000;
	while (!srv_in_sync(s->port)) {
		ck_assert_msg(util_mono_ms() < until,
		    "the replica was not in sync within 10 s");
		usleep(20000);
	}
}

/* ---- the loop -------------------------------------------------------- */

static struct event_base *B;

static void
tick(evutil_socket_t fd, short what, void *arg)
{
}

/* Run the loop until cond(arg) or ms pass; returns cond's last value. */
static int
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

static int
is_up(void *arg)
{
	struct redis_stats st;

	redis_stats(arg, &st);
	return (st.connected);
}

/* ---- commands and their answers -------------------------------------- */

struct ans {
	int calls;
	enum redis_err err;
	int type;
	long long integer;
	char str[1024];
	size_t len;             /* the string's, whole (str is cut) */
	char raw[64];           /* its first octets, binary          */
};

static void
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

struct many {
	struct ans *a;
	int n;
};

static int
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
static void
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
static int
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

/* Send and wait (5 s at most) for the answer. */
#define CMD_WAIT(r, a, ...) do {					\
	struct many m_ = { (a), 1 };					\
	ck_assert_int_eq(cmd((r), (a), __VA_ARGS__), 0);		\
	ck_assert_int_eq((a)->calls, 0);	/* never from inside */	\
	ck_assert_msg(run_until(all_answered, &m_, 5000),		\
	    "no answer within 5 s");					\
} while (0)

static struct redis_config
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

static struct redis *
connect_up(const struct redis_config *c)
{
	char err[256];
	struct redis *r;

	r = redis_new(B, c, err, sizeof(err));
	ck_assert_msg(r != NULL, "redis_new: %s", err);
	ck_assert_msg(run_until(is_up, r, 5000), "not connected in 5 s");
	return (r);
}

static void
setup(void)
{
	B = event_base_new();
	ck_assert_ptr_nonnull(B);
	memset(&S, 0, sizeof(S));
	memset(&S2, 0, sizeof(S2));
	memset(&S3, 0, sizeof(S3));
	atexit(redis_srv_kill_all);
}

static void
teardown(void)
{
	redis_srv_rm(&S);
	redis_srv_rm(&S2);
	redis_srv_rm(&S3);
	event_base_free(B);
	B = NULL;
}

/* ---- a peer that answers PING once and then nothing ------------------ */

struct mute {
	int lfd;
	struct event *lev;
	int fds[8];
	struct event *evs[8];
	int n;                  /* connections accepted */
	int port;
	char addr[32];
	int mode;               /* MUTE_PING, ... */
	char answer[256];       /* to SENTINEL ..., when not "" (a sentinel) */
	int asked;              /* SENTINEL commands seen                    */
	int sub_fd;             /* the last SUBSCRIBE's connection, 0: none  */
	int closed;             /* connections the client closed             */
};
enum { MUTE_PING = 0, MUTE_DEAF, MUTE_GARBAGE, MUTE_CHATTY, MUTE_HUGE,
    MUTE_NOSCRIPT };

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

static void
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

static void
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

/* ---- pure: addresses, password files --------------------------------- */

START_TEST(addr_forms)
{
	struct redis_addr a;
	char err[256];

	ck_assert_int_eq(redis_addr_parse("127.0.0.1:6380", &a, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(a.kind, REDIS_ADDR_TCP);
	ck_assert_str_eq(a.host, "127.0.0.1");
	ck_assert_int_eq(a.port, 6380);
	ck_assert_int_eq(redis_addr_parse("localhost", &a, err, sizeof(err)),
	    0);
	ck_assert_str_eq(a.host, "127.0.0.1");
	ck_assert_int_eq(a.port, 6379);
	ck_assert_int_eq(redis_addr_parse("[::1]:7000", &a, err, sizeof(err)),
	    0);
	ck_assert_str_eq(a.host, "::1");
	ck_assert_int_eq(a.port, 7000);
	ck_assert_int_eq(redis_addr_parse("unix:/run/redis/r.sock", &a, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(a.kind, REDIS_ADDR_UNIX);
	ck_assert_str_eq(a.path, "/run/redis/r.sock");
}
END_TEST

static void
addr_bad(const char *s, const char *says)
{
	struct redis_addr a;
	char err[256];

	err[0] = '\0';
	ck_assert_int_eq(redis_addr_parse(s, &a, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, says) != NULL, "%s: \"%s\" lacks \"%s\"",
	    s, err, says);
	ck_assert_msg(strncmp(err, "redis address", 13) == 0, "%s", err);
}

START_TEST(addr_errors)
{
	addr_bad("", "empty");
	addr_bad("unix:r.sock", "absolute");
	addr_bad("unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaa", "107");
	addr_bad("127.0.0.1:0", "1..65535");
	addr_bad("127.0.0.1:65536", "1..65535");
	addr_bad("127.0.0.1:", "1..65535");
	addr_bad("127.0.0.1:63x", "1..65535");
	addr_bad(":6379", "no host");
	addr_bad("redis.example.com:6379", "IP address");
	addr_bad("::1", "brackets");
	addr_bad("[::1", "']'");
	addr_bad("[::1]x", "':' must follow");
	addr_bad("[nothost]:1", "IP address");
}
END_TEST

static void
write_file(const char *path, const char *s, size_t len)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(s, 1, len, f), len);
	fclose(f);
}

START_TEST(password_file)
{
	char dir[] = "/tmp/check_redis_pw.XXXXXX", path[128], pw[600];
	char big[700], err[256];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pw", dir);
	write_file(path, "s3cret\r\nsecond line\n", 20);
	ck_assert_int_eq(redis_password_read(path, pw, sizeof(pw), err,
	    sizeof(err)), 0);
	ck_assert_str_eq(pw, "s3cret");
	write_file(path, "nolf", 4);
	ck_assert_int_eq(redis_password_read(path, pw, sizeof(pw), err,
	    sizeof(err)), 0);
	ck_assert_str_eq(pw, "nolf");
	write_file(path, "\n", 1);
	ck_assert_int_eq(redis_password_read(path, pw, sizeof(pw), err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_ptr_nonnull(strstr(err, "empty"));
	memset(big, 'x', sizeof(big));
	write_file(path, big, sizeof(big));
	ck_assert_int_eq(redis_password_read(path, pw, sizeof(pw), err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "512"));
	ck_assert_ptr_null(strstr(err, "xxxx"));        /* never the content */
	write_file(path, "a\0b\n", 4);
	ck_assert_int_eq(redis_password_read(path, pw, sizeof(pw), err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "NUL"));
	unlink(path);
	ck_assert_int_eq(redis_password_read(path, pw, sizeof(pw), err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	rmdir(dir);
}
END_TEST

START_TEST(config_errors)
{
	struct redis_config c = config("127.0.0.1:1");
	char err[256];

	B = event_base_new();
	c.max_inflight = 0;
	ck_assert_ptr_null(redis_new(B, &c, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "max in flight"));
	c = config("127.0.0.1:1");
	c.reconnect_max_ms = 1;
	ck_assert_ptr_null(redis_new(B, &c, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "reconnect maximum"));
	c = config("127.0.0.1:1");
	c.password_file = "/nonexistent/pw";
	ck_assert_ptr_null(redis_new(B, &c, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/pw"));
	event_base_free(B);
}
END_TEST

/* ---- against redis-server -------------------------------------------- */

/* SET, GET, EVAL and an error reply, on the port (_i 0) or the socket. */
START_TEST(commands)
{
	char addr[160];
	struct redis_config c;
	struct redis_stats st;
	struct redis *r;
	struct ans a;

	redis_srv_start(&S, top, NULL);
	if (_i == 0)
		util_strlcpy(addr, S.tcp, sizeof(addr));
	else
		snprintf(addr, sizeof(addr), "unix:%s", S.sock);
	c = config(addr);
	c.db = 3;
	r = connect_up(&c);
	CMD_WAIT(r, &a, 3, "SET", "k", "v1");
	ck_assert_int_eq(a.err, REDIS_CMD_OK);
	ck_assert_int_eq(a.type, REDIS_REPLY_STATUS);
	ck_assert_str_eq(a.str, "OK");
	CMD_WAIT(r, &a, 2, "GET", "k");
	ck_assert_int_eq(a.type, REDIS_REPLY_STRING);
	ck_assert_str_eq(a.str, "v1");
	CMD_WAIT(r, &a, 5, "EVAL",
	    "return redis.call('INCRBY', KEYS[1], ARGV[1])", "1", "n", "41");
	ck_assert_int_eq(a.err, REDIS_CMD_OK);
	ck_assert_int_eq(a.type, REDIS_REPLY_INTEGER);
	ck_assert_int_eq(a.integer, 41);
	/* The db selected is 3: db 3 has k, db 0 does not. */
	CMD_WAIT(r, &a, 4, "EVAL",
	    "local a = redis.call('EXISTS', KEYS[1]) "
	    "redis.call('SELECT', 0) "
	    "return a * 10 + redis.call('EXISTS', KEYS[1])", "1", "k");
	ck_assert_int_eq(a.type, REDIS_REPLY_INTEGER);
	ck_assert_int_eq(a.integer, 10);
	/* An error reply is an answer, not a failure. */
	CMD_WAIT(r, &a, 2, "INCR", "k");
	ck_assert_int_eq(a.err, REDIS_CMD_OK);
	ck_assert_int_eq(a.type, REDIS_REPLY_ERROR);
	ck_assert_ptr_nonnull(strstr(a.str, "not an integer"));
	/* The commands whose replies are not one per command are refused. */
	ck_assert_int_eq(cmd(r, &a, 2, "SUBSCRIBE", "ch"), -1);
	redis_stats(r, &st);
	ck_assert_int_eq(st.connected, 1);
	ck_assert_uint_eq(st.connects, 1);
	ck_assert_uint_eq(st.commands, 5);
	ck_assert_uint_eq(st.failures, 0);
	ck_assert_int_eq(st.inflight, 0);
	redis_free(r);
}
END_TEST

static int
reconnects_ge3(void *arg)
{
	struct redis_stats st;

	redis_stats(arg, &st);
	return (st.reconnects >= 3);
}

static void
slurp(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* A wrong password: refused with the server's reason, retried with
 * backoff, never logged; a right one after a reload connects, and a
 * second handle on the same file takes it without reading again. */
START_TEST(auth)
{
	char pwf[128], pwf2[128], logf[128], log[16384];
	struct redis_config c, c2;
	struct redis_stats st;
	struct redis *r, *r2, *r3;
	struct ans a;
	int saved, fd;

	redis_srv_start(&S, top, "Right-pw-7f3a");
	snprintf(pwf, sizeof(pwf), "%s/pw", S.dir);
	snprintf(logf, sizeof(logf), "%s/stderr", S.dir);
	write_file(pwf, "Wrong-pw-9c1e\n", 14);
	fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	saved = dup(2);
	dup2(fd, 2);
	close(fd);

	c = config(S.tcp);
	c.password_file = pwf;
	r = redis_new(B, &c, log, sizeof(log));
	ck_assert_ptr_nonnull(r);
	r2 = redis_new(B, &c, log, sizeof(log));
	ck_assert_ptr_nonnull(r2);
	snprintf(pwf2, sizeof(pwf2), "%s/pw2", S.dir);
	write_file(pwf2, "Right-pw-7f3a\n", 14);
	c2 = c;
	c2.password_file = pwf2;
	r3 = redis_new(B, &c2, log, sizeof(log));
	ck_assert_ptr_nonnull(r3);
	ck_assert_msg(run_until(reconnects_ge3, r, 5000),
	    "no retries within 5 s");
	redis_stats(r, &st);
	ck_assert_int_eq(st.connected, 0);
	ck_assert_int_gt(st.backoff_ms, 20);    /* it grows */
	CMD_WAIT(r, &a, 2, "GET", "k");
	ck_assert_int_eq(a.err, REDIS_CMD_DOWN);

	write_file(pwf, "Right-pw-7f3a\n", 14);
	ck_assert_int_eq(redis_reload_password(r, log, sizeof(log)), 0);
	ck_assert_msg(run_until(is_up, r, 5000), "not up after the reload");
	CMD_WAIT(r, &a, 3, "SET", "k", "v");
	ck_assert_int_eq(a.err, REDIS_CMD_OK);
	ck_assert_str_eq(a.str, "OK");
	/* The file changes again after the one read: r2, sharing r's
	 * password, still has the one r read.  r3 reads another file. */
	write_file(pwf, "Wrong-pw-0d2b\n", 14);
	ck_assert_int_eq(redis_share_password(r3, r), -1);
	ck_assert_int_eq(redis_share_password(r2, r), 0);
	ck_assert_msg(run_until(is_up, r2, 5000), "r2 not up with r's "
	    "password");
	redis_free(r);
	redis_free(r2);
	redis_free(r3);

	dup2(saved, 2);
	close(saved);
	slurp(logf, log, sizeof(log));
	ck_assert_msg(strstr(log, "event=redis.connect_failed") != NULL,
	    "%s", log);
	ck_assert_msg(strstr(log, "AUTH refused") != NULL, "%s", log);
	ck_assert_msg(strstr(log, "event=redis.connected") != NULL, "%s", log);
	ck_assert_msg(strstr(log, "Wrong-pw") == NULL, "password logged");
	ck_assert_msg(strstr(log, "Right-pw") == NULL, "password logged");
}
END_TEST

/* No password against a server that wants one: NOAUTH, not UP. */
START_TEST(auth_missing)
{
	struct redis_config c;
	struct redis *r;
	char err[256];

	redis_srv_start(&S, top, "pw-only");
	c = config(S.tcp);
	r = redis_new(B, &c, err, sizeof(err));
	ck_assert_ptr_nonnull(r);
	ck_assert(run_until(reconnects_ge3, r, 5000));
	ck_assert(!is_up(r));
	redis_free(r);
}
END_TEST

/* A peer that never answers: max_inflight commands go out, the rest are
 * refused "busy" (from the loop, not from inside the call), the refusals
 * are capped too, and redis_free answers each in flight once. */
START_TEST(inflight_cap)
{
	struct ans a[16];
	struct many m;
	struct mute mu;
	struct redis_config c;
	struct redis_stats st;
	struct redis *r;
	int i;

	mute_start(&mu);
	c = config(mu.addr);
	c.max_inflight = 4;
	c.command_timeout_ms = 30000;
	r = connect_up(&c);
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(cmd(r, &a[i], 2, "GET", "k"), 0);
	/* 4 in flight, 4 refused: the refusals' queue is full too */
	ck_assert_int_eq(cmd(r, &a[12], 2, "GET", "k"), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(cmd(r, &a[12], 2, "GET", "k"), -1);
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(a[i].calls, 0);
	m.a = a + 4;
	m.n = 4;
	ck_assert(run_until(all_answered, &m, 5000));
	for (i = 4; i < 8; i++) {
		ck_assert_int_eq(a[i].calls, 1);
		ck_assert_int_eq(a[i].err, REDIS_CMD_BUSY);
	}
	redis_stats(r, &st);
	ck_assert_int_eq(st.inflight, 4);
	ck_assert_uint_eq(st.commands, 8);
	ck_assert_uint_eq(st.failures, 4);
	/* Refused again after the turn: the queue of refusals emptied. */
	ck_assert_int_eq(cmd(r, &a[12], 2, "GET", "k"), 0);
	ck_assert_int_eq(a[12].calls, 0);
	redis_free(r);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(a[i].calls, 1);
		ck_assert_int_eq(a[i].err, REDIS_CMD_SHUTDOWN);
	}
	ck_assert_int_eq(a[12].calls, 1);
	ck_assert_int_eq(a[12].err, REDIS_CMD_SHUTDOWN);
	mute_stop(&mu);
}
END_TEST

static int
up_twice(void *arg)
{
	struct redis_stats st;

	redis_stats(arg, &st);
	return (st.connected && st.connects >= 2);
}

/* A peer that never answers: the command fails "timeout" after
 * command_timeout_ms, the connection is made again. */
START_TEST(command_timeout)
{
	struct ans a[2];
	struct many m = { a, 2 };
	struct mute mu;
	struct redis_config c;
	struct redis *r;
	int64_t t0, el;

	mute_start(&mu);
	c = config(mu.addr);
	c.command_timeout_ms = 300;
	r = connect_up(&c);
	t0 = util_mono_ms();
	ck_assert_int_eq(cmd(r, &a[0], 2, "GET", "k"), 0);
	ck_assert_int_eq(cmd(r, &a[1], 2, "GET", "k"), 0);
	ck_assert(run_until(all_answered, &m, 5000));
	el = util_mono_ms() - t0;
	ck_assert_int_eq(a[0].err, REDIS_CMD_TIMEOUT);
	ck_assert(a[1].err == REDIS_CMD_TIMEOUT || a[1].err == REDIS_CMD_DOWN);
	ck_assert_int_eq(a[0].calls, 1);
	ck_assert_int_eq(a[1].calls, 1);
	ck_assert_msg(el >= 290, "timed out after %lld ms", (long long)el);
	ck_assert_msg(run_until(up_twice, r, 5000), "no new connection");
	ck_assert_int_ge(mu.n, 2);
	redis_free(r);
	mute_stop(&mu);
}
END_TEST

/* INFO clients says blocked_clients:1 (asked again at each call). */
static int
blocked(void *arg)
{
	static struct ans a;
	struct many m = { &a, 1 };

	ck_assert_int_eq(cmd(arg, &a, 2, "INFO", "clients"), 0);
	ck_assert(run_until(all_answered, &m, 5000));
	ck_assert_int_eq(a.err, REDIS_CMD_OK);
	return (a.type == REDIS_REPLY_STRING &&
	    strstr(a.str, "blocked_clients:1") != NULL);
}

/* A peer that accepts and never answers the handshake: "connect
 * timeout", tried again, never UP. */
START_TEST(handshake_timeout)
{
	struct mute mu;
	struct redis_config c;
	struct redis_stats st;
	struct redis *r;
	struct ans a;
	char err[256];

	mute_start(&mu);
	mu.mode = MUTE_DEAF;
	c = config(mu.addr);
	c.connect_timeout_ms = 100;
	r = redis_new(B, &c, err, sizeof(err));
	ck_assert_ptr_nonnull(r);
	ck_assert(run_until(reconnects_ge3, r, 5000));
	ck_assert_int_ge(mu.n, 3);      /* each attempt a new connection */
	redis_stats(r, &st);
	ck_assert_int_eq(st.connected, 0);
	ck_assert_uint_eq(st.connects, 0);
	CMD_WAIT(r, &a, 2, "GET", "k");
	ck_assert_int_eq(a.err, REDIS_CMD_DOWN);
	redis_free(r);
	mute_stop(&mu);
}
END_TEST

/* A peer that answers with what is not RESP: the command fails "down",
 * the connection is made again. */
START_TEST(garbage_reply)
{
	struct mute mu;
	struct redis_config c;
	struct redis *r;
	struct ans a;

	mute_start(&mu);
	mu.mode = MUTE_GARBAGE;
	c = config(mu.addr);
	r = connect_up(&c);
	CMD_WAIT(r, &a, 2, "GET", "k");
	ck_assert_int_eq(a.err, REDIS_CMD_DOWN);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_msg(run_until(up_twice, r, 5000), "no new connection");
	redis_free(r);
	mute_stop(&mu);
}
END_TEST

/* A peer that answers more than was asked (hiredis 0.14 alone would
 * abort the process): dropped, tried again, the process lives. */
START_TEST(unsolicited_reply)
{
	struct mute mu;
	struct redis_config c;
	struct redis *r;
	char err[256];

	mute_start(&mu);
	mu.mode = MUTE_CHATTY;
	c = config(mu.addr);
	r = redis_new(B, &c, err, sizeof(err));
	ck_assert_ptr_nonnull(r);
	ck_assert(run_until(reconnects_ge3, r, 5000));
	ck_assert_int_ge(mu.n, 3);
	redis_free(r);
	mute_stop(&mu);
}
END_TEST

/* A reply that says it is 1 GB: the connection is dropped once the
 * buffered part passes max_reply_bytes; the command fails "down". */
START_TEST(huge_reply)
{
	struct mute mu;
	struct redis_config c;
	struct redis *r;
	struct ans a;

	mute_start(&mu);
	mu.mode = MUTE_HUGE;
	c = config(mu.addr);
	c.max_reply_bytes = 16384;
	r = connect_up(&c);
	CMD_WAIT(r, &a, 2, "GET", "k");
	ck_assert_int_eq(a.err, REDIS_CMD_DOWN);
	ck_assert_msg(run_until(up_twice, r, 5000), "no new connection");
	redis_free(r);
	mute_stop(&mu);
}
END_TEST

/* redis-server killed: what is in flight fails fast, new commands fail
 * at once; started again: UP within 2 s of its return.  _i: 0 TCP, 1
 * unix socket. */
START_TEST(kill_restart)
{
	char addr[160];
	struct ans a[4], b;
	struct many m = { a, 4 };
	struct redis_config c;
	struct redis_stats st;
	struct redis *r, *r2;
	int64_t t0, el;
	int i;

	redis_srv_start(&S, top, NULL);
	if (_i == 0)
		util_strlcpy(addr, S.tcp, sizeof(addr));
	else
		snprintf(addr, sizeof(addr), "unix:%s", S.sock);
	c = config(addr);
	r = connect_up(&c);
	/* BLPOP holds the connection at the server; the GETs wait behind. */
	ck_assert_int_eq(cmd(r, &a[0], 3, "BLPOP", "nolist", "0"), 0);
	for (i = 1; i < 4; i++)
		ck_assert_int_eq(cmd(r, &a[i], 2, "GET", "k"), 0);
	/* The server holds the BLPOP (the GETs sent behind it). */
	r2 = connect_up(&c);
	ck_assert_msg(run_until(blocked, r2, 5000), "BLPOP not blocked");
	redis_free(r2);
	redis_srv_kill(&S);
	t0 = util_mono_ms();
	ck_assert(run_until(all_answered, &m, 5000));
	el = util_mono_ms() - t0;
	ck_assert_msg(el < 2000, "in flight answered after %lld ms",
	    (long long)el);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(a[i].calls, 1);
		ck_assert_int_eq(a[i].err, REDIS_CMD_DOWN);
	}
	CMD_WAIT(r, &b, 2, "GET", "k");
	ck_assert_int_eq(b.err, REDIS_CMD_DOWN);
	ck_assert(!is_up(r));

	redis_srv_restart(&S);
	t0 = util_mono_ms();
	ck_assert_msg(run_until(is_up, r, 5000), "not back within 5 s");
	el = util_mono_ms() - t0;
	ck_assert_msg(el < 2000, "back after %lld ms", (long long)el);
	CMD_WAIT(r, &b, 3, "SET", "k", "again");
	ck_assert_int_eq(b.err, REDIS_CMD_OK);
	redis_stats(r, &st);
	ck_assert_uint_eq(st.connects, 2);
	ck_assert_uint_ge(st.reconnects, 1);
	redis_free(r);
}
END_TEST

/* Load: callbacks that send the next command as they are answered, up
 * to 256 in flight, redis-server killed after 1,000 answers.  Every one
 * of the commands sent is answered exactly once (the ones refused while
 * down too), the answers stop, nothing is left in flight. */
#define LOAD_N 4000
struct load {
	struct redis *r;
	int calls[LOAD_N];
	int errs[5];
	int sent, answered, ok_after_kill;
	int killed;
};

static void load_send(struct load *);

static struct load *L;

static void
load_cb(void *arg, enum redis_err err, const struct redisReply *rp)
{
	int i = (int)(intptr_t)arg;

	L->calls[i]++;
	L->answered++;
	L->errs[err]++;
	if (L->killed && err == REDIS_CMD_OK)
		L->ok_after_kill++;
	load_send(L);
}

static void
load_send(struct load *l)
{
	const char *argv[3] = { "INCR", "load", NULL };
	size_t len[3] = { 4, 4, 0 };

	while (l->sent < LOAD_N && l->sent - l->answered < 256) {
		if (redis_command(l->r, load_cb, (void *)(intptr_t)l->sent, 2,
		    argv, len) != 0)
			break;
		l->sent++;
	}
}

static int
load_done(void *arg)
{
	struct load *l = arg;

	return (l->answered == l->sent && l->sent == LOAD_N);
}

static int
load_1000(void *arg)
{
	return (((struct load *)arg)->answered >= 1000);
}

START_TEST(kill_under_load)
{
	struct redis_config c;
	struct redis_stats st;
	int i;

	redis_srv_start(&S, top, NULL);
	c = config(S.tcp);
	c.max_inflight = 256;
	c.reconnect_min_ms = 1000;      /* stays down while the rest go */
	c.reconnect_max_ms = 1000;
	L = xcalloc(1, sizeof(*L));
	L->r = connect_up(&c);
	load_send(L);
	ck_assert_msg(run_until(load_1000, L, 10000), "1000 not answered");
	redis_srv_kill(&S);
	L->killed = 1;
	ck_assert_msg(run_until(load_done, L, 10000),
	    "sent %d answered %d", L->sent, L->answered);
	for (i = 0; i < LOAD_N; i++)
		ck_assert_msg(L->calls[i] == 1, "command %d answered %d times",
		    i, L->calls[i]);
	ck_assert_int_ge(L->errs[REDIS_CMD_OK], 1000);
	ck_assert_int_gt(L->errs[REDIS_CMD_DOWN], 0);
	ck_assert_int_eq(L->errs[REDIS_CMD_TIMEOUT], 0);
	ck_assert_int_eq(L->errs[REDIS_CMD_SHUTDOWN], 0);
	redis_stats(L->r, &st);
	ck_assert_int_eq(st.inflight, 0);
	ck_assert_uint_eq(st.commands, LOAD_N);
	ck_assert_uint_eq(st.failures, (uint64_t)(LOAD_N -
	    L->errs[REDIS_CMD_OK]));
	redis_free(L->r);
	free(L);
}
END_TEST

/* redis_free with commands in flight at a real server and refusals
 * waiting: each callback once, "shutdown". */
START_TEST(free_inflight)
{
	struct ans a[6];
	struct redis_config c;
	struct redis *r;
	struct ans b;
	int i;

	redis_srv_start(&S, top, NULL);
	c = config(S.tcp);
	c.max_inflight = 4;
	r = connect_up(&c);
	ck_assert_int_eq(cmd(r, &a[0], 3, "BLPOP", "nolist", "0"), 0);
	for (i = 1; i < 4; i++)
		ck_assert_int_eq(cmd(r, &a[i], 2, "GET", "k"), 0);
	for (i = 4; i < 6; i++)
		ck_assert_int_eq(cmd(r, &a[i], 2, "GET", "k"), 0);
	memset(&b, 0, sizeof(b));
	redis_free(r);
	for (i = 0; i < 6; i++) {
		ck_assert_int_eq(a[i].calls, 1);
		ck_assert_int_eq(a[i].err, REDIS_CMD_SHUTDOWN);
	}
	/* and nothing later */
	run_until(all_answered, &(struct many){ &b, 1 }, 100);
	for (i = 0; i < 6; i++)
		ck_assert_int_eq(a[i].calls, 1);
}
END_TEST

/* Nothing listens: commands fail at once, attempts back off. */
START_TEST(down_at_start)
{
	struct redis_config c;
	struct redis_stats st;
	struct redis *r;
	struct ans a;
	char addr[32], err[256];

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", redis_srv_free_port());
	c = config(addr);
	r = redis_new(B, &c, err, sizeof(err));
	ck_assert_ptr_nonnull(r);
	CMD_WAIT(r, &a, 2, "GET", "k");
	ck_assert_int_eq(a.err, REDIS_CMD_DOWN);
	ck_assert(run_until(reconnects_ge3, r, 5000));
	redis_stats(r, &st);
	ck_assert_int_eq(st.connected, 0);
	ck_assert_int_ge(st.backoff_ms, 40);
	ck_assert_int_le(st.backoff_ms, 250);   /* max 200 + a quarter */
	redis_free(r);
}
END_TEST

/* ---- scripts: EVALSHA, the NOSCRIPT fallback ------------------------- */

static const char *const INCR_LUA =
    "return redis.call('INCRBY', KEYS[1], ARGV[1])";

/* Run a script with words as arguments, wait (5 s at most). */
static void
eval_wait(struct redis *r, const struct redis_script *sc, struct ans *a,
    int numkeys, int argc, ...)
{
	struct many m = { a, 1 };
	const char *argv[8];
	size_t len[8];
	va_list ap;

	memset(a, 0, sizeof(*a));
	va_start(ap, argc);
	words(argc, ap, argv, len);
	va_end(ap);
	ck_assert_int_eq(redis_eval(r, sc, numkeys, argc, argv, len, on_ans,
	    a), 0);
	ck_assert_int_eq(a->calls, 0);  /* never from inside */
	ck_assert_msg(run_until(all_answered, &m, 5000), "no answer in 5 s");
	ck_assert_int_eq(a->calls, 1);
}

static uint64_t
noscripts(struct redis *r)
{
	struct redis_stats st;

	redis_stats(r, &st);
	return (st.evalsha_noscript);
}

static int
fell_back(void *arg)
{
	return (noscripts(arg) > 0);
}

/* The SHA1 is Redis's (SCRIPT LOAD "return 1" answers the same). */
START_TEST(script_sha)
{
	struct redis_script sc;

	redis_script_init(&sc, "return 1");
	ck_assert_str_eq(sc.sha, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
	ck_assert_uint_eq(sc.len, 8);
}
END_TEST

/* A fresh server: EVALSHA answers NOSCRIPT, the EVAL loads it; then
 * EVALSHA alone; after SCRIPT FLUSH and after a restart of the server,
 * the fallback again, the caller sees one answer each time. */
START_TEST(eval_paths)
{
	struct redis_script sc;
	struct redis_config c;
	struct redis *r;
	struct ans a;

	redis_script_init(&sc, INCR_LUA);
	redis_srv_start(&S, top, NULL);
	c = config(S.tcp);
	r = connect_up(&c);
	CMD_WAIT(r, &a, 3, "SCRIPT", "EXISTS", sc.sha);
	ck_assert_int_eq(a.type, REDIS_REPLY_ARRAY);
	eval_wait(r, &sc, &a, 1, 2, "n", "5");
	ck_assert_int_eq(a.err, REDIS_CMD_OK);
	ck_assert_int_eq(a.type, REDIS_REPLY_INTEGER);
	ck_assert_int_eq(a.integer, 5);
	ck_assert_uint_eq(noscripts(r), 1);
	/* Loaded: EVALSHA answers alone. */
	eval_wait(r, &sc, &a, 1, 2, "n", "2");
	ck_assert_int_eq(a.integer, 7);
	ck_assert_uint_eq(noscripts(r), 1);
	CMD_WAIT(r, &a, 2, "SCRIPT", "FLUSH");
	ck_assert_str_eq(a.str, "OK");
	eval_wait(r, &sc, &a, 1, 2, "n", "1");
	ck_assert_int_eq(a.err, REDIS_CMD_OK);
	ck_assert_int_eq(a.integer, 8);
	ck_assert_uint_eq(noscripts(r), 2);
	/* A new process: its script cache is empty (a key of its own: what
	 * appendfsync everysec kept of n after SIGKILL is not the point). */
	redis_srv_kill(&S);
	redis_srv_restart(&S);
	ck_assert_msg(run_until(up_twice, r, 5000), "not back in 5 s");
	eval_wait(r, &sc, &a, 1, 2, "m", "10");
	ck_assert_int_eq(a.err, REDIS_CMD_OK);
	ck_assert_int_eq(a.integer, 10);
	ck_assert_uint_eq(noscripts(r), 3);
	eval_wait(r, &sc, &a, 1, 2, "m", "1");
	ck_assert_int_eq(a.integer, 11);
	ck_assert_uint_eq(noscripts(r), 3);
	CMD_WAIT(r, &a, 2, "GET", "m");
	ck_assert_str_eq(a.str, "11");
	redis_free(r);
}
END_TEST

/* What a script raises is an answer, REDIS_REPLY_ERROR, on both paths;
 * numkeys out of range is refused at the call. */
START_TEST(eval_error)
{
	struct redis_script raise, bad;
	struct redis_config c;
	struct redis *r;
	struct ans a;
	const char *argv[1] = { "k" };
	size_t len[1] = { 1 };
	int i;

	redis_script_init(&raise, "return redis.error_reply('no such plan')");
	redis_script_init(&bad, INCR_LUA);
	redis_srv_start(&S, top, NULL);
	c = config(S.tcp);
	r = connect_up(&c);
	for (i = 0; i < 2; i++) {       /* the fallback, then EVALSHA */
		eval_wait(r, &raise, &a, 0, 0);
		ck_assert_int_eq(a.err, REDIS_CMD_OK);
		ck_assert_int_eq(a.type, REDIS_REPLY_ERROR);
		ck_assert_msg(strstr(a.str, "no such plan") != NULL, "%s",
		    a.str);
		eval_wait(r, &bad, &a, 1, 2, "k", "not-a-number");
		ck_assert_int_eq(a.err, REDIS_CMD_OK);
		ck_assert_int_eq(a.type, REDIS_REPLY_ERROR);
		ck_assert_msg(strstr(a.str, "not an integer") != NULL, "%s",
		    a.str);
	}
	ck_assert_uint_eq(noscripts(r), 2);
	ck_assert_int_eq(redis_eval(r, &bad, 2, 1, argv, len, on_ans, &a), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(redis_eval(r, &bad, -1, 1, argv, len, on_ans, &a),
	    -1);
	redis_free(r);
}
END_TEST

/* Keys and arguments with NUL octets go through both paths whole. */
START_TEST(eval_binary)
{
	static const char key[] = "k\0ey", val[] = "a\0b\r\n\0c";
	struct redis_script sc;
	struct redis_config c;
	struct many m;
	struct redis *r;
	struct ans a;
	const char *argv[2] = { key, val };
	size_t len[2] = { sizeof(key) - 1, sizeof(val) - 1 };
	int i;

	redis_script_init(&sc, "redis.call('SET', KEYS[1], ARGV[1]) "
	    "return {redis.call('GET', KEYS[1]), "
	    "redis.call('STRLEN', KEYS[1]), string.len(KEYS[1])}");
	redis_srv_start(&S, top, NULL);
	c = config(S.tcp);
	r = connect_up(&c);
	for (i = 0; i < 2; i++) {
		memset(&a, 0, sizeof(a));
		m.a = &a;
		m.n = 1;
		ck_assert_int_eq(redis_eval(r, &sc, 1, 2, argv, len, on_ans,
		    &a), 0);
		ck_assert(run_until(all_answered, &m, 5000));
		ck_assert_int_eq(a.err, REDIS_CMD_OK);
		ck_assert_int_eq(a.type, REDIS_REPLY_ARRAY);
	}
	ck_assert_uint_eq(noscripts(r), 1);
	/* The value read back under the binary key, with its NULs. */
	{
		const char *gv[2] = { "GET", key };
		size_t gl[2] = { 3, sizeof(key) - 1 };

		memset(&a, 0, sizeof(a));
		ck_assert_int_eq(redis_command(r, on_ans, &a, 2, gv, gl), 0);
		ck_assert(run_until(all_answered, &m, 5000));
		ck_assert_int_eq(a.type, REDIS_REPLY_STRING);
		ck_assert_uint_eq(a.len, sizeof(val) - 1);
		ck_assert(memcmp(a.raw, val, sizeof(val) - 1) == 0);
	}
	redis_free(r);
}
END_TEST

/* A peer that answers EVALSHA "NOSCRIPT" and the EVAL never: the EVAL
 * holds the one place (max_inflight 1), a command beside it is "busy",
 * the caller has no answer yet; redis_free answers it "shutdown", once. */
START_TEST(eval_fallback_cap)
{
	struct redis_script sc;
	struct redis_config c;
	struct redis_stats st;
	struct mute mu;
	struct redis *r;
	struct ans a, b;
	struct many mb = { &b, 1 };
	const char *argv[2] = { "n", "1" };
	size_t len[2] = { 1, 1 };

	redis_script_init(&sc, INCR_LUA);
	mute_start(&mu);
	mu.mode = MUTE_NOSCRIPT;
	c = config(mu.addr);
	c.max_inflight = 1;
	c.command_timeout_ms = 30000;
	r = connect_up(&c);
	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(redis_eval(r, &sc, 1, 2, argv, len, on_ans, &a), 0);
	ck_assert_msg(run_until(fell_back, r, 5000),
	    "no NOSCRIPT fallback");
	redis_stats(r, &st);
	ck_assert_int_eq(st.inflight, 1);       /* the EVAL */
	ck_assert_uint_eq(st.commands, 2);
	ck_assert_int_eq(a.calls, 0);
	ck_assert_int_eq(cmd(r, &b, 2, "GET", "k"), 0);
	ck_assert(run_until(all_answered, &mb, 5000));
	ck_assert_int_eq(b.err, REDIS_CMD_BUSY);
	ck_assert_int_eq(a.calls, 0);
	redis_free(r);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.err, REDIS_CMD_SHUTDOWN);
	run_until(all_answered, &(struct many){ &b, 0 }, 100);
	ck_assert_int_eq(a.calls, 1);
	mute_stop(&mu);
}
END_TEST

/* Two scripts racing on a fresh server under max_inflight 2: both fall
 * back, both answered right, a third call meanwhile is "busy", and what
 * is in flight never passes the cap. */
struct capwatch {
	struct redis *r;
	struct many m;
	int max;
};

static int
capwatch(void *arg)
{
	struct capwatch *w = arg;
	struct redis_stats st;

	redis_stats(w->r, &st);
	if (st.inflight > w->max)
		w->max = st.inflight;
	return (all_answered(&w->m));
}

START_TEST(eval_race_cap)
{
	struct redis_script sc;
	struct redis_config c;
	struct redis_stats st;
	struct capwatch w;
	struct ans a[3];
	const char *argv[2] = { "n", "3" };
	size_t len[2] = { 1, 1 };
	int i;

	redis_script_init(&sc, INCR_LUA);
	redis_srv_start(&S, top, NULL);
	c = config(S.tcp);
	c.max_inflight = 2;
	memset(a, 0, sizeof(a));
	memset(&w, 0, sizeof(w));
	w.r = connect_up(&c);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(redis_eval(w.r, &sc, 1, 2, argv, len, on_ans,
		    &a[i]), 0);
	w.m.a = a;
	w.m.n = 3;
	ck_assert(run_until(capwatch, &w, 5000));
	ck_assert_int_le(w.max, 2);
	ck_assert_int_eq(a[2].err, REDIS_CMD_BUSY);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(a[i].calls, 1);
		ck_assert_int_eq(a[i].err, REDIS_CMD_OK);
		ck_assert_int_eq(a[i].type, REDIS_REPLY_INTEGER);
	}
	ck_assert_int_eq(a[0].integer + a[1].integer, 3 + 6);
	redis_stats(w.r, &st);
	ck_assert_uint_eq(st.evalsha_noscript, 2);
	ck_assert_uint_eq(st.commands, 5);      /* 2 x (EVALSHA + EVAL) + 1 */
	ck_assert_uint_eq(st.failures, 1);
	ck_assert_int_eq(st.inflight, 0);
	redis_free(w.r);
}
END_TEST

/* ---- sentinel: pure parts -------------------------------------------- */

START_TEST(sentinels_parse)
{
	struct redis_addr a[REDIS_SENTINELS_MAX];
	char err[256], list[512];
	int n, i;

	ck_assert_int_eq(redis_sentinels_parse("127.0.0.1:26379", a, &n, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(a[0].port, 26379);
	ck_assert_int_eq(redis_sentinels_parse(" 10.0.0.1:1 ,[::1]:2,\t"
	    "unix:/run/s.sock ", a, &n, err, sizeof(err)), 0);
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(a[0].host, "10.0.0.1");
	ck_assert_str_eq(a[1].host, "::1");
	ck_assert_int_eq(a[1].port, 2);
	ck_assert_int_eq(a[2].kind, REDIS_ADDR_UNIX);
	ck_assert_str_eq(a[2].path, "/run/s.sock");
	/* 8 is the cap, 9 are refused */
	list[0] = '\0';
	for (i = 0; i < 8; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
		    "%s127.0.0.%d:%d", i ? "," : "", i + 1, 26379 + i);
	ck_assert_int_eq(redis_sentinels_parse(list, a, &n, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(n, 8);
	ck_assert_int_eq(a[7].port, 26386);
	strcat(list, ",127.0.0.9:1");
	ck_assert_int_eq(redis_sentinels_parse(list, a, &n, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "more than 8") != NULL, "%s", err);
	ck_assert_int_eq(redis_sentinels_parse("", a, &n, err, sizeof(err)),
	    -1);
	ck_assert_msg(strstr(err, "element 1 is empty") != NULL, "%s", err);
	ck_assert_int_eq(redis_sentinels_parse("127.0.0.1:1,,127.0.0.1:2",
	    a, &n, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "element 2 is empty") != NULL, "%s", err);
	ck_assert_int_eq(redis_sentinels_parse("127.0.0.1:1,", a, &n, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(redis_sentinels_parse("127.0.0.1:1,sentinel.lan:2",
	    a, &n, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "element 2: redis address "
	    "\"sentinel.lan:2\": the host must be an IP") != NULL, "%s", err);
	ck_assert_int_eq(redis_sentinels_parse("127.0.0.1:0", a, &n, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "port") != NULL, "%s", err);
	ck_assert_int_eq(n, 0);

	ck_assert_int_eq(redis_master_name_check("mymaster", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(redis_master_name_check("", err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "empty") != NULL, "%s", err);
	ck_assert_int_eq(redis_master_name_check(NULL, err, sizeof(err)), -1);
	ck_assert_int_eq(redis_master_name_check("my master", err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "octet 3") != NULL, "%s", err);
	ck_assert_int_eq(redis_master_name_check("m\x7f", err, sizeof(err)),
	    -1);
	memset(list, 'm', 64);
	list[64] = '\0';
	ck_assert_int_eq(redis_master_name_check(list, err, sizeof(err)), 0);
	list[64] = 'm';
	list[65] = '\0';
	ck_assert_int_eq(redis_master_name_check(list, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "longer than 64") != NULL, "%s", err);
}
END_TEST

/* A sentinel's answer given as RESP octets, read by hiredis. */
static int
sentinel_answer(const char *resp, size_t len, struct redis_addr *a,
    char *err, size_t errsize)
{
	redisReader *rd = redisReaderCreate();
	void *rp = NULL;
	int rc;

	ck_assert_ptr_nonnull(rd);
	ck_assert_int_eq(redisReaderFeed(rd, resp, len), REDIS_OK);
	ck_assert_int_eq(redisReaderGetReply(rd, &rp), REDIS_OK);
	ck_assert_ptr_nonnull(rp);
	rc = redis_sentinel_reply(rp, a, err, errsize);
	freeReplyObject(rp);
	redisReaderFree(rd);
	return (rc);
}

#define SA(s, a, e) sentinel_answer((s), sizeof(s) - 1, (a), (e), sizeof(e))

START_TEST(sentinel_reply)
{
	struct redis_addr a;
	char err[256];

	ck_assert_int_eq(SA("*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n", &a,
	    err), 0);
	ck_assert_int_eq(a.kind, REDIS_ADDR_TCP);
	ck_assert_str_eq(a.host, "127.0.0.1");
	ck_assert_int_eq(a.port, 6380);
	ck_assert_int_eq(SA("*2\r\n$7\r\nfe80::1\r\n$5\r\n65535\r\n", &a,
	    err), 0);
	ck_assert_str_eq(a.host, "fe80::1");
	ck_assert_int_eq(a.port, 65535);
	ck_assert_int_eq(SA("*-1\r\n", &a, err), -1);
	ck_assert_msg(strstr(err, "does not know the master") != NULL, "%s",
	    err);
	ck_assert_int_eq(SA("$-1\r\n", &a, err), -1);
	ck_assert_int_eq(SA("-IDONTKNOW \"x\r\n", &a, err), -1);
	ck_assert_msg(strstr(err, "error reply \"IDONTKNOW ?x\"") != NULL,
	    "%s", err);
	ck_assert_int_eq(SA("+OK\r\n", &a, err), -1);
	ck_assert_msg(strstr(err, "not an array of 2") != NULL, "%s", err);
	ck_assert_int_eq(SA("*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", &a,
	    err), -1);
	ck_assert_int_eq(SA("*1\r\n$9\r\n127.0.0.1\r\n", &a, err), -1);
	ck_assert_int_eq(SA("*2\r\n$9\r\n127.0.0.1\r\n:6380\r\n", &a, err),
	    -1);
	ck_assert_msg(strstr(err, "not strings") != NULL, "%s", err);
	ck_assert_int_eq(SA("*2\r\n*0\r\n$4\r\n6380\r\n", &a, err), -1);
	ck_assert_int_eq(SA("*2\r\n$13\r\nredis.example\r\n$4\r\n6380\r\n",
	    &a, err), -1);
	ck_assert_msg(strstr(err, "not an IP address") != NULL, "%s", err);
	ck_assert_int_eq(SA("*2\r\n$10\r\n127.0.0.1\0\r\n$4\r\n6380\r\n", &a,
	    err), -1);
	ck_assert_int_eq(SA("*2\r\n$0\r\n\r\n$4\r\n6380\r\n", &a, err), -1);
	ck_assert_int_eq(SA("*2\r\n$9\r\n127.0.0.1\r\n$1\r\n0\r\n", &a, err),
	    -1);
	ck_assert_msg(strstr(err, "1..65535") != NULL, "%s", err);
	ck_assert_int_eq(SA("*2\r\n$9\r\n127.0.0.1\r\n$5\r\n65536\r\n", &a,
	    err), -1);
	ck_assert_int_eq(SA("*2\r\n$9\r\n127.0.0.1\r\n$3\r\n-80\r\n", &a,
	    err), -1);
	ck_assert_int_eq(SA("*2\r\n$9\r\n127.0.0.1\r\n$9\r\n000006380\r\n",
	    &a, err), -1);
	ck_assert_int_eq(SA("*2\r\n$9\r\n127.0.0.1\r\n$0\r\n\r\n", &a, err),
	    -1);
	ck_assert_int_eq(a.kind, 0);    /* nothing half-filled */
}
END_TEST

/* A sentinel configuration refused at redis_new, naming the field. */
START_TEST(sentinel_config_errors)
{
	struct redis_config c;
	char err[256];

	B = event_base_new();
	c = config(NULL);
	c.sentinels = "127.0.0.1:26379,,";
	c.master_name = "mymaster";
	ck_assert_ptr_null(redis_new(B, &c, err, sizeof(err)));
	ck_assert_msg(strstr(err, "redis sentinels: element 2") != NULL, "%s",
	    err);
	c.sentinels = "127.0.0.1:26379";
	c.master_name = "";
	ck_assert_ptr_null(redis_new(B, &c, err, sizeof(err)));
	ck_assert_msg(strstr(err, "redis master name") != NULL, "%s", err);
	event_base_free(B);
}
END_TEST

/* ---- sentinel: against fakes and real processes ---------------------- */

/* stderr into a file while a test runs (the logs). */
static int
cap_start(const char *path)
{
	int fd, saved;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	saved = dup(2);
	dup2(fd, 2);
	close(fd);
	return (saved);
}

static void
cap_end(int saved)
{
	dup2(saved, 2);
	close(saved);
}

/* A fake sentinel's answer: this master's address. */
static void
answer_addr(struct mute *m, int port)
{
	char p[8];

	snprintf(p, sizeof(p), "%d", port);
	snprintf(m->answer, sizeof(m->answer),
	    "*2\r\n$9\r\n127.0.0.1\r\n$%zu\r\n%s\r\n", strlen(p), p);
}

/* A synchronous command to a server of the test's (not the loop's). */
static redisReply *
sync_cmd(int port, const char *fmt, ...)
{
	struct timeval tv = { 2, 0 };
	redisContext *c;
	redisReply *rp;
	va_list ap;

	c = redisConnectWithTimeout("127.0.0.1", port, tv);
	ck_assert_ptr_nonnull(c);
	if (c->err != 0) {
		redisFree(c);
		return (NULL);
	}
	redisSetTimeout(c, tv);
	va_start(ap, fmt);
	rp = redisvCommand(c, fmt, ap);
	va_end(ap);
	redisFree(c);
	return (rp);
}

/* The replica at port has its link to the master up. */
static int
srv_in_sync(int port)
{
	redisReply *rp = sync_cmd(port, "INFO replication");
	int ok;

	ok = rp != NULL && rp->type == REDIS_REPLY_STRING &&
	    strstr(rp->str, "master_link_status:up") != NULL;
	if (rp != NULL)
		freeReplyObject(rp);
	return (ok);
}

/* ROLE's first word at port is "master". */
static int
role_is_master(int port)
{
	redisReply *rp = sync_cmd(port, "ROLE");
	int ok;

	ok = rp != NULL && rp->type == REDIS_REPLY_ARRAY &&
	    rp->elements > 0 && rp->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(rp->element[0]->str, "master") == 0;
	if (rp != NULL)
		freeReplyObject(rp);
	return (ok);
}

/* GET key at port equals want. */
static int
has_value(int port, const char *key, const char *want)
{
	redisReply *rp = sync_cmd(port, "GET %s", key);
	int ok;

	ok = rp != NULL && rp->type == REDIS_REPLY_STRING &&
	    strcmp(rp->str, want) == 0;
	if (rp != NULL)
		freeReplyObject(rp);
	return (ok);
}

/* Sentinels that are not there, answer garbage, or do not know the
 * master are skipped, each with a log line saying why; the one after
 * them gives the master, and commands go there. */
static const struct {
	const char *answer;
	const char *logged;     /* the reason in the log */
} bad_answers[] = {
	{ "+OK\r\n", "answer refused: not an array of 2" },
	{ "*2\r\n$13\r\nredis.example\r\n$4\r\n6379\r\n",
	    "answer refused: the host is not an IP address" },
	{ "*2\r\n$9\r\n127.0.0.1\r\n$5\r\n99999\r\n",
	    "answer refused: the port is not a number" },
	{ "*-1\r\n", "answer refused: the sentinel does not know" },
	{ "-ERR unknown command\r\n", "answer refused: error reply" },
	{ "%garbage\r\n", "Protocol error" },
	/* the guard's caps hold on the sentinel's connection too */
	{ "*3000000\r\n", "reason=\"reply too large\"" },
	{ "+OK\r\n+MORE\r\n", "answer refused: not an array of 2" },
};

START_TEST(sentinel_skips_bad)
{
	char list[256], logf[128], log[16384];
	struct redis_config c;
	struct redis_stats st;
	struct mute bad, good;
	struct redis *r;
	struct ans a;
	int saved;

	redis_srv_start(&S, top, NULL);
	mute_start(&bad);
	mute_start(&good);
	util_strlcpy(bad.answer, bad_answers[_i].answer, sizeof(bad.answer));
	answer_addr(&good, S.port);
	snprintf(list, sizeof(list), "127.0.0.1:%d, %s,%s", redis_srv_free_port(),
	    bad.addr, good.addr);
	snprintf(logf, sizeof(logf), "%s/stderr", S.dir);
	saved = cap_start(logf);
	c = config(NULL);
	c.sentinels = list;
	c.master_name = "mymaster";
	r = connect_up(&c);
	CMD_WAIT(r, &a, 3, "SET", "via", "sentinel");
	ck_assert_int_eq(a.err, REDIS_CMD_OK);
	ck_assert_str_eq(a.str, "OK");
	redis_stats(r, &st);
	ck_assert_uint_eq(st.sentinel_asks, 3);
	ck_assert_int_eq(bad.asked, 1);
	ck_assert_int_eq(good.asked, 1);
	ck_assert_str_eq(st.master, S.tcp);
	redis_free(r);
	cap_end(saved);
	ck_assert(has_value(S.port, "via", "sentinel"));
	slurp(logf, log, sizeof(log));
	ck_assert_msg(strstr(log, "event=redis.sentinel_failed") != NULL,
	    "%s", log);
	ck_assert_msg(strstr(log, "Connection refused") != NULL, "%s", log);
	ck_assert_msg(strstr(log, bad_answers[_i].logged) != NULL, "%s",
	    log);
	if (strstr(bad_answers[_i].logged, "answer refused") != NULL)
		ck_assert_uint_eq(st.sentinel_refused, 1);
	ck_assert_msg(strstr(log, "event=redis.sentinel_master") != NULL,
	    "%s", log);
	mute_stop(&bad);
	mute_stop(&good);
}
END_TEST

/* A sentinel that points at a replica (a stale answer): ROLE refuses
 * it, the sentinel is asked again at each attempt; once it points at
 * the master, UP. */
START_TEST(sentinel_role_replica)
{
	char logf[128], log[16384];
	struct redis_config c;
	struct redis_stats st;
	struct mute fake;
	struct redis *r;
	struct ans a;
	char err[256];
	int saved;

	redis_srv_start(&S, top, NULL);
	srv_start_replica(&S2, S.port);
	mute_start(&fake);
	answer_addr(&fake, S2.port);
	snprintf(logf, sizeof(logf), "%s/stderr", S.dir);
	saved = cap_start(logf);
	c = config(NULL);
	c.sentinels = fake.addr;
	c.master_name = "mymaster";
	r = redis_new(B, &c, err, sizeof(err));
	ck_assert_ptr_nonnull(r);
	ck_assert(run_until(reconnects_ge3, r, 5000));
	ck_assert_int_ge(fake.asked, 3);
	redis_stats(r, &st);
	ck_assert_int_eq(st.connected, 0);
	ck_assert_uint_eq(st.connects, 0);
	CMD_WAIT(r, &a, 2, "GET", "k");
	ck_assert_int_eq(a.err, REDIS_CMD_DOWN);
	answer_addr(&fake, S.port);
	ck_assert_msg(run_until(is_up, r, 5000), "not up on the master");
	CMD_WAIT(r, &a, 3, "SET", "k", "m");
	ck_assert_int_eq(a.err, REDIS_CMD_OK);
	redis_free(r);
	cap_end(saved);
	slurp(logf, log, sizeof(log));
	ck_assert_msg(strstr(log, "ROLE: not the master") != NULL, "%s", log);
	mute_stop(&fake);
}
END_TEST

static int
set_ok(void *arg)
{
	static struct ans a;
	struct many m = { &a, 1 };

	if (cmd(arg, &a, 3, "SET", "after", "failover") != 0)
		return (0);
	ck_assert(run_until(all_answered, &m, 5000));
	return (a.err == REDIS_CMD_OK && a.type == REDIS_REPLY_STATUS);
}

/* A switch by hand: the replica promoted, the old master made its
 * replica, the (fake) sentinel answers the new one.  The next write on
 * the old master is answered READONLY: the command fails "down", the
 * connection is dropped and follows the sentinel to the new master. */
START_TEST(sentinel_readonly)
{
	char logf[128], log[16384];
	struct redis_config c;
	struct mute fake;
	struct redis *r;
	redisReply *rp;
	struct ans a;
	int saved;

	redis_srv_start(&S, top, NULL);
	srv_start_replica(&S2, S.port);
	snprintf(logf, sizeof(logf), "%s/stderr", S.dir);
	saved = cap_start(logf);
	mute_start(&fake);
	answer_addr(&fake, S.port);
	c = config(NULL);
	c.sentinels = fake.addr;
	c.master_name = "mymaster";
	r = connect_up(&c);
	CMD_WAIT(r, &a, 3, "SET", "k", "before");
	ck_assert_int_eq(a.err, REDIS_CMD_OK);

	rp = sync_cmd(S2.port, "REPLICAOF NO ONE");
	ck_assert_ptr_nonnull(rp);
	freeReplyObject(rp);
	rp = sync_cmd(S.port, "REPLICAOF 127.0.0.1 %d", S2.port);
	ck_assert_ptr_nonnull(rp);
	freeReplyObject(rp);
	answer_addr(&fake, S2.port);
	CMD_WAIT(r, &a, 3, "SET", "k", "lost");
	ck_assert_int_eq(a.err, REDIS_CMD_DOWN);
	ck_assert_msg(run_until(set_ok, r, 10000), "no write within 10 s");
	ck_assert(has_value(S2.port, "after", "failover"));
	ck_assert(role_is_master(S2.port));
	redis_free(r);
	cap_end(saved);
	slurp(logf, log, sizeof(log));
	ck_assert_msg(strstr(log, "answered READONLY") != NULL, "%s", log);
	mute_stop(&fake);
}
END_TEST

START_TEST(switch_parse)
{
	struct redis_addr to;
	char err[256];

#define SW(s) redis_switch_parse((s), strlen(s), "mymaster", &to, err, \
	    sizeof(err))
	ck_assert_int_eq(SW("mymaster 10.0.0.1 6379 10.0.0.2 6380"), 1);
	ck_assert_str_eq(to.host, "10.0.0.2");
	ck_assert_int_eq(to.port, 6380);
	ck_assert_int_eq(to.kind, REDIS_ADDR_TCP);
	ck_assert_int_eq(SW("mymaster ::1 6379 fe80::2 1"), 1);
	ck_assert_str_eq(to.host, "fe80::2");
	ck_assert_int_eq(SW("other 10.0.0.1 6379 10.0.0.2 6380"), 0);
	ck_assert_int_eq(SW("mymaster2 10.0.0.1 6379 10.0.0.2 6380"), 0);
	ck_assert_int_eq(SW("mymaster 10.0.0.1 6379 redis.lan 6380"), -1);
	ck_assert_msg(strstr(err, "not an IP address") != NULL, "%s", err);
	ck_assert_int_eq(SW("mymaster 10.0.0.1 6379 10.0.0.2 0"), -1);
	ck_assert_int_eq(SW("mymaster 10.0.0.1 6379 10.0.0.2 65536"), -1);
	ck_assert_int_eq(SW("mymaster 10.0.0.1 6379 10.0.0.2"), -1);
	ck_assert_msg(strstr(err, "not 5 words") != NULL, "%s", err);
	ck_assert_int_eq(SW("mymaster 10.0.0.1 6379 10.0.0.2 6380 x"), -1);
	ck_assert_int_eq(SW("mymaster  10.0.0.1 6379 10.0.0.2 6380"), -1);
	ck_assert_int_eq(SW("mymaster 10.0.0.1 6379 10.0.0.2 6380 "), -1);
	ck_assert_int_eq(SW(""), -1);
	ck_assert_int_eq(redis_switch_parse("mymaster 1 2 10.0.0.2 6\0", 24,
	    "mymaster", &to, err, sizeof(err)), -1);
	ck_assert_int_eq(to.kind, 0);
#undef SW
}
END_TEST

/* Two masters, no replication between them: the (fake) sentinel gives
 * the first, then announces +switch-master to the second.  The first is
 * still a master and fails nothing: only the subscription can move the
 * connection, which it does at once; writes then land on the second. */
static int
on_second(void *arg)
{
	struct redis_stats st;

	redis_stats(arg, &st);
	return (st.connected && strcmp(st.master, S2.tcp) == 0);
}

static int
subscribed(void *arg)
{
	return (((struct mute *)arg)->sub_fd != 0);
}

START_TEST(sentinel_switch)
{
	char msg[160], logf[128], log[16384];
	struct redis_config c;
	struct mute fake;
	struct redis *r;
	struct ans a;
	int n, saved;

	redis_srv_start(&S, top, NULL);
	redis_srv_start(&S2, top, NULL);
	mute_start(&fake);
	answer_addr(&fake, S.port);
	snprintf(logf, sizeof(logf), "%s/stderr", S.dir);
	saved = cap_start(logf);
	c = config(NULL);
	c.sentinels = fake.addr;
	c.master_name = "mymaster";
	c.reconnect_min_ms = 5000;      /* a backoff would show */
	c.reconnect_max_ms = 5000;
	r = connect_up(&c);
	ck_assert_msg(run_until(subscribed, &fake, 5000), "no SUBSCRIBE");
	CMD_WAIT(r, &a, 3, "SET", "k", "first");
	ck_assert_int_eq(a.err, REDIS_CMD_OK);
	/* Another master's switch is not ours. */
	n = snprintf(msg, sizeof(msg), "other 127.0.0.1 %d 127.0.0.1 %d",
	    S.port, S2.port);
	dprintf(fake.sub_fd, "*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master"
	    "\r\n$%d\r\n%s\r\n", n, msg);
	answer_addr(&fake, S2.port);
	n = snprintf(msg, sizeof(msg), "mymaster 127.0.0.1 %d 127.0.0.1 %d",
	    S.port, S2.port);
	dprintf(fake.sub_fd, "*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master"
	    "\r\n$%d\r\n%s\r\n", n, msg);
	/* Bounded, not timed: nothing else would ever move it. */
	ck_assert_msg(run_until(on_second, r, 10000), "not on the second "
	    "master within 10 s");
	CMD_WAIT(r, &a, 3, "SET", "k", "second");
	ck_assert_int_eq(a.err, REDIS_CMD_OK);
	ck_assert(has_value(S2.port, "k", "second"));
	ck_assert(has_value(S.port, "k", "first"));
	redis_free(r);
	cap_end(saved);
	slurp(logf, log, sizeof(log));
	ck_assert_msg(strstr(log, "event=redis.sentinel_switch") != NULL,
	    "%s", log);
	mute_stop(&fake);
}
END_TEST

/* A malformed +switch-master, or a push hiredis 0.14 would abort the
 * process on, ends the subscription, with a log line; the connection
 * stays up on its master. */
static const struct {
	const char *push;
	const char *logged;
} bad_pushes[] = {
	{ "*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$27\r\n"
	    "mymaster a 1 redis.lan 6379\r\n", "+switch-master: the new address" },
	{ "*1\r\n$7\r\nmessage\r\n", "malformed push" },
	{ "*0\r\n", "malformed push" },
	{ "*3\r\n:1\r\n$1\r\na\r\n$1\r\nb\r\n", "malformed push" },
	{ "*3\r\n$7\r\nmessage\r\n*0\r\n$1\r\nb\r\n", "malformed push" },
	{ "*3\r\n$11\r\nunsubscribe\r\n$14\r\n+switch-master\r\n$1\r\n"
	    "x\r\n", "malformed push" },
	{ "*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n:5\r\n",
	    "+switch-master: not a string" },
};

static int
sub_closed(void *arg)
{
	return (((struct mute *)arg)->closed > 0);
}

START_TEST(sentinel_switch_garbage)
{
	char logf[128], log[16384];
	struct redis_config c;
	struct mute fake;
	struct redis *r;
	struct ans a;
	int saved;

	redis_srv_start(&S, top, NULL);
	mute_start(&fake);
	answer_addr(&fake, S.port);
	snprintf(logf, sizeof(logf), "%s/stderr", S.dir);
	saved = cap_start(logf);
	c = config(NULL);
	c.sentinels = fake.addr;
	c.master_name = "mymaster";
	r = connect_up(&c);
	ck_assert_msg(run_until(subscribed, &fake, 5000), "no SUBSCRIBE");
	dprintf(fake.sub_fd, "%s", bad_pushes[_i].push);
	CMD_WAIT(r, &a, 3, "SET", "k", "still");
	ck_assert_int_eq(a.err, REDIS_CMD_OK);
	ck_assert_msg(run_until(sub_closed, &fake, 5000),
	    "the subscription was not ended");
	redis_free(r);
	cap_end(saved);
	slurp(logf, log, sizeof(log));
	ck_assert_msg(strstr(log, bad_pushes[_i].logged) != NULL, "%s", log);
	ck_assert_msg(strstr(log, "event=redis.sentinel_switch") == NULL,
	    "%s", log);
	ck_assert(has_value(S.port, "k", "still"));
	mute_stop(&fake);
}
END_TEST

/* A sentinel that accepts and never answers: given up after the
 * connect timeout, the next one asked; redis_free while asking it. */
static int deaf_n0;

static int
asked_again(void *arg)
{
	return (((struct mute *)arg)->n > deaf_n0);
}

START_TEST(sentinel_deaf)
{
	char list[128], logf[128], log[16384];
	struct redis_config c;
	struct mute deaf, good;
	struct redis *r;
	struct ans a;
	char err[256];
	int saved;

	redis_srv_start(&S, top, NULL);
	mute_start(&deaf);
	deaf.mode = MUTE_DEAF;
	mute_start(&good);
	answer_addr(&good, S.port);
	snprintf(list, sizeof(list), "%s,%s", deaf.addr, good.addr);
	snprintf(logf, sizeof(logf), "%s/stderr", S.dir);
	saved = cap_start(logf);
	c = config(NULL);
	c.sentinels = list;
	c.master_name = "mymaster";
	c.connect_timeout_ms = 300;
	r = connect_up(&c);
	CMD_WAIT(r, &a, 3, "SET", "k", "v");
	ck_assert_int_eq(a.err, REDIS_CMD_OK);
	redis_free(r);
	cap_end(saved);
	slurp(logf, log, sizeof(log));
	ck_assert_msg(strstr(log, "no answer within the connect timeout") !=
	    NULL, "%s", log);

	/* Freed while it waits for the deaf one's answer. */
	c.sentinels = deaf.addr;
	c.connect_timeout_ms = 30000;
	deaf_n0 = deaf.n;
	r = redis_new(B, &c, err, sizeof(err));
	ck_assert_ptr_nonnull(r);
	ck_assert(run_until(asked_again, &deaf, 5000));
	CMD_WAIT(r, &a, 2, "GET", "k");
	ck_assert_int_eq(a.err, REDIS_CMD_DOWN);
	redis_free(r);
	mute_stop(&deaf);
	mute_stop(&good);
}
END_TEST

/* Clients of the sentinel at port (password pass) subscribed to a
 * channel, from CLIENT LIST. */
static int
sentinel_subscribers(int port, const char *pass)
{
	struct timeval tv = { 2, 0 };
	redisContext *c;
	redisReply *rp;
	const char *p;
	int n = 0;

	c = redisConnectWithTimeout("127.0.0.1", port, tv);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->err, 0);
	redisSetTimeout(c, tv);
	rp = redisCommand(c, "AUTH %s", pass);
	ck_assert_ptr_nonnull(rp);
	ck_assert_int_eq(rp->type, REDIS_REPLY_STATUS);
	freeReplyObject(rp);
	rp = redisCommand(c, "CLIENT LIST");
	ck_assert_ptr_nonnull(rp);
	ck_assert_int_eq(rp->type, REDIS_REPLY_STRING);
	for (p = rp->str; (p = strstr(p, " sub=1 ")) != NULL; p++)
		n++;
	freeReplyObject(rp);
	redisFree(c);
	return (n);
}

static int
subscribed_real(void *arg)
{
	usleep(20000);
	return (sentinel_subscribers(S3.port, arg) > 0);
}

/* A sentinel with requirepass: a wrong password file is refused with the
 * sentinel's sentence (never the password in the log), the right one
 * after a reload asks, connects, and subscribes with it. */
START_TEST(sentinel_auth)
{
	char pwf[128], logf[128], log[16384], spw[] = "Sent-pw-41c2";
	struct redis_config c;
	struct redis *r;
	struct ans a;
	int saved;

	redis_srv_start(&S, top, NULL);
	redis_srv_start_sentinel(&S3, top, S.port, spw);
	snprintf(pwf, sizeof(pwf), "%s/spw", S3.dir);
	snprintf(logf, sizeof(logf), "%s/stderr", S.dir);
	write_file(pwf, "Wrong-pw-0b7d\n", 14);
	saved = cap_start(logf);
	c = config(NULL);
	c.sentinels = S3.tcp;
	c.master_name = "mymaster";
	c.sentinel_password_file = pwf;
	r = redis_new(B, &c, log, sizeof(log));
	ck_assert_ptr_nonnull(r);
	ck_assert(run_until(reconnects_ge3, r, 5000));
	ck_assert(!is_up(r));
	write_file(pwf, "Sent-pw-41c2\n", 13);
	ck_assert_int_eq(redis_reload_password(r, log, sizeof(log)), 0);
	ck_assert_msg(run_until(is_up, r, 5000), "not up after the reload");
	CMD_WAIT(r, &a, 3, "SET", "k", "v");
	ck_assert_int_eq(a.err, REDIS_CMD_OK);
	ck_assert_msg(run_until(subscribed_real, spw, 5000),
	    "no subscription at the sentinel");
	redis_free(r);
	cap_end(saved);
	slurp(logf, log, sizeof(log));
	ck_assert_msg(strstr(log, "AUTH refused: WRONGPASS") != NULL, "%s",
	    log);
	ck_assert_msg(strstr(log, "Wrong-pw") == NULL, "password logged");
	ck_assert_msg(strstr(log, "Sent-pw") == NULL, "password logged");
	/* An unreadable one is refused at redis_new, naming the file. */
	c.sentinel_password_file = "/nonexistent/spw";
	ck_assert_ptr_null(redis_new(B, &c, log, sizeof(log)));
	ck_assert_ptr_nonnull(strstr(log, "/nonexistent/spw"));
}
END_TEST

/* The sentinel knows a replica of mymaster that is in sync. */
static int
sentinel_sees_replica(void *arg)
{
	redisReply *rp = sync_cmd(*(int *)arg, "SENTINEL replicas mymaster");
	size_t i, j;
	int ok = 0;

	if (rp == NULL)
		return (0);
	for (i = 0; rp->type == REDIS_REPLY_ARRAY && i < rp->elements; i++)
		for (j = 0; j + 1 < rp->element[i]->elements; j += 2)
			if (strcmp(rp->element[i]->element[j]->str,
			    "flags") == 0 && strcmp(rp->element[i]->
			    element[j + 1]->str, "slave") == 0)
				ok = 1;
	freeReplyObject(rp);
	usleep(50000);
	return (ok);
}

/* A real failover: master, replica and sentinel on 127.0.0.1; the master
 * killed -9; the connection follows to the promoted replica, writes go
 * there within 30 s. */
START_TEST(sentinel_failover)
{
	struct redis_config c;
	struct redis_stats st;
	struct redis *r;
	struct ans a;
	int64_t t0;

	redis_srv_start(&S, top, NULL);
	srv_start_replica(&S2, S.port);
	redis_srv_start_sentinel(&S3, top, S.port, NULL);
	ck_assert_msg(run_until(sentinel_sees_replica, &S3.port, 20000),
	    "the sentinel did not see the replica within 20 s");
	c = config(NULL);
	c.sentinels = S3.tcp;
	c.master_name = "mymaster";
	c.connect_timeout_ms = 500;
	r = connect_up(&c);
	redis_stats(r, &st);
	ck_assert_str_eq(st.master, S.tcp);
	CMD_WAIT(r, &a, 3, "SET", "k", "before");
	ck_assert_int_eq(a.err, REDIS_CMD_OK);

	redis_srv_kill(&S);
	t0 = util_mono_ms();
	ck_assert_msg(run_until(set_ok, r, 30000),
	    "no write on a new master within 30 s");
	redis_stats(r, &st);
	ck_assert_str_eq(st.master, S2.tcp);
	ck_assert_uint_ge(st.connects, 2);
	ck_assert(role_is_master(S2.port));
	ck_assert(has_value(S2.port, "after", "failover"));
	ck_assert(has_value(S2.port, "k", "before"));
	fprintf(stderr, "check_redis: failover followed in %lld ms\n",
	    (long long)(util_mono_ms() - t0));
	redis_free(r);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("redis");
	TCase *pure = tcase_create("pure");
	TCase *srv = tcase_create("server");
	SRunner *sr;
	int failed, have = access(REDIS_SERVER, X_OK) == 0;
	char rm[96];

	tcase_add_test(pure, addr_forms);
	tcase_add_test(pure, addr_errors);
	tcase_add_test(pure, password_file);
	tcase_add_test(pure, config_errors);
	tcase_add_test(pure, script_sha);
	tcase_add_test(pure, sentinels_parse);
	tcase_add_test(pure, sentinel_reply);
	tcase_add_test(pure, sentinel_config_errors);
	tcase_add_test(pure, switch_parse);
	suite_add_tcase(s, pure);
	tcase_add_checked_fixture(srv, setup, teardown);
	tcase_set_timeout(srv, 60);
	tcase_add_loop_test(srv, commands, 0, 2);
	tcase_add_test(srv, auth);
	tcase_add_test(srv, auth_missing);
	tcase_add_test(srv, inflight_cap);
	tcase_add_test(srv, command_timeout);
	tcase_add_loop_test(srv, kill_restart, 0, 2);
	tcase_add_test(srv, handshake_timeout);
	tcase_add_test(srv, garbage_reply);
	tcase_add_test(srv, unsolicited_reply);
	tcase_add_test(srv, huge_reply);
	tcase_add_test(srv, free_inflight);
	tcase_add_test(srv, kill_under_load);
	tcase_add_test(srv, down_at_start);
	tcase_add_test(srv, eval_paths);
	tcase_add_test(srv, eval_error);
	tcase_add_test(srv, eval_binary);
	tcase_add_test(srv, eval_fallback_cap);
	tcase_add_test(srv, eval_race_cap);
	tcase_add_loop_test(srv, sentinel_skips_bad, 0,
	    sizeof(bad_answers) / sizeof(bad_answers[0]));
	tcase_add_test(srv, sentinel_role_replica);
	tcase_add_test(srv, sentinel_readonly);
	tcase_add_test(srv, sentinel_failover);
	tcase_add_test(srv, sentinel_switch);
	tcase_add_loop_test(srv, sentinel_switch_garbage, 0,
	    sizeof(bad_pushes) / sizeof(bad_pushes[0]));
	tcase_add_test(srv, sentinel_deaf);
	tcase_add_test(srv, sentinel_auth);
	if (have)
		suite_add_tcase(s, srv);
	snprintf(top, sizeof(top), "/tmp/check_redis.XXXXXX");
	if (mkdtemp(top) == NULL) {
		perror("check_redis: mkdtemp");
		return (EXIT_FAILURE);
	}
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	redis_srv_kill_all();
	snprintf(rm, sizeof(rm), "rm -rf '%s'", top);
	if (system(rm) != 0)
		fprintf(stderr, "check_redis: could not remove %s\n", top);
	if (failed != 0)
		return (EXIT_FAILURE);
	if (!have) {
		fprintf(stderr, "check_redis: SKIPPED the server tests: %s is "
		    "missing (scripts/bootstrap installs redis-server)\n",
		    REDIS_SERVER);
		return (77);
	}
	return (EXIT_SUCCESS);
}
