/*
 * bench_stats.c - how long GET /v1/stats?by=country&since=-30d holds the
 * loop over 30 days of roll-ups: fill a store with DAYS days x COUNTRIES
 * countries of rows (every minute, hour and day, as the counting writes
 * them: the all-keys series by country), then run the query QUERIES times
 * as the endpoint does (stats_query, the sort, the JSON answer encoded)
 * and print p50, p99 and the longest.  The sums are checked against what
 * was written, so a fast wrong answer does not pass.
 *
 *	bench_stats DIR [DAYS [COUNTRIES [QUERIES]]]     (30 50 200)
 *
 * DIR must not hold a store yet (scripts/bench gives a fresh one).  Exit
 * 0 when p99 and the longest are under 20 ms, else 1; 2 on errors.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "conf.h"
#include "stats.h"
#include "store.h"
#include "util.h"

#define LIMIT_MS 20.0
#define FLUSH_EVERY 20000

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A row of n sends: all sent, 90% delivered in 2-5 s, 80% approved. */
static size_t
row_of(uint64_t n, uint8_t *buf)
{
	struct stats_row r;

	memset(&r, 0, sizeof(r));
	r.sends = r.sent = n;
	r.delivered = n * 9 / 10;
	r.undeliverable = n - r.delivered;
	r.approved = n * 8 / 10;
	r.delivery[stats_bucket(2500)] = (uint32_t)(r.delivered / 2);
	r.delivery[stats_bucket(4500)] = (uint32_t)(r.delivered -
	    r.delivered / 2);
	r.approve[stats_bucket(12000)] = (uint32_t)r.approved;
	r.nfail = 1;
	snprintf(r.fail[0].reason, sizeof(r.fail[0].reason),
	    "dlr_undeliverable");
	r.fail[0].n = r.undeliverable;
	return stats_row_encode(&r, buf);
}

static int
put(struct store *st, int gran, int64_t t, const char *cc, uint64_t n,
    long *puts)
{
	uint8_t buf[STATS_ROW_MAX];
	size_t len = row_of(n, buf);

	if (store_rollup_put(st, gran, "*", STATS_BY_COUNTRY, t, cc, buf,
	    len) != STORE_OK)
		return -1;
	if (++*puts % FLUSH_EVERY == 0 && store_flush(st) != STORE_OK)
		return -1;
	return 0;
}

/* What counting costs the loop: n verifications, each sent, delivered
 * and approved (4 events, up to 33 rows each), to numbers of 8 countries
 * (10,000 numbers each), in batches of 64 verifications whose rows are
 * staged once per batch as the daemon does.  Microseconds per event on
 * the loop: holding the events and staging their rows (the commits, on
 * the writer thread in the daemon, not counted). */
static double
bench_count(struct store *st, int n)
{
	static const char *const pfx[] = { "+1415555", "+4474001", "+3361234",
	    "+4915112", "+3934712", "+3461234", "+8190123", "+6141234" };
	char *err = NULL;
	struct conf *conf = conf_load_string("[smsc a]\nhost = 127.0.0.1\n"
	    "port = 2775\nsystem_id = u\npassword = p\n[route all]\n"
	    "prefix = +\nsmsc = a\n[key k]\ntoken = bench-token-0123456789\n",
	    "bench.conf", &err);
	struct stats *s;
	struct verif v;
	double t0, t = 0;

	if (conf == NULL) {
		fprintf(stderr, "bench_stats: %s\n", err);
		exit(2);
	}
	s = stats_new(st, conf);
	for (int i = 0; i < n; i++) {
		t0 = now_ms();
		memset(&v, 0, sizeof(v));
		snprintf(v.id, sizeof(v.id), "ver_%024x", i);
		snprintf(v.key, sizeof(v.key), "k");
		snprintf(v.phone, sizeof(v.phone), "%s%04d",
		    pfx[i % (int)(sizeof(pfx) / sizeof(pfx[0]))], i % 10000);
		v.status = VERIF_PENDING;
		v.send_state = SEND_QUEUED;
		v.created_at = v.updated_at = util_now();
		stats_send(s, &v);
		snprintf(v.send[0].smsc, sizeof(v.send[0].smsc), "a");
		v.nsend = 1;
		v.send_state = SEND_SENT;
		stats_sent(s, &v);
		v.send[0].dlr = DLR_DELIVERED;
		v.send[0].dlr_at = v.created_at + 2;
		stats_receipt(s, &v, 0);
		v.status = VERIF_APPROVED;
		v.updated_at = v.created_at + 9;
		stats_finish(s, &v);
		if (i % 64 == 63) {
			/* The staging of the batch's rows, which the commit
			 * would do: a query stages first (an empty window). */
			struct stats_query q = { STATS_BY_ALL, NULL, 0, 0 };
			struct stats_agg *agg = stats_agg_new();
			int trunc;
			stats_query(s, &q, agg, &trunc);
			stats_agg_free(agg);
		}
		t += now_ms() - t0;
		if (i % 64 == 63 && store_flush(st) != STORE_OK) {
			fprintf(stderr, "bench_stats: commit failed\n");
			exit(2);
		}
	}
	store_flush(st);
	store_set_precommit(st, NULL, NULL);
	stats_free(s);
	conf_free(conf);
	return t * 1000.0 / (4.0 * n);
}

