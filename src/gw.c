/*
 * gw.c - struct gw: building the daemon, signals, reload and drain.
 *
 * gw_new() wires the parts on one event_base: the secret, the store, the
 * HTTP listener with its routes, the dispatcher, and one carrier per [smsc]
 * section.  Signals arrive as events on the same loop (evsignal_new):
 * SIGTERM and SIGINT drain (no new HTTP, in-flight submits get their
 * answers, bounded; then every bind unbinds and the store commits), a
 * second SIGINT leaves at once, SIGHUP swaps in a new configuration if it
 * validates.  The sweep timer expires verifications in bounded batches,
 * reopens the shield's ranges whose cooldown is over, and drops the
 * limits' dead counters.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "api.h"
#include "api_admin.h"
#include "api_idem.h"
#include "api_test.h"
#include "cancel.h"
#include "carrier.h"
#include "conf.h"
#include "dispatch.h"
#include "dlr.h"
#include "flow.h"
#include "gw.h"
#include "http.h"
#include "idem.h"
#include "inbound.h"
#include "keys.h"
#include "log.h"
#include "notify.h"
#include "phone_pool.h"
#include "redis.h"
#include "score.h"
#include "stats.h"
#include "store.h"
#include "testmode.h"
#include "tls.h"
#include "util.h"
#include "verify.h"
#include "webhook.h"

#define GW_DRAIN_MS 5000       /* bound on waiting for in-flight work */
#define GW_UNBIND_MS 5000      /* bound on waiting for unbind_resp */
#define GW_COMMIT_DELAY_MS 5   /* staged writes nobody waits on */
#define GW_PHONE_THREADS 1     /* libphonenumber workers (phone_pool.h) */
#define GW_FD_RESERVE 256      /* descriptors kept from HTTP clients */
#define GW_REDIS_TIMEOUT_MS 2000       /* connect, and each command */
#define GW_REDIS_INFLIGHT 65536        /* commands at Redis at once */

enum gw_state { GW_RUNNING = 0, GW_DRAINING, GW_STOPPED };

struct gw {
	struct event_base *base;
	struct conf *conf;            /* current configuration (owned) */
	uint8_t secret[VERIFY_SECRET_LEN];
	struct keys *keys;
	struct store *store;
	struct http *http;
	struct carrier **carriers;    /* aligned with conf->smscs */
	int ncarrier;
	struct dispatch *dispatch;
	struct flow *flow;
	struct phone_pool *phones;    /* numbers read off the loop */
	struct webhook *webhook;      /* events to the keys' webhooks */
	struct score *score;          /* each SMSC's health per route */
	struct dlr *dlr;              /* receipts, and the parked ones */
	struct testmode *testmode;    /* captured sends (testmode.h) */
	struct stats *stats;          /* the statistics' roll-ups (stats.h) */
	struct api_test api_test;     /* GET /v1/test/messages */
	struct inbound *inbound;      /* inbound messages, their inbox */
	struct api api;               /* what the endpoints are given */
	struct api_admin admin;
	struct event *sweep_ev;
	struct event *resume_ev;      /* on Redis: resume once caught up */
	struct event *sig_term, *sig_int, *sig_hup, *drain_ev, *logflush_ev;
	enum gw_state state;
	int64_t drain_deadline_ms;
	int carriers_stopped;
	int exit_code;
	int64_t started_at;
	struct cancel *cancel;        /* cancel_sm of ended verifications */
	struct tls *tls;              /* HTTPS: [server] tls_cert, tls_key */
	struct notify *notify;        /* systemd's sd_notify, or nothing */
};

/* ---- what the modules report, to the module that acts on it ----------- */

static void
gw_submit_done(void *arg, struct carrier *c, void *cookie, uint32_t status,
    const char *message_id)
{
	struct gw *gw = arg;

	dispatch_submit_done(gw->dispatch, c, cookie, status, message_id);
}

static void
gw_receipt(void *arg, struct carrier *c, struct smpp_session *sess,
    const struct smpp_receipt *r, uint64_t ack)
{
	struct gw *gw = arg;

	dlr_receipt(gw->dlr, c, sess, r, ack);
}

