/*
 * store_lmdb.h - the LMDB store's insides, shared by its files and by no
 * one else.  store.h is the contract; this header is how the LMDB backend
 * keeps it.  Only this header and the store_*.c files include <lmdb.h>.
 *
 * The files, and who owns what:
 *   store_lmdb.c    open and close; the read view (one reusable read-only
 *                   transaction) and the reads through the staged writes
 *                   (store_kv_get, store_kv_seek); staging a put or a
 *                   deletion; the stats
 *   store_commit.c  the batches, their callbacks and the writer thread:
 *                   when a batch goes, how its result comes back; the
 *                   journal's use (a batch's record, LMDB's bulk commit,
 *                   the replay at open, the loop's generations)
 *   store_journal.c the journal file: records in a ring (no LMDB)
 *   store_verif.c   records and the indexes kept in step with them
 *                   (pending, expiry, queue, msgid, msgref)
 *   store_sweep.c   the expiry index's walk: expire, then purge
 *   store_outbox.c  the webhook outbox
 *   store_shield.c  the shield's tripped ranges
 *   store_capture.c test mode's captured messages
 *   store_limits.c  the limits' counters (their prune is in store_sweep.c)
 *   store_inbound.c inbound messages, their digests and waiting parts
 *   store_idem.c    the answers kept for Idempotency-Keys (their prune is
 *                   in store_sweep.c)
 *   store_stats_rollup.c the statistics' roll-ups and their prune
 *   store_batch.c   the staged writes of one batch, in memory (no LMDB)
 *   store_record.c  the record's encoding (no LMDB)
 * struct store and struct batch below belong to the loop's thread, but for
 * what store_commit.c says the writer thread may touch.
 *
 * One environment (a directory, created 0700) holds sixteen named
 * databases, and beside them the journal (PATH/journal).  Their names,
 * key layouts and values are on disk: fixed.
 *
 *   verif    id -> record: binary format 2 (store_record.h describes it
 *            and store_record.c encodes and decodes it); the JSON of
 *            format 1 still reads; a record of an unknown format is
 *            refused (STORE_ERR), never misread
 *   pending  key NUL phone -> id, present exactly while the record's status
 *            is VERIF_PENDING or VERIF_MAX_ATTEMPTS (and only the newest
 *            id of a pair to have entered VERIF_PENDING); and beside it
 *            key NUL phone NUL 'P' (or 'F') -> until(8, little-endian)
 *            value: the pair's limit counters "P/KEY/PHONE" and
 *            "F/KEY/PHONE" (store_limits.c says why there)
 *   expiry   be64(time) id -> one octet: 'E' expire the record at its
 *            expires_at, 'P' purge it at expires_at + retention
 *   queue    be64(expires_at) id -> "" while status == VERIF_PENDING
 *            and send_state == SEND_QUEUED (start-up resumes these, in
 *            the order of their expiry); keys of the older layout (the
 *            bare id) are rewritten at open (store_queue_upgrade())
 *   msgid    smsc NUL normalised message id -> id (receipt matching)
 *   msgref   id NUL smsc NUL normalised message id -> "": the reverse of
 *            msgid, so a purge can drop the msgid entries of a record (the
 *            sends hold the raw message id, the index the normalised one,
 *            and normalising is smpp/'s business, not ours)
 *   outbox   be64(seq) -> tries(4) due ms(8) first ms(8) (little-endian,
 *            like the records) key NUL body: webhook events not yet
 *            delivered (webhook.c), staged in the batch of the change
 *            they describe
 *   shield   range ("+" and digits) -> format(1) = 1, tripped_at(8)
 *            until(8) mature(8) approved(8), little-endian: the ranges
 *            the shield tripped and that have not reopened
 *   capture  phone NUL be64(ms) id -> format(1) = 1, receipt(1),
 *            receipt_at ms(8, little-endian), sealed text: the messages
 *            test mode captured (store_capture.c)
 *   limits   name -> until(8, little-endian) value: the limits'
 *            other counters (store_limits.c), opaque here; dropped by
 *            store_limit_prune() (store_sweep.c) once until has passed
 *   inbox    be64(2^64-1 - received ms) id -> format(1) = 1, then the
 *            message as JSON {"id","key","from","to","smsc",
 *            "received_ms","digest" (hex),"text"}: inbound messages, newest
 *            first in key order
 *   inbox_digest  digest(16) -> be64(received ms): what was received,
 *            to tell a message delivered again from a new one
 *   inbox_parts   message key NUL seq(1) -> be64(at ms) text: parts of
 *            concatenated inbound messages not yet joined
 *   idem     key NUL Idempotency-Key -> created_at(8, little-endian)
 *            record (idem.h's encoding, opaque here): the answers kept
 *            for sends with an Idempotency-Key (store_idem.c), dropped by
 *            store_idem_prune() (store_sweep.c) after IDEM_TTL
 *   stats    gran(1) be64(start s) owner NUL dim(1) group -> the row as
 *            stats.c encodes it: the statistics' roll-ups
 *            (store_stats_rollup.c), time first so that an event's rows
 *            sit together; dropped by store_rollup_prune()
 *   repl     "applied" -> le64: the Redis log's position a replica has
 *            applied (store_repl.c); "journal" -> id(8) seq(8) off(8),
 *            little-endian: where LMDB stands in the journal
 *            (store_journal.h), written with every LMDB commit of
 *            journaled batches
 *
 * Keys are compared octet by octet (LMDB's default), which is why times
 * and sequence numbers in keys are big-endian.
 *
 * The functions below return STORE_OK or a STORE_* error unless said
 * otherwise; those that stage a write fail the open batch on error (see
 * store_fail()), so the caller only passes the error on.
 */
