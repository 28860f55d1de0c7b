/*
 * dispatch.c - a message's life from commit to an SMSC's answer.
 *
 * A verification's message starts with its record staged in the store
 * (status pending, send_state queued, text sealed).  It goes on the wire at
 * once; the message walks its route's SMSCs in order (route.c), skipping
 * carriers that are down or have no window room; a carrier that accepts it
 * gets its message id indexed for receipts and the record turns `sent`
 * with the sealed text erased.  A temporary refusal, a timeout or a
 * dropped bind sends it on to the next SMSC or back to the wait queue; a
 * final refusal fails the verification.
 *
 * The wait queue.  Messages that find no SMSC (all down, throttled,
 * windows full) wait in a binary heap ordered by their code's expires_at
 * (then arrival): the pump, run whenever a carrier reports room and by a
 * one-second timer while anything waits, takes the earliest first, so
 * under a backlog the codes that can still make it go first.  A message
 * whose code has less than [verify] min_useful seconds left (half its life
 * for a code that lives less than twice that) is not submitted any more:
 * the pump ends it first thing, and the owner fails the verification with
 * reason expired_in_queue.  validity_period is computed at each submit, so
 * it stays the code's remaining life then.  At most [verify] queue_max
 * messages wait in memory; a send or resume beyond that is not held (its
 * record waits in the store's queue index, keyed by expiry) and the pump
 * reads such messages back, earliest expiry first, once the queue has
 * drained to half.  A restart resumes the store's queue in the same order.
 *
 * The HTTP answer of a send waits for the first outcome, bounded by
 * [server] submit_wait_ms: after that the caller is told `queued` and the
 * message keeps trying.
 *
 * Orderings, and why each keeps what a 201 promises (the record is
 * durable; a crash at any point loses no acknowledged verification, and
 * re-sends at most one window of messages, each with the text and code it
 * had):
 *
 *  1. record staged -> submit_sm on the wire, before the record commits.
 *     A crash before that commit loses the record: the SMS may have left
 *     (the person got a code nobody can check), but the caller got no 201
 *     (2 below) and asks again.  Waiting for the commit first would put
 *     a whole commit on the critical path of every send, for a case that
 *     costs one SMS.  Not so on the store on Redis, where a commit is
 *     refused whenever another gateway won a race (a send then runs
 *     again): there the message waits for its record's commit
 *     (dispatch_commit_first()), and a refused record sends nothing.
 *  2. 201 only after the record's batch has committed (record_committed).
 *     The record holds status pending, send_state queued and the sealed
 *     text (the code only as its HMAC): from then on the verification
 *     can be checked and resumed after any crash.  This is the promise.
 *  3. 201 `sent` once the SMSC's submit_sm_resp came AND (2), in whichever
 *     order they come; not after the commit of the accept's update (the
 *     send, send_state sent, the receipt index, the sealed text erased),
 *     which follows in a later batch off the critical path.  A crash
 *     before that update commits leaves the durable record queued with its
 *     sealed text: the restart resends it with the same text and code
 *     (the code the person may already hold still checks), and only the
 *     messages accepted since the last commit are sent twice: at most one
 *     window per SMSC.  A receipt for the first copy that comes before
 *     the update matched nothing and is parked (dlr.c), as before.
 *     Before this, the answer waited for that second commit, and under
 *     load a commit in flight made it two commits in a row.  The record's
 *     commit is waited on without hurrying it (store_on_commit_lazy()):
 *     an SMSC that answers before the batch goes has its accept share
 *     the record's commit; once the outcome is known the batch is hurried.
 *  4. An end (failed, expired_in_queue, dropped) is answered after the
 *     commit of the change that ends it, as every other answer in the
 *     daemon: a `failed` answer is never undone by a crash.
 *
 * Lifetimes: a struct msg lives while the message is waiting or submitted.
 * The carrier holds a msg pointer as its cookie only while submitted, and
 * gives it back exactly once; a msg dropped meanwhile (canceled, approved)
 * is marked dead and freed when its cookie comes back.  A struct answer
 * lives until it has answered and its store callbacks have come back.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "carrier.h"
#include "conf.h"
#include "dispatch.h"
#include "heap.h"
#include "phone_count.h"
#include "log.h"
#include "route.h"
#include "score.h"
#include "store.h"
#include "util.h"
#include "verify.h"

enum msg_state {
	MSG_WAITING = 0,     /* in the wait queue (or being tried) */
	MSG_SUBMITTED,       /* on the wire, cookie held by a carrier */
};

/*
 * A send's answer.  It goes when two things have happened, in either
 * order: the batch that holds the record (staged by the caller before
 * dispatch_send) has committed, and the message's first outcome is known
 * (accepted, every SMSC down, submit_wait_ms over, or an end).  An
 * accepted or still queued message is answered then, from what the store
 * holds staged (the send, send_state sent), without waiting for the commit
 * of that update; an end (failed, expired in the queue, dropped) waits for
 * the commit of the change that ends it, as any other answer does.  See
 * the head comment for why that keeps a 201's promise.
 */
struct answer {
	dispatch_answer_cb cb;
	void *ctx;
	char id[32];
	struct event *timer;
	struct msg *msg;     /* back pointer while the answer is pending */
	struct store *store; /* not the dispatcher: an answer may outlive it
	                        (record_committed() after dispatch_free()) */
	int in_store;        /* record_committed() is still to come */
	int committed;       /* the record's batch is done, with result */
	int result;
	int ready;           /* the outcome is known */
	int durable;         /* ... and it is an end: wait for its commit */
	int done;            /* cb called */
};

#define MSG_MAX_PARTS SMPP_SEGMENTS_MAX

/* The cookie a carrier holds for one part of a message. */
struct part {
	struct msg *m;
	int idx;
};

enum msg_where {
	Q_NONE = 0,          /* submitted, or being handled */
	Q_HEAP,              /* in the wait queue (the heap) */
	Q_ASIDE,             /* set aside during a pump, back after it */
};

