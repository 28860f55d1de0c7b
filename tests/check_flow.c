/*
 * check_flow.c - flow.c without sockets: a send from the number to the
 * SMSC's answer, checks (right code, wrong codes, the lock, unknown ids),
 * cancels, the dispatcher's failures, the sweep's expiries, and the
 * counters.
 *
 * The flow is built as gw.c builds it, from a real store (a fresh LMDB
 * directory per test, on a fresh event_base), the keys of a configuration
 * loaded from text, a dispatcher whose hooks go back to the flow, and a
 * phone pool of one worker thread.  The dispatcher's carriers are fakes
 * defined here (the link seam of check_dispatch.c: these definitions win
 * and carrier.o is never pulled in); the test answers their submits with
 * dispatch_submit_done().  store_flush() commits and runs the callbacks
 * waiting on the commit; a send's number lookup is awaited by running the
 * loop a bounded number of turns.  Time is fixed with util_clock_set().
 *
 * The shield's cases run over SHIELD_CONF: the allow-lists, numbers no
 * route covers, and a pumping simulation (a bot against two ranges,
 * honest traffic beside it) with the clock moved forward, not slept.
 */
#define _GNU_SOURCE
#include <check.h>
#include <ctype.h>
#include <ftw.h>
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
#include "keys.h"
#include "phone_pool.h"
#include "score.h"
#include "smpp.h"
#include "store.h"
#include "testmode.h"
#include "util.h"
#include "verify.h"

#define T0 1800000000LL
#define MAP (64ULL << 20)
#define PHONE "+447911123456"
#define CODE "123456"

static const uint8_t secret[VERIFY_SECRET_LEN] = {
	5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
	9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 4,
};

/* ---- fixture ---------------------------------------------------------- */

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

static char rundir[64];
static char dir[96];
static struct event_base *base;
static struct store *st;
static struct conf *conf;
static struct keys *keys;
static struct score *score;
static struct phone_pool *phones;
static struct dispatch *d;
static struct flow *f;
static struct carrier fa, fb;
static int nstaged;           /* ids ver_..0 .. nstaged-1 may be in d */
static struct dlr *dl;        /* test mode's cases only */
static struct testmode *tm;

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
hook_sent(void *arg, const struct verif *v, int first, struct carrier *c)
{
	flow_sent(f, v, first);
}

static void
hook_failed(void *arg, const char *id, const char *reason)
{
	flow_failed(f, id, reason);
}

static const struct dispatch_hooks hooks = {
	.sent = hook_sent,
	.failed = hook_failed,
};

/* The fixture over the configuration text. */
static void
setup_conf(const char *text)
{
	char *err = NULL, path[128];
	struct carrier *cs[2] = { &fa, &fb };

	util_clock_set(T0);
	snprintf(dir, sizeof(dir), "%s/t.XXXXXX", rundir);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/db", dir);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	st = store_open(base, path, MAP, &err);
	ck_assert_msg(st != NULL, "store_open: %s", err ? err : "?");
	conf = conf_load_string(text, "t.conf", &err);
	ck_assert_msg(conf != NULL, "conf: %s", err ? err : "?");
	keys = keys_new(conf);
	score = score_new(conf);
	phones = phone_pool_new(base, 1);
	ck_assert_ptr_nonnull(phones);
	fake_carrier_init(&fa, "a");
	fake_carrier_init(&fb, "b");
	nstaged = 0;
	d = dispatch_new(base, st, secret, &hooks, NULL);
	dispatch_reconf(d, conf, cs, 2, score);
	f = flow_new(conf, st, keys, phones, d, NULL, score, secret);
}

static void
setup(void)
{
	setup_conf(CONF_TEXT);
}

static void
answer_all(struct carrier *c)
{
	for (int i = 0; i < c->nsub; i++)
		if (!c->sub[i].answered) {
			c->sub[i].answered = 1;
			dispatch_submit_done(d, c, c->sub[i].cookie,
			    ESME_RINVDSTADR, NULL);
		}
}

