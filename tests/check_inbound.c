/*
 * check_inbound.c - inbound (MO) messages: joining concatenated parts
 * (inbound_parts.c: any order, duplicates, bounds, aging) and the codes a
 * text carries (inbound_codes.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "inbound_codes.h"
#include "inbound_parts.h"

static char dropped_keys[8][INBOUND_KEY_MAX];
static enum inbound_drop dropped_why[8];
static int ndropped;

static void
on_dropped(void *arg, const char *key, enum inbound_drop why)
{
	(void)arg;
	if (ndropped < 8) {
		snprintf(dropped_keys[ndropped], INBOUND_KEY_MAX, "%s", key);
		dropped_why[ndropped] = why;
	}
	ndropped++;
}

static void
setup(void)
{
	ndropped = 0;
}

START_TEST(keys_are_unambiguous)
{
	char a[INBOUND_KEY_MAX], b[INBOUND_KEY_MAX];

	inbound_parts_key("s1", "447700900001", "447700900123", 7, 3, a);
	inbound_parts_key("s1", "447700900001", "447700900123", 7, 3, b);
	ck_assert_str_eq(a, b);
	inbound_parts_key("s1", "447700900001", "447700900123", 8, 3, b);
	ck_assert_str_ne(a, b);
	inbound_parts_key("s1", "447700900001", "447700900123", 7, 2, b);
	ck_assert_str_ne(a, b);
	/* Addresses cannot run into each other. */
	inbound_parts_key("s", "1a", "b", 1, 2, a);
	inbound_parts_key("s1", "a", "b", 1, 2, b);
	ck_assert_str_ne(a, b);
	/* Overlong strings are cut, never overflow. */
	char lng[300];
	memset(lng, 'x', sizeof(lng) - 1);
	lng[sizeof(lng) - 1] = '\0';
	inbound_parts_key(lng, lng, lng, 65535, 255, a);
	ck_assert_uint_lt(strlen(a), INBOUND_KEY_MAX);
}
END_TEST

START_TEST(three_parts_out_of_order_with_a_duplicate)
{
	struct inbound_parts *t = inbound_parts_new(16, 1 << 20, 60000,
	    on_dropped, NULL);
	char key[INBOUND_KEY_MAX], *j;

	inbound_parts_key("sim", "447700900001", "447700900123", 0xA7, 3, key);
	ck_assert_int_eq(inbound_parts_add(t, key, 3, 3, "code 4821.", 10,
	    &j), INBOUND_PART_HELD);
	ck_assert_ptr_null(j);
	ck_assert_int_eq(inbound_parts_add(t, key, 3, 1, "Your ", 11, &j),
	    INBOUND_PART_HELD);
	/* The SMSC sends part 3 again: our answer was lost. */
	ck_assert_int_eq(inbound_parts_add(t, key, 3, 3, "code 4821.", 12,
	    &j), INBOUND_PART_DUP);
	ck_assert_int_eq(inbound_parts_pending(t), 1);
	ck_assert_int_eq(inbound_parts_add(t, key, 3, 2, "login ", 13, &j),
	    INBOUND_PART_DONE);
	ck_assert_str_eq(j, "Your login code 4821.");
	free(j);
	ck_assert_int_eq(inbound_parts_pending(t), 0);
	ck_assert_uint_eq(inbound_parts_bytes(t), 0);
	/* A part of the joined message, again: a duplicate, not a new
	 * message, for as long as max_age. */
	ck_assert_int_eq(inbound_parts_add(t, key, 3, 1, "Your ", 14, &j),
	    INBOUND_PART_DUP);
	ck_assert_int_eq(inbound_parts_pending(t), 0);
	/* After max_age the reference may be used again. */
	inbound_parts_expire(t, 14 + 60001);
	ck_assert_int_eq(inbound_parts_add(t, key, 3, 1, "Again ", 60020,
	    &j), INBOUND_PART_HELD);
	ck_assert_int_eq(ndropped, 0);
	inbound_parts_free(t);
}
END_TEST

START_TEST(one_part_messages_pass_straight_through)
{
	struct inbound_parts *t = inbound_parts_new(4, 1024, 60000, NULL,
	    NULL);
	char key[INBOUND_KEY_MAX], *j;

	inbound_parts_key("sim", "1", "2", 0, 1, key);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(inbound_parts_add(t, key, 1, 1, "STOP", i, &j),
		    INBOUND_PART_DONE);
		ck_assert_str_eq(j, "STOP");
		free(j);
	}
	ck_assert_int_eq(inbound_parts_pending(t), 0);
	inbound_parts_free(t);
}
END_TEST

