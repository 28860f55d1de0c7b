/*
 * check_redis.c - src/redis.c against a real redis-server (Debian's
 * /usr/bin/redis-server, started per test in a temp dir, on a unix socket
 * and a free 127.0.0.1 port) and against a hostile peer the test holds (a
 * socket that answers the handshake's PING and then never again).
 *
 * Every wait is a bounded poll of the loop; every redis-server is killed
 * at teardown, at exit, and by the kernel if the test process dies
 * (PR_SET_PDEATHSIG).  Without redis-server the suite runs its pure tests
 * and exits 77 (SKIP) saying so.  The Sentinel client's cases are
 * check_redis_sentinel's, on the same fixture (redis_fixture.h).
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

int
main(void)
{
	Suite *s = suite_create("redis");
	TCase *pure = tcase_create("pure");
	TCase *srv = tcase_create("server");
	int have = access(REDIS_SERVER, X_OK) == 0;

	tcase_add_test(pure, addr_forms);
	tcase_add_test(pure, addr_errors);
	tcase_add_test(pure, password_file);
	tcase_add_test(pure, config_errors);
	tcase_add_test(pure, script_sha);
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
	if (have)
		suite_add_tcase(s, srv);
	return (redis_fixture_run(s, "check_redis", have));
}
