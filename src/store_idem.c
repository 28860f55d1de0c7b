/*
 * store_idem.c - the answers kept for Idempotency-Keys (store.h) on LMDB:
 * one entry per (API key, Idempotency-Key) in the idem database, keyed
 * "key NUL Idempotency-Key", valued created_at (8 octets, little-endian)
 * then the caller's record, opaque here (idem.h encodes it).  Their prune
 * is in store_sweep.c with the other walks.
 *
 * Who owns what: nothing is kept here; a record read is the caller's.
 */
#include <stdlib.h>
#include <string.h>

#include "store_lmdb.h"
#include "util.h"

/* "key NUL ikey" into buf (STORE_IDEM_KEY_MAX octets): its length, or 0
 * for an empty or too long key or ikey. */
static size_t
idem_key(char *buf, const char *key, const char *ikey)
{
	size_t kl = strlen(key), il = strlen(ikey);

	if (kl == 0 || kl > 32 || il == 0 || il > 255)
		return 0;
	memcpy(buf, key, kl);
	buf[kl] = '\0';
	memcpy(buf + kl + 1, ikey, il);
	return kl + 1 + il;
}

int
store_idem_get(struct store *st, const char *key, const char *ikey,
    int64_t *created_at, uint8_t **rec, size_t *len)
{
	char k[STORE_IDEM_KEY_MAX];
	size_t kl = idem_key(k, key, ikey);
	MDB_txn *txn;
	MDB_val d;
	int rc;

	*rec = NULL;
	*len = 0;
	*created_at = 0;
	if (kl == 0)
		return STORE_ERR;
	if ((txn = store_view_begin(st)) == NULL)
		return STORE_ERR;
	rc = store_kv_get(st, txn, st->idem, k, kl, &d);
	if (rc == 0 && d.mv_size >= 8 && d.mv_size <= 8 + STORE_IDEM_MAX) {
		*created_at = (int64_t)get_u64(d.mv_data);
		*len = d.mv_size - 8;
		*rec = xmalloc(*len + 1);
		memcpy(*rec, (const uint8_t *)d.mv_data + 8, *len);
	}
	store_view_end(st, txn);
	if (rc == MDB_NOTFOUND)
		return STORE_NOTFOUND;
	return *rec != NULL ? STORE_OK : STORE_ERR;
}

int
store_idem_put(struct store *st, const char *key, const char *ikey,
    int64_t created_at, const void *rec, size_t len)
{
	char k[STORE_IDEM_KEY_MAX];
	size_t kl = idem_key(k, key, ikey);
	void *p;
	int rc;

	if (kl == 0 || len > STORE_IDEM_MAX) {
		if ((rc = store_stage(st)) != STORE_OK)
			return rc;
		return store_fail(st, STORE_ERR, "idem_put",
		    kl == 0 ? "bad key" : "record too long");
	}
	if ((rc = store_db_reserve(st, st->idem, k, kl, 8 + len, &p,
	    "idem_put")) != STORE_OK)
		return rc;
	put_u64(p, (uint64_t)created_at);
	if (len > 0)
		memcpy((uint8_t *)p + 8, rec, len);
	return STORE_OK;
}
