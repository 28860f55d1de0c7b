/*
 * check_dispatch.c - dispatch.c without sockets: a message's route over
 * fake carriers, what each SMSC answer does to the record, the wait queue,
 * sidelining, drops, reloads while a submit is in flight, the counters,
 * and (with dlr.c) a receipt that overtakes its submit's answer.
 *
 * The carriers are fakes defined here: dispatch.c and dlr.c call
 * carrier_up(), carrier_room(), carrier_submit() and the rest, and these
 * definitions win at link time (carrier.o is never pulled from the
 * archive; if something did pull it in, the link would fail on duplicate
 * symbols).  A fake carrier records each submit and the test answers it
 * by calling dispatch_submit_done() itself, as the carrier's owner would.
 *
 * The store is real (a fresh LMDB directory per test) on a fresh
 * event_base; store_flush() commits and runs the commit callbacks, so the
 * test decides when each answer may leave.  Time is fixed with
 * util_clock_set(); nothing sleeps.
 */
#define _GNU_SOURCE
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <lmdb.h>

#include "carrier.h"
#include "conf.h"
#include "dispatch.h"
#include "fake_carrier.h"
#include "dlr.h"
#include "score.h"
#include "smpp.h"
#include "store.h"
#include "util.h"
#include "verif_state.h"
#include "verify.h"

#define T0 1800000000LL
#define MAP (64ULL << 20)
#define TEXT "Your code is 123456"
#define PHONE "+447911123456"
#define PHONE2 "+447911123457"

static const uint8_t secret[VERIFY_SECRET_LEN] = {
	9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 4,
	3, 2, 1, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8,
};

/* ---- fixture ---------------------------------------------------------- */

#define CONF_AB \
	"[server]\n" \
	"submit_wait_ms = 3000\n" \
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
	"token = 0123456789abcdef0123\n"

#define NMSG 40

static char rundir[64];
static char dir[96];
static struct event_base *base;
static struct store *st;
static struct conf *conf, *conf2;
static struct score *score, *score2;
static struct dispatch *d;
static struct dlr *dl;
static struct carrier fa, fb, fc;

/* What the hooks and the answers saw. */
static struct {
	int n, first;
	struct carrier *c;
	char id[32];
} sent;
static struct {
	int n;
	char id[32], reason[64];
} failed;
struct answer_seen {
	int n, result;
	struct verif v;           /* sealed and metadata not kept */
	int had_sealed;
};
static struct answer_seen answers[NMSG];
static int nsends;            /* messages handed to dispatch_send */

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static struct conf *
load(const char *text)
{
	char *errors = NULL;
	struct conf *c = conf_load_string(text, "t.conf", &errors);

	ck_assert_msg(c != NULL, "conf refused: %s", errors ? errors : "?");
	return c;
}

/* The owner's side of the hooks, as gw.c wires them: a failure fails the
 * record the way flow_failed() does; an accept retries parked receipts. */
static void
hook_sent(void *arg, const struct verif *v, int first, struct carrier *c)
{
	sent.n++;
	sent.first = first;
	sent.c = c;
	util_strlcpy(sent.id, v->id, sizeof(sent.id));
	if (dl != NULL)
		dlr_retry_parked(dl, c, v);
}

static void
hook_failed(void *arg, const char *id, const char *reason)
{
	struct verif v;

	failed.n++;
	util_strlcpy(failed.id, id, sizeof(failed.id));
	util_strlcpy(failed.reason, reason, sizeof(failed.reason));
	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(store_verif_get(st, id, &v), STORE_OK);
	if (verif_enter(&v, VERIF_FAILED, reason, util_now()) == 0)
		ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	verif_clear(&v);
}

static const struct dispatch_hooks hooks = {
	.sent = hook_sent,
	.failed = hook_failed,
};

static void
setup(void)
{
	char *err = NULL;
	char path[128];
	struct carrier *cs[2] = { &fa, &fb };

	util_clock_set(T0);
	snprintf(dir, sizeof(dir), "%s/t.XXXXXX", rundir);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/db", dir);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	st = store_open(base, path, MAP, &err);
	ck_assert_msg(st != NULL, "store_open: %s", err ? err : "?");
	conf = load(CONF_AB);
	score = score_new(conf);
	conf2 = NULL;
	score2 = NULL;
	fake_carrier_init(&fa, "a");
	fake_carrier_init(&fb, "b");
	fake_carrier_init(&fc, "c");
	memset(&sent, 0, sizeof(sent));
	memset(&failed, 0, sizeof(failed));
	memset(answers, 0, sizeof(answers));
	memset(&fake_acked, 0, sizeof(fake_acked));
	nsends = 0;
	dl = NULL;
	d = dispatch_new(base, st, secret, &hooks, NULL);
	dispatch_reconf(d, conf, cs, 2, score);
}

static void
answer_all(struct carrier *c, uint32_t status)
{
	for (int i = 0; i < c->nsub; i++)
		if (!c->sub[i].answered) {
			c->sub[i].answered = 1;
			dispatch_submit_done(d, c, c->sub[i].cookie, status,
			    NULL);
		}
}

