/*
 * check_limits.c - limit.c, the limits' policy, as plain calls: a window
 * trips at exactly its bound and lets traffic through again when it
 * slides; no span of PERIOD ever holds more than N (the 2x of fixed
 * buckets at a boundary included), and a refusal comes at most one slot
 * early; retry_after is exact (refused one second before, let through at
 * it); resend_interval; which limit a send meets; the stored form; a
 * period changed on a reload; ranges and IP subjects.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limit.h"

#define T0 1800000000LL        /* a multiple of 600 and of 60 */

/* At most n per period at now: 1 when it lets one through (and counts
 * it), 0 when it refuses. */
static int
try_add(struct limit_window *w, uint32_t n, int period, int64_t now)
{
	struct limit_check c = { LIMIT_SENDS_PER_PHONE, n, period, w };
	uint32_t count;
	int64_t ra;

	if (limit_check(&c, now, &count, &ra))
		return 0;
	limit_add(w, period, now);
	return 1;
}

START_TEST(width)
{
	ck_assert_uint_eq(limit_width(1), 1);
	ck_assert_uint_eq(limit_width(59), 1);
	ck_assert_uint_eq(limit_width(60), 1);
	ck_assert_uint_eq(limit_width(61), 2);
	ck_assert_uint_eq(limit_width(600), 10);
	ck_assert_uint_eq(limit_width(3600), 60);
	ck_assert_uint_eq(limit_width(86400), 1440);
	ck_assert_uint_eq(limit_width(30 * 86400), 43200);
}
END_TEST

/* 5/10m: the fifth goes through, the sixth does not, whatever the
 * spacing inside the window. */
START_TEST(trips_at_bound)
{
	struct limit_window w;
	int i;

	memset(&w, 0, sizeof(w));
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(try_add(&w, 5, 600, T0 + i * 100), 1);
	ck_assert_uint_eq(limit_count(&w, 600, T0 + 450), 5);
	ck_assert_int_eq(try_add(&w, 5, 600, T0 + 450), 0);
	ck_assert_int_eq(try_add(&w, 5, 600, T0 + 599), 0);
	ck_assert_uint_eq(limit_count(&w, 600, T0 + 599), 5);
	/* 1/period trips at the second */
	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(try_add(&w, 1, 60, T0), 1);
	ck_assert_int_eq(try_add(&w, 1, 60, T0), 0);
	ck_assert_int_eq(try_add(&w, 1, 60, T0 + 59), 0);
	ck_assert_int_eq(try_add(&w, 1, 60, T0 + 60), 1);
}
END_TEST

/* Sliding: the first event leaves the window (its slot's end + period)
 * and one more goes through; the rest still count. */
START_TEST(slides)
{
	struct limit_window w;

	memset(&w, 0, sizeof(w));
	/* slots of 10 s: events at T0 (slot T0/10) and T0+300 */
	ck_assert_int_eq(try_add(&w, 2, 600, T0), 1);
	ck_assert_int_eq(try_add(&w, 2, 600, T0 + 300), 1);
	ck_assert_int_eq(try_add(&w, 2, 600, T0 + 608), 0);
	/* the slot of T0 .. T0+9 stops counting at T0 + 9 + 600: the
	 * window then holds T0+10 .. T0+609 */
	ck_assert_uint_eq(limit_count(&w, 600, T0 + 608), 2);
	ck_assert_uint_eq(limit_count(&w, 600, T0 + 609), 1);
	ck_assert_int_eq(try_add(&w, 2, 600, T0 + 609), 1);
	ck_assert_int_eq(try_add(&w, 2, 600, T0 + 610), 0);
	/* long after: empty */
	ck_assert_uint_eq(limit_count(&w, 600, T0 + 100000), 0);
	ck_assert_int_eq(try_add(&w, 2, 600, T0 + 100000), 1);
	ck_assert_uint_eq(limit_count(&w, 600, T0 + 100000), 1);
}
END_TEST

/* Fixed buckets let N through at the end of one and N more at the start
 * of the next: a sliding window does not. */
START_TEST(no_double_at_boundary)
{
	struct limit_window w;
	int i, through = 0;

	memset(&w, 0, sizeof(w));
	for (i = 0; i < 10; i++)
		through += try_add(&w, 10, 3600, T0 + 3590);
	for (i = 0; i < 10; i++)
		through += try_add(&w, 10, 3600, T0 + 3600 + i);
	ck_assert_int_eq(through, 10);
}
END_TEST

/* retry_after is exact: refused one second before it, let through at
 * it. */
