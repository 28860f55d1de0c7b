/*
 * heap.h - a binary min-heap of nodes embedded in the caller's structs,
 * each knowing its place, so that any node can be taken out in O(log n)
 * (dispatch.c's wait queue: messages by their code's expiry).  The order
 * is the caller's before() function; pure, no I/O.
 */
#ifndef HEAP_H
#define HEAP_H

#include <stddef.h>

/* Embedded in what the heap holds; idx is the heap's business. */
struct heap_node {
	size_t idx;
};

struct heap {
	struct heap_node **v;
	size_t n, cap;
	/* 1 when a goes before b (nearer the top) */
	int (*before)(const struct heap_node *a, const struct heap_node *b);
};

/* An empty heap ordered by before(); heap_release() frees what it grew. */
void heap_init(struct heap *, int (*before)(const struct heap_node *,
    const struct heap_node *));
void heap_release(struct heap *);
/* Add n (not in any heap). */
void heap_push(struct heap *, struct heap_node *n);
/* Take n (in this heap) out. */
void heap_remove(struct heap *, struct heap_node *n);
/* The first node, NULL when empty; it stays in. */
struct heap_node *heap_top(const struct heap *);
/* The number of nodes, and node i of them (0 <= i < count), in no
 * particular order: for walking them all. */
size_t heap_count(const struct heap *);
struct heap_node *heap_at(const struct heap *, size_t i);

#endif
