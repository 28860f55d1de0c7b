/*
 * check_cancel.c - withdrawing messages with cancel_sm (src/cancel.c,
 * [smsc] cancel = yes).
 *
 * Unit cases: the pure policy (which parts of an ended verification to
 * withdraw, the addresses a cancel_sm repeats, at most once per part) and
 * the module over fake carriers defined here (cancel.c calls four
 * carrier.h functions; this file defines them, so the archive's carrier.o
 * is never pulled in).
 *
 * End-to-end cases run the simulator and smsverifyd through the harness.
 * The simulator holds every accepted message (--deliver-delay-ms, far
 * longer than any test) until the test sends it SIGUSR1, so nothing
 * depends on timing: a message canceled meanwhile is gone from the hold
 * when the others are delivered, and since a release delivers every held
 * message in one go, a message that is not in the handset log once a
 * later one is there never will be.  Superseded, approved (seed 000
 * answers the code), canceled through the API, a cancel the SMSC refuses
 * (the message and its receipt go on), a cancel it never answers
 * (response_timeout, no retry, the bind stays up), a bind whose cancel
 * slots are full (the next cancel is dropped and counted), and a text in
 * two parts (both withdrawn).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <check.h>
#include <event2/event.h>
#include <jansson.h>

#include "cancel.h"
#include "carrier.h"
#include "conf.h"
#include "harness.h"
#include "smpp_pdu.h"

#define PHONE "+14155550123"
#define PHONE2 "+14155550188"

/* ---- fake carriers: the carrier.h calls cancel.c makes ---------------- */

#define FAKE_MAX 8

struct carrier {
	const char *name;
	int cancels;              /* [smsc] cancel = yes */
	int room;                 /* cancels it takes */
	int n;
	struct {
		char message_id[66], source[24], destination[24];
		char service_type[8];
		uint8_t source_ton, source_npi, dest_ton, dest_npi;
		void *cookie;
	} got[FAKE_MAX];
};

const char *
carrier_name(const struct carrier *c)
{
	return c->name;
}

int
carrier_cancels(const struct carrier *c)
{
	return c->cancels;
}

void
carrier_source_addr(const struct carrier *c, int alpha, uint8_t *ton,
    uint8_t *npi)
{
	(void)c;
	*ton = alpha ? 5 : 1;
	*npi = alpha ? 0 : 1;
}

int
carrier_cancel(struct carrier *c, const struct smpp_cancel *m, void *cookie)
{
	if (c->room <= 0 || c->n == FAKE_MAX)
		return -1;
	c->room--;
	snprintf(c->got[c->n].message_id, sizeof(c->got[0].message_id), "%s",
	    m->message_id);
	snprintf(c->got[c->n].source, sizeof(c->got[0].source), "%s",
	    m->source);
	snprintf(c->got[c->n].destination, sizeof(c->got[0].destination),
	    "%s", m->destination);
	snprintf(c->got[c->n].service_type, sizeof(c->got[0].service_type),
	    "%s", m->service_type);
	c->got[c->n].source_ton = m->source_ton;
	c->got[c->n].source_npi = m->source_npi;
	c->got[c->n].dest_ton = m->dest_ton;
	c->got[c->n].dest_npi = m->dest_npi;
	c->got[c->n].cookie = cookie;
	c->n++;
	return 0;
}

static void
add_send(struct verif *v, const char *smsc, const char *msgid, int dlr)
{
	struct verif_send *s = &v->send[v->nsend++];

	memset(s, 0, sizeof(*s));
	snprintf(s->smsc, sizeof(s->smsc), "%s", smsc);
	snprintf(s->message_id, sizeof(s->message_id), "%s", msgid);
	s->dlr = dlr;
	s->error = -1;
}

static void
make_verif(struct verif *v, int status)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->id, sizeof(v->id), "ver_0123456789abcdef01234567");
	snprintf(v->phone, sizeof(v->phone), PHONE);
	snprintf(v->sender, sizeof(v->sender), "Verify");
	v->status = status;
	v->send_state = SEND_SENT;
}

static int
wants_ab(void *arg, const char *smsc)
{
	(void)arg;
	return strcmp(smsc, "a") == 0 || strcmp(smsc, "b") == 0;
}

/* ---- pure policy ------------------------------------------------------- */

START_TEST(plan_open_parts_only)
{
	struct cancel_item it[VERIF_MAX_SENDS];
	struct verif v;

	make_verif(&v, VERIF_CANCELED);
	add_send(&v, "a", "1000000001", DLR_PENDING);     /* part 1 */
	add_send(&v, "a", "1000000002", DLR_PENDING);     /* part 2 */
	add_send(&v, "b", "77", DLR_DELIVERED);           /* final already */
	add_send(&v, "b", "", DLR_PENDING);               /* no id */
	add_send(&v, "c", "88", DLR_PENDING);             /* cancel = no */
	add_send(&v, "b", "99", DLR_UNDELIVERABLE);       /* final */
	ck_assert_int_eq(cancel_plan(&v, wants_ab, NULL, it, VERIF_MAX_SENDS),
	    2);
	ck_assert_str_eq(it[0].smsc, "a");
	ck_assert_str_eq(it[0].message_id, "1000000001");
	ck_assert_str_eq(it[1].message_id, "1000000002");
	/* max bounds what is written. */
	ck_assert_int_eq(cancel_plan(&v, wants_ab, NULL, it, 1), 1);
	/* Without a filter every SMSC counts: c's too. */
	ck_assert_int_eq(cancel_plan(&v, NULL, NULL, it, VERIF_MAX_SENDS), 3);

	/* Approved: the same; still pending, expired or failed: nothing. */
	v.status = VERIF_APPROVED;
	ck_assert_int_eq(cancel_plan(&v, wants_ab, NULL, it, 8), 2);
	v.status = VERIF_PENDING;
	ck_assert_int_eq(cancel_plan(&v, wants_ab, NULL, it, 8), 0);
	v.status = VERIF_EXPIRED;
	ck_assert_int_eq(cancel_plan(&v, wants_ab, NULL, it, 8), 0);
	v.status = VERIF_FAILED;
	ck_assert_int_eq(cancel_plan(&v, wants_ab, NULL, it, 8), 0);
}
END_TEST

