/*
 * api_admin.c - what operators look at: GET /healthz, GET /metrics
 * (Prometheus text) and GET /v1/smscs (each bind's state and counters).
 * /healthz and /metrics need no key; /v1/smscs does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "api.h"
#include "store.h"
#include "api_admin.h"
#include "api_idem.h"
#include "carrier.h"
#include "conf.h"
#include "http.h"
#include "score.h"
#include "stats.h"
#include "util.h"

/* The daemon's figures now. */
static void
snapshot(const struct api *api, struct api_stats *st)
{
	memset(st, 0, sizeof(*st));
	api->admin->stats(api->admin->arg, st);
}

static void
api_healthz(struct http_request *req, const char *rest, void *arg)
{
	struct api *api = arg;
	struct api_stats st;
	int up = 0, ready = store_ready(api->store);

	snapshot(arg, &st);
	for (int i = 0; i < st.ncarrier; i++)
		up += carrier_up(st.carriers[i]);
	/* A node that cannot commit is not ready (Redis away, or a journal
	 * that could not be written). */
	http_reply_json(req, st.draining || !ready ? 503 : 200,
	    json_pack("{s:s, s:i, s:i, s:i, s:i, s:I}",
	    "status", st.draining ? "draining" : !ready ? "store_unavailable" :
	    up > 0 ? "ok" : "degraded",
	    "smscs_up", up, "smscs", st.ncarrier,
	    "queued", st.dispatch.waiting,
	    "inflight", st.dispatch.inflight,
	    "uptime", (json_int_t)st.uptime));
}

static void
metric(struct evbuffer *b, const char *name, const char *type,
    const char *help, const char *labels, uint64_t value)
{
	if (help != NULL)
		evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name,
		    help, name, type);
	evbuffer_add_printf(b, "%s%s %llu\n", name, labels ? labels : "",
	    (unsigned long long)value);
}

/* The per-SMSC families, each family one group (the text format wants
 * every sample of a family together). */
static void
smsc_metrics(struct evbuffer *b, const struct api_stats *st)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{ "smsverify_smsc_up", "gauge", "1 when a bind is up" },
		{ "smsverify_smsc_submits_total", "counter", "submit_sm sent" },
		{ "smsverify_smsc_submit_ok_total", "counter",
		    "submit_sm accepted" },
		{ "smsverify_smsc_receipts_total", "counter",
		    "receipts per SMSC" },
		{ "smsverify_smsc_reconnects_total", "counter", "reconnects" },
		{ "smsverify_smsc_read_pauses_total", "counter",
		    "reading stopped: too much queued to the SMSC" },
		{ "smsverify_smsc_hostile_drops_total", "counter",
		    "binds dropped as hostile (output not drained, error "
		    "answers over the rate)" },
	};
	char labels[192];

	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		for (int i = 0; i < st->ncarrier; i++) {
			struct carrier *c = st->carriers[i];
			struct smpp_session_stats s;
			uint64_t v;

			carrier_stats(c, &s);
			switch (f) {
			case 0: v = (uint64_t)carrier_up(c); break;
			case 1: v = s.submits; break;
			case 2: v = s.submit_ok; break;
			case 3: v = s.receipts; break;
			case 4: v = s.reconnects; break;
			case 5: v = s.read_pauses; break;
			default: v = s.hostile; break;
			}
			snprintf(labels, sizeof(labels), "{smsc=\"%s\"}",
			    carrier_name(c));
			metric(b, fam[f].name, i ? NULL : fam[f].type,
			    i ? NULL : fam[f].help, labels, v);
		}
	}
	for (int i = 0; i < st->ncarrier; i++) {
		const char *sname;
		uint64_t n;

		for (int k = 0; carrier_receipts(st->carriers[i], k, &sname,
		    &n) == 0; k++) {
			snprintf(labels, sizeof(labels),
			    "{smsc=\"%s\",state=\"%s\"}",
			    carrier_name(st->carriers[i]), sname);
			metric(b, "smsverify_smsc_receipts_by_state_total",
			    i || k ? NULL : "counter", i || k ? NULL :
			    "receipts per SMSC and message_state", labels, n);
		}
	}
}

