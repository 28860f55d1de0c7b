/*
 * webhook.c - verification events POSTed to the key's webhook (webhook.h).
 *
 * At least once.  webhook_emit() stages the event in the store's outbox in
 * the batch of the change it describes, so the two commit together (or
 * fail together).  The sender reads the outbox on a timer, and at once
 * after a commit that staged events: every due event whose key still has
 * a webhook is POSTed, at most WH_PER_KEY at a time per key and
 * WH_INFLIGHT in all, so a slow or dead receiver holds back only its own
 * key's events.  A 2xx removes the event; anything else (an error status,
 * a refused connection, a timeout, a TLS failure) counts a try and sets
 * the next one after an exponential backoff (1 s doubling to 5 min, with
 * jitter); an event older than [server] webhook_retry is dropped and
 * logged.  A restart resumes the outbox where it stood.
 *
 * Events about a verification go to its key; events about the gateway
 * (webhook_emit_admin(): "shield.tripped") to every admin key that has
 * a webhook, each key its own copy in the outbox, delivered and retried
 * on its own like any other; an inbound message's (webhook_emit_key():
 * "message.received") to its number's key.
 *
 * Each POST carries the JSON event, "Smsverify-Event: SEQ" (the same on
 * every try: receivers drop repeats by it) and
 * "Smsverify-Signature: t=UNIX,v1=HEX", HEX being HMAC-SHA256 under the
 * key's webhook_secret of "UNIX.BODY" (README: Webhooks).  HTTPS receivers
 * are verified: the certificate must chain to [server] webhook_ca_file (the
 * system's CA store when it is not set) and name the URL's host.  The
 * event never holds the code.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "conf.h"
#include "keys.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "webhook.h"

#define WH_TICK_MS 1000         /* look at the outbox at least this often */
#define WH_SCAN 256             /* events read per look */
#define WH_INFLIGHT 64          /* POSTs at once, in all */
#define WH_PER_KEY 4            /* POSTs at once, per key */
#define WH_TIMEOUT 10           /* seconds for a whole POST */
#define WH_BACKOFF_MAX_MS 300000

struct flight {
	struct flight *next;
	struct webhook *wh;
	uint64_t seq;
	char key[33];
	int tries;
	int64_t first_ms;
	struct evhttp_connection *evcon;
};

struct webhook {
	struct event_base *base;
	struct store *store;
	const struct keys *keys;
	const struct conf *conf;        /* webhook_retry, webhook_ca_file */
	struct event *timer;
	struct event *kick_ev;
	int kick_staged;                /* a commit callback is registered */
	uint64_t kick_from;             /* first event staged since a kick,
	                                   0: none */
	SSL_CTX *ssl;
	char *ssl_ca;                   /* CA file ssl trusts; NULL: system's */
	struct evdns_base *dns;
	struct flight *flights;
	struct flight *done;            /* answered: connection to free */
	int inflight;
	int closing;                    /* webhook_free() is running */
	uint64_t scan_from;
	struct webhook_stats stats;
};

static const struct conf_key *
key_conf(const struct webhook *wh, const char *name)
{
	return keys_get(wh->keys, keys_by_name(wh->keys, name));
}

/* ---- events ------------------------------------------------------------ */

static json_t *
rfc3339(int64_t t)
{
	char buf[32];

	util_rfc3339(t, buf, sizeof(buf));
	return json_string(buf);
}

static void
kick_committed(void *arg, int result)
{
	struct webhook *wh = arg;

	wh->kick_staged = 0;
	if (result == STORE_OK)
		event_active(wh->kick_ev, 0, 0);
	else
		wh->kick_from = 0;      /* those events were not stored */
}

/* Stage {"type", "created_at", "data"} for key's webhook in the store's
 * open batch and look at the outbox after its commit.  data is borrowed.
 * 0, or -1 (logged when the body cannot be made). */
static int
stage(struct webhook *wh, const char *key, const char *type, json_t *data)
{
	json_t *ev;
	uint64_t seq;
	char *body;
	int rc;

	ev = json_pack("{s:s, s:o, s:O}", "type", type,
	    "created_at", rfc3339(util_now()), "data", data);
	body = ev != NULL ? json_dumps(ev, JSON_COMPACT) : NULL;
	json_decref(ev);
	if (body == NULL) {
		log_err("webhook.encode_failed", "key=%s type=%s", key, type);
		return -1;
	}
	rc = store_outbox_put(wh->store, key, body, util_now_ms(), &seq);
	free(body);
	if (rc != STORE_OK)
		return -1;
	if (wh->kick_from == 0 || seq < wh->kick_from)
		wh->kick_from = seq;
	if (!wh->kick_staged) {
		wh->kick_staged = 1;
		store_on_commit(wh->store, kick_committed, wh);
	}
	return 0;
}

