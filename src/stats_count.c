/*
 * stats_count.c - the counting half of the statistics (stats.h): where an
 * event happens (flow.c, dlr.c), its rows are read, counted into and
 * staged again in the open batch, for each granularity (minute, hour,
 * day), each owner (the verification's key, and "*") and each dimension:
 * 33 rows per event.  Reads see staged rows, so two events in one batch
 * both count.  Queries sum the rows that tile a window (stats_tile).
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

struct stats {
	struct store *store;
	const struct conf *conf;
	uint64_t errors;
	struct log_limit lim_err;
};

struct stats *
stats_new(struct store *store, const struct conf *conf)
{
	struct stats *s = xcalloc(1, sizeof(*s));

	s->store = store;
	s->conf = conf;
	return s;
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
	free(s);
}

/* The groups of one event. */
struct groups {
	char key[33], country[8], route[STATS_GROUP_MAX], smsc[33];
	char range[20];
};

static void
groups_of(const struct stats *s, const struct verif *v, const char *smsc,
    struct groups *g)
{
	int r;

	util_strlcpy(g->key, v->key, sizeof(g->key));
	if (phone_region(v->phone, g->country, sizeof(g->country)) != 0)
		util_strlcpy(g->country, "unknown", sizeof(g->country));
	r = route_find(s->conf, v->phone);
	util_strlcpy(g->route, r >= 0 ? s->conf->routes[r].name : "none",
	    sizeof(g->route));
	util_strlcpy(g->smsc, smsc != NULL && *smsc ? smsc : "none",
	    sizeof(g->smsc));
	shield_range(v->phone, s->conf->limits.range_digits, g->range,
	    sizeof(g->range));
}

/* Read row (gran, owner, dim, t, group), count the event, stage it. */
static int
bump(struct stats *s, int gran, const char *owner, int dim, int64_t t,
    const char *group, int kind, int64_t ms, const char *reason)
{
	uint8_t buf[STATS_ROW_MAX];
	struct stats_row row;
	size_t len;
	int rc;

	rc = store_rollup_get(s->store, gran, owner, dim, t, group, buf,
	    sizeof(buf), &len);
	if (rc == STORE_ERR || (rc == STORE_OK &&
	    stats_row_decode(&row, buf, len) != 0))
		memset(&row, 0, sizeof(row));   /* unreadable: start over */
	else if (rc == STORE_NOTFOUND)
		memset(&row, 0, sizeof(row));
	stats_row_add(&row, kind, ms, reason);
	len = stats_row_encode(&row, buf);
	return store_rollup_put(s->store, gran, owner, dim, t, group, buf,
	    len);
}

/* Count one event of v in every row it belongs to.  smsc_only: only the
 * SMSC rows; no_smsc: every row but those. */
static void
count(struct stats *s, const struct verif *v, const char *smsc, int kind,
    int64_t ms, const char *reason, int smsc_only, int no_smsc)
{
	static const int grans[] = { STATS_MINUTE, STATS_HOUR, STATS_DAY };
	const char *owners[2];
	struct groups g;
	int64_t now = util_now(), t;
	int rc = STORE_OK;

	if (s == NULL || v->key[0] == '\0' || v->created_at <= 0)
		return;
	if (s->conf->stats_retention > 0 &&
	    v->created_at + s->conf->stats_retention < now)
		return;         /* its rows are gone, or going */
	groups_of(s, v, smsc, &g);
	owners[0] = v->key;
	owners[1] = "*";
	for (size_t i = 0; i < sizeof(grans) / sizeof(grans[0]); i++) {
		t = v->created_at - v->created_at % stats_span(grans[i]);
		for (int o = 0; o < 2 && rc == STORE_OK; o++) {
			const struct {
				int dim;
				const char *group;
			} rows[] = {
				{ STATS_BY_SMSC, g.smsc },
				{ STATS_BY_ALL, "" },
				{ STATS_BY_COUNTRY, g.country },
				{ STATS_BY_ROUTE, g.route },
				{ STATS_BY_RANGE, g.range },
				{ STATS_BY_KEY, g.key },        /* "*" only */
			};
			int n = o == 0 ? 5 : 6;
			for (int j = 0; j < n && rc == STORE_OK; j++) {
				if ((j == 0 && no_smsc) || (j > 0 && smsc_only))
					continue;
				rc = bump(s, grans[i], owners[o], rows[j].dim,
				    t, rows[j].group, kind, ms, reason);
			}
		}
	}
	if (rc != STORE_OK) {
		unsigned sup;
		s->errors++;
		if (log_limit_ok(&s->lim_err, util_now_ms(), 1000, &sup))
			log_err("stats.error", "id=%s rc=%d suppressed=%u",
			    v->id, rc, sup);
	}
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
