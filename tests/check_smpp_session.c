/*
 * check_smpp_session.c - tests of smpp/smpp_session.c against an in-process
 * fake SMSC.
 *
 * The fake listens on 127.0.0.1 port 0 in the test's own event_base and
 * speaks through smpp_pdu.c: it answers binds (with a status the test
 * chooses), answers or ignores submits, and can close connections or send
 * enquire_link and receipts on demand.  Tests drive the loop with
 * wait_until(), which runs event_base_loop() until a condition holds or a
 * bounded deadline passes; nothing sleeps.
 *
 * With fk.tls set the fake speaks TLS (an openssl bufferevent in the
 * accepting mode) with the test certificate in tests/data/tls/: server.pem
 * (CN and SAN 127.0.0.1, SAN localhost) issued by ca.pem.  The data
 * directory is found through SV_SRCDIR (set by `make check`), else the
 * current directory.  Tests that check a log line point fd 2 at a
 * temporary file while they run.
 *
 * Hostile peers: the fake can close every bind as soon as it has answered
 * it, stop reading, and send a flood of one PDU (written as its output
 * drains, so its own memory stays small).  Those tests assert counts
 * (binds, answers, log lines) that no speed of the machine can push past
 * their bound; where a wait is needed it is a lower bound only.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <unistd.h>

#include <check.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "peer.h"
#include "smpp_pdu.h"

#define MAX_CONNS 64

/* The fake SMSC. */
struct fake {
	struct evconnlistener *lev;
	int port;
	struct bufferevent *conns[MAX_CONNS];
	int nconns;
	uint32_t bind_status;	/* answer to binds */
	int answer_submits;
	int binds, submits, unbinds;
	char last_system_id[16], last_password[9];
	char last_destination[21];
	int el_resp_seen;	/* seq of the last enquire_link_resp */
	int dlr_resp_seq;	/* seq of the last deliver_sm_resp, -1 none */
	uint32_t dlr_resp_status;
	SSL_CTX *tls;		/* non-NULL: accept TLS */
	int accepts;
	int silent;		/* read nothing, answer nothing */
	int close_after_bind;	/* close each connection once bound */
	int closing[MAX_CONNS];	/* ... once its bind_resp is written */
	int nacks;		/* generic_nacks the session sent us */
	/* The flood: flood_left PDUs of command_id flood_id with status
	 * flood_status, sequence numbers from flood_seq up. */
	long flood_left;
	struct bufferevent *flood_conn;	/* the connection it goes on */
	uint32_t flood_id, flood_status, flood_seq;
	uint8_t buf[SMPP_MAX_PDU + 1];
};

/* What the session told us. */
#define MAX_DONE 16
struct rec {
	enum smpp_state states[64];
	int nstates;
	struct {
		void *cookie;
		uint32_t status;
		char id[66];
	} done[MAX_DONE];
	int ndone;
	struct smpp_receipt receipt;
	uint64_t ack;
	int nreceipts;
	int stopped;
};

static struct event_base *base;
static struct fake fk;
static struct rec rc;
static struct smpp_session *sess;

static void
fake_send(struct bufferevent *b, const uint8_t *p, int n)
{
	ck_assert_int_gt(n, 0);
	bufferevent_write(b, p, (size_t)n);
}

static void
fake_close_all(void)
{
	int i;

	for (i = 0; i < fk.nconns; i++)
		if (fk.conns[i] != NULL) {
			bufferevent_free(fk.conns[i]);
			fk.conns[i] = NULL;
		}
}

static int
fake_index(struct bufferevent *b)
{
	int i;

	for (i = 0; i < fk.nconns; i++)
		if (fk.conns[i] == b)
			return i;
	return -1;
}

static struct bufferevent *
fake_conn(void)
{
	int i;

	for (i = fk.nconns - 1; i >= 0; i--)
		if (fk.conns[i] != NULL)
			return fk.conns[i];
	return NULL;
}

static void
fake_read(struct bufferevent *b, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(b);
	struct smpp_header h;
	struct smpp_sm sm;
	char sid[16], pw[9], st[13], mid[32];
	uint8_t out[256];
	int r;

	if (fk.silent)
		return;
	while ((r = smpp_pdu_frame(in, fk.buf, &h)) == SMPP_FRAME_OK) {
		switch (h.id) {
		case SMPP_CMD_BIND_TRANSCEIVER:
		case SMPP_CMD_BIND_TRANSMITTER:
		case SMPP_CMD_BIND_RECEIVER:
			fk.binds++;
			ck_assert_int_eq(smpp_pdu_unpack_bind(fk.buf, &h, sid,
			    pw, st), 0);
			strcpy(fk.last_system_id, sid);
			strcpy(fk.last_password, pw);
			fake_send(b, out, smpp_pdu_pack_resp(out, sizeof(out),
			    h.id | SMPP_RESP, fk.bind_status, h.seq, "FAKE"));
			if (fk.close_after_bind && fake_index(b) >= 0) {
				/* fake_write closes it once that is out. */
				fk.closing[fake_index(b)] = 1;
				bufferevent_disable(b, EV_READ);
				return;
			}
			break;
		case SMPP_SUBMIT_SM:
			fk.submits++;
			ck_assert_int_eq(smpp_pdu_unpack_sm(fk.buf, &h, &sm),
			    0);
			strcpy(fk.last_destination, sm.destination);
			if (!fk.answer_submits)
				break;
			snprintf(mid, sizeof(mid), "MSG%d", fk.submits);
			fake_send(b, out, smpp_pdu_pack_resp(out, sizeof(out),
			    h.id | SMPP_RESP, 0, h.seq, mid));
			break;
		case SMPP_UNBIND:
			fk.unbinds++;
			smpp_pdu_header_encode(out, SMPP_UNBIND | SMPP_RESP, 0,
			    h.seq);
			fake_send(b, out, 16);
			break;
		case SMPP_ENQUIRE_LINK:
			smpp_pdu_header_encode(out,
			    SMPP_ENQUIRE_LINK | SMPP_RESP, 0, h.seq);
			fake_send(b, out, 16);
			break;
		case SMPP_ENQUIRE_LINK | SMPP_RESP:
			fk.el_resp_seen = (int)h.seq;
			break;
		case SMPP_DELIVER_SM | SMPP_RESP:
			fk.dlr_resp_seq = (int)h.seq;
			fk.dlr_resp_status = h.status;
			break;
		case SMPP_GENERIC_NACK:
			fk.nacks++;
			break;
		}
	}
	ck_assert_int_ne(r, SMPP_FRAME_BAD_LENGTH);
}

