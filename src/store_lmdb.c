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
 * Group commit.  All writes of one loop turn go into one write transaction,
 * the "batch".  The batch is an explicit state machine: IDLE -> OPEN on the
 * first staged write or store_on_commit(), which also makes the commit
 * event active, so it runs after the callbacks already active in this loop
 * iteration; OPEN -> FAILED when a write fails (the transaction is aborted
 * at once, later writes of the batch return the same error without
 * touching LMDB); OPEN/FAILED -> IDLE in batch_commit(), which commits
 * (one fsync: no MDB_NOSYNC), then calls the registered callbacks in order
 * with the result.  The callback list is taken before calling them, so a
 * callback that stages writes or registers callbacks starts a new batch.
 * The write transaction itself is begun lazily: a batch of callbacks only
 * commits nothing.
 *
 * Reads go through the batch's transaction when it has one (they see the
 * staged writes), otherwise through one reusable read-only transaction
 * that is renewed for each read and reset right after it, so no snapshot
 * is ever held across loop turns (a held snapshot would pin old pages and
 * grow the map).  MDB_NOTLS lets that read transaction live beside the
 * write transaction on the loop thread.  No user callback is ever called
 * while the read transaction is live.
 *
 * Cost per write: a put reads only the head of the stored record (the
 * fields the indexes depend on), touches only the index entries whose
 * inputs changed, and encodes the record straight into the space LMDB
 * reserves for it (no buffer, no allocation).  A read allocates only the
 * sealed and metadata strings the caller's struct verif owns.  The
 * environment is opened without MDB_WRITEMAP: measured with 20000 puts in
 * batches of 32 it was 15-25% slower here (the sparse map is filled by
 * page faults, and msync costs more than LMDB's pwrite), and a full disk
 * under a writable map is a SIGBUS, not an error.  MDB_NOMEMINIT made no
 * measurable difference, so it is left out too.
 *
 * Errors: every failure inside a batch fails the whole batch (including a
 * record that cannot be encoded): a caller that ignores a put's result
 * still learns it from its commit callback, so nothing is acknowledged
 * that was not persisted.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/event.h>
#include <lmdb.h>

#include "log.h"
#include "store.h"
#include "store_record.h"
#include "util.h"

#define MSGID_KEY_MAX 256       /* smsc NUL message id; LMDB allows 511 */
#define CLOSE_FLUSH_ROUNDS 16   /* commit callbacks that keep staging */
#define PURGE_REF_MAX 64        /* msgref entries dropped per purge */

enum batch_state {
	BATCH_IDLE,     /* nothing staged, no commit event active */
	BATCH_OPEN,     /* commit event active; wtxn begun on first write */
	BATCH_FAILED,   /* wtxn aborted; commit event delivers the error */
};

struct commit_waiter {
	store_commit_cb cb;
	void *arg;
};

struct store {
	struct event_base *base;
	MDB_env *env;
	MDB_dbi verif, pending, expiry, queue, msgid, msgref, outbox;
	uint64_t outbox_seq;    /* the next outbox key */
	uint64_t map_size;

	enum batch_state state;
	MDB_txn *wtxn;          /* the batch's write txn, NULL until a write */
	int batch_result;       /* STORE_OK or the error that failed it */
	struct event *commit_ev;        /* lowest priority when there are some */
	struct event *force_ev;         /* timer: an urgent batch waits no more */
	int lowprio;                    /* commit_ev runs only when idle */
	int delay_ms;                   /* see store_set_commit_delay() */
	int urgent;                     /* the open batch has waiters */
	struct commit_waiter *waiters;
	int nwaiter, waitercap;

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

/* ---- the batch -------------------------------------------------------- */

static const char *
batch_strstate(enum batch_state s)
{
	switch (s) {
	case BATCH_IDLE: return "idle";
	case BATCH_OPEN: return "open";
	case BATCH_FAILED: return "failed";
	}
	return "?";
}

static void
enter_state(struct store *st, enum batch_state to)
{
	enum batch_state from = st->state;

	if (from == to)
		return;
	st->state = to;
	log_debug("store.batch", "from=%s to=%s", batch_strstate(from),
	    batch_strstate(to));
}

/* Fail the open batch with result: abort its txn, log once.  Returns
 * result. */
static int
batch_fail(struct store *st, int result, const char *op, const char *why)
{
	char b[128];

	if (st->wtxn != NULL) {
		mdb_txn_abort(st->wtxn);
		st->wtxn = NULL;
	}
	st->batch_result = result;
	enter_state(st, BATCH_FAILED);
	if (result == STORE_FULL)
		log_err("store.full", "map_size=%" PRIu64
		    " msg=\"raise [store] map_size\"", st->map_size);
	else
		log_err("store.error", "op=%s err=%s", op,
		    log_str(b, sizeof(b), why));
	return result;
}

static int
mdb_fail(struct store *st, int rc, const char *op)
{
	return batch_fail(st, rc == MDB_MAP_FULL ? STORE_FULL : STORE_ERR, op,
	    mdb_strerror(rc));
}

/* IDLE -> OPEN, and when the batch commits.  A batch someone waits on
 * (urgent: a store_on_commit callback) commits once this turn's callbacks
 * ran.  Without waiters, and with a commit delay set, staged writes wait up
 * to that delay for a batch that has waiters, so work that acknowledges
 * nothing (an SMPP submit's record, a sweep) shares the next commit
 * instead of paying for its own.
 *
 * With a delay set and an event base with priorities, the commit event has
 * the lowest one: libevent runs it only in a turn that found no other work
 * ready, i.e. once every request and response already on the sockets has
 * been read and staged.  Under load that makes one commit (one fsync) for
 * all of them instead of one per turn; when idle it costs nothing.  The
 * force timer (normal priority, the delay) bounds the wait when the loop
 * is never idle. */
static void
batch_open(struct store *st, int urgent)
{
	struct timeval tv;

	if (st->state == BATCH_IDLE) {
		st->batch_result = STORE_OK;
		st->urgent = 0;
		enter_state(st, BATCH_OPEN);
	}
	if (st->urgent)
		return;
	tv.tv_sec = st->delay_ms / 1000;
	tv.tv_usec = (st->delay_ms % 1000) * 1000;
	if (urgent || st->delay_ms == 0) {
		st->urgent = 1;
		event_del(st->commit_ev);
		event_active(st->commit_ev, 0, 0);
		if (st->lowprio && st->delay_ms > 0)
			evtimer_add(st->force_ev, &tv);
	} else if (!evtimer_pending(st->commit_ev, NULL)) {
		event_add(st->commit_ev, &tv);
	}
}

void
store_set_commit_delay(struct store *st, int ms)
{
	st->delay_ms = ms > 0 ? ms : 0;
}

/* The batch's write txn for a staged write in *txn: STORE_OK, or the
 * batch's error. */
static int
batch_txn(struct store *st, MDB_txn **txn)
{
	int rc;

	batch_open(st, 0);
	if (st->state == BATCH_FAILED)
		return st->batch_result;
	if (st->wtxn == NULL) {
		rc = mdb_txn_begin(st->env, NULL, 0, &st->wtxn);
		if (rc != 0) {
			st->wtxn = NULL;
			return mdb_fail(st, rc, "begin");
		}
	}
	*txn = st->wtxn;
	return STORE_OK;
}

/* Commit (or finish failing) the batch, then call its callbacks in order
 * with the result.  STORE_OK with no batch. */
static int
batch_commit(struct store *st)
{
	struct commit_waiter *w;
	int n, cap, i, rc, result;

	if (st->state == BATCH_IDLE)
		return STORE_OK;
	event_del(st->commit_ev);       /* when flushed before it ran */
	event_del(st->force_ev);
	result = st->batch_result;
	if (st->state == BATCH_OPEN && st->wtxn != NULL) {
		rc = mdb_txn_commit(st->wtxn);
		st->wtxn = NULL;        /* freed by commit even on failure */
		if (rc != 0)
			result = mdb_fail(st, rc, "commit");
		else
			st->commits++;
	}
	if (result != STORE_OK)
		st->commit_failures++;
	w = st->waiters;
	n = st->nwaiter;
	cap = st->waitercap;
	st->waiters = NULL;
	st->nwaiter = st->waitercap = 0;
	enter_state(st, BATCH_IDLE);
	for (i = 0; i < n; i++)
		w[i].cb(w[i].arg, result);
	/* Keep the array for the next batch unless a callback started one
	 * with its own: no allocation per commit in the steady state. */
	if (st->waiters == NULL) {
		st->waiters = w;
		st->waitercap = cap;
	} else {
		free(w);
	}
	return result;
}

static void
on_commit_event(evutil_socket_t fd, short what, void *arg)
{
	batch_commit(arg);
}

/* ---- read views ------------------------------------------------------- */

/* The txn a read goes through: the batch's, or the read txn renewed.  NULL
 * on failure (logged).  Pair with view_end() before any callback. */
static MDB_txn *
view_begin(struct store *st)
{
	int rc;

	if (st->wtxn != NULL)
		return st->wtxn;
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
	if (txn != NULL && txn == st->rtxn)
		mdb_txn_reset(txn);
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
	if ((rc = mdb_env_create(&st->env)) != 0)
		goto fail;
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
		if (st->commit_ev)
			event_free(st->commit_ev);
		if (st->force_ev)
			event_free(st->force_ev);
		mdb_env_close(st->env);
		free(st);
		return NULL;
	}
	if (event_base_get_npriorities(base) > 1 &&
	    event_priority_set(st->commit_ev,
	    event_base_get_npriorities(base) - 1) == 0)
		st->lowprio = 1;
	log_info("store.open", "path=%s map_size=%" PRIu64 " stale_readers=%d",
	    log_str(pb, sizeof(pb), path), st->map_size, dead);
	return st;
fail:
	*err = open_error("cannot open", path, mdb_strerror(rc));
	if (st->env != NULL)
		mdb_env_close(st->env);
	free(st);
	return NULL;
}

void
store_close(struct store *st)
{
	int i;

	if (st == NULL)
		return;
	for (i = 0; i < CLOSE_FLUSH_ROUNDS && st->state != BATCH_IDLE; i++)
		batch_commit(st);
	if (st->state != BATCH_IDLE) {
		/* Callbacks that stage forever: what is left is dropped. */
		log_err("store.close_dropped", "callbacks=%d", st->nwaiter);
		if (st->wtxn != NULL)
			mdb_txn_abort(st->wtxn);
	}
	free(st->waiters);
	event_free(st->commit_ev);
	event_free(st->force_ev);
	if (st->rtxn != NULL)
		mdb_txn_abort(st->rtxn);
	mdb_env_close(st->env);
	free(st);
}

/* ---- records and indexes ---------------------------------------------- */

static int
record_get(struct store *st, MDB_txn *txn, const char *id, struct verif *out)
{
	MDB_val k = { strlen(id), (void *)id }, d;
	int rc;

	rc = mdb_get(txn, st->verif, &k, &d);
	if (rc == 0)
		return store_record_decode(d.mv_data, d.mv_size, out);
	memset(out, 0, sizeof(*out));
	if (rc == MDB_NOTFOUND)
		return STORE_NOTFOUND;
	log_err("store.error", "op=get id=%s err=\"%s\"", id,
	    mdb_strerror(rc));
	return STORE_ERR;
}

static int
db_put(struct store *st, MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kl,
    const void *d, size_t dl, const char *op)
{
	MDB_val key = { kl, (void *)k }, val = { dl, (void *)d };
	int rc = mdb_put(txn, dbi, &key, &val, 0);

	return rc == 0 ? STORE_OK : mdb_fail(st, rc, op);
}

static int
db_del(struct store *st, MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kl,
    const char *op)
{
	MDB_val key = { kl, (void *)k };
	int rc = mdb_del(txn, dbi, &key, NULL);

	return rc == 0 || rc == MDB_NOTFOUND ? STORE_OK : mdb_fail(st, rc, op);
}

/* Delete the index entry k only while it still points at id. */
static int
db_del_if(struct store *st, MDB_txn *txn, MDB_dbi dbi, const void *k,
    size_t kl, const char *id, const char *op)
{
	MDB_val key = { kl, (void *)k }, d;
	int rc = mdb_get(txn, dbi, &key, &d);

	if (rc == MDB_NOTFOUND)
		return STORE_OK;
	if (rc != 0)
		return mdb_fail(st, rc, op);
	if (d.mv_size != strlen(id) || memcmp(d.mv_data, id, d.mv_size) != 0)
		return STORE_OK;
	return db_del(st, txn, dbi, k, kl, op);
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

/* Write v and bring the indexes from old (NULL: insert) in step with it:
 * only the index entries whose inputs changed are touched. */
static int
verif_write(struct store *st, MDB_txn *txn, const struct verif *v,
    const struct store_record_head *old)
{
	MDB_val key, val;
	char pk[64];
	uint8_t ek[40];
	size_t pkl, ekl, idl = strlen(v->id);
	int rc, was_pending, is_pending, moved, had_q, want_q, write_e;

	/* Encoded straight into the page LMDB reserves for it. */
	key.mv_size = idl;
	key.mv_data = (void *)v->id;
	if ((val.mv_size = store_record_size(v)) == 0)
		return batch_fail(st, STORE_ERR, "verif_put",
		    "record cannot be encoded");
	if ((rc = mdb_put(txn, st->verif, &key, &val, MDB_RESERVE)) != 0)
		return mdb_fail(st, rc, "verif_put");
	store_record_encode(v, val.mv_data);

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
		if ((rc = db_put(st, txn, st->pending, pk, pkl, v->id, idl,
		    "pending_put")) != STORE_OK)
			return rc;
	}

	/* expiry: 'E' at insert; moved when expires_at changes before the
	 * sweep reached it. */
	write_e = old == NULL;
	if (old != NULL && old->expires_at != v->expires_at) {
		MDB_val k, d;

		ekl = expiry_key(ek, old->expires_at, v->id);
		k.mv_size = ekl;
		k.mv_data = ek;
		rc = mdb_get(txn, st->expiry, &k, &d);
		if (rc == 0 && d.mv_size == 1 &&
		    *(const char *)d.mv_data == 'E') {
			if ((rc = db_del(st, txn, st->expiry, ek, ekl,
			    "expiry_del")) != STORE_OK)
				return rc;
			write_e = 1;
		} else if (rc != 0 && rc != MDB_NOTFOUND) {
			return mdb_fail(st, rc, "expiry_get");
		}
	}
	if (write_e) {
		ekl = expiry_key(ek, v->expires_at, v->id);
		if ((rc = db_put(st, txn, st->expiry, ek, ekl, "E", 1,
		    "expiry_put")) != STORE_OK)
			return rc;
	}

	/* queue */
	had_q = was_pending && old->send_state == SEND_QUEUED;
	want_q = is_pending && v->send_state == SEND_QUEUED;
	if (want_q && !had_q)
		return db_put(st, txn, st->queue, v->id, idl, "", 0,
		    "queue_put");
	if (had_q && !want_q)
		return db_del(st, txn, st->queue, v->id, idl, "queue_del");
	return STORE_OK;
}

int
store_verif_put(struct store *st, const struct verif *v)
{
	MDB_txn *txn;
	MDB_val k, d;
	struct store_record_head old;
	int rc;

	if ((rc = batch_txn(st, &txn)) != STORE_OK)
		return rc;
	if (!valid_id(v->id) || v->status < VERIF_PENDING ||
	    v->status > VERIF_FAILED)
		return batch_fail(st, STORE_ERR, "verif_put", "invalid record");
	/* The stored version's head only: what the indexes depend on. */
	k.mv_size = strlen(v->id);
	k.mv_data = (void *)v->id;
	rc = mdb_get(txn, st->verif, &k, &d);
	if (rc == MDB_NOTFOUND)
		return verif_write(st, txn, v, NULL);
	if (rc != 0)
		return mdb_fail(st, rc, "verif_get");
	if (store_record_head_decode(d.mv_data, d.mv_size, &old) != STORE_OK)
		return batch_fail(st, STORE_ERR, "verif_put",
		    "stored record unreadable");
	return verif_write(st, txn, v, &old);
}

/* Test hook, declared by tests/check_store.c only: stage buf as the raw
 * record of id, indexes untouched (an older format, a corrupt record). */
int store_record_put_raw_for_test(struct store *, const char *id,
    const void *buf, size_t len);

int
store_record_put_raw_for_test(struct store *st, const char *id,
    const void *buf, size_t len)
{
	MDB_txn *txn;
	int rc;

	if ((rc = batch_txn(st, &txn)) != STORE_OK)
		return rc;
	return db_put(st, txn, st->verif, id, strlen(id), buf, len, "raw_put");
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
	MDB_val key = { kl, (void *)k }, d;
	int rc;

	if ((txn = view_begin(st)) == NULL)
		return STORE_ERR;
	rc = mdb_get(txn, dbi, &key, &d);
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
	MDB_txn *txn;
	char k[MSGID_KEY_MAX], rk[32 + 1 + MSGID_KEY_MAX];
	size_t kl, idl;
	int rc;

	if ((rc = batch_txn(st, &txn)) != STORE_OK)
		return rc;
	kl = pair_key(k, sizeof(k), smsc, msgid);
	if (kl == 0 || msgid[0] == '\0' || !valid_id(id))
		return batch_fail(st, STORE_ERR, "msgid_put", "invalid key");
	idl = strlen(id);
	memcpy(rk, id, idl);
	rk[idl] = '\0';
	memcpy(rk + idl + 1, k, kl);
	if ((rc = db_put(st, txn, st->msgid, k, kl, id, idl,
	    "msgid_put")) != STORE_OK)
		return rc;
	return db_put(st, txn, st->msgref, rk, idl + 1 + kl, "", 0,
	    "msgref_put");
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
	batch_open(st, 1);
	if (st->nwaiter == st->waitercap) {
		st->waitercap = st->waitercap ? st->waitercap * 2 : 16;
		st->waiters = xrealloc(st->waiters,
		    (size_t)st->waitercap * sizeof(*st->waiters));
	}
	st->waiters[st->nwaiter].cb = cb;
	st->waiters[st->nwaiter].arg = arg;
	st->nwaiter++;
}

int
store_flush(struct store *st)
{
	return batch_commit(st);
}

int
store_queue_each(struct store *st, void (*fn)(void *arg, const char *id),
    void *arg)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, d;
	char (*ids)[32] = NULL;
	int n = 0, cap = 0, rc, i;

	if ((txn = view_begin(st)) == NULL)
		return STORE_ERR;
	if ((rc = mdb_cursor_open(txn, st->queue, &c)) != 0) {
		view_end(st, txn);
		return STORE_ERR;
	}
	/* Collect first: fn may read the store, which needs the view. */
	for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
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
	mdb_cursor_close(c);
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
	uint8_t key[512];       /* LMDB's largest key: '?' entries too */
	size_t keylen;
	int64_t t;
	char id[32];
	char kind;      /* 'E', 'P', or '?' for an entry we cannot parse */
};

