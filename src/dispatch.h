/*
 * dispatch.h - a message's life: committed -> routed -> submitted to a
 * carrier -> accepted, refused or timed out -> retried elsewhere or later,
 * until an SMSC accepts it or the code expires.
 *
 * The dispatcher holds in memory only what is in flight or waiting; the
 * record of truth is the store (a queued verification keeps its text
 * sealed there, so a restart resumes it with dispatch_resume()).
 */
#ifndef DISPATCH_H
#define DISPATCH_H

#include <stdint.h>

#include "smpp.h"
#include "store.h"

struct gw;
struct carrier;
struct dispatch;

/* Called once per dispatch_send: with the verification as committed after
 * the submit's outcome (sent, failed) or the wait's end (queued), and
 * STORE_OK; or with v NULL and the store's error when the first commit
 * failed (nothing will be sent). */
typedef void (*dispatch_answer_cb)(void *ctx, const struct verif *v,
    int result);

struct dispatch *dispatch_new(struct gw *);
void dispatch_free(struct dispatch *);

/* Send v, which the caller has just staged with store_verif_put (status
 * pending, send_state queued, sealed text).  last_smsc is the SMSC of the
 * previous send to this number within repeat_window, or -1.  Nothing goes
 * out before the staged record commits. */
void dispatch_send(struct dispatch *, const struct verif *v, int last_smsc,
    dispatch_answer_cb answer, void *ctx);
/* Resume a queued verification found in the store at start-up. */
void dispatch_resume(struct dispatch *, const struct verif *v);
/* Forget id (canceled, approved, expired): it is not sent (again). */
void dispatch_drop(struct dispatch *, const char *id);
/* Recompute the routes of waiting messages (after a reload). */
void dispatch_reroute(struct dispatch *);
/* Messages waiting for an SMSC, and submitted without an answer yet. */
int dispatch_waiting(const struct dispatch *);
int dispatch_inflight(const struct dispatch *);

/* Carrier callbacks (gw.c wires them; arg is the struct gw). */
void dispatch_submit_done(void *arg, struct carrier *, void *cookie,
    uint32_t status, const char *message_id);
void dispatch_ready(void *arg, struct carrier *);

/* dlr.c: receipts.  dlr_new/dlr_free hold the parked receipts (those that
 * overtook their submit_sm_resp); dlr_receipt applies one and answers it
 * after the commit; dlr_retry_parked runs after a submit of carrier c was
 * accepted and indexed. */
struct dlr;
struct dlr *dlr_new(struct gw *);
void dlr_free(struct dlr *);
int dlr_parked(const struct dlr *);
void dlr_retry_parked(struct gw *, struct carrier *);
void dlr_receipt(void *arg, struct carrier *, struct smpp_session *,
    const struct smpp_receipt *, uint64_t ack);
/* The receipt state of a submit from an SMPP message state. */
int dlr_state_from_smpp(enum smpp_msg_state);

#endif
