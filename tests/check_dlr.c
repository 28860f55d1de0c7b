/*
 * check_dlr.c - dlr.c without sockets: receipts matched to their sends,
 * repeated receipts, and the park of receipts that matched nothing (a cap
 * per SMSC with the oldest dropped, lookup by the accepted submit's message
 * id only, aging, the order parked receipts are applied in).
 *
 * The store is real (a fresh LMDB directory per test) on a fresh
 * event_base; records and receipt-map entries are staged by hand the way
 * dispatch.c's accept stages them, and dlr_retry_parked() is called the
 * way gw.c's sent hook calls it.  The carriers are tests/fake_carrier.c's
 * (carrier_receipt_ack() records the last answer).  Time is fixed with
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

#include "carrier.h"
#include "conf.h"
#include "dlr.h"
#include "fake_carrier.h"
#include "score.h"
#include "smpp.h"
#include "store.h"
#include "util.h"
#include "verif_state.h"

#define T0 1800000000LL
#define MAP (64ULL << 20)
#define PHONE "+447911123456"
#define PARK_MAX 1000            /* dlr.c's DLR_PARK_MAX */
#define PARK_SECS 600            /* dlr.c's DLR_PARK_SECS */

#define CONF_AB \
	"[smsc a]\n" \
	"host = 127.0.0.1\n" \
	"system_id = a\n" \
	"[smsc b]\n" \
	"host = 127.0.0.1\n" \
	"system_id = b\n" \
	"[key k]\n" \
	"token = 0123456789abcdef0123\n"

static char rundir[64];
static char dir[96];
static struct event_base *base;
static struct store *st;
static struct conf *conf;
static struct score *score;
static struct dlr *dl;
static struct carrier fa, fb;
static struct smpp_session *sess = (struct smpp_session *)&rundir;

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
setup(void)
{
	char *err = NULL, path[128];

	util_clock_set(T0);
	snprintf(dir, sizeof(dir), "%s/t.XXXXXX", rundir);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/db", dir);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	st = store_open(base, path, MAP, &err);
	ck_assert_msg(st != NULL, "store_open: %s", err ? err : "?");
	conf = conf_load_string(CONF_AB, "t.conf", &err);
	ck_assert_msg(conf != NULL, "conf: %s", err ? err : "?");
	score = score_new(conf);
	fake_carrier_init(&fa, "a");
	fake_carrier_init(&fb, "b");
	memset(&fake_acked, 0, sizeof(fake_acked));
	dl = dlr_new(st, score, NULL, conf);
}

static void
teardown(void)
{
	store_flush(st);
	dlr_free(dl);
	store_close(st);
	score_free(score);
	conf_free(conf);
	event_base_free(base);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	util_clock_set(0);
}

/* ---- helpers ---------------------------------------------------------- */

/* Stage verification n as sent over smsc with message id msgid, the way
 * dispatch.c's accept does (record, receipt map), and tell dlr.c as gw.c's
 * sent hook does when accept is set. */
static void
sent(int n, struct carrier *c, const char *msgid, int accept)
{
	struct verif v;
	char norm[80];

	memset(&v, 0, sizeof(v));
	snprintf(v.id, sizeof(v.id), "ver_%024x", n);
	strcpy(v.key, "k");
	strcpy(v.phone, PHONE);
	strcpy(v.api, "v1");
	v.status = VERIF_PENDING;
	v.send_state = SEND_SENT;
	v.attempt = 1;
	v.max_checks = 5;
	v.created_at = v.updated_at = util_now();
	v.expires_at = util_now() + 3600;
	v.nsend = 1;
	util_strlcpy(v.send[0].smsc, carrier_name(c), sizeof(v.send[0].smsc));
	util_strlcpy(v.send[0].message_id, msgid,
	    sizeof(v.send[0].message_id));
	v.send[0].submitted_at = util_now();
	v.send[0].dlr = DLR_PENDING;
	v.send[0].error = -1;
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	ck_assert_int_eq(smpp_msgid_normalise(msgid, 0, norm, sizeof(norm)),
	    0);
	ck_assert_int_eq(store_msgid_put(st, carrier_name(c), norm, v.id),
	    STORE_OK);
	if (accept)
		dlr_retry_parked(dl, c, &v);
	verif_clear(&v);
}

/* The receipt state of verification n's send. */
static int
state_of(int n)
{
	struct verif v;
	char id[32];
	int s;

	snprintf(id, sizeof(id), "ver_%024x", n);
	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(store_verif_get(st, id, &v), STORE_OK);
	ck_assert_int_eq(v.nsend, 1);
	s = v.send[0].dlr;
	verif_clear(&v);
	return s;
}

