/*
 * check_journal.c - the store's journal file (src/store_journal.c) on its
 * own: records appended come back in order after a reopen, a torn or
 * foreign record ends the replay, the ring wraps and refuses to overwrite
 * what LMDB lacks, a record taken back is gone, and a file that is not the
 * store's journal is refused.
 */
#define _GNU_SOURCE             /* memmem() */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_journal.h"

#define SMALL (64u << 10)       /* the smallest ring */

static char dir[] = "/tmp/check_journal.XXXXXX";
static char path[64];

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/journal", dir);
}

static void
teardown(void)
{
	unlink(path);
	rmdir(dir);
	strcpy(dir, "/tmp/check_journal.XXXXXX");
}

/* The records a replay hands over: their numbers and first octets. */
struct seen {
	uint64_t seq[4096];
	uint8_t first[4096];
	size_t len[4096];
	int n;
};

static int
collect(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
	struct seen *s = arg;

	ck_assert_int_lt(s->n, 4096);
	s->seq[s->n] = seq;
	s->first[s->n] = len > 0 ? p[0] : 0;
	s->len[s->n] = len;
	s->n++;
	return 0;
}

static struct journal *
open_at(const struct journal_pos *pos, uint64_t cap)
{
	struct journal *j;
	char err[256];

	ck_assert_msg(journal_open(&j, dir, cap, pos, err, sizeof(err)) == 0,
	    "journal_open: %s", err);
	return j;
}

/* Append record n: len octets, each n's low octet. */
static int
append_n(struct journal *j, int n, size_t len, struct journal_pos *pos)
{
	uint8_t buf[8192];

	ck_assert_uint_le(len, sizeof(buf));
	memset(buf, n & 0xff, len);
	return journal_append(j, buf, len, pos);
}

START_TEST(test_append_replay)
{
	struct journal_pos start, pos;
	struct journal *j = open_at(NULL, 0);
	static struct seen s;
	uint64_t found;

	journal_position(j, &start, NULL);
	ck_assert_uint_ne(start.id, 0);
	ck_assert_uint_eq(start.seq, 0);
	for (int i = 1; i <= 20; i++) {
		ck_assert_int_eq(append_n(j, i, 100 + i, &pos), 0);
		ck_assert_uint_eq(pos.seq, (uint64_t)i);
	}
	journal_close(j);

	/* LMDB stood at the start: all 20 come back, in order. */
	j = open_at(&start, 0);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(journal_replay(j, &start, collect, &s, &found), 0);
	ck_assert_uint_eq(found, 20);
	for (int i = 0; i < 20; i++) {
		ck_assert_uint_eq(s.seq[i], (uint64_t)i + 1);
		ck_assert_uint_eq(s.first[i], i + 1);
		ck_assert_uint_eq(s.len[i], 101 + (size_t)i);
	}
	/* The next record follows the last one found. */
	ck_assert_int_eq(append_n(j, 21, 10, &pos), 0);
	ck_assert_uint_eq(pos.seq, 21);
	journal_close(j);

	/* LMDB stood after record 20: only 21 is missing. */
	j = open_at(&start, 0);
	memset(&s, 0, sizeof(s));
	{
		struct journal_pos mid = start;
		struct seen all;

		memset(&all, 0, sizeof(all));
		ck_assert_int_eq(journal_replay(j, &start, collect, &all,
		    &found), 0);
		ck_assert_uint_eq(found, 21);
		journal_close(j);
		j = open_at(&start, 0);
		mid.seq = 20;
		mid.off = pos.off - (JOURNAL_REC_HEAD + 10);
		ck_assert_int_eq(journal_replay(j, &mid, collect, &s, &found),
		    0);
		ck_assert_uint_eq(found, 1);
		ck_assert_uint_eq(s.seq[0], 21);
	}
	journal_close(j);
}
END_TEST

/* journal_on_written(): called for each record once it is in the file,
 * where another reader (a restart after kill -9) finds it. */
struct written_seen {
	int calls, found;
	uint8_t mark;
};

