/*
 * testmode.c - captured sends, their scripted receipts and the readers
 * waiting for them (testmode.h).
 *
 * A capture is the accept an SMSC would have given, written where
 * dispatch.c writes it: a send on TESTMODE_SMSC with a message id of our
 * own ("T" and the verification's hex), the receipt map entry for it, the
 * record (send_state sent, sealed text erased), plus the capture entry
 * that keeps the sealed text for the tests to read, and the scripted
 * receipt with its due time.  The receipt is a libevent timer per
 * message; when it fires, dlr_scripted() finds the message through the
 * receipt map as a real receipt would, so the record, its GET, its
 * webhook event and the figures move exactly as with an SMSC.  A receipt
 * whose timer is pending at shutdown is scheduled again at the next start
 * (testmode_resume(): a walk of every capture, kept no longer than
 * [store] retention).
 *
 * Waiting readers (GET /v1/test/messages?wait=) are a list with a timer
 * each; a capture wakes the readers of its number from the commit
 * callback, so a woken reader reads what is durable.  The list is bounded
 * (TESTMODE_WAIT_MAX) because each holds an HTTP request.
 *
 * Codes never reach a log line here: the captured text stays sealed in
 * the store and is opened only for testmode_messages().
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "conf.h"
#include "dlr.h"
#include "log.h"
#include "smpp.h"
#include "store.h"
#include "testmode.h"
#include "util.h"

/* A scripted receipt waiting for its time. */
struct tm_receipt {
	TAILQ_ENTRY(tm_receipt) next;
	struct testmode *tm;
	struct event *ev;
	char message_id[66];
	enum smpp_msg_state state;
};

struct testmode_wait {
	TAILQ_ENTRY(testmode_wait) next;
	struct testmode *tm;
	struct event *ev;
	char phone[17];
	testmode_wait_cb cb;
	void *arg;
};

/* A capture waiting for its commit, to wake its number's readers. */
struct tm_woken {
	struct testmode *tm;
	char phone[17];
};

struct testmode {
	struct event_base *base;
	struct store *store;
	struct dlr *dlr;
	uint8_t secret[VERIFY_SECRET_LEN];
	TAILQ_HEAD(, tm_receipt) receipts;
	TAILQ_HEAD(, testmode_wait) waits;
	struct testmode_stats stats;
};

struct testmode *
testmode_new(struct event_base *base, struct store *store, struct dlr *dlr,
    const uint8_t *secret)
{
	struct testmode *tm = xcalloc(1, sizeof(*tm));

	tm->base = base;
	tm->store = store;
	tm->dlr = dlr;
	memcpy(tm->secret, secret, sizeof(tm->secret));
	TAILQ_INIT(&tm->receipts);
	TAILQ_INIT(&tm->waits);
	return tm;
}

static void
receipt_free(struct testmode *tm, struct tm_receipt *r)
{
	TAILQ_REMOVE(&tm->receipts, r, next);
	event_free(r->ev);
	free(r);
}

/* Take w off the list and call it. */
static void
wait_end(struct testmode *tm, struct testmode_wait *w, int woken)
{
	TAILQ_REMOVE(&tm->waits, w, next);
	tm->stats.waiting--;
	event_free(w->ev);
	w->cb(w->arg, woken);
	free(w);
}

void
testmode_stop(struct testmode *tm)
{
	struct tm_receipt *r;
	struct testmode_wait *w;

	if (tm == NULL)
		return;
	while ((r = TAILQ_FIRST(&tm->receipts)) != NULL)
		receipt_free(tm, r);
	while ((w = TAILQ_FIRST(&tm->waits)) != NULL)
		wait_end(tm, w, 0);
}

void
testmode_free(struct testmode *tm)
{
	if (tm == NULL)
		return;
	testmode_stop(tm);
	OPENSSL_cleanse(tm->secret, sizeof(tm->secret));
	free(tm);
}

void
testmode_stats(const struct testmode *tm, struct testmode_stats *out)
{
	*out = tm->stats;
}

void
testmode_count_refused(struct testmode *tm)
{
	tm->stats.refused++;
}

/* ---- capture ----------------------------------------------------------- */

static void
receipt_due(evutil_socket_t fd, short what, void *arg)
{
	struct tm_receipt *r = arg;
	struct testmode *tm = r->tm;

	(void)fd;
	(void)what;
	if (dlr_scripted(tm->dlr, TESTMODE_SMSC, r->message_id, r->state) == 0)
		tm->stats.receipts++;
	else
		log_info("test.receipt_lost", "msgid=%s msg=\"no verification "
		    "holds it any more\"", r->message_id);
	receipt_free(tm, r);
}

/* The receipt state of a [test] delivery; 0 for none. */
static enum smpp_msg_state
state_of(int delivery)
{
	switch (delivery) {
	case CONF_TEST_DELIVERED: return SMPP_MSG_DELIVERED;
	case CONF_TEST_UNDELIVERABLE: return SMPP_MSG_UNDELIVERABLE;
	case CONF_TEST_EXPIRED: return SMPP_MSG_EXPIRED;
	}
	return SMPP_MSG_UNKNOWN_STATE;
}

