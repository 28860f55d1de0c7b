/*
 * store_capture.c - test mode's captured messages (store.h) on LMDB: one
 * entry per message in the capture database, keyed by the number, a NUL,
 * the capture time in big-endian milliseconds and the verification's id
 * (so one number's entries are together, oldest first), valued as
 * store_lmdb.h lays it out (a format octet, the scripted receipt and its
 * time, then the sealed text).  An
 * entry of another format is skipped, never misread.
 *
 * The prune walks the database from its start, dropping what is old:
 * captures are test traffic, few, and looked at once per sweep up to
 * CAPTURE_LOOK entries.
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

#define CAPTURE_FORMAT 1
#define CAPTURE_HEAD 10         /* format(1) receipt(1) receipt_at(8) */
#define CAPTURE_LOOK 4096       /* entries a prune looks at */
#define CAPTURE_KEY_MAX (17 + 1 + 8 + 32)

/* The key of (phone, ms, id) into buf; its length. */
static size_t
capture_key(uint8_t *buf, const char *phone, int64_t ms, const char *id)
{
	size_t pl = strlen(phone), il = strlen(id);

	memcpy(buf, phone, pl);
	buf[pl] = '\0';
	put_be64(buf + pl + 1, (uint64_t)ms);
	memcpy(buf + pl + 9, id, il);
	return pl + 9 + il;
}

int
store_capture_put(struct store *st, const struct store_capture *c)
{
	uint8_t key[CAPTURE_KEY_MAX];
	size_t kl, sl;
	void *p;
	int rc;

	if (c->id[0] == '\0' || strlen(c->id) >= sizeof(c->id) ||
	    c->phone[0] == '\0' || strlen(c->phone) >= sizeof(c->phone) ||
	    c->receipt < 0 || c->receipt > 255 ||
	    c->sealed == NULL || (sl = strlen(c->sealed)) > 65535) {
		if ((rc = store_stage(st)) != STORE_OK)
			return rc;
		return store_fail(st, STORE_ERR, "capture_put", "bad capture");
	}
	kl = capture_key(key, c->phone, c->sent_at_ms, c->id);
	if ((rc = store_db_reserve(st, st->capture, key, kl,
	    CAPTURE_HEAD + sl, &p, "capture_put")) != STORE_OK)
		return rc;
	((uint8_t *)p)[0] = CAPTURE_FORMAT;
	((uint8_t *)p)[1] = (uint8_t)c->receipt;
	put_u64((uint8_t *)p + 2, (uint64_t)c->receipt_at_ms);
	memcpy((uint8_t *)p + CAPTURE_HEAD, c->sealed, sl);
	return STORE_OK;
}

/* Decode an entry into *c (c->sealed malloc'd): 0, or -1 when it is not
 * one of ours. */
static int
decode(const MDB_val *k, const MDB_val *d, struct store_capture *c)
{
	const uint8_t *kp = k->mv_data, *p = d->mv_data;
	const uint8_t *nul = memchr(kp, '\0', k->mv_size);
	size_t pl, il;

	if (nul == NULL || d->mv_size < CAPTURE_HEAD ||
	    p[0] != CAPTURE_FORMAT)
		return -1;
	pl = (size_t)(nul - kp);
	if (pl == 0 || pl >= sizeof(c->phone) || k->mv_size < pl + 9)
		return -1;
	il = k->mv_size - pl - 9;
	if (il == 0 || il >= sizeof(c->id))
		return -1;
	memset(c, 0, sizeof(*c));
	memcpy(c->phone, kp, pl);
	c->sent_at_ms = (int64_t)get_be64(kp + pl + 1);
	memcpy(c->id, kp + pl + 9, il);
	c->receipt = p[1];
	c->receipt_at_ms = (int64_t)get_u64(p + 2);
	c->sealed = xmalloc(d->mv_size - CAPTURE_HEAD + 1);
	memcpy(c->sealed, p + CAPTURE_HEAD, d->mv_size - CAPTURE_HEAD);
	c->sealed[d->mv_size - CAPTURE_HEAD] = '\0';
	return 0;
}

