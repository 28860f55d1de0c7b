/*
 * store_commit.c - the LMDB store's commit engine: batches, their
 * callbacks, and the writer thread that commits them.
 *
 * Group commit on a writer thread.  The loop never writes to LMDB: every
 * write of a batch is staged in memory (store_batch.c), and one writer
 * thread makes a whole batch durable (in the journal, then in LMDB: see
 * "the journal" below; never MDB_NOSYNC), while the loop goes on serving
 * requests and stages the next batch.  When the commit is done the writer wakes the
 * loop through a pipe, and the loop calls the batch's callbacks in order
 * with the result: persist, then acknowledge, as before, but a commit's
 * flush no longer stops the loop.  At most one batch is with the writer;
 * the next one grows meanwhile and goes as soon as the writer is free, so
 * under load one fsync covers everything that arrived during the last.
 *
 * When a batch goes: one someone waits on (urgent: a store_on_commit
 * callback) once this turn's callbacks ran; without waiters, and with a
 * commit delay set, staged writes wait up to that delay for a batch that
 * has waiters, so work that acknowledges nothing (an SMPP submit's record,
 * a sweep) shares the next commit.  With a delay set and an event base
 * with priorities, the commit event has the lowest one: libevent runs it
 * only in a turn that found no other work ready, i.e. once every request
 * already on the sockets has been read and staged; the force timer
 * (normal priority, the delay) bounds the wait when the loop is never
 * idle.  A batch whose time came while the writer was busy goes when the
 * writer finishes.  A batch that stages nothing still waits for the one
 * with the writer: its callbacks may answer from what that one staged.
 *
 * Answers that refuse (store_on_written(): a wrong code) need less than
 * the flush: the writer tells the loop as soon as a batch's record is in
 * the journal's file (journal_on_written(), before its fdatasync), and the
 * loop calls those callbacks then; the others wait for the flush.  A crash
 * of the process after that point loses nothing (the kernel has the
 * record, and the restart replays it); only a crash of the machine within
 * the flush can lose the record, and with it the count of a wrong code
 * that was answered.  For the same reason a batch that stages nothing and
 * has only such callbacks finishes once the writer's batch is in the file.
 * Should the flush itself fail (the disk's error), the batch fails as
 * before and its writes are dropped, the counts of refusals already
 * answered with them; journaling stops and every later write fails.
 *
 * Errors: a write refused at once (a record that cannot be encoded) fails
 * the open batch; LMDB's own errors (a full map above all) arrive with the
 * commit.  Either way every callback of the batch gets the error, and so
 * does every callback of the batch staged on top of a failed one (it was
 * built on writes that never happened; its writes are dropped): nothing is
 * acknowledged that was not persisted, and what is stored stays as it was.
 *
 * Who owns what: the loop owns st->open and st->spare and every field of
 * struct store but those under st->lock.  A batch handed to the writer
 * (st->todo, then st->inflight) is read by both threads and written by
 * neither, but for its mdb_rc and mdb_op, which the writer sets before it
 * hands the batch back through st->done; the loop frees it after reaping
 * it.  Of the store, the writer touches only the environment, the pipe's
 * write end, st->jwriting and the fields under st->lock (st->wrote: the
 * batch whose record is in the file, for the loop's on_writer_done()).
 */
#define _GNU_SOURCE             /* pipe2() */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "store_journal.h"
#include "store_lmdb.h"
#include "store_repl_wire.h"
#include "util.h"

#define CLOSE_FLUSH_ROUNDS 16   /* commit callbacks that keep staging */

/* ---- batches ---------------------------------------------------------- */

static struct batch *
batch_new(struct store *st)
{
	struct batch *b = st->spare;

	if (b != NULL) {
		st->spare = NULL;
	} else {
		b = xcalloc(1, sizeof(*b));
		b->w = store_batch_new();
	}
	b->nwaiter = b->nearly = b->written = 0;
	b->result = STORE_OK;
	b->urgent = b->due = 0;
	b->mdb_rc = 0;
	b->mdb_op = NULL;
	b->base = st->repl != NULL ? store_repl_position(st) : 0;
	b->cseq = b->apply_to = 0;
	b->from_log = b->drop_all = b->rebuild_page = 0;
	b->next = NULL;
	return b;
}

struct batch *
store_batch_alloc(struct store *st)
{
	return batch_new(st);
}

/* Keep one finished batch (its arena and arrays) for the next. */
void
store_batch_release(struct store *st, struct batch *b)
{
	store_batch_clear(b->w);
	if (b->reads != NULL)
		store_batch_clear(b->reads);
	if (st->spare == NULL) {
		st->spare = b;
		return;
	}
	store_batch_free(b->w);
	if (b->reads != NULL)
		store_batch_free(b->reads);
	free(b->waiters);
	free(b);
}
#define batch_free store_batch_release

