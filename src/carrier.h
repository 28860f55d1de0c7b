/*
 * carrier.h - one configured SMSC: its SMPP sessions (binds), and the
 * choice of a session with window room for each submit.
 *
 * The carrier knows nothing of verifications either: it forwards the
 * sessions' events to the callbacks its owner gives, and paces submits
 * (the [smsc] section's throughput, and a pause after ESME_RTHROTTLED or
 * ESME_RMSGQFUL).  Everything runs on the loop thread of the event_base it
 * was made with.  The owner's callbacks fire from the loop's events, never
 * from inside carrier_start(), carrier_submit(), carrier_cancel(),
 * carrier_room() or carrier_stop(); carrier_free() is the exception (see
 * there).
 *
 * Ownership: the carrier owns its sessions and copies of its [smsc]
 * section's strings; the owner owns the cookies given with each submit and
 * gets each back exactly once through submit_done (a cancel's through
 * cancel_done).
 */
#ifndef CARRIER_H
#define CARRIER_H

#include <stdint.h>
#include <jansson.h>

#include "smpp.h"

struct event_base;
struct conf_smsc;
struct carrier;

/* What a carrier tells its owner.  All three run on the loop, from the
 * carrier's sessions' and timers' events; each may call back into the
 * carrier (submit, room), but must not free it (defer carrier_free() to a
 * later turn of the loop). */
struct carrier_callbacks {
	/* A submit ended, once per carrier_submit() that returned 0: status
	 * ESME_ROK with the SMSC's message_id, an SMSC command_status with
	 * message_id "", SMPP_STATUS_TIMEOUT or SMPP_STATUS_NOT_SENT (see
	 * smpp.h's submit_done).  message_id is valid during the call only.
	 * ESME_RTHROTTLED and ESME_RMSGQFUL have paused the carrier (room 0)
	 * before this fires. */
	void (*submit_done)(void *arg, struct carrier *, void *cookie,
	    uint32_t status, const char *message_id);
	/* A delivery receipt arrived on session sess.  r is valid during the
	 * call only.  The owner must answer it with carrier_receipt_ack(sess,
	 * ack, status), now or after storing it; until then the SMSC waits
	 * for the deliver_sm_resp. */
	void (*receipt)(void *arg, struct carrier *, struct smpp_session *sess,
	    const struct smpp_receipt *r, uint64_t ack);
	/* An inbound message arrived on session sess (smpp.h's struct
	 * smpp_mo, valid during the call only).  Answered like a receipt:
	 * carrier_receipt_ack(sess, ack, status) once it is stored.  May be
	 * NULL: inbound messages are then acknowledged at once. */
	void (*mo)(void *arg, struct carrier *, struct smpp_session *sess,
	    const struct smpp_mo *m, uint64_t ack);
	/* Room for submits may have appeared: a bind came up, a submit ended
	 * (a window slot is free again), the throttling pause is over or the
	 * throughput bucket refilled.  Queued work may go; carrier_room()
	 * says how much.  Never fires once carrier_stop() was called.  May be
	 * NULL. */
	void (*ready)(void *arg, struct carrier *);
	/* A cancel_sm ended, once per carrier_cancel() that returned 0:
	 * status as smpp.h's cancel_done (ESME_ROK: withdrawn;
	 * ESME_RCANCELFAIL and the like, SMPP_STATUS_TIMEOUT,
	 * SMPP_STATUS_NOT_SENT).  Nothing is retried.  May be NULL. */
	void (*cancel_done)(void *arg, struct carrier *, void *cookie,
	    uint32_t status);
};

/* Create the carrier for one [smsc] section: `sessions` submitting binds
 * (transceivers, or transmitters plus one receiver bind for receipts).
 * cs and its strings are copied, cb is copied, arg is handed back to every
 * callback; index is the section's place in the configuration (the owner's
 * per-SMSC arrays).  Nothing connects until carrier_start().  Returns NULL
 * (logged as carrier.error) when a session refuses the configuration. */
struct carrier *carrier_new(struct event_base *, const struct conf_smsc *cs,
    int index, const struct carrier_callbacks *cb, void *arg);
/* Connect and bind every session; each reconnects by itself after a
 * failure (smpp.h).  ready fires as each submitting bind comes up. */
void carrier_start(struct carrier *);
/* Submit m over the next bound session with window room (round robin),
 * if the pace allows one more now.  m's strings and body are copied before
 * it returns.  Returns 0 when it went on the wire (submit_done will fire
 * for cookie), -1 when the carrier is stopping or paused, the bucket is
 * empty (ready fires when it refills) or no bound session has room. */
