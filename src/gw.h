/*
 * gw.h - struct gw: the one object that holds the daemon together.
 *
 * It owns the event_base's users: the configuration, the store, the HTTP
 * listener, one carrier per [smsc] section, the dispatcher, the sweep timer
 * and the signal events.  Everything that needs the daemon's state gets a
 * struct gw *; there are no other globals, so tests can build two.
 */
#ifndef GW_H
#define GW_H

#include <stdint.h>

#include "verify.h"

struct event;
struct event_base;
struct conf;
struct store;
struct http;
struct carrier;
struct dispatch;
struct dlr;
struct phone_pool;
struct webhook;
struct score;

/* Counters behind /metrics. */
struct gw_metrics {
	uint64_t sends, sends_sent, sends_queued, sends_failed;
	uint64_t checks_approved, checks_wrong, checks_other;
	uint64_t cancels, receipts, receipts_unmatched, expired;
	uint64_t http_requests;
	uint64_t route_switches;      /* sends moved off a degraded SMSC */
	uint64_t http_latency_le[8];  /* buckets: see api_admin.c */
	uint64_t http_latency_count;
	double http_latency_sum;
};

enum gw_state { GW_RUNNING = 0, GW_DRAINING, GW_STOPPED };

struct gw {
	struct event_base *base;
	struct conf *conf;            /* current configuration (owned) */
	uint8_t (*key_hash)[32];      /* SHA-256 of each key's token */
	uint8_t secret[VERIFY_SECRET_LEN];
	struct store *store;
	struct http *http;
	struct carrier **carriers;    /* aligned with conf->smscs */
	int ncarrier;
	struct dispatch *dispatch;
	struct phone_pool *phones;    /* numbers read off the loop */
	struct webhook *webhook;      /* events to the keys' webhooks */
	struct score *score;          /* each SMSC's health per route */
	struct dlr *dlr;              /* parked receipts */
	struct event *sweep_ev;
	struct event *sig_term, *sig_int, *sig_hup, *drain_ev, *logflush_ev;
	enum gw_state state;
	int64_t drain_deadline_ms;
	int carriers_stopped;
	int exit_code;
	int64_t started_at;
	struct gw_metrics metrics;
};

/* Build the daemon on base from conf (ownership of conf passes to the gw):
 * load the secret, open the store, listen, create the carriers (not yet
 * connected).  Returns NULL and a malloc'd *err on failure. */
struct gw *gw_new(struct event_base *base, struct conf *conf, char **err);
/* Connect carriers, resume queued sends, arm the sweep and the signals. */
int gw_start(struct gw *);
/* Swap in a new configuration (SIGHUP): keys, routes, templates, limits;
 * carriers whose [smsc] section did not change keep their binds.  Takes
 * ownership of conf.  Returns 0, or -1 (conf freed, old one kept). */
int gw_reload(struct gw *, struct conf *conf);
/* Begin a graceful stop: no new HTTP, drain in-flight submits (bounded),
 * unbind, commit, leave the loop. */
void gw_drain(struct gw *);
void gw_free(struct gw *);

/* The key whose token this is, or -1 (constant-time compare). */
int gw_key_by_token(const struct gw *, const char *token);
/* The carrier serving conf->smscs[i]. */
struct carrier *gw_carrier(const struct gw *, int i);

#endif
