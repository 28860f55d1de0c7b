/*
 * store_fixture.c - the store suites' shared fixture (store_fixture.h).
 */
#define _GNU_SOURCE
#include <check.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "store.h"
#include "store_fixture.h"

char rundir[64];          /* one per run, removed by store_fixture_run() */
char dir[96];             /* one per test, inside rundir */
char dbpath[128];
struct event_base *base;
struct store *st;

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

struct store *
open_store(uint64_t map_size)
{
	char *err = NULL;
	struct store *s = store_open(base, dbpath, map_size, &err);

	ck_assert_msg(s != NULL, "store_open: %s", err ? err : "?");
	return s;
}

void
setup(void)
{
	snprintf(dir, sizeof(dir), "%s/t.XXXXXX", rundir);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, sizeof(dbpath), "%s/db", dir);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	st = open_store(BIG_MAP);
}

void
teardown(void)
{
	if (st != NULL)
		store_close(st);
	st = NULL;
	event_base_free(base);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

void
reopen(uint64_t map_size)
{
	store_close(st);
	st = open_store(map_size);
}

/* Run the loop until no event is left: every staged batch has gone to the
 * writer thread, its commit has come back and its callbacks have run (the
 * store's events are registered only while it has work). */
void
run_loop(void)
{
	ck_assert_int_ne(event_base_loop(base, 0), -1);
}

/* A complete record: n picks the id and phone. */
void
make_verif(struct verif *v, int n, int status, int send_state,
    int64_t expires_at)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->id, sizeof(v->id), "ver_%024x", n);
	snprintf(v->key, sizeof(v->key), "key%d", n % 3);
	snprintf(v->phone, sizeof(v->phone), "+4479%08d", n);
	strcpy(v->api, "v1");
	v->status = status;
	v->send_state = send_state;
	v->attempt = 1 + n % 4;
	v->checks = n % 3;
	v->max_checks = 5;
	for (int i = 0; i < 32; i++)
		v->code_hmac[i] = (uint8_t)(n * 31 + i * 7);
	v->created_at = T0 + n;
	v->expires_at = expires_at;
	v->updated_at = T0 + n + 1;
	snprintf(v->sender, sizeof(v->sender), "Acme%d", n % 10);
	snprintf(v->fail_reason, sizeof(v->fail_reason), "%s",
	    status == VERIF_FAILED ? "all_routes_refused" : "");
}

void
add_sends(struct verif *v, int n)
{
	v->nsend = 2;
	strcpy(v->send[0].smsc, "alpha");
	snprintf(v->send[0].message_id, sizeof(v->send[0].message_id),
	    "0A%06d", n);
	v->send[0].submitted_at = T0 + 2;
	v->send[0].dlr = DLR_UNDELIVERABLE;
	v->send[0].dlr_at = T0 + 5;
	v->send[0].error = 11;
	strcpy(v->send[0].reason, "primary");
	strcpy(v->send[1].smsc, "beta");
	snprintf(v->send[1].message_id, sizeof(v->send[1].message_id),
	    "b-%d", n);
	v->send[1].submitted_at = T0 + 6;
	v->send[1].dlr = DLR_PENDING;
	v->send[1].dlr_at = 0;
	v->send[1].error = -1;
	strcpy(v->send[1].reason, "repeat");
}

void
assert_same(const struct verif *a, const struct verif *b)
{
	ck_assert_str_eq(a->id, b->id);
	ck_assert_str_eq(a->key, b->key);
	ck_assert_str_eq(a->phone, b->phone);
	ck_assert_str_eq(a->api, b->api);
	ck_assert_int_eq(a->status, b->status);
	ck_assert_int_eq(a->send_state, b->send_state);
	ck_assert_int_eq(a->attempt, b->attempt);
	ck_assert_int_eq(a->checks, b->checks);
	ck_assert_int_eq(a->max_checks, b->max_checks);
	ck_assert_mem_eq(a->code_hmac, b->code_hmac, 32);
	ck_assert_int_eq(a->created_at, b->created_at);
	ck_assert_int_eq(a->expires_at, b->expires_at);
	ck_assert_int_eq(a->updated_at, b->updated_at);
	ck_assert_str_eq(a->sender, b->sender);
	ck_assert_str_eq(a->fail_reason, b->fail_reason);
	if (a->sealed == NULL)
		ck_assert_ptr_null(b->sealed);
	else
		ck_assert_str_eq(a->sealed, b->sealed);
	if (a->metadata == NULL)
		ck_assert_ptr_null(b->metadata);
	else
		ck_assert_str_eq(a->metadata, b->metadata);
	ck_assert_int_eq(a->nsend, b->nsend);
	for (int i = 0; i < a->nsend; i++) {
		const struct verif_send *x = &a->send[i], *y = &b->send[i];

		ck_assert_str_eq(x->smsc, y->smsc);
		ck_assert_str_eq(x->message_id, y->message_id);
		ck_assert_int_eq(x->submitted_at, y->submitted_at);
		ck_assert_int_eq(x->dlr, y->dlr);
		ck_assert_int_eq(x->dlr_at, y->dlr_at);
		ck_assert_int_eq(x->error, y->error);
		ck_assert_str_eq(x->reason, y->reason);
	}
}

void
assert_stored(int n, const struct verif *want)
{
	struct verif got;
	char id[32];

	snprintf(id, sizeof(id), "ver_%024x", n);
	ck_assert_int_eq(store_verif_get(st, id, &got), STORE_OK);
	assert_same(want, &got);
	verif_clear(&got);
}

int
status_of(int n)
{
	struct verif got;
	char id[32];
	int s;

	snprintf(id, sizeof(id), "ver_%024x", n);
	if (store_verif_get(st, id, &got) != STORE_OK)
		return 0;
	s = got.status;
	verif_clear(&got);
	return s;
}

/* Record n of the map_full test: pending, with sends and some metadata,
 * so a small map fills in a few dozen batches. */
void
make_padded(struct verif *v, int n)
{
	make_verif(v, n, VERIF_PENDING, SEND_QUEUED, T0 + 300);
	add_sends(v, n);
	v->metadata = strdup("{\"padding\":\"................"
	    "................................................"
	    "...........................\"}");
}

struct calls calls;

void
cb_record(void *arg, int result)
{
	int tag = (int)(intptr_t)arg;

	ck_assert_int_lt(calls.n, 16);
	calls.order[calls.n] = tag;
	calls.result[calls.n] = result;
	calls.n++;
}

void
count_commit(void *arg, int result)
{
	ck_assert_int_eq(result, STORE_OK);
	(*(int *)arg)++;
}

/* Close the test's store and fork: the child gets the store opened anew
 * on a base of its own in *cs and *cb (it exits 1 when it cannot), the
 * parent the child's pid.  The child ends with _exit(): a crash, no close. */
pid_t
fork_with_store(struct store **cs, struct event_base **cb)
{
	pid_t pid;
	char *err;

	store_close(st);
	st = NULL;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		*cb = event_base_new();
		*cs = store_open(*cb, dbpath, BIG_MAP, &err);
		if (*cs == NULL)
			_exit(1);
	}
	return pid;
}

int
store_fixture_run(Suite *s, const char *name)
{
	SRunner *sr = srunner_create(s);
	int failed;

	/* Each test removes its own directory; a failed assertion skips
	 * that teardown, so the run's directory is removed here too. */
	snprintf(rundir, 64, "/tmp/%s.XXXXXX", name);
	if (mkdtemp(rundir) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	nftw(rundir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
