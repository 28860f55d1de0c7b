/*
 * check_flow_policy.c - flow.c's policies without sockets: the shield
 * (the allow-lists, numbers no route covers, the trips and their
 * cool-down, and a pumping simulation: a bot against two ranges, honest
 * traffic beside it, the clock moved forward, not slept), the send and
 * check limits, and test mode.  The fixture is check_flow's
 * (flow_fixture.h): the flow as gw.c builds it over a real store, with
 * fake carriers the test answers.
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "carrier.h"
#include "conf.h"
#include "dispatch.h"
#include "dlr.h"
#include "fake_carrier.h"
#include "flow.h"
#include "flow_fixture.h"
#include "keys.h"
#include "phone_pool.h"
#include "score.h"
#include "smpp.h"
#include "store.h"
#include "testmode.h"
#include "util.h"
#include "verify.h"

/* ---- the shield ---------------------------------------------------------- */

/*
 * Allowed: GB, US and IE ([key gb] only GB); routes for +44 and +1 only,
 * so IE has none.  The breaker: window 600 (slices of 20 s), grace 20,
 * floor 10 percent, min_sample 50, cooldown a day.
 */
#define SHIELD_CONF \
	"[verify]\n" \
	"max_check_attempts = 3\n" \
	"[smsc a]\n" \
	"host = 127.0.0.1\n" \
	"system_id = a\n" \
	"[smsc b]\n" \
	"host = 127.0.0.1\n" \
	"system_id = b\n" \
	"[route uk]\n" \
	"prefix = +44\n" \
	"smsc = a b\n" \
	"[route nanp]\n" \
	"prefix = +1\n" \
	"smsc = b a\n" \
	"[key k]\n" \
	"token = 0123456789abcdef0123\n" \
	"[key gb]\n" \
	"token = abcdef0123456789abcd\n" \
	"countries = GB\n" \
	"[key ops]\n" \
	"token = ops-0123456789abcdef\n" \
	"role = admin\n" \
	"[shield]\n" \
	"countries = GB US IE\n" \
	"conversion_floor = 10\n" \
	"window = 600\n" \
	"grace = 20\n" \
	"min_sample = 50\n" \
	"cooldown = 86400\n" \
	"[limits]\n" \
	"range_digits = 8\n"

#define BOT_A "+44740012"     /* the bot's two ranges */
#define BOT_B "+44740013"
#define MIN_SAMPLE 50

static void
setup_shield(void)
{
	setup_conf(SHIELD_CONF);
}

/* A send of key to phone, now: when the flow hands it to an SMSC, that
 * SMSC accepts it; the flow's answer into *s, the code sent into code
 * (when it was sent and code is not NULL).  Returns 1 when a message
 * reached an SMSC. */
static int
send_as(int key, const char *phone, struct send_seen *s, char *code)
{
	static int msgid;
	struct flow_send *fs = new_send(s, phone);
	struct carrier *c;
	char mid[24];
	int sent = 0;

	fs->key = key;
	flow_send(fs);
	for (int turn = 0; turn < 200 && s->n == 0 && fa.nsub == 0 &&
	    fb.nsub == 0; turn++)
		event_base_loop(base, EVLOOP_ONCE);
	if (fa.nsub + fb.nsub > 0) {
		c = fa.nsub > 0 ? &fa : &fb;
		ck_assert_int_eq(c->nsub, 1);
		if (code != NULL)
			code_of(c, 0, code);
		snprintf(mid, sizeof(mid), "m%d", ++msgid);
		c->sub[0].answered = 1;
		dispatch_submit_done(d, c, c->sub[0].cookie, 0, mid);
		/* The fake's slots again, for the next one. */
		c->nsub = 0;
		c->room = 10;
		sent = 1;
		store_flush(st);
	}
	ck_assert_msg(s->n == 1, "no answer for %s", phone);
	return sent;
}

/* Check code for the verification id of key 0; 1 when approved. */
static int
check_id(const char *id, const char *code)
{
	struct check_seen c;

	memset(&c, 0, sizeof(c));
	flow_check(f, 0, id, NULL, code, on_check, &c);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(c.n, 1);
	return c.fc.result == VERIFY_APPROVED;
}

/* A country off the allow-lists: refused before anything is stored, and
 * the answer names the country; the key's list narrows the global. */
START_TEST(country_not_allowed)
{
	struct send_seen s;
	struct flow_stats fst;

	ck_assert_int_eq(send_as(0, "+33612345678", &s, NULL), 0);
	ck_assert_int_eq(s.err, FLOW_COUNTRY);
	ck_assert_str_eq(s.fs_country, "FR");
	ck_assert_int_eq(s.has_v, 0);
	ck_assert_int_eq(send_as(1, "+14155550123", &s, NULL), 0);
	ck_assert_int_eq(s.err, FLOW_COUNTRY);
	ck_assert_str_eq(s.fs_country, "US");
	/* Toll-free, not a region's: refused by the lists, not its type. */
	ck_assert_int_eq(send_as(0, "+80012345678", &s, NULL), 0);
	ck_assert_int_eq(s.err, FLOW_COUNTRY);
	ck_assert_str_eq(s.fs_country, "001");
	/* Allowed for both. */
	ck_assert_int_eq(send_as(1, "+447400123456", &s, NULL), 1);
	ck_assert_int_eq(s.err, FLOW_OK);
	ck_assert_int_eq(send_as(0, "+14155550123", &s, NULL), 1);
	ck_assert_int_eq(s.err, FLOW_OK);
	flow_stats(f, &fst);
	ck_assert_uint_eq(fst.country_refused, 3);
	ck_assert_uint_eq(fst.sends, 2);
}
END_TEST

/* An allowed number no route covers: no_route, nothing stored or sent. */
START_TEST(no_route)
{
	struct send_seen s;
	struct flow_stats fst;

	ck_assert_int_eq(send_as(0, "+353861234567", &s, NULL), 0);
	ck_assert_int_eq(s.err, FLOW_NO_ROUTE);
	ck_assert_int_eq(s.has_v, 0);
	flow_stats(f, &fst);
	ck_assert_uint_eq(fst.no_route, 1);
	ck_assert_uint_eq(fst.sends, 0);
}
END_TEST

