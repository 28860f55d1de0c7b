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
 * Receipts are applied idempotently and answered only after the commit
 * that records them; when the store fails the answer is ESME_RX_T_APPN so
 * the SMSC sends it again.  A receipt that only repeats what its send
 * already holds (SMSCs send one again when our answer was late) is
 * answered the same way but changes nothing: no write, no event, no second
 * count in the figures.
 *
 * The park.  A receipt can overtake the submit_sm_resp it reports on, or
 * the commit of the accept that indexes its id (several binds, a slow
 * commit): one that matches nothing is answered and parked for
 * DLR_PARK_SECS, and when a submit is accepted its message ids are looked
 * up among the parked receipts of its SMSC.  What is parked comes from the
 * SMSC, so the park must stay cheap whatever the SMSC sends: each SMSC has
 * its own park of at most DLR_PARK_MAX receipts (the oldest goes, counted
 * as dropped, when a new one comes to a full park; an SMSC cannot push out
 * another's), kept in arrival order for aging and in a hash table by every
 * form the receipt's id may match a stored id in (as written, hex read as
 * decimal, decimal as hex: the keys dlr_match() would look up).  An accept
 * looks up its ids' keys only: O(1), where the old single list of 10,000
 * receipts was scanned with up to three LMDB lookups each on every accept
 * (5 ms of blocked loop per accept once an SMSC had sent 12,000 receipts
 * for ids we never had).  Receipts past DLR_PARK_SECS are pruned lazily,
 * oldest first, whenever their SMSC parks or looks up, and from every park
 * on each receipt.
 *
 * The per-receipt log lines (parked, dropped from a full park, repeated)
 * go through one log_limit per SMSC and event: a line per
 * DLR_LOG_INTERVAL_MS, with suppressed=N.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "carrier.h"
#include "conf.h"
#include "dlr.h"
#include "log.h"
#include "score.h"
#include "stats.h"
#include "store.h"
#include "webhook.h"
#include "util.h"

#define DLR_PARK_MAX 1000        /* parked receipts per SMSC */
#define DLR_PARK_SECS 600        /* how long one waits for its submit */
#define DLR_PARK_BUCKETS 2048    /* hash buckets per SMSC, a power of 2 */
#define DLR_KEYS 3               /* forms of one id: as is, hex, decimal */
#define DLR_KEY_LEN 80           /* a normalised id, NUL included */
#define DLR_LOG_INTERVAL_MS 1000

/* Log through the limiter lim of SMSC sm: see the head comment. */
#define log_park(sm, lim, level, ev, fmt, ...)	\
	log_limited(&(sm)->lim, util_mono_ms(), DLR_LOG_INTERVAL_MS,	\
	    level, ev, fmt, __VA_ARGS__)

struct parked;

/* One form of a parked receipt's id, in its SMSC's hash table. */
struct pkey {
	LIST_ENTRY(pkey) link;
	struct parked *p;
	uint32_t hash;
	char key[DLR_KEY_LEN];
};
LIST_HEAD(pkey_list, pkey);

struct parked {
	TAILQ_ENTRY(parked) age;        /* its SMSC's park, oldest first */
	int64_t at;
	int nkeys;
	struct pkey keys[DLR_KEYS];
	struct smpp_receipt r;
};
TAILQ_HEAD(parked_list, parked);

/* What dlr.c keeps per SMSC: its park and its log limiters. */
struct dlr_smsc {
	TAILQ_ENTRY(dlr_smsc) next;
	char name[33];
	struct parked_list parked;
	int nparked;
	struct pkey_list *buckets;      /* DLR_PARK_BUCKETS, NULL until used */
	int mode;                       /* its carrier's msgid mode */
	struct log_limit lim_parked, lim_dropped, lim_repeat;
};

struct dlr {
	struct store *store;
	struct score *score;
	struct webhook *webhook;
	const struct conf *conf;
	struct stats *stats;      /* borrowed; NULL: receipts not counted */
	TAILQ_HEAD(, dlr_smsc) smscs;
	int nparked;
	uint64_t receipts, unmatched, repeated;
	uint64_t park_dropped, park_expired;
};