static void
teardown(void)
{
	char id[32];

	/* Forget every message (waiting ones answer now), give back the
	 * cookies still out, run the answers, then free. */
	for (int n = 0; n < nsends; n++) {
		snprintf(id, sizeof(id), "ver_%024x", n);
		dispatch_drop(d, id);
	}
	answer_all(&fa, ESME_RINVDSTADR);
	answer_all(&fb, ESME_RINVDSTADR);
	answer_all(&fc, ESME_RINVDSTADR);
	store_flush(st);
	dispatch_free(d);
	dlr_free(dl);
	dl = NULL;
	store_close(st);
	score_free(score);
	score_free(score2);
	conf_free(conf);
	conf_free(conf2);
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

static void
on_answer(void *ctx, const struct verif *v, int result)
{
	struct answer_seen *a = ctx;

	a->n++;
	a->result = result;
	memset(&a->v, 0, sizeof(a->v));
	if (v != NULL) {
		a->v = *v;
		a->had_sealed = v->sealed != NULL;
		a->v.sealed = NULL;
		a->v.metadata = NULL;
	}
}

/* Stage verification n to phone the way flow.c does (pending, queued,
 * the text sealed) and hand it to the dispatcher. */
static void
send_to(int n, const char *text, const char *phone)
{
	struct verif v;

	ck_assert_int_lt(n, NMSG);
	memset(&v, 0, sizeof(v));
	id_of(n, v.id, sizeof(v.id));
	strcpy(v.key, "k");
	strcpy(v.phone, phone);
	strcpy(v.api, "v1");
	v.status = VERIF_PENDING;
	v.send_state = SEND_QUEUED;
	v.attempt = 1;
	v.max_checks = 5;
	v.created_at = v.updated_at = T0;
	v.expires_at = T0 + 600;
	verify_code_hmac(secret, v.id, "123456", v.code_hmac);
	v.sealed = verify_seal(secret, v.id, text);
	ck_assert_ptr_nonnull(v.sealed);
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	if (n >= nsends)
		nsends = n + 1;
	dispatch_send(d, &v, NULL, on_answer, &answers[n]);
	verif_clear(&v);
}

static void
send_n(int n, const char *text)
{
	send_to(n, text, PHONE);
}

static void
send_one(int n)
{
	send_n(n, TEXT);
}

/* Verification n, created now (the test clock) to expire at exp, with
 * the text "code N" (so a submit tells which message it carries). */
static void
send_exp(int n, int64_t exp)
{
	struct verif v;
	char text[32];

	ck_assert_int_lt(n, NMSG);
	snprintf(text, sizeof(text), "code %d", n);
	memset(&v, 0, sizeof(v));
	id_of(n, v.id, sizeof(v.id));
	strcpy(v.key, "k");
	snprintf(v.phone, sizeof(v.phone), "+44791112%04d", n % 10000);
	strcpy(v.api, "v1");
	v.status = VERIF_PENDING;
	v.send_state = SEND_QUEUED;
	v.attempt = 1;
	v.max_checks = 5;
	v.created_at = v.updated_at = util_now();
	v.expires_at = exp;
	verify_code_hmac(secret, v.id, "123456", v.code_hmac);
	v.sealed = verify_seal(secret, v.id, text);
	ck_assert_ptr_nonnull(v.sealed);
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	if (n >= nsends)
		nsends = n + 1;
	dispatch_send(d, &v, NULL, on_answer, &answers[n]);
	verif_clear(&v);
}

/* The message number a submit carries ("code N"), or -1. */
static int
sub_msg(const struct carrier *c, int k)
{
	int n;

	ck_assert_int_lt(k, c->nsub);
	return sscanf(c->sub[k].body, "code %d", &n) == 1 ? n : -1;
}

/* Read record n (staged or committed) into v. */
static void
get(int n, struct verif *v)
{
	char id[32];

	id_of(n, id, sizeof(id));
	memset(v, 0, sizeof(*v));
	ck_assert_int_eq(store_verif_get(st, id, v), STORE_OK);
}

/* Answer submit k of carrier c. */
static void
reply(struct carrier *c, int k, uint32_t status, const char *msgid)
{
	ck_assert_int_lt(k, c->nsub);
	ck_assert_msg(!c->sub[k].answered, "%s: submit %d answered twice",
	    c->name, k);
	c->sub[k].answered = 1;
	c->room++;
	dispatch_submit_done(d, c, c->sub[k].cookie, status, msgid);
}

static void
stats(struct dispatch_stats *ds)
{
	memset(ds, 0xff, sizeof(*ds));
	dispatch_stats(d, ds);
}

/* ---- submit and outcome ------------------------------------------------ */

/* The route's first SMSC gets it; nothing is answered before the SMSC
 * answers; the accept turns the record sent with the send recorded, the
 * sealed text erased, the message id indexed, and fires sent(first=1). */
START_TEST(accepted_by_first)
{
	struct verif v;
	char id[32];

	send_one(0);
	ck_assert_int_eq(fa.nsub, 1);
	ck_assert_int_eq(fb.nsub, 0);
	ck_assert_str_eq(fa.sub[0].destination, PHONE + 1);
	ck_assert_str_eq(fa.sub[0].source, "Verify");
	ck_assert_str_eq(fa.sub[0].body, TEXT);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(answers[0].n, 0);   /* waits for the SMSC */
	ck_assert_int_eq(sent.n, 0);

	reply(&fa, 0, 0, "abc123");
	ck_assert_int_eq(sent.n, 1);
	ck_assert_int_eq(sent.first, 1);
	ck_assert_ptr_eq(sent.c, &fa);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(answers[0].n, 1);
	ck_assert_int_eq(answers[0].result, STORE_OK);
	ck_assert_int_eq(answers[0].v.send_state, SEND_SENT);
	ck_assert_int_eq(answers[0].had_sealed, 0);

	get(0, &v);
	ck_assert_int_eq(v.status, VERIF_PENDING);
	ck_assert_int_eq(v.send_state, SEND_SENT);
	ck_assert_ptr_null(v.sealed);
	ck_assert_int_eq(v.nsend, 1);
	ck_assert_str_eq(v.send[0].smsc, "a");
	ck_assert_str_eq(v.send[0].message_id, "abc123");
	ck_assert_int_eq(v.send[0].dlr, DLR_PENDING);
	ck_assert_int_eq(v.send[0].submitted_at, T0);
	ck_assert_str_eq(v.send[0].reason, "primary");
	verif_clear(&v);
	ck_assert_int_eq(store_msgid_get(st, "a", "ABC123", id, sizeof(id)),
	    STORE_OK);
	ck_assert_str_eq(id, "ver_000000000000000000000000");
}
END_TEST

/* a is up but its window is full: b gets it, as a failover. */
START_TEST(window_full_goes_to_b)
{
	struct verif v;

	fa.room = 0;
	send_one(0);
	ck_assert_int_eq(fa.nsub, 0);
	ck_assert_int_eq(fb.nsub, 1);
	reply(&fb, 0, 0, "b-1");
	ck_assert_ptr_eq(sent.c, &fb);
	store_flush(st);
	get(0, &v);
	ck_assert_int_eq(v.send_state, SEND_SENT);
	ck_assert_int_eq(v.nsend, 1);
	ck_assert_str_eq(v.send[0].smsc, "b");
	ck_assert_str_eq(v.send[0].reason, "failover");
	verif_clear(&v);
}
END_TEST

/* A final refusal: no other SMSC is tried, failed() names the status, and
 * the answer carries the record as failed() left it. */
START_TEST(final_refusal_fails)
{
	struct verif v;

	send_one(0);
	store_flush(st);
	reply(&fa, 0, ESME_RINVDSTADR, NULL);
	ck_assert_int_eq(fb.nsub, 0);
	ck_assert_int_eq(sent.n, 0);
	ck_assert_int_eq(failed.n, 1);
	ck_assert_str_eq(failed.id, "ver_000000000000000000000000");
	ck_assert_str_eq(failed.reason, "ESME_RINVDSTADR");
	ck_assert_int_eq(answers[0].n, 0);   /* after the commit */
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(answers[0].n, 1);
	ck_assert_int_eq(answers[0].result, STORE_OK);
	ck_assert_str_eq(answers[0].v.id, "ver_000000000000000000000000");
	ck_assert_int_eq(answers[0].v.status, VERIF_FAILED);
	ck_assert_int_eq(answers[0].v.send_state, SEND_FAILED);
	ck_assert_str_eq(answers[0].v.fail_reason, "ESME_RINVDSTADR");
	get(0, &v);
	ck_assert_int_eq(v.status, VERIF_FAILED);
	ck_assert_int_eq(v.nsend, 0);
	verif_clear(&v);
}
END_TEST

/* A refusal another SMSC may take: b gets the message at once. */
START_TEST(retry_other_fails_over)
{
	struct verif v;

	send_one(0);
	reply(&fa, 0, ESME_RSUBMITFAIL, NULL);
	ck_assert_int_eq(failed.n, 0);
	ck_assert_int_eq(fa.nsub, 1);
	ck_assert_int_eq(fb.nsub, 1);
	ck_assert_str_eq(fb.sub[0].body, TEXT);
	reply(&fb, 0, 0, "77");
	ck_assert_int_eq(sent.first, 1);
	ck_assert_ptr_eq(sent.c, &fb);
	store_flush(st);
	ck_assert_int_eq(answers[0].n, 1);
	get(0, &v);
	ck_assert_int_eq(v.send_state, SEND_SENT);
	ck_assert_int_eq(v.nsend, 1);
	ck_assert_str_eq(v.send[0].smsc, "b");
	ck_assert_str_eq(v.send[0].reason, "failover");
	verif_clear(&v);
}
END_TEST

/* Every SMSC of the route refuses, round after round: after three rounds
 * the message fails with the last status. */
START_TEST(every_smsc_refuses)
{
	send_one(0);
	for (int round = 0; round < 3; round++) {
		ck_assert_int_eq(fa.nsub, round + 1);
		reply(&fa, round, ESME_RSUBMITFAIL, NULL);
		ck_assert_int_eq(fb.nsub, round + 1);
		reply(&fb, round, ESME_RSUBMITFAIL, NULL);
		if (round == 0)
			ck_assert_int_eq(failed.n, 0);
	}
	ck_assert_int_eq(failed.n, 1);
	ck_assert_str_eq(failed.reason, "ESME_RSUBMITFAIL");
	ck_assert_int_eq(fa.nsub, 3);
	ck_assert_int_eq(fb.nsub, 3);
	store_flush(st);
	ck_assert_int_eq(answers[0].n, 1);
	ck_assert_int_eq(answers[0].v.status, VERIF_FAILED);
}
END_TEST

/* Every SMSC down: answered `queued` at once and waiting; a carrier that
 * comes up and reports ready takes it. */
START_TEST(all_down_waits)
{
	struct dispatch_stats ds;
	struct verif v;

	fa.up = fb.up = 0;
	send_one(0);
	ck_assert_int_eq(fa.nsub + fb.nsub, 0);
	store_flush(st);
	ck_assert_int_eq(answers[0].n, 1);
	ck_assert_int_eq(answers[0].result, STORE_OK);
	ck_assert_int_eq(answers[0].v.status, VERIF_PENDING);
	ck_assert_int_eq(answers[0].v.send_state, SEND_QUEUED);
	stats(&ds);
	ck_assert_int_eq(ds.waiting, 1);
	ck_assert_int_eq(ds.inflight, 0);

	fb.up = 1;
	dispatch_ready(d, &fb);
	ck_assert_int_eq(fa.nsub, 0);
	ck_assert_int_eq(fb.nsub, 1);
	stats(&ds);
	ck_assert_int_eq(ds.waiting, 0);
	ck_assert_int_eq(ds.inflight, 1);
	reply(&fb, 0, 0, "q1");
	store_flush(st);
	ck_assert_int_eq(answers[0].n, 1);   /* answered once only */
	get(0, &v);
	ck_assert_int_eq(v.send_state, SEND_SENT);
	ck_assert_str_eq(v.send[0].smsc, "b");
	verif_clear(&v);
}
END_TEST

/* A text of two SMS goes as two UDH parts; the message is sent when both
 * are accepted, with a send (and a message id) per part. */
START_TEST(long_text_two_parts)
{
	char text[200];
	struct verif v;

	memset(text, 'x', 170);
	strcpy(text + 170, " 123456");
	send_n(0, text);
	ck_assert_int_eq(fa.nsub, 2);
	ck_assert_int_eq(fa.sub[0].esm_class, 0x40);
	reply(&fa, 0, 0, "p1");
	ck_assert_int_eq(sent.n, 0);   /* the other part is still out */
	reply(&fa, 1, 0, "p2");
	ck_assert_int_eq(sent.n, 1);
	store_flush(st);
	get(0, &v);
	ck_assert_int_eq(v.send_state, SEND_SENT);
	ck_assert_int_eq(v.nsend, 2);
	ck_assert_str_eq(v.send[0].message_id, "p1");
	ck_assert_str_eq(v.send[1].message_id, "p2");
	verif_clear(&v);
}
END_TEST

/* ---- sidelining -------------------------------------------------------- */

/* Five retry-elsewhere refusals in a row from a: the next message goes to
 * b first while b is up; with b down, a is better than nothing. */
START_TEST(sideline_after_five)
{
	for (int n = 0; n < 5; n++) {
		send_one(n);
		ck_assert_int_eq(fa.nsub, n + 1);
		reply(&fa, n, ESME_RSUBMITFAIL, NULL);
		ck_assert_int_eq(fb.nsub, n + 1);
		reply(&fb, n, 0, NULL);
	}
	ck_assert_int_eq(sent.n, 5);
	send_one(5);
	ck_assert_int_eq(fa.nsub, 5);          /* passed over */
	ck_assert_int_eq(fb.nsub, 6);
	reply(&fb, 5, 0, NULL);

	fb.up = 0;
	send_one(6);
	ck_assert_int_eq(fa.nsub, 6);
	reply(&fa, 5, 0, NULL);
	ck_assert_ptr_eq(sent.c, &fa);
}
END_TEST

/* Four refusals and an accept do not sideline: the streak restarts. */
START_TEST(sideline_streak_resets)
{
	for (int n = 0; n < 4; n++) {
		send_one(n);
		reply(&fa, n, ESME_RSUBMITFAIL, NULL);
		reply(&fb, n, 0, NULL);
	}
	send_one(4);
	ck_assert_int_eq(fa.nsub, 5);
	reply(&fa, 4, 0, NULL);
	send_one(5);
	ck_assert_int_eq(fa.nsub, 6);          /* still first */
	reply(&fa, 5, ESME_RSUBMITFAIL, NULL);
	reply(&fb, 4, 0, NULL);
	send_one(6);
	ck_assert_int_eq(fa.nsub, 7);
}
END_TEST

/* ---- drop -------------------------------------------------------------- */

/* A waiting message dropped is not sent when a carrier comes up. */
START_TEST(drop_waiting)
{
	struct dispatch_stats ds;

	fa.up = fb.up = 0;
	send_one(0);
	send_one(1);
	stats(&ds);
	ck_assert_int_eq(ds.waiting, 2);
	dispatch_drop(d, "ver_000000000000000000000000");
	stats(&ds);
	ck_assert_int_eq(ds.waiting, 1);
	fa.up = 1;
	dispatch_ready(d, &fa);
	ck_assert_int_eq(fa.nsub, 1);
	ck_assert_int_eq(fa.sub[0].cookie != NULL, 1);
	reply(&fa, 0, 0, NULL);
	ck_assert_str_eq(sent.id, "ver_000000000000000000000001");
	ck_assert_int_eq(sent.n, 1);
	stats(&ds);
	ck_assert_int_eq(ds.waiting, 0);
	ck_assert_int_eq(ds.inflight, 0);
}
END_TEST

/* A message dropped on the wire is forgotten when its answer comes back:
 * a refusal does not move it on to b, nor fail it. */
START_TEST(drop_inflight)
{
	struct dispatch_stats ds;

	send_one(0);
	dispatch_drop(d, "ver_000000000000000000000000");
	stats(&ds);
	ck_assert_int_eq(ds.inflight, 1);
	reply(&fa, 0, ESME_RSUBMITFAIL, NULL);
	ck_assert_int_eq(fb.nsub, 0);
	ck_assert_int_eq(failed.n, 0);
	stats(&ds);
	ck_assert_int_eq(ds.inflight, 0);
	ck_assert_int_eq(ds.waiting, 0);
	store_flush(st);
	ck_assert_int_eq(answers[0].n, 1);
	ck_assert_int_eq(answers[0].v.send_state, SEND_QUEUED);
}
END_TEST

/* Two messages to one number: the second waits while the first is on the
 * wire (whatever SMSC it would take), and goes once the first is
 * answered; one superseded while it waits is never submitted.  Another
 * number is not held up. */
START_TEST(same_number_in_order)
{
	struct dispatch_stats ds;

	send_one(0);
	send_one(1);
	ck_assert_int_eq(fa.nsub + fb.nsub, 1);
	stats(&ds);
	ck_assert_int_eq(ds.inflight, 1);
	ck_assert_int_eq(ds.waiting, 1);
	dispatch_ready(d, &fb);           /* room elsewhere: still waits */
	ck_assert_int_eq(fa.nsub + fb.nsub, 1);
	send_to(3, TEXT, PHONE2);         /* another number goes at once */
	ck_assert_int_eq(fa.nsub + fb.nsub, 2);
	/* 1 is superseded by 2 while it waits, and 0 while on the wire. */
	dispatch_drop(d, "ver_000000000000000000000001");
	dispatch_drop(d, "ver_000000000000000000000000");
	send_one(2);
	ck_assert_int_eq(fa.nsub + fb.nsub, 2);
	reply(&fa, 0, 0, NULL);
	dispatch_ready(d, &fa);
	ck_assert_int_eq(fa.nsub + fb.nsub, 3);
	reply(&fa, 2, 0, NULL);
	ck_assert_str_eq(sent.id, "ver_000000000000000000000002");
	stats(&ds);
	ck_assert_int_eq(ds.waiting, 0);
}
END_TEST

/* ---- reload ------------------------------------------------------------ */

/* In flight on a, a reload removes a (and adds c): a's refusal fails over
 * by the new configuration, to c, never back to a. */
START_TEST(reload_removes_inflight_carrier)
{
	struct carrier *cs[2] = { &fc, &fb };
	struct verif v;

	send_one(0);
	ck_assert_int_eq(fa.nsub, 1);
	conf2 = load("[smsc c]\nhost = 127.0.0.1\nsystem_id = c\n"
	    "[smsc b]\nhost = 127.0.0.1\nsystem_id = b\n"
	    "[route all]\nprefix = +\nsmsc = c b\n"
	    "[key k]\ntoken = 0123456789abcdef0123\n");
	score2 = score_new(conf2);
	dispatch_reconf(d, conf2, cs, 2, score2);
	reply(&fa, 0, ESME_RSUBMITFAIL, NULL);
	ck_assert_int_eq(fa.nsub, 1);
	ck_assert_int_eq(fc.nsub, 1);
	ck_assert_int_eq(fb.nsub, 0);
	reply(&fc, 0, 0, "c-1");
	ck_assert_ptr_eq(sent.c, &fc);
	store_flush(st);
	get(0, &v);
	ck_assert_str_eq(v.send[0].smsc, "c");
	verif_clear(&v);
}
END_TEST

/* In flight on a (route a b, indexes 0 1), a reload writes b first
 * (route b a, indexes 0 1 the other way round): a's refusal goes to b,
 * the SMSC after a, not to the index after a's old one (a again). */
START_TEST(reload_reorders)
{
	struct carrier *cs[2] = { &fb, &fa };

	send_one(0);
	conf2 = load("[smsc b]\nhost = 127.0.0.1\nsystem_id = b\n"
	    "[smsc a]\nhost = 127.0.0.1\nsystem_id = a\n"
	    "[route all]\nprefix = +\nsmsc = b a\n"
	    "[key k]\ntoken = 0123456789abcdef0123\n");
	score2 = score_new(conf2);
	dispatch_reconf(d, conf2, cs, 2, score2);
	reply(&fa, 0, ESME_RSUBMITFAIL, NULL);
	ck_assert_int_eq(fa.nsub, 1);
	ck_assert_int_eq(fb.nsub, 1);
	reply(&fb, 0, 0, NULL);
	ck_assert_ptr_eq(sent.c, &fb);
}
END_TEST

/* In flight on a, a reload puts c between a and b: a's refusal goes on
 * after a in the new order, to c. */
START_TEST(reload_goes_on_after_carrier)
{
	struct carrier *cs[3] = { &fb, &fc, &fa };

	send_one(0);
	conf2 = load("[smsc b]\nhost = 127.0.0.1\nsystem_id = b\n"
	    "[smsc c]\nhost = 127.0.0.1\nsystem_id = c\n"
	    "[smsc a]\nhost = 127.0.0.1\nsystem_id = a\n"
	    "[route all]\nprefix = +\nsmsc = a c b\n"
	    "[key k]\ntoken = 0123456789abcdef0123\n");
	score2 = score_new(conf2);
	dispatch_reconf(d, conf2, cs, 3, score2);
	reply(&fa, 0, ESME_RSUBMITFAIL, NULL);
	ck_assert_int_eq(fc.nsub, 1);
	ck_assert_int_eq(fb.nsub, 0);
	ck_assert_int_eq(fa.nsub, 1);
	reply(&fc, 0, 0, NULL);
	ck_assert_ptr_eq(sent.c, &fc);
}
END_TEST

/* A waiting message takes the new routes at the reload: a removed, it
 * goes to c when c reports ready. */
START_TEST(reload_reroutes_waiting)
{
	struct carrier *cs[1] = { &fc };

	fa.up = fb.up = 0;
	send_one(0);
	fc.up = 0;
	conf2 = load("[smsc c]\nhost = 127.0.0.1\nsystem_id = c\n"
	    "[route all]\nprefix = +\nsmsc = c\n"
	    "[key k]\ntoken = 0123456789abcdef0123\n");
	score2 = score_new(conf2);
	dispatch_reconf(d, conf2, cs, 1, score2);
	fa.up = 1;                /* removed: must not be used */
	fc.up = 1;
	dispatch_ready(d, &fc);
	ck_assert_int_eq(fa.nsub, 0);
	ck_assert_int_eq(fc.nsub, 1);
}
END_TEST

/* ---- counters ---------------------------------------------------------- */

START_TEST(stats_counters)
{
	struct dispatch_stats ds;

	stats(&ds);
	ck_assert_uint_eq(ds.sent, 0);
	ck_assert_uint_eq(ds.failed, 0);
	ck_assert_uint_eq(ds.route_switches, 0);
	ck_assert_int_eq(ds.waiting, 0);
	ck_assert_int_eq(ds.inflight, 0);

	send_one(0);
	send_to(1, TEXT, PHONE2);
	stats(&ds);
	ck_assert_int_eq(ds.inflight, 2);
	reply(&fa, 0, 0, NULL);
	reply(&fa, 1, ESME_RINVDSTADR, NULL);
	fa.up = fb.up = 0;
	send_one(2);
	stats(&ds);
	ck_assert_uint_eq(ds.sent, 1);
	ck_assert_uint_eq(ds.failed, 1);
	ck_assert_uint_eq(ds.route_switches, 0);
	ck_assert_int_eq(ds.waiting, 1);
	ck_assert_int_eq(ds.inflight, 0);
}
END_TEST

/* ---- a receipt before the submit's answer ------------------------------ */

/* The SMSC's receipt overtakes its submit_sm_resp: it is answered and
 * parked; once the accept indexes the message id (the sent hook retries
 * the parked receipts, as gw.c does), it applies to the send. */
START_TEST(receipt_before_accept)
{
	static int sess_token;
	struct smpp_session *sess = (struct smpp_session *)&sess_token;
	struct smpp_receipt r;
	struct dlr_stats ls;
	struct verif v;

	dl = dlr_new(st, score, NULL, conf);
	send_one(0);
	store_flush(st);
	memset(&r, 0, sizeof(r));
	strcpy(r.message_id, "abc123");
	r.state = SMPP_MSG_DELIVERED;
	strcpy(r.stat, "DELIVRD");
	r.err = 0;
	r.network_error = -1;
	strcpy(r.source, PHONE + 1);
	dlr_receipt(dl, &fa, sess, &r, 42);
	ck_assert_int_eq(fake_acked.n, 1);          /* answered, parked */
	ck_assert_ptr_eq(fake_acked.sess, sess);
	ck_assert_uint_eq(fake_acked.ack, 42);
	ck_assert_uint_eq(fake_acked.status, 0);
	dlr_stats(dl, &ls);
	ck_assert_uint_eq(ls.receipts, 1);
	ck_assert_uint_eq(ls.unmatched, 1);
	ck_assert_int_eq(ls.parked, 1);

	reply(&fa, 0, 0, "abc123");
	dlr_stats(dl, &ls);
	ck_assert_int_eq(ls.parked, 0);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	get(0, &v);
	ck_assert_int_eq(v.send_state, SEND_SENT);
	ck_assert_int_eq(v.nsend, 1);
	ck_assert_int_eq(v.send[0].dlr, DLR_DELIVERED);
	ck_assert_int_eq(v.send[0].dlr_at, T0);
	verif_clear(&v);
}
END_TEST

/* A receipt after the accept applies at once and is answered after the
 * commit that records it. */
START_TEST(receipt_after_accept)
{
	static int sess_token;
	struct smpp_session *sess = (struct smpp_session *)&sess_token;
	struct smpp_receipt r;
	struct verif v;

	dl = dlr_new(st, score, NULL, conf);
	send_one(0);
	reply(&fa, 0, 0, "0x1F");
	store_flush(st);
	memset(&r, 0, sizeof(r));
	strcpy(r.message_id, "0x1F");
	r.state = SMPP_MSG_UNDELIVERABLE;
	r.err = 11;
	r.network_error = -1;
	dlr_receipt(dl, &fa, sess, &r, 7);
	ck_assert_int_eq(fake_acked.n, 0);          /* after the commit */
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(fake_acked.n, 1);
	ck_assert_uint_eq(fake_acked.ack, 7);
	ck_assert_uint_eq(fake_acked.status, 0);
	get(0, &v);
	ck_assert_int_eq(v.send[0].dlr, DLR_UNDELIVERABLE);
	ck_assert_int_eq(v.send[0].error, 11);
	verif_clear(&v);
}
END_TEST


/* ---- the queue ---------------------------------------------------------- */

/* The answer leaves once the record has committed and the SMSC accepted,
 * in either order, without waiting for the commit of the accept. */
START_TEST(answer_after_record_and_accept)
{
	struct verif v;

	send_one(0);
	ck_assert_int_eq(store_flush(st), STORE_OK);  /* the record */
	ck_assert_int_eq(answers[0].n, 0);            /* the SMSC has not */
	reply(&fa, 0, 0, "m0");
	ck_assert_int_eq(answers[0].n, 1);            /* no second commit */
	ck_assert_int_eq(answers[0].result, STORE_OK);
	ck_assert_int_eq(answers[0].v.send_state, SEND_SENT);
	ck_assert_str_eq(answers[0].v.send[0].smsc, "a");

	/* The other order: accepted before the record committed. */
	send_one(1);
	reply(&fa, 1, 0, "m1");
	ck_assert_int_eq(answers[1].n, 0);            /* never before */
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(answers[1].n, 1);
	ck_assert_int_eq(answers[1].v.send_state, SEND_SENT);
	get(1, &v);
	ck_assert_int_eq(v.send_state, SEND_SENT);
	verif_clear(&v);
}
END_TEST


/* With a commit delay (the daemon's), the record's commit is not hurried
 * before the SMSC answers: an accept that comes first shares it, one
 * commit for both, and the answer follows that commit. */
START_TEST(accept_shares_record_commit)
{
	struct store_stats ss0, ss1;

	store_set_commit_delay(st, 60000);
	store_stats(st, &ss0);
	send_one(0);
	event_base_loop(base, EVLOOP_NONBLOCK);   /* a turn ends */
	reply(&fa, 0, 0, "m0");
	ck_assert_int_eq(answers[0].n, 0);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	store_stats(st, &ss1);
	ck_assert_uint_eq(ss1.commits - ss0.commits, 1);
	ck_assert_int_eq(answers[0].n, 1);
	ck_assert_int_eq(answers[0].v.send_state, SEND_SENT);
}
END_TEST

/* Every SMSC down: the messages wait and go, once one comes up with room
 * for one at a time, by their code's expiry (equal expiries by arrival),
 * not by their arrival. */
START_TEST(queue_by_expiry)
{
	static const int64_t exp[6] = { 900, 300, 1200, 300, 600, 120 };
	static const int want[6] = { 5, 1, 3, 4, 0, 2 };
	struct dispatch_stats ds;

	fa.up = fb.up = 0;
	for (int i = 0; i < 6; i++)
		send_exp(i, T0 + exp[i]);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(answers[i].v.send_state, SEND_QUEUED);
	stats(&ds);
	ck_assert_int_eq(ds.waiting, 6);
	fa.up = 1;
	fa.room = 1;
	dispatch_ready(d, &fa);
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(fa.nsub, i + 1);
		ck_assert_int_eq(sub_msg(&fa, i), want[i]);
		reply(&fa, i, 0, NULL);      /* room back to 1 */
		dispatch_ready(d, &fa);
	}
	ck_assert_int_eq(fa.nsub, 6);
	ck_assert_int_eq(fb.nsub, 0);
	stats(&ds);
	ck_assert_int_eq(ds.waiting, 0);
	ck_assert_uint_eq(ds.sent, 6);
}
END_TEST