static void
gw_mo(void *arg, struct carrier *c, struct smpp_session *sess,
    const struct smpp_mo *m, uint64_t ack)
{
	struct gw *gw = arg;

	inbound_mo(gw->inbound, c, sess, m, ack);
}

static void
gw_ready(void *arg, struct carrier *c)
{
	struct gw *gw = arg;

	dispatch_ready(gw->dispatch, c);
}

static void
gw_cancel_done(void *arg, struct carrier *c, void *cookie, uint32_t status)
{
	struct gw *gw = arg;

	cancel_done(gw->cancel, c, cookie, status);
}

static const struct carrier_callbacks gw_carrier_cb = {
	.submit_done = gw_submit_done,
	.receipt = gw_receipt,
	.mo = gw_mo,
	.ready = gw_ready,
	.cancel_done = gw_cancel_done,
};

/* A verification ended (flow.h's withdraw hook): its message parts still
 * open at SMSCs with cancel = yes are withdrawn. */
static void
gw_withdraw(void *arg, const struct verif *v)
{
	struct gw *gw = arg;

	cancel_verif(gw->cancel, v);
}

static void
gw_sent(void *arg, const struct verif *v, int first, struct carrier *c)
{
	struct gw *gw = arg;

	flow_sent(gw->flow, v, first);
	/* Receipts that overtook this submit's answer can match now. */
	dlr_retry_parked(gw->dlr, c, v);
}

static void
gw_failed(void *arg, const char *id, const char *reason)
{
	struct gw *gw = arg;

	flow_failed(gw->flow, id, reason);
}

static const struct dispatch_hooks gw_dispatch_hooks = {
	.sent = gw_sent,
	.failed = gw_failed,
};

static void
gw_stats(void *arg, struct api_stats *st)
{
	struct gw *gw = arg;

	st->draining = gw->state != GW_RUNNING;
	st->uptime = util_now() - gw->started_at;
	st->conf = gw->conf;
	st->score = gw->score;
	st->carriers = gw->carriers;
	st->ncarrier = gw->ncarrier;
	flow_stats(gw->flow, &st->flow);
	dispatch_stats(gw->dispatch, &st->dispatch);
	dlr_stats(gw->dlr, &st->dlr);
	store_stats(gw->store, &st->store);
	st->outbox = store_outbox_count(gw->store);
	webhook_stats(gw->webhook, &st->webhook);
	http_stats(gw->http, &st->http);
	testmode_stats(gw->testmode, &st->testmode);
	inbound_stats(gw->inbound, &st->inbound);
	cancel_stats(gw->cancel, &st->cancel);
}

static char *
xasprintf_err(const char *fmt, const char *a, const char *b)
{
	size_t n = strlen(fmt) + strlen(a) + strlen(b) + 1;
	char *s = xmalloc(n);

	snprintf(s, n, fmt, a, b);
	return s;
}

int
gw_exit_code(const struct gw *gw)
{
	return gw->exit_code;
}

/* Hand the current configuration, carriers and figures to the modules
 * that read them (the key table is built with the configuration, and
 * rebuilt by gw_reload). */
static void
gw_reconf(struct gw *gw)
{
	dispatch_reconf(gw->dispatch, gw->conf, gw->carriers, gw->ncarrier,
	    gw->score);
	dlr_reconf(gw->dlr, gw->conf, gw->score);
	inbound_reconf(gw->inbound, gw->conf);
	webhook_reconf(gw->webhook, gw->conf);
	flow_reconf(gw->flow, gw->conf, gw->score);
	cancel_reconf(gw->cancel, gw->carriers, gw->ncarrier,
	    gw->conf->sender);
	stats_reconf(gw->stats, gw->conf);
}

/* The cap on HTTP connections: [server] max_connections, or (0) what the
 * descriptor limit, raised to its hard value, leaves after GW_FD_RESERVE;
 * never more than that. */
static int
gw_max_connections(const struct conf *conf)
{
	long nofile = util_raise_nofile(), room;

	room = nofile > 0 ? nofile - GW_FD_RESERVE : 1024;
	if (room < 16)
		room = 16;
	if (conf->max_connections == 0)
		return (int)(room < 1000000 ? room : 1000000);
	if (conf->max_connections > room) {
		log_warn("gw.max_connections", "configured=%d used=%ld "
		    "nofile=%ld reserve=%d", conf->max_connections, room,
		    nofile, GW_FD_RESERVE);
		return (int)room;
	}
	return conf->max_connections;
}

