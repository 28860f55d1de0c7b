/*
 * api_admin.h - the operators' endpoints (api_admin.c): GET /healthz,
 * GET /metrics and GET /v1/smscs, and the snapshot of the daemon they
 * read.  Each module keeps its own counters; the daemon's owner (gw.c)
 * gathers them into struct api_stats when an endpoint asks.
 */
#ifndef API_ADMIN_H
#define API_ADMIN_H

#include <stdint.h>

#include "api.h"
#include "cancel.h"
#include "dispatch.h"
#include "dlr.h"
#include "flow.h"
#include "http.h"
#include "inbound.h"
#include "store.h"
#include "testmode.h"
#include "webhook.h"

struct carrier;
struct conf;
struct score;

/* A snapshot of the daemon.  The pointers are valid during the call of
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
	struct http_stats http;
	struct testmode_stats testmode;
	struct inbound_stats inbound;
	struct cancel_stats cancel;   /* cancel_sm (cancel.h) */
};

/* The owner's stats call: fill *st (zeroed by the caller). */
struct api_admin {
	void (*stats)(void *arg, struct api_stats *st);
	void *arg;
};

/* Register the three endpoints on api->http; api->admin must be set. */
void api_admin_register(struct api *);

#endif