START_TEST(messages_interleave)
{
	struct inbound_parts *t = inbound_parts_new(16, 1 << 20, 60000, NULL,
	    NULL);
	char a[INBOUND_KEY_MAX], b[INBOUND_KEY_MAX], *j;

	inbound_parts_key("sim", "1", "2", 1, 2, a);
	inbound_parts_key("sim", "3", "2", 1, 2, b);
	ck_assert_int_eq(inbound_parts_add(t, a, 2, 1, "a1", 0, &j),
	    INBOUND_PART_HELD);
	ck_assert_int_eq(inbound_parts_add(t, b, 2, 2, "b2", 0, &j),
	    INBOUND_PART_HELD);
	ck_assert_int_eq(inbound_parts_add(t, b, 2, 1, "b1", 0, &j),
	    INBOUND_PART_DONE);
	ck_assert_str_eq(j, "b1b2");
	free(j);
	ck_assert_int_eq(inbound_parts_add(t, a, 2, 2, "a2", 0, &j),
	    INBOUND_PART_DONE);
	ck_assert_str_eq(j, "a1a2");
	free(j);
	inbound_parts_free(t);
}
END_TEST

START_TEST(invalid_parts_are_refused)
{
	struct inbound_parts *t = inbound_parts_new(4, 64, 60000, NULL, NULL);
	char key[INBOUND_KEY_MAX], *j, *big;

	inbound_parts_key("sim", "1", "2", 9, 3, key);
	ck_assert_int_eq(inbound_parts_add(t, key, 3, 0, "x", 0, &j),
	    INBOUND_PART_INVALID);
	ck_assert_int_eq(inbound_parts_add(t, key, 3, 4, "x", 0, &j),
	    INBOUND_PART_INVALID);
	ck_assert_int_eq(inbound_parts_add(t, key, 0, 0, "x", 0, &j),
	    INBOUND_PART_INVALID);
	ck_assert_int_eq(inbound_parts_add(t, key, 3, 1, NULL, 0, &j),
	    INBOUND_PART_INVALID);
	/* Longer than max_bytes on its own. */
	big = malloc(100);
	memset(big, 'x', 99);
	big[99] = '\0';
	ck_assert_int_eq(inbound_parts_add(t, key, 3, 1, big, 0, &j),
	    INBOUND_PART_INVALID);
	ck_assert_ptr_null(j);
	free(big);
	ck_assert_int_eq(inbound_parts_pending(t), 0);
	inbound_parts_free(t);
}
END_TEST

START_TEST(full_table_drops_the_oldest)
{
	struct inbound_parts *t = inbound_parts_new(2, 1 << 20, 60000,
	    on_dropped, NULL);
	char k1[INBOUND_KEY_MAX], k2[INBOUND_KEY_MAX], k3[INBOUND_KEY_MAX];
	char *j;

	inbound_parts_key("sim", "1", "9", 1, 2, k1);
	inbound_parts_key("sim", "2", "9", 1, 2, k2);
	inbound_parts_key("sim", "3", "9", 1, 2, k3);
	inbound_parts_add(t, k1, 2, 1, "one", 1, &j);
	inbound_parts_add(t, k2, 2, 1, "two", 2, &j);
	ck_assert_int_eq(inbound_parts_add(t, k3, 2, 1, "three", 3, &j),
	    INBOUND_PART_HELD);
	ck_assert_int_eq(inbound_parts_pending(t), 2);
	ck_assert_int_eq(ndropped, 1);
	ck_assert_str_eq(dropped_keys[0], k1);
	ck_assert_int_eq(dropped_why[0], INBOUND_DROP_FULL);
	/* A part of a waiting message never pushes that message out. */
	ck_assert_int_eq(inbound_parts_add(t, k2, 2, 2, "!", 4, &j),
	    INBOUND_PART_DONE);
	ck_assert_str_eq(j, "two!");
	free(j);
	inbound_parts_free(t);
}
END_TEST

