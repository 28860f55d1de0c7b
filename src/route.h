/*
 * route.h - which SMSCs a number goes over, in which order.  Pure: no I/O,
 * no event_base; the caller says which SMSCs are usable.
 */
#ifndef ROUTE_H
#define ROUTE_H

#include <stdint.h>

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
 * the SMSCs to try for e164, first choice first.  When last_smsc >= 0 (the
 * SMSC used for the previous send to this number within repeat_window),
 * the list starts after it, wrapping round.  Returns the count (0 when no
 * route covers the number); *reason says why the first was chosen. */
int route_order(const struct conf *, const char *e164, int last_smsc,
    int *order, enum route_reason *reason);

#endif