struct msg {
	TAILQ_ENTRY(msg) q;       /* the aside list */
	struct heap_node hn;      /* its place in the wait queue */
	enum msg_where where;
	uint64_t seq;             /* arrival, to order equal expiries */
	int64_t deadline;         /* expires_at - min_useful: not submitted
	                             after it */
	struct msg *hnext;
	struct dispatch *d;
	enum msg_state state;
	int dead;
	int held;            /* commit first: waits for its record's commit */
	char id[32];
	char phone[17];
	char sender[22];
	char *sealed;
	int64_t expires_at;
	uint32_t order[ROUTE_MAX_SMSC];   /* SMSC handles (struct dsmsc) */
	int norder;
	int nskip;               /* the last nskip are passed over while an
	                            earlier one is up (route_choose) */
	uint32_t gen;            /* the configuration it was routed by */
	int pos;                 /* next index of order to try */
	int rounds;              /* times the whole route was tried */
	enum route_reason reason;
	int64_t not_before_ms;   /* do not retry before this */
	struct answer *answer;
	/* Parts of the submit in flight (a long text is a concatenated SMS:
	 * every part must be accepted for the message to count as sent). */
	int nparts, parts_out;
	uint32_t part_status[MSG_MAX_PARTS];
	char part_id[MSG_MAX_PARTS][66];
	struct part parts[MSG_MAX_PARTS];
};

TAILQ_HEAD(msgq, msg);

#define DISPATCH_HASH_MIN 4096    /* buckets; doubles to stay above nmsg */
#define SIDELINE_AFTER 5          /* refusals in a row that sideline */
#define SIDELINE_MS 30000         /* how long, before it is tried again */

/* An SMSC refusing every submit (a refusal another SMSC may take) costs
 * each message a round trip before it moves on: after SIDELINE_AFTER such
 * refusals in a row it is passed over like a down one for SIDELINE_MS
 * while the route has another SMSC up, then the next message tries it. */
struct sideline {
	int streak;
	int64_t until_ms;
};

/* A carrier as the dispatcher holds it: by a handle that no reload
 * reuses, with its sideline figures. */
struct dsmsc {
	struct carrier *c;
	uint32_t id;
	struct sideline side;
};

struct dispatch {
	struct event_base *base;
	int commit_first;       /* dispatch_commit_first() */
	struct store *store;
	uint8_t secret[VERIFY_SECRET_LEN];
	const struct dispatch_hooks *hooks;
	void *arg;
	const struct conf *conf;
	struct score *score;
	struct dsmsc *smsc;     /* aligned with conf->smscs */
	int nsmsc;
	struct route_smsc *view; /* scratch for route_choose, nsmsc long */
	uint32_t next_id;       /* the next carrier handle */
	uint32_t gen;           /* configurations seen */
	/* The wait queue: a binary min-heap by (expires_at, seq), at most
	 * conf->queue_max long; what does not fit stays in the store only
	 * (spill) and is read back in expiry order (queue_refill). */
	struct heap wait;
	struct msgq aside;      /* popped by the pump, pushed back after */
	uint64_t seq;
	int spill;              /* the store may hold queued messages that
	                           are not in memory */
	int nwaiting, ninflight;
	struct msg **hash;      /* by id, nhash buckets (a power of two) */
	size_t nhash, nmsg;
	struct event *retry_ev;
	int pumping;
	int closing;           /* dispatch_stop(): no more submits */
	uint8_t udh_ref;       /* concatenation reference, per message */
	uint64_t rng;          /* xorshift state for the probe draw */
	uint64_t sent, failed, route_switches;
	uint64_t expired_in_queue, spilled;
	struct log_limit lim_expired, lim_spilled;
	struct phone_count *wire;          /* messages on the wire, per number */
};

static void msg_free(struct msg *);
static int msg_before(const struct heap_node *, const struct heap_node *);
static void dispatch_pump(struct dispatch *);
static int msg_try(struct msg *);
static struct msg *msg_new(struct dispatch *, const struct verif *,
    const char *);
static void msg_route(struct dispatch *, struct msg *, const char *);


/* Add m to the table, doubling it first when it holds as many messages as
 * buckets (a queue drained after an outage can hold hundreds of
 * thousands: long chains would make every answer a walk). */
static void
msg_hash(struct dispatch *d, struct msg *m)
{
	struct msg **nh, *e, *next;
	size_t i, n, b;

	if (d->nmsg >= d->nhash) {
		n = d->nhash ? d->nhash * 2 : DISPATCH_HASH_MIN;
		nh = xcalloc(n, sizeof(*nh));
		for (i = 0; i < d->nhash; i++) {
			for (e = d->hash[i]; e != NULL; e = next) {
				next = e->hnext;
				b = util_fnv1a(e->id) & (n - 1);
				e->hnext = nh[b];
				nh[b] = e;
			}
		}
		free(d->hash);
		d->hash = nh;
		d->nhash = n;
	}
	b = util_fnv1a(m->id) & (d->nhash - 1);
	m->hnext = d->hash[b];
	d->hash[b] = m;
	d->nmsg++;
}

static struct msg *
msg_find(struct dispatch *d, const char *id)
{
	struct msg *m;

	if (d->nhash == 0)
		return NULL;
	for (m = d->hash[util_fnv1a(id) & (d->nhash - 1)]; m != NULL;
	    m = m->hnext)
		if (strcmp(m->id, id) == 0)
			return m;
	return NULL;
}

static void
msg_unhash(struct msg *m)
{
	struct dispatch *d = m->d;
	struct msg **pp;

	if (d->nhash == 0)
		return;
	pp = &d->hash[util_fnv1a(m->id) & (d->nhash - 1)];
	for (; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == m) {
			*pp = m->hnext;
			d->nmsg--;
			return;
		}
	}
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	dispatch_pump(arg);
}

struct dispatch *
dispatch_new(struct event_base *base, struct store *store,
    const uint8_t *secret, const struct dispatch_hooks *hooks, void *arg)
{
	struct dispatch *d = xcalloc(1, sizeof(*d));

	d->base = base;
	d->wire = phone_count_new();
	d->store = store;
	memcpy(d->secret, secret, sizeof(d->secret));
	d->hooks = hooks;
	d->arg = arg;
	TAILQ_INIT(&d->aside);
	heap_init(&d->wait, msg_before);
	d->retry_ev = evtimer_new(base, retry_cb, d);
	if (RAND_bytes((unsigned char *)&d->rng, sizeof(d->rng)) != 1 ||
	    d->rng == 0)
		d->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)util_mono_ms();
	return d;
}

