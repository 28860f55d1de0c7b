/*
 * dlr.h - delivery receipts: receipt -> the submit it reports on -> its
 * verification, then the SMSC's answer after the commit.
 *
 * The receipt matcher is given the handles it needs: the store (the
 * receipt map and the records), the health figures (score.h) it feeds,
 * the webhook sender for "verification.delivery" events, and the
 * configuration the figures are read against.  It keeps the receipts that
 * overtook their submit_sm_resp ("parked": at most 1,000 per SMSC, for
 * ten minutes, found by message id) and its own counters.
 */
#ifndef DLR_H
#define DLR_H

#include <stdint.h>

#include "smpp.h"

struct carrier;
struct conf;
struct dlr;
struct score;
struct store;
struct verif;
struct webhook;

struct dlr_stats {
	uint64_t receipts;        /* receipts received */
	uint64_t unmatched;       /* of those, found no submit (parked) */
	uint64_t repeated;        /* matched a submit but changed nothing (the
	                             SMSC sent it again): not recorded */
	uint64_t park_dropped;    /* parked, then dropped unmatched for a
	                             newer one: the SMSC's park was full */
	uint64_t park_expired;    /* parked, then dropped unmatched for age */
	int parked;               /* parked now (over every SMSC; some may be
	                             past their time until the next receipt) */
};

/* A matcher over store; score, webhook and conf are borrowed (replace
 * them with dlr_reconf() before they go). */
struct dlr *dlr_new(struct store *, struct score *, struct webhook *,
    const struct conf *);
/* Count the final receipts into s (stats.h; borrowed, NULL: not
 * counted). */
struct stats;
void dlr_set_stats(struct dlr *, struct stats *);
/* A new configuration and its fresh figures (reload). */
void dlr_reconf(struct dlr *, const struct conf *, struct score *);
/* Forget the parked receipts and free d (d may be NULL). */
void dlr_free(struct dlr *);

/* Receipt r from carrier c's session sess: find its submit (the receipt
 * map, trying the id as written and, per the SMSC's message_id setting,
 * converted between hex and decimal), apply its state to that send, stage
 * the record with a "verification.delivery" event, count it in the
 * figures, and answer the SMSC (carrier_receipt_ack(sess, ack, ...)) after
 * the commit: ESME_ROK, or ESME_RX_T_APPN when the commit failed, so the
 * SMSC sends it again.  A receipt that changes nothing on its send (sent
 * again) is answered after the commit but stages nothing.  A receipt that
 * matches nothing is answered at once and parked in c's park for ten
 * minutes (it may have overtaken its submit_sm_resp); a full park (1,000)
 * drops its oldest. */
void dlr_receipt(struct dlr *, struct carrier *c, struct smpp_session *sess,
    const struct smpp_receipt *r, uint64_t ack);
/* A submit of carrier c was just accepted and its message ids indexed:
 * the sends of v on c.  Apply the receipts c parked under those ids, in
 * the order they came; nothing else is looked at (a hash lookup per id).
 * c's parked receipts older than their time are dropped. */
void dlr_retry_parked(struct dlr *, struct carrier *c, const struct verif *v);
void dlr_stats(const struct dlr *, struct dlr_stats *);

/* Try every parked receipt again, oldest first (the store on Redis: a
 * receipt may reach this node before its replica has the send another
 * node made; gw.c calls this each sweep). */
void dlr_retry_all(struct dlr *);

/* A receipt test mode scripts (testmode.h) for the message it captured
 * under (smsc, message_id): applied exactly as an SMSC's receipt is (the
 * record staged, its "verification.delivery" event, the figures, the
 * log line), with no session to answer.  state is an enum smpp_msg_state.
 * Returns 0, or -1 when no verification holds that message (purged,
 * say): nothing is parked. */
int dlr_scripted(struct dlr *, const char *smsc, const char *message_id,
    enum smpp_msg_state state);

/* The receipt state of a submit (enum dlr_state) from an SMPP message
 * state.  Pure. */
int dlr_state_from_smpp(enum smpp_msg_state);

#endif
