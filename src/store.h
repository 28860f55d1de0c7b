/*
 * store.h - the durable records: verifications, their indexes, the
 * webhook outbox, the limits' counters, the shield's trips and test
 * mode's captured messages (and the answers kept for Idempotency-Keys).  This header is the whole contract; a
 * backend keeps it without its callers knowing which backend it is.
 * Today's backend is LMDB (store_lmdb.h, private to the store_*.c
 * files, says how it keeps it: databases, key layouts, the writer
 * thread).
 *
 * Threads: every function here is called on the thread that runs the
 * event base given to store_open(), and every callback runs there too.
 *
 * Writes are staged, then committed in batches (group commit).  A write
 * function (store_verif_put, store_msgid_put, store_outbox_put, _del,
 * _retry, store_limit_put, the sweep and the prune) stages its change in
 * the open batch and returns at once; nothing is durable yet.  The batch
 * is committed as one atomic unit: after a crash either all of its writes
 * are there or none.
 * Batches commit one after another in the order they were opened.
 *
 * When writes become durable: when the batch that holds them has
 * committed, i.e. when store_on_commit() callbacks of that batch are
 * called with STORE_OK (or store_flush() returns STORE_OK).  A batch
 * goes at the end of the loop's turn once someone waits on it with
 * store_on_commit(), or after the delay set with store_set_commit_delay()
 * when no one does (0, the default: at the end of every turn), and never
 * before the previous batch is done: what is staged meanwhile shares the
 * next commit.  Persist, then acknowledge: callers answer (HTTP 201, a
 * deliver_sm_resp) from a commit callback, never from the put.  An answer
 * may describe writes staged after the batch whose commit it waits on only
 * when a crash that loses them is repaired from what that batch made
 * durable: dispatch.c's `sent` answer waits for the commit of the queued
 * record (its sealed text), not for the accept's update, because a
 * restart resends the queued record with the same text and code
 * (dispatch.c's head comment, "Orderings").
 *
 * On LMDB a batch is committed when its record in the store's journal
 * (PATH/journal) is written and flushed: one sequential write, where
 * LMDB's own commit flushes every page the batch touched and then its
 * meta page.  Why that keeps the promise: the record holds every write of
 * the batch, is flushed before any callback runs, and carries its number
 * and a hash, so a restart replays exactly the records LMDB lacks, in
 * order, and stops at the first that is not whole (one never
 * acknowledged).  LMDB commits the journaled batches itself, many at once
 * and in the same order, within some milliseconds (store_commit.c, "the
 * journal"); an error LMDB has for a batch (a full map) still fails that
 * batch before it is journaled.
 *
 * What reads see meanwhile: their own writes.  store_verif_get,
 * store_pending_get, store_msgid_get, store_limit_get, store_queue_each
 * and store_sweep see every staged write, committed or not, over the
 * durable state (a deletion staged hides the entry).  Three things see committed state
 * only: store_outbox_scan (committed events, though with their staged
 * retries and deletions: no event is delivered before the change it
 * describes is durable), store_outbox_count and the counts of
 * store_stats(); on LMDB the last two see a batch once LMDB itself has
 * committed it, some milliseconds after its journal record.  A read
 * never blocks on a commit.
 *
 * When errors arrive: a write refused at once (an invalid record, a key
 * too long) returns its error and fails the whole open batch; errors of
 * the commit itself (STORE_FULL above all) arrive with the commit, in the
 * callbacks.  Either way every callback of the failed batch gets the
 * error, and so does every callback of a batch staged while a failed one
 * was committing (it was built on writes that never happened): all of
 * their writes are dropped, reads no longer see them, what was durable
 * stays as it was.  Writes staged into a batch that failed fail with its
 * error; once its callbacks have run, writes start a new batch.
 *
 * Ownership: the store copies what it is given.  What it gives back (a
 * struct verif read, an event's body) belongs to the caller, but for the
 * struct verif of the sweep's callback, which the store frees.
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct store;

/* Results.  Not on disk. */
#define STORE_OK        0
#define STORE_NOTFOUND  1
#define STORE_ERR      -1
#define STORE_FULL     -2  /* no room left: raise [store] map_size */
#define STORE_CONFLICT -3  /* on Redis: another node changed what the
                            * batch read (store_attach_redis()) */
