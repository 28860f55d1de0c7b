/*
 * store_verif.c - verifications (store.h) on LMDB: the records and the
 * indexes kept in step with them.  store_lmdb.h gives the databases'
 * layouts; here is what keeps them true:
 *   pending  (key, phone) -> id while that verification is VERIF_PENDING
 *            or, once locked, VERIF_MAX_ATTEMPTS (until a newer one of the
 *            pair takes the entry, or the purge); only a record entering
 *            VERIF_PENDING takes the entry, so an update of an older
 *            pending one never takes it back
 *   expiry   'E' at the record's expires_at, from its insert on; moved
 *            while still 'E' when expires_at changes (store_sweep.c turns
 *            it into 'P')
 *   queue    be64(expires_at) id, present while VERIF_PENDING and
 *            SEND_QUEUED (moved when expires_at changes)
 *   msgid    (smsc, normalised message id) -> id, with its msgref twin
 *
 * Cost per write: a put reads only the head of the stored record (the
 * fields the indexes depend on), touches only the index entries whose
 * inputs changed, and encodes the record straight into the batch's arena.
 *
 * Who owns what: a struct verif read here is the caller's (verif_clear()
 * it); one given to a put is only read.  The record's encoding is
 * store_record.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_lmdb.h"
#include "store_record.h"
#include "util.h"

/* ---- keys ------------------------------------------------------------- */

/* "a NUL b" into buf; its length, or 0 when it does not fit. */
size_t
store_pair_key(char *buf, size_t size, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la == 0 || la + 1 + lb > size)
		return 0;
	memcpy(buf, a, la);
	buf[la] = '\0';
	memcpy(buf + la + 1, b, lb);
	return la + 1 + lb;
}

/* be64(t) id into buf (at least 8 + 32 octets); its length. */
size_t
store_expiry_key(uint8_t *buf, int64_t t, const char *id)
{
	size_t n = strlen(id);

	put_be64(buf, (uint64_t)t);
	memcpy(buf + 8, id, n);
	return 8 + n;
}

static int
valid_id(const char *id)
{
	size_t n = strnlen(id, 32);

	return n > 0 && n < 32;
}

/* ---- records ---------------------------------------------------------- */

int
store_verif_load(struct store *st, MDB_txn *txn, const char *id,
    struct verif *out)
{
	MDB_val d;
	int rc;

	rc = store_kv_get(st, txn, st->verif, id, strlen(id), &d);
	if (rc == 0)
		return store_record_decode(d.mv_data, d.mv_size, out);
	memset(out, 0, sizeof(*out));
	if (rc == MDB_NOTFOUND)
		return STORE_NOTFOUND;
	log_err("store.error", "op=get id=%s err=\"%s\"", id,
	    mdb_strerror(rc));
	return STORE_ERR;
}

/* Stage v and bring the indexes from old (NULL: insert) in step with it:
 * only the index entries whose inputs changed are touched.  Reads go
 * through txn (a view). */