static void
api_metrics(struct http_request *req, const char *rest, void *arg)
{
	struct api_stats st;
	struct api_idem_stats is;
	const struct flow_stats *m = &st.flow;
	const struct store_stats *ss = &st.store;
	const struct webhook_stats *ws = &st.webhook;
	struct evbuffer *b = evbuffer_new();
	size_t len;
	char *text;

	snapshot(arg, &st);

	metric(b, "smsverify_sends_total", "counter",
	    "verifications created", NULL, m->sends);
	metric(b, "smsverify_sends_outcome_total", "counter",
	    "send outcomes", "{outcome=\"sent\"}", st.dispatch.sent);
	metric(b, "smsverify_sends_outcome_total", NULL, NULL,
	    "{outcome=\"queued\"}", m->sends_queued);
	metric(b, "smsverify_sends_outcome_total", NULL, NULL,
	    "{outcome=\"failed\"}", st.dispatch.failed);
	metric(b, "smsverify_checks_total", "counter", "checks by result",
	    "{result=\"approved\"}", m->checks_approved);
	metric(b, "smsverify_checks_total", NULL, NULL,
	    "{result=\"wrong\"}", m->checks_wrong);
	metric(b, "smsverify_checks_total", NULL, NULL,
	    "{result=\"other\"}", m->checks_other);
	metric(b, "smsverify_checks_total", NULL, NULL,
	    "{result=\"limited\"}", m->checks_limited);
	metric(b, "smsverify_sends_limited_total", "counter",
	    "sends refused by a [limits] limit (429)", NULL, m->sends_limited);
	metric(b, "smsverify_limit_counters", "gauge",
	    "limit counters stored by key, address and range (a number's "
	    "are kept with the pending index)", NULL, ss->limits);
	metric(b, "smsverify_cancels_total", "counter", "cancels", NULL,
	    m->cancels);
	metric(b, "smsverify_expired_total", "counter",
	    "verifications expired by the sweep", NULL, m->expired);
	metric(b, "smsverify_receipts_total", "counter",
	    "delivery receipts received", NULL, st.dlr.receipts);
	metric(b, "smsverify_receipts_unmatched_total", "counter",
	    "receipts that matched no submit", NULL, st.dlr.unmatched);
	metric(b, "smsverify_receipts_parked", "gauge",
	    "unmatched receipts waiting for their submit", NULL,
	    (uint64_t)st.dlr.parked);
	metric(b, "smsverify_receipts_park_dropped_total", "counter",
	    "parked receipts dropped by fate", "{why=\"park_full\"}",
	    st.dlr.park_dropped);
	metric(b, "smsverify_receipts_park_dropped_total", NULL, NULL,
	    "{why=\"expired\"}", st.dlr.park_expired);
	metric(b, "smsverify_receipts_repeated_total", "counter",
	    "receipts that repeated their send's state (not recorded)", NULL,
	    st.dlr.repeated);
	metric(b, "smsverify_queue_waiting", "gauge",
	    "messages waiting for an SMSC", NULL,
	    (uint64_t)st.dispatch.waiting);
	metric(b, "smsverify_queue_dropped_total", "counter",
	    "queued messages not sent: less than [verify] min_useful left",
	    "{reason=\"expired_in_queue\"}", st.dispatch.expired_in_queue);
	metric(b, "smsverify_queue_spilled_total", "counter",
	    "sends over [verify] queue_max, kept in the store only until the "
	    "queue drains", NULL, st.dispatch.spilled);
	smsc_metrics(b, &st);
	metric(b, "smsverify_store_used_bytes", "gauge", "LMDB map in use",
	    NULL, ss->used);
	metric(b, "smsverify_store_map_bytes", "gauge", "LMDB map size",
	    NULL, ss->map_size);
	metric(b, "smsverify_store_verifications", "gauge",
	    "verification records", NULL, ss->verifs);
	metric(b, "smsverify_store_commits_total", "counter",
	    "group commits", NULL, ss->commits);
	metric(b, "smsverify_store_swept_total", "counter",
	    "records expired by the sweep", NULL, ss->swept);
	if (ss->redis) {
		metric(b, "smsverify_redis_up", "gauge", "1 while the store's "
		    "Redis connection is up", NULL, (uint64_t)ss->redis_up);
		evbuffer_add_printf(b, "# HELP smsverify_redis_durable 1: "
		    "Redis keeps what it acknowledges through a crash of its "
		    "host (appendonly yes, appendfsync always, or WAIT); 0: "
		    "not; -1: not known\n# TYPE smsverify_redis_durable gauge\n"
		    "smsverify_redis_durable %d\n", ss->redis_durable);
		metric(b, "smsverify_redis_reconnects_total", "counter",
		    "connection attempts after a failure", NULL,
		    ss->redis_reconnects);
		metric(b, "smsverify_store_log_applied", "gauge", "the last "
		    "batch of the shared log this replica has", NULL,
		    ss->repl_applied);
		metric(b, "smsverify_store_commit_refused_total", "counter",
		    "batches Redis refused", "{reason=\"conflict\"}",
		    ss->repl_conflicts);
		metric(b, "smsverify_store_commit_refused_total", NULL, NULL,
		    "{reason=\"unavailable\"}", ss->repl_failures);
		metric(b, "smsverify_store_commit_refused_total", NULL, NULL,
		    "{reason=\"wait\"}", ss->repl_wait_short);
		metric(b, "smsverify_store_rebuilds_total", "counter",
		    "replicas made again from the state in Redis", NULL,
		    ss->repl_rebuilds);
		metric(b, "smsverify_store_taken_over_total", "counter",
		    "queued messages and webhook events taken over from "
		    "gateways whose lease ran out", NULL, ss->repl_adopted);
	}
	metric(b, "smsverify_sends_refused_total", "counter",
	    "sends refused for their country or for want of a route",
	    "{reason=\"country_not_allowed\"}", m->country_refused);
	metric(b, "smsverify_sends_refused_total", NULL, NULL,
	    "{reason=\"no_route\"}", m->no_route);
	metric(b, "smsverify_shield_tripped_ranges", "gauge",
	    "number ranges blocked now (conversion under the floor)", NULL,
	    (uint64_t)m->shield.tripped);
	metric(b, "smsverify_shield_trips_total", "counter",
	    "number ranges tripped", NULL, m->shield.trips);
	metric(b, "smsverify_shield_blocked_total", "counter",
	    "sends refused because their range was tripped", NULL,
	    m->shield.blocked);
	metric(b, "smsverify_shield_ranges", "gauge",
	    "number ranges the shield tracks", NULL,
	    (uint64_t)m->shield.ranges);
	metric(b, "smsverify_shield_evicted_total", "counter",
	    "ranges forgotten to make room ([shield] max_ranges)", NULL,
	    m->shield.evicted);
	metric(b, "smsverify_shield_untracked_total", "counter",
	    "sends to a range the shield had no room for", NULL,
	    m->shield.untracked);
	metric(b, "smsverify_route_switches_total", "counter",
	    "sends moved off an SMSC scoring under its route's floor", NULL,
	    st.dispatch.route_switches);
	metric(b, "smsverify_webhook_deliveries_total", "counter",
	    "webhook POSTs by outcome", "{outcome=\"delivered\"}",
	    ws->delivered);
	metric(b, "smsverify_webhook_deliveries_total", NULL, NULL,
	    "{outcome=\"failed\"}", ws->failed);
	metric(b, "smsverify_webhook_deliveries_total", NULL, NULL,
	    "{outcome=\"dropped\"}", ws->dropped);
	metric(b, "smsverify_webhook_backlog", "gauge",
	    "webhook events waiting in the outbox", NULL,
	    st.outbox);
	metric(b, "smsverify_webhook_inflight", "gauge",
	    "webhook POSTs in flight", NULL, (uint64_t)ws->inflight);
	metric(b, "smsverify_test_captured_total", "counter",
	    "sends captured by test mode (test keys, test numbers)", NULL,
	    st.testmode.captured);
	metric(b, "smsverify_test_refused_total", "counter",
	    "test sends failed by a [test] refuse", NULL,
	    st.testmode.refused);
	metric(b, "smsverify_test_receipts_total", "counter",
	    "scripted receipts applied", NULL, st.testmode.receipts);
	metric(b, "smsverify_test_waiting", "gauge",
	    "GET /v1/test/messages requests waiting", NULL,
	    (uint64_t)st.testmode.waiting);
	metric(b, "smsverify_inbound_messages_total", "counter",
	    "inbound messages stored whole", NULL, st.inbound.received);
	metric(b, "smsverify_inbound_parts_total", "counter",
	    "inbound parts held for joining", NULL, st.inbound.parts);
	metric(b, "smsverify_inbound_duplicates_total", "counter",
	    "inbound parts or messages delivered again", NULL,
	    st.inbound.duplicates);
	metric(b, "smsverify_inbound_dropped_total", "counter",
	    "inbound messages undecodable, or parts given up", NULL,
	    st.inbound.dropped);
	metric(b, "smsverify_inbound_waiting", "gauge",
	    "inbound messages waiting for parts", NULL,
	    (uint64_t)st.inbound.waiting_parts);
	metric(b, "smsverify_http_connections", "gauge",
	    "open HTTP connections", NULL, (uint64_t)st.http.open);
	metric(b, "smsverify_http_connections_max", "gauge",
	    "the cap on open HTTP connections", NULL,
	    (uint64_t)st.http.max_open);
	metric(b, "smsverify_http_connections_total", "counter",
	    "HTTP connections by fate", "{fate=\"accepted\"}",
	    st.http.accepted);
	metric(b, "smsverify_http_connections_total", NULL, NULL,
	    "{fate=\"shed\"}", st.http.shed);
	metric(b, "smsverify_http_connections_total", NULL, NULL,
	    "{fate=\"refused\"}", st.http.refused);
	metric(b, "smsverify_http_connections_total", NULL, NULL,
	    "{fate=\"timeout\"}", st.http.timeouts);
	metric(b, "smsverify_http_connections_total", NULL, NULL,
	    "{fate=\"unread_answers\"}", st.http.unread);
	metric(b, "smsverify_http_bad_requests_total", "counter",
	    "requests refused by their framing (400, 413, 414, 417, 431, "
	    "501, 505)", NULL, st.http.bad_requests);
	metric(b, "smsverify_stats_errors_total", "counter",
	    "batches whose statistics rows could not be staged", NULL,
	    stats_errors(((const struct api *)arg)->stats));
	metric(b, "smsverify_http_tls_handshake_failures_total", "counter",
	    "HTTPS handshakes that failed (protocol, cipher, closed "
	    "half-way)", NULL, st.http.tls_failed);
	metric(b, "smsverify_cancel_sm_total", "counter",
	    "cancel_sm of ended verifications' messages by result",
	    "{result=\"sent\"}", st.cancel.sent);
	metric(b, "smsverify_cancel_sm_total", NULL, NULL,
	    "{result=\"ok\"}", st.cancel.ok);
	metric(b, "smsverify_cancel_sm_total", NULL, NULL,
	    "{result=\"failed\"}", st.cancel.failed);
	metric(b, "smsverify_cancel_sm_total", NULL, NULL,
	    "{result=\"timeout\"}", st.cancel.timeouts);
	metric(b, "smsverify_cancel_sm_total", NULL, NULL,
	    "{result=\"dropped\"}", st.cancel.dropped);
	metric(b, "smsverify_cancel_sm_outstanding", "gauge",
	    "cancel_sm waiting for their answer", NULL,
	    st.cancel.outstanding);
	api_idem_stats(((const struct api *)arg)->idem, &is);
	metric(b, "smsverify_idempotent_replays_total", "counter",
	    "sends with an Idempotency-Key answered again, nothing sent",
	    NULL, is.replays);
	metric(b, "smsverify_idempotency_mismatches_total", "counter",
	    "Idempotency-Keys reused with another request (422)", NULL,
	    is.mismatches);
	metric(b, "smsverify_idempotency_busy_total", "counter",
	    "sends refused: [server] idempotency_inflight reached (503)",
	    NULL, is.busy);
	metric(b, "smsverify_idempotency_inflight", "gauge",
	    "sends with an Idempotency-Key in flight, retries included", NULL,
	    (uint64_t)is.inflight);
	len = evbuffer_get_length(b);
	text = xmalloc(len + 1);
	evbuffer_remove(b, text, len);
	http_reply_text(req, 200, "text/plain; version=0.0.4", text, len);
	free(text);
	evbuffer_free(b);
}