#define STORE_UNAVAILABLE -4  /* on Redis: not reached, or no answer */

/*
 * The numeric values of the three enums below are on disk (in every
 * stored record) and in no other form: fixed forever.  A new value gets a
 * new number; no number is ever reused.
 */
enum verif_status {
	VERIF_PENDING = 1,
	VERIF_APPROVED = 2,
	VERIF_EXPIRED = 3,
	VERIF_CANCELED = 4,
	VERIF_MAX_ATTEMPTS = 5,
	VERIF_FAILED = 6,
};
const char *verif_strstatus(int status);

enum send_state {
	SEND_QUEUED = 1,   /* no SMSC has accepted it yet */
	SEND_SENT = 2,     /* an SMSC accepted it */
	SEND_FAILED = 3,   /* every route refused it for good */
};
const char *send_strstate(int state);

enum dlr_state {
	DLR_PENDING = 1,
	DLR_DELIVERED = 2,
	DLR_UNDELIVERABLE = 3,
	DLR_EXPIRED = 4,
	DLR_REJECTED = 5,
	DLR_UNKNOWN = 6,
};
const char *dlr_strstate(int state);

#define VERIF_MAX_SENDS 8

/* One submit of the verification's message to one SMSC. */
struct verif_send {
	char smsc[33];
	char message_id[66];
	int64_t submitted_at;
	int dlr;                  /* enum dlr_state */
	int64_t dlr_at;           /* 0 until a receipt */
	int error;                /* receipt err / network error, -1 none */
	char reason[32];          /* why this SMSC: "primary", "repeat", ... */
};

/* A verification.  Every field is stored and read back as it was put;
 * the strings are NUL-terminated within their arrays.  The status changes
 * only through verif_enter() (verif_state.h). */
struct verif {
	char id[32];              /* "ver_" + 24 hex; 1 to 31 octets */
	char key[33];             /* the API key's name */
	char phone[17];           /* E.164 */
	char api[8];              /* "v1", "000", "002", "003" */
	int status;               /* enum verif_status */
	int send_state;           /* enum send_state */
	int attempt;              /* 1, or n for the n-th send to this
	                             number within repeat_window */
	int checks;               /* wrong codes so far */
	int max_checks;
	uint8_t code_hmac[32];
	int64_t created_at, expires_at, updated_at;
	char sender[22];
	char fail_reason[64];
	char *sealed;             /* base64 AES-GCM text until accepted, or NULL */
	char *metadata;           /* JSON text given by the caller, or NULL */
	int nsend;
	struct verif_send send[VERIF_MAX_SENDS];
};
/* Free what a verif owns (sealed, metadata) and zero it. */
void verif_clear(struct verif *);

/* ---- open and close ------------------------------------------------------ */

/* Open the store at path (a directory, created with mode 0700 if it is
 * missing; map_size octets of room, 0 for the backend's default), and
 * recover from a crash (stale readers of a dead process are cleared).
 * Commits run as events on base, which must outlive the store.  Returns
 * the store, or NULL with *err set to a malloc'd message the caller
 * frees. */
struct store *store_open(struct event_base *base, const char *path,
    uint64_t map_size, char **err);
/* The same with a journal of journal_size octets (0: the default, 16
 * MiB; at least 64 KiB).  The journal (PATH/journal) holds the
 * acknowledged batches LMDB has not committed yet: see store_commit.c. */
struct store *store_open_journal(struct event_base *base, const char *path,
    uint64_t map_size, uint64_t journal_size, char **err);
/* For tests: while held, LMDB commits nothing the journal holds (so a
 * crash then must replay it), and store_flush() does not wait for it. */
void store_journal_hold(struct store *, int hold);
/* Commit what is staged and call its callbacks, again for what those
 * callbacks stage (a bounded number of rounds: what is still staged after
 * them is dropped, its callbacks never called, and logged), then close
 * and free the store.  NULL is ignored. */
void store_close(struct store *);

/*
 * The store on Redis: several nodes, each with the LMDB store of
 * store_open() as its replica, share one Redis.  Called once, right after
 * store_open() and before any other call.  store_repl.c's head comment
 * says how (the log, the replica, conflicts, durability).  0, or -1 with
 * err set (the store stays LMDB alone).
 */