/* Top the flood up: at most 4096 PDUs more once the output is below
 * 64 KiB (called again as it drains). */
static void
fake_refill(struct bufferevent *b)
{
	struct evbuffer *out = bufferevent_get_output(b);
	uint8_t h[SMPP_HEADER_LEN];
	int i;

	if (evbuffer_get_length(out) >= 65536)
		return;
	for (i = 0; i < 4096 && fk.flood_left > 0; i++, fk.flood_left--) {
		smpp_pdu_header_encode(h, fk.flood_id, fk.flood_status,
		    fk.flood_seq++);
		evbuffer_add(out, h, sizeof(h));
	}
}

/* Start a flood of n PDUs (header only) on b. */
static void
fake_flood(struct bufferevent *b, long n, uint32_t id, uint32_t status,
    uint32_t seq)
{
	fk.flood_left = n;
	fk.flood_conn = b;
	fk.flood_id = id;
	fk.flood_status = status;
	fk.flood_seq = seq;
	bufferevent_setwatermark(b, EV_WRITE, 65536, 0);
	fake_refill(b);
}

static void
fake_write(struct bufferevent *b, void *arg)
{
	int i = fake_index(b);

	if (i >= 0 && fk.closing[i]) {
		if (fk.flood_conn == b)
			fk.flood_conn = NULL;
		fk.conns[i] = NULL;
		fk.closing[i] = 0;
		bufferevent_free(b);
		return;
	}
	if (fk.flood_left > 0 && b == fk.flood_conn)
		fake_refill(b);
}

static void
fake_event(struct bufferevent *b, short what, void *arg)
{
	int i;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		for (i = 0; i < fk.nconns; i++)
			if (fk.conns[i] == b)
				fk.conns[i] = NULL;
		if (fk.flood_conn == b)
			fk.flood_conn = NULL;
		bufferevent_free(b);
	}
}

