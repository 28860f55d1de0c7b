/*
 * smpp_session.c - one SMPP 3.4 bind to one SMSC on a libevent loop.
 *
 * A session connects (numeric address, or "localhost"), binds, keeps the
 * link alive with enquire_link, sends submit_sm (and cancel_sm, at most
 * SMPP_CANCELS_MAX of them at a time) within a window of outstanding
 * requests, answers what the SMSC sends (deliver_sm receipts
 * and MO, enquire_link, unbind), and on any failure closes the socket,
 * hands every outstanding cookie back with SMPP_STATUS_NOT_SENT and
 * reconnects after a jittered exponential backoff.  smpp_session_stop()
 * drains the window, unbinds and stops for good.
 *
 * The life of a session is the state machine of enum smpp_state in
 * smpp.h; every change goes through enter_state(), which logs
 * "event=smpp.state smsc=NAME from=x to=y" and tells the owner, and every
 * handler checks the state first.
 *
 *   IDLE -start-> CONNECTING -connected-> BINDING -bind_resp 0-> BOUND
 *   CONNECTING/BINDING/BOUND -error, timeout, close-> BACKOFF -timer->
 *   CONNECTING;  BOUND -their unbind, or our stop-> UNBINDING -> BACKOFF
 *   (theirs) or STOPPED (ours).
 *
 * Ownership: the session owns its bufferevent, timers, window and copies
 * of the config strings; the owner owns the cookies.  Responses are matched
 * by the sequence number of our own header decode (smpp_pdu.c), whatever
 * libsmpp34 thinks of the body.  Receipts and inbound messages (every
 * other deliver_sm) are handed to the owner with an
 * `ack` token; the deliver_sm_resp goes out only when the owner acks
 * (persist, then acknowledge).  The owner's callbacks may call back into
 * the session; smpp_session_free() from inside one only marks the session
 * dead, and the outermost handler of the session frees it on the way out.
 * Passwords and message text are never logged.
 *
 * TLS (cfg.tls): the session owns one SSL_CTX (peer verification on, the
 * configured CA file or the system store) and makes one SSL per connection,
 * checked against tls_server_name (an IP address is checked as one).  The
 * handshake is part of CONNECTING: BEV_EVENT_CONNECTED comes from the
 * openssl bufferevent once it is done, and a failure is logged as
 * event=smpp.tls_failed with OpenSSL's verify error and treated like a
 * failed connect (BACKOFF).  CONNECTING is bounded by response_timeout, so
 * a peer that accepts TCP but never finishes a handshake cannot hang us.
 *
 * Hostile peers.  Whatever is on the other end of the socket must not be
 * able to take the daemon down by memory, time or log volume:
 *  - Memory: what we queue to the SMSC is capped.  Past s->out_high octets
 *    (SMPP_OUT_HIGH plus room for a full window of our largest submits) we
 *    stop reading from it, so its requests stop making answers, until the
 *    output drains to a quarter of that; if it has not drained within
 *    response_timeout the bind is dropped as hostile (an SMSC that floods
 *    enquire_link and never reads grew us from 28 to 216 MB in 4 s).  The
 *    input is capped by the read high-watermark (SMPP_IN_HIGH, room for
 *    the largest PDU smpp_pdu_frame() accepts, SMPP_MAX_PDU) and by not
 *    reading while paused.
 *  - Time: error answers (generic_nack for an unknown command_id, a
 *    deliver_sm in the wrong state) are allowed SMPP_NACK_RATE a second;
 *    past that the bind is dropped as hostile.  Every drop goes through
 *    the reconnect backoff, which grows unless a bind stayed up
 *    SMPP_STABLE_BIND_MS (smpp_backoff.c).
 *  - Log volume: each per-PDU line (a generic_nack or a response we did
 *    not ask for, an unparseable deliver_sm, ...) goes through its own
 *    log_limit: one line per SMPP_LOG_INTERVAL_MS per session and event,
 *    with suppressed=N for the ones held back.  A hostile drop is logged
 *    once, as event=smpp.hostile.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include <openssl/ssl.h>

#include "log.h"
#include "smpp.h"
/* smpp_pdu.h's command_id macros hide the enum smpp_bind_type names. */
enum { BT_TRX = SMPP_BIND_TRANSCEIVER, BT_TX = SMPP_BIND_TRANSMITTER,
	BT_RX = SMPP_BIND_RECEIVER };
#include "smpp_pdu.h"
#include "smpp_tls.h"
#include "smpp_window.h"
#include "util.h"

#define SMPP_SUBMIT_SM_RESP   (SMPP_SUBMIT_SM | SMPP_RESP)
#define SMPP_DELIVER_SM_RESP  (SMPP_DELIVER_SM | SMPP_RESP)
#define SMPP_DATA_SM_RESP     (SMPP_DATA_SM | SMPP_RESP)
#define SMPP_UNBIND_RESP      (SMPP_UNBIND | SMPP_RESP)
#define SMPP_ENQUIRE_LINK_RESP (SMPP_ENQUIRE_LINK | SMPP_RESP)
#define SMPP_CANCEL_SM_RESP   (SMPP_CANCEL_SM | SMPP_RESP)

#define ACK_DATA_SM (UINT64_C(1) << 63)

/* Output cap: stop reading from the SMSC once this much (plus a full
 * window of our largest submits, which the window bounds anyway) waits to
 * be written to it; read again once a quarter of the cap is left. */
#define SMPP_OUT_HIGH (256 * 1024)
/* The largest submit_sm we pack (smpp_session_submit's buffer). */
#define SMPP_SUBMIT_MAX (512 + SMPP_MAX_PAYLOAD)
/* Input cap: libevent reads no more from the socket while this much is
 * buffered unparsed; two of the largest PDUs we accept. */
#define SMPP_IN_HIGH (2 * SMPP_MAX_PDU)
/* Error answers (generic_nack, deliver_sm_resp ESME_RINVBNDSTS) allowed
 * per second before the bind is dropped as hostile. */
#define SMPP_NACK_RATE 100
/* One line per this many milliseconds per session and per-PDU event. */
#define SMPP_LOG_INTERVAL_MS 1000

/* Log a per-PDU event through the session's limiter lim: at most one line
 * per SMPP_LOG_INTERVAL_MS, with suppressed=N for the ones held back. */
#define log_session(s, lim, level, ev, fmt, ...)	\
	log_limited(&(s)->lim, util_mono_ms(), SMPP_LOG_INTERVAL_MS,	\
	    level, ev, fmt, __VA_ARGS__)

