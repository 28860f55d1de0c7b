/*
 * store_lmdb.c - the durable records (store.h) on LMDB.
 *
 * This is the only file that includes <lmdb.h>.  One environment (a
 * directory, created 0700) holds seven named databases:
 *
 *   verif    id -> record: binary format 2 (store_record.h describes it
 *            and store_record.c encodes and decodes it); the JSON of
 *            format 1 still reads; a record of an unknown format is
 *            refused (STORE_ERR), never misread
 *   pending  key NUL phone -> id, present exactly while the record's status
 *            is VERIF_PENDING (and only the newest pending id of a pair)
 *   expiry   be64(time) id -> one octet: 'E' expire the record at its
 *            expires_at, 'P' purge it at expires_at + retention
 *   queue    id -> "" while status == VERIF_PENDING and send_state ==
 *            SEND_QUEUED (start-up resumes these)
 *   msgid    smsc NUL normalised message id -> id (receipt matching)
 *   msgref   id NUL smsc NUL normalised message id -> "": the reverse of
 *            msgid, so a purge can drop the msgid entries of a record (the
 *            sends hold the raw message id, the index the normalised one,
 *            and normalising is smpp/'s business, not ours)
 *   outbox   be64(seq) -> tries(4) due ms(8) first ms(8) (little-endian,
 *            like the records) key NUL body: webhook events not yet
 *            delivered (webhook.c), staged in the batch of the change
 *            they describe
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
 * Reads see the committed database through one reusable read-only
 * transaction, renewed for each read and reset right after it (so no
 * snapshot is held across loop turns: that would pin old pages and grow
 * the map), with the batch with the writer and then the open batch laid
 * over it: the loop reads what it staged.  A batch leaves the overlay only
 * once its commit is done, so no read misses it.  The outbox's scan is the
 * one exception: it sees no event that is not committed yet (an event is
 * delivered only once the change it describes is durable), though it sees
 * staged retries and deletions of committed ones.  No user callback is
 * ever called while the read transaction is live.
 *
 * Cost per write: a put reads only the head of the stored record (the
 * fields the indexes depend on), touches only the index entries whose
 * inputs changed, and encodes the record straight into the batch's arena.
 * The environment is opened without MDB_WRITEMAP: measured with 20000
 * puts in batches of 32 it was 15-25% slower here (the sparse map is
 * filled by page faults, and msync costs more than LMDB's pwrite), and a
 * full disk under a writable map is a SIGBUS, not an error.
 *
 * Errors: a write refused at once (a record that cannot be encoded) fails
 * the open batch; LMDB's own errors (a full map above all) arrive with the
 * commit.  Either way every callback of the batch gets the error, and so
 * does every callback of the batch staged on top of a failed one (it was
 * built on writes that never happened; its writes are dropped): nothing is
 * acknowledged that was not persisted, and what is stored stays as it was.
 */
#define _GNU_SOURCE             /* pipe2() */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <lmdb.h>

#include "log.h"
#include "store.h"
#include "store_batch.h"
#include "store_record.h"
#include "util.h"

#define MSGID_KEY_MAX 256       /* smsc NUL message id; LMDB allows 511 */
#define CLOSE_FLUSH_ROUNDS 16   /* commit callbacks that keep staging */
#define PURGE_REF_MAX 64        /* msgref entries dropped per purge */
#define SEEK_KEY_MAX 512        /* LMDB's largest key, and then some */

struct commit_waiter {
	store_commit_cb cb;
	void *arg;
};

/* A batch: its staged writes, its callbacks, and how it went. */
struct batch {
	struct store_batch *w;
	struct commit_waiter *waiters;
	int nwaiter, waitercap;
	int result;             /* STORE_OK, or the error that failed it */
	int urgent;             /* has waiters: goes at the end of the turn */
	int due;                /* its time came while the writer was busy */
	/* Set by the writer thread (read by the loop after the hand-back). */
	int mdb_rc;
	const char *mdb_op;
};

struct store {
	struct event_base *base;
	MDB_env *env;
	MDB_dbi verif, pending, expiry, queue, msgid, msgref, outbox;
	uint64_t outbox_seq;    /* the next outbox key */
	uint64_t map_size;

	struct batch *open;     /* being staged; NULL when nothing is */
	struct batch *inflight; /* with the writer; NULL when it is idle */
	struct batch *spare;    /* a finished batch kept for reuse */
	struct event *commit_ev;        /* lowest priority when there are some */
	struct event *force_ev;         /* timer: an urgent batch waits no more */
	struct event *done_ev;          /* the writer's pipe, while inflight */
	int lowprio;                    /* commit_ev runs only when idle */
	int delay_ms;                   /* see store_set_commit_delay() */
	int last_result;                /* of the last batch finished */

	/* The writer thread.  lock guards todo, done and stop. */
	pthread_t writer;
	int writer_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct batch *todo, *done;
	int stop;
	int pipefd[2];                  /* writer -> loop */

	MDB_txn *rtxn;          /* reusable read-only txn, reset when idle */

	uint64_t commits, commit_failures, swept, purged;
};

/* ---- keys ------------------------------------------------------------- */

/* Big-endian, for keys: LMDB compares keys octet by octet, so only this
 * order sorts them by number (the expiry index, the outbox). */
static void
put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t
get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* "a NUL b" into buf; its length, or 0 when it does not fit. */
static size_t
pair_key(char *buf, size_t size, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la == 0 || la + 1 + lb > size)
		return 0;
	memcpy(buf, a, la);
	buf[la] = '\0';
	memcpy(buf + la + 1, b, lb);
	return la + 1 + lb;
}

/* be64(t) id into buf (at least 8 + 32 octets); its length. */
static size_t
expiry_key(uint8_t *buf, int64_t t, const char *id)
{
	size_t n = strlen(id);

	put_be64(buf, (uint64_t)t);
	memcpy(buf + 8, id, n);
	return 8 + n;
}

static int
valid_id(const char *id)
{
	size_t n = strnlen(id, 32);

	return n > 0 && n < 32;
}

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
	return b;
}