START_TEST(fill_repeats_the_submit)
{
	struct smpp_cancel m;
	int alpha;

	cancel_fill("Verify", "+14155550123", &m, &alpha);
	ck_assert_int_eq(alpha, 1);
	ck_assert_str_eq(m.source, "Verify");
	ck_assert_str_eq(m.destination, "14155550123");
	ck_assert_int_eq(m.dest_ton, 1);
	ck_assert_int_eq(m.dest_npi, 1);
	ck_assert_str_eq(m.service_type, "");
	ck_assert_ptr_null(m.message_id);
	/* A numeric sender goes without its '+', as submitted. */
	cancel_fill("+447700900123", "+447400123456", &m, &alpha);
	ck_assert_int_eq(alpha, 0);
	ck_assert_str_eq(m.source, "447700900123");
	ck_assert_str_eq(m.destination, "447400123456");
}
END_TEST

START_TEST(seen_once_and_bounded)
{
	static struct cancel_seen cs;
	char id[32];

	memset(&cs, 0, sizeof(cs));
	ck_assert_int_eq(cancel_seen(&cs, "a", "1"), 0);
	ck_assert_int_eq(cancel_seen(&cs, "a", "1"), 1);
	/* The same id at another SMSC is another message. */
	ck_assert_int_eq(cancel_seen(&cs, "b", "1"), 0);
	ck_assert_int_eq(cancel_seen(&cs, "a1", ""), 0);
	/* The ring holds CANCEL_SEEN_MAX pairs: the oldest goes. */
	for (int i = 0; i < CANCEL_SEEN_MAX; i++) {
		snprintf(id, sizeof(id), "x%d", i);
		ck_assert_int_eq(cancel_seen(&cs, "a", id), 0);
	}
	ck_assert_int_eq(cs.n, CANCEL_SEEN_MAX);
	ck_assert_int_eq(cancel_seen(&cs, "a", "1"), 0);
	ck_assert_int_eq(cancel_seen(&cs, "a", "x4095"), 1);
}
END_TEST

/* [smsc] cancel: no by default, yes or no, anything else refused with
 * its file and line. */
START_TEST(conf_cancel_key)
{
	static const char base[] = "[smsc a]\nhost = 127.0.0.1\n"
	    "system_id = a\n";
	static const char key[] = "[key k]\ntoken = 0123456789abcdef0123\n";
	char text[512], *errors = NULL;
	struct conf *c;

	snprintf(text, sizeof(text), "%s%s", base, key);
	c = conf_load_string(text, "t.conf", &errors);
	ck_assert_msg(c != NULL, "refused: %s", errors ? errors : "?");
	ck_assert_int_eq(c->smscs[0].cancel, 0);
	conf_free(c);
	snprintf(text, sizeof(text), "%scancel = yes\n%s", base, key);
	c = conf_load_string(text, "t.conf", &errors);
	ck_assert_msg(c != NULL, "refused: %s", errors ? errors : "?");
	ck_assert_int_eq(c->smscs[0].cancel, 1);
	conf_free(c);
	snprintf(text, sizeof(text), "%scancel = maybe\n%s", base, key);
	c = conf_load_string(text, "t.conf", &errors);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(errors);
	ck_assert_msg(strstr(errors, "t.conf:4") != NULL &&
	    strstr(errors, "cancel") != NULL, "the error names neither the "
	    "line nor the key: %s", errors);
	free(errors);
}
END_TEST

/* ---- the module over fake carriers ------------------------------------ */

START_TEST(module_sends_once_counts_answers)
{
	static struct carrier a = { .name = "a", .cancels = 1, .room = 8 };
	static struct carrier b = { .name = "b", .cancels = 0, .room = 8 };
	static struct carrier full = { .name = "full", .cancels = 1 };
	struct carrier *cs[] = { &a, &b, &full };
	struct cancel *c = cancel_new(NULL);
	struct cancel_stats st;
	struct verif v;

	cancel_reconf(c, cs, 3, "Default");
	make_verif(&v, VERIF_CANCELED);
	v.sender[0] = '\0';               /* the default sender then */
	add_send(&v, "a", "1000000001", DLR_PENDING);
	add_send(&v, "a", "1000000002", DLR_PENDING);
	add_send(&v, "b", "5", DLR_PENDING);       /* b: cancel = no */
	add_send(&v, "gone", "6", DLR_PENDING);    /* not configured */
	add_send(&v, "full", "7", DLR_PENDING);    /* no room: dropped */
	ck_assert_int_eq(cancel_verif(c, &v), 3);
	ck_assert_int_eq(a.n, 2);
	ck_assert_int_eq(b.n, 0);
	ck_assert_str_eq(a.got[0].message_id, "1000000001");
	ck_assert_str_eq(a.got[1].message_id, "1000000002");
	ck_assert_str_eq(a.got[0].source, "Default");
	ck_assert_int_eq(a.got[0].source_ton, 5);
	ck_assert_int_eq(a.got[0].source_npi, 0);
	ck_assert_str_eq(a.got[0].destination, "14155550123");
	ck_assert_int_eq(a.got[0].dest_ton, 1);
	ck_assert_int_eq(a.got[0].dest_npi, 1);
	ck_assert_str_eq(a.got[0].service_type, "");
	cancel_stats(c, &st);
	ck_assert_int_eq(st.sent, 2);
	ck_assert_int_eq(st.dropped, 1);
	ck_assert_int_eq(st.outstanding, 2);

	/* The same record again (accepted late, flow_sent): nothing more. */
	ck_assert_int_eq(cancel_verif(c, &v), 0);
	ck_assert_int_eq(a.n, 2);
	cancel_stats(c, &st);
	ck_assert_int_eq(st.dropped, 1);

	/* Answers: one refused, one timed out; nothing is sent again. */
	cancel_done(c, &a, a.got[0].cookie, ESME_RCANCELFAIL);
	cancel_done(c, &a, a.got[1].cookie, SMPP_STATUS_TIMEOUT);
	ck_assert_int_eq(a.n, 2);
	cancel_stats(c, &st);
	ck_assert_int_eq(st.failed, 1);
	ck_assert_int_eq(st.timeouts, 1);
	ck_assert_int_eq(st.ok, 0);
	ck_assert_int_eq(st.outstanding, 0);

	/* A second verification: withdrawn, answered ESME_ROK. */
	make_verif(&v, VERIF_APPROVED);
	v.id[4] = 'f';
	add_send(&v, "a", "1000000003", DLR_PENDING);
	ck_assert_int_eq(cancel_verif(c, &v), 1);
	ck_assert_str_eq(a.got[2].source, "Verify");
	cancel_done(c, &a, a.got[2].cookie, ESME_ROK);
	cancel_stats(c, &st);
	ck_assert_int_eq(st.ok, 1);
	ck_assert_int_eq(st.sent, 3);

	/* One left outstanding is freed with the module (LSan checks). */
	make_verif(&v, VERIF_CANCELED);
	add_send(&v, "a", "1000000004", DLR_PENDING);
	ck_assert_int_eq(cancel_verif(c, &v), 1);
	cancel_free(c);
}
END_TEST