/* The SMSC with handle id, or NULL (removed by a reload). */
static struct dsmsc *
smsc_by_id(struct dispatch *d, uint32_t id)
{
	for (int i = 0; i < d->nsmsc; i++)
		if (d->smsc[i].id == id)
			return &d->smsc[i];
	return NULL;
}

/* The entry of carrier c, or NULL (removed by a reload). */
static struct dsmsc *
smsc_of(struct dispatch *d, const struct carrier *c)
{
	for (int i = 0; i < d->nsmsc; i++)
		if (d->smsc[i].c == c)
			return &d->smsc[i];
	return NULL;
}

/* The carrier of m's order at position k, or NULL when it is gone. */
static struct carrier *
order_carrier(struct dispatch *d, const struct msg *m, int k)
{
	struct dsmsc *s = smsc_by_id(d, m->order[k]);

	return s != NULL ? s->c : NULL;
}

/* ---- answers --------------------------------------------------------- */

static void
answer_free_maybe(struct answer *a)
{
	if (!a->done || a->in_store > 0)
		return;
	if (a->timer != NULL)
		event_free(a->timer);
	free(a);
}

/* Call the answer's callback with the record as the store has it now
 * (staged writes included), or with v NULL and result's error. */
static void
answer_deliver(struct answer *a, int result)
{
	struct verif v;

	memset(&v, 0, sizeof(v));
	if (a->timer != NULL)
		evtimer_del(a->timer);
	a->done = 1;
	if (result == STORE_OK &&
	    store_verif_get(a->store, a->id, &v) == STORE_OK)
		a->cb(a->ctx, &v, STORE_OK);
	else
		a->cb(a->ctx, NULL, result == STORE_OK ? STORE_ERR : result);
	verif_clear(&v);
	answer_free_maybe(a);
}

/* The commit of an end's change (registered after the record's, so it
 * comes after it): answer now. */
static void
answer_committed(void *arg, int result)
{
	struct answer *a = arg;

	a->in_store--;
	if (a->done)
		answer_free_maybe(a);
	else
		answer_deliver(a, result);
}

/* The batch of the record (staged before dispatch_send) is done. */
static void
record_committed(void *arg, int result)
{
	struct answer *a = arg;

	a->in_store--;
	if (a->done) {
		answer_free_maybe(a);
		return;
	}
	a->committed = 1;
	a->result = result;
	if (result != STORE_OK) {
		/* The record never was: nothing is acknowledged.  (Its
		 * message, if on the wire, finds no record to update.) */
		if (a->msg != NULL) {
			a->msg->answer = NULL;
			a->msg = NULL;
		}
		answer_deliver(a, result);
		return;
	}
	if (a->ready && !a->durable)
		answer_deliver(a, STORE_OK);
	/* an end: answer_committed() answers */
}

/* A new answer for v; the record's commit is waited on from now, without
 * hurrying it: while the SMSC has not answered nobody is answered, and an
 * accept that comes before the batch goes shares its commit (one write of
 * the record, not two).  msg_answer_as() hurries it once the outcome is
 * known. */
static struct answer *
answer_new(struct dispatch *d, const struct verif *v, dispatch_answer_cb cb,
    void *ctx)
{
	struct answer *a = xcalloc(1, sizeof(*a));

	a->cb = cb;
	a->ctx = ctx;
	a->store = d->store;
	util_strlcpy(a->id, v->id, sizeof(a->id));
	a->in_store = 1;
	store_on_commit_lazy(d->store, record_committed, a);
	return a;
}

static void
commit_nudged(void *arg, int result)
{
}

/* Detach the pending answer of m (if any): m's first outcome is known.
 * durable: it is an end (failed, expired, dropped), whose change (staged
 * by now) must commit before the answer leaves. */
static void
msg_answer_as(struct msg *m, int durable)
{
	struct answer *a = m->answer;

	if (a == NULL)
		return;
	m->answer = NULL;
	a->msg = NULL;
	if (a->timer != NULL)
		evtimer_del(a->timer);
	if (m->d->closing) {
		/* Stopping: no commit may come for it (the store may be
		 * closing too): answer now, with no record. */
		answer_deliver(a, STORE_ERR);
		return;
	}
	a->ready = 1;
	a->durable = durable;
	if (durable) {
		a->in_store++;
		store_on_commit(m->d->store, answer_committed, a);
	} else if (a->committed) {
		answer_deliver(a, STORE_OK);
	} else {
		/* record_committed() answers; the batch open now (the
		 * record's, or one after it) goes at the end of the turn. */
		store_on_commit(m->d->store, commit_nudged, NULL);
	}
}

static void
msg_answer(struct msg *m)
{
	msg_answer_as(m, 0);
}

static void
answer_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct answer *a = arg;

	/* The SMSC has not answered within submit_wait_ms: tell the caller
	 * `queued`; the message keeps trying. */
	if (a->msg != NULL)
		msg_answer(a->msg);
}

/* ---- the wait queue ------------------------------------------------- */

#define EXPIRE_BATCH 512        /* expired_in_queue ends per pump */
#define REFILL_PAGE 256         /* queue entries read back per page */

#define MSG_OF(n) ((struct msg *)(void *)((char *)(n) - \
	offsetof(struct msg, hn)))

/* 1 when a goes before b: the earlier expiry, then the earlier arrival. */
static int
msg_before(const struct heap_node *x, const struct heap_node *y)
{
	const struct msg *a = MSG_OF(x), *b = MSG_OF(y);

	if (a->expires_at != b->expires_at)
		return a->expires_at < b->expires_at;
	return a->seq < b->seq;
}

static void
wait_push(struct dispatch *d, struct msg *m)
{
	heap_push(&d->wait, &m->hn);
	m->where = Q_HEAP;
}