/* A reload: the new [shield] applies at once (here: 6-digit ranges and
 * FR allowed), and trips made before stand. */
START_TEST(reload_keeps_trips)
{
	struct carrier *cs[2] = { &fa, &fb };
	struct send_seen s;
	struct conf *c2;
	char phone[24], *err = NULL, text[2048];

	for (int i = 0; i < MIN_SAMPLE; i++) {
		snprintf(phone, sizeof(phone), BOT_B "%04d", i);
		ck_assert_int_eq(send_as(0, phone, &s, NULL), 1);
	}
	util_clock_set(T0 + 40);
	ck_assert_int_eq(send_as(0, BOT_B "9999", &s, NULL), 0);
	ck_assert_int_eq(s.err, FLOW_RANGE_BLOCKED);
	/* SHIELD_CONF up to its countries, which become these. */
	snprintf(text, sizeof(text), "%s", SHIELD_CONF);
	*strstr(text, "GB US IE") = '\0';
	snprintf(text + strlen(text), sizeof(text) - strlen(text),
	    "GB US IE FR\n[limits]\nrange_digits = 6\n[route fr]\nprefix = +33\n"
	    "smsc = a\n");
	c2 = conf_load_string(text, "t2.conf", &err);
	ck_assert_msg(c2 != NULL, "%s", err ? err : "");
	dispatch_reconf(d, c2, cs, 2, score);
	flow_reconf(f, c2, score);
	ck_assert_int_eq(send_as(0, BOT_B "9998", &s, NULL), 0);
	ck_assert_int_eq(s.err, FLOW_RANGE_BLOCKED);
	ck_assert_str_eq(s.fs_range, BOT_B);
	ck_assert_int_eq(send_as(0, "+447400140000", &s, NULL), 1);
	ck_assert_int_eq(send_as(0, "+33612345678", &s, NULL), 1);
	ck_assert_int_eq(s.err, FLOW_OK);
	dispatch_reconf(d, conf, cs, 2, score);
	flow_reconf(f, conf, score);
	conf_free(c2);
}
END_TEST

/* A small deterministic generator (no seed from the clock). */
static uint32_t
sim_rand(uint32_t *x)
{
	*x = *x * 1664525u + 1013904223u;
	return *x >> 8;
}

struct sim_range {
	const char *range;
	int sent;                 /* messages that reached an SMSC */
	int blocked;              /* refused: range_blocked */
	int retry_after;          /* of the first refusal */
};

static void
reopened_cb(void *arg, enum flow_err err)
{
	*(enum flow_err *)arg = err;
}

/*
 * SMS pumping: a bot sends 2,000 requests to random numbers in two ranges
 * of one country (GB), one every 4 s and never checks a code; honest
 * traffic to ten other ranges (GB and US) goes beside it, one every 4 s,
 * and checks 9 codes in 10.  Each bot range trips after at most
 * min_sample + 10% of its messages reached an SMSC, and is blocked for
 * the rest; honest traffic loses nothing.  The trips are stored (a new
 * flow on the same store blocks them too), listed, and an operator's
 * reopen lets the range send again.
 */
START_TEST(pumping_simulation)
{
	struct sim_range bot[2] = { { BOT_A, 0, 0, 0 }, { BOT_B, 0, 0, 0 } };
	struct send_seen s;
	struct flow_stats fst;
	struct shield_view *list, v;
	struct flow *f2;
	char phone[24], code[8];
	uint32_t rnd = 12345;
	int honest = 0, honest_checked = 0, n, sent;
	enum flow_err reopen_err = FLOW_INTERNAL;

	for (int i = 0; i < 2000; i++) {
		struct sim_range *b = &bot[i % 2];

		util_clock_set(T0 + 4LL * i);
		snprintf(phone, sizeof(phone), "%s%04u", b->range,
		    sim_rand(&rnd) % 10000);
		sent = send_as(0, phone, &s, NULL);
		if (sent) {
			ck_assert_int_eq(s.err, FLOW_OK);
			b->sent++;
		} else {
			ck_assert_int_eq(s.err, FLOW_RANGE_BLOCKED);
			ck_assert_str_eq(s.fs_range, b->range);
			ck_assert_int_ge(s.fs_retry_after, 1);
			if (b->blocked++ == 0)
				b->retry_after = s.fs_retry_after;
		}
		/* Honest: a new number, GB or US, ten ranges in all. */
		if (i % 2 == 0) {
			if (honest % 2 == 0)
				snprintf(phone, sizeof(phone), "+4474003%d%04d",
				    honest % 5, honest / 10);
			else
				snprintf(phone, sizeof(phone), "+1415555%d%03d",
				    honest % 5 + 2, honest / 10);
			ck_assert_msg(send_as(0, phone, &s, code) == 1,
			    "honest send %d to %s refused: %d", honest, phone,
			    s.err);
			ck_assert_int_eq(s.err, FLOW_OK);
			if (honest % 10 != 9) {
				ck_assert(check_id(s.v.id, code));
				honest_checked++;
			}
			honest++;
		}
	}
	for (int k = 0; k < 2; k++) {
		ck_assert_msg(bot[k].sent <= MIN_SAMPLE + MIN_SAMPLE / 10,
		    "range %s: %d messages reached the SMSC", bot[k].range,
		    bot[k].sent);
		ck_assert_int_ge(bot[k].sent, MIN_SAMPLE);
		ck_assert_int_eq(bot[k].sent + bot[k].blocked, 1000);
		/* Retry-After: the cooldown, from the trip. */
		ck_assert_int_eq(bot[k].retry_after, 86400);
	}
	ck_assert_int_eq(honest, 1000);
	ck_assert_int_eq(honest_checked, 900);
	flow_stats(f, &fst);
	ck_assert_uint_eq(fst.shield.trips, 2);
	ck_assert_int_eq(fst.shield.tripped, 2);
	ck_assert_uint_eq(fst.shield.blocked, bot[0].blocked +
	    bot[1].blocked);
	ck_assert_uint_eq(fst.sends, 1000 + bot[0].sent + bot[1].sent);

	/* Listed, soonest to reopen first, with the figures that tripped. */
	n = flow_shield_list(f, &list);
	ck_assert_int_eq(n, 2);
	ck_assert(list[0].until <= list[1].until);
	for (int k = 0; k < 2; k++) {
		ck_assert(strcmp(list[k].range, BOT_A) == 0 ||
		    strcmp(list[k].range, BOT_B) == 0);
		ck_assert_uint_ge(list[k].trip_mature, MIN_SAMPLE);
		ck_assert_uint_eq(list[k].trip_approved, 0);
		ck_assert_int_eq(list[k].until - list[k].tripped_at, 86400);
	}
	ck_assert_str_ne(list[0].range, list[1].range);
	free(list);
	printf("pumping: %s %d sent, %s %d sent (bound %d)\n", bot[0].range,
	    bot[0].sent, bot[1].range, bot[1].sent,
	    MIN_SAMPLE + MIN_SAMPLE / 10);

	/* Durable: a flow started afresh on the store blocks them too. */
	ck_assert_int_eq(store_flush(st), STORE_OK);
	f2 = flow_new(conf, st, keys, phones, d, NULL, score, secret);
	memset(&s, 0, sizeof(s));
	{
		struct flow *keep = f;

		f = f2;
		ck_assert_int_eq(send_as(0, BOT_B "0001", &s, NULL), 0);
		f = keep;
	}
	ck_assert_int_eq(s.err, FLOW_RANGE_BLOCKED);
	flow_free(f2);

	/* An operator reopens one: its numbers are sent again, the other
	 * range stays blocked; reopening it again is not found. */
	flow_shield_reopen(f, 2, BOT_A, reopened_cb, &reopen_err);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(reopen_err, FLOW_OK);
	ck_assert_int_eq(send_as(0, BOT_A "0002", &s, NULL), 1);
	ck_assert_int_eq(s.err, FLOW_OK);
	ck_assert_int_eq(send_as(0, BOT_B "0002", &s, NULL), 0);
	ck_assert_int_eq(s.err, FLOW_RANGE_BLOCKED);
	flow_shield_reopen(f, 2, BOT_A, reopened_cb, &reopen_err);
	ck_assert_int_eq(reopen_err, FLOW_NOT_FOUND);
	ck_assert_int_eq(flow_shield_get(f, BOT_A, &v), 0);
	ck_assert_int_eq(v.tripped, 0);
	ck_assert_uint_eq(v.sends, 1);
	/* Its stored trip is gone: a restart would not block it. */
	f2 = flow_new(conf, st, keys, phones, d, NULL, score, secret);
	ck_assert_int_eq(flow_shield_list(f2, &list), 1);
	ck_assert_str_eq(list[0].range, BOT_B);
	free(list);
	flow_free(f2);
}
END_TEST

