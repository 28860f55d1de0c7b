/*
 * limit.c - sliding windows and the decision which limit refuses (see
 * limit.h).  Pure.
 *
 * The window arithmetic, with w the slot width and P the period, in
 * whole seconds: an event at time e is in slot j = e / w, which holds
 * the seconds jw .. (j+1)w - 1.  The window at t holds the seconds
 * t - P + 1 .. t; slot j overlaps it when (j+1)w - 1 >= t - P + 1, that
 * is j >= floor((t - P + 1) / w), and the count is the sum of the slots
 * from there to the head.  Since w >= P / 60, that is at most 61 slots.
 * Slot j stops counting at (j+1)w + P - 1, the first t with
 * floor((t - P + 1) / w) > j: retry_after walks the slots oldest first
 * until the count left is below N.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "limit.h"
#include "util.h"

#define LIMIT_VERSION 1

const char *
limit_strname(enum limit_kind k)
{
	switch (k) {
	case LIMIT_NONE: break;
	case LIMIT_RESEND_INTERVAL: return "resend_interval";
	case LIMIT_SENDS_PER_PHONE: return "sends_per_phone";
	case LIMIT_SENDS_PER_IP: return "sends_per_ip";
	case LIMIT_SENDS_PER_KEY: return "sends_per_key";
	case LIMIT_SENDS_PER_RANGE: return "sends_per_range";
	case LIMIT_FAILED_CHECKS: return "failed_checks_per_phone";
	}
	return "none";
}

/* floor(a / b) for b > 0, negative a too. */
static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && a < 0) ? q - 1 : q;
}

uint32_t
limit_width(int period)
{
	if (period <= LIMIT_PER_PERIOD)
		return 1;
	return (uint32_t)((period + LIMIT_PER_PERIOD - 1) /
	    LIMIT_PER_PERIOD);
}

static uint32_t *
slot_of(struct limit_window *w, int64_t j)
{
	int64_t i = j % LIMIT_SLOTS;

	return &w->slot[i < 0 ? i + LIMIT_SLOTS : i];
}

static uint32_t
slot_get(const struct limit_window *w, int64_t j)
{
	return *slot_of((struct limit_window *)w, j);
}

static int
window_empty(const struct limit_window *w)
{
	for (int i = 0; i < LIMIT_SLOTS; i++)
		if (w->slot[i] != 0)
			return 0;
	return 1;
}

/* Bring w to slot width nw: each slot's count goes to the new slot that
 * holds its last second (later, never earlier: conservative). */
static void
refit(struct limit_window *w, uint32_t nw)
{
	struct limit_window out;
	int64_t j, nj;

	memset(&out, 0, sizeof(out));
	out.width = nw;
	out.last = w->last;
	if (w->width == 0 || window_empty(w)) {
		out.head = w->width == 0 ? 0 :
		    floor_div((w->head + 1) * (int64_t)w->width - 1, nw);
		*w = out;
		return;
	}
	out.head = floor_div((w->head + 1) * (int64_t)w->width - 1, nw);
	for (j = w->head - LIMIT_SLOTS + 1; j <= w->head; j++) {
		uint32_t c = slot_get(w, j);

		if (c == 0)
			continue;
		nj = floor_div((j + 1) * (int64_t)w->width - 1, nw);
		if (nj > out.head - LIMIT_SLOTS) {
			uint32_t *o = slot_of(&out, nj);
			*o = *o > UINT32_MAX - c ? UINT32_MAX : *o + c;
		}
	}
	*w = out;
}

/* Move the head of w (width set) forward to slot j, clearing the slots
 * it passes. */
static void
advance(struct limit_window *w, int64_t j)
{
	int64_t k;

	if (j <= w->head)
		return;
	if (j - w->head >= LIMIT_SLOTS) {
		memset(w->slot, 0, sizeof(w->slot));
	} else {
		for (k = w->head + 1; k <= j; k++)
			*slot_of(w, k) = 0;
	}
	w->head = j;
}

