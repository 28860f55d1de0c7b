/*
 * store_repl.c - the store on Redis: several nodes share one Redis, and
 * each node's LMDB store (store_lmdb.c) becomes its replica of what they
 * all committed (issue 17, store_attach_redis() in store.h).
 *
 * Why a replica.  store.h's reads answer at once, and the decision code
 * leans on that (redis.h's design note).  So every node keeps the whole
 * state in its own LMDB and reads it there, synchronously, as before; what
 * changes is where a batch commits and how the replicas learn of it.
 *
 * The log.  A batch commits by one Lua script on Redis (COMMIT below),
 * atomically: it checks the batch's reads (conflicts, next paragraph),
 * numbers the batch with INCR PREFIX:seq, applies its writes to the hash
 * PREFIX:d ("db key" -> value: the state a node joining later starts from)
 * and appends it to the stream PREFIX:log under the id "N-0".  A batch's
 * callbacks (HTTP 201s, deliver_sm_resps) run once the script has answered:
 * the batch is then as durable as Redis makes it (the README's table:
 * appendfsync always, everysec, WAIT).  Every node, its own batches
 * included, tails the log (XREAD BLOCK, its own connection) and applies
 * the entries to its LMDB in log order, through the writer thread of
 * store_commit.c, with the position reached ("applied", database "repl",
 * not replicated) in the same transaction: a restarted node goes on from
 * there.  The log has no holes: an entry N that does not follow N-1 (the
 * log was trimmed past this node: PREFIX:log keeps log_max entries; or
 * its numbers went back because a failover lost batches) starts a
 * rebuild of the replica from PREFIX:d (rebuild_start()).
 *
 * What reads see.  A node's reads see, newest first: the open batch, its
 * batches at Redis, its batches Redis committed that its replica has not
 * applied yet (newest first), the log's entries fetched and waiting for
 * the writer, the ones with the writer, then LMDB.  So a node always reads
 * its own writes; another node's writes appear once applied, a few
 * milliseconds later.  store_sync() is the barrier for a request that must
 * see everything committed before it (a check on B of a code sent via A).
 *
 * Conflicts.  One thread no longer makes read-decide-write atomic: two
 * nodes that both read "no pending for +1415..." would leave two pendings.
 * So each batch carries the keys the loop read while it was open (every
 * store_kv_get(), i.e. every lookup by key; the range scans of the sweep,
 * the queue and the outbox are not tracked) and its base, the log position
 * its replica had applied when it opened.  Each write leaves the version
 * "N:node" in PREFIX:v:"db key" (kept version_ttl_ms).  The script refuses
 * the batch (STORE_CONFLICT) when a key it read has a version above its
 * base from another node: the batch decided on something it had not seen.
 * A node's own writes are no conflict: it reads them through its overlay.
 * A version older than version_ttl_ms is gone, so a node whose replica has
 * not reached the log's end within half of it refuses to commit
 * (STORE_UNAVAILABLE) rather than decide on old data.
 *
 * Several at once.  Up to REPL_PIPELINE own batches are at Redis at a
 * time, in order on one connection.  A batch sent while others are out
 * may have read their writes (through the overlay), so it must not go if
 * one of them did not: each carries its number and the number of the one
 * before it, and the script refuses it (as a conflict) unless
 * PREFIX:chain:NODE holds that number, then sets it to its own.
 *
 * Failures.  Redis down, a script error or no answer within the command
 * timeout: the batch fails STORE_UNAVAILABLE, and so does the batch staged
 * on top of it, as with LMDB's errors.  A timeout leaves the outcome open
 * (the script may have run): the entry then reaches the replica like any
 * other.
 *
 * Leases and the takeover of a dead node's work are in store_lease.c;
 * store_repl.h is what the two files share.
 *
 * Loop thread only, but for the apply batches' LMDB work on the writer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "log.h"
#include "redis.h"
#include "store_lmdb.h"
#include "store_repl.h"
#include "store_repl_wire.h"
#include "util.h"

static const char COMMIT[] =
"local p, node, base = ARGV[1], ARGV[2], tonumber(ARGV[3])\n"
"local vttl, maxlen, prev, lseq = ARGV[4], ARGV[5], ARGV[6], ARGV[7]\n"
"local chain = p .. ':chain:' .. node\n"
"if prev ~= '*' and redis.call('GET', chain) ~= prev then\n"
"  return {0, ''}\n"
"end\n"
"local i = 8\n"
"local nr = tonumber(ARGV[i]); i = i + 1\n"
"for j = 1, nr do\n"
"  local v = redis.call('GET', p .. ':v:' .. ARGV[i])\n"
"  if v then\n"
"    local c = string.find(v, ':', 1, true)\n"
"    if tonumber(string.sub(v, 1, c - 1)) > base and\n"
"        string.sub(v, c + 1) ~= node then\n"
"      return {0, ARGV[i]}\n"
"    end\n"
"  end\n"
"  i = i + 1\n"
"end\n"
"local n = redis.call('INCR', p .. ':seq')\n"
"redis.call('SET', chain, lseq)\n"
"redis.call('XADD', p .. ':log', 'MAXLEN', '~', maxlen, n .. '-0',\n"
"    'node', node, 'b', ARGV[#ARGV])\n"
"local ver = n .. ':' .. node\n"
"local no = tonumber(ARGV[i]); i = i + 1\n"
"for j = 1, no do\n"
"  local dk = ARGV[i + 1]\n"
"  redis.call('SET', p .. ':v:' .. dk, ver, 'PX', vttl)\n"
"  if ARGV[i] == 'p' then\n"
"    redis.call('HSET', p .. ':d', dk, ARGV[i + 2]); i = i + 3\n"
"  else\n"
"    redis.call('HDEL', p .. ':d', dk); i = i + 2\n"
"  end\n"
"end\n"
"return {1, n}\n";

/* This node's outbox tag: the one it had, or the first free one
 * (PREFIX:tag maps names to tags, PREFIX:tagged tags to names); -1 when
 * every tag is taken. */
