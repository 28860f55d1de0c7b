/*
 * redis_bench.c - what one connection of src/redis.c carries: N commands
 * with up to W in flight, against a redis-server already running, then
 * commands/s and the latency's median and 99th percentile.  The commands
 * are SET of a 64-octet value, or (-l) an EVAL of a small Lua script that
 * does what the store's commit will: HSET a record, SET an index entry;
 * with -s the same script through redis_eval (EVALSHA).
 *
 *	redis-server --port 0 --unixsocket /tmp/rb.sock --save "" &
 *	tests/redis_bench -a unix:/tmp/rb.sock -n 100000 -w 64 [-l | -s]
 *
 * Bounded: at most -n commands (default 100000) and 60 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "redis.h"
#include "util.h"

static const char *script =
    "redis.call('HSET', KEYS[1], 'v', ARGV[1], 'n', ARGV[2]) "
    "redis.call('SET', KEYS[2], ARGV[2]) return 1";

struct bench {
	struct event_base *base;
	struct redis *r;
	int n, w, lua, sha;
	struct redis_script sc;
	int sent, done, failed, inflight;
	int64_t *lat_us;
	int64_t *start_us;
	int64_t t0, until;
};

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

static void fill(struct bench *);

static void
on_reply(void *arg, enum redis_err err, const struct redisReply *rp)
{
	int64_t *slot = arg;
	struct bench *b = (struct bench *)slot[1];
	int i = (int)slot[0];

	free(slot);
	b->lat_us[b->done++] = now_us() - b->start_us[i];
	b->inflight--;
	if (err != REDIS_CMD_OK)
		b->failed++;
	fill(b);
}

static void
fill(struct bench *b)
{
	char key[32], idx[32], val[65], num[16];
	const char *argv[7];
	size_t len[7];
	int64_t *slot;
	int argc;

	if (util_mono_ms() > b->until) {
		if (b->inflight == 0)
			event_base_loopbreak(b->base);
		return;
	}
	while (b->inflight < b->w && b->sent < b->n) {
		snprintf(key, sizeof(key), "bench:v:%d", b->sent);
		snprintf(idx, sizeof(idx), "bench:i:%d", b->sent % 1000);
		snprintf(num, sizeof(num), "%d", b->sent);
		memset(val, 'v', 64);
		val[64] = '\0';
		if (b->lua) {
			argv[0] = "EVAL";
			argv[1] = script;
			argv[2] = "2";
			argv[3] = key;
			argv[4] = idx;
			argv[5] = val;
			argv[6] = num;
			argc = 7;
		} else {
			argv[0] = "SET";
			argv[1] = key;
			argv[2] = val;
			argc = 3;
		}
		for (int i = 0; i < argc; i++)
			len[i] = strlen(argv[i]);
		slot = xcalloc(2, sizeof(*slot));
		slot[0] = b->sent;
		slot[1] = (int64_t)b;
		b->start_us[b->sent] = now_us();
		if (b->sha ? redis_eval(b->r, &b->sc, 2, argc - 3, argv + 3,
		    len + 3, on_reply, slot) != 0 :
		    redis_command(b->r, on_reply, slot, argc, argv, len) != 0) {
			free(slot);
			break;
		}
		b->sent++;
		b->inflight++;
	}
	if (b->done == b->n)
		event_base_loopbreak(b->base);
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x < y ? -1 : x > y);
}

static void
poll_up(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;
	struct redis_stats st;

	redis_stats(b->r, &st);
	if (st.connected) {
		b->t0 = now_us();
		fill(b);
	} else if (util_mono_ms() > b->until)
		event_base_loopbreak(b->base);
	else {
		struct timeval tv = { 0, 10000 };
		event_base_once(b->base, -1, EV_TIMEOUT, poll_up, b, &tv);
	}
}

int
main(int argc, char **argv)
{
	struct redis_config c;
	struct bench b;
	char err[256];
	double secs;
	int ch;

	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	c.addr = "127.0.0.1:6379";
	b.n = 100000;
	b.w = 64;
	while ((ch = getopt(argc, argv, "a:n:w:ls")) != -1) {
		switch (ch) {
		case 'a':
			c.addr = optarg;
			break;
		case 'n':
			b.n = atoi(optarg);
			break;
		case 'w':
			b.w = atoi(optarg);
			break;
		case 'l':
			b.lua = 1;
			break;
		case 's':
			b.lua = 1;
			b.sha = 1;
			redis_script_init(&b.sc, script);
			break;
		default:
			fprintf(stderr, "usage: redis_bench [-a addr] [-n N] "
			    "[-w window] [-l | -s]\n");
			return (2);
		}
	}
	if (b.n < 1 || b.n > 10000000 || b.w < 1 || b.w > 100000) {
		fprintf(stderr, "redis_bench: -n 1..10000000, -w 1..100000\n");
		return (2);
	}
	c.connect_timeout_ms = 2000;
	c.command_timeout_ms = 5000;
	c.reconnect_min_ms = 100;
	c.reconnect_max_ms = 1000;
	c.max_inflight = b.w;
	b.base = event_base_new();
	b.r = redis_new(b.base, &c, err, sizeof(err));
	if (b.r == NULL) {
		fprintf(stderr, "redis_bench: %s\n", err);
		return (1);
	}
	b.lat_us = xcalloc((size_t)b.n, sizeof(*b.lat_us));
	b.start_us = xcalloc((size_t)b.n, sizeof(*b.start_us));
	b.until = util_mono_ms() + 60000;
	event_base_once(b.base, -1, EV_TIMEOUT, poll_up, &b, NULL);
	event_base_dispatch(b.base);
	secs = (double)(now_us() - b.t0) / 1e6;
	redis_free(b.r);
	event_base_free(b.base);
	if (b.done == 0) {
		fprintf(stderr, "redis_bench: nothing answered (not "
		    "connected?)\n");
		return (1);
	}
	qsort(b.lat_us, (size_t)b.done, sizeof(*b.lat_us), cmp64);
	printf("%s window=%d commands=%d failed=%d  %.0f/s  p50=%lld us "
	    "p99=%lld us\n", b.sha ? "EVALSHA" : b.lua ? "EVAL" : "SET", b.w, b.done, b.failed,
	    b.done / secs, (long long)b.lat_us[b.done / 2],
	    (long long)b.lat_us[(int)(b.done * 0.99)]);
	free(b.lat_us);
	free(b.start_us);
	return (b.failed != 0);
}
