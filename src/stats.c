/*
 * stats.c - the pure half of the statistics (stats.h): rows, their stored
 * form, histograms and percentiles, window tiling, sums per group, the
 * API's times.  No I/O, no store: stats_count.c does the counting.
 *
 * Who owns what: struct stats_agg and its rows are the caller's (free
 * with stats_agg_free()); everything else works in the caller's memory.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stats.h"
#include "util.h"

#define ROW_FORMAT 1

/* The buckets' upper bounds in ms; the last bucket is open. */
static const int64_t bounds[STATS_NHIST - 1] = {
	100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 4000, 5000, 7500,
	10000, 15000, 20000, 30000, 45000, 60000, 90000, 120000, 180000,
	300000, 600000,
};

int64_t
stats_span(int gran)
{
	switch (gran) {
	case STATS_DAY: return 86400;
	case STATS_HOUR: return 3600;
	default: return 60;
	}
}

static const struct {
	int dim;
	const char *name;
} dims[] = {
	{ STATS_BY_COUNTRY, "country" },
	{ STATS_BY_ROUTE, "route" },
	{ STATS_BY_SMSC, "smsc" },
	{ STATS_BY_KEY, "key" },
	{ STATS_BY_RANGE, "range" },
	{ STATS_BY_ALL, "minute" },
};

const char *
stats_dim_name(int dim)
{
	for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++)
		if (dims[i].dim == dim)
			return dims[i].name;
	return "?";
}

int
stats_dim_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++)
		if (strcmp(dims[i].name, name) == 0)
			return dims[i].dim;
	return -1;
}

/* ---- rows --------------------------------------------------------------- */

static void
sat_add64(uint64_t *a, uint64_t b)
{
	*a = *a > UINT64_MAX - b ? UINT64_MAX : *a + b;
}

static void
sat_add32(uint32_t *a, uint32_t b)
{
	*a = *a > UINT32_MAX - b ? UINT32_MAX : *a + b;
}

/* Count n under reason (STATS_OTHER once the row has STATS_NFAIL). */
static void
fail_add(struct stats_row *r, const char *reason, uint64_t n)
{
	int i;

	if (reason == NULL || *reason == '\0')
		reason = "unknown";
	for (i = 0; i < r->nfail; i++)
		if (strncmp(r->fail[i].reason, reason,
		    STATS_REASON_MAX - 1) == 0)
			break;
	if (i == r->nfail) {
		if (r->nfail == STATS_NFAIL) {
			/* Full: the last slot gathers the rest. */
			i = STATS_NFAIL - 1;
			util_strlcpy(r->fail[i].reason, STATS_OTHER,
			    sizeof(r->fail[i].reason));
		} else {
			r->nfail++;
			util_strlcpy(r->fail[i].reason, reason,
			    sizeof(r->fail[i].reason));
			r->fail[i].n = 0;
		}
	}
	sat_add64(&r->fail[i].n, n);
}

int
stats_bucket(int64_t ms)
{
	int b = 0;

	while (b < STATS_NHIST - 1 && ms >= bounds[b])
		b++;
	return b;
}

void
stats_bucket_bounds(int b, int64_t *lo, int64_t *hi)
{
	*lo = b <= 0 ? 0 : bounds[b - 1];
	*hi = b >= STATS_NHIST - 1 ? -1 : bounds[b];
}

void
stats_row_add(struct stats_row *r, int kind, int64_t ms, const char *reason)
{
	switch (kind) {
	case STATS_SEND:
		sat_add64(&r->sends, 1);
		break;
	case STATS_SENT:
		sat_add64(&r->sent, 1);
		break;
	case STATS_DELIVERED:
		sat_add64(&r->delivered, 1);
		sat_add32(&r->delivery[stats_bucket(ms)], 1);
		break;
	case STATS_UNDELIVERABLE:
		sat_add64(&r->undeliverable, 1);
		fail_add(r, reason, 1);
		break;
	case STATS_APPROVED:
		sat_add64(&r->approved, 1);
		sat_add32(&r->approve[stats_bucket(ms)], 1);
		break;
	case STATS_FAILED:
		fail_add(r, reason, 1);
		break;
	}
}

