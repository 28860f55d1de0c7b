/*
 * api_messages.c - GET /v1/messages?to=+447700900123[&from=][&since=]
 * [&wait=10][&limit=50] (SPEC "Inbound SMS"): the inbound messages,
 * newest first.
 *
 *   {"messages": [{"id", "from", "to", "text", "codes": ["123456"],
 *     "smsc", "received_at"}]}
 *
 * Who sees what: an admin key every message (those to an address no
 * [number] names included); any other key the messages of the [number]s
 * it owns.  A `to` naming a number the key does not own answers 403
 * forbidden; without `to` a key gets all of its numbers' messages.
 *
 * since: RFC 3339 UTC ("2026-12-03T12:00:00Z") or Unix seconds; only
 * messages received at or after it.  wait (0..30 seconds): when nothing
 * matches, hold the request until a message that matches is stored or
 * the time is up (then {"messages": []}).  Polls wait in a bounded list
 * (INBOUND_WAITERS_MAX): past it the answer is given at once.  Nothing
 * blocks the loop: a waiting poll is a timer and an entry in that list.
 *
 * A '+' written unencoded in a query string reads as a space: an address
 * that starts with a space and a digit is taken as "+" and its digits.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "api.h"
#include "conf.h"
#include "http.h"
#include "inbound.h"
#include "keys.h"
#include "util.h"

#define MESSAGES_WAIT_MAX 30
#define MESSAGES_LIMIT_DEFAULT 50
#define MESSAGES_LIMIT_MAX 500

/* One poll: the request and its query, held until a match or timeout. */
struct poll {
	struct api *api;
	struct http_request *req;
	struct event *timer;
	struct inbound_waiter *w;
	char key[33];             /* "" for admin: all */
	char to[24], from[24];
	int64_t since_ms;
	int limit;
};

/* " 447..." (a '+' the query string turned into a space) -> "+447...". */
static const char *
fix_plus(const char *v, char *buf, size_t size)
{
	if (v != NULL && v[0] == ' ' && isdigit((unsigned char)v[1]) &&
	    strlen(v) < size) {
		snprintf(buf, size, "+%s", v + 1);
		return buf;
	}
	return v;
}

/* since: RFC 3339 (util_rfc3339_parse()), or Unix seconds.  0, or -1. */
static int
parse_since(const char *s, int64_t *ms)
{
	if (*s != '\0' && strspn(s, "0123456789") == strlen(s) &&
	    strlen(s) <= 12) {
		*ms = (int64_t)strtoll(s, NULL, 10) * 1000;
		return 0;
	}
	return util_rfc3339_parse(s, ms);
}

/* The messages of p's query; NULL after answering 503. */
static json_t *
query(struct poll *p)
{
	struct inbound_query q = {
		.key = p->key[0] ? p->key : NULL,
		.to = p->to[0] ? p->to : NULL,
		.from = p->from[0] ? p->from : NULL,
		.since_ms = p->since_ms,
		.limit = p->limit,
	};
	json_t *list = inbound_list(p->api->inbound, &q);

	if (list == NULL)
		http_reply_error(p->req, HTTP_ERR_UNAVAILABLE, "store_error",
		    NULL, "the inbox could not be read; try again");
	return list;
}

static void
poll_free(struct poll *p)
{
	if (p->timer != NULL)
		event_free(p->timer);
	free(p);
}

static void
poll_answer(struct poll *p, json_t *list)
{
	http_reply_json(p->req, 200, json_pack("{s:o}", "messages", list));
	poll_free(p);
}

static void poll_woken(void *arg);

/* The time is up: whatever matches now (most likely nothing). */
static void
poll_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct poll *p = arg;
	json_t *list;

	(void)fd;
	(void)what;
	if (p->w != NULL)
		inbound_unwait(p->api->inbound, p->w);
	p->w = NULL;
	if ((list = query(p)) == NULL) {
		poll_free(p);
		return;
	}
	poll_answer(p, list);
}

