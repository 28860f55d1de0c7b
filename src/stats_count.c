/*
 * stats_count.c - the counting half of the statistics (stats.h): where an
 * event happens (flow.c, dlr.c) it is held, with its groups, for the open
 * batch; right before that batch goes (store_set_precommit()) the held
 * events are summed per row (each granularity: minute, hour, day; each
 * owner: the verification's key and "*"; each dimension: up to 33 rows
 * per event) and each row is read, added to and staged once.  So the
 * rows commit with the changes they count, and a busy batch of a few
 * dozen sends costs a few hundred row updates, not thirty-three per
 * event.  A query first stages what is held (the same batch), so reads
 * see every event.  Queries sum the rows that tile a window
 * (stats_tile).
 *
 * Groups of a verification: its key's name; its country (phone_region(),
 * "unknown" when no region claims the number); its route (the first
 * [route] whose prefix covers the number today, "none" when none does);
 * its SMSC (the send's: the receipt's send, or the newest; "none" when it
 * has none); its range ("+" and [limits] range_digits digits, as the
 * shield reads it).  By SMSC a send is counted when an SMSC first accepts
 * it (under that SMSC), or when it fails without one ("none"): a send
 * has no SMSC before that.
 *
 * Who owns what: struct stats is the caller's; it borrows the store and
 * the configuration (stats_reconf() hands it the new one).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "log.h"
#include "phone.h"
#include "route.h"
#include "shield.h"
#include "stats.h"
#include "store.h"
#include "util.h"

#define STATS_SCAN_MAX 100000   /* rows read per query */
#define REGION_CACHE 4096       /* numbers whose country is remembered */
#define PENDING_MAX 512         /* events held before they are staged */
#define DELTAS_KEEP 4096        /* delta slots kept between batches */

/* The groups of one event. */
struct groups {
	char key[33], country[8], route[STATS_GROUP_MAX], smsc[33];
	char range[20];
};

/* An event held for the open batch (see stats.h). */
struct pending {
	int kind;
	int64_t ms;
	char reason[STATS_REASON_MAX];
	int64_t created;
	int smsc_only, no_smsc;
	struct groups g;
};

struct delta;
static void on_precommit(void *);

/* The country of a number prefix ("+" and REGION_DIGITS digits),
 * remembered: libphonenumber reads a +1 or +44 number with its regular
 * expressions (microseconds, on the loop), and the prefix decides the
 * country (NANP area codes, the Channel Islands' mobile blocks) but for
 * rare sub-allocations, which count under the first number's country. */
#define REGION_DIGITS 7
struct region_slot {
	char prefix[REGION_DIGITS + 2];
	char region[8];
};

struct stats {
	struct store *store;
	const struct conf *conf;
	struct region_slot regions[REGION_CACHE];   /* direct-mapped */
	struct pending pend[PENDING_MAX];       /* the open batch's events */
	int npend;
	struct delta *delta;      /* staging: one per row, hashed */
	int dcap, ndelta;
	uint64_t errors;
	struct log_limit lim_err;
};

struct stats *
stats_new(struct store *store, const struct conf *conf)
{
	struct stats *s = xcalloc(1, sizeof(*s));

	s->store = store;
	s->conf = conf;
	store_set_precommit(store, on_precommit, s);
	return s;
}

uint64_t
stats_errors(const struct stats *s)
{
	return s != NULL ? s->errors : 0;
}

void
stats_reconf(struct stats *s, const struct conf *conf)
{
	if (s != NULL)
		s->conf = conf;
}

void
stats_free(struct stats *s)
{
	if (s == NULL)
		return;
	free(s->delta);
	free(s);
}

