/*
 * carrier.c - one configured SMSC and its binds.
 *
 * A carrier owns `sessions` SMPP sessions to its SMSC (transceivers, or
 * transmitters plus one receiver bind for delivery receipts) and spreads
 * submits over the bound ones with window room, round robin.  It forwards
 * the sessions' events to its owner (the dispatcher and dlr.c) and knows
 * nothing of verifications.  Policy over many carriers (which one a number
 * goes to) lives in route.c and dispatch.c, as OpenSMTPD keeps mta.c apart
 * from mta_session.c.
 *
 * Pace: `throughput` caps submits per second across the carrier's binds
 * with a token bucket on the loop (a burst of at most one second's worth,
 * no sleeps).  ESME_RTHROTTLED or ESME_RMSGQFUL pauses the whole carrier,
 * one second at first and doubling to eight while the SMSC keeps saying
 * so; its messages wait in the dispatcher's queue meanwhile.  When the
 * bucket refills or the pause ends the carrier reports `ready`.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "carrier.h"
#include "conf.h"
#include "log.h"
#include "util.h"

#define CARRIER_STATUSES 16

struct carrier {
	struct event_base *base;
	char *name, *host, *system_id, *password, *system_type;
	char *tls_ca_file, *tls_server_name;
	int port;
	struct conf_smsc cfg;           /* scalars; strings above */
	int index;
	struct smpp_session **sess;
	int nsess;                      /* submitting sessions first */
	int nsubmit;                    /* how many of them submit */
	int next;                       /* round-robin position */
	struct carrier_callbacks cb;
	void *arg;
	int stopping, nstopped;
	double tokens;                  /* throughput bucket */
	int64_t refill_ms;
	int64_t paused_until_ms;        /* after ESME_RTHROTTLED / RMSGQFUL */
	int pause_ms;                   /* current pause, doubles */
	struct event *wake_ev;          /* bucket refilled or pause over */
	uint64_t throttled;
	/* submit_sm_resp command_status counts (the first few distinct ones;
	 * the rest add up under "other") and receipts by message state. */
	struct { uint32_t status; uint64_t n; } resp[CARRIER_STATUSES];
	int nresp;
	uint64_t resp_other;
	uint64_t receipts[SMPP_MSG_REJECTED + 1];
	uint64_t inbound;	/* inbound messages (deliver_sm, not receipts) */
	void (*stop_done)(void *);
	void *stop_arg;
};

#define PAUSE_MIN_MS 1000
#define PAUSE_MAX_MS 8000

static void
carrier_wake(evutil_socket_t fd, short what, void *arg)
{
	struct carrier *c = arg;

	if (!c->stopping && c->cb.ready != NULL)
		c->cb.ready(c->arg, c);
}

static void
carrier_wake_in(struct carrier *c, int64_t ms)
{
	struct timeval tv;

	if (ms < 1)
		ms = 1;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (!evtimer_pending(c->wake_ev, NULL))
		evtimer_add(c->wake_ev, &tv);
}

/* Submits the pace allows now (INT32_MAX without a cap); arms the wake
 * timer when it allows none. */
static int
carrier_pace(struct carrier *c)
{
	int64_t now = util_mono_ms();
	double cap;

	if (now < c->paused_until_ms) {
		carrier_wake_in(c, c->paused_until_ms - now);
		return 0;
	}
	if (c->cfg.throughput <= 0)
		return INT32_MAX;
	cap = c->cfg.throughput;
	c->tokens += (double)(now - c->refill_ms) * c->cfg.throughput / 1000.0;
	if (c->tokens > cap)
		c->tokens = cap;
	c->refill_ms = now;
	if (c->tokens < 1.0) {
		carrier_wake_in(c, (int64_t)((1.0 - c->tokens) * 1000.0 /
		    c->cfg.throughput) + 1);
		return 0;
	}
	return (int)c->tokens;
}

static void
carrier_on_state(void *arg, struct smpp_session *s, enum smpp_state from,
    enum smpp_state to)
{
	struct carrier *c = arg;

