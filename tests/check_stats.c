/*
 * check_stats.c - the statistics (stats.h): the pure half (rows, their
 * stored form, percentiles from buckets, window tiling, times), then the
 * counting half in-process against a real store over a scripted day
 * (util_clock_set, no daemon): counts, groupings, windows, who sees what,
 * retention with bounded prunes, and a restart that keeps the rows.
 */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>
#include <jansson.h>

#include "conf.h"
#include "harness.h"
#include "stats.h"
#include "store.h"
#include "util.h"

#define T0 1796083200LL         /* 2026-12-01T00:00:00Z */
#define MAP (64ULL << 20)

/* ---- the pure half ------------------------------------------------------ */

START_TEST(percentile_within_bucket)
{
	uint32_t h[STATS_NHIST];
	int64_t lo, hi, p;
	struct stats_row r;

	memset(h, 0, sizeof(h));
	ck_assert_int_eq(stats_percentile(h, 50), -1);
	/* 100 latencies: 60 of 2.5 s, 40 of 12 s. */
	memset(&r, 0, sizeof(r));
	for (int i = 0; i < 60; i++)
		stats_row_add(&r, STATS_DELIVERED, 2500, NULL);
	for (int i = 0; i < 40; i++)
		stats_row_add(&r, STATS_DELIVERED, 12000, NULL);
	ck_assert_uint_eq(r.delivered, 100);
	p = stats_percentile(r.delivery, 50);
	stats_bucket_bounds(stats_bucket(2500), &lo, &hi);
	ck_assert_msg(p >= lo && p < hi, "p50 %lld not in [%lld, %lld)",
	    (long long)p, (long long)lo, (long long)hi);
	p = stats_percentile(r.delivery, 95);
	stats_bucket_bounds(stats_bucket(12000), &lo, &hi);
	ck_assert_msg(p >= lo && p < hi, "p95 %lld not in [%lld, %lld)",
	    (long long)p, (long long)lo, (long long)hi);
	/* Every latency lands in the bucket whose bounds hold it. */
	for (int64_t ms = 0; ms < 700000; ms += 37) {
		stats_bucket_bounds(stats_bucket(ms), &lo, &hi);
		ck_assert(ms >= lo && (hi < 0 || ms < hi));
	}
	/* The open last bucket answers its lower bound. */
	memset(h, 0, sizeof(h));
	h[STATS_NHIST - 1] = 3;
	stats_bucket_bounds(STATS_NHIST - 1, &lo, &hi);
	ck_assert_int_eq(stats_percentile(h, 50), lo);
}
END_TEST

START_TEST(row_stored_form)
{
	struct stats_row r, back;
	uint8_t buf[STATS_ROW_MAX];
	char reason[16];
	size_t n;

	memset(&r, 0, sizeof(r));
	stats_row_add(&r, STATS_SEND, 0, NULL);
	stats_row_add(&r, STATS_SENT, 0, NULL);
	stats_row_add(&r, STATS_APPROVED, 4200, NULL);
	/* A minute's row is small: a commit rewrites it. */
	ck_assert_uint_le(stats_row_encode(&r, buf), 32);
	/* More reasons than a row keeps: the rest go under "other". */
	for (int i = 0; i < STATS_NFAIL + 3; i++) {
		snprintf(reason, sizeof(reason), "ESME_R%02d", i % 100);
		stats_row_add(&r, STATS_FAILED, 0, reason);
	}
	stats_row_add(&r, STATS_UNDELIVERABLE, 0,
	    "a_reason_much_longer_than_thirty_two_octets");
	ck_assert_int_eq(r.nfail, STATS_NFAIL);
	ck_assert_str_eq(r.fail[STATS_NFAIL - 1].reason, STATS_OTHER);
	ck_assert_uint_eq(r.fail[STATS_NFAIL - 1].n, 5);
	n = stats_row_encode(&r, buf);
	ck_assert(n <= STATS_ROW_MAX);
	ck_assert_int_eq(stats_row_decode(&back, buf, n), 0);
	ck_assert_uint_eq(back.sends, 1);
	ck_assert_uint_eq(back.sent, 1);
	ck_assert_uint_eq(back.approved, 1);
	ck_assert_uint_eq(back.undeliverable, 1);
	ck_assert_int_eq(back.nfail, STATS_NFAIL);
	ck_assert_str_eq(back.fail[0].reason, "ESME_R00");
	ck_assert_uint_eq(back.approve[stats_bucket(4200)], 1);
	/* Cut short, longer, another format: refused, never misread. */
	ck_assert_int_eq(stats_row_decode(&back, buf, n - 1), -1);
	ck_assert_int_eq(stats_row_decode(&back, buf, 10), -1);
	/* A varint longer than 64 bits, a bucket past the last: refused. */
	{
		uint8_t bad[64];
		memset(bad, 0, sizeof(bad));
		bad[0] = 1;
		bad[1] = STATS_NHIST;
		memset(bad + 3, 0xff, 11);
		ck_assert_int_eq(stats_row_decode(&back, bad, 30), -1);
		memset(bad + 3, 0, 11);
		bad[8] = 0x80;          /* delivery bitmap, past bucket 23 */
		bad[9] = 0;
		bad[10] = 0;
		bad[11] = 0x80;
		ck_assert_int_eq(stats_row_decode(&back, bad, 16), -1);
		bad[11] = 0;
		bad[12] = 5;            /* bucket 7's count */
		ck_assert_int_eq(stats_row_decode(&back, bad, 17), 0);
		ck_assert_uint_eq(back.delivery[7], 5);
		bad[12] = 0;            /* a set bucket with no count */
		ck_assert_int_eq(stats_row_decode(&back, bad, 17), -1);
	}
	buf[n] = 0;
	ck_assert_int_eq(stats_row_decode(&back, buf, n + 1), -1);
	buf[0] = 9;
	ck_assert_int_eq(stats_row_decode(&back, buf, n), -1);
	ck_assert_uint_eq(back.sends, 0);
}
END_TEST

