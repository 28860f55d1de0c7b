/*
 * cancel.c - withdrawing messages nobody needs any more (cancel.h).
 *
 * flow.c calls cancel_verif() with a verification it has just ended
 * (superseded, approved, canceled) and again when a message that was on
 * the wire at that moment comes back accepted (flow_sent()); the pure
 * cancel_plan() picks the parts still open at SMSCs that take cancels,
 * cancel_seen() keeps a second call from withdrawing a part twice, and
 * once the end of the verification has committed (persist, then act: a
 * failed commit withdraws nothing) each part goes to its carrier as one
 * cancel_sm whose fields are the submit's (cancel_fill()).  The answer comes back through the carrier's
 * cancel_done callback (gw.c hands it to cancel_done()); it is logged and
 * counted, never retried.
 *
 * Log lines: event=cancel.sent / cancel.ok / cancel.failed /
 * cancel.timeout / cancel.dropped with the verification id, the SMSC and
 * the message id (never the phone number in full, never a code).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "cancel.h"
#include "carrier.h"
#include "log.h"
#include "util.h"

/* One cancel_sm in flight: the carrier's cookie. */
struct cancel_req {
	LIST_ENTRY(cancel_req) link;
	char id[32];              /* the verification, for the log */
	char smsc[33];
	char message_id[66];
};

/* The parts of one ended verification, waiting for the commit of its
 * end (persist, then withdraw). */
struct cancel_batch {
	LIST_ENTRY(cancel_batch) link;
	struct cancel *c;
	char id[32];
	char phone[17];
	char sender[22];
	char status[16];          /* for the log */
	int n;
	struct cancel_item it[VERIF_MAX_SENDS];
};

struct cancel {
	struct store *store;      /* NULL: act at once (tests) */
	LIST_HEAD(, cancel_batch) batches;
	struct carrier *const *carriers;
	int ncarrier;
	const char *sender;       /* [verify] sender, borrowed */
	struct cancel_seen seen;
	LIST_HEAD(, cancel_req) reqs;
	struct cancel_stats st;
};

int
cancel_plan(const struct verif *v, int (*wants)(void *, const char *),
    void *arg, struct cancel_item *out, int max)
{
	int n = 0;

	if (v->status != VERIF_CANCELED && v->status != VERIF_APPROVED)
		return 0;
	for (int i = 0; i < v->nsend && n < max; i++) {
		const struct verif_send *s = &v->send[i];

		if (s->message_id[0] == '\0' || s->smsc[0] == '\0' ||
		    s->dlr != DLR_PENDING)
			continue;
		if (wants != NULL && !wants(arg, s->smsc))
			continue;
		util_strlcpy(out[n].smsc, s->smsc, sizeof(out[n].smsc));
		util_strlcpy(out[n].message_id, s->message_id,
		    sizeof(out[n].message_id));
		n++;
	}
	return n;
}

/* As dispatch.c's sender_is_alpha(): anything but digits and '+'. */
static int
is_alpha(const char *s)
{
	for (; *s; s++)
		if ((*s < '0' || *s > '9') && *s != '+')
			return 1;
	return 0;
}

void
cancel_fill(const char *sender, const char *phone, struct smpp_cancel *out,
    int *alpha)
{
	memset(out, 0, sizeof(*out));
	*alpha = is_alpha(sender);
	out->service_type = "";
	out->source = sender;
	if (!*alpha && out->source[0] == '+')
		out->source++;
	out->destination = phone[0] == '+' ? phone + 1 : phone;
	out->dest_ton = 1;        /* international */
	out->dest_npi = 1;        /* E.164 */
}