void
limit_add(struct limit_window *w, int period, int64_t now)
{
	uint32_t nw;
	int64_t j;

	if (now > w->last)
		w->last = now;
	if (period <= 0)
		return;
	nw = limit_width(period);
	if (w->width == 0) {
		memset(w->slot, 0, sizeof(w->slot));
		w->width = nw;
		w->head = floor_div(now, nw);
	} else if (w->width != nw) {
		refit(w, nw);
	}
	j = floor_div(now, w->width);
	if (j > w->head)
		advance(w, j);
	else
		j = w->head;    /* a clock set back: count it as the newest */
	if (*slot_of(w, j) < UINT32_MAX)
		(*slot_of(w, j))++;
}

/* w as a window of period's width, into tmp when it must be refit:
 * the window to read. */
static const struct limit_window *
fitted(const struct limit_window *w, int period, struct limit_window *tmp)
{
	uint32_t nw = limit_width(period);

	if (w->width == 0 || w->width == nw)
		return w;
	*tmp = *w;
	refit(tmp, nw);
	return tmp;
}

/* The oldest slot number that counts at now, never below the oldest
 * slot w keeps. */
static int64_t
oldest_slot(const struct limit_window *w, int period, int64_t now)
{
	int64_t lo = floor_div(now - period + 1, w->width);

	if (lo < w->head - LIMIT_SLOTS + 1)
		lo = w->head - LIMIT_SLOTS + 1;
	return lo;
}

uint32_t
limit_count(const struct limit_window *w, int period, int64_t now)
{
	struct limit_window tmp;
	uint64_t sum = 0;
	int64_t j;

	if (period <= 0 || w->width == 0)
		return 0;
	w = fitted(w, period, &tmp);
	for (j = oldest_slot(w, period, now); j <= w->head; j++)
		sum += slot_get(w, j);
	return sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}

int64_t
limit_retry_after(const struct limit_window *w, int period, uint32_t n,
    int64_t now)
{
	struct limit_window tmp;
	uint64_t left = 0;
	int64_t j, lo;

	if (period <= 0 || w->width == 0 || n == 0)
		return 0;
	w = fitted(w, period, &tmp);
	lo = oldest_slot(w, period, now);
	for (j = lo; j <= w->head; j++)
		left += slot_get(w, j);
	if (left < n)
		return 0;
	for (j = lo; j <= w->head; j++) {
		left -= slot_get(w, j);
		if (left < n)
			break;
	}
	/* Slot j stops counting at (j+1)w + P - 1, which is after now. */
	return (j + 1) * (int64_t)w->width + period - 1 - now;
}

int64_t
limit_until(const struct limit_window *w, int period, int interval)
{
	int64_t until = 0;

	if (w->width != 0 && !window_empty(w))
		until = (w->head + 1) * (int64_t)w->width - 1 +
		    (period > 0 ? period : (int64_t)w->width *
		    LIMIT_PER_PERIOD);
	if (w->last > 0 && interval > 0 && w->last + interval > until)
		until = w->last + interval;
	return until;
}

/* ---- the stored form ---------------------------------------------------- */

size_t
limit_encode(const struct limit_window *w, uint8_t *buf, size_t size)
{
	size_t o = 22;
	int64_t j;
	int n = 0;

	if (size < LIMIT_ENCODED_MAX)
		return 0;
	buf[0] = LIMIT_VERSION;
	put_u32(buf + 1, w->width);
	put_u64(buf + 5, (uint64_t)w->head);
	put_u64(buf + 13, (uint64_t)w->last);
	for (j = w->head; w->width != 0 && j > w->head - LIMIT_SLOTS; j--) {
		uint32_t c = slot_get(w, j);

		if (c == 0)
			continue;
		buf[o] = (uint8_t)(w->head - j);
		put_u32(buf + o + 1, c);
		o += 5;
		n++;
	}
	buf[21] = (uint8_t)n;
	return o;
}