/* Tiles must cover [t0, t1) exactly, in order, each on its own grid. */
static void
check_tiling(int64_t t0, int64_t t1)
{
	struct stats_tile t[STATS_TILES_MAX];
	int n = stats_tile(t0, t1, t), days = 0;
	int64_t at = t0;

	for (int i = 0; i < n; i++) {
		int64_t span = stats_span(t[i].gran);
		ck_assert_int_eq(t[i].from, at);
		ck_assert(t[i].to > t[i].from);
		ck_assert_int_eq(t[i].from % span, 0);
		ck_assert_int_eq(t[i].to % span, 0);
		if (t[i].gran == STATS_DAY)
			days++;
		at = t[i].to;
	}
	ck_assert_int_eq(at, t1 > t0 ? t1 : t0);
	ck_assert_int_le(days, 1);
}

START_TEST(window_tiling)
{
	struct stats_tile t[STATS_TILES_MAX];

	ck_assert_int_eq(stats_tile(T0, T0, t), 0);
	/* 30 days with ragged ends: minutes, hours, days, hours, minutes. */
	ck_assert_int_eq(stats_tile(T0 + 17 * 60 + 3600, T0 + 30 * 86400 +
	    5 * 3600 + 43 * 60, t), 5);
	ck_assert_int_eq(t[0].gran, STATS_MINUTE);
	ck_assert_int_eq(t[1].gran, STATS_HOUR);
	ck_assert_int_eq(t[2].gran, STATS_DAY);
	ck_assert_int_eq(t[2].from, T0 + 86400);
	ck_assert_int_eq(t[2].to, T0 + 30 * 86400);
	ck_assert_int_eq(t[3].gran, STATS_HOUR);
	ck_assert_int_eq(t[4].gran, STATS_MINUTE);
	/* Whole days: one piece. */
	ck_assert_int_eq(stats_tile(T0, T0 + 7 * 86400, t), 1);
	ck_assert_int_eq(t[0].gran, STATS_DAY);
	/* Within an hour: minutes only. */
	ck_assert_int_eq(stats_tile(T0 + 60, T0 + 3540, t), 1);
	ck_assert_int_eq(t[0].gran, STATS_MINUTE);
	for (int64_t a = 0; a < 2 * 86400; a += 3 * 3600 + 7 * 60)
		for (int64_t b = a; b < 3 * 86400; b += 5 * 3600 + 11 * 60)
			check_tiling(T0 + a, T0 + b);
}
END_TEST

START_TEST(parse_times)
{
	int64_t t;

	ck_assert_int_eq(stats_parse_time("2026-12-01T00:00:00Z", 0, &t), 0);
	ck_assert_int_eq(t, T0);
	ck_assert_int_eq(stats_parse_time("2026-12-01T02:00:00.25+02:00", 0,
	    &t), 0);
	ck_assert_int_eq(t, T0);
	ck_assert_int_eq(stats_parse_time("-1h", T0, &t), 0);
	ck_assert_int_eq(t, T0 - 3600);
	ck_assert_int_eq(stats_parse_time("-30d", T0, &t), 0);
	ck_assert_int_eq(t, T0 - 30 * 86400);
	ck_assert_int_eq(stats_parse_time("1796083200", 0, &t), 0);
	ck_assert_int_eq(t, T0);
	ck_assert_int_eq(stats_parse_time("-1y", T0, &t), -1);
	ck_assert_int_eq(stats_parse_time("-h", T0, &t), -1);
	ck_assert_int_eq(stats_parse_time("yesterday", T0, &t), -1);
	ck_assert_int_eq(stats_parse_time("2026-12-01T00:00:00", T0, &t), -1);
	ck_assert_int_eq(stats_parse_time("", T0, &t), -1);
	ck_assert_int_eq(stats_parse_time("-99999999999d", T0, &t), -1);
	t = T0 + 61;
	int64_t u = T0 + 119;
	stats_window(&t, &u);
	ck_assert_int_eq(t, T0 + 60);
	ck_assert_int_eq(u, T0 + 120);
}
END_TEST

