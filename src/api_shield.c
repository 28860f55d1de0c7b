/*
 * api_shield.c - the operators' view of the shield against SMS pumping
 * (shield.h, flow.h), for keys with role = admin (others get 403
 * forbidden):
 *
 *   GET    /v1/shield           the tripped ranges, their figures and when
 *                               each reopens, and the [shield] settings
 *   GET    /v1/shield/{range}   one range's figures, tripped or not
 *   DELETE /v1/shield/{range}   reopen a tripped range now (404 when it is
 *                               not tripped)
 *
 * {range} is "+" and digits, as the shield writes it ("+44770090"); the
 * "+" may be left out or written %2B.  The shield itself is the flow's:
 * these handlers only read it and ask the flow to reopen.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "conf.h"
#include "flow.h"
#include "http.h"
#include "shield.h"
#include "util.h"

/* approved / sends in percent, one decimal; null without sends. */
static json_t *
percent(uint64_t approved, uint64_t sends)
{
	if (sends == 0)
		return json_null();
	return json_real((double)(int64_t)((double)approved * 1000.0 /
	    (double)sends) / 10.0);
}

/* A tripped range: the figures that tripped it and when it reopens. */
static json_t *
trip_json(const struct shield_view *v, int64_t now)
{
	return json_pack("{s:s, s:I, s:I, s:o, s:o, s:o, s:I}",
	    "range", v->range,
	    "sends", (json_int_t)v->trip_mature,
	    "approved", (json_int_t)v->trip_approved,
	    "conversion", percent(v->trip_approved, v->trip_mature),
	    "tripped_at", api_json_time(v->tripped_at),
	    "reopens_at", api_json_time(v->until),
	    "retry_after", (json_int_t)(v->until > now ? v->until - now : 0));
}

static json_t *
settings_json(const struct conf *c)
{
	json_t *countries = json_array();

	for (int i = 0; i < c->nshield_country; i++)
		json_array_append_new(countries,
		    json_string(c->shield_countries[i]));
	return json_pack("{s:o, s:i, s:i, s:i, s:i, s:i, s:i, s:i}",
	    "countries", countries,
	    "conversion_floor", c->shield_floor,
	    "window", c->shield_window,
	    "min_sample", c->shield_min_sample,
	    "cooldown", c->shield_cooldown,
	    "grace", c->shield_grace,
	    "range_digits", c->limits.range_digits,
	    "max_ranges", c->shield_max_ranges);
}

static void
api_shield_list(struct http_request *req, const char *rest, void *arg)
{
	struct api *api = arg;
	struct shield_view *v;
	struct flow_stats fst;
	int64_t now = util_now();
	json_t *ranges;
	int n;

	if (api_auth_admin(api, req) < 0)
		return;
	n = flow_shield_list(api->flow, &v);
	ranges = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(ranges, trip_json(&v[i], now));
	free(v);
	flow_stats(api->flow, &fst);
	http_reply_json(req, 200, json_pack("{s:o, s:i, s:I, s:I, s:o}",
	    "ranges", ranges,
	    "tracked", fst.shield.ranges,
	    "trips", (json_int_t)fst.shield.trips,
	    "blocked", (json_int_t)fst.shield.blocked,
	    "settings", settings_json(flow_conf(api->flow))));
}

/* The range of the path ("+" optional, 1 to 15 digits) as "+digits" into
 * out (SHIELD_RANGE_MAX); 0, or -1 when it is not one. */
static int
path_range(const char *rest, char *out)
{
	const char *d = rest[0] == '+' ? rest + 1 : rest;
	size_t n = strlen(d);

	if (n == 0 || n > 15 || strspn(d, "0123456789") != n)
		return -1;
	snprintf(out, SHIELD_RANGE_MAX, "+%s", d);
	return 0;
}

static void
reopened(void *arg, enum flow_err err)
{
	struct http_request *req = arg;

	switch (err) {
	case FLOW_OK:
		http_reply_json(req, 200, json_pack("{s:b}", "reopened", 1));
		return;
	case FLOW_NOT_FOUND:
		http_reply_error(req, HTTP_ERR_NOT_FOUND, "not_found", NULL,
		    "this range is not tripped");
		return;
	case FLOW_SHUTDOWN:
		return;         /* the request is gone */
	default:
		http_reply_error(req, HTTP_ERR_UNAVAILABLE, "store_error",
		    NULL, "the range is open, but the store failed: its trip "
		    "may come back at a restart; try again");
		return;
	}
}

/* /v1/shield/{range}: GET its figures, DELETE reopens it. */
static void
api_shield_one(struct http_request *req, const char *rest, void *arg)
{
	struct api *api = arg;
	struct shield_view v;
	char range[SHIELD_RANGE_MAX];
	int64_t now = util_now();
	int key, tracked;
	json_t *o;

	if ((key = api_auth_admin(api, req)) < 0)
		return;
	if (path_range(rest, range) < 0) {
		http_reply_error(req, HTTP_ERR_NOT_FOUND, "not_found", NULL,
		    "not a range: \"+\" and 1 to 15 digits (/v1/shield/"
		    "+44770090)");
		return;
	}
	if (http_method(req) == HTTP_DELETE) {
		/* The answer goes after the commit that removes the trip. */
		flow_shield_reopen(api->flow, key, range, reopened, req);
		return;
	}
	tracked = flow_shield_get(api->flow, range, &v) == 0;
	o = json_pack("{s:s, s:b, s:b, s:{s:I, s:I, s:I, s:o}}",
	    "range", range, "tracked", tracked, "tripped", v.tripped,
	    "window", "sends", (json_int_t)v.sends,
	    "mature", (json_int_t)v.mature,
	    "approved", (json_int_t)v.approved,
	    "conversion", percent(v.approved, v.mature));
	if (o != NULL && v.tripped)
		json_object_set_new(o, "trip", trip_json(&v, now));
	http_reply_json(req, 200, o);
}

void
api_shield_register(struct api *api)
{
	http_route(api->http, HTTP_GET, "/v1/shield", api_shield_list, api);
	http_route(api->http, HTTP_GET | HTTP_DELETE, "/v1/shield/",
	    api_shield_one, api);
}
