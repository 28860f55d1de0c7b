/*
 * api.h - the HTTP endpoints: the native API (api_verify.c), the
 * compatibility APIs (api_compat.c) and the operators' endpoints
 * (api_admin.c, api_shield.c).
 *
 * The endpoints see the listener (http.h), the flows (flow.h) and the key
 * table (keys.h); nothing else of the daemon.  The operators' endpoints
 * read the modules' counters through one stats call their owner gives
 * (api_admin.h).
 */
#ifndef API_H
#define API_H

#include <jansson.h>

#include "flow.h"
#include "http.h"

struct api_admin;
struct event_base;
struct http_request;
struct inbound;
struct http;
struct keys;
struct stats;

/* What every endpoint is given; it must outlive the listener. */
struct api {
	struct http *http;
	struct flow *flow;
	const struct keys *keys;
	const struct api_admin *admin;   /* api_admin.h; api_admin.c only */
	struct inbound *inbound;         /* inbound.h; api_messages.c only */
	struct event_base *base;         /* long polls' timers */
	struct store *store;             /* api_idem.c; /healthz */
	struct api_idem *idem;           /* api_idem.h; made by
	                                  * api_verify_register() */
	struct stats *stats;             /* stats.h; api_stats.c only */
};

void api_verify_register(struct api *);
void api_compat_register(struct api *);
/* GET /v1/shield, GET and DELETE /v1/shield/{range} (admin keys). */
void api_shield_register(struct api *);
/* GET /v1/messages (api_messages.c): the inbound messages. */
void api_messages_register(struct api *);
/* GET /v1/stats (api_stats.c): the statistics' roll-ups. */
void api_stats_register(struct api *);
/* GET /v1/limits (api_limits.c); api_verify_register() calls it. */
void api_limits_register(struct api *);
/* GET /status (the operators' page) and GET /openapi.json, no key
 * (api_status.c). */
void api_status_register(struct api *);

/* Shared by the API files: the key of the request's Bearer token, or -1
 * after answering 401. */
int api_auth(const struct api *, struct http_request *, const char *token);
/* The same for the operator endpoints: the key, or -1 after answering
 * 401 (no key) or 403 forbidden (a key whose role is not admin). */
int api_auth_admin(const struct api *, struct http_request *);
/* A time as RFC 3339 UTC text, or null for 0 (never); a new reference. */
json_t *api_json_time(int64_t t);
/* The answer of a send that failed (fs->err), in the native API's words. */
void api_send_error(struct http_request *, const struct flow_send *);
/* 429 {"error": {"code": "rate_limited", "limit", "retry_after",
 * "message"}} with Retry-After: the native answer to a send a limit
 * refuses (SPEC "Limits"). */
void api_reply_limited(struct http_request *, const char *limit,
    int retry_after);
/* 1 when s is an IPv4 or IPv6 address (inet_pton). */
int api_ip_valid(const char *s);
/* The metadata field (a JSON object of at most 4 KiB) as compact JSON
 * text into *out, NULL when absent.  0, or -1 after answering 422. */
int api_read_metadata(struct http_request *, json_t *body, char **out);

/* ---- JSON types, for every API's field readers (pure) ---- */

/* A JSON value's type as error messages name it: "a string", "a number",
 * "a boolean", "an object", "an array" or "null". */
const char *api_json_kind(const json_t *);
/* 1 with *out set when j is a JSON number with a whole value (4, and 4.0
 * or 4e0, which JSON does not tell from 4) between -2^53 and 2^53; 0 for
 * anything else: 4.5, "4", true, NULL. */
int api_json_whole(const json_t *j, long long *out);
/* The text of a JSON string, or NULL when j is not a string or holds a
 * NUL (which C would silently cut it at). */
const char *api_json_str(const json_t *j);

#endif
