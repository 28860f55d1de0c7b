/*
 * store_inbound.c - inbound messages (store.h) on LMDB: the inbox, newest
 * first in key order (the key starts with the inverted time, since reads
 * only seek forward), the digests of what was received, and the parts of
 * concatenated messages still waiting for the rest.  store_lmdb.h lays
 * the three databases out.  An entry of another format is skipped and
 * logged, never misread.
 *
 * Who owns what: nothing is kept here; a message handed to a callback
 * lives for the call only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "store_lmdb.h"
#include "util.h"

#define INBOX_FORMAT 1
#define INBOX_KEY_MAX (8 + 32)

void
store_inbound_clear(struct store_inbound *m)
{
	free(m->text);
	memset(m, 0, sizeof(*m));
}

/* be64(~ms) id into k; its length. */
static size_t
inbox_key(uint8_t *k, int64_t ms, const char *id)
{
	size_t n = strlen(id);

	put_be64(k, ~(uint64_t)ms);
	memcpy(k + 8, id, n);
	return 8 + n;
}

int
store_inbound_put(struct store *st, const struct store_inbound *m)
{
	uint8_t k[INBOX_KEY_MAX], t[8];
	char hex[33];
	json_t *j;
	char *body;
	size_t klen, blen;
	void *p;
	int rc;

	if ((rc = store_stage(st)) != STORE_OK)
		return rc;
	if (m->id[0] == '\0' || strnlen(m->id, sizeof(m->id)) >= sizeof(m->id) ||
	    m->text == NULL || strlen(m->text) > STORE_INBOUND_TEXT_MAX)
		return store_fail(st, STORE_ERR, "inbound_put", "bad message");
	util_hex(m->digest, sizeof(m->digest), hex);
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s}",
	    "id", m->id, "key", m->key, "from", m->from, "to", m->to,
	    "smsc", m->smsc, "received_ms", (json_int_t)m->received_ms,
	    "digest", hex, "text", m->text);
	body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (body == NULL)
		return store_fail(st, STORE_ERR, "inbound_put",
		    "not encodable (invalid UTF-8?)");
	blen = strlen(body);
	klen = inbox_key(k, m->received_ms, m->id);
	rc = store_db_reserve(st, st->inbox, k, klen, 1 + blen, &p,
	    "inbound_put");
	if (rc == STORE_OK) {
		((uint8_t *)p)[0] = INBOX_FORMAT;
		memcpy((uint8_t *)p + 1, body, blen);
		put_be64(t, (uint64_t)m->received_ms);
		rc = store_db_put(st, st->inbox_digest, m->digest,
		    sizeof(m->digest), t, sizeof(t), "inbound_put");
	}
	free(body);
	return rc;
}

int
store_inbound_seen(struct store *st, const uint8_t digest[16],
    int64_t *received_ms)
{
	MDB_txn *txn;
	MDB_val d;
	int rc;

	if ((txn = store_view_begin(st)) == NULL)
		return STORE_ERR;
	rc = store_kv_get(st, txn, st->inbox_digest, digest, 16, &d);
	if (rc == 0 && d.mv_size == 8)
		*received_ms = (int64_t)get_be64(d.mv_data);
	store_view_end(st, txn);
	if (rc == MDB_NOTFOUND)
		return STORE_NOTFOUND;
	return rc == 0 && d.mv_size == 8 ? STORE_OK : STORE_ERR;
}

/* Read one inbox value into *m (text malloc'd): 0, or -1 when it is not
 * one of ours. */
