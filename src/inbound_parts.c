/*
 * inbound_parts.c - joining the parts of concatenated inbound messages;
 * pure (see inbound_parts.h for the contract).
 *
 * The table is two small arrays searched linearly: waiting messages, in
 * the order their first part came (oldest first, so eviction and aging
 * look at the front), and a ring of the keys of messages joined lately,
 * for the duplicates an SMSC sends when our deliver_sm_resp was lost.
 * Inbound traffic to a verification gateway is a trickle (QA numbers
 * reading codes back), and max_pending is a few hundred: a search costs
 * less than the store commit each part waits for anyway.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inbound_parts.h"
#include "util.h"

struct pending {
	char *key;
	uint8_t total;
	uint8_t have;           /* parts held */
	int64_t first_ms;       /* when its first part came */
	size_t bytes;           /* text held */
	char **text;            /* [total], NULL until that part came */
};

struct joined {
	char *key;              /* NULL: free slot */
	int64_t at_ms;
};

struct inbound_parts {
	int max_pending;
	size_t max_bytes;
	int64_t max_age_ms;
	void (*dropped)(void *, const char *, enum inbound_drop);
	void *arg;
	struct pending *p;      /* [max_pending], n used, oldest first */
	int n;
	size_t bytes;
	struct joined *j;       /* ring of max_pending */
	int j_next;
};

struct inbound_parts *
inbound_parts_new(int max_pending, size_t max_bytes, int64_t max_age_ms,
    void (*dropped)(void *, const char *, enum inbound_drop), void *arg)
{
	struct inbound_parts *t = xcalloc(1, sizeof(*t));

	t->max_pending = max_pending < 1 ? 1 : max_pending;
	t->max_bytes = max_bytes < 1 ? 1 : max_bytes;
	t->max_age_ms = max_age_ms < 0 ? 0 : max_age_ms;
	t->dropped = dropped;
	t->arg = arg;
	t->p = xcalloc((size_t)t->max_pending, sizeof(*t->p));
	t->j = xcalloc((size_t)t->max_pending, sizeof(*t->j));
	return t;
}

static void
pending_clear(struct pending *p)
{
	for (int i = 0; i < p->total; i++)
		free(p->text[i]);
	free(p->text);
	free(p->key);
	memset(p, 0, sizeof(*p));
}

/* Remove waiting message i (its texts freed), keeping the order. */
static void
pending_remove(struct inbound_parts *t, int i)
{
	t->bytes -= t->p[i].bytes;
	pending_clear(&t->p[i]);
	memmove(&t->p[i], &t->p[i + 1],
	    (size_t)(t->n - i - 1) * sizeof(t->p[0]));
	t->n--;
	memset(&t->p[t->n], 0, sizeof(t->p[0]));
}

static void
drop(struct inbound_parts *t, int i, enum inbound_drop why)
{
	if (t->dropped != NULL)
		t->dropped(t->arg, t->p[i].key, why);
	pending_remove(t, i);
}

void
inbound_parts_free(struct inbound_parts *t)
{
	if (t == NULL)
		return;
	while (t->n > 0)
		pending_remove(t, t->n - 1);
	for (int i = 0; i < t->max_pending; i++)
		free(t->j[i].key);
	free(t->p);
	free(t->j);
	free(t);
}

void
inbound_parts_key(const char *smsc, const char *source,
    const char *destination, uint16_t ref, uint8_t total,
    char out[INBOUND_KEY_MAX])
{
	/* Names and addresses are short (an [smsc] name, SMPP addresses of
	 * at most 20 octets); each is cut at 40 so the key always fits. */
	snprintf(out, INBOUND_KEY_MAX, "%zu:%.40s%zu:%.40s%zu:%.40s%u/%u",
	    strnlen(smsc, 40), smsc, strnlen(source, 40), source,
	    strnlen(destination, 40), destination, (unsigned)ref,
	    (unsigned)total);
}

static int
find_pending(const struct inbound_parts *t, const char *key)
{
	for (int i = 0; i < t->n; i++)
		if (strcmp(t->p[i].key, key) == 0)
			return i;
	return -1;
}