/* The cooldown's end: the sweep reopens the range and drops its stored
 * trip; a trip stored long ago is dropped at start-up. */
START_TEST(cooldown_reopens)
{
	struct store_shield t = { BOT_A, T0 - 100000, T0 - 10, 60, 0 };
	struct shield_view *list;
	struct send_seen s;
	struct flow *f2;
	char phone[24];

	/* Trip BOT_B: 50 sends, none approved, then past grace. */
	for (int i = 0; i < MIN_SAMPLE; i++) {
		snprintf(phone, sizeof(phone), BOT_B "%04d", i);
		ck_assert_int_eq(send_as(0, phone, &s, NULL), 1);
	}
	util_clock_set(T0 + 40);
	ck_assert_int_eq(send_as(0, BOT_B "9999", &s, NULL), 0);
	ck_assert_int_eq(s.err, FLOW_RANGE_BLOCKED);
	ck_assert_int_eq(s.fs_retry_after, 86400);
	util_clock_set(T0 + 40 + 3600);
	ck_assert_int_eq(send_as(0, BOT_B "9999", &s, NULL), 0);
	ck_assert_int_eq(s.fs_retry_after, 86400 - 3600);
	/* A stale trip in the store is dropped by the next start. */
	ck_assert_int_eq(store_shield_put(st, &t), STORE_OK);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	f2 = flow_new(conf, st, keys, phones, d, NULL, score, secret);
	ck_assert_int_eq(flow_shield_list(f2, &list), 1);
	ck_assert_str_eq(list[0].range, BOT_B);
	free(list);
	flow_free(f2);
	/* The day is over: the sweep reopens it and the store forgets it. */
	util_clock_set(T0 + 40 + 86400);
	flow_shield_expire(f);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(flow_shield_list(f, &list), 0);
	f2 = flow_new(conf, st, keys, phones, d, NULL, score, secret);
	ck_assert_int_eq(flow_shield_list(f2, &list), 0);
	flow_free(f2);
	ck_assert_int_eq(send_as(0, BOT_B "9999", &s, NULL), 1);
}
END_TEST

/* ---- limits ---------------------------------------------------------- */

/* Reload with CONF_TEXT, then other (lines of [key other], the last
 * section) and a [limits] section of limits, as a SIGHUP would: keys,
 * health figures, dispatcher and flow move to the new configuration. */
static void
use_limits(const char *limits, const char *other)
{
	struct carrier *cs[2] = { &fa, &fb };
	char text[4096], *err = NULL;
	struct conf *c;
	struct score *sc;

	snprintf(text, sizeof(text), CONF_TEXT "%s[limits]\n%s", other,
	    limits);
	c = conf_load_string(text, "t.conf", &err);
	ck_assert_msg(c != NULL, "conf: %s", err ? err : "?");
	sc = score_new(c);
	keys_set(keys, c);
	dispatch_reconf(d, c, cs, 2, sc);
	flow_reconf(f, c, sc);
	score_free(score);
	conf_free(conf);
	conf = c;
	score = sc;
}

/* A send by key to phone (from ip, or NULL) with every SMSC down, and
 * the caller's code CODE: its outcome into s.  A send let through is
 * answered queued and dropped from the dispatcher (it stays pending in
 * the store). */