int
store_verif_write(struct store *st, MDB_txn *txn, const struct verif *v,
    const struct store_record_head *old)
{
	MDB_val d;
	char pk[64];
	uint8_t ek[40];
	size_t pkl, ekl, idl = strlen(v->id), size;
	void *p;
	int rc, was_pending, is_pending, was_held, is_held, moved, had_q,
	    want_q, write_e;

	/* Encoded straight into the batch. */
	if ((size = store_record_size(v)) == 0)
		return store_fail(st, STORE_ERR, "verif_put",
		    "record cannot be encoded");
	if ((rc = store_db_reserve(st, st->verif, v->id, idl, size, &p,
	    "verif_put")) != STORE_OK)
		return rc;
	store_record_encode(v, p);

	/* pending: taken on entering VERIF_PENDING (or moving to another
	 * pair) only, so an update of an older pending verification never
	 * takes the entry back from a newer one.  A lock keeps it: the
	 * pair's locked verification is still the one that counts, for a
	 * check by number (max_attempts_reached, not not_found) and for the
	 * next send (a repeat within the window). */
	was_pending = old != NULL && old->status == VERIF_PENDING;
	is_pending = v->status == VERIF_PENDING;
	was_held = was_pending || (old != NULL &&
	    old->status == VERIF_MAX_ATTEMPTS);
	is_held = is_pending || v->status == VERIF_MAX_ATTEMPTS;
	moved = was_held && (strcmp(old->key, v->key) != 0 ||
	    strcmp(old->phone, v->phone) != 0);
	if (was_held && (!is_held || moved)) {
		pkl = store_pair_key(pk, sizeof(pk), old->key, old->phone);
		if (pkl > 0 && (rc = store_db_del_if(st, txn, st->pending, pk,
		    pkl, v->id, "pending_del")) != STORE_OK)
			return rc;
	}
	if (is_pending && (!was_pending || moved)) {
		pkl = store_pair_key(pk, sizeof(pk), v->key, v->phone);
		if (pkl == 0)
			return store_fail(st, STORE_ERR, "verif_put",
			    "empty key");
		if ((rc = store_db_put(st, st->pending, pk, pkl, v->id, idl,
		    "pending_put")) != STORE_OK)
			return rc;
	}

	/* expiry: 'E' at insert; moved when expires_at changes before the
	 * sweep reached it. */
	write_e = old == NULL;
	if (old != NULL && old->expires_at != v->expires_at) {
		ekl = store_expiry_key(ek, old->expires_at, v->id);
		rc = store_kv_get(st, txn, st->expiry, ek, ekl, &d);
		if (rc == 0 && d.mv_size == 1 &&
		    *(const char *)d.mv_data == 'E') {
			if ((rc = store_db_del(st, st->expiry, ek, ekl,
			    "expiry_del")) != STORE_OK)
				return rc;
			write_e = 1;
		} else if (rc != 0 && rc != MDB_NOTFOUND) {
			return store_mdb_fail(st, rc, "expiry_get");
		}
	}
	if (write_e) {
		ekl = store_expiry_key(ek, v->expires_at, v->id);
		if ((rc = store_db_put(st, st->expiry, ek, ekl, "E", 1,
		    "expiry_put")) != STORE_OK)
			return rc;
	}

	/* queue: keyed by expires_at, so the queue reads back in the order
	 * the dispatcher sends in (moved when expires_at changes). */
	had_q = was_pending && old->send_state == SEND_QUEUED;
	want_q = is_pending && v->send_state == SEND_QUEUED;
	if (had_q && (!want_q || old->expires_at != v->expires_at)) {
		ekl = store_expiry_key(ek, old->expires_at, v->id);
		if ((rc = store_db_del(st, st->queue, ek, ekl,
		    "queue_del")) != STORE_OK)
			return rc;
		had_q = 0;
	}
	if (want_q && !had_q) {
		/* On Redis the node that queued it sends it (its value). */
		const char *node = st->repl != NULL ? store_repl_node(st) : "";

		ekl = store_expiry_key(ek, v->expires_at, v->id);
		return store_db_put(st, st->queue, ek, ekl, node, strlen(node),
		    "queue_put");
	}
	return STORE_OK;
}

int
store_verif_put(struct store *st, const struct verif *v)
{
	MDB_txn *txn;
	MDB_val d;
	struct store_record_head old;
	int rc;

	if ((rc = store_stage(st)) != STORE_OK)
		return rc;
	if (!valid_id(v->id) || v->status < VERIF_PENDING ||
	    v->status > VERIF_FAILED)
		return store_fail(st, STORE_ERR, "verif_put", "invalid record");
	if ((txn = store_view_begin(st)) == NULL)
		return store_fail(st, STORE_ERR, "verif_put", "no read view");
	/* The stored version's head only: what the indexes depend on. */
	rc = store_kv_get(st, txn, st->verif, v->id, strlen(v->id), &d);
	if (rc == MDB_NOTFOUND)
		rc = store_verif_write(st, txn, v, NULL);
	else if (rc != 0)
		rc = store_mdb_fail(st, rc, "verif_get");
	else if (store_record_head_decode(d.mv_data, d.mv_size, &old) !=
	    STORE_OK)
		rc = store_fail(st, STORE_ERR, "verif_put",
		    "stored record unreadable");
	else
		rc = store_verif_write(st, txn, v, &old);
	store_view_end(st, txn);
	return rc;
}

