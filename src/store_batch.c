/*
 * store_batch.c - the staged writes of one commit (store_batch.h).
 *
 * Entries sit in an array in first-write order, found by an open-addressing
 * hash table of entry numbers (linear probing, at most half full).  Keys
 * and values come from an arena of blocks, so staging a write allocates
 * nothing in the steady state: a batch is cleared and reused.
 */
#include <stdlib.h>
#include <string.h>

#include "store_batch.h"
#include "util.h"

#define ARENA_BLOCK 65536
#define SLOTS_MIN 256           /* a power of two */

struct block {
	struct block *next;
	size_t used, size;
	uint8_t data[];
};

struct store_batch {
	struct batch_entry *ent;
	size_t nent, entcap;
	uint32_t *slot;         /* entry number + 1; 0 is empty */
	size_t nslot;
	/* Each database's chain of entries (entry number + 1; 0: none). */
	uint32_t head[STORE_BATCH_MAXDB + 1], tail[STORE_BATCH_MAXDB + 1];
	struct block *blocks;   /* the newest first */
};

static void *
arena_alloc(struct store_batch *b, size_t n)
{
	struct block *k = b->blocks;
	size_t size;
	void *p;

	n = (n + 7) & ~(size_t)7;
	if (k == NULL || k->size - k->used < n) {
		size = n > ARENA_BLOCK ? n : ARENA_BLOCK;
		k = xmalloc(sizeof(*k) + size);
		k->size = size;
		k->used = 0;
		k->next = b->blocks;
		b->blocks = k;
	}
	p = k->data + k->used;
	k->used += n;
	return p;
}