struct smpp_session {
	struct event_base *base;
	struct smpp_config cfg;		/* strings point to our copies */
	struct smpp_callbacks cb;
	void *arg;
	enum smpp_state state;

	struct bufferevent *bev;
	SSL_CTX *ssl_ctx;		/* NULL unless cfg.tls */
	uint32_t gen;			/* connection generation, for acks */
	struct smpp_window *win;
	uint32_t bind_seq, unbind_seq;
	uint32_t el_seq;		/* our enquire_link awaiting its resp */
	int64_t el_deadline, last_rx;
	int64_t bound_at;		/* mono ms of the bind_resp, 0: not bound */
	int flushing;			/* closing once the output is written */
	int paused;			/* not reading: output over out_high */
	size_t out_high;		/* the output cap, octets */
	int64_t nack_second;		/* start of the second nacks count in */
	int nacks;			/* error answers in it */

	struct event *op_timer;		/* bind_resp, drain, unbind_resp, flush */
	struct event *resp_timer;	/* earliest submit deadline */
	struct event *link_timer;	/* enquire_link idle and its resp */
	struct event *backoff_timer;
	struct event *stall_timer;	/* paused too long: drop */
	struct event *done_ev;		/* calls done after STOPPED */
	int backoff_ms;

	int stopping;
	void (*done)(void *);
	void *done_arg;

	int depth;			/* handlers of ours on the stack */
	int dead;			/* freed from inside a callback */
	uint8_t *rbuf;			/* SMPP_MAX_PDU + 1 */
	struct smpp_session_stats st;
	/* Outstanding cancel_sm: the window holds a pointer to its slot as
	 * the request's cookie, which is how a cookie coming back out of the
	 * window is told from a submit's (cancel_slot_of()). */
	struct cancel_slot {
		int used;
		void *cookie;		/* the owner's */
	} cslot[SMPP_CANCELS_MAX];
	int ncancel;			/* slots used */
	/* One limiter per per-PDU log event (log_session). */
	struct log_limit lim_unexpected, lim_bad_resp, lim_refused, lim_nack,
	    lim_unknown, lim_bad_deliver, lim_mo, lim_bad_receipt,
	    lim_bad_state, lim_timeout, lim_stale_ack, lim_paused;
};

static void session_drop(struct smpp_session *, const char *reason,
    int auth_failed);
static void session_destroy(struct smpp_session *);
static void read_pdus(struct smpp_session *);

