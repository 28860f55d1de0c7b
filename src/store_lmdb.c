/*
 * store_lmdb.c - the durable records (store.h) on LMDB: opening and
 * closing the environment, the read view, reads through the staged
 * writes, staging a write, and the stats.  store_lmdb.h lists the
 * databases and the files that hold the rest; only the store's files
 * include <lmdb.h>.
 *
 * Reads see the committed database through one reusable read-only
 * transaction, renewed for each read and reset right after it (so no
 * snapshot is held across loop turns: that would pin old pages and grow
 * the map), with the journal's generations (batches journaled and not
 * yet committed by LMDB), the batch with the writer and then the open
 * batch laid over it: the loop reads what it staged.  A batch leaves the
 * overlay only once LMDB has committed it (store_commit.c), so no read
 * misses it.  The outbox's scan is the one exception: it sees no event
 * that is not committed yet, in LMDB or the journal (an event is
 * delivered only once the change it describes is durable), though it
 * sees staged retries and deletions of committed ones.  No user callback is ever called while the read transaction is
 * live.
 *
 * The environment is opened without MDB_WRITEMAP: measured with 20000
 * puts in batches of 32 it was 15-25% slower here (the sparse map is
 * filled by page faults, and msync costs more than LMDB's pwrite), and a
 * full disk under a writable map is a SIGBUS, not an error.
 *
 * Who owns what: struct store is made and freed here; the commit engine's
 * parts of it (the events, the writer, the batches) are set up and torn
 * down by store_commit.c.  The read transaction is the loop's alone.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "store_lmdb.h"
#include "util.h"

/* ---- reads: the overlay over the database ------------------------------ */

int
store_printable(const char *s, size_t max, size_t *len)
{
	size_t n = strnlen(s, max + 1);

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	*len = n;
	return 1;
}

/* The read txn renewed.  NULL on failure (logged).  Pair with store_view_end()
 * before any callback. */
MDB_txn *
store_view_begin(struct store *st)
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

void
store_view_end(struct store *st, MDB_txn *txn)
{
	if (txn != NULL)
		mdb_txn_reset(txn);
}

/* The batches reads look through, newest first: the open batch, then the
 * writer's (on Redis, store_repl_layers()'s).  Their number. */
int
store_overlay_layers(struct store *st, struct batch **out)
{
	int n = 0;

	if (st->open != NULL)
		out[n++] = st->open;
	if (st->repl != NULL)
		return n + store_repl_layers(st, out + n, STORE_MAX_LAYERS - n);
	if (st->inflight != NULL)
		out[n++] = st->inflight;
	return n + store_jgen_layers(st, out + n, STORE_MAX_LAYERS - n);
}

/* The newest staged write of (db, key) in the layers; NULL when none
 * touches it. */
const struct batch_entry *
store_overlay_find(struct store *st, MDB_dbi db, const void *key, size_t klen)
{
	const struct batch_entry *e = NULL;
	struct batch *layer[STORE_MAX_LAYERS];
	int i, n;

	if (st->repl == NULL) {         /* the common case, without the array */
		if (st->open != NULL)
			e = store_batch_find(st->open->w, db, key, klen);
		if (e == NULL && st->inflight != NULL)
			e = store_batch_find(st->inflight->w, db, key, klen);
		for (i = st->njgen - 1; e == NULL && i >= 0; i--)
			e = store_batch_find(st->jgen[i]->w, db, key, klen);
		return e;
	}
	n = store_overlay_layers(st, layer);
	for (i = 0; e == NULL && i < n; i++)
		e = store_batch_find(layer[i]->w, db, key, klen);
	return e;
}

/* The newest version of (db, key) into *d: 0, MDB_NOTFOUND or LMDB's
 * error.  *d is valid until store_view_end() or the next write of that key. */
int
store_kv_get(struct store *st, MDB_txn *txn, MDB_dbi db, const void *key,
    size_t klen, MDB_val *d)
{
	const struct batch_entry *e;
	MDB_val k = { klen, (void *)key };

	if (st->repl != NULL)
		store_repl_note_read(st, db, key, klen);
	e = store_overlay_find(st, db, key, klen);
	if (e == NULL)
		return mdb_get(txn, db, &k, d);
	if (e->del)
		return MDB_NOTFOUND;
	d->mv_size = e->vlen;
	d->mv_data = e->val;
	return 0;
}

