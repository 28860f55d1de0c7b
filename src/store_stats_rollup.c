/*
 * store_stats_rollup.c - the statistics' roll-up rows (store.h) on LMDB:
 * the stats database, gran(1) owner NUL dim(1) be64(start) group -> the
 * row's value (stats.c's encoding; opaque here).  A series (gran, owner,
 * dim) is contiguous and in time order, so a window of it is one cursor
 * walk; the staged rows are laid over it (a committed row in its newest
 * version, then the staged rows the database does not have yet, from one
 * walk of each batch's entries of this database).
 *
 * The prune walks the database from where the last call stopped: in a
 * series the rows are oldest first, so at its first live row it jumps to
 * the next series.  Every call looks at a bounded number of rows.
 *
 * Who owns what: the caller's buffers; the scan copies the rows it found
 * before it calls the caller's function.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_lmdb.h"
#include "util.h"

#define OWNER_MAX 32
#define ROLLUP_KEY_MAX (1 + OWNER_MAX + 1 + 1 + 8 + STORE_ROLLUP_GROUP_MAX)
#define PRUNE_LOOK_PER_DROP 4
#define PRUNE_LOOK_MIN 256

/* The series prefix gran owner NUL dim into buf: its length, 0 when the
 * names are bad. */
static size_t
series_key(uint8_t *buf, int gran, const char *owner, int dim)
{
	size_t on = strnlen(owner, OWNER_MAX + 1);

	if (gran < 0x21 || gran > 0x7e || dim < 0x21 || dim > 0x7e ||
	    on == 0 || on > OWNER_MAX)
		return 0;
	for (size_t i = 0; i < on; i++)
		if ((unsigned char)owner[i] < 0x21 ||
		    (unsigned char)owner[i] > 0x7e)
			return 0;
	buf[0] = (uint8_t)gran;
	memcpy(buf + 1, owner, on);
	buf[1 + on] = '\0';
	buf[2 + on] = (uint8_t)dim;
	return on + 3;
}

/* The whole key: its length, 0 when something is bad. */
static size_t
row_key(uint8_t *buf, int gran, const char *owner, int dim, int64_t t,
    const char *group)
{
	size_t n = series_key(buf, gran, owner, dim), gn;

	if (n == 0 || t < 0)
		return 0;
	gn = strnlen(group, STORE_ROLLUP_GROUP_MAX + 1);
	if (gn > STORE_ROLLUP_GROUP_MAX)
		return 0;
	put_be64(buf + n, (uint64_t)t);
	memcpy(buf + n + 8, group, gn);
	return n + 8 + gn;
}

int
store_rollup_get(struct store *st, int gran, const char *owner, int dim,
    int64_t t, const char *group, void *buf, size_t size, size_t *len)
{
	uint8_t key[ROLLUP_KEY_MAX];
	size_t kl = row_key(key, gran, owner, dim, t, group);
	MDB_txn *txn;
	MDB_val d;
	int rc;

	*len = 0;
	if (kl == 0)
		return STORE_ERR;
	if ((txn = store_view_begin(st)) == NULL)
		return STORE_ERR;
	rc = store_kv_get(st, txn, st->stats, key, kl, &d);
	if (rc == 0) {
		if (d.mv_size > size) {
			rc = STORE_ERR;
		} else {
			memcpy(buf, d.mv_data, d.mv_size);
			*len = d.mv_size;
			rc = STORE_OK;
		}
	} else {
		rc = rc == MDB_NOTFOUND ? STORE_NOTFOUND : STORE_ERR;
	}
	store_view_end(st, txn);
	return rc;
}

int
store_rollup_begin(struct store *st)
{
	return store_stage(st);
}

int
store_rollup_put(struct store *st, int gran, const char *owner, int dim,
    int64_t t, const char *group, const void *val, size_t len)
{
	uint8_t key[ROLLUP_KEY_MAX];
	size_t kl;
	int rc;

	if ((rc = store_stage(st)) != STORE_OK)
		return rc;
	kl = row_key(key, gran, owner, dim, t, group);
	if (kl == 0 || len == 0 || len > STORE_ROLLUP_MAX)
		return store_fail(st, STORE_ERR, "rollup_put",
		    "bad roll-up name or size");
	return store_db_put(st, st->stats, key, kl, val, len, "rollup_put");
}

/* ---- scan ------------------------------------------------------------ */

struct found {
	int64_t t;
	char group[STORE_ROLLUP_GROUP_MAX + 1];
	size_t off, len;          /* the value, in the list's arena */
};

/* The rows found, their values copied into one arena (no allocation per
 * row: a 30-day window reads ten thousand). */