static void
arm_ms(struct event *ev, int64_t ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

static const char *
name(const struct smpp_session *s)
{
	return s->cfg.name;
}

const char *
smpp_strstate(enum smpp_state st)
{
	switch (st) {
	case SMPP_IDLE: return "idle";
	case SMPP_CONNECTING: return "connecting";
	case SMPP_BINDING: return "binding";
	case SMPP_BOUND: return "bound";
	case SMPP_UNBINDING: return "unbinding";
	case SMPP_BACKOFF: return "backoff";
	case SMPP_STOPPED: return "stopped";
	}
	return "unknown";
}

static void
enter_state(struct smpp_session *s, enum smpp_state to)
{
	enum smpp_state from = s->state;
	char nb[128];

	if (from == to)
		return;
	s->state = to;
	log_info("smpp.state", "smsc=%s from=%s to=%s",
	    log_str(nb, sizeof(nb), name(s)), smpp_strstate(from),
	    smpp_strstate(to));
	if (s->cb.state != NULL)
		s->cb.state(s->arg, s, from, to);
}

/* Entering and leaving a handler of ours; leaving the outermost one frees
 * a session the owner freed from inside a callback. */
static void
enter(struct smpp_session *s)
{
	s->depth++;
}

static int
leave(struct smpp_session *s)
{
	if (--s->depth == 0 && s->dead) {
		session_destroy(s);
		return 1;
	}
	return 0;
}

/*
 * Stop reading from the SMSC: what we queued to it passed the cap, so
 * answering more of its requests would only grow our memory.  on_write
 * reads again once the output is down to a quarter of the cap; the stall
 * timer drops the bind if that takes longer than response_timeout.
 */
static void
pause_reading(struct smpp_session *s)
{
	char nb[128];

	s->paused = 1;
	s->st.read_pauses++;
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_setwatermark(s->bev, EV_WRITE, s->out_high / 4, 0);
	arm_ms(s->stall_timer, (int64_t)s->cfg.response_timeout * 1000);
	log_session(s, lim_paused, LOG_WARN, "smpp.read_paused",
	    "smsc=%s queued=%zu", log_str(nb, sizeof(nb), name(s)),
	    evbuffer_get_length(bufferevent_get_output(s->bev)));
}

/* The output drained: read again, starting with what is buffered. */
static void
resume_reading(struct smpp_session *s)
{
	s->paused = 0;
	evtimer_del(s->stall_timer);
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	bufferevent_enable(s->bev, EV_READ);
	read_pdus(s);
}

static int
send_bytes(struct smpp_session *s, const uint8_t *p, size_t n)
{
	if (s->bev == NULL || s->flushing)
		return -1;
	if (bufferevent_write(s->bev, p, n) < 0)
		return -1;
	if (!s->paused &&
	    evbuffer_get_length(bufferevent_get_output(s->bev)) > s->out_high)
		pause_reading(s);
	return 0;
}

static void
send_header(struct smpp_session *s, uint32_t id, uint32_t status,
    uint32_t seq)
{
	uint8_t h[SMPP_HEADER_LEN];

	smpp_pdu_header_encode(h, id, status, seq);
	send_bytes(s, h, sizeof(h));
}

/* Count an error answer we are about to send for the SMSC's PDU.  Returns
 * 0, or -1 when that is more than SMPP_NACK_RATE this second: the bind has
 * been dropped as hostile (logged once) and nothing must be sent. */
static int
count_nack(struct smpp_session *s)
{
	int64_t now = util_mono_ms();
	char nb[128];

	if (s->nack_second == 0 || now - s->nack_second >= 1000) {
		s->nack_second = now;
		s->nacks = 0;
	}
	if (++s->nacks <= SMPP_NACK_RATE)
		return 0;
	s->st.hostile++;
	log_warn("smpp.hostile", "smsc=%s reason=nack_rate limit=%d",
	    log_str(nb, sizeof(nb), name(s)), SMPP_NACK_RATE);
	session_drop(s, "hostile_nack_rate", 0);
	return -1;
}

static void
send_resp(struct smpp_session *s, uint32_t id, uint32_t status,
    uint32_t seq)
{
	uint8_t b[64];
	int n = smpp_pdu_pack_resp(b, sizeof(b), id, status, seq, "");

	if (n > 0)
		send_bytes(s, b, (size_t)n);
	else
		send_header(s, id, status, seq);
}

/* Hand one cookie back to the owner. */
static void
submit_done(struct smpp_session *s, void *cookie, uint32_t status,
    const char *message_id)
{
	if (status == ESME_ROK)
		s->st.submit_ok++;
	else if (status == SMPP_STATUS_TIMEOUT)
		s->st.timeouts++;
	else
		s->st.submit_err++;
	if (s->cb.submit_done != NULL)
		s->cb.submit_done(s->arg, s, cookie, status, message_id);
}

/* The cancel slot cookie is, or NULL when it is a submit's cookie.
 * (Compared as integers: the owner's cookies point anywhere.) */
static struct cancel_slot *
cancel_slot_of(struct smpp_session *s, void *cookie)
{
	uintptr_t p = (uintptr_t)cookie, lo = (uintptr_t)&s->cslot[0],
	    hi = (uintptr_t)&s->cslot[SMPP_CANCELS_MAX];

	if (p < lo || p >= hi || (p - lo) % sizeof(s->cslot[0]) != 0)
		return NULL;
	return (struct cancel_slot *)cookie;
}

/* A cancel_sm ended: free its slot, count it, tell the owner. */
static void
cancel_done(struct smpp_session *s, struct cancel_slot *cs, uint32_t status)
{
	void *cookie = cs->cookie;

	cs->used = 0;
	cs->cookie = NULL;
	s->ncancel--;
	if (status == ESME_ROK)
		s->st.cancel_ok++;
	else if (status == SMPP_STATUS_TIMEOUT)
		s->st.cancel_timeouts++;
	else
		s->st.cancel_err++;
	if (s->cb.cancel_done != NULL)
		s->cb.cancel_done(s->arg, s, cookie, status);
}

/* A request taken out of the window ended: a submit's or a cancel's. */
static void
req_done(struct smpp_session *s, void *cookie, uint32_t status,
    const char *message_id)
{
	struct cancel_slot *cs = cancel_slot_of(s, cookie);

	if (cs != NULL)
		cancel_done(s, cs, status);
	else
		submit_done(s, cookie, status, message_id);
}

/* Every outstanding cookie back with NOT_SENT. */
static void
return_all(struct smpp_session *s)
{
	uint32_t seq;
	void *cookie;

	while (smpp_window_take_any(s->win, &seq, &cookie))
		req_done(s, cookie, SMPP_STATUS_NOT_SENT, "");
}

static void
close_conn(struct smpp_session *s)
{
	if (s->bev != NULL) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	s->flushing = 0;
	s->paused = 0;
	s->nacks = 0;
	s->nack_second = 0;
	s->el_seq = 0;
	s->bind_seq = s->unbind_seq = 0;
	evtimer_del(s->op_timer);
	evtimer_del(s->resp_timer);
	evtimer_del(s->link_timer);
	evtimer_del(s->stall_timer);
}

static void
finish_stop(struct smpp_session *s)
{
	close_conn(s);
	evtimer_del(s->backoff_timer);
	enter_state(s, SMPP_STOPPED);
	return_all(s);
	/* done runs from the loop, never inside smpp_session_stop(). */
	event_active(s->done_ev, EV_TIMEOUT, 0);
}

/*
 * Close the connection and go to BACKOFF (or STOPPED when stopping), for
 * as long as smpp_backoff_next() says: a credentials failure at least
 * SMPP_AUTH_BACKOFF_MS (a SIGHUP with new credentials makes a new session
 * at once), anything else the current backoff, which doubles up to
 * reconnect_max_ms and starts again from reconnect_min_ms only after a
 * bind that lasted SMPP_STABLE_BIND_MS.  The random draw comes from the
 * secure RNG, never the clock.
 */
static void
session_drop(struct smpp_session *s, const char *reason, int auth_failed)
{
	char nb[128];
	int64_t up_ms = s->bound_at != 0 ? util_mono_ms() - s->bound_at : -1;
	uint32_t r;
	int delay;

	log_event(s->stopping ? LOG_INFO : LOG_WARN, "smpp.drop",
	    "smsc=%s state=%s reason=%s outstanding=%d",
	    log_str(nb, sizeof(nb), name(s)), smpp_strstate(s->state), reason,
	    smpp_window_used(s->win));
	if (s->stopping) {
		s->bound_at = 0;
		finish_stop(s);
		return;
	}
	close_conn(s);
	s->bound_at = 0;
	evutil_secure_rng_get_bytes(&r, sizeof(r));
	delay = smpp_backoff_next(&s->backoff_ms, s->cfg.reconnect_min_ms,
	    s->cfg.reconnect_max_ms, up_ms, auth_failed, r);
	s->st.backoff_ms = delay;
	arm_ms(s->backoff_timer, delay);
	log_info("smpp.backoff", "smsc=%s delay_ms=%d up_ms=%lld",
	    log_str(nb, sizeof(nb), name(s)), delay, (long long)up_ms);
	enter_state(s, SMPP_BACKOFF);
	return_all(s);
}

/* Close once what is queued has been written (unbind_resp, a nack),
 * bounded by response_timeout. */
static void
drop_after_flush(struct smpp_session *s, const char *reason)
{
	if (s->bev == NULL)
		return;
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
		session_drop(s, reason, 0);
		return;
	}
	bufferevent_disable(s->bev, EV_READ);
	/* on_write must fire when the output is empty, not at the pause's
	 * low mark. */
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	evtimer_del(s->stall_timer);
	s->paused = 0;
	s->flushing = 1;
	arm_ms(s->op_timer, (int64_t)s->cfg.response_timeout * 1000);
}

static void
send_unbind(struct smpp_session *s)
{
	s->unbind_seq = smpp_window_next_seq(s->win);
	send_header(s, SMPP_UNBIND, 0, s->unbind_seq);
	enter_state(s, SMPP_UNBINDING);
	arm_ms(s->op_timer, (int64_t)s->cfg.response_timeout * 1000);
}

static void
arm_resp_timer(struct smpp_session *s)
{
	int64_t d;

	if (smpp_window_earliest(s->win, &d) == 0)
		arm_ms(s->resp_timer, d - util_mono_ms());
	else
		evtimer_del(s->resp_timer);
}