static void
teardown(void)
{
	char id[32];

	for (int n = 0; n < nstaged; n++) {
		snprintf(id, sizeof(id), "ver_%024x", n);
		dispatch_drop(d, id);
	}
	answer_all(&fa);
	answer_all(&fb);
	testmode_stop(tm);
	store_flush(st);
	phone_pool_free(phones);
	store_flush(st);
	flow_free(f);
	dispatch_free(d);
	store_close(st);
	testmode_free(tm);
	tm = NULL;
	dlr_free(dl);
	dl = NULL;
	score_free(score);
	keys_free(keys);
	conf_free(conf);
	event_base_free(base);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	util_clock_set(0);
}

/* ---- helpers ---------------------------------------------------------- */

static void
id_of(int n, char *id, size_t size)
{
	snprintf(id, size, "ver_%024x", n);
}

/* Stage verification n of key kname as flow.c's send does (pending,
 * queued, code CODE, the text sealed), hand it to the dispatcher and
 * commit. */
static void
stage(int n, const char *kname)
{
	struct verif v;

	ck_assert_int_lt(n, NMSG);
	memset(&v, 0, sizeof(v));
	id_of(n, v.id, sizeof(v.id));
	util_strlcpy(v.key, kname, sizeof(v.key));
	strcpy(v.phone, PHONE);
	strcpy(v.api, "v1");
	v.status = VERIF_PENDING;
	v.send_state = SEND_QUEUED;
	v.attempt = 1;
	v.max_checks = conf->max_check_attempts;
	v.created_at = v.updated_at = T0;
	v.expires_at = T0 + 600;
	verify_code_hmac(secret, v.id, CODE, v.code_hmac);
	v.sealed = verify_seal(secret, v.id, "Your code is " CODE);
	ck_assert_ptr_nonnull(v.sealed);
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	if (n >= nstaged)
		nstaged = n + 1;
	dispatch_send(d, &v, NULL, NULL, NULL);
	verif_clear(&v);
	ck_assert_int_eq(store_flush(st), STORE_OK);
}

/* Stage n with every SMSC down: it waits in the dispatcher. */
static void
stage_waiting(int n)
{
	fa.up = fb.up = 0;
	stage(n, "k");
}

static int
waiting(void)
{
	struct dispatch_stats ds;

	dispatch_stats(d, &ds);
	return ds.waiting;
}

static void
get(int n, struct verif *v)
{
	char id[32];

	id_of(n, id, sizeof(id));
	memset(v, 0, sizeof(*v));
	ck_assert_int_eq(store_verif_get(st, id, v), STORE_OK);
}

static int
status_of_id(const char *id)
{
	struct verif v;
	int s;

	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(store_verif_get(st, id, &v), STORE_OK);
	s = v.status;
	verif_clear(&v);
	return s;
}

static int
status_of(int n)
{
	struct verif v;
	int s;

	get(n, &v);
	s = v.status;
	verif_clear(&v);
	return s;
}

/* ---- checks ------------------------------------------------------------ */

struct check_seen {
	int n, result, has_fc;
	struct flow_check fc;
};

static void
on_check(void *arg, int result, const struct flow_check *fc)
{
	struct check_seen *c = arg;

	c->n++;
	c->result = result;
	c->has_fc = fc != NULL;
	if (fc != NULL)
		c->fc = *fc;
}

/* Check code against n (or by phone when n < 0) for key, after the
 * commit. */
static void
check(int key, int n, const char *code, struct check_seen *c)
{
	char id[32];

	memset(c, 0, sizeof(*c));
	id_of(n, id, sizeof(id));
	flow_check(f, key, n >= 0 ? id : NULL, n >= 0 ? NULL : PHONE, code,
	    on_check, c);
	ck_assert_int_eq(c->n, 0);          /* after the commit */
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(c->n, 1);
	ck_assert_int_eq(c->result, STORE_OK);
	ck_assert_int_eq(c->has_fc, 1);
}

