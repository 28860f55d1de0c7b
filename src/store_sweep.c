/*
 * store_sweep.c - the sweep (store.h's store_sweep()) on LMDB: the walk
 * of the expiry index, in time order, expiring pending verifications and
 * purging finished records a retention period after their expiry.
 *
 * Each record has one expiry entry (store_verif.c writes it at insert):
 * 'E' at expires_at, which the sweep turns into 'P' at expires_at +
 * retention, whatever the record's status then ('E' of a record that is
 * no longer pending expires nothing); 'P' deletes the record and every
 * index entry of it.  An entry of a record gone or unreadable is dropped;
 * an unreadable record is never purged (a newer format, say: left alone).
 *
 * The due entries are gathered a chunk at a time by one merge of the
 * cursor with the staged entries of both batches (a seek per entry would
 * walk the batches once per entry: a sweep under a large batch was
 * quadratic).  Everything is staged in the open batch; nothing here
 * commits.
 *
 * The limits' counters are pruned here too (store_limit_prune), by a walk
 * of their database that goes on from call to call, and so are the
 * answers kept for Idempotency-Keys (store_idem_prune).
 *
 * Who owns what: an expired record handed to the callback is the sweep's,
 * cleared after the call; its status changes through verif_enter() only.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_lmdb.h"
#include "store_record.h"
#include "util.h"
#include "verif_state.h"

#define PURGE_REF_MAX 64        /* msgref entries dropped per purge */
#define SWEEP_CHUNK 64          /* due entries gathered per merge */

