/*
 * store_repl.h - the store on Redis's insides, shared by store_repl.c
 * (the log, the replica, commits, the barrier, rebuilds) and
 * store_lease.c (leases and takeovers), and by no one else: store.h is
 * the contract.
 */
#ifndef STORE_REPL_H
#define STORE_REPL_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "redis.h"

struct batch;
struct event;
struct store;

#define REPL_READ_COUNT 256     /* log entries per XREAD */
#define REPL_BLOCK_MS 1000      /* XREAD BLOCK */
#define REPL_RETRY_MS 200       /* after a failed XREAD */
#define REPL_MAX_ACKED 256      /* committed, not applied: then wait */
#define REPL_MAX_SYNC 65536     /* store_sync() callers waiting */
#define REPL_PIPELINE 4         /* own batches at Redis at once */

struct sync_waiter {
	uint64_t target;
	void (*cb)(void *, int);
	void *arg;
	struct sync_waiter *next;
};

struct store_repl {
	struct store *st;
	struct redis *cmd, *tail;
	char node[33], prefix[64];
	char vttl[24], maxlen[24];
	int vttl_ms;
	uint64_t applied;       /* in LMDB */
	uint64_t seen;          /* fetched from the log */
	struct batch *rq, *rq_last;     /* own batches at Redis, oldest
	                                 * first */
	int nrq;
	uint64_t lseq;          /* the last own batch's number (the chain) */
	struct batch *acked, *acked_last;       /* oldest first */
	int nacked;
	struct batch *stash;    /* fetched, waiting for the writer */
	int tail_busy, broken, closing;
	int broken_result;      /* what commits fail with once broken */
	int block;              /* at the log's end: XREAD waits */
	unsigned tag;           /* store_repl_tag() */
	int tag_ok, tag_busy;   /* registered in PREFIX:tags */
	int durable;            /* on_config() */
	int64_t tail_sent_ms, fresh_ms;
	struct event *retry_ev;
	struct event *wait_ev;  /* a batch waiting for the replica to be fresh */
	int64_t wait_until;
	int cmd_timeout_ms;
	uint8_t *buf, *rbuf;
	size_t len, cap, rlen, rcap;
	const char **argv;
	size_t *argvlen, argcap;
	struct sync_waiter *sync_head, *sync_tail;
	int nsync;
	uint64_t conflicts, failures;
	struct log_limit lim;
	struct redis_script commit_script, tag_script;
	int lease_busy;         /* a round of store_lease() is out */
	int wait_n;             /* WAIT for so many replicas; 0: none */
	char wait_n_s[12], wait_ms_s[12];
	uint64_t wait_short;    /* batches WAIT did not confirm */
	/* Rebuilding the replica from PREFIX:d (rebuild_start()). */
	int rebuilding, rb_first, rb_busy;
	uint64_t rb_seq;        /* the log's end when it began */
	char rb_cursor[32];
	uint64_t rebuilds;
	int64_t lease_scan_ms;  /* when the last round looked for the dead */
	uint64_t adopted;       /* queue entries and events taken over */
};

/* The replica is at the log's end (recently enough) and the node has its
 * tag: commits may go. */
int store_repl_fresh(const struct store_repl *);
/* Send VERB PREFIX:suffix on conn (a command of one key). */
int store_repl_key_cmd(struct store_repl *, struct redis *conn,
    const char *verb, const char *suffix, redis_cb *cb, void *arg);

#endif