/* Persist, then withdraw: nothing goes before the commit of the end of
 * the verification. */
START_TEST(module_waits_for_the_commit)
{
	static struct carrier a = { .name = "a", .cancels = 1, .room = 8 };
	struct carrier *cs[] = { &a };
	struct event_base *base = event_base_new();
	char dir[] = "/tmp/check_cancel.XXXXXX", *err = NULL, cmd[64];
	struct cancel_stats st;
	struct store *store;
	struct cancel *c;
	struct verif v;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	store = store_open(base, dir, 0, &err);
	ck_assert_msg(store != NULL, "store_open: %s", err ? err : "?");
	c = cancel_new(store);
	cancel_reconf(c, cs, 1, "Verify");
	make_verif(&v, VERIF_CANCELED);
	add_send(&v, "a", "1000000001", DLR_PENDING);
	ck_assert_int_eq(store_verif_put(store, &v), STORE_OK);
	ck_assert_int_eq(cancel_verif(c, &v), 1);
	ck_assert_int_eq(a.n, 0);          /* not before the commit */
	ck_assert_int_eq(store_flush(store), STORE_OK);
	ck_assert_int_eq(a.n, 1);
	ck_assert_str_eq(a.got[0].message_id, "1000000001");
	cancel_done(c, &a, a.got[0].cookie, ESME_ROK);
	cancel_stats(c, &st);
	ck_assert_int_eq(st.ok, 1);
	/* One more, whose commit comes with the close: sent then (the
	 * carrier still lives), its cookie given back before the free. */
	make_verif(&v, VERIF_APPROVED);
	add_send(&v, "a", "1000000002", DLR_PENDING);
	ck_assert_int_eq(store_verif_put(store, &v), STORE_OK);
	ck_assert_int_eq(cancel_verif(c, &v), 1);
	store_close(store);
	ck_assert_int_eq(a.n, 2);
	cancel_done(c, &a, a.got[1].cookie, SMPP_STATUS_NOT_SENT);
	cancel_stats(c, &st);
	ck_assert_int_eq(st.failed, 1);
	ck_assert_int_eq(st.outstanding, 0);
	cancel_free(c);
	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ---- the session layer against the simulator -------------------------- */

static struct harness H;

static void
setup(void)
{
	ck_assert_int_eq(h_init(&H), 0);
}

static void
teardown(void)
{
	h_fini(&H);
}


/* What a session told the test. */
static struct {
	int nsubmit, ncancel;
	uint32_t submit_status, cancel_status[8];
	void *cancel_cookie[8];
	char message_id[66];
	enum smpp_state state;
} sr;

static void
sr_state(void *arg, struct smpp_session *s, enum smpp_state from,
    enum smpp_state to)
{
	sr.state = to;
}

static void
sr_submit(void *arg, struct smpp_session *s, void *cookie, uint32_t status,
    const char *id)
{
	sr.nsubmit++;
	sr.submit_status = status;
	snprintf(sr.message_id, sizeof(sr.message_id), "%s", id);
}

static void
sr_cancel(void *arg, struct smpp_session *s, void *cookie, uint32_t status)
{
	ck_assert_int_lt(sr.ncancel, 8);
	sr.cancel_cookie[sr.ncancel] = cookie;
	sr.cancel_status[sr.ncancel++] = status;
}

static const struct smpp_callbacks sr_cbs = {
	.state = sr_state, .submit_done = sr_submit, .cancel_done = sr_cancel,
};

static struct event_base *sbase;

static void
sr_deadline(evutil_socket_t fd, short what, void *arg)
{
	*(int *)arg = 1;
}

static int sr_n;
static int sr_bound(void) { return sr.state == SMPP_BOUND; }
static int sr_submitted(void) { return sr.nsubmit >= 1; }
static int sr_cancels(void) { return sr.ncancel >= sr_n; }

/* Run the loop until cond() or ms pass; returns cond(). */
static int
sr_wait(int (*cond)(void), int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	struct event *t;
	int expired = 0;

	t = evtimer_new(sbase, sr_deadline, &expired);
	evtimer_add(t, &tv);
	while (!cond() && !expired)
		event_base_loop(sbase, EVLOOP_ONCE);
	event_free(t);
	return cond();
}

/* The simulator with args, a session (window 4) bound to it, and one
 * message submitted and held there (its id in sr.message_id). */
static struct smpp_session *
sr_start(const char *args)
{
	static const struct smpp_message m = {
		.source = "ACME", .source_ton = 5, .source_npi = 0,
		.destination = "447700900123",
		.body = (const uint8_t *)"code 1234", .body_len = 9,
		.validity_period = "", .registered_delivery = 1,
	};
	struct smpp_config c = {
		.name = "sim", .host = "127.0.0.1", .system_id = "smsverify",
		.password = "secret1", .system_type = "",
		.bind_type = SMPP_BIND_TRANSCEIVER, .window = 4,
		.enquire_link = 30, .response_timeout = 1,
		.reconnect_min_ms = 50, .reconnect_max_ms = 500,
	};
	struct smpp_session *s;
	int cookie;

	memset(&sr, 0, sizeof(sr));
	snprintf(H.sim_args, sizeof(H.sim_args),
	    "--deliver-delay-ms 3600000 %s", args);
	ck_assert_int_eq(h_sim_start(&H), 0);
	sbase = event_base_new();
	c.port = H.sim_port;
	s = smpp_session_new(sbase, &c, &sr_cbs, NULL);
	ck_assert_ptr_nonnull(s);
	/* Not bound yet: no cancel. */
	ck_assert_int_eq(smpp_session_cancel(s, &(struct smpp_cancel){
	    .message_id = "1", .source = "ACME", .source_ton = 5,
	    .destination = "447700900123", .dest_ton = 1, .dest_npi = 1 },
	    &cookie), -1);
	smpp_session_start(s);
	ck_assert_msg(sr_wait(sr_bound, 10000), "no bind (see %s)",
	    H.sim_log);
	ck_assert_int_eq(smpp_session_submit(s, &m, &cookie), 0);
	ck_assert(sr_wait(sr_submitted, 10000));
	ck_assert_uint_eq(sr.submit_status, ESME_ROK);
	return s;
}

/* The cancel_sm of sr_start's message. */
static void
sr_msg_cancel(struct smpp_cancel *c)
{
	memset(c, 0, sizeof(*c));
	c->message_id = sr.message_id;
	c->service_type = "";
	c->source = "ACME";
	c->source_ton = 5;
	c->source_npi = 0;
	c->destination = "447700900123";
	c->dest_ton = 1;
	c->dest_npi = 1;
}

START_TEST(session_cancel_answers)
{
	struct smpp_session_stats st;
	struct smpp_session *s = sr_start("");
	struct smpp_cancel c;
	int k1, k2, k3;

	/* A field that differs from the submit's: refused. */
	sr_msg_cancel(&c);
	c.source_ton = 1;
	c.source_npi = 1;
	ck_assert_int_eq(smpp_session_cancel(s, &c, &k1), 0);
	sr_n = 1;
	ck_assert(sr_wait(sr_cancels, 10000));
	ck_assert_ptr_eq(sr.cancel_cookie[0], &k1);
	ck_assert_uint_eq(sr.cancel_status[0], ESME_RCANCELFAIL);
	/* The submit's own fields: withdrawn. */
	sr_msg_cancel(&c);
	ck_assert_int_eq(smpp_session_cancel(s, &c, &k2), 0);
	sr_n = 2;
	ck_assert(sr_wait(sr_cancels, 10000));
	ck_assert_ptr_eq(sr.cancel_cookie[1], &k2);
	ck_assert_uint_eq(sr.cancel_status[1], ESME_ROK);
	/* Gone: a second cancel is refused. */
	ck_assert_int_eq(smpp_session_cancel(s, &c, &k3), 0);
	sr_n = 3;
	ck_assert(sr_wait(sr_cancels, 10000));
	ck_assert_uint_eq(sr.cancel_status[2], ESME_RCANCELFAIL);
	/* An empty message id never goes. */
	c.message_id = "";
	ck_assert_int_eq(smpp_session_cancel(s, &c, &k3), -1);
	smpp_session_stats(s, &st);
	ck_assert_int_eq(st.cancels, 3);
	ck_assert_int_eq(st.cancel_ok, 1);
	ck_assert_int_eq(st.cancel_err, 2);
	ck_assert_int_eq(st.submits, 1);
	ck_assert_int_eq(sr.nsubmit, 1);   /* cancels are not submits */
	ck_assert_int_eq(st.window_used, 0);
	smpp_session_free(s);
	event_base_free(sbase);
}
END_TEST

/* An SMSC that never answers: half the window (2 of 4) at most, each
 * times out once and the bind stays; a drop hands the rest back. */
START_TEST(session_cancel_timeout_cap_drop)
{
	struct smpp_session_stats st;
	struct smpp_session *s = sr_start("--ignore-cancel");
	struct smpp_cancel c;
	int k[4];

	sr_msg_cancel(&c);
	ck_assert_int_eq(smpp_session_cancel(s, &c, &k[0]), 0);
	ck_assert_int_eq(smpp_session_cancel(s, &c, &k[1]), 0);
	ck_assert_int_eq(smpp_session_cancel(s, &c, &k[2]), -1);
	ck_assert_int_eq(smpp_session_window_free(s), 2);
	sr_n = 2;
	ck_assert(sr_wait(sr_cancels, 10000));
	ck_assert_uint_eq(sr.cancel_status[0], SMPP_STATUS_TIMEOUT);
	ck_assert_uint_eq(sr.cancel_status[1], SMPP_STATUS_TIMEOUT);
	ck_assert_int_eq(smpp_session_state(s), SMPP_BOUND);
	smpp_session_stats(s, &st);
	ck_assert_int_eq(st.cancel_timeouts, 2);
	ck_assert_int_eq(st.timeouts, 0);
	ck_assert_int_eq(smpp_session_window_free(s), 4);
	/* One more, then the SMSC goes away: it comes back NOT_SENT. */
	ck_assert_int_eq(smpp_session_cancel(s, &c, &k[3]), 0);
	ck_assert_int_ge(h_sim_stop(&H), 0);
	sr_n = 3;
	ck_assert(sr_wait(sr_cancels, 10000));
	ck_assert_ptr_eq(sr.cancel_cookie[2], &k[3]);
	ck_assert_uint_eq(sr.cancel_status[2], SMPP_STATUS_NOT_SENT);
	smpp_session_free(s);
	ck_assert_int_eq(sr.ncancel, 3);   /* each once */
	event_base_free(sbase);
}
END_TEST

/* Freed with a cancel outstanding: it comes back NOT_SENT at once. */
START_TEST(session_free_returns_cancel)
{
	struct smpp_session *s = sr_start("--ignore-cancel");
	struct smpp_cancel c;
	int k;

	sr_msg_cancel(&c);
	ck_assert_int_eq(smpp_session_cancel(s, &c, &k), 0);
	smpp_session_free(s);
	ck_assert_int_eq(sr.ncancel, 1);
	ck_assert_ptr_eq(sr.cancel_cookie[0], &k);
	ck_assert_uint_eq(sr.cancel_status[0], SMPP_STATUS_NOT_SENT);
	event_base_free(sbase);
}
END_TEST

/* ---- a peer that answers one request with the other's response -------- */

/* Read one whole PDU from non-blocking fd into b (>= 512 octets), running
 * the session's loop meanwhile (its writes go out from the loop); bounded
 * by ten seconds. */
static void
read_pdu(int fd, uint8_t *b, struct smpp_header *h)
{
	size_t got = 0, want = SMPP_HEADER_LEN;
	long long end = h_now_ms() + 10000;
	ssize_t n;

	while (got < want) {
		ck_assert_msg(h_now_ms() < end, "no PDU from the session");
		event_base_loop(sbase, EVLOOP_NONBLOCK);
		n = read(fd, b + got, want - got);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			h_nap_ms(5);
			continue;
		}
		ck_assert_int_gt(n, 0);
		got += (size_t)n;
		if (got == SMPP_HEADER_LEN) {
			smpp_pdu_header_decode(b, h);
			ck_assert_int_le(h->length, 512);
			want = h->length;
		}
	}
}

