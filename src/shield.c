/*
 * shield.c - the per-range circuit breaker against SMS pumping (shield.h).
 *
 * Each tracked range keeps SHIELD_SLICES slices of time, a ring, each
 * holding the sends submitted in its slice and how many of them were
 * approved since (an approval counts with its send, so a late check still
 * counts).  A slice is slice_len = ceil(window / (SHIELD_SLICES - 1))
 * seconds, so the ring always spans the whole window plus the slice being
 * filled.  A slice counts for the window while its end is inside it, and
 * for the conversion ratio once its end is at least grace old: a send is
 * judged between grace and grace + slice_len after it left, never
 * sooner.  With the defaults (window 3600, grace 120) that is 120 to 237
 * seconds.  The lag is what a bot can send to a range before the verdict
 * can see it: at r sends a second to one range, about r * (grace +
 * slice_len) past min_sample.  [limits] sends_per_range caps r.
 *
 * Ranges live in one array (grown by doubling up to max_ranges) found by
 * a chained hash of their text; links are indexes + 1, so growing never
 * moves a pointer anyone holds.  A range is on one of two lists: the LRU
 * list of open ranges (the most recently used first; the last is the one
 * forgotten when a new range needs room) or the list of tripped ones
 * (which shield_expire() walks, and which are never forgotten).  So
 * memory is at most max_ranges * sizeof(struct range) (about 600 octets)
 * plus the hash heads, whatever the traffic.
 *
 * A trip made under another range_digits (a reload changed it, or a
 * stored trip from before) still blocks its numbers: shield_check() looks
 * up the number's prefix of every length some trip has, which is one
 * lookup in the usual case.
 */
#include <stdlib.h>
#include <string.h>

#include "shield.h"
#include "util.h"

#define SHIELD_SLICES 32
#define SHIELD_CAP_MIN 64       /* the array's first size */

struct slice {
	int64_t n;                /* t / slice_len; -1: empty */
	uint32_t sends, approved;
};

struct range {
	char key[SHIELD_RANGE_MAX];
	uint8_t used;
	uint8_t tripped;
	uint32_t hnext;           /* the hash chain; index + 1, 0 ends it */
	uint32_t prev, next;      /* the LRU or tripped list; index + 1 */
	int64_t tripped_at, until;
	uint64_t trip_mature, trip_approved;
	struct slice s[SHIELD_SLICES];
};

/* A list of ranges by index + 1 (0: none). */
struct list {
	uint32_t head, tail;
	int n;
};

struct shield {
	struct shield_params p;
	int64_t slice_len;
	struct range *r;
	uint32_t cap, count;      /* allocated; in use (never shrinks) */
	uint32_t *heads;          /* hash heads, nheads a power of two */
	uint32_t nheads;
	uint32_t free_head;       /* unused entries, by hnext */
	struct list lru;          /* open ranges, most recent first */
	struct list trips;        /* tripped ranges */
	int ntrip_len[16];        /* tripped ranges by their digits */
	struct shield_stats st;
};

/* ---- ranges, hashing, lists ---------------------------------------------- */