static const char TAG[] =
"local t = redis.call('HGET', KEYS[1], ARGV[1])\n"
"if t then return tonumber(t) end\n"
"for i = 0, tonumber(ARGV[2]) - 1 do\n"
"  if redis.call('HSETNX', KEYS[2], i, ARGV[1]) == 1 then\n"
"    redis.call('HSET', KEYS[1], ARGV[1], i)\n"
"    return i\n"
"  end\n"
"end\n"
"return -1\n";

/* ---- the databases' numbers in the log ---------------------------------- */

/* The replicated databases, in their log order: fixed (on the wire). */
static MDB_dbi *
db_slot(struct store *st, unsigned no)
{
	MDB_dbi *t[] = { &st->verif, &st->pending, &st->expiry, &st->queue,
	    &st->msgid, &st->msgref, &st->outbox, &st->shield, &st->limits,
	    &st->capture, &st->inbox, &st->inbox_digest, &st->inbox_parts,
	    &st->idem, &st->stats };

	return no < sizeof(t) / sizeof(t[0]) ? t[no] : NULL;
}

int
store_dbno(void *arg, unsigned db)
{
	struct store *st = arg;
	MDB_dbi *p;

	for (unsigned no = 0; (p = db_slot(st, no)) != NULL; no++)
		if (*p == db)
			return (int)no;
	return -1;
}

int
store_dbof(void *arg, unsigned no)
{
	MDB_dbi *p = db_slot(arg, no);

	return p != NULL ? (int)*p : -1;
}

/* Send VERB PREFIX:suffix on conn (a command of one key). */
int
store_repl_key_cmd(struct store_repl *r, struct redis *conn, const char *verb,
    const char *suffix, redis_cb *cb, void *arg)
{
	char key[120];
	const char *argv[2] = { verb, key };
	size_t argvlen[2];

	snprintf(key, sizeof(key), "%s:%s", r->prefix, suffix);
	argvlen[0] = strlen(verb);
	argvlen[1] = strlen(key);
	return redis_command(conn, cb, arg, 2, argv, argvlen);
}

/* ---- the barrier -------------------------------------------------------- */

static void
sync_wake(struct store_repl *r, int all, int result)
{
	struct sync_waiter *w;

	while ((w = r->sync_head) != NULL &&
	    (all || (r->tag_ok && w->target <= r->applied))) {
		if ((r->sync_head = w->next) == NULL)
			r->sync_tail = NULL;
		r->nsync--;
		w->cb(w->arg, result);
		free(w);
	}
}

struct sync_now {
	void (*cb)(void *, int);
	void *arg;
	int result;
};

static void
on_sync_now(evutil_socket_t fd, short what, void *arg)
{
	struct sync_now *s = arg;

	s->cb(s->arg, s->result);
	free(s);
}

static void
sync_later(struct store *st, void (*cb)(void *, int), void *arg, int result)
{
	struct sync_now *s = xcalloc(1, sizeof(*s));
	struct timeval tv = { 0, 0 };

	s->cb = cb;
	s->arg = arg;
	s->result = result;
	if (event_base_once(st->base, -1, EV_TIMEOUT, on_sync_now, s,
	    &tv) != 0) {
		free(s);
		cb(arg, result);        /* only when libevent cannot */
	}
}

/* The GET of PREFIX:seq answered: wait for the replica to reach it. */
struct sync_req {
	struct store_repl *r;
	void (*cb)(void *, int);
	void *arg;
};

