/*
 * check_store_redis.c - the store on Redis (store_attach_redis(),
 * src/store_repl.c): nodes, each an LMDB replica in its own directory,
 * sharing one real redis-server (tests/redis_srv.c), all on one event
 * base in this process.  What one node commits another reads after
 * store_sync(); two nodes that decide on the same key leave one winner
 * (STORE_CONFLICT for the other); a node that was away catches up; Redis
 * gone fails commits fast and they come back with it; a node the log was
 * trimmed past refuses to serve.  The wire format's decoder meets broken
 * blobs.  Every wait is a bounded poll of the loop.
 */
#define _GNU_SOURCE
#include <check.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "redis.h"
#include "redis_srv.h"
#include "store.h"
#include "store_batch.h"
#include "store_repl_wire.h"
#include "util.h"

#define T0 1800000000LL
#define MAP (64ULL << 20)

static char top[64];
static char dir[128];
static struct event_base *B;
static struct redis_srv R;

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
}

/* Run the loop until *flag != 0 or ms pass; returns *flag. */
static int
run_until(const int *flag, int ms)
{
	struct event *t = event_new(B, -1, EV_PERSIST, tick, NULL);
	struct timeval tv = { 0, 10000 };
	int64_t until = util_mono_ms() + ms;

	event_add(t, &tv);
	while (*flag == 0 && util_mono_ms() < until)
		event_base_loop(B, EVLOOP_ONCE);
	event_free(t);
	return *flag;
}

static struct redis_config
rconf(void)
{
	struct redis_config c;

	memset(&c, 0, sizeof(c));
	c.addr = R.tcp;
	c.connect_timeout_ms = 2000;
	c.command_timeout_ms = 2000;
	c.reconnect_min_ms = 50;
	c.reconnect_max_ms = 200;
	c.max_inflight = 1024;
	return c;
}

/* A node: its own LMDB directory, attached to R.  log_max 0: default;
 * wait: WAIT for so many replicas. */
static struct store *
node_open_wait(const char *name, long log_max, int wait)
{
	struct redis_config rc = rconf();
	struct store_redis sr = { &rc, name, "t", 0, log_max, wait, 300 };
	char path[192], err[256];
	char *oerr = NULL;
	struct store *st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	st = store_open(B, path, MAP, &oerr);
	ck_assert_msg(st != NULL, "store_open: %s", oerr ? oerr : "?");
	ck_assert_msg(store_attach_redis(st, &sr, err, sizeof(err)) == 0,
	    "store_attach_redis: %s", err);
	return st;
}

static struct store *
node_open(const char *name, long log_max)
{
	return node_open_wait(name, log_max, 0);
}

struct res {
	int done;
	int result;
};

static void
on_res(void *arg, int result)
{
	struct res *r = arg;

	r->done = 1;
	r->result = result;
}

/* Wait for the open batch of st; its result. */
static int
commit_wait(struct store *st)
{
	struct res r = { 0, 0 };

	store_on_commit(st, on_res, &r);
	ck_assert_msg(run_until(&r.done, 10000), "no commit answer in 10 s");
	return r.result;
}

static int
sync_wait(struct store *st)
{
	struct res r = { 0, 0 };

	store_sync(st, on_res, &r);
	ck_assert_int_eq(r.done, 0);    /* never from inside */
	ck_assert_msg(run_until(&r.done, 10000), "no sync answer in 10 s");
	return r.result;
}

/* A node just attached reads the log once before it commits: until then
 * its commits are refused.  Wait (bounded) until one goes through. */
static void
node_ready(struct store *st)
{
	int64_t until = util_mono_ms() + 10000;

	while (sync_wait(st) != STORE_OK)
		ck_assert_msg(util_mono_ms() < until, "node not ready");
	/* The first read is at once; one turn more for its answer. */
	for (int i = 0; i < 200; i++)
		event_base_loop(B, EVLOOP_NONBLOCK);
}

static void
make_verif(struct verif *v, int n, const char *phone, int status)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->id, sizeof(v->id), "ver_%024x", n);
	snprintf(v->key, sizeof(v->key), "key1");
	snprintf(v->phone, sizeof(v->phone), "%s", phone);
	strcpy(v->api, "v1");
	v->status = status;
	v->send_state = SEND_QUEUED;
	v->attempt = 1;
	v->max_checks = 5;
	for (int i = 0; i < 32; i++)
		v->code_hmac[i] = (uint8_t)(n * 31 + i * 7);
	v->created_at = T0 + n;
	v->expires_at = T0 + 600;
	v->updated_at = T0 + n;
}

