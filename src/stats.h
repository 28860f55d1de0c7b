/*
 * stats.h - traffic statistics: durable per-minute roll-ups of what
 * happened to the verifications, and the answers of GET /v1/stats
 * (SPEC "Statistics and release gates").
 *
 * Two halves.  The pure one (stats.c, no I/O, its own unit tests): a
 * roll-up row (counts, two latency histograms, failures by reason), its
 * stored form, the histogram's buckets and percentiles, the tiling of a
 * window by day, hour and minute rows, and the sum of rows per group.
 * The counting one (stats_count.c): struct stats, which the flow and the
 * receipts call where an event happens (one line each); it names the
 * event's groups (key, country, route, SMSC, number range), holds the
 * event for the store's open batch and stages the rows of the batch's
 * events, once per row, right before that batch commits (store.h,
 * store_set_precommit and "stats roll-ups"), so a count is durable
 * exactly when the change it counts is.
 *
 * What is counted, and where.  Every row is the row of the minute the
 * verification was created (its send): the sent, delivered, approved
 * counts and the failures of a verification land in its send's minute,
 * however late they come, so a row's conversion is approved / sends of
 * the same verifications (Twilio's Verify conversion reports count the
 * same way).  sends: a verification created; sent: its first acceptance
 * by an SMSC (or by test mode); delivered / undeliverable: a final
 * receipt (expired and rejected count as undeliverable, with the failure
 * reasons "dlr_expired", "dlr_rejected", "dlr_undeliverable"); approved:
 * a code checked right; failures: a verification that failed for good,
 * by its reason (an SMPP status name, "no_route", ...).  Latencies: from
 * the verification's creation to a delivered receipt, and to approval, in
 * milliseconds, as histograms (p50/p95 come from the buckets).
 *
 * Rows are kept for every minute, hour and UTC day (the same event in
 * the three, in one batch); a window is answered from the coarsest rows
 * that tile it (stats_tile), minute rows only at its ragged ends.  Each
 * row exists per owner (the key's name, and "*" for all keys together)
 * and per dimension.  Threads: the loop's.
 */
#ifndef STATS_H
#define STATS_H

#include <stddef.h>
#include <stdint.h>

struct conf;
struct store;
struct verif;

/* ---- the pure half (stats.c) -------------------------------------------- */

#define STATS_NHIST 24          /* histogram buckets */
#define STATS_NFAIL 8           /* failure reasons kept per row */
#define STATS_REASON_MAX 32     /* octets of a reason, NUL included */
#define STATS_OTHER "other"     /* the reasons past STATS_NFAIL */
#define STATS_GROUP_MAX 64      /* octets of a group's name */
#define STATS_ROW_MAX 1024      /* octets of a row's stored form */

/* The granularities; the numbers are in the stored keys: fixed. */
enum stats_gran {
	STATS_MINUTE = 'm',
	STATS_HOUR = 'h',
	STATS_DAY = 'd',
};
/* The dimensions a row is grouped by; in the stored keys: fixed. */
enum stats_dim {
	STATS_BY_ALL = 'a',       /* one group, "": all traffic */
	STATS_BY_KEY = 'k',
	STATS_BY_COUNTRY = 'c',
	STATS_BY_ROUTE = 'r',
	STATS_BY_SMSC = 's',
	STATS_BY_RANGE = 'n',
};

struct stats_row {
	uint64_t sends, sent, delivered, undeliverable, approved;
	uint32_t delivery[STATS_NHIST];   /* creation to delivered receipt */
	uint32_t approve[STATS_NHIST];    /* creation to approval */
	int nfail;
	struct {
		char reason[STATS_REASON_MAX];
		uint64_t n;
	} fail[STATS_NFAIL];
};

enum stats_kind {
	STATS_SEND = 1,
	STATS_SENT,
	STATS_DELIVERED,          /* ms: the latency */
	STATS_UNDELIVERABLE,      /* reason */
	STATS_APPROVED,           /* ms: the latency */
	STATS_FAILED,             /* reason */
};

/* The seconds a row of gran covers: 60, 3600, 86400. */
int64_t stats_span(int gran);
/* The name of a dimension as the API spells it ("country", ..., and
 * "minute" for STATS_BY_ALL); its dimension from a name, or -1. */
const char *stats_dim_name(int dim);
int stats_dim_by_name(const char *name);

/* Count one event into r: ms for the latencies, reason (NULL or "":
 * "unknown") for the failures.  Counts saturate. */
void stats_row_add(struct stats_row *r, int kind, int64_t ms,
    const char *reason);
/* Add b into a (counts, buckets, reasons; reasons past STATS_NFAIL go
 * under STATS_OTHER). */
void stats_row_merge(struct stats_row *a, const struct stats_row *b);
/* The stored form of r into buf (at least STATS_ROW_MAX octets): its
 * length.  format(1) = 1, nhist(1), nfail(1), the five counts, then each
 * histogram as a bitmap of its non-empty buckets (4 octets,
 * little-endian) and their counts, then per reason: length(1), the
 * reason, the count.  Counts are LEB128 varints (7 bits an octet, low
 * first): a minute's row is some forty octets, and a commit rewrites
 * every row its events touch, so the size is pages written. */
