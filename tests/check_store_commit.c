/*
 * check_store_commit.c - the LMDB store's commit engine (store_commit.c,
 * store_batch.c, store_journal.c): group commit and the order of its
 * callbacks, batches staged from callbacks, answers from the journal's
 * file before its flush, what survives a process that never closes the
 * store, the journal's replay and its failures, and the staged writes'
 * overlay.  The fixture (store_fixture.h) is check_store's: a fresh LMDB
 * directory and event_base per test, commits only when the test runs the
 * loop or flushes.
 */
#define _GNU_SOURCE
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <lmdb.h>

#include "store.h"
#include "store_batch.h"
#include "store_fixture.h"

/* ---- group commit ----------------------------------------------------- */

START_TEST(test_group_commit)
{
	struct verif v;
	struct store_stats ss;

	memset(&calls, 0, sizeof(calls));
	for (int i = 0; i < 60; i++) {
		make_verif(&v, i, VERIF_PENDING, SEND_QUEUED, T0 + 300);
		ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
		if (i % 20 == 19)
			store_on_commit(st, cb_record, (void *)(intptr_t)i);
	}
	ck_assert_int_eq(calls.n, 0);   /* persist, then acknowledge */
	store_stats(st, &ss);
	ck_assert_int_eq(ss.commits, 0);

	run_loop();
	ck_assert_int_eq(calls.n, 3);
	ck_assert_int_eq(calls.order[0], 19);
	ck_assert_int_eq(calls.order[1], 39);
	ck_assert_int_eq(calls.order[2], 59);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(calls.result[i], STORE_OK);
	store_stats(st, &ss);
	ck_assert_int_eq(ss.commits, 1);
	ck_assert_int_eq(ss.verifs, 60);
	ck_assert_int_eq(ss.queued, 60);

	/* Nothing staged: the callback still waits for the end of the turn,
	 * and no commit is made. */
	store_on_commit(st, cb_record, (void *)(intptr_t)100);
	ck_assert_int_eq(calls.n, 3);
	run_loop();
	ck_assert_int_eq(calls.n, 4);
	ck_assert_int_eq(calls.result[3], STORE_OK);
	store_stats(st, &ss);
	ck_assert_int_eq(ss.commits, 1);
	ck_assert_int_eq(ss.commit_failures, 0);
}
END_TEST

/* Stage verification n, pending and queued, in the open batch. */
static void
stage_pending(int n)
{
	struct verif v;

	make_verif(&v, n, VERIF_PENDING, SEND_QUEUED, T0 + 300);
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	verif_clear(&v);
}

/* A callback already active in this loop iteration: it stages a write and
 * waits for the commit, which must come after it, in the same batch. */
static void
ev_stage(evutil_socket_t fd, short what, void *arg)
{
	stage_pending((int)(intptr_t)arg);
	store_on_commit(st, cb_record, arg);
	ck_assert_int_eq(calls.n, 0);
}

START_TEST(test_commit_after_turn_callbacks)
{
	struct event *e1, *e2;
	struct store_stats ss;

	memset(&calls, 0, sizeof(calls));
	e1 = event_new(base, -1, 0, ev_stage, (void *)(intptr_t)601);
	e2 = event_new(base, -1, 0, ev_stage, (void *)(intptr_t)602);
	event_active(e1, 0, 0);
	event_active(e2, 0, 0);
	run_loop();
	ck_assert_int_eq(calls.n, 2);
	ck_assert_int_eq(calls.order[0], 601);
	ck_assert_int_eq(calls.order[1], 602);
	store_stats(st, &ss);
	ck_assert_int_eq(ss.commits, 1);
	ck_assert_int_eq(ss.verifs, 2);
	event_free(e1);
	event_free(e2);
}
END_TEST

static void
cb_stage_more(void *arg, int result)
{
	cb_record(arg, result);
	stage_pending(501);
	store_on_commit(st, cb_record, (void *)(intptr_t)2);
}

START_TEST(test_callback_stages_new_batch)
{
	struct store_stats ss;

	memset(&calls, 0, sizeof(calls));
	stage_pending(500);
	store_on_commit(st, cb_stage_more, (void *)(intptr_t)1);
	store_on_commit(st, cb_record, (void *)(intptr_t)3);
	run_loop();
	/* 1 and 3 belong to the first batch; 2 to the second one. */
	ck_assert_int_eq(calls.n, 3);
	ck_assert_int_eq(calls.order[0], 1);
	ck_assert_int_eq(calls.order[1], 3);
	ck_assert_int_eq(calls.order[2], 2);
	ck_assert_int_eq(calls.result[2], STORE_OK);
	store_stats(st, &ss);
	ck_assert_int_eq(ss.commits, 2);
	reopen(BIG_MAP);
	ck_assert_int_eq(status_of(500), VERIF_PENDING);
	ck_assert_int_eq(status_of(501), VERIF_PENDING);
}
END_TEST