/* ---- the counting half, in-process ------------------------------------- */

#define CONF_TEXT \
	"[store]\nstats_retention = 7200\n" \
	"[limits]\nrange_digits = 4\n" \
	"[smsc a]\nhost = 127.0.0.1\nport = 2775\nsystem_id = u\n" \
	"password = p\n" \
	"[smsc b]\nhost = 127.0.0.1\nport = 2776\nsystem_id = u\n" \
	"password = p\n" \
	"[route uk]\nprefix = +44\nsmsc = a\n" \
	"[route rest]\nprefix = +\nsmsc = b\n" \
	"[key alice]\ntoken = alice-token-0123456789\n" \
	"[key bob]\ntoken = bob-token-0123456789abc\n"

static char dir[128], dbpath[160];
static struct event_base *base;
static struct store *st;
static struct conf *conf;
static struct stats *stats;
static int nverif;

static int
rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void
open_store(void)
{
	char *err = NULL;

	st = store_open(base, dbpath, MAP, &err);
	ck_assert_msg(st != NULL, "store_open: %s", err ? err : "?");
	stats = stats_new(st, conf);
}

static void
close_store(void)
{
	ck_assert_int_eq(store_flush(st), STORE_OK);
	store_set_precommit(st, NULL, NULL);
	stats_free(stats);
	store_close(st);
}

static void
setup(void)
{
	char *err = NULL;

	util_clock_set(T0);
	snprintf(dir, sizeof(dir), "/tmp/check_stats.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, sizeof(dbpath), "%s/db", dir);
	base = event_base_new();
	conf = conf_load_string(CONF_TEXT, "t.conf", &err);
	ck_assert_msg(conf != NULL, "conf: %s", err ? err : "?");
	open_store();
	nverif = 0;
}

static void
teardown(void)
{
	close_store();
	conf_free(conf);
	event_base_free(base);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	util_clock_set(0);
}

/* A verification of key to phone created now (util_now()). */
static void
verif_new(struct verif *v, const char *key, const char *phone)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->id, sizeof(v->id), "ver_%024x", nverif++);
	util_strlcpy(v->key, key, sizeof(v->key));
	util_strlcpy(v->phone, phone, sizeof(v->phone));
	v->status = VERIF_PENDING;
	v->send_state = SEND_QUEUED;
	v->created_at = v->updated_at = util_now();
	v->expires_at = v->created_at + 600;
}

/* The hooks as flow.c and dlr.c call them, with the clock moved. */
static void
ev_send(struct verif *v)
{
	stats_send(stats, v);
}

static void
ev_sent(struct verif *v, const char *smsc)
{
	struct verif_send *s = &v->send[v->nsend++];

	util_strlcpy(s->smsc, smsc, sizeof(s->smsc));
	s->submitted_at = util_now();
	s->dlr = DLR_PENDING;
	v->send_state = SEND_SENT;
	stats_sent(stats, v);
}

static void
ev_receipt(struct verif *v, int after, int state)
{
	v->send[0].dlr = state;
	v->send[0].dlr_at = v->created_at + after;
	stats_receipt(stats, v, 0);
}

static void
ev_finish(struct verif *v, int after, int status, const char *reason)
{
	v->status = status;
	v->updated_at = v->created_at + after;
	if (reason != NULL)
		util_strlcpy(v->fail_reason, reason, sizeof(v->fail_reason));
	stats_finish(stats, v);
}

/*
 * The scripted day: in each of the 24 hours of T0's day, at minute 10,
 * alice sends two codes to US numbers (over route rest, SMSC b): both
 * delivered after 2 s, one approved after 5 s; at minute 20 bob sends
 * one to a UK number (route uk, SMSC a), which fails for good.
 */