size_t stats_row_encode(const struct stats_row *r, uint8_t *buf);
/* Read a stored row into r (zeroed first).  0, or -1 for a value that is
 * not one (another format, cut short, too long): never misread. */
int stats_row_decode(struct stats_row *r, const void *buf, size_t len);

/* The bucket of a latency of ms milliseconds (negative: 0), and a
 * bucket's bounds in ms: [lo, hi), hi -1 for the last, open one. */
int stats_bucket(int64_t ms);
void stats_bucket_bounds(int b, int64_t *lo, int64_t *hi);
/* The p-th percentile (0 < p <= 100) of a histogram, in ms, read
 * from its buckets: linear within the bucket that holds the rank (the
 * last bucket answers its lower bound).  -1 for an empty histogram. */
int64_t stats_percentile(const uint32_t h[STATS_NHIST], double p);

/* One piece of a tiled window: rows of gran with start in [from, to). */
struct stats_tile {
	int gran;
	int64_t from, to;
};
#define STATS_TILES_MAX 5
/* Tile [t0, t1) (t0 <= t1, both multiples of 60) with the coarsest rows
 * that fit: minutes up to the first whole hour, hours up to the first
 * whole UTC day, days, then hours and minutes to t1.  Returns the number
 * of pieces (0..STATS_TILES_MAX) written to out, in time order; empty
 * pieces are left out. */
int stats_tile(int64_t t0, int64_t t1, struct stats_tile out[STATS_TILES_MAX]);

/* A window's rows summed per group (a hash table, bounded). */
#define STATS_GROUPS_MAX 5000
struct stats_agg;
struct stats_agg *stats_agg_new(void);
void stats_agg_free(struct stats_agg *);
/* Add row r under group (at most STATS_GROUP_MAX - 1 octets; longer ones
 * are cut).  0, or -1 when the group is new and STATS_GROUPS_MAX are
 * there already (the row is not counted: the answer says truncated). */
int stats_agg_add(struct stats_agg *, const char *group,
    const struct stats_row *r);
/* The number of groups, and group i (0 <= i < count) in the order of
 * their names' octets (after stats_agg_sort()). */
int stats_agg_count(const struct stats_agg *);
void stats_agg_sort(struct stats_agg *);
const char *stats_agg_group(const struct stats_agg *, int i);
const struct stats_row *stats_agg_row(const struct stats_agg *, int i);

/* A time as the API takes it into *t (seconds since the epoch): RFC 3339
 * ("2026-12-03T12:00:00Z", an offset "+02:00" too, fractions ignored),
 * Unix seconds, or now minus a span: "-90s", "-30m", "-1h", "-30d",
 * "-2w".  0, or -1. */
int stats_parse_time(const char *s, int64_t now, int64_t *t);

/* The window since..until in minutes: since rounded down, until up. */
void stats_window(int64_t *since, int64_t *until);

/* ---- the counting half (stats_count.c) ---------------------------------- */

struct stats;

/* Count into store, grouping by conf's routes and [limits] range_digits,
 * keeping [store] stats_retention seconds (events of verifications
 * created before that are not counted).  It takes the store's precommit
 * function (store_set_precommit()): free it once the store is closed, or
 * (tests) after store_set_precommit(store, NULL, NULL). */
struct stats *stats_new(struct store *store, const struct conf *conf);
void stats_reconf(struct stats *, const struct conf *);
void stats_free(struct stats *);
/* Batches whose rows could not be staged (each logged as stats.error, a
 * line a second at most); 0 for NULL. */
uint64_t stats_errors(const struct stats *);

/* The hooks: each counts one event of v in the open batch (the batch of
 * v's change: call it right after v's put; its rows are staged right
 * before the batch goes).  NULL s is ignored.  A failed staging fails the
 * batch, as a put would (store.h). */
void stats_send(struct stats *s, const struct verif *v);
void stats_sent(struct stats *s, const struct verif *v);
/* v's status changed: approved and failed are counted, the rest not. */
void stats_finish(struct stats *s, const struct verif *v);
/* A receipt was applied to v's send i: counted when it is final and the
 * first final one of v's sends (parts, failovers: once per
 * verification). */
void stats_receipt(struct stats *s, const struct verif *v, int i);

/* A query of GET /v1/stats. */
struct stats_query {
	int dim;                  /* enum stats_dim; STATS_BY_ALL: by minute */
	const char *owner;        /* a key's name, or NULL: every key */
	int64_t since, until;     /* multiples of 60 (stats_window()) */
};
/* Sum the rows of q into agg (one group per minute, named by its RFC 3339
 * time, for STATS_BY_ALL); *truncated set when groups or rows were left
 * out (bounds).  0, or -1 when the store could not be read. */
int stats_query(struct stats *, const struct stats_query *q,
    struct stats_agg *agg, int *truncated);
/* Drop rows older than the retention: at most max, with bounded work
 * (the sweep calls it every run).  The count, or -1. */
int stats_prune(struct stats *, int64_t now, int max);

#endif