static void
on_sync_seq(void *arg, enum redis_err err, const struct redisReply *reply)
{
	struct sync_req *q = arg;
	struct store_repl *r = q->r;
	struct sync_waiter *w;
	uint64_t target = 0;

	if (err != REDIS_CMD_OK || r->closing || r->broken ||
	    (reply->type != REDIS_REPLY_NIL &&
	    reply->type != REDIS_REPLY_STRING) ||
	    r->nsync >= REPL_MAX_SYNC) {
		if (err == REDIS_CMD_OK)
			r->failures++;
		q->cb(q->arg, r->broken && r->broken_result != 0 ?
		    r->broken_result : STORE_UNAVAILABLE);
		free(q);
		return;
	}
	if (reply->type == REDIS_REPLY_STRING)
		target = strtoull(reply->str, NULL, 10);
	if (target <= r->applied && r->tag_ok) {
		q->cb(q->arg, STORE_OK);
		free(q);
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->target = target;
	w->cb = q->cb;
	w->arg = q->arg;
	free(q);
	if (r->sync_tail != NULL)
		r->sync_tail->next = w;
	else
		r->sync_head = w;
	r->sync_tail = w;
	r->nsync++;
}

void
store_sync(struct store *st, void (*cb)(void *, int), void *arg)
{
	struct store_repl *r = st->repl;
	struct sync_req *q;

	if (r == NULL) {
		sync_later(st, cb, arg, STORE_OK);
		return;
	}
	q = xcalloc(1, sizeof(*q));
	q->r = r;
	q->cb = cb;
	q->arg = arg;
	if (store_repl_key_cmd(r, r->cmd, "GET", "seq", on_sync_seq, q) != 0) {
		free(q);
		sync_later(st, cb, arg, STORE_UNAVAILABLE);
	}
}

/* ---- own batches -------------------------------------------------------- */

const char *
store_repl_node(struct store *st)
{
	return st->repl->node;
}

uint64_t
store_repl_position(struct store *st)
{
	return st->repl->applied;
}

int
store_repl_fresh(const struct store_repl *r)
{
	return r->tag_ok && !r->rebuilding &&
	    util_mono_ms() - r->fresh_ms <= r->vttl_ms / 2;
}

void
store_repl_stats(struct store *st, struct store_stats *out)
{
	struct store_repl *r = st->repl;
	struct redis_stats rs;

	out->redis = 1;
	redis_stats(r->cmd, &rs);
	out->redis_up = rs.connected;
	out->redis_reconnects = rs.reconnects;
	out->repl_applied = r->applied;
	out->repl_conflicts = r->conflicts;
	out->repl_failures = r->failures;
	out->repl_rebuilds = r->rebuilds;
	out->repl_adopted = r->adopted;
	out->repl_wait_short = r->wait_short;
	out->redis_durable = r->durable;
}

int
store_ready(struct store *st)
{
	struct redis_stats rs;

	if (st->repl == NULL)
		return !st->jerr_logged;        /* journaling stopped */
	redis_stats(st->repl->cmd, &rs);
	return rs.connected && !st->repl->broken && store_repl_fresh(st->repl);
}

/* The tag, or -1 while it is not known yet. */
int
store_repl_tag(struct store *st)
{
	return st->repl->tag_ok ? (int)st->repl->tag : -1;
}

/* A batch waits while one is at Redis, while too many are committed and
 * not applied, and while the replica has not reached the log's end (at
 * start, after Redis came back), that at most a command timeout: then it
 * goes, and fails. */
int
store_repl_busy(struct store *st)
{
	struct store_repl *r = st->repl;
	struct timeval tv;
	int64_t now;

	if (r->nrq >= REPL_PIPELINE || r->nacked >= REPL_MAX_ACKED)
		return 1;
	if (r->broken || r->closing || store_repl_fresh(r))
		return 0;
	now = util_mono_ms();
	if (r->wait_until == 0) {
		r->wait_until = now + r->cmd_timeout_ms;
		tv.tv_sec = r->cmd_timeout_ms / 1000;
		tv.tv_usec = (r->cmd_timeout_ms % 1000) * 1000;
		evtimer_add(r->wait_ev, &tv);
	}
	return now < r->wait_until;
}

static void
on_wait(evutil_socket_t fd, short what, void *arg)
{
	store_commit_next(arg);
}

static void wake_waiting(struct store *);

/* CONFIG GET appendonly appendfsync answered: what a crash of Redis's
 * host would lose, said once (durable: 1 nothing acknowledged, 0 some,
 * -1 not known: CONFIG refused, as managed services do). */
static void
on_config(void *arg, enum redis_err err, const struct redisReply *reply)
{
	struct store *st = arg;
	struct store_repl *r = st->repl;
	char aof[16] = "", fsync[16] = "";
	size_t i;

	if (r->closing || err != REDIS_CMD_OK)
		return;
	if (reply->type != REDIS_REPLY_ARRAY) {
		r->durable = -1;
		log_info("store.redis_config", "msg=\"CONFIG GET refused: "
		    "check appendonly yes and appendfsync always by hand\"");
		return;
	}
	for (i = 0; i + 1 < reply->elements; i += 2) {
		const struct redisReply *k = reply->element[i];
		const struct redisReply *v = reply->element[i + 1];

		if (k->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING)
			continue;
		if (strcmp(k->str, "appendonly") == 0)
			snprintf(aof, sizeof(aof), "%s", v->str);
		else if (strcmp(k->str, "appendfsync") == 0)
			snprintf(fsync, sizeof(fsync), "%s", v->str);
	}
	r->durable = strcmp(aof, "yes") == 0 && (strcmp(fsync, "always") == 0 ||
	    r->wait_n > 0);
	if (!r->durable)
		log_warn("store.redis_not_durable", "appendonly=%s "
		    "appendfsync=%s msg=\"a crash of Redis's host can lose "
		    "acknowledged verifications: set appendonly yes and "
		    "appendfsync always, or [store] redis_wait_replicas\"",
		    aof[0] ? aof : "?", fsync[0] ? fsync : "?");
}

static void
config_check(struct store *st)
{
	struct store_repl *r = st->repl;
	const char *argv[4] = { "CONFIG", "GET", "appendonly", "appendfsync" };
	size_t argvlen[4] = { 6, 3, 10, 11 };

	(void)redis_command(r->cmd, on_config, st, 4, argv, argvlen);
}

static void
on_tag(void *arg, enum redis_err err, const struct redisReply *reply)
{
	struct store *st = arg;
	struct store_repl *r = st->repl;

	r->tag_busy = 0;
	if (r->closing || err != REDIS_CMD_OK ||
	    reply->type != REDIS_REPLY_INTEGER)
		return;                 /* asked again after the next read */
	if (reply->integer >= 0 &&
	    reply->integer < (1 << STORE_OUTBOX_TAG_BITS)) {
		r->tag = (unsigned)reply->integer;
		r->tag_ok = 1;
		config_check(st);
		sync_wake(r, 0, STORE_OK);
		wake_waiting(st);
		return;
	}
	r->broken = 1;
	log_err("store.no_node_tag", "node=%s msg=\"all %d node tags on "
	    "this Redis are taken\"", r->node, 1 << STORE_OUTBOX_TAG_BITS);
}

/* Register this node's tag (once, after the log answered). */
static void
tag_register(struct store *st)
{
	struct store_repl *r = st->repl;
	char k1[80], k2[80], max[16];
	const char *argv[4];
	size_t argvlen[4];

	if (r->tag_ok || r->tag_busy || r->broken || r->closing)
		return;
	snprintf(k1, sizeof(k1), "%s:tag", r->prefix);
	snprintf(k2, sizeof(k2), "%s:tagged", r->prefix);
	snprintf(max, sizeof(max), "%d", 1 << STORE_OUTBOX_TAG_BITS);
	argv[0] = k1;
	argv[1] = k2;
	argv[2] = r->node;
	argv[3] = max;
	for (int i = 0; i < 4; i++)
		argvlen[i] = strlen(argv[i]);
	r->tag_busy = 1;
	if (redis_eval(r->cmd, &r->tag_script, 2, 4, argv, argvlen, on_tag,
	    st) != 0)
		r->tag_busy = 0;
}

/* The replica reached the log's end: a batch that waited for it goes. */
static void
now_fresh(struct store *st)
{
	st->repl->fresh_ms = st->repl->tail_sent_ms;
	tag_register(st);
	wake_waiting(st);
}

static void
wake_waiting(struct store *st)
{
	struct store_repl *r = st->repl;

	if (store_repl_fresh(r) && r->wait_until != 0) {
		r->wait_until = 0;
		evtimer_del(r->wait_ev);
		store_commit_next(st);
	}
}

static void
argv_add(struct store_repl *r, size_t *n, const void *p, size_t len)
{
	if (*n == r->argcap) {
		r->argcap = r->argcap ? r->argcap * 2 : 256;
		r->argv = xrealloc(r->argv, r->argcap * sizeof(*r->argv));
		r->argvlen = xrealloc(r->argvlen,
		    r->argcap * sizeof(*r->argvlen));
	}
	r->argv[*n] = p;
	r->argvlen[*n] = len;
	(*n)++;
}

/* Each write of an encoded blob as argv: op, "db key"[, value] (with_op;
 * else "db key" alone).  Their number. */
static size_t
argv_writes(struct store_repl *r, size_t *n, const uint8_t *buf,
    size_t len, int with_op)
{
	const uint8_t *dk, *val;
	size_t at = 0, count = 0, dkl, vl;
	int op;

	while (repl_wire_next(buf, len, &at, &op, &dk, &dkl, &val, &vl)) {
		if (with_op)
			argv_add(r, n, op == 'p' ? "p" : "d", 1);
		argv_add(r, n, dk, dkl);
		if (with_op && op == 'p')
			argv_add(r, n, val, vl);
		count++;
	}
	return count;
}

static void
finish_failed(struct store *st, struct batch *b, int result, const char *why)
{
	struct store_repl *r = st->repl;
	char lb[160];
	int64_t now = util_mono_ms();

	if (result == STORE_CONFLICT)
		r->conflicts++;
	else
		r->failures++;
	if (why != NULL)
		log_limited(&r->lim, now, 1000, LOG_WARN, "store.redis_failed",
		    "result=%s why=%s", result == STORE_CONFLICT ? "conflict" :
		    "unavailable", log_str(lb, sizeof(lb), why));
	batch_poison(st, b, result, NULL, NULL);
	if (st->open != NULL)   /* built on b's writes */
		batch_poison(st, st->open, result, NULL, NULL);
	store_batch_callbacks(st, b, result);
	store_batch_release(st, b);
}

/* A batch at Redis is done when its script has answered and, with WAIT,
 * the replicas have.  Done ones are finished oldest first, in the order
 * they went: acknowledged, or failed (a batch sent behind a failed one
 * fails too, in Redis: the chain, see store_repl_submit()). */
static void
commit_done(struct store *st)
{
	struct store_repl *r = st->repl;
	struct batch *b;
	char why[64];

	while ((b = r->rq) != NULL && b->c_done) {
		if ((r->rq = b->next) == NULL)
			r->rq_last = NULL;
		r->nrq--;
		b->next = NULL;
		if (b->c_result == STORE_OK && b->c_replicas < r->wait_n) {
			/* In Redis (and in the log), but not on enough
			 * replicas: not acknowledged; the log's copy gets
			 * there later. */
			snprintf(why, sizeof(why), "WAIT: %d of %d replicas",
			    b->c_replicas, r->wait_n);
			r->wait_short++;
			finish_failed(st, b, STORE_UNAVAILABLE, why);
		} else if (b->c_result != STORE_OK) {
			finish_failed(st, b, b->c_result,
			    b->c_result == STORE_CONFLICT ? NULL : b->c_why);
		} else {
			b->cseq = b->c_cseq;
			st->commits++;
			if (b->cseq <= r->applied) {
				store_batch_callbacks(st, b, STORE_OK);
				store_batch_release(st, b);
			} else {
				/* Kept for the reads until the replica has
				 * it. */
				if (r->acked_last != NULL)
					r->acked_last->next = b;
				else
					r->acked = b;
				r->acked_last = b;
				r->nacked++;
				store_batch_callbacks(st, b, STORE_OK);
			}
		}
	}
	if (!r->closing)
		store_commit_next(st);
}

static redis_cb on_waited;

static void
on_commit(void *arg, enum redis_err err, const struct redisReply *reply)
{
	struct batch *b = arg;
	struct store *st = b->owner;
	struct store_repl *r = st->repl;

	b->c_result = STORE_UNAVAILABLE;
	if (err != REDIS_CMD_OK) {
		snprintf(b->c_why, sizeof(b->c_why), "%s", redis_strerr(err));
	} else if (reply->type == REDIS_REPLY_ERROR) {
		snprintf(b->c_why, sizeof(b->c_why), "%.*s", (int)reply->len,
		    reply->str);
	} else if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
	    reply->element[0]->type != REDIS_REPLY_INTEGER ||
	    (reply->element[0]->integer != 0 &&
	    (reply->element[1]->type != REDIS_REPLY_INTEGER ||
	    reply->element[1]->integer <= 0))) {
		snprintf(b->c_why, sizeof(b->c_why), "unexpected reply");
	} else if (reply->element[0]->integer == 0) {
		b->c_result = STORE_CONFLICT;   /* a read, or the chain */
	} else {
		b->c_result = STORE_OK;
		b->c_cseq = (uint64_t)reply->element[1]->integer;
	}
	if (b->c_result == STORE_OK && r->wait_n > 0 && !r->closing) {
		/* Once the script has run (not pipelined behind it: after a
		 * NOSCRIPT the script runs again later, as EVAL).  WAIT
		 * covers every write sent before it on the connection. */
		const char *wargv[3] = { "WAIT", r->wait_n_s, r->wait_ms_s };
		size_t wlen[3] = { 4, strlen(r->wait_n_s), strlen(r->wait_ms_s) };

		if (redis_command(r->cmd, on_waited, b, 3, wargv, wlen) == 0)
			return;         /* on_waited() goes on */
	}
	b->c_done = 1;
	commit_done(st);
}