START_TEST(retry_after_exact)
{
	struct limit_window w;
	struct limit_check c = { LIMIT_SENDS_PER_PHONE, 3, 600, &w };
	uint32_t count;
	int64_t ra, ra2;

	memset(&w, 0, sizeof(w));
	limit_add(&w, 600, T0 + 5);          /* slot T0/10 */
	limit_add(&w, 600, T0 + 125);        /* slot T0/10 + 12 */
	limit_add(&w, 600, T0 + 126);
	ck_assert_int_eq(limit_check(&c, T0 + 200, &count, &ra), 1);
	ck_assert_uint_eq(count, 3);
	/* the oldest slot ends at T0 + 9: it stops counting at T0 + 609 */
	ck_assert_int_eq(ra, 409);
	ck_assert_int_eq(limit_check(&c, T0 + 200 + ra - 1, &count, &ra2), 1);
	ck_assert_int_eq(ra2, 1);
	ck_assert_int_eq(limit_check(&c, T0 + 200 + ra, &count, &ra2), 0);
	ck_assert_uint_eq(count, 2);
	ck_assert_int_eq(ra2, 0);
	/* two must leave for a bound of 1 */
	c.n = 1;
	ck_assert_int_eq(limit_check(&c, T0 + 200, &count, &ra), 1);
	ck_assert_int_eq(ra, (T0 + 129 + 600) - (T0 + 200));
	ck_assert_int_eq(limit_retry_after(&w, 600, 4, T0 + 200), 0);
}
END_TEST

/* A small deterministic generator (no seed from the clock). */
static uint32_t
rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(*s >> 33);
}

/* Random traffic against N/PERIOD for several periods: no span of PERIOD
 * ever holds more than N events let through; every refusal has at least
 * N let through within PERIOD plus one slot; retry_after is exact. */
START_TEST(never_more_than_n)
{
	static const int periods[] = { 7, 60, 90, 600, 3600, 86400 };
	static const uint32_t bounds[] = { 1, 2, 5, 20 };
	uint64_t seed = 42;
	int64_t *times = malloc(4000 * sizeof(*times));

	ck_assert_ptr_nonnull(times);
	for (size_t pi = 0; pi < sizeof(periods) / sizeof(periods[0]); pi++)
	for (size_t bi = 0; bi < sizeof(bounds) / sizeof(bounds[0]); bi++) {
		int period = periods[pi];
		uint32_t n = bounds[bi];
		int64_t w_s = limit_width(period), t = T0 + rnd(&seed) % 977;
		struct limit_window w;
		struct limit_check c = { LIMIT_SENDS_PER_PHONE, n, period, &w };
		int nt = 0, i, j;

		memset(&w, 0, sizeof(w));
		for (i = 0; i < 4000; i++) {
			uint32_t count;
			int64_t ra, ra2;
			int in_reach = 0;

			t += rnd(&seed) % (uint32_t)(period / 4 + 2);
			if (!limit_check(&c, t, &count, &ra)) {
				limit_add(&w, period, t);
				times[nt++] = t;
				/* the span (t - period, t] */
				int in = 0;
				for (j = nt - 1; j >= 0 && times[j] > t - period;
				    j--)
					in++;
				ck_assert_msg(in <= (int)n, "%d in %ds (N %u)",
				    in, period, n);
				continue;
			}
			/* refused: N through within period + one slot */
			for (j = nt - 1; j >= 0 &&
			    times[j] > t - period - w_s; j--)
				in_reach++;
			ck_assert_msg(in_reach >= (int)n, "refused early: %d "
			    "in reach, N %u, period %d", in_reach, n, period);
			ck_assert_int_ge(ra, 1);
			ck_assert_int_eq(limit_check(&c, t + ra - 1, &count,
			    &ra2), 1);
			ck_assert_int_eq(limit_check(&c, t + ra, &count,
			    &ra2), 0);
		}
		ck_assert_int_gt(nt, 0);
	}
	free(times);
}
END_TEST

START_TEST(resend_interval)
{
	struct limit_window w;
	struct limit_check c = { LIMIT_RESEND_INTERVAL, 1, 30, &w };
	uint32_t count;
	int64_t ra;

	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(limit_check(&c, T0, &count, &ra), 0);
	limit_add(&w, 0, T0 + 7);            /* only its time */
	ck_assert_int_eq(w.width, 0);
	ck_assert_int_eq(w.last, T0 + 7);
	ck_assert_int_eq(limit_check(&c, T0 + 7, &count, &ra), 1);
	ck_assert_uint_eq(count, 1);
	ck_assert_int_eq(ra, 30);
	ck_assert_int_eq(limit_check(&c, T0 + 36, &count, &ra), 1);
	ck_assert_int_eq(ra, 1);
	ck_assert_int_eq(limit_check(&c, T0 + 37, &count, &ra), 0);
	ck_assert_uint_eq(count, 0);
	/* off */
	c.n = 0;
	ck_assert_int_eq(limit_check(&c, T0 + 8, &count, &ra), 0);
}
END_TEST