START_TEST(byte_cap_drops_the_oldest)
{
	struct inbound_parts *t = inbound_parts_new(16, 10, 60000,
	    on_dropped, NULL);
	char k1[INBOUND_KEY_MAX], k2[INBOUND_KEY_MAX], *j;

	inbound_parts_key("sim", "1", "9", 1, 3, k1);
	inbound_parts_key("sim", "2", "9", 1, 3, k2);
	inbound_parts_add(t, k1, 3, 1, "abcdef", 1, &j);
	ck_assert_uint_eq(inbound_parts_bytes(t), 6);
	ck_assert_int_eq(inbound_parts_add(t, k2, 3, 1, "ghijkl", 2, &j),
	    INBOUND_PART_HELD);
	ck_assert_int_eq(ndropped, 1);
	ck_assert_str_eq(dropped_keys[0], k1);
	ck_assert_uint_eq(inbound_parts_bytes(t), 6);
	/* The message itself past the cap: its part is refused, it stays. */
	ck_assert_int_eq(inbound_parts_add(t, k2, 3, 2, "mnopq", 3, &j),
	    INBOUND_PART_INVALID);
	ck_assert_int_eq(inbound_parts_pending(t), 1);
	inbound_parts_free(t);
}
END_TEST

START_TEST(incomplete_messages_age_out)
{
	struct inbound_parts *t = inbound_parts_new(16, 1 << 20, 1000,
	    on_dropped, NULL);
	char k1[INBOUND_KEY_MAX], k2[INBOUND_KEY_MAX], *j;

	inbound_parts_key("sim", "1", "9", 1, 2, k1);
	inbound_parts_key("sim", "2", "9", 1, 2, k2);
	inbound_parts_add(t, k1, 2, 1, "old", 0, &j);
	inbound_parts_add(t, k2, 2, 1, "new", 900, &j);
	ck_assert_int_eq(inbound_parts_expire(t, 1000), 0);
	ck_assert_int_eq(inbound_parts_expire(t, 1001), 1);
	ck_assert_int_eq(ndropped, 1);
	ck_assert_str_eq(dropped_keys[0], k1);
	ck_assert_int_eq(dropped_why[0], INBOUND_DROP_AGED);
	ck_assert_int_eq(inbound_parts_pending(t), 1);
	ck_assert_uint_eq(inbound_parts_bytes(t), 3);
	inbound_parts_free(t);
}
END_TEST

START_TEST(codes_are_runs_of_4_to_12_digits)
{
	char c[INBOUND_CODES_MAX][INBOUND_CODE_MAX + 1];

	ck_assert_int_eq(inbound_codes("Your code is 123456.", c, 8), 1);
	ck_assert_str_eq(c[0], "123456");
	ck_assert_int_eq(inbound_codes("G-4821 or 99 or 12345678901234 "
	    "(call +4477009001234) 0001", c, 8), 2);
	ck_assert_str_eq(c[0], "4821");
	ck_assert_str_eq(c[1], "0001");
	ck_assert_int_eq(inbound_codes("123456789012", c, 8), 1);
	ck_assert_int_eq(inbound_codes("1234567890123", c, 8), 0);
	ck_assert_int_eq(inbound_codes("123", c, 8), 0);
	ck_assert_int_eq(inbound_codes("", c, 8), 0);
	ck_assert_int_eq(inbound_codes(NULL, c, 8), 0);
	ck_assert_int_eq(inbound_codes("1111 2222 3333", c, 2), 2);
	ck_assert_str_eq(c[1], "2222");
	/* Non-ASCII digits around a code bound it like any character. */
	ck_assert_int_eq(inbound_codes("код:7788…", c, 8), 1);
	ck_assert_str_eq(c[0], "7788");
}
END_TEST

static Suite *
inbound_suite(void)
{
	Suite *s = suite_create("inbound");
	TCase *tp = tcase_create("parts");
	TCase *tc = tcase_create("codes");

	tcase_add_checked_fixture(tp, setup, NULL);
	tcase_add_test(tp, keys_are_unambiguous);
	tcase_add_test(tp, three_parts_out_of_order_with_a_duplicate);
	tcase_add_test(tp, one_part_messages_pass_straight_through);
	tcase_add_test(tp, messages_interleave);
	tcase_add_test(tp, invalid_parts_are_refused);
	tcase_add_test(tp, full_table_drops_the_oldest);
	tcase_add_test(tp, byte_cap_drops_the_oldest);
	tcase_add_test(tp, incomplete_messages_age_out);
	suite_add_tcase(s, tp);
	tcase_add_test(tc, codes_are_runs_of_4_to_12_digits);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(inbound_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