static void
on_waited(void *arg, enum redis_err err, const struct redisReply *reply)
{
	struct batch *b = arg;

	b->c_replicas = err == REDIS_CMD_OK &&
	    reply->type == REDIS_REPLY_INTEGER ? (int)reply->integer : 0;
	b->c_done = 1;
	commit_done(b->owner);
}

void
store_repl_submit(struct store *st, struct batch *b)
{
	struct store_repl *r = st->repl;
	char base[24], nreads[24], nops[24], prev[24], lseq[24];
	size_t n = 0, at_nr, at_no;

	if (r->closing || r->broken || !store_repl_fresh(r)) {
		r->wait_until = 0;
		finish_failed(st, b, r->broken && r->broken_result != 0 ?
		    r->broken_result : STORE_UNAVAILABLE, r->closing ? NULL :
		    r->broken ? "replica stopped" : "replica not at the log's "
		    "end");
		return;
	}
	r->len = r->rlen = 0;
	repl_wire_encode(b->w, store_dbno, st, &r->buf, &r->len, &r->cap);
	if (b->reads != NULL)
		repl_wire_encode(b->reads, store_dbno, st, &r->rbuf, &r->rlen,
		    &r->rcap);
	snprintf(base, sizeof(base), "%" PRIu64, b->base);
	argv_add(r, &n, r->prefix, strlen(r->prefix));
	argv_add(r, &n, r->node, strlen(r->node));
	argv_add(r, &n, base, strlen(base));
	argv_add(r, &n, r->vttl, strlen(r->vttl));
	argv_add(r, &n, r->maxlen, strlen(r->maxlen));
	/* The chain: a batch sent while others are at Redis goes only if
	 * the one before it went (it may have read that one's writes). */
	if (r->rq_last != NULL)
		snprintf(prev, sizeof(prev), "%" PRIu64, r->rq_last->lseq);
	else
		snprintf(prev, sizeof(prev), "*");
	b->lseq = ++r->lseq;
	snprintf(lseq, sizeof(lseq), "%" PRIu64, b->lseq);
	argv_add(r, &n, prev, strlen(prev));
	argv_add(r, &n, lseq, strlen(lseq));
	at_nr = n;
	argv_add(r, &n, "", 0);
	snprintf(nreads, sizeof(nreads), "%zu", b->reads == NULL ? 0 :
	    argv_writes(r, &n, r->rbuf, r->rlen, 0));
	r->argv[at_nr] = nreads;
	r->argvlen[at_nr] = strlen(nreads);
	at_no = n;
	argv_add(r, &n, "", 0);
	snprintf(nops, sizeof(nops), "%zu", argv_writes(r, &n, r->buf, r->len,
	    1));
	r->argv[at_no] = nops;
	r->argvlen[at_no] = strlen(nops);
	argv_add(r, &n, r->buf, r->len);
	b->owner = st;
	b->c_done = b->c_replicas = 0;
	b->c_result = STORE_UNAVAILABLE;
	if (redis_eval(r->cmd, &r->commit_script, 0, (int)n, r->argv,
	    r->argvlen, on_commit, b) != 0) {
		finish_failed(st, b, STORE_UNAVAILABLE, "busy");
		return;
	}
	if (r->rq_last != NULL)
		r->rq_last->next = b;
	else
		r->rq = b;
	r->rq_last = b;
	r->nrq++;
}