/* Test hook, declared by tests/check_store.c only: stage buf as the raw
 * record of id, indexes untouched (an older format, a corrupt record). */
int store_record_put_raw_for_test(struct store *, const char *id,
    const void *buf, size_t len);

int
store_record_put_raw_for_test(struct store *st, const char *id,
    const void *buf, size_t len)
{
	return store_db_put(st, st->verif, id, strlen(id), buf, len, "raw_put");
}

int
store_verif_get(struct store *st, const char *id, struct verif *out)
{
	MDB_txn *txn;
	int rc;

	if (!valid_id(id) || (txn = store_view_begin(st)) == NULL) {
		memset(out, 0, sizeof(*out));
		return valid_id(id) ? STORE_ERR : STORE_NOTFOUND;
	}
	rc = store_verif_load(st, txn, id, out);
	store_view_end(st, txn);
	return rc;
}

/* ---- indexes ---------------------------------------------------------- */

/* Look up an index entry whose value is an id. */
static int
index_get(struct store *st, MDB_dbi dbi, const void *k, size_t kl, char *id,
    size_t idsize)
{
	size_t len;
	int rc;

	if (idsize == 0)
		return STORE_ERR;
	rc = store_kv_copy(st, dbi, k, kl, 0, id, idsize - 1, &len);
	if (rc == STORE_OK)
		id[len] = '\0';
	return rc;
}

int
store_pending_get(struct store *st, const char *key, const char *phone,
    char *id, size_t idsize)
{
	char pk[64];
	size_t pkl = store_pair_key(pk, sizeof(pk), key, phone);

	if (pkl == 0)
		return STORE_NOTFOUND;
	return index_get(st, st->pending, pk, pkl, id, idsize);
}

int
store_msgid_put(struct store *st, const char *smsc, const char *msgid,
    const char *id)
{
	char k[MSGID_KEY_MAX], rk[32 + 1 + MSGID_KEY_MAX];
	size_t kl, idl;
	int rc;

	if ((rc = store_stage(st)) != STORE_OK)
		return rc;
	kl = store_pair_key(k, sizeof(k), smsc, msgid);
	if (kl == 0 || msgid[0] == '\0' || !valid_id(id))
		return store_fail(st, STORE_ERR, "msgid_put", "invalid key");
	idl = strlen(id);
	memcpy(rk, id, idl);
	rk[idl] = '\0';
	memcpy(rk + idl + 1, k, kl);
	if ((rc = store_db_put(st, st->msgid, k, kl, id, idl,
	    "msgid_put")) != STORE_OK)
		return rc;
	return store_db_put(st, st->msgref, rk, idl + 1 + kl, "", 0,
	    "msgref_put");
}

int
store_msgid_get(struct store *st, const char *smsc, const char *msgid,
    char *id, size_t idsize)
{
	char k[MSGID_KEY_MAX];
	size_t kl = store_pair_key(k, sizeof(k), smsc, msgid);

	if (kl == 0)
		return STORE_NOTFOUND;
	return index_get(st, st->msgid, k, kl, id, idsize);
}

/* ---- the queue -------------------------------------------------------- */

/* The id of a queue key (be64(expires_at) id) into id (32 octets) and its
 * time into *t; -1 for a key of another shape. */