struct found_list {
	struct found *f;
	int n, cap, max, more;
	uint8_t *arena;
	size_t used, size;
};

static void
found_add(struct found_list *l, size_t plen, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	struct found *f;
	size_t gn = klen - plen - 8;

	if (l->n == l->max) {
		l->more = 1;
		return;
	}
	if (vlen > STORE_ROLLUP_MAX || gn > STORE_ROLLUP_GROUP_MAX)
		return;         /* not a row we wrote */
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->f = xrealloc(l->f, (size_t)l->cap * sizeof(*l->f));
	}
	f = &l->f[l->n++];
	f->t = (int64_t)get_be64((const uint8_t *)key + plen);
	memcpy(f->group, (const uint8_t *)key + plen + 8, gn);
	f->group[gn] = '\0';
	if (l->used + vlen > l->size) {
		l->size = l->size ? l->size * 2 : 64 * 1024;
		while (l->used + vlen > l->size)
			l->size *= 2;
		l->arena = xrealloc(l->arena, l->size);
	}
	memcpy(l->arena + l->used, val, vlen);
	f->off = l->used;
	f->len = vlen;
	l->used += vlen;
}

/* 1 when key is a row of the series prefix (plen octets) in [lo, hi). */
static int
in_window(const uint8_t *prefix, size_t plen, const void *key, size_t klen,
    const uint8_t *lo, const uint8_t *hi)
{
	const uint8_t *k = key;

	if (klen < plen + 8 || memcmp(k, prefix, plen) != 0)
		return 0;
	return memcmp(k + plen, lo, 8) >= 0 && memcmp(k + plen, hi, 8) < 0;
}

int
store_rollup_scan(struct store *st, int gran, const char *owner, int dim,
    int64_t from, int64_t to, int max, int *more,
    void (*fn)(void *arg, int64_t t, const char *group, const void *val,
    size_t len), void *arg)
{
	struct batch *layer[2] = { st->open, st->inflight };
	uint8_t prefix[ROLLUP_KEY_MAX], lo[8], hi[8];
	struct found_list l = { NULL, 0, 0, max, 0, NULL, 0, 0 };
	const struct batch_entry *e;
	size_t plen;
	MDB_cursor *c;
	MDB_txn *txn;
	MDB_val k, d;
	int rc, i;

	*more = 0;
	if ((plen = series_key(prefix, gran, owner, dim)) == 0)
		return STORE_ERR;
	if (from < 0)
		from = 0;
	if (to <= from || max <= 0)
		return 0;
	put_be64(lo, (uint64_t)from);
	put_be64(hi, (uint64_t)to);
	memcpy(prefix + plen, lo, 8);
	if ((txn = store_view_begin(st)) == NULL)
		return STORE_ERR;
	if ((rc = mdb_cursor_open(txn, st->stats, &c)) != 0) {
		store_view_end(st, txn);
		log_err("store.error", "op=rollup_scan err=\"%s\"",
		    mdb_strerror(rc));
		return STORE_ERR;
	}
	k.mv_size = plen + 8;
	k.mv_data = prefix;
	rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
	while (rc == 0 && !l.more && in_window(prefix, plen, k.mv_data,
	    k.mv_size, lo, hi)) {
		e = store_overlay_find(st, st->stats, k.mv_data, k.mv_size);
		if (e == NULL)
			found_add(&l, plen, k.mv_data, k.mv_size, d.mv_data,
			    d.mv_size);
		else if (!e->del)
			found_add(&l, plen, k.mv_data, k.mv_size, e->val,
			    e->vlen);
		rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
	}
	if (rc == MDB_NOTFOUND || rc == 0)
		rc = 0;
	/* Rows staged and not in the database yet, each in its newest
	 * version (the open batch's when both batches have it). */
	for (i = 0; rc == 0 && i < 2 && !l.more; i++) {
		if (layer[i] == NULL)
			continue;
		for (e = store_batch_db_first(layer[i]->w, st->stats);
		    e != NULL && !l.more;
		    e = store_batch_db_next(layer[i]->w, e)) {
			MDB_val kk, dd;
			if (e->db != st->stats || e->del ||
			    !in_window(prefix, plen, e->key, e->klen, lo, hi) ||
			    store_overlay_find(st, st->stats, e->key,
			    e->klen) != e)
				continue;
			kk.mv_size = e->klen;
			kk.mv_data = (void *)e->key;
			if ((rc = mdb_get(txn, st->stats, &kk, &dd)) == 0)
				continue;       /* walked above */
			if (rc != MDB_NOTFOUND)
				break;
			rc = 0;
			found_add(&l, plen, e->key, e->klen, e->val, e->vlen);
		}
	}
	mdb_cursor_close(c);
	store_view_end(st, txn);
	if (rc != 0) {
		log_err("store.error", "op=rollup_scan err=\"%s\"",
		    mdb_strerror(rc));
		free(l.arena);
		free(l.f);
		return STORE_ERR;
	}
	for (i = 0; i < l.n; i++)
		fn(arg, l.f[i].t, l.f[i].group, l.arena + l.f[i].off,
		    l.f[i].len);
	free(l.arena);
	free(l.f);
	*more = l.more;
	return i;
}