static void
log_failure(struct store *st, int result, const char *op, const char *why)
{
	char b[128];

	if (result == STORE_FULL)
		log_err("store.full", "map_size=%" PRIu64
		    " msg=\"raise [store] map_size\"", st->map_size);
	else
		log_err("store.error", "op=%s err=%s", op,
		    log_str(b, sizeof(b), why));
}

/* Fail b with result: what it staged is dropped (reads no longer see it),
 * its callbacks will get the error.  Logged once per batch. */
void
batch_poison(struct store *st, struct batch *b, int result, const char *op,
    const char *why)
{
	if (b->result == STORE_OK) {
		if (why != NULL)
			log_failure(st, result, op, why);
		b->result = result;
	}
	store_batch_clear(b->w);
}

/* Fail the open batch.  Returns result. */
int
store_fail(struct store *st, int result, const char *op, const char *why)
{
	batch_poison(st, st->open, result, op, why);
	return result;
}

/* The open batch, opened when there is none, and when it goes (see the
 * top of the file): at the end of the turn when urgent (it has waiters) or
 * without a commit delay, else after the delay. */
static struct batch *
batch_open(struct store *st, int urgent)
{
	struct batch *b = st->open;
	struct timeval tv;

	if (b == NULL)
		b = st->open = batch_new(st);
	if (b->urgent)
		return b;
	tv.tv_sec = st->delay_ms / 1000;
	tv.tv_usec = (st->delay_ms % 1000) * 1000;
	if (urgent || st->delay_ms == 0) {
		b->urgent = 1;
		event_del(st->commit_ev);
		event_active(st->commit_ev, 0, 0);
		if (st->lowprio && st->delay_ms > 0)
			evtimer_add(st->force_ev, &tv);
	} else if (!evtimer_pending(st->commit_ev, NULL)) {
		event_add(st->commit_ev, &tv);
	}
	return b;
}

/* Before a staged write: STORE_OK, or the open batch's error. */
int
store_stage(struct store *st)
{
	return batch_open(st, 0)->result;
}

void
store_set_commit_delay(struct store *st, int ms)
{
	st->delay_ms = ms > 0 ? ms : 0;
}

/* Call b's callbacks in order with result (once: they are dropped).  b is
 * detached first: a callback that stages writes or waits starts a new
 * batch. */
void
store_batch_callbacks(struct store *st, struct batch *b, int result)
{
	int i, n = b->nwaiter;

	if (result != STORE_OK)
		st->commit_failures++;
	st->last_result = result;
	b->nwaiter = b->nearly = 0;
	for (i = 0; i < n; i++)
		if (b->waiters[i].cb != NULL)
			b->waiters[i].cb(b->waiters[i].arg, result);
}

/* The writer's batch b is in the journal's file: its store_on_written()
 * callbacks now, in their order (the others wait for the flush).  A
 * callback that waits for the store (store_flush()) has b reaped, and
 * its remaining callbacks called, before it returns: then stop. */
static void
batch_written(struct store *st, struct batch *b)
{
	store_commit_cb cb;
	uint64_t reaped = st->reaped;
	int i, n = b->nwaiter;

	b->written = 1;
	for (i = 0; i < n && b->nearly > 0; i++) {
		if (!b->waiters[i].early || (cb = b->waiters[i].cb) == NULL)
			continue;
		b->waiters[i].cb = NULL;
		b->nearly--;
		cb(b->waiters[i].arg, STORE_OK);
		if (st->reaped != reaped)
			return;
	}
}

/* Call b's callbacks, then free it. */
static void
batch_finish(struct store *st, struct batch *b, int result)
{
	store_batch_callbacks(st, b, result);
	batch_free(st, b);
}

/* ---- the writer thread ------------------------------------------------ */