/* [store] backend = redis: the LMDB store becomes this node's replica of
 * the log in Redis (store_repl.c). */
static char *
gw_store_redis(struct gw *gw, const struct conf *conf)
{
	struct redis_config rc;
	struct store_redis sr;
	char e[256];

	memset(&rc, 0, sizeof(rc));
	rc.addr = conf->redis_addr;
	rc.sentinels = conf->redis_sentinel;
	rc.master_name = conf->redis_master;
	rc.sentinel_password_file = conf->redis_sentinel_password_file;
	rc.password_file = conf->redis_password_file;
	rc.db = conf->redis_db;
	rc.connect_timeout_ms = GW_REDIS_TIMEOUT_MS;
	rc.command_timeout_ms = GW_REDIS_TIMEOUT_MS;
	rc.reconnect_min_ms = 100;
	rc.reconnect_max_ms = 1000;     /* back within ~1 s of Redis */
	rc.max_inflight = GW_REDIS_INFLIGHT;
	memset(&sr, 0, sizeof(sr));
	sr.redis = &rc;
	sr.node = conf->node;
	sr.prefix = conf->redis_prefix;
	sr.wait_replicas = conf->redis_wait_replicas;
	sr.wait_ms = conf->redis_wait_ms;
	if (store_attach_redis(gw->store, &sr, e, sizeof(e)) != 0)
		return xasprintf_err("[store] redis: %s%s", e, "");
	return NULL;
}

/* A replica whose map is full serves what it has, as LMDB alone does:
 * reads answer, every commit fails store_full. */
static void
on_synced(void *arg, int result)
{
	http_gate_done(arg, result == STORE_OK || result == STORE_FULL);
}

/* On Redis, a request reads what every node had committed when it came
 * (store_sync()); the pages and the probes need no store. */
static int
gw_gate(void *arg, struct http_request *r, const char *route)
{
	struct gw *gw = arg;

	if (strcmp(route, "/healthz") == 0 || strcmp(route, "/metrics") == 0 ||
	    strcmp(route, "/status") == 0 || strcmp(route, "/openapi.json") ==
	    0)
		return 1;
	store_sync(gw->store, on_synced, r);
	return 0;
}

