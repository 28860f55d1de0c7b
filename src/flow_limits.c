/*
 * flow_limits.c - the limits of sends and checks over the store (see
 * flow_limits.h): which counters apply, read, judged by limits.h, and
 * staged back with what they count.
 *
 * The counters, by name in the store (a key's name has no '/'):
 *
 *   P/KEY/PHONE     sends to a number by a key: sends_per_phone, and the
 *                   time of the last send for resend_interval
 *   K/KEY           sends by a key: sends_per_key
 *   I/KEY/SUBJECT   sends by a key for an end user's address (an IPv4
 *                   address, or an IPv6 /64): sends_per_ip
 *   R/PERIOD/RANGE  sends to a number range by every key: sends_per_range
 *   F/KEY/PHONE     wrong codes for a number by a key, over all its
 *                   verifications: failed_checks_per_phone
 *
 * A range's counter is shared by every key, but each key may set its own
 * sends_per_range and range_digits: every send counts in the counter of
 * each (range_digits, PERIOD) some key uses, and is judged by its own
 * key's.  PERIOD is in the range counter's name, so a reload that
 * changes it starts that counter afresh; the other counters keep their
 * counts across a change of period (limit_add() refits them).
 *
 * Reads see what the batch staged (store.h), and a send is judged and
 * counted in one call on the loop, so two sends in one batch both count
 * and the second is judged with the first counted.  A counter that does
 * not decode (damaged) counts as empty and is written anew.
 */
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "flow.h"
#include "flow_limits.h"
#include "limit.h"
#include "log.h"
#include "store.h"
#include "util.h"

/* A counter as read: its name and window. */
struct counter {
	char name[STORE_LIMIT_NAME_MAX + 1];
	struct limit_window w;
};

const struct conf_limits *
flow_limits_of(const struct conf *conf, int key)
{
	if (key >= 0 && key < conf->nkey)
		return &conf->keys[key].limits;
	return &conf->limits;
}

/* Read c->name into c->w (empty when there is none).  STORE_OK or
 * STORE_ERR. */
static int
counter_read(struct store *st, struct counter *c)
{
	uint8_t buf[LIMIT_ENCODED_MAX];
	size_t len;
	int rc;

	memset(&c->w, 0, sizeof(c->w));
	rc = store_limit_get(st, c->name, buf, sizeof(buf), &len);
	if (rc == STORE_NOTFOUND)
		return STORE_OK;
	if (rc != STORE_OK)
		return STORE_ERR;
	if (limit_decode(&c->w, buf, len) != 0)
		log_warn("limits.unreadable", "counter=%.2s msg=\"counted "
		    "afresh\"", c->name);
	return STORE_OK;
}

/* Stage c, kept until it counts nothing for period (nor for a
 * resend_interval of interval). */
static int
counter_write(struct store *st, const struct counter *c, int period,
    int interval)
{
	uint8_t buf[LIMIT_ENCODED_MAX];
	size_t len = limit_encode(&c->w, buf, sizeof(buf));

	return store_limit_put(st, c->name, buf, len,
	    limit_until(&c->w, period, interval));
}

/* Count an event at now in c for period (0: only its time) and stage it. */
static int
counter_count(struct store *st, struct counter *c, int period, int interval,
    int64_t now)
{
	limit_add(&c->w, period, now);
	return counter_write(st, c, period, interval);
}

/* The name of the counter of range r for e164; 0, or -1 when e164 has
 * no range. */
static int
range_name(char *out, size_t size, const char *e164,
    const struct flow_range *r)
{
	char range[24];

	if (limit_range(e164, r->digits, range, sizeof(range)) == 0)
		return -1;
	snprintf(out, size, "R/%d/%s", r->period, range);
	return 0;
}

/* The range a key's limits judge its sends by. */
static struct flow_range
range_of(const struct conf_limits *l)
{
	struct flow_range r = { l->range_digits, l->sends_per_range.period };

	return r;
}

struct flow_range *
flow_limits_ranges(const struct conf *conf, int *n)
{
	struct flow_range *out = NULL, r;
	int i, j;

	*n = 0;
	for (i = 0; i < conf->nkey; i++) {
		if (conf->keys[i].limits.sends_per_range.n == 0)
			continue;
		r = range_of(&conf->keys[i].limits);
		for (j = 0; j < *n; j++)
			if (out[j].digits == r.digits &&
			    out[j].period == r.period)
				break;
		if (j < *n)
			continue;
		out = xrealloc(out, (size_t)(*n + 1) * sizeof(*out));
		out[(*n)++] = r;
	}
	return out;
}

