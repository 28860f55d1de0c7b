/*
 * check_shield.c - shield.c: the per-range circuit breaker, by plain calls
 * with made-up times (shield.c reads no clock).
 *
 * The parameters P used throughout: window = 310 (slices of 10 s: the
 * ring of 32 spans 31 of them), grace = 20, floor = 10 percent,
 * min_sample = 10, cooldown = 600, ranges of 8 digits, at most 64
 * tracked.  A send at t = 1000 is in slice 100 ([1000, 1010)), mature
 * from 1010 + 20 = 1030, and leaves the window at 1010 + 310 = 1320.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "shield.h"

#define BOT "+44770090012"     /* range +44770090 */
#define BOT_RANGE "+44770090"
#define HONEST "+14155550123"  /* range +14155550 */

static const struct shield_params P = {
	.floor = 10, .window = 310, .min_sample = 10, .cooldown = 600,
	.grace = 20, .range_digits = 8, .max_ranges = 64,
};

static struct shield *sh;

static void
setup(void)
{
	sh = shield_new(&P);
}

static void
teardown(void)
{
	shield_free(sh);
	sh = NULL;
}

/* n sends to phone at t. */
static void
sends(const char *phone, int n, int64_t t)
{
	for (int i = 0; i < n; i++)
		shield_sent(sh, phone, t);
}

static enum shield_verdict
check_at(const char *phone, int64_t now, struct shield_view *v)
{
	struct shield_view tmp;

	return shield_check(sh, phone, now, v != NULL ? v : &tmp);
}

/* ---- ranges ------------------------------------------------------------ */

START_TEST(range_of_a_number)
{
	char r[SHIELD_RANGE_MAX];

	shield_range("+14155550123", 8, r, sizeof(r));
	ck_assert_str_eq(r, "+14155550");
	shield_range("14155550123", 8, r, sizeof(r));
	ck_assert_str_eq(r, "+14155550");
	shield_range("+6834002", 8, r, sizeof(r));    /* shorter: whole */
	ck_assert_str_eq(r, "+6834002");
	shield_range("+447700900123", 15, r, sizeof(r));
	ck_assert_str_eq(r, "+447700900123");
	shield_range("+447700900123", 4, r, sizeof(r));
	ck_assert_str_eq(r, "+4477");
	shield_range("+447700900123", 8, r, 5);       /* cut to fit */
	ck_assert_str_eq(r, "+447");
}
END_TEST

START_TEST(untracked_is_open)
{
	struct shield_view v;
	struct shield_stats st;

	ck_assert_int_eq(check_at(BOT, 1000, &v), SHIELD_OPEN);
	ck_assert_str_eq(v.range, BOT_RANGE);
	ck_assert_uint_eq(v.sends, 0);
	ck_assert_int_eq(shield_get(sh, BOT_RANGE, 1000, &v), -1);
	shield_stats(sh, &st);
	ck_assert_int_eq(st.ranges, 0);
}
END_TEST

/* ---- the trip ----------------------------------------------------------- */

/* min_sample mature sends, none approved: the next send trips it, and it
 * is blocked until the cooldown is over; not one send sooner. */
START_TEST(trips_at_min_sample)
{
	struct shield_view v;
	struct shield_stats st;

	sends(BOT, 9, 1000);
	ck_assert_int_eq(check_at(BOT, 1100, &v), SHIELD_OPEN);
	ck_assert_uint_eq(v.mature, 9);
	ck_assert_uint_eq(v.sends, 9);
	sends(BOT, 1, 1100);
	/* The tenth is not mature until 1130. */
	ck_assert_int_eq(check_at(BOT, 1129, &v), SHIELD_OPEN);
	ck_assert_uint_eq(v.sends, 10);
	ck_assert_uint_eq(v.mature, 9);
	ck_assert_int_eq(check_at(BOT, 1130, &v), SHIELD_TRIPS);
	ck_assert_str_eq(v.range, BOT_RANGE);
	ck_assert_int_eq(v.tripped, 1);
	ck_assert_int_eq(v.tripped_at, 1130);
	ck_assert_int_eq(v.until, 1730);
	ck_assert_uint_eq(v.trip_mature, 10);
	ck_assert_uint_eq(v.trip_approved, 0);
	/* Blocked, for every number of the range, until 1730. */
	ck_assert_int_eq(check_at("+44770090099", 1131, &v), SHIELD_BLOCKED);
	ck_assert_int_eq(v.until, 1730);
	ck_assert_int_eq(check_at(BOT, 1729, &v), SHIELD_BLOCKED);
	/* Its neighbours are not. */
	ck_assert_int_eq(check_at("+44770080012", 1131, &v), SHIELD_OPEN);
	shield_stats(sh, &st);
	ck_assert_uint_eq(st.trips, 1);
	ck_assert_uint_eq(st.blocked, 3);
	ck_assert_int_eq(st.tripped, 1);
	/* Cooldown over: it reopens with this very check, figures afresh. */
	ck_assert_int_eq(check_at(BOT, 1730, &v), SHIELD_OPEN);
	ck_assert_int_eq(v.reopened, 1);
	ck_assert_int_eq(v.tripped, 0);
	ck_assert_int_eq(shield_get(sh, BOT_RANGE, 1730, &v), 0);
	ck_assert_uint_eq(v.sends, 0);
	shield_stats(sh, &st);
	ck_assert_uint_eq(st.reopened, 1);
	ck_assert_int_eq(st.tripped, 0);
}
END_TEST

