/*
 * limit.h - the send and check limits of SPEC "Limits", as policy: the
 * sliding windows that count sends and wrong codes, and which limit, if
 * any, refuses a send.  Pure: no I/O, no clock (time is passed in), no
 * store; flow_limits.c reads the windows from the store, asks here, and
 * writes them back.
 *
 * A window never lets more than N through in ANY span of PERIOD seconds,
 * not just in fixed buckets (which let 2N through across a boundary).  It
 * keeps a count per slot of width = ceil(PERIOD / 60) seconds, at most
 * LIMIT_SLOTS of them, so a counter's size is bounded whatever the
 * traffic.  Counting is conservative: the oldest slot that overlaps the
 * window counts whole, so a window may refuse up to one slot (1/60 of
 * its period) early, never late.  retry_after is exact for that count:
 * the seconds until it drops below N if nothing more comes.
 *
 * resend_interval is a limit of 1 per interval computed exactly from the
 * time of the last send, which the (key, phone) window keeps.
 */
#ifndef LIMIT_H
#define LIMIT_H

#include <stddef.h>
#include <stdint.h>

struct conf_limits;

#define LIMIT_PER_PERIOD 60                    /* slots in a period */
#define LIMIT_SLOTS (LIMIT_PER_PERIOD + 1)    /* + the partial oldest */
#define LIMIT_ENCODED_MAX (22 + 5 * LIMIT_SLOTS)  /* limit_encode() */

/* The limits, by SPEC's names (limit_strname()). */
enum limit_kind {
	LIMIT_NONE = 0,
	LIMIT_RESEND_INTERVAL,
	LIMIT_SENDS_PER_PHONE,
	LIMIT_SENDS_PER_IP,
	LIMIT_SENDS_PER_KEY,
	LIMIT_SENDS_PER_RANGE,
	LIMIT_FAILED_CHECKS,
};
/* "resend_interval", "sends_per_phone", ..., "failed_checks_per_phone";
 * "none" for LIMIT_NONE. */
const char *limit_strname(enum limit_kind);

/*
 * One counter.  Slot number j (time / width) lives in slot[j %
 * LIMIT_SLOTS] while head - LIMIT_SLOTS < j <= head.  A zeroed struct
 * is an empty window: nothing counted yet (width 0 takes its period's
 * width at the first add).
 */
struct limit_window {
	uint32_t width;           /* seconds per slot; 0: nothing counted */
	int64_t head;             /* number of the newest slot */
	int64_t last;             /* time of the newest event; 0: none */
	uint32_t slot[LIMIT_SLOTS];
};

/* The slot width of a window of period seconds: ceil(period / 60), at
 * least 1. */
uint32_t limit_width(int period);

/* Count one event at now in a window of period seconds (0: only its time
 * is kept, as last).  A window kept with another width (its period
 * changed on a reload) is first brought to this one, conservatively
 * (each slot's count moves to the new slot that holds its last second). */
void limit_add(struct limit_window *, int period, int64_t now);
/* The events counted in the window (now - period, now], conservatively
 * (see the top of the file); events "after" now (a clock set back) count
 * too. */
uint32_t limit_count(const struct limit_window *, int period, int64_t now);
/* Seconds from now until limit_count() falls below n (n >= 1) with no
 * new event; 0 when it is below already. */
int64_t limit_retry_after(const struct limit_window *, int period,
    uint32_t n, int64_t now);
/* The time from which the window counts nothing for period, nor a
 * resend_interval of interval seconds after its last event: it may be
 * dropped then.  0 for an empty window. */
int64_t limit_until(const struct limit_window *, int period, int interval);

/* The window in its stored form into buf (size octets, at least
 * LIMIT_ENCODED_MAX): only the slots that count something.  Returns the
 * length.  Little-endian:
 *   u8 version 1, u32 width, i64 head, i64 last, u8 n,
 *   n x (u8 age = head - slot number, u32 count)
 */
size_t limit_encode(const struct limit_window *, uint8_t *buf,
    size_t size);
/* Parse a stored window into w: 0, or -1 (w empty) for octets that are
 * not one. */
int limit_decode(struct limit_window *w, const uint8_t *buf, size_t len);

/*
 * One limit as a send or a check meets it: at most n events in any period
 * seconds of window w (LIMIT_RESEND_INTERVAL: n is 1 and period the
 * interval, from w->last).  n 0 means off: it never refuses.
 */
struct limit_check {
	enum limit_kind kind;
	uint32_t n;
	int period;
	const struct limit_window *w;
};
/* How c stands at now: *count (events in its window), and 1 with
 * *retry_after (seconds, at least 1) when it refuses (count >= n), else 0
 * with *retry_after 0. */
int limit_check(const struct limit_check *c, int64_t now, uint32_t *count,
    int64_t *retry_after);
/* The limit among cs[0..n-1] that refuses at now, with the longest
 * retry_after (the earliest in cs on a tie: retrying sooner would be
 * refused by it anyway), and that retry_after in *retry_after; or
 * LIMIT_NONE and 0. */
enum limit_kind limit_decide(const struct limit_check *cs, int n,
    int64_t now, int64_t *retry_after);

/* The range of e164 for range_digits: its first digits (without the '+';
 * the whole number when it is shorter) into out.  Returns the length, or
 * 0 when e164 is not "+" and digits or out is too small. */
size_t limit_range(const char *e164, int range_digits, char *out,
    size_t size);
/* The subject sends_per_ip counts for an address: an IPv4 address as is,
 * an IPv6 address by its /64 (one end user's network: a host may have
 * any number of addresses in it), "2001:db8:1:2::/64"; an IPv4-mapped
 * IPv6 address as its IPv4.  Into out (at least 64 octets).  0, or -1
 * when ip is not an IPv4 or IPv6 address. */
int limit_ip_subject(const char *ip, char *out, size_t size);

#endif
