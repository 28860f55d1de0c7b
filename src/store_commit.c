/*
 * store_commit.c - the LMDB store's commit engine: batches, their
 * callbacks, and the writer thread that commits them.
 *
 * Group commit on a writer thread.  The loop never writes to LMDB: every
 * write of a batch is staged in memory (store_batch.c), and one writer
 * thread applies a whole batch in one write transaction and commits it
 * (one fsync: no MDB_NOSYNC), while the loop goes on serving requests and
 * stages the next batch.  When the commit is done the writer wakes the
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
 * write end and the fields under st->lock.
 */
#define _GNU_SOURCE             /* pipe2() */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "store_lmdb.h"
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
	b->nwaiter = 0;
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
	b->nwaiter = 0;
	for (i = 0; i < n; i++)
		b->waiters[i].cb(b->waiters[i].arg, result);
}

/* Call b's callbacks, then free it. */
static void
batch_finish(struct store *st, struct batch *b, int result)
{
	store_batch_callbacks(st, b, result);
	batch_free(st, b);
}

/* ---- the writer thread ------------------------------------------------ */

/* On the writer thread: b's entries in one write transaction, committed.
 * Only LMDB and b are touched here (no log: the loop logs the result). */
static void
batch_apply(struct store *st, struct batch *b)
{
	const struct batch_entry *e;
	size_t i, n = store_batch_count(b->w);
	MDB_txn *txn;
	MDB_val k, d;
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
	for (i = 0; i < n; i++) {
		e = store_batch_entry(b->w, i);
		k.mv_size = e->klen;
		k.mv_data = (void *)e->key;
		if (e->del) {
			b->mdb_op = "del";
			rc = mdb_del(txn, e->db, &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
		} else {
			b->mdb_op = "put";
			d.mv_size = e->vlen;
			d.mv_data = e->val;
			rc = mdb_put(txn, e->db, &k, &d, 0);
		}
		if (rc != 0) {
			mdb_txn_abort(txn);
			goto out;
		}
	}
	b->mdb_op = "commit";
	rc = mdb_txn_commit(txn);
out:
	b->mdb_rc = rc;
}

static void *
writer_main(void *arg)
{
	struct store *st = arg;
	struct batch *b;
	char c = 1;

	pthread_mutex_lock(&st->lock);
	for (;;) {
		while (st->todo == NULL && !st->stop)
			pthread_cond_wait(&st->cond, &st->lock);
		if ((b = st->todo) == NULL)
			break;          /* stop, with nothing left to do */
		st->todo = NULL;
		pthread_mutex_unlock(&st->lock);

		batch_apply(st, b);

		pthread_mutex_lock(&st->lock);
		st->done = b;
		pthread_cond_broadcast(&st->cond);
		while (write(st->pipefd[1], &c, 1) < 0 && errno == EINTR)
			;
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
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
	if (st->repl != NULL ? store_repl_busy(st) : st->inflight != NULL)
		return;
	/* The last writes of the batch (store_set_precommit()): they go
	 * with it, or fail it. */
	if (st->precommit != NULL)
		st->precommit(st->precommit_arg);
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
	if (st->open != NULL && (st->open->urgent || st->open->due))
		batch_submit(st);
}

/* Take the writer's batch if it is done: out of the overlay, its result
 * logged, the batch staged on top of a failed one failed too, its
 * callbacks called.  1 if there was one. */
static int
batch_reap(struct store *st)
{
	struct batch *b;
	int result = STORE_OK;

	pthread_mutex_lock(&st->lock);
	b = st->done;
	st->done = NULL;
	pthread_mutex_unlock(&st->lock);
	if (b == NULL)
		return 0;
	st->inflight = NULL;
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
	}
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
	batch_reap(st);
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
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	batch_reap(st);
	if (st->inflight != NULL) {
		/* An octet left by a batch batch_wait() reaped. */
		event_add(st->done_ev, NULL);
		return;
	}
	/* What grew while the writer worked goes now if its time came. */
	if (st->repl == NULL && st->open != NULL &&
	    (st->open->urgent || st->open->due))
		batch_submit(st);
}

/* ---- waiting and flushing ---------------------------------------------- */

static void
waiter_add(struct batch *b, store_commit_cb cb, void *arg)
{
	if (b->nwaiter == b->waitercap) {
		b->waitercap = b->waitercap ? b->waitercap * 2 : 16;
		b->waiters = xrealloc(b->waiters,
		    (size_t)b->waitercap * sizeof(*b->waiters));
	}
	b->waiters[b->nwaiter].cb = cb;
	b->waiters[b->nwaiter].arg = arg;
	b->nwaiter++;
}

void
store_on_commit(struct store *st, store_commit_cb cb, void *arg)
{
	waiter_add(batch_open(st, 1), cb, arg);
}

void
store_on_commit_lazy(struct store *st, store_commit_cb cb, void *arg)
{
	waiter_add(batch_open(st, 0), cb, arg);
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
	return result;
}


/* ---- start and stop ---------------------------------------------------- */

void
store_commit_init(struct store *st)
{
	st->pipefd[0] = st->pipefd[1] = -1;
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->cond, NULL);
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
	pthread_cond_destroy(&st->cond);
	pthread_mutex_destroy(&st->lock);
}