static int
queue_key_id(const MDB_val *k, char *id, int64_t *t)
{
	if (k->mv_size <= 8 || k->mv_size - 8 >= 32)
		return -1;
	memcpy(id, (const uint8_t *)k->mv_data + 8, k->mv_size - 8);
	id[k->mv_size - 8] = '\0';
	*t = (int64_t)get_be64(k->mv_data);
	return 0;
}

/* A queue entry this node sends: on LMDB alone every one; on Redis those
 * it queued (the entry's value names the node; another node's wait for
 * it: taking them over after a lease is still to come, issue 17). */
static int
queue_mine(struct store *st, const MDB_val *d)
{
	const char *node;

	if (st->repl == NULL || d->mv_size == 0)
		return 1;
	node = store_repl_node(st);
	return d->mv_size == strlen(node) &&
	    memcmp(d->mv_data, node, d->mv_size) == 0;
}

int
store_queue_scan(struct store *st, int64_t after_t, const char *after_id,
    int max, void (*fn)(void *arg, const char *id, int64_t expires_at),
    void *arg)
{
	MDB_txn *txn;
	MDB_val k, d;
	uint8_t from[40];
	size_t froml = 0;
	struct qent { char id[32]; int64_t t; } *ents;
	int n = 0, rc, i;

	if (max <= 0)
		return 0;
	if (after_id != NULL) {
		if (!valid_id(after_id))
			return STORE_ERR;
		froml = store_expiry_key(from, after_t, after_id);
	}
	if ((txn = store_view_begin(st)) == NULL)
		return STORE_ERR;
	ents = xcalloc((size_t)max, sizeof(*ents));
	/* Collect first: fn may read the store, which needs the view. */
	for (rc = store_kv_seek(st, txn, st->queue, from, froml, froml > 0, 1,
	    &k, &d); rc == 0 && n < max; rc = store_kv_seek(st, txn,
	    st->queue, k.mv_data, k.mv_size, 1, 1, &k, &d))
		if (queue_mine(st, &d) &&
		    queue_key_id(&k, ents[n].id, &ents[n].t) == 0)
			n++;
	store_view_end(st, txn);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		free(ents);
		return STORE_ERR;
	}
	for (i = 0; i < n; i++)
		fn(arg, ents[i].id, ents[i].t);
	free(ents);
	return n;
}

int
store_queue_each(struct store *st, void (*fn)(void *arg, const char *id),
    void *arg)
{
	MDB_txn *txn;
	MDB_val k, d;
	char (*ids)[32] = NULL;
	int64_t t;
	int n = 0, cap = 0, rc, i;

	if ((txn = store_view_begin(st)) == NULL)
		return STORE_ERR;
	/* Collect first: fn may read the store, which needs the view. */
	for (rc = store_kv_seek(st, txn, st->queue, "", 0, 0, 1, &k, &d);
	    rc == 0; rc = store_kv_seek(st, txn, st->queue, k.mv_data,
	    k.mv_size, 1, 1, &k, &d)) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ids = xrealloc(ids, (size_t)cap * sizeof(*ids));
		}
		if (queue_mine(st, &d) && queue_key_id(&k, ids[n], &t) == 0)
			n++;
	}
	store_view_end(st, txn);
	if (rc != MDB_NOTFOUND) {
		free(ids);
		return STORE_ERR;
	}
	for (i = 0; i < n; i++)
		fn(arg, ids[i]);
	free(ids);
	return n;
}

/*
 * Before the queue was ordered by expiry its keys were the bare ids (from
 * 2026-12, format of the queue database 1).  An id is printable, so its
 * first octet is never 0; a be64 time before the year 2^56 s always
 * starts with 0.  At open, in the opening transaction, every old key is
 * rewritten as be64(expires_at) id from its record, so a data directory of
 * an older release opens with its queue in the new order; an entry whose
 * record is gone or unreadable cannot be resumed and is dropped (logged).
 */
