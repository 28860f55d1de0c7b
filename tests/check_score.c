/*
 * check_score.c - score.c: the rolling figures of each SMSC on each route,
 * by plain calls with made-up times (score.c takes its times as arguments
 * and reads no clock).
 *
 * The route "all" used throughout has window = 120 (12 buckets of 10 s),
 * grace = 20, floor = 50 and min_sample = 4: a send at t = 1000 is in
 * slice 100 ([1000, 1010)), mature from 1010 + 20 = 1030, and leaves the
 * window when slice 112 begins, at t = 1120.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "conf.h"
#include "route.h"
#include "score.h"

#define UK "+447400123456"
#define US "+14155550123"

static const char *score_conf =
    "[smsc a]\nhost = 127.0.0.1\nsystem_id = a\n"
    "[smsc b]\nhost = 127.0.0.1\nsystem_id = b\n"
    "[key k]\ntoken = 0123456789abcdef0123\n"
    "[route all]\nprefix = +\nsmsc = a b\n"
    "window = 120\ngrace = 20\nfloor = 50\nmin_sample = 4\n"
    "[route uk]\nprefix = +44\nsmsc = b a\n"
    "window = 120\ngrace = 20\nfloor = 50\nmin_sample = 4\n";

static struct conf *conf;
static struct score *sc;
static int r_all, r_uk, a, b;

static struct conf *
load(const char *text)
{
	char *errors = NULL;
	struct conf *c = conf_load_string(text, "score.conf", &errors);

	ck_assert_msg(c != NULL, "config refused: %s", errors ? errors : "");
	free(errors);
	return c;
}

static void
setup(void)
{
	conf = load(score_conf);
	sc = score_new(conf);
	r_all = route_find(conf, US);
	r_uk = route_find(conf, UK);
	a = conf_smsc_index(conf, "a");
	b = conf_smsc_index(conf, "b");
	ck_assert_int_ge(r_all, 0);
	ck_assert_int_ge(r_uk, 0);
	ck_assert_int_ne(r_all, r_uk);
}

static void
teardown(void)
{
	score_free(sc);
	conf_free(conf);
}

static void
assert_empty(const struct score_view *v)
{
	ck_assert_uint_eq(v->sent, 0);
	ck_assert_uint_eq(v->mature, 0);
	ck_assert_uint_eq(v->delivered, 0);
	ck_assert_uint_eq(v->undeliverable, 0);
	ck_assert_uint_eq(v->approved, 0);
	ck_assert_double_eq(v->delivered_ratio, -1);
	ck_assert_double_eq(v->conversion, -1);
	ck_assert_double_eq(v->latency_s, -1);
	ck_assert_double_eq(v->score, -1);
	ck_assert_int_eq(v->degraded, 0);
}

/* n sends of US over smsc at t. */
static void
sends(const char *smsc, int64_t t, int n)
{
	for (int i = 0; i < n; i++)
		score_sent(sc, conf, US, smsc, t);
}

START_TEST(fresh_is_empty)
{
	struct score_view v;

	score_get(sc, conf, r_all, a, 1000, &v);
	assert_empty(&v);
	score_get(sc, conf, r_uk, b, 0, &v);
	assert_empty(&v);
}
END_TEST

START_TEST(ratios_and_latency)
{
	struct score_view v;

	/* Ten sends at 1000: six delivered (latencies 2, 4, 6, 8 and two
	 * untimed), two undeliverable (latency 10), five codes back. */
	sends("a", 1000, 10);
	for (int i = 1; i <= 4; i++)
		score_receipt(sc, conf, US, "a", 1000, 1, 2 * i);
	score_receipt(sc, conf, US, "a", 1000, 1, -1);
	score_receipt(sc, conf, US, "a", 1000, 1, -1);
	score_receipt(sc, conf, US, "a", 1000, 0, 10);
	score_receipt(sc, conf, US, "a", 1000, 0, 10);
	for (int i = 0; i < 5; i++)
		score_approved(sc, conf, US, "a", 1000);

	score_get(sc, conf, r_all, a, 1030, &v);
	ck_assert_uint_eq(v.sent, 10);
	ck_assert_uint_eq(v.mature, 10);
	ck_assert_uint_eq(v.delivered, 6);
	ck_assert_uint_eq(v.undeliverable, 2);
	ck_assert_uint_eq(v.approved, 5);
	ck_assert_double_eq_tol(v.delivered_ratio, 0.75, 1e-9);
	ck_assert_double_eq_tol(v.conversion, 0.5, 1e-9);
	/* Mean over the six timed receipts: (2+4+6+8+10+10) / 6. */
	ck_assert_double_eq_tol(v.latency_s, 40.0 / 6.0, 1e-9);
	/* The score is the smaller ratio. */
	ck_assert_double_eq_tol(v.score, 0.5, 1e-9);
	ck_assert_int_eq(v.degraded, 0);   /* 0.5 is not under 50% */

	/* Figures are per SMSC and per route. */
	score_get(sc, conf, r_all, b, 1030, &v);
	assert_empty(&v);
	score_get(sc, conf, r_uk, a, 1030, &v);
	assert_empty(&v);
}
END_TEST