void
stats_row_merge(struct stats_row *a, const struct stats_row *b)
{
	sat_add64(&a->sends, b->sends);
	sat_add64(&a->sent, b->sent);
	sat_add64(&a->delivered, b->delivered);
	sat_add64(&a->undeliverable, b->undeliverable);
	sat_add64(&a->approved, b->approved);
	for (int i = 0; i < STATS_NHIST; i++) {
		sat_add32(&a->delivery[i], b->delivery[i]);
		sat_add32(&a->approve[i], b->approve[i]);
	}
	for (int i = 0; i < b->nfail; i++)
		fail_add(a, b->fail[i].reason, b->fail[i].n);
}

/* LEB128: 7 bits an octet, low first. */
static uint8_t *
put_var(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* A varint at *pp (not past end) into *v: 0, or -1 when it is cut short
 * or longer than a uint64_t. */
static int
get_var(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	uint64_t x = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		if (p == end)
			return -1;
		if (shift == 63 && *p > 1)
			return -1;
		x |= (uint64_t)(*p & 0x7f) << shift;
		if ((*p++ & 0x80) == 0) {
			*v = x;
			*pp = p;
			return 0;
		}
	}
	return -1;
}

/* A histogram: a bitmap of its non-empty buckets (4 octets,
 * little-endian), then each one's count. */
static uint8_t *
put_hist(uint8_t *p, const uint32_t h[STATS_NHIST])
{
	uint32_t map = 0;

	for (int i = 0; i < STATS_NHIST; i++)
		if (h[i] != 0)
			map |= 1u << i;
	put_u32(p, map);
	p += 4;
	for (int i = 0; i < STATS_NHIST; i++)
		if (h[i] != 0)
			p = put_var(p, h[i]);
	return p;
}

static int
get_hist(const uint8_t **pp, const uint8_t *end, uint32_t h[STATS_NHIST])
{
	uint32_t map;
	uint64_t v;

	if (end - *pp < 4)
		return -1;
	map = get_u32(*pp);
	*pp += 4;
	if (map >> STATS_NHIST != 0)
		return -1;
	for (int i = 0; i < STATS_NHIST; i++) {
		if ((map & (1u << i)) == 0)
			continue;
		if (get_var(pp, end, &v) != 0 || v == 0 || v > UINT32_MAX)
			return -1;
		h[i] = (uint32_t)v;
	}
	return 0;
}

size_t
stats_row_encode(const struct stats_row *r, uint8_t *buf)
{
	const uint64_t c[5] = { r->sends, r->sent, r->delivered,
	    r->undeliverable, r->approved };
	uint8_t *p = buf;
	size_t n;

	*p++ = ROW_FORMAT;
	*p++ = STATS_NHIST;
	*p++ = (uint8_t)r->nfail;
	for (int i = 0; i < 5; i++)
		p = put_var(p, c[i]);
	p = put_hist(p, r->delivery);
	p = put_hist(p, r->approve);
	for (int i = 0; i < r->nfail; i++) {
		n = strnlen(r->fail[i].reason, STATS_REASON_MAX - 1);
		*p++ = (uint8_t)n;
		memcpy(p, r->fail[i].reason, n);
		p += n;
		p = put_var(p, r->fail[i].n);
	}
	return (size_t)(p - buf);
}