	if (to == SMPP_BOUND && !c->stopping && c->cb.ready != NULL)
		c->cb.ready(c->arg, c);
}

static void
carrier_on_submit_done(void *arg, struct smpp_session *s, void *cookie,
    uint32_t status, const char *message_id)
{
	struct carrier *c = arg;
	int i;

	for (i = 0; i < c->nresp && c->resp[i].status != status; i++)
		;
	if (i < c->nresp)
		c->resp[i].n++;
	else if (c->nresp < CARRIER_STATUSES) {
		c->resp[c->nresp].status = status;
		c->resp[c->nresp++].n = 1;
	} else
		c->resp_other++;
	if (status == ESME_RTHROTTLED || status == ESME_RMSGQFUL) {
		c->pause_ms = c->pause_ms ? c->pause_ms * 2 : PAUSE_MIN_MS;
		if (c->pause_ms > PAUSE_MAX_MS)
			c->pause_ms = PAUSE_MAX_MS;
		c->paused_until_ms = util_mono_ms() + c->pause_ms;
		c->throttled++;
		log_warn("carrier.throttled", "smsc=%s status=%s pause_ms=%d",
		    c->name, smpp_strstatus(status), c->pause_ms);
		carrier_wake_in(c, c->pause_ms);
	} else if (status == ESME_ROK) {
		c->pause_ms = 0;
	}
	c->cb.submit_done(c->arg, c, cookie, status, message_id);
	/* A window slot is free again: let waiting messages go. */
	if (!c->stopping && c->cb.ready != NULL)
		c->cb.ready(c->arg, c);
}

static void
carrier_on_receipt(void *arg, struct smpp_session *s,
    const struct smpp_receipt *r, uint64_t ack)
{
	struct carrier *c = arg;

	if ((unsigned)r->state <= SMPP_MSG_REJECTED)
		c->receipts[r->state]++;
	c->cb.receipt(c->arg, c, s, r, ack);
}

static void
carrier_on_mo(void *arg, struct smpp_session *s, const struct smpp_mo *m,
    uint64_t ack)
{
	struct carrier *c = arg;

	c->inbound++;
	if (c->cb.mo == NULL) {
		smpp_session_receipt_ack(s, ack, ESME_ROK);
		return;
	}
	c->cb.mo(c->arg, c, s, m, ack);
}

static void
carrier_on_cancel_done(void *arg, struct smpp_session *s, void *cookie,
    uint32_t status)
{
	struct carrier *c = arg;

	if (c->cb.cancel_done != NULL)
		c->cb.cancel_done(c->arg, c, cookie, status);
	/* The cancel's window slot is free again. */
	if (!c->stopping && c->cb.ready != NULL)
		c->cb.ready(c->arg, c);
}

static const struct smpp_callbacks carrier_smpp_cb = {
	.state = carrier_on_state,
	.submit_done = carrier_on_submit_done,
	.receipt = carrier_on_receipt,
	.mo = carrier_on_mo,
	.cancel_done = carrier_on_cancel_done,
};