static void
fake_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct bufferevent *b;

	ck_assert_int_lt(fk.nconns, MAX_CONNS);
	fk.accepts++;
	if (fk.tls != NULL) {
		SSL *ssl = SSL_new(fk.tls);

		ck_assert_ptr_nonnull(ssl);
		b = bufferevent_openssl_socket_new(base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	} else {
		b = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	ck_assert_ptr_nonnull(b);
	bufferevent_setcb(b, fake_read, fake_write, fake_event, NULL);
	bufferevent_enable(b, EV_READ | EV_WRITE);
	fk.conns[fk.nconns++] = b;
}

/* Session callbacks. */
static void
on_state(void *arg, struct smpp_session *s, enum smpp_state from,
    enum smpp_state to)
{
	if (rc.nstates < 64)
		rc.states[rc.nstates++] = to;
}

static void
on_done(void *arg, struct smpp_session *s, void *cookie, uint32_t status,
    const char *id)
{
	ck_assert_int_lt(rc.ndone, MAX_DONE);
	rc.done[rc.ndone].cookie = cookie;
	rc.done[rc.ndone].status = status;
	snprintf(rc.done[rc.ndone].id, sizeof(rc.done[0].id), "%s", id);
	rc.ndone++;
}

static void
on_receipt(void *arg, struct smpp_session *s, const struct smpp_receipt *r,
    uint64_t ack)
{
	rc.receipt = *r;
	rc.ack = ack;
	rc.nreceipts++;
}

static void
on_stopped(void *arg)
{
	rc.stopped++;
}

static const struct smpp_callbacks cbs = { on_state, on_done, on_receipt,
    NULL, NULL };

static struct smpp_config
config(void)
{
	struct smpp_config c = {
		.name = "fake", .host = "127.0.0.1", .port = fk.port,
		.system_id = "esme", .password = "secret",
		.system_type = "", .bind_type = (enum smpp_bind_type)0,
		.window = 4, .enquire_link = 30, .response_timeout = 1,
		.reconnect_min_ms = 50, .reconnect_max_ms = 3000,
	};
	return c;
}

static void
setup(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(&fk, 0, sizeof(fk));
	memset(&rc, 0, sizeof(rc));
	fk.answer_submits = 1;
	fk.dlr_resp_seq = -1;
	base = event_base_new();
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fk.lev = evconnlistener_new_bind(base, fake_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	    (struct sockaddr *)&sin, sizeof(sin));
	ck_assert_ptr_nonnull(fk.lev);
	getsockname(evconnlistener_get_fd(fk.lev), (struct sockaddr *)&sin,
	    &len);
	fk.port = ntohs(sin.sin_port);
	sess = NULL;
}

/* Log capture: fd 2 into a temporary file between the two calls. */
static FILE *log_file;
static int saved_stderr = -1;

static void
capture_log(void)
{
	fflush(stderr);
	log_file = tmpfile();
	ck_assert_ptr_nonnull(log_file);
	saved_stderr = dup(2);
	ck_assert_int_ge(saved_stderr, 0);
	ck_assert_int_eq(dup2(fileno(log_file), 2), 2);
}

/* Stop capturing; the captured text (truncated to size) into buf. */
static void
captured_log(char *buf, size_t size)
{
	size_t n = 0;

	if (saved_stderr >= 0) {
		fflush(stderr);
		dup2(saved_stderr, 2);
		close(saved_stderr);
		saved_stderr = -1;
	}
	if (log_file != NULL) {
		rewind(log_file);
		n = fread(buf, 1, size - 1, log_file);
		fclose(log_file);
		log_file = NULL;
	}
	buf[n] = 0;
}

static void
teardown(void)
{
	char dummy[2];

	if (sess != NULL)
		smpp_session_free(sess);
	fake_close_all();
	evconnlistener_free(fk.lev);
	event_base_free(base);
	if (fk.tls != NULL)
		SSL_CTX_free(fk.tls);
	captured_log(dummy, sizeof(dummy));
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	*(int *)arg = 1;
}

/* Run the loop until cond() or ms milliseconds pass.  Returns cond(). */
static int
wait_until(int (*cond)(void), int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	int expired = 0;
	struct event *t = evtimer_new(base, on_deadline, &expired);

	evtimer_add(t, &tv);
	while (!cond() && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	return cond();
}

static int bound(void) { return sess && smpp_session_state(sess) == SMPP_BOUND; }
static int backoff(void) { return smpp_session_state(sess) == SMPP_BACKOFF; }
static int one_done(void) { return rc.ndone >= 1; }
static int three_done(void) { return rc.ndone >= 3; }
static int two_binds(void) { return fk.binds >= 2; }
static int three_submits(void) { return fk.submits >= 3; }
static int never(void) { return 0; }

static void
start_bound(struct smpp_config c)
{
	sess = smpp_session_new(base, &c, &cbs, NULL);
	ck_assert_ptr_nonnull(sess);
	smpp_session_start(sess);
	ck_assert_msg(wait_until(bound, 3000), "no bind within 3 s");
}

static const struct smpp_message msg = {
	.source = "ACME", .source_ton = 5, .source_npi = 0,
	.destination = "447700900123", .body = (const uint8_t *)"code 1234",
	.body_len = 9, .validity_period = "", .registered_delivery = 1,
};

START_TEST(test_bind)
{
	start_bound(config());
	ck_assert_int_eq(fk.binds, 1);
	ck_assert_str_eq(fk.last_system_id, "esme");
	ck_assert_str_eq(fk.last_password, "secret");
	ck_assert_int_ge(rc.nstates, 3);
	ck_assert_int_eq(rc.states[0], SMPP_CONNECTING);
	ck_assert_int_eq(rc.states[1], SMPP_BINDING);
	ck_assert_int_eq(rc.states[2], SMPP_BOUND);
	ck_assert_int_eq(smpp_session_window_free(sess), 4);
	ck_assert_str_eq(smpp_session_name(sess), "fake");
}
END_TEST

START_TEST(test_submit_ok)
{
	struct smpp_session_stats st;
	int cookie;

	start_bound(config());
	ck_assert_int_eq(smpp_session_submit(sess, &msg, &cookie), 0);
	ck_assert(wait_until(one_done, 3000));
	ck_assert_ptr_eq(rc.done[0].cookie, &cookie);
	ck_assert_uint_eq(rc.done[0].status, 0);
	ck_assert_str_eq(rc.done[0].id, "MSG1");
	ck_assert_str_eq(fk.last_destination, "447700900123");
	smpp_session_stats(sess, &st);
	ck_assert_uint_eq(st.submits, 1);
	ck_assert_uint_eq(st.submit_ok, 1);
	ck_assert_int_eq(st.window_used, 0);
}
END_TEST

START_TEST(test_wrong_password)
{
	struct smpp_config c = config();
	struct smpp_session_stats st;

	fk.bind_status = ESME_RINVPASWD;
	sess = smpp_session_new(base, &c, &cbs, NULL);
	smpp_session_start(sess);
	ck_assert(wait_until(backoff, 3000));
	smpp_session_stats(sess, &st);
	ck_assert_uint_eq(st.binds_failed, 1);
	ck_assert_uint_eq(st.last_bind_status, ESME_RINVPASWD);
	ck_assert_int_eq(smpp_session_submit(sess, &msg, NULL), -1);
	/* The credentials backoff is at least 60 s (the jitter only adds),
	 * whatever reconnect_max_ms says. */
	ck_assert_int_ge(st.backoff_ms, SMPP_AUTH_BACKOFF_MS);
	ck_assert_int_lt(st.backoff_ms, SMPP_AUTH_BACKOFF_MS * 5 / 4);
	/* No tight loop: no second bind within a second. */
	ck_assert(!wait_until(two_binds, 1000));
	ck_assert_int_eq(fk.binds, 1);
	ck_assert_int_eq(smpp_session_state(sess), SMPP_BACKOFF);
	ck_assert_str_eq(smpp_strstatus(st.last_bind_status),
	    "ESME_RINVPASWD");
}
END_TEST

static int
rebound(void)
{
	return fk.binds >= 2 && smpp_session_state(sess) == SMPP_BOUND;
}

START_TEST(test_reconnect)
{
	struct smpp_session_stats st;
	int i, saw_backoff = 0;

	start_bound(config());
	fake_close_all();
	ck_assert(wait_until(rebound, 3000));
	for (i = 0; i < rc.nstates; i++)
		if (rc.states[i] == SMPP_BACKOFF)
			saw_backoff = 1;
	ck_assert(saw_backoff);
	smpp_session_stats(sess, &st);
	ck_assert_uint_ge(st.reconnects, 1);
	ck_assert_int_eq(fk.binds, 2);
}
END_TEST

START_TEST(test_timeout)
{
	int cookie;

	fk.answer_submits = 0;
	start_bound(config());
	ck_assert_int_eq(smpp_session_submit(sess, &msg, &cookie), 0);
	ck_assert(wait_until(one_done, 3000));
	ck_assert_ptr_eq(rc.done[0].cookie, &cookie);
	ck_assert_uint_eq(rc.done[0].status, SMPP_STATUS_TIMEOUT);
	ck_assert(!wait_until(never, 200));
	ck_assert_int_eq(rc.ndone, 1);	/* once */
	ck_assert_int_eq(smpp_session_window_free(sess), 4);
}
END_TEST

START_TEST(test_window_full)
{
	struct smpp_config c = config();
	int a, b, d;

	c.window = 2;
	fk.answer_submits = 0;
	start_bound(c);
	ck_assert_int_eq(smpp_session_submit(sess, &msg, &a), 0);
	ck_assert_int_eq(smpp_session_submit(sess, &msg, &b), 0);
	ck_assert_int_eq(smpp_session_window_free(sess), 0);
	ck_assert_int_eq(smpp_session_submit(sess, &msg, &d), -1);
}
END_TEST

START_TEST(test_drop_returns_not_sent)
{
	struct smpp_config c = config();
	int cookies[3], i, j, seen;

	c.response_timeout = 5;
	fk.answer_submits = 0;
	start_bound(c);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(smpp_session_submit(sess, &msg, &cookies[i]),
		    0);
	ck_assert(wait_until(three_submits, 3000));
	fake_close_all();
	ck_assert(wait_until(three_done, 3000));
	ck_assert(!wait_until(never, 200));
	ck_assert_int_eq(rc.ndone, 3);
	for (i = 0; i < 3; i++) {
		seen = 0;
		for (j = 0; j < rc.ndone; j++)
			if (rc.done[j].cookie == &cookies[i]) {
				seen++;
				ck_assert_uint_eq(rc.done[j].status,
				    SMPP_STATUS_NOT_SENT);
			}
		ck_assert_int_eq(seen, 1);
	}
}
END_TEST

START_TEST(test_free_returns_not_sent)
{
	int cookie;

	fk.answer_submits = 0;
	start_bound(config());
	ck_assert_int_eq(smpp_session_submit(sess, &msg, &cookie), 0);
	smpp_session_free(sess);
	sess = NULL;
	ck_assert_int_eq(rc.ndone, 1);
	ck_assert_ptr_eq(rc.done[0].cookie, &cookie);
	ck_assert_uint_eq(rc.done[0].status, SMPP_STATUS_NOT_SENT);
}
END_TEST

static int
el_and_receipt(void)
{
	return fk.el_resp_seen == 77 && rc.nreceipts == 1;
}

static int
dlr_answered(void)
{
	return fk.dlr_resp_seq >= 0;
}

START_TEST(test_enquire_link_and_receipt)
{
	static const char text[] = "id:ABC123 sub:001 dlvrd:001 submit "
	    "date:2401011200 done date:2401011201 stat:DELIVRD err:000";
	uint8_t out[512];
	struct bufferevent *b;

	start_bound(config());
	b = fake_conn();
	ck_assert_ptr_nonnull(b);
	smpp_pdu_header_encode(out, SMPP_ENQUIRE_LINK, 0, 77);
	fake_send(b, out, 16);
	fake_send(b, out, smpp_pdu_pack_deliver(out, sizeof(out), 78,
	    "447700900123", "ACME", 0x04, 0, (const uint8_t *)text,
	    strlen(text), "abc123", 2));
	ck_assert(wait_until(el_and_receipt, 3000));
	/* TLVs win for the id; both id and state came from TLVs. */
	ck_assert_str_eq(rc.receipt.message_id, "abc123");
	ck_assert_int_eq(rc.receipt.state, SMPP_MSG_DELIVERED);
	ck_assert_int_eq(rc.receipt.from_tlv, 1);
	ck_assert_str_eq(rc.receipt.source, "447700900123");
	/* No deliver_sm_resp before the ack. */
	ck_assert(!wait_until(dlr_answered, 200));
	smpp_session_receipt_ack(sess, rc.ack, 0);
	ck_assert(wait_until(dlr_answered, 3000));
	ck_assert_int_eq(fk.dlr_resp_seq, 78);
	ck_assert_uint_eq(fk.dlr_resp_status, 0);
}
END_TEST

START_TEST(test_stale_ack_ignored)
{
	static const char text[] = "id:1 stat:DELIVRD err:000";
	uint8_t out[512];

	start_bound(config());
	fake_send(fake_conn(), out, smpp_pdu_pack_deliver(out, sizeof(out),
	    5, "447700900123", "ACME", 0x04, 0, (const uint8_t *)text,
	    strlen(text), NULL, 0));
	ck_assert(wait_until(el_and_receipt, 1000) || rc.nreceipts == 1);
	ck_assert_str_eq(rc.receipt.message_id, "1");
	ck_assert_int_eq(rc.receipt.from_tlv, 0);
	fake_close_all();
	ck_assert(wait_until(rebound, 3000));
	smpp_session_receipt_ack(sess, rc.ack, 0);
	ck_assert(!wait_until(dlr_answered, 300));
}
END_TEST

static int
stopped(void)
{
	return rc.stopped == 1;
}

START_TEST(test_stop)
{
	start_bound(config());
	smpp_session_stop(sess, on_stopped, NULL);
	ck_assert_int_eq(smpp_session_submit(sess, &msg, NULL), -1);
	ck_assert(wait_until(stopped, 3000));
	ck_assert_int_eq(fk.unbinds, 1);
	ck_assert_int_eq(smpp_session_state(sess), SMPP_STOPPED);
}
END_TEST

START_TEST(test_status_names)
{
	/* The exported names carry SMPP 3.4's numbers (§5.1.3). */
	ck_assert_uint_eq(ESME_RTHROTTLED, 0x58);
	ck_assert_uint_eq(ESME_RX_T_APPN, 0x64);
	ck_assert_uint_eq(ESME_RUNKNOWNERR, 0xFF);
	ck_assert_str_eq(smpp_strstatus(0x58), "ESME_RTHROTTLED");
	ck_assert_str_eq(smpp_strstatus(ESME_ROK), "ESME_ROK");
	ck_assert_str_eq(smpp_strstatus(ESME_RINVOPTPARAMVAL),
	    "ESME_RINVOPTPARAMVAL");
	ck_assert_str_eq(smpp_strstatus(0x401), "0x00000401");
	ck_assert_str_eq(smpp_strstatus(SMPP_STATUS_TIMEOUT), "TIMEOUT");
	ck_assert_int_eq(smpp_status_class(ESME_ROK), SMPP_CLASS_OK);
	ck_assert_int_eq(smpp_status_class(ESME_RTHROTTLED), SMPP_CLASS_RETRY);
	ck_assert_int_eq(smpp_status_class(ESME_RMSGQFUL), SMPP_CLASS_RETRY);
	ck_assert_int_eq(smpp_status_class(ESME_RSYSERR), SMPP_CLASS_RETRY);
	ck_assert_int_eq(smpp_status_class(ESME_RX_T_APPN), SMPP_CLASS_RETRY);
	ck_assert_int_eq(smpp_status_class(SMPP_STATUS_TIMEOUT),
	    SMPP_CLASS_RETRY);
	ck_assert_int_eq(smpp_status_class(SMPP_STATUS_NOT_SENT),
	    SMPP_CLASS_RETRY);
	ck_assert_int_eq(smpp_status_class(ESME_RSUBMITFAIL),
	    SMPP_CLASS_RETRY_OTHER);
	ck_assert_int_eq(smpp_status_class(ESME_RUNKNOWNERR),
	    SMPP_CLASS_RETRY_OTHER);
	ck_assert_int_eq(smpp_status_class(ESME_RINVSRCADR),
	    SMPP_CLASS_RETRY_OTHER);
	ck_assert_int_eq(smpp_status_class(ESME_RINVPARLEN),
	    SMPP_CLASS_RETRY_OTHER);
	ck_assert_int_eq(smpp_status_class(0x401), SMPP_CLASS_RETRY_OTHER);
	ck_assert_int_eq(smpp_status_class(ESME_RX_P_APPN), SMPP_CLASS_FINAL);
	ck_assert_int_eq(smpp_status_class(ESME_RX_R_APPN), SMPP_CLASS_FINAL);
	ck_assert_int_eq(smpp_status_class(ESME_RINVDSTADR), SMPP_CLASS_FINAL);
	ck_assert_str_eq(smpp_strstate(SMPP_BACKOFF), "backoff");
}
END_TEST

/*
 * TLS.
 */

/* Make the fake speak TLS with the test server certificate. */
static void
fake_tls(void)
{
	char cert[512], key[512];

	fk.tls = SSL_CTX_new(TLS_server_method());
	ck_assert_ptr_nonnull(fk.tls);
	ck_assert_msg(SSL_CTX_use_certificate_chain_file(fk.tls,
	    peer_tls_path(cert, sizeof(cert), "server.pem")) == 1,
	    "cannot load %s (set SV_SRCDIR)", cert);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(fk.tls,
	    peer_tls_path(key, sizeof(key), "server.key"), SSL_FILETYPE_PEM),
	    1);
	ck_assert_int_eq(SSL_CTX_check_private_key(fk.tls), 1);
}

static struct smpp_config
tls_config(char *ca, size_t size, const char *ca_name,
    const char *server_name)
{
	struct smpp_config c = config();

	c.tls = 1;
	c.tls_ca_file = peer_tls_path(ca, size, ca_name);
	c.tls_server_name = server_name;
	return c;
}

START_TEST(test_tls_bind_submit)
{
	char ca[512];
	struct smpp_config c;
	int cookie;

	fake_tls();
	/* The server name defaults to host, 127.0.0.1: checked as an IP. */
	c = tls_config(ca, sizeof(ca), "ca.pem", NULL);
	start_bound(c);
	ck_assert_int_eq(fk.binds, 1);
	ck_assert_str_eq(fk.last_system_id, "esme");
	ck_assert_str_eq(fk.last_password, "secret");
	ck_assert_int_eq(smpp_session_submit(sess, &msg, &cookie), 0);
	ck_assert(wait_until(one_done, 3000));
	ck_assert_ptr_eq(rc.done[0].cookie, &cookie);
	ck_assert_uint_eq(rc.done[0].status, 0);
	ck_assert_str_eq(rc.done[0].id, "MSG1");
	ck_assert_str_eq(fk.last_destination, "447700900123");
}
END_TEST

START_TEST(test_tls_dns_name_and_stop)
{
	char ca[512];
	struct smpp_config c;

	fake_tls();
	c = tls_config(ca, sizeof(ca), "ca.pem", "localhost");
	start_bound(c);
	smpp_session_stop(sess, on_stopped, NULL);
	ck_assert(wait_until(stopped, 3000));
	ck_assert_int_eq(fk.unbinds, 1);
}
END_TEST

static int
two_accepts_in_backoff(void)
{
	return fk.accepts >= 2 && smpp_session_state(sess) == SMPP_BACKOFF;
}

/* A session that must not get past the handshake: it backs off, retries,
 * never binds, and logs why. */
static void
assert_tls_refused(struct smpp_config c, const char *why)
{
	struct smpp_session_stats st;
	char log[16384];
	int i;

	capture_log();
	sess = smpp_session_new(base, &c, &cbs, NULL);
	ck_assert_ptr_nonnull(sess);
	smpp_session_start(sess);
	ck_assert(wait_until(two_accepts_in_backoff, 3000));
	captured_log(log, sizeof(log));
	ck_assert_int_eq(fk.binds, 0);
	ck_assert_int_eq(rc.ndone, 0);
	for (i = 0; i < rc.nstates; i++)
		ck_assert_int_ne(rc.states[i], SMPP_BINDING);
	smpp_session_stats(sess, &st);
	ck_assert_uint_ge(st.reconnects, 1);
	ck_assert_msg(strstr(log, "event=smpp.tls_failed smsc=fake") != NULL,
	    "no tls_failed line in: %s", log);
	ck_assert_msg(strstr(log, why) != NULL, "no \"%s\" in: %s", why,
	    log);
	ck_assert_ptr_nonnull(strstr(log, "reason=tls_failed"));
	ck_assert_ptr_null(strstr(log, "secret"));
}

START_TEST(test_tls_wrong_server_name)
{
	char ca[512];

	fake_tls();
	assert_tls_refused(tls_config(ca, sizeof(ca), "ca.pem",
	    "wrong.example"), "verify_error=\"hostname mismatch\"");
}
END_TEST

START_TEST(test_tls_wrong_ip)
{
	char ca[512];

	fake_tls();
	assert_tls_refused(tls_config(ca, sizeof(ca), "ca.pem", "127.0.0.2"),
	    "verify_error=\"IP address mismatch\"");
}
END_TEST

START_TEST(test_tls_unknown_ca)
{
	char ca[512];

	fake_tls();
	/* The server's own certificate is no CA: nothing to chain to. */
	assert_tls_refused(tls_config(ca, sizeof(ca), "server.pem", NULL),
	    "verify_error=\"unable to get local issuer certificate\"");
}
END_TEST

static int
connect_timed_out(void)
{
	return smpp_session_state(sess) == SMPP_BACKOFF;
}

START_TEST(test_tls_handshake_timeout)
{
	char ca[512], log[16384];
	struct smpp_config c = tls_config(ca, sizeof(ca), "ca.pem", NULL);

	/* A plain TCP peer that never answers the ClientHello. */
	fk.silent = 1;
	capture_log();
	sess = smpp_session_new(base, &c, &cbs, NULL);
	ck_assert_ptr_nonnull(sess);
	smpp_session_start(sess);
	ck_assert(wait_until(connect_timed_out, 3000));
	captured_log(log, sizeof(log));
	ck_assert_int_eq(fk.accepts, 1);
	ck_assert_int_eq(rc.states[0], SMPP_CONNECTING);
	ck_assert_int_eq(rc.states[1], SMPP_BACKOFF);
	ck_assert_msg(strstr(log, "reason=connect_or_tls_timeout") != NULL,
	    "no timeout in: %s", log);
}
END_TEST

START_TEST(test_tls_missing_ca_file)
{
	char ca[512];
	struct smpp_config c = tls_config(ca, sizeof(ca), "nonexistent.pem",
	    NULL);

	ck_assert_ptr_null(smpp_session_new(base, &c, &cbs, NULL));
}
END_TEST

/*
 * The reconnect policy, pure (smpp_backoff.c).
 */
static const uint32_t draws[] = { 0, 1, 0x40000000u, 0x80000000u,
	0xC0000000u, UINT32_MAX };

START_TEST(test_backoff_credentials)
{
	size_t i;
	int cur, d;

	/* A refused password or system_id: never under 60 s, whatever the
	 * draw and however small reconnect_max_ms; the plain backoff is left
	 * as it was. */
	for (i = 0; i < sizeof(draws) / sizeof(draws[0]); i++) {
		cur = 400;
		d = smpp_backoff_next(&cur, 50, 3000, -1, 1, draws[i]);
		ck_assert_int_ge(d, SMPP_AUTH_BACKOFF_MS);
		ck_assert_int_lt(d, SMPP_AUTH_BACKOFF_MS * 5 / 4);
		ck_assert_int_eq(cur, 400);
		/* A larger reconnect_max_ms is the floor then. */
		d = smpp_backoff_next(&cur, 50, 120000, 5, 1, draws[i]);
		ck_assert_int_ge(d, 120000);
		ck_assert_int_lt(d, 150000);
	}
	cur = 50;
	ck_assert_int_eq(smpp_backoff_next(&cur, 50, 3000, -1, 1, 0),
	    SMPP_AUTH_BACKOFF_MS);
}
END_TEST

START_TEST(test_backoff_doubles)
{
	static const int want[] = { 100, 200, 400, 800, 1000, 1000, 1000 };
	size_t i, k;
	int cur, d;

	/* Jitter adds up to a quarter, never takes away: the wait is never
	 * under reconnect_min_ms. */
	for (k = 0; k < sizeof(draws) / sizeof(draws[0]); k++) {
		cur = 100;
		for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			d = smpp_backoff_next(&cur, 100, 1000, -1, 0,
			    draws[k]);
			ck_assert_int_ge(d, want[i]);
			ck_assert_int_lt(d, want[i] + want[i] / 4 + 1);
		}
		ck_assert_int_eq(cur, 1000);
	}
	cur = 100;
	ck_assert_int_eq(smpp_backoff_next(&cur, 100, 1000, -1, 0, 0), 100);
	ck_assert_int_eq(smpp_backoff_next(&cur, 100, 1000, -1, 0,
	    UINT32_MAX), 249);
	/* Out-of-range state is brought back into [min, max]. */
	cur = 0;
	ck_assert_int_eq(smpp_backoff_next(&cur, 100, 1000, -1, 0, 0), 100);
	cur = 99999;
	ck_assert_int_eq(smpp_backoff_next(&cur, 100, 1000, -1, 0, 0), 1000);
}
END_TEST

