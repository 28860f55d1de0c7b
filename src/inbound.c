/*
 * inbound.c - inbound (mobile originated) SMS: deliver_sm -> message.
 *
 * The life of one deliver_sm that is not a receipt (smpp.h's mo
 * callback, through the carrier):
 *
 *   decode   smpp_udh_parse() finds the text behind a user data header
 *            and the concatenation IE (8- or 16-bit reference) if any;
 *            smpp_text_decode() reads the text by data_coding and the
 *            SMSC's data_coding_default.  What does not decode (8-bit
 *            data, a malformed UDH) is answered ESME_ROK and dropped:
 *            the SMSC sending it again would not make it text.
 *   join     a part goes into the table of waiting parts (inbound_parts.h)
 *            and into the store, in the same batch; the last one makes
 *            the whole text, and the stored parts are deleted in the
 *            batch that stores the message.  At start-up the stored parts
 *            go back into the table (inbound_resume), so a message whose
 *            parts straddle a restart is still joined.
 *   store    the message (id "msg_" + 24 hex, the key of the [number] its
 *            destination names, "" for none), its digest (SHA-256 of
 *            smsc, from, to and text) and its message.received event
 *            commit together.
 *   answer   deliver_sm_resp goes out from the commit callback (persist,
 *            then acknowledge): ESME_ROK, or ESME_RX_T_APPN when the
 *            commit failed so the SMSC sends it again.
 *
 * Duplicates: an SMSC sends a deliver_sm again when our answer did not
 * reach it (or was ESME_RX_T_APPN: after a failed commit the table of
 * parts is read again from the store, so what the store lost is taken
 * again when it comes back).  A part already held (or of a message joined within
 * INBOUND_PARTS_AGE_SECS) is answered and ignored; a whole message whose
 * digest was stored within INBOUND_DEDUPE_SECS is answered and not stored
 * again.  Either way the answer still waits for the commit in progress,
 * which holds the first copy.
 *
 * Long polls (GET /v1/messages?wait=) wait in a bounded list; every
 * message's commit wakes them all, and each reads the inbox again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <openssl/evp.h>

#include "carrier.h"
#include "conf.h"
#include "inbound.h"
#include "inbound_codes.h"
#include "inbound_parts.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "verify.h"
#include "webhook.h"

#define INBOUND_PENDING_MAX 512          /* messages waiting for parts */
#define INBOUND_PARTS_BYTES (4u << 20)   /* their text, in all */
#define INBOUND_TEXT_MAX 16384           /* a joined message */
#define INBOUND_PART_BUF (INBOUND_PART_TEXT_MAX + 1)

struct inbound_waiter {
	TAILQ_ENTRY(inbound_waiter) link;
	void (*fn)(void *arg);
	void *arg;
};
TAILQ_HEAD(waiter_list, inbound_waiter);

struct inbound {
	struct event_base *base;
	struct store *store;
	struct webhook *webhook;
	const struct conf *conf;
	struct inbound_parts *parts;
	struct waiter_list waiters;
	int nwaiters;
	int wake_staged;          /* a commit callback will wake pollers */
	int closing;              /* inbound_free(): no new waiters */
	int64_t last_ms;          /* the last message's received_ms */
	int parts_stale;          /* a commit failed: the table may hold
	                             parts the store lost */
	struct inbound_stats st;
};

/* The answer to one deliver_sm, once its batch commits. */
struct inbound_ack {
	struct inbound *in;
	struct smpp_session *sess;
	uint64_t ack;
};

static void
on_parts_dropped(void *arg, const char *key, enum inbound_drop why)
{
	struct inbound *in = arg;

	const char *slash = strrchr(key, '/');
	int total = slash != NULL ? atoi(slash + 1) : 255;

	in->st.dropped++;
	/* The stored parts go with the message (the key ends with its part
	 * count, inbound_parts_key()). */
	if (total < 1 || total > 255)
		total = 255;
	for (int seq = 1; seq <= total; seq++)
		store_inbound_part_del(in->store, key, seq);
	log_warn("inbound.parts_dropped", "reason=%s",
	    why == INBOUND_DROP_AGED ? "aged" : "full");
}

struct inbound *
inbound_new(struct event_base *base, struct store *store,
    struct webhook *webhook, const struct conf *conf)
{
	struct inbound *in = xcalloc(1, sizeof(*in));