static void
arm_link_timer(struct smpp_session *s)
{
	int64_t now = util_mono_ms(), at;

	at = s->last_rx + (int64_t)s->cfg.enquire_link * 1000;
	if (s->el_seq != 0 && s->el_deadline < at)
		at = s->el_deadline;
	arm_ms(s->link_timer, at - now);
}

/*
 * Responses.
 */
static void
on_bind_resp(struct smpp_session *s, const struct smpp_header *h)
{
	char nb[128], sysid[66];
	uint32_t st = h->status;

	if (s->state != SMPP_BINDING || h->seq != s->bind_seq) {
		log_session(s, lim_unexpected, LOG_WARN, "smpp.unexpected",
		    "smsc=%s pdu=bind_resp state=%s",
		    log_str(nb, sizeof(nb), name(s)),
		    smpp_strstate(s->state));
		return;
	}
	evtimer_del(s->op_timer);
	s->st.last_bind_status = st;
	if (st != ESME_ROK) {
		s->st.binds_failed++;
		log_err("smpp.bind_failed", "smsc=%s status=%s",
		    log_str(nb, sizeof(nb), name(s)), smpp_strstatus(st));
		session_drop(s, "bind_refused",
		    st == ESME_RINVPASWD || st == ESME_RINVSYSID);
		return;
	}
	if (smpp_pdu_resp_id(s->rbuf, h, sysid, sizeof(sysid)) < 0)
		sysid[0] = 0;
	s->bind_seq = 0;
	/* The backoff starts again only once this bind has lasted
	 * (smpp_backoff_next): a peer that binds and closes backs off. */
	s->bound_at = util_mono_ms();
	log_info("smpp.bound", "smsc=%s peer=%s",
	    log_str(nb, sizeof(nb), name(s)), sysid[0] ? "set" : "empty");
	enter_state(s, SMPP_BOUND);
	if (s->state == SMPP_BOUND && s->bev != NULL)
		arm_link_timer(s);
}

static void
maybe_unbind_drained(struct smpp_session *s)
{
	if (s->stopping && s->state == SMPP_BOUND &&
	    smpp_window_used(s->win) == 0)
		send_unbind(s);
}

static void
on_submit_resp(struct smpp_session *s, const struct smpp_header *h)
{
	char id[66], nb[128];
	void *cookie;

	if (smpp_window_take(s->win, h->seq, &cookie) < 0) {
		log_session(s, lim_unexpected, LOG_WARN, "smpp.unexpected",
		    "smsc=%s pdu=submit_sm_resp seq=%u note=late_or_unknown",
		    log_str(nb, sizeof(nb), name(s)), h->seq);
		return;
	}
	id[0] = 0;
	if (h->status == ESME_ROK &&
	    smpp_pdu_resp_id(s->rbuf, h, id, sizeof(id)) < 0) {
		log_session(s, lim_bad_resp, LOG_WARN, "smpp.bad_resp",
		    "smsc=%s seq=%u note=unreadable_message_id",
		    log_str(nb, sizeof(nb), name(s)), h->seq);
		id[0] = 0;
	}
	if (h->status != ESME_ROK)
		log_session(s, lim_refused, LOG_INFO, "smpp.submit_refused",
		    "smsc=%s seq=%u status=%s",
		    log_str(nb, sizeof(nb), name(s)), h->seq,
		    smpp_strstatus(h->status));
	if (cancel_slot_of(s, cookie) != NULL) {
		/* A submit_sm_resp for a cancel's sequence number: that
		 * cancel got no answer of its own kind. */
		log_session(s, lim_unexpected, LOG_WARN, "smpp.unexpected",
		    "smsc=%s pdu=submit_sm_resp seq=%u note=answers_a_cancel",
		    log_str(nb, sizeof(nb), name(s)), h->seq);
		req_done(s, cookie, SMPP_STATUS_TIMEOUT, "");
	} else
		submit_done(s, cookie, h->status, id);
	maybe_unbind_drained(s);
}

/* A cancel_sm_resp: its status is the answer, whatever else it holds. */
static void
on_cancel_resp(struct smpp_session *s, const struct smpp_header *h)
{
	char nb[128];
	uint32_t status;
	void *cookie;

	if (smpp_window_take(s->win, h->seq, &cookie) < 0) {
		log_session(s, lim_unexpected, LOG_WARN, "smpp.unexpected",
		    "smsc=%s pdu=cancel_sm_resp seq=%u note=late_or_unknown",
		    log_str(nb, sizeof(nb), name(s)), h->seq);
		return;
	}
	if (smpp_pdu_unpack_cancel_resp(s->rbuf, h, &status) < 0)
		log_session(s, lim_bad_resp, LOG_WARN, "smpp.bad_resp",
		    "smsc=%s seq=%u note=cancel_sm_resp_with_body",
		    log_str(nb, sizeof(nb), name(s)), h->seq);
	if (cancel_slot_of(s, cookie) == NULL) {
		/* A cancel_sm_resp for a submit's sequence number: whether
		 * the SMSC took the message is unknown, as after a timeout. */
		log_session(s, lim_unexpected, LOG_WARN, "smpp.unexpected",
		    "smsc=%s pdu=cancel_sm_resp seq=%u note=answers_a_submit",
		    log_str(nb, sizeof(nb), name(s)), h->seq);
		status = SMPP_STATUS_TIMEOUT;
	}
	req_done(s, cookie, status, "");
	maybe_unbind_drained(s);
}

static void
on_generic_nack(struct smpp_session *s, const struct smpp_header *h)
{
	void *cookie;
	char nb[128];

	log_session(s, lim_nack, LOG_WARN, "smpp.generic_nack",
	    "smsc=%s seq=%u status=%s", log_str(nb, sizeof(nb), name(s)),
	    h->seq, smpp_strstatus(h->status));
	if (h->status == ESME_RINVCMDLEN) {
		session_drop(s, "peer_says_bad_length", 0);
		return;
	}
	if (s->state == SMPP_BINDING && h->seq == s->bind_seq) {
		s->st.binds_failed++;
		s->st.last_bind_status = h->status;
		session_drop(s, "bind_nacked", 0);
		return;
	}
	if (h->seq != 0 && h->seq == s->el_seq) {
		s->el_seq = 0;
		return;
	}
	if (h->seq != 0 && smpp_window_take(s->win, h->seq, &cookie) == 0) {
		req_done(s, cookie,
		    h->status ? h->status : ESME_RUNKNOWNERR, "");
		maybe_unbind_drained(s);
	}
}