/* Keep one finished batch (its arena and arrays) for the next. */
static void
batch_free(struct store *st, struct batch *b)
{
	store_batch_clear(b->w);
	if (st->spare == NULL) {
		st->spare = b;
		return;
	}
	store_batch_free(b->w);
	free(b->waiters);
	free(b);
}

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
static void
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
static int
batch_fail(struct store *st, int result, const char *op, const char *why)
{
	batch_poison(st, st->open, result, op, why);
	return result;
}

static int
mdb_fail(struct store *st, int rc, const char *op)
{
	return batch_fail(st, rc == MDB_MAP_FULL ? STORE_FULL : STORE_ERR, op,
	    mdb_strerror(rc));
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
static int
batch_stage(struct store *st)
{
	return batch_open(st, 0)->result;
}

void
store_set_commit_delay(struct store *st, int ms)
{
	st->delay_ms = ms > 0 ? ms : 0;
}

/* Call b's callbacks in order with result, then free it.  b is detached
 * first: a callback that stages writes or waits starts a new batch. */
static void
batch_finish(struct store *st, struct batch *b, int result)
{
	if (result != STORE_OK)
		st->commit_failures++;
	st->last_result = result;
	for (int i = 0; i < b->nwaiter; i++)
		b->waiters[i].cb(b->waiters[i].arg, result);
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
	if (st->inflight != NULL)
		return;
	st->open = NULL;
	event_del(st->commit_ev);
	event_del(st->force_ev);
	if (b->result != STORE_OK || store_batch_count(b->w) == 0) {
		batch_finish(st, b, b->result);
		return;
	}
	st->inflight = b;
	pthread_mutex_lock(&st->lock);
	st->todo = b;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
	event_add(st->done_ev, NULL);
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
	if (b->mdb_rc != 0) {
		result = b->mdb_rc == MDB_MAP_FULL ? STORE_FULL : STORE_ERR;
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
	if (st->open != NULL && (st->open->urgent || st->open->due))
		batch_submit(st);
}

/* ---- reads: the overlay over the database ------------------------------ */

/* The read txn renewed.  NULL on failure (logged).  Pair with view_end()
 * before any callback. */
static MDB_txn *
view_begin(struct store *st)
{
	int rc;

	if (st->rtxn == NULL) {
		rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &st->rtxn);
		if (rc != 0)
			st->rtxn = NULL;
	} else {
		rc = mdb_txn_renew(st->rtxn);
	}
	if (rc != 0) {
		log_err("store.error", "op=read err=\"%s\"", mdb_strerror(rc));
		return NULL;
	}
	return st->rtxn;
}

static void
view_end(struct store *st, MDB_txn *txn)
{
	if (txn != NULL)
		mdb_txn_reset(txn);
}

/* The newest staged write of (db, key): the open batch's, else the
 * writer's; NULL when neither touches it. */
static const struct batch_entry *
overlay_find(struct store *st, MDB_dbi db, const void *key, size_t klen)
{
	const struct batch_entry *e = NULL;

	if (st->open != NULL)
		e = store_batch_find(st->open->w, db, key, klen);
	if (e == NULL && st->inflight != NULL)
		e = store_batch_find(st->inflight->w, db, key, klen);
	return e;
}

/* The newest version of (db, key) into *d: 0, MDB_NOTFOUND or LMDB's
 * error.  *d is valid until view_end() or the next write of that key. */
static int
kv_get(struct store *st, MDB_txn *txn, MDB_dbi db, const void *key,
    size_t klen, MDB_val *d)
{
	const struct batch_entry *e = overlay_find(st, db, key, klen);
	MDB_val k = { klen, (void *)key };

	if (e == NULL)
		return mdb_get(txn, db, &k, d);
	if (e->del)
		return MDB_NOTFOUND;
	d->mv_size = e->vlen;
	d->mv_data = e->val;
	return 0;
}

/* The first key of db at or above key (above it when strict) that is not
 * deleted, with its newest value: 0, MDB_NOTFOUND or LMDB's error.
 * with_new: keys staged but not in the database yet count too; without
 * it only committed keys are found (with their staged value, if any). */
static int
kv_seek(struct store *st, MDB_txn *txn, MDB_dbi db, const void *key,
    size_t klen, int strict, int with_new, MDB_val *ok, MDB_val *od)
{
	struct batch *layer[2] = { st->open, st->inflight };
	const struct batch_entry *e;
	uint8_t at[SEEK_KEY_MAX];
	size_t atl = klen, bkl;
	const void *bk;
	MDB_cursor *c;
	MDB_val k, d;
	int rc, i;

	if (klen > sizeof(at))
		return MDB_BAD_VALSIZE;
	memcpy(at, key, klen);
	if ((rc = mdb_cursor_open(txn, db, &c)) != 0)
		return rc;
	for (;;) {
		k.mv_size = atl;
		k.mv_data = at;
		rc = mdb_cursor_get(c, &k, &d, atl > 0 ? MDB_SET_RANGE :
		    MDB_FIRST);
		if (rc == 0 && strict && store_batch_keycmp(k.mv_data,
		    k.mv_size, at, atl) == 0)
			rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
		if (rc != 0 && rc != MDB_NOTFOUND)
			break;
		bk = rc == 0 ? k.mv_data : NULL;
		bkl = rc == 0 ? k.mv_size : 0;
		for (i = 0; with_new && i < 2; i++) {
			if (layer[i] == NULL)
				continue;
			e = store_batch_seek(layer[i]->w, db, at, atl, strict);
			if (e != NULL && (bk == NULL || store_batch_keycmp(
			    e->key, e->klen, bk, bkl) < 0)) {
				bk = e->key;
				bkl = e->klen;
			}
		}
		if (bk == NULL) {
			rc = MDB_NOTFOUND;
			break;
		}
		if ((e = overlay_find(st, db, bk, bkl)) == NULL) {
			*ok = k;        /* bk is the database's */
			*od = d;
			rc = 0;
			break;
		}
		if (!e->del) {
			ok->mv_size = bkl;
			ok->mv_data = (void *)bk;
			od->mv_size = e->vlen;
			od->mv_data = e->val;
			rc = 0;
			break;
		}
		/* Deleted in a batch: on past it. */
		if (bkl > sizeof(at)) {
			rc = MDB_BAD_VALSIZE;
			break;
		}
		memcpy(at, bk, bkl);
		atl = bkl;
		strict = 1;
	}
	mdb_cursor_close(c);
	return rc;
}

/* ---- open / close ----------------------------------------------------- */

/* mkdir -p with mode 0700; 0 or -1 (errno set). */
static int
mkdirs(const char *path)
{
	char *p = xstrdup(path), *s, c;
	int rc = 0;

	for (s = p + 1; rc == 0; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			rc = -1;
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return rc;
}

static char *
open_error(const char *what, const char *path, const char *why)
{
	size_t n = strlen(what) + strlen(path) + strlen(why) + 8;
	char *e = xmalloc(n);

	snprintf(e, n, "%s %s: %s", what, path, why);
	return e;
}

/* The key after the outbox's last one into *next, and never below the
 * wall clock in microseconds: event numbers go to receivers (which drop
 * repeats by them), so a restart with an empty outbox must not start
 * over at 1. */
static int
outbox_last(MDB_txn *txn, MDB_dbi dbi, uint64_t *next)
{
	MDB_cursor *c;
	MDB_val k, d;
	struct timespec ts;
	int rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	*next = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0)
		return rc;
	rc = mdb_cursor_get(c, &k, &d, MDB_LAST);
	if (rc == 0 && k.mv_size == 8 && get_be64(k.mv_data) >= *next)
		*next = get_be64(k.mv_data) + 1;
	mdb_cursor_close(c);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : rc;
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

/* Everything store_open() may have made, in reverse. */
static void
store_free(struct store *st)
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
		free(st->spare->waiters);
		free(st->spare);
	}
	if (st->rtxn != NULL)
		mdb_txn_abort(st->rtxn);
	if (st->env != NULL)
		mdb_env_close(st->env);
	pthread_cond_destroy(&st->cond);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

struct store *
store_open(struct event_base *base, const char *path, uint64_t map_size,
    char **err)
{
	struct store *st;
	MDB_txn *txn = NULL;
	char pb[256];
	int rc, dead = 0;

	*err = NULL;
	if (mkdirs(path) != 0) {
		*err = open_error("cannot create", path, strerror(errno));
		return NULL;
	}
	st = xcalloc(1, sizeof(*st));
	st->base = base;
	st->map_size = map_size;
	st->pipefd[0] = st->pipefd[1] = -1;
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->cond, NULL);
	if ((rc = mdb_env_create(&st->env)) != 0) {
		st->env = NULL;
		goto fail;
	}
	if ((rc = mdb_env_set_maxdbs(st->env, 8)) != 0 ||
	    (map_size > 0 &&
	    (rc = mdb_env_set_mapsize(st->env, (size_t)map_size)) != 0) ||
	    (rc = mdb_env_open(st->env, path, MDB_NOTLS, 0600)) != 0)
		goto fail;
	mdb_reader_check(st->env, &dead);
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "verif", MDB_CREATE, &st->verif)) != 0 ||
	    (rc = mdb_dbi_open(txn, "pending", MDB_CREATE, &st->pending)) != 0 ||
	    (rc = mdb_dbi_open(txn, "expiry", MDB_CREATE, &st->expiry)) != 0 ||
	    (rc = mdb_dbi_open(txn, "queue", MDB_CREATE, &st->queue)) != 0 ||
	    (rc = mdb_dbi_open(txn, "msgid", MDB_CREATE, &st->msgid)) != 0 ||
	    (rc = mdb_dbi_open(txn, "msgref", MDB_CREATE, &st->msgref)) != 0 ||
	    (rc = mdb_dbi_open(txn, "outbox", MDB_CREATE, &st->outbox)) != 0 ||
	    (rc = outbox_last(txn, st->outbox, &st->outbox_seq)) != 0) {
		if (txn != NULL)
			mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	if (map_size == 0) {
		MDB_envinfo ei;

		mdb_env_info(st->env, &ei);
		st->map_size = ei.me_mapsize;
	}
	st->commit_ev = event_new(base, -1, 0, on_commit_event, st);
	st->force_ev = evtimer_new(base, on_commit_event, st);
	if (st->commit_ev == NULL || st->force_ev == NULL) {
		*err = open_error("cannot open", path, "event_new failed");
		store_free(st);
		return NULL;
	}
	if (event_base_get_npriorities(base) > 1 &&
	    event_priority_set(st->commit_ev,
	    event_base_get_npriorities(base) - 1) == 0)
		st->lowprio = 1;
	if ((rc = writer_start(st)) != 0) {
		*err = open_error("cannot start the writer for", path,
		    strerror(rc));
		store_free(st);
		return NULL;
	}
	log_info("store.open", "path=%s map_size=%" PRIu64 " stale_readers=%d",
	    log_str(pb, sizeof(pb), path), st->map_size, dead);
	return st;
fail:
	*err = open_error("cannot open", path, mdb_strerror(rc));
	store_free(st);
	return NULL;
}