#ifndef STORE_LMDB_H
#define STORE_LMDB_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "store.h"
#include "store_batch.h"

#define MSGID_KEY_MAX 256       /* smsc NUL message id; LMDB allows 511 */
#define SEEK_KEY_MAX 512        /* LMDB's largest key, and then some */
#define STORE_IDEM_KEY_MAX (32 + 1 + 255)   /* key NUL Idempotency-Key */
#define STORE_JGEN_MAX 4        /* the journal's generations (jgen) */

struct event;
struct store_record_head;

struct commit_waiter {
	store_commit_cb cb;     /* NULL once called early */
	void *arg;
	int early;              /* store_on_written() */
};

/* A batch: its staged writes, its callbacks, and how it went. */
struct batch {
	struct store_batch *w;
	struct commit_waiter *waiters;
	int nwaiter, waitercap;
	int nearly;             /* of them, store_on_written()'s */
	int written;            /* the writer's, in the journal's file */
	int result;             /* STORE_OK, or the error that failed it */
	int urgent;             /* has waiters: goes at the end of the turn */
	int due;                /* its time came while the writer was busy */
	/* Set by the writer thread (read by the loop after the hand-back). */
	int mdb_rc;
	const char *mdb_op;
	/* On Redis (store_repl.c): the keys the loop read while the batch
	 * was open (NULL until one is), the log position its reads stand on,
	 * the commit number Redis gave it; an apply batch (the log's writes
	 * for the writer) has apply_to, the last commit number it holds. */
	struct store_batch *reads;
	uint64_t base, cseq, apply_to;
	int from_log;           /* an apply batch (the log's, or a rebuild's) */
	int drop_all;           /* empty every replicated database first */
	int rebuild_page;       /* of a rebuild: 1 a page, 2 the last (which
	                         * sets apply_to) */
	/* The journal (store_commit.c): a journaled batch's record number
	 * (0: not journaled); of a generation, the last record merged
	 * into it, and when it began (monotonic ms). */
	uint64_t jseq, jborn;
	/* At Redis: its answers (store_repl.c's commit_done()). */
	struct store *owner;
	int c_done, c_result, c_replicas;
	uint64_t c_cseq, lseq;
	char c_why[96];
	struct batch *next;
};