static void
on_written(void *arg)
{
	struct written_seen *w = arg;
	static uint8_t file[256 << 10];
	uint8_t want[64];
	ssize_t n;
	int fd;

	w->calls++;
	memset(want, w->mark, sizeof(want));
	ck_assert_int_ge(fd = open(path, O_RDONLY), 0);
	n = read(fd, file, sizeof(file));
	close(fd);
	ck_assert_int_gt(n, 0);
	if (memmem(file, (size_t)n, want, sizeof(want)) != NULL)
		w->found++;
}

START_TEST(test_written_hook)
{
	struct written_seen w = { 0, 0, 0 };
	struct journal_pos pos;
	struct journal *j = open_at(NULL, 128 << 10);

	journal_on_written(j, on_written, &w);
	for (int i = 1; i <= 5; i++) {
		w.mark = (uint8_t)(0xa0 + i);
		ck_assert_int_eq(append_n(j, 0xa0 + i, 64 + (size_t)i, &pos),
		    0);
		ck_assert_int_eq(w.calls, i);
		ck_assert_int_eq(w.found, i);
	}
	journal_on_written(j, NULL, NULL);
	ck_assert_int_eq(append_n(j, 0xb0, 64, &pos), 0);
	ck_assert_int_eq(w.calls, 5);
	journal_close(j);
}
END_TEST

START_TEST(test_torn_record_ends_replay)
{
	struct journal_pos start, pos;
	struct journal *j = open_at(NULL, 0);
	static struct seen s;
	uint64_t found, third = 0;
	uint8_t junk = 0x5a;
	int fd;

	journal_position(j, &start, NULL);
	for (int i = 1; i <= 5; i++) {
		ck_assert_int_eq(append_n(j, i, 200, &pos), 0);
		if (i == 2)
			third = pos.off;        /* where record 3 starts */
	}
	journal_close(j);
	/* One octet of record 3's payload changed: a torn write. */
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, &junk, 1, (off_t)(JOURNAL_HEAD + third +
	    JOURNAL_REC_HEAD + 50)), 1);
	close(fd);
	j = open_at(&start, 0);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(journal_replay(j, &start, collect, &s, &found), 0);
	ck_assert_uint_eq(found, 2);    /* 1 and 2; 3 was never whole */
	/* The next record is number 3, where the torn one was. */
	ck_assert_int_eq(append_n(j, 33, 20, &pos), 0);
	ck_assert_uint_eq(pos.seq, 3);
	ck_assert_uint_eq(pos.off, third + JOURNAL_REC_HEAD + 20);
	journal_close(j);
}
END_TEST

START_TEST(test_ring_wraps)
{
	struct journal_pos start, pos, ck;
	struct journal *j = open_at(NULL, SMALL);
	static struct seen s;
	uint64_t found;
	int n = 0, full = 0;

	journal_position(j, &start, NULL);
	/* 4000-octet records: the 64 KiB ring takes 16, then refuses. */
	for (int i = 0; i < 40 && !full; i++) {
		int rc = append_n(j, ++n, 4000, &pos);

		if (rc == JOURNAL_FULL) {
			full = 1;
			n--;
		} else {
			ck_assert_int_eq(rc, 0);
		}
	}
	ck_assert_int_eq(full, 1);
	ck_assert_int_eq(n, SMALL / (4000 + JOURNAL_REC_HEAD));
	/* LMDB committed them: the room is free, the next goes at the
	 * ring's start, and a reopen from that checkpoint finds it. */
	journal_checkpoint(j);
	journal_position(j, NULL, &ck);
	ck_assert_int_eq(append_n(j, ++n, 4000, &pos), 0);
	ck_assert_uint_eq(pos.off, JOURNAL_REC_HEAD + 4000);   /* wrapped */
	ck_assert_int_eq(append_n(j, ++n, 4000, &pos), 0);
	/* The records since the checkpoint are not overwritten. */
	for (int i = 0; i < 40; i++) {
		int rc = append_n(j, n + 1, 4000, &pos);

		if (rc == JOURNAL_FULL)
			break;
		ck_assert_int_eq(rc, 0);
		n++;
	}
	ck_assert_int_eq(append_n(j, n + 1, 4000, &pos), JOURNAL_FULL);
	journal_close(j);
	j = open_at(&ck, SMALL);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(journal_replay(j, &ck, collect, &s, &found), 0);
	ck_assert_uint_eq(found, (uint64_t)n - ck.seq);
	for (int i = 0; i < s.n; i++) {
		ck_assert_uint_eq(s.seq[i], ck.seq + 1 + (uint64_t)i);
		ck_assert_uint_eq(s.first[i], (ck.seq + 1 + (uint64_t)i) &
		    0xff);
	}
	/* A record larger than the whole ring never fits. */
	{
		uint8_t *big = calloc(1, SMALL);

		journal_checkpoint(j);
		ck_assert_int_eq(journal_append(j, big, SMALL, &pos),
		    JOURNAL_FULL);
		free(big);
	}
	journal_close(j);
}
END_TEST

