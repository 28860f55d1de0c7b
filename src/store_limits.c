/*
 * store_limits.c - the limits' counters (store.h) on LMDB: one entry per
 * counter in the limits database, name -> until (8 octets, little-endian)
 * and the counter's octets, which only limits.c reads.  A get is one point
 * lookup through the staged writes (store_kv_get), so a send sees the
 * counters the sends before it in the same batch staged; a put is staged
 * in the open batch, with the send or check it counts.  store_sweep.c
 * drops the counters whose until has passed (store_limit_prune).
 *
 * Who owns what: the caller's buffers; nothing is kept here.
 */
#include <string.h>

#include "store_lmdb.h"
#include "store_record.h"

#define LIMIT_HEAD 8            /* until */

/* 1 for a counter's name: 1..STORE_LIMIT_NAME_MAX printable octets. */
static int
name_ok(const char *name, size_t *len)
{
	size_t n = strnlen(name, STORE_LIMIT_NAME_MAX + 1);

	if (n == 0 || n > STORE_LIMIT_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x21 ||
		    (unsigned char)name[i] > 0x7e)
			return 0;
	*len = n;
	return 1;
}

int
store_limit_get(struct store *st, const char *name, void *buf, size_t size,
    size_t *len)
{
	MDB_txn *txn;
	MDB_val d;
	size_t kl;
	int rc;

	*len = 0;
	if (!name_ok(name, &kl))
		return STORE_ERR;
	if ((txn = store_view_begin(st)) == NULL)
		return STORE_ERR;
	rc = store_kv_get(st, txn, st->limits, name, kl, &d);
	if (rc == 0) {
		if (d.mv_size < LIMIT_HEAD ||
		    d.mv_size - LIMIT_HEAD > size) {
			rc = STORE_ERR;
		} else {
			*len = d.mv_size - LIMIT_HEAD;
			memcpy(buf, (const uint8_t *)d.mv_data + LIMIT_HEAD,
			    *len);
			rc = STORE_OK;
		}
	} else {
		rc = rc == MDB_NOTFOUND ? STORE_NOTFOUND : STORE_ERR;
	}
	store_view_end(st, txn);
	return rc;
}

int
store_limit_put(struct store *st, const char *name, const void *val,
    size_t len, int64_t until)
{
	size_t kl;
	void *p;
	int rc;

	if ((rc = store_stage(st)) != STORE_OK)
		return rc;
	if (!name_ok(name, &kl) || len > STORE_LIMIT_MAX)
		return store_fail(st, STORE_ERR, "limit_put",
		    "bad counter name or size");
	if ((rc = store_db_reserve(st, st->limits, name, kl,
	    LIMIT_HEAD + len, &p, "limit_put")) != STORE_OK)
		return rc;
	put_u64(p, (uint64_t)until);
	if (len > 0)
		memcpy((uint8_t *)p + LIMIT_HEAD, val, len);
	return STORE_OK;
}
