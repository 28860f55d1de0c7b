/*
 * route.c - number -> ordered SMSCs.
 *
 * A [route] section lists E.164 prefixes and SMSCs in order of preference;
 * the longest matching prefix wins ("+" matches every number).  A second
 * send to the same number within repeat_window starts at the SMSC after the
 * one used last time, wrapping round, so a silently failing carrier does
 * not get the same person twice in a row (the seed 000 behaviour).
 *
 * route_choose() is the whole answer to "which SMSC does this send try
 * first": the configured order, then health (degraded SMSCs to the back,
 * but for the probe share), then sidelining (SMSCs refusing everything to
 * the back while another is up).  It is pure: the dispatcher gathers what
 * it knows of each SMSC (binds up, sidelined, score figures) and draws the
 * probe roll, then executes the order; the choice itself is tested by
 * plain calls (tests/check_route.c).  Whether an SMSC has room at this
 * instant stays the dispatcher's business.
 */
#include <string.h>

#include "conf.h"
#include "route.h"

const char *
route_strreason(enum route_reason r)
{
	switch (r) {
	case ROUTE_PRIMARY: return "primary";
	case ROUTE_REPEAT: return "repeat";
	case ROUTE_FAILOVER: return "failover";
	case ROUTE_SCORE: return "score";
	case ROUTE_PROBE: return "probe";
	}
	return "unknown";
}

int
route_find(const struct conf *conf, const char *e164)
{
	size_t best_len = 0;
	int best = -1;

	for (int r = 0; r < conf->nroute; r++) {
		const struct conf_route *rt = &conf->routes[r];
		for (int p = 0; p < rt->nprefix; p++) {
			size_t len = strlen(rt->prefixes[p]);
			if (strncmp(e164, rt->prefixes[p], len) != 0)
				continue;
			if (best < 0 || len > best_len) {
				best = r;
				best_len = len;
			}
		}
	}
	return best;
}

/* The configured order of route r for a send after last_smsc (see
 * route_order()). */
static int
order_of(const struct conf *conf, int r, int last_smsc, int *order,
    enum route_reason *reason)
{
	const struct conf_route *rt;
	int n, start = 0;

	*reason = ROUTE_PRIMARY;
	if (r < 0)
		return 0;
	rt = &conf->routes[r];
	n = rt->nsmsc < ROUTE_MAX_SMSC ? rt->nsmsc : ROUTE_MAX_SMSC;
	if (last_smsc >= 0 && n > 1) {
		for (int i = 0; i < n; i++) {
			if (rt->smsc[i] == last_smsc) {
				start = (i + 1) % n;
				*reason = ROUTE_REPEAT;
				break;
			}
		}
	}
	for (int i = 0; i < n; i++)
		order[i] = rt->smsc[(start + i) % n];
	return n;
}

int
route_order(const struct conf *conf, const char *e164, int last_smsc,
    int *order, enum route_reason *reason)
{
	return order_of(conf, route_find(conf, e164), last_smsc, order,
	    reason);
}

/* What the caller told of SMSC smsc; NULL when it told nothing (no table,
 * or an index outside it): then the SMSC counts as up, not sidelined and
 * without figures. */
static const struct route_smsc *
told(const struct conf *conf, const struct route_smsc *smscs, int smsc)
{
	if (smscs == NULL || smsc < 0 || smsc >= conf->nsmsc)
		return NULL;
	return &smscs[smsc];
}

static int
degraded(const struct conf *conf, const struct route_smsc *smscs, int smsc)
{
	const struct route_smsc *s = told(conf, smscs, smsc);

	return s != NULL && s->score.degraded;
}

static int
sidelined(const struct conf *conf, const struct route_smsc *smscs, int smsc)
{
	const struct route_smsc *s = told(conf, smscs, smsc);

	return s != NULL && s->sidelined;
}

static int
usable(const struct conf *conf, const struct route_smsc *smscs, int smsc)
{
	const struct route_smsc *s = told(conf, smscs, smsc);

	return s == NULL || (s->up && !s->sidelined);
}

/* Step 2 of route_choose(): degraded SMSCs behind the good ones, unless
 * this send is one of the route's probe share, which tries the first
 * choice all the same so a recovered SMSC gets its traffic back. */
static void
choose_health(const struct conf *conf, const struct route_smsc *smscs,
    int roll, struct route_choice *out)
{
	int good[ROUTE_MAX_SMSC], bad[ROUTE_MAX_SMSC], ng = 0, nb = 0;
	int first = out->order[0];

	if (out->route < 0 || out->norder < 2)
		return;
	for (int i = 0; i < out->norder; i++) {
		if (degraded(conf, smscs, out->order[i]))
			bad[nb++] = out->order[i];
		else
			good[ng++] = out->order[i];
	}
	if (nb == 0 || ng == 0 || good[0] == first)
		return;
	if (roll < conf->routes[out->route].probe) {
		out->reason = ROUTE_PROBE;
		return;
	}
	memcpy(out->order, good, (size_t)ng * sizeof(int));
	memcpy(out->order + ng, bad, (size_t)nb * sizeof(int));
	out->reason = ROUTE_SCORE;
	out->switched_from = first;
}

/* Step 3 of route_choose(): an SMSC refusing every submit costs each
 * message a round trip, so it goes to the back while another SMSC of the
 * order can take the message; when none can, it keeps its place. */
static void
choose_sideline(const struct conf *conf, const struct route_smsc *smscs,
    struct route_choice *out)
{
	int keep[ROUTE_MAX_SMSC], side[ROUTE_MAX_SMSC], nk = 0, ns = 0;
	int avail = 0, first = out->order[0];

	for (int i = 0; i < out->norder; i++)
		if (usable(conf, smscs, out->order[i]))
			avail++;
	if (avail == 0)
		return;
	for (int i = 0; i < out->norder; i++) {
		if (sidelined(conf, smscs, out->order[i]))
			side[ns++] = out->order[i];
		else
			keep[nk++] = out->order[i];
	}
	if (ns == 0)
		return;
	memcpy(out->order, keep, (size_t)nk * sizeof(int));
	memcpy(out->order + nk, side, (size_t)ns * sizeof(int));
	out->nskip = ns;
	if (out->order[0] != first && out->reason == ROUTE_PRIMARY)
		out->reason = ROUTE_FAILOVER;
}

int
route_choose(const struct conf *conf, const char *e164, int last_smsc,
    const struct route_smsc *smscs, int roll, struct route_choice *out)
{
	memset(out, 0, sizeof(*out));
	out->switched_from = -1;
	out->route = route_find(conf, e164);
	out->norder = order_of(conf, out->route, last_smsc, out->order,
	    &out->reason);
	if (out->norder == 0)
		return 0;
	choose_health(conf, smscs, roll, out);
	choose_sideline(conf, smscs, out);
	return out->norder;
}