START_TEST(test_unappend)
{
	struct journal_pos start, pos;
	struct journal *j = open_at(NULL, 0);
	static struct seen s;
	uint64_t found;

	journal_position(j, &start, NULL);
	ck_assert_int_eq(append_n(j, 1, 50, &pos), 0);
	ck_assert_int_eq(append_n(j, 2, 60, &pos), 0);
	ck_assert_int_eq(journal_unappend(j), 0);
	journal_position(j, &pos, NULL);
	ck_assert_uint_eq(pos.seq, 1);
	journal_close(j);
	j = open_at(&start, 0);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(journal_replay(j, &start, collect, &s, &found), 0);
	ck_assert_uint_eq(found, 1);
	ck_assert_uint_eq(s.len[0], 50);
	/* Number 2 again, in the same place. */
	ck_assert_int_eq(append_n(j, 7, 70, &pos), 0);
	ck_assert_uint_eq(pos.seq, 2);
	ck_assert_uint_eq(pos.off, 2 * JOURNAL_REC_HEAD + 50 + 70);
	journal_close(j);
}
END_TEST

START_TEST(test_foreign_file_refused)
{
	struct journal_pos start, other;
	struct journal *j = open_at(NULL, 0);
	char err[256] = "";

	journal_position(j, &start, NULL);
	journal_close(j);
	/* LMDB names another journal: refused, with the file named. */
	other = start;
	other.id ^= 1;
	ck_assert_int_eq(journal_open(&j, dir, 0, &other, err, sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_ptr_nonnull(strstr(err, "not the journal"));
	/* A missing file, when LMDB names one: refused too. */
	unlink(path);
	ck_assert_int_eq(journal_open(&j, dir, 0, &start, err, sizeof(err)),
	    -1);
}
END_TEST

START_TEST(test_record_check)
{
	uint8_t rec[JOURNAL_REC_HEAD + 16], pay[16];
	size_t len;

	memset(pay, 'p', sizeof(pay));
	journal_record_head(rec, 77, 5, pay, sizeof(pay));
	memcpy(rec + JOURNAL_REC_HEAD, pay, sizeof(pay));
	ck_assert_int_eq(journal_record_check(rec, sizeof(rec), 77, 5, &len),
	    0);
	ck_assert_uint_eq(len, sizeof(pay));
	/* Another journal's, another number, cut short, changed. */
	ck_assert_int_eq(journal_record_check(rec, sizeof(rec), 78, 5, &len),
	    -1);
	ck_assert_int_eq(journal_record_check(rec, sizeof(rec), 77, 6, &len),
	    -1);
	ck_assert_int_eq(journal_record_check(rec, sizeof(rec) - 1, 77, 5,
	    &len), -1);
	rec[sizeof(rec) - 1] ^= 1;
	ck_assert_int_eq(journal_record_check(rec, sizeof(rec), 77, 5, &len),
	    -1);
}
END_TEST

static Suite *
journal_suite(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("journal");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_append_replay);
	tcase_add_test(tc, test_written_hook);
	tcase_add_test(tc, test_torn_record_ends_replay);
	tcase_add_test(tc, test_ring_wraps);
	tcase_add_test(tc, test_unappend);
	tcase_add_test(tc, test_foreign_file_refused);
	tcase_add_test(tc, test_record_check);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(journal_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