int carrier_submit(struct carrier *, const struct smpp_message *m,
    void *cookie);
/* Withdraw a message this carrier accepted: one cancel_sm (smpp.h's
 * struct smpp_cancel, copied before it returns) over the next bound
 * submitting session that takes it.  Cancels are not paced by the
 * throughput bucket; each bind bounds them instead (SMPP_CANCELS_MAX).
 * Returns 0 when it went on the wire (cancel_done will fire for cookie),
 * -1 when the carrier is stopping or no bound session takes one more
 * cancel now: the caller drops it. */
int carrier_cancel(struct carrier *, const struct smpp_cancel *c,
    void *cookie);
/* 1 when its [smsc] section says cancel = yes. */
int carrier_cancels(const struct carrier *);
/* 1 when at least one submitting session is bound and the carrier is not
 * stopping, else 0. */
int carrier_up(const struct carrier *);
/* Submits carrier_submit() would take now: free window slots over the
 * bound sessions, capped by the throughput bucket; 0 while paused or
 * stopping.  When the pace allows none it arms a timer and ready fires
 * once it allows one again (hence not const). */
int carrier_room(struct carrier *);
/* The [smsc] section's name; the carrier's copy, valid until it is
 * freed. */
const char *carrier_name(const struct carrier *);
/* Its place in the configuration, as given to carrier_new() or last set by
 * carrier_set_index() (a reload that keeps it at another place). */
int carrier_index(const struct carrier *);
void carrier_set_index(struct carrier *, int index);
/* 1 when this SMSC reads data_coding 0 as Latin-1 (data_coding_default),
 * the default_is_latin1 of smpp.h's text functions. */
int carrier_latin1(const struct carrier *);
/* Source address TON/NPI for a sender (alpha: alphanumeric): the
 * configured ones, or 5/0 for alphanumeric and 1/1 for digits. */
void carrier_source_addr(const struct carrier *, int alpha, uint8_t *ton,
    uint8_t *npi);
/* 1 when a long text goes as one message_payload, 0 as UDH parts: the
 * long_payload of smpp_segments_make(). */
int carrier_long_payload(const struct carrier *);
/* enum conf_msgid of its [smsc] section: the mode of
 * smpp_msgid_normalise() for its message ids. */
int carrier_msgid_mode(const struct carrier *);
/* 1 when every setting of section cs equals this carrier's (a reload keeps
 * the carrier and its binds), else 0. */
int carrier_same(const struct carrier *, const struct conf_smsc *cs);
/* Answer the receipt the receipt callback gave with sess and ack:
 * command_status ESME_ROK, or ESME_RX_T_APPN to have the SMSC send it
 * again.  An ack whose connection is gone is ignored, but sess itself must
 * still exist: it lives as long as its carrier, so an owner that acks
 * after an asynchronous store commit must ack (or forget the ack) before
 * the carrier is freed. */
void carrier_receipt_ack(struct smpp_session *sess, uint64_t ack,
    uint32_t status);
/* Graceful stop: no more submits or ready; every session drains its
 * window (outstanding cookies come back through submit_done), unbinds and
 * stops (smpp_session_stop()).  done(arg) fires once, from the loop, when
 * the last session has stopped; it may be NULL.  done runs inside a
 * session's event, so free the carrier from a later turn of the loop. */
void carrier_stop(struct carrier *, void (*done)(void *arg), void *arg);
/* Free at once, stopped or not: sessions close without unbinding, and
 * every outstanding cookie comes back through submit_done with
 * SMPP_STATUS_NOT_SENT before it returns (ready does not fire, and
 * carrier_submit() refuses, meanwhile).  Not from inside one of this
 * carrier's callbacks.  NULL is ignored. */
void carrier_free(struct carrier *);
/* Its state for /v1/smscs: name, host, port, up, throughput, each bind's
 * state and counters, submit_sm_resp counts by command_status name and
 * receipts by message state.  A new reference for the caller. */
json_t *carrier_json(const struct carrier *);
/* Receipts received with message_state `state` (0..8, enum
 * smpp_msg_state): its name for /metrics ("delivered", ...) and count.
 * Returns 0, or -1 past the last state (iterate from 0 until -1). */
int carrier_receipts(const struct carrier *, int state, const char **name,
    uint64_t *n);
/* Counters summed over its sessions into *out (last_bind_status and
 * backoff_ms are left 0: they have no sum). */
void carrier_stats(const struct carrier *, struct smpp_session_stats *out);

#endif
