/*
 * gw.c - struct gw: building the daemon, signals, reload and drain.
 *
 * gw_new() wires the parts on one event_base: the secret, the store, the
 * HTTP listener with its routes, the dispatcher, and one carrier per [smsc]
 * section.  Signals arrive as events on the same loop (evsignal_new):
 * SIGTERM and SIGINT drain (no new HTTP, in-flight submits get their
 * answers, bounded; then every bind unbinds and the store commits), a
 * second SIGINT leaves at once, SIGHUP swaps in a new configuration if it
 * validates.  The sweep timer expires verifications in bounded batches.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "api.h"
#include "carrier.h"
#include "conf.h"
#include "dispatch.h"
#include "gw.h"
#include "http.h"
#include "log.h"
#include "phone_pool.h"
#include "score.h"
#include "store.h"
#include "util.h"
#include "webhook.h"

#define GW_DRAIN_MS 5000       /* bound on waiting for in-flight work */
#define GW_UNBIND_MS 5000      /* bound on waiting for unbind_resp */
#define GW_COMMIT_DELAY_MS 5   /* staged writes nobody waits on */
#define GW_PHONE_THREADS 1     /* libphonenumber workers (phone_pool.h) */

static const struct carrier_callbacks gw_carrier_cb = {
	.submit_done = dispatch_submit_done,
	.receipt = dlr_receipt,
	.ready = dispatch_ready,
};

static char *
xasprintf_err(const char *fmt, const char *a, const char *b)
{
	size_t n = strlen(fmt) + strlen(a) + strlen(b) + 1;
	char *s = xmalloc(n);

	snprintf(s, n, fmt, a, b);
	return s;
}

/* SHA-256 of a token.  OpenSSL 3's one-shot SHA256() fetches the
 * algorithm by name on every call (a microsecond, on every request): the
 * fetched digest and a context are kept instead.  Loop thread only. */
static void
token_digest(const char *token, uint8_t out[SHA256_DIGEST_LENGTH])
{
	static EVP_MD *md;
	static EVP_MD_CTX *ctx;

	if (md == NULL)
		md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (ctx == NULL)
		ctx = EVP_MD_CTX_new();
	if (md == NULL || ctx == NULL ||
	    EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, token, strlen(token)) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, NULL) != 1) {
		fprintf(stderr, "smsverifyd: SHA-256 failed\n");
		abort();
	}
}

/* SHA-256 of every key's token, computed once per configuration. */
static void
gw_hash_keys(struct gw *gw)
{
	free(gw->key_hash);
	gw->key_hash = xcalloc(gw->conf->nkey ? gw->conf->nkey : 1,
	    sizeof(*gw->key_hash));
	for (int i = 0; i < gw->conf->nkey; i++)
		token_digest(gw->conf->keys[i].token, gw->key_hash[i]);
}

int
gw_key_by_token(const struct gw *gw, const char *token)
{
	uint8_t want[SHA256_DIGEST_LENGTH];
	int found = -1;

	if (token == NULL)
		return -1;
	/* Compare digests so the time does not depend on where the tokens
	 * differ, and visit every key whatever matches. */
	token_digest(token, want);
	for (int i = 0; i < gw->conf->nkey; i++)
		if (CRYPTO_memcmp(want, gw->key_hash[i], sizeof(want)) == 0)
			found = i;
	return found;
}

struct carrier *
gw_carrier(const struct gw *gw, int i)
{
	if (i < 0 || i >= gw->ncarrier)
		return NULL;
	return gw->carriers[i];
}

struct gw *
gw_new(struct event_base *base, struct conf *conf, char **err)
{
	struct gw *gw = xcalloc(1, sizeof(*gw));
	char *e = NULL;

	gw->base = base;
	gw->conf = conf;
	gw->started_at = util_now();
	gw_hash_keys(gw);
	if (verify_secret_load(conf->secret_file, gw->secret, &e) != 0) {
		*err = e;
		goto fail;
	}
	gw->store = store_open(base, conf->store_path, conf->map_size, &e);
	if (gw->store == NULL) {
		*err = e;
		goto fail;
	}
	/* A submit's record and its accept share a commit (see store.h). */
	store_set_commit_delay(gw->store, GW_COMMIT_DELAY_MS);
	gw->http = http_new(base, conf->listen_host, conf->listen_port,
	    conf->max_connections, conf->request_timeout, &e);
	if (gw->http == NULL) {
		*err = e;
		goto fail;
	}
	gw->phones = phone_pool_new(base, GW_PHONE_THREADS);
	if (gw->phones == NULL) {
		*err = xasprintf_err("cannot start the phone number worker: %s%s",
		    strerror(errno), "");
		goto fail;
	}
	gw->dispatch = dispatch_new(gw);
	gw->dlr = dlr_new(gw);
	gw->score = score_new(conf);
	if ((gw->webhook = webhook_new(gw)) == NULL) {
		*err = xasprintf_err("cannot start the webhook sender%s%s", "",
		    "");
		goto fail;
	}
	gw->ncarrier = conf->nsmsc;
	gw->carriers = xcalloc(conf->nsmsc, sizeof(*gw->carriers));
	for (int i = 0; i < conf->nsmsc; i++) {
		gw->carriers[i] = carrier_new(base, &conf->smscs[i], i,
		    &gw_carrier_cb, gw);
		if (gw->carriers[i] == NULL) {
			*err = xasprintf_err("[smsc %s]%s: unusable settings",
			    conf->smscs[i].name, "");
			goto fail;
		}
	}
	api_verify_register(gw);
	api_compat_register(gw);
	api_admin_register(gw);
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

	gw->metrics.expired++;
	dispatch_drop(gw->dispatch, v->id);
	webhook_emit(gw, v, "verification.expired");
	log_info("verify.expired", "id=%s", v->id);
}