START_TEST(score_is_the_known_ratio)
{
	struct score_view v;

	/* Receipts only (nothing mature yet): the score is the delivered
	 * ratio. */
	sends("a", 1000, 4);
	score_receipt(sc, conf, US, "a", 1000, 1, 3);
	score_receipt(sc, conf, US, "a", 1000, 0, 3);
	score_get(sc, conf, r_all, a, 1005, &v);
	ck_assert_double_eq_tol(v.delivered_ratio, 0.5, 1e-9);
	ck_assert_double_eq(v.conversion, -1);
	ck_assert_double_eq_tol(v.score, 0.5, 1e-9);
	/* Mature sends without receipts: the score is the conversion. */
	sends("b", 1000, 4);
	score_approved(sc, conf, US, "b", 1000);
	score_get(sc, conf, r_all, b, 1030, &v);
	ck_assert_double_eq(v.delivered_ratio, -1);
	ck_assert_double_eq(v.latency_s, -1);
	ck_assert_double_eq_tol(v.conversion, 0.25, 1e-9);
	ck_assert_double_eq_tol(v.score, 0.25, 1e-9);
}
END_TEST

START_TEST(grace_and_maturity)
{
	struct score_view v;

	sends("a", 1000, 4);
	score_approved(sc, conf, US, "a", 1000);
	score_approved(sc, conf, US, "a", 1000);
	/* Before grace has passed: sent, not mature, the approvals wait. */
	score_get(sc, conf, r_all, a, 1019, &v);
	ck_assert_uint_eq(v.sent, 4);
	ck_assert_uint_eq(v.mature, 0);
	ck_assert_uint_eq(v.approved, 0);
	ck_assert_double_eq(v.conversion, -1);
	/* score.c counts a send mature once its whole slice is grace old:
	 * the slice [1000, 1010) matures at 1010 + 20.  (score.h says "sent
	 * at least grace ago"; the code never counts a younger send, but
	 * counts an older one up to a slice late.) */
	score_get(sc, conf, r_all, a, 1029, &v);
	ck_assert_uint_eq(v.mature, 0);
	score_get(sc, conf, r_all, a, 1030, &v);
	ck_assert_uint_eq(v.mature, 4);
	ck_assert_uint_eq(v.approved, 2);
	ck_assert_double_eq_tol(v.conversion, 0.5, 1e-9);
	/* A send later in the same slice matures with it: never early. */
	sends("b", 1009, 1);
	score_get(sc, conf, r_all, b, 1028, &v);
	ck_assert_uint_eq(v.mature, 0);
	score_get(sc, conf, r_all, b, 1030, &v);
	ck_assert_uint_eq(v.mature, 1);
	/* Approvals that come after maturity count with their send. */
	score_approved(sc, conf, US, "a", 1000);
	score_get(sc, conf, r_all, a, 1040, &v);
	ck_assert_uint_eq(v.approved, 3);
	ck_assert_double_eq_tol(v.conversion, 0.75, 1e-9);
}
END_TEST