void
store_repl_note_read(struct store *st, MDB_dbi db, const void *key,
    size_t klen)
{
	struct batch *b;

	if (store_dbno(st, db) < 0 || store_stage(st) != STORE_OK)
		return;
	b = st->open;
	if (b->reads == NULL)
		b->reads = store_batch_new();
	store_batch_put(b->reads, db, key, klen, 0);
}

int
store_repl_layers(struct store *st, struct batch **out, int max)
{
	struct store_repl *r = st->repl;
	struct batch *b;
	int n = 0, i, first;

	first = n;
	for (b = r->rq; b != NULL && n < max; b = b->next)
		out[n++] = b;
	for (i = 0; i < (n - first) / 2; i++) {  /* newest first */
		b = out[first + i];
		out[first + i] = out[n - 1 - i];
		out[n - 1 - i] = b;
	}
	first = n;
	for (b = r->acked; b != NULL && n < max; b = b->next)
		out[n++] = b;
	for (i = 0; i < (n - first) / 2; i++) {  /* newest first */
		b = out[first + i];
		out[first + i] = out[n - 1 - i];
		out[n - 1 - i] = b;
	}
	if (r->stash != NULL && n < max)
		out[n++] = r->stash;
	if (st->inflight != NULL && n < max)
		out[n++] = st->inflight;
	return n;
}

/* ---- the log, tailed ---------------------------------------------------- */

static void tail_next(struct store *);
static void rebuild_start(struct store *, uint64_t got);
static void rebuild_next(struct store *);

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct store *st = arg;

	if (st->repl->rebuilding)
		rebuild_next(st);
	else
		tail_next(st);
}

static void
tail_broken(struct store *st, const char *fmt, uint64_t a, uint64_t b)
{
	struct store_repl *r = st->repl;

	r->broken = 1;
	log_err("store.repl_behind", "applied=%" PRIu64 " got=%" PRIu64
	    " msg=\"%s\"", a, b, fmt);
}

