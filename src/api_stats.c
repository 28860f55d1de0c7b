/*
 * api_stats.c - GET /v1/stats (SPEC "Statistics and release gates"):
 *
 *   GET /v1/stats?by=country|route|smsc|key|range|minute
 *       &since=RFC3339|-1h[&until=RFC3339|-5m][&key=NAME]
 *   -> {"rows": [{"group", "sends", "sent", "delivered", "undeliverable",
 *       "approved", "conversion", "delivery_p50_ms", "delivery_p95_ms",
 *       "approve_p50_ms", "approve_p95_ms", "failures": {"REASON": n}}],
 *       "by", "since", "until", "truncated"}
 *
 * by defaults to country, since to -1h, until to now; since is rounded
 * down and until up to the minute (the answer gives both as used).
 * conversion is approved / sends (0..1, null without sends); the
 * percentiles come from the rows' histograms (null when empty).  Rows are
 * in the order of their groups' names.  by=minute: one row per minute of
 * the window (group: the minute in RFC 3339), every minute included, no
 * more than 1440 minutes (since=-24h gives the newest 1440).
 *
 * Who sees what: a client (or test) key its own traffic; key= naming
 * another key is 403 forbidden.  An admin key every key's traffic, or
 * one key's with key=.  A bad parameter is 400 naming it.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "conf.h"
#include "http.h"
#include "keys.h"
#include "stats.h"
#include "util.h"

#define MINUTES_MAX 1440

static json_t *
ms_or_null(int64_t ms)
{
	return ms < 0 ? json_null() : json_integer((json_int_t)ms);
}

static json_t *
row_json(const char *group, const struct stats_row *r)
{
	json_t *fail = json_object();
	double conv;

	for (int i = 0; i < r->nfail; i++)
		json_object_set_new(fail, r->fail[i].reason,
		    json_integer((json_int_t)r->fail[i].n));
	conv = r->sends ? (double)(int64_t)((double)r->approved * 10000.0 /
	    (double)r->sends + 0.5) / 10000.0 : 0;
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, "
	    "s:o, s:o}",
	    "group", group,
	    "sends", (json_int_t)r->sends,
	    "sent", (json_int_t)r->sent,
	    "delivered", (json_int_t)r->delivered,
	    "undeliverable", (json_int_t)r->undeliverable,
	    "approved", (json_int_t)r->approved,
	    "conversion", r->sends ? json_real(conv) : json_null(),
	    "delivery_p50_ms", ms_or_null(stats_percentile(r->delivery, 50)),
	    "delivery_p95_ms", ms_or_null(stats_percentile(r->delivery, 95)),
	    "approve_p50_ms", ms_or_null(stats_percentile(r->approve, 50)),
	    "approve_p95_ms", ms_or_null(stats_percentile(r->approve, 95)),
	    "failures", fail);
}

static void
minute_name(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* 1 for what can be a key's name: 1..32 printable octets, not "*". */
static int
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32 || strcmp(s, "*") == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

static void
bad(struct http_request *req, const char *field, const char *msg)
{
	http_reply_error(req, HTTP_ERR_BAD_REQUEST, "invalid_parameter", field,
	    "%s: %s", field, msg);
}

static void
api_stats(struct http_request *req, const char *rest, void *arg)
{
	struct api *api = arg;
	const char *by = http_query(req, "by"), *since = http_query(req, "since");
	const char *until = http_query(req, "until"), *kq = http_query(req, "key");
	struct stats_query q;
	struct stats_agg *agg;
	int64_t now = util_now();
	char kname[33], tb[32];
	json_t *rows;
	int key, trunc, j;

	(void)rest;
	if ((key = api_auth(api, req, http_bearer(req))) < 0)
		return;
	memset(&q, 0, sizeof(q));
	q.dim = STATS_BY_COUNTRY;
	if (by != NULL && (q.dim = stats_dim_by_name(by)) < 0)
		return bad(req, "by", "one of country, route, smsc, key, range, "
		    "minute");
	q.since = now - 3600;
	q.until = now;
	if (since != NULL && stats_parse_time(since, now, &q.since) != 0)
		return bad(req, "since", "an RFC 3339 time "
		    "(2026-12-03T12:00:00Z), Unix seconds, or -N followed by "
		    "s, m, h, d or w (-1h)");
	if (until != NULL && stats_parse_time(until, now, &q.until) != 0)
		return bad(req, "until", "an RFC 3339 time "
		    "(2026-12-03T12:00:00Z), Unix seconds, or -N followed by "
		    "s, m, h, d or w (-5m)");
	if (q.since < 0)
		return bad(req, "since", "before 1970");
	stats_window(&q.since, &q.until);
	if (q.until <= q.since)
		return bad(req, "since", "must be before until");
	if (q.dim == STATS_BY_ALL && (q.until - q.since) / 60 == MINUTES_MAX + 1)
		q.since += 60;  /* -24h at a ragged minute: the newest 1440 */
	if (q.dim == STATS_BY_ALL && (q.until - q.since) / 60 > MINUTES_MAX)
		return bad(req, "since", "by=minute covers at most 1440 minutes "
		    "(-24h)");
	util_strlcpy(kname, keys_name(api->keys, key), sizeof(kname));
	if (keys_role(api->keys, key) == CONF_ROLE_ADMIN) {
		if (kq != NULL && *kq != '\0') {
			if (!name_ok(kq))
				return bad(req, "key", "not a key's name");
			q.owner = kq;
		}
	} else {
		if (kq != NULL && *kq != '\0' && strcmp(kq, kname) != 0) {
			http_reply_error(req, HTTP_ERR_FORBIDDEN, "forbidden",
			    "key", "a client key sees its own traffic only");
			return;
		}
		q.owner = kname;
	}
	agg = stats_agg_new();
	if (stats_query(api->stats, &q, agg, &trunc) != 0) {
		stats_agg_free(agg);
		http_reply_error(req, HTTP_ERR_UNAVAILABLE, "store_error", NULL,
		    "the statistics could not be read; try again");
		return;
	}
	stats_agg_sort(agg);
	rows = json_array();
	if (q.dim == STATS_BY_ALL) {
		/* Every minute, those without traffic as zeros; the
		 * groups sort as their times do. */
		struct stats_row zero;
		memset(&zero, 0, sizeof(zero));
		j = 0;
		for (int64_t t = q.since; t < q.until; t += 60) {
			minute_name(t, tb, sizeof(tb));
			while (j < stats_agg_count(agg) &&
			    strcmp(stats_agg_group(agg, j), tb) < 0)
				j++;
			if (j < stats_agg_count(agg) &&
			    strcmp(stats_agg_group(agg, j), tb) == 0)
				json_array_append_new(rows, row_json(tb,
				    stats_agg_row(agg, j)));
			else
				json_array_append_new(rows, row_json(tb, &zero));
		}
	} else {
		for (j = 0; j < stats_agg_count(agg); j++)
			json_array_append_new(rows, row_json(
			    stats_agg_group(agg, j), stats_agg_row(agg, j)));
	}
	stats_agg_free(agg);
	http_reply_json(req, 200, json_pack("{s:o, s:s, s:o, s:o, s:b}",
	    "rows", rows, "by", stats_dim_name(q.dim),
	    "since", api_json_time(q.since), "until", api_json_time(q.until),
	    "truncated", trunc));
}

void
api_stats_register(struct api *api)
{
	http_route(api->http, HTTP_GET, "/v1/stats", api_stats, api);
}