/* The earliest waiting message (still in the queue), or NULL. */
static struct msg *
wait_first(const struct dispatch *d)
{
	struct heap_node *n = heap_top(&d->wait);

	return n != NULL ? MSG_OF(n) : NULL;
}

static void
retry_in(struct dispatch *d, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_del(d->retry_ev);
	evtimer_add(d->retry_ev, &tv);
}

/* Queue m, not to be tried before delay_ms.  During a pump it is set
 * aside, so the pump does not meet it again. */
static void
msg_enqueue(struct msg *m, int64_t delay_ms)
{
	struct dispatch *d = m->d;

	m->state = MSG_WAITING;
	m->not_before_ms = util_mono_ms() + delay_ms;
	if (d->pumping) {
		TAILQ_INSERT_TAIL(&d->aside, m, q);
		m->where = Q_ASIDE;
	} else {
		wait_push(d, m);
	}
	d->nwaiting++;
	if (!evtimer_pending(d->retry_ev, NULL))
		retry_in(d, 1000);
}

static void
msg_dequeue(struct msg *m)
{
	struct dispatch *d = m->d;

	if (m->where == Q_HEAP)
		heap_remove(&d->wait, &m->hn);
	else if (m->where == Q_ASIDE)
		TAILQ_REMOVE(&d->aside, m, q);
	else
		return;
	m->where = Q_NONE;
	d->nwaiting--;
}

/* The earliest message of the heap, out of it, or NULL. */
static struct msg *
queue_pop(struct dispatch *d)
{
	struct msg *m = wait_first(d);

	if (m != NULL)
		msg_dequeue(m);
	return m;
}

static int
any_route_up(struct dispatch *d, const struct msg *m)
{
	for (int i = 0; i < m->norder; i++) {
		struct carrier *c = order_carrier(d, m, i);
		if (c != NULL && carrier_up(c))
			return 1;
	}
	return 0;
}

/* m's code has less than min_useful left: it is not submitted any more;
 * the owner fails the verification with reason expired_in_queue. */
static void
msg_expire(struct msg *m)
{
	struct dispatch *d = m->d;
	char pbuf[24];
	unsigned sup;

	msg_unhash(m);          /* a drop from the hook finds nothing */
	d->expired_in_queue++;
	if (log_limit_ok(&d->lim_expired, util_mono_ms(), 1000, &sup))
		log_warn("dispatch.expired_in_queue", "id=%s phone=%s "
		    "left_s=%lld suppressed=%u", m->id, log_phone(pbuf,
		    sizeof(pbuf), m->phone),
		    (long long)(m->expires_at - util_now()), sup);
	d->hooks->failed(d->arg, m->id, "expired_in_queue");
	msg_answer_as(m, 1);
	msg_free(m);
}

/* End the waiting messages whose deadline has passed, earliest expiry
 * first: every message whose code expires within min_useful is looked at
 * (one with a short life has a later deadline: it is set aside), at most
 * EXPIRE_BATCH ends per call.  Pumping only. */
static void
queue_expire(struct dispatch *d)
{
	int64_t now = util_now();
	int n = 0;
	struct msg *m;

	while ((m = wait_first(d)) != NULL && n < EXPIRE_BATCH) {
		if (m->expires_at - now >= d->conf->min_useful)
			break;  /* nothing later has less left */
		m = queue_pop(d);
		if (now > m->deadline || now >= m->expires_at) {
			msg_expire(m);
			n++;
		} else {
			TAILQ_INSERT_TAIL(&d->aside, m, q);
			m->where = Q_ASIDE;
			d->nwaiting++;
		}
	}
	if (n == EXPIRE_BATCH)
		retry_in(d, 1);        /* more next turn */
}

struct refill {
	struct dispatch *d;
	int64_t t;
	char id[32];
	int n;
	int full;       /* an entry found no room: the rest stays spilled */
};

static void
refill_one(void *arg, const char *id, int64_t t)
{
	struct refill *r = arg;
	struct dispatch *d = r->d;
	struct verif v;
	struct msg *m;

	r->t = t;
	util_strlcpy(r->id, id, sizeof(r->id));
	r->n++;
	if (d->nwaiting >= d->conf->queue_max)
		r->full = 1;
	if (r->full || msg_find(d, id) != NULL)
		return;
	memset(&v, 0, sizeof(v));
	if (store_verif_get(d->store, id, &v) == STORE_OK &&
	    v.status == VERIF_PENDING && v.send_state == SEND_QUEUED &&
	    v.sealed != NULL) {
		m = msg_new(d, &v, NULL);
		msg_enqueue(m, 0);
	}
	verif_clear(&v);
}

/* Read the store's queue, earliest expiry first, in pages, into the wait
 * queue up to queue_max (those in memory are passed over); spill stays
 * set unless the read reached the end. */
static void
queue_load(struct dispatch *d)
{
	struct refill r;
	int n;

	memset(&r, 0, sizeof(r));
	r.d = d;
	do {
		r.n = 0;
		n = store_queue_scan(d->store, r.t, r.id[0] ? r.id : NULL,
		    REFILL_PAGE, refill_one, &r);
	} while (n == REFILL_PAGE && !r.full);
	/* Spilled ones are left unless it read to the end with room. */
	d->spill = r.full || !(n >= 0 && n < REFILL_PAGE);
}

/* Messages that did not fit in memory wait in the store only: once the
 * queue has drained to half, read them back.  Pumping only. */
static void
queue_refill(struct dispatch *d)
{
	if (!d->spill || d->nwaiting >= d->conf->queue_max / 2)
		return;
	queue_load(d);
	log_info("dispatch.refill", "waiting=%d spill=%d", d->nwaiting,
	    d->spill);
}

/* m does not fit in memory (queue_max): it waits in the store only. */
static void
queue_spill(struct dispatch *d, const char *id)
{
	unsigned sup;

	d->spill = 1;
	d->spilled++;
	if (!evtimer_pending(d->retry_ev, NULL))
		retry_in(d, 1000);
	if (log_limit_ok(&d->lim_spilled, util_mono_ms(), 1000, &sup))
		log_warn("dispatch.spilled", "id=%s waiting=%d queue_max=%d "
		    "suppressed=%u", id, d->nwaiting, d->conf->queue_max, sup);
}

