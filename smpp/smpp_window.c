/*
 * smpp_window.c - outstanding SMPP requests by sequence number.
 *
 * An open-addressed table with linear probing, at least twice as many
 * slots as the window holds so probes stay short; seq 0 marks an empty slot
 * (SMPP never uses it).  Deletion shifts the following run back instead of
 * leaving tombstones.  The window owns its table, never the cookies.
 */
#include <stdint.h>
#include <stdlib.h>

#include "smpp_window.h"

#define SEQ_MAX 0x7FFFFFFFu

struct slot {
	uint32_t seq;		/* 0: empty */
	int64_t deadline;
	void *cookie;
};

struct smpp_window {
	int size, used;
	uint32_t mask;		/* slots - 1, slots a power of two */
	uint32_t last_seq;
	struct slot *slots;
};

static uint32_t
home(const struct smpp_window *w, uint32_t seq)
{
	return (seq * 2654435761u) & w->mask;
}

struct smpp_window *
smpp_window_new(int size)
{
	struct smpp_window *w;
	uint32_t n = 4;

	if (size < 1 || size > 65536)
		return NULL;
	while (n < (uint32_t)size * 2)
		n <<= 1;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	if ((w->slots = calloc(n, sizeof(*w->slots))) == NULL) {
		free(w);
		return NULL;
	}
	w->size = size;
	w->mask = n - 1;
	return w;
}

void
smpp_window_free(struct smpp_window *w)
{
	if (w == NULL)
		return;
	free(w->slots);
	free(w);
}

static struct slot *
find(const struct smpp_window *w, uint32_t seq)
{
	uint32_t i = home(w, seq);

	while (w->slots[i].seq != 0) {
		if (w->slots[i].seq == seq)
			return &w->slots[i];
		i = (i + 1) & w->mask;
	}
	return NULL;
}

uint32_t
smpp_window_next_seq(struct smpp_window *w)
{
	/* At most size numbers are taken, so this ends within size + 1. */
	do {
		w->last_seq = w->last_seq >= SEQ_MAX ? 1 : w->last_seq + 1;
	} while (find(w, w->last_seq) != NULL);
	return w->last_seq;
}

int
smpp_window_add(struct smpp_window *w, uint32_t seq, int64_t deadline_ms,
    void *cookie)
{
	uint32_t i;

	if (seq == 0 || w->used >= w->size || find(w, seq) != NULL)
		return -1;
	i = home(w, seq);
	while (w->slots[i].seq != 0)
		i = (i + 1) & w->mask;
	w->slots[i].seq = seq;
	w->slots[i].deadline = deadline_ms;
	w->slots[i].cookie = cookie;
	w->used++;
	return 0;
}

/* Empty slot i and shift back the entries of the run after it that would
 * otherwise become unreachable (Knuth's algorithm R). */
static void
remove_at(struct smpp_window *w, uint32_t i)
{
	uint32_t j = i, k;

	w->slots[i].seq = 0;
	for (;;) {
		j = (j + 1) & w->mask;
		if (w->slots[j].seq == 0)
			break;
		k = home(w, w->slots[j].seq);
		/* Leave j in place if its home lies cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		w->slots[i] = w->slots[j];
		w->slots[j].seq = 0;
		i = j;
	}
	w->used--;
}

int
smpp_window_take(struct smpp_window *w, uint32_t seq, void **cookie)
{
	struct slot *s;

	if (seq == 0 || (s = find(w, seq)) == NULL)
		return -1;
	*cookie = s->cookie;
	remove_at(w, (uint32_t)(s - w->slots));
	return 0;
}

int
smpp_window_take_expired(struct smpp_window *w, int64_t now_ms,
    uint32_t *seq, void **cookie)
{
	uint32_t i;

	for (i = 0; i <= w->mask; i++)
		if (w->slots[i].seq != 0 && w->slots[i].deadline <= now_ms) {
			*seq = w->slots[i].seq;
			*cookie = w->slots[i].cookie;
			remove_at(w, i);
			return 1;
		}
	return 0;
}

int
smpp_window_take_any(struct smpp_window *w, uint32_t *seq, void **cookie)
{
	uint32_t i;

	for (i = 0; i <= w->mask; i++)
		if (w->slots[i].seq != 0) {
			*seq = w->slots[i].seq;
			*cookie = w->slots[i].cookie;
			remove_at(w, i);
			return 1;
		}
	return 0;
}

int
smpp_window_earliest(const struct smpp_window *w, int64_t *deadline_ms)
{
	uint32_t i;
	int found = 0;

	for (i = 0; i <= w->mask; i++)
		if (w->slots[i].seq != 0 &&
		    (!found || w->slots[i].deadline < *deadline_ms)) {
			*deadline_ms = w->slots[i].deadline;
			found = 1;
		}
	return found ? 0 : -1;
}

int
smpp_window_used(const struct smpp_window *w)
{
	return w->used;
}

int
smpp_window_size(const struct smpp_window *w)
{
	return w->size;
}
