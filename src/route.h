/*
 * route.h - which SMSCs a number goes over, in which order.  Pure: no I/O,
 * no event_base, no clock and no random draw; the caller says what it
 * knows of each SMSC (up, sidelined, its score figures) and passes the
 * send's probe draw, and executes the answer.
 */
#ifndef ROUTE_H
#define ROUTE_H

#include <stdint.h>

#include "score.h"      /* struct score_view; score.h does not include us */

struct conf;

#define ROUTE_MAX_SMSC 16

enum route_reason {
	ROUTE_PRIMARY = 0,   /* first SMSC of the route */
	ROUTE_REPEAT,        /* a repeat within repeat_window: next after last */
	ROUTE_FAILOVER,      /* an earlier SMSC was down or refused */
	ROUTE_SCORE,         /* the first choice scores under the floor */
	ROUTE_PROBE,         /* ... and this send tests it all the same */
};
const char *route_strreason(enum route_reason);

/* The route matching e164 by longest prefix, or -1 when none does. */
int route_find(const struct conf *, const char *e164);

/* Fill order[] (at most ROUTE_MAX_SMSC SMSC indexes into conf->smscs) with
 * the configured SMSCs to try for e164, first choice first.  When
 * last_smsc >= 0 (the SMSC used for the previous send to this number
 * within repeat_window) and is on the route, the list starts after it,
 * wrapping round, and *reason is ROUTE_REPEAT; otherwise ROUTE_PRIMARY.
 * Returns the count (0 when no route covers the number).  No health and
 * no sidelining: route_choose() adds those. */
int route_order(const struct conf *, const char *e164, int last_smsc,
    int *order, enum route_reason *reason);

/* What the choice knows of one SMSC (index into conf->smscs). */
struct route_smsc {
	int up;                      /* at least one bind is up */
	int sidelined;               /* refusing every submit lately */
	struct score_view score;     /* its figures on the number's route (score.h) */
};

struct route_choice {
	int route;                   /* index into conf->routes, -1: none */
	int order[ROUTE_MAX_SMSC];   /* SMSC indexes, first choice first */
	int norder;                  /* 0: no route covers the number */
	int nskip;                   /* the last nskip of order are sidelined
	                                SMSCs to pass over while an earlier
	                                one is up */
	enum route_reason reason;    /* why order[0] is first */
	int switched_from;           /* the SMSC health moved off first place, or -1 */
};

/*
 * Choose the SMSCs for e164.  last_smsc: the SMSC of the previous send to
 * this number within repeat_window, or -1.  smscs: conf->nsmsc entries
 * (may be NULL: all up, none sidelined, no figures).  roll: 0..99, this
 * send's draw for the probe share.  Fills *out (every field, always) and
 * returns out->norder.
 *
 * Three steps, in this order:
 *
 * 1. The configured order, as route_order(): reason ROUTE_PRIMARY, or
 *    ROUTE_REPEAT when it starts after last_smsc.
 * 2. Health, when a route covers e164 and it has at least two SMSCs: the
 *    SMSCs whose score.degraded is set go behind the others, each group
 *    keeping its order, when there are both kinds and the first good one
 *    is not already first.  Then, if roll < the route's probe share, this
 *    send tests the degraded first choice: the order is unchanged and
 *    reason is ROUTE_PROBE.  Otherwise the order moves, reason is
 *    ROUTE_SCORE and switched_from is the SMSC that lost first place (the
 *    caller logs and counts the switch).  All degraded, none degraded, or
 *    the first already good: nothing changes.
 * 3. Sidelining, when at least one SMSC of the order is up and not
 *    sidelined: the sidelined ones go to the back, keeping their order,
 *    and nskip counts them.  When none is up and not sidelined, nskip is 0
 *    and the order stays (a sidelined SMSC is better than none).  When
 *    this moves the first choice away and reason is still ROUTE_PRIMARY,
 *    reason becomes ROUTE_FAILOVER, as when the old dispatcher passed the
 *    first over; other reasons and switched_from are left as they are.
 *
 * Whether an SMSC has room right now is not part of the choice: the
 * caller walks order and passes over what is full or down.
 */
int route_choose(const struct conf *, const char *e164, int last_smsc,
    const struct route_smsc *smscs, int roll, struct route_choice *out);

#endif