int
store_queue_upgrade(MDB_txn *txn, MDB_dbi queue, MDB_dbi verif, int *moved)
{
	struct store_record_head h;
	MDB_cursor *c;
	MDB_val k, d;
	char (*ids)[32] = NULL;
	uint8_t nk[40];
	size_t nkl;
	int n = 0, cap = 0, rc, i;

	*moved = 0;
	if ((rc = mdb_cursor_open(txn, queue, &c)) != 0)
		return rc;
	for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		if (k.mv_size == 0 || *(const uint8_t *)k.mv_data == 0)
			continue;       /* the new layout */
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ids = xrealloc(ids, (size_t)cap * sizeof(*ids));
		}
		if (k.mv_size >= sizeof(ids[0]))
			k.mv_size = sizeof(ids[0]) - 1;
		memcpy(ids[n], k.mv_data, k.mv_size);
		ids[n][k.mv_size] = '\0';
		n++;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		goto out;
	rc = 0;
	for (i = 0; i < n && rc == 0; i++) {
		k.mv_size = strlen(ids[i]);
		k.mv_data = ids[i];
		if ((rc = mdb_del(txn, queue, &k, NULL)) != 0)
			break;
		rc = mdb_get(txn, verif, &k, &d);
		if (rc == MDB_NOTFOUND || (rc == 0 && store_record_head_decode(
		    d.mv_data, d.mv_size, &h) != STORE_OK)) {
			log_warn("store.queue_dropped", "id=%s msg=\"its record "
			    "cannot be read\"", ids[i]);
			rc = 0;
			continue;
		}
		if (rc != 0)
			break;
		nkl = store_expiry_key(nk, h.expires_at, ids[i]);
		k.mv_size = nkl;
		k.mv_data = nk;
		d.mv_size = 0;
		d.mv_data = "";
		if ((rc = mdb_put(txn, queue, &k, &d, 0)) == 0)
			(*moved)++;
	}
out:
	free(ids);
	return rc;
}

/* On Redis: up to max queue entries of node (its lease ran out:
 * store_repl.c) become this node's, in the open batch, each read first
 * (two nodes adopting one conflict).  The count, or a store error. */
int
store_queue_adopt(struct store *st, const char *node, int max)
{
	const char *self = store_repl_node(st);
	size_t nl = strlen(node);
	MDB_txn *txn;
	MDB_val k, d;
	uint8_t (*keys)[40];
	size_t *lens;
	int count = 0, rc, i;

	if (max <= 0)
		return 0;
	if ((txn = store_view_begin(st)) == NULL)
		return STORE_ERR;
	keys = xcalloc((size_t)max, sizeof(*keys));
	lens = xcalloc((size_t)max, sizeof(*lens));
	for (rc = store_kv_seek(st, txn, st->queue, "", 0, 0, 1, &k, &d);
	    rc == 0 && count < max; rc = store_kv_seek(st, txn, st->queue,
	    k.mv_data, k.mv_size, 1, 1, &k, &d))
		if (d.mv_size == nl && memcmp(d.mv_data, node, nl) == 0 &&
		    k.mv_size <= sizeof(keys[0])) {
			memcpy(keys[count], k.mv_data, k.mv_size);
			lens[count++] = k.mv_size;
		}
	store_view_end(st, txn);
	for (i = 0, rc = STORE_OK; i < count && rc == STORE_OK; i++) {
		if ((txn = store_view_begin(st)) == NULL) {
			rc = STORE_ERR;
			break;
		}
		/* Read, for the conflict check; still there: ours now. */
		if (store_kv_get(st, txn, st->queue, keys[i], lens[i], &d) == 0)
			rc = store_db_put(st, st->queue, keys[i], lens[i], self,
			    strlen(self), "queue_adopt");
		store_view_end(st, txn);
	}
	free(keys);
	free(lens);
	return rc == STORE_OK ? count : rc;
}
