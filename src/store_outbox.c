/*
 * store_outbox.c - the webhook outbox (store.h) on LMDB: events not yet
 * delivered, one entry each in the outbox database (store_lmdb.h gives
 * its layout), keyed by a sequence number in big-endian so the keys sort
 * in the order the events were staged.
 *
 * An event is staged in the batch of the change it describes, so it
 * exists exactly when the change does; the scan sees committed events
 * only (with their staged retries, without their staged deletions), so
 * nothing is delivered before the change it describes is durable.
 * Delivery is at least once: an event leaves only when webhook.c stages
 * its deletion, and a crash before that commit delivers it again.
 *
 * Who owns what: the events a scan hands out are the callee's (its body
 * above all); st->outbox_seq, the next number, is this file's, set at
 * open by store_outbox_last().
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_lmdb.h"
#include "store_record.h"
#include "util.h"

#define OUTBOX_HEAD 20          /* tries(4) due_ms(8) first_ms(8) */

/* The key after the outbox's last one into *next, and never below the
 * wall clock in microseconds: event numbers go to receivers (which drop
 * repeats by them), so a restart with an empty outbox must not start
 * over at 1. */
int
store_outbox_last(MDB_txn *txn, MDB_dbi dbi, uint64_t *next)
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


int
store_outbox_put(struct store *st, const char *key, const char *body,
    int64_t now_ms, uint64_t *seq)
{
	uint8_t kb[8], *p;
	size_t kl = strlen(key), bl = strlen(body);
	uint64_t n = st->outbox_seq;
	void *v;
	int rc;

	/* On Redis the low bits name the node that made the event: numbers
	 * of two nodes never meet, and each node delivers its own. */
	if (st->repl != NULL) {
		if (store_repl_tag(st) < 0)
			return store_fail(st, STORE_UNAVAILABLE, "outbox_put",
			    "this node's tag is not known yet");
		n = n << STORE_OUTBOX_TAG_BITS | (unsigned)store_repl_tag(st);
	}
	put_be64(kb, n);
	if ((rc = store_db_reserve(st, st->outbox, kb, 8,
	    OUTBOX_HEAD + kl + 1 + bl, &v, "outbox_put")) != STORE_OK)
		return rc;
	p = v;
	put_u32(p, 0);
	put_u64(p + 4, (uint64_t)now_ms);
	put_u64(p + 12, (uint64_t)now_ms);
	memcpy(p + OUTBOX_HEAD, key, kl + 1);
	memcpy(p + OUTBOX_HEAD + kl + 1, body, bl);
	if (seq != NULL)
		*seq = n;
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

/* Committed events only (see the top of the file), with their staged
 * retries, and without their staged deletions. */
int
store_outbox_scan(struct store *st, uint64_t from, int max,
    void (*fn)(void *arg, struct store_event *), void *arg)
{
	struct store_event *evs;
	MDB_txn *txn;
	MDB_val k, d;
	uint8_t kb[8];
	int n = 0, i, rc;

	if (max <= 0)
		return 0;
	if ((txn = store_view_begin(st)) == NULL)
		return STORE_ERR;
	evs = xcalloc((size_t)max, sizeof(*evs));
	put_be64(kb, from);
	for (rc = store_kv_seek(st, txn, st->outbox, kb, 8, 0, 0, &k, &d);
	    rc == 0 && n < max;
	    rc = store_kv_seek(st, txn, st->outbox, k.mv_data, k.mv_size, 1, 0,
	    &k, &d)) {
		if (k.mv_size == 8 && st->repl != NULL &&
		    (int)(get_be64(k.mv_data) &
		    ((1u << STORE_OUTBOX_TAG_BITS) - 1)) != store_repl_tag(st))
			continue;       /* another node's to deliver */
		if (outbox_decode(&k, &d, &evs[n]) == 0)
			n++;
	}
	store_view_end(st, txn);
	/* Callbacks only once the read is over: they may stage writes. */
	for (i = 0; i < n; i++)
		fn(arg, &evs[i]);
	free(evs);
	return n;
}

int
store_outbox_del(struct store *st, uint64_t seq)
{
	uint8_t kb[8];

	put_be64(kb, seq);
	return store_db_del(st, st->outbox, kb, 8, "outbox_del");
}

int
store_outbox_retry(struct store *st, uint64_t seq, int tries, int64_t due_ms)
{
	MDB_txn *txn;
	MDB_val d;
	uint8_t kb[8];
	void *p;
	int rc;

	if ((rc = store_stage(st)) != STORE_OK)
		return rc;
	if ((txn = store_view_begin(st)) == NULL)
		return store_fail(st, STORE_ERR, "outbox_retry",
		    "no read view");
	put_be64(kb, seq);
	rc = store_kv_get(st, txn, st->outbox, kb, 8, &d);
	if (rc == MDB_NOTFOUND)
		rc = STORE_OK;
	else if (rc != 0)
		rc = store_mdb_fail(st, rc, "outbox_retry");
	else if (d.mv_size < OUTBOX_HEAD)
		rc = store_fail(st, STORE_ERR, "outbox_retry", "malformed");
	else if ((rc = store_db_reserve(st, st->outbox, kb, 8, d.mv_size, &p,
	    "outbox_retry")) == STORE_OK) {
		/* The old value stays readable until the batch is freed. */
		memcpy(p, d.mv_data, d.mv_size);
		put_u32(p, (uint32_t)tries);
		put_u64((uint8_t *)p + 4, (uint64_t)due_ms);
	}
	store_view_end(st, txn);
	return rc;
}

/* Events committed and not delivered. */
uint64_t
store_outbox_count(struct store *st)
{
	MDB_txn *txn = store_view_begin(st);
	MDB_stat ms;
	uint64_t n = 0;

	if (txn == NULL)
		return 0;
	if (mdb_stat(txn, st->outbox, &ms) == 0)
		n = ms.ms_entries;
	store_view_end(st, txn);
	return n;
}

/* On Redis: up to max committed events of the node with tag (its lease
 * ran out: store_repl.c) become this node's, each under a number of this
 * node's, in the open batch.  Each is read first, so two nodes adopting
 * the same event conflict and one of them wins.  The count, or a store
 * error. */
int
store_outbox_adopt(struct store *st, unsigned tag, int max)
{
	MDB_txn *txn;
	MDB_val k, d;
	uint8_t at[8], kb[8], (*keys)[8];
	uint64_t n;
	int count = 0, rc, i, mine = store_repl_tag(st);

	if (mine < 0 || max <= 0)
		return 0;
	if ((txn = store_view_begin(st)) == NULL)
		return STORE_ERR;
	keys = xcalloc((size_t)max, sizeof(*keys));
	memset(at, 0, sizeof(at));
	for (rc = store_kv_seek(st, txn, st->outbox, at, 8, 0, 0, &k, &d);
	    rc == 0 && count < max;
	    rc = store_kv_seek(st, txn, st->outbox, k.mv_data, k.mv_size, 1, 0,
	    &k, &d))
		if (k.mv_size == 8 && (get_be64(k.mv_data) &
		    ((1u << STORE_OUTBOX_TAG_BITS) - 1)) == tag)
			memcpy(keys[count++], k.mv_data, 8);
	store_view_end(st, txn);
	for (i = 0; i < count; i++) {
		void *v;

		if ((txn = store_view_begin(st)) == NULL) {
			free(keys);
			return STORE_ERR;
		}
		rc = store_kv_get(st, txn, st->outbox, keys[i], 8, &d);
		if (rc != 0) {
			store_view_end(st, txn);
			continue;       /* gone meanwhile */
		}
		n = st->outbox_seq++ << STORE_OUTBOX_TAG_BITS | (unsigned)mine;
		put_be64(kb, n);
		rc = store_db_reserve(st, st->outbox, kb, 8, d.mv_size, &v,
		    "outbox_adopt");
		if (rc == STORE_OK)
			memcpy(v, d.mv_data, d.mv_size);
		store_view_end(st, txn);
		if (rc != STORE_OK ||
		    (rc = store_db_del(st, st->outbox, keys[i], 8,
		    "outbox_adopt")) != STORE_OK) {
			free(keys);
			return rc;
		}
	}
	free(keys);
	return count;
}