static void
cb_flush(void *arg, int result)
{
	cb_record(arg, result);
	ck_assert_int_eq(store_flush(st), STORE_OK);
}

/* store_on_written(): answered once the batch is in the journal's file,
 * before the flush the store_on_commit() callbacks wait for. */
START_TEST(test_written_before_flush)
{
	memset(&calls, 0, sizeof(calls));
	stage_pending(700);
	store_on_commit(st, cb_record, (void *)(intptr_t)1);
	store_on_written(st, cb_record, (void *)(intptr_t)2);
	run_loop();
	ck_assert_int_eq(calls.n, 2);
	ck_assert_int_eq(calls.order[0], 2);    /* registered second */
	ck_assert_int_eq(calls.order[1], 1);
	ck_assert_int_eq(calls.result[0], STORE_OK);
	ck_assert_int_eq(calls.result[1], STORE_OK);

	/* A batch that stages nothing, with only store_on_written()
	 * callbacks, needs the writer's batch in the file, not flushed. */
	memset(&calls, 0, sizeof(calls));
	stage_pending(701);
	store_on_commit(st, cb_record, (void *)(intptr_t)3);
	store_on_written(st, cb_record, (void *)(intptr_t)4);
	/* One turn: the batch goes to the writer. */
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	ck_assert_int_eq(calls.n, 0);
	ck_assert_int_eq(status_of(701), VERIF_PENDING);  /* staged: read */
	store_on_written(st, cb_record, (void *)(intptr_t)5);
	run_loop();
	ck_assert_int_eq(calls.n, 3);
	ck_assert_int_eq(calls.order[0], 4);
	ck_assert_int_eq(calls.order[1], 5);
	ck_assert_int_eq(calls.order[2], 3);

	/* An early callback that waits for the store: the batch's other
	 * callbacks run in that wait, each once. */
	memset(&calls, 0, sizeof(calls));
	stage_pending(702);
	store_on_commit(st, cb_record, (void *)(intptr_t)6);
	store_on_written(st, cb_flush, (void *)(intptr_t)7);
	store_on_written(st, cb_record, (void *)(intptr_t)8);
	run_loop();
	ck_assert_int_eq(calls.n, 3);
	ck_assert_int_eq(calls.order[0], 7);
	ck_assert_int_eq(calls.order[1], 6);
	ck_assert_int_eq(calls.order[2], 8);
	reopen(BIG_MAP);
	ck_assert_int_eq(status_of(700), VERIF_PENDING);
	ck_assert_int_eq(status_of(701), VERIF_PENDING);
	ck_assert_int_eq(status_of(702), VERIF_PENDING);
}
END_TEST

START_TEST(test_reopen)
{
	struct verif v;
	char id[32];

	for (int i = 0; i < 10; i++) {
		make_verif(&v, i, VERIF_PENDING, i % 2 ? SEND_SENT :
		    SEND_QUEUED, T0 + 300);
		add_sends(&v, i);
		ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	}
	ck_assert_int_eq(store_msgid_put(st, "alpha", "0A000003",
	    "ver_000000000000000000000003"), STORE_OK);
	run_loop();
	/* Staged and closed without running the loop: close commits it. */
	make_verif(&v, 10, VERIF_APPROVED, SEND_SENT, T0 + 300);
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	reopen(BIG_MAP);
	for (int i = 0; i < 10; i++) {
		make_verif(&v, i, VERIF_PENDING, i % 2 ? SEND_SENT :
		    SEND_QUEUED, T0 + 300);
		add_sends(&v, i);
		assert_stored(i, &v);
	}
	ck_assert_int_eq(status_of(10), VERIF_APPROVED);
	make_verif(&v, 4, VERIF_PENDING, SEND_QUEUED, T0 + 300);
	ck_assert_int_eq(store_pending_get(st, v.key, v.phone, id,
	    sizeof(id)), STORE_OK);
	ck_assert_str_eq(id, v.id);
	ck_assert_int_eq(store_msgid_get(st, "alpha", "0A000003", id,
	    sizeof(id)), STORE_OK);
	ck_assert_str_eq(id, "ver_000000000000000000000003");
}
END_TEST

