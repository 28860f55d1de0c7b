/*
 * dlr.c - delivery receipt -> the submit it reports on -> its verification.
 *
 * A receipt names the SMSC's message id; the msgid index in the store maps
 * (SMSC, normalised id) to the verification, so a receipt that arrives
 * after a restart still finds it.  SMSCs disagree on how they write ids
 * (SMPP-NOTES §8.4): the [smsc] key message_id says how, and in `auto`
 * (the default) the receipt's id is tried as written, then read as hex and
 * written in decimal, then the reverse; a match found through a conversion
 * must also agree on the handset number when the receipt carries it, so a
 * counter id that happens to read as another id in the other base does not
 * mark the wrong verification.
 *
 * A receipt can overtake the submit_sm_resp it reports on (several binds, a
 * slow commit): one that matches nothing is answered and parked for a
 * while; every accepted submit retries the parked receipts of its SMSC.
 * Receipts are applied idempotently (a duplicate sets the same state) and
 * answered only after the commit that records them; when the store fails
 * the answer is ESME_RX_T_APPN so the SMSC sends it again.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "carrier.h"
#include "conf.h"
#include "dlr.h"
#include "log.h"
#include "score.h"
#include "store.h"
#include "webhook.h"
#include "util.h"

#define DLR_PARK_MAX 10000
#define DLR_PARK_SECS 600

struct parked {
	TAILQ_ENTRY(parked) q;
	char smsc[33];
	int64_t at;
	struct smpp_receipt r;
};

struct dlr {
	struct store *store;
	struct score *score;
	struct webhook *webhook;
	const struct conf *conf;
	TAILQ_HEAD(, parked) parked;
	int nparked;
	uint64_t receipts, unmatched;
};

struct dlr_ack {
	struct smpp_session *sess;
	uint64_t ack;
};

struct dlr *
dlr_new(struct store *store, struct score *score, struct webhook *webhook,
    const struct conf *conf)
{
	struct dlr *d = xcalloc(1, sizeof(*d));

	d->store = store;
	d->score = score;
	d->webhook = webhook;
	d->conf = conf;
	TAILQ_INIT(&d->parked);
	return d;
}

void
dlr_reconf(struct dlr *d, const struct conf *conf, struct score *score)
{
	d->conf = conf;
	d->score = score;
}

void
dlr_free(struct dlr *d)
{
	struct parked *p;

	if (d == NULL)
		return;
	while ((p = TAILQ_FIRST(&d->parked)) != NULL) {
		TAILQ_REMOVE(&d->parked, p, q);
		free(p);
	}
	free(d);
}

void
dlr_stats(const struct dlr *d, struct dlr_stats *out)
{
	out->receipts = d->receipts;
	out->unmatched = d->unmatched;
	out->parked = d->nparked;
}

int
dlr_state_from_smpp(enum smpp_msg_state s)
{
	switch (s) {
	case SMPP_MSG_DELIVERED: return DLR_DELIVERED;
	case SMPP_MSG_UNDELIVERABLE: return DLR_UNDELIVERABLE;
	case SMPP_MSG_EXPIRED: return DLR_EXPIRED;
	case SMPP_MSG_DELETED:
	case SMPP_MSG_REJECTED: return DLR_REJECTED;
	case SMPP_MSG_ENROUTE:
	case SMPP_MSG_ACCEPTED: return DLR_PENDING;
	default: return DLR_UNKNOWN;
	}
}

/* 1 when the receipt's handset number (if it has one) is v's phone. */
static int
same_handset(const struct smpp_receipt *r, const struct verif *v)
{
	const char *a = r->source[0] ? r->source : r->destination;

	if (a[0] == '\0')
		return 1;
	if (a[0] == '+')
		a++;
	/* The receipt's source is the handset; some SMSCs swap the two. */
	return strcmp(a, v->phone + 1) == 0 ||
	    (r->destination[0] && strcmp(r->destination[0] == '+' ?
	    r->destination + 1 : r->destination, v->phone + 1) == 0);
}

/* Find the verification a receipt from smsc reports on; fill v and the
 * stored form of the id in key.  0 or -1. */
static int
dlr_match(struct dlr *d, const char *smsc, int mode,
    const struct smpp_receipt *r, struct verif *v, char *key, size_t ksize)
{
	static const int tries[][3] = {
		[CONF_MSGID_AUTO] = { 0, 1, 2 },
		[CONF_MSGID_STRING] = { 0, -1, -1 },
		[CONF_MSGID_HEX_DEC] = { 2, -1, -1 },   /* receipt dec -> hex */
		[CONF_MSGID_DEC_HEX] = { 1, -1, -1 },   /* receipt hex -> dec */
	};
	char id[32];

	if (mode < 0 || mode > CONF_MSGID_DEC_HEX)
		mode = CONF_MSGID_AUTO;
	for (int i = 0; i < 3 && tries[mode][i] >= 0; i++) {
		if (smpp_msgid_normalise(r->message_id, tries[mode][i], key,
		    ksize) != 0)
			continue;
		if (store_msgid_get(d->store, smsc, key, id, sizeof(id)) !=
		    STORE_OK)
			continue;
		memset(v, 0, sizeof(*v));
		if (store_verif_get(d->store, id, v) != STORE_OK)
			continue;
		/* A conversion may hit another message's id: insist on the
		 * number then. */
		if (tries[mode][i] == 0 || mode != CONF_MSGID_AUTO ||
		    same_handset(r, v))
			return 0;
		verif_clear(v);
	}
	return -1;
}