static void
send_by(int key, const char *phone, const char *ip, struct send_seen *s)
{
	struct flow_send *fs = flow_send_new(f, key, "v1", on_send, s);

	memset(s, 0, sizeof(*s));
	fa.up = fb.up = 0;
	fs->phone = phone;
	fs->region = NULL;
	fs->client_ip = ip;
	strcpy(fs->code, CODE);
	fs->has_code = 1;
	flow_send(fs);
	RUN_UNTIL(s->n == 1);
	if (s->err == FLOW_OK)
		dispatch_drop(d, s->v.id);
}

/* send_by() that must be let through. */
static void
send_ok(int key, const char *phone, const char *ip)
{
	struct send_seen s;

	send_by(key, phone, ip, &s);
	ck_assert_msg(s.err == FLOW_OK, "send to %s refused (%d)", phone,
	    s.err);
}

/* send_by() that limit must refuse for retry_after seconds: nothing is
 * stored or sent. */
static void
send_limited(int key, const char *phone, const char *ip, const char *limit,
    int retry_after)
{
	struct flow_stats before, after;
	struct send_seen s;

	flow_stats(f, &before);
	send_by(key, phone, ip, &s);
	ck_assert_msg(s.err == FLOW_RATE_LIMITED, "send to %s not refused "
	    "(%d)", phone, s.err);
	ck_assert_int_eq(s.has_v, 0);
	ck_assert_str_eq(s.limit, limit);
	ck_assert_int_eq(s.retry_after, retry_after);
	flow_stats(f, &after);
	ck_assert_uint_eq(after.sends, before.sends);
	ck_assert_uint_eq(after.sends_limited, before.sends_limited + 1);
	ck_assert_int_eq(fa.nsub + fb.nsub, 0);
	ck_assert_int_eq(store_flush(st), STORE_OK);
}

#define NO_LIMITS "resend_interval = 0\nsends_per_phone = 0\n" \
	"sends_per_ip = 0\nsends_per_range = 0\nfailed_checks_per_phone = 0\n"

/* resend_interval: the second send within it is refused (Retry-After to
 * the second), the one at its end goes; the pending verification is
 * left as it was. */
START_TEST(limit_resend_interval)
{
	char id[32];
	struct send_seen s;

	send_by(0, PHONE, NULL, &s);
	ck_assert_int_eq(s.err, FLOW_OK);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	util_clock_set(T0 + 1);
	send_limited(0, PHONE, NULL, "resend_interval", 29);
	util_clock_set(T0 + 29);
	send_limited(0, PHONE, NULL, "resend_interval", 1);
	ck_assert_int_eq(store_pending_get(st, "k", PHONE, id, sizeof(id)),
	    STORE_OK);
	ck_assert_str_eq(id, s.v.id);
	/* another key, another number: their own counters */
	send_ok(1, PHONE, NULL);
	send_ok(0, "+447911123457", NULL);
	util_clock_set(T0 + 30);
	send_ok(0, PHONE, NULL);
}
END_TEST

/* sends_per_phone 3/10m: the fourth within ten minutes is refused until
 * the first leaves the window (its slot of 10 s counts whole). */
START_TEST(limit_sends_per_phone)
{
	use_limits("resend_interval = 0\nsends_per_phone = 3/10m\n", "");
	send_ok(0, PHONE, NULL);
	util_clock_set(T0 + 100);
	send_ok(0, PHONE, NULL);
	util_clock_set(T0 + 200);
	send_ok(0, PHONE, NULL);
	util_clock_set(T0 + 300);
	/* the first (slot T0 .. T0+9) leaves at T0 + 609 */
	send_limited(0, PHONE, NULL, "sends_per_phone", 309);
	util_clock_set(T0 + 608);
	send_limited(0, PHONE, NULL, "sends_per_phone", 1);
	util_clock_set(T0 + 609);
	send_ok(0, PHONE, NULL);
	util_clock_set(T0 + 610);
	send_limited(0, PHONE, NULL, "sends_per_phone", 99);
	/* the other key's count is its own */
	send_ok(1, PHONE, NULL);
}
END_TEST

/* sends_per_key 2/1h, any numbers; the other key is not counted. */
START_TEST(limit_sends_per_key)
{
	use_limits(NO_LIMITS "sends_per_key = 2/1h\n",
	    "sends_per_key = 0\n");
	send_ok(0, "+447911123456", NULL);
	util_clock_set(T0 + 10);
	send_ok(0, "+447911123457", NULL);
	/* slots of 60 s: the first leaves at T0 + 59 + 3600 */
	send_limited(0, "+447911123458", NULL, "sends_per_key", 3649);
	for (int i = 0; i < 5; i++)
		send_ok(1, "+447911123458", NULL);
	/* both were in the slot T0 .. T0+59: both leave at T0 + 3659 */
	util_clock_set(T0 + 3658);
	send_limited(0, "+447911123458", NULL, "sends_per_key", 1);
	util_clock_set(T0 + 3659);
	send_ok(0, "+447911123458", NULL);
	send_ok(0, "+447911123459", NULL);
	send_limited(0, "+447911123450", NULL, "sends_per_key", 3600);
}
END_TEST

/* sends_per_ip 2/1h by client_ip: an IPv6 /64 counts as one address, a
 * send without client_ip is not counted, another address has its own. */
START_TEST(limit_sends_per_ip)
{
	use_limits("resend_interval = 0\nsends_per_phone = 0\n"
	    "sends_per_range = 0\nsends_per_ip = 2/1h\n", "");
	send_ok(0, "+447911123450", "192.0.2.1");
	send_ok(0, "+447911123451", "192.0.2.1");
	send_limited(0, "+447911123452", "192.0.2.1", "sends_per_ip", 3659);
	send_ok(0, "+447911123452", "192.0.2.2");
	send_ok(0, "+447911123453", NULL);
	send_ok(0, "+447911123454", "::ffff:192.0.2.2");
	send_limited(0, "+447911123455", "192.0.2.2", "sends_per_ip", 3659);
	send_ok(0, "+447911123455", "2001:db8:1:2::1");
	send_ok(0, "+447911123456", "2001:db8:1:2:ffff::9");
	send_limited(0, "+447911123457", "2001:db8:1:2::abcd",
	    "sends_per_ip", 3659);
	send_ok(0, "+447911123457", "2001:db8:1:3::1");
	send_ok(1, "+447911123458", "192.0.2.1");      /* another key */
}
END_TEST