static json_t *
ratio(double r)
{
	return r < 0 ? json_null() : json_real((double)(int)(r * 1000) / 1000);
}

/* SMSC i's figures on each route it serves (score.h). */
static json_t *
routes_json(const struct api_stats *st, int i)
{
	const struct conf *conf = st->conf;
	json_t *a = json_array();
	struct score_view v;
	int64_t now = util_now();

	for (int r = 0; r < conf->nroute; r++) {
		int on = 0;
		for (int k = 0; k < conf->routes[r].nsmsc; k++)
			on |= conf->routes[r].smsc[k] == i;
		if (!on)
			continue;
		score_get(st->score, conf, r, i, now, &v);
		json_array_append_new(a, json_pack("{s:s, s:I, s:I, s:I, s:I, "
		    "s:I, s:o, s:o, s:o, s:o, s:b}",
		    "route", conf->routes[r].name,
		    "sent", (json_int_t)v.sent,
		    "mature", (json_int_t)v.mature,
		    "delivered", (json_int_t)v.delivered,
		    "undeliverable", (json_int_t)v.undeliverable,
		    "approved", (json_int_t)v.approved,
		    "delivered_ratio", ratio(v.delivered_ratio),
		    "conversion", ratio(v.conversion),
		    "latency_s", v.latency_s < 0 ? json_null() :
		    json_real(v.latency_s),
		    "score", ratio(v.score),
		    "degraded", v.degraded));
	}
	return a;
}

static void
api_smscs(struct http_request *req, const char *rest, void *arg)
{
	struct api_stats st;
	json_t *list;

	if (api_auth(arg, req, http_bearer(req)) < 0)
		return;
	snapshot(arg, &st);
	list = json_array();
	for (int i = 0; i < st.ncarrier; i++) {
		json_t *c = carrier_json(st.carriers[i]);
		json_object_set_new(c, "routes", routes_json(&st, i));
		json_array_append_new(list, c);
	}
	http_reply_json(req, 200, json_pack("{s:o}", "smscs", list));
}

void
api_admin_register(struct api *api)
{
	http_route(api->http, HTTP_GET, "/healthz", api_healthz, api);
	http_route(api->http, HTTP_GET, "/metrics", api_metrics, api);
	http_route(api->http, HTTP_GET, "/v1/smscs", api_smscs, api);
}