static void
script_day(void)
{
	struct verif v;

	for (int h = 0; h < 24; h++) {
		for (int i = 0; i < 2; i++) {
			util_clock_set(T0 + h * 3600 + 600);
			verif_new(&v, "alice", i ? "+14155550100" :
			    "+12125550100");
			ev_send(&v);
			ev_sent(&v, "b");
			ev_receipt(&v, 2, DLR_DELIVERED);
			if (i == 0)
				ev_finish(&v, 5, VERIF_APPROVED, NULL);
		}
		util_clock_set(T0 + h * 3600 + 1200);
		verif_new(&v, "bob", "+447400123456");
		ev_send(&v);
		ev_finish(&v, 1, VERIF_FAILED, "ESME_RINVDSTADR");
	}
	util_clock_set(T0 + 86400);
}

/* The row of group in a query of dim by owner (NULL: all) over [a, b). */
static int
query(int dim, const char *owner, int64_t a, int64_t b, const char *group,
    struct stats_row *out)
{
	struct stats_query q = { dim, owner, a, b };
	struct stats_agg *agg = stats_agg_new();
	int trunc, found = 0, n;

	memset(out, 0, sizeof(*out));
	ck_assert_int_eq(stats_query(stats, &q, agg, &trunc), 0);
	ck_assert_int_eq(trunc, 0);
	stats_agg_sort(agg);
	n = stats_agg_count(agg);
	for (int i = 0; i < n; i++)
		if (strcmp(stats_agg_group(agg, i), group) == 0) {
			*out = *stats_agg_row(agg, i);
			found = 1;
		}
	stats_agg_free(agg);
	return found ? n : -1;
}

static uint64_t
failures(const struct stats_row *r, const char *reason)
{
	for (int i = 0; i < r->nfail; i++)
		if (strcmp(r->fail[i].reason, reason) == 0)
			return r->fail[i].n;
	return 0;
}

START_TEST(scripted_day_counts_and_groups)
{
	struct stats_row r;
	int64_t lo, hi, p;

	script_day();
	/* The whole day by country: every key. */
	ck_assert_int_eq(query(STATS_BY_COUNTRY, NULL, T0, T0 + 86400, "US",
	    &r), 2);
	ck_assert_uint_eq(r.sends, 48);
	ck_assert_uint_eq(r.sent, 48);
	ck_assert_uint_eq(r.delivered, 48);
	ck_assert_uint_eq(r.approved, 24);
	p = stats_percentile(r.delivery, 50);
	stats_bucket_bounds(stats_bucket(2000), &lo, &hi);
	ck_assert(p >= lo && p < hi);
	p = stats_percentile(r.approve, 50);
	stats_bucket_bounds(stats_bucket(5000), &lo, &hi);
	ck_assert(p >= lo && p < hi);
	ck_assert_int_eq(query(STATS_BY_COUNTRY, NULL, T0, T0 + 86400, "GB",
	    &r), 2);
	ck_assert_uint_eq(r.sends, 24);
	ck_assert_uint_eq(r.sent, 0);
	ck_assert_uint_eq(r.approved, 0);
	ck_assert_uint_eq(failures(&r, "ESME_RINVDSTADR"), 24);

	/* By route, SMSC, key, range. */
	ck_assert_int_eq(query(STATS_BY_ROUTE, NULL, T0, T0 + 86400, "uk",
	    &r), 2);
	ck_assert_uint_eq(r.sends, 24);
	ck_assert_int_eq(query(STATS_BY_ROUTE, NULL, T0, T0 + 86400, "rest",
	    &r), 2);
	ck_assert_uint_eq(r.sends, 48);
	ck_assert_int_eq(query(STATS_BY_SMSC, NULL, T0, T0 + 86400, "b",
	    &r), 2);
	ck_assert_uint_eq(r.sends, 48);
	ck_assert_uint_eq(r.delivered, 48);
	/* A send no SMSC took counts under "none" when it fails. */
	ck_assert_int_eq(query(STATS_BY_SMSC, NULL, T0, T0 + 86400, "none",
	    &r), 2);
	ck_assert_uint_eq(r.sends, 24);
	ck_assert_int_eq(query(STATS_BY_KEY, NULL, T0, T0 + 86400, "alice",
	    &r), 2);
	ck_assert_uint_eq(r.sends, 48);
	ck_assert_uint_eq(r.approved, 24);
	ck_assert_int_eq(query(STATS_BY_RANGE, NULL, T0, T0 + 86400, "+1415",
	    &r), 3);
	ck_assert_uint_eq(r.sends, 24);

	/* One key's traffic only. */
	ck_assert_int_eq(query(STATS_BY_COUNTRY, "alice", T0, T0 + 86400,
	    "GB", &r), -1);
	ck_assert_int_eq(query(STATS_BY_COUNTRY, "bob", T0, T0 + 86400,
	    "GB", &r), 1);
	ck_assert_uint_eq(r.sends, 24);
	ck_assert_int_eq(query(STATS_BY_KEY, "bob", T0, T0 + 86400, "bob",
	    &r), 1);
	ck_assert_uint_eq(r.sends, 24);
}
END_TEST