void
webhook_emit(struct webhook *wh, const struct verif *v, const char *type)
{
	const struct conf_key *k;
	const struct verif_send *s = v->nsend > 0 ? &v->send[v->nsend - 1] :
	    NULL;
	json_t *data;

	if (wh == NULL || (k = key_conf(wh, v->key)) == NULL ||
	    k->webhook == NULL)
		return;
	data = json_pack("{s:s, s:s, s:s, s:s, s:i, s:o, s:o}",
	    "id", v->id, "phone", v->phone,
	    "status", verif_strstatus(v->status),
	    "send_state", send_strstate(v->send_state),
	    "attempt", v->attempt,
	    "created_at", rfc3339(v->created_at),
	    "expires_at", rfc3339(v->expires_at));
	if (data != NULL && s != NULL) {
		json_t *a = json_pack("{s:s, s:s, s:s}", "smsc", s->smsc,
		    "message_id", s->message_id, "delivery",
		    dlr_strstate(s->dlr));
		if (a != NULL && s->error >= 0)
			json_object_set_new(a, "error", json_integer(s->error));
		json_object_set_new(data, "last_attempt", a);
	}
	if (data != NULL && v->fail_reason[0] != '\0')
		json_object_set_new(data, "reason", json_string(v->fail_reason));
	if (data == NULL) {
		log_err("webhook.encode_failed", "id=%s type=%s", v->id, type);
		return;
	}
	stage(wh, v->key, type, data);
	json_decref(data);
}

int
webhook_emit_admin(struct webhook *wh, const char *type, json_t *data)
{
	const struct conf_key *k;
	int n = 0;

	if (wh != NULL && data != NULL)
		for (int i = 0; (k = keys_get(wh->keys, i)) != NULL; i++)
			if (k->role == CONF_ROLE_ADMIN && k->webhook != NULL &&
			    stage(wh, k->name, type, data) == 0)
				n++;
	json_decref(data);
	return n;
}

int
webhook_emit_key(struct webhook *wh, const char *key, const char *type,
    json_t *data)
{
	const struct conf_key *k;
	int n = 0;

	if (key == NULL || key[0] == '\0')
		return webhook_emit_admin(wh, type, data);
	if (wh != NULL && data != NULL && (k = key_conf(wh, key)) != NULL &&
	    k->webhook != NULL && stage(wh, k->name, type, data) == 0)
		n = 1;
	json_decref(data);
	return n;
}

/* ---- delivery ---------------------------------------------------------- */

static int
key_inflight(const struct webhook *wh, const char *key, uint64_t seq,
    int *same)
{
	int n = 0;

	*same = 0;
	for (const struct flight *f = wh->flights; f != NULL; f = f->next) {
		if (f->seq == seq)
			*same = 1;
		if (strcmp(f->key, key) == 0)
			n++;
	}
	return n;
}

static void
flight_remove(struct webhook *wh, struct flight *f)
{
	struct flight **pp;

	for (pp = &wh->flights; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			wh->inflight--;
			return;
		}
	}
}

/* 1 s, 2 s, 4 s ... up to 5 min, each with up to a quarter more at
 * random so receivers coming back are not hit all at once. */
static int64_t
backoff_ms(int tries)
{
	int64_t ms = 1000;
	unsigned r = 0;

	while (tries-- > 1 && ms < WH_BACKOFF_MAX_MS)
		ms *= 2;
	if (ms > WH_BACKOFF_MAX_MS)
		ms = WH_BACKOFF_MAX_MS;
	(void)RAND_bytes((unsigned char *)&r, sizeof(r));
	return ms + (int64_t)(r % (unsigned)(ms / 4 + 1));
}

