/*
 * store_stats_rollup.c - the statistics' roll-up rows (store.h) on LMDB:
 * the stats database, gran(1) be64(start) owner NUL dim(1) group -> the
 * row's value (stats.c's encoding; opaque here).
 *
 * Time comes first, so the rows an event touches (its minute's, hour's
 * and day's, every owner and dimension) sit together in three places of
 * the tree, and a commit rewrites a few leaf pages instead of one per
 * series: measured with scripts/bench, a series-first layout cost the
 * sends a third more commit time.  A window of one series is then a seek
 * per bucket (gran, start, owner, dim) and a walk of its groups, skipping
 * from a bucket to the next one that has rows; the staged rows are laid
 * over it (a committed row in its newest version, then the staged rows
 * the database does not have yet, from one walk of each batch's entries
 * of this database).
 *
 * The prune walks each granularity from its oldest rows, which come
 * first, and stops at the first live one: the rest are newer.  It goes on
 * from call to call and looks at a bounded number of rows per call.
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
#define ROLLUP_KEY_MAX (1 + 8 + OWNER_MAX + 1 + 1 + STORE_ROLLUP_GROUP_MAX + \
    1 + 32)
#define PRUNE_LOOK_PER_DROP 4
#define PRUNE_LOOK_MIN 256

/* The seconds a row of gran covers (store.h). */
static int64_t
span_of(int gran)
{
	return gran == 'd' ? 86400 : gran == 'h' ? 3600 : 60;
}

/* The bucket prefix gran be64(t) owner NUL dim into buf: its length, 0
 * when something is bad. */
static size_t
bucket_key(uint8_t *buf, int gran, int64_t t, const char *owner, int dim)
{
	size_t on;

	if (gran < 0x21 || gran > 0x7e || dim < 0x21 || dim > 0x7e ||
	    t < 0 || !store_printable(owner, OWNER_MAX, &on))
		return 0;
	buf[0] = (uint8_t)gran;
	put_be64(buf + 1, (uint64_t)t);
	memcpy(buf + 9, owner, on);
	buf[9 + on] = '\0';
	buf[10 + on] = (uint8_t)dim;
	return on + 11;
}

/* The whole key: its length, 0 when something is bad.  On Redis each
 * node counts in rows of its own, the group followed by NUL and the
 * node's name (store_repl.c): two nodes never race on one row, and a
 * query adds their rows up by group, as it adds up the ranges of a
 * country. */
static size_t
row_key(struct store *st, uint8_t *buf, int gran, const char *owner, int dim,
    int64_t t, const char *group)
{
	size_t n = bucket_key(buf, gran, t, owner, dim), gn;
	const char *node = st->repl != NULL ? store_repl_node(st) : NULL;

	if (n == 0)
		return 0;
	gn = strnlen(group, STORE_ROLLUP_GROUP_MAX + 1);
	if (gn > STORE_ROLLUP_GROUP_MAX)
		return 0;
	memcpy(buf + n, group, gn);
	if (node != NULL) {
		buf[n + gn] = '\0';
		memcpy(buf + n + gn + 1, node, strlen(node));
		gn += 1 + strlen(node);
	}
	return n + gn;
}

/* A stored key read back: its granularity, time, and where its owner
 * and group are.  0, or -1 for a key we did not write. */
struct key_parts {
	int gran, dim;
	int64_t t;
	const uint8_t *owner, *group;
	size_t ownerlen, grouplen, prefixlen;   /* prefix: up to dim */
};

static int
key_parse(const void *key, size_t klen, struct key_parts *kp)
{
	const uint8_t *k = key, *nul;

	if (klen < 12 || klen > ROLLUP_KEY_MAX ||
	    (nul = memchr(k + 9, '\0', klen - 9)) == NULL ||
	    nul == k + 9 || (size_t)(nul - k) + 2 > klen)
		return -1;
	kp->gran = k[0];
	kp->t = (int64_t)get_be64(k + 1);
	kp->owner = k + 9;
	kp->ownerlen = (size_t)(nul - (k + 9));
	kp->dim = nul[1];
	kp->prefixlen = (size_t)(nul - k) + 2;
	kp->group = k + kp->prefixlen;
	kp->grouplen = klen - kp->prefixlen;
	/* A node's row: the group ends at its NUL. */
	if ((nul = memchr(kp->group, '\0', kp->grouplen)) != NULL)
		kp->grouplen = (size_t)(nul - kp->group);
	return kp->grouplen > STORE_ROLLUP_GROUP_MAX ? -1 : 0;
}

