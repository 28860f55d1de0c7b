/*
 * store_batch.h - the staged writes of one commit, in memory.
 *
 * The LMDB store (store_lmdb.h) stages every write of a batch here
 * instead of in an LMDB write transaction: the loop reads through the
 * batch (it sees what it staged), and the writer thread applies the
 * entries in one transaction and commits.  A batch maps (database, key) to the key's newest value or
 * to its deletion; a key written twice keeps one entry.  Keys and values
 * live in the batch's own arena, freed with the batch or by
 * store_batch_clear(): pointers into a batch stay valid until then, except
 * that a put over a key replaces that key's value.
 *
 * Not thread-safe: the loop builds a batch, hands it over, and from then on
 * both threads only read it until the loop frees it.
 */
#ifndef STORE_BATCH_H
#define STORE_BATCH_H

#include <stddef.h>
#include <stdint.h>

struct batch_entry {
	unsigned db;            /* the LMDB database handle */
	int del;                /* a deletion: val is NULL */
	uint32_t hash;
	uint32_t next_in_db;    /* the next entry of db + 1; 0 ends the chain */
	const uint8_t *key;
	size_t klen;
	uint8_t *val;
	size_t vlen;
};

struct store_batch;

struct store_batch *store_batch_new(void);
void store_batch_free(struct store_batch *);
/* Drop every staged write (the arena's first block is kept). */
void store_batch_clear(struct store_batch *);
/* The number of entries, and entry i (0 <= i < count) in the order the
 * keys were first written. */
size_t store_batch_count(const struct store_batch *);
const struct batch_entry *store_batch_entry(const struct store_batch *,
    size_t i);

/* The entry of (db, key), or NULL when the batch does not touch it. */
const struct batch_entry *store_batch_find(const struct store_batch *,
    unsigned db, const void *key, size_t klen);
/* Stage a put of a vlen-octet value; returns the space for the caller to
 * fill (valid as said above). */
void *store_batch_put(struct store_batch *, unsigned db, const void *key,
    size_t klen, size_t vlen);
/* Stage the deletion of (db, key). */
void store_batch_del(struct store_batch *, unsigned db, const void *key,
    size_t klen);
/* The entries of one database, in first-write order: the first, and the
 * one after e (NULL at the end).  Databases above STORE_BATCH_MAXDB share
 * one chain (the walk skips the others' entries). */
#define STORE_BATCH_MAXDB 16
const struct batch_entry *store_batch_db_first(const struct store_batch *,
    unsigned db);
const struct batch_entry *store_batch_db_next(const struct store_batch *,
    const struct batch_entry *e);
/* The entry (put or deletion) of db with the smallest key above key
 * (strict) or at or above it, in LMDB's default key order; NULL if none.
 * A walk of db's entries: for purges, start-up and the outbox, not per
 * request. */
const struct batch_entry *store_batch_seek(const struct store_batch *,
    unsigned db, const void *key, size_t klen, int strict);
/* LMDB's default order: octets, then the shorter first. */
int store_batch_keycmp(const void *a, size_t al, const void *b, size_t bl);

#endif