static void
on_response(struct evhttp_request *req, void *arg)
{
	struct flight *f = arg;
	struct webhook *wh = f->wh;
	int code = req != NULL ? evhttp_request_get_response_code(req) : 0;
	int64_t now = util_now_ms();

	if (wh->closing)
		return;         /* webhook_free() owns f */
	if (code >= 200 && code <= 299) {
		store_outbox_del(wh->store, f->seq);
		wh->stats.delivered++;
		log_info("webhook.delivered", "key=%s event=%" PRIu64
		    " status=%d tries=%d", f->key, f->seq, code, f->tries + 1);
	} else if (now - f->first_ms >= (int64_t)wh->conf->webhook_retry *
	    1000) {
		store_outbox_del(wh->store, f->seq);
		wh->stats.dropped++;
		log_warn("webhook.dropped", "key=%s event=%" PRIu64
		    " status=%d tries=%d msg=\"retried for webhook_retry "
		    "seconds\"", f->key, f->seq, code, f->tries + 1);
	} else {
		int64_t wait = backoff_ms(f->tries + 1);

		store_outbox_retry(wh->store, f->seq, f->tries + 1, now + wait);
		wh->stats.failed++;
		log_warn("webhook.failed", "key=%s event=%" PRIu64
		    " status=%d tries=%d retry_in_ms=%" PRId64, f->key, f->seq,
		    code, f->tries + 1, wait);
	}
	/* The connection cannot be freed from its own callback (and
	 * libevent's free-on-completion misses failed connects): the next
	 * look frees it. */
	flight_remove(wh, f);
	f->next = wh->done;
	wh->done = f;
	/* The removal or retry commits with the next batch; look again
	 * after it. */
	if (!wh->kick_staged) {
		wh->kick_staged = 1;
		store_on_commit(wh->store, kick_committed, wh);
	}
}

static int
same_str(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* The client context: receivers must chain to ca_file, or to the system's
 * CA store when it is NULL.  NULL when ca_file cannot be loaded (logged);
 * the try then backs off and the next one reads the file again, so a
 * file put right is picked up without a restart. */
static SSL_CTX *
tls_context(const char *ca_file)
{
	SSL_CTX *ctx;
	char fb[300], eb[256], es[256];

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return NULL;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (ca_file == NULL) {
		if (SSL_CTX_set_default_verify_paths(ctx) != 1)
			log_warn("webhook.tls", "msg=\"no system CA store\"");
		return ctx;
	}
	if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		ERR_error_string_n(ERR_peek_last_error(), es, sizeof(es));
		ERR_clear_error();
		log_err("webhook.tls", "webhook_ca_file=%s ssl_error=%s "
		    "msg=\"cannot load the CA certificates\"",
		    log_str(fb, sizeof(fb), ca_file),
		    log_str(eb, sizeof(eb), es));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* A bufferevent for the URL's scheme: plain, or TLS checking the
 * certificate against host.  NULL on failure (logged). */
static struct bufferevent *
make_bev(struct webhook *wh, const char *scheme, const char *host)
{
	struct event_base *base = wh->base;
	const char *ca = wh->conf->webhook_ca_file;
	struct in6_addr a6;
	struct in_addr a4;
	SSL *ssl;

	if (strcmp(scheme, "http") == 0)
		return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	/* A reload may have named another CA file: start a new context.
	 * Connections still out hold their own reference to the old one. */
	if (wh->ssl != NULL && !same_str(wh->ssl_ca, ca)) {
		SSL_CTX_free(wh->ssl);
		wh->ssl = NULL;
		free(wh->ssl_ca);
		wh->ssl_ca = NULL;
	}
	if (wh->ssl == NULL) {
		if ((wh->ssl = tls_context(ca)) == NULL)
			return NULL;
		wh->ssl_ca = ca != NULL ? xstrdup(ca) : NULL;
	}
	if ((ssl = SSL_new(wh->ssl)) == NULL)
		return NULL;
	if (inet_pton(AF_INET, host, &a4) == 1 ||
	    inet_pton(AF_INET6, host, &a6) == 1) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
	} else {
		SSL_set_tlsext_host_name(ssl, host);
		SSL_set1_host(ssl, host);
	}
	return bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
}

static void
sign(const char *secret, const char *t, const char *body, size_t len,
    char out[65])
{
	uint8_t mac[32];
	unsigned ml = 0;
	unsigned char *msg;
	size_t tl = strlen(t);

	msg = xmalloc(tl + 1 + len);
	memcpy(msg, t, tl);
	msg[tl] = '.';
	memcpy(msg + tl + 1, body, len);
	HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, tl + 1 + len, mac,
	    &ml);
	free(msg);
	util_hex(mac, sizeof(mac), out);
	out[64] = '\0';
}

/* A try that could not even start (no connection could be made): counted
 * like a failed answer, so it backs off instead of spinning. */