static int sr_sent(void) { return sr.state == SMPP_BINDING; }

/* A cancel_sm_resp for a submit's sequence number ends that submit as
 * unanswered (TIMEOUT: whether the SMSC took it is unknown), and a
 * submit_sm_resp for a cancel's ends the cancel the same way; nothing is
 * read as accepted or withdrawn. */
START_TEST(session_crossed_responses)
{
	static const struct smpp_message m = {
		.source = "ACME", .source_ton = 5, .source_npi = 0,
		.destination = "447700900123",
		.body = (const uint8_t *)"code 1234", .body_len = 9,
		.validity_period = "", .registered_delivery = 1,
	};
	struct smpp_config c = {
		.name = "crossed", .host = "127.0.0.1", .system_id = "esme",
		.password = "", .system_type = "",
		.bind_type = SMPP_BIND_TRANSCEIVER, .window = 4,
		.enquire_link = 30, .response_timeout = 30,
		.reconnect_min_ms = 50, .reconnect_max_ms = 500,
	};
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct smpp_header h;
	struct smpp_cancel cm;
	struct smpp_session *s;
	uint8_t b[512];
	int lfd, fd, k1, k2, n;

	memset(&sr, 0, sizeof(sr));
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	sbase = event_base_new();
	c.port = ntohs(sin.sin_port);
	s = smpp_session_new(sbase, &c, &sr_cbs, NULL);
	ck_assert_ptr_nonnull(s);
	smpp_session_start(s);
	ck_assert(sr_wait(sr_sent, 10000));
	ck_assert_int_ge(fd = accept(lfd, NULL, NULL), 0);
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	read_pdu(fd, b, &h);
	n = smpp_pdu_pack_resp(b, sizeof(b), h.id | SMPP_RESP, 0, h.seq,
	    "X");
	ck_assert_int_eq(write(fd, b, (size_t)n), n);
	ck_assert(sr_wait(sr_bound, 10000));

	/* The submit, answered with a cancel_sm_resp (ESME_ROK). */
	ck_assert_int_eq(smpp_session_submit(s, &m, &k1), 0);
	read_pdu(fd, b, &h);
	ck_assert_uint_eq(h.id, SMPP_SUBMIT_SM);
	smpp_pdu_header_encode(b, SMPP_CANCEL_SM | SMPP_RESP, 0, h.seq);
	ck_assert_int_eq(write(fd, b, 16), 16);
	ck_assert(sr_wait(sr_submitted, 10000));
	ck_assert_uint_eq(sr.submit_status, SMPP_STATUS_TIMEOUT);
	ck_assert_str_eq(sr.message_id, "");

	/* A cancel, answered with a submit_sm_resp (ESME_ROK, an id). */
	memset(&cm, 0, sizeof(cm));
	cm.message_id = "77";
	cm.source = "ACME";
	cm.source_ton = 5;
	cm.destination = "447700900123";
	cm.dest_ton = cm.dest_npi = 1;
	ck_assert_int_eq(smpp_session_cancel(s, &cm, &k2), 0);
	read_pdu(fd, b, &h);
	ck_assert_uint_eq(h.id, SMPP_CANCEL_SM);
	n = smpp_pdu_pack_resp(b, sizeof(b), SMPP_SUBMIT_SM | SMPP_RESP, 0,
	    h.seq, "78");
	ck_assert_int_eq(write(fd, b, (size_t)n), n);
	sr_n = 1;
	ck_assert(sr_wait(sr_cancels, 10000));
	ck_assert_ptr_eq(sr.cancel_cookie[0], &k2);
	ck_assert_uint_eq(sr.cancel_status[0], SMPP_STATUS_TIMEOUT);
	ck_assert_int_eq(sr.nsubmit, 1);
	ck_assert_int_eq(smpp_session_state(s), SMPP_BOUND);
	smpp_session_free(s);
	event_base_free(sbase);
	close(fd);
	close(lfd);
}
END_TEST

