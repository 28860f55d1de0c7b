/*
 * store_lease.c - the store on Redis: leases, and a dead node's work
 * taken over (store_lease() in store.h).  Each node renews
 * PREFIX:alive:NODE; twice a lease every node looks for nodes whose lease
 * ran out and moves their queued messages and undelivered webhook events
 * to itself, each read in the batch that moves it, so that two nodes
 * taking over at once conflict and one of them wins.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "log.h"
#include "redis.h"
#include "store_lmdb.h"
#include "store_repl.h"
#include "util.h"

/* One round of store_lease(): the other nodes (names and tags, from
 * PREFIX:tag), then whether each still holds its lease. */
struct lease_round {
	struct store *st;
	int lease_ms, max;
	void (*cb)(void *, int);
	void *arg;
	int n;
	char (*node)[33];
	unsigned *tag;
	int taken;
};

static void
lease_end(struct lease_round *lr)
{
	if (lr->st->repl != NULL)
		lr->st->repl->lease_busy = 0;
	free(lr->node);
	free(lr->tag);
	free(lr);
}

static void
on_adopted(void *arg, int result)
{
	struct lease_round *lr = arg;

	if (result == STORE_OK && lr->st->repl != NULL) {
		lr->st->repl->adopted += (uint64_t)lr->taken;
		lr->cb(lr->arg, lr->taken);
	}
	lease_end(lr);
}

static void
on_alive(void *arg, enum redis_err err, const struct redisReply *reply)
{
	struct lease_round *lr = arg;
	struct store *st = lr->st;
	struct store_repl *r = st->repl;
	int i, q, o;

	if (r == NULL || r->closing || err != REDIS_CMD_OK ||
	    reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != (size_t)lr->n) {
		lease_end(lr);
		return;
	}
	for (i = 0; i < lr->n; i++) {
		if (reply->element[i]->type != REDIS_REPLY_NIL)
			continue;       /* alive */
		q = store_queue_adopt(st, lr->node[i], lr->max);
		o = store_outbox_adopt(st, lr->tag[i], lr->max);
		if (q < 0 || o < 0)
			break;          /* the batch failed: the next round */
		if (q + o > 0)
			log_info("store.takeover", "node=%s queued=%d events=%d",
			    lr->node[i], q, o);
		lr->taken += q + o;
	}
	if (lr->taken == 0) {
		lease_end(lr);
		return;
	}
	store_on_commit(st, on_adopted, lr);
}

static void
on_nodes(void *arg, enum redis_err err, const struct redisReply *reply)
{
	struct lease_round *lr = arg;
	struct store_repl *r = lr->st->repl;
	const char **argv;
	size_t *argvlen, i;
	char (*keys)[120];
	long t;

	if (r == NULL || r->closing || err != REDIS_CMD_OK ||
	    reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 0 ||
	    reply->elements > 2 * (1u << STORE_OUTBOX_TAG_BITS)) {
		lease_end(lr);
		return;
	}
	lr->node = xcalloc(reply->elements / 2 + 1, sizeof(*lr->node));
	lr->tag = xcalloc(reply->elements / 2 + 1, sizeof(*lr->tag));
	for (i = 0; i + 1 < reply->elements; i += 2) {
		const struct redisReply *n = reply->element[i];
		const struct redisReply *v = reply->element[i + 1];

		if (n->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING || n->len == 0 ||
		    n->len >= sizeof(lr->node[0]) ||
		    (n->len == strlen(r->node) &&
		    memcmp(n->str, r->node, n->len) == 0))
			continue;       /* this node, or not one of ours */
		t = strtol(v->str, NULL, 10);
		if (t < 0 || t >= (1L << STORE_OUTBOX_TAG_BITS))
			continue;
		memcpy(lr->node[lr->n], n->str, n->len);
		lr->tag[lr->n++] = (unsigned)t;
	}
	if (lr->n == 0) {
		lease_end(lr);
		return;
	}
	argv = xcalloc((size_t)lr->n + 1, sizeof(*argv));
	argvlen = xcalloc((size_t)lr->n + 1, sizeof(*argvlen));
	keys = xcalloc((size_t)lr->n, sizeof(*keys));
	argv[0] = "MGET";
	argvlen[0] = 4;
	for (i = 0; i < (size_t)lr->n; i++) {
		snprintf(keys[i], sizeof(keys[i]), "%s:alive:%s", r->prefix,
		    lr->node[i]);
		argv[i + 1] = keys[i];
		argvlen[i + 1] = strlen(keys[i]);
	}
	if (redis_command(r->cmd, on_alive, lr, lr->n + 1, argv,
	    argvlen) != 0)
		lease_end(lr);
	free(argv);
	free(argvlen);
	free(keys);
}

static void
on_renewed(void *arg, enum redis_err err, const struct redisReply *reply)
{
}

void
store_lease(struct store *st, int lease_ms, int max,
    void (*cb)(void *arg, int taken), void *arg)
{
	struct store_repl *r = st->repl;
	struct lease_round *lr;
	char key[120], px[24];
	const char *argv[5];
	size_t argvlen[5];
	int64_t now = util_mono_ms();
	int i;

	if (r == NULL || !r->tag_ok || r->broken || r->closing)
		return;
	snprintf(key, sizeof(key), "%s:alive:%s", r->prefix, r->node);
	snprintf(px, sizeof(px), "%d", lease_ms);
	argv[0] = "SET";
	argv[1] = key;
	argv[2] = "1";
	argv[3] = "PX";
	argv[4] = px;
	for (i = 0; i < 5; i++)
		argvlen[i] = strlen(argv[i]);
	(void)redis_command(r->cmd, on_renewed, NULL, 5, argv, argvlen);
	/* The others' leases: twice a lease, one round at a time, and only
	 * once this node's replica is at the log's end (it adopts what it
	 * sees there). */
	if (r->lease_busy || now - r->lease_scan_ms < lease_ms / 2 ||
	    !store_repl_fresh(r))
		return;
	r->lease_scan_ms = now;
	lr = xcalloc(1, sizeof(*lr));
	lr->st = st;
	lr->lease_ms = lease_ms;
	lr->max = max;
	lr->cb = cb;
	lr->arg = arg;
	r->lease_busy = 1;
	if (store_repl_key_cmd(r, r->cmd, "HGETALL", "tag", on_nodes, lr) != 0)
		lease_end(lr);
}