struct redis_config;
struct store_redis {
	const struct redis_config *redis;
	const char *node;       /* 1..32 of [A-Za-z0-9_-]: unique per node */
	const char *prefix;     /* the keys' prefix in Redis, "smsverify"   */
	int version_ttl_ms;     /* how long a key's version is kept: 600000 */
	long log_max;           /* entries kept in the log stream: 1000000  */
	int wait_replicas;      /* a commit is acknowledged once so many
	                         * replicas have it (WAIT); 0: the master's */
	int wait_ms;            /* how long WAIT waits: 1000 */
};
int store_attach_redis(struct store *, const struct store_redis *,
    char *err, size_t errsize);
/*
 * The store on Redis: renew this node's lease (PREFIX:alive:NODE, for
 * lease_ms), and, twice a lease, take over the queued messages and the
 * undelivered webhook events of every node whose lease ran out (at most
 * max of each per node and call), in the open batch: cb(arg, taken) once
 * that has committed and something was taken.  Call it often (the
 * sweep).  On LMDB alone it does nothing.
 */
void store_lease(struct store *, int lease_ms, int max,
    void (*cb)(void *arg, int taken), void *arg);
/*
 * The store on Redis: read the password files named at start again
 * (SIGHUP), for the connections' next AUTH; the connections up now stay
 * as they are.  0 (at once on LMDB alone), or -1 with err naming the file
 * that could not be read, the old passwords kept.  Never logs a password.
 */
int store_reload_passwords(struct store *, char *err, size_t errsize);
/* 1 when commits can go: on LMDB alone while its journal works (a write
 * or flush of the journal that failed stops commits until a restart,
 * store_commit.c); on Redis once the replica
 * has reached the log's end and the node has its tag, while neither is
 * lost (GET /healthz says 503 "store_unavailable" meanwhile). */
int store_ready(struct store *);

/*
 * A barrier: cb(arg, STORE_OK) once this node's reads see every batch any
 * node had committed when store_sync() was called, or cb(arg,
 * STORE_UNAVAILABLE).  On LMDB alone at once (from the loop, never from
 * inside the call).  Run it before a request's reads on Redis: a check on
 * node B of a code sent through node A then finds it.
 */
void store_sync(struct store *, void (*cb)(void *arg, int result),
    void *arg);

/* ---- verifications and their indexes ------------------------------------ */

/*
 * The indexes are kept by store_verif_put() from each record's fields;
 * the caller never writes them, but for the receipt map.
 *
 *   pending   (key, phone) -> the id of the verification that most
 *             recently entered VERIF_PENDING with that pair (inserted
 *             pending, or moved to the pair while pending) and is still
 *             pending or has been locked (VERIF_MAX_ATTEMPTS).  It goes
 *             when that verification leaves VERIF_PENDING for any other
 *             status, when a newer one of the pair enters VERIF_PENDING,
 *             or at the purge; an update of an older pending one never
 *             takes it back.  One pending verification per (key, phone)
 *             is the caller's rule (it ends the older one first); the
 *             index names the one that counts, which a caller must read
 *             to learn whether it is pending or locked.
 *   queue     the verifications with status VERIF_PENDING and send_state
 *             SEND_QUEUED: pending and not yet accepted by an SMSC, so
 *             start-up sends them again (store_queue_each), earliest
 *             expires_at first.
 *   receipts  (smsc, normalised message id) -> id, written by
 *             store_msgid_put() only; normalising is the caller's (smpp/).
 *             A later put of the same pair replaces the id.
 *   expiry    every verification is due once at its expires_at (moved
 *             when an update changes expires_at before that time came)
 *             and then once more at that expires_at + the sweep's
 *             retention, whatever its status: see store_sweep().
 */

/* Read the verification id: its newest version, staged or durable.
 * out is overwritten (zeroed unless STORE_OK) and owns its sealed and
 * metadata strings: verif_clear() it.  STORE_OK, STORE_NOTFOUND (an id
 * that is empty or too long too) or STORE_ERR (an unreadable record, e.g.
 * of a newer format: never misread). */
int store_verif_get(struct store *, const char *id, struct verif *out);
/* The id of the pending (or locked) verification of (key, phone), see
 * above, into id (idsize octets, with its NUL).  STORE_OK, STORE_NOTFOUND,
 * or STORE_ERR (a failed read, or an id that does not fit). */
int store_pending_get(struct store *, const char *key, const char *phone,
    char *id, size_t idsize);