/* w's writes in txn: 0, or LMDB's error with *op naming the step. */
static int
apply_writes(MDB_txn *txn, const struct store_batch *w, const char **op)
{
	const struct batch_entry *e;
	size_t i, n = store_batch_count(w);
	MDB_val k, d;
	int rc;

	for (i = 0; i < n; i++) {
		e = store_batch_entry(w, i);
		k.mv_size = e->klen;
		k.mv_data = (void *)e->key;
		if (e->del) {
			*op = "del";
			rc = mdb_del(txn, e->db, &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
		} else {
			*op = "put";
			d.mv_size = e->vlen;
			d.mv_data = e->val;
			rc = mdb_put(txn, e->db, &k, &d, 0);
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* On the writer thread: b's entries in one write transaction, committed.
 * Only LMDB and b are touched here (no log: the loop logs the result). */
static void
batch_apply(struct store *st, struct batch *b)
{
	MDB_txn *txn;
	int rc;

	b->mdb_op = "begin";
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0)
		goto out;
	/* A replica's rebuild (store_repl.c) starts from nothing. */
	for (unsigned no = 0; b->drop_all && store_dbof(st, no) >= 0; no++) {
		b->mdb_op = "drop";
		if ((rc = mdb_drop(txn, (MDB_dbi)store_dbof(st, no), 0)) != 0) {
			mdb_txn_abort(txn);
			goto out;
		}
	}
	if ((rc = apply_writes(txn, b->w, &b->mdb_op)) != 0) {
		mdb_txn_abort(txn);
		goto out;
	}
	b->mdb_op = "commit";
	rc = mdb_txn_commit(txn);
out:
	b->mdb_rc = rc;
}

/* ---- the journal ------------------------------------------------------- */

/*
 * The writer makes an own batch durable in the journal (store_journal.h)
 * instead of in LMDB: one sequential flush instead of LMDB's two over
 * pages all over the map.  For each batch:
 *
 *  1. its writes go into a child transaction of the open parent one: an
 *     error LMDB has for it (a full map above all) fails it here, as
 *     before, and leaves the parent as it was;
 *  2. its record is appended to the journal and flushed;
 *  3. the child is merged into the parent, and the batch is answered:
 *     what it promised is durable (a crash replays the record).
 *
 * The parent, i.e. every batch journaled since, is committed by LMDB
 * (with its two flushes, and LMDB's position in the journal) when the
 * writer has been idle JOURNAL_IDLE_MS, every JOURNAL_COMMIT_MS under
 * load, when it holds JOURNAL_MAX_WRITES writes or half the ring, and
 * when the loop asks (store_flush(), store_close()); its records' room in
 * the journal is then free.  LMDB's own order keeps its file consistent
 * whatever the crash; the journal holds what LMDB may lack.  A batch
 * whose record would not fit in the whole ring, and the Redis log's
 * batches (a replica's, store_repl.c), are committed by LMDB directly
 * after the parent.
 *
 * Until LMDB has committed them, the loop reads the journaled batches'
 * writes from its generations (batch_journaled(), store_lmdb.c's
 * layers).  Failures: a batch LMDB or the journal refuses fails alone;
 * a journal that cannot be written or flushed, or a parent LMDB cannot
 * commit even after taking its records again from the journal, stops
 * journaling (every later batch fails, logged once): the loop keeps the
 * journaled writes, and the next start replays them.
 */
#define JOURNAL_IDLE_MS 2
#define JOURNAL_COMMIT_MS 20
#define JOURNAL_MAX_WRITES 16384
#define JGEN_MS 8               /* a generation's span on the loop */

static void
put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* LMDB's position in the journal, in txn. */
static int
position_put(struct store *st, MDB_txn *txn, const struct journal_pos *p)
{
	uint8_t v[24];
	MDB_val k = { 7, (void *)"journal" }, d = { sizeof(v), v };

	put_le64(v, p->id);
	put_le64(v + 8, p->seq);
	put_le64(v + 16, p->off);
	return mdb_put(txn, st->repl_db, &k, &d, 0);
}

/* The position LMDB holds: 1, 0 when none, or -1 when malformed. */
static int
position_get(struct store *st, MDB_txn *txn, struct journal_pos *p)
{
	MDB_val k = { 7, (void *)"journal" }, d;

	if (mdb_get(txn, st->repl_db, &k, &d) != 0)
		return 0;
	if (d.mv_size != 24)
		return -1;
	p->id = get_le64(d.mv_data);
	p->seq = get_le64((uint8_t *)d.mv_data + 8);
	p->off = get_le64((uint8_t *)d.mv_data + 16);
	return 1;
}

struct replay {
	struct store *st;
	MDB_txn *txn;
	struct store_batch *w;
	uint64_t writes;
	const char *op;
};

/* One journal record into r->txn. */
static int
replay_one(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
	struct replay *r = arg;
	char err[96];

	(void)seq;
	store_batch_clear(r->w);
	if (repl_wire_decode(p, len, r->w, store_dbof, r->st, err,
	    sizeof(err)) != 0) {
		r->op = "journal_decode";
		return MDB_CORRUPTED;
	}
	r->writes += store_batch_count(r->w);
	return apply_writes(r->txn, r->w, &r->op);
}

/* The journal's records after pos into txn.  0 or an error. */
static int
replay_into(struct store *st, MDB_txn *txn, const struct journal_pos *pos,
    uint64_t *found, const char **op)
{
	struct replay r = { st, txn, store_batch_new(), 0, "journal_read" };
	int rc;

	rc = journal_replay(st->journal, pos, replay_one, &r, found);
	store_batch_free(r.w);
	*op = r.op;
	return rc < 0 ? -rc : rc;
}

/* On the writer: a failure for the loop to log. */
static void
journal_fail(struct store *st, int rc, const char *op)
{
	pthread_mutex_lock(&st->lock);
	st->jerr = rc;
	st->jerr_op = op;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
}

static void
wake_loop(struct store *st)
{
	char c = 1;

	while (write(st->pipefd[1], &c, 1) < 0 && errno == EINTR)
		;
}

/* On the writer, from journal_append() (journal_on_written()): the batch
 * being journaled is in the journal's file, where a crash of the process
 * no longer loses it; the loop may answer its store_on_written()
 * callbacks while the disk flushes it. */
static void
journal_written(void *arg)
{
	struct store *st = arg;
	struct batch *b = st->jwriting;

	if (b == NULL || b->nearly == 0)
		return;
	pthread_mutex_lock(&st->lock);
	st->wrote = b;
	pthread_mutex_unlock(&st->lock);
	wake_loop(st);
}

/* On the writer: LMDB commits the parent (see above).  On failure the
 * records since the last commit are taken again from the journal, once. */
static void
parent_commit(struct store *st)
{
	struct journal_pos now, ck;
	const char *op = "commit";
	uint64_t found;
	int rc;

	journal_position(st->journal, &now, &ck);
	for (int round = 0;; round++) {
		if ((rc = position_put(st, st->jtxn, &now)) == 0)
			rc = mdb_txn_commit(st->jtxn);
		else
			mdb_txn_abort(st->jtxn);
		st->jtxn = NULL;
		if (rc == 0)
			break;
		if (round == 1 ||
		    (rc = mdb_txn_begin(st->env, NULL, 0, &st->jtxn)) != 0 ||
		    (rc = replay_into(st, st->jtxn, &ck, &found, &op)) != 0) {
			if (st->jtxn != NULL)
				mdb_txn_abort(st->jtxn);
			st->jtxn = NULL;
			st->jbroken = rc != 0 ? rc : EIO;
			journal_fail(st, st->jbroken, op);
			wake_loop(st);
			return;
		}
	}
	journal_checkpoint(st->journal);
	st->jtxn_writes = st->jtxn_pages = 0;
	pthread_mutex_lock(&st->lock);
	st->jcommitted = now.seq;
	st->jflush = 0;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
	wake_loop(st);
}

/*
 * On the writer: 1 when the map has room for the parent with b, by a
 * pessimistic guess: every write a leaf and three branches of its own,
 * its value's overflow pages, and then as much again (the free list,
 * splits), plus an eighth of the map.  LMDB may then only fail the
 * batch's own child, never the parent; without room, the batch is
 * committed by LMDB directly, and a full map fails that batch alone.
 * Used pages are counted to LMDB's high-water mark: freed pages count as
 * used here, which errs the safe way.
 */
static int
journal_room(struct store *st, const struct batch *b)
{
	MDB_envinfo ei;
	MDB_stat ms;
	uint64_t need, maxpg, used;
	size_t i, n = store_batch_count(b->w);

	if (mdb_env_info(st->env, &ei) != 0 || mdb_env_stat(st->env, &ms) != 0)
		return 0;
	maxpg = ei.me_mapsize / ms.ms_psize;
	used = (uint64_t)ei.me_last_pgno + 1;
	need = 4 * (st->jtxn_writes + n) + st->jtxn_pages + 16;
	for (i = 0; i < n; i++)
		need += store_batch_entry(b->w, i)->vlen / ms.ms_psize;
	return used < maxpg && 2 * need + maxpg / 8 <= maxpg - used;
}

/* On the writer: own batch b journaled (see above), or committed by LMDB
 * directly when it cannot be. */
static void
journal_batch(struct store *st, struct batch *b)
{
	struct journal_pos pos;
	MDB_txn *child;
	int rc, again = 1;

	b->jseq = 0;
	if (st->jbroken) {
		b->mdb_op = "journal";
		b->mdb_rc = st->jbroken;
		return;
	}
	if (!journal_room(st, b)) {
		if (st->jtxn != NULL)
			parent_commit(st);
		if (st->jbroken) {
			b->mdb_op = "journal";
			b->mdb_rc = st->jbroken;
		} else {
			batch_apply(st, b);
		}
		return;
	}
	st->jbuflen = 0;
	if (store_batch_count(b->w) <= STORE_REPL_MAX_OPS)
		repl_wire_encode(b->w, store_dbno, st, &st->jbuf,
		    &st->jbuflen, &st->jbufcap);
	for (;;) {
		b->mdb_op = "begin";
		if (st->jtxn == NULL) {
			if ((rc = mdb_txn_begin(st->env, NULL, 0,
			    &st->jtxn)) != 0) {
				st->jtxn = NULL;
				goto out;
			}
			st->jtxn_born = (uint64_t)util_mono_ms();
		}
		if ((rc = mdb_txn_begin(st->env, st->jtxn, 0, &child)) != 0)
			goto out;
		if ((rc = apply_writes(child, b->w, &b->mdb_op)) != 0) {
			mdb_txn_abort(child);
			goto out;
		}
		b->mdb_op = "journal";
		rc = st->jbuflen > 0 ? journal_append(st->journal, st->jbuf,
		    st->jbuflen, &pos) : JOURNAL_FULL;
		if (rc != JOURNAL_FULL)
			break;
		/* No room: LMDB commits what the ring holds, and the batch
		 * goes again; when it cannot fit at all, LMDB commits it. */
		mdb_txn_abort(child);
		parent_commit(st);
		if (st->jbroken) {
			rc = st->jbroken;
			goto out;
		}
		if (!again || st->jbuflen == 0) {
			batch_apply(st, b);
			return;
		}
		again = 0;
	}
	if (rc != 0) {
		/* What the file holds now is unknown: no more journaling. */
		mdb_txn_abort(child);
		st->jbroken = rc;
		journal_fail(st, rc, "journal");
		goto out;
	}
	b->mdb_op = "commit";
	if ((rc = mdb_txn_commit(child)) != 0) {
		if (journal_unappend(st->journal) != 0) {
			st->jbroken = rc;
			journal_fail(st, rc, "journal");
		}
		goto out;
	}
	b->jseq = pos.seq;
	st->jtxn_writes += store_batch_count(b->w);
	for (size_t i = 0; i < store_batch_count(b->w); i++)
		st->jtxn_pages += store_batch_entry(b->w, i)->vlen / 4096;
out:
	b->mdb_rc = rc;
}

/* On the writer, st->lock held: whether the parent is due (see above). */
static int
parent_due(struct store *st)
{
	return st->jtxn != NULL && (st->jbroken || (!st->jhold &&
	    ((uint64_t)util_mono_ms() - st->jtxn_born >= JOURNAL_COMMIT_MS ||
	    st->jtxn_writes >= JOURNAL_MAX_WRITES ||
	    journal_used(st->journal) * 2 >= journal_cap(st->journal))));
}

/* The writer's wait for work, st->lock held: 1 when a batch or the stop
 * came, 0 when the idle parent is due (or the loop asks for it). */
static int
writer_wait(struct store *st)
{
	struct timespec ts;
	int64_t at;

	while (st->todo == NULL && !st->stop) {
		if (st->jflush && st->jtxn != NULL)
			return 0;
		if (st->jtxn == NULL || st->jhold) {
			pthread_cond_wait(&st->cond, &st->lock);
			continue;
		}
		at = (int64_t)st->jtxn_last + JOURNAL_IDLE_MS;
		if (at > (int64_t)st->jtxn_born + JOURNAL_COMMIT_MS)
			at = (int64_t)st->jtxn_born + JOURNAL_COMMIT_MS;
		if (util_mono_ms() >= at)
			return 0;
		ts.tv_sec = at / 1000;
		ts.tv_nsec = (at % 1000) * 1000000;
		pthread_cond_timedwait(&st->cond, &st->lock, &ts);
	}
	return 1;
}

static void *
writer_main(void *arg)
{
	struct store *st = arg;
	struct batch *b;

	pthread_mutex_lock(&st->lock);
	for (;;) {
		if (!writer_wait(st)) {
			st->jflush = 0;
			pthread_mutex_unlock(&st->lock);
			parent_commit(st);
			pthread_mutex_lock(&st->lock);
			continue;
		}
		if ((b = st->todo) == NULL)
			break;          /* stop, with nothing left to do */
		st->todo = NULL;
		pthread_mutex_unlock(&st->lock);

		if (st->journal != NULL && !b->from_log) {
			st->jwriting = b;
			journal_batch(st, b);
			st->jwriting = NULL;
		} else {
			if (st->jtxn != NULL)
				parent_commit(st);      /* LMDB's order */
			batch_apply(st, b);
		}

		st->jtxn_last = (uint64_t)util_mono_ms();
		pthread_mutex_lock(&st->lock);
		st->done = b;
		pthread_cond_broadcast(&st->cond);
		wake_loop(st);
		if (parent_due(st)) {
			pthread_mutex_unlock(&st->lock);
			parent_commit(st);
			pthread_mutex_lock(&st->lock);
		}
	}
	pthread_mutex_unlock(&st->lock);
	if (st->jtxn != NULL)
		parent_commit(st);
	return NULL;
}

/* Whether the open batch b waits for the writer's: the writer has one,
 * unless b stages nothing, only store_on_written() callbacks wait on it,
 * and the writer's batch is in the journal's file already (see above). */
static int
writer_holds(struct store *st, struct batch *b)
{
	return st->inflight != NULL && !(st->inflight->written &&
	    b->nearly == b->nwaiter && store_batch_count(b->w) == 0);
}

/* Hand the open batch to the writer, or finish it at once when it has
 * nothing to write (or failed).  Not while the writer is busy: the batch
 * is marked due and goes when the writer's one is done. */
static void
batch_submit(struct store *st)
{
	struct batch *b = st->open;

	if (b == NULL)
		return;
	b->due = 1;
	if (st->repl != NULL ? store_repl_busy(st) : writer_holds(st, b))
		return;
	/* The last writes of the batch (store_set_precommit()): they go
	 * with it, or fail it. */
	if (st->precommit != NULL)
		st->precommit(st->precommit_arg);
	if (st->repl == NULL && st->inflight != NULL &&
	    store_batch_count(b->w) > 0)
		return;         /* fn staged some: the writer's batch first (a
		                 * second call stages only what came since) */
	st->open = NULL;
	event_del(st->commit_ev);
	event_del(st->force_ev);
	if (b->result != STORE_OK || store_batch_count(b->w) == 0) {
		batch_finish(st, b, b->result);
		return;
	}
	if (st->repl != NULL) {
		store_repl_submit(st, b);       /* to Redis, not the writer */
		return;
	}
	store_writer_hand(st, b);
}

/* The open batch goes now if its time came (batch_submit() sees whether
 * it can). */
static void
submit_due(struct store *st)
{
	if (st->open != NULL && (st->open->urgent || st->open->due))
		batch_submit(st);
}

/* Give b to the writer thread, which must be idle. */
void
store_writer_hand(struct store *st, struct batch *b)
{
	st->inflight = b;
	pthread_mutex_lock(&st->lock);
	st->todo = b;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
	event_add(st->done_ev, NULL);
}

/* After an own batch's answer from Redis: what grew meanwhile goes now if
 * its time came. */
void
store_commit_next(struct store *st)
{
	submit_due(st);
}

/* ---- the journal's generations (the loop's) ---------------------------- */

static struct batch *
jgen_new(void)
{
	struct batch *g = xcalloc(1, sizeof(*g));

	g->w = store_batch_new();
	g->jborn = (uint64_t)util_mono_ms();
	return g;
}

static void
jgen_free(struct batch *g)
{
	store_batch_free(g->w);
	free(g);
}

/* A journaled batch's writes into the newest generation (a new one when
 * that one is JGEN_MS old and there is room): reads see them there until
 * LMDB has committed them. */
static void
batch_journaled(struct store *st, struct batch *b)
{
	struct batch *g = st->njgen > 0 ? st->jgen[st->njgen - 1] : NULL;
	const struct batch_entry *e;
	size_t i, n = store_batch_count(b->w);

	if (g == NULL || (st->njgen < STORE_JGEN_MAX &&
	    (uint64_t)util_mono_ms() - g->jborn >= JGEN_MS))
		g = st->jgen[st->njgen++] = jgen_new();
	for (i = 0; i < n; i++) {
		e = store_batch_entry(b->w, i);
		if (e->del)
			store_batch_del(g->w, e->db, e->key, e->klen);
		else
			memcpy(store_batch_put(g->w, e->db, e->key, e->klen,
			    e->vlen), e->val, e->vlen);
	}
	g->jseq = b->jseq;
}

/* Drop the generations LMDB has committed; log a journal failure once. */
static void
jgen_reap(struct store *st)
{
	uint64_t committed;
	const char *op;
	int err, i, k;

	pthread_mutex_lock(&st->lock);
	committed = st->jcommitted;
	err = st->jerr;
	op = st->jerr_op;
	pthread_mutex_unlock(&st->lock);
	for (k = 0; k < st->njgen && st->jgen[k]->jseq <= committed; k++)
		jgen_free(st->jgen[k]);
	for (i = 0; k > 0 && i + k < st->njgen; i++)
		st->jgen[i] = st->jgen[i + k];
	st->njgen -= k;
	if (err != 0 && !st->jerr_logged) {
		st->jerr_logged = 1;
		log_failure(st, store_mdb_result(err), op, mdb_strerror(err));
		log_err("store.journal_stopped", "pending_generations=%d "
		    "msg=\"writes fail until a restart replays the journal\"",
		    st->njgen);
	}
}

int
store_jgen_layers(struct store *st, struct batch **out, int max)
{
	int n = 0;

	for (int i = st->njgen - 1; i >= 0 && n < max; i--)
		out[n++] = st->jgen[i];
	return n;
}

/* Ask the writer for LMDB's commit of everything journaled, and wait. */
static void
journal_wait(struct store *st)
{
	uint64_t want;

	if (st->njgen == 0 || st->jhold)
		return;
	want = st->jgen[st->njgen - 1]->jseq;
	pthread_mutex_lock(&st->lock);
	while (st->jcommitted < want && st->jerr == 0) {
		st->jflush = 1;
		pthread_cond_broadcast(&st->cond);
		pthread_cond_wait(&st->cond, &st->lock);
	}
	pthread_mutex_unlock(&st->lock);
	jgen_reap(st);
}

/* Take the writer's batch if it is done: out of the overlay, its result
 * logged, the batch staged on top of a failed one failed too, its
 * callbacks called (early: the next batch handed to the writer first).
 * 1 if there was one. */
static int
batch_reap(struct store *st, int early)
{
	struct batch *b;
	int result = STORE_OK;

	pthread_mutex_lock(&st->lock);
	b = st->done;
	st->done = NULL;
	if (b != NULL)
		st->wrote = NULL;       /* b's, if any: b goes now */
	pthread_mutex_unlock(&st->lock);
	if (b == NULL)
		return 0;
	/* First the generations LMDB committed before b came back: one of
	 * them must not hide what b's callbacks read from LMDB (a batch
	 * LMDB committed directly, after committing those). */
	jgen_reap(st);
	st->inflight = NULL;
	st->reaped++;
	if (b->from_log) {
		/* The log's writes, not the loop's: store_repl.c takes it. */
		if (b->mdb_rc != 0)
			log_failure(st, store_mdb_result(b->mdb_rc), b->mdb_op,
			    mdb_strerror(b->mdb_rc));
		store_repl_applied(st, b);
		return 1;
	}
	if (b->mdb_rc != 0) {
		result = store_mdb_result(b->mdb_rc);
		log_failure(st, result, b->mdb_op, mdb_strerror(b->mdb_rc));
		if (st->open != NULL)
			batch_poison(st, st->open, result, NULL, NULL);
	} else {
		st->commits++;
		if (b->jseq != 0)
			batch_journaled(st, b);
	}
	/* From the writer's wake-up: what grew meanwhile goes to the writer
	 * before b's callbacks run, so the writer does not wait while they
	 * answer.  Not a batch without writes: it would be finished at
	 * once, its callbacks before b's. */
	if (early && st->repl == NULL && st->open != NULL &&
	    (st->open->urgent || st->open->due) &&
	    store_batch_count(st->open->w) > 0)
		batch_submit(st);
	batch_finish(st, b, result);
	return 1;
}

/* Wait for the writer's batch and reap it (store_flush, store_close). */
static void
batch_wait(struct store *st)
{
	if (st->inflight == NULL)
		return;
	pthread_mutex_lock(&st->lock);
	while (st->done == NULL)
		pthread_cond_wait(&st->cond, &st->lock);
	pthread_mutex_unlock(&st->lock);
	event_del(st->done_ev); /* its octet may wake a later one: harmless */
	batch_reap(st, 0);
}

static void
on_commit_event(evutil_socket_t fd, short what, void *arg)
{
	batch_submit(arg);
}

static void
on_writer_done(evutil_socket_t fd, short what, void *arg)
{
	struct store *st = arg;
	struct batch *w;
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&st->lock);
	w = st->wrote;
	st->wrote = NULL;
	pthread_mutex_unlock(&st->lock);
	if (w != NULL && w == st->inflight) {
		batch_written(st, w);
		/* A batch that answers only refusals from what is now in
		 * the file need not wait for the flush. */
		submit_due(st);
	}
	batch_reap(st, 1);
	jgen_reap(st);
	if (st->inflight != NULL || (st->njgen > 0 && !st->jerr_logged)) {
		/* The batch handed over early, an octet left by a batch
		 * batch_wait() reaped, or LMDB's commit of the generations
		 * still to come. */
		event_add(st->done_ev, NULL);
		if (st->inflight != NULL)
			return;
	}
	/* What grew while the writer worked goes now if its time came. */
	if (st->repl == NULL)
		submit_due(st);
}

/* ---- waiting and flushing ---------------------------------------------- */

static void
waiter_add(struct batch *b, store_commit_cb cb, void *arg, int early)
{
	if (b->nwaiter == b->waitercap) {
		b->waitercap = b->waitercap ? b->waitercap * 2 : 16;
		b->waiters = xrealloc(b->waiters,
		    (size_t)b->waitercap * sizeof(*b->waiters));
	}
	b->waiters[b->nwaiter].cb = cb;
	b->waiters[b->nwaiter].arg = arg;
	b->waiters[b->nwaiter].early = early;
	b->nearly += early;
	b->nwaiter++;
}

void
store_on_commit(struct store *st, store_commit_cb cb, void *arg)
{
	waiter_add(batch_open(st, 1), cb, arg, 0);
}

void
store_on_written(struct store *st, store_commit_cb cb, void *arg)
{
	waiter_add(batch_open(st, 1), cb, arg, 1);
}

void
store_on_commit_lazy(struct store *st, store_commit_cb cb, void *arg)
{
	waiter_add(batch_open(st, 0), cb, arg, 0);
}

void
store_set_precommit(struct store *st, void (*fn)(void *arg), void *arg)
{
	st->precommit = fn;
	st->precommit_arg = arg;
}

int
store_flush(struct store *st)
{
	int result = STORE_OK;

	if (st->repl != NULL)
		return store_repl_flush(st);
	if (st->inflight != NULL) {
		batch_wait(st);         /* its callbacks may stage more */
		result = st->last_result;
	}
	if (st->open != NULL) {
		batch_submit(st);       /* to the writer, or finished at once */
		batch_wait(st);
		result = st->last_result;
	}
	journal_wait(st);
	return result;
}


/* ---- start and stop ---------------------------------------------------- */

void
store_journal_hold(struct store *st, int hold)
{
	pthread_mutex_lock(&st->lock);
	st->jhold = hold;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
}

int
store_journal_start(struct store *st, const char *dir, char *err,
    size_t errlen)
{
	struct journal_pos pos, now;
	const char *op = "begin";
	uint64_t found = 0;
	MDB_txn *txn;
	int rc, have;

	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0)
		goto fail_rc;
	if ((have = position_get(st, txn, &pos)) < 0) {
		mdb_txn_abort(txn);
		snprintf(err, errlen, "LMDB's position in the journal is "
		    "malformed");
		return -1;
	}
	if (journal_open(&st->journal, dir, st->journal_cap,
	    have ? &pos : NULL, err, errlen) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	journal_on_written(st->journal, journal_written, st);
	if (have && (rc = replay_into(st, txn, &pos, &found, &op)) != 0) {
		mdb_txn_abort(txn);
		goto fail_rc;
	}
	journal_position(st->journal, &now, NULL);
	op = "commit";
	if ((rc = position_put(st, txn, &now)) != 0) {
		mdb_txn_abort(txn);
		goto fail_rc;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail_rc;
	journal_checkpoint(st->journal);
	st->jcommitted = now.seq;
	if (found > 0)
		log_info("store.journal_replayed", "records=%" PRIu64
		    " last=%" PRIu64, found, now.seq);
	return 0;
fail_rc:
	snprintf(err, errlen, "%s: %s", op, mdb_strerror(rc));
	return -1;
}

void
store_commit_init(struct store *st)
{
	pthread_condattr_t ca;

	st->pipefd[0] = st->pipefd[1] = -1;
	pthread_mutex_init(&st->lock, NULL);
	/* The writer's timed waits (writer_wait()) count monotonic time. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st->cond, &ca);
	pthread_condattr_destroy(&ca);
}

/* The writer thread and its pipe: 0, or an errno. */
static int
writer_start(struct store *st)
{
	int rc;

	if (pipe2(st->pipefd, O_NONBLOCK | O_CLOEXEC) != 0)
		return errno;
	st->done_ev = event_new(st->base, st->pipefd[0], EV_READ,
	    on_writer_done, st);
	if (st->done_ev == NULL)
		return ENOMEM;
	if ((rc = pthread_create(&st->writer, NULL, writer_main, st)) != 0)
		return rc;
	st->writer_started = 1;
	return 0;
}

int
store_commit_start(struct store *st, const char **what, const char **why)
{
	struct event_base *base = st->base;
	int rc;

	st->commit_ev = event_new(base, -1, 0, on_commit_event, st);
	st->force_ev = evtimer_new(base, on_commit_event, st);
	if (st->commit_ev == NULL || st->force_ev == NULL) {
		*what = "cannot open";
		*why = "event_new failed";
		return -1;
	}
	if (event_base_get_npriorities(base) > 1 &&
	    event_priority_set(st->commit_ev,
	    event_base_get_npriorities(base) - 1) == 0)
		st->lowprio = 1;
	if ((rc = writer_start(st)) != 0) {
		*what = "cannot start the writer for";
		*why = strerror(rc);
		return -1;
	}
	return 0;
}

void
store_commit_drain(struct store *st)
{
	int i;

	for (i = 0; i < CLOSE_FLUSH_ROUNDS && (st->open != NULL ||
	    st->inflight != NULL); i++)
		store_flush(st);
	if (st->open != NULL) {
		/* Callbacks that stage forever: what is left is dropped. */
		log_err("store.close_dropped", "callbacks=%d",
		    st->open->nwaiter);
		batch_free(st, st->open);
		st->open = NULL;
	}
}

void
store_commit_stop(struct store *st)
{
	if (st->writer_started) {
		pthread_mutex_lock(&st->lock);
		st->stop = 1;
		pthread_cond_broadcast(&st->cond);
		pthread_mutex_unlock(&st->lock);
		pthread_join(st->writer, NULL);
	}
	if (st->done_ev != NULL)
		event_free(st->done_ev);
	for (int i = 0; i < 2; i++)
		if (st->pipefd[i] >= 0)
			close(st->pipefd[i]);
	if (st->commit_ev != NULL)
		event_free(st->commit_ev);
	if (st->force_ev != NULL)
		event_free(st->force_ev);
	if (st->spare != NULL) {
		store_batch_free(st->spare->w);
		if (st->spare->reads != NULL)
			store_batch_free(st->spare->reads);
		free(st->spare->waiters);
		free(st->spare);
	}
	while (st->njgen > 0)
		jgen_free(st->jgen[--st->njgen]);
	journal_close(st->journal);
	st->journal = NULL;
	free(st->jbuf);
	pthread_cond_destroy(&st->cond);
	pthread_mutex_destroy(&st->lock);
}