/* Honest traffic converts above the floor: never trips, however much. */
START_TEST(conversion_above_floor_holds)
{
	for (int64_t t = 1000; t < 5000; t += 10) {
		sends(HONEST, 10, t);
		/* one in ten comes back: exactly the floor, not under it */
		shield_approved(sh, HONEST, t);
		ck_assert_int_eq(check_at(HONEST, t + 5, NULL), SHIELD_OPEN);
	}
}
END_TEST

/* Under the floor by one approval: trips. */
START_TEST(conversion_under_floor_trips)
{
	struct shield_view v;

	sends(HONEST, 20, 1000);
	shield_approved(sh, HONEST, 1000);
	ck_assert_int_eq(check_at(HONEST, 1030, &v), SHIELD_TRIPS);
	ck_assert_uint_eq(v.trip_mature, 20);
	ck_assert_uint_eq(v.trip_approved, 1);
}
END_TEST

/* A burst of fresh sends never trips, however many: none is mature. */
START_TEST(grace_protects_a_burst)
{
	sends(HONEST, 5000, 1000);
	ck_assert_int_eq(check_at(HONEST, 1000, NULL), SHIELD_OPEN);
	ck_assert_int_eq(check_at(HONEST, 1029, NULL), SHIELD_OPEN);
	/* ... and once mature, approvals that came in time count. */
	for (int i = 0; i < 4000; i++)
		shield_approved(sh, HONEST, 1000);
	ck_assert_int_eq(check_at(HONEST, 1030, NULL), SHIELD_OPEN);
}
END_TEST

START_TEST(floor_zero_is_off)
{
	struct shield_params p = P;

	p.floor = 0;
	shield_reconf(sh, &p);
	sends(BOT, 1000, 1000);
	ck_assert_int_eq(check_at(BOT, 2000, NULL), SHIELD_OPEN);
}
END_TEST

/* Sends that left the window count no more. */
START_TEST(window_slides)
{
	struct shield_view v;

	sends(BOT, 9, 1000);
	sends(BOT, 5, 1300);
	/* At 1319 the 1000 slice is still in: 14 sends, 9 mature... */
	ck_assert_int_eq(check_at(BOT, 1319, &v), SHIELD_OPEN);
	ck_assert_uint_eq(v.sends, 14);
	ck_assert_uint_eq(v.mature, 9);
	/* ... at 1320 it is out: 5, and those are mature at 1330. */
	ck_assert_int_eq(check_at(BOT, 1320, &v), SHIELD_OPEN);
	ck_assert_uint_eq(v.sends, 5);
	ck_assert_int_eq(check_at(BOT, 1330, &v), SHIELD_OPEN);
	ck_assert_uint_eq(v.mature, 5);
	/* A slice reused a ring later starts from zero. */
	sends(BOT, 1, 1000 + 320);
	ck_assert_int_eq(shield_get(sh, BOT_RANGE, 1330, &v), 0);
	ck_assert_uint_eq(v.sends, 6);
}
END_TEST

/* An approval counts with its send's slice, late or not, and only while
 * that slice holds it; an approval for a send never counted is ignored. */