int
stats_row_decode(struct stats_row *r, const void *buf, size_t len)
{
	const uint8_t *p = buf, *end = p + len;
	uint64_t c[5];
	size_t n;
	int nfail;

	memset(r, 0, sizeof(*r));
	if (len < 3 + 5 + 8 || len > STATS_ROW_MAX || p[0] != ROW_FORMAT ||
	    p[1] != STATS_NHIST || p[2] > STATS_NFAIL)
		return -1;
	nfail = p[2];
	p += 3;
	for (int i = 0; i < 5; i++)
		if (get_var(&p, end, &c[i]) != 0)
			goto bad;
	r->sends = c[0];
	r->sent = c[1];
	r->delivered = c[2];
	r->undeliverable = c[3];
	r->approved = c[4];
	if (get_hist(&p, end, r->delivery) != 0 ||
	    get_hist(&p, end, r->approve) != 0)
		goto bad;
	for (int i = 0; i < nfail; i++) {
		if (end - p < 1)
			goto bad;
		n = *p++;
		if (n == 0 || n >= STATS_REASON_MAX || (size_t)(end - p) < n ||
		    memchr(p, '\0', n) != NULL)
			goto bad;
		memcpy(r->fail[i].reason, p, n);
		r->fail[i].reason[n] = '\0';
		p += n;
		if (get_var(&p, end, &r->fail[i].n) != 0)
			goto bad;
		r->nfail++;
	}
	if (p != end)
		goto bad;
	return 0;
bad:
	memset(r, 0, sizeof(*r));
	return -1;
}

int64_t
stats_percentile(const uint32_t h[STATS_NHIST], double p)
{
	uint64_t total = 0, cum = 0, rank;
	int64_t lo, hi;

	for (int i = 0; i < STATS_NHIST; i++)
		total += h[i];
	if (total == 0)
		return -1;
	if (p <= 0)
		p = 0.0001;
	if (p > 100)
		p = 100;
	rank = (uint64_t)((double)total * p / 100.0 + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > total)
		rank = total;
	for (int i = 0; i < STATS_NHIST; i++) {
		if (h[i] == 0 || cum + h[i] < rank) {
			cum += h[i];
			continue;
		}
		stats_bucket_bounds(i, &lo, &hi);
		if (hi < 0)
			return lo;
		/* The rank's place among the bucket's counts, spread
		 * evenly over [lo, hi). */
		return lo + (int64_t)((double)(hi - lo) *
		    ((double)(rank - cum) - 0.5) / (double)h[i]);
	}
	return -1;
}

/* ---- tiling -------------------------------------------------------------- */

static int64_t
floor_to(int64_t t, int64_t span)
{
	int64_t r = t % span;

	return r < 0 ? t - r - span : t - r;
}

static int64_t
ceil_to(int64_t t, int64_t span)
{
	int64_t f = floor_to(t, span);

	return f == t ? t : f + span;
}

static void
tile_add(struct stats_tile *out, int *n, int gran, int64_t from, int64_t to)
{
	if (from >= to)
		return;
	out[*n].gran = gran;
	out[*n].from = from;
	out[*n].to = to;
	(*n)++;
}

int
stats_tile(int64_t t0, int64_t t1, struct stats_tile out[STATS_TILES_MAX])
{
	int64_t a, b, ad, bd;
	int n = 0;

	if (t0 >= t1)
		return 0;
	a = ceil_to(t0, 3600);
	b = floor_to(t1, 3600);
	if (a >= b) {
		tile_add(out, &n, STATS_MINUTE, t0, t1);
		return n;
	}
	tile_add(out, &n, STATS_MINUTE, t0, a);
	ad = ceil_to(a, 86400);
	bd = floor_to(b, 86400);
	if (ad >= bd) {
		tile_add(out, &n, STATS_HOUR, a, b);
	} else {
		tile_add(out, &n, STATS_HOUR, a, ad);
		tile_add(out, &n, STATS_DAY, ad, bd);
		tile_add(out, &n, STATS_HOUR, bd, b);
	}
	tile_add(out, &n, STATS_MINUTE, b, t1);
	return n;
}

void
stats_window(int64_t *since, int64_t *until)
{
	*since -= ((*since % 60) + 60) % 60;
	if (*until % 60 != 0)
		*until += 60 - ((*until % 60) + 60) % 60;
}

/* ---- sums per group -------------------------------------------------------- */

struct agg_ent {
	char group[STATS_GROUP_MAX];
	struct stats_row row;
};