static void
on_tail(void *arg, enum redis_err err, const struct redisReply *reply)
{
	struct store *st = arg;
	struct store_repl *r = st->repl;
	const struct redisReply *entries, *e, *f;
	struct batch *b;
	struct timeval tv = { 0, REPL_RETRY_MS * 1000 };
	char why[160];
	uint64_t n, at;
	size_t i, j;

	r->tail_busy = 0;
	if (r->closing)
		return;
	if (err != REDIS_CMD_OK || reply->type == REDIS_REPLY_ERROR) {
		evtimer_add(r->retry_ev, &tv);
		return;
	}
	if (reply->type == REDIS_REPLY_NIL) {
		r->block = 1;
		now_fresh(st);          /* nothing past seen */
		tail_next(st);
		return;
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 1 ||
	    reply->element[0]->type != REDIS_REPLY_ARRAY ||
	    reply->element[0]->elements != 2 ||
	    reply->element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
		tail_broken(st, "unexpected XREAD reply", r->applied, 0);
		return;
	}
	entries = reply->element[0]->element[1];
	b = store_batch_alloc(st);
	for (i = 0; i < entries->elements; i++) {
		e = entries->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING ||
		    e->element[1]->type != REDIS_REPLY_ARRAY) {
			tail_broken(st, "unexpected log entry", r->seen, 0);
			break;
		}
		n = strtoull(e->element[0]->str, NULL, 10);
		if (n != r->seen + 1) {
			/* Trimmed past this node, or a failover lost what it
			 * had: start again from the state in Redis. */
			store_batch_release(st, b);
			rebuild_start(st, n);
			return;
		}
		f = e->element[1];
		for (j = 0; j + 1 < f->elements; j += 2)
			if (f->element[j]->type == REDIS_REPLY_STRING &&
			    f->element[j]->len == 1 &&
			    f->element[j]->str[0] == 'b' &&
			    f->element[j + 1]->type == REDIS_REPLY_STRING)
				break;
		if (j + 1 >= f->elements || repl_wire_decode(
		    (const uint8_t *)f->element[j + 1]->str,
		    f->element[j + 1]->len, b->w, store_dbof, st, why,
		    sizeof(why)) != 0) {
			if (j + 1 >= f->elements)
				snprintf(why, sizeof(why), "no batch field");
			tail_broken(st, why, r->seen, n);
			break;
		}
		r->seen = n;
	}
	if (r->broken) {
		store_batch_release(st, b);
		sync_wake(r, 1, STORE_UNAVAILABLE);
		return;
	}
	r->block = entries->elements < REPL_READ_COUNT;
	at = r->seen;
	{
		uint8_t v[8];
		void *p;

		for (i = 0; i < 8; i++)
			v[i] = (uint8_t)(at >> (8 * i));
		p = store_batch_put(b->w, st->repl_db, "applied", 7, 8);
		memcpy(p, v, 8);
	}
	b->apply_to = at;
	b->from_log = 1;
	if (st->inflight == NULL)
		store_writer_hand(st, b);
	else
		r->stash = b;
	if (r->block)
		now_fresh(st);
	tail_next(st);
}

static void
tail_next(struct store *st)
{
	struct store_repl *r = st->repl;
	char key[80], from[32];
	const char *argv[8];
	size_t argvlen[8];
	int i, n = 0;

	if (r->tail_busy || r->stash != NULL || r->broken || r->closing ||
	    r->rebuilding)
		return;
	snprintf(key, sizeof(key), "%s:log", r->prefix);
	snprintf(from, sizeof(from), "%" PRIu64 "-0", r->seen);
	argv[n++] = "XREAD";
	argv[n++] = "COUNT";
	argv[n++] = "256";
	if (r->block) {         /* else at once: a first read, or catching up */
		argv[n++] = "BLOCK";
		argv[n++] = "1000";
	}
	argv[n++] = "STREAMS";
	argv[n++] = key;
	argv[n++] = from;
	for (i = 0; i < n; i++)
		argvlen[i] = strlen(argv[i]);
	r->tail_sent_ms = util_mono_ms();
	r->tail_busy = 1;
	if (redis_command(r->tail, on_tail, st, n, argv, argvlen) != 0)
		r->tail_busy = 0;
}

/* An apply batch is back from the writer. */
void
store_repl_applied(struct store *st, struct batch *b)
{
	struct store_repl *r = st->repl;
	struct batch *a;

	if (b->mdb_rc != 0) {
		/* A full map says so to the clients too: raise map_size. */
		if (b->mdb_rc == MDB_MAP_FULL)
			r->broken_result = STORE_FULL;
		tail_broken(st, "the replica cannot apply the log",
		    r->applied, b->apply_to);
		store_batch_release(st, b);
		sync_wake(r, 1, r->broken_result != 0 ? r->broken_result :
		    STORE_UNAVAILABLE);
		return;
	}
	if (b->rebuild_page == 1) {
		/* A page of a rebuild: on to the next. */
		store_batch_release(st, b);
		goto next;
	}
	if (b->rebuild_page) {
		r->rebuilding = 0;
		r->seen = b->apply_to;
		r->rebuilds++;
		log_warn("store.rebuilt", "applied=%" PRIu64, b->apply_to);
	}
	r->applied = b->apply_to;
	store_batch_release(st, b);
	while ((a = r->acked) != NULL && a->cseq <= r->applied) {
		if ((r->acked = a->next) == NULL)
			r->acked_last = NULL;
		r->nacked--;
		store_batch_release(st, a);
	}
	sync_wake(r, 0, STORE_OK);
next:
	if (r->stash != NULL) {
		b = r->stash;
		r->stash = NULL;
		store_writer_hand(st, b);
	}
	if (r->rebuilding)
		rebuild_next(st);
	else
		tail_next(st);
	if (!r->closing)
		store_commit_next(st);  /* one that waited for room */
}

/* ---- the replica rebuilt from PREFIX:d ----------------------------------- */