/* ---- end to end -------------------------------------------------------- */

/* The simulator holds every message until SIGUSR1; [smsc sim] cancels. */
static void
start_holding(const char *sim_extra, const char *smsc_extra)
{
	snprintf(H.sim_args, sizeof(H.sim_args),
	    "--deliver-delay-ms 3600000 %s", sim_extra);
	snprintf(H.smsc_extra, sizeof(H.smsc_extra), "cancel = yes\n%s",
	    smsc_extra);
	/* Two sends to one number at once: no resend_interval here. */
	snprintf(H.key_extra, sizeof(H.key_extra), "resend_interval = 0\n");
	h_start_all(&H);
}

/* Deliver what the simulator holds, and wait until it says it did. */
static void
release(int nth)
{
	ck_assert_int_eq(kill(H.sim_pid, SIGUSR1), 0);
	ck_assert_msg(h_wait_lines_n(H.sim_log, "event=held.released", nth,
	    H_LOG_WAIT_MS) >= nth, "the simulator did not release its held "
	    "messages (see %s)", H.sim_log);
}

/* The value of /metrics' sample `name` (with its labels), or -1. */
static long long
metric(const char *name)
{
	static char out[65536];
	char pat[160];
	const char *p;

	ck_assert_int_eq(h_http(&H, "GET", "/metrics", NULL, NULL, NULL, out,
	    sizeof(out)), 200);
	snprintf(pat, sizeof(pat), "\n%s ", name);
	if ((p = strstr(out, pat)) == NULL)
		return -1;
	return strtoll(p + strlen(pat), NULL, 10);
}

#define M_SENT "smsverify_cancel_sm_total{result=\"sent\"}"
#define M_OK "smsverify_cancel_sm_total{result=\"ok\"}"
#define M_FAILED "smsverify_cancel_sm_total{result=\"failed\"}"
#define M_TIMEOUT "smsverify_cancel_sm_total{result=\"timeout\"}"
#define M_DROPPED "smsverify_cancel_sm_total{result=\"dropped\"}"

/* The message id of id's first attempt, as the SMSC gave it. */
static void
msgid_of(const char *id, char *out, size_t size)
{
	json_t *j = h_get_verif(&H, id);
	json_t *a = json_array_get(json_object_get(j, "attempts"), 0);

	snprintf(out, size, "%s", h_jstr(a, "message_id"));
	json_decref(j);
	ck_assert_msg(out[0] != '\0', "%s has no message id", id);
}

/* The handset log's messages to phone: exactly one, with message id
 * msgid. */
static void
assert_only_message(const char *phone, const char *msgid)
{
	json_t *all = h_handset_read(H.handset), *e;
	size_t i;
	int n = 0;

	json_array_foreach(all, i, e) {
		if (strcmp(h_jstr(e, "to"), phone) != 0)
			continue;
		n++;
		ck_assert_str_eq(h_jstr(e, "message_id"), msgid);
	}
	json_decref(all);
	ck_assert_int_eq(n, 1);
}