static void
setup_failed(struct webhook *wh, const struct store_event *ev)
{
	int64_t wait = backoff_ms(ev->tries + 1);

	store_outbox_retry(wh->store, ev->seq, ev->tries + 1,
	    util_now_ms() + wait);
	wh->stats.failed++;
	log_warn("webhook.failed", "key=%s event=%" PRIu64 " status=0 "
	    "tries=%d retry_in_ms=%" PRId64 " msg=\"no connection\"", ev->key,
	    ev->seq, ev->tries + 1, wait);
}

/* POST one event.  Consumes ev->body. */
static void
deliver(struct webhook *wh, struct store_event *ev,
    const struct conf_key *k)
{
	struct evhttp_uri *uri = evhttp_uri_parse(k->webhook);
	const char *scheme, *host, *path, *query;
	struct bufferevent *bev = NULL;
	struct evhttp_request *req;
	struct evkeyvalq *h;
	struct flight *f;
	char target[2048], tbuf[24], seqbuf[24], sig[65], hdr[128];
	char hostbuf[300];
	int port;

	scheme = uri ? evhttp_uri_get_scheme(uri) : NULL;
	host = uri ? evhttp_uri_get_host(uri) : NULL;
	if (scheme == NULL || host == NULL || (strcmp(scheme, "http") != 0 &&
	    strcmp(scheme, "https") != 0)) {
		/* No try can ever succeed: drop it rather than retry. */
		store_outbox_del(wh->store, ev->seq);
		wh->stats.dropped++;
		log_err("webhook.dropped", "key=%s event=%" PRIu64 " msg=\"the "
		    "webhook URL cannot be used: fix it in [key %s]\"", ev->key,
		    ev->seq, ev->key);
		goto out;
	}
	port = evhttp_uri_get_port(uri);
	if (port < 0)
		port = strcmp(scheme, "https") == 0 ? 443 : 80;
	path = evhttp_uri_get_path(uri);
	query = evhttp_uri_get_query(uri);
	snprintf(target, sizeof(target), "%s%s%s", path && *path ? path : "/",
	    query ? "?" : "", query ? query : "");
	if (wh->dns == NULL)
		wh->dns = evdns_base_new(wh->base,
		    EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if ((bev = make_bev(wh, scheme, host)) == NULL) {
		setup_failed(wh, ev);
		goto out;
	}
	f = xcalloc(1, sizeof(*f));
	f->wh = wh;
	f->seq = ev->seq;
	f->tries = ev->tries;
	f->first_ms = ev->first_ms;
	util_strlcpy(f->key, ev->key, sizeof(f->key));
	f->evcon = evhttp_connection_base_bufferevent_new(wh->base,
	    wh->dns, bev, host, (unsigned short)port);
	if (f->evcon == NULL) {
		free(f);
		setup_failed(wh, ev);
		goto out;
	}
	bev = NULL;     /* the connection owns it */
	evhttp_connection_set_timeout(f->evcon, WH_TIMEOUT);
	evhttp_connection_set_retries(f->evcon, 0);
	req = evhttp_request_new(on_response, f);
	h = evhttp_request_get_output_headers(req);
	snprintf(tbuf, sizeof(tbuf), "%lld", (long long)util_now());
	snprintf(seqbuf, sizeof(seqbuf), "%" PRIu64, ev->seq);
	sign(k->webhook_secret, tbuf, ev->body, ev->body_len, sig);
	snprintf(hdr, sizeof(hdr), "t=%s,v1=%s", tbuf, sig);
	/* Host as RFC 9110 wants it: the port when not the scheme's, an
	 * IPv6 literal in brackets. */
	snprintf(hostbuf, sizeof(hostbuf), "%s%s%s", strchr(host, ':') ?
	    "[" : "", host, strchr(host, ':') ? "]" : "");
	if (evhttp_uri_get_port(uri) >= 0 && port != (strcmp(scheme,
	    "https") == 0 ? 443 : 80))
		snprintf(hostbuf + strlen(hostbuf), sizeof(hostbuf) -
		    strlen(hostbuf), ":%d", port);
	evhttp_add_header(h, "Host", hostbuf);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "User-Agent", "smsverify/" PACKAGE_VERSION);
	evhttp_add_header(h, "Smsverify-Event", seqbuf);
	evhttp_add_header(h, "Smsverify-Signature", hdr);
	evhttp_add_header(h, "Connection", "close");
	evbuffer_add(evhttp_request_get_output_buffer(req), ev->body,
	    ev->body_len);
	f->next = wh->flights;
	wh->flights = f;
	wh->inflight++;
	if (evhttp_make_request(f->evcon, req, EVHTTP_REQ_POST, target) != 0) {
		/* libevent freed the request; the callback will not come. */
		flight_remove(wh, f);
		evhttp_connection_free(f->evcon);
		free(f);
		setup_failed(wh, ev);
	}
out:
	if (bev != NULL)
		bufferevent_free(bev);
	if (uri != NULL)
		evhttp_uri_free(uri);
}

