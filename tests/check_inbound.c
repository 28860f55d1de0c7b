/*
 * check_inbound.c - inbound (MO) messages: joining concatenated parts
 * (inbound_parts.c: any order, duplicates, bounds, aging), the codes a
 * text carries (inbound_codes.c), and the inbox and waiting parts in the
 * store (store_inbound.c: newest first, digests, purge, parts across a
 * reopen).
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <check.h>
#include <event2/event.h>

#include "inbound_codes.h"
#include "inbound_parts.h"
#include "store.h"

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

/* ---- the store: inbox and parts ---- */

static char rundir[64];
static char dir[96];
static char dbpath[128];
static struct event_base *base;
static struct store *st;

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static struct store *
open_store(void)
{
	char *err = NULL;
	struct store *s = store_open(base, dbpath, 64ULL << 20, &err);

	ck_assert_msg(s != NULL, "store_open: %s", err ? err : "?");
	return s;
}

static void
store_setup(void)
{
	snprintf(dir, sizeof(dir), "%s/t.XXXXXX", rundir);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, sizeof(dbpath), "%s/db", dir);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	st = open_store();
}

static void
store_teardown(void)
{
	if (st != NULL)
		store_close(st);
	st = NULL;
	event_base_free(base);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void
put_msg(const char *id, const char *to, int64_t ms, const char *text)
{
	struct store_inbound m;

	memset(&m, 0, sizeof(m));
	snprintf(m.id, sizeof(m.id), "%s", id);
	snprintf(m.key, sizeof(m.key), "qa");
	snprintf(m.from, sizeof(m.from), "447700900001");
	snprintf(m.to, sizeof(m.to), "%s", to);
	snprintf(m.smsc, sizeof(m.smsc), "sim");
	m.received_ms = ms;
	memset(m.digest, id[strlen(id) - 1], sizeof(m.digest));
	m.text = (char *)text;
	ck_assert_int_eq(store_inbound_put(st, &m), STORE_OK);
}

struct listing {
	char ids[16][32];
	char texts[16][64];
	int n, stop_at;
};

static int
collect(void *arg, const struct store_inbound *m)
{
	struct listing *l = arg;

	snprintf(l->ids[l->n], 32, "%s", m->id);
	snprintf(l->texts[l->n], 64, "%s", m->text);
	l->n++;
	return l->stop_at > 0 && l->n >= l->stop_at;
}

START_TEST(inbox_newest_first_since_and_purge)
{
	struct listing l = { .n = 0 };
	uint8_t dig[16];
	int64_t when = 0;

	put_msg("msg_1", "447700900123", 1000, "first 1234");
	put_msg("msg_2", "447700900123", 3000, "third");
	put_msg("msg_3", "84433", 2000, "second ✓");
	/* Staged writes are seen at once ... */
	ck_assert_int_eq(store_inbound_each(st, 0, 100, collect, &l), 3);
	ck_assert_str_eq(l.ids[0], "msg_2");
	ck_assert_str_eq(l.ids[1], "msg_3");
	ck_assert_str_eq(l.ids[2], "msg_1");
	ck_assert_str_eq(l.texts[1], "second ✓");
	/* ... and after the commit. */
	ck_assert_int_eq(store_flush(st), STORE_OK);
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(store_inbound_each(st, 2000, 100, collect, &l), 2);
	ck_assert_str_eq(l.ids[1], "msg_3");
	memset(&l, 0, sizeof(l));
	l.stop_at = 1;
	ck_assert_int_eq(store_inbound_each(st, 0, 100, collect, &l), 1);
	/* Digests. */
	memset(dig, '2', sizeof(dig));
	ck_assert_int_eq(store_inbound_seen(st, dig, &when), STORE_OK);
	ck_assert_int_eq(when, 3000);
	memset(dig, '9', sizeof(dig));
	ck_assert_int_eq(store_inbound_seen(st, dig, &when), STORE_NOTFOUND);
	/* Purge what came before 2500: msg_3 and msg_1, with digests. */
	ck_assert_int_eq(store_inbound_purge(st, 2500, 100), 2);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(store_inbound_each(st, 0, 100, collect, &l), 1);
	ck_assert_str_eq(l.ids[0], "msg_2");
	memset(dig, '1', sizeof(dig));
	ck_assert_int_eq(store_inbound_seen(st, dig, &when), STORE_NOTFOUND);
	ck_assert_int_eq(store_inbound_purge(st, 2500, 100), 0);
}
END_TEST

struct partlist {
	char keys[8][64];
	int seqs[8];
	int64_t at[8];
	char texts[8][32];
	int n;
};

static void
collect_part(void *arg, const char *pkey, int seq, int64_t at_ms,
    const char *text)
{
	struct partlist *l = arg;

	snprintf(l->keys[l->n], 64, "%s", pkey);
	l->seqs[l->n] = seq;
	l->at[l->n] = at_ms;
	snprintf(l->texts[l->n], 32, "%s", text);
	l->n++;
}

START_TEST(parts_survive_a_reopen)
{
	struct partlist l;

	ck_assert_int_eq(store_inbound_part_put(st, "3:sim1:a1:b7/3", 3, 50,
	    "three"), STORE_OK);
	ck_assert_int_eq(store_inbound_part_put(st, "3:sim1:a1:b7/3", 1, 40,
	    "one"), STORE_OK);
	ck_assert_int_eq(store_inbound_part_put(st, "3:sim1:c1:b9/2", 2, 60,
	    ""), STORE_OK);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	store_close(st);
	st = open_store();
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(store_inbound_parts_each(st, collect_part, &l), 3);
	ck_assert_str_eq(l.keys[0], "3:sim1:a1:b7/3");
	ck_assert_int_eq(l.seqs[0], 1);
	ck_assert_str_eq(l.texts[0], "one");
	ck_assert_int_eq(l.at[0], 40);
	ck_assert_int_eq(l.seqs[1], 3);
	ck_assert_str_eq(l.texts[1], "three");
	ck_assert_int_eq(l.seqs[2], 2);
	ck_assert_str_eq(l.texts[2], "");
	ck_assert_int_eq(store_inbound_part_del(st, "3:sim1:a1:b7/3", 1),
	    STORE_OK);
	ck_assert_int_eq(store_inbound_part_del(st, "3:sim1:a1:b7/3", 2),
	    STORE_OK);
	ck_assert_int_eq(store_inbound_part_del(st, "3:sim1:a1:b7/3", 3),
	    STORE_OK);
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(store_inbound_parts_each(st, collect_part, &l), 1);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	/* A bad part key fails the batch. */
	ck_assert_int_eq(store_inbound_part_put(st, "", 1, 0, "x"),
	    STORE_ERR);
	ck_assert_int_eq(store_flush(st), STORE_ERR);
}
END_TEST

static Suite *
inbound_suite(void)
{
	Suite *s = suite_create("inbound");
	TCase *tp = tcase_create("parts");
	TCase *tc = tcase_create("codes");
	TCase *ts;

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
	ts = tcase_create("store");
	tcase_add_checked_fixture(ts, store_setup, store_teardown);
	tcase_add_test(ts, inbox_newest_first_since_and_purge);
	tcase_add_test(ts, parts_survive_a_reopen);
	suite_add_tcase(s, ts);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	snprintf(rundir, sizeof(rundir), "/tmp/check_inbound.XXXXXX");
	if (mkdtemp(rundir) == NULL)
		return 1;
	sr = srunner_create(inbound_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	nftw(rundir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return failed ? 1 : 0;
}