void
store_close(struct store *st)
{
	int i;

	if (st == NULL)
		return;
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
	store_free(st);
}

/* ---- records and indexes ---------------------------------------------- */

static int
record_get(struct store *st, MDB_txn *txn, const char *id, struct verif *out)
{
	MDB_val d;
	int rc;

	rc = kv_get(st, txn, st->verif, id, strlen(id), &d);
	if (rc == 0)
		return store_record_decode(d.mv_data, d.mv_size, out);
	memset(out, 0, sizeof(*out));
	if (rc == MDB_NOTFOUND)
		return STORE_NOTFOUND;
	log_err("store.error", "op=get id=%s err=\"%s\"", id,
	    mdb_strerror(rc));
	return STORE_ERR;
}

/* Before staging a write under key k: STORE_OK, or the open batch's
 * error.  LMDB's key limits are checked here, so the writer never meets a
 * key it refuses. */
static int
stage_key(struct store *st, size_t kl, const char *op)
{
	int rc;

	if ((rc = batch_stage(st)) != STORE_OK)
		return rc;
	if (kl == 0 || kl > (size_t)mdb_env_get_maxkeysize(st->env))
		return batch_fail(st, STORE_ERR, op, "bad key size");
	return STORE_OK;
}

/* Stage a put of dl octets under (dbi, k): the space to fill into *p. */
static int
db_reserve(struct store *st, MDB_dbi dbi, const void *k, size_t kl,
    size_t dl, void **p, const char *op)
{
	int rc;

	if ((rc = stage_key(st, kl, op)) != STORE_OK)
		return rc;
	*p = store_batch_put(st->open->w, dbi, k, kl, dl);
	return STORE_OK;
}