/* Stage v (an insert or an update of v->id; v is copied, not kept) and the
 * index changes it implies (see above).  v->id must be 1 to 31 octets,
 * v->status an enum verif_status, v->key not empty while pending, and the
 * strings within their arrays (sealed and metadata at most 65535 octets);
 * else STORE_ERR.  Returns STORE_OK or the error, which fails the open batch
 * (the put's own, or the one the batch already failed with): see the top
 * of the file. */
int store_verif_put(struct store *, const struct verif *);
/* Stage the receipt map's entry (smsc, msgid) -> id; msgid is the
 * normalised message id.  STORE_ERR (failing the batch) for an empty
 * smsc or msgid, an invalid id, or smsc and msgid longer than 255 octets
 * together.  The entry goes when the verification is purged. */
int store_msgid_put(struct store *, const char *smsc, const char *msgid,
    const char *id);
/* The id the receipt map holds for (smsc, msgid) into id (idsize octets);
 * returns as store_pending_get(). */
int store_msgid_get(struct store *, const char *smsc, const char *msgid,
    char *id, size_t idsize);

/* ---- commits ------------------------------------------------------------- */

typedef void (*store_commit_cb)(void *arg, int result);
/* Call cb(arg, result) once the batch open now (a new one if none is)
 * has committed (STORE_OK) or failed (STORE_FULL, STORE_ERR), never from
 * within this call.  Callbacks run in the order they were registered,
 * across batches too.  With nothing staged it still waits for the end of
 * the turn and for the batch being committed, so every answer leaves at
 * the same point of the loop and may rely on what was staged before.  A
 * callback may stage writes and wait again: that is a new batch. */
void store_on_commit(struct store *, store_commit_cb cb, void *arg);
/* The same, without hurrying the batch: it goes when it would have gone
 * without this callback (after the commit delay, or at the end of the
 * turn once someone waits on it with store_on_commit()).  For a caller
 * that learns when a write is durable but answers nobody before something
 * else happens (dispatch.c: a send's record, whose answer waits for the
 * SMSC's too, and whose accept may then share the record's commit). */
void store_on_commit_lazy(struct store *, store_commit_cb cb, void *arg);
/* The same, for an answer that refuses (a wrong code): cb may run once
 * the batch is in the journal's file, which a crash of the process no
 * longer loses, while the disk flushes it (so before store_on_commit()
 * callbacks registered earlier); only a crash of the machine within that
 * flush may lose it.  Without a journal (the store on Redis, or a batch
 * LMDB commits directly) it runs at the commit, in its order. */
void store_on_written(struct store *, store_commit_cb cb, void *arg);
/* Let staged writes that nobody waits on wait up to ms milliseconds for a
 * commit that someone waits on (0, the default: commit at the end of every
 * turn).  The daemon sets a few milliseconds so an SMPP submit's record and
 * the update when it is accepted share one commit. */
void store_set_commit_delay(struct store *, int ms);
/* Call fn(arg) on the loop right before the open batch goes to be
 * committed (whatever sends it: its time, store_flush(), store_close()),
 * never at another time; what fn stages goes in that batch (or fails it).
 * For writes that sum up a batch's changes, staged once per batch instead
 * of once per change (the statistics' roll-ups).  One per store; fn NULL
 * removes it. */
void store_set_precommit(struct store *, void (*fn)(void *arg), void *arg);
/* Commit the batch being committed and then the one staged, blocking the
 * loop (shutdown, tests); their callbacks are called before it returns,
 * and what they stage stays staged.  Returns the result of the last batch
 * finished (STORE_OK when there was nothing to do). */
int store_flush(struct store *);

/* ---- start-up, sweep ----------------------------------------------------- */

/* Call fn(arg, id) for every verification in the queue (see above),
 * staged writes included, in the order of their expires_at, then of their
 * ids' octets (the order the dispatcher sends in); fn is called after the
 * read, so it may read and stage.  Returns the count, or STORE_ERR (and fn
 * was not called). */
int store_queue_each(struct store *, void (*fn)(void *arg, const char *id),
    void *arg);
/* The same for at most max entries of the queue, from the first after
 * (after_t, after_id) in that order (after_id NULL: from the first), with
 * each one's expires_at: a page, so a caller reads a long queue back in
 * bounded memory.  Returns the count, or STORE_ERR. */