/*
 * Requests from the SMSC (smpp_deliver.c reads them as receipts or
 * inbound messages).
 */
static void
on_deliver(struct smpp_session *s, const struct smpp_header *h)
{
	uint32_t resp = h->id | SMPP_RESP;
	struct smpp_receipt r;
	struct smpp_mo mo;
	struct smpp_sm sm;
	uint64_t ack;
	char nb[128];

	if (s->state != SMPP_BOUND && s->state != SMPP_UNBINDING) {
		log_session(s, lim_bad_state, LOG_WARN, "smpp.unexpected",
		    "smsc=%s pdu=0x%08X seq=%u state=%s",
		    log_str(nb, sizeof(nb), name(s)), h->id, h->seq,
		    smpp_strstate(s->state));
		if (count_nack(s) == 0)
			send_resp(s, resp, ESME_RINVBNDSTS, h->seq);
		return;
	}
	if (smpp_pdu_unpack_sm(s->rbuf, h, &sm) < 0) {
		/* Answer OK: an error could make the SMSC retry forever. */
		log_session(s, lim_bad_deliver, LOG_WARN, "smpp.bad_deliver",
		    "smsc=%s seq=%u len=%u note=unparseable_answered_ok",
		    log_str(nb, sizeof(nb), name(s)), h->seq, h->length);
		send_resp(s, resp, ESME_ROK, h->seq);
		return;
	}
	ack = (h->id == SMPP_DATA_SM ? ACK_DATA_SM : 0) |
	    (uint64_t)(s->gen & 0x7FFFFFFFu) << 32 | h->seq;
	if ((sm.esm_class & 0x3C) != 0x04) {
		log_session(s, lim_mo, LOG_INFO, "smpp.mo",
		    "smsc=%s seq=%u len=%zu", log_str(nb, sizeof(nb), name(s)),
		    h->seq, sm.body_len ? sm.body_len : sm.payload_len);
		if (s->cb.mo == NULL) {
			send_resp(s, resp, ESME_ROK, h->seq);
			return;
		}
		smpp_deliver_mo(&sm, &mo);
		s->cb.mo(s->arg, s, &mo, ack);
		return;
	}
	if (smpp_deliver_receipt(&sm, &r) < 0) {
		log_session(s, lim_bad_receipt, LOG_WARN, "smpp.bad_receipt",
		    "smsc=%s seq=%u note=no_message_id_answered_ok",
		    log_str(nb, sizeof(nb), name(s)), h->seq);
		send_resp(s, resp, ESME_ROK, h->seq);
		return;
	}
	s->st.receipts++;
	if (s->cb.receipt == NULL) {
		send_resp(s, resp, ESME_ROK, h->seq);
		return;
	}
	s->cb.receipt(s->arg, s, &r, ack);
}

static void
on_pdu(struct smpp_session *s, const struct smpp_header *h)
{
	char nb[128];

	s->last_rx = util_mono_ms();
	if (h->id == SMPP_GENERIC_NACK) {
		on_generic_nack(s, h);
		return;
	}
	switch (h->id) {
	case SMPP_CMD_BIND_RECEIVER | SMPP_RESP:
	case SMPP_CMD_BIND_TRANSMITTER | SMPP_RESP:
	case SMPP_CMD_BIND_TRANSCEIVER | SMPP_RESP:
		on_bind_resp(s, h);
		return;
	case SMPP_SUBMIT_SM_RESP:
		on_submit_resp(s, h);
		return;
	case SMPP_CANCEL_SM_RESP:
		on_cancel_resp(s, h);
		return;
	case SMPP_ENQUIRE_LINK_RESP:
		if (h->seq == s->el_seq)
			s->el_seq = 0;
		return;
	case SMPP_UNBIND_RESP:
		if (s->state == SMPP_UNBINDING && h->seq == s->unbind_seq)
			session_drop(s, "unbound", 0);
		return;
	case SMPP_ENQUIRE_LINK:
		/* Any state, even with a full window. */
		send_header(s, SMPP_ENQUIRE_LINK_RESP, ESME_ROK, h->seq);
		return;
	case SMPP_UNBIND:
		send_header(s, SMPP_UNBIND_RESP, ESME_ROK, h->seq);
		enter_state(s, SMPP_UNBINDING);
		drop_after_flush(s, "peer_unbind");
		return;
	case SMPP_DELIVER_SM:
	case SMPP_DATA_SM:
		on_deliver(s, h);
		return;
	case SMPP_OUTBIND:
		log_err("smpp.protocol_error", "smsc=%s pdu=outbind", name(s));
		session_drop(s, "outbind", 0);
		return;
	}
	if (h->id & SMPP_RESP) {
		log_session(s, lim_unexpected, LOG_WARN, "smpp.unexpected",
		    "smsc=%s command_id=0x%08X seq=%u",
		    log_str(nb, sizeof(nb), name(s)), h->id, h->seq);
		return;
	}
	log_session(s, lim_unknown, LOG_WARN, "smpp.unknown_command",
	    "smsc=%s command_id=0x%08X seq=%u",
	    log_str(nb, sizeof(nb), name(s)), h->id, h->seq);
	if (count_nack(s) == 0)
		send_header(s, SMPP_GENERIC_NACK, ESME_RINVCMDID, h->seq);
}

/*
 * libevent callbacks.
 */
/* Handle the whole PDUs buffered, until the input runs out, the
 * connection goes or reading pauses.  From a handler of ours only. */
static void
read_pdus(struct smpp_session *s)
{
	struct bufferevent *bev = s->bev;
	struct evbuffer *in;
	struct smpp_header h;
	uint32_t gen = s->gen;

	if (bev == NULL)
		return;
	in = bufferevent_get_input(bev);
	while (!s->dead && s->bev == bev && s->gen == gen && !s->flushing &&
	    !s->paused) {
		enum smpp_frame_result r = smpp_pdu_frame(in, s->rbuf, &h);

		if (r == SMPP_FRAME_MORE)
			break;
		if (r == SMPP_FRAME_BAD_LENGTH) {
			log_err("smpp.bad_length", "smsc=%s length=%u seq=%u",
			    name(s), h.length, h.seq);
			if (h.seq >= 1 && h.seq <= 0x7FFFFFFFu)
				send_header(s, SMPP_GENERIC_NACK,
				    ESME_RINVCMDLEN, h.seq);
			drop_after_flush(s, "bad_length");
			break;
		}
		on_pdu(s, &h);
	}
	if (!s->dead && s->state == SMPP_BOUND && s->bev != NULL &&
	    !s->flushing)
		arm_link_timer(s);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct smpp_session *s = arg;

	enter(s);
	if (s->bev == bev)
		read_pdus(s);
	leave(s);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct smpp_session *s = arg;

	enter(s);
	if (s->bev != bev) {
		leave(s);
		return;
	}
	/* Fires when the output is empty, or (paused) down to the low mark. */
	if (s->flushing) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			session_drop(s, "closed", 0);
	} else if (s->paused && evbuffer_get_length(
	    bufferevent_get_output(bev)) <= s->out_high / 4) {
		resume_reading(s);
	}
	leave(s);
}