	in->base = base;
	in->store = store;
	in->webhook = webhook;
	in->conf = conf;
	in->parts = inbound_parts_new(INBOUND_PENDING_MAX, INBOUND_PARTS_BYTES,
	    (int64_t)INBOUND_PARTS_AGE_SECS * 1000, on_parts_dropped, in);
	TAILQ_INIT(&in->waiters);
	return in;
}

void
inbound_reconf(struct inbound *in, const struct conf *conf)
{
	in->conf = conf;
}

/* Fire every waiter once: those a callback adds wait for the next. */
static void
wake_all(struct inbound *in)
{
	struct waiter_list now = TAILQ_HEAD_INITIALIZER(now);
	struct inbound_waiter *w;

	TAILQ_CONCAT(&now, &in->waiters, link);
	in->nwaiters = 0;
	while ((w = TAILQ_FIRST(&now)) != NULL) {
		TAILQ_REMOVE(&now, w, link);
		w->fn(w->arg);
		free(w);
	}
}

void
inbound_free(struct inbound *in)
{
	if (in == NULL)
		return;
	in->closing = 1;
	wake_all(in);
	/* The answers of what is staged go out while we still exist. */
	store_flush(in->store);
	inbound_parts_free(in->parts);
	free(in);
}

void
inbound_stop_polls(struct inbound *in)
{
	if (in == NULL)
		return;
	in->closing = 1;
	wake_all(in);
}

/* ---- resume ------------------------------------------------------------ */

static void
resume_part(void *arg, const char *pkey, int seq, int64_t at_ms,
    const char *text)
{
	struct inbound *in = arg;
	uint8_t total;
	char *joined = NULL;
	const char *slash = strrchr(pkey, '/');

	/* The key ends with "/TOTAL" (inbound_parts_key()). */
	if (slash == NULL || (total = (uint8_t)atoi(slash + 1)) == 0)
		return;
	if (inbound_parts_add(in->parts, pkey, total, (uint8_t)seq, text,
	    at_ms, &joined) == INBOUND_PART_DONE) {
		/* Cannot be: a message is stored in the batch that deletes
		 * its parts.  Keep the parts; the sweep ages them out. */
		free(joined);
	}
}

int
inbound_resume(struct inbound *in)
{
	int n = store_inbound_parts_each(in->store, resume_part, in);

	if (n < 0) {
		log_err("inbound.resume_failed", "what=parts");
		return -1;
	}
	if (n > 0)
		log_info("inbound.resumed", "parts=%d waiting=%d", n,
		    inbound_parts_pending(in->parts));
	return n;
}

/* ---- one deliver_sm ------------------------------------------------------ */

static void
on_committed(void *arg, int result)
{
	struct inbound_ack *a = arg;

	/* A failed batch took the parts it staged with it, but the table
	 * holds them: the SMSC sends them again, and they must not read as
	 * duplicates.  The table is read again from the store first. */
	if (result != STORE_OK)
		a->in->parts_stale = 1;
	carrier_receipt_ack(a->sess, a->ack,
	    result == STORE_OK ? ESME_ROK : ESME_RX_T_APPN);
	free(a);
}

static void
on_committed_wake(void *arg, int result)
{
	struct inbound *in = arg;

	in->wake_staged = 0;
	if (result == STORE_OK)
		wake_all(in);
}

/* Answer the deliver_sm once what is staged now has committed. */
static void
ack_after_commit(struct inbound *in, struct smpp_session *sess, uint64_t ack)
{
	struct inbound_ack *a = xmalloc(sizeof(*a));

	a->in = in;
	a->sess = sess;
	a->ack = ack;
	store_on_commit(in->store, on_committed, a);
}

/* An address as the API shows it: "+" and the digits for an international
 * number (TON 1) or one a [number] writes so; else as the SMSC wrote it. */
static void
show_address(const char *addr, uint8_t ton, const char *configured,
    char *out, size_t outsize)
{
	size_t n = strlen(addr);

	if (configured != NULL) {
		util_strlcpy(out, configured, outsize);
		return;
	}
	if (ton == 1 && n > 0 && addr[0] != '+' &&
	    strspn(addr, "0123456789") == n) {
		snprintf(out, outsize, "+%s", addr);
		return;
	}
	util_strlcpy(out, addr, outsize);
}

/* The message's digest into out: 0, or -1 when it could not be made
 * (out is then no digest: the message is not deduplicated). */