/* A send as flow.c makes it, in one turn: the pending one of
 * (key1, phone) canceled, the new one put. */
static void
stage_send(struct store *st, int n, const char *phone)
{
	struct verif v, old;
	char id[64];

	if (store_pending_get(st, "key1", phone, id, sizeof(id)) ==
	    STORE_OK && store_verif_get(st, id, &old) == STORE_OK) {
		old.status = VERIF_CANCELED;
		ck_assert_int_eq(store_verif_put(st, &old), STORE_OK);
		verif_clear(&old);
	}
	make_verif(&v, n, phone, VERIF_PENDING);
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
}

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "%s/t.XXXXXX", top);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	B = event_base_new();
	redis_srv_start(&R, dir, NULL);
}

static void
teardown(void)
{
	redis_srv_kill(&R);
	event_base_free(B);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- the wire ------------------------------------------------------------ */

static int
ident(void *arg, unsigned x)
{
	return x < 15 ? (int)x : -1;
}

START_TEST(wire_roundtrip)
{
	struct store_batch *w = store_batch_new(), *back = store_batch_new();
	const struct batch_entry *e, *f;
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, i;
	char err[128];
	void *p;

	p = store_batch_put(w, 0, "ver_1", 5, 3);
	memcpy(p, "abc", 3);
	store_batch_del(w, 1, "key\0+1", 6);
	store_batch_put(w, 14, "empty", 5, 0);
	store_batch_put(w, 20, "not replicated", 14, 1);
	repl_wire_encode(w, ident, NULL, &buf, &len, &cap);
	ck_assert_int_eq(repl_wire_decode(buf, len, back, ident, NULL, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(store_batch_count(back), 3);
	for (i = 0; i < 3; i++) {
		e = store_batch_entry(w, i);
		f = store_batch_entry(back, i);
		ck_assert_uint_eq(e->db, f->db);
		ck_assert_int_eq(e->del, f->del);
		ck_assert_mem_eq(e->key, f->key, e->klen);
		ck_assert_uint_eq(e->vlen, f->vlen);
		if (!e->del && e->vlen > 0)
			ck_assert_mem_eq(e->val, f->val, e->vlen);
	}
	/* The walk the commit builds its arguments with sees the same. */
	{
		const uint8_t *dk, *val;
		size_t at = 0, dkl, vl, k = 0;
		int op;

		while (repl_wire_next(buf, len, &at, &op, &dk, &dkl, &val,
		    &vl)) {
			e = store_batch_entry(w, k++);
			ck_assert_int_eq(op, e->del ? 'd' : 'p');
			ck_assert_uint_eq(dkl, e->klen + 1);
			ck_assert_mem_eq(dk + 1, e->key, e->klen);
			ck_assert_uint_eq(vl, e->del ? 0 : e->vlen);
		}
		ck_assert_uint_eq(k, 3);
	}
	/* Cut anywhere, or one octet more: refused, with a reason. */
	for (i = 0; i < len; i++) {
		store_batch_clear(back);
		err[0] = '\0';
		ck_assert_int_eq(repl_wire_decode(buf, i, back, ident, NULL,
		    err, sizeof(err)), -1);
		ck_assert(err[0] != '\0');
	}
	buf = xrealloc(buf, len + 1);
	buf[len] = 0;
	store_batch_clear(back);
	ck_assert_int_eq(repl_wire_decode(buf, len + 1, back, ident, NULL,
	    err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "after the last"));
	buf[8] = 'x';           /* the first write's operation */
	store_batch_clear(back);
	ck_assert_int_eq(repl_wire_decode(buf, len, back, ident, NULL,
	    err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown operation"));
	buf[8] = 'p';
	buf[13] = 99;           /* its database */
	store_batch_clear(back);
	ck_assert_int_eq(repl_wire_decode(buf, len, back, ident, NULL,
	    err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown database"));
	free(buf);
	store_batch_free(w);
	store_batch_free(back);
}
END_TEST

/* ---- two nodes ------------------------------------------------------------ */

START_TEST(send_on_a_read_on_b)
{
	struct store *a = node_open("a", 0), *b = node_open("b", 0);
	struct verif v, got;
	char id[64];

	node_ready(a);
	node_ready(b);
	make_verif(&v, 1, "+447900000001", VERIF_PENDING);
	ck_assert_int_eq(store_verif_put(a, &v), STORE_OK);
	ck_assert_int_eq(store_msgid_put(a, "alpha", "0a1b", v.id), STORE_OK);
	ck_assert_int_eq(commit_wait(a), STORE_OK);
	/* A reads its own write at once, B after the barrier. */
	ck_assert_int_eq(store_verif_get(a, v.id, &got), STORE_OK);
	verif_clear(&got);
	ck_assert_int_eq(sync_wait(b), STORE_OK);
	ck_assert_int_eq(store_verif_get(b, v.id, &got), STORE_OK);
	ck_assert_str_eq(got.phone, "+447900000001");
	ck_assert_int_eq(got.status, VERIF_PENDING);
	ck_assert_mem_eq(got.code_hmac, v.code_hmac, 32);
	verif_clear(&got);
	ck_assert_int_eq(store_pending_get(b, "key1", "+447900000001", id,
	    sizeof(id)), STORE_OK);
	ck_assert_str_eq(id, v.id);
	/* The receipt of A's submit finds its verification on B. */
	ck_assert_int_eq(store_msgid_get(b, "alpha", "0a1b", id, sizeof(id)),
	    STORE_OK);
	ck_assert_str_eq(id, v.id);
	/* And B's change reaches A. */
	ck_assert_int_eq(store_verif_get(b, v.id, &got), STORE_OK);
	got.status = VERIF_APPROVED;
	ck_assert_int_eq(store_verif_put(b, &got), STORE_OK);
	verif_clear(&got);
	ck_assert_int_eq(commit_wait(b), STORE_OK);
	ck_assert_int_eq(sync_wait(a), STORE_OK);
	ck_assert_int_eq(store_verif_get(a, v.id, &got), STORE_OK);
	ck_assert_int_eq(got.status, VERIF_APPROVED);
	verif_clear(&got);
	ck_assert_int_eq(store_pending_get(a, "key1", "+447900000001", id,
	    sizeof(id)), STORE_NOTFOUND);
	store_close(a);
	store_close(b);
}
END_TEST

/* Both nodes read "no pending" and send in the same turn: one wins. */
START_TEST(conflict_one_wins)
{
	struct store *a = node_open("a", 0), *b = node_open("b", 0);
	struct res ra = { 0, 0 }, rb = { 0, 0 };
	struct verif got;
	char id[64];

	node_ready(a);
	node_ready(b);
	stage_send(a, 10, "+447900000010");
	store_on_commit(a, on_res, &ra);
	stage_send(b, 11, "+447900000010");
	store_on_commit(b, on_res, &rb);
	ck_assert(run_until(&ra.done, 10000));
	ck_assert(run_until(&rb.done, 10000));
	ck_assert_msg((ra.result == STORE_OK && rb.result == STORE_CONFLICT) ||
	    (ra.result == STORE_CONFLICT && rb.result == STORE_OK),
	    "a=%d b=%d", ra.result, rb.result);
	ck_assert_int_eq(sync_wait(a), STORE_OK);
	ck_assert_int_eq(sync_wait(b), STORE_OK);
	/* The loser's write is gone, from its own reads too. */
	ck_assert_int_eq(store_pending_get(a, "key1", "+447900000010", id,
	    sizeof(id)), STORE_OK);
	ck_assert_str_eq(id, ra.result == STORE_OK ?
	    "ver_00000000000000000000000a" : "ver_00000000000000000000000b");
	ck_assert_int_eq(store_verif_get(b, ra.result == STORE_OK ?
	    "ver_00000000000000000000000b" : "ver_00000000000000000000000a",
	    &got), STORE_NOTFOUND);
	store_close(a);
	store_close(b);
}
END_TEST

/* Batches go to Redis several at a time; one sent behind a refused one
 * (it may have read that one's writes) is refused too.  A reads "no
 * pending for P" and stages a send, held back (a commit delay); B's send
 * to P commits; then, with Redis holding writes for a moment (CLIENT
 * PAUSE), A's send goes and A's update of that send goes right behind
 * it on the same connection.  A's send conflicts with B's; A's update
 * conflicts with nothing by itself, and is refused by the chain. */
START_TEST(chain_after_conflict)
{
	struct store *a = node_open("a", 0), *b = node_open("b", 0);
	struct res ra1 = { 0, 0 }, ra2 = { 0, 0 }, nudge = { 0, 0 };
	struct verif v;
	char cmd[128];
	int i, pending = 0;

	node_ready(a);
	node_ready(b);
	store_set_commit_delay(a, 5000);
	stage_send(a, 2, "+447966000001");      /* reads: no pending */
	store_on_commit_lazy(a, on_res, &ra1);
	stage_send(b, 1, "+447966000001");
	ck_assert_int_eq(commit_wait(b), STORE_OK);
	ck_assert_int_eq(ra1.done, 0);          /* A's still held back */
	snprintf(cmd, sizeof(cmd), "redis-cli -p %d client pause 1000 write "
	    ">/dev/null", R.port);
	ck_assert_int_eq(system(cmd), 0);
	store_on_commit(a, on_res, &nudge);     /* A's send goes now */
	for (i = 0; i < 20; i++)
		event_base_loop(B, EVLOOP_NONBLOCK);
	ck_assert_int_eq(ra1.done, 0);          /* held at Redis */
	ck_assert_int_eq(store_verif_get(a, "ver_000000000000000000000002",
	    &v), STORE_OK);                     /* its own, in flight */
	v.checks = 1;
	ck_assert_int_eq(store_verif_put(a, &v), STORE_OK);
	verif_clear(&v);
	store_on_commit(a, on_res, &ra2);
	ck_assert(run_until(&ra1.done, 10000));
	ck_assert(run_until(&ra2.done, 10000));
	ck_assert_int_eq(ra1.result, STORE_CONFLICT);
	ck_assert_int_eq(ra2.result, STORE_CONFLICT);
	ck_assert_int_eq(sync_wait(a), STORE_OK);
	for (i = 1; i <= 2; i++) {
		char id[64];

		snprintf(id, sizeof(id), "ver_%024x", i);
		if (store_verif_get(a, id, &v) == STORE_OK) {
			pending += v.status == VERIF_PENDING;
			verif_clear(&v);
		}
	}
	ck_assert_int_eq(pending, 1);
	store_close(a);
	store_close(b);
}
END_TEST

/* 50 sends to one number, each in its own turn, alternating nodes, the
 * commits racing: exactly one pending remains, every other committed one
 * is canceled, and both nodes see the same. */
START_TEST(fifty_racing_sends)
{
	struct store *n[2] = { node_open("a", 0), node_open("b", 0) };
	struct res r[50];
	struct verif v;
	char id[2][64], vid[64];
	int i, ok = 0, conflict = 0, pending = 0, other = 0;

	node_ready(n[0]);
	node_ready(n[1]);
	memset(r, 0, sizeof(r));
	for (i = 0; i < 50; i++) {
		stage_send(n[i % 2], 100 + i, "+447900000050");
		store_on_commit(n[i % 2], on_res, &r[i]);
		event_base_loop(B, EVLOOP_NONBLOCK);
	}
	for (i = 0; i < 50; i++) {
		ck_assert(run_until(&r[i].done, 10000));
		ok += r[i].result == STORE_OK;
		conflict += r[i].result == STORE_CONFLICT;
	}
	ck_assert_int_eq(ok + conflict, 50);
	ck_assert_int_ge(ok, 1);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(sync_wait(n[i]), STORE_OK);
		ck_assert_int_eq(store_pending_get(n[i], "key1",
		    "+447900000050", id[i], sizeof(id[i])), STORE_OK);
	}
	ck_assert_str_eq(id[0], id[1]);
	for (i = 0; i < 50; i++) {
		snprintf(vid, sizeof(vid), "ver_%024x", 100 + i);
		if (store_verif_get(n[0], vid, &v) != STORE_OK)
			continue;
		if (v.status == VERIF_PENDING) {
			pending++;
			ck_assert_str_eq(v.id, id[0]);
		} else {
			ck_assert_int_eq(v.status, VERIF_CANCELED);
			other++;
		}
		verif_clear(&v);
	}
	ck_assert_int_eq(pending, 1);
	ck_assert_int_eq(pending + other, ok);
	store_close(n[0]);
	store_close(n[1]);
}
END_TEST

/* B away while A commits 600 batches (more than one XREAD's worth):
 * B reopened catches up, from where its replica was. */
START_TEST(catch_up_after_restart)
{
	struct store *a = node_open("a", 0), *b = node_open("b", 0);
	struct verif v;
	char phone[32];
	int i;

	node_ready(a);
	node_ready(b);
	make_verif(&v, 1, "+447911000000", VERIF_PENDING);
	ck_assert_int_eq(store_verif_put(a, &v), STORE_OK);
	ck_assert_int_eq(commit_wait(a), STORE_OK);
	ck_assert_int_eq(sync_wait(b), STORE_OK);
	store_close(b);
	for (i = 0; i < 600; i++) {
		snprintf(phone, sizeof(phone), "+4479110%05d", i);
		make_verif(&v, 1000 + i, phone, VERIF_PENDING);
		ck_assert_int_eq(store_verif_put(a, &v), STORE_OK);
		ck_assert_int_eq(commit_wait(a), STORE_OK);
	}
	b = node_open("b", 0);
	node_ready(b);          /* the barrier waits for all 600 */
	for (i = 0; i < 600; i += 37) {
		char vid[64];

		snprintf(vid, sizeof(vid), "ver_%024x", 1000 + i);
		ck_assert_int_eq(store_verif_get(b, vid, &v), STORE_OK);
		verif_clear(&v);
	}
	store_close(a);
	store_close(b);
}
END_TEST

/* Redis killed: a commit fails STORE_UNAVAILABLE within the command
 * timeout, a barrier too; Redis back (appendonly, fsync always): what was
 * acknowledged is there and commits work again within 2 s. */
START_TEST(redis_down_and_back)
{
	struct store *a = node_open("a", 0), *b = node_open("b", 0);
	struct verif v;
	int64_t t0, until;
	int rc;

	node_ready(a);
	node_ready(b);
	make_verif(&v, 1, "+447922000001", VERIF_PENDING);
	ck_assert_int_eq(store_verif_put(a, &v), STORE_OK);
	ck_assert_int_eq(commit_wait(a), STORE_OK);
	redis_srv_kill(&R);
	make_verif(&v, 2, "+447922000002", VERIF_PENDING);
	ck_assert_int_eq(store_verif_put(a, &v), STORE_OK);
	t0 = util_mono_ms();
	ck_assert_int_eq(commit_wait(a), STORE_UNAVAILABLE);
	ck_assert_int_lt(util_mono_ms() - t0, 5000);
	ck_assert_int_eq(store_verif_get(a, v.id, &v), STORE_NOTFOUND);
	ck_assert_int_eq(sync_wait(b), STORE_UNAVAILABLE);
	redis_srv_restart(&R);
	t0 = util_mono_ms();
	until = t0 + 10000;
	do {
		make_verif(&v, 3, "+447922000003", VERIF_PENDING);
		ck_assert_int_eq(store_verif_put(b, &v), STORE_OK);
		rc = commit_wait(b);
		ck_assert_msg(util_mono_ms() < until, "no commit after 10 s");
	} while (rc != STORE_OK);
	ck_assert_int_lt(util_mono_ms() - t0, 2000 + 2000);
	ck_assert_int_eq(sync_wait(b), STORE_OK);
	ck_assert_int_eq(store_verif_get(b, "ver_000000000000000000000001",
	    &v), STORE_OK);
	verif_clear(&v);
	store_close(a);
	store_close(b);
}
END_TEST

/* The log trimmed past a node: its replica is made again from the state
 * in Redis (PREFIX:d), stale entries gone, and it serves again. */
START_TEST(rebuild_after_trim)
{
	struct store *a = node_open("a", 1), *b = node_open("b", 1);
	struct verif v, got;
	char phone[32], id[64];
	int i;

	node_ready(a);
	node_ready(b);
	make_verif(&v, 1999, "+447944000001", VERIF_PENDING);
	ck_assert_int_eq(store_verif_put(a, &v), STORE_OK);
	ck_assert_int_eq(commit_wait(a), STORE_OK);
	ck_assert_int_eq(sync_wait(b), STORE_OK);
	ck_assert_int_eq(store_pending_get(b, "key1", "+447944000001", id,
	    sizeof(id)), STORE_OK);
	store_close(b);
	/* While B is away: that one approved (its pending entry goes), and
	 * 400 more, far past what the log keeps. */
	v.status = VERIF_APPROVED;
	ck_assert_int_eq(store_verif_put(a, &v), STORE_OK);
	ck_assert_int_eq(commit_wait(a), STORE_OK);
	for (i = 0; i < 400; i++) {
		snprintf(phone, sizeof(phone), "+4479330%05d", i);
		make_verif(&v, 2000 + i, phone, VERIF_PENDING);
		ck_assert_int_eq(store_verif_put(a, &v), STORE_OK);
		ck_assert_int_eq(commit_wait(a), STORE_OK);
		/* A's own replica keeps up, entry by entry, before the
		 * trimming passes it. */
		ck_assert_int_eq(sync_wait(a), STORE_OK);
	}
	b = node_open("b", 1);
	node_ready(b);          /* the rebuild, then the log's rest */
	ck_assert_int_eq(store_verif_get(b, "ver_0000000000000000000007cf",
	    &got), STORE_OK);
	ck_assert_int_eq(got.status, VERIF_APPROVED);
	verif_clear(&got);
	ck_assert_int_eq(store_pending_get(b, "key1", "+447944000001", id,
	    sizeof(id)), STORE_NOTFOUND);
	for (i = 0; i < 400; i += 41) {
		char vid[64];

		snprintf(vid, sizeof(vid), "ver_%024x", 2000 + i);
		ck_assert_int_eq(store_verif_get(b, vid, &got), STORE_OK);
		verif_clear(&got);
	}
	make_verif(&v, 3000, "+447933099999", VERIF_PENDING);
	ck_assert_int_eq(store_verif_put(b, &v), STORE_OK);
	ck_assert_int_eq(commit_wait(b), STORE_OK);
	ck_assert_int_eq(sync_wait(a), STORE_OK);
	ck_assert_int_eq(store_verif_get(a, v.id, &got), STORE_OK);
	verif_clear(&got);
	store_close(a);
	store_close(b);
}
END_TEST

static void
on_event(void *arg, struct store_event *ev)
{
	int *n = arg;

	(*n)++;
	free(ev->body);
}

/* Both replicas hold every node's webhook events; each node delivers its
 * own: their numbers never meet, and a scan finds only the node's own. */
START_TEST(outbox_per_node)
{
	struct store *a = node_open("a", 0), *b = node_open("b", 0);
	uint64_t sa, sb;
	int na = 0, nb = 0;

	node_ready(a);
	node_ready(b);
	ck_assert_int_eq(store_outbox_put(a, "key1", "{\"n\":1}", T0,
	    &sa), STORE_OK);
	ck_assert_int_eq(commit_wait(a), STORE_OK);
	ck_assert_int_eq(store_outbox_put(b, "key1", "{\"n\":2}", T0,
	    &sb), STORE_OK);
	ck_assert_int_eq(commit_wait(b), STORE_OK);
	ck_assert(sa != sb);
	ck_assert_int_eq(sync_wait(a), STORE_OK);
	ck_assert_int_eq(sync_wait(b), STORE_OK);
	ck_assert_int_eq(store_outbox_scan(a, 0, 100, on_event, &na), 1);
	ck_assert_int_eq(store_outbox_scan(b, 0, 100, on_event, &nb), 1);
	ck_assert_int_eq(na + nb, 2);
	/* B delivered its own: gone from A's replica too. */
	ck_assert_int_eq(store_outbox_del(b, sb), STORE_OK);
	ck_assert_int_eq(commit_wait(b), STORE_OK);
	ck_assert_int_eq(sync_wait(a), STORE_OK);
	ck_assert_uint_eq(store_outbox_count(a), 1);
	store_close(a);
	store_close(b);
}
END_TEST

/* [store] redis_wait_replicas: a commit is acknowledged once a replica
 * has it; with the replica gone it is not (STORE_UNAVAILABLE within the
 * WAIT timeout), though the master has it and the log passes it on. */
START_TEST(wait_for_replica)
{
	struct redis_srv rep;
	struct store *a, *b;
	struct verif v;
	int64_t until, t0;
	int rc;

	redis_srv_start_replica(&rep, dir, R.port);
	a = node_open_wait("a", 0, 1);
	b = node_open("b", 0);
	node_ready(a);
	node_ready(b);
	/* The replica syncs first: until then WAIT counts none. */
	until = util_mono_ms() + 20000;
	do {
		make_verif(&v, 1, "+447955000001", VERIF_PENDING);
		ck_assert_int_eq(store_verif_put(a, &v), STORE_OK);
		rc = commit_wait(a);
		ck_assert_msg(util_mono_ms() < until, "never acknowledged");
	} while (rc != STORE_OK);
	redis_srv_kill(&rep);
	make_verif(&v, 2, "+447955000002", VERIF_PENDING);
	ck_assert_int_eq(store_verif_put(a, &v), STORE_OK);
	t0 = util_mono_ms();
	ck_assert_int_eq(commit_wait(a), STORE_UNAVAILABLE);
	ck_assert_int_lt(util_mono_ms() - t0, 3000);
	/* Not acknowledged, but in the log: every node gets it. */
	ck_assert_int_eq(sync_wait(b), STORE_OK);
	ck_assert_int_eq(store_verif_get(b, v.id, &v), STORE_OK);
	verif_clear(&v);
	store_close(a);
	store_close(b);
}
END_TEST

/* What Redis keeps through a crash of its host is read at start (CONFIG
 * GET) and shown: appendfsync always is durable, everysec is not. */
static int
durable_of(struct store *st)
{
	struct store_stats ss;
	int64_t until = util_mono_ms() + 10000;

	for (;;) {
		store_stats(st, &ss);
		if (ss.redis_durable != -1)
			return ss.redis_durable;
		ck_assert_msg(util_mono_ms() < until, "durability never read");
		event_base_loop(B, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
	}
}

START_TEST(durability_read)
{
	struct store *a = node_open("a", 0), *c;
	char cmd[128];

	node_ready(a);
	ck_assert_int_eq(durable_of(a), 1);
	snprintf(cmd, sizeof(cmd), "redis-cli -p %d config set appendfsync "
	    "everysec >/dev/null", R.port);
	ck_assert_int_eq(system(cmd), 0);
	c = node_open("c", 0);
	node_ready(c);
	ck_assert_int_eq(durable_of(c), 0);
	store_close(a);
	store_close(c);
}
END_TEST

/* On LMDB alone the barrier answers at once, from the loop. */
START_TEST(sync_on_lmdb)
{
	char path[192];
	char *err = NULL;
	struct store *st;

	snprintf(path, sizeof(path), "%s/solo", dir);
	st = store_open(B, path, MAP, &err);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(sync_wait(st), STORE_OK);
	store_close(st);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("store_redis");
	TCase *pure = tcase_create("pure"), *srv = tcase_create("server");
	SRunner *sr;
	char rm[96];
	int failed, have = redis_srv_have();

	log_set_level_num(getenv("T_LOG") ? LOG_DEBUG : LOG_ERR);
	tcase_add_test(pure, wire_roundtrip);
	suite_add_tcase(s, pure);
	tcase_add_checked_fixture(srv, setup, teardown);
	tcase_set_timeout(srv, 120);
	tcase_add_test(srv, sync_on_lmdb);
	tcase_add_test(srv, send_on_a_read_on_b);
	tcase_add_test(srv, conflict_one_wins);
	tcase_add_test(srv, fifty_racing_sends);
	tcase_add_test(srv, chain_after_conflict);
	tcase_add_test(srv, catch_up_after_restart);
	tcase_add_test(srv, redis_down_and_back);
	tcase_add_test(srv, rebuild_after_trim);
	tcase_add_test(srv, outbox_per_node);
	tcase_add_test(srv, wait_for_replica);
	tcase_add_test(srv, durability_read);
	if (have)
		suite_add_tcase(s, srv);
	snprintf(top, sizeof(top), "/tmp/check_store_redis.XXXXXX");
	if (mkdtemp(top) == NULL) {
		perror("check_store_redis: mkdtemp");
		return EXIT_FAILURE;
	}
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	redis_srv_kill_all();
	snprintf(rm, sizeof(rm), "rm -rf '%s'", top);
	if (system(rm) != 0)
		fprintf(stderr, "check_store_redis: could not remove %s\n",
		    top);
	if (failed != 0)
		return EXIT_FAILURE;
	if (!have) {
		fprintf(stderr, "check_store_redis: SKIPPED the server tests: "
		    "%s is missing (scripts/bootstrap installs it)\n",
		    REDIS_SERVER);
		return 77;
	}
	return EXIT_SUCCESS;
}