int
store_capture_each(struct store *st, const char *phone, int64_t since_ms,
    int max, void (*fn)(void *arg, const struct store_capture *c),
    void *arg)
{
	struct store_capture *all = NULL;
	uint8_t from[CAPTURE_KEY_MAX];
	size_t pl = phone != NULL ? strlen(phone) : 0, fl = 0;
	const uint8_t *nul;
	MDB_txn *txn;
	MDB_val k, d;
	int n = 0, cap = 0, rc, i, first;

	if ((phone != NULL && (pl == 0 || pl >= sizeof(all->phone))) ||
	    max <= 0)
		return 0;
	if (phone != NULL)
		fl = capture_key(from, phone, since_ms > 0 ? since_ms : 0,
		    "");
	if ((txn = store_view_begin(st)) == NULL)
		return STORE_ERR;
	/* Collect first (oldest first, the newest max kept): fn may stage
	 * writes, which needs no view. */
	for (rc = store_kv_seek(st, txn, st->capture, from, fl, 0, 1, &k, &d);
	    rc == 0; rc = store_kv_seek(st, txn, st->capture, k.mv_data,
	    k.mv_size, 1, 1, &k, &d)) {
		if (phone != NULL && (k.mv_size < pl + 1 ||
		    memcmp(k.mv_data, phone, pl) != 0 ||
		    ((const uint8_t *)k.mv_data)[pl] != '\0'))
			break;          /* past this number's entries */
		nul = memchr(k.mv_data, '\0', k.mv_size);
		if (phone == NULL && (nul == NULL || (size_t)(nul -
		    (const uint8_t *)k.mv_data) + 9 > k.mv_size ||
		    (int64_t)get_be64(nul + 1) < since_ms))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			all = xrealloc(all, (size_t)cap * sizeof(*all));
		}
		if (decode(&k, &d, &all[n]) == 0)
			n++;
	}
	store_view_end(st, txn);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		for (i = 0; i < n; i++)
			free(all[i].sealed);
		free(all);
		return STORE_ERR;
	}
	first = n > max ? n - max : 0;
	for (i = n - 1; i >= first; i--)
		fn(arg, &all[i]);
	for (i = 0; i < n; i++)
		free(all[i].sealed);
	free(all);
	return n - first;
}

int
store_capture_prune(struct store *st, int64_t before_ms, int max)
{
	struct { uint8_t k[CAPTURE_KEY_MAX]; size_t kl; } *drop;
	const uint8_t *nul;
	MDB_txn *txn;
	MDB_val k, d;
	int n = 0, look = 0, rc, i;

	if (max <= 0)
		return 0;
	if ((txn = store_view_begin(st)) == NULL)
		return STORE_ERR;
	drop = xcalloc((size_t)max, sizeof(*drop));
	for (rc = store_kv_seek(st, txn, st->capture, "", 0, 0, 0, &k, &d);
	    rc == 0 && n < max && look++ < CAPTURE_LOOK;
	    rc = store_kv_seek(st, txn, st->capture, k.mv_data, k.mv_size, 1,
	    0, &k, &d)) {
		nul = memchr(k.mv_data, '\0', k.mv_size);
		if (k.mv_size > CAPTURE_KEY_MAX || nul == NULL ||
		    (size_t)(nul - (const uint8_t *)k.mv_data) + 9 > k.mv_size)
			continue;
		if ((int64_t)get_be64(nul + 1) >= before_ms)
			continue;
		memcpy(drop[n].k, k.mv_data, k.mv_size);
		drop[n++].kl = k.mv_size;
	}
	store_view_end(st, txn);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		free(drop);
		return STORE_ERR;
	}
	for (i = 0; i < n; i++)
		if ((rc = store_db_del(st, st->capture, drop[i].k, drop[i].kl,
		    "capture_prune")) != STORE_OK) {
			free(drop);
			return rc;
		}
	free(drop);
	return n;
}
