/*
 * cancel.h - withdrawing messages nobody needs any more (cancel_sm).
 *
 * A verification that is superseded by a new send, approved, or canceled
 * through the API while its message still waits in an SMSC would put a
 * useless (and, once superseded, misleading) code on the handset.  For an
 * [smsc] with `cancel = yes` this module withdraws every part of it the
 * SMSC has not reported final yet, with one cancel_sm each.
 *
 * Policy is pure (cancel_plan(), cancel_fill(), cancel_seen()); the rest
 * executes it over the carriers it is given.  Nothing is retried: a
 * refusal (ESME_RCANCELFAIL: already delivered, or unknown to the SMSC), a
 * timeout or a dropped bind is logged and counted, and a cancel a carrier
 * has no room for (each bind takes at most SMPP_CANCELS_MAX at a time) is
 * dropped and counted.  A receipt that still comes for a withdrawn message
 * is applied as usual by dlr.c.  At most one cancel_sm goes per (SMSC,
 * message id) over the last CANCEL_SEEN_MAX withdrawn.
 *
 * Everything runs on the loop thread.  The module owns the request it
 * hands each carrier as its cookie; carriers give each back exactly once
 * (cancel_done()), also when they are freed, so free the module after the
 * carriers.
 */
#ifndef CANCEL_H
#define CANCEL_H

#include <stddef.h>
#include <stdint.h>

#include "smpp.h"
#include "store.h"

struct carrier;
struct cancel;

/* (SMSC, message id) pairs remembered as withdrawn already. */
#define CANCEL_SEEN_MAX 4096

/* One message part to withdraw. */
struct cancel_item {
	char smsc[33];
	char message_id[66];
};

/* Which sends of v to withdraw, pure.  Only a verification that ended
 * before its message needed to arrive is concerned: status
 * VERIF_CANCELED (superseded or canceled through the API) or
 * VERIF_APPROVED.  Of its sends, those with a message id whose SMSC has
 * reported nothing final (dlr DLR_PENDING: no receipt, or only ENROUTE /
 * ACCEPTED) and for which wants(arg, smsc) is 1 (its [smsc] says cancel =
 * yes; NULL: every SMSC).  Writes at most max items into out and returns
 * how many. */
int cancel_plan(const struct verif *v,
    int (*wants)(void *arg, const char *smsc), void *arg,
    struct cancel_item *out, int max);

/* The addresses of the cancel_sm of a message to phone (E.164) from
 * sender, pure: the ones dispatch.c's submit_sm went with.  The source is
 * sender as written for an alphanumeric sender, without its leading '+'
 * for digits (*alpha says which: the carrier picks source TON/NPI by it,
 * carrier_source_addr()); the destination is phone without '+', TON 1
 * NPI 1; service_type "".  Points into sender and phone; message_id and
 * the source TON/NPI are left for the caller. */
void cancel_fill(const char *sender, const char *phone,
    struct smpp_cancel *out, int *alpha);

/* The set of pairs withdrawn already, a ring of CANCEL_SEEN_MAX hashes
 * (pure: no I/O, no clock). */
struct cancel_seen {
	uint64_t h[CANCEL_SEEN_MAX];
	int n, next;
};
/* 1 when (smsc, message_id) is in the set; else add it (the oldest goes
 * when it is full) and return 0. */
int cancel_seen(struct cancel_seen *, const char *smsc,
    const char *message_id);

/* Counters since cancel_new(). */
struct cancel_stats {
	uint64_t sent;       /* cancel_sm that went on the wire */
	uint64_t ok;         /* ... answered ESME_ROK: withdrawn */
	uint64_t failed;     /* ... refused (ESME_RCANCELFAIL ...) or lost
	                        with the bind */
	uint64_t timeouts;   /* ... unanswered within response_timeout */
	uint64_t dropped;    /* not sent: the SMSC down or gone, its binds'
	                        cancel slots full, a field that does not
	                        fit, or the end of the verification failed
	                        to commit */
	uint64_t outstanding; /* sent and not answered yet (a gauge) */
};

/* A module that withdraws once the store has committed what ended the
 * verification (store_on_commit()); store NULL: at once (tests). */
struct cancel *cancel_new(struct store *store);
/* The carriers to withdraw through (a name in a send finds its carrier
 * here) and the default sender for a verification that names none (conf
 * [verify] sender).  Borrowed until the next call; call again after a
 * reload. */
void cancel_reconf(struct cancel *, struct carrier *const *carriers,
    int ncarrier, const char *default_sender);
/* Withdraw what cancel_plan() says of v (a record just staged by
 * flow.c), less the parts withdrawn already: after the commit of the open
 * batch, when it succeeds (else they are dropped, counted).  Returns the
 * number of parts to withdraw. */
int cancel_verif(struct cancel *, const struct verif *v);
/* A carrier's cancel_done callback: the answer for cookie. */
void cancel_done(struct cancel *, struct carrier *, void *cookie,
    uint32_t status);
void cancel_stats(const struct cancel *, struct cancel_stats *out);
/* Free; every cookie must have come back (free the carriers first) and
 * the store must be closed (no commit callback may come).  NULL is
 * ignored. */
void cancel_free(struct cancel *);

#endif