/* A throttled message waits in its place by expiry: behind an earlier
 * one that came later, ahead of a later one. */
START_TEST(throttled_keeps_order)
{
	fb.up = 0;
	fa.room = 1;
	send_exp(0, T0 + 600);        /* on the wire */
	send_exp(1, T0 + 900);        /* waits: no room */
	send_exp(2, T0 + 300);        /* waits */
	store_flush(st);
	ck_assert_int_eq(fa.nsub, 1);
	reply(&fa, 0, ESME_RTHROTTLED, NULL);
	ck_assert_int_eq(failed.n, 0);
	dispatch_ready(d, &fa);
	ck_assert_int_eq(fa.nsub, 2);
	ck_assert_int_eq(sub_msg(&fa, 1), 2);
	reply(&fa, 1, 0, NULL);
	dispatch_ready(d, &fa);
	ck_assert_int_eq(sub_msg(&fa, 2), 0);
	reply(&fa, 2, 0, NULL);
	dispatch_ready(d, &fa);
	ck_assert_int_eq(sub_msg(&fa, 3), 1);
}
END_TEST

/* [verify] min_useful (60 s by default): a waiting message whose code has
 * less left is not submitted; the verification fails with reason
 * expired_in_queue, answered after that commit, counted.  A code that
 * lives less than twice min_useful gets half its life.  validity_period
 * is the code's remaining life at the submit. */