int store_queue_scan(struct store *, int64_t after_t, const char *after_id,
    int max, void (*fn)(void *arg, const char *id, int64_t expires_at),
    void *arg);

/* Sweep: handle at most max of the due times at or before now, oldest
 * first (by time, then by id), each in its newest version, staged ones
 * included.  At a verification's first due time (its expires_at), a
 * verification still VERIF_PENDING becomes VERIF_EXPIRED through
 * verif_enter() (updated_at = now, its sealed text erased) and is staged;
 * then fn(arg, v) is called with it (the store's, valid during the call
 * only: drop it from the caller's queues there).  Whatever its status,
 * its second due time is then expires_at + retention.  At that time the
 * verification and every index entry that names it are deleted (purged).
 * A verification whose record cannot be read is neither expired nor
 * purged (it is left alone, and logged).  Everything is staged in the
 * open batch; nothing due stages nothing and opens no batch.  Returns the
 * number of due times handled, or STORE_ERR: a read failed before
 * anything was staged, or the open batch failed (as with a put, or by
 * fn). */
int store_sweep(struct store *, int64_t now, int max, int64_t retention,
    void (*fn)(void *arg, const struct verif *), void *arg);

/* ---- webhook outbox ------------------------------------------------------ */

/*
 * Events for the webhooks (webhook.c) not yet delivered.  An event is
 * staged in the batch of the change it describes, so it exists exactly
 * when the change does.  Each has a sequence number: later events get
 * larger ones, also across restarts (an opened store numbers from the
 * wall clock in microseconds, or above its last event if that is
 * higher), because receivers drop repeats by it.  The outbox hands out
 * events in the order of their numbers, which is the order they were
 * staged.  Delivery is at least once: an event stays until its deletion
 * commits, so a crash between delivering it and that commit delivers it
 * again.
 */
struct store_event {
	uint64_t seq;             /* its number (see above) */
	char key[33];             /* the API key whose webhook gets it */
	int tries;                /* failed deliveries so far */
	int64_t due_ms, first_ms; /* next try; when it was staged */
	char *body;               /* malloc'd, NUL-terminated; the callee
	                             frees it */
	size_t body_len;
};
/* Stage a new event for key's webhook (key at most 32 octets), with body
 * (copied), no tries, due and first at now_ms; *seq (when not NULL) gets
 * its number.  STORE_OK or the batch's error. */
int store_outbox_put(struct store *, const char *key, const char *body,
    int64_t now_ms, uint64_t *seq);
/* Read at most max committed events with numbers from `from` on, in
 * order, whatever their due time (the caller picks the due ones), with
 * their staged retries and without those whose deletion is staged; then
 * call fn for each (after the read: fn may stage writes; it owns the
 * event's body, the event itself only during the call).  Returns the
 * count or STORE_ERR (and fn was not called). */
int store_outbox_scan(struct store *, uint64_t from, int max,
    void (*fn)(void *arg, struct store_event *), void *arg);
/* Stage the removal of a delivered (or abandoned) event; one that is not
 * there is no error. */
int store_outbox_del(struct store *, uint64_t seq);
/* Stage a failed try: the event's tries and next due time (the rest
 * stays).  An event that is not there is no error: nothing is staged. */
int store_outbox_retry(struct store *, uint64_t seq, int tries,
    int64_t due_ms);
/* The number of committed events not yet deleted (0 on a failed read). */
uint64_t store_outbox_count(struct store *);

/* ---- shield: tripped number ranges -------------------------------------- */

/*
 * The number ranges the shield (shield.h) has tripped, kept so that a
 * restart leaves them blocked until their cooldown is over.  One entry
 * per range: put when it trips, deleted when it reopens (by its cooldown
 * or an operator).  Writes are staged like every other (they commit with
 * the batch open when they are made) and reads see them at once.  The
 * number of entries is the number of ranges tripped and not yet reopened;
 * nothing else bounds it, so the caller deletes what reopens.
 */
struct store_shield {
	char range[17];           /* "+" and 1 to 15 digits */
	int64_t tripped_at;       /* seconds since the epoch */
	int64_t until;            /* when it reopens */
	uint64_t mature, approved;   /* the figures that tripped it */
};
/* Stage t, replacing the entry of its range if any.  STORE_ERR (failing
 * the batch) for a range that is not "+" and 1 to 15 digits; else
 * STORE_OK or the batch's error. */