static void
send_bind(struct smpp_session *s)
{
	uint8_t b[128];
	int n;

	s->bind_seq = smpp_window_next_seq(s->win);
	n = smpp_pdu_pack_bind(b, sizeof(b), s->cfg.bind_type, s->bind_seq,
	    s->cfg.system_id, s->cfg.password, s->cfg.system_type);
	if (n < 0 || send_bytes(s, b, (size_t)n) < 0) {
		session_drop(s, "bind_pack_failed", 0);
		return;
	}
	enter_state(s, SMPP_BINDING);
	arm_ms(s->op_timer, (int64_t)s->cfg.response_timeout * 1000);
}


static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct smpp_session *s = arg;

	enter(s);
	if (s->bev != bev) {
		leave(s);
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		if (s->state == SMPP_CONNECTING) {
			/* SMPP is request/response in small PDUs: without
			 * TCP_NODELAY a submit written while the previous one
			 * is unacknowledged waits for the SMSC's ACK. */
			evutil_socket_t fd = bufferevent_getfd(bev);
			int one = 1;

			if (fd >= 0)
				(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
				    &one, sizeof(one));
			s->last_rx = util_mono_ms();
			bufferevent_setwatermark(bev, EV_READ, 0,
			    SMPP_IN_HIGH);
			bufferevent_enable(bev, EV_READ | EV_WRITE);
			send_bind(s);
		}
	} else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (s->state == SMPP_CONNECTING && s->ssl_ctx != NULL &&
		    smpp_tls_failed(bev, name(s), s->cfg.tls_server_name))
			session_drop(s, "tls_failed", 0);
		else
			session_drop(s, (what & BEV_EVENT_EOF) ? "eof" :
			    s->state == SMPP_CONNECTING ? "connect_failed" :
			    "socket_error", 0);
	}
	leave(s);
}


static void
connect_now(struct smpp_session *s)
{
	struct sockaddr_storage ss;
	struct evutil_addrinfo hints, *ai = NULL;
	int sslen = (int)sizeof(ss);
	char hp[300];

	s->gen++;
	s->el_seq = 0;
	enter_state(s, SMPP_CONNECTING);
	if (s->state != SMPP_CONNECTING)
		return;
	memset(&ss, 0, sizeof(ss));
	if (strchr(s->cfg.host, ':') != NULL)
		snprintf(hp, sizeof(hp), "[%s]:%d", s->cfg.host, s->cfg.port);
	else
		snprintf(hp, sizeof(hp), "%s:%d", s->cfg.host, s->cfg.port);
	if (evutil_parse_sockaddr_port(hp, (struct sockaddr *)&ss,
	    &sslen) < 0) {
		/* Only "localhost" gets here (smpp_session_new checked). */
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_INET;
		hints.ai_socktype = SOCK_STREAM;
		if (evutil_getaddrinfo("localhost", NULL, &hints, &ai) != 0 ||
		    ai == NULL || ai->ai_addrlen > sizeof(ss)) {
			if (ai != NULL)
				evutil_freeaddrinfo(ai);
			session_drop(s, "resolve_failed", 0);
			return;
		}
		memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
		sslen = (int)ai->ai_addrlen;
		((struct sockaddr_in *)&ss)->sin_port =
		    htons((uint16_t)s->cfg.port);
		evutil_freeaddrinfo(ai);
	}
	if (s->ssl_ctx != NULL)
		s->bev = smpp_tls_bufferevent(s->base, s->ssl_ctx,
		    s->cfg.tls_server_name);
	else
		s->bev = bufferevent_socket_new(s->base, -1,
		    BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		session_drop(s, "no_memory", 0);
		return;
	}
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	/* Bounds the TCP connect and, with TLS, the handshake. */
	arm_ms(s->op_timer, (int64_t)s->cfg.response_timeout * 1000);
	if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&ss,
	    sslen) < 0)
		session_drop(s, "connect_failed", 0);
}

static void
on_backoff(evutil_socket_t fd, short what, void *arg)
{
	struct smpp_session *s = arg;

	enter(s);
	if (s->state == SMPP_BACKOFF && !s->stopping) {
		s->st.reconnects++;
		connect_now(s);
	}
	leave(s);
}

static void
on_op_timer(evutil_socket_t fd, short what, void *arg)
{
	struct smpp_session *s = arg;

	enter(s);
	if (s->flushing) {
		session_drop(s, "flush_timeout", 0);
	} else if (s->state == SMPP_CONNECTING) {
		session_drop(s, s->ssl_ctx != NULL ? "connect_or_tls_timeout" :
		    "connect_timeout", 0);
	} else if (s->state == SMPP_BINDING) {
		s->st.binds_failed++;
		session_drop(s, "bind_timeout", 0);
	} else if (s->state == SMPP_UNBINDING) {
		session_drop(s, "unbind_timeout", 0);
	} else if (s->state == SMPP_BOUND && s->stopping) {
		/* The window did not drain in time: unbind anyway. */
		send_unbind(s);
	}
	leave(s);
}

static void
on_resp_timer(evutil_socket_t fd, short what, void *arg)
{
	struct smpp_session *s = arg;
	int64_t now = util_mono_ms();
	uint32_t seq;
	void *cookie;
	char nb[128];

	enter(s);
	while (!s->dead &&
	    smpp_window_take_expired(s->win, now, &seq, &cookie)) {
		log_session(s, lim_timeout, LOG_WARN, "smpp.timeout",
		    "smsc=%s seq=%u", log_str(nb, sizeof(nb), name(s)), seq);
		req_done(s, cookie, SMPP_STATUS_TIMEOUT, "");
	}
	if (!s->dead) {
		arm_resp_timer(s);
		maybe_unbind_drained(s);
	}
	leave(s);
}