static int
decode(const MDB_val *d, struct store_inbound *m)
{
	const uint8_t *p = d->mv_data;
	const char *id = NULL, *key = NULL, *from = NULL, *to = NULL;
	const char *smsc = NULL, *dig = NULL, *text = NULL;
	json_int_t ms = 0;
	json_t *j;
	int rc = -1;

	memset(m, 0, sizeof(*m));
	if (d->mv_size < 2 || p[0] != INBOX_FORMAT)
		return -1;
	j = json_loadb((const char *)p + 1, d->mv_size - 1, 0, NULL);
	if (j == NULL)
		return -1;
	if (json_unpack(j, "{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s}",
	    "id", &id, "key", &key, "from", &from, "to", &to, "smsc", &smsc,
	    "received_ms", &ms, "digest", &dig, "text", &text) == 0 &&
	    strlen(id) < sizeof(m->id) && strlen(key) < sizeof(m->key) &&
	    strlen(from) < sizeof(m->from) && strlen(to) < sizeof(m->to) &&
	    strlen(smsc) < sizeof(m->smsc) && strlen(dig) == 32) {
		util_strlcpy(m->id, id, sizeof(m->id));
		util_strlcpy(m->key, key, sizeof(m->key));
		util_strlcpy(m->from, from, sizeof(m->from));
		util_strlcpy(m->to, to, sizeof(m->to));
		util_strlcpy(m->smsc, smsc, sizeof(m->smsc));
		m->received_ms = (int64_t)ms;
		for (int i = 0; i < 16; i++) {
			unsigned v;
			if (sscanf(dig + 2 * i, "%2x", &v) != 1)
				goto out;
			m->digest[i] = (uint8_t)v;
		}
		m->text = xstrdup(text);
		rc = 0;
	}
out:
	json_decref(j);
	return rc;
}

int
store_inbound_each(struct store *st, int64_t since_ms, int max_scan,
    int (*fn)(void *arg, const struct store_inbound *m), void *arg)
{
	struct store_inbound *all = NULL;
	MDB_txn *txn;
	MDB_val k, d;
	int n = 0, cap = 0, bad = 0, seen = 0, rc, i;

	if ((txn = store_view_begin(st)) == NULL)
		return STORE_ERR;
	for (rc = store_kv_seek(st, txn, st->inbox, "", 0, 0, 1, &k, &d);
	    rc == 0 && seen < max_scan; rc = store_kv_seek(st, txn, st->inbox,
	    k.mv_data, k.mv_size, 1, 1, &k, &d)) {
		seen++;
		if (k.mv_size < 8 ||
		    (int64_t)~get_be64(k.mv_data) < since_ms) {
			rc = MDB_NOTFOUND;	/* older from here on */
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			all = xrealloc(all, (size_t)cap * sizeof(*all));
		}
		if (decode(&d, &all[n]) == 0)
			n++;
		else
			bad++;
	}
	store_view_end(st, txn);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		for (i = 0; i < n; i++)
			store_inbound_clear(&all[i]);
		free(all);
		return STORE_ERR;
	}
	if (bad > 0)
		log_warn("store.inbound_unreadable", "entries=%d", bad);
	seen = 0;
	for (i = 0; i < n; i++) {
		seen++;
		if (fn(arg, &all[i]) != 0)
			break;
	}
	for (i = 0; i < n; i++)
		store_inbound_clear(&all[i]);
	free(all);
	return seen;
}

int
store_inbound_purge(struct store *st, int64_t before_ms, int max)
{
	uint8_t from[8];
	struct del { uint8_t k[INBOX_KEY_MAX]; size_t kl; uint8_t dig[16];
	    int has_dig; } *dels;
	struct store_inbound m;
	MDB_txn *txn;
	MDB_val k, d;
	int n = 0, rc, i;

	if (max <= 0)
		return 0;
	dels = xcalloc((size_t)max, sizeof(*dels));
	if ((txn = store_view_begin(st)) == NULL) {
		free(dels);
		return STORE_ERR;
	}
	/* Inverted times: everything received before before_ms sorts at
	 * or after ~(before_ms - 1). */
	put_be64(from, ~(uint64_t)(before_ms - 1));
	for (rc = store_kv_seek(st, txn, st->inbox, from, 8, 0, 1, &k, &d);
	    rc == 0 && n < max; rc = store_kv_seek(st, txn, st->inbox,
	    k.mv_data, k.mv_size, 1, 1, &k, &d)) {
		if (k.mv_size > INBOX_KEY_MAX)
			continue;
		memcpy(dels[n].k, k.mv_data, k.mv_size);
		dels[n].kl = k.mv_size;
		if (decode(&d, &m) == 0) {
			memcpy(dels[n].dig, m.digest, 16);
			dels[n].has_dig = 1;
			store_inbound_clear(&m);
		}
		n++;
	}
	store_view_end(st, txn);
	if (rc != 0 && rc != MDB_NOTFOUND && n < max) {
		free(dels);
		return STORE_ERR;
	}
	for (i = 0; i < n; i++) {
		if ((rc = store_db_del(st, st->inbox, dels[i].k, dels[i].kl,
		    "inbound_purge")) != STORE_OK ||
		    (dels[i].has_dig && (rc = store_db_del(st,
		    st->inbox_digest, dels[i].dig, 16, "inbound_purge")) !=
		    STORE_OK)) {
			free(dels);
			return rc;
		}
	}
	free(dels);
	return n;
}

