/*
 * api_test.c - GET /v1/test/messages?phone=+1...[&since=RFC3339][&wait=N]
 * (SPEC "Test mode and test numbers"; test and admin keys, client keys get
 * 403): what test mode captured for a number, newest first, with the code
 * read out of each text.
 *
 *   {"messages": [{"id": "ver_...", "phone": "+15005550001",
 *     "text": "Your code is 123456", "code": "123456",
 *     "sent_at": "2026-12-03T12:00:00.123Z", "delivery": "delivered"}]}
 *
 * since keeps the messages captured at or after that time (sent_at has
 * milliseconds, so a test may pass the sent_at it last saw plus one
 * millisecond, or the time just before its send).  wait (0..30 seconds)
 * holds the request while there is none, until a capture to the number
 * commits or the time is up (then the answer is an empty list): the loop
 * is never blocked, and at most TESTMODE_WAIT_MAX requests wait at once
 * (the next gets 503 too_many_waiters).
 *
 * This endpoint is the one place a code is returned: its purpose.  It is
 * never logged.  A '+' written unencoded in the query reads as a space:
 * a phone that starts with a space and a digit is taken as "+" and its
 * digits.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "api_test.h"
#include "conf.h"
#include "http.h"
#include "keys.h"
#include "phone.h"
#include "testmode.h"
#include "util.h"

#define API_TEST_MAX 100        /* messages in one answer */

/* A request held by wait=. */
struct test_wait {
	struct testmode *tm;
	struct http_request *req;
	char phone[17];
	int64_t since_ms;
};

static json_t *
time_json(int64_t ms)
{
	char buf[40], out[48];
	size_t n;

	util_rfc3339(ms / 1000, buf, sizeof(buf));
	n = strlen(buf);
	if (n > 0 && buf[n - 1] == 'Z')
		buf[n - 1] = '\0';
	snprintf(out, sizeof(out), "%s.%03dZ", buf, (int)(ms % 1000));
	return json_string(out);
}

/* Answer req with the messages of phone since since_ms. */
static void
reply_messages(struct http_request *req, struct testmode *tm,
    const char *phone, int64_t since_ms)
{
	struct testmode_message *m;
	json_t *list, *o;
	int n, i;

	if ((n = testmode_messages(tm, phone, since_ms, API_TEST_MAX, &m)) <
	    0) {
		http_reply_error(req, HTTP_ERR_UNAVAILABLE, "store_error", NULL,
		    "the captured messages could not be read; try again");
		return;
	}
	list = json_array();
	for (i = 0; i < n; i++) {
		o = json_pack("{s:s, s:s, s:s?, s:s?, s:o, s:s}",
		    "id", m[i].id, "phone", m[i].phone, "text", m[i].text,
		    "code", m[i].code[0] ? m[i].code : NULL,
		    "sent_at", time_json(m[i].sent_at_ms),
		    "delivery", m[i].delivery);
		json_array_append_new(list, o);
	}
	testmode_messages_free(m, n);
	http_reply_json(req, 200, json_pack("{s:o}", "messages", list));
}

static void
wait_done(void *arg, int woken)
{
	struct test_wait *w = arg;

	(void)woken;
	reply_messages(w->req, w->tm, w->phone, w->since_ms);
	free(w);
}

static void
api_test_messages(struct http_request *req, const char *rest, void *arg)
{
	struct api_test *ta = arg;
	struct api *api = ta->api;
	const char *phone, *since, *wait;
	char buf[64], e164[20], *end;
	enum phone_type type;
	int64_t since_ms = 0;
	struct test_wait *w;
	long secs = 0;
	int key, role;

	(void)rest;
	if ((key = api_auth(api, req, http_bearer(req))) < 0)
		return;
	role = keys_role(api->keys, key);
	if (role != CONF_ROLE_TEST && role != CONF_ROLE_ADMIN) {
		http_reply_error(req, HTTP_ERR_FORBIDDEN, "forbidden", NULL,
		    "this endpoint needs a key with role = test or admin");
		return;
	}
	phone = http_query(req, "phone");
	since = http_query(req, "since");
	wait = http_query(req, "wait");
	if (phone == NULL || *phone == '\0') {
		http_reply_error(req, HTTP_ERR_INVALID, "missing_field",
		    "phone", "phone is required (?phone=%%2B15005550001)");
		return;
	}
	if (phone[0] == ' ' && isdigit((unsigned char)phone[1]) &&
	    strlen(phone) < sizeof(buf)) {
		snprintf(buf, sizeof(buf), "+%s", phone + 1);
		phone = buf;
	}
	if (phone_normalise(phone, keys_country(api->keys, key), e164,
	    sizeof(e164), &type) != PHONE_OK) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_phone",
		    "phone", "phone is not a valid phone number");
		return;
	}
	if (since != NULL && util_rfc3339_parse(since, &since_ms) != 0) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_field",
		    "since", "since must be an RFC 3339 time "
		    "(2026-12-03T12:00:00Z)");
		return;
	}
	if (wait != NULL) {
		secs = strtol(wait, &end, 10);
		if (*wait == '\0' || *end != '\0' || secs < 0 ||
		    secs > TESTMODE_WAIT_SECS) {
			http_reply_error(req, HTTP_ERR_INVALID, "invalid_field",
			    "wait", "wait must be 0 to %d seconds",
			    TESTMODE_WAIT_SECS);
			return;
		}
	}
	if (secs > 0) {
		struct testmode_message *m;
		int n = testmode_messages(ta->tm, e164, since_ms, 1, &m);

		testmode_messages_free(m, n > 0 ? n : 0);
		if (n == 0) {
			w = xcalloc(1, sizeof(*w));
			w->tm = ta->tm;
			w->req = req;
			util_strlcpy(w->phone, e164, sizeof(w->phone));
			w->since_ms = since_ms;
			if (testmode_wait(ta->tm, e164, (int)secs, wait_done,
			    w) == 0)
				return;         /* answered by wait_done() */
			free(w);
			http_reply_error(req, HTTP_ERR_UNAVAILABLE,
			    "too_many_waiters", "wait", "too many requests "
			    "wait already; try again without wait");
			return;
		}
	}
	reply_messages(req, ta->tm, e164, since_ms);
}

void
api_test_register(struct api_test *at)
{
	http_route(at->api->http, HTTP_GET, "/v1/test/messages",
	    api_test_messages, at);
}