static uint32_t
hash_of(unsigned db, const void *key, size_t klen)
{
	const uint8_t *p = key;
	uint32_t h = 2166136261u ^ db;  /* FNV-1a */

	h *= 16777619u;
	for (size_t i = 0; i < klen; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

struct store_batch *
store_batch_new(void)
{
	struct store_batch *b = xcalloc(1, sizeof(*b));

	b->nslot = SLOTS_MIN;
	b->slot = xcalloc(b->nslot, sizeof(*b->slot));
	return b;
}

void
store_batch_free(struct store_batch *b)
{
	struct block *k, *next;

	if (b == NULL)
		return;
	for (k = b->blocks; k != NULL; k = next) {
		next = k->next;
		free(k);
	}
	free(b->ent);
	free(b->slot);
	free(b);
}

void
store_batch_clear(struct store_batch *b)
{
	struct block *k, *next;

	if (b->nent == 0)
		return;
	/* Keep one block (the oldest, a standard size unless a big value
	 * made it) for the next use. */
	for (k = b->blocks; k != NULL && k->next != NULL; k = next) {
		next = k->next;
		free(k);
	}
	b->blocks = k;
	if (k != NULL)
		k->used = 0;
	b->nent = 0;
	memset(b->slot, 0, b->nslot * sizeof(*b->slot));
	memset(b->head, 0, sizeof(b->head));
	memset(b->tail, 0, sizeof(b->tail));
}

size_t
store_batch_count(const struct store_batch *b)
{
	return b->nent;
}

const struct batch_entry *
store_batch_entry(const struct store_batch *b, size_t i)
{
	return i < b->nent ? &b->ent[i] : NULL;
}

static size_t
chain_of(unsigned db)
{
	return db < STORE_BATCH_MAXDB ? db : STORE_BATCH_MAXDB;
}

const struct batch_entry *
store_batch_db_first(const struct store_batch *b, unsigned db)
{
	const struct batch_entry *e;
	uint32_t n;

	for (n = b->head[chain_of(db)]; n != 0; n = e->next_in_db) {
		e = &b->ent[n - 1];
		if (e->db == db)
			return e;
	}
	return NULL;
}

const struct batch_entry *
store_batch_db_next(const struct store_batch *b, const struct batch_entry *e)
{
	unsigned db = e->db;
	uint32_t n;

	for (n = e->next_in_db; n != 0; n = e->next_in_db) {
		e = &b->ent[n - 1];
		if (e->db == db)
			return e;
	}
	return NULL;
}

/* The slot of (db, key): the one holding its entry, or the empty one where
 * it would go. */
static size_t
slot_of(const struct store_batch *b, unsigned db, const void *key,
    size_t klen, uint32_t h)
{
	size_t mask = b->nslot - 1, i = h & mask;
	const struct batch_entry *e;

	for (;; i = (i + 1) & mask) {
		if (b->slot[i] == 0)
			return i;
		e = &b->ent[b->slot[i] - 1];
		if (e->hash == h && e->db == db && e->klen == klen &&
		    memcmp(e->key, key, klen) == 0)
			return i;
	}
}

const struct batch_entry *
store_batch_find(const struct store_batch *b, unsigned db, const void *key,
    size_t klen)
{
	size_t i;

	if (b->nent == 0)
		return NULL;
	i = slot_of(b, db, key, klen, hash_of(db, key, klen));
	return b->slot[i] ? &b->ent[b->slot[i] - 1] : NULL;
}

static void
grow_slots(struct store_batch *b)
{
	size_t i, j, mask;

	free(b->slot);
	b->nslot *= 2;
	b->slot = xcalloc(b->nslot, sizeof(*b->slot));
	mask = b->nslot - 1;
	for (i = 0; i < b->nent; i++) {
		for (j = b->ent[i].hash & mask; b->slot[j] != 0;
		    j = (j + 1) & mask)
			;
		b->slot[j] = (uint32_t)(i + 1);
	}
}

/* The entry of (db, key), created when missing. */
static struct batch_entry *
entry_for(struct store_batch *b, unsigned db, const void *key, size_t klen)
{
	uint32_t h = hash_of(db, key, klen);
	struct batch_entry *e;
	size_t i = slot_of(b, db, key, klen, h), c;
	uint8_t *k;

	if (b->slot[i] != 0)
		return &b->ent[b->slot[i] - 1];
	if (b->nent == b->entcap) {
		b->entcap = b->entcap ? b->entcap * 2 : 64;
		b->ent = xrealloc(b->ent, b->entcap * sizeof(*b->ent));
	}
	k = arena_alloc(b, klen ? klen : 1);
	memcpy(k, key, klen);
	e = &b->ent[b->nent++];
	memset(e, 0, sizeof(*e));
	e->db = db;
	e->hash = h;
	e->key = k;
	e->klen = klen;
	b->slot[i] = (uint32_t)b->nent;
	c = chain_of(db);
	if (b->tail[c] != 0)
		b->ent[b->tail[c] - 1].next_in_db = (uint32_t)b->nent;
	else
		b->head[c] = (uint32_t)b->nent;
	b->tail[c] = (uint32_t)b->nent;
	if (b->nent * 2 > b->nslot)
		grow_slots(b);
	return e;
}

void *
store_batch_put(struct store_batch *b, unsigned db, const void *key,
    size_t klen, size_t vlen)
{
	struct batch_entry *e = entry_for(b, db, key, klen);

	e->del = 0;
	e->val = arena_alloc(b, vlen ? vlen : 1);
	e->vlen = vlen;
	return e->val;
}

void
store_batch_del(struct store_batch *b, unsigned db, const void *key,
    size_t klen)
{
	struct batch_entry *e = entry_for(b, db, key, klen);

	e->del = 1;
	e->val = NULL;
	e->vlen = 0;
}

int
store_batch_keycmp(const void *a, size_t al, const void *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	if (c != 0)
		return c;
	return al < bl ? -1 : al > bl;
}

const struct batch_entry *
store_batch_seek(const struct store_batch *b, unsigned db, const void *key,
    size_t klen, int strict)
{
	const struct batch_entry *best = NULL, *e;
	int c;

	for (e = store_batch_db_first(b, db); e != NULL;
	    e = store_batch_db_next(b, e)) {
		c = store_batch_keycmp(e->key, e->klen, key, klen);
		if (c < 0 || (c == 0 && strict))
			continue;
		if (best == NULL || store_batch_keycmp(e->key, e->klen,
		    best->key, best->klen) < 0)
			best = e;
	}
	return best;
}