static int
db_put(struct store *st, MDB_dbi dbi, const void *k, size_t kl,
    const void *d, size_t dl, const char *op)
{
	void *p;
	int rc;

	if ((rc = db_reserve(st, dbi, k, kl, dl, &p, op)) != STORE_OK)
		return rc;
	if (dl > 0)
		memcpy(p, d, dl);
	return STORE_OK;
}

static int
db_del(struct store *st, MDB_dbi dbi, const void *k, size_t kl,
    const char *op)
{
	int rc;

	if ((rc = stage_key(st, kl, op)) != STORE_OK)
		return rc;
	store_batch_del(st->open->w, dbi, k, kl);
	return STORE_OK;
}

/* Delete the index entry k only while it still points at id. */
static int
db_del_if(struct store *st, MDB_txn *txn, MDB_dbi dbi, const void *k,
    size_t kl, const char *id, const char *op)
{
	MDB_val d;
	int rc = kv_get(st, txn, dbi, k, kl, &d);

	if (rc == MDB_NOTFOUND)
		return STORE_OK;
	if (rc != 0)
		return mdb_fail(st, rc, op);
	if (d.mv_size != strlen(id) || memcmp(d.mv_data, id, d.mv_size) != 0)
		return STORE_OK;
	return db_del(st, dbi, k, kl, op);
}

static void
head_of(const struct verif *v, struct store_record_head *h)
{
	h->status = v->status;
	h->send_state = v->send_state;
	h->expires_at = v->expires_at;
	memcpy(h->key, v->key, sizeof(h->key));
	memcpy(h->phone, v->phone, sizeof(h->phone));
}

/* Stage v and bring the indexes from old (NULL: insert) in step with it:
 * only the index entries whose inputs changed are touched.  Reads go
 * through txn (a view). */
static int
verif_write(struct store *st, MDB_txn *txn, const struct verif *v,
    const struct store_record_head *old)
{
	MDB_val d;
	char pk[64];
	uint8_t ek[40];
	size_t pkl, ekl, idl = strlen(v->id), size;
	void *p;
	int rc, was_pending, is_pending, moved, had_q, want_q, write_e;

	/* Encoded straight into the batch. */
	if ((size = store_record_size(v)) == 0)
		return batch_fail(st, STORE_ERR, "verif_put",
		    "record cannot be encoded");
	if ((rc = db_reserve(st, st->verif, v->id, idl, size, &p,
	    "verif_put")) != STORE_OK)
		return rc;
	store_record_encode(v, p);

	/* pending: on entering VERIF_PENDING (or moving to another pair)
	 * only, so an update of an older pending verification never takes
	 * the entry back from a newer one. */
	was_pending = old != NULL && old->status == VERIF_PENDING;
	is_pending = v->status == VERIF_PENDING;
	moved = was_pending && (strcmp(old->key, v->key) != 0 ||
	    strcmp(old->phone, v->phone) != 0);
	if (was_pending && (!is_pending || moved)) {
		pkl = pair_key(pk, sizeof(pk), old->key, old->phone);
		if (pkl > 0 && (rc = db_del_if(st, txn, st->pending, pk, pkl,
		    v->id, "pending_del")) != STORE_OK)
			return rc;
	}
	if (is_pending && (!was_pending || moved)) {
		pkl = pair_key(pk, sizeof(pk), v->key, v->phone);
		if (pkl == 0)
			return batch_fail(st, STORE_ERR, "verif_put",
			    "empty key");
		if ((rc = db_put(st, st->pending, pk, pkl, v->id, idl,
		    "pending_put")) != STORE_OK)
			return rc;
	}

	/* expiry: 'E' at insert; moved when expires_at changes before the
	 * sweep reached it. */
	write_e = old == NULL;
	if (old != NULL && old->expires_at != v->expires_at) {
		ekl = expiry_key(ek, old->expires_at, v->id);
		rc = kv_get(st, txn, st->expiry, ek, ekl, &d);
		if (rc == 0 && d.mv_size == 1 &&
		    *(const char *)d.mv_data == 'E') {
			if ((rc = db_del(st, st->expiry, ek, ekl,
			    "expiry_del")) != STORE_OK)
				return rc;
			write_e = 1;
		} else if (rc != 0 && rc != MDB_NOTFOUND) {
			return mdb_fail(st, rc, "expiry_get");
		}
	}
	if (write_e) {
		ekl = expiry_key(ek, v->expires_at, v->id);
		if ((rc = db_put(st, st->expiry, ek, ekl, "E", 1,
		    "expiry_put")) != STORE_OK)
			return rc;
	}

	/* queue */
	had_q = was_pending && old->send_state == SEND_QUEUED;
	want_q = is_pending && v->send_state == SEND_QUEUED;
	if (want_q && !had_q)
		return db_put(st, st->queue, v->id, idl, "", 0, "queue_put");
	if (had_q && !want_q)
		return db_del(st, st->queue, v->id, idl, "queue_del");
	return STORE_OK;
}