START_TEST(test_backoff_resets_after_stable_bind)
{
	int cur = 800, total = 0, d;

	/* A bind that lasted less than SMPP_STABLE_BIND_MS does not reset
	 * the backoff: it goes on doubling. */
	d = smpp_backoff_next(&cur, 100, 60000, SMPP_STABLE_BIND_MS - 1, 0, 0);
	ck_assert_int_eq(d, 800);
	ck_assert_int_eq(cur, 1600);
	/* One that lasted that long does. */
	d = smpp_backoff_next(&cur, 100, 60000, SMPP_STABLE_BIND_MS, 0, 0);
	ck_assert_int_eq(d, 100);
	ck_assert_int_eq(cur, 200);
	/* An SMSC that binds and closes at once: ten drops in a row wait
	 * 100 * (2^10 - 1) ms in all, not ten times 100 ms. */
	cur = 100;
	for (int i = 0; i < 10; i++)
		total += smpp_backoff_next(&cur, 100, 60000, 3, 0, 0);
	ck_assert_int_eq(total, 102300);
}
END_TEST

/*
 * Hostile peers.
 */

/* An SMSC that accepts every bind and closes it at once: the session's
 * backoff grows (the bind never lasted SMPP_STABLE_BIND_MS).  With
 * reconnect_min_ms 100 it binds at about 0, 0.1, 0.3, 0.7, 1.5, 3.1 and
 * 6.3 s (each wait up to a quarter longer): 3 s after the fourth bind, at
 * most the sixth has come.  Resetting the backoff at each bind made it ~30
 * binds by then. */