/* sends_per_range 3/1h over 8 digits, shared by the keys: the other
 * key's sends count toward it (even with the limit off for itself),
 * another range is free. */
START_TEST(limit_sends_per_range)
{
	use_limits("resend_interval = 0\nsends_per_phone = 0\n"
	    "sends_per_range = 3/1h\nrange_digits = 8\n",
	    "sends_per_range = 0\n");
	send_ok(0, "+447911123456", NULL);
	send_ok(1, "+447911123457", NULL);
	send_ok(1, "+447911123458", NULL);
	send_limited(0, "+447911123459", NULL, "sends_per_range", 3659);
	send_ok(1, "+447911123459", NULL);      /* off for "other" */
	send_ok(0, "+447911133456", NULL);      /* 44791113: another */
	util_clock_set(T0 + 3659);
	send_ok(0, "+447911123450", NULL);
}
END_TEST

/* Keys with ranges of their own (digits and period): every send counts
 * in each key's range counter, each key is judged by its own. */
START_TEST(limit_ranges_per_key)
{
	use_limits("resend_interval = 0\nsends_per_phone = 0\n"
	    "sends_per_range = 2/1h\nrange_digits = 8\n",
	    "sends_per_range = 3/10m\nrange_digits = 6\n");
	send_ok(0, "+447911123456", NULL);      /* 44791112 and 447911 */
	send_ok(1, "+447911123457", NULL);
	send_limited(0, "+447911123458", NULL, "sends_per_range", 3659);
	send_ok(1, "+447911133456", NULL);      /* 447911: the third */
	send_limited(1, "+447911133457", NULL, "sends_per_range", 609);
	send_ok(0, "+447911133457", NULL);      /* 44791113: k's is free */
}
END_TEST

/* Several limits at once: the one that refuses longest is named. */
START_TEST(limit_longest_named)
{
	use_limits("resend_interval = 60\nsends_per_phone = 1/1h\n", "");
	send_ok(0, PHONE, NULL);
	util_clock_set(T0 + 10);
	send_limited(0, PHONE, NULL, "sends_per_phone", 3649);
}
END_TEST

/* Two sends at once, answered from one commit: the second is judged
 * with the first counted. */
START_TEST(limit_race_in_one_batch)
{
	struct send_seen s1, s2;
	struct flow_send *fs;

	use_limits(NO_LIMITS "sends_per_key = 1/1h\n", "");
	fa.up = fb.up = 0;
	fs = new_send(&s1, "+447911123456");
	flow_send(fs);
	fs = new_send(&s2, "+447911123457");
	flow_send(fs);
	RUN_UNTIL(s1.n == 1 && s2.n == 1);
	ck_assert_msg((s1.err == FLOW_OK) != (s2.err == FLOW_OK),
	    "one of two sends must go: %d %d", s1.err, s2.err);
	ck_assert_int_eq(s1.err == FLOW_OK ? s2.err : s1.err,
	    FLOW_RATE_LIMITED);
	dispatch_drop(d, s1.err == FLOW_OK ? s1.v.id : s2.v.id);
	/* and so it stays after the commit */
	ck_assert_int_eq(store_flush(st), STORE_OK);
	send_limited(0, "+447911123458", NULL, "sends_per_key", 3659);
}
END_TEST

/* What GET /v1/limits shows: each limit that is on, its count, bound,
 * window, and retry_after when it refuses. */
START_TEST(limit_view)
{
	struct flow_limit rows[FLOW_LIMITS_MAX];
	int n;

	use_limits("sends_per_key = 10/1d\n", "");
	send_ok(0, PHONE, "2001:db8::1");
	util_clock_set(T0 + 5);
	n = flow_limits(f, 0, PHONE, "2001:db8::2", rows);
	ck_assert_int_eq(n, 6);
	ck_assert_str_eq(rows[0].limit, "resend_interval");
	ck_assert_uint_eq(rows[0].count, 1);
	ck_assert_uint_eq(rows[0].max, 1);
	ck_assert_int_eq(rows[0].window, 30);
	ck_assert_int_eq(rows[0].retry_after, 25);
	ck_assert_str_eq(rows[1].limit, "sends_per_phone");
	ck_assert_uint_eq(rows[1].count, 1);
	ck_assert_uint_eq(rows[1].max, 5);
	ck_assert_int_eq(rows[1].window, 600);
	ck_assert_int_eq(rows[1].retry_after, 0);
	ck_assert_str_eq(rows[2].limit, "sends_per_ip");
	ck_assert_str_eq(rows[2].subject, "2001:db8::/64");
	ck_assert_uint_eq(rows[2].count, 1);
	ck_assert_uint_eq(rows[2].max, 10);
	ck_assert_str_eq(rows[3].limit, "sends_per_key");
	ck_assert_uint_eq(rows[3].count, 1);
	ck_assert_int_eq(rows[3].window, 86400);
	ck_assert_str_eq(rows[4].limit, "sends_per_range");
	ck_assert_str_eq(rows[4].subject, "+44791112");
	ck_assert_uint_eq(rows[4].count, 1);
	ck_assert_uint_eq(rows[4].max, 200);
	ck_assert_str_eq(rows[5].limit, "failed_checks_per_phone");
	ck_assert_uint_eq(rows[5].count, 0);
	ck_assert_uint_eq(rows[5].max, 20);
	/* without an address, no sends_per_ip; limits off are left out */
	use_limits(NO_LIMITS, "");
	ck_assert_int_eq(flow_limits(f, 0, PHONE, NULL, rows), 0);
}
END_TEST

/* failed_checks_per_phone 4/1h with 3 attempts a verification: the
 * number's wrong codes add up over its verifications (a new send buys no
 * fresh guesses); past the bound every check answers
 * max_attempts_reached, the right code too, by id and by number, until
 * the window slides. */