/* Count a send in the counter of every range but mine (the one it was
 * judged by, when on, which the caller counted). */
static int
count_other_ranges(struct store *st, const struct conf_limits *mine,
    const struct flow_range *ranges, int nrange, const char *e164,
    int64_t now)
{
	struct flow_range m = range_of(mine);
	struct counter c;
	int i, rc;

	for (i = 0; i < nrange; i++) {
		if (mine->sends_per_range.n != 0 &&
		    ranges[i].digits == m.digits &&
		    ranges[i].period == m.period)
			continue;
		if (range_name(c.name, sizeof(c.name), e164, &ranges[i]) != 0)
			continue;
		if ((rc = counter_read(st, &c)) != STORE_OK ||
		    (rc = counter_count(st, &c, ranges[i].period, 0, now)) !=
		    STORE_OK)
			return rc;
	}
	return STORE_OK;
}

int
flow_limits_send(struct store *st, const struct conf *conf, int key,
    const char *kname, const char *e164, const char *ip,
    const struct flow_range *ranges, int nrange, int64_t now,
    enum limit_kind *limit, int64_t *retry_after)
{
	const struct conf_limits *l = flow_limits_of(conf, key);
	struct flow_range mine = range_of(l);
	struct counter phone, bykey, byip, range;
	struct limit_check cs[5];
	char subject[64];
	int n = 0, rc, has_phone, has_ip, has_range;

	*limit = LIMIT_NONE;
	*retry_after = 0;
	has_phone = l->resend_interval > 0 || l->sends_per_phone.n > 0;
	has_ip = ip != NULL && l->sends_per_ip.n > 0 &&
	    limit_ip_subject(ip, subject, sizeof(subject)) == 0;
	has_range = l->sends_per_range.n > 0 &&
	    range_name(range.name, sizeof(range.name), e164, &mine) == 0;
	snprintf(phone.name, sizeof(phone.name), "P/%s/%s", kname, e164);
	snprintf(bykey.name, sizeof(bykey.name), "K/%s", kname);
	if (has_ip)
		snprintf(byip.name, sizeof(byip.name), "I/%s/%s", kname,
		    subject);
	if ((has_phone && counter_read(st, &phone) != STORE_OK) ||
	    (l->sends_per_key.n > 0 && counter_read(st, &bykey) != STORE_OK) ||
	    (has_ip && counter_read(st, &byip) != STORE_OK) ||
	    (has_range && counter_read(st, &range) != STORE_OK))
		return STORE_ERR;

	if (l->resend_interval > 0)
		cs[n++] = (struct limit_check){ LIMIT_RESEND_INTERVAL, 1,
		    l->resend_interval, &phone.w };
	if (l->sends_per_phone.n > 0)
		cs[n++] = (struct limit_check){ LIMIT_SENDS_PER_PHONE,
		    (uint32_t)l->sends_per_phone.n, l->sends_per_phone.period,
		    &phone.w };
	if (has_ip)
		cs[n++] = (struct limit_check){ LIMIT_SENDS_PER_IP,
		    (uint32_t)l->sends_per_ip.n, l->sends_per_ip.period,
		    &byip.w };
	if (l->sends_per_key.n > 0)
		cs[n++] = (struct limit_check){ LIMIT_SENDS_PER_KEY,
		    (uint32_t)l->sends_per_key.n, l->sends_per_key.period,
		    &bykey.w };
	if (has_range)
		cs[n++] = (struct limit_check){ LIMIT_SENDS_PER_RANGE,
		    (uint32_t)l->sends_per_range.n, l->sends_per_range.period,
		    &range.w };
	if ((*limit = limit_decide(cs, n, now, retry_after)) != LIMIT_NONE)
		return STORE_OK;

	if ((has_phone && (rc = counter_count(st, &phone,
	    l->sends_per_phone.n > 0 ? l->sends_per_phone.period : 0,
	    l->resend_interval, now)) != STORE_OK) ||
	    (l->sends_per_key.n > 0 && (rc = counter_count(st, &bykey,
	    l->sends_per_key.period, 0, now)) != STORE_OK) ||
	    (has_ip && (rc = counter_count(st, &byip, l->sends_per_ip.period,
	    0, now)) != STORE_OK) ||
	    (has_range && (rc = counter_count(st, &range,
	    l->sends_per_range.period, 0, now)) != STORE_OK))
		return rc;
	return count_other_ranges(st, l, ranges, nrange, e164, now);
}

