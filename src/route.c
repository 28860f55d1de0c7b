/*
 * route.c - number -> ordered SMSCs.
 *
 * A [route] section lists E.164 prefixes and SMSCs in order of preference;
 * the longest matching prefix wins ("+" matches every number).  A second
 * send to the same number within repeat_window starts at the SMSC after the
 * one used last time, wrapping round, so a silently failing carrier does
 * not get the same person twice in a row (the seed 000 behaviour).  Whether
 * an SMSC is usable right now is the dispatcher's business: this file only
 * orders.
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

int
route_order(const struct conf *conf, const char *e164, int last_smsc,
    int *order, enum route_reason *reason)
{
	int r = route_find(conf, e164), n, start = 0;
	const struct conf_route *rt;

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