struct store {
	struct event_base *base;
	MDB_env *env;
	MDB_dbi verif, pending, expiry, queue, msgid, msgref, outbox, shield;
	MDB_dbi limits, capture, inbox, inbox_digest, inbox_parts;
	MDB_dbi idem;
	uint64_t outbox_seq;    /* the next outbox key */
	uint64_t map_size;

	struct batch *open;     /* being staged; NULL when nothing is */
	struct batch *inflight; /* with the writer; NULL when it is idle */
	uint64_t reaped;        /* batches taken back from the writer */
	struct batch *spare;    /* a finished batch kept for reuse */
	struct event *commit_ev;        /* lowest priority when there are some */
	struct event *force_ev;         /* timer: an urgent batch waits no more */
	struct event *done_ev;          /* the writer's pipe, while inflight */
	int lowprio;                    /* commit_ev runs only when idle */
	int delay_ms;                   /* see store_set_commit_delay() */
	int last_result;                /* of the last batch finished */

	/* The writer thread.  lock guards todo, done, wrote and stop. */
	pthread_t writer;
	int writer_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct batch *todo, *done;
	struct batch *wrote;    /* the writer's batch is in the journal's
	                         * file, not yet flushed (store_on_written()) */
	struct batch *jwriting; /* the writer's: the batch being journaled */
	int stop;
	int pipefd[2];                  /* writer -> loop */

	MDB_txn *rtxn;          /* reusable read-only txn, reset when idle */

	uint64_t commits, commit_failures, swept, purged;
	/* store_limit_prune(): where the next call goes on (after this
	 * name; length 0: from the first) */
	uint8_t limit_from[STORE_LIMIT_NAME_MAX];
	size_t limit_fromlen;
	int old_pairs;          /* the limits database still holds numbers'
	                         * counters (store_limit_old_pairs()) */
	uint8_t pair_from[STORE_LIMIT_NAME_MAX];  /* the same, beside the
	                                           * pending index */
	size_t pair_fromlen;
	/* store_idem_prune(): the same for the idem database */
	uint8_t idem_from[STORE_IDEM_KEY_MAX];
	size_t idem_fromlen;
	MDB_dbi stats;          /* store_stats_rollup.c */
	void (*precommit)(void *);      /* store_set_precommit() */
	void *precommit_arg;
	uint8_t rollup_from[SEEK_KEY_MAX];      /* store_rollup_prune() */
	size_t rollup_fromlen;
	MDB_dbi repl_db;        /* the log position this node has applied,
	                         * and where LMDB stands in the journal */
	/* The journal (store_commit.c, store_journal.h).  The writer's:
	 * the journal, the parent transaction of the batches journaled since
	 * LMDB's last commit, their writes' count, when it began, the
	 * encoding buffer, and the failure that stops journaling.  Under
	 * lock: the last record LMDB holds, a commit the loop asks for, the
	 * failure for the loop to log.  The loop's: the journaled batches'
	 * writes LMDB may lack, merged into generations, oldest first. */
	struct journal *journal;
	MDB_txn *jtxn;
	uint64_t jtxn_writes, jtxn_pages, jtxn_born, jtxn_last;
	uint8_t *jbuf;
	size_t jbuflen, jbufcap;
	int jbroken;
	uint64_t jcommitted;
	int jflush;
	int jhold;              /* store_journal_hold() */
	int jerr;
	const char *jerr_op;
	int jerr_logged;
	struct batch *jgen[STORE_JGEN_MAX];
	int njgen;
	uint64_t journal_cap;   /* store_open_journal() */
	struct store_repl *repl;        /* NULL: LMDB alone (store_repl.c) */
};

/* The batches reads look through, newest first, into out (at most
 * STORE_MAX_LAYERS): the open batch, then the writer's, or on Redis
 * store_repl_layers()'s.  Their number. */
#define STORE_MAX_LAYERS 300
int store_overlay_layers(struct store *, struct batch **out);