int store_shield_put(struct store *, const struct store_shield *t);
/* Stage the deletion of range's entry; one that is not there is no
 * error. */
int store_shield_del(struct store *, const char *range);
/* Call fn(arg, t) for every entry, staged writes included, in the order
 * of their ranges' octets; fn is called after the read (it may stage
 * writes).  Entries that cannot be read are skipped (and logged).
 * Returns the count, or STORE_ERR (and fn was not called). */
int store_shield_each(struct store *,
    void (*fn)(void *arg, const struct store_shield *t), void *arg);
/* ---- test mode: captured messages -------------------------------------- */

/*
 * The messages of test keys and test numbers ([test NAME]) that went to
 * no SMSC (testmode.h): kept so that a test can read what the handset
 * would have got.  One entry per captured message, under its number and
 * the time it was captured; the text is kept sealed as the verification's
 * (verify_seal() with the verification's id), so the store never holds a
 * code in clear.  Writes are staged like every other; reads see them at
 * once.  Entries go with store_capture_prune().
 */
struct store_capture {
	char id[32];              /* the verification's id */
	char phone[17];           /* E.164 */
	int64_t sent_at_ms;       /* when it was captured */
	int receipt;              /* the caller's: the scripted receipt,
	                             0..255 */
	int64_t receipt_at_ms;    /* when it is due; 0: none */
	char *sealed;             /* base64, at most 65535 octets; in
	                             store_capture_each() the store's, valid
	                             during the call only */
};
/* Stage c.  STORE_ERR (failing the batch) for an empty or too long id or
 * phone, a receipt out of 0..255, or no sealed text; else STORE_OK or the
 * batch's error. */
int store_capture_put(struct store *, const struct store_capture *c);
/* Call fn(arg, c) for the entries of phone (NULL: of every number, by
 * number) captured at or after since_ms, newest first, at most max of
 * them (the newest), staged writes included;
 * fn is called after the read (it may stage writes).  Returns the count,
 * or STORE_ERR (and fn was not called). */
int store_capture_each(struct store *, const char *phone, int64_t since_ms,
    int max, void (*fn)(void *arg, const struct store_capture *c),
    void *arg);
/* Stage the deletion of at most max entries captured before before_ms,
 * looking at no more than a bounded number of committed entries per call
 * (the sweep calls it on every run).  Returns the number dropped, or
 * STORE_ERR. */
int store_capture_prune(struct store *, int64_t before_ms, int max);

/* ---- limit counters ------------------------------------------------------ */

/*
 * The limits' counters (limits.h encodes them): opaque values of at most
 * STORE_LIMIT_MAX octets under names of 1..STORE_LIMIT_NAME_MAX printable
 * octets, each with the time until which it matters.  A put is staged in
 * the open batch like any write, so a counter is durable exactly when the
 * send or check it counts is (put it in that batch), and reads see staged
 * puts: two sends in one batch both count.  A get is a point lookup.
 * After its until has passed a counter may be dropped by
 * store_limit_prune() at any time: readers take a missing counter for an
 * empty one.
 */
#define STORE_LIMIT_NAME_MAX 128
#define STORE_LIMIT_MAX 1024
/* The value of name into buf (size octets), its length into *len.
 * STORE_OK, STORE_NOTFOUND, or STORE_ERR (a failed read, a value that
 * does not fit buf, a name too long). */
int store_limit_get(struct store *, const char *name, void *buf,
    size_t size, size_t *len);
/* Stage name -> val (len octets, at most STORE_LIMIT_MAX), kept at least
 * until the time until.  STORE_OK or the batch's error (a bad name or
 * size fails it). */
int store_limit_put(struct store *, const char *name, const void *val,
    size_t len, int64_t until);
/* Drop (staged) at most max counters whose until is before now, looking
 * at a bounded number of them per call and going on where the last call
 * stopped, round and round: every counter is looked at within a bounded
 * number of calls, so dead ones do not pile up.  Nothing to drop stages
 * nothing.  Returns the number dropped, or STORE_ERR. */
int store_limit_prune(struct store *, int64_t now, int max);

/* ---- inbound messages ---------------------------------------------------- */

