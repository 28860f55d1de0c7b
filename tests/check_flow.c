/*
 * check_flow.c - flow.c without sockets: a send from the number to the
 * SMSC's answer, checks (right code, wrong codes, the lock, unknown ids),
 * cancels, the dispatcher's failures, the sweep's expiries, and the
 * counters.  Its policies (the shield, the limits, test mode) are
 * check_flow_policy's, on the same fixture (flow_fixture.h).
 *
 * The flow is built as gw.c builds it, from a real store (a fresh LMDB
 * directory per test, on a fresh event_base), the keys of a configuration
 * loaded from text, a dispatcher whose hooks go back to the flow, and a
 * phone pool of one worker thread.  The dispatcher's carriers are fakes
 * (tests/fake_carrier.c, the link seam of check_dispatch.c: those
 * definitions win and carrier.o is never pulled in); the test answers
 * their submits with dispatch_submit_done().  store_flush() commits and
 * runs the callbacks waiting on the commit; a send's number lookup is
 * awaited by running the loop a bounded number of turns.  Time is fixed
 * with util_clock_set().
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

/* ---- helpers ---------------------------------------------------------- */

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

/* ---- checks ------------------------------------------------------------ */

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
	return s;
}

int
main(void)
{
	return flow_fixture_run(flow_suite(), "check_flow");
}
