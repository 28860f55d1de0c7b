/*
 * inbound.h - inbound (mobile originated) SMS: a deliver_sm that is not a
 * receipt -> decoded text -> joined parts -> a stored message, its
 * message.received event, and the inbox GET /v1/messages reads.
 *
 * The module is given the handles it needs: the loop (long-poll timers),
 * the store (messages, waiting parts), the webhook sender and the
 * configuration ([number] sections: whose each address is).  It keeps
 * the table of parts waiting for the rest (inbound_parts.h), the pollers
 * waiting for a new message, and its own counters.  Loop thread only.
 */
#ifndef INBOUND_H
#define INBOUND_H

#include <stdint.h>

#include <jansson.h>

#include "smpp.h"

struct carrier;
struct conf;
struct event_base;
struct inbound;
struct store;
struct webhook;

/* A message delivered again within this many seconds (same SMSC, from, to
 * and text) is the SMSC repeating one whose answer it did not get: it is
 * answered and not stored twice. */
#define INBOUND_DEDUPE_SECS 300
/* Parts of a concatenated message wait this long for the rest. */
#define INBOUND_PARTS_AGE_SECS 3600
/* Pollers (GET /v1/messages?wait=) waiting at once, in all. */
#define INBOUND_WAITERS_MAX 256

struct inbound_stats {
	uint64_t received;        /* messages stored (whole) */
	uint64_t parts;           /* parts held for joining */
	uint64_t duplicates;      /* parts or messages delivered again */
	uint64_t dropped;         /* undecodable, or parts given up */
	int waiting_parts;        /* messages waiting for parts now */
	int pollers;              /* long polls waiting now */
};

/* The module; conf is borrowed (replace it with inbound_reconf()). */
struct inbound *inbound_new(struct event_base *, struct store *,
    struct webhook *, const struct conf *);
void inbound_reconf(struct inbound *, const struct conf *);
/* Read the parts a previous run stored back into the table (start-up).
 * Returns the count, or -1 when the store could not be read. */
int inbound_resume(struct inbound *);
/* Answer every poller (with what it would have got at its timeout) and
 * free the module.  NULL is ignored. */
void inbound_free(struct inbound *);

/* Answer every poller now and take no more (the drain).  NULL is
 * ignored. */
void inbound_stop_polls(struct inbound *);

/* Inbound message m from carrier c's session sess: decode it (the UDH,
 * then the text by data_coding and c's data_coding_default), join it with
 * its other parts when it is one, store it (a part, or the whole message
 * with its message.received event to its [number]'s key, or to admin keys
 * for an address no [number] names) and answer the SMSC after the commit
 * (carrier_receipt_ack: ESME_ROK, or ESME_RX_T_APPN when the commit
 * failed, so the SMSC sends it again).  A part or message delivered again
 * is answered the same way and stored once.  What cannot be decoded is
 * answered ESME_ROK and dropped (logged): sending it again would not
 * help. */
void inbound_mo(struct inbound *, struct carrier *c, struct smpp_session *sess,
    const struct smpp_mo *m, uint64_t ack);

/* Sweep: give up parts that waited too long, and purge messages received
 * more than retention seconds before now (at most max). */
void inbound_sweep(struct inbound *, int64_t now, int max, int64_t retention);

/* A query of the inbox. */
struct inbound_query {
	const char *key;          /* only this key's messages; NULL: all */
	const char *to, *from;    /* NULL: any; a leading '+' is ignored */
	int64_t since_ms;         /* received at or after */
	int limit;                /* at most this many, newest first */
};
/* The messages matching q as a JSON array of {"id","from","to","text",
 * "codes","smsc","received_at"} (a new reference), or NULL when the store
 * could not be read. */
json_t *inbound_list(struct inbound *, const struct inbound_query *q);

/* The name of the key whose [number] has address addr (a leading '+' on
 * either side ignored), or NULL when no [number] names it.  The string
 * belongs to the configuration. */
const char *inbound_owner(const struct inbound *, const char *addr);

/* Wait for the next message stored: fn(arg) fires once, on the loop, after
 * the commit of a new message, or when the module is freed.  Returns a
 * handle for inbound_unwait(), or NULL when INBOUND_WAITERS_MAX are
 * waiting already or the module is being freed. */
struct inbound_waiter *inbound_wait(struct inbound *, void (*fn)(void *arg),
    void *arg);
/* Stop waiting (before fn fired; after, the handle is gone). */
void inbound_unwait(struct inbound *, struct inbound_waiter *);

void inbound_stats(const struct inbound *, struct inbound_stats *);

#endif