static int
digest_of(const char *smsc, const char *from, const char *to,
    const char *text, uint8_t out[16])
{
	int ok;
	size_t a = strlen(smsc) + 1, b = strlen(from) + 1, c = strlen(to) + 1;
	size_t t = strlen(text);
	uint8_t d[EVP_MAX_MD_SIZE] = { 0 }, *buf = xmalloc(a + b + c + t + 1);

	/* Each string with its NUL, so no two splits read the same. */
	memcpy(buf, smsc, a);
	memcpy(buf + a, from, b);
	memcpy(buf + a + b, to, c);
	memcpy(buf + a + b + c, text, t);
	ok = EVP_Digest(buf, a + b + c + t, d, NULL, EVP_sha256(), NULL) == 1;
	free(buf);
	memcpy(out, d, 16);
	return ok ? 0 : -1;
}

/* The event's and the list's JSON for m. */
static json_t *
message_json(const struct store_inbound *m)
{
	char codes[INBOUND_CODES_MAX][INBOUND_CODE_MAX + 1], at[32];
	json_t *list = json_array();
	int n = inbound_codes(m->text, codes, INBOUND_CODES_MAX);

	for (int i = 0; i < n; i++)
		json_array_append_new(list, json_string(codes[i]));
	util_rfc3339(m->received_ms / 1000, at, sizeof(at));
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s}",
	    "id", m->id, "from", m->from, "to", m->to, "text", m->text,
	    "codes", list, "smsc", m->smsc, "received_at", at);
}

/* Store the whole message text from from to to, with its event; the
 * deliver_sm is answered by the caller after the commit. */
static void
store_message(struct inbound *in, const char *smsc, const char *from,
    const char *to, const char *text)
{
	struct store_inbound m;
	int64_t now = util_now_ms(), when;
	int num;

	memset(&m, 0, sizeof(m));
	util_strlcpy(m.smsc, smsc, sizeof(m.smsc));
	util_strlcpy(m.from, from, sizeof(m.from));
	util_strlcpy(m.to, to, sizeof(m.to));
	if (digest_of(m.smsc, m.from, m.to, text, m.digest) == 0 &&
	    store_inbound_seen(in->store, m.digest, &when) == STORE_OK &&
	    now - when < (int64_t)INBOUND_DEDUPE_SECS * 1000) {
		in->st.duplicates++;
		log_info("inbound.duplicate", "smsc=%s what=message", smsc);
		return;
	}
	verify_id_new(m.id);
	memcpy(m.id, "msg_", 4);
	num = conf_number_find(in->conf, to);
	if (num >= 0)
		util_strlcpy(m.key, in->conf->numbers[num].key_name,
		    sizeof(m.key));
	/* Strictly increasing, so the inbox's order is the arrival's. */
	if (now <= in->last_ms)
		now = in->last_ms + 1;
	in->last_ms = now;
	m.received_ms = now;
	m.text = (char *)text;
	if (store_inbound_put(in->store, &m) != STORE_OK)
		return;         /* the batch failed: the answer says so */
	webhook_emit_key(in->webhook, m.key, "message.received",
	    message_json(&m));
	in->st.received++;
	log_info("inbound.received", "id=%s smsc=%s key=%s number=%s len=%zu",
	    m.id, smsc, m.key[0] ? m.key : "-",
	    num >= 0 ? in->conf->numbers[num].name : "-", strlen(text));
	if (!in->wake_staged) {
		in->wake_staged = 1;
		store_on_commit(in->store, on_committed_wake, in);
	}
}