/* Apply r to the send of v whose stored id is key.  The index of the
 * (first) send it changed, or -1 when none matched. */
static int
dlr_apply(struct verif *v, const char *smsc, const char *key,
    const struct smpp_receipt *r)
{
	char snorm[80];
	int changed = -1, state = dlr_state_from_smpp(r->state);

	for (int i = 0; i < v->nsend; i++) {
		struct verif_send *s = &v->send[i];
		if (strcmp(s->smsc, smsc) != 0 ||
		    smpp_msgid_normalise(s->message_id, 0, snorm,
		    sizeof(snorm)) != 0 || strcmp(snorm, key) != 0)
			continue;
		s->dlr = state;
		s->dlr_at = util_now();
		s->error = r->network_error >= 0 ? r->network_error : r->err;
		if (changed < 0)
			changed = i;
	}
	if (changed >= 0)
		v->updated_at = util_now();
	return changed;
}

/* Count a final receipt just applied to send s of v in its SMSC's figures
 * on v's route (score.h). */
static void
dlr_score(struct dlr *d, const struct verif *v, const struct verif_send *s)
{
	int state = s->dlr, delivered;

	if (state == DLR_DELIVERED)
		delivered = 1;
	else if (state == DLR_UNDELIVERABLE || state == DLR_EXPIRED ||
	    state == DLR_REJECTED)
		delivered = 0;
	else
		return;         /* not final: ENROUTE, ACCEPTED, UNKNOWN */
	score_receipt(d->score, d->conf, v->phone, s->smsc, s->submitted_at,
	    delivered, s->dlr_at - s->submitted_at);
}

static void
dlr_committed(void *arg, int result)
{
	struct dlr_ack *a = arg;

	carrier_receipt_ack(a->sess, a->ack,
	    result == STORE_OK ? ESME_ROK : ESME_RX_T_APPN);
	free(a);
}

static void
dlr_park(struct dlr *d, const char *smsc, const struct smpp_receipt *r)
{
	struct parked *p;

	if (d->nparked >= DLR_PARK_MAX) {
		p = TAILQ_FIRST(&d->parked);
		TAILQ_REMOVE(&d->parked, p, q);
		d->nparked--;
		free(p);
	}
	p = xcalloc(1, sizeof(*p));
	util_strlcpy(p->smsc, smsc, sizeof(p->smsc));
	p->at = util_now();
	p->r = *r;
	TAILQ_INSERT_TAIL(&d->parked, p, q);
	d->nparked++;
}

/* Stage the receipt just applied to send i of v: the record, its event,
 * the figures. */
static void
dlr_record(struct dlr *d, struct verif *v, int i)
{
	store_verif_put(d->store, v);
	webhook_emit(d->webhook, v, "verification.delivery");
	dlr_score(d, v, &v->send[i]);
}

void
dlr_receipt(struct dlr *d, struct carrier *c, struct smpp_session *sess,
    const struct smpp_receipt *r, uint64_t ack)
{
	struct dlr_ack *a;
	struct verif v;
	char key[80];
	int i;

	d->receipts++;
	if (dlr_match(d, carrier_name(c), carrier_msgid_mode(c), r, &v, key,
	    sizeof(key)) != 0) {
		/* Perhaps it overtook its submit_sm_resp: keep it a while. */
		d->unmatched++;
		dlr_park(d, carrier_name(c), r);
		log_info("dlr.parked", "smsc=%s stat=%s", carrier_name(c),
		    r->stat);
		carrier_receipt_ack(sess, ack, 0);
		return;
	}
	if ((i = dlr_apply(&v, carrier_name(c), key, r)) >= 0)
		dlr_record(d, &v, i);
	log_info("dlr.applied", "id=%s smsc=%s state=%s", v.id,
	    carrier_name(c), dlr_strstate(dlr_state_from_smpp(r->state)));
	verif_clear(&v);
	a = xmalloc(sizeof(*a));
	a->sess = sess;
	a->ack = ack;
	store_on_commit(d->store, dlr_committed, a);
}

void
dlr_retry_parked(struct dlr *d, struct carrier *c)
{
	struct parked *p, *next;
	struct verif v;
	char key[80];
	int i;
	int64_t now = util_now();

	if (d->nparked == 0)
		return;
	for (p = TAILQ_FIRST(&d->parked); p != NULL; p = next) {
		next = TAILQ_NEXT(p, q);
		if (now - p->at > DLR_PARK_SECS) {
			TAILQ_REMOVE(&d->parked, p, q);
			d->nparked--;
			free(p);
			continue;
		}
		if (strcmp(p->smsc, carrier_name(c)) != 0 ||
		    dlr_match(d, p->smsc, carrier_msgid_mode(c), &p->r, &v,
		    key, sizeof(key)) != 0)
			continue;
		if ((i = dlr_apply(&v, p->smsc, key, &p->r)) >= 0)
			dlr_record(d, &v, i);
		log_info("dlr.applied", "id=%s smsc=%s state=%s parked=1",
		    v.id, p->smsc,
		    dlr_strstate(dlr_state_from_smpp(p->r.state)));
		verif_clear(&v);
		TAILQ_REMOVE(&d->parked, p, q);
		d->nparked--;
		free(p);
	}
}