START_TEST(approvals_count_with_their_send)
{
	struct shield_view v;

	sends(HONEST, 10, 1000);
	shield_approved(sh, HONEST, 1000);
	shield_approved(sh, HONEST, 1005);      /* same slice */
	shield_approved(sh, HONEST, 1010);      /* no send in that slice */
	ck_assert_int_eq(shield_get(sh, HONEST "", 1030, &v), -1);
	ck_assert_int_eq(shield_get(sh, "+14155550", 1030, &v), 0);
	ck_assert_uint_eq(v.approved, 2);
	ck_assert_uint_eq(v.mature, 10);
	/* After the slice is reused, the old send's approval is dropped. */
	sends(HONEST, 1, 1000 + 320);
	shield_approved(sh, HONEST, 1000);
	ck_assert_int_eq(shield_get(sh, "+14155550", 1330, &v), 0);
	ck_assert_uint_eq(v.approved, 0);
	/* Never more approvals than sends in a slice. */
	for (int i = 0; i < 5; i++)
		shield_approved(sh, HONEST, 1320);
	ck_assert_int_eq(shield_get(sh, "+14155550", 1360, &v), 0);
	ck_assert_uint_eq(v.approved, 1);
	/* A range never sent to is not created by an approval. */
	shield_approved(sh, BOT, 1000);
	ck_assert_int_eq(shield_get(sh, BOT_RANGE, 1030, &v), -1);
}
END_TEST

/* Sends in flight when the range tripped are not counted against it. */
START_TEST(no_counting_while_tripped)
{
	struct shield_view v;

	sends(BOT, 10, 1000);
	ck_assert_int_eq(check_at(BOT, 1030, &v), SHIELD_TRIPS);
	sends(BOT, 50, 1031);
	shield_approved(sh, BOT, 1031);
	ck_assert_int_eq(shield_get(sh, BOT_RANGE, 1100, &v), 0);
	ck_assert_uint_eq(v.sends, 0);
	ck_assert_int_eq(v.tripped, 1);
}
END_TEST

/* ---- reopening ---------------------------------------------------------- */

static int nexpired;
static char expired_range[SHIELD_RANGE_MAX];

static void
on_expired(void *arg, const struct shield_view *v)
{
	nexpired++;
	ck_assert_int_eq(v->reopened, 1);
	ck_assert_uint_eq(v->trip_mature, 10);
	snprintf(expired_range, sizeof(expired_range), "%s", v->range);
}

START_TEST(expire_reopens)
{
	struct shield_view *list;

	nexpired = 0;
	sends(BOT, 10, 1000);
	ck_assert_int_eq(check_at(BOT, 1030, NULL), SHIELD_TRIPS);
	ck_assert_int_eq(shield_expire(sh, 1629, on_expired, NULL), 0);
	ck_assert_int_eq(shield_tripped(sh, 1629, &list), 1);
	ck_assert_str_eq(list[0].range, BOT_RANGE);
	ck_assert_int_eq(list[0].until, 1630);
	free(list);
	ck_assert_int_eq(shield_expire(sh, 1630, on_expired, NULL), 1);
	ck_assert_int_eq(nexpired, 1);
	ck_assert_str_eq(expired_range, BOT_RANGE);
	ck_assert_int_eq(shield_tripped(sh, 1630, &list), 0);
	ck_assert_ptr_null(list);
	ck_assert_int_eq(check_at(BOT, 1630, NULL), SHIELD_OPEN);
	/* Figures afresh: it takes min_sample new mature sends again. */
	sends(BOT, 9, 1640);
	ck_assert_int_eq(check_at(BOT, 1700, NULL), SHIELD_OPEN);
	sends(BOT, 1, 1640);
	ck_assert_int_eq(check_at(BOT, 1700, NULL), SHIELD_TRIPS);
}
END_TEST

START_TEST(reopen_by_hand)
{
	struct shield_stats st;

	ck_assert_int_eq(shield_reopen(sh, BOT_RANGE, 1000), -1);
	sends(BOT, 10, 1000);
	ck_assert_int_eq(shield_reopen(sh, BOT_RANGE, 1030), -1);  /* open */
	ck_assert_int_eq(check_at(BOT, 1030, NULL), SHIELD_TRIPS);
	ck_assert_int_eq(shield_reopen(sh, BOT_RANGE, 1031), 0);
	ck_assert_int_eq(check_at(BOT, 1031, NULL), SHIELD_OPEN);
	ck_assert_int_eq(shield_reopen(sh, BOT_RANGE, 1031), -1);
	shield_stats(sh, &st);
	ck_assert_int_eq(st.tripped, 0);
	ck_assert_uint_eq(st.reopened, 1);
	/* An expired trip is not reopened by hand: the sweep does it. */
	sends(BOT, 10, 1040);
	ck_assert_int_eq(check_at(BOT, 1070, NULL), SHIELD_TRIPS);
	ck_assert_int_eq(shield_reopen(sh, BOT_RANGE, 1670), -1);
	ck_assert_int_eq(shield_expire(sh, 1670, NULL, NULL), 1);
}
END_TEST