static void
ignore_id(void *arg, const char *id)
{
	(*(int *)arg)++;
}

/* A flushed record survives a process that never closes the store. */
START_TEST(test_flush_survives_exit)
{
	struct verif v;
	struct event_base *b = NULL;
	struct store *s = NULL;
	pid_t pid;
	int status, n = 0;

	if ((pid = fork_with_store(&s, &b)) == 0) {
		make_verif(&v, 42, VERIF_PENDING, SEND_QUEUED, T0 + 300);
		if (store_verif_put(s, &v) != STORE_OK ||
		    store_flush(s) != STORE_OK)
			_exit(1);
		_exit(0);       /* no close, no loop */
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	st = open_store(BIG_MAP);
	make_verif(&v, 42, VERIF_PENDING, SEND_QUEUED, T0 + 300);
	assert_stored(42, &v);
	ck_assert_int_eq(store_queue_each(st, ignore_id, &n), 1);
	ck_assert_int_eq(n, 1);
}
END_TEST

/* ---- the journal -------------------------------------------------------- */

static int count_or_fail_n;

/* A commit's result: STORE_OK counted, anything else kept in *arg. */
static void
count_or_fail(void *arg, int result)
{
	if (result == STORE_OK)
		count_or_fail_n++;
	else
		*(int *)arg = result;
}

/* The verification count LMDB itself holds, read past the store. */
static size_t
lmdb_verifs(void)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_stat ms;

	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 32), 0);
	ck_assert_int_eq(mdb_env_set_mapsize(env, BIG_MAP), 0);
	ck_assert_int_eq(mdb_env_open(env, dbpath, MDB_RDONLY, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "verif", 0, &dbi), 0);
	ck_assert_int_eq(mdb_stat(txn, dbi, &ms), 0);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return ms.ms_entries;
}

/* Acknowledged batches LMDB has not committed (the journal holds them)
 * are there after a crash: the next open replays them. */