static void
on_event(void *arg, struct store_event *ev)
{
	struct webhook *wh = arg;
	const struct conf_key *k = key_conf(wh, ev->key);
	int same;

	wh->scan_from = ev->seq + 1;
	if (k == NULL || k->webhook == NULL) {
		/* The key, or its webhook, is gone from the configuration. */
		store_outbox_del(wh->store, ev->seq);
		wh->stats.dropped++;
		log_warn("webhook.dropped", "key=%s event=%" PRIu64
		    " msg=\"the key has no webhook any more\"", ev->key,
		    ev->seq);
	} else if (ev->due_ms <= util_now_ms() && wh->inflight < WH_INFLIGHT &&
	    key_inflight(wh, ev->key, ev->seq, &same) < WH_PER_KEY && !same) {
		deliver(wh, ev, k);
	}
	free(ev->body);
}

static void
free_done(struct webhook *wh)
{
	struct flight *f;

	while ((f = wh->done) != NULL) {
		wh->done = f->next;
		evhttp_connection_free(f->evcon);
		free(f);
	}
}

static void
look(struct webhook *wh)
{
	int n;

	free_done(wh);
	if (wh->inflight >= WH_INFLIGHT || wh->store == NULL)
		return;
	n = store_outbox_scan(wh->store, wh->scan_from, WH_SCAN, on_event,
	    wh);
	if (n < WH_SCAN)
		wh->scan_from = 0;      /* at the end: start over next time */
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	look(arg);
}

/* After a commit that staged events: look at those first, from the
 * first of them on, so new events do not wait behind a dead receiver's
 * backlog at the head of the outbox (the timer's round goes over that).
 * The first kick of the process looks from the start. */
static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct webhook *wh = arg;
	uint64_t from = wh->kick_from, round = wh->scan_from;

	wh->kick_from = 0;
	free_done(wh);
	if (wh->inflight >= WH_INFLIGHT || wh->store == NULL)
		return;
	store_outbox_scan(wh->store, from, WH_SCAN, on_event, wh);
	wh->scan_from = round;  /* the timer's round goes on where it was */
}

struct webhook *
webhook_new(struct event_base *base, struct store *store,
    const struct keys *keys, const struct conf *conf)
{
	struct webhook *wh = xcalloc(1, sizeof(*wh));
	struct timeval tv = { WH_TICK_MS / 1000, (WH_TICK_MS % 1000) * 1000 };

	wh->base = base;
	wh->store = store;
	wh->keys = keys;
	wh->conf = conf;
	wh->timer = event_new(base, -1, EV_PERSIST, on_timer, wh);
	wh->kick_ev = event_new(base, -1, 0, on_kick, wh);
	if (wh->timer == NULL || wh->kick_ev == NULL) {
		webhook_free(wh);
		return NULL;
	}
	event_add(wh->timer, &tv);
	event_active(wh->kick_ev, 0, 0);
	return wh;
}

void
webhook_reconf(struct webhook *wh, const struct conf *conf)
{
	wh->conf = conf;
}

void
webhook_free(struct webhook *wh)
{
	struct flight *f;

	if (wh == NULL)
		return;
	/* Connections still out are freed with their requests; what they
	 * carried stays in the outbox for the next start. */
	wh->closing = 1;
	while ((f = wh->flights) != NULL) {
		wh->flights = f->next;
		evhttp_connection_free(f->evcon);
		free(f);
	}
	free_done(wh);
	if (wh->timer != NULL)
		event_free(wh->timer);
	if (wh->kick_ev != NULL)
		event_free(wh->kick_ev);
	if (wh->dns != NULL)
		evdns_base_free(wh->dns, 0);
	SSL_CTX_free(wh->ssl);
	free(wh->ssl_ca);
	free(wh);
}

void
webhook_stats(const struct webhook *wh, struct webhook_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (wh == NULL)
		return;
	*out = wh->stats;
	out->inflight = wh->inflight;
}