struct carrier *
carrier_new(struct event_base *base, const struct conf_smsc *cs, int index,
    const struct carrier_callbacks *cb, void *arg)
{
	struct carrier *c = xcalloc(1, sizeof(*c));
	struct smpp_config sc;
	int extra = cs->bind == CONF_BIND_TRANSMITTER ? 1 : 0;

	c->base = base;
	c->cfg = *cs;
	c->name = xstrdup(cs->name);
	c->host = xstrdup(cs->host);
	c->system_id = xstrdup(cs->system_id);
	c->password = xstrdup(cs->password ? cs->password : "");
	c->system_type = xstrdup(cs->system_type ? cs->system_type : "");
	c->cfg.name = c->name;
	c->cfg.host = c->host;
	c->cfg.system_id = c->system_id;
	c->cfg.password = c->password;
	c->cfg.system_type = c->system_type;
	c->port = cs->port;
	c->index = index;
	c->cb = *cb;
	c->arg = arg;
	c->nsubmit = cs->sessions;
	c->nsess = cs->sessions + extra;
	c->sess = xcalloc(c->nsess, sizeof(*c->sess));
	c->tls_ca_file = cs->tls_ca_file ? xstrdup(cs->tls_ca_file) : NULL;
	c->tls_server_name = cs->tls_server_name ?
	    xstrdup(cs->tls_server_name) : NULL;
	c->cfg.tls_ca_file = c->tls_ca_file;
	c->cfg.tls_server_name = c->tls_server_name;
	c->wake_ev = evtimer_new(base, carrier_wake, c);
	c->tokens = cs->throughput > 0 ? 1.0 : 0.0;
	c->refill_ms = util_mono_ms();

	memset(&sc, 0, sizeof(sc));
	sc.name = c->name;
	sc.host = c->host;
	sc.port = cs->port;
	sc.system_id = c->system_id;
	sc.password = c->password;
	sc.system_type = c->system_type;
	sc.window = cs->window;
	sc.enquire_link = cs->enquire_link;
	sc.response_timeout = cs->response_timeout;
	sc.reconnect_min_ms = cs->reconnect_min_ms;
	sc.reconnect_max_ms = cs->reconnect_max_ms;
	sc.tls = cs->tls;
	sc.tls_ca_file = c->tls_ca_file;
	sc.tls_server_name = c->tls_server_name;
	for (int i = 0; i < c->nsess; i++) {
		if (i < c->nsubmit)
			sc.bind_type = cs->bind == CONF_BIND_TRANSMITTER ?
			    SMPP_BIND_TRANSMITTER : SMPP_BIND_TRANSCEIVER;
		else
			sc.bind_type = SMPP_BIND_RECEIVER;
		c->sess[i] = smpp_session_new(base, &sc, &carrier_smpp_cb, c);
		if (c->sess[i] == NULL) {
			log_err("carrier.error", "smsc=%s msg=\"session "
			    "refused its configuration\"", c->name);
			carrier_free(c);
			return NULL;
		}
	}
	return c;
}

void
carrier_start(struct carrier *c)
{
	log_info("carrier.start", "smsc=%s host=%s port=%d sessions=%d",
	    c->name, c->host, c->port, c->nsess);
	for (int i = 0; i < c->nsess; i++)
		smpp_session_start(c->sess[i]);
}

int
carrier_submit(struct carrier *c, const struct smpp_message *m,
    void *cookie)
{
	if (c->stopping || carrier_pace(c) <= 0)
		return -1;
	for (int k = 0; k < c->nsubmit; k++) {
		int i = (c->next + k) % c->nsubmit;
		if (smpp_session_window_free(c->sess[i]) <= 0)
			continue;
		if (smpp_session_submit(c->sess[i], m, cookie) == 0) {
			c->next = (i + 1) % c->nsubmit;
			if (c->cfg.throughput > 0)
				c->tokens -= 1.0;
			return 0;
		}
	}
	return -1;
}

int
carrier_cancel(struct carrier *c, const struct smpp_cancel *m, void *cookie)
{
	if (c->stopping)
		return -1;
	for (int k = 0; k < c->nsubmit; k++) {
		int i = (c->next + k) % c->nsubmit;
		if (smpp_session_cancel(c->sess[i], m, cookie) == 0)
			return 0;
	}
	return -1;
}

int
carrier_cancels(const struct carrier *c)
{
	return c->cfg.cancel;
}

int
carrier_up(const struct carrier *c)
{
	if (c->stopping)
		return 0;
	for (int i = 0; i < c->nsubmit; i++)
		if (smpp_session_state(c->sess[i]) == SMPP_BOUND)
			return 1;
	return 0;
}

int
carrier_room(struct carrier *c)
{
	int room = 0, pace;

	if (c->stopping)
		return 0;
	for (int i = 0; i < c->nsubmit; i++)
		room += smpp_session_window_free(c->sess[i]);
	if (room > 0 && (pace = carrier_pace((struct carrier *)c)) < room)
		room = pace;
	return room;
}