/* The first expiry entry if it is due at or before now: 1 (filled in), 0
 * none due, -1 error. */
static int
first_due(struct store *st, MDB_txn *txn, int64_t now, struct due *e)
{
	MDB_cursor *c;
	MDB_val k, d;
	int rc;

	if (mdb_cursor_open(txn, st->expiry, &c) != 0)
		return -1;
	rc = mdb_cursor_get(c, &k, &d, MDB_FIRST);
	if (rc != 0) {
		mdb_cursor_close(c);
		return rc == MDB_NOTFOUND ? 0 : -1;
	}
	if (k.mv_size > sizeof(e->key)) {
		mdb_cursor_close(c);
		log_err("store.error", "op=sweep err=\"bad expiry key\"");
		return -1;
	}
	memcpy(e->key, k.mv_data, k.mv_size);
	e->keylen = k.mv_size;
	mdb_cursor_close(c);
	e->t = e->keylen >= 8 ? (int64_t)get_be64(e->key) : 0;
	if (e->t > now)
		return 0;
	e->kind = '?';
	e->id[0] = '\0';
	if (e->keylen > 8 && e->keylen < 8 + 32 && d.mv_size == 1) {
		memcpy(e->id, e->key + 8, e->keylen - 8);
		e->id[e->keylen - 8] = '\0';
		e->kind = *(const char *)d.mv_data;
	}
	return 1;
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
		return db_del(st, txn, st->expiry, e->key, e->keylen,
		    "expiry_del");
	} else if (rc == STORE_NOTFOUND) {
		return db_del(st, txn, st->expiry, e->key, e->keylen,
		    "expiry_del");
	}
	verif_clear(&old);
	if ((rc = db_del(st, txn, st->expiry, e->key, e->keylen,
	    "expiry_del")) != STORE_OK)
		return rc;
	pkl = expiry_key(pk, e->t + retention, e->id);
	return db_put(st, txn, st->expiry, pk, pkl, "P", 1, "expiry_put");
}

