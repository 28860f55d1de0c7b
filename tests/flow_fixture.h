/*
 * flow_fixture.h - what the flow's suites share (check_flow,
 * check_flow_policy): the flow built as gw.c builds it over a real store,
 * fake carriers answered by the test, and the send and check helpers.
 * See check_flow.c's head comment for the whole of it.
 */
#ifndef FLOW_FIXTURE_H
#define FLOW_FIXTURE_H

#include <stdint.h>

#include <check.h>
#include <event2/event.h>

#include "carrier.h"
#include "conf.h"
#include "flow.h"
#include "shield.h"
#include "verify.h"

#define T0 1800000000LL
#define MAP (64ULL << 20)
#define PHONE "+447911123456"
#define CODE "123456"

extern const uint8_t secret[VERIFY_SECRET_LEN];

#define CONF_TEXT \
	"[verify]\n" \
	"max_check_attempts = 3\n" \
	"[smsc a]\n" \
	"host = 127.0.0.1\n" \
	"system_id = a\n" \
	"[smsc b]\n" \
	"host = 127.0.0.1\n" \
	"system_id = b\n" \
	"[route all]\n" \
	"prefix = +\n" \
	"smsc = a b\n" \
	"[key k]\n" \
	"token = 0123456789abcdef0123\n" \
	"[key other]\n" \
	"token = abcdef0123456789abcd\n"

#define NMSG 8

extern char rundir[];
extern char dir[];
extern struct event_base *base;
extern struct store *st;
extern struct conf *conf;
extern struct keys *keys;
extern struct score *score;
extern struct phone_pool *phones;
extern struct dispatch *d;
extern struct flow *f;
extern struct carrier fa, fb;
extern int nstaged;           /* ids ver_..0 .. nstaged-1 may be in d */
extern struct dlr *dl;        /* test mode's cases only */
extern struct testmode *tm;

void setup_conf(const char *text);      /* the fixture over a text */
void setup(void);                       /* ... over CONF_TEXT */
void teardown(void);

void id_of(int n, char *id, size_t size);
void get(int n, struct verif *v);
int status_of_id(const char *id);
int status_of(int n);

struct check_seen {
	int n, result, has_fc;
	struct flow_check fc;
};

void on_check(void *arg, int result, const struct flow_check *fc);
/* Check code against n (or by phone when n < 0) for key, after the
 * commit. */
void check(int key, int n, const char *code, struct check_seen *c);

struct send_seen {
	int n;
	enum flow_err err;
	int has_v;
	struct verif v;           /* sealed and metadata not kept */
	char fs_country[4];       /* the flow's fs->country, range, retry */
	char fs_range[SHIELD_RANGE_MAX];
	int fs_retry_after;
	char limit[32];           /* with FLOW_RATE_LIMITED */
	int retry_after;
};

/* Run the loop until cond holds, a bounded number of turns (the number
 * is read on the worker thread). */
#define RUN_UNTIL(cond) do { \
	for (int turn_ = 0; turn_ < 200 && !(cond); turn_++) \
		event_base_loop(base, EVLOOP_ONCE); \
	ck_assert_msg((cond), "never: %s", #cond); \
} while (0)

void on_send(struct flow_send *fs, const struct verif *v);
/* The code in a submit's text (the first run of six digits). */
void code_of(const struct carrier *c, int k, char *code);
struct flow_send *new_send(struct send_seen *s, const char *phone);

/* main(): run s in a directory of its own under /tmp, named after name,
 * and remove it; the exit status. */
int flow_fixture_run(Suite *s, const char *name);

#endif