/* The right code approves; the dispatcher forgets the message: it is not
 * sent when an SMSC comes up. */
START_TEST(check_right_code)
{
	struct check_seen c;
	struct flow_stats fs;

	stage_waiting(0);
	ck_assert_int_eq(waiting(), 1);
	check(0, 0, CODE, &c);
	ck_assert_int_eq(c.fc.found, 1);
	ck_assert_int_eq(c.fc.result, VERIFY_APPROVED);
	ck_assert_str_eq(c.fc.status, "approved");
	ck_assert_str_eq(c.fc.id, "ver_000000000000000000000000");
	ck_assert_str_eq(c.fc.phone, PHONE);
	ck_assert_int_eq(status_of(0), VERIF_APPROVED);
	ck_assert_int_eq(waiting(), 0);
	fa.up = 1;
	dispatch_ready(d, &fa);
	ck_assert_int_eq(fa.nsub, 0);
	/* valid once */
	check(0, 0, CODE, &c);
	ck_assert_int_eq(c.fc.result, VERIFY_USED);
	ck_assert_str_eq(c.fc.status, "not_found");
	flow_stats(f, &fs);
	ck_assert_uint_eq(fs.checks_approved, 1);
	ck_assert_uint_eq(fs.checks_wrong, 0);
	ck_assert_uint_eq(fs.checks_other, 1);
}
END_TEST

/* A wrong code counts (committed) and leaves it pending and queued. */
START_TEST(check_wrong_code)
{
	struct check_seen c;
	struct flow_stats fs;
	struct verif v;

	stage_waiting(0);
	check(0, 0, "000000", &c);
	ck_assert_int_eq(c.fc.found, 1);
	ck_assert_int_eq(c.fc.result, VERIFY_WRONG);
	ck_assert_str_eq(c.fc.status, "pending");
	ck_assert_int_eq(c.fc.attempts_left, 2);
	get(0, &v);
	ck_assert_int_eq(v.status, VERIF_PENDING);
	ck_assert_int_eq(v.checks, 1);
	ck_assert_ptr_nonnull(v.sealed);
	verif_clear(&v);
	ck_assert_int_eq(waiting(), 1);
	flow_stats(f, &fs);
	ck_assert_uint_eq(fs.checks_wrong, 1);
	ck_assert_uint_eq(fs.checks_approved, 0);
}
END_TEST

/* max_check_attempts wrong codes lock it (and drop its message); the
 * right code after that is refused. */
START_TEST(check_max_attempts)
{
	struct check_seen c;
	struct flow_stats fs;

	stage_waiting(0);
	check(0, 0, "000000", &c);
	check(0, 0, "000001", &c);
	ck_assert_int_eq(c.fc.result, VERIFY_WRONG);
	ck_assert_int_eq(waiting(), 1);
	check(0, 0, "000002", &c);
	ck_assert_int_eq(c.fc.result, VERIFY_LOCKED);
	ck_assert_str_eq(c.fc.status, "max_attempts_reached");
	ck_assert_int_eq(c.fc.attempts_left, 0);
	ck_assert_int_eq(status_of(0), VERIF_MAX_ATTEMPTS);
	ck_assert_int_eq(waiting(), 0);
	check(0, 0, CODE, &c);
	ck_assert_int_eq(c.fc.result, VERIFY_LOCKED);
	ck_assert_int_eq(status_of(0), VERIF_MAX_ATTEMPTS);
	flow_stats(f, &fs);
	ck_assert_uint_eq(fs.checks_wrong, 4);
	ck_assert_uint_eq(fs.checks_approved, 0);
}
END_TEST

/* An unknown id, another key's verification, a number with nothing
 * pending: not_found, and nothing changes. */
