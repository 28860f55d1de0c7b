/*
 * flow_limits.h - the limits of sends and checks (SPEC "Limits") over the
 * store: between flow.c and flow_limits.c only.
 *
 * limits.h decides; flow_limits.c names the counters that apply to a
 * send or a check, reads them from the store (point lookups through the
 * staged writes), asks limits.h, and stages them back in the open batch,
 * the batch of the send or the check they count.  Loop thread only.
 */
#ifndef FLOW_LIMITS_H
#define FLOW_LIMITS_H

#include <stdint.h>

#include "limit.h"

struct conf;
struct flow_limit;
struct store;

/* The limits of key (an index into conf->keys: its [limits] with its
 * overrides; [limits] itself for an index out of range). */
const struct conf_limits *flow_limits_of(const struct conf *, int key);

/* A sends_per_range counter some key uses: its range_digits and PERIOD
 * (a range's counter is shared by every key that counts it alike). */
struct flow_range {
	int digits, period;
};
/* The distinct ranges of conf's keys (malloc'd, NULL when none) and their
 * count into *n: once per configuration, not per send. */
struct flow_range *flow_limits_ranges(const struct conf *, int *n);

/*
 * Judge a send by key kname (index key) to e164, from the end user's
 * address ip (NULL: none given), at now.  When no limit refuses, count
 * it: every window it falls in is staged, the range counters of all
 * ranges[0..nrange-1] included.  Returns STORE_OK with *limit LIMIT_NONE
 * (counted), or with the limit that refuses it and *retry_after (nothing
 * counted); or a store error (the open batch may have failed with it).
 */
int flow_limits_send(struct store *, const struct conf *, int key,
    const char *kname, const char *e164, const char *ip,
    const struct flow_range *ranges, int nrange, int64_t now,
    enum limit_kind *limit, int64_t *retry_after);

/* Wrong codes that (kname, e164) may still try under
 * failed_checks_per_phone into *left: -1 when the limit is off, 0 when
 * every check must be refused.  STORE_OK or STORE_ERR. */
int flow_limits_checks_left(struct store *, const struct conf_limits *,
    const char *kname, const char *e164, int64_t now, int *left);
/* Count one wrong code of (kname, e164) (nothing when the limit is
 * off).  STORE_OK or the batch's error. */
int flow_limits_check_failed(struct store *, const struct conf_limits *,
    const char *kname, const char *e164, int64_t now);

/* The limits that apply to e164 for key kname (and to ip, when not
 * NULL), as GET /v1/limits shows them, into out (FLOW_LIMITS_MAX
 * entries).  Returns the count, or STORE_ERR. */
int flow_limits_view(struct store *, const struct conf_limits *,
    const char *kname, const char *e164, const char *ip, int64_t now,
    struct flow_limit *out);

#endif