static void
gw_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct gw *gw = arg;
	struct timeval tv = { gw->conf->sweep_interval, 0 };
	int n;

	n = store_sweep(gw->store, util_now(), gw->conf->sweep_batch,
	    gw->conf->retention, gw_on_expired, gw);
	if (n == gw->conf->sweep_batch) {
		/* More is due: go on next turn, letting other events in. */
		tv.tv_sec = 0;
	}
	evtimer_add(gw->sweep_ev, &tv);
}

/* ---- resume ----------------------------------------------------------- */

struct idlist {
	char (*ids)[32];
	int n, cap;
};

static void
collect_id(void *arg, const char *id)
{
	struct idlist *l = arg;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->ids = xrealloc(l->ids, l->cap * sizeof(*l->ids));
	}
	util_strlcpy(l->ids[l->n++], id, 32);
}

static void
gw_resume(struct gw *gw)
{
	struct idlist l = { NULL, 0, 0 };
	struct verif v;
	int n = 0;

	store_queue_each(gw->store, collect_id, &l);
	for (int i = 0; i < l.n; i++) {
		memset(&v, 0, sizeof(v));
		if (store_verif_get(gw->store, l.ids[i], &v) == STORE_OK &&
		    v.status == VERIF_PENDING && v.send_state == SEND_QUEUED &&
		    v.sealed != NULL) {
			dispatch_resume(gw->dispatch, &v);
			n++;
		}
		verif_clear(&v);
	}
	free(l.ids);
	if (n > 0)
		log_info("gw.resume", "queued=%d", n);
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
		if ((http_inflight(gw->http) > 0 ||
		    dispatch_inflight(gw->dispatch) > 0) &&
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
	if (gw->state != GW_RUNNING)
		return;
	log_info("gw.drain", "inflight_http=%d inflight_submits=%d "
	    "waiting=%d", http_inflight(gw->http),
	    dispatch_inflight(gw->dispatch), dispatch_waiting(gw->dispatch));
	gw->state = GW_DRAINING;
	gw->drain_deadline_ms = util_mono_ms() + GW_DRAIN_MS;
	http_stop_accepting(gw->http);
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
		struct conf *nc = conf_load(gw->conf->path, &errors);
		if (nc == NULL) {
			char buf[512];
			log_err("gw.reload_refused", "errors=%s",
			    log_str(buf, sizeof(buf), errors ? errors : "?"));
			free(errors);
			return;
		}
		gw_reload(gw, nc);
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
	gw_resume(gw);
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
	return 0;
}

/* ---- reload ----------------------------------------------------------- */

static void
carrier_free_later(evutil_socket_t fd, short what, void *arg)
{
	carrier_free(arg);
}

static void
carrier_retired(void *arg)
{
	struct carrier *c = arg;

	/* Called from inside the carrier's own callback chain: free it from
	 * the loop instead. */
	event_base_once(NULL, -1, EV_TIMEOUT, carrier_free_later, c, NULL);
}

int
gw_reload(struct gw *gw, struct conf *nc)
{
	struct conf *old = gw->conf;
	struct carrier **nca;
	int kept = 0, added = 0, removed = 0;

	if (strcmp(old->listen_host, nc->listen_host) != 0 ||
	    old->listen_port != nc->listen_port ||
	    strcmp(old->store_path, nc->store_path) != 0 ||
	    strcmp(old->secret_file, nc->secret_file) != 0 ||
	    old->map_size != nc->map_size)
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
			carrier_stop(gw->carriers[j], carrier_retired,
			    gw->carriers[j]);
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
	gw_hash_keys(gw);
	/* SMSC and route indexes may have moved: the figures start over. */
	score_free(gw->score);
	gw->score = score_new(gw->conf);
	conf_free(old);
	dispatch_reroute(gw->dispatch);
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
	if (gw->http != NULL)
		http_free(gw->http);
	gw->http = NULL;
	/* Lookups still out are answered now and find no listener. */
	phone_pool_free(gw->phones);
	gw->phones = NULL;
	/* Carriers give back outstanding cookies: the dispatcher re-queues
	 * them (they stay queued in the store for the next start). */
	int n = gw->ncarrier;
	gw->ncarrier = 0;   /* gw_carrier() finds none from here on */
	for (int i = 0; i < n; i++) {
		struct carrier *c = gw->carriers[i];
		gw->carriers[i] = NULL;
		carrier_free(c);
	}
	/* Events in flight stay in the outbox for the next start. */
	webhook_free(gw->webhook);
	gw->webhook = NULL;
	if (gw->store != NULL)
		store_close(gw->store);
	gw->store = NULL;
	dispatch_free(gw->dispatch);
	dlr_free(gw->dlr);
	score_free(gw->score);
	free(gw->carriers);
	if (gw->sweep_ev)
		event_free(gw->sweep_ev);
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
	conf_free(gw->conf);
	free(gw->key_hash);
	OPENSSL_cleanse(gw->secret, sizeof(gw->secret));
	free(gw);
}