START_TEST(test_journal_replays_after_crash)
{
	struct verif v;
	struct event_base *b = NULL;
	struct store *s = NULL;
	pid_t pid;
	int status;

	/* One record LMDB holds before the crash. */
	make_verif(&v, 1, VERIF_PENDING, SEND_QUEUED, T0 + 300);
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	verif_clear(&v);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	if ((pid = fork_with_store(&s, &b)) == 0) {
		int acked = 0;

		store_journal_hold(s, 1);
		/* Three batches, each acknowledged before the next. */
		for (int batch = 0; batch < 3; batch++) {
			for (int i = 0; i < 10; i++) {
				make_verif(&v, 100 + batch * 10 + i,
				    VERIF_PENDING, SEND_QUEUED, T0 + 300);
				if (store_verif_put(s, &v) != STORE_OK)
					_exit(2);
				verif_clear(&v);
			}
			store_on_commit(s, count_commit, &acked);
			event_base_loop(b, EVLOOP_ONCE);
			while (acked < batch + 1)
				event_base_loop(b, EVLOOP_ONCE);
		}
		/* The first record changed, acknowledged too. */
		make_verif(&v, 1, VERIF_APPROVED, SEND_QUEUED, T0 + 300);
		if (store_verif_put(s, &v) != STORE_OK)
			_exit(3);
		store_on_commit(s, count_commit, &acked);
		while (acked < 4)
			event_base_loop(b, EVLOOP_ONCE);
		_exit(0);       /* a crash: no close */
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child exit %d", WEXITSTATUS(status));
	/* LMDB lacks them: only the journal has them. */
	ck_assert_uint_eq(lmdb_verifs(), 1);
	st = open_store(BIG_MAP);
	for (int n = 100; n < 130; n++) {
		make_verif(&v, n, VERIF_PENDING, SEND_QUEUED, T0 + 300);
		assert_stored(n, &v);
		verif_clear(&v);
	}
	ck_assert_int_eq(status_of(1), VERIF_APPROVED);
	/* Replayed into LMDB at open (LMDB is read past the store only
	 * while the store is closed: one environment per process). */
	store_close(st);
	st = NULL;
	ck_assert_uint_eq(lmdb_verifs(), 31);
	/* The journal goes on after them. */
	st = open_store(BIG_MAP);
	make_verif(&v, 200, VERIF_PENDING, SEND_QUEUED, T0 + 300);
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	verif_clear(&v);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	reopen(BIG_MAP);
	ck_assert_int_eq(status_of(200), VERIF_PENDING);
	ck_assert_int_eq(status_of(1), VERIF_APPROVED);
	store_close(st);
	st = NULL;
	ck_assert_uint_eq(lmdb_verifs(), 32);
}
END_TEST

/* A journal that cannot be written (here: past the file size limit, as
 * a full disk would be) stops the writes: the batch fails, so does every
 * later one, the store says it is not ready, and nothing acknowledged
 * before is lost: the next start has it. */
START_TEST(test_journal_write_fails)
{
	struct event_base *b = NULL;
	struct store *s = NULL;
	struct verif v;
	pid_t pid;
	int status;

	if ((pid = fork_with_store(&s, &b)) == 0) {
		struct rlimit rl;
		struct stat sb;
		char path[160];
		int acked = 0, last = -1, result = STORE_OK, i;

		/* The journal's file may not grow past its size now. */
		signal(SIGXFSZ, SIG_IGN);
		snprintf(path, sizeof(path), "%s/journal", dbpath);
		if (stat(path, &sb) != 0)
			_exit(2);
		rl.rlim_cur = rl.rlim_max = (rlim_t)sb.st_size;
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(3);
		/* One record again and again: LMDB stays small, the journal
		 * goes on until it needs more room. */
		for (i = 0; i < 100000 && result == STORE_OK; i++) {
			make_verif(&v, 7, VERIF_PENDING, SEND_QUEUED, T0 + 300);
			v.updated_at = T0 + i;
			/* 4 KiB a record: the journal's first MiB is soon
			 * used. */
			v.metadata = malloc(4096);
			memset(v.metadata, 'm', 4095);
			v.metadata[0] = '"';
			v.metadata[4094] = '"';
			v.metadata[4095] = '\0';
			if (store_verif_put(s, &v) != STORE_OK)
				_exit(4);
			verif_clear(&v);
			store_on_commit(s, count_or_fail, &result);
			while (acked == i && result == STORE_OK) {
				event_base_loop(b, EVLOOP_ONCE);
				acked = count_or_fail_n;
			}
			if (result == STORE_OK)
				last = i;
		}
		if (result != STORE_ERR || last < 0 || store_ready(s))
			_exit(5);
		/* Later writes fail too. */
		make_verif(&v, 8, VERIF_PENDING, SEND_QUEUED, T0 + 300);
		result = STORE_OK;
		if (store_verif_put(s, &v) == STORE_OK) {
			store_on_commit(s, count_or_fail, &result);
			while (result == STORE_OK)
				event_base_loop(b, EVLOOP_ONCE);
		}
		if (result == STORE_OK)
			_exit(6);
		/* The last acknowledged version, for the parent (a few
		 * octets: the limit allows them). */
		snprintf(path, sizeof(path), "%s/last", dir);
		FILE *f = fopen(path, "w");
		if (f == NULL || fprintf(f, "%d\n", last) < 0 || fclose(f) != 0)
			_exit(7);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child exit %d", WEXITSTATUS(status));
	st = open_store(BIG_MAP);
	{
		struct verif got;
		char id[32], path[160];
		int last = -1;
		FILE *f;

		snprintf(path, sizeof(path), "%s/last", dir);
		ck_assert_ptr_nonnull(f = fopen(path, "r"));
		ck_assert_int_eq(fscanf(f, "%d", &last), 1);
		fclose(f);
		snprintf(id, sizeof(id), "ver_%024x", 7);
		ck_assert_int_eq(store_verif_get(st, id, &got), STORE_OK);
		/* Every acknowledged version survived; the failed one may
		 * not (it was never acknowledged). */
		ck_assert_int_ge(got.updated_at, T0 + last);
		ck_assert_int_le(got.updated_at, T0 + last + 1);
		verif_clear(&got);
		fprintf(stderr, "journal_write_fails: %d versions acknowledged "
		    "before the journal could not grow\n", last + 1);
	}
	ck_assert_int_eq(status_of(8), 0);
	ck_assert(store_ready(st));
}
END_TEST

/* A small ring: batches fill it (LMDB then commits what it holds, and
 * the ring is used again from its start), and one batch larger than the
 * whole ring is committed by LMDB directly.  Reads see every
 * acknowledged write at each step, and all of them survive a reopen. */
START_TEST(test_journal_small_ring)
{
	struct verif v;
	char *err = NULL;
	int acked = 0, n = 0;

	store_close(st);
	st = store_open_journal(base, dbpath, BIG_MAP, 64 << 10, &err);
	ck_assert_msg(st != NULL, "store_open_journal: %s", err ? err : "?");
	for (int batch = 0; batch < 40; batch++) {
		for (int i = 0; i < 10; i++, n++) {
			make_padded(&v, n);
			ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
			verif_clear(&v);
		}
		store_on_commit(st, count_commit, &acked);
		run_loop();
		ck_assert_int_eq(acked, batch + 1);
		ck_assert_int_eq(status_of(n - 1), VERIF_PENDING);
	}
	/* 400 records of some 300 octets: the ring went round twice. */
	for (int i = 0; i < 300; i++, n++) {
		make_padded(&v, n);
		ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
		verif_clear(&v);
	}
	store_on_commit(st, count_commit, &acked);
	run_loop();
	ck_assert_int_eq(acked, 41);
	ck_assert_int_eq(status_of(n - 1), VERIF_PENDING);
	store_close(st);
	st = store_open_journal(base, dbpath, BIG_MAP, 64 << 10, &err);
	ck_assert_ptr_nonnull(st);
	for (int i = 0; i < n; i++) {
		make_padded(&v, i);
		assert_stored(i, &v);
		verif_clear(&v);
	}
}
END_TEST

/* A journal that is not this store's is refused at open, by name: what
 * it should hold cannot be recovered, and starting anyway would hide it. */
START_TEST(test_journal_foreign_refused)
{
	char path[160], other[160], *err = NULL;
	struct store *s;

	store_close(st);
	st = NULL;
	snprintf(path, sizeof(path), "%s/journal", dbpath);
	snprintf(other, sizeof(other), "%s/other", dir);
	/* Another store's journal in its place. */
	s = store_open(base, other, BIG_MAP, &err);
	ck_assert_ptr_nonnull(s);
	store_close(s);
	snprintf(other, sizeof(other), "%s/other/journal", dir);
	ck_assert_int_eq(rename(other, path), 0);
	s = store_open(base, dbpath, BIG_MAP, &err);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "not the journal") != NULL, "%s", err);
	ck_assert_ptr_nonnull(strstr(err, path));
	free(err);
}
END_TEST