struct gw *
gw_new(struct event_base *base, struct conf *conf, char **err)
{
	struct gw *gw = xcalloc(1, sizeof(*gw));
	char *e = NULL;

	gw->base = base;
	gw->conf = conf;
	gw->started_at = util_now();
	gw->keys = keys_new(conf);
	if (verify_secret_load(conf->secret_file, gw->secret, &e) != 0) {
		*err = e;
		goto fail;
	}
	gw->store = store_open(base, conf->store_path, conf->map_size, &e);
	if (gw->store == NULL) {
		*err = e;
		goto fail;
	}
	if (conf->store_backend == CONF_BACKEND_REDIS &&
	    (*err = gw_store_redis(gw, conf)) != NULL)
		goto fail;
	/* A submit's record and its accept share a commit (see store.h). */
	store_set_commit_delay(gw->store, GW_COMMIT_DELAY_MS);
	gw->http = http_new(base, conf->listen_host, conf->listen_port,
	    gw_max_connections(conf), conf->request_timeout, &e);
	if (gw->http == NULL) {
		*err = e;
		goto fail;
	}
	if (conf->tls_cert != NULL) {
		gw->tls = tls_new(conf->tls_cert, conf->tls_key, &e);
		if (gw->tls == NULL) {
			*err = e;
			goto fail;
		}
		http_set_tls(gw->http, gw->tls);
		log_info("gw.https", "cert=%s subject=\"%s\"", conf->tls_cert,
		    tls_subject(gw->tls));
	}
	if (conf->store_backend == CONF_BACKEND_REDIS)
		http_set_gate(gw->http, gw_gate, gw);
	gw->phones = phone_pool_new(base, GW_PHONE_THREADS);
	if (gw->phones == NULL) {
		*err = xasprintf_err("cannot start the phone number worker: %s%s",
		    strerror(errno), "");
		goto fail;
	}
	gw->score = score_new(conf);
	gw->webhook = webhook_new(base, gw->store, gw->keys, conf);
	if (gw->webhook == NULL) {
		*err = xasprintf_err("cannot start the webhook sender%s%s", "",
		    "");
		goto fail;
	}
	gw->dispatch = dispatch_new(base, gw->store, gw->secret,
	    &gw_dispatch_hooks, gw);
	if (conf->store_backend == CONF_BACKEND_REDIS)
		dispatch_commit_first(gw->dispatch);
	gw->dlr = dlr_new(gw->store, gw->score, gw->webhook, conf);
	gw->inbound = inbound_new(base, gw->store, gw->webhook, conf);
	gw->flow = flow_new(conf, gw->store, gw->keys, gw->phones,
	    gw->dispatch, gw->webhook, gw->score, gw->secret);
	gw->testmode = testmode_new(base, gw->store, gw->dlr, gw->secret);
	flow_set_testmode(gw->flow, gw->testmode);
	gw->cancel = cancel_new(gw->store);
	flow_set_withdraw(gw->flow, gw_withdraw, gw);
	gw->stats = stats_new(gw->store, conf);
	flow_set_stats(gw->flow, gw->stats);
	dlr_set_stats(gw->dlr, gw->stats);
	if (testmode_resume(gw->testmode) < 0)
		log_err("test.resume_failed", "msg=\"captured messages "
		    "unreadable: their pending receipts are not sent\"");
	gw->ncarrier = conf->nsmsc;
	gw->carriers = xcalloc(conf->nsmsc ? conf->nsmsc : 1,
	    sizeof(*gw->carriers));
	for (int i = 0; i < conf->nsmsc; i++) {
		gw->carriers[i] = carrier_new(base, &conf->smscs[i], i,
		    &gw_carrier_cb, gw);
		if (gw->carriers[i] == NULL) {
			*err = xasprintf_err("[smsc %s]%s: unusable settings",
			    conf->smscs[i].name, "");
			goto fail;
		}
	}
	gw_reconf(gw);
	gw->admin.stats = gw_stats;
	gw->admin.arg = gw;
	gw->api.http = gw->http;
	gw->api.flow = gw->flow;
	gw->api.keys = gw->keys;
	gw->api.admin = &gw->admin;
	gw->api.inbound = gw->inbound;
	gw->api.base = base;
	gw->api.store = gw->store;
	gw->api.stats = gw->stats;
	api_verify_register(&gw->api);
	api_compat_register(&gw->api);
	api_admin_register(&gw->api);
	api_shield_register(&gw->api);
	api_stats_register(&gw->api);
	gw->api_test.api = &gw->api;
	gw->api_test.tm = gw->testmode;
	api_test_register(&gw->api_test);
	api_messages_register(&gw->api);
	api_status_register(&gw->api);
	return gw;
fail:
	gw_free(gw);
	return NULL;
}

/* ---- sweep ------------------------------------------------------------ */

static void
gw_on_expired(void *arg, const struct verif *v)
{
	struct gw *gw = arg;

	flow_expired(gw->flow, v);
	log_info("verify.expired", "id=%s", v->id);
}

/* A dead node's queued messages became this node's (store_lease()):
 * into the wait queue with the rest. */
static void
gw_adopted(void *arg, int taken)
{
	struct gw *gw = arg;

	log_info("gw.adopted", "taken=%d queued=%d", taken,
	    dispatch_resume_queue(gw->dispatch));
}