/* store_commit.c, for store_repl.c */
struct batch *store_batch_alloc(struct store *);
void store_batch_release(struct store *, struct batch *);
void store_batch_callbacks(struct store *, struct batch *, int result);
void batch_poison(struct store *, struct batch *, int result, const char *op,
    const char *why);
void store_writer_hand(struct store *, struct batch *);
void store_commit_next(struct store *);
/* The journal's generations, newest first, into out (at most max). */
int store_jgen_layers(struct store *, struct batch **out, int max);
/* At open, before the writer starts: open the journal, replay into LMDB
 * what it lacks (store_commit.c).  0, or -1 with the reason in err. */
int store_journal_start(struct store *, const char *dir, char *err,
    size_t errlen);

/* store_repl.c: the store on Redis, a node's LMDB its replica */
uint64_t store_repl_position(struct store *);
const char *store_repl_node(struct store *);
void store_repl_stats(struct store *, struct store_stats *);
/* The node's tag, in the low STORE_OUTBOX_TAG_BITS of its outbox events'
 * numbers (unique among the nodes: Redis hands it out, store_repl.c), or
 * -1 until Redis has answered. */
#define STORE_OUTBOX_TAG_BITS 10
int store_repl_tag(struct store *);
/* store_outbox.c, store_verif.c: a dead node's events and queue entries
 * taken over (store_repl.c's lease) */
int store_outbox_adopt(struct store *, unsigned tag, int max);
int store_queue_adopt(struct store *, const char *node, int max);
int store_repl_busy(struct store *);
void store_repl_submit(struct store *, struct batch *);
void store_repl_applied(struct store *, struct batch *);
void store_repl_note_read(struct store *, MDB_dbi, const void *, size_t);
int store_repl_layers(struct store *, struct batch **, int max);
int store_repl_flush(struct store *);
void store_repl_free(struct store *);
int store_dbno(void *st, unsigned db);
int store_dbof(void *st, unsigned dbno);

/* ---- keys ------------------------------------------------------------- */

/* Big-endian, for keys: LMDB compares keys octet by octet, so only this
 * order sorts them by number (the expiry index, the outbox). */
static inline void
put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static inline uint64_t
get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* store_limits.c, at open: *any 1 when the limits database db holds a
 * number's counter ("P/..." or "F/...") where an older version kept them,
 * else 0.  0 or LMDB's error. */
int store_limit_old_pairs(MDB_txn *, MDB_dbi db, int *any);
/* store_lmdb.c: 1 when s is 1..max printable octets (no space), its
 * length into *len; 0 otherwise (names the store keys entries by). */
int store_printable(const char *s, size_t max, size_t *len);
/* store_verif.c: "a NUL b" into buf (the pending and msgid keys); its
 * length, or 0 when it does not fit or a is empty. */
size_t store_pair_key(char *buf, size_t size, const char *a, const char *b);
/* store_verif.c: be64(t) id into buf (at least 8 + 32 octets); its
 * length. */
size_t store_expiry_key(uint8_t *buf, int64_t t, const char *id);

/* ---- store_commit.c: batches and the writer thread --------------------- */

/* Before a staged write: open a batch if none is open (and schedule it),
 * and return STORE_OK or the open batch's error. */
int store_stage(struct store *);
/* Fail the open batch (which must exist) with result: what it staged is
 * dropped, its callbacks will get result; logged once per batch (op and
 * why; why NULL: not logged).  Returns result. */
int store_fail(struct store *, int result, const char *op, const char *why);
/* Set up the lock, the condition and the pipe's slots: first thing in
 * store_open(), before anything can fail. */
void store_commit_init(struct store *);
/* Make the commit events and start the writer thread.  0, or -1 with
 * *what (the message's verb, "cannot open") and *why set. */
int store_commit_start(struct store *, const char **what, const char **why);
/* Commit what is staged, rounds of callbacks that stage more included,
 * then drop what is still staged (logged): store_close(). */
void store_commit_drain(struct store *);
/* Stop and join the writer, free the events, the pipe, the spare batch,
 * the lock: whatever store_commit_init() and _start() made. */
void store_commit_stop(struct store *);