START_TEST(check_not_found)
{
	struct check_seen c;
	struct flow_stats fs;

	stage_waiting(0);
	check(0, 5, CODE, &c);                /* no such id */
	ck_assert_int_eq(c.fc.found, 0);
	ck_assert_str_eq(c.fc.status, "not_found");
	check(1, 0, CODE, &c);                /* key "other" */
	ck_assert_int_eq(c.fc.found, 0);
	ck_assert_str_eq(c.fc.status, "not_found");
	ck_assert_int_eq(status_of(0), VERIF_PENDING);
	memset(&c, 0, sizeof(c));
	flow_check(f, 0, "ver_0123456789abcdef0123456789abcdef", NULL, CODE,
	    on_check, &c);                     /* too long to be an id */
	store_flush(st);
	ck_assert_int_eq(c.n, 1);
	ck_assert_int_eq(c.fc.found, 0);
	flow_stats(f, &fs);
	ck_assert_uint_eq(fs.checks_other, 3);
	ck_assert_uint_eq(fs.checks_approved, 0);
}
END_TEST

/* By number: the pending verification of (key, phone). */
START_TEST(check_by_phone)
{
	struct check_seen c;

	stage_waiting(0);
	check(1, -1, CODE, &c);               /* another key: none */
	ck_assert_int_eq(c.fc.found, 0);
	ck_assert_str_eq(c.fc.phone, PHONE);
	check(0, -1, CODE, &c);
	ck_assert_int_eq(c.fc.found, 1);
	ck_assert_int_eq(c.fc.result, VERIFY_APPROVED);
	ck_assert_str_eq(c.fc.id, "ver_000000000000000000000000");
	ck_assert_int_eq(status_of(0), VERIF_APPROVED);
}
END_TEST

/* By number after the lock: still the locked one (max_attempts_reached,
 * as SPEC says, not not_found), whatever the code, until a new send. */
START_TEST(check_by_phone_locked)
{
	struct check_seen c;

	stage_waiting(0);
	check(0, -1, "000000", &c);
	check(0, -1, "000001", &c);
	check(0, -1, "000002", &c);
	ck_assert_int_eq(c.fc.result, VERIFY_LOCKED);
	ck_assert_int_eq(status_of(0), VERIF_MAX_ATTEMPTS);
	check(0, -1, CODE, &c);
	ck_assert_int_eq(c.fc.found, 1);
	ck_assert_int_eq(c.fc.result, VERIFY_LOCKED);
	ck_assert_str_eq(c.fc.status, "max_attempts_reached");
	ck_assert_str_eq(c.fc.id, "ver_000000000000000000000000");
	ck_assert_int_eq(c.fc.attempts_left, 0);
	ck_assert_int_eq(status_of(0), VERIF_MAX_ATTEMPTS);
	check(1, -1, CODE, &c);               /* another key: none */
	ck_assert_int_eq(c.fc.found, 0);
	ck_assert_str_eq(c.fc.status, "not_found");
}
END_TEST

/* ---- cancel ------------------------------------------------------------ */

struct cancel_seen {
	int n;
	enum flow_err err;
	int has_v, status;
};

static void
on_cancel(void *arg, enum flow_err err, const struct verif *v)
{
	struct cancel_seen *c = arg;

	c->n++;
	c->err = err;
	c->has_v = v != NULL;
	c->status = v != NULL ? v->status : 0;
}

/* pending -> canceled, answered after the commit; its message is
 * dropped. */
START_TEST(cancel_pending)
{
	struct cancel_seen c = { 0 };
	struct flow_stats fs;
	struct verif v;

	stage_waiting(0);
	flow_cancel(f, 0, "ver_000000000000000000000000", on_cancel, &c);
	ck_assert_int_eq(c.n, 0);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(c.n, 1);
	ck_assert_int_eq(c.err, FLOW_OK);
	ck_assert_int_eq(c.has_v, 1);
	ck_assert_int_eq(c.status, VERIF_CANCELED);
	get(0, &v);
	ck_assert_int_eq(v.status, VERIF_CANCELED);
	ck_assert_ptr_null(v.sealed);
	ck_assert_int_eq(v.updated_at, T0 + 0);
	verif_clear(&v);
	ck_assert_int_eq(waiting(), 0);
	flow_stats(f, &fs);
	ck_assert_uint_eq(fs.cancels, 1);
}
END_TEST