static void
region_of(struct stats *s, const char *phone, char *out, size_t size)
{
	char prefix[REGION_DIGITS + 2];
	uint32_t h = 2166136261u;
	struct region_slot *r;

	util_strlcpy(prefix, phone, sizeof(prefix));
	for (const char *p = prefix; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	r = &s->regions[h % REGION_CACHE];
	if (strcmp(r->prefix, prefix) != 0) {
		if (phone_region(phone, r->region, sizeof(r->region)) != 0)
			util_strlcpy(r->region, "unknown", sizeof(r->region));
		util_strlcpy(r->prefix, prefix, sizeof(r->prefix));
	}
	util_strlcpy(out, r->region, size);
}

static void
groups_of(struct stats *s, const struct verif *v, const char *smsc,
    struct groups *g)
{
	int r;

	util_strlcpy(g->key, v->key, sizeof(g->key));
	region_of(s, v->phone, g->country, sizeof(g->country));
	r = route_find(s->conf, v->phone);
	util_strlcpy(g->route, r >= 0 ? s->conf->routes[r].name : "none",
	    sizeof(g->route));
	util_strlcpy(g->smsc, smsc != NULL && *smsc ? smsc : "none",
	    sizeof(g->smsc));
	shield_range(v->phone, s->conf->limits.range_digits, g->range,
	    sizeof(g->range));
}

/* ---- the batch's deltas ------------------------------------------------ */

/* One row's counts of the open batch's events. */
struct delta {
	uint32_t hash;
	int used;
	int gran, dim;
	int64_t t;
	char owner[33];
	char group[STATS_GROUP_MAX];
	struct stats_row row;
};

static uint32_t
delta_hash(int gran, int dim, int64_t t, const char *owner, const char *group)
{
	uint32_t h = 2166136261u;

	h = (h ^ (uint32_t)gran) * 16777619u;
	h = (h ^ (uint32_t)dim) * 16777619u;
	h = (h ^ (uint32_t)(t / 60)) * 16777619u;
	for (; *owner != '\0'; owner++)
		h = (h ^ (uint8_t)*owner) * 16777619u;
	h = (h ^ 0xff) * 16777619u;
	for (; *group != '\0'; group++)
		h = (h ^ (uint8_t)*group) * 16777619u;
	return h;
}

static void
deltas_grow(struct stats *s)
{
	struct delta *old = s->delta;
	int oldcap = s->dcap;

	s->dcap = s->dcap ? s->dcap * 2 : 256;
	s->delta = xcalloc((size_t)s->dcap, sizeof(*s->delta));
	for (int i = 0; i < oldcap; i++) {
		uint32_t j;
		if (!old[i].used)
			continue;
		j = old[i].hash & (uint32_t)(s->dcap - 1);
		while (s->delta[j].used)
			j = (j + 1) & (uint32_t)(s->dcap - 1);
		s->delta[j] = old[i];
	}
	free(old);
}

/* The delta of a row, made when it is new. */
static struct stats_row *
delta_of(struct stats *s, int gran, int dim, int64_t t, const char *owner,
    const char *group)
{
	uint32_t h = delta_hash(gran, dim, t, owner, group), j;
	struct delta *d;

	if ((s->ndelta + 1) * 2 > s->dcap)
		deltas_grow(s);
	for (j = h & (uint32_t)(s->dcap - 1); s->delta[j].used;
	    j = (j + 1) & (uint32_t)(s->dcap - 1)) {
		d = &s->delta[j];
		if (d->hash == h && d->gran == gran && d->dim == dim &&
		    d->t == t && strcmp(d->owner, owner) == 0 &&
		    strcmp(d->group, group) == 0)
			return &d->row;
	}
	d = &s->delta[j];
	memset(d, 0, sizeof(*d));
	d->used = 1;
	d->hash = h;
	d->gran = gran;
	d->dim = dim;
	d->t = t;
	util_strlcpy(d->owner, owner, sizeof(d->owner));
	util_strlcpy(d->group, group, sizeof(d->group));
	s->ndelta++;
	return &d->row;
}

/* Count event p into the deltas of every row it belongs to: 3
 * granularities x (its key's 5 dimensions + all keys' 6); smsc_only:
 * only the SMSC rows, no_smsc: all but those. */
static void
deltas_add(struct stats *s, const struct pending *p)
{
	static const int grans[] = { STATS_MINUTE, STATS_HOUR, STATS_DAY };
	const struct groups *g = &p->g;
	const struct {
		int dim;
		const char *group;
	} rows[] = {
		{ STATS_BY_SMSC, g->smsc },
		{ STATS_BY_ALL, "" },
		{ STATS_BY_COUNTRY, g->country },
		{ STATS_BY_ROUTE, g->route },
		{ STATS_BY_RANGE, g->range },
		{ STATS_BY_KEY, g->key },       /* all keys' only */
	};
	const char *owners[2] = { g->key, "*" };
	int64_t t;

	for (size_t i = 0; i < sizeof(grans) / sizeof(grans[0]); i++) {
		t = p->created - p->created % stats_span(grans[i]);
		for (int o = 0; o < 2; o++)
			for (int j = 0; j < (o == 0 ? 5 : 6); j++) {
				if ((j == 0 && p->no_smsc) ||
				    (j > 0 && p->smsc_only))
					continue;
				stats_row_add(delta_of(s, grans[i],
				    rows[j].dim, t, owners[o], rows[j].group),
				    p->kind, p->ms, p->reason);
			}
	}
}

/* Stage the pending events in the open batch: summed per row, then each
 * row read, added to and put once.  On an error the rest is dropped with
 * the batch (it fails the batch, so its changes go too). */
static void
stage_pending(struct stats *s)
{
	uint8_t buf[STATS_ROW_MAX];
	struct stats_row row;
	size_t len;
	int rc = STORE_OK;

	if (s->npend == 0)
		return;
	for (int i = 0; i < s->npend; i++)
		deltas_add(s, &s->pend[i]);
	for (int i = 0; i < s->dcap; i++) {
		struct delta *d = &s->delta[i];
		if (!d->used)
			continue;
		d->used = 0;
		if (rc != STORE_OK)
			continue;       /* dropped with the failed batch */
		rc = store_rollup_get(s->store, d->gran, d->owner, d->dim,
		    d->t, d->group, buf, sizeof(buf), &len);
		if (rc != STORE_OK || stats_row_decode(&row, buf, len) != 0)
			memset(&row, 0, sizeof(row));   /* none, unreadable */
		stats_row_merge(&row, &d->row);
		len = stats_row_encode(&row, buf);
		rc = store_rollup_put(s->store, d->gran, d->owner, d->dim,
		    d->t, d->group, buf, len);
	}
	if (rc != STORE_OK) {
		unsigned sup;
		s->errors++;
		if (log_limit_ok(&s->lim_err, util_now_ms(), 1000, &sup))
			log_err("stats.error", "events=%d rc=%d suppressed=%u",
			    s->npend, rc, sup);
	}
	s->npend = 0;
	if (s->dcap > DELTAS_KEEP) {
		free(s->delta);
		s->delta = NULL;
		s->dcap = 0;
	}
	s->ndelta = 0;
}

/* store_set_precommit(): the open batch goes now. */
static void
on_precommit(void *arg)
{
	stage_pending(arg);
}

/* Hold one event of v for the open batch.  smsc_only: only the SMSC rows;
 * no_smsc: every row but those. */
static void
count(struct stats *s, const struct verif *v, const char *smsc, int kind,
    int64_t ms, const char *reason, int smsc_only, int no_smsc)
{
	struct pending *p;

	if (s == NULL || v->key[0] == '\0' || v->created_at <= 0)
		return;
	if (s->conf->stats_retention > 0 &&
	    v->created_at + s->conf->stats_retention < util_now())
		return;         /* its rows are gone, or going */
	/* The batch the event's change is staged in; one that failed
	 * drops the event with the change. */
	if (s->npend == 0 && store_rollup_begin(s->store) != STORE_OK)
		return;
	if (s->npend == PENDING_MAX)
		stage_pending(s);       /* the same batch: memory stays bounded */
	p = &s->pend[s->npend++];
	p->kind = kind;
	p->ms = ms;
	util_strlcpy(p->reason, reason != NULL ? reason : "",
	    sizeof(p->reason));
	p->created = v->created_at;
	p->smsc_only = smsc_only;
	p->no_smsc = no_smsc;
	groups_of(s, v, smsc, &p->g);
}

static const char *
newest_smsc(const struct verif *v)
{
	return v->nsend > 0 ? v->send[v->nsend - 1].smsc : NULL;
}

void
stats_send(struct stats *s, const struct verif *v)
{
	/* By SMSC it counts once an SMSC took it (stats_sent). */
	count(s, v, NULL, STATS_SEND, 0, NULL, 0, 1);
}

void
stats_sent(struct stats *s, const struct verif *v)
{
	count(s, v, newest_smsc(v), STATS_SEND, 0, NULL, 1, 0);
	count(s, v, newest_smsc(v), STATS_SENT, 0, NULL, 0, 0);
}

void
stats_finish(struct stats *s, const struct verif *v)
{
	int64_t ms;

	if (v->status == VERIF_APPROVED) {
		ms = (v->updated_at - v->created_at) * 1000;
		count(s, v, newest_smsc(v), STATS_APPROVED, ms < 0 ? 0 : ms,
		    NULL, 0, 0);
	} else if (v->status == VERIF_FAILED) {
		if (v->send_state != SEND_SENT)
			count(s, v, NULL, STATS_SEND, 0, NULL, 1, 0);
		count(s, v, newest_smsc(v), STATS_FAILED, 0, v->fail_reason,
		    0, 0);
	}
}

void
stats_receipt(struct stats *s, const struct verif *v, int i)
{
	const struct verif_send *sd;
	char reason[STATS_REASON_MAX];
	int64_t ms;

	if (i < 0 || i >= v->nsend)
		return;
	/* A verification counts once: at the first final receipt of any
	 * of its sends (the parts of a long text, the SMSCs it failed
	 * over to). */
	for (int j = 0; j < v->nsend; j++)
		if (j != i && v->send[j].dlr_at != 0 &&
		    v->send[j].dlr != DLR_PENDING &&
		    v->send[j].dlr != DLR_UNKNOWN)
			return;
	sd = &v->send[i];
	switch (sd->dlr) {
	case DLR_DELIVERED:
		ms = (sd->dlr_at - v->created_at) * 1000;
		count(s, v, sd->smsc, STATS_DELIVERED, ms < 0 ? 0 : ms, NULL,
		    0, 0);
		break;
	case DLR_UNDELIVERABLE:
	case DLR_EXPIRED:
	case DLR_REJECTED:
		snprintf(reason, sizeof(reason), "dlr_%s",
		    dlr_strstate(sd->dlr));
		count(s, v, sd->smsc, STATS_UNDELIVERABLE, 0, reason, 0, 0);
		break;
	default:
		break;          /* not final */
	}
}

/* ---- queries --------------------------------------------------------- */

struct qctx {
	struct stats_agg *agg;
	const char *label;        /* the group of every row, or NULL */
	int minutes;              /* name groups by their minute */
	int truncated;
};

static void
on_row(void *arg, int64_t t, const char *group, const void *val, size_t len)
{
	struct qctx *q = arg;
	struct stats_row row;
	char tb[32];
	struct tm tm;
	time_t tt = (time_t)t;

	if (stats_row_decode(&row, val, len) != 0)
		return;         /* not a row we can read: left out */
	if (q->minutes) {
		gmtime_r(&tt, &tm);
		strftime(tb, sizeof(tb), "%Y-%m-%dT%H:%M:%SZ", &tm);
		group = tb;
	} else if (q->label != NULL) {
		group = q->label;
	}
	if (stats_agg_add(q->agg, group, &row) != 0)
		q->truncated = 1;
}

int
stats_query(struct stats *s, const struct stats_query *q,
    struct stats_agg *agg, int *truncated)
{
	struct stats_tile tiles[STATS_TILES_MAX];
	struct qctx ctx = { agg, NULL, 0, 0 };
	const char *owner = q->owner != NULL ? q->owner : "*";
	int ntile, budget = STATS_SCAN_MAX, dim = q->dim, n, more;

	*truncated = 0;
	stage_pending(s);       /* reads see this batch's events too */
	if (q->dim == STATS_BY_ALL) {
		tiles[0].gran = STATS_MINUTE;
		tiles[0].from = q->since;
		tiles[0].to = q->until;
		ntile = q->since < q->until;
		ctx.minutes = 1;
	} else {
		ntile = stats_tile(q->since, q->until, tiles);
		if (q->dim == STATS_BY_KEY && q->owner != NULL) {
			/* One key's rows: its "all" series, under its name. */
			dim = STATS_BY_ALL;
			ctx.label = q->owner;
		}
	}
	for (int i = 0; i < ntile && budget > 0; i++) {
		n = store_rollup_scan(s->store, tiles[i].gran, owner, dim,
		    tiles[i].from, tiles[i].to, budget, &more, on_row, &ctx);
		if (n < 0)
			return -1;
		budget -= n;
		if (more)
			ctx.truncated = 1;
	}
	*truncated = ctx.truncated;
	return 0;
}

int
stats_prune(struct stats *s, int64_t now, int max)
{
	if (s == NULL || s->conf->stats_retention <= 0)
		return 0;
	return store_rollup_prune(s->store, now - s->conf->stats_retention,
	    max);
}