/* Which limit a send meets: the one refusing longest, the first on a
 * tie; none when none refuses; an off one (n 0) never. */
START_TEST(decide)
{
	struct limit_window phone, key;
	struct limit_check cs[3];
	int64_t ra;

	memset(&phone, 0, sizeof(phone));
	memset(&key, 0, sizeof(key));
	limit_add(&phone, 600, T0);
	limit_add(&key, 3600, T0);
	cs[0] = (struct limit_check){ LIMIT_RESEND_INTERVAL, 1, 30, &phone };
	cs[1] = (struct limit_check){ LIMIT_SENDS_PER_PHONE, 5, 600, &phone };
	cs[2] = (struct limit_check){ LIMIT_SENDS_PER_KEY, 0, 3600, &key };
	ck_assert_int_eq(limit_decide(cs, 3, T0 + 10, &ra),
	    LIMIT_RESEND_INTERVAL);
	ck_assert_int_eq(ra, 20);
	ck_assert_int_eq(limit_decide(cs, 3, T0 + 30, &ra), LIMIT_NONE);
	ck_assert_int_eq(ra, 0);
	cs[2].n = 1;                    /* 1/1h: refuses for an hour */
	ck_assert_int_eq(limit_decide(cs, 3, T0 + 10, &ra),
	    LIMIT_SENDS_PER_KEY);
	ck_assert_int_eq(ra, 59 + 3600 - 10);
	/* a tie: the first */
	cs[1].n = 1;
	cs[2] = cs[1];
	cs[2].kind = LIMIT_SENDS_PER_RANGE;
	ck_assert_int_eq(limit_decide(cs, 3, T0 + 100, &ra),
	    LIMIT_SENDS_PER_PHONE);
	ck_assert_int_eq(ra, 609 - 100);
	ck_assert_str_eq(limit_strname(LIMIT_FAILED_CHECKS),
	    "failed_checks_per_phone");
	ck_assert_str_eq(limit_strname(LIMIT_SENDS_PER_RANGE),
	    "sends_per_range");
	ck_assert_str_eq(limit_strname(LIMIT_NONE), "none");
}
END_TEST

START_TEST(encode_decode)
{
	struct limit_window w, r;
	uint8_t buf[LIMIT_ENCODED_MAX];
	size_t len;
	int i;

	memset(&w, 0, sizeof(w));
	len = limit_encode(&w, buf, sizeof(buf));
	ck_assert_uint_eq(len, 22);
	ck_assert_int_eq(limit_decode(&r, buf, len), 0);
	ck_assert_int_eq(memcmp(&r, &w, sizeof(w)), 0);
	for (i = 0; i < 50; i++)
		limit_add(&w, 600, T0 + i * 17);
	len = limit_encode(&w, buf, sizeof(buf));
	ck_assert_int_eq(limit_decode(&r, buf, len), 0);
	ck_assert_int_eq(r.width, w.width);
	ck_assert_int_eq(r.head, w.head);
	ck_assert_int_eq(r.last, w.last);
	ck_assert_int_eq(memcmp(r.slot, w.slot, sizeof(w.slot)), 0);
	ck_assert_uint_eq(limit_count(&r, 600, T0 + 900), limit_count(&w, 600,
	    T0 + 900));
	/* a full window fits the bound */
	for (i = 0; i < 1000; i++)
		limit_add(&w, 600, T0 + 10000 + i);
	ck_assert_uint_le(limit_encode(&w, buf, sizeof(buf)),
	    LIMIT_ENCODED_MAX);
	ck_assert_uint_eq(limit_encode(&w, buf, 10), 0);
	/* refused: short, trailing octets, version, an age past the slots */
	len = limit_encode(&w, buf, sizeof(buf));
	ck_assert_int_eq(limit_decode(&r, buf, len - 1), -1);
	ck_assert_int_eq(r.width, 0);
	ck_assert_int_eq(limit_decode(&r, buf, 21), -1);
	buf[0] = 9;
	ck_assert_int_eq(limit_decode(&r, buf, len), -1);
	buf[0] = 1;
	buf[22] = LIMIT_SLOTS;
	ck_assert_int_eq(limit_decode(&r, buf, len), -1);
}
END_TEST

/* A period changed on a reload: the counts are kept, each moved later
 * (never earlier). */