/* Not pending any more: FLOW_NOT_PENDING with the record as it is. */
START_TEST(cancel_not_pending)
{
	struct cancel_seen c = { 0 };
	struct check_seen ck;
	struct flow_stats fs;

	stage_waiting(0);
	check(0, 0, CODE, &ck);
	flow_cancel(f, 0, "ver_000000000000000000000000", on_cancel, &c);
	ck_assert_int_eq(c.n, 1);
	ck_assert_int_eq(c.err, FLOW_NOT_PENDING);
	ck_assert_int_eq(c.has_v, 1);
	ck_assert_int_eq(c.status, VERIF_APPROVED);
	store_flush(st);
	ck_assert_int_eq(c.n, 1);
	ck_assert_int_eq(status_of(0), VERIF_APPROVED);
	flow_stats(f, &fs);
	ck_assert_uint_eq(fs.cancels, 0);
}
END_TEST

/* Another key's verification, or no such id: FLOW_NOT_FOUND, nothing
 * changes. */
START_TEST(cancel_other_key)
{
	struct cancel_seen c = { 0 };

	stage_waiting(0);
	flow_cancel(f, 1, "ver_000000000000000000000000", on_cancel, &c);
	ck_assert_int_eq(c.n, 1);
	ck_assert_int_eq(c.err, FLOW_NOT_FOUND);
	ck_assert_int_eq(c.has_v, 0);
	flow_cancel(f, 0, "ver_00000000000000000000000f", on_cancel, &c);
	ck_assert_int_eq(c.n, 2);
	ck_assert_int_eq(c.err, FLOW_NOT_FOUND);
	store_flush(st);
	ck_assert_int_eq(status_of(0), VERIF_PENDING);
	ck_assert_int_eq(waiting(), 1);
}
END_TEST

/* ---- the dispatcher's failures and the sweep's expiries ---------------- */

/* A final refusal reaches flow_failed() through the hook: the record is
 * failed with the status as its reason. */
START_TEST(failed_by_refusal)
{
	struct verif v;

	stage(0, "k");
	ck_assert_int_eq(fa.nsub, 1);
	fa.sub[0].answered = 1;
	dispatch_submit_done(d, &fa, fa.sub[0].cookie, ESME_RINVDSTADR, NULL);
	ck_assert_int_eq(fb.nsub, 0);
	store_flush(st);
	get(0, &v);
	ck_assert_int_eq(v.status, VERIF_FAILED);
	ck_assert_int_eq(v.send_state, SEND_FAILED);
	ck_assert_str_eq(v.fail_reason, "ESME_RINVDSTADR");
	ck_assert_ptr_null(v.sealed);
	verif_clear(&v);
}
END_TEST

/* flow_failed() on a verification that is no longer pending leaves it;
 * on an unknown id it does nothing. */
START_TEST(failed_not_pending)
{
	struct cancel_seen c = { 0 };
	struct verif v;

	stage_waiting(0);
	flow_cancel(f, 0, "ver_000000000000000000000000", on_cancel, &c);
	store_flush(st);
	flow_failed(f, "ver_000000000000000000000000", "late");
	flow_failed(f, "ver_00000000000000000000000f", "nothing");
	store_flush(st);
	get(0, &v);
	ck_assert_int_eq(v.status, VERIF_CANCELED);
	ck_assert_str_eq(v.fail_reason, "");
	verif_clear(&v);
}
END_TEST

static void
on_expired(void *arg, const struct verif *v)
{
	flow_expired(f, v);
}

/* The sweep expires a pending verification: flow_expired() drops its
 * message and counts it. */
