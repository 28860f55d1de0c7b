/*
 * store_repl_wire.h - one committed batch as it travels through Redis's
 * log (store_repl.c), and back: pure, no I/O.
 *
 * A batch is its writes, each a put or a deletion of (database, key):
 *
 *	"SVB1" count(4)  then count times:
 *	    op(1: 'p' put, 'd' delete) len(4) db(1) key [vlen(4) value]
 *
 * little-endian lengths; len counts db and key, which sit together so
 * that "db key" is also the write's name in Redis (store_repl.c).  db is a database's number in the log, the same on
 * every node (store_lmdb.c's table), not an LMDB handle.  The blob comes
 * back from Redis, i.e. from outside: the decoder checks every length
 * against what is left, refuses an unknown database or operation, an empty
 * or oversized key, more than STORE_REPL_MAX_OPS writes, and anything
 * after the last entry.
 */
#ifndef STORE_REPL_WIRE_H
#define STORE_REPL_WIRE_H

#include <stddef.h>
#include <stdint.h>

struct store_batch;

#define STORE_REPL_MAX_OPS (1u << 20)
#define STORE_REPL_MAX_KEY 511          /* LMDB's largest key */

/*
 * Append the writes of w to *buf (grown with xrealloc; *len octets used,
 * *cap allocated).  dbno maps a batch entry's database handle to its number
 * in the log; it returns -1 for a database that is not replicated (the
 * entry is then left out).
 */
void repl_wire_encode(const struct store_batch *w,
    int (*dbno)(void *arg, unsigned db), void *arg,
    uint8_t **buf, size_t *len, size_t *cap);

/*
 * Walk a blob repl_wire_encode() made (trusted: not for what comes back
 * from Redis): from *at (0 to start), the next write's operation ('p' or
 * 'd'), its "db key" (dk, dklen octets) and, for a put, its value.  1,
 * with *at past it; 0 at the end.
 */
int repl_wire_next(const uint8_t *buf, size_t len, size_t *at, int *op,
    const uint8_t **dk, size_t *dklen, const uint8_t **val, size_t *vlen);

/*
 * Decode blob into w (staged after what w holds, a later write of a key
 * replacing an earlier one).  dbof maps a log's database number to the
 * local handle, -1 when unknown.  0, or -1 with err naming what is wrong
 * (w then holds part of the blob: the caller drops it).
 */
int repl_wire_decode(const uint8_t *blob, size_t len, struct store_batch *w,
    int (*dbof)(void *arg, unsigned dbno), void *arg, char *err,
    size_t errsize);

#endif