START_TEST(degraded_on_delivery)
{
	struct score_view v;

	/* floor 50, min_sample 4 receipts. */
	sends("a", 1000, 8);
	score_receipt(sc, conf, US, "a", 1000, 1, 1);
	score_receipt(sc, conf, US, "a", 1000, 0, 1);
	score_receipt(sc, conf, US, "a", 1000, 0, 1);
	score_get(sc, conf, r_all, a, 1005, &v);
	ck_assert_double_lt(v.delivered_ratio, 0.5);
	ck_assert_int_eq(v.degraded, 0);   /* 3 receipts: too few */
	score_receipt(sc, conf, US, "a", 1000, 0, 1);
	score_get(sc, conf, r_all, a, 1005, &v);
	ck_assert_double_eq_tol(v.delivered_ratio, 0.25, 1e-9);
	ck_assert_int_eq(v.degraded, 1);
	/* Back to exactly the floor: not under it. */
	score_receipt(sc, conf, US, "a", 1000, 1, 1);
	score_receipt(sc, conf, US, "a", 1000, 1, 1);
	score_get(sc, conf, r_all, a, 1005, &v);
	ck_assert_double_eq_tol(v.delivered_ratio, 0.5, 1e-9);
	ck_assert_int_eq(v.degraded, 0);
}
END_TEST

START_TEST(degraded_on_conversion)
{
	struct score_view v;

	/* Every receipt says delivered, but one code in four comes back:
	 * the conversion alone degrades, once 4 sends are mature. */
	sends("a", 1000, 3);
	for (int i = 0; i < 3; i++)
		score_receipt(sc, conf, US, "a", 1000, 1, 1);
	score_get(sc, conf, r_all, a, 1030, &v);
	ck_assert_double_eq_tol(v.conversion, 0, 1e-9);
	ck_assert_int_eq(v.degraded, 0);   /* 3 mature: too few */
	sends("a", 1005, 1);
	score_receipt(sc, conf, US, "a", 1005, 1, 1);
	score_approved(sc, conf, US, "a", 1005);
	score_get(sc, conf, r_all, a, 1030, &v);
	ck_assert_uint_eq(v.mature, 4);
	ck_assert_double_eq_tol(v.delivered_ratio, 1, 1e-9);
	ck_assert_double_eq_tol(v.conversion, 0.25, 1e-9);
	ck_assert_double_eq_tol(v.score, 0.25, 1e-9);
	ck_assert_int_eq(v.degraded, 1);
	/* Before maturity the same figures are not degraded. */
	score_get(sc, conf, r_all, a, 1025, &v);
	ck_assert_int_eq(v.degraded, 0);
}
END_TEST

START_TEST(floor_zero_is_off)
{
	struct conf *c = load("[smsc a]\nhost = 127.0.0.1\nsystem_id = a\n"
	    "[key k]\ntoken = 0123456789abcdef0123\n"
	    "[route all]\nprefix = +\nsmsc = a\n"
	    "window = 120\ngrace = 0\nfloor = 0\nmin_sample = 1\n");
	struct score *s = score_new(c);
	struct score_view v;

	for (int i = 0; i < 10; i++) {
		score_sent(s, c, US, "a", 1000);
		score_receipt(s, c, US, "a", 1000, 0, 1);
	}
	score_get(s, c, 0, 0, 1010, &v);
	ck_assert_uint_eq(v.mature, 10);   /* grace 0: at the slice's end */
	ck_assert_double_eq(v.delivered_ratio, 0);
	ck_assert_double_eq(v.conversion, 0);
	ck_assert_int_eq(v.degraded, 0);
	score_free(s);
	conf_free(c);
}
END_TEST

START_TEST(window_slides)
{
	struct score_view v;

	sends("a", 1000, 4);
	for (int i = 0; i < 4; i++)
		score_receipt(sc, conf, US, "a", 1000, 0, 1);
	sends("a", 1060, 2);
	score_receipt(sc, conf, US, "a", 1060, 1, 1);
	score_get(sc, conf, r_all, a, 1119, &v);
	ck_assert_uint_eq(v.sent, 6);
	ck_assert_uint_eq(v.undeliverable, 4);
	ck_assert_int_eq(v.degraded, 1);
	/* Slice 100 leaves the 12-slice window when slice 112 begins: the
	 * old failures drop out, the later sends stay. */
	score_get(sc, conf, r_all, a, 1120, &v);
	ck_assert_uint_eq(v.sent, 2);
	ck_assert_uint_eq(v.mature, 2);
	ck_assert_uint_eq(v.delivered, 1);
	ck_assert_uint_eq(v.undeliverable, 0);
	ck_assert_double_eq_tol(v.delivered_ratio, 1, 1e-9);
	ck_assert_int_eq(v.degraded, 0);
	score_get(sc, conf, r_all, a, 1180, &v);
	assert_empty(&v);
	/* Figures from the future of now are not counted either. */
	score_get(sc, conf, r_all, a, 999, &v);
	assert_empty(&v);
}
END_TEST

