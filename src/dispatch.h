/*
 * dispatch.h - a message's life: committed -> routed -> submitted to a
 * carrier -> accepted, refused or timed out -> retried elsewhere or later,
 * until an SMSC accepts it or the code expires.
 *
 * The dispatcher holds in memory only what is in flight or waiting; the
 * record of truth is the store (a queued verification keeps its text
 * sealed there, so a restart resumes it with dispatch_resume()).  Which
 * SMSCs a message tries, in which order, is route_choose()'s answer
 * (route.h); the dispatcher executes it: it skips carriers that are down
 * or have no window room, submits, and on a refusal moves on, waits or
 * gives up.  Messages that wait do so earliest expiry first, at most
 * [verify] queue_max of them in memory, and one whose code has less than
 * [verify] min_useful left is not submitted: the owner fails it with
 * reason expired_in_queue (dispatch.c's head comment).  It holds carriers by a handle a reload cannot shift (not by
 * their place in the configuration), so a message in flight across a
 * reload fails over by the new configuration, never to a removed SMSC.
 *
 * It reports upward through struct dispatch_hooks; it knows nothing of
 * HTTP, keys or webhooks.  Loop thread only.
 */
#ifndef DISPATCH_H
#define DISPATCH_H

#include <stdint.h>

#include "smpp.h"
#include "store.h"

struct carrier;
struct conf;
struct dispatch;
struct event_base;
struct score;

/* What the dispatcher tells its owner.  Each hook may stage writes in the
 * store (they commit with the change that caused them). */
struct dispatch_hooks {
	/* A message was accepted by carrier c: its record is staged with
	 * the new sends, send_state sent, the sealed text erased and the
	 * receipt map entries.  first: this is the verification's first
	 * accepted message (send_state was queued). */
	void (*sent)(void *arg, const struct verif *v, int first,
	    struct carrier *c);
	/* A message failed for good (every SMSC refused it, none covers the
	 * number, its text cannot be read): the dispatcher has forgotten it;
	 * the owner fails the verification with reason. */
	void (*failed)(void *arg, const char *id, const char *reason);
};

struct dispatch_stats {
	uint64_t sent;            /* messages accepted by an SMSC */
	uint64_t failed;          /* messages failed for good */
	uint64_t route_switches;  /* sends moved off a degraded SMSC */
	int waiting;              /* in the wait queue (in memory) */
	int inflight;             /* submit_sm without an answer yet */
	uint64_t expired_in_queue;   /* failed: less than min_useful left */
	uint64_t spilled;         /* sends over queue_max, kept in the
	                             store only until the queue drains */
};

/* Called once per dispatch_send, after the record's commit: with the
 * verification as the store holds it once the submit's outcome is known
 * (sent: the accept may still be staged, see dispatch.c's orderings;
 * failed: committed) or the wait's end (queued), and STORE_OK; or with v
 * NULL and the store's error when the record's commit failed. */
typedef void (*dispatch_answer_cb)(void *ctx, const struct verif *v,
    int result);

/* A dispatcher on base over store.  secret opens the sealed texts (it is
 * copied).  hooks and arg report outcomes.  The carriers, configuration
 * and health figures come with dispatch_reconf(), which must be called
 * before the first send. */
struct dispatch *dispatch_new(struct event_base *, struct store *,
    const uint8_t *secret, const struct dispatch_hooks *hooks, void *arg);
/* The configuration (borrowed: sender, submit_wait_ms, routes), its
 * carriers (ncarrier, aligned with conf->smscs; the array is copied, the
 * carriers are borrowed) and health figures (borrowed).  On a reload:
 * carriers kept from before keep their handle; waiting messages are
 * routed again by the new configuration at once, messages in flight when
 * their answer comes back. */
void dispatch_reconf(struct dispatch *, const struct conf *,
    struct carrier **carriers, int ncarrier, struct score *);
/* Shutdown, before the carriers are freed: from now on nothing is
 * submitted (messages handed back by carrier_free() wait, queued in the
 * store for the next start) and answers go at once, with v NULL and
 * STORE_ERR, instead of after a commit.  The carriers are forgotten. */
void dispatch_stop(struct dispatch *);
/* Give back every message (after dispatch_stop() and the carriers'
 * carrier_free(), which hands back the cookies of messages in flight);
 * no commit callback is left behind.  d may be NULL. */
void dispatch_free(struct dispatch *);

/* Submit a message only once its record has committed (the store on
 * Redis, whose commits lose races: see dispatch.c's "Orderings"). */
void dispatch_commit_first(struct dispatch *);
/* Send v, which the caller has just staged with store_verif_put (status
 * pending, send_state queued, sealed text).  last_smsc is the name of the
 * SMSC of the previous send to this number within repeat_window, or NULL.
 * The submit may leave before the staged record commits; answer (may be
 * NULL) is called once, never before that commit. */
void dispatch_send(struct dispatch *, const struct verif *v,
    const char *last_smsc, dispatch_answer_cb answer, void *ctx);
/* Resume a queued verification found in the store at start-up. */
void dispatch_resume(struct dispatch *, const struct verif *v);
/* Resume the store's queue at start-up: its verifications, earliest
 * expiry first, in pages, up to [verify] queue_max in memory (the rest
 * waits in the store and is read back as the queue drains).  Returns how
 * many it took. */
int dispatch_resume_queue(struct dispatch *);
/* Forget id (canceled, approved, expired): it is not sent (again).  A
 * message on the wire is forgotten when its answer comes back. */
void dispatch_drop(struct dispatch *, const char *id);
void dispatch_stats(const struct dispatch *, struct dispatch_stats *);

/* Carrier events, forwarded by the carriers' owner (carrier.h). */
void dispatch_submit_done(struct dispatch *, struct carrier *, void *cookie,
    uint32_t status, const char *message_id);
void dispatch_ready(struct dispatch *, struct carrier *);

#endif
