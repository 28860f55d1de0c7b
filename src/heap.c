/*
 * heap.c - the binary min-heap of heap.h: an array of node pointers, a
 * node's idx its place in it, sifted up and down on push and removal.
 */
#include <stdlib.h>

#include "heap.h"
#include "util.h"

#define HEAP_FIRST_CAP 256

static void
set(struct heap *h, size_t i, struct heap_node *n)
{
	h->v[i] = n;
	n->idx = i;
}

static void
sift_up(struct heap *h, size_t i)
{
	struct heap_node *n = h->v[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!h->before(n, h->v[p]))
			break;
		set(h, i, h->v[p]);
		i = p;
	}
	set(h, i, n);
}

static void
sift_down(struct heap *h, size_t i)
{
	struct heap_node *n = h->v[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->before(h->v[c + 1], h->v[c]))
			c++;
		if (!h->before(h->v[c], n))
			break;
		set(h, i, h->v[c]);
		i = c;
	}
	set(h, i, n);
}

void
heap_init(struct heap *h, int (*before)(const struct heap_node *,
    const struct heap_node *))
{
	h->v = NULL;
	h->n = h->cap = 0;
	h->before = before;
}

void
heap_release(struct heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

void
heap_push(struct heap *h, struct heap_node *n)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : HEAP_FIRST_CAP;
		h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
	}
	set(h, h->n++, n);
	sift_up(h, n->idx);
}

void
heap_remove(struct heap *h, struct heap_node *n)
{
	size_t i = n->idx;
	struct heap_node *last = h->v[--h->n];

	if (i < h->n) {
		set(h, i, last);
		sift_up(h, i);
		sift_down(h, last->idx);
	}
}

struct heap_node *
heap_top(const struct heap *h)
{
	return h->n > 0 ? h->v[0] : NULL;
}

size_t
heap_count(const struct heap *h)
{
	return h->n;
}

struct heap_node *
heap_at(const struct heap *h, size_t i)
{
	return h->v[i];
}