static void
receipt(struct carrier *c, const char *msgid, enum smpp_msg_state state)
{
	struct smpp_receipt r;

	memset(&r, 0, sizeof(r));
	util_strlcpy(r.message_id, msgid, sizeof(r.message_id));
	r.state = state;
	strcpy(r.stat, state == SMPP_MSG_DELIVERED ? "DELIVRD" : "ENROUTE");
	r.err = 0;
	r.network_error = -1;
	strcpy(r.source, &PHONE[1]);
	dlr_receipt(dl, c, sess, &r, 1);
}

static struct dlr_stats
stats(void)
{
	struct dlr_stats s;

	dlr_stats(dl, &s);
	return s;
}

/* ---- tests ------------------------------------------------------------ */

/* A receipt for a known send applies after the commit; the same receipt
 * again changes nothing and stages nothing, but is still answered. */
START_TEST(applied_then_repeated)
{
	sent(0, &fa, "1F", 0);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	receipt(&fa, "1F", SMPP_MSG_DELIVERED);
	ck_assert_int_eq(fake_acked.n, 0);          /* after the commit */
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(fake_acked.n, 1);
	ck_assert_uint_eq(fake_acked.status, ESME_ROK);
	ck_assert_int_eq(state_of(0), DLR_DELIVERED);
	receipt(&fa, "1F", SMPP_MSG_DELIVERED);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(fake_acked.n, 2);
	ck_assert_uint_eq(fake_acked.status, ESME_ROK);
	ck_assert_uint_eq(stats().receipts, 2);
	ck_assert_uint_eq(stats().repeated, 1);
	ck_assert_uint_eq(stats().unmatched, 0);
}
END_TEST

/* A DELETED receipt for a message whose verification had ended (our own
 * cancel_sm withdrew it) is recorded but does not count against the
 * SMSC's delivery figures; one for a pending verification does. */
START_TEST(deleted_after_end_not_scored)
{
	struct score_view sv;
	struct verif v;
	char id[32];

	sent(0, &fa, "2A", 0);
	score_sent(score, conf, PHONE, "a", util_now());  /* as gw.c does */
	ck_assert_int_eq(store_flush(st), STORE_OK);
	snprintf(id, sizeof(id), "ver_%024x", 0);
	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(store_verif_get(st, id, &v), STORE_OK);
	ck_assert_int_eq(verif_enter(&v, VERIF_CANCELED, "superseded",
	    util_now()), 0);
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	verif_clear(&v);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	receipt(&fa, "2A", SMPP_MSG_DELETED);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(state_of(0), DLR_REJECTED);
	score_get(score, conf, 0, 0, util_now(), &sv);
	ck_assert_uint_eq(sv.undeliverable, 0);

	sent(1, &fa, "2B", 0);
	score_sent(score, conf, PHONE, "a", util_now());
	ck_assert_int_eq(store_flush(st), STORE_OK);
	receipt(&fa, "2B", SMPP_MSG_DELETED);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(state_of(1), DLR_REJECTED);
	score_get(score, conf, 0, 0, util_now(), &sv);
	ck_assert_uint_eq(sv.undeliverable, 1);
}
END_TEST

/* Receipts that match nothing are answered at once and parked, at most
 * PARK_MAX per SMSC: past that the oldest goes (counted), and one SMSC's
 * flood does not push out another's receipts. */
START_TEST(park_cap_per_smsc)
{
	char id[32];
	struct dlr_stats s;

	receipt(&fb, "B1", SMPP_MSG_DELIVERED);
	for (int i = 0; i < PARK_MAX + 500; i++) {
		snprintf(id, sizeof(id), "X%d", i);
		receipt(&fa, id, SMPP_MSG_DELIVERED);
	}
	ck_assert_int_eq(fake_acked.n, PARK_MAX + 501);  /* each, at once */
	s = stats();
	ck_assert_uint_eq(s.unmatched, PARK_MAX + 501);
	ck_assert_int_eq(s.parked, PARK_MAX + 1);
	ck_assert_uint_eq(s.park_dropped, 500);
	/* The oldest of a's went: X0..X499; X500 is still there. */
	sent(0, &fa, "X0", 1);
	ck_assert_int_eq(state_of(0), DLR_PENDING);
	sent(1, &fa, "X500", 1);
	ck_assert_int_eq(state_of(1), DLR_DELIVERED);
	/* b's one receipt outlived a's flood. */
	sent(2, &fb, "B1", 1);
	ck_assert_int_eq(state_of(2), DLR_DELIVERED);
	s = stats();
	ck_assert_int_eq(s.parked, PARK_MAX - 1);
}
END_TEST