/*
 * When the log does not go on from this replica's position (trimmed past
 * it, or numbers that went back after a failover lost what the old master
 * had), the replica is made again from the state in Redis: note the log's
 * end S, walk PREFIX:d with HSCAN a page at a time into the writer, the
 * first page emptying every replicated database, the last one setting
 * the position to S; then tail from S.  A page may hold values newer than
 * S (other nodes commit meanwhile): the entries after S, applied in order
 * on top, end on the right value of every key.  Meanwhile the replica is
 * partial: commits and barriers wait (store_repl_fresh() says no).
 */
static void
on_rebuild_page(void *arg, enum redis_err err, const struct redisReply *reply)
{
	struct store *st = arg;
	struct store_repl *r = st->repl;
	const struct redisReply *kv;
	struct batch *b;
	struct timeval tv = { 0, REPL_RETRY_MS * 1000 };
	size_t i;
	void *p;
	int db, done;

	r->rb_busy = 0;
	if (r->closing)
		return;
	if (err != REDIS_CMD_OK || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != 2 ||
	    reply->element[0]->type != REDIS_REPLY_STRING ||
	    reply->element[0]->len >= sizeof(r->rb_cursor) ||
	    reply->element[1]->type != REDIS_REPLY_ARRAY ||
	    reply->element[1]->elements % 2 != 0) {
		evtimer_add(r->retry_ev, &tv);  /* the page again */
		return;
	}
	kv = reply->element[1];
	b = store_batch_alloc(st);
	b->from_log = 1;
	b->drop_all = r->rb_first;
	r->rb_first = 0;
	for (i = 0; i + 1 < kv->elements; i += 2) {
		const struct redisReply *k = kv->element[i], *v = kv->element[i + 1];

		if (k->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING || k->len < 2 ||
		    k->len - 1 > STORE_REPL_MAX_KEY ||
		    (db = store_dbof(st, (uint8_t)k->str[0])) < 0)
			continue;       /* not one of ours */
		p = store_batch_put(b->w, (unsigned)db, k->str + 1, k->len - 1,
		    v->len);
		if (v->len > 0)
			memcpy(p, v->str, v->len);
	}
	memcpy(r->rb_cursor, reply->element[0]->str, reply->element[0]->len);
	r->rb_cursor[reply->element[0]->len] = '\0';
	done = strcmp(r->rb_cursor, "0") == 0;
	b->rebuild_page = done ? 2 : 1;         /* 2: the last */
	if (done) {
		uint8_t pos[8];

		for (i = 0; i < 8; i++)
			pos[i] = (uint8_t)(r->rb_seq >> (8 * i));
		p = store_batch_put(b->w, st->repl_db, "applied", 7, 8);
		memcpy(p, pos, 8);
		b->apply_to = r->rb_seq;
	}
	if (st->inflight == NULL)
		store_writer_hand(st, b);
	else
		r->stash = b;
	if (!done)
		rebuild_next(st);
}

static void
rebuild_next(struct store *st)
{
	struct store_repl *r = st->repl;
	char key[80];
	const char *argv[5];
	size_t argvlen[5];
	int i;

	if (r->rb_busy || r->stash != NULL || r->closing || !r->rebuilding ||
	    (!r->rb_first && strcmp(r->rb_cursor, "0") == 0))
		return;         /* busy, or the last page is with the writer */
	snprintf(key, sizeof(key), "%s:d", r->prefix);
	argv[0] = "HSCAN";
	argv[1] = key;
	argv[2] = r->rb_cursor;
	argv[3] = "COUNT";
	argv[4] = "512";
	for (i = 0; i < 5; i++)
		argvlen[i] = strlen(argv[i]);
	r->rb_busy = 1;
	if (redis_command(r->tail, on_rebuild_page, st, 5, argv, argvlen) != 0)
		r->rb_busy = 0;
}

static void
on_rebuild_seq(void *arg, enum redis_err err, const struct redisReply *reply)
{
	struct store *st = arg;
	struct store_repl *r = st->repl;
	struct timeval tv = { 0, REPL_RETRY_MS * 1000 };

	r->rb_busy = 0;
	if (r->closing)
		return;
	if (err != REDIS_CMD_OK || (reply->type != REDIS_REPLY_STRING &&
	    reply->type != REDIS_REPLY_NIL)) {
		r->rebuilding = 0;      /* the tail finds the gap again */
		evtimer_add(r->retry_ev, &tv);
		return;
	}
	r->rb_seq = reply->type == REDIS_REPLY_STRING ?
	    strtoull(reply->str, NULL, 10) : 0;
	rebuild_next(st);
}

static void
rebuild_start(struct store *st, uint64_t got)
{
	struct store_repl *r = st->repl;
	struct batch *a;

	log_warn("store.rebuild", "applied=%" PRIu64 " log_from=%" PRIu64
	    " msg=\"the log does not go on from this replica: making it "
	    "again from the state in Redis\"", r->seen, got);
	r->rebuilding = r->rb_first = 1;
	strcpy(r->rb_cursor, "0");
	/* What this node committed is in that state, or was lost with it. */
	while ((a = r->acked) != NULL) {
		r->acked = a->next;
		store_batch_release(st, a);
	}
	r->acked_last = NULL;
	r->nacked = 0;
	r->rb_busy = 1;
	if (store_repl_key_cmd(r, r->tail, "GET", "seq", on_rebuild_seq, st) != 0) {
		r->rb_busy = 0;
		r->rebuilding = 0;
	}
}

/* ---- open, flush, close -------------------------------------------------- */

static int
name_ok(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (!(s[n] >= 'a' && s[n] <= 'z') &&
		    !(s[n] >= 'A' && s[n] <= 'Z') &&
		    !(s[n] >= '0' && s[n] <= '9') && s[n] != '_' &&
		    s[n] != '-')
			return 0;
	return n > 0 && n <= max;
}