START_TEST(expired_by_sweep)
{
	struct flow_stats fs;

	stage_waiting(0);
	ck_assert_int_eq(store_sweep(st, T0 + 599, 10, 3600, on_expired,
	    NULL), 0);
	ck_assert_int_eq(waiting(), 1);
	ck_assert_int_eq(store_sweep(st, T0 + 600, 10, 3600, on_expired,
	    NULL), 1);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(status_of(0), VERIF_EXPIRED);
	ck_assert_int_eq(waiting(), 0);
	flow_stats(f, &fs);
	ck_assert_uint_eq(fs.expired, 1);
	fa.up = 1;
	dispatch_ready(d, &fa);
	ck_assert_int_eq(fa.nsub, 0);
}
END_TEST

/* ---- send ---------------------------------------------------------------- */

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

static void
on_send(struct flow_send *fs, const struct verif *v)
{
	struct send_seen *s = fs->arg;

	s->n++;
	s->err = fs->err;
	if (fs->limit != NULL)
		util_strlcpy(s->limit, fs->limit, sizeof(s->limit));
	s->retry_after = fs->retry_after;
	s->has_v = v != NULL;
	util_strlcpy(s->fs_country, fs->country, sizeof(s->fs_country));
	util_strlcpy(s->fs_range, fs->range, sizeof(s->fs_range));
	s->fs_retry_after = fs->retry_after;
	if (v != NULL) {
		s->v = *v;
		s->v.sealed = NULL;
		s->v.metadata = NULL;
	}
}

/* Run the loop until cond holds, a bounded number of turns (the number
 * is read on the worker thread). */
#define RUN_UNTIL(cond) do { \
	for (int turn_ = 0; turn_ < 200 && !(cond); turn_++) \
		event_base_loop(base, EVLOOP_ONCE); \
	ck_assert_msg((cond), "never: %s", #cond); \
} while (0)

/* The code in a submit's text (the first run of six digits). */
static void
code_of(const struct carrier *c, int k, char *code)
{
	const char *p = c->sub[k].body;

	for (; *p != '\0'; p++) {
		int n = 0;
		while (isdigit((unsigned char)p[n]))
			n++;
		if (n == 6) {
			memcpy(code, p, 6);
			code[6] = '\0';
			return;
		}
		if (n > 0)
			p += n - 1;
	}
	ck_abort_msg("no code in \"%s\"", c->sub[k].body);
}

static struct flow_send *
new_send(struct send_seen *s, const char *phone)
{
	struct flow_send *fs = flow_send_new(f, 0, "v1", on_send, s);

	memset(s, 0, sizeof(*s));
	fs->phone = phone;
	fs->region = NULL;
	return fs;
}

/* A send: the number read, the record stored, the first SMSC's accept
 * answered with the record sent; the code in the SMS checks right. */
START_TEST(send_then_check)
{
	struct send_seen s;
	struct check_seen c;
	struct flow_stats fst;
	char code[8], id[32];

	flow_send(new_send(&s, PHONE));
	RUN_UNTIL(fa.nsub == 1);
	ck_assert_int_eq(s.n, 0);             /* waits for the SMSC */
	fa.sub[0].answered = 1;
	dispatch_submit_done(d, &fa, fa.sub[0].cookie, 0, "m1");
	store_flush(st);
	ck_assert_int_eq(s.n, 1);
	ck_assert_int_eq(s.err, FLOW_OK);
	ck_assert_int_eq(s.has_v, 1);
	ck_assert_int_eq(s.v.status, VERIF_PENDING);
	ck_assert_int_eq(s.v.send_state, SEND_SENT);
	ck_assert_str_eq(s.v.phone, PHONE);
	ck_assert_str_eq(s.v.key, "k");
	ck_assert_int_eq(s.v.attempt, 1);
	ck_assert_int_eq(s.v.expires_at, T0 + conf->expiry);
	ck_assert_str_eq(s.v.send[0].smsc, "a");

	code_of(&fa, 0, code);
	util_strlcpy(id, s.v.id, sizeof(id));
	memset(&c, 0, sizeof(c));
	flow_check(f, 0, id, NULL, code, on_check, &c);
	store_flush(st);
	ck_assert_int_eq(c.n, 1);
	ck_assert_int_eq(c.fc.result, VERIFY_APPROVED);
	flow_stats(f, &fst);
	ck_assert_uint_eq(fst.sends, 1);
	ck_assert_uint_eq(fst.sends_queued, 0);
	ck_assert_uint_eq(fst.checks_approved, 1);
}
END_TEST

