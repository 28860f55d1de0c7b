/*
 * store.h - the durable records: verifications and their indexes in LMDB.
 *
 * The LMDB store's files (store_lmdb.h) are the only ones that include
 * <lmdb.h>.  One environment holds named databases:
 *   verif    id -> record (format-versioned)
 *   pending  key NUL phone -> id of the pending verification
 *   expiry   be64(time) id -> kind: what the sweep does at that time
 *            (expire a pending verification, later purge the record)
 *   queue    id -> "" for verifications no SMSC has accepted yet
 *   msgid    smsc NUL normalised message id -> id (receipt matching)
 *   msgref   id NUL smsc NUL msgid -> "" (so a purge finds its msgid entries)
 *
 * Group commit: writes are staged in a batch in memory; a writer thread
 * applies a whole batch in one LMDB write transaction and commits it (one
 * fsync) while the loop goes on.  A batch goes to the writer after the
 * turn's other callbacks once someone waits on it with store_on_commit(),
 * or after the delay set with store_set_commit_delay() (0, the default:
 * every turn), and not before the writer is done with the one before:
 * everything staged meanwhile shares the next commit.  With a delay set on
 * an event base with priorities, a waited-on batch goes at the lowest
 * priority, once the loop has read everything ready.
 * Reads see what is staged (and what the writer holds) over the committed
 * database; the outbox scan and the counts of store_stats() and
 * store_outbox_count() see committed entries only.  Callbacks fire after
 * the commit, with its result: persist, then acknowledge.  LMDB's errors,
 * a full map above all, come with the commit, not from the put.
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct store;

/* Results.  Persisted enum values below are fixed: they are on disk. */
#define STORE_OK        0
#define STORE_NOTFOUND  1
#define STORE_ERR      -1
#define STORE_FULL     -2  /* the map is full: raise [store] map_size */

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

struct verif {
	char id[32];              /* "ver_" + 24 hex */
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

/* Open (creating) the environment at path with the given map size, clear
 * stale reader slots.  Commits run as events on base.  Returns NULL and a
 * malloc'd *err on failure. */
struct store *store_open(struct event_base *base, const char *path,
    uint64_t map_size, char **err);
/* Commit what is staged, then close. */
void store_close(struct store *);

/* Read a verification (the open batch's version if it has one).  out is
 * overwritten and must be verif_clear()ed.  STORE_OK, STORE_NOTFOUND or
 * STORE_ERR. */
int store_verif_get(struct store *, const char *id, struct verif *out);
/* The id of the pending verification of (key, phone): STORE_OK or
 * STORE_NOTFOUND. */
int store_pending_get(struct store *, const char *key, const char *phone,
    char *id, size_t idsize);
/* Stage a verification (insert or update) in the current batch, keeping
 * the pending, expiry and queue indexes in step with its status and
 * send_state.  Returns STORE_OK, or the batch's error (STORE_ERR for a
 * record that cannot be stored, or the error of a batch this one was
 * staged on); after an error the whole batch fails and its commit
 * callbacks get the error, as they do when the commit fails. */
int store_verif_put(struct store *, const struct verif *);
/* Stage the receipt index entry (smsc, message id) -> verification id. */
int store_msgid_put(struct store *, const char *smsc, const char *msgid,
    const char *id);
int store_msgid_get(struct store *, const char *smsc, const char *msgid,
    char *id, size_t idsize);

typedef void (*store_commit_cb)(void *arg, int result);
/* Call cb(arg, result) after the current batch commits (STORE_OK) or fails
 * (STORE_FULL / STORE_ERR).  With nothing staged it still waits for the end
 * of the turn, so every answer leaves at the same point of the loop. */
void store_on_commit(struct store *, store_commit_cb cb, void *arg);
/* Let staged writes that nobody waits on wait up to ms milliseconds for a
 * commit that someone waits on (0, the default: commit at the end of every
 * turn).  The daemon sets a few milliseconds so an SMPP submit's record and
 * the update when it is accepted share one commit. */
void store_set_commit_delay(struct store *, int ms);
/* Wait for the writer's batch, then commit the staged one and wait for it
 * too, blocking the loop (shutdown, tests).  Returns the last result. */
int store_flush(struct store *);

/* Call fn for every queued verification id (start-up: resume sends).
 * Returns the count or STORE_ERR. */
int store_queue_each(struct store *, void (*fn)(void *arg, const char *id),
    void *arg);

/* Sweep: handle at most max expiry entries due at or before now, in time
 * order: a pending verification becomes VERIF_EXPIRED (fn is called with
 * it, so the caller can drop it from its queues), finished records are
 * purged retention seconds after expiry.  Staged in the current batch.
 * Returns the number handled or STORE_ERR. */
int store_sweep(struct store *, int64_t now, int max, int64_t retention,
    void (*fn)(void *arg, const struct verif *), void *arg);

/* Webhook outbox (webhook.c): events not yet delivered, in the order they
 * were staged.  An event is staged in the batch of the change it describes,
 * so it exists exactly when the change does. */
struct store_event {
	uint64_t seq;             /* its key: later events have larger ones */
	char key[33];             /* the API key whose webhook gets it */
	int tries;                /* failed deliveries so far */
	int64_t due_ms, first_ms; /* next try; when it was staged */
	char *body;               /* malloc'd, NUL-terminated; the callee
	                             frees it */
	size_t body_len;
};
/* Stage a new event for key's webhook, due at now_ms; *seq (when not
 * NULL) gets its number. */
int store_outbox_put(struct store *, const char *key, const char *body,
    int64_t now_ms, uint64_t *seq);
/* Read at most max committed events from seq from on (not those whose
 * deletion is staged), then call fn for each (after the read: fn may stage
 * writes).  Returns the count or STORE_ERR. */
int store_outbox_scan(struct store *, uint64_t from, int max,
    void (*fn)(void *arg, struct store_event *), void *arg);
/* Stage the removal of a delivered (or abandoned) event. */
int store_outbox_del(struct store *, uint64_t seq);
/* Stage a failed try: tries and the next due time. */
int store_outbox_retry(struct store *, uint64_t seq, int tries,
    int64_t due_ms);
/* Events waiting. */
uint64_t store_outbox_count(struct store *);

struct store_stats {
	uint64_t map_size, used;      /* octets */
	uint64_t verifs, pending, queued;
	uint64_t commits, commit_failures;
	uint64_t swept, purged;
};
void store_stats(struct store *, struct store_stats *);

#endif
