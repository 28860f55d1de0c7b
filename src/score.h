/*
 * score.h - how well each SMSC does on each route, from what it proves:
 * receipts (delivered or not, and how fast) and, above all, codes that
 * come back in a check.  Receipts can be faked by grey routes; a code
 * typed back cannot.
 */
#ifndef SCORE_H
#define SCORE_H

#include <stdint.h>

struct conf;
struct score;

/* The rolling figures of one SMSC on one route over the route's window. */
struct score_view {
	uint64_t sent;            /* accepted submits in the window */
	uint64_t mature;          /* of those, sent at least grace ago */
	uint64_t delivered, undeliverable;    /* receipts */
	uint64_t approved;        /* codes of mature sends checked right */
	double delivered_ratio;   /* delivered / receipts; -1: no receipts */
	double conversion;        /* approved / mature; -1: no mature send */
	double latency_s;         /* mean send -> receipt; -1: none */
	double score;             /* min of the two ratios known, or -1 */
	int degraded;             /* a ratio with min_sample behind it is
	                             under the route's floor */
};

/* Figures for the routes and SMSCs of conf (indexes into its arrays). */
struct score *score_new(const struct conf *);
void score_free(struct score *);

/* Outcomes of a message to phone over the SMSC called smsc, counted on
 * the route conf gives phone.  t is when the message was submitted (the
 * bucket it counts in); an unknown route or SMSC is ignored. */
void score_sent(struct score *, const struct conf *, const char *phone,
    const char *smsc, int64_t t);
void score_receipt(struct score *, const struct conf *, const char *phone,
    const char *smsc, int64_t t, int delivered, int64_t latency_s);
void score_approved(struct score *, const struct conf *, const char *phone,
    const char *smsc, int64_t t);

/* Fill *v with the figures of SMSC smsc (index into conf->smscs) on route
 * (index into conf->routes) as they stand at now, over the route's window.
 * A NULL score or an index out of range gives empty figures: counts 0,
 * ratios, latency and score -1, not degraded.  Reads only: the caller may
 * pass v->degraded and the rest straight to route_choose() (route.h).
 * How the window and maturity are cut into slices: score.c. */
void score_get(const struct score *, const struct conf *, int route,
    int smsc, int64_t now, struct score_view *);

#endif
