/*
 * check_redis_sentinel.c - src/redis.c's Sentinel client: the parsing of
 * [store] redis_sentinel, of SENTINEL's answers and of +switch-master
 * (pure); then against fake sentinels the test holds (tests/
 * redis_fixture.h's mute peers) and real redis-server processes (a
 * master, a replica, a sentinel): bad answers skipped, a replica or a
 * read-only master refused, a switch followed, a deaf sentinel timed
 * out, AUTH to the sentinel, a real failover.  As check_redis, whose
 * fixture this is: bounded waits, every redis-server killed, exit 77
 * (SKIP) for the server tests without redis-server.
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
	Suite *s = suite_create("redis_sentinel");
	TCase *pure = tcase_create("pure");
	TCase *srv = tcase_create("server");
	int have = access(REDIS_SERVER, X_OK) == 0;

	tcase_add_test(pure, sentinels_parse);
	tcase_add_test(pure, sentinel_reply);
	tcase_add_test(pure, sentinel_config_errors);
	tcase_add_test(pure, switch_parse);
	suite_add_tcase(s, pure);
	tcase_add_checked_fixture(srv, setup, teardown);
	tcase_set_timeout(srv, 60);
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
	return (redis_fixture_run(s, "check_redis_sentinel", have));
}