static void
gw_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct gw *gw = arg;
	struct timeval tv = { gw->conf->sweep_interval, 0 };
	int n;

	n = store_sweep(gw->store, util_now(), gw->conf->sweep_batch,
	    gw->conf->retention, gw_on_expired, gw);
	flow_shield_expire(gw->flow);
	/* The limits' dead counters, as many per run (store.h). */
	store_limit_prune(gw->store, util_now(), gw->conf->sweep_batch);
	/* The statistics' rows past [store] stats_retention, as many. */
	stats_prune(gw->stats, util_now(), gw->conf->sweep_batch);
	/* Test mode's captures, kept as long as finished records. */
	store_capture_prune(gw->store, util_now_ms() -
	    (int64_t)gw->conf->retention * 1000, gw->conf->sweep_batch);
	/* Parts that waited too long, and the inbox past retention. */
	inbound_sweep(gw->inbound, util_now(), gw->conf->sweep_batch,
	    gw->conf->retention);
	/* Idempotency-Keys' answers past their 24 hours. */
	store_idem_prune(gw->store, util_now() - IDEM_TTL,
	    gw->conf->sweep_batch);
	/* On Redis, a receipt for a send another node made may have come
	 * before this replica had the send. */
	if (gw->conf->store_backend == CONF_BACKEND_REDIS) {
		dlr_retry_all(gw->dlr);
		flow_shield_sync(gw->flow);
		store_lease(gw->store, gw->conf->node_lease * 1000,
		    gw->conf->sweep_batch, gw_adopted, gw);
	}
	if (n == gw->conf->sweep_batch) {
		/* More is due: go on next turn, letting other events in. */
		tv.tv_sec = 0;
	}
	evtimer_add(gw->sweep_ev, &tv);
}

/* ---- resume ----------------------------------------------------------- */

static void
gw_resume(struct gw *gw)
{
	/* Earliest expiry first, at most [verify] queue_max in memory. */
	int n = dispatch_resume_queue(gw->dispatch);

	if (n > 0)
		log_info("gw.resume", "queued=%d", n);
}

/* On Redis the replica may miss the last batches this node committed
 * before it stopped (they are in the log): the queue and the waiting
 * parts are resumed once it has caught up (store_sync()), tried again
 * each second while Redis cannot be reached. */
static void gw_resume_synced(void *arg, int result);

static void
gw_resume_retry(evutil_socket_t fd, short what, void *arg)
{
	struct gw *gw = arg;

	store_sync(gw->store, gw_resume_synced, gw);
}

static void
gw_resume_synced(void *arg, int result)
{
	struct gw *gw = arg;
	struct timeval tv = { 1, 0 };

	if (result != STORE_OK) {
		evtimer_add(gw->resume_ev, &tv);
		return;
	}
	gw_resume(gw);
	inbound_resume(gw->inbound);
}

/* ---- signals, drain --------------------------------------------------- */

static void
gw_unbound(void *arg)
{
	struct gw *gw = arg;

	gw->carriers_stopped++;
}

static void
gw_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct gw *gw = arg;
	struct timeval tv = { 0, 50 * 1000 };
	int64_t now = util_mono_ms();

	if (gw->state == GW_DRAINING) {
		struct dispatch_stats ds;
		dispatch_stats(gw->dispatch, &ds);
		if ((http_inflight(gw->http) > 0 || ds.inflight > 0) &&
		    now < gw->drain_deadline_ms) {
			evtimer_add(gw->drain_ev, &tv);
			return;
		}
		/* In-flight work is done (or out of time): unbind. */
		gw->state = GW_STOPPED;
		gw->drain_deadline_ms = now + GW_UNBIND_MS;
		gw->carriers_stopped = 0;
		log_info("gw.unbind", "carriers=%d", gw->ncarrier);
		for (int i = 0; i < gw->ncarrier; i++)
			carrier_stop(gw->carriers[i], gw_unbound, gw);
		evtimer_add(gw->drain_ev, &tv);
		return;
	}
	if (gw->carriers_stopped < gw->ncarrier &&
	    now < gw->drain_deadline_ms) {
		evtimer_add(gw->drain_ev, &tv);
		return;
	}
	store_flush(gw->store);
	log_info("gw.stopped", "exit=%d", gw->exit_code);
	event_base_loopexit(gw->base, NULL);
}