static int
joined_lately(const struct inbound_parts *t, const char *key, int64_t now)
{
	for (int i = 0; i < t->max_pending; i++)
		if (t->j[i].key != NULL && now - t->j[i].at_ms <= t->max_age_ms &&
		    strcmp(t->j[i].key, key) == 0)
			return 1;
	return 0;
}

static void
remember_joined(struct inbound_parts *t, const char *key, int64_t now)
{
	struct joined *j = &t->j[t->j_next];

	free(j->key);
	j->key = xstrdup(key);
	j->at_ms = now;
	t->j_next = (t->j_next + 1) % t->max_pending;
}

/* The parts' texts in order, as one string. */
static char *
join(const struct pending *p)
{
	char *s = xmalloc(p->bytes + 1), *q = s;

	for (int i = 0; i < p->total; i++) {
		size_t n = strlen(p->text[i]);
		memcpy(q, p->text[i], n);
		q += n;
	}
	*q = '\0';
	return s;
}

enum inbound_part_result
inbound_parts_add(struct inbound_parts *t, const char *key, uint8_t total,
    uint8_t seq, const char *text, int64_t now_ms, char **joined)
{
	struct pending *p;
	size_t len;
	int i;

	*joined = NULL;
	if (key == NULL || text == NULL || total == 0 || seq == 0 ||
	    seq > total)
		return INBOUND_PART_INVALID;
	len = strnlen(text, INBOUND_PART_TEXT_MAX + 1);
	if (len > INBOUND_PART_TEXT_MAX)
		return INBOUND_PART_INVALID;
	if (total == 1) {
		*joined = xstrdup(text);
		return INBOUND_PART_DONE;
	}
	i = find_pending(t, key);
	if (i < 0 && joined_lately(t, key, now_ms))
		return INBOUND_PART_DUP;
	if (i >= 0 && t->p[i].total != total)
		return INBOUND_PART_INVALID; /* the key holds total: cannot be */
	if (i >= 0 && t->p[i].text[seq - 1] != NULL)
		return INBOUND_PART_DUP;
	/* Make room: the oldest waiting messages go first, but never the
	 * one this part belongs to (it moves down as others go). */
	while (t->n > 0 && (t->bytes + len > t->max_bytes ||
	    (i < 0 && t->n >= t->max_pending))) {
		int victim = (i == 0) ? 1 : 0;
		if (victim >= t->n)
			break;
		drop(t, victim, INBOUND_DROP_FULL);
		if (i > victim)
			i--;
	}
	if (t->bytes + len > t->max_bytes)
		return INBOUND_PART_INVALID; /* alone past max_bytes */
	if (i < 0) {
		i = t->n++;
		p = &t->p[i];
		p->key = xstrdup(key);
		p->total = total;
		p->first_ms = now_ms;
		p->text = xcalloc(total, sizeof(*p->text));
	}
	p = &t->p[i];
	p->text[seq - 1] = xstrdup(text);
	p->have++;
	p->bytes += len;
	t->bytes += len;
	if (p->have < p->total)
		return INBOUND_PART_HELD;
	*joined = join(p);
	remember_joined(t, key, now_ms);
	pending_remove(t, i);
	return INBOUND_PART_DONE;
}

int
inbound_parts_expire(struct inbound_parts *t, int64_t now_ms)
{
	int dropped = 0;

	for (int i = 0; i < t->n;) {
		if (now_ms - t->p[i].first_ms > t->max_age_ms) {
			drop(t, i, INBOUND_DROP_AGED);
			dropped++;
		} else {
			i++;
		}
	}
	for (int i = 0; i < t->max_pending; i++) {
		if (t->j[i].key != NULL &&
		    now_ms - t->j[i].at_ms > t->max_age_ms) {
			free(t->j[i].key);
			t->j[i].key = NULL;
		}
	}
	return dropped;
}

int
inbound_parts_pending(const struct inbound_parts *t)
{
	return t->n;
}

size_t
inbound_parts_bytes(const struct inbound_parts *t)
{
	return t->bytes;
}