int
limit_decode(struct limit_window *w, const uint8_t *buf, size_t len)
{
	size_t n, i;

	memset(w, 0, sizeof(*w));
	if (len < 22 || buf[0] != LIMIT_VERSION)
		return -1;
	n = buf[21];
	if (n > LIMIT_SLOTS || len != 22 + 5 * n)
		return -1;
	w->width = get_u32(buf + 1);
	w->head = (int64_t)get_u64(buf + 5);
	w->last = (int64_t)get_u64(buf + 13);
	if ((w->width == 0 && n > 0) || w->head < 0 || w->last < 0 ||
	    w->head > INT64_MAX / 2 / (w->width ? w->width : 1)) {
		memset(w, 0, sizeof(*w));
		return -1;
	}
	for (i = 0; i < n; i++) {
		const uint8_t *e = buf + 22 + 5 * i;
		uint32_t *s;

		if (e[0] >= LIMIT_SLOTS) {
			memset(w, 0, sizeof(*w));
			return -1;
		}
		s = slot_of(w, w->head - e[0]);
		*s = *s > UINT32_MAX - get_u32(e + 1) ? UINT32_MAX :
		    *s + get_u32(e + 1);
	}
	return 0;
}

/* ---- decisions ---------------------------------------------------------- */

int
limit_check(const struct limit_check *c, int64_t now, uint32_t *count,
    int64_t *retry_after)
{
	*count = 0;
	*retry_after = 0;
	if (c->n == 0 || c->period <= 0 || c->w == NULL)
		return 0;
	if (c->kind == LIMIT_RESEND_INTERVAL) {
		if (c->w->last <= 0 || now >= c->w->last + c->period)
			return 0;
		*count = 1;
		*retry_after = c->w->last + c->period - now;
		return 1;
	}
	*count = limit_count(c->w, c->period, now);
	if (*count < c->n)
		return 0;
	*retry_after = limit_retry_after(c->w, c->period, c->n, now);
	return 1;
}

enum limit_kind
limit_decide(const struct limit_check *cs, int n, int64_t now,
    int64_t *retry_after)
{
	enum limit_kind worst = LIMIT_NONE;
	uint32_t count;
	int64_t ra;

	*retry_after = 0;
	for (int i = 0; i < n; i++) {
		if (limit_check(&cs[i], now, &count, &ra) &&
		    ra > *retry_after) {
			worst = cs[i].kind;
			*retry_after = ra;
		}
	}
	return worst;
}

/* ---- subjects ----------------------------------------------------------- */

size_t
limit_range(const char *e164, int range_digits, char *out, size_t size)
{
	size_t n;

	if (e164[0] != '+' || range_digits < 1)
		return 0;
	n = strspn(e164 + 1, "0123456789");
	if (n == 0)
		return 0;
	if (n > (size_t)range_digits)
		n = (size_t)range_digits;
	if (n >= size)
		return 0;
	memcpy(out, e164 + 1, n);
	out[n] = '\0';
	return n;
}

int
limit_ip_subject(const char *ip, char *out, size_t size)
{
	struct in_addr a4;
	struct in6_addr a6;
	char buf[INET6_ADDRSTRLEN];
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	if (size < 64)
		return -1;
	if (inet_pton(AF_INET, ip, &a4) == 1) {
		inet_ntop(AF_INET, &a4, out, (socklen_t)size);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &a6) != 1)
		return -1;
	if (memcmp(a6.s6_addr, mapped, sizeof(mapped)) == 0) {
		memcpy(&a4, a6.s6_addr + 12, 4);
		inet_ntop(AF_INET, &a4, out, (socklen_t)size);
		return 0;
	}
	memset(a6.s6_addr + 8, 0, 8);
	inet_ntop(AF_INET6, &a6, buf, sizeof(buf));
	snprintf(out, size, "%s/64", buf);
	return 0;
}