void
gw_drain(struct gw *gw)
{
	struct dispatch_stats ds;

	if (gw->state != GW_RUNNING)
		return;
	dispatch_stats(gw->dispatch, &ds);
	log_info("gw.drain", "inflight_http=%d inflight_submits=%d "
	    "waiting=%d", http_inflight(gw->http), ds.inflight, ds.waiting);
	gw->state = GW_DRAINING;
	notify_stopping(gw->notify);
	gw->drain_deadline_ms = util_mono_ms() + GW_DRAIN_MS;
	http_stop_accepting(gw->http);
	/* Long polls of test mode answer now, not in up to 30 s. */
	testmode_stop(gw->testmode);
	/* Long polls answer now (with what they have) instead of holding
	 * the drain for up to their wait. */
	inbound_stop_polls(gw->inbound);
	gw_drain_tick(-1, 0, gw);
}

static void
gw_log_flush(evutil_socket_t fd, short what, void *arg)
{
	log_flush();
}

static void
gw_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct gw *gw = arg;

	switch (sig) {
	case SIGHUP: {
		char *errors = NULL;
		struct conf *nc;

		notify_reloading(gw->notify);
		nc = conf_load(gw->conf->path, &errors);
		if (nc == NULL) {
			char buf[512];
			log_err("gw.reload_refused", "errors=%s",
			    log_str(buf, sizeof(buf), errors ? errors : "?"));
			free(errors);
		} else
			gw_reload(gw, nc);
		/* Refused or not, the daemon runs (on the old or new). */
		notify_ready(gw->notify, NULL);
		return;
	}
	case SIGINT:
		if (gw->state != GW_RUNNING) {
			log_warn("gw.exit_now", "signal=INT");
			event_base_loopbreak(gw->base);
			return;
		}
		/* FALLTHROUGH */
	case SIGTERM:
		gw_drain(gw);
		return;
	}
}

int
gw_start(struct gw *gw)
{
	struct timeval tv = { gw->conf->sweep_interval, 0 };

	for (int i = 0; i < gw->ncarrier; i++)
		carrier_start(gw->carriers[i]);
	if (gw->conf->store_backend == CONF_BACKEND_REDIS) {
		gw->resume_ev = evtimer_new(gw->base, gw_resume_retry, gw);
		store_sync(gw->store, gw_resume_synced, gw);
	} else {
		gw_resume(gw);
		inbound_resume(gw->inbound);
	}
	gw->sweep_ev = evtimer_new(gw->base, gw_sweep, gw);
	evtimer_add(gw->sweep_ev, &tv);
	gw->drain_ev = evtimer_new(gw->base, gw_drain_tick, gw);
	/* Log lines go out in batches, at the latest 100 ms after. */
	struct timeval flush_tv = { 0, 100 * 1000 };
	gw->logflush_ev = event_new(gw->base, -1, EV_PERSIST, gw_log_flush,
	    gw);
	evtimer_add(gw->logflush_ev, &flush_tv);
	log_set_buffered(1);
	gw->sig_term = evsignal_new(gw->base, SIGTERM, gw_on_signal, gw);
	gw->sig_int = evsignal_new(gw->base, SIGINT, gw_on_signal, gw);
	gw->sig_hup = evsignal_new(gw->base, SIGHUP, gw_on_signal, gw);
	evsignal_add(gw->sig_term, NULL);
	evsignal_add(gw->sig_int, NULL);
	evsignal_add(gw->sig_hup, NULL);
	log_info("gw.started", "listen=%s:%d smscs=%d keys=%d",
	    gw->conf->listen_host, http_port(gw->http), gw->ncarrier,
	    gw->conf->nkey);
	/* The listener is up and every bind is being tried. */
	gw->notify = notify_new(gw->base);
	notify_ready(gw->notify, NULL);
	return 0;
}

/* ---- reload ----------------------------------------------------------- */

static int
same_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Whether nc names another Redis for the store than old (the connection,
 * made at start, stays; only the password files' contents are read again
 * on a reload). */
static int
redis_moved(const struct conf *old, const struct conf *nc)
{
	return old->store_backend != nc->store_backend ||
	    !same_str(old->redis_addr, nc->redis_addr) ||
	    !same_str(old->redis_password_file, nc->redis_password_file) ||
	    old->redis_db != nc->redis_db ||
	    !same_str(old->redis_prefix, nc->redis_prefix) ||
	    !same_str(old->node, nc->node) ||
	    !same_str(old->redis_sentinel, nc->redis_sentinel) ||
	    !same_str(old->redis_master, nc->redis_master) ||
	    !same_str(old->redis_sentinel_password_file,
	    nc->redis_sentinel_password_file);
}