/*
 * Let waiting messages go, earliest expiry first: first end those whose
 * deadline passed (queue_expire), then pop the heap while the carriers
 * have room, each message at most once per pump (one that cannot go now
 * is set aside and pushed back after), then read back spilled ones.
 */
static void
dispatch_pump(struct dispatch *d)
{
	struct msg *m;
	int64_t now_ms = util_mono_ms();
	int room = 0, budget;

	if (d->pumping || d->closing)
		return;
	d->pumping = 1;
	queue_expire(d);
	for (int i = 0; i < d->nsmsc; i++)
		room += carrier_room(d->smsc[i].c);
	budget = (int)heap_count(&d->wait);
	while (room > 0 && budget-- > 0 && (m = queue_pop(d)) != NULL) {
		if (m->not_before_ms > now_ms) {
			TAILQ_INSERT_TAIL(&d->aside, m, q);
			m->where = Q_ASIDE;
			d->nwaiting++;
			continue;
		}
		if (msg_try(m))
			room--;
	}
	queue_refill(d);
	while ((m = TAILQ_FIRST(&d->aside)) != NULL) {
		TAILQ_REMOVE(&d->aside, m, q);
		wait_push(d, m);
	}
	d->pumping = 0;
	if ((d->nwaiting > 0 || d->spill) &&
	    !evtimer_pending(d->retry_ev, NULL))
		retry_in(d, 1000);
}

void
dispatch_ready(struct dispatch *d, struct carrier *c)
{
	if (d->nwaiting > 0 || d->spill)
		dispatch_pump(d);
}

/* ---- submitting ------------------------------------------------------ */

/* SMPP relative validity period for the code's remaining lifetime:
 * "YYMMDDhhmmss000R". */
static void
validity_period(int64_t secs, char *out, size_t size)
{
	int64_t d, h, mi, s;

	if (secs < 60)
		secs = 60;
	d = secs / 86400;
	h = secs % 86400 / 3600;
	mi = secs % 3600 / 60;
	s = secs % 60;
	if (d > 99)
		d = 99;
	snprintf(out, size, "0000%02d%02d%02d%02d000R", (int)d, (int)h,
	    (int)mi, (int)s);
}

static int
sender_is_alpha(const char *s)
{
	for (; *s; s++)
		if ((*s < '0' || *s > '9') && *s != '+')
			return 1;
	return 0;
}

/* The submit_sm fields every part of m shares. */
static void
msg_fill(struct msg *m, struct carrier *c, struct smpp_message *sm,
    char *vp, size_t vpsize, uint8_t dc)
{
	memset(sm, 0, sizeof(*sm));
	sm->source = m->sender;
	carrier_source_addr(c, sender_is_alpha(m->sender), &sm->source_ton,
	    &sm->source_npi);
	if (!sender_is_alpha(m->sender) && sm->source[0] == '+')
		sm->source++;
	sm->destination = m->phone + 1;
	sm->data_coding = dc;
	validity_period(m->expires_at - util_now(), vp, vpsize);
	sm->validity_period = vp;
	sm->registered_delivery = 1;
}

/* Submit m over carrier c: one submit_sm, or one per part when the text
 * needs several (smpp_segments_make() cuts it: one message_payload when
 * the carrier takes long ones, else parts behind a concatenation UDH).  0
 * when every part went on the wire, -1 when c has no room for them all,
 * -2 when the message cannot be read or encoded. */
static int
msg_submit(struct msg *m, struct carrier *c)
{
	struct smpp_segments seg;
	struct smpp_message sm;
	char *text, vp[20];
	int n, rc = 0;

	text = verify_unseal(m->d->secret, m->id, m->sealed);
	if (text == NULL) {
		log_err("dispatch.unseal_failed", "id=%s", m->id);
		return -2;
	}
	n = smpp_segments_make(text, carrier_latin1(c),
	    carrier_long_payload(c), (uint8_t)(m->d->udh_ref + 1),
	    MSG_MAX_PARTS, &seg);
	OPENSSL_cleanse(text, strlen(text));
	free(text);
	if (n < 1) {
		log_err("dispatch.encode_failed", "id=%s", m->id);
		return -2;
	}
	if (carrier_room(c) < n) {
		smpp_segments_clear(&seg);
		return -1;
	}
	if (seg.esm_class != 0)
		m->d->udh_ref++;   /* the reference the parts went with */
	msg_fill(m, c, &sm, vp, sizeof(vp), seg.data_coding);
	sm.esm_class = seg.esm_class;
	sm.use_payload = seg.use_payload;
	m->nparts = n;
	m->parts_out = 0;
	for (int i = 0; i < n; i++) {
		m->part_status[i] = SMPP_STATUS_NOT_SENT;
		m->part_id[i][0] = '\0';
		m->parts[i].m = m;
		m->parts[i].idx = i;
		sm.body = smpp_segments_body(&seg, i);
		sm.body_len = seg.len[i];
		if (carrier_submit(c, &sm, &m->parts[i]) != 0) {
			rc = -1;
			break;
		}
		m->parts_out++;
		m->d->ninflight++;
	}
	smpp_segments_clear(&seg);
	if (m->parts_out > 0) {
		/* Parts that went out come back through submit_done; a part
		 * that did not counts as NOT_SENT and the message retries. */
		m->state = MSG_SUBMITTED;
		phone_count_add(m->d->wire, m->phone, 1);
		return 0;
	}
	return rc;
}

/* m failed for good: forget it, let the owner fail the verification (its
 * record is staged before the answer's commit), answer. */
static void
msg_fail(struct msg *m, const char *reason)
{
	struct dispatch *d = m->d;
	char pbuf[24];

	msg_unhash(m);          /* a drop from the hook finds nothing */
	d->failed++;
	log_warn("dispatch.failed", "id=%s phone=%s reason=%s", m->id,
	    log_phone(pbuf, sizeof(pbuf), m->phone), reason);
	d->hooks->failed(d->arg, m->id, reason);
	msg_answer_as(m, 1);
	msg_free(m);
}