/* pkey NUL seq into k; its length, 0 when pkey is no part key. */
static size_t
part_key(uint8_t *k, const char *pkey, int seq)
{
	size_t n = strlen(pkey);

	if (n == 0 || n > STORE_INBOUND_PART_KEY_MAX || seq < 1 || seq > 255)
		return 0;
	memcpy(k, pkey, n);
	k[n] = 0;
	k[n + 1] = (uint8_t)seq;
	return n + 2;
}

int
store_inbound_part_put(struct store *st, const char *pkey, int seq,
    int64_t at_ms, const char *text)
{
	uint8_t k[STORE_INBOUND_PART_KEY_MAX + 2];
	size_t kl = part_key(k, pkey, seq), tl;
	void *p;
	int rc;

	if ((rc = store_stage(st)) != STORE_OK)
		return rc;
	if (kl == 0 || text == NULL ||
	    (tl = strlen(text)) > STORE_INBOUND_TEXT_MAX)
		return store_fail(st, STORE_ERR, "inbound_part_put",
		    "bad part");
	if ((rc = store_db_reserve(st, st->inbox_parts, k, kl, 8 + tl, &p,
	    "inbound_part_put")) != STORE_OK)
		return rc;
	put_be64(p, (uint64_t)at_ms);
	memcpy((uint8_t *)p + 8, text, tl);
	return STORE_OK;
}

int
store_inbound_part_del(struct store *st, const char *pkey, int seq)
{
	uint8_t k[STORE_INBOUND_PART_KEY_MAX + 2];
	size_t kl = part_key(k, pkey, seq);

	if (kl == 0)
		return STORE_OK;        /* never stored */
	return store_db_del(st, st->inbox_parts, k, kl, "inbound_part_del");
}

struct part {
	char *pkey;
	int seq;
	int64_t at_ms;
	char *text;
};

int
store_inbound_parts_each(struct store *st,
    void (*fn)(void *arg, const char *pkey, int seq, int64_t at_ms,
    const char *text), void *arg)
{
	struct part *all = NULL;
	MDB_txn *txn;
	MDB_val k, d;
	int n = 0, cap = 0, bad = 0, rc, i;

	if ((txn = store_view_begin(st)) == NULL)
		return STORE_ERR;
	for (rc = store_kv_seek(st, txn, st->inbox_parts, "", 0, 0, 1, &k, &d);
	    rc == 0; rc = store_kv_seek(st, txn, st->inbox_parts, k.mv_data,
	    k.mv_size, 1, 1, &k, &d)) {
		const uint8_t *kp = k.mv_data;
		if (k.mv_size < 3 || kp[k.mv_size - 2] != 0 ||
		    memchr(kp, 0, k.mv_size - 2) != NULL || d.mv_size < 8) {
			bad++;
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			all = xrealloc(all, (size_t)cap * sizeof(*all));
		}
		all[n].pkey = xstrdup((const char *)kp);
		all[n].seq = kp[k.mv_size - 1];
		all[n].at_ms = (int64_t)get_be64(d.mv_data);
		all[n].text = xmalloc(d.mv_size - 8 + 1);
		memcpy(all[n].text, (const uint8_t *)d.mv_data + 8,
		    d.mv_size - 8);
		all[n].text[d.mv_size - 8] = '\0';
		n++;
	}
	store_view_end(st, txn);
	if (rc == MDB_NOTFOUND) {
		if (bad > 0)
			log_warn("store.inbound_parts_unreadable",
			    "entries=%d", bad);
		for (i = 0; i < n; i++)
			fn(arg, all[i].pkey, all[i].seq, all[i].at_ms,
			    all[i].text);
	}
	for (i = 0; i < n; i++) {
		free(all[i].pkey);
		free(all[i].text);
	}
	free(all);
	return rc == MDB_NOTFOUND ? n : STORE_ERR;
}