/* FNV-1a of smsc, a separator and message_id. */
static uint64_t
pair_hash(const char *smsc, const char *message_id)
{
	uint64_t h = 14695981039346656037ULL;

	for (const char *p = smsc; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	h = (h ^ 0xFF) * 1099511628211ULL;
	for (const char *p = message_id; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	return h;
}

int
cancel_seen(struct cancel_seen *cs, const char *smsc,
    const char *message_id)
{
	uint64_t h = pair_hash(smsc, message_id);

	for (int i = 0; i < cs->n; i++)
		if (cs->h[i] == h)
			return 1;
	cs->h[cs->next] = h;
	cs->next = (cs->next + 1) % CANCEL_SEEN_MAX;
	if (cs->n < CANCEL_SEEN_MAX)
		cs->n++;
	return 0;
}

struct cancel *
cancel_new(struct store *store)
{
	struct cancel *c = xcalloc(1, sizeof(*c));

	c->store = store;
	LIST_INIT(&c->reqs);
	LIST_INIT(&c->batches);
	return c;
}

void
cancel_reconf(struct cancel *c, struct carrier *const *carriers,
    int ncarrier, const char *default_sender)
{
	c->carriers = carriers;
	c->ncarrier = ncarrier;
	c->sender = default_sender;
}

static struct carrier *
carrier_named(const struct cancel *c, const char *name)
{
	for (int i = 0; i < c->ncarrier; i++)
		if (c->carriers[i] != NULL &&
		    strcmp(carrier_name(c->carriers[i]), name) == 0)
			return c->carriers[i];
	return NULL;
}

/* cancel_plan()'s wants: the SMSC is configured and takes cancels. */
static int
wants_cancel(void *arg, const char *smsc)
{
	struct carrier *cr = carrier_named(arg, smsc);

	return cr != NULL && carrier_cancels(cr);
}

/* Send the cancel_sm of one part: the carrier may be gone (a reload) or
 * have no room, both counted as dropped. */
static void
part_send(struct cancel *c, const struct cancel_batch *b,
    const struct cancel_item *it)
{
	struct carrier *cr = carrier_named(c, it->smsc);
	struct smpp_cancel m;
	struct cancel_req *r;
	int alpha;

	if (cr == NULL || !carrier_cancels(cr)) {
		c->st.dropped++;
		log_warn("cancel.dropped", "id=%s smsc=%s message_id=%s "
		    "reason=smsc_gone", b->id, it->smsc, it->message_id);
		return;
	}
	cancel_fill(b->sender, b->phone, &m, &alpha);
	m.message_id = it->message_id;
	carrier_source_addr(cr, alpha, &m.source_ton, &m.source_npi);
	r = xcalloc(1, sizeof(*r));
	util_strlcpy(r->id, b->id, sizeof(r->id));
	util_strlcpy(r->smsc, it->smsc, sizeof(r->smsc));
	util_strlcpy(r->message_id, it->message_id, sizeof(r->message_id));
	if (carrier_cancel(cr, &m, r) != 0) {
		c->st.dropped++;
		log_warn("cancel.dropped", "id=%s smsc=%s message_id=%s "
		    "reason=no_room", b->id, r->smsc, r->message_id);
		free(r);
		return;
	}
	LIST_INSERT_HEAD(&c->reqs, r, link);
	c->st.sent++;
	c->st.outstanding++;
	log_info("cancel.sent", "id=%s smsc=%s message_id=%s status=%s",
	    b->id, r->smsc, r->message_id, b->status);
}

static void
batch_send(struct cancel *c, struct cancel_batch *b)
{
	for (int i = 0; i < b->n; i++)
		part_send(c, b, &b->it[i]);
}

/* The end of the verification is durable (or failed to be). */
static void
batch_committed(void *arg, int result)
{
	struct cancel_batch *b = arg;
	struct cancel *c = b->c;

	LIST_REMOVE(b, link);
	if (result == STORE_OK) {
		batch_send(c, b);
	} else {
		c->st.dropped += (uint64_t)b->n;
		log_warn("cancel.dropped", "id=%s parts=%d "
		    "reason=not_committed", b->id, b->n);
	}
	free(b);
}

int
cancel_verif(struct cancel *c, const struct verif *v)
{
	struct cancel_item items[VERIF_MAX_SENDS];
	struct cancel_batch *b;
	int n;

	n = cancel_plan(v, wants_cancel, c, items, VERIF_MAX_SENDS);
	if (n == 0)
		return 0;
	b = xcalloc(1, sizeof(*b));
	b->c = c;
	util_strlcpy(b->id, v->id, sizeof(b->id));
	util_strlcpy(b->phone, v->phone, sizeof(b->phone));
	util_strlcpy(b->sender, v->sender[0] != '\0' ? v->sender :
	    (c->sender != NULL ? c->sender : ""), sizeof(b->sender));
	util_strlcpy(b->status, verif_strstatus(v->status),
	    sizeof(b->status));
	for (int i = 0; i < n; i++)
		/* At most one cancel_sm per part, even if the record comes
		 * again before its commit. */
		if (!cancel_seen(&c->seen, items[i].smsc,
		    items[i].message_id))
			b->it[b->n++] = items[i];
	n = b->n;
	if (n == 0) {
		free(b);
		return 0;
	}
	if (c->store == NULL) {
		batch_send(c, b);
		free(b);
		return n;
	}
	LIST_INSERT_HEAD(&c->batches, b, link);
	store_on_commit(c->store, batch_committed, b);
	return n;
}

void
cancel_done(struct cancel *c, struct carrier *cr, void *cookie,
    uint32_t status)
{
	struct cancel_req *r = cookie;

	(void)cr;
	LIST_REMOVE(r, link);
	c->st.outstanding--;
	if (status == ESME_ROK) {
		c->st.ok++;
		log_info("cancel.ok", "id=%s smsc=%s message_id=%s", r->id,
		    r->smsc, r->message_id);
	} else if (status == SMPP_STATUS_TIMEOUT) {
		c->st.timeouts++;
		log_warn("cancel.timeout", "id=%s smsc=%s message_id=%s "
		    "note=not_retried", r->id, r->smsc, r->message_id);
	} else {
		c->st.failed++;
		log_warn("cancel.failed", "id=%s smsc=%s message_id=%s "
		    "status=%s note=not_retried", r->id, r->smsc,
		    r->message_id, smpp_strstatus(status));
	}
	free(r);
}

void
cancel_stats(const struct cancel *c, struct cancel_stats *out)
{
	*out = c->st;
}

void
cancel_free(struct cancel *c)
{
	struct cancel_batch *b;
	struct cancel_req *r;

	if (c == NULL)
		return;
	/* Batches whose commit callback the closed store never called. */
	while ((b = LIST_FIRST(&c->batches)) != NULL) {
		LIST_REMOVE(b, link);
		free(b);
	}
	while ((r = LIST_FIRST(&c->reqs)) != NULL) {
		LIST_REMOVE(r, link);
		free(r);
	}
	free(c);
}