START_TEST(min_useful_drops)
{
	struct dispatch_stats ds;
	struct verif v;

	fa.up = fb.up = 0;
	send_exp(0, T0 + 600);
	send_exp(1, T0 + 200);
	send_exp(2, T0 + 50);         /* life 50: not sent with < 25 left */
	ck_assert_int_eq(store_flush(st), STORE_OK);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(answers[i].n, 1);    /* queued */

	util_clock_set(T0 + 24);      /* 2 has 26 s left: still useful */
	dispatch_ready(d, &fa);
	ck_assert_int_eq(failed.n, 0);
	util_clock_set(T0 + 26);      /* 2 has 24 s left */
	dispatch_ready(d, &fa);
	ck_assert_int_eq(failed.n, 1);
	ck_assert_str_eq(failed.id, "ver_000000000000000000000002");
	util_clock_set(T0 + 140);     /* 1 has exactly 60 s left */
	dispatch_ready(d, &fa);
	ck_assert_int_eq(failed.n, 1);
	util_clock_set(T0 + 141);     /* 59 s */
	dispatch_ready(d, &fa);
	ck_assert_int_eq(failed.n, 2);
	ck_assert_str_eq(failed.id, "ver_000000000000000000000001");
	ck_assert_str_eq(failed.reason, "expired_in_queue");
	get(1, &v);
	ck_assert_int_eq(v.status, VERIF_FAILED);
	ck_assert_str_eq(v.fail_reason, "expired_in_queue");
	verif_clear(&v);
	stats(&ds);
	ck_assert_uint_eq(ds.expired_in_queue, 2);
	ck_assert_int_eq(ds.waiting, 1);

	util_clock_set(T0 + 150);
	fa.up = 1;
	dispatch_ready(d, &fa);
	ck_assert_int_eq(fa.nsub, 1);             /* 0 only */
	ck_assert_int_eq(sub_msg(&fa, 0), 0);
	ck_assert_str_eq(fa.sub[0].validity, "000000000730000R");  /* 450 s */
}
END_TEST

