/*
 * score.c - per route, per SMSC rolling figures (score.h).
 *
 * Each (route, SMSC) pair keeps SCORE_BUCKETS buckets covering the route's
 * window; a bucket holds what happened to the messages submitted in its
 * slice of time (sends, receipts, approved codes), so a late receipt or
 * check counts with its own send.  A bucket whose slice has left the
 * window is cleared when it is next used.  Only sends at least the
 * route's grace old count for the conversion ratio: a code sent a second
 * ago has not had its chance to come back.
 *
 * The score is the smaller of the delivered ratio (over receipts) and the
 * conversion ratio (over mature sends), of those known.  The pair is
 * degraded when either ratio, once it rests on min_sample receipts or
 * mature sends, is under the route's floor.  Loop
 * thread only; figures are in memory and start afresh with the process or
 * a reload (indexes follow the configuration).
 */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "route.h"
#include "score.h"
#include "util.h"

#define SCORE_BUCKETS 12

struct bucket {
	int64_t slice;          /* t / slice length; -1: empty */
	uint32_t sent, delivered, undeliverable, approved;
	uint32_t receipts_timed;
	double latency_sum;
};

struct pair {
	struct bucket b[SCORE_BUCKETS];
};

struct score {
	int nroute, nsmsc;
	int *slice_len;         /* per route, seconds */
	struct pair *pairs;     /* nroute * nsmsc */
};

struct score *
score_new(const struct conf *conf)
{
	struct score *sc = xcalloc(1, sizeof(*sc));
	size_t n;

	sc->nroute = conf->nroute;
	sc->nsmsc = conf->nsmsc;
	n = (size_t)sc->nroute * (size_t)sc->nsmsc;
	sc->pairs = xcalloc(n ? n : 1, sizeof(*sc->pairs));
	sc->slice_len = xcalloc(sc->nroute ? (size_t)sc->nroute : 1,
	    sizeof(*sc->slice_len));
	for (int r = 0; r < sc->nroute; r++) {
		int w = conf->routes[r].window > 0 ? conf->routes[r].window :
		    600;
		sc->slice_len[r] = w / SCORE_BUCKETS > 0 ? w / SCORE_BUCKETS :
		    1;
	}
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < SCORE_BUCKETS; k++)
			sc->pairs[i].b[k].slice = -1;
	return sc;
}

void
score_free(struct score *sc)
{
	if (sc == NULL)
		return;
	free(sc->pairs);
	free(sc->slice_len);
	free(sc);
}

/* The bucket of phone's route and SMSC smsc for time t, cleared when it
 * held an older slice; NULL when there is none.  fresh: a send (may claim
 * the bucket); otherwise a later outcome, which counts only while its
 * send's bucket still holds that slice. */
static struct bucket *
bucket_of(struct score *sc, const struct conf *conf, const char *phone,
    const char *name, int64_t t, int fresh)
{
	struct bucket *b;
	int64_t slice;
	int route, smsc;

	if (sc == NULL)
		return NULL;
	route = route_find(conf, phone);
	smsc = conf_smsc_index(conf, name);
	if (route < 0 || route >= sc->nroute || smsc < 0 ||
	    smsc >= sc->nsmsc || t < 0)
		return NULL;
	slice = t / sc->slice_len[route];
	b = &sc->pairs[route * sc->nsmsc + smsc].b[slice % SCORE_BUCKETS];
	if (b->slice == slice)
		return b;
	if (!fresh || b->slice > slice)
		return NULL;
	memset(b, 0, sizeof(*b));
	b->slice = slice;
	return b;
}

void
score_sent(struct score *sc, const struct conf *conf, const char *phone,
    const char *smsc, int64_t t)
{
	struct bucket *b = bucket_of(sc, conf, phone, smsc, t, 1);

	if (b != NULL)
		b->sent++;
}

void
score_receipt(struct score *sc, const struct conf *conf, const char *phone,
    const char *smsc, int64_t t, int delivered, int64_t latency_s)
{
	struct bucket *b = bucket_of(sc, conf, phone, smsc, t, 0);

	if (b == NULL)
		return;
	if (delivered)
		b->delivered++;
	else
		b->undeliverable++;
	if (latency_s >= 0) {
		b->receipts_timed++;
		b->latency_sum += (double)latency_s;
	}
}

void
score_approved(struct score *sc, const struct conf *conf, const char *phone,
    const char *smsc, int64_t t)
{
	struct bucket *b = bucket_of(sc, conf, phone, smsc, t, 0);

	if (b != NULL)
		b->approved++;
}

void
score_get(const struct score *sc, const struct conf *conf, int route,
    int smsc, int64_t now, struct score_view *v)
{
	const struct conf_route *rt;
	const struct pair *p;
	int64_t slice_now, len;
	uint64_t timed = 0;
	double lat = 0;

	memset(v, 0, sizeof(*v));
	v->delivered_ratio = v->conversion = v->latency_s = v->score = -1;
	if (sc == NULL || route < 0 || route >= sc->nroute || smsc < 0 ||
	    smsc >= sc->nsmsc || route >= conf->nroute)
		return;
	rt = &conf->routes[route];
	len = sc->slice_len[route];
	slice_now = now / len;
	p = &sc->pairs[route * sc->nsmsc + smsc];
	for (int k = 0; k < SCORE_BUCKETS; k++) {
		const struct bucket *b = &p->b[k];

		if (b->slice < 0 || b->slice <= slice_now - SCORE_BUCKETS ||
		    b->slice > slice_now)
			continue;
		v->sent += b->sent;
		v->delivered += b->delivered;
		v->undeliverable += b->undeliverable;
		timed += b->receipts_timed;
		lat += b->latency_sum;
		/* Mature: the whole slice is at least grace old. */
		if ((b->slice + 1) * len + rt->grace <= now) {
			v->mature += b->sent;
			v->approved += b->approved;
		}
	}
	if (v->delivered + v->undeliverable > 0)
		v->delivered_ratio = (double)v->delivered /
		    (double)(v->delivered + v->undeliverable);
	if (v->mature > 0)
		v->conversion = (double)v->approved / (double)v->mature;
	if (timed > 0)
		v->latency_s = lat / (double)timed;
	v->score = v->delivered_ratio;
	if (v->conversion >= 0 && (v->score < 0 || v->conversion < v->score))
		v->score = v->conversion;
	/* Each ratio counts once it has its own sample. */
	v->degraded = rt->floor > 0 &&
	    ((v->delivered + v->undeliverable >= (uint64_t)rt->min_sample &&
	    v->delivered_ratio * 100.0 < (double)rt->floor) ||
	    (v->mature >= (uint64_t)rt->min_sample &&
	    v->conversion * 100.0 < (double)rt->floor));
}