/* POST /v1/verifications/ID/cancel answers canceled. */
static void
cancel_by_api(const char *id)
{
	char path[128];
	json_t *j;
	int st;

	snprintf(path, sizeof(path), "/v1/verifications/%s/cancel", id);
	j = h_json(&H, "POST", path, "{}", &st);
	ck_assert_int_eq(st, 200);
	ck_assert_str_eq(h_jstr(j, "status"), "canceled");
	json_decref(j);
}

/* A new send to a number supersedes the pending one: the first message
 * is withdrawn and never reaches the handset, the second does and its
 * code approves. */
START_TEST(superseded_never_arrives)
{
	char id1[64], id2[64], mid1[80], mid2[80], code[16], want[128];
	json_t *j;

	start_holding("", "");
	j = h_send_code(&H, PHONE, id1, sizeof(id1), 201);
	ck_assert_str_eq(h_jstr(j, "status"), "sent");
	json_decref(j);
	msgid_of(id1, mid1, sizeof(mid1));
	j = h_send_code(&H, PHONE, id2, sizeof(id2), 201);
	ck_assert_str_eq(h_jstr(j, "status"), "sent");
	json_decref(j);
	msgid_of(id2, mid2, sizeof(mid2));
	/* The SMSC withdrew exactly the first (its fields all matched). */
	ck_assert_msg(h_wait_lines(H.sim_log, "event=cancel.ok",
	    H_LOG_WAIT_MS) == 1, "no cancel.ok (see %s and %s)", H.sim_log,
	    H.daemon_log);
	snprintf(want, sizeof(want), "event=cancel.ok message_id=%s conn=",
	    mid1);
	ck_assert_msg(h_count_lines(H.sim_log, want) == 1 &&
	    h_count_lines(H.sim_log, "event=cancel.failed") == 0,
	    "the cancel did not withdraw %s (see %s)", mid1, H.sim_log);
	ck_assert_int_eq(h_count_sms(&H, PHONE), 0);
	release(1);
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	assert_only_message(PHONE, mid2);
	ck_assert_int_eq(metric(M_SENT), 1);
	ck_assert_int_eq(metric(M_OK), 1);
	ck_assert_int_eq(metric(M_FAILED), 0);
	ck_assert_int_eq(h_wait_lines(H.daemon_log, "event=cancel.ok",
	    H_LOG_WAIT_MS), 1);
	ck_assert(h_code_valid(&H, id2, code));
	/* Approving the second withdraws it too, as no receipt said it was
	 * delivered (this simulator sends none): the SMSC has delivered it
	 * already and refuses. */
	ck_assert_msg(h_wait_lines(H.daemon_log, "event=cancel.failed",
	    H_LOG_WAIT_MS) == 1, "no cancel.failed (see %s)", H.daemon_log);
	ck_assert_int_eq(metric(M_SENT), 2);
	ck_assert_int_eq(metric(M_FAILED), 1);
	ck_assert_int_eq(h_count_sms(&H, PHONE), 1);
	/* No code in the daemon's log lines about it. */
	ck_assert(!h_file_contains(H.daemon_log, code));
}
END_TEST

/* Seed 000 answers the code: approving it while the SMSC still holds the
 * message withdraws the message. */