/* A message resumed with its code already under min_useful (a restart
 * long after its send) is failed at its first try, never submitted; a
 * fresh send of a short-lived code goes (half its life is left). */
START_TEST(min_useful_at_first_try)
{
	struct verif v;

	send_exp(0, T0 + 600);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	get(0, &v);
	dispatch_drop(d, v.id);        /* on the wire: marked dead */
	reply(&fa, 0, ESME_RSUBMITFAIL, NULL);
	util_clock_set(T0 + 580);      /* 20 s of 600 left */
	dispatch_resume(d, &v);
	verif_clear(&v);
	send_exp(1, T0 + 620);         /* life 40: sent with 40 left */
	ck_assert_int_eq(fa.nsub, 2);
	ck_assert_int_eq(sub_msg(&fa, 1), 1);
	dispatch_ready(d, &fa);
	ck_assert_int_eq(fa.nsub, 2);
	ck_assert_int_eq(failed.n, 1);
	ck_assert_str_eq(failed.id, "ver_000000000000000000000000");
	ck_assert_str_eq(failed.reason, "expired_in_queue");
}
END_TEST

#define CONF_SMALLQ CONF_AB "[verify]\nqueue_max = 16\n"

/* [verify] queue_max: past it a send is not held in memory (counted as
 * spilled) but answered queued all the same; once the queue drains the
 * spilled ones are read back from the store: every message goes, once. */