/* A carrier a reload removed, until it has unbound. */
struct retired {
	struct event_base *base;
	struct carrier *c;
};

static void
carrier_free_later(evutil_socket_t fd, short what, void *arg)
{
	struct retired *r = arg;

	carrier_free(r->c);
	free(r);
}

static void
carrier_retired(void *arg)
{
	struct retired *r = arg;

	/* Called from inside the carrier's own callback chain: free it from
	 * the loop instead (on the daemon's base: a NULL base would be
	 * libevent 1's global one, which nothing sets). */
	if (event_base_once(r->base, -1, EV_TIMEOUT, carrier_free_later, r,
	    NULL) != 0)
		log_err("gw.retire_failed", "smsc=%s", carrier_name(r->c));
}

/* Read the HTTPS pair of nc again (the same files or others): new
 * connections get it, open ones keep theirs.  0; -1 (logged) when it does
 * not load, and the pair in use stays. */
static int
gw_reload_tls(struct gw *gw, struct conf *nc)
{
	char buf[1024], *e = NULL;
	struct tls *t;

	if (nc->tls_cert == NULL) {
		if (gw->tls != NULL) {
			http_set_tls(gw->http, NULL);
			tls_free(gw->tls);
			gw->tls = NULL;
			log_warn("gw.https_off", "msg=\"new connections "
			    "speak plain HTTP\"");
		}
		return 0;
	}
	if (gw->tls != NULL)
		t = tls_reload(gw->tls, nc->tls_cert, nc->tls_key, &e) == 0 ?
		    gw->tls : NULL;
	else
		t = tls_new(nc->tls_cert, nc->tls_key, &e);
	if (t == NULL) {
		log_err("gw.reload_refused", "errors=%s", log_str(buf,
		    sizeof(buf), e ? e : "?"));
		free(e);
		return -1;
	}
	gw->tls = t;
	http_set_tls(gw->http, t);
	log_info("gw.https", "cert=%s subject=\"%s\"", nc->tls_cert,
	    tls_subject(t));
	return 0;
}

int
gw_reload(struct gw *gw, struct conf *nc)
{
	struct conf *old = gw->conf;
	struct carrier **nca;
	int kept = 0, added = 0, removed = 0;
	char e[512], buf[600];

	/* The Redis passwords, then the HTTPS pair: a file that does not
	 * read or a pair that does not load refuses the whole reload (a
	 * password read is only used at the next connect). */
	if (store_reload_passwords(gw->store, e, sizeof(e)) != 0) {
		log_err("gw.reload_refused", "errors=%s", log_str(buf,
		    sizeof(buf), e));
		conf_free(nc);
		return -1;
	}
	if (gw_reload_tls(gw, nc) != 0) {
		conf_free(nc);
		return -1;
	}

	if (strcmp(old->listen_host, nc->listen_host) != 0 ||
	    old->listen_port != nc->listen_port ||
	    strcmp(old->store_path, nc->store_path) != 0 ||
	    strcmp(old->secret_file, nc->secret_file) != 0 ||
	    old->map_size != nc->map_size || redis_moved(old, nc))
		log_warn("gw.reload_partial", "msg=\"listen, store and "
		    "secret_file changes need a restart; kept the old ones\"");
	/* Keep the parts that cannot change on a running daemon. */
	free(nc->listen_host);
	nc->listen_host = xstrdup(old->listen_host);
	nc->listen_port = old->listen_port;
	free(nc->store_path);
	nc->store_path = xstrdup(old->store_path);
	free(nc->secret_file);
	nc->secret_file = xstrdup(old->secret_file);
	nc->map_size = old->map_size;

	nca = xcalloc(nc->nsmsc ? nc->nsmsc : 1, sizeof(*nca));
	for (int i = 0; i < nc->nsmsc; i++) {
		for (int j = 0; j < gw->ncarrier; j++) {
			struct carrier *c = gw->carriers[j];
			if (c != NULL && carrier_same(c, &nc->smscs[i])) {
				nca[i] = c;
				carrier_set_index(c, i);
				gw->carriers[j] = NULL;
				kept++;
				break;
			}
		}
	}
	for (int j = 0; j < gw->ncarrier; j++) {
		if (gw->carriers[j] != NULL) {
			struct retired *r = xmalloc(sizeof(*r));
			r->base = gw->base;
			r->c = gw->carriers[j];
			carrier_stop(r->c, carrier_retired, r);
			removed++;
		}
	}
	free(gw->carriers);
	for (int i = 0; i < nc->nsmsc; i++) {
		if (nca[i] == NULL) {
			nca[i] = carrier_new(gw->base, &nc->smscs[i], i,
			    &gw_carrier_cb, gw);
			if (nca[i] != NULL)
				carrier_start(nca[i]);
			added++;
		}
	}
	gw->carriers = nca;
	gw->ncarrier = nc->nsmsc;
	gw->conf = nc;
	/* SMSC and route indexes may have moved: the figures start over. */
	score_free(gw->score);
	gw->score = score_new(gw->conf);
	keys_set(gw->keys, gw->conf);
	gw_reconf(gw);
	conf_free(old);
	log_info("gw.reloaded", "keys=%d routes=%d smscs_kept=%d "
	    "smscs_added=%d smscs_removed=%d", nc->nkey, nc->nroute, kept,
	    added, removed);
	return 0;
}