/* Count a submit's outcome on carrier c for sidelining. */
static void
side_count(struct dispatch *d, struct carrier *c, int refused)
{
	struct dsmsc *e = smsc_of(d, c);
	struct sideline *s;

	if (e == NULL)
		return;
	s = &e->side;
	if (!refused) {
		s->streak = 0;
		s->until_ms = 0;
		return;
	}
	if (++s->streak >= SIDELINE_AFTER &&
	    s->until_ms <= util_mono_ms()) {
		s->until_ms = util_mono_ms() + SIDELINE_MS;
		log_warn("smsc.sidelined", "smsc=%s refused_in_a_row=%d "
		    "for_ms=%d", carrier_name(c), s->streak, SIDELINE_MS);
	}
}

/* Try the SMSCs of m's order from m->pos on and submit to the first that
 * is up and has room (route_choose() made the order; this only executes
 * it).  Otherwise queue m, and answer `queued` at once when no SMSC of its
 * order is even bound.  1 when m went on the wire; 0 when it waits or
 * ended (then m is freed). */
static int
msg_try(struct msg *m)
{
	struct dispatch *d = m->d;
	int lead, up = 0;

	if (d->closing) {
		/* dispatch_stop(): the carriers are going; it stays queued in
		 * the store for the next start. */
		msg_enqueue(m, 0);
		msg_answer(m);
		return 0;
	}
	if (util_now() > m->deadline || util_now() >= m->expires_at) {
		/* Less than min_useful left: not worth an SMS. */
		msg_expire(m);
		return 0;
	}
	if (phone_count_add(d->wire, m->phone, 0) > 0) {
		/* An earlier message to the number is on the wire: this one
		 * goes once it is answered (ready pumps the queue then), so
		 * the handset gets them in the order they were made, whatever
		 * SMSC each takes (SPEC "Idempotency and races"). */
		msg_enqueue(m, 0);
		return 0;
	}
	if (m->gen != d->gen)
		msg_route(d, m, NULL);   /* routed before a reload */
	if (m->norder == 0) {
		msg_fail(m, "no_route");
		return 0;
	}
	/* The sidelined tail of the order is passed over while an SMSC
	 * before it is up. */
	lead = m->norder - m->nskip;
	for (int k = 0; k < lead; k++) {
		struct carrier *c = order_carrier(d, m, k);
		if (c != NULL && carrier_up(c))
			up++;
	}
	for (int k = 0; k < m->norder; k++) {
		int i = (m->pos + k) % m->norder;
		struct carrier *c = order_carrier(d, m, i);
		if (c == NULL || !carrier_up(c) || carrier_room(c) <= 0)
			continue;
		if (i >= lead && up > 0)
			continue;
		int rc = msg_submit(m, c);
		if (rc == 0) {
			if (k > 0 && m->reason == ROUTE_PRIMARY)
				m->reason = ROUTE_FAILOVER;
			m->pos = i;
			return 1;
		}
		if (rc == -2) {
			msg_fail(m, "message_unreadable");
			return 0;
		}
	}
	msg_enqueue(m, 0);
	if (!any_route_up(d, m))
		msg_answer(m);   /* every SMSC is down: `queued` now */
	return 0;
}

/* Start m: arm the wait for its HTTP answer and try the route.  The
 * submit may leave before the record's commit; the answer never does (it
 * goes out after a commit, and reports an error if the record is not in
 * the store then). */
static void
msg_start(struct msg *m)
{
	struct timeval tv;

	if (m->answer != NULL) {
		int ms = m->d->conf->submit_wait_ms;
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		m->answer->timer = evtimer_new(m->d->base, answer_timeout,
		    m->answer);
		evtimer_add(m->answer->timer, &tv);
	}
	msg_try(m);
}

/* A draw in 0..99 for the probe share (xorshift64: no secret rides on
 * it, and a CSPRNG call per send costs more than the rest of the choice). */
static int
roll(struct dispatch *d)
{
	d->rng ^= d->rng << 13;
	d->rng ^= d->rng >> 7;
	d->rng ^= d->rng << 17;
	return (int)(d->rng % 100);
}

/*
 * Route m by the current configuration: what route_choose() (route.h)
 * makes of the SMSCs' state now (bound, sidelined, their figures on the
 * number's route), executed from the first of its order.  last_smsc
 * names the SMSC of a repeat's previous send, or is NULL.  A move off a
 * degraded SMSC is counted and logged with the figures behind it.
 */
static void
msg_route(struct dispatch *d, struct msg *m, const char *last_smsc)
{
	const struct conf *conf = d->conf;
	struct route_choice ch;
	int64_t now = util_now(), now_ms = util_mono_ms();
	int route = route_find(conf, m->phone);

	for (int i = 0; i < d->nsmsc; i++) {
		struct route_smsc *v = &d->view[i];
		memset(v, 0, sizeof(*v));
		v->up = carrier_up(d->smsc[i].c);
		v->sidelined = d->smsc[i].side.until_ms > now_ms;
	}
	if (route >= 0 && conf->routes[route].nsmsc >= 2)
		for (int k = 0; k < conf->routes[route].nsmsc; k++) {
			int i = conf->routes[route].smsc[k];
			score_get(d->score, conf, route, i, now,
			    &d->view[i].score);
		}
	route_choose(conf, m->phone, last_smsc != NULL ?
	    conf_smsc_index(conf, last_smsc) : -1, d->view, roll(d), &ch);
	m->norder = ch.norder;
	m->nskip = ch.nskip;
	for (int k = 0; k < ch.norder; k++)
		m->order[k] = d->smsc[ch.order[k]].id;
	m->reason = ch.reason;
	m->pos = 0;
	m->gen = d->gen;
	if (ch.switched_from >= 0) {
		const struct score_view *fv = &d->view[ch.switched_from].score;
		d->route_switches++;
		log_info("route.switch", "id=%s route=%s from=%s to=%s "
		    "delivered_ratio=%.2f conversion=%.2f receipts=%" PRIu64
		    " mature=%" PRIu64 " floor=%d", m->id,
		    conf->routes[ch.route].name,
		    conf->smscs[ch.switched_from].name,
		    conf->smscs[ch.order[0]].name, fv->delivered_ratio,
		    fv->conversion, fv->delivered + fv->undeliverable,
		    fv->mature, conf->routes[ch.route].floor);
	}
}