int
main(int argc, char **argv)
{
	int days = argc > 2 ? atoi(argv[2]) : 30;
	int ncc = argc > 3 ? atoi(argv[3]) : 50;
	int nq = argc > 4 ? atoi(argv[4]) : 200;
	struct event_base *base;
	struct store *st;
	struct stats *stats;
	char (*cc)[4], *err = NULL;
	double t0, fill_ms, *lat, p50, p99, worst;
	int64_t now, from;
	long puts = 0;
	uint64_t want, got;
	int bad = 0;

	if (argc < 2 || days < 1 || days > 60 || ncc < 1 || ncc > 676 ||
	    nq < 10 || nq > 100000) {
		fprintf(stderr, "usage: bench_stats DIR [DAYS 1..60 "
		    "[COUNTRIES 1..676 [QUERIES 10..100000]]]\n");
		return 2;
	}
	base = event_base_new();
	st = store_open(base, argv[1], 4ULL << 30, &err);
	if (st == NULL) {
		fprintf(stderr, "bench_stats: %s\n", err);
		free(err);
		return 2;
	}
	cc = calloc((size_t)ncc, sizeof(*cc));
	for (int i = 0; i < ncc; i++)
		snprintf(cc[i], sizeof(cc[i]), "%c%c", 'A' + i / 26,
		    'A' + i % 26);
	/* The window ends at a ragged minute, as a real -30d does. */
	now = (int64_t)time(NULL);
	now -= now % 60;
	from = now - (int64_t)days * 86400;

	/* Fill: each minute of each country has 1 + (minute % 3) sends;
	 * the hours and days hold the sums of their minutes. */
	t0 = now_ms();
	for (int64_t t = from - from % 86400; t < now && !bad; t += 60) {
		for (int i = 0; i < ncc && !bad; i++) {
			uint64_t n = 1 + (uint64_t)((t / 60) % 3);
			bad = put(st, STATS_MINUTE, t, cc[i], n, &puts);
			if (t % 3600 == 0)
				bad = bad || put(st, STATS_HOUR, t, cc[i], 2 * 60,
				    &puts);
			if (t % 86400 == 0)
				bad = bad || put(st, STATS_DAY, t, cc[i],
				    2 * 1440, &puts);
		}
	}
	if (bad || store_flush(st) != STORE_OK) {
		fprintf(stderr, "bench_stats: the fill failed\n");
		return 2;
	}
	fill_ms = now_ms() - t0;

	/* The sends of one country in [since, now): every minute in it
	 * has 1 + (minute % 3). */
	struct stats_query q = { STATS_BY_COUNTRY, NULL, now - 30 * 86400 - 17,
	    now };
	if (days < 30)
		q.since = from;
	stats_window(&q.since, &q.until);
	want = 0;
	for (int64_t t = q.since; t < q.until; t += 60)
		want += 1 + (uint64_t)((t / 60) % 3);

	/* A conf is not needed to query: stats_new() is only given one for
	 * counting. */
	stats = stats_new(st, NULL);
	lat = calloc((size_t)nq, sizeof(*lat));
	for (int k = 0; k < nq; k++) {
		struct stats_agg *agg = stats_agg_new();
		json_t *rows = json_array();
		int trunc;
		char *s;

		t0 = now_ms();
		if (stats_query(stats, &q, agg, &trunc) != 0) {
			fprintf(stderr, "bench_stats: query failed\n");
			return 2;
		}
		stats_agg_sort(agg);
		for (int i = 0; i < stats_agg_count(agg); i++) {
			const struct stats_row *r = stats_agg_row(agg, i);
			json_array_append_new(rows, json_pack("{s:s, s:I, s:I, "
			    "s:I, s:I, s:I, s:I, s:I}",
			    "group", stats_agg_group(agg, i),
			    "sends", (json_int_t)r->sends,
			    "sent", (json_int_t)r->sent,
			    "delivered", (json_int_t)r->delivered,
			    "approved", (json_int_t)r->approved,
			    "delivery_p50_ms",
			    (json_int_t)stats_percentile(r->delivery, 50),
			    "delivery_p95_ms",
			    (json_int_t)stats_percentile(r->delivery, 95),
			    "approve_p50_ms",
			    (json_int_t)stats_percentile(r->approve, 50)));
		}
		s = json_dumps(rows, JSON_COMPACT);
		lat[k] = now_ms() - t0;
		if (k == 0) {
			got = stats_agg_count(agg) > 0 ?
			    stats_agg_row(agg, 0)->sends : 0;
			if (stats_agg_count(agg) != ncc || got != want ||
			    trunc) {
				fprintf(stderr, "bench_stats: wrong answer: "
				    "%d groups (want %d), %" PRIu64 " sends "
				    "(want %" PRIu64 ")%s\n",
				    stats_agg_count(agg), ncc, got, want,
				    trunc ? ", truncated" : "");
				return 2;
			}
		}
		free(s);
		json_decref(rows);
		stats_agg_free(agg);
	}
	if (getenv("BENCH_STATS_TRACE") != NULL)
		for (int k = 0; k < nq; k++)
			fprintf(stderr, "query %d: %.2f ms\n", k, lat[k]);
	qsort(lat, (size_t)nq, sizeof(*lat), cmp_double);
	p50 = lat[nq / 2];
	p99 = lat[(nq * 99) / 100 - (nq % 100 == 0)];
	worst = lat[nq - 1];
	double per_event = bench_count(st, 5000);
	printf("counting: %.1f us per event on the loop (4 events x 33 rows "
	    "per verification)\n",
	    per_event);
	printf("stats bench: %d days x %d countries, %ld rows written in "
	    "%.1f s; by=country&since=-30d (%d groups, %" PRIu64 " sends "
	    "each checked), %d queries: p50 %.2f ms, p99 %.2f ms, max %.2f "
	    "ms (limit %.0f ms)\n", days, ncc, puts, fill_ms / 1000.0, ncc,
	    want, nq, p50, p99, worst, LIMIT_MS);
	store_set_precommit(st, NULL, NULL);
	stats_free(stats);
	store_close(st);
	event_base_free(base);
	free(lat);
	free(cc);
	return p99 < LIMIT_MS && worst < LIMIT_MS ? 0 : 1;
}