/* A message was stored: answer if it matches, else wait on. */
static void
poll_woken(void *arg)
{
	struct poll *p = arg;
	json_t *list;

	p->w = NULL;            /* the module let go of it */
	if ((list = query(p)) == NULL) {
		poll_free(p);
		return;
	}
	if (json_array_size(list) > 0 ||
	    (p->w = inbound_wait(p->api->inbound, poll_woken, p)) == NULL) {
		poll_answer(p, list);
		return;
	}
	json_decref(list);
}

static void
api_messages(struct http_request *req, const char *rest, void *arg)
{
	struct api *api = arg;
	const char *to, *from, *since, *wait, *limit;
	char tobuf[32], frombuf[32];
	const char *owner;
	struct poll *p;
	json_t *list;
	long w = 0, lim = MESSAGES_LIMIT_DEFAULT;
	int key;

	(void)rest;
	if ((key = api_auth(api, req, http_bearer(req))) < 0)
		return;
	to = fix_plus(http_query(req, "to"), tobuf, sizeof(tobuf));
	from = fix_plus(http_query(req, "from"), frombuf, sizeof(frombuf));
	since = http_query(req, "since");
	wait = http_query(req, "wait");
	limit = http_query(req, "limit");
	p = xcalloc(1, sizeof(*p));
	p->api = api;
	p->req = req;
	if (keys_role(api->keys, key) != CONF_ROLE_ADMIN)
		util_strlcpy(p->key, keys_name(api->keys, key), sizeof(p->key));
	if (to != NULL && *to != '\0') {
		if (strlen(to) >= sizeof(p->to))
			goto bad_to;
		owner = inbound_owner(api->inbound, to);
		if (p->key[0] != '\0' && (owner == NULL ||
		    strcmp(owner, p->key) != 0)) {
			http_reply_error(req, HTTP_ERR_FORBIDDEN, "forbidden",
			    "to", "this key owns no [number] with that "
			    "address");
			free(p);
			return;
		}
		util_strlcpy(p->to, to, sizeof(p->to));
	}
	if (from != NULL && *from != '\0') {
		if (strlen(from) >= sizeof(p->from)) {
			http_reply_error(req, HTTP_ERR_INVALID,
			    "invalid_field", "from", "from is too long");
			free(p);
			return;
		}
		util_strlcpy(p->from, from, sizeof(p->from));
	}
	if (since != NULL && parse_since(since, &p->since_ms) != 0) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_field",
		    "since", "since must be RFC 3339 in UTC "
		    "(2026-12-03T12:00:00Z) or Unix seconds");
		free(p);
		return;
	}
	if (wait != NULL) {
		char *end;
		w = strtol(wait, &end, 10);
		if (*wait == '\0' || *end != '\0' || w < 0 ||
		    w > MESSAGES_WAIT_MAX) {
			http_reply_error(req, HTTP_ERR_INVALID,
			    "invalid_field", "wait", "wait must be 0 to 30 "
			    "seconds");
			free(p);
			return;
		}
	}
	if (limit != NULL) {
		char *end;
		lim = strtol(limit, &end, 10);
		if (*limit == '\0' || *end != '\0' || lim < 1 ||
		    lim > MESSAGES_LIMIT_MAX) {
			http_reply_error(req, HTTP_ERR_INVALID,
			    "invalid_field", "limit", "limit must be 1 to "
			    "500");
			free(p);
			return;
		}
	}
	p->limit = (int)lim;
	if ((list = query(p)) == NULL) {
		free(p);
		return;
	}
	if (json_array_size(list) > 0 || w == 0 ||
	    (p->w = inbound_wait(api->inbound, poll_woken, p)) == NULL) {
		poll_answer(p, list);
		return;
	}
	json_decref(list);
	p->timer = evtimer_new(api->base, poll_timeout, p);
	{
		struct timeval tv = { w, 0 };
		evtimer_add(p->timer, &tv);
	}
	return;
bad_to:
	http_reply_error(req, HTTP_ERR_INVALID, "invalid_field", "to",
	    "to is too long");
	free(p);
}

void
api_messages_register(struct api *api)
{
	http_route(api->http, HTTP_GET, "/v1/messages", api_messages, api);
}