int
store_rollup_get(struct store *st, int gran, const char *owner, int dim,
    int64_t t, const char *group, void *buf, size_t size, size_t *len)
{
	uint8_t key[ROLLUP_KEY_MAX];
	size_t kl = row_key(st, key, gran, owner, dim, t, group);

	*len = 0;
	if (kl == 0)
		return STORE_ERR;
	return store_kv_copy(st, st->stats, key, kl, 0, buf, size, len);
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
	kl = row_key(st, key, gran, owner, dim, t, group);
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
found_add(struct found_list *l, const struct key_parts *kp, const void *val,
    size_t vlen)
{
	struct found *f;

	if (l->n == l->max) {
		l->more = 1;
		return;
	}
	if (vlen > STORE_ROLLUP_MAX)
		return;         /* not a row we wrote */
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->f = xrealloc(l->f, (size_t)l->cap * sizeof(*l->f));
	}
	f = &l->f[l->n++];
	f->t = kp->t;
	memcpy(f->group, kp->group, kp->grouplen);
	f->group[kp->grouplen] = '\0';
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

/* 1 when key is a row of (gran, owner, dim) with start in [from, to);
 * its parts into *kp. */
static int
in_window(const void *key, size_t klen, int gran, const char *owner,
    size_t ownerlen, int dim, int64_t from, int64_t to, struct key_parts *kp)
{
	return key_parse(key, klen, kp) == 0 && kp->gran == gran &&
	    kp->dim == dim && kp->ownerlen == ownerlen &&
	    memcmp(kp->owner, owner, ownerlen) == 0 && kp->t >= from &&
	    kp->t < to;
}

int
store_rollup_scan(struct store *st, int gran, const char *owner, int dim,
    int64_t from, int64_t to, int max, int *more,
    void (*fn)(void *arg, int64_t t, const char *group, const void *val,
    size_t len), void *arg)
{
	struct batch *layer[STORE_MAX_LAYERS];
	int nlayer = store_overlay_layers(st, layer);
	struct found_list l = { NULL, 0, 0, max, 0, NULL, 0, 0 };
	uint8_t at[ROLLUP_KEY_MAX];
	const struct batch_entry *e;
	struct key_parts kp;
	int64_t span = span_of(gran), t;
	size_t atl, on;
	MDB_cursor *c;
	MDB_txn *txn;
	MDB_val k, d;
	int rc, i;

	*more = 0;
	if (bucket_key(at, gran, 0, owner, dim) == 0 || !store_printable(owner, OWNER_MAX, &on))
		return STORE_ERR;
	if (from < 0)
		from = 0;
	from -= from % span;
	if (to <= from || max <= 0)
		return 0;
	if ((txn = store_view_begin(st)) == NULL)
		return STORE_ERR;
	if ((rc = mdb_cursor_open(txn, st->stats, &c)) != 0) {
		store_view_end(st, txn);
		log_err("store.error", "op=rollup_scan err=\"%s\"",
		    mdb_strerror(rc));
		return STORE_ERR;
	}
	/* Bucket by bucket: seek to (gran, t, owner, dim), walk its
	 * groups; then on to the next bucket that has any row at all (the
	 * key the walk stopped at names it). */
	t = from;
	rc = 0;
	while (rc == 0 && t < to && !l.more) {
		atl = bucket_key(at, gran, t, owner, dim);
		k.mv_size = atl;
		k.mv_data = at;
		rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
		while (rc == 0 && !l.more && k.mv_size >= atl &&
		    memcmp(k.mv_data, at, atl) == 0) {
			if (key_parse(k.mv_data, k.mv_size, &kp) == 0) {
				e = store_overlay_find(st, st->stats,
				    k.mv_data, k.mv_size);
				if (e == NULL)
					found_add(&l, &kp, d.mv_data,
					    d.mv_size);
				else if (!e->del)
					found_add(&l, &kp, e->val, e->vlen);
			}
			rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
		}
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			break;          /* nothing further in the database */
		}
		if (rc != 0)
			break;
		/* k: the first key past this bucket's series. */
		if (key_parse(k.mv_data, k.mv_size, &kp) != 0 ||
		    kp.gran != gran)
			break;          /* past this granularity */
		t = kp.t > t ? kp.t : t + span;
	}
	/* Rows staged and not in the database yet, each in its newest
	 * version (the open batch's when both batches have it). */
	for (i = 0; rc == 0 && i < nlayer && !l.more; i++) {
		for (e = store_batch_db_first(layer[i]->w, st->stats);
		    e != NULL && !l.more;
		    e = store_batch_db_next(layer[i]->w, e)) {
			MDB_val kk, dd;
			if (e->db != st->stats || e->del ||
			    !in_window(e->key, e->klen, gran, owner, on, dim,
			    from, to, &kp) ||
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
			found_add(&l, &kp, e->val, e->vlen);
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
	struct key_parts kp;
	size_t atl;
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
		const uint8_t *kb = k.mv_data;

		if (key_parse(kb, k.mv_size, &kp) != 0) {
			/* Not a key we wrote: not ours to judge. */
			rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
			continue;
		}
		if (kp.t + span_of(kp.gran) <= before) {
			e = store_overlay_find(st, st->stats, kb, k.mv_size);
			if (e == NULL || !e->del) {
				memcpy(drop[ndrop].key, kb, k.mv_size);
				drop[ndrop++].len = k.mv_size;
			}
			memcpy(st->rollup_from, kb, k.mv_size);
			st->rollup_fromlen = k.mv_size;
			rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
			continue;
		}
		/* A live row: the rest of its granularity is newer.  On to
		 * the next granularity (the next first octet). */
		at[0] = (uint8_t)(kp.gran + 1);
		atl = 1;
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