START_TEST(limit_failed_checks)
{
	struct send_seen s1, s2;
	struct check_seen c;
	struct verif v;

	use_limits("resend_interval = 0\nfailed_checks_per_phone = 4/1h\n",
	    "");
	send_by(0, PHONE, NULL, &s1);
	ck_assert_int_eq(s1.err, FLOW_OK);
	for (int i = 0; i < 3; i++)
		check(0, -1, "000000", &c);
	ck_assert_int_eq(c.fc.result, VERIFY_LOCKED);
	send_by(0, PHONE, NULL, &s2);
	ck_assert_int_eq(s2.err, FLOW_OK);
	memset(&c, 0, sizeof(c));
	flow_check(f, 0, NULL, PHONE, "000000", on_check, &c);
	store_flush(st);
	/* the fourth wrong code: compared, and from now on locked */
	ck_assert_int_eq(c.fc.result, VERIFY_LOCKED);
	ck_assert_str_eq(c.fc.status, "max_attempts_reached");
	ck_assert_int_eq(c.fc.attempts_left, 0);
	/* the right code, by number and by id: refused, not compared */
	check(0, -1, CODE, &c);
	ck_assert_int_eq(c.fc.found, 1);
	ck_assert_int_eq(c.fc.result, VERIFY_LOCKED);
	ck_assert_str_eq(c.fc.status, "max_attempts_reached");
	ck_assert_str_eq(c.fc.id, s2.v.id);
	memset(&c, 0, sizeof(c));
	flow_check(f, 0, s2.v.id, NULL, CODE, on_check, &c);
	store_flush(st);
	ck_assert_int_eq(c.fc.result, VERIFY_LOCKED);
	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(store_verif_get(st, s2.v.id, &v), STORE_OK);
	ck_assert_int_eq(v.status, VERIF_PENDING);
	ck_assert_int_eq(v.checks, 1);
	verif_clear(&v);
	/* the other key, and another number, are not held */
	check(1, -1, CODE, &c);
	ck_assert_str_eq(c.fc.status, "not_found");
	/* a new send changes nothing */
	util_clock_set(T0 + 60);
	send_by(0, PHONE, NULL, &s1);
	ck_assert_int_eq(s1.err, FLOW_OK);
	check(0, -1, CODE, &c);
	ck_assert_str_eq(c.fc.status, "max_attempts_reached");
	/* slots of 60 s: the first three wrong codes (at T0) leave at
	 * T0 + 59 + 3600, and the number may try again */
	util_clock_set(T0 + 3658);
	check(0, -1, CODE, &c);
	ck_assert_str_eq(c.fc.status, "max_attempts_reached");
	util_clock_set(T0 + 3659);
	send_by(0, PHONE, NULL, &s1);           /* the last one expired */
	ck_assert_int_eq(s1.err, FLOW_OK);
	check(0, -1, "000000", &c);
	ck_assert_int_eq(c.fc.result, VERIFY_WRONG);
	ck_assert_int_eq(c.fc.attempts_left, 2);
	check(0, -1, CODE, &c);
	ck_assert_int_eq(c.fc.result, VERIFY_APPROVED);
}
END_TEST

/*
 * Brute force: 10,000 wrong codes over 100 new sends to one number (the
 * send limits off): at most failed_checks_per_phone of them are compared
 * (the verifications' own counts add up to exactly that), the rest are
 * refused unread, and the right code after the bound is refused too.
 */
START_TEST(limit_brute_force)
{
	enum { SENDS = 100, CHECKS = 10000 };
	static char ids[SENDS][32];
	struct check_seen *cs = calloc(CHECKS / SENDS, sizeof(*cs));
	struct flow_stats fst;
	struct send_seen s;
	struct check_seen c;
	int compared = 0, i, k;

	ck_assert_ptr_nonnull(cs);
	use_limits("resend_interval = 0\nsends_per_phone = 0\n"
	    "sends_per_range = 0\nfailed_checks_per_phone = 20/1d\n", "");
	for (i = 0; i < SENDS; i++) {
		send_by(0, PHONE, NULL, &s);
		ck_assert_int_eq(s.err, FLOW_OK);
		util_strlcpy(ids[i], s.v.id, sizeof(ids[i]));
		/* a round of checks staged together, answered by one
		 * commit: each sees the counts of those before it */
		for (k = 0; k < CHECKS / SENDS; k++)
			flow_check(f, 0, NULL, PHONE, "000000", on_check,
			    &cs[k]);
		ck_assert_int_eq(store_flush(st), STORE_OK);
		for (k = 0; k < CHECKS / SENDS; k++) {
			ck_assert_int_eq(cs[k].n, 1);
			ck_assert_int_ne(cs[k].fc.result, VERIFY_APPROVED);
			cs[k].n = 0;
		}
	}
	for (i = 0; i < SENDS; i++) {
		struct verif v;

		memset(&v, 0, sizeof(v));
		ck_assert_int_eq(store_verif_get(st, ids[i], &v), STORE_OK);
		compared += v.checks;
		verif_clear(&v);
	}
	ck_assert_int_eq(compared, 20);
	/* refused unread: all but the 20 compared and, before the bound,
	 * the checks of six locked verifications (3 compared, 97 not) */
	flow_stats(f, &fst);
	ck_assert_uint_eq(fst.checks_limited, CHECKS - 20 - 6 *
	    (CHECKS / SENDS - 3));
	check(0, -1, CODE, &c);
	ck_assert_int_eq(c.fc.result, VERIFY_LOCKED);
	ck_assert_str_eq(c.fc.status, "max_attempts_reached");
	ck_assert_str_eq(c.fc.id, ids[SENDS - 1]);
	memset(&c, 0, sizeof(c));
	flow_check(f, 0, ids[SENDS - 1], NULL, CODE, on_check, &c);
	store_flush(st);
	ck_assert_int_eq(c.fc.result, VERIFY_LOCKED);
	ck_assert_int_eq(status_of_id(ids[SENDS - 1]), VERIF_PENDING);
	free(cs);
}
END_TEST

/* ---- test mode ---------------------------------------------------------- */

