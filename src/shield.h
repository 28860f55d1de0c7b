/*
 * shield.h - the circuit breaker against SMS pumping: per number range
 * (E.164 "+" and its first range_digits digits), how many of the codes
 * sent there came back in a check, and the verdict on the next send.
 *
 * A range trips when, over the last `window` seconds, at least
 * `min_sample` of its sends are mature (at least `grace` seconds old: a
 * code needs time to be typed) and fewer than `floor` percent of those
 * were approved.  A tripped range stays blocked for `cooldown` seconds,
 * then reopens with its figures started afresh (they were the evidence
 * for the trip, and it has been acted on); an operator may reopen it
 * sooner.  Bots that request codes for numbers they do not own (premium
 * or foreign ranges that pay them per message) never type a code back;
 * people do, most of the time.
 *
 * Pure: no I/O, no event base, no clock: every call that needs the time
 * is given it.  The caller (flow.c) asks before a send, counts what an
 * SMSC accepted and what was approved, and executes the verdicts: it
 * keeps tripped ranges durable (store.h), tells the webhooks and logs.
 *
 * Memory is bounded whatever the traffic: at most max_ranges ranges are
 * tracked; a new one takes the place of the least recently used range
 * that is not tripped, and when every tracked range is tripped the new
 * one is not tracked (its sends go unmeasured: counted in stats).  Each
 * range holds a fixed ring of time slices.  Loop thread only.
 */
#ifndef SHIELD_H
#define SHIELD_H

#include <stddef.h>
#include <stdint.h>

#define SHIELD_RANGE_MAX 17     /* "+", up to 15 digits, NUL */

struct shield;

struct shield_params {
	int floor;                /* percent approved; 0: never trips */
	int window;               /* seconds (10 or more) */
	int min_sample;           /* mature sends before a range can trip */
	int cooldown;             /* seconds a trip lasts */
	int grace;                /* seconds a send waits to count; < window */
	int range_digits;         /* digits of a range, 1..15 */
	int max_ranges;           /* ranges tracked at once, 1 or more */
};

/* One range as it stands. */
struct shield_view {
	char range[SHIELD_RANGE_MAX];
	uint64_t sends;           /* sends counted in the window */
	uint64_t mature;          /* of those, at least grace old */
	uint64_t approved;        /* approved codes of the mature ones */
	int tripped;              /* blocked until `until` */
	int reopened;             /* shield_check(): this call reopened it
	                           * (its cooldown was over) */
	int64_t tripped_at, until;
	uint64_t trip_mature;     /* what tripped it: mature sends... */
	uint64_t trip_approved;   /* ... and approved ones among them */
};

enum shield_verdict {
	SHIELD_OPEN = 0,          /* send */
	SHIELD_BLOCKED,           /* tripped earlier: refuse until v->until */
	SHIELD_TRIPS,             /* trips with this send: refuse, and the
	                           * caller stores the trip and tells */
};

struct shield_stats {
	uint64_t trips;           /* ranges tripped */
	uint64_t blocked;         /* sends refused (SHIELD_TRIPS included) */
	uint64_t reopened;        /* trips ended: cooldown, or by hand */
	uint64_t evicted;         /* ranges forgotten to make room */
	uint64_t untracked;       /* sends to a range that found no room */
	int ranges;               /* tracked now */
	int tripped;              /* tripped now */
};

/* A shield with these parameters (copied), tracking nothing yet. */
struct shield *shield_new(const struct shield_params *);
/* Free it; NULL is allowed. */
void shield_free(struct shield *);
/* New parameters (a reload).  Trips stand as they are, whatever their
 * range's length.  When window changes every range's figures start
 * afresh (their slices no longer line up); when max_ranges shrinks, the
 * least recently used ranges that are not tripped are forgotten. */
void shield_reconf(struct shield *, const struct shield_params *);

/* The range of e164 ("+" and digits): "+" and its first digits digits,
 * the whole number when it has no more, into out.  Pure. */
void shield_range(const char *e164, int digits, char *out, size_t size);

/*
 * The verdict on a send to e164 at now; *v gets its range's figures
 * (its range alone, zeros, when it is not tracked).  A range tripped
 * earlier whose cooldown is over reopens here (v->reopened set: the
 * caller drops the stored trip).  A trip of any length that prefixes
 * e164 blocks it, so trips made under another range_digits still hold.
 * SHIELD_TRIPS: the range's figures are under the floor now; it is
 * tripped from now until now + cooldown, its figures cleared (v holds
 * them as they were).  Counts blocked sends.
 */
enum shield_verdict shield_check(struct shield *, const char *e164,
    int64_t now, struct shield_view *v);
/* An SMSC accepted a message to e164, submitted at t: counted in the
 * slice of t (a range not tracked yet is added, see the top).  A send of
 * a tripped range (one in flight when it tripped) is not counted. */
void shield_sent(struct shield *, const char *e164, int64_t t);
/* The code of that message (submitted at t) came back right: counted
 * with its send, when its slice is still there. */
void shield_approved(struct shield *, const char *e164, int64_t t);

/* Trip range (as shield_range() writes it) from a stored record at
 * start-up: blocked until v->until, with v's trip figures.  0, or -1
 * when v->until is not after now or there is no room (every tracked range
 * tripped). */
int shield_restore(struct shield *, const struct shield_view *v,
    int64_t now);
/* Reopen range now (an operator): its figures start afresh.  0, or -1
 * when it is not tripped at now (not tracked, open, or its cooldown over:
 * shield_expire() reopens that one). */
int shield_reopen(struct shield *, const char *range, int64_t now);
/* Reopen every range whose cooldown is over at now; fn(arg, v) is
 * called for each after it reopened (v: its trip as it was).  Returns
 * how many. */
int shield_expire(struct shield *, int64_t now,
    void (*fn)(void *arg, const struct shield_view *v), void *arg);
/* The ranges tripped at now, the soonest to reopen first: a malloc'd
 * array into *out (the caller frees it; NULL when none), its length
 * returned. */
int shield_tripped(const struct shield *, int64_t now,
    struct shield_view **out);
/* The figures of range at now into *v: 0, or -1 when it is not tracked
 * (v then holds the range and zeros). */
int shield_get(const struct shield *, const char *range, int64_t now,
    struct shield_view *v);
void shield_stats(const struct shield *, struct shield_stats *);

#endif