/* Apply the receipt state to message_id in ms milliseconds. */
static void
receipt_schedule(struct testmode *tm, const char *message_id,
    enum smpp_msg_state state, int64_t ms)
{
	struct tm_receipt *r = xcalloc(1, sizeof(*r));
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	r->tm = tm;
	util_strlcpy(r->message_id, message_id, sizeof(r->message_id));
	r->state = state;
	r->ev = evtimer_new(tm->base, receipt_due, r);
	TAILQ_INSERT_TAIL(&tm->receipts, r, next);
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(r->ev, &tv);
}

/* The message id of v's captured send into out: "T" and the id's hex. */
static void
captured_msgid(const struct verif *v, char *out, size_t size)
{
	snprintf(out, size, "T%s", strncmp(v->id, "ver_", 4) == 0 ?
	    v->id + 4 : v->id);
}

static void
capture_committed(void *arg, int result)
{
	struct tm_woken *k = arg;
	struct testmode *tm = k->tm;
	struct testmode_wait *w, **hit;
	int n = 0, i;

	if (result != STORE_OK || tm->stats.waiting == 0) {
		free(k);
		return;
	}
	/* Gather first: a callback may start waiting again. */
	hit = xcalloc((size_t)tm->stats.waiting, sizeof(*hit));
	TAILQ_FOREACH(w, &tm->waits, next)
		if (strcmp(w->phone, k->phone) == 0 && n < tm->stats.waiting)
			hit[n++] = w;
	for (i = 0; i < n; i++)
		wait_end(tm, hit[i], 1);
	free(hit);
	free(k);
}

int
testmode_capture(struct testmode *tm, struct verif *v, int delivery,
    int delay)
{
	struct store_capture c;
	struct verif_send *s;
	struct tm_woken *k;
	char norm[80], pbuf[24];
	int rc;

	memset(&c, 0, sizeof(c));
	util_strlcpy(c.id, v->id, sizeof(c.id));
	util_strlcpy(c.phone, v->phone, sizeof(c.phone));
	c.sent_at_ms = util_now_ms();
	c.receipt = delivery;
	c.receipt_at_ms = delivery == CONF_TEST_NONE ? 0 :
	    c.sent_at_ms + (int64_t)delay * 1000;
	c.sealed = v->sealed;
	if ((rc = store_capture_put(tm->store, &c)) != STORE_OK)
		return rc;

	if (v->nsend == VERIF_MAX_SENDS) {
		memmove(&v->send[0], &v->send[1],
		    sizeof(v->send[0]) * (VERIF_MAX_SENDS - 1));
		v->nsend--;
	}
	s = &v->send[v->nsend++];
	memset(s, 0, sizeof(*s));
	util_strlcpy(s->smsc, TESTMODE_SMSC, sizeof(s->smsc));
	captured_msgid(v, s->message_id, sizeof(s->message_id));
	s->submitted_at = util_now();
	s->dlr = DLR_PENDING;
	s->error = -1;
	util_strlcpy(s->reason, "test", sizeof(s->reason));
	if (smpp_msgid_normalise(s->message_id, 0, norm, sizeof(norm)) == 0 &&
	    (rc = store_msgid_put(tm->store, TESTMODE_SMSC, norm, v->id)) !=
	    STORE_OK)
		return rc;
	v->send_state = SEND_SENT;
	free(v->sealed);
	v->sealed = NULL;
	v->updated_at = util_now();
	if ((rc = store_verif_put(tm->store, v)) != STORE_OK)
		return rc;
	tm->stats.captured++;
	log_info("test.captured", "id=%s phone=%s delivery=%s delay=%d",
	    v->id, log_phone(pbuf, sizeof(pbuf), v->phone),
	    delivery == CONF_TEST_NONE ? "none" : dlr_strstate(
	    delivery == CONF_TEST_DELIVERED ? DLR_DELIVERED :
	    delivery == CONF_TEST_UNDELIVERABLE ? DLR_UNDELIVERABLE :
	    DLR_EXPIRED), delay);

	if (delivery != CONF_TEST_NONE)
		receipt_schedule(tm, s->message_id, state_of(delivery),
		    (int64_t)delay * 1000);
	k = xcalloc(1, sizeof(*k));
	k->tm = tm;
	util_strlcpy(k->phone, v->phone, sizeof(k->phone));
	store_on_commit(tm->store, capture_committed, k);
	return STORE_OK;
}