static int
four_binds(void)
{
	return fk.binds >= 4;
}

START_TEST(test_bind_then_close_backs_off)
{
	struct smpp_config c = config();
	struct smpp_session_stats st;

	c.reconnect_min_ms = 100;
	c.reconnect_max_ms = 60000;
	fk.close_after_bind = 1;
	sess = smpp_session_new(base, &c, &cbs, NULL);
	ck_assert_ptr_nonnull(sess);
	smpp_session_start(sess);
	ck_assert(wait_until(four_binds, 15000));
	/* A lower bound on the time only: a slow machine binds less. */
	wait_until(never, 3000);
	ck_assert_msg(fk.binds <= 7, "%d binds in about 4 s", fk.binds);
	smpp_session_stats(sess, &st);
	ck_assert_int_ge(st.backoff_ms, 800);
}
END_TEST

static int
hostile_drop(void)
{
	struct smpp_session_stats st;

	smpp_session_stats(sess, &st);
	return st.hostile > 0 && smpp_session_state(sess) == SMPP_BACKOFF;
}

/* An SMSC that floods enquire_link and never reads the answers: once
 * what the session queued passes its cap it stops reading, and when that
 * has not drained in response_timeout (1 s) it drops the bind, logged
 * once as hostile. */
START_TEST(test_enquire_flood_no_reader)
{
	struct smpp_session_stats st;
	struct bufferevent *b;
	char log[65536];
	int small = 4096;

	capture_log();
	start_bound(config());
	b = fake_conn();
	ck_assert_ptr_nonnull(b);
	/* Never read again, and keep the kernel from holding much for us. */
	bufferevent_disable(b, EV_READ);
	(void)setsockopt(bufferevent_getfd(b), SOL_SOCKET, SO_RCVBUF, &small,
	    sizeof(small));
	/* 1M enquire_link, 16 MB, more than the kernel holds on both sides. */
	fake_flood(b, 1000000, SMPP_ENQUIRE_LINK, 0, 1000);
	ck_assert_msg(wait_until(hostile_drop, 8000), "no hostile drop");
	captured_log(log, sizeof(log));
	smpp_session_stats(sess, &st);
	ck_assert_uint_ge(st.read_pauses, 1);
	ck_assert_uint_eq(st.hostile, 1);
	ck_assert_msg(strstr(log, "event=smpp.read_paused smsc=fake") != NULL,
	    "no read_paused in: %.2000s", log);
	ck_assert_ptr_nonnull(strstr(log, "event=smpp.hostile smsc=fake "
	    "reason=output_stalled"));
	ck_assert_ptr_nonnull(strstr(log, "reason=hostile_output_stalled"));
	/* Nowhere near the 1M the fake had to send. */
	ck_assert_int_gt(fk.flood_left, 0);
}
END_TEST