/* The time from which v's message is not submitted any more: min_useful
 * before its expiry, or half its life before when that is shorter (a code
 * asked to live 60 s is still sent with min_useful 60). */
static int64_t
msg_deadline(const struct conf *conf, const struct verif *v)
{
	int64_t life = v->expires_at - v->created_at, th = conf->min_useful;

	if (life < 0)
		life = 0;
	if (th > life / 2)
		th = life / 2;
	return v->expires_at - th;
}

static struct msg *
msg_new(struct dispatch *d, const struct verif *v, const char *last_smsc)
{
	struct msg *m = xcalloc(1, sizeof(*m));

	m->d = d;
	m->seq = ++d->seq;
	m->deadline = msg_deadline(d->conf, v);
	util_strlcpy(m->id, v->id, sizeof(m->id));
	util_strlcpy(m->phone, v->phone, sizeof(m->phone));
	util_strlcpy(m->sender, v->sender[0] ? v->sender :
	    d->conf->sender, sizeof(m->sender));
	m->sealed = xstrdup(v->sealed ? v->sealed : "");
	m->expires_at = v->expires_at;
	msg_route(d, m, last_smsc);
	msg_hash(d, m);
	return m;
}

/* Commit first (dispatch_commit_first()): the record is in, the message
 * goes; or it is not, and nothing goes (record_committed() answered). */
static void
record_then_send(void *arg, int result)
{
	struct msg *m = arg;

	m->held = 0;
	if (result == STORE_OK && !m->dead && !m->d->closing)
		msg_start(m);
	else
		msg_free(m);
}

void
dispatch_commit_first(struct dispatch *d)
{
	d->commit_first = 1;
}

void
dispatch_send(struct dispatch *d, const struct verif *v,
    const char *last_smsc, dispatch_answer_cb cb, void *ctx)
{
	struct answer *a = NULL;
	struct msg *m;

	if (cb != NULL)
		a = answer_new(d, v, cb, ctx);
	if (d->nwaiting >= d->conf->queue_max) {
		/* A backlog of queue_max: it waits in the store only (its
		 * record is staged queued), answered `queued`. */
		queue_spill(d, v->id);
		if (a != NULL) {
			a->ready = 1;   /* record_committed() answers */
			store_on_commit(d->store, commit_nudged, NULL);
		}
		return;
	}
	m = msg_new(d, v, last_smsc);
	if (a != NULL) {
		m->answer = a;
		a->msg = m;
	}
	if (d->commit_first) {
		m->held = 1;    /* ordering 1 the other way round: see top */
		store_on_commit(d->store, record_then_send, m);
		return;
	}
	msg_start(m);
}

void
dispatch_resume(struct dispatch *d, const struct verif *v)
{
	struct msg *m;

	if (v->sealed == NULL || msg_find(d, v->id) != NULL)
		return;
	if (d->nwaiting >= d->conf->queue_max) {
		queue_spill(d, v->id);
		return;
	}
	/* Queued, not tried: the pump takes the resumed messages in the
	 * order of their expiry, whatever order they came back in. */
	m = msg_new(d, v, NULL);
	msg_enqueue(m, 0);
}

int
dispatch_resume_queue(struct dispatch *d)
{
	int before = d->nwaiting;

	queue_load(d);
	if (d->spill)
		log_info("dispatch.resume_spill", "waiting=%d queue_max=%d "
		    "msg=\"the rest waits in the store\"", d->nwaiting,
		    d->conf->queue_max);
	return d->nwaiting - before;
}

void
dispatch_drop(struct dispatch *d, const char *id)
{
	struct msg *m = msg_find(d, id);

	if (m == NULL)
		return;
	switch (m->state) {
	case MSG_WAITING:
		msg_dequeue(m);
		msg_answer_as(m, 1);
		if (m->held)
			m->dead = 1;    /* record_then_send() frees it */
		else
			msg_free(m);
		break;
	case MSG_SUBMITTED:
		m->dead = 1;   /* freed when its commit or cookie comes back */
		break;
	}
}

/* Record an accepted submit: one send per part with its message id,
 * send_state sent, sealed text erased, the receipt index entries. */
static void
msg_accepted(struct msg *m, struct carrier *c)
{
	struct dispatch *d = m->d;
	struct store *st = d->store;
	struct verif v;
	char norm[80];
	int first;

	memset(&v, 0, sizeof(v));
	if (store_verif_get(st, m->id, &v) != STORE_OK) {
		log_err("dispatch.lost_record", "id=%s", m->id);
		return;
	}
	for (int i = 0; i < m->nparts; i++) {
		if (v.nsend == VERIF_MAX_SENDS) {
			/* Keep the newest sends. */
			memmove(&v.send[0], &v.send[1],
			    sizeof(v.send[0]) * (VERIF_MAX_SENDS - 1));
			v.nsend--;
		}
		struct verif_send *s = &v.send[v.nsend++];
		memset(s, 0, sizeof(*s));
		util_strlcpy(s->smsc, carrier_name(c), sizeof(s->smsc));
		util_strlcpy(s->message_id, m->part_id[i],
		    sizeof(s->message_id));
		s->submitted_at = util_now();
		s->dlr = DLR_PENDING;
		s->error = -1;
		util_strlcpy(s->reason, route_strreason(m->reason),
		    sizeof(s->reason));
		if (smpp_msgid_normalise(m->part_id[i], 0, norm,
		    sizeof(norm)) == 0)
			store_msgid_put(st, carrier_name(c), norm, m->id);
	}
	first = v.send_state == SEND_QUEUED;
	if (first)
		v.send_state = SEND_SENT;
	free(v.sealed);
	v.sealed = NULL;
	v.updated_at = util_now();
	store_verif_put(st, &v);
	if (first)
		score_sent(d->score, d->conf, v.phone, carrier_name(c),
		    util_now());
	d->sent++;
	d->hooks->sent(d->arg, &v, first, c);
	verif_clear(&v);
}