START_TEST(scripted_day_windows)
{
	struct stats_row r;

	script_day();
	/* Ragged ends: 05:15 to 17:12 holds hours 6..16 whole (alice at
	 * :10, bob at :20) plus 05:20 (bob) and 17:10 (alice). */
	ck_assert(query(STATS_BY_KEY, NULL, T0 + 5 * 3600 + 900,
	    T0 + 17 * 3600 + 720, "alice", &r) > 0);
	ck_assert_uint_eq(r.sends, 2 * 12);
	ck_assert(query(STATS_BY_KEY, NULL, T0 + 5 * 3600 + 900,
	    T0 + 17 * 3600 + 720, "bob", &r) > 0);
	ck_assert_uint_eq(r.sends, 12);
	/* Windows across the day's end and whole days agree with the sum
	 * of the hours. */
	ck_assert(query(STATS_BY_ALL, NULL, T0 + 600, T0 + 660,
	    "2026-12-01T00:10:00Z", &r) > 0);
	ck_assert_uint_eq(r.sends, 2);
	ck_assert(query(STATS_BY_COUNTRY, NULL, T0 - 86400, T0 + 2 * 86400,
	    "US", &r) > 0);
	ck_assert_uint_eq(r.sends, 48);
	/* By minute: one group per minute with traffic. */
	ck_assert_int_eq(query(STATS_BY_ALL, NULL, T0, T0 + 3600,
	    "2026-12-01T00:20:00Z", &r), 2);
	ck_assert_uint_eq(r.sends, 1);
	ck_assert_uint_eq(failures(&r, "ESME_RINVDSTADR"), 1);
	/* A window with nothing in it. */
	ck_assert_int_eq(query(STATS_BY_COUNTRY, NULL, T0 + 30 * 60,
	    T0 + 40 * 60, "US", &r), -1);
}
END_TEST

START_TEST(restart_keeps_rows)
{
	struct stats_row r;

	script_day();
	close_store();
	open_store();
	ck_assert(query(STATS_BY_COUNTRY, NULL, T0, T0 + 86400, "US", &r) > 0);
	ck_assert_uint_eq(r.sends, 48);
	ck_assert_uint_eq(r.approved, 24);
	ck_assert_uint_eq(r.delivered, 48);
}
END_TEST

START_TEST(staged_rows_are_read)
{
	struct stats_row r;
	struct verif v;

	/* Committed, then more staged over it: a query sees both. */
	verif_new(&v, "alice", "+14155550100");
	ev_send(&v);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	verif_new(&v, "alice", "+14155550101");
	ev_send(&v);
	verif_new(&v, "alice", "+33612345678");
	ev_send(&v);
	ck_assert(query(STATS_BY_COUNTRY, NULL, T0, T0 + 60, "US", &r) > 0);
	ck_assert_uint_eq(r.sends, 2);
	ck_assert(query(STATS_BY_COUNTRY, NULL, T0, T0 + 60, "FR", &r) > 0);
	ck_assert_uint_eq(r.sends, 1);
}
END_TEST

/* A batch that fails carries its rows down with it: nothing counted, the
 * failure counted (smsverify_stats_errors_total), the next batch counts
 * again. */
START_TEST(failed_batch_counted_as_error)
{
	struct stats_row r;
	struct verif v;

	ck_assert_uint_eq(stats_errors(stats), 0);
	verif_new(&v, "alice", "+14155550100");
	ev_send(&v);
	/* a write the store refuses fails the open batch */
	ck_assert_int_eq(store_limit_put(st, "bad name", "x", 1, T0), STORE_ERR);
	ck_assert_int_ne(store_flush(st), STORE_OK);
	ck_assert_uint_eq(stats_errors(stats), 1);
	ck_assert_int_eq(query(STATS_BY_COUNTRY, NULL, T0, T0 + 60, "US", &r),
	    -1);                /* no such group */
	verif_new(&v, "alice", "+14155550101");
	ev_send(&v);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_uint_eq(stats_errors(stats), 1);
	ck_assert(query(STATS_BY_COUNTRY, NULL, T0, T0 + 60, "US", &r) > 0);
	ck_assert_uint_eq(r.sends, 1);
}
END_TEST