START_TEST(queue_max_spills)
{
	struct carrier *cs[2] = { &fa, &fb };
	struct dispatch_stats ds;
	int seen[24] = { 0 };

	conf2 = load(CONF_SMALLQ);
	score2 = score_new(conf2);
	dispatch_reconf(d, conf2, cs, 2, score2);
	fa.up = fb.up = 0;
	for (int i = 0; i < 24; i++)
		send_exp(i, T0 + 600 + i);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	for (int i = 0; i < 24; i++) {
		ck_assert_int_eq(answers[i].n, 1);
		ck_assert_int_eq(answers[i].result, STORE_OK);
		ck_assert_int_eq(answers[i].v.send_state, SEND_QUEUED);
	}
	stats(&ds);
	ck_assert_int_eq(ds.waiting, 16);
	ck_assert_uint_eq(ds.spilled, 8);

	fa.up = 1;
	fa.room = 12;
	dispatch_ready(d, &fa);         /* 12 go; 4 left: refill to 12 */
	ck_assert_int_eq(fa.nsub, 12);
	stats(&ds);
	ck_assert_int_eq(ds.waiting, 12);
	for (int k = 0; k < 12; k++)
		reply(&fa, k, 0, NULL);
	dispatch_ready(d, &fa);
	ck_assert_int_eq(fa.nsub, 24);
	for (int k = 12; k < 24; k++)
		reply(&fa, k, 0, NULL);

	for (int k = 0; k < 24; k++) {
		int n = sub_msg(&fa, k);
		ck_assert(n >= 0 && n < 24);
		ck_assert_int_eq(seen[n]++, 0);
	}
	for (int k = 0; k < 12; k++)
		ck_assert_int_eq(sub_msg(&fa, k), k);   /* by expiry */
	stats(&ds);
	ck_assert_int_eq(ds.waiting, 0);
}
END_TEST