#define TEST_CONF_TEXT CONF_TEXT \
	"[key qa]\n" \
	"token = qa0123456789abcdef01\n" \
	"role = test\n" \
	"[test fixed]\n" \
	"numbers = +447911123400-+447911123499\n" \
	"code = 424242\n" \
	"delay = 0\n" \
	"[test busy]\n" \
	"numbers = +447911123500\n" \
	"refuse = ESME_RTHROTTLED\n"
#define KEY_QA 2
#define OTHER_PHONE "+447911123999"
#define BUSY_PHONE "+447911123500"

/* The flow with test mode, as gw.c wires it. */
static void
setup_test(void)
{
	setup_conf(TEST_CONF_TEXT);
	dl = dlr_new(st, score, NULL, conf);
	tm = testmode_new(base, st, dl, secret);
	flow_set_testmode(f, tm);
}

/* The delivery test mode shows for the newest capture to phone. */
static const char *
captured_delivery(const char *phone)
{
	static char buf[32];
	struct testmode_message *m;
	int n = testmode_messages(tm, phone, 0, 1, &m);

	ck_assert_int_eq(n, 1);
	util_strlcpy(buf, m[0].delivery, sizeof(buf));
	testmode_messages_free(m, n);
	return buf;
}

/* A test key's send to any number: captured (no SMSC sees it), answered
 * sent, its code readable and right, delivered by the scripted receipt
 * (1 s) through the receipt path. */
START_TEST(test_key_captured)
{
	struct testmode_message *m;
	struct testmode_stats ts;
	struct dlr_stats ds;
	struct send_seen s;
	struct check_seen c;
	struct flow_send *fs;
	char code[16];
	int n;

	fs = new_send(&s, OTHER_PHONE);
	fs->key = KEY_QA;
	flow_send(fs);
	RUN_UNTIL(s.n == 1);
	ck_assert_int_eq(s.err, FLOW_OK);
	ck_assert_int_eq(s.has_v, 1);
	ck_assert_int_eq(s.v.status, VERIF_PENDING);
	ck_assert_int_eq(s.v.send_state, SEND_SENT);
	ck_assert_int_eq(s.v.nsend, 1);
	ck_assert_str_eq(s.v.send[0].smsc, TESTMODE_SMSC);
	ck_assert_int_eq(fa.nsub + fb.nsub, 0);

	n = testmode_messages(tm, OTHER_PHONE, 0, 10, &m);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(m[0].id, s.v.id);
	ck_assert_str_eq(m[0].phone, OTHER_PHONE);
	ck_assert_ptr_nonnull(m[0].text);
	ck_assert_int_eq((int)strlen(m[0].code), 6);
	ck_assert_ptr_nonnull(strstr(m[0].text, m[0].code));
	ck_assert_str_eq(m[0].delivery, "pending");
	util_strlcpy(code, m[0].code, sizeof(code));
	testmode_messages_free(m, n);

	/* The scripted receipt, after its second. */
	RUN_UNTIL(strcmp(captured_delivery(OTHER_PHONE), "pending") != 0);
	ck_assert_str_eq(captured_delivery(OTHER_PHONE), "delivered");
	dlr_stats(dl, &ds);
	ck_assert_uint_eq(ds.receipts, 1);
	testmode_stats(tm, &ts);
	ck_assert_uint_eq(ts.captured, 1);
	ck_assert_uint_eq(ts.receipts, 1);

	memset(&c, 0, sizeof(c));
	flow_check(f, KEY_QA, s.v.id, NULL, code, on_check, &c);
	store_flush(st);
	ck_assert_int_eq(c.n, 1);
	ck_assert_int_eq(c.fc.result, VERIFY_APPROVED);

	/* A client key's send to a number of no [test]: dispatched. */
	flow_send(new_send(&s, OTHER_PHONE));
	RUN_UNTIL(fa.nsub == 1);
	fa.sub[0].answered = 1;
	dispatch_submit_done(d, &fa, fa.sub[0].cookie, 0, "m1");
	store_flush(st);
	ck_assert_int_eq(s.n, 1);
	ck_assert_str_eq(s.v.send[0].smsc, "a");
}
END_TEST

/* A test number, for a client key: its fixed code, checked like any
 * other (a wrong one costs an attempt, the right one approves once). */
START_TEST(test_number_fixed_code)
{
	struct send_seen s;
	struct check_seen c;
	struct verif v;

	flow_send(new_send(&s, PHONE));
	RUN_UNTIL(s.n == 1);
	ck_assert_int_eq(s.err, FLOW_OK);
	ck_assert_int_eq(s.v.send_state, SEND_SENT);
	ck_assert_int_eq(fa.nsub + fb.nsub, 0);
	/* delay = 0: the receipt at the next turns. */
	RUN_UNTIL(strcmp(captured_delivery(PHONE), "pending") != 0);
	ck_assert_str_eq(captured_delivery(PHONE), "delivered");
	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(store_verif_get(st, s.v.id, &v), STORE_OK);
	ck_assert_int_eq(v.send[0].dlr, DLR_DELIVERED);
	verif_clear(&v);

	memset(&c, 0, sizeof(c));
	flow_check(f, 0, s.v.id, NULL, "111111", on_check, &c);
	store_flush(st);
	ck_assert_int_eq(c.fc.result, VERIFY_WRONG);
	memset(&c, 0, sizeof(c));
	flow_check(f, 0, s.v.id, NULL, "424242", on_check, &c);
	store_flush(st);
	ck_assert_int_eq(c.fc.result, VERIFY_APPROVED);
	memset(&c, 0, sizeof(c));
	flow_check(f, 0, s.v.id, NULL, "424242", on_check, &c);
	store_flush(st);
	ck_assert_int_ne(c.fc.result, VERIFY_APPROVED);
}
END_TEST