int
store_attach_redis(struct store *st, const struct store_redis *cfg,
    char *err, size_t errsize)
{
	struct store_repl *r;
	struct redis_config tc;
	const char *prefix = cfg->prefix != NULL ? cfg->prefix : "smsverify";
	MDB_txn *txn;
	MDB_val k = { 7, (void *)"applied" }, d;
	int rc;

	if (cfg->node == NULL || !name_ok(cfg->node, 32)) {
		snprintf(err, errsize, "node name must be 1..32 of "
		    "A-Z a-z 0-9 _ -");
		return -1;
	}
	if (!name_ok(prefix, 48)) {
		snprintf(err, errsize, "prefix must be 1..48 of "
		    "A-Z a-z 0-9 _ -");
		return -1;
	}
	r = xcalloc(1, sizeof(*r));
	r->st = st;
	snprintf(r->node, sizeof(r->node), "%s", cfg->node);
	snprintf(r->prefix, sizeof(r->prefix), "%s", prefix);
	r->vttl_ms = cfg->version_ttl_ms > 0 ? cfg->version_ttl_ms : 600000;
	r->durable = -1;        /* until on_config() */
	snprintf(r->vttl, sizeof(r->vttl), "%d", r->vttl_ms);
	snprintf(r->maxlen, sizeof(r->maxlen), "%ld",
	    cfg->log_max > 0 ? cfg->log_max : 1000000L);
	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)) != 0) {
		snprintf(err, errsize, "store: %s", mdb_strerror(rc));
		free(r);
		return -1;
	}
	if (mdb_get(txn, st->repl_db, &k, &d) == 0 && d.mv_size == 8)
		for (int i = 7; i >= 0; i--)
			r->applied = r->applied << 8 |
			    ((const uint8_t *)d.mv_data)[i];
	mdb_txn_abort(txn);
	r->seen = r->applied;
	/* The replica's commits need not be flushed twice: one lost in a
	 * crash of the machine is in the log still, and applied again (its
	 * position is in the same transaction).  LMDB keeps its integrity. */
	mdb_env_set_flags(st->env, MDB_NOMETASYNC, 1);
	if ((r->cmd = redis_new(st->base, cfg->redis, err, errsize)) == NULL) {
		free(r);
		return -1;
	}
	tc = *cfg->redis;
	if (tc.command_timeout_ms < REPL_BLOCK_MS + 2000)
		tc.command_timeout_ms = REPL_BLOCK_MS + 2000;
	if ((r->tail = redis_new(st->base, &tc, err, errsize)) == NULL) {
		redis_free(r->cmd);
		free(r);
		return -1;
	}
	redis_script_init(&r->commit_script, COMMIT);
	redis_script_init(&r->tag_script, TAG);
	r->retry_ev = evtimer_new(st->base, on_retry, st);
	r->wait_ev = evtimer_new(st->base, on_wait, st);
	r->cmd_timeout_ms = cfg->redis->command_timeout_ms;
	r->wait_n = cfg->wait_replicas > 0 ? cfg->wait_replicas : 0;
	snprintf(r->wait_n_s, sizeof(r->wait_n_s), "%d", r->wait_n);
	snprintf(r->wait_ms_s, sizeof(r->wait_ms_s), "%d",
	    cfg->wait_ms > 0 ? cfg->wait_ms : 1000);
	r->fresh_ms = util_mono_ms() - r->vttl_ms;   /* stale until the tail ran */
	st->repl = r;
	{
		/* Outbox numbers from now on carry the tag (store_outbox.c). */
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		st->outbox_seq = (uint64_t)ts.tv_sec * 1000000u +
		    (uint64_t)ts.tv_nsec / 1000u;
	}
	log_info("store.redis", "node=%s prefix=%s applied=%" PRIu64,
	    r->node, r->prefix, r->applied);
	tail_next(st);          /* DOWN until connected: the retry timer */
	if (!r->tail_busy) {
		struct timeval tv = { 0, REPL_RETRY_MS * 1000 };

		evtimer_add(r->retry_ev, &tv);
	}
	return 0;
}

/* store_flush() on Redis: run the loop until what is staged has its
 * answer and the writer is idle.  Not from a callback of the loop. */
int
store_repl_flush(struct store *st)
{
	struct store_repl *r = st->repl;

	for (;;) {
		if (st->open != NULL && r->nrq == 0) {
			st->open->urgent = st->open->due = 1;
			store_commit_next(st);
			continue;
		}
		if (st->open == NULL && r->nrq == 0 &&
		    st->inflight == NULL)
			break;
		if (event_base_loop(st->base, EVLOOP_ONCE) != 0)
			break;
	}
	return st->last_result;
}

int
store_reload_passwords(struct store *st, char *err, size_t errsize)
{
	struct store_repl *r = st->repl;

	if (r == NULL)
		return 0;
	/* Both connections read the same files: read once, so that a file
	 * changing meanwhile cannot leave them with different passwords. */
	if (redis_reload_password(r->cmd, err, errsize) != 0)
		return -1;
	if (redis_share_password(r->tail, r->cmd) == 0)
		return 0;
	return redis_reload_password(r->tail, err, errsize);
}

void
store_repl_free(struct store *st)
{
	struct store_repl *r = st->repl;
	struct batch *b;

	if (r == NULL)
		return;
	r->closing = 1;
	redis_free(r->cmd);     /* the batch at Redis fails SHUTDOWN */
	redis_free(r->tail);
	while (r->rq != NULL) {         /* none: redis_free() answered them */
		b = r->rq;
		r->rq = b->next;
		finish_failed(st, b, STORE_UNAVAILABLE, NULL);
	}
	while ((b = r->acked) != NULL) {
		r->acked = b->next;
		store_batch_release(st, b);
	}
	if (r->stash != NULL)
		store_batch_release(st, r->stash);
	sync_wake(r, 1, STORE_UNAVAILABLE);
	event_free(r->retry_ev);
	event_free(r->wait_ev);
	free(r->buf);
	free(r->rbuf);
	free(r->argv);
	free(r->argvlen);
	free(r);
	st->repl = NULL;
}
