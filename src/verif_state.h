/*
 * verif_state.h - the one state machine of a verification's status.
 *
 * A verification is born VERIF_PENDING and leaves that state once, for one
 * of the final states (approved, expired, canceled, max_attempts, failed).
 * verif_enter() is the only function that changes v->status: everything
 * that moves a verification (a check, the API's cancel, a newer send, a
 * final refusal, the sweep) goes through it, so each move clears what the
 * new state must not keep and is logged the same way.  Pure but for the
 * log line: no store, no event_base.
 */
#ifndef VERIF_STATE_H
#define VERIF_STATE_H

#include <stdint.h>

#include "store.h"

/* 1 when a verification may go from status `from` to `to`: from pending
 * to any final state; never out of a final state, never to pending. */
int verif_can_enter(int from, int to);

/* Move v to status `to` for the reason `why` (a short word: "approved",
 * "superseded", "no_route", an SMPP status name...) at time now.
 * On the move: updated_at = now; the sealed text is erased and freed
 * (only a pending verification may still be sent); entering VERIF_FAILED
 * also sets send_state SEND_FAILED and fail_reason = why; one line
 * `event=verif.state id= from= to= why=` is logged.  Returns 0, or -1 with
 * v unchanged when verif_can_enter() refuses the move.  The caller stores
 * the record (the flow's flow_finish() does, with its webhook event). */
int verif_enter(struct verif *v, int to, const char *why, int64_t now);

#endif