START_TEST(retention_prunes_bounded)
{
	struct stats_row r;
	struct verif v;
	int n, calls = 0, total = 0;

	/* Two hours of retention: what T0's first minutes wrote goes,
	 * what T0 + 3h wrote stays. */
	for (int i = 0; i < 20; i++) {
		util_clock_set(T0 + i * 60);
		verif_new(&v, i % 2 ? "alice" : "bob", "+14155550100");
		ev_send(&v);
	}
	util_clock_set(T0 + 3 * 3600);
	verif_new(&v, "alice", "+14155550100");
	ev_send(&v);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	/* An event of a verification older than the retention is not
	 * counted (its rows are gone or going). */
	util_clock_set(T0 + 3 * 3600 + 60);
	verif_new(&v, "alice", "+14155550100");
	v.created_at = T0;
	ev_sent(&v, "b");
	ck_assert_int_eq(store_flush(st), STORE_OK);

	util_clock_set(T0 + 3 * 3600 + 120);
	/* The day row of T0 is alive (the day is not over); the minute and
	 * hour rows of T0's first hour are past the retention. */
	do {
		n = stats_prune(stats, util_now(), 7);
		ck_assert_int_ge(n, 0);
		ck_assert_int_le(n, 7);
		total += n;
		ck_assert_int_eq(store_flush(st), STORE_OK);
	} while ((n > 0 || calls < 2) && ++calls < 1000);
	ck_assert_int_lt(calls, 1000);
	/* A send stages 9 rows per granularity (no SMSC rows yet): 20
	 * minutes x 9, and hour 0's rows: alice 4, bob 4, all keys 6
	 * (by key: alice and bob). */
	ck_assert_int_eq(total, 20 * 9 + 14);
	ck_assert_int_eq(query(STATS_BY_ALL, NULL, T0, T0 + 3600,
	    "2026-12-01T00:00:00Z", &r), -1);
	ck_assert(query(STATS_BY_ALL, NULL, T0 + 3 * 3600, T0 + 3 * 3600 + 60,
	    "2026-12-01T03:00:00Z", &r) > 0);
	ck_assert_uint_eq(r.sends, 1);
	ck_assert_uint_eq(r.sent, 0);
	/* The day row stays until the day is past the retention. */
	ck_assert(query(STATS_BY_COUNTRY, NULL, T0, T0 + 86400, "US", &r) > 0);
	ck_assert_uint_eq(r.sends, 21);
}
END_TEST


START_TEST(receipts_once_per_verification)
{
	struct stats_row r;
	struct verif v;

	/* A text in two parts: two sends, two receipts, one delivery. */
	verif_new(&v, "alice", "+14155550100");
	ev_send(&v);
	ev_sent(&v, "b");
	util_strlcpy(v.send[1].smsc, "b", sizeof(v.send[1].smsc));
	v.send[1].dlr = DLR_PENDING;
	v.nsend = 2;
	ev_receipt(&v, 3, DLR_DELIVERED);
	v.send[1].dlr = DLR_DELIVERED;
	v.send[1].dlr_at = v.created_at + 4;
	stats_receipt(stats, &v, 1);
	/* An interim receipt is not counted. */
	verif_new(&v, "alice", "+14155550101");
	ev_send(&v);
	ev_sent(&v, "b");
	ev_receipt(&v, 1, DLR_UNKNOWN);
	ck_assert(query(STATS_BY_SMSC, NULL, T0, T0 + 60, "b", &r) > 0);
	ck_assert_uint_eq(r.sends, 2);
	ck_assert_uint_eq(r.delivered, 1);
	ck_assert_uint_eq(r.undeliverable, 0);
}
END_TEST

START_TEST(groups_capped)
{
	uint8_t buf[STATS_ROW_MAX];
	struct stats_query q = { STATS_BY_RANGE, NULL, T0, T0 + 60 };
	struct stats_agg *agg;
	struct stats_row r;
	char g[32];
	size_t n;
	int trunc;

	/* A flood of distinct ranges in one minute: the answer holds
	 * STATS_GROUPS_MAX of them and says it was cut. */
	memset(&r, 0, sizeof(r));
	stats_row_add(&r, STATS_SEND, 0, NULL);
	n = stats_row_encode(&r, buf);
	for (int i = 0; i < STATS_GROUPS_MAX + 50; i++) {
		snprintf(g, sizeof(g), "+%08d", i);
		ck_assert_int_eq(store_rollup_put(st, STATS_MINUTE, "*",
		    STATS_BY_RANGE, T0, g, buf, n), STORE_OK);
	}
	agg = stats_agg_new();
	ck_assert_int_eq(stats_query(stats, &q, agg, &trunc), 0);
	ck_assert_int_eq(trunc, 1);
	ck_assert_int_eq(stats_agg_count(agg), STATS_GROUPS_MAX);
	/* Known groups still add up past the cap. */
	ck_assert_int_eq(stats_agg_add(agg, "+00000001", &r), 0);
	ck_assert_int_eq(stats_agg_add(agg, "+99999999", &r), -1);
	stats_agg_sort(agg);
	ck_assert_str_eq(stats_agg_group(agg, 1), "+00000001");
	ck_assert_uint_eq(stats_agg_row(agg, 1)->sends, 2);
	stats_agg_free(agg);
	/* Bad names are refused, and fail the batch. */
	ck_assert_int_eq(store_rollup_put(st, STATS_MINUTE, "",
	    STATS_BY_RANGE, T0, "x", buf, n), STORE_ERR);
	ck_assert_int_eq(store_flush(st), STORE_ERR);
}
END_TEST