START_TEST(approved_never_arrives)
{
	char body[256], out[4096], code[16], text[512];
	json_t *j;
	int st;

	start_holding("", "");
	snprintf(body, sizeof(body), "number=%%2B14155550123&api-key=%s",
	    H_TOKEN);
	st = h_http(&H, "POST", "/sms-verify",
	    "application/x-www-form-urlencoded", NULL, body, out, sizeof(out));
	ck_assert_msg(st == 200, "sms-verify answered %d: %s", st, out);
	j = json_loads(out, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert(json_is_true(json_object_get(j, "sent")));
	snprintf(code, sizeof(code), "%s", h_jstr(j, "security-code"));
	json_decref(j);
	ck_assert_int_ge((int)strlen(code), 4);
	snprintf(body, sizeof(body), "{\"number\": \"14155550123\", "
	    "\"security-code\": \"%s\"}", code);
	st = h_http(&H, "POST", "/verify-security-code", NULL, H_TOKEN, body,
	    out, sizeof(out));
	ck_assert_int_eq(st, 200);
	j = json_loads(out, 0, NULL);
	ck_assert_msg(json_is_true(json_object_get(j, "verified")),
	    "not verified: %s", out);
	json_decref(j);
	ck_assert_msg(h_wait_lines(H.sim_log, "event=cancel.ok",
	    H_LOG_WAIT_MS) == 1, "no cancel.ok (see %s and %s)", H.sim_log,
	    H.daemon_log);
	/* Another number's message, sent after, is delivered by the same
	 * release: the approved one's would have been too. */
	json_decref(h_send_code(&H, PHONE2, NULL, 0, 201));
	release(1);
	h_read_sms(H.handset, PHONE2, 1, text, sizeof(text), code,
	    sizeof(code));
	ck_assert_int_eq(h_count_sms(&H, PHONE), 0);
	ck_assert_int_eq(metric(M_OK), 1);
}
END_TEST

/* Canceled through the API while held: never reaches the handset. */
START_TEST(api_cancel_never_arrives)
{
	char id[64], id2[64], mid2[80], code[16];
	json_t *j;
	int st;

	start_holding("", "");
	json_decref(h_send_code(&H, PHONE, id, sizeof(id), 201));
	cancel_by_api(id);
	ck_assert_msg(h_wait_lines(H.sim_log, "event=cancel.ok",
	    H_LOG_WAIT_MS) == 1, "no cancel.ok (see %s and %s)", H.sim_log,
	    H.daemon_log);
	json_decref(h_send_code(&H, PHONE2, id2, sizeof(id2), 201));
	msgid_of(id2, mid2, sizeof(mid2));
	release(1);
	h_read_code(H.handset, PHONE2, 1, code, sizeof(code));
	assert_only_message(PHONE2, mid2);
	ck_assert_int_eq(h_count_sms(&H, PHONE), 0);
	ck_assert_int_eq(metric(M_SENT), 1);
	ck_assert_int_eq(metric(M_OK), 1);
	ck_assert(h_code_valid(&H, id2, code));
	/* The canceled one stays canceled. */
	j = h_check(&H, id, "123456", &st);
	ck_assert_str_eq(h_jstr(j, "status"), "canceled");
	json_decref(j);
}
END_TEST

/* The SMSC refuses the cancel: counted and logged, not retried; the
 * message is delivered as the SMSC decides and its receipt still updates
 * the verification. */
START_TEST(refused_cancel_delivers_and_receipt_applies)
{
	char id[64], mid[80], code[16];

	start_holding("--refuse-cancel --dlr delivered --dlr-delay-ms 20",
	    "");
	json_decref(h_send_code(&H, PHONE, id, sizeof(id), 201));
	msgid_of(id, mid, sizeof(mid));
	cancel_by_api(id);
	ck_assert_msg(h_wait_lines(H.daemon_log, "event=cancel.failed",
	    H_LOG_WAIT_MS) == 1, "no cancel.failed (see %s)", H.daemon_log);
	ck_assert(h_file_contains(H.daemon_log, "status=ESME_RCANCELFAIL"));
	ck_assert_int_eq(metric(M_FAILED), 1);
	release(1);
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	assert_only_message(PHONE, mid);
	h_wait_delivery(&H, id, "delivered");
	/* One cancel_sm in all: nothing was retried. */
	ck_assert_int_eq(h_count_lines(H.sim_log, "event=cancel.failed"), 1);
	ck_assert_int_eq(metric(M_SENT), 1);
	ck_assert_int_eq(metric(M_OK), 0);
	/* Canceled stays canceled. */
	ck_assert(!h_code_valid(&H, id, code));
}
END_TEST

/* The SMSC never answers the cancel: it times out (response_timeout),
 * counted and logged, not retried, and the bind stays up. */
START_TEST(unanswered_cancel_times_out)
{
	char id[64], id2[64], code[16];
	json_t *j, *e, *b;
	int st;

	H.response_timeout = 1;
	start_holding("--ignore-cancel", "");
	json_decref(h_send_code(&H, PHONE, id, sizeof(id), 201));
	cancel_by_api(id);
	ck_assert_int_eq(h_wait_lines(H.sim_log, "event=cancel.ignored",
	    H_LOG_WAIT_MS), 1);
	ck_assert_msg(h_wait_lines(H.daemon_log, "event=cancel.timeout",
	    H_LOG_WAIT_MS) == 1, "no cancel.timeout (see %s)", H.daemon_log);
	ck_assert_int_eq(metric(M_TIMEOUT), 1);
	ck_assert_int_eq(metric("smsverify_cancel_sm_outstanding"), 0);
	/* The bind is up and takes the next message. */
	j = h_json(&H, "GET", "/v1/smscs", NULL, &st);
	ck_assert_int_eq(st, 200);
	e = h_smsc_entry(j, "sim");
	ck_assert_ptr_nonnull(e);
	ck_assert(json_is_true(json_object_get(e, "up")));
	b = json_array_get(json_object_get(e, "binds"), 0);
	ck_assert_str_eq(h_jstr(b, "state"), "bound");
	ck_assert_int_eq(json_integer_value(json_object_get(b,
	    "reconnects")), 0);
	ck_assert(json_is_true(json_object_get(e, "cancel")));
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
	    e, "cancels"), "timeouts")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
	    e, "cancels"), "sent")), 1);
	json_decref(j);
	j = h_send_code(&H, PHONE2, id2, sizeof(id2), 201);
	ck_assert_str_eq(h_jstr(j, "status"), "sent");
	json_decref(j);
	/* One cancel_sm in all: the timeout was not retried. */
	ck_assert_int_eq(metric(M_SENT), 1);
	release(1);
	h_read_code(H.handset, PHONE2, 1, code, sizeof(code));
	ck_assert_int_eq(h_count_lines(H.sim_log, "event=cancel.ignored"), 1);
	ck_assert_int_eq(metric(M_SENT), 1);
}
END_TEST

/* A bind takes at most half its window of cancels at a time: with window
 * 2 and an SMSC that never answers, the second cancel is dropped and
 * counted, and submits still have their slot. */
START_TEST(cancel_slots_full_drop)
{
	char id1[64], id2[64], id3[64], code[16];
	json_t *j;

	start_holding("--ignore-cancel", "window = 2\n");
	json_decref(h_send_code(&H, PHONE, id1, sizeof(id1), 201));
	json_decref(h_send_code(&H, PHONE2, id2, sizeof(id2), 201));
	cancel_by_api(id1);
	ck_assert_int_eq(h_wait_lines(H.sim_log, "event=cancel.ignored",
	    H_LOG_WAIT_MS), 1);
	cancel_by_api(id2);
	ck_assert_msg(h_wait_lines(H.daemon_log, "event=cancel.dropped",
	    H_LOG_WAIT_MS) == 1, "no cancel.dropped (see %s)", H.daemon_log);
	ck_assert_int_eq(metric(M_SENT), 1);
	ck_assert_int_eq(metric(M_DROPPED), 1);
	ck_assert_int_eq(metric("smsverify_cancel_sm_outstanding"), 1);
	/* The window's other slot still carries a submit. */
	j = h_send_code(&H, "+14155550199", id3, sizeof(id3), 201);
	ck_assert_str_eq(h_jstr(j, "status"), "sent");
	json_decref(j);
	release(1);
	h_read_code(H.handset, "+14155550199", 1, code, sizeof(code));
	/* Both canceled messages were delivered (the SMSC ignored one
	 * cancel, the other never went). */
	ck_assert_int_eq(h_count_sms(&H, PHONE), 1);
	ck_assert_int_eq(h_count_sms(&H, PHONE2), 1);
	ck_assert_int_eq(h_count_lines(H.sim_log, "event=cancel.ignored"), 1);
}
END_TEST

/* Canceled while its submit_sm is still unanswered: nothing to withdraw
 * yet; once the SMSC accepts it, it is withdrawn. */