/* An accept applies the receipts parked under its own message id only, on
 * its own SMSC only; the rest stay parked. */
START_TEST(park_lookup_by_id)
{
	char id[32];

	for (int i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "M%d", i);
		receipt(&fa, id, SMPP_MSG_DELIVERED);
	}
	receipt(&fb, "M7", SMPP_MSG_DELIVERED);
	ck_assert_int_eq(stats().parked, 101);
	sent(0, &fa, "M42", 1);
	ck_assert_int_eq(state_of(0), DLR_DELIVERED);
	ck_assert_int_eq(stats().parked, 100);
	/* The same id on the other SMSC takes b's receipt, not a's M7. */
	sent(1, &fb, "M7", 1);
	ck_assert_int_eq(state_of(1), DLR_DELIVERED);
	ck_assert_int_eq(stats().parked, 99);
	sent(2, &fa, "M7", 1);
	ck_assert_int_eq(state_of(2), DLR_DELIVERED);
	ck_assert_int_eq(stats().parked, 98);
	/* An accept whose id nothing was parked under changes nothing. */
	sent(3, &fa, "NOPE", 1);
	ck_assert_int_eq(state_of(3), DLR_PENDING);
	ck_assert_int_eq(stats().parked, 98);
}
END_TEST

/* The receipt's id in decimal, the accepted id in hex (message_id auto):
 * the park finds it under the converted form too. */
START_TEST(park_lookup_other_base)
{
	receipt(&fa, "288230376293190992", SMPP_MSG_DELIVERED);
	ck_assert_int_eq(stats().parked, 1);
	sent(0, &fa, "04000000086ECD50", 1);
	ck_assert_int_eq(state_of(0), DLR_DELIVERED);
	ck_assert_int_eq(stats().parked, 0);
}
END_TEST

/* Two receipts for one id parked (ENROUTE, then DELIVRD) apply in the
 * order they came: the send ends delivered. */
START_TEST(park_order)
{
	receipt(&fa, "77", SMPP_MSG_ENROUTE);
	receipt(&fa, "77", SMPP_MSG_DELIVERED);
	ck_assert_int_eq(stats().parked, 2);
	sent(0, &fa, "77", 1);
	ck_assert_int_eq(state_of(0), DLR_DELIVERED);
	ck_assert_int_eq(stats().parked, 0);
}
END_TEST

/* A parked receipt is kept PARK_SECS: one second more and the next
 * receipt (any SMSC's) or accept prunes it; it no longer applies. */
START_TEST(park_aging)
{
	receipt(&fa, "OLD", SMPP_MSG_DELIVERED);
	util_clock_set(T0 + PARK_SECS / 2);
	receipt(&fa, "MID", SMPP_MSG_DELIVERED);
	util_clock_set(T0 + PARK_SECS);
	receipt(&fb, "NEW", SMPP_MSG_DELIVERED);
	ck_assert_int_eq(stats().parked, 3);        /* OLD is just in time */
	util_clock_set(T0 + PARK_SECS + 1);
	sent(0, &fa, "OLD", 1);
	ck_assert_int_eq(state_of(0), DLR_PENDING);
	ck_assert_int_eq(stats().parked, 2);
	ck_assert_uint_eq(stats().park_expired, 1);
	util_clock_set(T0 + PARK_SECS / 2 + PARK_SECS + 1);
	receipt(&fb, "ANOTHER", SMPP_MSG_DELIVERED);
	ck_assert_int_eq(stats().parked, 2);        /* NEW and ANOTHER */
	ck_assert_uint_eq(stats().park_expired, 2);
	sent(1, &fa, "MID", 1);
	ck_assert_int_eq(state_of(1), DLR_PENDING);
	sent(2, &fb, "NEW", 1);
	ck_assert_int_eq(state_of(2), DLR_DELIVERED);
}
END_TEST

static Suite *
dlr_suite(void)
{
	Suite *s = suite_create("dlr");
	TCase *tc;

	tc = tcase_create("receipt");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, applied_then_repeated);
	suite_add_tcase(s, tc);

	tc = tcase_create("park");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, park_cap_per_smsc);
	tcase_add_test(tc, park_lookup_by_id);
	tcase_add_test(tc, park_lookup_other_base);
	tcase_add_test(tc, park_order);
	tcase_add_test(tc, park_aging);
	tcase_add_test(tc, deleted_after_end_not_scored);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dlr_suite());
	int failed;

	strcpy(rundir, "/tmp/check_dlr.XXXXXX");
	if (mkdtemp(rundir) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	nftw(rundir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