/* Lines of text holding s. */
static int
count_lines(const char *text, const char *s)
{
	const char *p = text;
	int n = 0;

	while ((p = strstr(p, s)) != NULL) {
		n++;
		p += strlen(s);
	}
	return n;
}

/* 50,000 PDUs with a command_id nobody knows: the session answers
 * generic_nack to SMPP_NACK_RATE (100) of them in a second, then drops the
 * bind as hostile; the log has a line or two, not 50,000. */
START_TEST(test_unknown_command_flood)
{
	struct smpp_session_stats st;
	char log[65536];

	capture_log();
	start_bound(config());
	fake_flood(fake_conn(), 50000, 0x00000099u, 0, 1000);
	ck_assert_msg(wait_until(hostile_drop, 8000), "no hostile drop");
	/* Let the nacks that left reach the fake (it may have gone). */
	wait_until(never, 200);
	captured_log(log, sizeof(log));
	smpp_session_stats(sess, &st);
	ck_assert_uint_eq(st.hostile, 1);
	ck_assert_int_le(fk.nacks, 100);
	ck_assert_int_le(count_lines(log, "event=smpp.unknown_command "), 3);
	ck_assert_int_eq(count_lines(log, "event=smpp.hostile "), 1);
	ck_assert_ptr_nonnull(strstr(log, "event=smpp.hostile smsc=fake "
	    "reason=nack_rate"));
}
END_TEST