/* A capture at start-up: its receipt again, unless it was applied. */
static void
resume_one(void *arg, const struct store_capture *c)
{
	struct testmode *tm = arg;
	char msgid[66];
	struct verif v;
	int i;

	if (c->receipt_at_ms == 0 || c->receipt == CONF_TEST_NONE)
		return;
	memset(&v, 0, sizeof(v));
	if (store_verif_get(tm->store, c->id, &v) != STORE_OK)
		return;
	captured_msgid(&v, msgid, sizeof(msgid));
	for (i = 0; i < v.nsend; i++)
		if (strcmp(v.send[i].smsc, TESTMODE_SMSC) == 0 &&
		    strcmp(v.send[i].message_id, msgid) == 0)
			break;
	if (i < v.nsend && v.send[i].dlr_at == 0) {
		receipt_schedule(tm, msgid, state_of(c->receipt),
		    c->receipt_at_ms - util_now_ms());
		tm->stats.resumed++;
	}
	verif_clear(&v);
}

int
testmode_resume(struct testmode *tm)
{
	uint64_t before = tm->stats.resumed;

	if (store_capture_each(tm->store, NULL, 0, INT32_MAX, resume_one,
	    tm) < 0)
		return -1;
	if (tm->stats.resumed > before)
		log_info("test.resumed", "receipts=%llu",
		    (unsigned long long)(tm->stats.resumed - before));
	return (int)(tm->stats.resumed - before);
}

/* ---- reading ------------------------------------------------------------ */

int
testmode_code_of(const char *text, char *code, size_t size)
{
	const char *p = text;
	size_t n;

	code[0] = '\0';
	while (p != NULL && *p != '\0') {
		if (!isdigit((unsigned char)*p)) {
			p++;
			continue;
		}
		n = strspn(p, "0123456789");
		if (n >= 4 && n <= 12 && n < size) {
			memcpy(code, p, n);
			code[n] = '\0';
			return 0;
		}
		p += n;
	}
	return -1;
}

struct collect {
	struct testmode *tm;
	struct testmode_message *out;
	int n;
};

static void
collect_one(void *arg, const struct store_capture *c)
{
	struct collect *cl = arg;
	struct testmode_message *m = &cl->out[cl->n++];
	struct verif v;

	memset(m, 0, sizeof(*m));
	util_strlcpy(m->id, c->id, sizeof(m->id));
	util_strlcpy(m->phone, c->phone, sizeof(m->phone));
	m->sent_at_ms = c->sent_at_ms;
	m->text = verify_unseal(cl->tm->secret, c->id, c->sealed);
	if (m->text != NULL)
		testmode_code_of(m->text, m->code, sizeof(m->code));
	m->delivery = "unknown";
	memset(&v, 0, sizeof(v));
	if (store_verif_get(cl->tm->store, c->id, &v) != STORE_OK)
		return;
	for (int i = v.nsend - 1; i >= 0; i--) {
		if (strcmp(v.send[i].smsc, TESTMODE_SMSC) != 0)
			continue;
		m->delivery = v.send[i].dlr_at == 0 ? "pending" :
		    dlr_strstate(v.send[i].dlr);
		break;
	}
	verif_clear(&v);
}

int
testmode_messages(struct testmode *tm, const char *phone, int64_t since_ms,
    int max, struct testmode_message **out)
{
	struct collect cl;
	int n;

	*out = NULL;
	if (max <= 0)
		return 0;
	cl.tm = tm;
	cl.out = xcalloc((size_t)max, sizeof(*cl.out));
	cl.n = 0;
	n = store_capture_each(tm->store, phone, since_ms, max, collect_one,
	    &cl);
	if (n < 0) {
		testmode_messages_free(cl.out, cl.n);
		return -1;
	}
	*out = cl.out;
	return cl.n;
}

void
testmode_messages_free(struct testmode_message *m, int n)
{
	if (m == NULL)
		return;
	for (int i = 0; i < n; i++) {
		if (m[i].text != NULL) {
			OPENSSL_cleanse(m[i].text, strlen(m[i].text));
			free(m[i].text);
		}
		OPENSSL_cleanse(m[i].code, sizeof(m[i].code));
	}
	free(m);
}

/* ---- waiting readers ---------------------------------------------------- */

static void
wait_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct testmode_wait *w = arg;

	(void)fd;
	(void)what;
	wait_end(w->tm, w, 0);
}

int
testmode_wait(struct testmode *tm, const char *phone, int secs,
    testmode_wait_cb cb, void *arg)
{
	struct testmode_wait *w;
	struct timeval tv;

	if (tm->stats.waiting >= TESTMODE_WAIT_MAX)
		return -1;
	if (secs < 1)
		secs = 1;
	if (secs > TESTMODE_WAIT_SECS)
		secs = TESTMODE_WAIT_SECS;
	w = xcalloc(1, sizeof(*w));
	w->tm = tm;
	util_strlcpy(w->phone, phone, sizeof(w->phone));
	w->cb = cb;
	w->arg = arg;
	w->ev = evtimer_new(tm->base, wait_timeout, w);
	TAILQ_INSERT_TAIL(&tm->waits, w, next);
	tm->stats.waiting++;
	tv.tv_sec = secs;
	tv.tv_usec = 0;
	evtimer_add(w->ev, &tv);
	return 0;
}