int
flow_limits_checks_left(struct store *st, const struct conf_limits *l,
    const char *kname, const char *e164, int64_t now, int *left)
{
	const struct conf_rate *r = &l->failed_checks_per_phone;
	struct counter c;
	uint32_t count;

	*left = -1;
	if (r->n == 0)
		return STORE_OK;
	snprintf(c.name, sizeof(c.name), "F/%s/%s", kname, e164);
	if (counter_read(st, &c) != STORE_OK) {
		*left = 0;              /* unknown: refuse, never guess */
		return STORE_ERR;
	}
	count = limit_count(&c.w, r->period, now);
	*left = count >= (uint32_t)r->n ? 0 : r->n - (int)count;
	return STORE_OK;
}

int
flow_limits_check_failed(struct store *st, const struct conf_limits *l,
    const char *kname, const char *e164, int64_t now)
{
	const struct conf_rate *r = &l->failed_checks_per_phone;
	struct counter c;
	int rc;

	if (r->n == 0)
		return STORE_OK;
	snprintf(c.name, sizeof(c.name), "F/%s/%s", kname, e164);
	if ((rc = counter_read(st, &c)) != STORE_OK)
		return rc;
	return counter_count(st, &c, r->period, 0, now);
}

/* One row of the view from check c (its subject may be ""). */
static void
view_row(struct flow_limit *out, const struct limit_check *c, int64_t now,
    const char *subject)
{
	memset(out, 0, sizeof(*out));
	out->limit = limit_strname(c->kind);
	snprintf(out->subject, sizeof(out->subject), "%s", subject);
	out->max = c->n;
	out->window = c->period;
	limit_check(c, now, &out->count, &out->retry_after);
}

int
flow_limits_view(struct store *st, const struct conf_limits *l,
    const char *kname, const char *e164, const char *ip, int64_t now,
    struct flow_limit *out)
{
	struct counter phone, bykey, byip, range, failed;
	struct flow_range rg;
	struct limit_check c;
	char subject[64], rbuf[24];
	int n = 0;

	snprintf(phone.name, sizeof(phone.name), "P/%s/%s", kname, e164);
	snprintf(bykey.name, sizeof(bykey.name), "K/%s", kname);
	snprintf(failed.name, sizeof(failed.name), "F/%s/%s", kname, e164);
	if (counter_read(st, &phone) != STORE_OK ||
	    counter_read(st, &bykey) != STORE_OK ||
	    counter_read(st, &failed) != STORE_OK)
		return STORE_ERR;
	if (l->resend_interval > 0) {
		c = (struct limit_check){ LIMIT_RESEND_INTERVAL, 1,
		    l->resend_interval, &phone.w };
		view_row(&out[n++], &c, now, "");
	}
	if (l->sends_per_phone.n > 0) {
		c = (struct limit_check){ LIMIT_SENDS_PER_PHONE,
		    (uint32_t)l->sends_per_phone.n, l->sends_per_phone.period,
		    &phone.w };
		view_row(&out[n++], &c, now, "");
	}
	if (ip != NULL && l->sends_per_ip.n > 0 &&
	    limit_ip_subject(ip, subject, sizeof(subject)) == 0) {
		snprintf(byip.name, sizeof(byip.name), "I/%s/%s", kname,
		    subject);
		if (counter_read(st, &byip) != STORE_OK)
			return STORE_ERR;
		c = (struct limit_check){ LIMIT_SENDS_PER_IP,
		    (uint32_t)l->sends_per_ip.n, l->sends_per_ip.period,
		    &byip.w };
		view_row(&out[n++], &c, now, subject);
	}
	if (l->sends_per_key.n > 0) {
		c = (struct limit_check){ LIMIT_SENDS_PER_KEY,
		    (uint32_t)l->sends_per_key.n, l->sends_per_key.period,
		    &bykey.w };
		view_row(&out[n++], &c, now, "");
	}
	rg = range_of(l);
	if (l->sends_per_range.n > 0 &&
	    range_name(range.name, sizeof(range.name), e164, &rg) == 0) {
		if (counter_read(st, &range) != STORE_OK)
			return STORE_ERR;
		limit_range(e164, l->range_digits, rbuf + 1,
		    sizeof(rbuf) - 1);
		rbuf[0] = '+';
		c = (struct limit_check){ LIMIT_SENDS_PER_RANGE,
		    (uint32_t)l->sends_per_range.n, l->sends_per_range.period,
		    &range.w };
		view_row(&out[n++], &c, now, rbuf);
	}
	if (l->failed_checks_per_phone.n > 0) {
		c = (struct limit_check){ LIMIT_FAILED_CHECKS,
		    (uint32_t)l->failed_checks_per_phone.n,
		    l->failed_checks_per_phone.period, &failed.w };
		view_row(&out[n++], &c, now, "");
	}
	return n;
}
