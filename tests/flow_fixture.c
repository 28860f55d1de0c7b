/*
 * flow_fixture.c - the flow suites' shared fixture (flow_fixture.h).
 */
#define _GNU_SOURCE
#include <check.h>
#include <ctype.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "carrier.h"
#include "conf.h"
#include "dispatch.h"
#include "dlr.h"
#include "fake_carrier.h"
#include "flow.h"
#include "keys.h"
#include "phone_pool.h"
#include "score.h"
#include "smpp.h"
#include "store.h"
#include "testmode.h"
#include "util.h"
#include "verify.h"
#include "flow_fixture.h"

const uint8_t secret[VERIFY_SECRET_LEN] = {
	5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
	9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 4,
};

char rundir[64];
char dir[96];
struct event_base *base;
struct store *st;
struct conf *conf;
struct keys *keys;
struct score *score;
struct phone_pool *phones;
struct dispatch *d;
struct flow *f;
struct carrier fa, fb;
int nstaged;           /* ids ver_..0 .. nstaged-1 may be in d */
struct dlr *dl;        /* test mode's cases only */
struct testmode *tm;

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
hook_sent(void *arg, const struct verif *v, int first, struct carrier *c)
{
	flow_sent(f, v, first);
}

static void
hook_failed(void *arg, const char *id, const char *reason)
{
	flow_failed(f, id, reason);
}

static const struct dispatch_hooks hooks = {
	.sent = hook_sent,
	.failed = hook_failed,
};

/* The fixture over the configuration text. */
void
setup_conf(const char *text)
{
	char *err = NULL, path[128];
	struct carrier *cs[2] = { &fa, &fb };

	util_clock_set(T0);
	snprintf(dir, sizeof(dir), "%s/t.XXXXXX", rundir);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/db", dir);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	st = store_open(base, path, MAP, &err);
	ck_assert_msg(st != NULL, "store_open: %s", err ? err : "?");
	conf = conf_load_string(text, "t.conf", &err);
	ck_assert_msg(conf != NULL, "conf: %s", err ? err : "?");
	keys = keys_new(conf);
	score = score_new(conf);
	phones = phone_pool_new(base, 1);
	ck_assert_ptr_nonnull(phones);
	fake_carrier_init(&fa, "a");
	fake_carrier_init(&fb, "b");
	nstaged = 0;
	d = dispatch_new(base, st, secret, &hooks, NULL);
	dispatch_reconf(d, conf, cs, 2, score);
	f = flow_new(conf, st, keys, phones, d, NULL, score, secret);
}

void
setup(void)
{
	setup_conf(CONF_TEXT);
}

static void
answer_all(struct carrier *c)
{
	for (int i = 0; i < c->nsub; i++)
		if (!c->sub[i].answered) {
			c->sub[i].answered = 1;
			dispatch_submit_done(d, c, c->sub[i].cookie,
			    ESME_RINVDSTADR, NULL);
		}
}

void
teardown(void)
{
	char id[32];

	for (int n = 0; n < nstaged; n++) {
		snprintf(id, sizeof(id), "ver_%024x", n);
		dispatch_drop(d, id);
	}
	answer_all(&fa);
	answer_all(&fb);
	testmode_stop(tm);
	store_flush(st);
	phone_pool_free(phones);
	store_flush(st);
	flow_free(f);
	dispatch_free(d);
	store_close(st);
	testmode_free(tm);
	tm = NULL;
	dlr_free(dl);
	dl = NULL;
	score_free(score);
	keys_free(keys);
	conf_free(conf);
	event_base_free(base);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	util_clock_set(0);
}

void
id_of(int n, char *id, size_t size)
{
	snprintf(id, size, "ver_%024x", n);
}

void
get(int n, struct verif *v)
{
	char id[32];

	id_of(n, id, sizeof(id));
	memset(v, 0, sizeof(*v));
	ck_assert_int_eq(store_verif_get(st, id, v), STORE_OK);
}

int
status_of_id(const char *id)
{
	struct verif v;
	int s;

	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(store_verif_get(st, id, &v), STORE_OK);
	s = v.status;
	verif_clear(&v);
	return s;
}

int
status_of(int n)
{
	struct verif v;
	int s;

	get(n, &v);
	s = v.status;
	verif_clear(&v);
	return s;
}

void
on_check(void *arg, int result, const struct flow_check *fc)
{
	struct check_seen *c = arg;

	c->n++;
	c->result = result;
	c->has_fc = fc != NULL;
	if (fc != NULL)
		c->fc = *fc;
}

/* Check code against n (or by phone when n < 0) for key, after the
 * commit. */
void
check(int key, int n, const char *code, struct check_seen *c)
{
	char id[32];

	memset(c, 0, sizeof(*c));
	id_of(n, id, sizeof(id));
	flow_check(f, key, n >= 0 ? id : NULL, n >= 0 ? NULL : PHONE, code,
	    on_check, c);
	ck_assert_int_eq(c->n, 0);          /* after the commit */
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(c->n, 1);
	ck_assert_int_eq(c->result, STORE_OK);
	ck_assert_int_eq(c->has_fc, 1);
}

void
on_send(struct flow_send *fs, const struct verif *v)
{
	struct send_seen *s = fs->arg;

	s->n++;
	s->err = fs->err;
	if (fs->limit != NULL)
		util_strlcpy(s->limit, fs->limit, sizeof(s->limit));
	s->retry_after = fs->retry_after;
	s->has_v = v != NULL;
	util_strlcpy(s->fs_country, fs->country, sizeof(s->fs_country));
	util_strlcpy(s->fs_range, fs->range, sizeof(s->fs_range));
	s->fs_retry_after = fs->retry_after;
	if (v != NULL) {
		s->v = *v;
		s->v.sealed = NULL;
		s->v.metadata = NULL;
	}
}

/* The code in a submit's text (the first run of six digits). */
void
code_of(const struct carrier *c, int k, char *code)
{
	const char *p = c->sub[k].body;

	for (; *p != '\0'; p++) {
		int n = 0;
		while (isdigit((unsigned char)p[n]))
			n++;
		if (n == 6) {
			memcpy(code, p, 6);
			code[6] = '\0';
			return;
		}
		if (n > 0)
			p += n - 1;
	}
	ck_abort_msg("no code in \"%s\"", c->sub[k].body);
}

struct flow_send *
new_send(struct send_seen *s, const char *phone)
{
	struct flow_send *fs = flow_send_new(f, 0, "v1", on_send, s);

	memset(s, 0, sizeof(*s));
	fs->phone = phone;
	fs->region = NULL;
	return fs;
}

int
flow_fixture_run(Suite *s, const char *name)
{
	SRunner *sr = srunner_create(s);
	int failed_n;

	snprintf(rundir, 64, "/tmp/%s.XXXXXX", name);
	if (mkdtemp(rundir) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	srunner_run_all(sr, CK_ENV);
	failed_n = srunner_ntests_failed(sr);
	srunner_free(sr);
	nftw(rundir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return failed_n == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