/* A second send to the number within repeat_window supersedes the first
 * (canceled) and, as a repeat, goes to the SMSC after the last one. */
START_TEST(send_repeat_supersedes)
{
	struct send_seen s1, s2;
	struct verif v;

	flow_send(new_send(&s1, PHONE));
	RUN_UNTIL(fa.nsub == 1);
	fa.sub[0].answered = 1;
	dispatch_submit_done(d, &fa, fa.sub[0].cookie, 0, "m1");
	store_flush(st);
	ck_assert_int_eq(s1.n, 1);

	util_clock_set(T0 + 30);
	flow_send(new_send(&s2, PHONE));
	RUN_UNTIL(fb.nsub == 1);
	ck_assert_int_eq(fa.nsub, 1);
	fb.sub[0].answered = 1;
	dispatch_submit_done(d, &fb, fb.sub[0].cookie, 0, "m2");
	store_flush(st);
	ck_assert_int_eq(s2.n, 1);
	ck_assert_int_eq(s2.v.attempt, 2);
	ck_assert_str_eq(s2.v.send[0].smsc, "b");
	ck_assert_str_eq(s2.v.send[0].reason, "repeat");
	ck_assert_str_ne(s2.v.id, s1.v.id);
	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(store_verif_get(st, s1.v.id, &v), STORE_OK);
	ck_assert_int_eq(v.status, VERIF_CANCELED);
	verif_clear(&v);
}
END_TEST

/* A send to phone, accepted by the SMSC it went to (the k-th submit to
 * it); its record into s. */
static void
send_accepted(struct send_seen *s, const char *phone, struct carrier *c,
    int k, const char *msgid)
{
	flow_send(new_send(s, phone));
	RUN_UNTIL(c->nsub == k + 1);
	c->sub[k].answered = 1;
	dispatch_submit_done(d, c, c->sub[k].cookie, 0, msgid);
	store_flush(st);
	ck_assert_int_eq(s->n, 1);
	ck_assert_int_eq(s->err, FLOW_OK);
}

/* Lock the verification of PHONE with max_check_attempts wrong codes. */
static void
lock_by_phone(void)
{
	struct check_seen c;

	for (int i = 0; i < conf->max_check_attempts; i++)
		check(0, -1, "000000", &c);
	ck_assert_int_eq(c.fc.result, VERIFY_LOCKED);
}

/* A send soon after the last one locked (max attempts) is a repeat: its
 * attempt is 2 and it goes over the next SMSC, as after any send; the
 * locked one stays locked, and the new code checks by number. */
START_TEST(send_after_lock_is_repeat)
{
	struct send_seen s1, s2;
	struct check_seen c;
	struct verif v;
	char code[8];

	send_accepted(&s1, PHONE, &fa, 0, "m1");
	ck_assert_int_eq(s1.v.attempt, 1);
	ck_assert_str_eq(s1.v.send[0].smsc, "a");
	lock_by_phone();

	util_clock_set(T0 + 30);
	send_accepted(&s2, PHONE, &fb, 0, "m2");
	ck_assert_int_eq(fa.nsub, 1);
	ck_assert_int_eq(s2.v.attempt, 2);
	ck_assert_str_eq(s2.v.send[0].smsc, "b");
	ck_assert_str_eq(s2.v.send[0].reason, "repeat");
	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(store_verif_get(st, s1.v.id, &v), STORE_OK);
	ck_assert_int_eq(v.status, VERIF_MAX_ATTEMPTS);
	verif_clear(&v);

	/* The number's verification is the new one now. */
	code_of(&fb, 0, code);
	check(0, -1, code, &c);
	ck_assert_int_eq(c.fc.result, VERIFY_APPROVED);
	ck_assert_str_eq(c.fc.id, s2.v.id);
}
END_TEST

