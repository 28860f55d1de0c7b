/*
 * store_fixture.h - what the store's suites share (check_store,
 * check_store_commit): a fresh LMDB directory and event_base per test,
 * records made from a number, the assertions that read them back, and
 * the runner that removes the run's directory.
 */
#ifndef STORE_FIXTURE_H
#define STORE_FIXTURE_H

#include <stdint.h>
#include <sys/types.h>

#include <check.h>
#include <event2/event.h>

#include "store.h"

#define T0 1800000000LL         /* a fixed "now" for records */
#define BIG_MAP (64ULL << 20)

extern char rundir[];           /* one per run */
extern char dir[];              /* one per test, inside rundir */
extern char dbpath[];
extern struct event_base *base;
extern struct store *st;        /* the test's store, opened by setup() */

struct store *open_store(uint64_t map_size);
void setup(void);
void teardown(void);
void reopen(uint64_t map_size);
/* Run the loop until no event is left (every batch committed, its
 * callbacks run). */
void run_loop(void);

/* A complete record: n picks the id and phone. */
void make_verif(struct verif *v, int n, int status, int send_state,
    int64_t expires_at);
void add_sends(struct verif *v, int n);
/* Pending, with sends and some metadata (a small map fills quickly). */
void make_padded(struct verif *v, int n);
void assert_same(const struct verif *a, const struct verif *b);
void assert_stored(int n, const struct verif *want);
/* Record n's status, or 0 when it is not stored. */
int status_of(int n);

/* Commit callbacks in the order they ran: cb_record's arg is the tag. */
struct calls {
	int order[16];
	int result[16];
	int n;
};
extern struct calls calls;
void cb_record(void *arg, int result);
/* Counts STORE_OK commits in *(int *)arg; any other result fails. */
void count_commit(void *arg, int result);

/* Close the test's store and fork: the child gets the store opened anew
 * on a base of its own in *cs and *cb, the parent the child's pid. */
pid_t fork_with_store(struct store **cs, struct event_base **cb);

/* main(): run s in a directory of its own under /tmp, named after name,
 * and remove it; the exit status. */
int store_fixture_run(Suite *s, const char *name);

#endif