static void
on_link_timer(evutil_socket_t fd, short what, void *arg)
{
	struct smpp_session *s = arg;
	int64_t now = util_mono_ms();

	enter(s);
	if (s->state != SMPP_BOUND || s->bev == NULL || s->flushing) {
		leave(s);
		return;
	}
	if (s->el_seq != 0 && now >= s->el_deadline) {
		session_drop(s, "enquire_link_timeout", 0);
	} else {
		if (s->el_seq == 0 &&
		    now - s->last_rx >= (int64_t)s->cfg.enquire_link * 1000) {
			s->el_seq = smpp_window_next_seq(s->win);
			s->el_deadline = now +
			    (int64_t)s->cfg.response_timeout * 1000;
			send_header(s, SMPP_ENQUIRE_LINK, 0, s->el_seq);
		}
		arm_link_timer(s);
	}
	leave(s);
}

/* Reading paused and the output did not drain in response_timeout: the
 * SMSC sends requests and does not read the answers. */
static void
on_stall_timer(evutil_socket_t fd, short what, void *arg)
{
	struct smpp_session *s = arg;
	char nb[128];

	enter(s);
	if (s->paused && s->bev != NULL && !s->flushing) {
		s->st.hostile++;
		log_warn("smpp.hostile", "smsc=%s reason=output_stalled "
		    "queued=%zu seconds=%d", log_str(nb, sizeof(nb), name(s)),
		    evbuffer_get_length(bufferevent_get_output(s->bev)),
		    s->cfg.response_timeout);
		session_drop(s, "hostile_output_stalled", 0);
	}
	leave(s);
}

static void
on_done_ev(evutil_socket_t fd, short what, void *arg)
{
	struct smpp_session *s = arg;
	void (*done)(void *) = s->done;

	enter(s);
	s->done = NULL;
	if (done != NULL)
		done(s->done_arg);
	leave(s);
}

/*
 * The API of smpp.h.
 */
static int
host_usable(const char *host)
{
	struct sockaddr_storage ss;
	int len = (int)sizeof(ss);
	char hp[300];

	if (strcmp(host, "localhost") == 0)
		return 1;
	snprintf(hp, sizeof(hp), strchr(host, ':') ? "[%s]:1" : "%s:1",
	    host);
	return evutil_parse_sockaddr_port(hp, (struct sockaddr *)&ss,
	    &len) == 0;
}

static char *
dup_or_empty(const char *s)
{
	return strdup(s != NULL ? s : "");
}


