/*
 * api.h - the HTTP endpoints: the native API (api_verify.c), the
 * compatibility APIs (api_compat.c) and the operators' endpoints
 * (api_admin.c).
 *
 * The endpoints see the listener (http.h), the flows (flow.h) and the key
 * table (keys.h); nothing else of the daemon.  The operators' endpoints
 * read the modules' counters through one stats call their owner gives.
 */
#ifndef API_H
#define API_H

#include <stdint.h>
#include <jansson.h>

#include "dispatch.h"
#include "dlr.h"
#include "flow.h"
#include "store.h"
#include "webhook.h"

struct carrier;
struct conf;
struct evhttp_request;
struct http;
struct keys;
struct score;

/* What every endpoint is given; it must outlive the listener. */
struct api {
	struct http *http;
	struct flow *flow;
	const struct keys *keys;
	const struct api_admin *admin;   /* api_admin.c only */
};

/* A snapshot of the daemon for /healthz, /metrics and /v1/smscs, filled
 * by the owner's stats call.  The pointers are valid during the call of
 * the endpoint that asked for it only. */
struct api_stats {
	int draining;             /* a graceful stop has begun */
	int64_t uptime;           /* seconds */
	const struct conf *conf;
	struct score *score;      /* health figures (score.h) */
	struct carrier *const *carriers;  /* aligned with conf->smscs */
	int ncarrier;
	struct flow_stats flow;
	struct dispatch_stats dispatch;
	struct dlr_stats dlr;
	struct store_stats store;
	uint64_t outbox;          /* webhook events waiting */
	struct webhook_stats webhook;
};

struct api_admin {
	void (*stats)(void *arg, struct api_stats *);
	void *arg;
};

void api_verify_register(struct api *);
void api_admin_register(struct api *);
void api_compat_register(struct api *);

/* Shared by the API files: the key of the request's Bearer token, or -1
 * after answering 401. */
int api_auth(const struct api *, struct evhttp_request *, const char *token);
/* The answer of a send that failed (fs->err), in the native API's words. */
void api_send_error(struct evhttp_request *, const struct flow_send *);
/* The metadata field (a JSON object of at most 4 KiB) as compact JSON
 * text into *out, NULL when absent.  0, or -1 after answering 422. */
int api_read_metadata(struct evhttp_request *, json_t *body, char **out);

#endif