void
gw_free(struct gw *gw)
{
	if (gw == NULL)
		return;
	/* From here on nothing answers a request: the listener goes. */
	if (gw->flow != NULL)
		flow_stop(gw->flow);
	/* Long polls are answered (they read the store) and the module
	 * goes; what it staged commits below. */
	inbound_free(gw->inbound);
	gw->inbound = NULL;
	if (gw->http != NULL)
		http_free(gw->http);
	gw->http = NULL;
	tls_free(gw->tls);
	gw->tls = NULL;
	notify_free(gw->notify);
	gw->notify = NULL;
	/* Lookups still out are answered now and find no listener. */
	phone_pool_free(gw->phones);
	gw->phones = NULL;
	/* Carriers give back outstanding cookies: the dispatcher, stopped,
	 * keeps them (they stay queued in the store for the next start). */
	if (gw->dispatch != NULL)
		dispatch_stop(gw->dispatch);
	/* Staged writes commit now, while the sessions their answers go to
	 * (receipts', inbound messages') still exist. */
	if (gw->store != NULL)
		store_flush(gw->store);
	int n = gw->ncarrier;
	gw->ncarrier = 0;
	for (int i = 0; i < n; i++) {
		struct carrier *c = gw->carriers[i];
		gw->carriers[i] = NULL;
		carrier_free(c);
	}
	dispatch_free(gw->dispatch);
	gw->dispatch = NULL;
	/* Long polls answer now; receipts not yet due are dropped. */
	testmode_stop(gw->testmode);
	/* Events in flight stay in the outbox for the next start. */
	webhook_free(gw->webhook);
	gw->webhook = NULL;
	if (gw->store != NULL)
		store_close(gw->store);
	gw->store = NULL;
	/* The carriers gave every cancel's cookie back, and the store
	 * called its last commit callbacks. */
	if (gw->flow != NULL)
		flow_set_withdraw(gw->flow, NULL, NULL);
	cancel_free(gw->cancel);
	gw->cancel = NULL;
	testmode_free(gw->testmode);
	dlr_free(gw->dlr);
	flow_free(gw->flow);
	api_idem_free(gw->api.idem);
	stats_free(gw->stats);
	score_free(gw->score);
	free(gw->carriers);
	if (gw->sweep_ev)
		event_free(gw->sweep_ev);
	if (gw->resume_ev)
		event_free(gw->resume_ev);
	if (gw->drain_ev)
		event_free(gw->drain_ev);
	if (gw->logflush_ev)
		event_free(gw->logflush_ev);
	log_set_buffered(0);
	if (gw->sig_term)
		event_free(gw->sig_term);
	if (gw->sig_int)
		event_free(gw->sig_int);
	if (gw->sig_hup)
		event_free(gw->sig_hup);
	keys_free(gw->keys);
	conf_free(gw->conf);
	OPENSSL_cleanse(gw->secret, sizeof(gw->secret));
	free(gw);
}