int
store_kv_copy(struct store *st, MDB_dbi db, const void *key, size_t klen,
    size_t skip, void *buf, size_t size, size_t *len)
{
	MDB_txn *txn;
	MDB_val d;
	int rc;

	*len = 0;
	if ((txn = store_view_begin(st)) == NULL)
		return STORE_ERR;
	rc = store_kv_get(st, txn, db, key, klen, &d);
	if (rc == 0 && (d.mv_size < skip || d.mv_size - skip > size)) {
		rc = STORE_ERR;
	} else if (rc == 0) {
		*len = d.mv_size - skip;
		memcpy(buf, (const uint8_t *)d.mv_data + skip, *len);
		rc = STORE_OK;
	} else {
		rc = rc == MDB_NOTFOUND ? STORE_NOTFOUND : STORE_ERR;
	}
	store_view_end(st, txn);
	return rc;
}

/* The first key of db at or above key (above it when strict) that is not
 * deleted, with its newest value: 0, MDB_NOTFOUND or LMDB's error.
 * with_new: keys staged but not in the database yet count too; without
 * it only committed keys are found (with their staged value, if any):
 * the database's and the journal's generations'. */
int
store_kv_seek(struct store *st, MDB_txn *txn, MDB_dbi db, const void *key,
    size_t klen, int strict, int with_new, MDB_val *ok, MDB_val *od)
{
	struct batch *layer[STORE_MAX_LAYERS];
	const struct batch_entry *e;
	uint8_t at[SEEK_KEY_MAX];
	size_t atl = klen, bkl;
	const void *bk;
	MDB_cursor *c;
	MDB_val k, d;
	int rc, i, nlayer, jlayers;

	if (klen > sizeof(at))
		return MDB_BAD_VALSIZE;
	nlayer = store_overlay_layers(st, layer);
	jlayers = st->repl == NULL && st->njgen < nlayer ? st->njgen : 0;
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
		/* Without with_new, committed keys: on LMDB also the
		 * journaled ones (the last layers) LMDB has not taken yet. */
		for (i = with_new ? 0 : nlayer - jlayers; i < nlayer; i++) {
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
		if ((e = store_overlay_find(st, db, bk, bkl)) == NULL) {
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

/* ---- staging writes --------------------------------------------------- */

/* Before staging a write under key k: STORE_OK, or the open batch's
 * error.  LMDB's key limits are checked here, so the writer never meets a
 * key it refuses. */
static int
stage_key(struct store *st, size_t kl, const char *op)
{
	int rc;

	if ((rc = store_stage(st)) != STORE_OK)
		return rc;
	if (kl == 0 || kl > (size_t)mdb_env_get_maxkeysize(st->env))
		return store_fail(st, STORE_ERR, op, "bad key size");
	return STORE_OK;
}

/* Stage a put of dl octets under (dbi, k): the space to fill into *p. */
int
store_db_reserve(struct store *st, MDB_dbi dbi, const void *k, size_t kl,
    size_t dl, void **p, const char *op)
{
	int rc;

	if ((rc = stage_key(st, kl, op)) != STORE_OK)
		return rc;
	*p = store_batch_put(st->open->w, dbi, k, kl, dl);
	return STORE_OK;
}

int
store_db_put(struct store *st, MDB_dbi dbi, const void *k, size_t kl,
    const void *d, size_t dl, const char *op)
{
	void *p;
	int rc;

	if ((rc = store_db_reserve(st, dbi, k, kl, dl, &p, op)) != STORE_OK)
		return rc;
	if (dl > 0)
		memcpy(p, d, dl);
	return STORE_OK;
}

int
store_db_del(struct store *st, MDB_dbi dbi, const void *k, size_t kl,
    const char *op)
{
	int rc;

	if ((rc = stage_key(st, kl, op)) != STORE_OK)
		return rc;
	store_batch_del(st->open->w, dbi, k, kl);
	return STORE_OK;
}

/* LMDB's error rc fails the open batch. */
int
store_mdb_fail(struct store *st, int rc, const char *op)
{
	return store_fail(st, store_mdb_result(rc), op, mdb_strerror(rc));
}

/* Delete the index entry k only while it still points at id. */
int
store_db_del_if(struct store *st, MDB_txn *txn, MDB_dbi dbi, const void *k,
    size_t kl, const char *id, const char *op)
{
	MDB_val d;
	int rc = store_kv_get(st, txn, dbi, k, kl, &d);

	if (rc == MDB_NOTFOUND)
		return STORE_OK;
	if (rc != 0)
		return store_mdb_fail(st, rc, op);
	if (d.mv_size != strlen(id) || memcmp(d.mv_data, id, d.mv_size) != 0)
		return STORE_OK;
	return store_db_del(st, dbi, k, kl, op);
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

/* Everything store_open() may have made, in reverse. */
static void
store_free(struct store *st)
{
	store_repl_free(st);
	store_commit_stop(st);  /* the writer first: it uses the env */
	if (st->rtxn != NULL)
		mdb_txn_abort(st->rtxn);
	if (st->env != NULL)
		mdb_env_close(st->env);
	free(st);
}

struct store *
store_open(struct event_base *base, const char *path, uint64_t map_size,
    char **err)
{
	return store_open_journal(base, path, map_size, 0, err);
}

struct store *
store_open_journal(struct event_base *base, const char *path,
    uint64_t map_size, uint64_t journal_size, char **err)
{
	struct store *st;
	MDB_txn *txn = NULL;
	const char *what, *why;
	char pb[256], jwhy[256];
	int rc, dead = 0, qmoved = 0;

	*err = NULL;
	if (mkdirs(path) != 0) {
		*err = open_error("cannot create", path, strerror(errno));
		return NULL;
	}
	st = xcalloc(1, sizeof(*st));
	st->base = base;
	st->map_size = map_size;
	st->journal_cap = journal_size;
	store_commit_init(st);
	if ((rc = mdb_env_create(&st->env)) != 0) {
		st->env = NULL;
		goto fail;
	}
	if ((rc = mdb_env_set_maxdbs(st->env, 32)) != 0 ||
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
	    (rc = mdb_dbi_open(txn, "shield", MDB_CREATE, &st->shield)) != 0 ||
	    (rc = mdb_dbi_open(txn, "limits", MDB_CREATE, &st->limits)) != 0 ||
	    (rc = mdb_dbi_open(txn, "capture", MDB_CREATE, &st->capture)) != 0 ||
	    (rc = mdb_dbi_open(txn, "inbox", MDB_CREATE, &st->inbox)) != 0 ||
	    (rc = mdb_dbi_open(txn, "inbox_digest", MDB_CREATE,
	    &st->inbox_digest)) != 0 ||
	    (rc = mdb_dbi_open(txn, "inbox_parts", MDB_CREATE,
	    &st->inbox_parts)) != 0 ||
	    (rc = mdb_dbi_open(txn, "idem", MDB_CREATE, &st->idem)) != 0 ||
	    (rc = mdb_dbi_open(txn, "stats", MDB_CREATE, &st->stats)) != 0 ||
	    (rc = mdb_dbi_open(txn, "repl", MDB_CREATE, &st->repl_db)) != 0 ||
	    (rc = store_outbox_last(txn, st->outbox, &st->outbox_seq)) != 0 ||
	    (rc = store_queue_upgrade(txn, st->queue, st->verif,
	    &qmoved)) != 0 ||
	    (rc = store_limit_old_pairs(txn, st->limits,
	    &st->old_pairs)) != 0) {
		if (txn != NULL)
			mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	if (store_journal_start(st, path, jwhy, sizeof(jwhy)) != 0) {
		*err = open_error("cannot open the journal of", path, jwhy);
		store_free(st);
		return NULL;
	}
	if (map_size == 0) {
		MDB_envinfo ei;

		mdb_env_info(st->env, &ei);
		st->map_size = ei.me_mapsize;
	}
	if (store_commit_start(st, &what, &why) != 0) {
		*err = open_error(what, path, why);
		store_free(st);
		return NULL;
	}
	log_info("store.open", "path=%s map_size=%" PRIu64 " stale_readers=%d",
	    log_str(pb, sizeof(pb), path), st->map_size, dead);
	if (qmoved > 0)
		log_info("store.queue_upgraded", "entries=%d", qmoved);
	return st;
fail:
	*err = open_error("cannot open", path, mdb_strerror(rc));
	store_free(st);
	return NULL;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	store_commit_drain(st);
	store_free(st);
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
	if (st->repl != NULL)
		store_repl_stats(st, out);
	if (mdb_env_info(st->env, &ei) == 0 &&
	    mdb_env_stat(st->env, &ms) == 0) {
		out->map_size = ei.me_mapsize;
		out->used = (uint64_t)(ei.me_last_pgno + 1) * ms.ms_psize;
	}
	if ((txn = store_view_begin(st)) == NULL)
		return;
	if (mdb_stat(txn, st->verif, &ms) == 0)
		out->verifs = ms.ms_entries;
	if (mdb_stat(txn, st->pending, &ms) == 0)
		out->pending = ms.ms_entries;
	if (mdb_stat(txn, st->queue, &ms) == 0)
		out->queued = ms.ms_entries;
	if (mdb_stat(txn, st->limits, &ms) == 0)
		out->limits = ms.ms_entries;
	store_view_end(st, txn);
}