/* ---- restore, reconf ---------------------------------------------------- */

START_TEST(restore_blocks)
{
	struct shield_view v, in;

	memset(&in, 0, sizeof(in));
	snprintf(in.range, sizeof(in.range), "%s", BOT_RANGE);
	in.tripped_at = 900;
	in.until = 1500;
	in.trip_mature = 60;
	in.trip_approved = 1;
	ck_assert_int_eq(shield_restore(sh, &in, 1500), -1);   /* over */
	ck_assert_int_eq(shield_restore(sh, &in, 1000), 0);
	ck_assert_int_eq(check_at(BOT, 1000, &v), SHIELD_BLOCKED);
	ck_assert_int_eq(v.until, 1500);
	ck_assert_int_eq(v.tripped_at, 900);
	ck_assert_uint_eq(v.trip_mature, 60);
	snprintf(in.range, sizeof(in.range), "junk");
	ck_assert_int_eq(shield_restore(sh, &in, 1000), -1);
}
END_TEST

/* A trip made with 8 digits still blocks after range_digits becomes 6,
 * and one of 6 digits restored blocks every number under it. */
START_TEST(trips_of_other_lengths_hold)
{
	struct shield_params p = P;
	struct shield_view v, in;

	sends(BOT, 10, 1000);
	ck_assert_int_eq(check_at(BOT, 1030, NULL), SHIELD_TRIPS);
	p.range_digits = 6;
	shield_reconf(sh, &p);
	ck_assert_int_eq(check_at(BOT, 1031, &v), SHIELD_BLOCKED);
	ck_assert_str_eq(v.range, BOT_RANGE);
	/* Its 6-digit neighbourhood is its own range now, open. */
	ck_assert_int_eq(check_at("+44770100000", 1031, &v), SHIELD_OPEN);
	ck_assert_str_eq(v.range, "+447701");
	memset(&in, 0, sizeof(in));
	snprintf(in.range, sizeof(in.range), "+3361");
	in.tripped_at = 1000;
	in.until = 2000;
	ck_assert_int_eq(shield_restore(sh, &in, 1031), 0);
	ck_assert_int_eq(check_at("+33612345678", 1031, &v), SHIELD_BLOCKED);
	ck_assert_str_eq(v.range, "+3361");
	ck_assert_int_eq(check_at("+33712345678", 1031, &v), SHIELD_OPEN);
}
END_TEST

/* A new window: figures start afresh, trips stand. */
START_TEST(reconf_window)
{
	struct shield_params p = P;
	struct shield_view v;

	sends(BOT, 10, 1000);
	sends(HONEST, 5, 1000);
	ck_assert_int_eq(check_at(BOT, 1030, NULL), SHIELD_TRIPS);
	p.window = 3100;
	shield_reconf(sh, &p);
	ck_assert_int_eq(check_at(BOT, 1031, NULL), SHIELD_BLOCKED);
	ck_assert_int_eq(shield_get(sh, "+14155550", 1031, &v), 0);
	ck_assert_uint_eq(v.sends, 0);
}
END_TEST

/* ---- memory ------------------------------------------------------------- */

static void
phone_n(int n, char *out, size_t size)
{
	/* ranges +1200000NNN.. : the range is the first 8 digits */
	snprintf(out, size, "+12%06d0000", n);
}

/* At most max_ranges: a new range takes the least recently used open
 * one's place; tripped ones are never forgotten; when every tracked
 * range is tripped a new one is not tracked. */