int
store_verif_put(struct store *st, const struct verif *v)
{
	MDB_txn *txn;
	MDB_val d;
	struct store_record_head old;
	int rc;

	if ((rc = batch_stage(st)) != STORE_OK)
		return rc;
	if (!valid_id(v->id) || v->status < VERIF_PENDING ||
	    v->status > VERIF_FAILED)
		return batch_fail(st, STORE_ERR, "verif_put", "invalid record");
	if ((txn = view_begin(st)) == NULL)
		return batch_fail(st, STORE_ERR, "verif_put", "no read view");
	/* The stored version's head only: what the indexes depend on. */
	rc = kv_get(st, txn, st->verif, v->id, strlen(v->id), &d);
	if (rc == MDB_NOTFOUND)
		rc = verif_write(st, txn, v, NULL);
	else if (rc != 0)
		rc = mdb_fail(st, rc, "verif_get");
	else if (store_record_head_decode(d.mv_data, d.mv_size, &old) !=
	    STORE_OK)
		rc = batch_fail(st, STORE_ERR, "verif_put",
		    "stored record unreadable");
	else
		rc = verif_write(st, txn, v, &old);
	view_end(st, txn);
	return rc;
}

/* Test hook, declared by tests/check_store.c only: stage buf as the raw
 * record of id, indexes untouched (an older format, a corrupt record). */
int store_record_put_raw_for_test(struct store *, const char *id,
    const void *buf, size_t len);

int
store_record_put_raw_for_test(struct store *st, const char *id,
    const void *buf, size_t len)
{
	return db_put(st, st->verif, id, strlen(id), buf, len, "raw_put");
}

int
store_verif_get(struct store *st, const char *id, struct verif *out)
{
	MDB_txn *txn;
	int rc;

	if (!valid_id(id) || (txn = view_begin(st)) == NULL) {
		memset(out, 0, sizeof(*out));
		return valid_id(id) ? STORE_ERR : STORE_NOTFOUND;
	}
	rc = record_get(st, txn, id, out);
	view_end(st, txn);
	return rc;
}

/* Look up an index entry whose value is an id. */
static int
index_get(struct store *st, MDB_dbi dbi, const void *k, size_t kl, char *id,
    size_t idsize)
{
	MDB_txn *txn;
	MDB_val d;
	int rc;

	if ((txn = view_begin(st)) == NULL)
		return STORE_ERR;
	rc = kv_get(st, txn, dbi, k, kl, &d);
	if (rc == 0 && d.mv_size < idsize) {
		memcpy(id, d.mv_data, d.mv_size);
		id[d.mv_size] = '\0';
		rc = STORE_OK;
	} else if (rc == MDB_NOTFOUND) {
		rc = STORE_NOTFOUND;
	} else {
		rc = STORE_ERR;
	}
	view_end(st, txn);
	return rc;
}

int
store_pending_get(struct store *st, const char *key, const char *phone,
    char *id, size_t idsize)
{
	char pk[64];
	size_t pkl = pair_key(pk, sizeof(pk), key, phone);

	if (pkl == 0)
		return STORE_NOTFOUND;
	return index_get(st, st->pending, pk, pkl, id, idsize);
}

int
store_msgid_put(struct store *st, const char *smsc, const char *msgid,
    const char *id)
{
	char k[MSGID_KEY_MAX], rk[32 + 1 + MSGID_KEY_MAX];
	size_t kl, idl;
	int rc;

	if ((rc = batch_stage(st)) != STORE_OK)
		return rc;
	kl = pair_key(k, sizeof(k), smsc, msgid);
	if (kl == 0 || msgid[0] == '\0' || !valid_id(id))
		return batch_fail(st, STORE_ERR, "msgid_put", "invalid key");
	idl = strlen(id);
	memcpy(rk, id, idl);
	rk[idl] = '\0';
	memcpy(rk + idl + 1, k, kl);
	if ((rc = db_put(st, st->msgid, k, kl, id, idl,
	    "msgid_put")) != STORE_OK)
		return rc;
	return db_put(st, st->msgref, rk, idl + 1 + kl, "", 0, "msgref_put");
}

int
store_msgid_get(struct store *st, const char *smsc, const char *msgid,
    char *id, size_t idsize)
{
	char k[MSGID_KEY_MAX];
	size_t kl = pair_key(k, sizeof(k), smsc, msgid);

	if (kl == 0)
		return STORE_NOTFOUND;
	return index_get(st, st->msgid, k, kl, id, idsize);
}

void
store_on_commit(struct store *st, store_commit_cb cb, void *arg)
{
	struct batch *b = batch_open(st, 1);

	if (b->nwaiter == b->waitercap) {
		b->waitercap = b->waitercap ? b->waitercap * 2 : 16;
		b->waiters = xrealloc(b->waiters,
		    (size_t)b->waitercap * sizeof(*b->waiters));
	}
	b->waiters[b->nwaiter].cb = cb;
	b->waiters[b->nwaiter].arg = arg;
	b->nwaiter++;
}

int
store_flush(struct store *st)
{
	int result = STORE_OK;

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

int
store_queue_each(struct store *st, void (*fn)(void *arg, const char *id),
    void *arg)
{
	MDB_txn *txn;
	MDB_val k, d;
	char (*ids)[32] = NULL;
	int n = 0, cap = 0, rc, i;

	if ((txn = view_begin(st)) == NULL)
		return STORE_ERR;
	/* Collect first: fn may read the store, which needs the view. */
	for (rc = kv_seek(st, txn, st->queue, "", 0, 0, 1, &k, &d); rc == 0;
	    rc = kv_seek(st, txn, st->queue, k.mv_data, k.mv_size, 1, 1, &k,
	    &d)) {
		if (k.mv_size == 0 || k.mv_size >= 32)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ids = xrealloc(ids, (size_t)cap * sizeof(*ids));
		}
		memcpy(ids[n], k.mv_data, k.mv_size);
		ids[n][k.mv_size] = '\0';
		n++;
	}
	view_end(st, txn);
	if (rc != MDB_NOTFOUND) {
		free(ids);
		return STORE_ERR;
	}
	for (i = 0; i < n; i++)
		fn(arg, ids[i]);
	free(ids);
	return n;
}

/* ---- sweep ------------------------------------------------------------ */

struct due {
	uint8_t key[SEEK_KEY_MAX];      /* '?' entries too */
	size_t keylen;
	int64_t t;
	char id[32];
	char kind;      /* 'E', 'P', or '?' for an entry we cannot parse */
};

