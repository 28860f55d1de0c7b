/*
 * api_limits.c - GET /v1/limits?phone=+1...[&client_ip=][&country=]
 * [&key=NAME] (SPEC "Limits"; admin keys only): the limits that apply to a
 * number for the calling key (or key NAME), each with its counter as it
 * stands now.
 *
 *   {"phone": "+14155551234", "key": "ops", "limits": [
 *     {"limit": "sends_per_phone", "count": 5, "max": 5, "window": 600,
 *      "retry_after": 42},
 *     {"limit": "sends_per_range", "range": "+1415555", "count": 7,
 *      "max": 200, "window": 3600}, ...]}
 *
 * retry_after is there only for a limit that would refuse the next send
 * (or, for failed_checks_per_phone, the next check) now.  Limits that
 * are off are left out; sends_per_ip only when client_ip names the
 * address.  Nothing is counted by asking.
 *
 * A '+' written unencoded in a query string reads as a space: a phone
 * that starts with a space and a digit is taken as "+" and its digits.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "flow.h"
#include "http.h"
#include "keys.h"
#include "phone.h"

static void
api_limits(struct http_request *req, const char *rest, void *arg)
{
	struct api *api = arg;
	struct flow_limit rows[FLOW_LIMITS_MAX];
	const char *phone, *ip, *country, *kname;
	char buf[64], e164[20];
	enum phone_type type;
	json_t *list, *o;
	int key, n, i;

	if ((key = api_auth_admin(api, req)) < 0)
		return;
	phone = http_query(req, "phone");
	ip = http_query(req, "client_ip");
	country = http_query(req, "country");
	if ((kname = http_query(req, "key")) != NULL &&
	    (key = keys_by_name(api->keys, kname)) < 0) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_field", "key",
		    "no [key] is called that");
		return;
	}
	if (phone == NULL || *phone == '\0') {
		http_reply_error(req, HTTP_ERR_INVALID, "missing_field",
		    "phone", "phone is required (?phone=%%2B14155551234)");
		return;
	}
	if (phone[0] == ' ' && isdigit((unsigned char)phone[1]) &&
	    strlen(phone) < sizeof(buf)) {
		snprintf(buf, sizeof(buf), "+%s", phone + 1);
		phone = buf;
	}
	if (country != NULL && !phone_region_valid(country)) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_country",
		    "country", "country must be an ISO 3166 alpha-2 code");
		return;
	}
	if (phone_normalise(phone, country != NULL ? country :
	    keys_country(api->keys, key), e164, sizeof(e164), &type) !=
	    PHONE_OK) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_phone",
		    "phone", "phone is not a valid phone number");
		return;
	}
	if (ip != NULL && !api_ip_valid(ip)) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_field",
		    "client_ip", "client_ip must be an IPv4 or IPv6 address");
		return;
	}
	if ((n = flow_limits(api->flow, key, e164, ip, rows)) < 0) {
		http_reply_error(req, HTTP_ERR_UNAVAILABLE, "store_error", NULL,
		    "the counters could not be read; try again");
		return;
	}
	list = json_array();
	for (i = 0; i < n; i++) {
		o = json_pack("{s:s, s:I, s:I, s:i}", "limit", rows[i].limit,
		    "count", (json_int_t)rows[i].count,
		    "max", (json_int_t)rows[i].max, "window", rows[i].window);
		if (rows[i].subject[0] != '\0')
			json_object_set_new(o, strcmp(rows[i].limit,
			    "sends_per_range") == 0 ? "range" : "client_ip",
			    json_string(rows[i].subject));
		if (rows[i].retry_after > 0)
			json_object_set_new(o, "retry_after",
			    json_integer((json_int_t)rows[i].retry_after));
		json_array_append_new(list, o);
	}
	http_reply_json(req, 200, json_pack("{s:s, s:s, s:o}", "phone", e164,
	    "key", keys_name(api->keys, key), "limits", list));
}

void
api_limits_register(struct api *api)
{
	http_route(api->http, HTTP_GET, "/v1/limits", api_limits, api);
}
