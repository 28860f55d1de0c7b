/*
 * idem.c - Idempotency-Key policy (idem.h): the header's check, the
 * request's fingerprint, the stored answer's encoding, and the table of
 * sends in flight.  Pure: no I/O, no clock.
 *
 * The table is a chained hash over "key NUL Idempotency-Key" with a fixed
 * number of buckets; every request in it (leader or follower) counts
 * against the cap, so its memory is bounded by the cap whatever clients
 * do.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "idem.h"
#include "util.h"

#define IDEM_FORMAT 1
#define IDEM_HEAD (1 + 2 + IDEM_FP_LEN + 1)     /* before the id */
#define IDEM_BUCKETS 1024

int
idem_key_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	for (n = 0; s[n] != '\0'; n++)
		if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e ||
		    n >= IDEM_KEY_MAX)
			return 0;
	return n >= 1;
}

int
idem_fingerprint(const char *api, const json_t *body,
    uint8_t fp[IDEM_FP_LEN])
{
	char *canon;
	EVP_MD_CTX *ctx;
	unsigned int n = 0;
	int ok;

	if ((canon = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS |
	    JSON_ENCODE_ANY)) == NULL)
		return -1;
	ok = (ctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, api, strlen(api) + 1) == 1 &&
	    EVP_DigestUpdate(ctx, canon, strlen(canon)) == 1 &&
	    EVP_DigestFinal_ex(ctx, fp, &n) == 1 && n == IDEM_FP_LEN;
	EVP_MD_CTX_free(ctx);
	free(canon);
	return ok ? 0 : -1;
}

int
idem_fresh(int64_t created_at, int64_t now)
{
	return now - created_at < IDEM_TTL;
}

int
idem_encode(const struct idem_rec *r, uint8_t **out, size_t *len)
{
	size_t idlen = strnlen(r->id, sizeof(r->id));
	size_t blen = r->body != NULL ? r->body_len : 0;
	uint8_t *p;

	*out = NULL;
	*len = 0;
	if (idlen >= sizeof(r->id) || blen > IDEM_BODY_MAX || r->status < 0 ||
	    r->status > 999)
		return -1;
	p = xmalloc(IDEM_HEAD + idlen + blen + 1);
	p[0] = IDEM_FORMAT;
	p[1] = (uint8_t)r->status;
	p[2] = (uint8_t)(r->status >> 8);
	memcpy(p + 3, r->fp, IDEM_FP_LEN);
	p[3 + IDEM_FP_LEN] = (uint8_t)idlen;
	memcpy(p + IDEM_HEAD, r->id, idlen);
	if (blen > 0)
		memcpy(p + IDEM_HEAD + idlen, r->body, blen);
	*out = p;
	*len = IDEM_HEAD + idlen + blen;
	return 0;
}

int
idem_decode(const uint8_t *p, size_t len, struct idem_rec *r)
{
	size_t idlen, blen;
	char *body;

	memset(r, 0, sizeof(*r));
	if (len < IDEM_HEAD || p[0] != IDEM_FORMAT)
		return -1;
	idlen = p[3 + IDEM_FP_LEN];
	if (idlen >= sizeof(r->id) || len < IDEM_HEAD + idlen)
		return -1;
	blen = len - IDEM_HEAD - idlen;
	r->status = p[1] | p[2] << 8;
	if (r->status > 999 || blen > IDEM_BODY_MAX ||
	    memchr(p + IDEM_HEAD, '\0', idlen) != NULL ||
	    (r->status == 0 && blen != 0) ||
	    memchr(p + IDEM_HEAD + idlen, '\0', blen) != NULL)
		return -1;
	memcpy(r->fp, p + 3, IDEM_FP_LEN);
	memcpy(r->id, p + IDEM_HEAD, idlen);
	r->id[idlen] = '\0';
	body = xmalloc(blen + 1);
	memcpy(body, p + IDEM_HEAD + idlen, blen);
	body[blen] = '\0';
	r->body = body;
	r->body_len = blen;
	return 0;
}