struct smpp_session *
smpp_session_new(struct event_base *base, const struct smpp_config *cfg,
    const struct smpp_callbacks *cb, void *arg)
{
	struct smpp_session *s;
	char nb[128];

	if (cfg->host == NULL || !host_usable(cfg->host) ||
	    cfg->port <= 0 || cfg->port > 65535 || cfg->window < 1 ||
	    cfg->enquire_link < 1 || cfg->response_timeout < 1 ||
	    cfg->reconnect_min_ms < 1 ||
	    cfg->reconnect_max_ms < cfg->reconnect_min_ms ||
	    cfg->system_id == NULL || strlen(cfg->system_id) > 15 ||
	    (cfg->password != NULL && strlen(cfg->password) > 8) ||
	    (cfg->system_type != NULL && strlen(cfg->system_type) > 12)) {
		log_err("smpp.config", "smsc=%s msg=\"unusable session "
		    "config (host must be numeric or localhost)\"",
		    log_str(nb, sizeof(nb), cfg->name ? cfg->name : "?"));
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->base = base;
	s->cfg = *cfg;
	s->cfg.name = dup_or_empty(cfg->name);
	s->cfg.host = dup_or_empty(cfg->host);
	s->cfg.system_id = dup_or_empty(cfg->system_id);
	s->cfg.password = dup_or_empty(cfg->password);
	s->cfg.system_type = dup_or_empty(cfg->system_type);
	s->cfg.tls_ca_file = cfg->tls_ca_file != NULL ?
	    strdup(cfg->tls_ca_file) : NULL;
	s->cfg.tls_server_name = dup_or_empty(cfg->tls_server_name != NULL &&
	    cfg->tls_server_name[0] != 0 ? cfg->tls_server_name : cfg->host);
	if (cb != NULL)
		s->cb = *cb;
	s->arg = arg;
	s->state = SMPP_IDLE;
	s->backoff_ms = cfg->reconnect_min_ms;
	s->win = smpp_window_new(cfg->window);
	s->rbuf = malloc(SMPP_MAX_PDU + 1);
	s->op_timer = evtimer_new(base, on_op_timer, s);
	s->resp_timer = evtimer_new(base, on_resp_timer, s);
	s->link_timer = evtimer_new(base, on_link_timer, s);
	s->backoff_timer = evtimer_new(base, on_backoff, s);
	s->stall_timer = evtimer_new(base, on_stall_timer, s);
	s->done_ev = evtimer_new(base, on_done_ev, s);
	s->out_high = SMPP_OUT_HIGH + (size_t)cfg->window * SMPP_SUBMIT_MAX;
	if (!s->cfg.name || !s->cfg.host || !s->cfg.system_id ||
	    !s->cfg.password || !s->cfg.system_type || !s->win || !s->rbuf ||
	    !s->op_timer || !s->resp_timer || !s->link_timer ||
	    !s->backoff_timer || !s->stall_timer || !s->done_ev ||
	    !s->cfg.tls_server_name ||
	    (cfg->tls_ca_file != NULL && s->cfg.tls_ca_file == NULL)) {
		session_destroy(s);
		return NULL;
	}
	if (cfg->tls && (s->ssl_ctx = smpp_tls_context(s->cfg.name,
	    s->cfg.tls_ca_file)) == NULL) {
		session_destroy(s);
		return NULL;
	}
	return s;
}

void
smpp_session_start(struct smpp_session *s)
{
	enter(s);
	if (s->state == SMPP_IDLE && !s->stopping)
		connect_now(s);
	leave(s);
}

int
smpp_session_submit(struct smpp_session *s, const struct smpp_message *m,
    void *cookie)
{
	uint8_t b[SMPP_SUBMIT_MAX];
	uint32_t seq;
	int n;

	if (s->dead || s->state != SMPP_BOUND || s->stopping ||
	    s->bev == NULL || s->flushing ||
	    smpp_window_used(s->win) >= smpp_window_size(s->win))
		return -1;
	seq = smpp_window_next_seq(s->win);
	if ((n = smpp_pdu_pack_submit(b, sizeof(b), seq, m)) < 0) {
		log_err("smpp.pack_failed", "smsc=%s pdu=submit_sm "
		    "note=field_too_long", name(s));
		return -1;
	}
	/* Record before writing: a response can never beat its record. */
	if (smpp_window_add(s->win, seq,
	    util_mono_ms() + (int64_t)s->cfg.response_timeout * 1000, cookie) < 0)
		return -1;
	if (send_bytes(s, b, (size_t)n) < 0) {
		void *c;

		smpp_window_take(s->win, seq, &c);
		return -1;
	}
	s->st.submits++;
	if (!evtimer_pending(s->resp_timer, NULL))
		arm_resp_timer(s);
	return 0;
}

int
smpp_session_cancel(struct smpp_session *s, const struct smpp_cancel *c,
    void *cookie)
{
	uint8_t b[256];
	struct cancel_slot *cs = NULL;
	int cap = smpp_window_size(s->win) / 2, n;
	uint32_t seq;

	if (cap < 1)
		cap = 1;
	if (cap > SMPP_CANCELS_MAX)
		cap = SMPP_CANCELS_MAX;
	if (s->dead || s->state != SMPP_BOUND || s->stopping ||
	    s->bev == NULL || s->flushing || s->ncancel >= cap ||
	    smpp_window_used(s->win) >= smpp_window_size(s->win))
		return -1;
	for (int i = 0; i < SMPP_CANCELS_MAX && cs == NULL; i++)
		if (!s->cslot[i].used)
			cs = &s->cslot[i];
	if (cs == NULL)
		return -1;
	seq = smpp_window_next_seq(s->win);
	if ((n = smpp_pdu_pack_cancel(b, sizeof(b), seq, c)) < 0) {
		log_err("smpp.pack_failed", "smsc=%s pdu=cancel_sm "
		    "note=field_too_long_or_empty", name(s));
		return -1;
	}
	/* Record before writing, as for a submit. */
	if (smpp_window_add(s->win, seq,
	    util_mono_ms() + (int64_t)s->cfg.response_timeout * 1000, cs) < 0)
		return -1;
	if (send_bytes(s, b, (size_t)n) < 0) {
		void *x;

		smpp_window_take(s->win, seq, &x);
		return -1;
	}
	cs->used = 1;
	cs->cookie = cookie;
	s->ncancel++;
	s->st.cancels++;
	if (!evtimer_pending(s->resp_timer, NULL))
		arm_resp_timer(s);
	return 0;
}

void
smpp_session_receipt_ack(struct smpp_session *s, uint64_t ack,
    uint32_t status)
{
	uint32_t gen = (uint32_t)(ack >> 32) & 0x7FFFFFFFu;
	uint32_t seq = (uint32_t)ack;
	uint32_t id = (ack & ACK_DATA_SM) ? SMPP_DATA_SM_RESP :
	    SMPP_DELIVER_SM_RESP;

	if (s->dead || s->bev == NULL || gen != (s->gen & 0x7FFFFFFFu)) {
		char nb[128];

		log_session(s, lim_stale_ack, LOG_INFO, "smpp.stale_ack",
		    "smsc=%s seq=%u", log_str(nb, sizeof(nb), name(s)), seq);
		return;
	}
	send_resp(s, id, status, seq);
}

enum smpp_state
smpp_session_state(const struct smpp_session *s)
{
	return s->state;
}

int
smpp_session_window_free(const struct smpp_session *s)
{
	if (s->state != SMPP_BOUND || s->stopping || s->dead)
		return 0;
	return smpp_window_size(s->win) - smpp_window_used(s->win);
}

const char *
smpp_session_name(const struct smpp_session *s)
{
	return s->cfg.name;
}

void
smpp_session_stop(struct smpp_session *s, void (*done)(void *arg),
    void *arg)
{
	enter(s);
	s->done = done;
	s->done_arg = arg;
	if (s->stopping && s->state != SMPP_STOPPED) {
		leave(s);
		return;		/* already on its way; done replaced */
	}
	s->stopping = 1;
	switch (s->state) {
	case SMPP_BOUND:
		if (smpp_window_used(s->win) == 0)
			send_unbind(s);
		else
			arm_ms(s->op_timer,
			    (int64_t)s->cfg.response_timeout * 1000);
		break;
	case SMPP_UNBINDING:
		break;		/* closes by itself, then STOPPED */
	case SMPP_STOPPED:
		event_active(s->done_ev, EV_TIMEOUT, 0);
		break;
	default:
		finish_stop(s);
		break;
	}
	leave(s);
}

/* Release everything; cookies still outstanding come back NOT_SENT. */
static void
session_destroy(struct smpp_session *s)
{
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	if (s->win != NULL) {
		uint32_t seq;
		void *cookie;

		while (smpp_window_take_any(s->win, &seq, &cookie))
			req_done(s, cookie, SMPP_STATUS_NOT_SENT, "");
		smpp_window_free(s->win);
	}
	if (s->op_timer) event_free(s->op_timer);
	if (s->resp_timer) event_free(s->resp_timer);
	if (s->link_timer) event_free(s->link_timer);
	if (s->backoff_timer) event_free(s->backoff_timer);
	if (s->stall_timer) event_free(s->stall_timer);
	if (s->done_ev) event_free(s->done_ev);
	free(s->rbuf);
	free((char *)s->cfg.name);
	free((char *)s->cfg.host);
	free((char *)s->cfg.system_id);
	if (s->cfg.password != NULL)
		explicit_bzero((char *)s->cfg.password,
		    strlen(s->cfg.password));
	free((char *)s->cfg.password);
	free((char *)s->cfg.system_type);
	free((char *)s->cfg.tls_ca_file);
	free((char *)s->cfg.tls_server_name);
	if (s->ssl_ctx != NULL)
		SSL_CTX_free(s->ssl_ctx);
	free(s);
}

void
smpp_session_free(struct smpp_session *s)
{
	uint32_t seq;
	void *cookie;

	if (s == NULL || s->dead)
		return;
	if (s->depth > 0) {
		/* Called from inside one of our callbacks: stop everything
		 * now, free when the outermost handler returns. */
		s->dead = 1;
		close_conn(s);
		evtimer_del(s->backoff_timer);
		event_del(s->done_ev);
		while (smpp_window_take_any(s->win, &seq, &cookie))
			req_done(s, cookie, SMPP_STATUS_NOT_SENT, "");
		return;
	}
	session_destroy(s);
}

void
smpp_session_stats(const struct smpp_session *s,
    struct smpp_session_stats *out)
{
	*out = s->st;
	out->window_used = smpp_window_used(s->win);
}