/* ---- prune ----------------------------------------------------------- */

/* The seconds a row of gran covers (store.h). */
static int64_t
stats_span_of(int gran)
{
	return gran == 'd' ? 86400 : gran == 'h' ? 3600 : 60;
}

/* The series prefix length of a stored key (gran owner NUL dim), 0 when
 * it is not one of ours. */
static size_t
key_prefix(const uint8_t *k, size_t kl)
{
	const uint8_t *nul;

	if (kl < 4 || (nul = memchr(k + 1, '\0', kl - 1)) == NULL)
		return 0;
	if ((size_t)(nul - k) + 2 + 8 > kl)
		return 0;
	return (size_t)(nul - k) + 2;
}

int
store_rollup_prune(struct store *st, int64_t before, int max)
{
	struct {
		uint8_t key[ROLLUP_KEY_MAX];
		size_t len;
	} *drop;
	const struct batch_entry *e;
	int look, ndrop = 0, i, rc;
	uint8_t at[SEEK_KEY_MAX];
	size_t atl, pl;
	MDB_cursor *c;
	MDB_txn *txn;
	MDB_val k, d;

	if (max <= 0)
		return 0;
	if (max > 4096)
		max = 4096;
	look = max * PRUNE_LOOK_PER_DROP;
	if (look < PRUNE_LOOK_MIN)
		look = PRUNE_LOOK_MIN;
	if ((txn = store_view_begin(st)) == NULL)
		return STORE_ERR;
	if ((rc = mdb_cursor_open(txn, st->stats, &c)) != 0) {
		store_view_end(st, txn);
		log_err("store.error", "op=rollup_prune err=\"%s\"",
		    mdb_strerror(rc));
		return STORE_ERR;
	}
	drop = xmalloc((size_t)max * sizeof(*drop));
	atl = st->rollup_fromlen;
	memcpy(at, st->rollup_from, atl);
	k.mv_size = atl;
	k.mv_data = at;
	rc = mdb_cursor_get(c, &k, &d, atl > 0 ? MDB_SET_RANGE : MDB_FIRST);
	if (rc == 0 && atl > 0 && k.mv_size == atl &&
	    memcmp(k.mv_data, at, atl) == 0)
		rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
	for (i = 0; rc == 0 && i < look && ndrop < max; i++) {
		const uint8_t *kp = k.mv_data;
		int64_t t;

		pl = key_prefix(kp, k.mv_size);
		if (pl == 0 || k.mv_size > ROLLUP_KEY_MAX) {
			/* Not a key we wrote: not ours to judge. */
			rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
			continue;
		}
		t = (int64_t)get_be64(kp + pl);
		e = store_overlay_find(st, st->stats, kp, k.mv_size);
		if (t + stats_span_of(kp[0]) <= before) {
			if (e == NULL || !e->del) {
				memcpy(drop[ndrop].key, kp, k.mv_size);
				drop[ndrop++].len = k.mv_size;
			}
			memcpy(st->rollup_from, kp, k.mv_size);
			st->rollup_fromlen = k.mv_size;
			rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
			continue;
		}
		/* A live row: the rest of its series is newer.  On to the
		 * next series. */
		memcpy(at, kp, pl);
		memset(at + pl, 0xff, 8);
		atl = pl + 8;
		memcpy(st->rollup_from, at, atl);
		st->rollup_fromlen = atl;
		k.mv_size = atl;
		k.mv_data = at;
		rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
	}
	if (rc == MDB_NOTFOUND) {
		st->rollup_fromlen = 0;  /* the end: round again next time */
		rc = 0;
	}
	mdb_cursor_close(c);
	store_view_end(st, txn);
	if (rc != 0) {
		free(drop);
		log_err("store.error", "op=rollup_prune err=\"%s\"",
		    mdb_strerror(rc));
		return STORE_ERR;
	}
	for (i = 0; i < ndrop; i++)
		if ((rc = store_db_del(st, st->stats, drop[i].key,
		    drop[i].len, "rollup_del")) != STORE_OK) {
			free(drop);
			return STORE_ERR;
		}
	free(drop);
	return ndrop;
}