static uint32_t el_want;

static int
flood_out(void)
{
	return fk.flood_left == 0;
}

static int
el_answered(void)
{
	return fk.el_resp_seen == (int)el_want && fk.flood_left == 0;
}

/* Send a flood of n PDUs, then enquire_link seq: once its answer is back
 * the session has read the whole flood (TCP keeps the order). */
static void
flood_then_ping(long n, uint32_t id, uint32_t status, uint32_t seq0,
    uint32_t ping)
{
	uint8_t h[SMPP_HEADER_LEN];

	fake_flood(fake_conn(), n, id, status, seq0);
	ck_assert_msg(wait_until(flood_out, 8000), "flood not sent");
	smpp_pdu_header_encode(h, SMPP_ENQUIRE_LINK, 0, ping);
	fake_send(fake_conn(), h, sizeof(h));
	el_want = ping;
	ck_assert_msg(wait_until(el_answered, 8000), "flood not read");
}

/* The number in "key=N" after each occurrence of event in text, summed
 * with one for the line itself: how many events the lines stand for. */
static long
events_of(const char *text, const char *event)
{
	const char *p = text, *q;
	long n = 0;

	while ((p = strstr(p, event)) != NULL) {
		n++;
		q = strstr(p, "suppressed=");
		ck_assert_ptr_nonnull(q);
		n += strtol(q + strlen("suppressed="), NULL, 10);
		p += strlen(event);
	}
	return n;
}