static uint32_t
hash_of(const char *s)
{
	uint32_t h = 2166136261u;       /* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

static struct range *
at(const struct shield *sh, uint32_t ref)
{
	return ref != 0 ? &sh->r[ref - 1] : NULL;
}

static uint32_t
ref_of(const struct shield *sh, const struct range *r)
{
	return (uint32_t)(r - sh->r) + 1;
}

static void
list_unlink(struct shield *sh, struct list *l, struct range *r)
{
	if (r->prev != 0)
		at(sh, r->prev)->next = r->next;
	else
		l->head = r->next;
	if (r->next != 0)
		at(sh, r->next)->prev = r->prev;
	else
		l->tail = r->prev;
	r->prev = r->next = 0;
	l->n--;
}

static void
list_push(struct shield *sh, struct list *l, struct range *r)
{
	uint32_t ref = ref_of(sh, r);

	r->prev = 0;
	r->next = l->head;
	if (l->head != 0)
		at(sh, l->head)->prev = ref;
	else
		l->tail = ref;
	l->head = ref;
	l->n++;
}

static struct range *
find(const struct shield *sh, const char *key)
{
	uint32_t ref;

	if (sh->nheads == 0)
		return NULL;
	for (ref = sh->heads[hash_of(key) & (sh->nheads - 1)]; ref != 0;
	    ref = at(sh, ref)->hnext)
		if (strcmp(at(sh, ref)->key, key) == 0)
			return at(sh, ref);
	return NULL;
}

static void
hash_insert(struct shield *sh, struct range *r)
{
	uint32_t *head = &sh->heads[hash_of(r->key) & (sh->nheads - 1)];

	r->hnext = *head;
	*head = ref_of(sh, r);
}

static void
hash_remove(struct shield *sh, struct range *r)
{
	uint32_t *pp = &sh->heads[hash_of(r->key) & (sh->nheads - 1)];
	uint32_t ref = ref_of(sh, r);

	while (*pp != 0 && *pp != ref)
		pp = &at(sh, *pp)->hnext;
	if (*pp == ref)
		*pp = r->hnext;
	r->hnext = 0;
}

static void
clear_slices(struct range *r)
{
	for (int k = 0; k < SHIELD_SLICES; k++) {
		r->s[k].n = -1;
		r->s[k].sends = r->s[k].approved = 0;
	}
}

/* Room for ncap entries, the hash rebuilt over them. */
static void
grow(struct shield *sh, uint32_t ncap)
{
	uint32_t nh = 1;

	sh->r = xrealloc(sh->r, (size_t)ncap * sizeof(*sh->r));
	memset(sh->r + sh->cap, 0, (size_t)(ncap - sh->cap) * sizeof(*sh->r));
	sh->cap = ncap;
	while (nh < ncap)
		nh <<= 1;
	free(sh->heads);
	sh->heads = xcalloc(nh, sizeof(*sh->heads));
	sh->nheads = nh;
	for (uint32_t i = 0; i < sh->count; i++)
		if (sh->r[i].used)
			hash_insert(sh, &sh->r[i]);
}

/* Forget r (open, on the LRU list). */
static void
forget(struct shield *sh, struct range *r)
{
	list_unlink(sh, &sh->lru, r);
	hash_remove(sh, r);
	r->used = 0;
	r->hnext = sh->free_head;
	sh->free_head = ref_of(sh, r);
	sh->st.ranges--;
}

/* A new open range called key, or NULL when there is no room: at
 * max_ranges the least recently used open range is forgotten for it; an
 * unused entry is taken, else the array grows (by doubling, up to
 * max_ranges). */
static struct range *
add(struct shield *sh, const char *key)
{
	struct range *r;

	if (sh->st.ranges >= sh->p.max_ranges) {
		if (sh->lru.tail == 0)
			return NULL;    /* every range is tripped */
		forget(sh, at(sh, sh->lru.tail));
		sh->st.evicted++;
	}
	if (sh->free_head != 0) {
		r = at(sh, sh->free_head);
		sh->free_head = r->hnext;
	} else {
		if (sh->count == sh->cap) {
			uint32_t ncap = sh->cap ? sh->cap * 2 : SHIELD_CAP_MIN;

			if (ncap > (uint32_t)sh->p.max_ranges)
				ncap = (uint32_t)sh->p.max_ranges;
			grow(sh, ncap);
		}
		r = &sh->r[sh->count++];
	}
	memset(r, 0, sizeof(*r));
	util_strlcpy(r->key, key, sizeof(r->key));
	r->used = 1;
	clear_slices(r);
	hash_insert(sh, r);
	list_push(sh, &sh->lru, r);
	sh->st.ranges++;
	return r;
}

/* Most recently used now. */
static void
touch(struct shield *sh, struct range *r)
{
	if (!r->tripped && sh->lru.head != ref_of(sh, r)) {
		list_unlink(sh, &sh->lru, r);
		list_push(sh, &sh->lru, r);
	}
}

static void
trip(struct shield *sh, struct range *r, int64_t from, int64_t until,
    uint64_t mature, uint64_t approved)
{
	list_unlink(sh, &sh->lru, r);
	list_push(sh, &sh->trips, r);
	r->tripped = 1;
	r->tripped_at = from;
	r->until = until;
	r->trip_mature = mature;
	r->trip_approved = approved;
	clear_slices(r);
	sh->ntrip_len[strlen(r->key) - 1]++;
	sh->st.tripped++;
}

static void
untrip(struct shield *sh, struct range *r)
{
	list_unlink(sh, &sh->trips, r);
	list_push(sh, &sh->lru, r);
	r->tripped = 0;
	clear_slices(r);
	sh->ntrip_len[strlen(r->key) - 1]--;
	sh->st.tripped--;
	sh->st.reopened++;
}

/* ---- figures ----------------------------------------------------------- */

/* r's figures at now into v (the range's name too). */
static void
view_of(const struct shield *sh, const struct range *r, int64_t now,
    struct shield_view *v)
{
	int64_t len = sh->slice_len;

	memset(v, 0, sizeof(*v));
	util_strlcpy(v->range, r->key, sizeof(v->range));
	for (int k = 0; k < SHIELD_SLICES; k++) {
		const struct slice *s = &r->s[k];
		int64_t end = (s->n + 1) * len;

		if (s->n < 0 || s->n > now / len || end <= now - sh->p.window)
			continue;
		v->sends += s->sends;
		if (end + sh->p.grace <= now) {
			v->mature += s->sends;
			v->approved += s->approved;
		}
	}
	v->tripped = r->tripped;
	v->tripped_at = r->tripped_at;
	v->until = r->until;
	v->trip_mature = r->trip_mature;
	v->trip_approved = r->trip_approved;
}

/* The slice of r for a send at t; cleared when it held an older slice.
 * NULL when it holds a newer one (t is older than the ring). */
static struct slice *
slice_for_send(const struct shield *sh, struct range *r, int64_t t)
{
	int64_t n = t / sh->slice_len;
	struct slice *s = &r->s[n % SHIELD_SLICES];

	if (s->n == n)
		return s;
	if (s->n > n)
		return NULL;
	s->n = n;
	s->sends = s->approved = 0;
	return s;
}

/* ---- the public face --------------------------------------------------- */

static void
set_params(struct shield *sh, const struct shield_params *p)
{
	sh->p = *p;
	if (sh->p.window < 1)
		sh->p.window = 1;
	if (sh->p.max_ranges < 1)
		sh->p.max_ranges = 1;
	if (sh->p.range_digits < 1 || sh->p.range_digits > 15)
		sh->p.range_digits = 15;
	sh->slice_len = (sh->p.window + SHIELD_SLICES - 2) /
	    (SHIELD_SLICES - 1);
	if (sh->slice_len < 1)
		sh->slice_len = 1;
}

struct shield *
shield_new(const struct shield_params *p)
{
	struct shield *sh = xcalloc(1, sizeof(*sh));

	set_params(sh, p);
	return sh;
}

void
shield_free(struct shield *sh)
{
	if (sh == NULL)
		return;
	free(sh->r);
	free(sh->heads);
	free(sh);
}

void
shield_reconf(struct shield *sh, const struct shield_params *p)
{
	int64_t old_len = sh->slice_len;

	set_params(sh, p);
	if (sh->slice_len != old_len)
		for (uint32_t i = 0; i < sh->count; i++)
			if (sh->r[i].used)
				clear_slices(&sh->r[i]);
	while (sh->st.ranges > sh->p.max_ranges && sh->lru.tail != 0) {
		forget(sh, at(sh, sh->lru.tail));
		sh->st.evicted++;
	}
}

void
shield_range(const char *e164, int digits, char *out, size_t size)
{
	size_t n = 0;

	if (size == 0)
		return;
	if (*e164 == '+')
		e164++;
	if (size > 1) {
		out[n++] = '+';
		while (*e164 >= '0' && *e164 <= '9' && (int)n <= digits &&
		    n + 1 < size)
			out[n++] = *e164++;
	}
	out[n] = '\0';
}

/* A tripped range of another length than the current one that prefixes
 * e164, or NULL. */
static struct range *
trip_of_other_length(const struct shield *sh, const char *e164)
{
	char key[SHIELD_RANGE_MAX];
	struct range *r;

	for (int d = 1; d <= 15; d++) {
		if (sh->ntrip_len[d] == 0 || d == sh->p.range_digits)
			continue;
		shield_range(e164, d, key, sizeof(key));
		if ((int)strlen(key) - 1 != d)
			continue;
		if ((r = find(sh, key)) != NULL && r->tripped)
			return r;
	}
	return NULL;
}

enum shield_verdict
shield_check(struct shield *sh, const char *e164, int64_t now,
    struct shield_view *v)
{
	char key[SHIELD_RANGE_MAX];
	struct range *r;

	shield_range(e164, sh->p.range_digits, key, sizeof(key));
	if ((r = trip_of_other_length(sh, e164)) == NULL || r->until <= now)
		r = find(sh, key);
	if (r == NULL) {
		memset(v, 0, sizeof(*v));
		util_strlcpy(v->range, key, sizeof(v->range));
		return SHIELD_OPEN;
	}
	if (r->tripped && r->until <= now) {
		view_of(sh, r, now, v);
		untrip(sh, r);
		v->tripped = 0;
		v->reopened = 1;
		return SHIELD_OPEN;
	}
	view_of(sh, r, now, v);
	if (r->tripped) {
		sh->st.blocked++;
		return SHIELD_BLOCKED;
	}
	touch(sh, r);
	if (sh->p.floor <= 0 || v->mature < (uint64_t)sh->p.min_sample ||
	    v->approved * 100 >= (uint64_t)sh->p.floor * v->mature)
		return SHIELD_OPEN;
	trip(sh, r, now, now + sh->p.cooldown, v->mature, v->approved);
	v->tripped = 1;
	v->tripped_at = now;
	v->until = r->until;
	v->trip_mature = r->trip_mature;
	v->trip_approved = r->trip_approved;
	sh->st.trips++;
	sh->st.blocked++;
	return SHIELD_TRIPS;
}

void
shield_sent(struct shield *sh, const char *e164, int64_t t)
{
	char key[SHIELD_RANGE_MAX];
	struct range *r;
	struct slice *s;

	if (t < 0)
		return;
	shield_range(e164, sh->p.range_digits, key, sizeof(key));
	if ((r = find(sh, key)) == NULL && (r = add(sh, key)) == NULL) {
		sh->st.untracked++;
		return;
	}
	if (r->tripped)
		return;
	touch(sh, r);
	if ((s = slice_for_send(sh, r, t)) != NULL)
		s->sends++;
}

void
shield_approved(struct shield *sh, const char *e164, int64_t t)
{
	char key[SHIELD_RANGE_MAX];
	struct range *r;
	struct slice *s;

	if (t < 0)
		return;
	shield_range(e164, sh->p.range_digits, key, sizeof(key));
	if ((r = find(sh, key)) == NULL || r->tripped)
		return;
	s = &r->s[(t / sh->slice_len) % SHIELD_SLICES];
	/* Only with its own send: a slice since reused holds others. */
	if (s->n == t / sh->slice_len && s->approved < s->sends)
		s->approved++;
}

int
shield_restore(struct shield *sh, const struct shield_view *v, int64_t now)
{
	size_t len = strlen(v->range);
	struct range *r;

	if (v->until <= now || len < 2 || len >= SHIELD_RANGE_MAX ||
	    v->range[0] != '+')
		return -1;
	if ((r = find(sh, v->range)) == NULL &&
	    (r = add(sh, v->range)) == NULL)
		return -1;
	if (r->tripped) {
		r->until = v->until;
		return 0;
	}
	trip(sh, r, v->tripped_at, v->until, v->trip_mature,
	    v->trip_approved);
	return 0;
}

int
shield_reopen(struct shield *sh, const char *range, int64_t now)
{
	struct range *r = find(sh, range);

	if (r == NULL || !r->tripped || r->until <= now)
		return -1;
	untrip(sh, r);
	return 0;
}

int
shield_expire(struct shield *sh, int64_t now,
    void (*fn)(void *arg, const struct shield_view *v), void *arg)
{
	struct shield_view v;
	uint32_t ref, next;
	int n = 0;

	for (ref = sh->trips.head; ref != 0; ref = next) {
		struct range *r = at(sh, ref);

		next = r->next;
		if (r->until > now)
			continue;
		view_of(sh, r, now, &v);
		untrip(sh, r);
		v.reopened = 1;
		n++;
		if (fn != NULL)
			fn(arg, &v);
	}
	return n;
}

static int
until_cmp(const void *a, const void *b)
{
	const struct shield_view *x = a, *y = b;

	if (x->until != y->until)
		return x->until < y->until ? -1 : 1;
	return strcmp(x->range, y->range);
}

int
shield_tripped(const struct shield *sh, int64_t now, struct shield_view **out)
{
	struct shield_view *v = NULL;
	int n = 0;

	*out = NULL;
	if (sh->trips.n == 0)
		return 0;
	v = xcalloc((size_t)sh->trips.n, sizeof(*v));
	for (uint32_t ref = sh->trips.head; ref != 0; ref = at(sh, ref)->next)
		if (at(sh, ref)->until > now)
			view_of(sh, at(sh, ref), now, &v[n++]);
	if (n == 0) {
		free(v);
		return 0;
	}
	qsort(v, (size_t)n, sizeof(*v), until_cmp);
	*out = v;
	return n;
}

int
shield_get(const struct shield *sh, const char *range, int64_t now,
    struct shield_view *v)
{
	const struct range *r = find(sh, range);

	if (r == NULL) {
		memset(v, 0, sizeof(*v));
		util_strlcpy(v->range, range, sizeof(v->range));
		return -1;
	}
	view_of(sh, r, now, v);
	if (v->tripped && v->until <= now)
		v->tripped = 0;
	return 0;
}

void
shield_stats(const struct shield *sh, struct shield_stats *out)
{
	*out = sh->st;
}