#define SWEEP_CHUNK 64          /* due entries gathered per merge */

static int64_t
due_time(const void *key, size_t klen)
{
	return klen >= 8 ? (int64_t)get_be64(key) : 0;
}

static void
due_fill(struct due *e, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	memcpy(e->key, key, klen);
	e->keylen = klen;
	e->t = due_time(key, klen);
	e->kind = '?';
	e->id[0] = '\0';
	if (klen > 8 && klen < 8 + 32 && vlen == 1) {
		memcpy(e->id, e->key + 8, klen - 8);
		e->id[klen - 8] = '\0';
		e->kind = *(const char *)val;
	}
}

static int
cmp_entries(const void *a, const void *b)
{
	const struct batch_entry *x = *(const struct batch_entry *const *)a;
	const struct batch_entry *y = *(const struct batch_entry *const *)b;

	return store_batch_keycmp(x->key, x->klen, y->key, y->klen);
}

/* The expiry entries due at or before now, at or after from (fromlen 0:
 * from the first), in key order, at most n of them into out, each in its
 * newest version: the database's cursor merged with the staged entries of
 * both batches, gathered and sorted once (a seek per entry would walk the
 * batches once per entry: a sweep under a large batch was quadratic).
 * Returns the count, or -1 on error (logged). */
static int
collect_due(struct store *st, MDB_txn *txn, int64_t now, const uint8_t *from,
    size_t fromlen, struct due *out, int n)
{
	struct batch *layer[2] = { st->open, st->inflight };
	const struct batch_entry **cand = NULL, *e;
	size_t ncand = 0, cap = 0, ci = 0;
	MDB_cursor *c;
	MDB_val k, d;
	int count = 0, rc, i, cmp;

	/* Staged puts due at or after from, each only in its newest
	 * version (the open batch's when both batches have the key). */
	for (i = 0; i < 2; i++) {
		if (layer[i] == NULL)
			continue;
		for (e = store_batch_db_first(layer[i]->w, st->expiry); e != NULL;
		    e = store_batch_db_next(layer[i]->w, e)) {
			if (e->del || e->klen > SEEK_KEY_MAX ||
			    due_time(e->key, e->klen) > now ||
			    store_batch_keycmp(e->key, e->klen, from,
			    fromlen) < 0 ||
			    overlay_find(st, st->expiry, e->key, e->klen) != e)
				continue;
			if (ncand == cap) {
				cap = cap ? cap * 2 : 64;
				cand = xrealloc(cand, cap * sizeof(*cand));
			}
			cand[ncand++] = e;
		}
	}
	if (ncand > 1)
		qsort(cand, ncand, sizeof(*cand), cmp_entries);

	if ((rc = mdb_cursor_open(txn, st->expiry, &c)) != 0) {
		free(cand);
		log_err("store.error", "op=sweep err=\"%s\"", mdb_strerror(rc));
		return -1;
	}
	k.mv_size = fromlen;
	k.mv_data = (void *)from;
	rc = mdb_cursor_get(c, &k, &d, fromlen > 0 ? MDB_SET_RANGE :
	    MDB_FIRST);
	while (count < n) {
		int have_l = rc == 0 && due_time(k.mv_data, k.mv_size) <= now;

		if (rc != 0 && rc != MDB_NOTFOUND)
			break;
		if (!have_l && ci == ncand)
			break;
		if (have_l && k.mv_size > SEEK_KEY_MAX) {
			rc = MDB_BAD_VALSIZE;
			break;
		}
		cmp = !have_l ? 1 : ci == ncand ? -1 : store_batch_keycmp(
		    k.mv_data, k.mv_size, cand[ci]->key, cand[ci]->klen);
		if (cmp < 0) {
			/* The database's key; a batch may delete it. */
			e = overlay_find(st, st->expiry, k.mv_data, k.mv_size);
			if (e == NULL)
				due_fill(&out[count++], k.mv_data, k.mv_size,
				    d.mv_data, d.mv_size);
			else if (!e->del)
				due_fill(&out[count++], e->key, e->klen,
				    e->val, e->vlen);
			rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
			continue;
		}
		e = cand[ci++];
		due_fill(&out[count++], e->key, e->klen, e->val, e->vlen);
		if (cmp == 0)
			rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
	}
	mdb_cursor_close(c);
	free(cand);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		log_err("store.error", "op=sweep err=\"%s\"", mdb_strerror(rc));
		return -1;
	}
	return count;
}

/* 'E': expire a still pending record, then schedule its purge. */
static int
sweep_expire(struct store *st, MDB_txn *txn, const struct due *e,
    int64_t now, int64_t retention, struct verif *expired)
{
	struct verif old, nv;
	struct store_record_head oh;
	uint8_t pk[8 + 32];
	size_t pkl;
	int rc;

	rc = record_get(st, txn, e->id, &old);
	if (rc == STORE_OK && old.status == VERIF_PENDING) {
		nv = old;
		nv.status = VERIF_EXPIRED;
		nv.sealed = NULL;
		nv.metadata = old.metadata ? xstrdup(old.metadata) : NULL;
		nv.updated_at = now;
		nv.expires_at = old.expires_at;
		head_of(&old, &oh);
		if ((rc = verif_write(st, txn, &nv, &oh)) != STORE_OK) {
			verif_clear(&old);
			verif_clear(&nv);
			return rc;
		}
		*expired = nv;
		st->swept++;
	} else if (rc == STORE_ERR) {
		/* Unreadable (e.g. a newer format): leave it alone. */
		verif_clear(&old);
		return db_del(st, st->expiry, e->key, e->keylen, "expiry_del");
	} else if (rc == STORE_NOTFOUND) {
		return db_del(st, st->expiry, e->key, e->keylen, "expiry_del");
	}
	verif_clear(&old);
	if ((rc = db_del(st, st->expiry, e->key, e->keylen,
	    "expiry_del")) != STORE_OK)
		return rc;
	pkl = expiry_key(pk, e->t + retention, e->id);
	return db_put(st, st->expiry, pk, pkl, "P", 1, "expiry_put");
}