/* ---- store_lmdb.c: reads through the staged writes, staging ------------ */

/* The read view renewed: NULL on failure (logged).  Pair with
 * store_view_end() before any user callback. */
MDB_txn *store_view_begin(struct store *);
void store_view_end(struct store *, MDB_txn *);
/* The newest staged write of (db, key): the open batch's, else the
 * writer's; NULL when neither touches it. */
const struct batch_entry *store_overlay_find(struct store *, MDB_dbi db,
    const void *key, size_t klen);
/* The newest version of (db, key) into *d: 0, MDB_NOTFOUND or LMDB's
 * error.  *d is valid until store_view_end() or the next write of that
 * key. */
int store_kv_get(struct store *, MDB_txn *, MDB_dbi db, const void *key,
    size_t klen, MDB_val *d);
/* The newest value of (db, key) but for its first skip octets, copied into
 * buf (size octets), its length into *len: STORE_OK, STORE_NOTFOUND, or
 * STORE_ERR (a failed read, a value shorter than skip or too long for
 * buf).  A read of its own (view begun and ended). */
int store_kv_copy(struct store *, MDB_dbi db, const void *key, size_t klen,
    size_t skip, void *buf, size_t size, size_t *len);
/* The first key of db at or above key (above it when strict) that is not
 * deleted, with its newest value: 0, MDB_NOTFOUND or LMDB's error.
 * with_new: keys staged but not in the database yet count too; without
 * it only committed keys are found (with their staged value, if any). */
int store_kv_seek(struct store *, MDB_txn *, MDB_dbi db, const void *key,
    size_t klen, int strict, int with_new, MDB_val *ok, MDB_val *od);
/* LMDB's error rc as a result: a full map is STORE_FULL, the rest
 * STORE_ERR. */
static inline int
store_mdb_result(int rc)
{
	return rc == MDB_MAP_FULL ? STORE_FULL : STORE_ERR;
}
/* Fail the open batch with LMDB's error rc (store_mdb_result()). */
int store_mdb_fail(struct store *, int rc, const char *op);
/* Stage a put of dl octets under (dbi, k): the space to fill into *p,
 * valid until the batch is freed or the key is written again. */
int store_db_reserve(struct store *, MDB_dbi dbi, const void *k, size_t kl,
    size_t dl, void **p, const char *op);
/* Stage a put of the dl octets at d under (dbi, k). */
int store_db_put(struct store *, MDB_dbi dbi, const void *k, size_t kl,
    const void *d, size_t dl, const char *op);
/* Stage the deletion of (dbi, k); deleting a missing key is no error. */
int store_db_del(struct store *, MDB_dbi dbi, const void *k, size_t kl,
    const char *op);
/* Stage the deletion of the index entry k only while it still points at
 * id (its value is id's octets). */
int store_db_del_if(struct store *, MDB_txn *, MDB_dbi dbi, const void *k,
    size_t kl, const char *id, const char *op);

/* ---- store_verif.c: records and their indexes -------------------------- */

/* Read the record id through the view txn into out (overwritten; clear
 * it with verif_clear()).  STORE_OK, STORE_NOTFOUND or STORE_ERR. */
int store_verif_load(struct store *, MDB_txn *, const char *id,
    struct verif *out);
/* Stage v and bring the indexes from old (the stored record's head;
 * NULL: an insert) in step with it. */
int store_verif_write(struct store *, MDB_txn *, const struct verif *v,
    const struct store_record_head *old);

/* At open, in the opening write txn: rewrite the queue's keys of the
 * older layout (bare ids) as be64(expires_at) id; *moved gets how many.
 * 0, or LMDB's error. */
int store_queue_upgrade(MDB_txn *, MDB_dbi queue, MDB_dbi verif,
    int *moved);

/* ---- store_outbox.c ---------------------------------------------------- */

/* At open, in the opening write transaction: the outbox's next key into
 * *next.  0, or LMDB's error. */
int store_outbox_last(MDB_txn *, MDB_dbi dbi, uint64_t *next);

#endif