const char *
carrier_name(const struct carrier *c)
{
	return c->name;
}

int
carrier_index(const struct carrier *c)
{
	return c->index;
}

void
carrier_set_index(struct carrier *c, int index)
{
	c->index = index;
}

int
carrier_latin1(const struct carrier *c)
{
	return c->cfg.latin1_default;
}

void
carrier_source_addr(const struct carrier *c, int alpha, uint8_t *ton,
    uint8_t *npi)
{
	*ton = c->cfg.source_ton >= 0 ? (uint8_t)c->cfg.source_ton :
	    (alpha ? 5 : 1);
	*npi = c->cfg.source_npi >= 0 ? (uint8_t)c->cfg.source_npi :
	    (alpha ? 0 : 1);
}

int
carrier_long_payload(const struct carrier *c)
{
	return c->cfg.long_payload;
}

int
carrier_msgid_mode(const struct carrier *c)
{
	return c->cfg.msgid_mode;
}

static int
streq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

int
carrier_same(const struct carrier *c, const struct conf_smsc *cs)
{
	const struct conf_smsc *o = &c->cfg;

	return streq(o->name, cs->name) && streq(o->host, cs->host) &&
	    o->port == cs->port && streq(o->system_id, cs->system_id) &&
	    streq(o->password, cs->password) &&
	    streq(o->system_type, cs->system_type) && o->bind == cs->bind &&
	    o->sessions == cs->sessions && o->window == cs->window &&
	    o->throughput == cs->throughput &&
	    o->enquire_link == cs->enquire_link &&
	    o->response_timeout == cs->response_timeout &&
	    o->reconnect_min_ms == cs->reconnect_min_ms &&
	    o->reconnect_max_ms == cs->reconnect_max_ms &&
	    o->latin1_default == cs->latin1_default &&
	    o->msgid_mode == cs->msgid_mode && o->tls == cs->tls &&
	    o->source_ton == cs->source_ton &&
	    o->long_payload == cs->long_payload &&
	    o->source_npi == cs->source_npi && o->cancel == cs->cancel &&
	    streq(o->tls_ca_file, cs->tls_ca_file) &&
	    streq(o->tls_server_name, cs->tls_server_name);
}

void
carrier_receipt_ack(struct smpp_session *s, uint64_t ack, uint32_t status)
{
	smpp_session_receipt_ack(s, ack, status);
}

static void
carrier_session_stopped(void *arg)
{
	struct carrier *c = arg;

	if (++c->nstopped == c->nsess && c->stop_done != NULL)
		c->stop_done(c->stop_arg);
}

void
carrier_stop(struct carrier *c, void (*done)(void *), void *arg)
{
	c->stopping = 1;
	c->nstopped = 0;
	c->stop_done = done;
	c->stop_arg = arg;
	for (int i = 0; i < c->nsess; i++)
		smpp_session_stop(c->sess[i], carrier_session_stopped, c);
}

void
carrier_free(struct carrier *c)
{
	if (c == NULL)
		return;
	/* The cookies coming back below must not make the owner submit to,
	 * or be told of room on, a carrier half freed. */
	c->stopping = 1;
	for (int i = 0; i < c->nsess; i++)
		if (c->sess[i] != NULL)
			smpp_session_free(c->sess[i]);
	free(c->sess);
	if (c->wake_ev != NULL)
		event_free(c->wake_ev);
	free(c->tls_ca_file);
	free(c->tls_server_name);
	free(c->name);
	free(c->host);
	free(c->system_id);
	free(c->password);
	free(c->system_type);
	free(c);
}