/* ---- end to end: the daemon, GET /v1/stats ------------------------------ */

#define OTHER_TOKEN "other-token-0123456789abcdef"
#define OPS_TOKEN "ops-token-0123456789abcdef0123"

static struct harness H;

static void
e2e_setup(void)
{
	ck_assert_int_eq(h_init(&H), 0);
	snprintf(H.extra_conf, sizeof(H.extra_conf),
	    "[key ops]\ntoken = " OPS_TOKEN "\nrole = admin\n");
}

static void
e2e_teardown(void)
{
	h_fini(&H);
}

/* GET path with token: the answer (JSON), its status into *status. */
static json_t *
get(const char *token, const char *path, int *status)
{
	static char out[1024 * 1024];
	json_t *j;

	*status = h_http(&H, "GET", path, NULL, token, NULL, out, sizeof(out));
	j = json_loads(out, 0, NULL);
	ck_assert_msg(j != NULL, "%s: not JSON: %.200s", path, out);
	return j;
}

/* The row of group in a 200 answer, or NULL (borrowed). */
static json_t *
row_of(json_t *ans, const char *group)
{
	json_t *rows = json_object_get(ans, "rows"), *r;
	size_t i;

	ck_assert(json_is_array(rows));
	json_array_foreach(rows, i, r)
		if (strcmp(h_jstr(r, "group"), group) == 0)
			return r;
	return NULL;
}

static long long
num(json_t *row, const char *k)
{
	json_t *v = json_object_get(row, k);

	ck_assert_msg(json_is_integer(v), "%s is not an integer", k);
	return json_integer_value(v);
}

/* A field error names its parameter. */
static void
refused(const char *token, const char *path, int want, const char *field)
{
	int status;
	json_t *j = get(token, path, &status);

	ck_assert_msg(status == want, "%s: %d", path, status);
	if (field != NULL)
		ck_assert_str_eq(h_jstr(json_object_get(j, "error"), "field"),
		    field);
	json_decref(j);
}