struct due {
	uint8_t key[SEEK_KEY_MAX];      /* '?' entries too */
	size_t keylen;
	int64_t t;
	char id[32];
	char kind;      /* 'E', 'P', or '?' for an entry we cannot parse */
};

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
	struct batch *layer[STORE_MAX_LAYERS];
	int nlayer = store_overlay_layers(st, layer);
	const struct batch_entry **cand = NULL, *e;
	size_t ncand = 0, cap = 0, ci = 0;
	MDB_cursor *c;
	MDB_val k, d;
	int count = 0, rc, i, cmp;

	/* Staged puts due at or after from, each only in its newest
	 * version (the open batch's when both batches have the key). */
	for (i = 0; i < nlayer; i++) {
		for (e = store_batch_db_first(layer[i]->w, st->expiry);
		    e != NULL; e = store_batch_db_next(layer[i]->w, e)) {
			if (e->del || e->klen > SEEK_KEY_MAX ||
			    due_time(e->key, e->klen) > now ||
			    store_batch_keycmp(e->key, e->klen, from,
			    fromlen) < 0 ||
			    store_overlay_find(st, st->expiry, e->key,
			    e->klen) != e)
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
			e = store_overlay_find(st, st->expiry, k.mv_data,
			    k.mv_size);
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

/* What the index logic needs of v: the head a stored v would have. */
static void
head_of(const struct verif *v, struct store_record_head *h)
{
	h->status = v->status;
	h->send_state = v->send_state;
	h->expires_at = v->expires_at;
	memcpy(h->key, v->key, sizeof(h->key));
	memcpy(h->phone, v->phone, sizeof(h->phone));
}

/* 'E': expire a still pending record, then schedule its purge.  The
 * record is read into *expired (zeroed by the caller), which keeps it
 * when it expired here, for the callback, and is cleared otherwise; on
 * an error the caller clears it. */
static int
sweep_expire(struct store *st, MDB_txn *txn, const struct due *e,
    int64_t now, int64_t retention, struct verif *expired)
{
	struct store_record_head oh;
	uint8_t pk[8 + 32];
	size_t pkl;
	int rc;

	rc = store_verif_load(st, txn, e->id, expired);
	if (rc == STORE_OK && expired->status == VERIF_PENDING) {
		/* The indexes move from the stored head; the move erases
		 * the sealed text the record owns. */
		head_of(expired, &oh);
		verif_enter(expired, VERIF_EXPIRED, "expired", now);
		if ((rc = store_verif_write(st, txn, expired, &oh)) !=
		    STORE_OK)
			return rc;
		st->swept++;
	} else {
		/* Nothing to expire: already final, gone, or unreadable
		 * (e.g. a newer format: left alone, never purged). */
		verif_clear(expired);
		if (rc != STORE_OK)
			return store_db_del(st, st->expiry, e->key, e->keylen,
			    "expiry_del");
	}
	if ((rc = store_db_del(st, st->expiry, e->key, e->keylen,
	    "expiry_del")) != STORE_OK)
		return rc;
	pkl = store_expiry_key(pk, e->t + retention, e->id);
	return store_db_put(st, st->expiry, pk, pkl, "P", 1, "expiry_put");
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
		rc = store_kv_seek(st, txn, st->msgref, prefix, pl, 0, 1, &k,
		    &d);
		if (rc == 0 && (k.mv_size <= pl || k.mv_size > sizeof(buf) ||
		    memcmp(k.mv_data, prefix, pl) != 0))
			rc = MDB_NOTFOUND;
		if (rc == MDB_NOTFOUND)
			return STORE_OK;
		if (rc != 0)
			return store_mdb_fail(st, rc, "msgref_get");
		kl = k.mv_size;
		memcpy(buf, k.mv_data, kl);
		if ((rc = store_db_del_if(st, txn, st->msgid, buf + pl,
		    kl - pl, id, "msgid_del")) != STORE_OK ||
		    (rc = store_db_del(st, st->msgref, buf, kl,
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

	rc = store_verif_load(st, txn, e->id, &v);
	if (rc == STORE_OK) {
		for (i = 0; i < v.nsend; i++) {
			kl = store_pair_key(k, sizeof(k), v.send[i].smsc,
			    v.send[i].message_id);
			if (kl > 0 && (rc = store_db_del_if(st, txn,
			    st->msgid, k, kl, e->id, "msgid_del")) != STORE_OK)
				goto out;
		}
		kl = store_pair_key(k, sizeof(k), v.key, v.phone);
		if (kl > 0 && (rc = store_db_del_if(st, txn, st->pending, k, kl,
		    e->id, "pending_del")) != STORE_OK)
			goto out;
		kl = store_expiry_key((uint8_t *)k, v.expires_at, e->id);
		if ((rc = store_db_del(st, st->queue, k, kl,
		    "queue_del")) != STORE_OK ||
		    (rc = purge_msgrefs(st, txn, e->id)) != STORE_OK ||
		    (rc = store_db_del(st, st->verif, e->id, idl,
		    "verif_del")) != STORE_OK)
			goto out;
		st->purged++;
	} else if (rc == STORE_ERR) {
		log_warn("store.purge_skipped", "id=%s", e->id);
	}
	rc = store_db_del(st, st->expiry, e->key, e->keylen, "expiry_del");
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
		if ((txn = store_view_begin(st)) == NULL) {
			rc = fromlen == 0 ? STORE_ERR : store_fail(st,
			    STORE_ERR, "sweep", "no read view");
			break;
		}
		got = collect_due(st, txn, now, from, fromlen, chunk,
		    max - n < SWEEP_CHUNK ? max - n : SWEEP_CHUNK);
		store_view_end(st, txn);
		if (got < 0)
			rc = fromlen == 0 ? STORE_ERR : store_fail(st,
			    STORE_ERR, "sweep", "expiry index unreadable");
		if (got <= 0 || (fromlen == 0 &&
		    (rc = store_stage(st)) != STORE_OK))
			break;
		for (i = 0; i < got && rc == STORE_OK; i++) {
			const struct due *e = &chunk[i];

			if ((txn = store_view_begin(st)) == NULL) {
				rc = store_fail(st, STORE_ERR, "sweep",
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
				rc = store_db_del(st, st->expiry, e->key,
				    e->keylen, "expiry_del");
			store_view_end(st, txn);
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


/* ---- the limits' counters -------------------------------------------- */

#define PRUNE_LOOK_PER_DROP 4   /* counters looked at per one dropped */
#define PRUNE_LOOK_MIN 256
#define PRUNE_DROP_MAX 1024     /* counters dropped per call at most */

/* A counter's name to drop (as read). */
#define PRUNE_KEY_MAX (STORE_IDEM_KEY_MAX > STORE_LIMIT_NAME_MAX ? \
	STORE_IDEM_KEY_MAX : STORE_LIMIT_NAME_MAX)

struct prune_name {
	uint8_t key[PRUNE_KEY_MAX];
	size_t len;
	MDB_dbi db;
};

/* The time a value starts with (8 octets: a counter's until, an
 * answer's creation); 0 for a value too short to have one (dropped:
 * nothing can read it). */
static int64_t
entry_time(const void *val, size_t len)
{
	return len >= 8 ? (int64_t)get_u64(val) : 0;
}

/* A pair's counter beside the pending index (store_limits.c): "KEY NUL
 * PHONE NUL P" or F; the index's own entries ("KEY NUL PHONE") are not. */
static int
pair_counter(const void *key, size_t len)
{
	const uint8_t *k = key;

	return len > 2 && k[len - 2] == '\0' &&
	    (k[len - 1] == 'P' || k[len - 1] == 'F');
}

/* One walk of db from *from (*fromlen octets of fromcap, at most
 * PRUNE_KEY_MAX; 0: the start), looking at most look entries and adding
 * at most max - *ndrop dead ones to drop[]: those whose value starts with
 * a time (8 octets, little-endian: a counter's until, an answer's
 * creation) before now.  Where it stopped goes back to *from.  pairs: db
 * is the pending database, whose entries only some are counters. */
static int
prune_walk(struct store *st, MDB_txn *txn, MDB_dbi db, int pairs,
    uint8_t *from, size_t fromcap, size_t *fromlen, int64_t now, int look,
    int max, struct prune_name *drop, int *ndrop)
{
	const struct batch_entry *e;
	MDB_cursor *c;
	MDB_val k, d;
	int i, rc;

	if ((rc = mdb_cursor_open(txn, db, &c)) != 0)
		return rc;
	k.mv_size = *fromlen;
	k.mv_data = from;
	rc = mdb_cursor_get(c, &k, &d, *fromlen > 0 ? MDB_SET_RANGE :
	    MDB_FIRST);
	if (rc == 0 && *fromlen > 0 && k.mv_size == *fromlen &&
	    memcmp(k.mv_data, from, k.mv_size) == 0)
		rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
	for (i = 0; rc == 0 && i < look && *ndrop < max; i++) {
		int64_t t;

		if (k.mv_size > fromcap) {
			/* Not an entry we wrote, nor a place to go on
			 * from: not ours to judge. */
			rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
			continue;
		}
		if (!pairs || pair_counter(k.mv_data, k.mv_size)) {
			e = store_overlay_find(st, db, k.mv_data, k.mv_size);
			t = e == NULL ? entry_time(d.mv_data, d.mv_size) :
			    e->del ? INT64_MAX : entry_time(e->val, e->vlen);
			if (t < now) {
				memcpy(drop[*ndrop].key, k.mv_data, k.mv_size);
				drop[*ndrop].len = k.mv_size;
				drop[(*ndrop)++].db = db;
			}
		}
		memcpy(from, k.mv_data, k.mv_size);
		*fromlen = k.mv_size;
		rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
	}
	if (rc == MDB_NOTFOUND) {
		*fromlen = 0;   /* the end: round again next time */
		rc = 0;
	}
	mdb_cursor_close(c);
	return rc;
}

/* Where one walk of prune_run() goes: db (pairs: the pending database,
 * where only the pairs' counters are judged) from *from. */
struct prune_place {
	MDB_dbi db;
	int pairs;
	uint8_t *from;
	size_t fromcap, *fromlen;
};

/* The walks of places[], each looking at a bounded number of entries
 * (max * PRUNE_LOOK_PER_DROP, at least PRUNE_LOOK_MIN), then at most max
 * (and PRUNE_DROP_MAX) of those whose time is before cutoff dropped,
 * staged after the reads.  The number dropped, or STORE_ERR (op names it
 * in the log). */
static int
prune_run(struct store *st, const struct prune_place *places, int nplace,
    int64_t cutoff, int max, const char *op)
{
	struct prune_name *drop;
	int look, ndrop = 0, i, rc = 0;
	MDB_txn *txn;

	if (max <= 0)
		return 0;
	look = max > INT32_MAX / PRUNE_LOOK_PER_DROP ? INT32_MAX :
	    max * PRUNE_LOOK_PER_DROP;
	if (look < PRUNE_LOOK_MIN)
		look = PRUNE_LOOK_MIN;
	if (max > PRUNE_DROP_MAX)
		max = PRUNE_DROP_MAX;   /* the walk goes on next time */
	if ((txn = store_view_begin(st)) == NULL)
		return STORE_ERR;
	drop = xmalloc((size_t)max * sizeof(*drop));
	for (i = 0; rc == 0 && i < nplace; i++)
		rc = prune_walk(st, txn, places[i].db, places[i].pairs,
		    places[i].from, places[i].fromcap, places[i].fromlen,
		    cutoff, look, max, drop, &ndrop);
	store_view_end(st, txn);
	if (rc != 0) {
		free(drop);
		log_err("store.error", "op=%s err=\"%s\"", op,
		    mdb_strerror(rc));
		return STORE_ERR;
	}
	for (i = 0; i < ndrop; i++)
		if ((rc = store_db_del(st, drop[i].db, drop[i].key,
		    drop[i].len, op)) != STORE_OK) {
			free(drop);
			return STORE_ERR;
		}
	free(drop);
	return ndrop;
}

/*
 * The counters are walked in name order from where the last call stopped
 * (st->limit_from in the limits database, st->pair_from beside the
 * pending index), wrapping round at the end: with the sweep's cadence
 * every counter is looked at within (entries / look) sweeps, so dead ones
 * are gone within that time after their until.  The committed databases
 * are walked, each entry in its newest version (a counter staged since is
 * judged by its staged until; one only staged is new, so alive).
 */
int
store_limit_prune(struct store *st, int64_t now, int max)
{
	const struct prune_place places[] = {
		{ st->limits, 0, st->limit_from, sizeof(st->limit_from),
		    &st->limit_fromlen },
		{ st->pending, 1, st->pair_from, sizeof(st->pair_from),
		    &st->pair_fromlen },
	};

	return prune_run(st, places, 2, now, max, "limit_prune");
}

/*
 * The Idempotency-Keys' answers, walked as the counters are (from
 * st->idem_from, round and round): an entry made before `before` (its
 * value's first 8 octets) is dropped.  An entry staged since is judged by
 * its staged time; one only staged is new, so kept.
 */
int
store_idem_prune(struct store *st, int64_t before, int max)
{
	const struct prune_place place = { st->idem, 0, st->idem_from,
	    sizeof(st->idem_from), &st->idem_fromlen };

	return prune_run(st, &place, 1, before, max, "idem_prune");
}