/* Spilled messages wait in the store while those in memory go away
 * without a pump (dropped: canceled, approved): the next ready reads them
 * back all the same, and they go. */
START_TEST(queue_max_spill_after_drops)
{
	struct carrier *cs[2] = { &fa, &fb };
	struct dispatch_stats ds;
	char id[32];

	conf2 = load(CONF_SMALLQ);
	score2 = score_new(conf2);
	dispatch_reconf(d, conf2, cs, 2, score2);
	fa.up = fb.up = 0;
	for (int i = 0; i < 20; i++)
		send_exp(i, T0 + 600 + i);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	for (int i = 0; i < 16; i++) {
		struct verif v;
		get(i, &v);
		ck_assert_int_eq(verif_enter(&v, VERIF_CANCELED, "api_cancel",
		    util_now()), 0);
		ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
		id_of(i, id, sizeof(id));
		dispatch_drop(d, id);
		verif_clear(&v);
	}
	store_flush(st);
	stats(&ds);
	ck_assert_int_eq(ds.waiting, 0);
	fa.up = 1;
	dispatch_ready(d, &fa);          /* reads the 4 back */
	dispatch_ready(d, &fa);          /* and they go */
	ck_assert_int_eq(fa.nsub, 4);
	for (int k = 0; k < 4; k++)
		ck_assert_int_eq(sub_msg(&fa, k), 16 + k);
}
END_TEST


/* At start-up the store's queue is read back earliest expiry first, at
 * most queue_max of it in memory; the rest follows as the queue drains,
 * still in expiry order. */
START_TEST(resume_queue_bounded)
{
	struct carrier *cs[2] = { &fa, &fb };

	fa.up = fb.up = 0;
	for (int i = 0; i < 20; i++)
		send_exp(i, T0 + 600 - i);       /* arrival against expiry */
	ck_assert_int_eq(store_flush(st), STORE_OK);
	for (int i = 0; i < 20; i++) {
		char id[32];
		id_of(i, id, sizeof(id));
		dispatch_drop(d, id);            /* the daemon stops */
	}
	store_flush(st);
	dispatch_free(d);
	conf2 = load(CONF_SMALLQ);
	score2 = score_new(conf2);
	d = dispatch_new(base, st, secret, &hooks, NULL);
	dispatch_reconf(d, conf2, cs, 2, score2);
	ck_assert_int_eq(dispatch_resume_queue(d), 16);
	fa.up = 1;
	fa.room = 40;
	for (int k = 0; k < 4 && fa.nsub < 20; k++)
		dispatch_ready(d, &fa);
	ck_assert_int_eq(fa.nsub, 20);
	for (int k = 0; k < 20; k++)
		ck_assert_int_eq(sub_msg(&fa, k), 19 - k);
}
END_TEST

static int qorder[NMSG], nq;

static void
collect(void *arg, const char *id)
{
	int n;

	ck_assert_int_lt(nq, NMSG);
	ck_assert_int_eq(sscanf(id, "ver_%x", &n), 1);
	qorder[nq++] = n;
}

/* The store's queue reads back by expiry (then id), staged or committed,
 * and loses the entry when the message is accepted; a resume takes them in
 * that order whatever order it is handed them. */
