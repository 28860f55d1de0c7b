/*
 * store_shield.c - the shield's tripped ranges (store.h) on LMDB: one
 * entry per range in the shield database, keyed by the range's text,
 * valued as store_lmdb.h lays it out (a format octet, then four 64-bit
 * little-endian numbers).  An entry of another format or size is skipped
 * and logged, never misread.
 *
 * Who owns what: nothing is kept here; the entries a walk hands out live
 * for the callback only.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_lmdb.h"
#include "store_record.h"
#include "util.h"

#define SHIELD_FORMAT 1
#define SHIELD_VALUE 33         /* format(1) tripped_at until mature approved */

/* 1 for "+" and 1 to 15 digits. */
static int
range_valid(const char *r)
{
	size_t n = strlen(r);

	return n >= 2 && n <= 16 && r[0] == '+' &&
	    strspn(r + 1, "0123456789") == n - 1;
}

int
store_shield_put(struct store *st, const struct store_shield *t)
{
	uint8_t v[SHIELD_VALUE];
	int rc;

	if (!range_valid(t->range)) {
		if ((rc = store_stage(st)) != STORE_OK)
			return rc;
		return store_fail(st, STORE_ERR, "shield_put", "bad range");
	}
	v[0] = SHIELD_FORMAT;
	put_u64(v + 1, (uint64_t)t->tripped_at);
	put_u64(v + 9, (uint64_t)t->until);
	put_u64(v + 17, t->mature);
	put_u64(v + 25, t->approved);
	return store_db_put(st, st->shield, t->range, strlen(t->range), v,
	    sizeof(v), "shield_put");
}

int
store_shield_del(struct store *st, const char *range)
{
	if (!range_valid(range))
		return STORE_OK;        /* never stored */
	return store_db_del(st, st->shield, range, strlen(range), "shield_del");
}

/* Decode an entry into *t: 0, or -1 when it is not one of ours. */
static int
decode(const MDB_val *k, const MDB_val *d, struct store_shield *t)
{
	const uint8_t *p = d->mv_data;

	if (k->mv_size < 2 || k->mv_size >= sizeof(t->range) ||
	    d->mv_size != SHIELD_VALUE || p[0] != SHIELD_FORMAT)
		return -1;
	memset(t, 0, sizeof(*t));
	memcpy(t->range, k->mv_data, k->mv_size);
	t->range[k->mv_size] = '\0';
	if (!range_valid(t->range))
		return -1;
	t->tripped_at = (int64_t)get_u64(p + 1);
	t->until = (int64_t)get_u64(p + 9);
	t->mature = get_u64(p + 17);
	t->approved = get_u64(p + 25);
	return 0;
}

int
store_shield_each(struct store *st,
    void (*fn)(void *arg, const struct store_shield *t), void *arg)
{
	struct store_shield *all = NULL;
	MDB_txn *txn;
	MDB_val k, d;
	int n = 0, cap = 0, bad = 0, rc, i;

	if ((txn = store_view_begin(st)) == NULL)
		return STORE_ERR;
	/* Collect first: fn may stage writes, which needs no view. */
	for (rc = store_kv_seek(st, txn, st->shield, "", 0, 0, 1, &k, &d);
	    rc == 0; rc = store_kv_seek(st, txn, st->shield, k.mv_data,
	    k.mv_size, 1, 1, &k, &d)) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			all = xrealloc(all, (size_t)cap * sizeof(*all));
		}
		if (decode(&k, &d, &all[n]) == 0)
			n++;
		else
			bad++;
	}
	store_view_end(st, txn);
	if (rc != MDB_NOTFOUND) {
		free(all);
		return STORE_ERR;
	}
	if (bad > 0)
		log_warn("store.shield_unreadable", "entries=%d", bad);
	for (i = 0; i < n; i++)
		fn(arg, &all[i]);
	free(all);
	return n;
}