START_TEST(canceled_in_flight_withdrawn_on_accept)
{
	char id[64], id2[64], code[16];
	json_t *j;

	H.submit_wait_ms = 0;       /* the send answers at once, `queued` */
	H.response_timeout = 60;    /* the held answer is not timed out */
	start_holding("--hold-resp", "");
	j = h_send_code(&H, PHONE, id, sizeof(id), 201);
	ck_assert_str_eq(h_jstr(j, "status"), "queued");
	json_decref(j);
	ck_assert_int_eq(h_wait_lines(H.sim_log, "event=submit ",
	    H_STATE_WAIT_MS), 1);
	cancel_by_api(id);
	ck_assert_int_eq(metric(M_SENT), 0);
	/* The submit_sm_resp goes out: accepted after the end. */
	ck_assert_int_eq(kill(H.sim_pid, SIGUSR1), 0);
	ck_assert_msg(h_wait_lines(H.sim_log, "event=cancel.ok",
	    H_STATE_WAIT_MS) == 1, "no cancel.ok (see %s and %s)", H.sim_log,
	    H.daemon_log);
	/* With submit_wait_ms 0 the answer may go before the SMSC's
	 * (always so on the store on Redis, where the submit follows the
	 * record's commit): sent or queued, it reaches the handset. */
	j = h_send_code(&H, PHONE2, id2, sizeof(id2), 201);
	ck_assert(strcmp(h_jstr(j, "status"), "sent") == 0 ||
	    strcmp(h_jstr(j, "status"), "queued") == 0);
	json_decref(j);
	release(1);
	h_read_code(H.handset, PHONE2, 1, code, sizeof(code));
	ck_assert_int_eq(h_count_sms(&H, PHONE), 0);
	ck_assert_int_eq(metric(M_OK), 1);
}
END_TEST

/* A text in two parts: each part's message id is withdrawn, and no part
 * reaches the handset. */
START_TEST(multipart_every_part_withdrawn)
{
	char id[64], body[1024], want[128], code[16];
	json_t *j, *atts;
	int st;

	start_holding("", "");
	/* About 230 GSM characters: two parts of at most 153. */
	snprintf(body, sizeof(body), "{\"phone\": \"" PHONE "\", "
	    "\"template\": \"Your one-time code for signing in to the "
	    "Example Corp customer portal is {code}. It is valid for "
	    "{minutes} minutes. Never share it with anyone, not even with "
	    "someone who says they work for Example Corp support.\"}");
	json_decref(h_send(&H, body, id, sizeof(id), 201));
	snprintf(body, sizeof(body), "/v1/verifications/%s", id);
	j = h_json(&H, "GET", body, NULL, &st);
	ck_assert_int_eq(st, 200);
	atts = json_object_get(j, "attempts");
	ck_assert_int_eq((int)json_array_size(atts), 2);
	cancel_by_api(id);
	ck_assert_msg(h_wait_lines_n(H.sim_log, "event=cancel.ok", 2,
	    H_LOG_WAIT_MS) == 2, "not every part was withdrawn (see %s and "
	    "%s)", H.sim_log, H.daemon_log);
	for (int i = 0; i < 2; i++) {
		snprintf(want, sizeof(want), "event=cancel.ok message_id=%s "
		    "conn=", h_jstr(json_array_get(atts, i),
		    "message_id"));
		ck_assert_msg(h_count_lines(H.sim_log, want) == 1,
		    "no \"%s\" in %s", want, H.sim_log);
	}
	json_decref(j);
	json_decref(h_send_code(&H, PHONE2, NULL, 0, 201));
	release(1);
	h_read_code(H.handset, PHONE2, 1, code, sizeof(code));
	ck_assert_int_eq(h_count_sms(&H, PHONE), 0);
	ck_assert_int_eq(metric(M_OK), 2);
}
END_TEST

/* Without cancel = yes nothing is withdrawn. */
START_TEST(off_by_default)
{
	char id[64], code[16];

	snprintf(H.sim_args, sizeof(H.sim_args), "--deliver-delay-ms 3600000");
	h_start_all(&H);
	json_decref(h_send_code(&H, PHONE, id, sizeof(id), 201));
	cancel_by_api(id);
	release(1);
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	ck_assert_int_eq(metric(M_SENT), 0);
	ck_assert_int_eq(h_count_lines(H.sim_log, "event=cancel"), 0);
}
END_TEST

/* The simulator's hold is bounded: past --hold-max the oldest message is
 * delivered early. */
START_TEST(sim_hold_is_bounded)
{
	char code[16];

	snprintf(H.sim_args, sizeof(H.sim_args),
	    "--deliver-delay-ms 3600000 --hold-max 1");
	h_start_all(&H);
	json_decref(h_send_code(&H, PHONE, NULL, 0, 201));
	ck_assert_int_eq(h_count_sms(&H, PHONE), 0);
	json_decref(h_send_code(&H, PHONE2, NULL, 0, 201));
	/* The first went out to make room, without a release. */
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	ck_assert_int_eq(h_count_lines(H.sim_log, "event=hold.full"), 1);
	ck_assert_int_eq(h_count_sms(&H, PHONE2), 0);
	release(1);
	h_read_code(H.handset, PHONE2, 1, code, sizeof(code));
}
END_TEST

static Suite *
cancel_suite(void)
{
	Suite *s = suite_create("cancel");
	TCase *tc = tcase_create("policy");
	const struct h_test e2e[] = {
		{ "superseded_never_arrives", superseded_never_arrives, 0 },
		{ "approved_never_arrives", approved_never_arrives, 0 },
		{ "api_cancel_never_arrives", api_cancel_never_arrives, 0 },
		{ "refused_cancel_delivers_and_receipt_applies",
		    refused_cancel_delivers_and_receipt_applies, 0 },
		{ "unanswered_cancel_times_out", unanswered_cancel_times_out,
		    0 },
		{ "cancel_slots_full_drop", cancel_slots_full_drop, 0 },
		{ "canceled_in_flight_withdrawn_on_accept",
		    canceled_in_flight_withdrawn_on_accept, 0 },
		{ "multipart_every_part_withdrawn",
		    multipart_every_part_withdrawn, 0 },
		{ "off_by_default", off_by_default, 0 },
		{ "sim_hold_is_bounded", sim_hold_is_bounded, 0 },
		{ "session_cancel_answers", session_cancel_answers, 0 },
		{ "session_cancel_timeout_cap_drop",
		    session_cancel_timeout_cap_drop, 0 },
		{ "session_free_returns_cancel", session_free_returns_cancel,
		    0 },
		{ "session_crossed_responses", session_crossed_responses, 0 },
	};

	tcase_add_test(tc, plan_open_parts_only);
	tcase_add_test(tc, fill_repeats_the_submit);
	tcase_add_test(tc, seen_once_and_bounded);
	tcase_add_test(tc, conf_cancel_key);
	tcase_add_test(tc, module_sends_once_counts_answers);
	tcase_add_test(tc, module_waits_for_the_commit);
	suite_add_tcase(s, tc);
	h_add_tests(s, e2e, sizeof(e2e) / sizeof(e2e[0]), setup, teardown);
	return s;
}

int
main(void)
{
	return h_run_suite(cancel_suite());
}