/* Drop the msgid entries recorded for id in msgref. */
static int
purge_msgrefs(struct store *st, MDB_txn *txn, const char *id)
{
	char prefix[33], buf[32 + 1 + MSGID_KEY_MAX];
	size_t pl = strlen(id) + 1, kl;
	MDB_cursor *c;
	MDB_val k, d;
	int i, rc;

	memcpy(prefix, id, pl);         /* with its NUL */
	for (i = 0; i < PURGE_REF_MAX; i++) {
		if ((rc = mdb_cursor_open(txn, st->msgref, &c)) != 0)
			return mdb_fail(st, rc, "msgref_cursor");
		k.mv_size = pl;
		k.mv_data = prefix;
		rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
		if (rc == 0 && (k.mv_size <= pl || k.mv_size > sizeof(buf) ||
		    memcmp(k.mv_data, prefix, pl) != 0))
			rc = MDB_NOTFOUND;
		if (rc == 0) {
			kl = k.mv_size;
			memcpy(buf, k.mv_data, kl);
		}
		mdb_cursor_close(c);
		if (rc == MDB_NOTFOUND)
			return STORE_OK;
		if (rc != 0)
			return mdb_fail(st, rc, "msgref_get");
		if ((rc = db_del_if(st, txn, st->msgid, buf + pl, kl - pl, id,
		    "msgid_del")) != STORE_OK ||
		    (rc = db_del(st, txn, st->msgref, buf, kl,
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
		if ((rc = db_del(st, txn, st->queue, e->id, idl,
		    "queue_del")) != STORE_OK ||
		    (rc = purge_msgrefs(st, txn, e->id)) != STORE_OK ||
		    (rc = db_del(st, txn, st->verif, e->id, idl,
		    "verif_del")) != STORE_OK)
			goto out;
		st->purged++;
	} else if (rc == STORE_ERR) {
		log_warn("store.purge_skipped", "id=%s", e->id);
	}
	rc = db_del(st, txn, st->expiry, e->key, e->keylen, "expiry_del");
out:
	verif_clear(&v);
	return rc;
}

int
store_sweep(struct store *st, int64_t now, int max, int64_t retention,
    void (*fn)(void *arg, const struct verif *), void *arg)
{
	MDB_txn *txn;
	struct due e;
	struct verif expired;
	int n = 0, rc;

	if (max <= 0)
		return 0;
	/* Peek through a read view: nothing due opens no batch. */
	if ((txn = view_begin(st)) == NULL)
		return STORE_ERR;
	rc = first_due(st, txn, now, &e);
	view_end(st, txn);
	if (rc <= 0)
		return rc < 0 ? STORE_ERR : 0;
	if (batch_txn(st, &txn) != STORE_OK)
		return STORE_ERR;
	while (n < max) {
		/* Each round starts from the first entry again: the handled
		 * one is gone, and fn may have written to the batch. */
		rc = first_due(st, txn, now, &e);
		if (rc < 0)
			return batch_fail(st, STORE_ERR, "sweep",
			    "expiry index unreadable");
		if (rc == 0)
			break;
		memset(&expired, 0, sizeof(expired));
		if (e.kind == 'E')
			rc = sweep_expire(st, txn, &e, now, retention,
			    &expired);
		else if (e.kind == 'P')
			rc = sweep_purge(st, txn, &e);
		else
			rc = db_del(st, txn, st->expiry, e.key, e.keylen,
			    "expiry_del");
		if (rc != STORE_OK) {
			verif_clear(&expired);
			return STORE_ERR;
		}
		n++;
		if (expired.id[0] != '\0') {
			if (fn != NULL)
				fn(arg, &expired);
			verif_clear(&expired);
			/* fn may have failed the batch. */
			if (st->state != BATCH_OPEN || st->wtxn != txn)
				return STORE_ERR;
		}
	}
	return n;
}

/* ---- stats ------------------------------------------------------------ */

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
	MDB_txn *txn;
	MDB_val k, d;
	uint8_t kb[8];
	size_t kl = strlen(key), bl = strlen(body);
	uint8_t *p;
	int rc;

	if ((rc = batch_txn(st, &txn)) != STORE_OK)
		return rc;
	put_be64(kb, st->outbox_seq);
	k.mv_size = 8;
	k.mv_data = kb;
	d.mv_size = OUTBOX_HEAD + kl + 1 + bl;
	d.mv_data = NULL;
	if ((rc = mdb_put(txn, st->outbox, &k, &d, MDB_RESERVE)) != 0)
		return mdb_fail(st, rc, "outbox_put");
	p = d.mv_data;
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

int
store_outbox_scan(struct store *st, uint64_t from, int max,
    void (*fn)(void *arg, struct store_event *), void *arg)
{
	struct store_event *evs;
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, d;
	uint8_t kb[8];
	int n = 0, i, rc;

	if (max <= 0)
		return 0;
	if ((txn = view_begin(st)) == NULL)
		return STORE_ERR;
	if (mdb_cursor_open(txn, st->outbox, &c) != 0) {
		view_end(st, txn);
		return STORE_ERR;
	}
	evs = xcalloc((size_t)max, sizeof(*evs));
	put_be64(kb, from);
	k.mv_size = 8;
	k.mv_data = kb;
	for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0 &&
	    n < max; rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		if (outbox_decode(&k, &d, &evs[n]) == 0)
			n++;
	}
	mdb_cursor_close(c);
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
	MDB_txn *txn;
	uint8_t kb[8];
	int rc;

	if ((rc = batch_txn(st, &txn)) != STORE_OK)
		return rc;
	put_be64(kb, seq);
	return db_del(st, txn, st->outbox, kb, 8, "outbox_del");
}

int
store_outbox_retry(struct store *st, uint64_t seq, int tries, int64_t due_ms)
{
	MDB_txn *txn;
	MDB_val k, d;
	uint8_t kb[8], *p;
	int rc;

	if ((rc = batch_txn(st, &txn)) != STORE_OK)
		return rc;
	put_be64(kb, seq);
	k.mv_size = 8;
	k.mv_data = kb;
	rc = mdb_get(txn, st->outbox, &k, &d);
	if (rc == MDB_NOTFOUND)
		return STORE_OK;
	if (rc != 0)
		return mdb_fail(st, rc, "outbox_retry");
	if (d.mv_size < OUTBOX_HEAD)
		return batch_fail(st, STORE_ERR, "outbox_retry", "malformed");
	/* Rewrite in place: same size, so the copy is the new value. */
	p = xmalloc(d.mv_size);
	memcpy(p, d.mv_data, d.mv_size);
	put_u32(p, (uint32_t)tries);
	put_u64(p + 4, (uint64_t)due_ms);
	rc = db_put(st, txn, st->outbox, kb, 8, p, d.mv_size, "outbox_retry");
	free(p);
	return rc;
}

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