START_TEST(period_changed)
{
	struct limit_window w;
	int i;

	memset(&w, 0, sizeof(w));
	for (i = 0; i < 4; i++)
		limit_add(&w, 600, T0 + i * 100);    /* 10 s slots */
	/* 10 minutes -> 1 hour: all four still count */
	ck_assert_uint_eq(limit_count(&w, 3600, T0 + 400), 4);
	limit_add(&w, 3600, T0 + 400);
	ck_assert_uint_eq(w.width, 60);
	ck_assert_uint_eq(limit_count(&w, 3600, T0 + 400), 5);
	/* -> 1 minute: only what is at most a minute (and a slot) old */
	ck_assert_uint_eq(limit_count(&w, 60, T0 + 401), 2);
	ck_assert_uint_eq(limit_count(&w, 60, T0 + 500), 0);
}
END_TEST

/* A clock set back: what was counted still counts. */
START_TEST(clock_back)
{
	struct limit_window w;

	memset(&w, 0, sizeof(w));
	limit_add(&w, 600, T0 + 1000);
	limit_add(&w, 600, T0);
	ck_assert_uint_eq(limit_count(&w, 600, T0), 2);
	ck_assert_int_eq(w.last, T0 + 1000);
	ck_assert_int_eq(limit_retry_after(&w, 600, 2, T0),
	    (T0 + 1009 + 600) - T0);
}
END_TEST

START_TEST(until)
{
	struct limit_window w;

	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(limit_until(&w, 600, 30), 0);
	limit_add(&w, 600, T0 + 5);
	ck_assert_int_eq(limit_until(&w, 600, 0), T0 + 9 + 600);
	ck_assert_int_eq(limit_until(&w, 600, 3600), T0 + 5 + 3600);
	ck_assert_uint_eq(limit_count(&w, 600, limit_until(&w, 600, 0)), 0);
	ck_assert_uint_eq(limit_count(&w, 600, limit_until(&w, 600, 0) - 1),
	    1);
}
END_TEST

START_TEST(ranges)
{
	char r[24];

	ck_assert_uint_eq(limit_range("+447911123456", 8, r, sizeof(r)), 8);
	ck_assert_str_eq(r, "44791112");
	ck_assert_uint_eq(limit_range("+14155551234", 15, r, sizeof(r)), 11);
	ck_assert_str_eq(r, "14155551234");
	ck_assert_uint_eq(limit_range("+1", 1, r, sizeof(r)), 1);
	ck_assert_str_eq(r, "1");
	ck_assert_uint_eq(limit_range("447911123456", 8, r, sizeof(r)), 0);
	ck_assert_uint_eq(limit_range("+", 8, r, sizeof(r)), 0);
	ck_assert_uint_eq(limit_range("+447911123456", 8, r, 8), 0);
}
END_TEST

START_TEST(ip_subjects)
{
	char s[64];

	ck_assert_int_eq(limit_ip_subject("192.0.2.7", s, sizeof(s)), 0);
	ck_assert_str_eq(s, "192.0.2.7");
	ck_assert_int_eq(limit_ip_subject("2001:db8:1:2:3:4:5:6", s,
	    sizeof(s)), 0);
	ck_assert_str_eq(s, "2001:db8:1:2::/64");
	ck_assert_int_eq(limit_ip_subject("2001:0db8:0001:0002::ffff", s,
	    sizeof(s)), 0);
	ck_assert_str_eq(s, "2001:db8:1:2::/64");
	ck_assert_int_eq(limit_ip_subject("::ffff:198.51.100.1", s,
	    sizeof(s)), 0);
	ck_assert_str_eq(s, "198.51.100.1");
	ck_assert_int_eq(limit_ip_subject("::1", s, sizeof(s)), 0);
	ck_assert_str_eq(s, "::/64");
	ck_assert_int_eq(limit_ip_subject("192.0.2.300", s, sizeof(s)), -1);
	ck_assert_int_eq(limit_ip_subject("example.com", s, sizeof(s)), -1);
	ck_assert_int_eq(limit_ip_subject("", s, sizeof(s)), -1);
	ck_assert_int_eq(limit_ip_subject("192.0.2.7", s, 16), -1);
}
END_TEST

static Suite *
limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("window");

	tcase_add_test(tc, width);
	tcase_add_test(tc, trips_at_bound);
	tcase_add_test(tc, slides);
	tcase_add_test(tc, no_double_at_boundary);
	tcase_add_test(tc, retry_after_exact);
	tcase_add_test(tc, never_more_than_n);
	tcase_add_test(tc, period_changed);
	tcase_add_test(tc, clock_back);
	tcase_add_test(tc, until);
	tcase_add_test(tc, encode_decode);
	suite_add_tcase(s, tc);
	tc = tcase_create("decide");
	tcase_add_test(tc, resend_interval);
	tcase_add_test(tc, decide);
	tcase_add_test(tc, ranges);
	tcase_add_test(tc, ip_subjects);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(limits_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