/* Past repeat_window the lock is history: attempt 1, the first SMSC. */
START_TEST(send_after_lock_outside_window)
{
	struct send_seen s1, s2;

	send_accepted(&s1, PHONE, &fa, 0, "m1");
	lock_by_phone();
	util_clock_set(T0 + conf->repeat_window + 1);
	send_accepted(&s2, PHONE, &fa, 1, "m2");
	ck_assert_int_eq(fb.nsub, 0);
	ck_assert_int_eq(s2.v.attempt, 1);
	ck_assert_str_eq(s2.v.send[0].smsc, "a");
}
END_TEST

/* Every SMSC down: answered queued, and counted. */
START_TEST(send_queued)
{
	struct send_seen s;
	struct flow_stats fst;

	fa.up = fb.up = 0;
	flow_send(new_send(&s, PHONE));
	RUN_UNTIL(s.n == 1);
	ck_assert_int_eq(s.err, FLOW_OK);
	ck_assert_int_eq(s.v.send_state, SEND_QUEUED);
	flow_stats(f, &fst);
	ck_assert_uint_eq(fst.sends, 1);
	ck_assert_uint_eq(fst.sends_queued, 1);
	ck_assert_int_eq(waiting(), 1);
	/* teardown drops it by id */
	dispatch_drop(d, s.v.id);
}
END_TEST

/* Not a number, and a bad sender: refused before anything is stored. */
START_TEST(send_refused)
{
	struct send_seen s;
	struct flow_send *fs;
	struct flow_stats fst;

	flow_send(new_send(&s, "not a number"));
	RUN_UNTIL(s.n == 1);
	ck_assert_int_eq(s.err, FLOW_PHONE_UNPARSABLE);
	ck_assert_int_eq(s.has_v, 0);
	fs = new_send(&s, PHONE);
	fs->sender = "no/slash";
	flow_send(fs);
	RUN_UNTIL(s.n == 1);
	ck_assert_int_eq(s.err, FLOW_SENDER);
	ck_assert_int_eq(fa.nsub + fb.nsub, 0);
	flow_stats(f, &fst);
	ck_assert_uint_eq(fst.sends, 0);
}
END_TEST

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
flow_suite(void)
{
	Suite *s = suite_create("flow");
	TCase *tc;

	tc = tcase_create("check");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, check_right_code);
	tcase_add_test(tc, check_wrong_code);
	tcase_add_test(tc, check_max_attempts);
	tcase_add_test(tc, check_not_found);
	tcase_add_test(tc, check_by_phone);
	tcase_add_test(tc, check_by_phone_locked);
	suite_add_tcase(s, tc);

	tc = tcase_create("cancel");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, cancel_pending);
	tcase_add_test(tc, cancel_not_pending);
	tcase_add_test(tc, cancel_other_key);
	suite_add_tcase(s, tc);

	tc = tcase_create("outcomes");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, failed_by_refusal);
	tcase_add_test(tc, failed_not_pending);
	tcase_add_test(tc, expired_by_sweep);
	suite_add_tcase(s, tc);

	tc = tcase_create("send");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, send_then_check);
	tcase_add_test(tc, send_repeat_supersedes);
	tcase_add_test(tc, send_after_lock_is_repeat);
	tcase_add_test(tc, send_after_lock_outside_window);
	tcase_add_test(tc, send_queued);
	tcase_add_test(tc, send_refused);
	suite_add_tcase(s, tc);

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
	SRunner *sr = srunner_create(flow_suite());
	int failed_n;

	strcpy(rundir, "/tmp/check_flow.XXXXXX");
	if (mkdtemp(rundir) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	srunner_run_all(sr, CK_ENV);
	failed_n = srunner_ntests_failed(sr);
	srunner_free(sr);
	nftw(rundir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return failed_n == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