START_TEST(e2e_stats_seen_by_whom)
{
	const char *phones[3] = { "+14155550131", "+14155550132",
	    "+14155550133" };
	char id[3][64], oid[64], code[16], body[128];
	json_t *j, *r;
	long long total = 0;
	size_t i;
	int status;

	snprintf(H.sim_args, sizeof(H.sim_args), "--dlr delivered "
	    "--dlr-delay-ms 50");
	h_start_all(&H);
	for (int k = 0; k < 3; k++)
		json_decref(h_send_code(&H, phones[k], id[k], sizeof(id[k]),
		    201));
	h_read_code(H.handset, phones[0], 1, code, sizeof(code));
	ck_assert_int_eq(h_code_valid(&H, id[0], code), 1);
	for (int k = 0; k < 3; k++)
		h_wait_delivery(&H, id[k], "delivered");
	/* The other key's one send, to a UK number. */
	snprintf(body, sizeof(body), "{\"phone\": \"+447400123456\"}");
	{
		char out[4096];
		status = h_http(&H, "POST", "/v1/verifications", NULL,
		    OTHER_TOKEN, body, out, sizeof(out));
		ck_assert_int_eq(status, 201);
		j = json_loads(out, 0, NULL);
		util_strlcpy(oid, h_jstr(j, "id"), sizeof(oid));
		json_decref(j);
	}

	/* The test key: its own traffic, by country. */
	j = get(H_TOKEN, "/v1/stats?by=country&since=-1h", &status);
	ck_assert_int_eq(status, 200);
	r = row_of(j, "US");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(num(r, "sends"), 3);
	ck_assert_int_eq(num(r, "sent"), 3);
	ck_assert_int_eq(num(r, "delivered"), 3);
	ck_assert_int_eq(num(r, "approved"), 1);
	ck_assert(json_real_value(json_object_get(r, "conversion")) > 0.33 &&
	    json_real_value(json_object_get(r, "conversion")) < 0.34);
	ck_assert(json_is_integer(json_object_get(r, "delivery_p50_ms")));
	ck_assert(json_is_integer(json_object_get(r, "approve_p50_ms")));
	ck_assert(json_is_object(json_object_get(r, "failures")));
	ck_assert_ptr_null(row_of(j, "GB"));    /* the other key's */
	ck_assert_str_eq(h_jstr(j, "by"), "country");
	ck_assert(strlen(h_jstr(j, "since")) == 20);
	json_decref(j);
	/* By SMSC: the simulator took them. */
	j = get(H_TOKEN, "/v1/stats?by=smsc", &status);
	ck_assert_int_eq(status, 200);
	ck_assert_ptr_nonnull(r = row_of(j, "sim"));
	ck_assert_int_eq(num(r, "sent"), 3);
	json_decref(j);
	/* Another key's traffic: 403 for a client key. */
	refused(H_TOKEN, "/v1/stats?by=country&key=other", 403, "key");
	j = get(OTHER_TOKEN, "/v1/stats?by=key", &status);
	ck_assert_int_eq(status, 200);
	ck_assert_int_eq(json_array_size(json_object_get(j, "rows")), 1);
	ck_assert_ptr_nonnull(r = row_of(j, "other"));
	ck_assert_int_eq(num(r, "sends"), 1);
	json_decref(j);

	/* The admin key: every key, or one. */
	j = get(OPS_TOKEN, "/v1/stats?by=key&since=-1h", &status);
	ck_assert_int_eq(status, 200);
	ck_assert_int_eq(num(row_of(j, "test"), "sends"), 3);
	ck_assert_int_eq(num(row_of(j, "other"), "sends"), 1);
	json_decref(j);
	j = get(OPS_TOKEN, "/v1/stats?by=country&key=other", &status);
	ck_assert_int_eq(status, 200);
	ck_assert_ptr_null(row_of(j, "US"));
	ck_assert_int_eq(num(row_of(j, "GB"), "sends"), 1);
	json_decref(j);
	/* By minute: every minute of the window, all traffic. */
	j = get(OPS_TOKEN, "/v1/stats?by=minute&since=-10m", &status);
	ck_assert_int_eq(status, 200);
	ck_assert_int_ge(json_array_size(json_object_get(j, "rows")), 10);
	ck_assert_int_le(json_array_size(json_object_get(j, "rows")), 11);
	json_array_foreach(json_object_get(j, "rows"), i, r)
		total += num(r, "sends");
	ck_assert_int_eq(total, 4);
	json_decref(j);

	/* Bad parameters: 400 naming them. */
	refused(OPS_TOKEN, "/v1/stats?by=planet", 400, "by");
	refused(OPS_TOKEN, "/v1/stats?since=yesterday", 400, "since");
	refused(OPS_TOKEN, "/v1/stats?until=-1x", 400, "until");
	refused(OPS_TOKEN, "/v1/stats?since=-1h&until=-2h", 400, "since");
	refused(OPS_TOKEN, "/v1/stats?by=minute&since=-2d", 400, "since");
	j = get(OPS_TOKEN, "/v1/stats?by=minute&since=-24h", &status);
	ck_assert_int_eq(status, 200);
	ck_assert_int_eq(json_array_size(json_object_get(j, "rows")), 1440);
	json_decref(j);
	refused(OPS_TOKEN, "/v1/stats?key=a%20b", 400, "key");
	refused("no-such-token", "/v1/stats", 401, NULL);
	(void)oid;
}
END_TEST

static Suite *
stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("pure");

	tcase_add_test(tc, percentile_within_bucket);
	tcase_add_test(tc, row_stored_form);
	tcase_add_test(tc, window_tiling);
	tcase_add_test(tc, parse_times);
	suite_add_tcase(s, tc);
	tc = tcase_create("store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, scripted_day_counts_and_groups);
	tcase_add_test(tc, scripted_day_windows);
	tcase_add_test(tc, restart_keeps_rows);
	tcase_add_test(tc, staged_rows_are_read);
	tcase_add_test(tc, failed_batch_counted_as_error);
	tcase_add_test(tc, retention_prunes_bounded);
	tcase_add_test(tc, groups_capped);
	tcase_add_test(tc, receipts_once_per_verification);
	suite_add_tcase(s, tc);
	{
		const struct h_test tests[] = {
			{ "e2e_stats", e2e_stats_seen_by_whom, 1 },
		};
		h_add_tests(s, tests, sizeof(tests) / sizeof(tests[0]),
		    e2e_setup, e2e_teardown);
	}
	return s;
}

int
main(void)
{
	return h_run_suite(stats_suite());
}