/* ---- the limits' counters ---------------------------------------------- */

/* The value of counter name as a string ("" when missing); STORE_*. */

/* ---- the staged writes (store_batch.c) --------------------------------- */

/* Enough keys to grow the table several times; every key reads back its
 * last write, deletions read as deletions, seeks find the next key in
 * LMDB's order, and a cleared batch holds nothing. */
START_TEST(test_batch_overlay)
{
	struct store_batch *b = store_batch_new();
	const struct batch_entry *e;
	char k[32];
	void *p;
	int i;

	for (int round = 0; round < 2; round++) {
		for (i = 0; i < 5000; i++) {
			snprintf(k, sizeof(k), "key%05d", i);
			p = store_batch_put(b, (unsigned)(i % 3), k, strlen(k),
			    sizeof(i));
			memcpy(p, &i, sizeof(i));
		}
		/* Rewrite every tenth, delete every seventh. */
		for (i = 0; i < 5000; i += 10) {
			int v = -i;

			snprintf(k, sizeof(k), "key%05d", i);
			p = store_batch_put(b, (unsigned)(i % 3), k, strlen(k),
			    sizeof(v));
			memcpy(p, &v, sizeof(v));
		}
		for (i = 0; i < 5000; i += 7) {
			snprintf(k, sizeof(k), "key%05d", i);
			store_batch_del(b, (unsigned)(i % 3), k, strlen(k));
		}
		ck_assert_uint_eq(store_batch_count(b), 5000);
		for (i = 0; i < 5000; i++) {
			int v;

			snprintf(k, sizeof(k), "key%05d", i);
			e = store_batch_find(b, (unsigned)(i % 3), k, strlen(k));
			ck_assert_ptr_nonnull(e);
			if (i % 7 == 0) {
				ck_assert_int_eq(e->del, 1);
				continue;
			}
			ck_assert_int_eq(e->del, 0);
			ck_assert_uint_eq(e->vlen, sizeof(v));
			memcpy(&v, e->val, sizeof(v));
			ck_assert_int_eq(v, i % 10 == 0 ? -i : i);
			/* Another database: not there. */
			ck_assert_ptr_null(store_batch_find(b,
			    (unsigned)(i % 3 + 1), k, strlen(k)));
		}
		/* Seeks in database 0 (keys 0, 3, 6, ...). */
		e = store_batch_seek(b, 0, "", 0, 0);
		ck_assert_ptr_nonnull(e);
		ck_assert_int_eq(memcmp(e->key, "key00000", 8), 0);
		e = store_batch_seek(b, 0, "key00000", 8, 1);
		ck_assert_int_eq(memcmp(e->key, "key00003", 8), 0);
		e = store_batch_seek(b, 0, "key00004", 8, 0);
		ck_assert_int_eq(memcmp(e->key, "key00006", 8), 0);
		e = store_batch_seek(b, 0, "key0000", 7, 0);  /* a prefix */
		ck_assert_int_eq(memcmp(e->key, "key00000", 8), 0);
		ck_assert_ptr_null(store_batch_seek(b, 0, "key04998", 8, 1));
		store_batch_clear(b);
		ck_assert_uint_eq(store_batch_count(b), 0);
		ck_assert_ptr_null(store_batch_find(b, 0, "key00000", 8));
		ck_assert_ptr_null(store_batch_seek(b, 0, "", 0, 0));
	}
	/* A value bigger than an arena block. */
	p = store_batch_put(b, 1, "big", 3, 200000);
	memset(p, 'x', 200000);
	e = store_batch_find(b, 1, "big", 3);
	ck_assert_uint_eq(e->vlen, 200000);
	ck_assert_int_eq(e->val[199999], 'x');
	store_batch_free(b);
}
END_TEST