/* refuse: failed as an SMSC's final refusal, nothing captured. */
START_TEST(test_number_refused)
{
	struct testmode_message *m;
	struct testmode_stats ts;
	struct send_seen s;
	struct verif v;

	flow_send(new_send(&s, BUSY_PHONE));
	RUN_UNTIL(s.n == 1);
	ck_assert_int_eq(s.err, FLOW_OK);
	ck_assert_int_eq(s.v.status, VERIF_FAILED);
	ck_assert_int_eq(s.v.send_state, SEND_FAILED);
	ck_assert_str_eq(s.v.fail_reason, "ESME_RTHROTTLED");
	ck_assert_int_eq(fa.nsub + fb.nsub, 0);
	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(store_verif_get(st, s.v.id, &v), STORE_OK);
	ck_assert_int_eq(v.status, VERIF_FAILED);
	ck_assert_ptr_null(v.sealed);
	verif_clear(&v);
	ck_assert_int_eq(testmode_messages(tm, BUSY_PHONE, 0, 10, &m), 0);
	testmode_messages_free(m, 0);
	testmode_stats(tm, &ts);
	ck_assert_uint_eq(ts.refused, 1);
	ck_assert_uint_eq(ts.captured, 0);
}
END_TEST

/* Captures go with the sweep's prune once older than the cut. */
START_TEST(test_capture_pruned)
{
	struct testmode_message *m;
	struct send_seen s;
	int n;

	flow_send(new_send(&s, PHONE));
	RUN_UNTIL(s.n == 1);
	/* Capture times are the wall clock's milliseconds (util_now_ms()),
	 * which util_clock_set() does not fix. */
	ck_assert_int_eq(store_capture_prune(st, util_now_ms() - 60000, 100),
	    0);
	ck_assert_int_eq(store_capture_prune(st, util_now_ms() + 1, 100), 1);
	n = testmode_messages(tm, PHONE, 0, 10, &m);
	ck_assert_int_eq(n, 0);
	testmode_messages_free(m, 0);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(testmode_messages(tm, PHONE, 0, 10, &m), 0);
	testmode_messages_free(m, 0);
}
END_TEST

struct woken {
	int n, woken;
};

static void
on_woken(void *arg, int woken)
{
	struct woken *w = arg;

	w->n++;
	w->woken = woken;
}

/* A waiting reader: woken once a capture to its number commits (not by
 * another number's), or at its time limit; stop wakes the rest. */
START_TEST(test_waiters)
{
	struct woken a = { 0, -1 }, b = { 0, -1 }, c = { 0, -1 };
	struct testmode_stats ts;
	struct send_seen s;

	ck_assert_int_eq(testmode_wait(tm, PHONE, 30, on_woken, &a), 0);
	ck_assert_int_eq(testmode_wait(tm, OTHER_PHONE, 1, on_woken, &b), 0);
	ck_assert_int_eq(testmode_wait(tm, BUSY_PHONE, 30, on_woken, &c), 0);
	testmode_stats(tm, &ts);
	ck_assert_int_eq(ts.waiting, 3);
	flow_send(new_send(&s, PHONE));
	RUN_UNTIL(s.n == 1);
	ck_assert_int_eq(a.n, 1);
	ck_assert_int_eq(a.woken, 1);
	ck_assert_int_eq(b.n, 0);
	RUN_UNTIL(b.n == 1);              /* its second is up */
	ck_assert_int_eq(b.woken, 0);
	ck_assert_int_eq(c.n, 0);
	testmode_stop(tm);
	ck_assert_int_eq(c.n, 1);
	ck_assert_int_eq(c.woken, 0);
	testmode_stats(tm, &ts);
	ck_assert_int_eq(ts.waiting, 0);

	/* At most TESTMODE_WAIT_MAX wait at once. */
	memset(&c, 0, sizeof(c));
	for (int i = 0; i < TESTMODE_WAIT_MAX; i++)
		ck_assert_int_eq(testmode_wait(tm, PHONE, 30, on_woken, &c),
		    0);
	ck_assert_int_eq(testmode_wait(tm, PHONE, 30, on_woken, &c), -1);
	ck_assert_int_eq(c.n, 0);
	testmode_stop(tm);
	ck_assert_int_eq(c.n, TESTMODE_WAIT_MAX);
}
END_TEST

/* The code read out of a captured text: the first run of 4..12 digits. */
START_TEST(test_code_of)
{
	char code[16];

	ck_assert_int_eq(testmode_code_of("Your code is 123456.", code,
	    sizeof(code)), 0);
	ck_assert_str_eq(code, "123456");
	ck_assert_int_eq(testmode_code_of("in 10 min: 1234567890123 or "
	    "9876", code, sizeof(code)), 0);
	ck_assert_str_eq(code, "9876");
	ck_assert_int_eq(testmode_code_of("no code 12 345", code,
	    sizeof(code)), -1);
	ck_assert_str_eq(code, "");
}
END_TEST

static Suite *
flow_policy_suite(void)
{
	Suite *s = suite_create("flow_policy");
	TCase *tc;

	tc = tcase_create("shield");
	tcase_add_checked_fixture(tc, setup_shield, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, country_not_allowed);
	tcase_add_test(tc, no_route);
	tcase_add_test(tc, cooldown_reopens);
	tcase_add_test(tc, reload_keeps_trips);
	tcase_add_test(tc, pumping_simulation);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, limit_resend_interval);
	tcase_add_test(tc, limit_sends_per_phone);
	tcase_add_test(tc, limit_sends_per_key);
	tcase_add_test(tc, limit_sends_per_ip);
	tcase_add_test(tc, limit_sends_per_range);
	tcase_add_test(tc, limit_ranges_per_key);
	tcase_add_test(tc, limit_longest_named);
	tcase_add_test(tc, limit_race_in_one_batch);
	tcase_add_test(tc, limit_view);
	tcase_add_test(tc, limit_failed_checks);
	tcase_add_test(tc, limit_brute_force);
	suite_add_tcase(s, tc);

	tc = tcase_create("testmode");
	tcase_add_checked_fixture(tc, setup_test, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_key_captured);
	tcase_add_test(tc, test_number_fixed_code);
	tcase_add_test(tc, test_number_refused);
	tcase_add_test(tc, test_code_of);
	tcase_add_test(tc, test_capture_pruned);
	tcase_add_test(tc, test_waiters);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return flow_fixture_run(flow_policy_suite(), "check_flow_policy");
}