START_TEST(cap_evicts_lru_not_tripped)
{
	struct shield_params p = P;
	struct shield_stats st;
	struct shield_view v;
	char phone[24], r[SHIELD_RANGE_MAX];

	p.max_ranges = 16;
	shield_reconf(sh, &p);
	for (int i = 0; i < 16; i++) {
		phone_n(i, phone, sizeof(phone));
		sends(phone, i == 0 ? 10 : 1, 1000);
	}
	/* range 0 trips; range 1 is used again: range 2 is the oldest */
	phone_n(0, phone, sizeof(phone));
	ck_assert_int_eq(check_at(phone, 1030, NULL), SHIELD_TRIPS);
	phone_n(1, phone, sizeof(phone));
	sends(phone, 1, 1031);
	phone_n(16, phone, sizeof(phone));
	sends(phone, 1, 1031);
	shield_stats(sh, &st);
	ck_assert_int_eq(st.ranges, 16);
	ck_assert_uint_eq(st.evicted, 1);
	phone_n(2, phone, sizeof(phone));
	shield_range(phone, 8, r, sizeof(r));
	ck_assert_int_eq(shield_get(sh, r, 1031, &v), -1);
	phone_n(1, phone, sizeof(phone));
	shield_range(phone, 8, r, sizeof(r));
	ck_assert_int_eq(shield_get(sh, r, 1031, &v), 0);
	phone_n(0, phone, sizeof(phone));
	ck_assert_int_eq(check_at(phone, 1031, NULL), SHIELD_BLOCKED);
	/* Trip all the others: then a new range finds no room. */
	for (int i = 1; i <= 16; i++) {
		phone_n(i, phone, sizeof(phone));
		if (i == 2)
			continue;
		sends(phone, 10, 1040);
		ck_assert_int_eq(check_at(phone, 1070, NULL), SHIELD_TRIPS);
	}
	shield_stats(sh, &st);
	ck_assert_int_eq(st.tripped, 16);
	phone_n(99, phone, sizeof(phone));
	sends(phone, 1, 1071);
	shield_stats(sh, &st);
	ck_assert_uint_eq(st.untracked, 1);
	ck_assert_int_eq(st.ranges, 16);
	ck_assert_int_eq(check_at(phone, 1071, NULL), SHIELD_OPEN);
	/* A smaller cap forgets open ranges only. */
	ck_assert_int_eq(shield_expire(sh, 1071 + 600, NULL, NULL), 16);
	p.max_ranges = 4;
	shield_reconf(sh, &p);
	shield_stats(sh, &st);
	ck_assert_int_eq(st.ranges, 4);
}
END_TEST

/* A flood of distinct ranges keeps the table at its cap; a range sent to
 * all along stays tracked and trips. */
START_TEST(flood_stays_bounded)
{
	struct shield_stats st;
	char phone[24];
	int64_t t = 1000;

	for (int i = 0; i < 200000; i++) {
		phone_n(i, phone, sizeof(phone));
		shield_sent(sh, phone, t + i / 1000);
		if (i % 50 == 0)     /* more often than 64 new ranges */
			shield_sent(sh, BOT, t + i / 1000);
	}
	shield_stats(sh, &st);
	ck_assert_int_eq(st.ranges, 64);
	ck_assert_uint_eq(st.evicted, 200000 + 1 - 64);
	ck_assert_int_eq(check_at(BOT, t + 200 + 30, NULL), SHIELD_TRIPS);
}
END_TEST

static Suite *
shield_suite(void)
{
	Suite *s = suite_create("shield");
	TCase *tc = tcase_create("ranges");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, range_of_a_number);
	tcase_add_test(tc, untracked_is_open);
	suite_add_tcase(s, tc);
	tc = tcase_create("trip");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, trips_at_min_sample);
	tcase_add_test(tc, conversion_above_floor_holds);
	tcase_add_test(tc, conversion_under_floor_trips);
	tcase_add_test(tc, grace_protects_a_burst);
	tcase_add_test(tc, floor_zero_is_off);
	tcase_add_test(tc, window_slides);
	tcase_add_test(tc, approvals_count_with_their_send);
	tcase_add_test(tc, no_counting_while_tripped);
	suite_add_tcase(s, tc);
	tc = tcase_create("reopen");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, expire_reopens);
	tcase_add_test(tc, reopen_by_hand);
	tcase_add_test(tc, restore_blocks);
	tcase_add_test(tc, trips_of_other_lengths_hold);
	tcase_add_test(tc, reconf_window);
	suite_add_tcase(s, tc);
	tc = tcase_create("memory");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, cap_evicts_lru_not_tripped);
	tcase_add_test(tc, flood_stays_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(shield_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