/*
 * Inbound (MO) messages, whole once their parts are joined (inbound.h),
 * newest first: the inbox of GET /v1/messages and the record of each
 * message.received event.  Each message carries a 16-octet digest of what
 * identifies its content (the caller's: smsc, from, to, text); the store
 * keeps digest -> when, so a message the SMSC delivers again can be told
 * from a new one (store_inbound_seen).  Alongside, the parts of
 * concatenated messages not yet joined: put before their deliver_sm is
 * answered, read back at start-up, deleted once joined or given up, so a
 * message whose parts straddle a restart is still joined.  Writes are
 * staged like every other; reads see them at once.
 */
#define STORE_INBOUND_TEXT_MAX 16384  /* octets of a message's UTF-8 text */
#define STORE_INBOUND_PART_KEY_MAX 200 /* octets of a part's message key */
struct store_inbound {
	char id[32];              /* "msg_" + 24 hex, 1 to 31 octets */
	char key[33];             /* the owning key's name; "" for none
	                             (admin keys only) */
	char from[22], to[22];    /* as the SMSC wrote them */
	char smsc[33];
	int64_t received_ms;      /* when it was whole (ms since the epoch) */
	uint8_t digest[16];
	char *text;               /* UTF-8, at most STORE_INBOUND_TEXT_MAX */
};
/* Free what m owns (text) and zero it. */
void store_inbound_clear(struct store_inbound *m);
/* Stage message m (copied) and its digest.  STORE_ERR (failing the batch)
 * for an id that is empty or too long, a NULL or too long text; else
 * STORE_OK or the batch's error. */
int store_inbound_put(struct store *, const struct store_inbound *m);
/* Whether a message with this digest was put: STORE_OK with *received_ms
 * its time (the newest), STORE_NOTFOUND, or STORE_ERR. */
int store_inbound_seen(struct store *, const uint8_t digest[16],
    int64_t *received_ms);
/* Call fn(arg, m) for the messages received at or after since_ms, newest
 * first, looking at at most max_scan of them; fn returns 0 to go on, 1 to
 * stop.  m is valid during the call only (fn is called after the read: it
 * may stage writes).  Unreadable entries are skipped (and logged).
 * Returns the count of messages fn saw, or STORE_ERR. */
int store_inbound_each(struct store *, int64_t since_ms, int max_scan,
    int (*fn)(void *arg, const struct store_inbound *m), void *arg);
/* Stage the deletion of (at most max) messages received before
 * before_ms, oldest first, and their digests.  Returns the count, or
 * STORE_ERR. */
int store_inbound_purge(struct store *, int64_t before_ms, int max);
/* Stage part seq (1..255) of the message key pkey (1 to
 * STORE_INBOUND_PART_KEY_MAX printable octets), its text and when it came.
 * A part put again replaces the first.  STORE_OK or the batch's error. */
int store_inbound_part_put(struct store *, const char *pkey, int seq,
    int64_t at_ms, const char *text);
/* Stage the deletion of part seq of pkey; a missing one is no error. */
int store_inbound_part_del(struct store *, const char *pkey, int seq);
/* Call fn for every stored part, staged writes included, in the order of
 * their keys, then part numbers; fn is called after the read.  Returns
 * the count or STORE_ERR. */
int store_inbound_parts_each(struct store *,
    void (*fn)(void *arg, const char *pkey, int seq, int64_t at_ms,
    const char *text), void *arg);

/* ---- idempotency keys ---------------------------------------------------- */

/*
 * The answers of sends made with an Idempotency-Key (idem.h encodes
 * them): opaque records of at most STORE_IDEM_MAX octets under (the API
 * key's name, the Idempotency-Key), each with the time it was made.  Put
 * the first one in the batch of the verification it answers, so that a
 * crash leaves both or neither; a later put of the same pair replaces it
 * (the answer, once known).  Reads see staged puts.  A get is a point
 * lookup.  store_idem_prune() drops the records made before a time, a
 * bounded number per call.
 */
#define STORE_IDEM_MAX 8192
/* The record of (key, ikey) into *rec (malloc'd, *len octets; the caller
 * frees it) and its time into *created_at.  STORE_OK, STORE_NOTFOUND, or
 * STORE_ERR (a failed read, an entry not of ours, key or ikey empty or
 * key over 32 or ikey over 255 octets). */