/* 50,000 generic_nacks and 50,000 submit_sm_resp for sequence numbers the
 * session never used: neither is answered, so neither is hostile, but the
 * log gets one line a second for each (suppressed=N says how many were
 * held back), not 100,000.  After a pause longer than the interval one more
 * of each writes a line carrying the count of all the others, so the lines
 * add up to exactly what was sent. */
START_TEST(test_nack_and_unknown_resp_flood)
{
	struct smpp_session_stats st;
	struct timeval t0, t1;
	char log[65536];
	long ms;
	int lines;

	capture_log();
	start_bound(config());
	gettimeofday(&t0, NULL);
	flood_then_ping(50000, SMPP_GENERIC_NACK, ESME_RSYSERR, 100000, 77);
	flood_then_ping(50000, SMPP_SUBMIT_SM | SMPP_RESP, ESME_ROK, 200000,
	    78);
	gettimeofday(&t1, NULL);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
	/* A wait past the interval (a lower bound: longer is fine). */
	wait_until(never, 1200);
	flood_then_ping(1, SMPP_GENERIC_NACK, ESME_RSYSERR, 300000, 79);
	flood_then_ping(1, SMPP_SUBMIT_SM | SMPP_RESP, ESME_ROK, 300001, 80);
	captured_log(log, sizeof(log));

	smpp_session_stats(sess, &st);
	ck_assert_uint_eq(st.hostile, 0);
	ck_assert_int_eq(smpp_session_state(sess), SMPP_BOUND);
	/* At most one line a second of the flood, plus the first and the
	 * last. */
	lines = count_lines(log, "event=smpp.generic_nack ");
	ck_assert_msg(lines >= 2 && lines <= 3 + ms / 1000,
	    "%d generic_nack lines in %ld ms", lines, ms);
	lines = count_lines(log, "event=smpp.unexpected ");
	ck_assert_msg(lines >= 2 && lines <= 3 + ms / 1000,
	    "%d unexpected lines in %ld ms", lines, ms);
	ck_assert_int_eq(events_of(log, "event=smpp.generic_nack "), 50001);
	ck_assert_int_eq(events_of(log, "event=smpp.unexpected "), 50001);
	ck_assert_ptr_nonnull(strstr(log, "pdu=submit_sm_resp seq="));
}
END_TEST

/* A command_length past SMPP_MAX_PDU closes the connection at once: the
 * session never buffers more than its largest PDU waiting for one. */
START_TEST(test_oversized_pdu)
{
	uint8_t h[SMPP_HEADER_LEN];
	char log[16384];

	capture_log();
	start_bound(config());
	smpp_pdu_header_encode(h, SMPP_DELIVER_SM, 0, 9);
	h[0] = 0; h[1] = 1; h[2] = 0; h[3] = 1;    /* 65537 */
	fake_send(fake_conn(), h, sizeof(h));
	ck_assert(wait_until(backoff, 3000));
	captured_log(log, sizeof(log));
	ck_assert_ptr_nonnull(strstr(log, "event=smpp.bad_length smsc=fake "
	    "length=65537"));
}
END_TEST

static Suite *
session_suite(void)
{
	Suite *s = suite_create("smpp_session");
	TCase *tc;

	tc = tcase_create("status");
	tcase_add_test(tc, test_status_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("backoff");
	tcase_add_test(tc, test_backoff_credentials);
	tcase_add_test(tc, test_backoff_doubles);
	tcase_add_test(tc, test_backoff_resets_after_stable_bind);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);	/* the hard cap per test */
	tcase_add_test(tc, test_bind_then_close_backs_off);
	tcase_add_test(tc, test_enquire_flood_no_reader);
	tcase_add_test(tc, test_unknown_command_flood);
	tcase_add_test(tc, test_nack_and_unknown_resp_flood);
	tcase_add_test(tc, test_oversized_pdu);
	suite_add_tcase(s, tc);

	tc = tcase_create("session");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);	/* the hard cap per test */
	tcase_add_test(tc, test_bind);
	tcase_add_test(tc, test_submit_ok);
	tcase_add_test(tc, test_wrong_password);
	tcase_add_test(tc, test_reconnect);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_window_full);
	tcase_add_test(tc, test_drop_returns_not_sent);
	tcase_add_test(tc, test_free_returns_not_sent);
	tcase_add_test(tc, test_enquire_link_and_receipt);
	tcase_add_test(tc, test_stale_ack_ignored);
	tcase_add_test(tc, test_stop);
	suite_add_tcase(s, tc);

	tc = tcase_create("tls");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_tls_bind_submit);
	tcase_add_test(tc, test_tls_dns_name_and_stop);
	tcase_add_test(tc, test_tls_wrong_server_name);
	tcase_add_test(tc, test_tls_wrong_ip);
	tcase_add_test(tc, test_tls_unknown_ca);
	tcase_add_test(tc, test_tls_handshake_timeout);
	tcase_add_test(tc, test_tls_missing_ca_file);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(session_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
