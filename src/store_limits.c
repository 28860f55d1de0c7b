/*
 * store_limits.c - the limits' counters (store.h) on LMDB: one entry per
 * counter, name -> until (8 octets, little-endian) and the counter's
 * octets, which only limits.c reads.  A get is one point lookup through
 * the staged writes (store_kv_get), so a send sees the counters the sends
 * before it in the same batch staged; a put is staged in the open batch,
 * with the send or check it counts.  store_sweep.c drops the counters
 * whose until has passed (store_limit_prune).
 *
 * Where a counter lives.  A send writes its (key, number) entry of the
 * pending index anyway; the counters of that same pair, "P/KEY/PHONE"
 * (sends) and "F/KEY/PHONE" (failed checks), are kept beside it in the
 * pending database, under "KEY NUL PHONE NUL P" (or F), so that their
 * update dirties the leaf page the send dirties already.  Numbers are
 * spread at random over the key space: in a database of their own, every
 * counter update of a group commit dirtied (and wrote, and synced) one
 * more page of its own.  Every other name lives in the limits database
 * under itself.  A counter of a pair written by an older version is still
 * in the limits database under its name: a get that finds nothing beside
 * the pending index reads it there, and the next put moves it (the old
 * entry is left to the prune, its until being no later than the new
 * one's).  A store that never held such counters (st->old_pairs 0, found
 * at open) is spared that second lookup.
 *
 * Who owns what: the caller's buffers; nothing is kept here.
 */
#include <string.h>

#include "store_lmdb.h"
#include "store_record.h"

#define LIMIT_HEAD 8            /* until */
#define PAIR_KEY_MAX (STORE_LIMIT_NAME_MAX + 2)

/* Where name lives: the database, and the key in it (into buf, at least
 * PAIR_KEY_MAX octets) with its length.  A pair's counter "P/KEY/PHONE"
 * or "F/KEY/PHONE" (KEY not empty, PHONE a "+" and digits) goes beside
 * the pending index; any other name, under itself, in the limits
 * database.  Returns 1 for a pair's counter. */
static int
counter_place(struct store *st, const char *name, size_t len, MDB_dbi *db,
    char *buf, size_t *klen)
{
	const char *phone = strrchr(name, '/');
	size_t kl, pl;

	if (len > 4 && (name[0] == 'P' || name[0] == 'F') && name[1] == '/' &&
	    phone != NULL && phone > name + 2 && phone[1] == '+' &&
	    (pl = len - (size_t)(phone + 1 - name)) > 1 &&
	    strspn(phone + 2, "0123456789") == pl - 1) {
		kl = (size_t)(phone - (name + 2));
		/* KEY NUL PHONE NUL kind: len - 2 + 2 octets */
		memcpy(buf, name + 2, kl);
		buf[kl] = '\0';
		memcpy(buf + kl + 1, phone + 1, pl);
		buf[kl + 1 + pl] = '\0';
		buf[kl + 2 + pl] = name[0];
		*klen = kl + 3 + pl;
		*db = st->pending;
		return 1;
	}
	memcpy(buf, name, len);
	*klen = len;
	*db = st->limits;
	return 0;
}

int
store_limit_old_pairs(MDB_txn *txn, MDB_dbi db, int *any)
{
	static const char *const prefix[] = { "F/", "P/" };
	MDB_cursor *c;
	MDB_val k, d;
	int i, rc = 0;

	*any = 0;
	if ((rc = mdb_cursor_open(txn, db, &c)) != 0)
		return rc;
	for (i = 0; i < 2 && !*any; i++) {
		k.mv_data = (void *)prefix[i];
		k.mv_size = 2;
		rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
		if (rc == 0 && k.mv_size >= 2 &&
		    memcmp(k.mv_data, prefix[i], 2) == 0)
			*any = 1;
		if (rc == MDB_NOTFOUND)
			rc = 0;
		if (rc != 0)
			break;
	}
	mdb_cursor_close(c);
	return rc;
}

int
store_limit_get(struct store *st, const char *name, void *buf, size_t size,
    size_t *len)
{
	char key[PAIR_KEY_MAX];
	MDB_dbi db;
	size_t kl, nl;
	int rc;

	*len = 0;
	if (!store_printable(name, STORE_LIMIT_NAME_MAX, &nl))
		return STORE_ERR;
	if (!counter_place(st, name, nl, &db, key, &kl))
		return store_kv_copy(st, db, key, kl, LIMIT_HEAD, buf, size,
		    len);
	rc = store_kv_copy(st, db, key, kl, LIMIT_HEAD, buf, size, len);
	if (rc == STORE_NOTFOUND && st->old_pairs)
		/* where an older version kept it */
		rc = store_kv_copy(st, st->limits, name, nl, LIMIT_HEAD, buf,
		    size, len);
	return rc;
}

int
store_limit_put(struct store *st, const char *name, const void *val,
    size_t len, int64_t until)
{
	char key[PAIR_KEY_MAX];
	size_t kl, nl;
	MDB_dbi db;
	void *p;
	int rc;

	if ((rc = store_stage(st)) != STORE_OK)
		return rc;
	if (!store_printable(name, STORE_LIMIT_NAME_MAX, &nl) || len > STORE_LIMIT_MAX)
		return store_fail(st, STORE_ERR, "limit_put",
		    "bad counter name or size");
	counter_place(st, name, nl, &db, key, &kl);
	if ((rc = store_db_reserve(st, db, key, kl,
	    LIMIT_HEAD + len, &p, "limit_put")) != STORE_OK)
		return rc;
	put_u64(p, (uint64_t)until);
	if (len > 0)
		memcpy((uint8_t *)p + LIMIT_HEAD, val, len);
	return STORE_OK;
}