/* Reads see both batches: the one with the writer and the one staged on
 * top of it, newest first; the callbacks come in order, each after its
 * own commit. */
START_TEST(test_reads_over_inflight)
{
	struct verif v, got;
	char id[32];

	memset(&calls, 0, sizeof(calls));
	make_verif(&v, 7, VERIF_PENDING, SEND_QUEUED, T0 + 300);
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	store_on_commit(st, cb_record, (void *)(intptr_t)1);
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK); /* to the writer */
	ck_assert_int_eq(calls.n, 0);
	ck_assert_int_eq(status_of(7), VERIF_PENDING);
	ck_assert_int_eq(store_pending_get(st, v.key, v.phone, id,
	    sizeof(id)), STORE_OK);
	ck_assert_str_eq(id, v.id);
	v.status = VERIF_APPROVED;
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	store_on_commit(st, cb_record, (void *)(intptr_t)2);
	ck_assert_int_eq(status_of(7), VERIF_APPROVED);
	ck_assert_int_eq(store_pending_get(st, v.key, v.phone, id,
	    sizeof(id)), STORE_NOTFOUND);
	run_loop();
	ck_assert_int_eq(calls.n, 2);
	ck_assert_int_eq(calls.order[0], 1);
	ck_assert_int_eq(calls.order[1], 2);
	ck_assert_int_eq(calls.result[0], STORE_OK);
	ck_assert_int_eq(calls.result[1], STORE_OK);
	reopen(BIG_MAP);
	ck_assert_int_eq(store_verif_get(st, v.id, &got), STORE_OK);
	ck_assert_int_eq(got.status, VERIF_APPROVED);
	ck_assert_int_eq(store_pending_get(st, v.key, v.phone, id,
	    sizeof(id)), STORE_NOTFOUND);
	verif_clear(&got);
	verif_clear(&v);
}
END_TEST

/* ---- suite ------------------------------------------------------------ */

/* ---- outbox ------------------------------------------------------------ */

static Suite *
commit_suite(void)
{
	Suite *s = suite_create("store_commit");
	TCase *tc;

	tc = tcase_create("commit");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_group_commit);
	tcase_add_test(tc, test_commit_after_turn_callbacks);
	tcase_add_test(tc, test_callback_stages_new_batch);
	tcase_add_test(tc, test_reads_over_inflight);
	tcase_add_test(tc, test_batch_overlay);
	tcase_add_test(tc, test_written_before_flush);
	tcase_add_test(tc, test_reopen);
	tcase_add_test(tc, test_flush_survives_exit);
	tcase_add_test(tc, test_journal_replays_after_crash);
	tcase_add_test(tc, test_journal_small_ring);
	tcase_add_test(tc, test_journal_write_fails);
	tcase_add_test(tc, test_journal_foreign_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return store_fixture_run(commit_suite(), "check_store_commit");
}