struct dlr_ack {
	struct smpp_session *sess;
	uint64_t ack;
};

void
dlr_set_stats(struct dlr *d, struct stats *s)
{
	d->stats = s;
}

struct dlr *
dlr_new(struct store *store, struct score *score, struct webhook *webhook,
    const struct conf *conf)
{
	struct dlr *d = xcalloc(1, sizeof(*d));

	d->store = store;
	d->score = score;
	d->webhook = webhook;
	d->conf = conf;
	TAILQ_INIT(&d->smscs);
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
	struct dlr_smsc *sm;
	struct parked *p;

	if (d == NULL)
		return;
	while ((sm = TAILQ_FIRST(&d->smscs)) != NULL) {
		TAILQ_REMOVE(&d->smscs, sm, next);
		while ((p = TAILQ_FIRST(&sm->parked)) != NULL) {
			TAILQ_REMOVE(&sm->parked, p, age);
			free(p);
		}
		free(sm->buckets);
		free(sm);
	}
	free(d);
}

void
dlr_stats(const struct dlr *d, struct dlr_stats *out)
{
	out->receipts = d->receipts;
	out->unmatched = d->unmatched;
	out->repeated = d->repeated;
	out->park_dropped = d->park_dropped;
	out->park_expired = d->park_expired;
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

/* ---- the park ------------------------------------------------------------ */

/* The receipt state of SMSC name; made when create. */
static struct dlr_smsc *
smsc_of(struct dlr *d, const char *name, int create)
{
	struct dlr_smsc *sm;

	TAILQ_FOREACH(sm, &d->smscs, next)
		if (strcmp(sm->name, name) == 0)
			return sm;
	if (!create)
		return NULL;
	sm = xcalloc(1, sizeof(*sm));
	util_strlcpy(sm->name, name, sizeof(sm->name));
	TAILQ_INIT(&sm->parked);
	TAILQ_INSERT_TAIL(&d->smscs, sm, next);
	return sm;
}

/* FNV-1a. */
static uint32_t
key_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static void
park_remove(struct dlr *d, struct dlr_smsc *sm, struct parked *p)
{
	for (int i = 0; i < p->nkeys; i++)
		LIST_REMOVE(&p->keys[i], link);
	TAILQ_REMOVE(&sm->parked, p, age);
	sm->nparked--;
	d->nparked--;
	free(p);
}

/* Forget sm's receipts parked longer than DLR_PARK_SECS. */
static void
park_prune(struct dlr *d, struct dlr_smsc *sm, int64_t now)
{
	struct parked *p;

	while ((p = TAILQ_FIRST(&sm->parked)) != NULL &&
	    now - p->at > DLR_PARK_SECS) {
		park_remove(d, sm, p);
		d->park_expired++;
	}
}

/* Park r for sm: the oldest goes first when sm's park is full. */
static void
park_add(struct dlr *d, struct dlr_smsc *sm, const struct smpp_receipt *r)
{
	struct parked *p;
	struct pkey *k;
	int dup;

	park_prune(d, sm, util_now());
	if (sm->buckets == NULL)
		sm->buckets = xcalloc(DLR_PARK_BUCKETS, sizeof(*sm->buckets));
	if (sm->nparked >= DLR_PARK_MAX) {
		park_remove(d, sm, TAILQ_FIRST(&sm->parked));
		d->park_dropped++;
		log_park(sm, lim_dropped, LOG_WARN, "dlr.park_full",
		    "smsc=%s max=%d dropped_total=%llu", sm->name,
		    DLR_PARK_MAX, (unsigned long long)d->park_dropped);
	}
	p = xcalloc(1, sizeof(*p));
	p->at = util_now();
	p->r = *r;
	/* Every form dlr_match() may look the id up in, each once. */
	for (int mode = 0; mode < DLR_KEYS; mode++) {
		k = &p->keys[p->nkeys];
		if (smpp_msgid_normalise(r->message_id, mode, k->key,
		    sizeof(k->key)) != 0)
			continue;
		dup = 0;
		for (int i = 0; i < p->nkeys; i++)
			dup |= strcmp(p->keys[i].key, k->key) == 0;
		if (dup)
			continue;
		k->p = p;
		k->hash = key_hash(k->key);
		LIST_INSERT_HEAD(&sm->buckets[k->hash &
		    (DLR_PARK_BUCKETS - 1)], k, link);
		p->nkeys++;
	}
	TAILQ_INSERT_TAIL(&sm->parked, p, age);
	sm->nparked++;
	d->nparked++;
}

/* ---- matching and applying ----------------------------------------------- */

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

/* Apply r to the sends of v whose stored id is key.  The index of the
 * (first) send it changed, or -1 when it changed none (a receipt the SMSC
 * sent again, or for a send no longer kept). */
static int
dlr_apply(struct verif *v, const char *smsc, const char *key,
    const struct smpp_receipt *r)
{
	char snorm[80];
	int changed = -1, state = dlr_state_from_smpp(r->state);
	int error = r->network_error >= 0 ? r->network_error : r->err;

	for (int i = 0; i < v->nsend; i++) {
		struct verif_send *s = &v->send[i];
		if (strcmp(s->smsc, smsc) != 0 ||
		    smpp_msgid_normalise(s->message_id, 0, snorm,
		    sizeof(snorm)) != 0 || strcmp(snorm, key) != 0)
			continue;
		if (s->dlr_at != 0 && s->dlr == state && s->error == error)
			continue;       /* nothing new */
		s->dlr = state;
		s->dlr_at = util_now();
		s->error = error;
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

/* Apply r, matched to v under key, for SMSC sm: stage the record, its
 * event and the figures when it changed something, log it.  parked: it
 * comes from the park. */
static void
dlr_take(struct dlr *d, struct dlr_smsc *sm, struct verif *v,
    const char *key, const struct smpp_receipt *r, int parked)
{
	int i;

	if ((i = dlr_apply(v, sm->name, key, r)) >= 0) {
		store_verif_put(d->store, v);
		webhook_emit(d->webhook, v, "verification.delivery");
		/* A message deleted once its verification ended was most
		 * likely withdrawn by our own cancel_sm (cancel.h): the
		 * SMSC did as asked, which says nothing of its delivery. */
		if (r->state != SMPP_MSG_DELETED || v->status == VERIF_PENDING)
			dlr_score(d, v, &v->send[i]);
		stats_receipt(d->stats, v, i);
		log_info("dlr.applied", "id=%s smsc=%s state=%s%s", v->id,
		    sm->name, dlr_strstate(dlr_state_from_smpp(r->state)),
		    parked ? " parked=1" : "");
	} else {
		d->repeated++;
		log_park(sm, lim_repeat, LOG_INFO, "dlr.repeated",
		    "id=%s smsc=%s state=%s", v->id, sm->name,
		    dlr_strstate(dlr_state_from_smpp(r->state)));
	}
}

void
dlr_receipt(struct dlr *d, struct carrier *c, struct smpp_session *sess,
    const struct smpp_receipt *r, uint64_t ack)
{
	struct dlr_smsc *sm = smsc_of(d, carrier_name(c), 1), *o;
	struct dlr_ack *a;
	struct verif v;
	char key[80];
	int64_t now = util_now();

	d->receipts++;
	/* Aging is lazy: any receipt prunes every park's old ones. */
	TAILQ_FOREACH(o, &d->smscs, next)
		park_prune(d, o, now);
	if (dlr_match(d, sm->name, carrier_msgid_mode(c), r, &v, key,
	    sizeof(key)) != 0) {
		/* Perhaps it overtook its submit_sm_resp: keep it a while. */
		d->unmatched++;
		sm->mode = carrier_msgid_mode(c);
		park_add(d, sm, r);
		log_park(sm, lim_parked, LOG_INFO, "dlr.parked",
		    "smsc=%s stat=%s parked=%d", sm->name, r->stat,
		    sm->nparked);
		carrier_receipt_ack(sess, ack, 0);
		return;
	}
	dlr_take(d, sm, &v, key, r, 0);
	verif_clear(&v);
	a = xmalloc(sizeof(*a));
	a->sess = sess;
	a->ack = ack;
	store_on_commit(d->store, dlr_committed, a);
}

/* Apply the receipts of sm parked under key, in the order they came (an
 * ENROUTE before its DELIVRD). */
static void
park_take(struct dlr *d, struct dlr_smsc *sm, int mode, const char *key)
{
	struct parked *hits[DLR_PARK_MAX];
	uint32_t h = key_hash(key);
	struct pkey *k;
	struct verif v;
	char mkey[80];
	int n = 0;

	/* A bucket is newest first; a receipt is in it under key once. */
	LIST_FOREACH(k, &sm->buckets[h & (DLR_PARK_BUCKETS - 1)], link)
		if (k->hash == h && strcmp(k->key, key) == 0 &&
		    n < DLR_PARK_MAX)
			hits[n++] = k->p;
	while (n-- > 0) {
		struct parked *p = hits[n];

		if (dlr_match(d, sm->name, mode, &p->r, &v, mkey,
		    sizeof(mkey)) != 0)
			continue;       /* another number: leave it */
		dlr_take(d, sm, &v, mkey, &p->r, 1);
		verif_clear(&v);
		park_remove(d, sm, p);
	}
}

void
dlr_retry_parked(struct dlr *d, struct carrier *c, const struct verif *v)
{
	struct dlr_smsc *sm = smsc_of(d, carrier_name(c), 0);
	char key[80];

	if (sm == NULL || sm->nparked == 0)
		return;
	park_prune(d, sm, util_now());
	for (int i = 0; i < v->nsend && sm->nparked > 0; i++) {
		if (strcmp(v->send[i].smsc, sm->name) != 0 ||
		    smpp_msgid_normalise(v->send[i].message_id, 0, key,
		    sizeof(key)) != 0)
			continue;
		park_take(d, sm, carrier_msgid_mode(c), key);
	}
}

void
dlr_retry_all(struct dlr *d)
{
	struct dlr_smsc *sm;
	struct parked *p, *next;
	struct verif v;
	char mkey[80];

	TAILQ_FOREACH(sm, &d->smscs, next) {
		park_prune(d, sm, util_now());
		for (p = TAILQ_FIRST(&sm->parked); p != NULL; p = next) {
			next = TAILQ_NEXT(p, age);
			if (dlr_match(d, sm->name, sm->mode, &p->r, &v, mkey,
			    sizeof(mkey)) != 0)
				continue;
			dlr_take(d, sm, &v, mkey, &p->r, 1);
			verif_clear(&v);
			park_remove(d, sm, p);
		}
	}
}

int
dlr_scripted(struct dlr *d, const char *smsc, const char *message_id,
    enum smpp_msg_state state)
{
	static const char *const stats[] = {
		[SMPP_MSG_DELIVERED] = "DELIVRD",
		[SMPP_MSG_EXPIRED] = "EXPIRED",
		[SMPP_MSG_UNDELIVERABLE] = "UNDELIV",
	};
	struct dlr_smsc *sm = smsc_of(d, smsc, 1);
	struct smpp_receipt r;
	struct verif v;
	char key[80];

	memset(&r, 0, sizeof(r));
	util_strlcpy(r.message_id, message_id, sizeof(r.message_id));
	r.state = state;
	if ((size_t)state < sizeof(stats) / sizeof(stats[0]) &&
	    stats[state] != NULL)
		util_strlcpy(r.stat, stats[state], sizeof(r.stat));
	r.err = -1;
	r.network_error = -1;
	d->receipts++;
	if (dlr_match(d, sm->name, CONF_MSGID_STRING, &r, &v, key,
	    sizeof(key)) != 0)
		return -1;
	dlr_take(d, sm, &v, key, &r, 0);
	verif_clear(&v);
	return 0;
}