struct stats_agg {
	struct agg_ent *ent;      /* in the order they came */
	int n, cap;
	int *slot;                /* hash: ent index + 1, 0 empty */
	int nslot;
};

struct stats_agg *
stats_agg_new(void)
{
	struct stats_agg *a = xcalloc(1, sizeof(*a));

	a->nslot = 64;
	a->slot = xcalloc((size_t)a->nslot, sizeof(*a->slot));
	return a;
}

void
stats_agg_free(struct stats_agg *a)
{
	if (a == NULL)
		return;
	free(a->ent);
	free(a->slot);
	free(a);
}

static uint32_t
hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static void
agg_rehash(struct stats_agg *a)
{
	free(a->slot);
	a->nslot *= 2;
	a->slot = xcalloc((size_t)a->nslot, sizeof(*a->slot));
	for (int i = 0; i < a->n; i++) {
		uint32_t h = hash_str(a->ent[i].group) & (uint32_t)(a->nslot - 1);
		while (a->slot[h] != 0)
			h = (h + 1) & (uint32_t)(a->nslot - 1);
		a->slot[h] = i + 1;
	}
}

int
stats_agg_add(struct stats_agg *a, const char *group,
    const struct stats_row *r)
{
	char g[STATS_GROUP_MAX];
	uint32_t h;

	util_strlcpy(g, group, sizeof(g));
	h = hash_str(g) & (uint32_t)(a->nslot - 1);
	while (a->slot[h] != 0) {
		struct agg_ent *e = &a->ent[a->slot[h] - 1];
		if (strcmp(e->group, g) == 0) {
			stats_row_merge(&e->row, r);
			return 0;
		}
		h = (h + 1) & (uint32_t)(a->nslot - 1);
	}
	if (a->n >= STATS_GROUPS_MAX)
		return -1;
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->ent = xrealloc(a->ent, (size_t)a->cap * sizeof(*a->ent));
	}
	memset(&a->ent[a->n], 0, sizeof(a->ent[a->n]));
	util_strlcpy(a->ent[a->n].group, g, sizeof(a->ent[a->n].group));
	a->ent[a->n].row = *r;
	a->slot[h] = ++a->n;
	if (a->n * 2 > a->nslot)
		agg_rehash(a);
	return 0;
}

int
stats_agg_count(const struct stats_agg *a)
{
	return a->n;
}

static int
ent_cmp(const void *x, const void *y)
{
	return strcmp(((const struct agg_ent *)x)->group,
	    ((const struct agg_ent *)y)->group);
}

void
stats_agg_sort(struct stats_agg *a)
{
	if (a->n > 1)
		qsort(a->ent, (size_t)a->n, sizeof(*a->ent), ent_cmp);
	/* The hash names places that moved: build it again. */
	a->nslot /= 2;
	agg_rehash(a);
}

const char *
stats_agg_group(const struct stats_agg *a, int i)
{
	return a->ent[i].group;
}

const struct stats_row *
stats_agg_row(const struct stats_agg *a, int i)
{
	return &a->ent[i].row;
}

/* ---- times ------------------------------------------------------------- */

int
stats_parse_time(const char *s, int64_t now, int64_t *t)
{
	char *end;
	long long v;
	int64_t unit, ms;

	if (s == NULL || *s == '\0' || strlen(s) > 40)
		return -1;
	if (s[0] == '-') {
		if (!isdigit((unsigned char)s[1]))
			return -1;
		v = strtoll(s + 1, &end, 10);
		switch (*end) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 7 * 86400; break;
		default: return -1;
		}
		if (end[1] != '\0' || v < 0 || v > 3650LL * 86400 / unit)
			return -1;
		*t = now - (int64_t)v * unit;
		return 0;
	}
	if (strspn(s, "0123456789") == strlen(s)) {
		if (strlen(s) > 11)
			return -1;
		*t = (int64_t)strtoll(s, NULL, 10);
		return 0;
	}
	if (util_rfc3339_parse(s, &ms) != 0)
		return -1;
	/* whole seconds, earlier ones for times before the epoch */
	*t = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	return 0;
}