int store_idem_get(struct store *, const char *key, const char *ikey,
    int64_t *created_at, uint8_t **rec, size_t *len);
/* Stage (key, ikey) -> (created_at, the len octets of rec, at most
 * STORE_IDEM_MAX).  STORE_OK or the batch's error (a bad key or size
 * fails it). */
int store_idem_put(struct store *, const char *key, const char *ikey,
    int64_t created_at, const void *rec, size_t len);
/* Drop (staged) at most max records made before `before`, looking at a
 * bounded number per call and going on where the last call stopped, round
 * and round (as store_limit_prune()).  Returns the number dropped, or
 * STORE_ERR. */
int store_idem_prune(struct store *, int64_t before, int max);
/* ---- stats roll-ups ------------------------------------------------------ */

/*
 * The statistics' roll-up rows (stats.h encodes their values, opaque
 * here, at most STORE_ROLLUP_MAX octets): one row per (granularity,
 * owner, dimension, start time, group).  gran is a letter ('m' minute,
 * 'h' hour, 'd' day), owner a key's name or "*" (1..32 printable
 * octets), dim a letter, group 0..STORE_ROLLUP_GROUP_MAX octets (no NUL).
 * A put is staged in the open batch like every write: put the rows of an
 * event in the batch of the change it counts, so they are durable exactly
 * when it is.  Gets and scans see staged puts.
 */
#define STORE_ROLLUP_MAX 1024
#define STORE_ROLLUP_GROUP_MAX 63
/* The row's value into buf (size octets), its length into *len: STORE_OK,
 * STORE_NOTFOUND, or STORE_ERR (a bad name, a value that does not fit). */
int store_rollup_get(struct store *, int gran, const char *owner, int dim,
    int64_t t, const char *group, void *buf, size_t size, size_t *len);
/* Open a batch if none is open (it goes as any batch does), so that
 * writes a precommit function (store_set_precommit()) will stage have one
 * to go in: STORE_OK or the open batch's error. */
int store_rollup_begin(struct store *);
/* Stage the row's value (len octets).  STORE_OK or the batch's error (a
 * bad name or size fails it). */
int store_rollup_put(struct store *, int gran, const char *owner, int dim,
    int64_t t, const char *group, const void *val, size_t len);
/* Call fn(arg, t, group, val, len) for the rows of (gran, owner, dim)
 * whose start is in [from, to), staged ones included, at most max of them
 * (*more set when there were more), in no set order.  fn is called after
 * the read (it may not keep val).  The count, or STORE_ERR (fn was not
 * called). */
int store_rollup_scan(struct store *, int gran, const char *owner, int dim,
    int64_t from, int64_t to, int max, int *more,
    void (*fn)(void *arg, int64_t t, const char *group, const void *val,
    size_t len), void *arg);
/* Stage the deletion of at most max rows whose time is over: start +
 * span(gran) (60, 3600, 86400 seconds) at or before before.  The walk
 * looks at a bounded number of rows per call (it skips a whole series
 * once it meets a live row) and goes on from call to call, round and
 * round.  The number dropped, or STORE_ERR. */
int store_rollup_prune(struct store *, int64_t before, int max);

/* ---- stats --------------------------------------------------------------- */

/* The counts are the committed state's; the counters count since open. */
struct store_stats {
	uint64_t map_size, used;      /* octets: room, and room in use */
	uint64_t verifs, pending, queued;     /* records; index entries
	                                       * (pending: locked ones too,
	                                       * and the numbers' limit
	                                       * counters kept beside them) */
	uint64_t commits, commit_failures;    /* batches written; failed */
	uint64_t swept, purged;       /* verifications expired; purged */
	uint64_t limits;              /* limit counters but the numbers'
	                                 * (by key, address, range) */
	/* On Redis (redis is 1): the log position applied, batches refused
	 * for a conflict or failed, rebuilds, work taken over from dead
	 * nodes, commits WAIT did not confirm, and the connection's state. */
	int redis, redis_up;
	int redis_durable;            /* appendonly yes and appendfsync always
	                               * (or WAIT): 1; 0 not; -1 not known */
	uint64_t repl_applied, repl_conflicts, repl_failures, repl_rebuilds;
	uint64_t repl_adopted, repl_wait_short, redis_reconnects;
};
void store_stats(struct store *, struct store_stats *);

#endif
