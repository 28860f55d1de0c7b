/*
 * idem.h - Idempotency-Key on a send (SPEC "Idempotency and races"):
 * the policy, pure.  The header's value is checked here, a request is
 * reduced to a fingerprint, the stored answer is encoded and decoded, and
 * the requests in flight are kept in a capped table.  No I/O, no clock:
 * api_idem.c executes what this decides (the store, the HTTP answers).
 *
 * The rule: a send with an Idempotency-Key is done once per (API key,
 * Idempotency-Key) within IDEM_TTL seconds.  The same key again with the
 * same request answers the first answer (status and body) and sends
 * nothing; with another request, 422 idempotency_mismatch.  A retry that
 * comes while the first is in flight waits for the first's answer.
 */
#ifndef IDEM_H
#define IDEM_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define IDEM_TTL 86400          /* seconds an answer is kept */
#define IDEM_KEY_MAX 255        /* octets of an Idempotency-Key */
#define IDEM_FP_LEN 32          /* SHA-256 */
#define IDEM_BODY_MAX 4096      /* octets of a stored answer's body */
#define IDEM_HEADER "Idempotency-Key"

/* 1 when s is a valid Idempotency-Key: 1 to IDEM_KEY_MAX printable ASCII
 * characters (0x20..0x7e), else 0 (NULL too). */
int idem_key_valid(const char *s);

/* The request's fingerprint: SHA-256 over the API's name, a NUL and the
 * body as canonical JSON (compact, keys sorted), so that white space and
 * the order of the fields do not make two requests differ.  0, or -1 when
 * the body cannot be encoded. */
int idem_fingerprint(const char *api, const json_t *body,
    uint8_t fp[IDEM_FP_LEN]);

/* 1 when an answer kept at created_at still answers at now (within
 * IDEM_TTL seconds: the key is taken), 0 when it is past (the key is new
 * again, whatever the sweep has not yet dropped). */
int idem_fresh(int64_t created_at, int64_t now);

/* A stored answer: what the first request was, and what it answered. */
struct idem_rec {
	uint8_t fp[IDEM_FP_LEN];
	int status;               /* HTTP status; 0: not yet answered (the
	                           * record was staged with the send, the
	                           * answer was lost to a crash): render the
	                           * verification id again */
	char id[32];              /* the verification it made */
	const char *body;         /* status' body, NUL-terminated; "" when
	                           * status is 0 */
	size_t body_len;
};

/* Encode r into a new buffer (*out, malloc'd, *len octets): format(1) = 1,
 * status(2, little-endian), fp(32), id length(1), id, body.  0, or -1 for
 * a record that does not fit (an id over 31 octets, a body over
 * IDEM_BODY_MAX, a status over 999). */
int idem_encode(const struct idem_rec *r, uint8_t **out, size_t *len);
/* Decode len octets at p into *r; r->body is a malloc'd copy
 * (NUL-terminated) the caller frees with idem_rec_clear().  0, or -1 for
 * anything that is not a record of ours (never misread). */
int idem_decode(const uint8_t *p, size_t len, struct idem_rec *r);
void idem_rec_clear(struct idem_rec *r);

/* ---- requests in flight ---------------------------------------------- */

/*
 * The table of sends in flight by (API key name, Idempotency-Key): the
 * first (the leader) and the retries waiting for its answer (followers).
 * Every request in it, leader or follower, counts against the cap, so a
 * client retrying in a loop cannot grow it without bound.  The table
 * owns its entries; the waiters are the caller's pointers.
 */
struct idem_table;
struct idem_entry;

struct idem_table *idem_table_new(int cap);
/* Free the table and its entries (the waiters are not touched). */
void idem_table_free(struct idem_table *);
/* Change the cap (a reload): requests over it stay, none joins until the
 * count is below it. */
void idem_table_set_cap(struct idem_table *, int cap);
/* Requests in the table now (leaders and followers). */
int idem_table_count(const struct idem_table *);

enum idem_join {
	IDEM_LEADER,              /* a new entry: the caller goes on */
	IDEM_FOLLOWER,            /* queued behind the leader: answered with
	                           * it (idem_entry_waiter) */
	IDEM_MISMATCH,            /* in flight with another fingerprint */
	IDEM_FULL,                /* the table is at its cap */
};
/* Join (key, ikey) with fingerprint fp: as the leader of a new entry
 * (*e set), or as a follower waiting with waiter (an entry of the same
 * fingerprint is in flight), or not at all.  key and ikey are copied. */
enum idem_join idem_table_join(struct idem_table *, const char *key,
    const char *ikey, const uint8_t fp[IDEM_FP_LEN], void *waiter,
    struct idem_entry **e);
/* The followers of e, in the order they came: waiter i for i from 0, NULL
 * past the last. */
void *idem_entry_waiter(const struct idem_entry *e, int i);
/* Remove e (its leader answered) from the table and free it. */
void idem_table_remove(struct idem_table *, struct idem_entry *e);

#endif
