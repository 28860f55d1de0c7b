/*
 * carrier.h - one configured SMSC: its SMPP sessions (binds), and the
 * choice of a session with window room for each submit.
 *
 * The carrier knows nothing of verifications either: it forwards the
 * sessions' events to the callbacks its owner gives.
 */
#ifndef CARRIER_H
#define CARRIER_H

#include <stdint.h>
#include <jansson.h>

#include "smpp.h"

struct event_base;
struct conf_smsc;
struct carrier;

struct carrier_callbacks {
	/* A submit ended (see smpp.h submit_done). */
	void (*submit_done)(void *arg, struct carrier *, void *cookie,
	    uint32_t status, const char *message_id);
	/* A receipt arrived; answer with carrier_receipt_ack(sess, ack, st). */
	void (*receipt)(void *arg, struct carrier *, struct smpp_session *,
	    const struct smpp_receipt *, uint64_t ack);
	/* A bind came up or window room appeared: queued work may go. */
	void (*ready)(void *arg, struct carrier *);
};

/* Create the carrier for one [smsc] section (copied); index is its place
 * in the configuration.  Sessions start with carrier_start(). */
struct carrier *carrier_new(struct event_base *, const struct conf_smsc *,
    int index, const struct carrier_callbacks *, void *arg);
void carrier_start(struct carrier *);
/* Submit over a bound session with room.  0, or -1 when none has room. */
int carrier_submit(struct carrier *, const struct smpp_message *,
    void *cookie);
/* 1 when at least one session is bound. */
int carrier_up(const struct carrier *);
/* Submits possible now: free window slots over the bound sessions,
 * limited by the throughput bucket and any throttling pause. */
int carrier_room(struct carrier *);
const char *carrier_name(const struct carrier *);
int carrier_index(const struct carrier *);
void carrier_set_index(struct carrier *, int index);
int carrier_latin1(const struct carrier *);
/* Source address TON/NPI for a sender (alpha: alphanumeric): the
 * configured ones, or 5/0 for alphanumeric and 1/1 for digits. */
void carrier_source_addr(const struct carrier *, int alpha, uint8_t *ton,
    uint8_t *npi);
/* 1 when a long text goes as one message_payload, 0 as UDH parts. */
int carrier_long_payload(const struct carrier *);
/* enum conf_msgid of its [smsc] section. */
int carrier_msgid_mode(const struct carrier *);
/* 1 when the section's settings equal this carrier's (reload keeps it). */
int carrier_same(const struct carrier *, const struct conf_smsc *);
void carrier_receipt_ack(struct smpp_session *, uint64_t ack,
    uint32_t status);
/* Graceful stop of every session; done(arg) when all are stopped. */
void carrier_stop(struct carrier *, void (*done)(void *arg), void *arg);
void carrier_free(struct carrier *);
/* Its state for /v1/smscs. */
json_t *carrier_json(const struct carrier *);
/* Receipts received with message_state state (0..8): its name and count.
 * 0, or -1 past the last state. */
int carrier_receipts(const struct carrier *, int state, const char **name,
    uint64_t *n);
/* Counters summed over its sessions. */
void carrier_stats(const struct carrier *, struct smpp_session_stats *);

#endif