void
inbound_mo(struct inbound *in, struct carrier *c, struct smpp_session *sess,
    const struct smpp_mo *mo, uint64_t ack)
{
	const char *smsc = carrier_name(c);
	struct smpp_concat cc;
	char *text, *joined = NULL, pkey[INBOUND_KEY_MAX];
	char from[24], to[24];
	enum inbound_part_result r;
	int off, num;

	if (in->parts_stale) {
		in->parts_stale = 0;
		inbound_parts_free(in->parts);
		in->parts = inbound_parts_new(INBOUND_PENDING_MAX,
		    INBOUND_PARTS_BYTES, (int64_t)INBOUND_PARTS_AGE_SECS * 1000,
		    on_parts_dropped, in);
		inbound_resume(in);
	}
	off = smpp_udh_parse(mo->body, mo->body_len, mo->esm_class & 0x40, &cc);
	text = xmalloc(INBOUND_PART_BUF);
	if (off < 0 || smpp_text_decode(mo->data_coding, carrier_latin1(c),
	    mo->body + off, mo->body_len - (size_t)off, text,
	    INBOUND_PART_BUF) < 0) {
		in->st.dropped++;
		log_warn("inbound.undecodable", "smsc=%s data_coding=0x%02X "
		    "udh=%s len=%zu", smsc, mo->data_coding,
		    off < 0 ? "malformed" : "ok", mo->body_len);
		free(text);
		carrier_receipt_ack(sess, ack, ESME_ROK);
		return;
	}
	num = conf_number_find(in->conf, mo->destination);
	show_address(mo->source, mo->source_ton, NULL, from, sizeof(from));
	show_address(mo->destination, mo->dest_ton,
	    num >= 0 ? in->conf->numbers[num].address : NULL, to, sizeof(to));
	if (!cc.present || cc.total == 1) {
		store_message(in, smsc, from, to, text);
		free(text);
		ack_after_commit(in, sess, ack);
		return;
	}
	inbound_parts_expire(in->parts, util_now_ms());
	inbound_parts_key(smsc, from, to, cc.ref, cc.total, pkey);
	r = inbound_parts_add(in->parts, pkey, cc.total, cc.seq, text,
	    util_now_ms(), &joined);
	switch (r) {
	case INBOUND_PART_HELD:
		in->st.parts++;
		store_inbound_part_put(in->store, pkey, cc.seq, util_now_ms(),
		    text);
		break;
	case INBOUND_PART_DONE:
		in->st.parts++;
		for (int seq = 1; seq <= cc.total; seq++)
			store_inbound_part_del(in->store, pkey, seq);
		if (strlen(joined) <= INBOUND_TEXT_MAX)
			store_message(in, smsc, from, to, joined);
		else
			in->st.dropped++;
		free(joined);
		break;
	case INBOUND_PART_DUP:
		in->st.duplicates++;
		log_info("inbound.duplicate", "smsc=%s what=part seq=%u "
		    "total=%u", smsc, cc.seq, cc.total);
		break;
	case INBOUND_PART_INVALID:
	default:
		in->st.dropped++;
		log_warn("inbound.part_refused", "smsc=%s seq=%u total=%u",
		    smsc, cc.seq, cc.total);
		break;
	}
	free(text);
	ack_after_commit(in, sess, ack);
}

/* ---- sweep ------------------------------------------------------------- */

void
inbound_sweep(struct inbound *in, int64_t now, int max, int64_t retention)
{
	/* Parts are timed by the wall clock in ms, as they came. */
	inbound_parts_expire(in->parts, util_now_ms());
	if (retention > 0)
		store_inbound_purge(in->store, (now - retention) * 1000, max);
}

/* ---- the inbox ----------------------------------------------------------- */

struct list_ctx {
	const struct inbound_query *q;
	json_t *out;
	int n;
};

/* a and b the same address, but for a leading '+'. */
static int
same_address(const char *a, const char *b)
{
	if (a[0] == '+')
		a++;
	if (b[0] == '+')
		b++;
	return strcmp(a, b) == 0;
}

static int
list_one(void *arg, const struct store_inbound *m)
{
	struct list_ctx *l = arg;
	const struct inbound_query *q = l->q;

	if ((q->key != NULL && strcmp(q->key, m->key) != 0) ||
	    (q->to != NULL && !same_address(q->to, m->to)) ||
	    (q->from != NULL && !same_address(q->from, m->from)))
		return 0;
	json_array_append_new(l->out, message_json(m));
	return ++l->n >= q->limit;
}

json_t *
inbound_list(struct inbound *in, const struct inbound_query *q)
{
	struct list_ctx l = { q, json_array(), 0 };

	if (store_inbound_each(in->store, q->since_ms, 10000, list_one,
	    &l) < 0) {
		json_decref(l.out);
		return NULL;
	}
	return l.out;
}

const char *
inbound_owner(const struct inbound *in, const char *addr)
{
	int num = conf_number_find(in->conf, addr);

	return num >= 0 ? in->conf->numbers[num].key_name : NULL;
}

struct inbound_waiter *
inbound_wait(struct inbound *in, void (*fn)(void *arg), void *arg)
{
	struct inbound_waiter *w;

	if (in->closing || in->nwaiters >= INBOUND_WAITERS_MAX)
		return NULL;
	w = xcalloc(1, sizeof(*w));
	w->fn = fn;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&in->waiters, w, link);
	in->nwaiters++;
	return w;
}

void
inbound_unwait(struct inbound *in, struct inbound_waiter *w)
{
	TAILQ_REMOVE(&in->waiters, w, link);
	in->nwaiters--;
	free(w);
}

void
inbound_stats(const struct inbound *in, struct inbound_stats *out)
{
	*out = in->st;
	out->waiting_parts = inbound_parts_pending(in->parts);
	out->pollers = in->nwaiters;
}
