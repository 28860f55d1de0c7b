/*
 * redis_fixture.h - what check_redis and check_redis_sentinel share: a
 * redis-server per test (tests/redis_srv.c), the test's event loop run
 * until a condition holds, commands sent as words and their answers, and
 * "mute", a peer the test holds (it answers the handshake's PING and
 * then as its mode says: nothing, garbage, a huge bulk, ...; as a
 * sentinel, the answer it is given).
 */
#ifndef REDIS_FIXTURE_H
#define REDIS_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>

#include <check.h>
#include <event2/event.h>

#include "redis.h"
#include "redis_srv.h"

/* tests/redis_srv.c runs them; S2, S3: a replica, a sentinel. */
extern struct redis_srv S, S2, S3;
extern char top[64];    /* made by main, holds each test's dir; removed
			   by main even when a test failed */
extern struct event_base *B;

void setup(void);
void teardown(void);

/* Run the loop until cond(arg) or ms pass; returns cond's last value. */
int run_until(int (*cond)(void *), void *arg, int ms);
/* cond: the redis handle arg is connected. */
int is_up(void *arg);

struct ans {
	int calls;
	enum redis_err err;
	int type;
	long long integer;
	char str[1024];
	size_t len;             /* the string's, whole (str is cut) */
	char raw[64];           /* its first octets, binary          */
};

struct many {
	struct ans *a;
	int n;
};

/* A command's callback: its answer into the struct ans arg. */
void on_ans(void *arg, enum redis_err err, const struct redisReply *rp);
/* cond: every answer of the struct many arg came. */
int all_answered(void *arg);
/* argc words (at most 8) from ap into argv and their lengths. */
void words(int argc, va_list ap, const char **argv, size_t *len);
/* Send a command given as words (no binary). */
int cmd(struct redis *r, struct ans *a, int argc, ...);

/* Send and wait (5 s at most) for the answer. */
#define CMD_WAIT(r, a, ...) do {					\
	struct many m_ = { (a), 1 };					\
	ck_assert_int_eq(cmd((r), (a), __VA_ARGS__), 0);		\
	ck_assert_int_eq((a)->calls, 0);	/* never from inside */	\
	ck_assert_msg(run_until(all_answered, &m_, 5000),		\
	    "no answer within 5 s");					\
} while (0)

/* A client's settings for addr, with the tests' short timeouts. */
struct redis_config config(const char *addr);
/* A handle on c, connected within 5 s. */
struct redis *connect_up(const struct redis_config *c);

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

/* A whole file written, or read (cut to size - 1, NUL-ended). */
void write_file(const char *path, const char *s, size_t len);
void slurp(const char *path, char *buf, size_t size);
/* cond: the redis handle arg has reconnected at least 3 times. */
int reconnects_ge3(void *arg);

void mute_start(struct mute *m);
void mute_stop(struct mute *m);

/* main(): run s with top made under /tmp and removed; 77 (SKIP) when
 * have (redis-server is there) is 0 and nothing failed. */
int redis_fixture_run(Suite *s, const char *name, int have);

#endif