void
carrier_stats(const struct carrier *c, struct smpp_session_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < c->nsess; i++) {
		struct smpp_session_stats s;
		smpp_session_stats(c->sess[i], &s);
		out->submits += s.submits;
		out->submit_ok += s.submit_ok;
		out->submit_err += s.submit_err;
		out->timeouts += s.timeouts;
		out->receipts += s.receipts;
		out->reconnects += s.reconnects;
		out->binds_failed += s.binds_failed;
		out->read_pauses += s.read_pauses;
		out->hostile += s.hostile;
		out->window_used += s.window_used;
		out->cancels += s.cancels;
		out->cancel_ok += s.cancel_ok;
		out->cancel_err += s.cancel_err;
		out->cancel_timeouts += s.cancel_timeouts;
	}
}

/* message_state values (SMPP 3.4 §5.2.28) by name, as in /v1/smscs and
 * /metrics. */
static const char *const receipt_states[] = {
	"unknown_state", "enroute", "delivered", "expired", "deleted",
	"undeliverable", "accepted", "unknown", "rejected",
};

int
carrier_receipts(const struct carrier *c, int state, const char **name,
    uint64_t *n)
{
	if (state < 0 || state > SMPP_MSG_REJECTED)
		return -1;
	*name = receipt_states[state];
	*n = c->receipts[state];
	return 0;
}

json_t *
carrier_json(const struct carrier *c)
{
	json_t *binds = json_array();
	struct smpp_session_stats t;

	for (int i = 0; i < c->nsess; i++) {
		struct smpp_session_stats s;
		smpp_session_stats(c->sess[i], &s);
		json_array_append_new(binds, json_pack(
		    "{s:i, s:s, s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, "
		    "s:I, s:I}",
		    "session", i,
		    "bind", i < c->nsubmit ? (c->cfg.bind ==
		    CONF_BIND_TRANSMITTER ? "transmitter" : "transceiver") :
		    "receiver",
		    "state", smpp_strstate(smpp_session_state(c->sess[i])),
		    "window_used", s.window_used,
		    "window", c->cfg.window,
		    "submits", (json_int_t)s.submits,
		    "submit_ok", (json_int_t)s.submit_ok,
		    "submit_errors", (json_int_t)s.submit_err,
		    "timeouts", (json_int_t)s.timeouts,
		    "receipts", (json_int_t)s.receipts,
		    "reconnects", (json_int_t)s.reconnects,
		    "read_pauses", (json_int_t)s.read_pauses,
		    "hostile_drops", (json_int_t)s.hostile));
	}
	json_t *resp = json_object(), *rcpt = json_object();
	for (int i = 0; i < c->nresp; i++)
		json_object_set_new(resp, smpp_strstatus(c->resp[i].status),
		    json_integer((json_int_t)c->resp[i].n));
	if (c->resp_other > 0)
		json_object_set_new(resp, "other",
		    json_integer((json_int_t)c->resp_other));
	for (int i = 0; i <= SMPP_MSG_REJECTED; i++)
		if (c->receipts[i] > 0)
			json_object_set_new(rcpt, receipt_states[i],
			    json_integer((json_int_t)c->receipts[i]));
	carrier_stats(c, &t);
	return json_pack("{s:s, s:s, s:i, s:b, s:i, s:I, s:o, s:o, s:o, s:I, "
	    "s:I, s:I, s:I, s:b, s:{s:I, s:I, s:I, s:I}}",
	    "name", c->name, "host", c->host, "port", c->port,
	    "up", carrier_up(c), "throughput", c->cfg.throughput,
	    "throttled", (json_int_t)c->throttled, "binds", binds,
	    "responses", resp, "receipts_by_state", rcpt,
	    "submits", (json_int_t)t.submits,
	    "submit_ok", (json_int_t)t.submit_ok,
	    "receipts", (json_int_t)t.receipts,
	    "inbound", (json_int_t)c->inbound,
	    "cancel", c->cfg.cancel,
	    "cancels", "sent", (json_int_t)t.cancels,
	    "ok", (json_int_t)t.cancel_ok,
	    "failed", (json_int_t)t.cancel_err,
	    "timeouts", (json_int_t)t.cancel_timeouts);
}