void
idem_rec_clear(struct idem_rec *r)
{
	free((char *)r->body);
	memset(r, 0, sizeof(*r));
}

/* ---- the table ---------------------------------------------------------- */

struct idem_entry {
	struct idem_entry *next;
	char *name;               /* key NUL ikey */
	size_t namelen;
	unsigned hash;
	uint8_t fp[IDEM_FP_LEN];
	void **waiters;
	int nwaiter, waitercap;
};

struct idem_table {
	struct idem_entry *bucket[IDEM_BUCKETS];
	int count, cap;
};

static unsigned
name_hash(const char *s, size_t n)
{
	unsigned h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

struct idem_table *
idem_table_new(int cap)
{
	struct idem_table *t = xcalloc(1, sizeof(*t));

	t->cap = cap > 0 ? cap : 1;
	return t;
}

static void
entry_free(struct idem_entry *e)
{
	free(e->name);
	free(e->waiters);
	free(e);
}

void
idem_table_free(struct idem_table *t)
{
	struct idem_entry *e, *next;

	if (t == NULL)
		return;
	for (int i = 0; i < IDEM_BUCKETS; i++)
		for (e = t->bucket[i]; e != NULL; e = next) {
			next = e->next;
			entry_free(e);
		}
	free(t);
}

void
idem_table_set_cap(struct idem_table *t, int cap)
{
	t->cap = cap > 0 ? cap : 1;
}

int
idem_table_count(const struct idem_table *t)
{
	return t->count;
}

enum idem_join
idem_table_join(struct idem_table *t, const char *key, const char *ikey,
    const uint8_t fp[IDEM_FP_LEN], void *waiter, struct idem_entry **out)
{
	size_t kl = strlen(key), il = strlen(ikey), n = kl + 1 + il;
	char *name = xmalloc(n + 1);
	struct idem_entry *e;
	unsigned h;

	memcpy(name, key, kl + 1);
	memcpy(name + kl + 1, ikey, il + 1);
	h = name_hash(name, n);
	*out = NULL;
	for (e = t->bucket[h % IDEM_BUCKETS]; e != NULL; e = e->next)
		if (e->hash == h && e->namelen == n &&
		    memcmp(e->name, name, n) == 0)
			break;
	if (e != NULL) {
		free(name);
		*out = e;
		if (memcmp(e->fp, fp, IDEM_FP_LEN) != 0)
			return IDEM_MISMATCH;
		if (t->count >= t->cap)
			return IDEM_FULL;
		if (e->nwaiter == e->waitercap) {
			e->waitercap = e->waitercap ? e->waitercap * 2 : 4;
			e->waiters = xrealloc(e->waiters,
			    (size_t)e->waitercap * sizeof(*e->waiters));
		}
		e->waiters[e->nwaiter++] = waiter;
		t->count++;
		return IDEM_FOLLOWER;
	}
	if (t->count >= t->cap) {
		free(name);
		return IDEM_FULL;
	}
	e = xcalloc(1, sizeof(*e));
	e->name = name;
	e->namelen = n;
	e->hash = h;
	memcpy(e->fp, fp, IDEM_FP_LEN);
	e->next = t->bucket[h % IDEM_BUCKETS];
	t->bucket[h % IDEM_BUCKETS] = e;
	t->count++;
	*out = e;
	return IDEM_LEADER;
}

void *
idem_entry_waiter(const struct idem_entry *e, int i)
{
	return i >= 0 && i < e->nwaiter ? e->waiters[i] : NULL;
}

void
idem_table_remove(struct idem_table *t, struct idem_entry *e)
{
	struct idem_entry **pp = &t->bucket[e->hash % IDEM_BUCKETS];

	for (; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			t->count -= 1 + e->nwaiter;
			entry_free(e);
			return;
		}
	}
}