/* Drop the msgid entries recorded for id in msgref. */
static int
purge_msgrefs(struct store *st, MDB_txn *txn, const char *id)
{
	char prefix[33], buf[32 + 1 + MSGID_KEY_MAX];
	size_t pl = strlen(id) + 1, kl;
	MDB_val k, d;
	int i, rc;

	memcpy(prefix, id, pl);         /* with its NUL */
	for (i = 0; i < PURGE_REF_MAX; i++) {
		rc = kv_seek(st, txn, st->msgref, prefix, pl, 0, 1, &k, &d);
		if (rc == 0 && (k.mv_size <= pl || k.mv_size > sizeof(buf) ||
		    memcmp(k.mv_data, prefix, pl) != 0))
			rc = MDB_NOTFOUND;
		if (rc == MDB_NOTFOUND)
			return STORE_OK;
		if (rc != 0)
			return mdb_fail(st, rc, "msgref_get");
		kl = k.mv_size;
		memcpy(buf, k.mv_data, kl);
		if ((rc = db_del_if(st, txn, st->msgid, buf + pl, kl - pl, id,
		    "msgid_del")) != STORE_OK ||
		    (rc = db_del(st, st->msgref, buf, kl,
		    "msgref_del")) != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

/* 'P': delete the record and every index entry of it. */
static int
sweep_purge(struct store *st, MDB_txn *txn, const struct due *e)
{
	struct verif v;
	char k[MSGID_KEY_MAX];
	size_t kl, idl = strlen(e->id);
	int rc, i;

	rc = record_get(st, txn, e->id, &v);
	if (rc == STORE_OK) {
		for (i = 0; i < v.nsend; i++) {
			kl = pair_key(k, sizeof(k), v.send[i].smsc,
			    v.send[i].message_id);
			if (kl > 0 && (rc = db_del_if(st, txn, st->msgid, k,
			    kl, e->id, "msgid_del")) != STORE_OK)
				goto out;
		}
		kl = pair_key(k, sizeof(k), v.key, v.phone);
		if (kl > 0 && (rc = db_del_if(st, txn, st->pending, k, kl,
		    e->id, "pending_del")) != STORE_OK)
			goto out;
		if ((rc = db_del(st, st->queue, e->id, idl,
		    "queue_del")) != STORE_OK ||
		    (rc = purge_msgrefs(st, txn, e->id)) != STORE_OK ||
		    (rc = db_del(st, st->verif, e->id, idl,
		    "verif_del")) != STORE_OK)
			goto out;
		st->purged++;
	} else if (rc == STORE_ERR) {
		log_warn("store.purge_skipped", "id=%s", e->id);
	}
	rc = db_del(st, st->expiry, e->key, e->keylen, "expiry_del");
out:
	verif_clear(&v);
	return rc;
}

int
store_sweep(struct store *st, int64_t now, int max, int64_t retention,
    void (*fn)(void *arg, const struct verif *), void *arg)
{
	MDB_txn *txn;
	struct due *chunk;
	struct verif expired;
	uint8_t from[SEEK_KEY_MAX];
	size_t fromlen = 0;
	int n = 0, got, i, rc = STORE_OK;

	if (max <= 0)
		return 0;
	chunk = xmalloc(SWEEP_CHUNK * sizeof(*chunk));
	while (n < max && rc == STORE_OK) {
		/* The first chunk is the peek too: nothing due opens no batch,
		 * and an error before anything is staged fails none.  Each
		 * later chunk starts at the last entry handled, which is gone
		 * now or rewritten in place ('E' becomes 'P' with no
		 * retention), and is then read again. */
		if ((txn = view_begin(st)) == NULL) {
			rc = fromlen == 0 ? STORE_ERR : batch_fail(st,
			    STORE_ERR, "sweep", "no read view");
			break;
		}
		got = collect_due(st, txn, now, from, fromlen, chunk,
		    max - n < SWEEP_CHUNK ? max - n : SWEEP_CHUNK);
		view_end(st, txn);
		if (got < 0)
			rc = fromlen == 0 ? STORE_ERR : batch_fail(st,
			    STORE_ERR, "sweep", "expiry index unreadable");
		if (got <= 0 || (fromlen == 0 &&
		    (rc = batch_stage(st)) != STORE_OK))
			break;
		for (i = 0; i < got && rc == STORE_OK; i++) {
			const struct due *e = &chunk[i];

			if ((txn = view_begin(st)) == NULL) {
				rc = batch_fail(st, STORE_ERR, "sweep",
				    "no read view");
				break;
			}
			memset(&expired, 0, sizeof(expired));
			if (e->kind == 'E')
				rc = sweep_expire(st, txn, e, now, retention,
				    &expired);
			else if (e->kind == 'P')
				rc = sweep_purge(st, txn, e);
			else
				rc = db_del(st, st->expiry, e->key, e->keylen,
				    "expiry_del");
			view_end(st, txn);
			if (rc != STORE_OK) {
				verif_clear(&expired);
				break;
			}
			n++;
			if (expired.id[0] != '\0') {
				if (fn != NULL)
					fn(arg, &expired);
				verif_clear(&expired);
				/* fn may have failed the batch. */
				if (st->open == NULL ||
				    st->open->result != STORE_OK)
					rc = STORE_ERR;
			}
		}
		memcpy(from, chunk[got - 1].key, chunk[got - 1].keylen);
		fromlen = chunk[got - 1].keylen;
	}
	free(chunk);
	return rc == STORE_OK ? n : STORE_ERR;
}

/* ---- stats ------------------------------------------------------------ */

/* The counts are the committed database's: what is staged is not in
 * them yet. */
void
store_stats(struct store *st, struct store_stats *out)
{
	MDB_txn *txn;
	MDB_stat ms;
	MDB_envinfo ei;

	memset(out, 0, sizeof(*out));
	out->commits = st->commits;
	out->commit_failures = st->commit_failures;
	out->swept = st->swept;
	out->purged = st->purged;
	if (mdb_env_info(st->env, &ei) == 0 &&
	    mdb_env_stat(st->env, &ms) == 0) {
		out->map_size = ei.me_mapsize;
		out->used = (uint64_t)(ei.me_last_pgno + 1) * ms.ms_psize;
	}
	if ((txn = view_begin(st)) == NULL)
		return;
	if (mdb_stat(txn, st->verif, &ms) == 0)
		out->verifs = ms.ms_entries;
	if (mdb_stat(txn, st->pending, &ms) == 0)
		out->pending = ms.ms_entries;
	if (mdb_stat(txn, st->queue, &ms) == 0)
		out->queued = ms.ms_entries;
	view_end(st, txn);
}

/* ---- webhook outbox ---------------------------------------------------- */

#define OUTBOX_HEAD 20          /* tries(4) due_ms(8) first_ms(8) */

int
store_outbox_put(struct store *st, const char *key, const char *body,
    int64_t now_ms, uint64_t *seq)
{
	uint8_t kb[8], *p;
	size_t kl = strlen(key), bl = strlen(body);
	void *v;
	int rc;

	put_be64(kb, st->outbox_seq);
	if ((rc = db_reserve(st, st->outbox, kb, 8, OUTBOX_HEAD + kl + 1 + bl,
	    &v, "outbox_put")) != STORE_OK)
		return rc;
	p = v;
	put_u32(p, 0);
	put_u64(p + 4, (uint64_t)now_ms);
	put_u64(p + 12, (uint64_t)now_ms);
	memcpy(p + OUTBOX_HEAD, key, kl + 1);
	memcpy(p + OUTBOX_HEAD + kl + 1, body, bl);
	if (seq != NULL)
		*seq = st->outbox_seq;
	st->outbox_seq++;
	return STORE_OK;
}

/* Decode an outbox entry; 0, or -1 when it is malformed. */
static int
outbox_decode(const MDB_val *k, const MDB_val *d, struct store_event *ev)
{
	const uint8_t *p = d->mv_data, *nul;

	if (k->mv_size != 8 || d->mv_size < OUTBOX_HEAD + 1)
		return -1;
	nul = memchr(p + OUTBOX_HEAD, 0, d->mv_size - OUTBOX_HEAD);
	if (nul == NULL || (size_t)(nul - (p + OUTBOX_HEAD)) >=
	    sizeof(ev->key))
		return -1;
	memset(ev, 0, sizeof(*ev));
	ev->seq = get_be64(k->mv_data);
	ev->tries = (int)get_u32(p);
	ev->due_ms = (int64_t)get_u64(p + 4);
	ev->first_ms = (int64_t)get_u64(p + 12);
	memcpy(ev->key, p + OUTBOX_HEAD, (size_t)(nul - (p + OUTBOX_HEAD)) + 1);
	ev->body_len = d->mv_size - (size_t)(nul + 1 - p);
	ev->body = xmalloc(ev->body_len + 1);
	memcpy(ev->body, nul + 1, ev->body_len);
	ev->body[ev->body_len] = '\0';
	return 0;
}

/* Committed events only (see the top of the file), with their staged
 * retries, and without their staged deletions. */
int
store_outbox_scan(struct store *st, uint64_t from, int max,
    void (*fn)(void *arg, struct store_event *), void *arg)
{
	struct store_event *evs;
	MDB_txn *txn;
	MDB_val k, d;
	uint8_t kb[8];
	int n = 0, i, rc;

	if (max <= 0)
		return 0;
	if ((txn = view_begin(st)) == NULL)
		return STORE_ERR;
	evs = xcalloc((size_t)max, sizeof(*evs));
	put_be64(kb, from);
	for (rc = kv_seek(st, txn, st->outbox, kb, 8, 0, 0, &k, &d);
	    rc == 0 && n < max;
	    rc = kv_seek(st, txn, st->outbox, k.mv_data, k.mv_size, 1, 0, &k,
	    &d)) {
		if (outbox_decode(&k, &d, &evs[n]) == 0)
			n++;
	}
	view_end(st, txn);
	/* Callbacks only once the read is over: they may stage writes. */
	for (i = 0; i < n; i++)
		fn(arg, &evs[i]);
	free(evs);
	return n;
}

int
store_outbox_del(struct store *st, uint64_t seq)
{
	uint8_t kb[8];

	put_be64(kb, seq);
	return db_del(st, st->outbox, kb, 8, "outbox_del");
}

int
store_outbox_retry(struct store *st, uint64_t seq, int tries, int64_t due_ms)
{
	MDB_txn *txn;
	MDB_val d;
	uint8_t kb[8];
	void *p;
	int rc;

	if ((rc = batch_stage(st)) != STORE_OK)
		return rc;
	if ((txn = view_begin(st)) == NULL)
		return batch_fail(st, STORE_ERR, "outbox_retry", "no read view");
	put_be64(kb, seq);
	rc = kv_get(st, txn, st->outbox, kb, 8, &d);
	if (rc == MDB_NOTFOUND)
		rc = STORE_OK;
	else if (rc != 0)
		rc = mdb_fail(st, rc, "outbox_retry");
	else if (d.mv_size < OUTBOX_HEAD)
		rc = batch_fail(st, STORE_ERR, "outbox_retry", "malformed");
	else if ((rc = db_reserve(st, st->outbox, kb, 8, d.mv_size, &p,
	    "outbox_retry")) == STORE_OK) {
		/* The old value stays readable until the batch is freed. */
		memcpy(p, d.mv_data, d.mv_size);
		put_u32(p, (uint32_t)tries);
		put_u64((uint8_t *)p + 4, (uint64_t)due_ms);
	}
	view_end(st, txn);
	return rc;
}

/* Events committed and not delivered. */
uint64_t
store_outbox_count(struct store *st)
{
	MDB_txn *txn = view_begin(st);
	MDB_stat ms;
	uint64_t n = 0;

	if (txn == NULL)
		return 0;
	if (mdb_stat(txn, st->outbox, &ms) == 0)
		n = ms.ms_entries;
	view_end(st, txn);
	return n;
}