START_TEST(store_queue_by_expiry)
{
	static const int64_t exp[5] = { 900, 300, 1200, 300, 60 };
	static const int want[5] = { 4, 1, 3, 0, 2 };

	fa.up = fb.up = 0;
	for (int i = 0; i < 5; i++)
		send_exp(i, T0 + exp[i]);
	nq = 0;
	ck_assert_int_eq(store_queue_each(st, collect, NULL), 5);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(qorder[i], want[i]);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	nq = 0;
	ck_assert_int_eq(store_queue_each(st, collect, NULL), 5);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(qorder[i], want[i]);
	fa.up = 1;
	dispatch_ready(d, &fa);
	/* 4 lives 60 s: it went at once (half its life is left) */
	ck_assert_int_eq(sub_msg(&fa, 0), 4);
	reply(&fa, 0, 0, NULL);
	nq = 0;
	ck_assert_int_eq(store_queue_each(st, collect, NULL), 4);
	ck_assert_int_eq(qorder[0], 1);
}
END_TEST


/* Rewrite the store's queue at path the way releases before the
 * expiry-ordered queue kept it: bare ids as keys. */
static void
queue_to_old_layout(const char *path)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi q;
	MDB_cursor *c;
	MDB_val k, v;
	char ids[NMSG][32];
	int n = 0;

	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 32), 0);
	ck_assert_int_eq(mdb_env_set_mapsize(env, MAP), 0);
	ck_assert_int_eq(mdb_env_open(env, path, MDB_NOTLS, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "queue", 0, &q), 0);
	ck_assert_int_eq(mdb_cursor_open(txn, q, &c), 0);
	while (mdb_cursor_get(c, &k, &v, MDB_FIRST) == 0) {
		ck_assert_uint_gt(k.mv_size, 8);
		ck_assert_int_eq(((unsigned char *)k.mv_data)[0], 0);
		memcpy(ids[n], (char *)k.mv_data + 8, k.mv_size - 8);
		ids[n][k.mv_size - 8] = '\0';
		n++;
		ck_assert_int_eq(mdb_cursor_del(c, 0), 0);
	}
	mdb_cursor_close(c);
	for (int i = 0; i < n; i++) {
		k.mv_data = ids[i];
		k.mv_size = strlen(ids[i]);
		v.mv_data = "";
		v.mv_size = 0;
		ck_assert_int_eq(mdb_put(txn, q, &k, &v, 0), 0);
	}
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void
resume_one(void *arg, const char *id)
{
	struct verif v;

	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(store_verif_get(st, id, &v), STORE_OK);
	dispatch_resume(d, &v);
	verif_clear(&v);
}

/* A data directory of a release whose queue was keyed by bare ids opens
 * with its queue rewritten in expiry order, and its messages resume and
 * go in that order. */
START_TEST(old_queue_layout_resumes)
{
	static const int64_t exp[4] = { 900, 300, 1200, 450 };
	static const int want[4] = { 1, 3, 0, 2 };
	struct carrier *cs[2] = { &fa, &fb };
	char path[128], *err = NULL;

	fa.up = fb.up = 0;
	for (int i = 0; i < 4; i++)
		send_exp(i, T0 + exp[i]);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	for (int i = 0; i < 4; i++)
		dispatch_drop(d, answers[i].v.id);
	store_flush(st);
	dispatch_free(d);
	store_close(st);
	snprintf(path, sizeof(path), "%s/db", dir);
	queue_to_old_layout(path);
	st = store_open(base, path, MAP, &err);
	ck_assert_msg(st != NULL, "store_open: %s", err ? err : "?");
	nq = 0;
	ck_assert_int_eq(store_queue_each(st, collect, NULL), 4);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(qorder[i], want[i]);

	d = dispatch_new(base, st, secret, &hooks, NULL);
	dispatch_reconf(d, conf, cs, 2, score);
	/* Handed back in the worst order: by id, descending. */
	for (int i = 3; i >= 0; i--) {
		char id[32];
		id_of(i, id, sizeof(id));
		resume_one(NULL, id);
	}
	fa.up = 1;
	fa.room = 1;
	dispatch_ready(d, &fa);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(fa.nsub, i + 1);
		ck_assert_int_eq(sub_msg(&fa, i), want[i]);
		reply(&fa, i, 0, NULL);
		dispatch_ready(d, &fa);
	}
	store_flush(st);
	nq = 0;
	ck_assert_int_eq(store_queue_each(st, collect, NULL), 0);
}
END_TEST

static Suite *
dispatch_suite(void)
{
	Suite *s = suite_create("dispatch");
	TCase *tc;

	tc = tcase_create("submit");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, accepted_by_first);
	tcase_add_test(tc, window_full_goes_to_b);
	tcase_add_test(tc, final_refusal_fails);
	tcase_add_test(tc, retry_other_fails_over);
	tcase_add_test(tc, every_smsc_refuses);
	tcase_add_test(tc, all_down_waits);
	tcase_add_test(tc, long_text_two_parts);
	suite_add_tcase(s, tc);

	tc = tcase_create("sideline");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, sideline_after_five);
	tcase_add_test(tc, sideline_streak_resets);
	suite_add_tcase(s, tc);

	tc = tcase_create("drop");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, drop_waiting);
	tcase_add_test(tc, drop_inflight);
	suite_add_tcase(s, tc);

	tc = tcase_create("reload");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, reload_removes_inflight_carrier);
	tcase_add_test(tc, reload_reorders);
	tcase_add_test(tc, reload_goes_on_after_carrier);
	tcase_add_test(tc, reload_reroutes_waiting);
	suite_add_tcase(s, tc);

	tc = tcase_create("stats");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, stats_counters);
	tcase_add_test(tc, same_number_in_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("receipt");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, receipt_before_accept);
	tcase_add_test(tc, receipt_after_accept);
	suite_add_tcase(s, tc);

	tc = tcase_create("queue");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, answer_after_record_and_accept);
	tcase_add_test(tc, accept_shares_record_commit);
	tcase_add_test(tc, queue_by_expiry);
	tcase_add_test(tc, throttled_keeps_order);
	tcase_add_test(tc, min_useful_drops);
	tcase_add_test(tc, min_useful_at_first_try);
	tcase_add_test(tc, queue_max_spills);
	tcase_add_test(tc, queue_max_spill_after_drops);
	tcase_add_test(tc, resume_queue_bounded);
	tcase_add_test(tc, store_queue_by_expiry);
	tcase_add_test(tc, old_queue_layout_resumes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dispatch_suite());
	int failed_n;

	strcpy(rundir, "/tmp/check_dispatch.XXXXXX");
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