START_TEST(late_outcomes)
{
	struct score_view v;

	/* A receipt or approval counts with its own send's bucket... */
	sends("a", 1000, 1);
	score_receipt(sc, conf, US, "a", 1000, 1, 50);
	score_approved(sc, conf, US, "a", 1000);
	score_get(sc, conf, r_all, a, 1100, &v);
	ck_assert_uint_eq(v.delivered, 1);
	ck_assert_uint_eq(v.approved, 1);
	/* ... and is dropped when there is none: no send in that slice, */
	score_receipt(sc, conf, US, "a", 1030, 1, 1);
	score_approved(sc, conf, US, "a", 1030);
	score_get(sc, conf, r_all, a, 1100, &v);
	ck_assert_uint_eq(v.delivered, 1);
	ck_assert_uint_eq(v.approved, 1);
	/* or a newer slice has taken the bucket (1120 reuses 1000's). */
	sends("a", 1120, 1);
	score_receipt(sc, conf, US, "a", 1000, 0, 1);
	score_approved(sc, conf, US, "a", 1000);
	score_get(sc, conf, r_all, a, 1125, &v);
	ck_assert_uint_eq(v.sent, 1);
	ck_assert_uint_eq(v.undeliverable, 0);
	ck_assert_uint_eq(v.approved, 0);
	/* A send older than what its bucket holds does not evict it. */
	sends("a", 1000, 1);
	score_get(sc, conf, r_all, a, 1125, &v);
	ck_assert_uint_eq(v.sent, 1);
}
END_TEST

START_TEST(unknown_ignored)
{
	struct score_view v;

	/* An SMSC not configured, a number no route takes, a time before
	 * the epoch: nothing counts. */
	score_sent(sc, conf, US, "nosuch", 1000);
	score_sent(sc, conf, "not a number", "a", 1000);
	score_sent(sc, conf, US, "a", -5);
	score_receipt(sc, conf, US, "nosuch", 1000, 1, 1);
	score_approved(sc, conf, US, "nosuch", 1000);
	score_get(sc, conf, r_all, a, 1030, &v);
	assert_empty(&v);
	score_get(sc, conf, r_all, b, 1030, &v);
	assert_empty(&v);
	/* Out-of-range indexes read as empty figures. */
	sends("a", 1000, 1);
	score_get(sc, conf, -1, a, 1030, &v);
	assert_empty(&v);
	score_get(sc, conf, conf->nroute, a, 1030, &v);
	assert_empty(&v);
	score_get(sc, conf, r_all, -1, 1030, &v);
	assert_empty(&v);
	score_get(sc, conf, r_all, conf->nsmsc, 1030, &v);
	assert_empty(&v);
	/* No score at all: empty figures, calls that do nothing. */
	score_sent(NULL, conf, US, "a", 1000);
	score_receipt(NULL, conf, US, "a", 1000, 1, 1);
	score_approved(NULL, conf, US, "a", 1000);
	score_get(NULL, conf, r_all, a, 1030, &v);
	assert_empty(&v);
	score_free(NULL);
}
END_TEST

START_TEST(route_by_number)
{
	struct score_view v;

	/* The route is the number's, by longest prefix. */
	score_sent(sc, conf, UK, "a", 1000);
	score_sent(sc, conf, UK, "a", 1000);
	score_sent(sc, conf, US, "a", 1000);
	score_get(sc, conf, r_uk, a, 1001, &v);
	ck_assert_uint_eq(v.sent, 2);
	score_get(sc, conf, r_all, a, 1001, &v);
	ck_assert_uint_eq(v.sent, 1);
}
END_TEST

static Suite *
score_suite(void)
{
	Suite *s = suite_create("score");
	TCase *tc = tcase_create("figures");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, fresh_is_empty);
	tcase_add_test(tc, ratios_and_latency);
	tcase_add_test(tc, score_is_the_known_ratio);
	tcase_add_test(tc, grace_and_maturity);
	tcase_add_test(tc, route_by_number);
	suite_add_tcase(s, tc);
	tc = tcase_create("degraded");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, degraded_on_delivery);
	tcase_add_test(tc, degraded_on_conversion);
	tcase_add_test(tc, floor_zero_is_off);
	suite_add_tcase(s, tc);
	tc = tcase_create("window");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, window_slides);
	tcase_add_test(tc, late_outcomes);
	tcase_add_test(tc, unknown_ignored);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(score_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