/* c refused m with a status another SMSC may take: the next of its order
 * is tried.  A message routed before a reload is routed again by the new
 * configuration and goes on after c there (from the first when c is
 * gone). */
static void
msg_failover(struct msg *m, struct carrier *c)
{
	struct dispatch *d = m->d;
	struct dsmsc *e;
	int at = -1;

	if (m->gen == d->gen) {
		m->pos = (m->pos + 1) % (m->norder ? m->norder : 1);
	} else {
		msg_route(d, m, NULL);
		if ((e = smsc_of(d, c)) != NULL)
			for (int k = 0; k < m->norder; k++)
				if (m->order[k] == e->id)
					at = k;
		m->pos = at >= 0 ? (at + 1) % m->norder : 0;
	}
	m->reason = ROUTE_FAILOVER;
}

void
dispatch_submit_done(struct dispatch *d, struct carrier *c, void *cookie,
    uint32_t status, const char *message_id)
{
	struct part *p = cookie;
	struct msg *m = p->m;
	enum smpp_status_class cls;
	char pbuf[24];

	d->ninflight--;
	m->part_status[p->idx] = status;
	util_strlcpy(m->part_id[p->idx], message_id ? message_id : "",
	    sizeof(m->part_id[p->idx]));
	if (--m->parts_out > 0)
		return;   /* the other parts are still out */
	/* Every part is answered: the message's outcome is its worst part's. */
	status = 0;
	for (int i = 0; i < m->nparts; i++) {
		if (m->part_status[i] != 0) {
			status = m->part_status[i];
			if (smpp_status_class(status) == SMPP_CLASS_FINAL)
				break;
		}
	}
	cls = smpp_status_class(status);
	m->state = MSG_WAITING;   /* not on the wire any more */
	phone_count_add(d->wire, m->phone, -1);
	side_count(d, c, cls == SMPP_CLASS_RETRY_OTHER);
	if (status == 0) {
		log_info("dispatch.accepted", "id=%s phone=%s smsc=%s "
		    "reason=%s parts=%d", m->id, log_phone(pbuf, sizeof(pbuf),
		    m->phone), carrier_name(c), route_strreason(m->reason),
		    m->nparts);
		msg_accepted(m, c);
		msg_answer(m);
		msg_free(m);
		return;
	}
	log_warn("dispatch.refused", "id=%s smsc=%s status=%s", m->id,
	    carrier_name(c), smpp_strstatus(status));
	if (m->dead) {
		msg_answer_as(m, 1);
		msg_free(m);
		return;
	}
	switch (cls) {
	case SMPP_CLASS_FINAL:
		msg_fail(m, smpp_strstatus(status));
		return;
	case SMPP_CLASS_RETRY:
		/* Throttled or queue full: the carrier has paused itself
		 * (room 0 until it reports ready), so the message waits in
		 * its place by expiry; other temporary errors pause the
		 * message itself before the same SMSC again. */
		msg_enqueue(m, status == ESME_RTHROTTLED ||
		    status == ESME_RMSGQFUL ? 0 : 1000);
		return;
	case SMPP_CLASS_RETRY_OTHER:
	case SMPP_CLASS_OK:
	default:
		msg_failover(m, c);
		if (m->pos == 0 && ++m->rounds >= 3) {
			/* Every SMSC of the route refused it three times. */
			msg_fail(m, smpp_strstatus(status));
			return;
		}
		msg_try(m);
		return;
	}
}

static void
msg_free(struct msg *m)
{
	if (m->answer != NULL) {
		/* Should not happen: every path answers first.  Answer now so
		 * no HTTP request is left hanging. */
		msg_answer(m);
	}
	msg_dequeue(m);
	msg_unhash(m);
	if (m->sealed != NULL) {
		OPENSSL_cleanse(m->sealed, strlen(m->sealed));
		free(m->sealed);
	}
	free(m);
}

void
dispatch_reconf(struct dispatch *d, const struct conf *conf,
    struct carrier **carriers, int ncarrier, struct score *score)
{
	struct dsmsc *ns = xcalloc(ncarrier ? (size_t)ncarrier : 1,
	    sizeof(*ns));

	/* A carrier kept from before keeps its handle and sideline
	 * figures; a new one gets a handle never used before. */
	for (int i = 0; i < ncarrier; i++) {
		struct dsmsc *old = smsc_of(d, carriers[i]);
		if (old != NULL)
			ns[i] = *old;
		else {
			ns[i].c = carriers[i];
			ns[i].id = ++d->next_id;
		}
	}
	free(d->smsc);
	d->smsc = ns;
	d->nsmsc = ncarrier;
	free(d->view);
	d->view = xcalloc(ncarrier ? (size_t)ncarrier : 1, sizeof(*d->view));
	d->conf = conf;
	d->score = score;
	d->gen++;
	/* Waiting messages take the new routes now; those on the wire
	 * when their answer comes back (msg_try sees the old gen). */
	for (size_t i = 0; i < heap_count(&d->wait); i++)
		msg_route(d, MSG_OF(heap_at(&d->wait, i)), NULL);
}

void
dispatch_stop(struct dispatch *d)
{
	d->closing = 1;
	free(d->smsc);
	d->smsc = NULL;
	d->nsmsc = 0;
}

void
dispatch_stats(const struct dispatch *d, struct dispatch_stats *out)
{
	out->sent = d->sent;
	out->failed = d->failed;
	out->route_switches = d->route_switches;
	out->waiting = d->nwaiting;
	out->inflight = d->ninflight;
	out->expired_in_queue = d->expired_in_queue;
	out->spilled = d->spilled;
}

void
dispatch_free(struct dispatch *d)
{
	struct msg *m;

	if (d == NULL)
		return;
	d->closing = 1;
	while ((m = queue_pop(d)) != NULL)
		msg_free(m);
	event_free(d->retry_ev);
	heap_release(&d->wait);
	phone_count_free(d->wire);
	free(d->smsc);
	free(d->view);
	free(d->hash);
	OPENSSL_cleanse(d->secret, sizeof(d->secret));
	free(d);
}
