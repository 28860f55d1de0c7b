/*
 * store_journal.h - the LMDB store's journal: the acknowledged batches
 * that LMDB has not made durable yet, in one preallocated ring file.
 *
 * Why: an LMDB commit flushes every page the batch touched, scattered over
 * the map, and then the meta page: two flushes, 0.4 ms each on the disk
 * this was measured on (README, Benchmarks).  Appending the same batch to
 * a file that is already allocated and flushing it is one sequential
 * write, 0.1 ms.  So the writer makes a batch durable here, answers, and
 * lets LMDB commit many batches at once with its own two flushes
 * (store_commit.c, "the journal").
 *
 * The file: a 4096-octet head ("SVJH", version, the journal's random id)
 * and then the ring, up to cap octets.  A record:
 *
 *	"SVJ1" len(4) seq(8) hash(8) payload(len)
 *
 * little-endian; hash is FNV-1a 64 over the journal id, len, seq and the
 * payload, so a torn or stale record never passes for the expected one.
 * Records are numbered from 1 without gaps; the next record goes after
 * the last, or at the ring's start when it does not fit before the end
 * (never over a record LMDB lacks).  Recovery starts where the position
 * LMDB holds (id, last seq, offset after it) says, and takes the records
 * that follow with the expected numbers, each found where the last ended
 * or at the ring's start: it stops at the first one missing, which was
 * never acknowledged.
 *
 * Used by the writer thread alone (and at open, before it starts).
 */
#ifndef STORE_JOURNAL_H
#define STORE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define JOURNAL_HEAD 4096               /* the file's head, then the ring */
#define JOURNAL_REC_HEAD 24             /* a record's header */
#define JOURNAL_CAP_DEFAULT (16u << 20) /* the ring's size */
#define JOURNAL_FULL (-2)               /* journal_append(): no room */

/* Where LMDB stands in the journal: stored with every LMDB commit. */
struct journal_pos {
	uint64_t id;            /* the journal's id (0: none yet) */
	uint64_t seq;           /* the last record LMDB holds */
	uint64_t off;           /* the ring offset after it */
};

struct journal;

/*
 * Open or create DIR/journal with a ring of cap octets (cap 0: the
 * default).  pos: LMDB's position, or NULL when LMDB holds none (a new
 * store: the journal starts afresh with a new id).  0, or -1 with err
 * saying why.
 */
int journal_open(struct journal **out, const char *dir, uint64_t cap,
    const struct journal_pos *pos, char *err, size_t errsize);
void journal_close(struct journal *);

/*
 * The records LMDB lacks, from pos on (see the top), to fn in order;
 * fn's nonzero return stops the walk and is returned.  After it, the
 * next append goes after the last record found.  Also used to reapply
 * what followed the last checkpoint after a failed LMDB commit.  0, fn's
 * return, or -errno.  *found: the records handed to fn.
 */
int journal_replay(struct journal *, const struct journal_pos *pos,
    int (*fn)(void *arg, uint64_t seq, const uint8_t *p, size_t len),
    void *arg, uint64_t *found);

/*
 * Append one record and flush it.  0 with *pos the position after it (to
 * store with LMDB's commit), JOURNAL_FULL when it does not fit beside the
 * records since the last checkpoint (checkpoint, then try again; a record
 * larger than the whole ring never fits), or an errno.
 */
int journal_append(struct journal *, const uint8_t *p, size_t len,
    struct journal_pos *pos);
/* Call fn(arg) in every journal_append() once the record is in the file
 * (the kernel's: a crash of the process no longer loses it) and before
 * it is flushed to the disk.  fn NULL: no call. */
void journal_on_written(struct journal *, void (*fn)(void *), void *arg);
/* Take back the record journal_append() just wrote (its batch failed
 * after all): its header zeroed and flushed.  0 or an errno. */
int journal_unappend(struct journal *);
/* LMDB now holds every record appended: their room is free. */
void journal_checkpoint(struct journal *);
/* Where the journal stands now (the last record appended), and where it
 * stood at the last checkpoint. */
void journal_position(const struct journal *, struct journal_pos *now,
    struct journal_pos *checkpoint);
/* Octets of records since the last checkpoint, and the ring's size. */
uint64_t journal_used(const struct journal *);
uint64_t journal_cap(const struct journal *);

/*
 * Pure: check one record at p (avail octets there) against the journal
 * id and the expected seq.  The payload's length into *len, and 0; -1
 * when it is not that record.
 */
int journal_record_check(const uint8_t *p, size_t avail, uint64_t id,
    uint64_t seq, size_t *len);
/* Pure: the header of a record of payload (len octets) into h. */
void journal_record_head(uint8_t h[JOURNAL_REC_HEAD], uint64_t id,
    uint64_t seq, const uint8_t *payload, size_t len);

#endif
