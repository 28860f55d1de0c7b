/*
 * check_idem.c - Idempotency-Key on the sends (SPEC "Idempotency and
 * races"): the pure policy (idem.h), the store's kept answers
 * (store_idem.c, their prune), and the whole path as an integrator sees
 * it: smsverifyd and the SMSC simulator as processes, the handset log
 * telling what was sent.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>
#include <jansson.h>

#include "harness.h"
#include "idem.h"
#include "store.h"

#define PHONE "+14155550140"
#define PHONE2 "+14155550141"
#define SEND "/v1/verifications"
#define KEYHDR(k) "Idempotency-Key: " k "\r\n"

static struct harness H;

static void
setup(void)
{
	ck_assert_int_eq(h_init(&H), 0);
}

static void
teardown(void)
{
	h_fini(&H);
}

/* ---- idem.c: pure --------------------------------------------------- */

START_TEST(key_valid)
{
	char s[300];

	ck_assert_int_eq(idem_key_valid("a"), 1);
	ck_assert_int_eq(idem_key_valid("order-42 retry/1 ~!"), 1);
	ck_assert_int_eq(idem_key_valid(""), 0);
	ck_assert_int_eq(idem_key_valid(NULL), 0);
	ck_assert_int_eq(idem_key_valid("tab\there"), 0);
	ck_assert_int_eq(idem_key_valid("del\x7f"), 0);
	ck_assert_int_eq(idem_key_valid("caf\xc3\xa9"), 0);
	memset(s, 'k', 255);
	s[255] = '\0';
	ck_assert_int_eq(idem_key_valid(s), 1);
	s[255] = 'k';
	s[256] = '\0';
	ck_assert_int_eq(idem_key_valid(s), 0);
}
END_TEST

static void
fp_of(const char *api, const char *text, uint8_t fp[IDEM_FP_LEN])
{
	json_t *j = json_loads(text, 0, NULL);

	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(idem_fingerprint(api, j, fp), 0);
	json_decref(j);
}

START_TEST(fingerprint)
{
	uint8_t a[IDEM_FP_LEN], b[IDEM_FP_LEN], c[IDEM_FP_LEN];
	uint8_t d[IDEM_FP_LEN];

	/* Field order and white space do not make another request... */
	fp_of("v1", "{\"phone\": \"+1415\", \"code_length\": 6}", a);
	fp_of("v1", "{\"code_length\":6,\"phone\":\"+1415\"}", b);
	ck_assert_mem_eq(a, b, IDEM_FP_LEN);
	/* ...a value does, and so does the API. */
	fp_of("v1", "{\"code_length\":7,\"phone\":\"+1415\"}", c);
	ck_assert(memcmp(a, c, IDEM_FP_LEN) != 0);
	fp_of("003", "{\"code_length\":6,\"phone\":\"+1415\"}", d);
	ck_assert(memcmp(a, d, IDEM_FP_LEN) != 0);
}
END_TEST

START_TEST(fresh)
{
	ck_assert_int_eq(idem_fresh(1000, 1000), 1);
	ck_assert_int_eq(idem_fresh(1000, 1000 + IDEM_TTL - 1), 1);
	ck_assert_int_eq(idem_fresh(1000, 1000 + IDEM_TTL), 0);
	/* A clock set back keeps the answer. */
	ck_assert_int_eq(idem_fresh(1000, 900), 1);
}
END_TEST

START_TEST(record_codec)
{
	struct idem_rec r, out;
	uint8_t *buf;
	size_t len;
	char big[IDEM_BODY_MAX + 2];

	memset(&r, 0, sizeof(r));
	memset(r.fp, 0xab, sizeof(r.fp));
	r.status = 201;
	snprintf(r.id, sizeof(r.id), "ver_0123456789abcdef01234567");
	r.body = "{\"id\":\"x\"}";
	r.body_len = strlen(r.body);
	ck_assert_int_eq(idem_encode(&r, &buf, &len), 0);
	ck_assert_int_eq(idem_decode(buf, len, &out), 0);
	ck_assert_int_eq(out.status, 201);
	ck_assert_str_eq(out.id, r.id);
	ck_assert_str_eq(out.body, r.body);
	ck_assert_mem_eq(out.fp, r.fp, IDEM_FP_LEN);
	idem_rec_clear(&out);
	/* Cut short anywhere, or another format: never misread. */
	for (size_t n = 0; n < 1 + 2 + IDEM_FP_LEN + 1 + strlen(r.id); n++)
		ck_assert_int_eq(idem_decode(buf, n, &out), -1);
	buf[0] = 2;
	ck_assert_int_eq(idem_decode(buf, len, &out), -1);
	free(buf);

	/* No answer yet: an id and no body. */
	r.status = 0;
	r.body = NULL;
	r.body_len = 0;
	ck_assert_int_eq(idem_encode(&r, &buf, &len), 0);
	ck_assert_int_eq(idem_decode(buf, len, &out), 0);
	ck_assert_int_eq(out.status, 0);
	ck_assert_str_eq(out.body, "");
	idem_rec_clear(&out);
	free(buf);

	/* A body over the cap is not kept. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	r.status = 201;
	r.body = big;
	r.body_len = strlen(big);
	ck_assert_int_eq(idem_encode(&r, &buf, &len), -1);
	ck_assert_ptr_null(buf);
}
END_TEST

START_TEST(table)
{
	struct idem_table *t = idem_table_new(3);
	struct idem_entry *e, *e2;
	uint8_t fa[IDEM_FP_LEN], fb[IDEM_FP_LEN];
	int w1, w2, w3;

	memset(fa, 1, sizeof(fa));
	memset(fb, 2, sizeof(fb));
	ck_assert_int_eq(idem_table_join(t, "k", "x", fa, NULL, &e),
	    IDEM_LEADER);
	ck_assert_int_eq(idem_table_join(t, "k", "x", fa, &w1, &e2),
	    IDEM_FOLLOWER);
	ck_assert_ptr_eq(e, e2);
	ck_assert_int_eq(idem_table_join(t, "k", "x", fb, &w2, &e2),
	    IDEM_MISMATCH);
	/* Another key name is another entry. */
	ck_assert_int_eq(idem_table_join(t, "k2", "x", fb, NULL, &e2),
	    IDEM_LEADER);
	ck_assert_int_eq(idem_table_count(t), 3);
	/* At the cap: neither a leader nor a follower gets in. */
	ck_assert_int_eq(idem_table_join(t, "k", "y", fa, NULL, &e2),
	    IDEM_FULL);
	ck_assert_int_eq(idem_table_join(t, "k", "x", fa, &w3, &e2),
	    IDEM_FULL);
	ck_assert_ptr_eq(idem_entry_waiter(e, 0), &w1);
	ck_assert_ptr_null(idem_entry_waiter(e, 1));
	/* The leader and its follower leave together. */
	idem_table_remove(t, e);
	ck_assert_int_eq(idem_table_count(t), 1);
	ck_assert_int_eq(idem_table_join(t, "k", "x", fb, NULL, &e),
	    IDEM_LEADER);
	idem_table_set_cap(t, 2);
	ck_assert_int_eq(idem_table_join(t, "k", "z", fb, NULL, &e2),
	    IDEM_FULL);
	idem_table_free(t);
}
END_TEST

/* ---- store_idem.c ---------------------------------------------------- */

static struct store *
store_in(struct event_base *base)
{
	char path[400], *err = NULL;
	struct store *st;

	snprintf(path, sizeof(path), "%s/db", H.dir);
	st = store_open(base, path, 16 << 20, &err);
	ck_assert_msg(st != NULL, "store_open: %s", err ? err : "?");
	return st;
}

START_TEST(store_put_get_prune)
{
	struct event_base *base = event_base_new();
	struct store *st = store_in(base);
	uint8_t *rec;
	size_t len;
	int64_t at;
	char ikey[16];

	ck_assert_int_eq(store_idem_get(st, "test", "a", &at, &rec, &len),
	    STORE_NOTFOUND);
	ck_assert_int_eq(store_idem_put(st, "test", "a", 1000, "one", 3),
	    STORE_OK);
	/* Staged puts are read back. */
	ck_assert_int_eq(store_idem_get(st, "test", "a", &at, &rec, &len),
	    STORE_OK);
	ck_assert_int_eq(at, 1000);
	ck_assert_int_eq((int)len, 3);
	ck_assert_mem_eq(rec, "one", 3);
	free(rec);
	/* Another key name does not see it. */
	ck_assert_int_eq(store_idem_get(st, "other", "a", &at, &rec, &len),
	    STORE_NOTFOUND);
	ck_assert_int_eq(store_idem_get(st, "", "a", &at, &rec, &len),
	    STORE_ERR);
	for (int i = 0; i < 40; i++) {
		snprintf(ikey, sizeof(ikey), "k%02d", i);
		/* half of them old, half recent */
		ck_assert_int_eq(store_idem_put(st, "test", ikey,
		    i % 2 ? 5000 : 100, "x", 1), STORE_OK);
	}
	ck_assert_int_eq(store_flush(st), STORE_OK);

	/* Durable: a reopened store has them. */
	store_close(st);
	st = store_in(base);
	ck_assert_int_eq(store_idem_get(st, "test", "a", &at, &rec, &len),
	    STORE_OK);
	free(rec);

	/* The prune drops what was made before its time, a bounded number
	 * per call, and gets round to all of them. */
	ck_assert_int_eq(store_idem_prune(st, 2000, 5), 5);
	int total = 5;
	for (int i = 0; i < 20; i++) {
		int n = store_idem_prune(st, 2000, 5);
		ck_assert_int_ge(n, 0);
		ck_assert_int_le(n, 5);
		total += n;
	}
	ck_assert_int_eq(store_flush(st), STORE_OK);
	/* "a" (1000) and the 20 at 100 went; the 20 at 5000 stay. */
	ck_assert_int_eq(total, 21);
	ck_assert_int_eq(store_idem_get(st, "test", "a", &at, &rec, &len),
	    STORE_NOTFOUND);
	ck_assert_int_eq(store_idem_get(st, "test", "k00", &at, &rec, &len),
	    STORE_NOTFOUND);
	ck_assert_int_eq(store_idem_get(st, "test", "k01", &at, &rec, &len),
	    STORE_OK);
	free(rec);
	ck_assert_int_eq(store_idem_prune(st, 2000, 100), 0);
	store_close(st);
	event_base_free(base);
}
END_TEST

/* ---- end to end ---------------------------------------------------- */

/* POST path with an Idempotency-Key header (hdr: whole header lines). */
static int
post(const char *path, const char *hdr, const char *body, char *out,
    size_t size)
{
	return h_req_finish(h_req_start(&H, "POST", path, H_TOKEN, hdr, body),
	    out, size, 20000);
}

/* The value of a /metrics sample (name with labels, as printed). */
static long long
metric(const char *name)
{
	char out[65536], pat[160], *p;

	ck_assert_int_eq(h_http(&H, "GET", "/metrics", NULL, NULL, NULL, out,
	    sizeof(out)), 200);
	snprintf(pat, sizeof(pat), "\n%s ", name);
	p = strstr(out, pat);
	ck_assert_msg(p != NULL, "no %s in /metrics", name);
	return atoll(p + strlen(pat));
}

START_TEST(same_key_same_answer)
{
	char a[4096], b[4096], c[4096], body[128];
	json_t *j;

	h_start_all(&H);
	snprintf(body, sizeof(body), "{\"phone\": \"%s\"}", PHONE);
	ck_assert_int_eq(post(SEND, KEYHDR("order-1"), body, a, sizeof(a)),
	    201);
	ck_assert_int_eq(h_wait_sms(&H, PHONE, 1, NULL, 0, H_SMS_WAIT_MS), 0);
	/* The same request again, its fields in another order: the first
	 * answer, byte for byte, and nothing sent. */
	ck_assert_int_eq(post(SEND, KEYHDR("order-1"),
	    "{ \"phone\" : \"" PHONE "\" }", b, sizeof(b)), 201);
	ck_assert_str_eq(a, b);
	j = json_loads(a, 0, NULL);
	ck_assert_str_eq(h_jstr(j, "status"), "sent");
	json_decref(j);
	/* Another key makes another verification (another id). */
	ck_assert_int_eq(post(SEND, KEYHDR("order-2"), "{\"phone\": \""
	    PHONE2 "\"}", c, sizeof(c)), 201);
	ck_assert_str_ne(a, c);
	ck_assert_int_eq(h_wait_sms(&H, PHONE2, 1, NULL, 0, H_SMS_WAIT_MS),
	    0);
	ck_assert_int_eq(h_wait_idle(&H, H_STATE_WAIT_MS), 0);
	ck_assert_int_eq(h_count_sms(&H, PHONE), 1);
	ck_assert_int_eq(metric("smsverify_idempotent_replays_total"), 1);
	ck_assert_int_eq(metric("smsverify_sends_total"), 2);
}
END_TEST

START_TEST(mismatch_and_bad_header)
{
	char out[4096], hdr[400];
	json_t *j;

	h_start_all(&H);
	ck_assert_int_eq(post(SEND, KEYHDR("k1"), "{\"phone\":\"" PHONE "\"}",
	    out, sizeof(out)), 201);
	/* The same key with another body: 422, naming the header. */
	ck_assert_int_eq(post(SEND, KEYHDR("k1"), "{\"phone\":\"" PHONE2
	    "\"}", out, sizeof(out)), 422);
	j = json_loads(out, 0, NULL);
	ck_assert_str_eq(h_jstr(json_object_get(j, "error"), "code"),
	    "idempotency_mismatch");
	ck_assert_str_eq(h_jstr(json_object_get(j, "error"), "field"),
	    "Idempotency-Key");
	json_decref(j);
	/* The same key on seed 003's send is another request too. */
	ck_assert_int_eq(post("/v1/sms/verify/send", KEYHDR("k1"),
	    "{\"phone\":\"" PHONE "\"}", out, sizeof(out)), 422);
	ck_assert_int_eq(metric("smsverify_idempotency_mismatches_total"), 2);
	/* Nothing reached PHONE2. */
	ck_assert_int_eq(h_count_sms(&H, PHONE2), 0);

	/* Over 255 characters: 400 naming the header, nothing sent. */
	memset(hdr, 0, sizeof(hdr));
	strcpy(hdr, "Idempotency-Key: ");
	memset(hdr + strlen(hdr), 'x', 256);
	strcat(hdr, "\r\n");
	ck_assert_int_eq(post(SEND, hdr, "{\"phone\":\"" PHONE2 "\"}", out,
	    sizeof(out)), 400);
	j = json_loads(out, 0, NULL);
	ck_assert_str_eq(h_jstr(json_object_get(j, "error"), "code"),
	    "invalid_header");
	ck_assert_str_eq(h_jstr(json_object_get(j, "error"), "field"),
	    "Idempotency-Key");
	json_decref(j);
	/* Empty: the same. */
	ck_assert_int_eq(post(SEND, "Idempotency-Key: \r\n",
	    "{\"phone\":\"" PHONE2 "\"}", out, sizeof(out)), 400);
	ck_assert_int_eq(h_wait_idle(&H, H_STATE_WAIT_MS), 0);
	ck_assert_int_eq(h_count_sms(&H, PHONE2), 0);
	ck_assert_int_eq(h_count_sms(&H, PHONE), 1);
}
END_TEST

/* A failed send keeps nothing: the key may be used again, and a fixed
 * request then goes through. */
START_TEST(failure_not_kept)
{
	char out[4096];

	h_start_all(&H);
	ck_assert_int_eq(post(SEND, KEYHDR("f1"), "{\"phone\":\"12\"}", out,
	    sizeof(out)), 422);
	ck_assert_int_eq(post(SEND, KEYHDR("f1"), "{\"phone\":\"12\"}", out,
	    sizeof(out)), 422);
	ck_assert_int_eq(post(SEND, KEYHDR("f1"), "{\"phone\":\"" PHONE "\"}",
	    out, sizeof(out)), 201);
	ck_assert_int_eq(h_wait_sms(&H, PHONE, 1, NULL, 0, H_SMS_WAIT_MS), 0);
}
END_TEST

/* Wait (bounded) until /metrics shows n sends with an Idempotency-Key in
 * flight. */
static void
wait_inflight(int n)
{
	long long end = h_now_ms() + H_STATE_WAIT_MS;

	while (metric("smsverify_idempotency_inflight") != n) {
		ck_assert_msg(h_now_ms() < end, "never %d in flight", n);
		h_nap_ms(20);
	}
}

/* Retries that come while the first is surely in flight (the simulator
 * holds its submit_sm_resp) wait for it and get its answer; one message
 * reaches the handset. */
static void
retry_round(const char *path, const char *phone, int want)
{
	char out[4][4096], body[64];
	int fd[4];

	snprintf(H.sim_args, sizeof(H.sim_args), "--hold-resp");
	H.submit_wait_ms = 30000;
	h_start_all(&H);
	snprintf(body, sizeof(body), "{\"phone\":\"%s\"}", phone);
	fd[0] = h_req_start(&H, "POST", path, H_TOKEN, KEYHDR("r1"), body);
	ck_assert_int_ge(fd[0], 0);
	/* The submit is at the simulator, its answer held. */
	ck_assert_int_eq(h_wait_sms(&H, phone, 1, NULL, 0, H_SMS_WAIT_MS), 0);
	wait_inflight(1);
	for (int i = 1; i < 4; i++) {
		fd[i] = h_req_start(&H, "POST", path, H_TOKEN, KEYHDR("r1"),
		    body);
		ck_assert_int_ge(fd[i], 0);
	}
	wait_inflight(4);
	ck_assert_int_eq(kill(H.sim_pid, SIGUSR1), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(h_req_finish(fd[i], out[i], sizeof(out[i]),
		    20000), want);
	for (int i = 1; i < 4; i++)
		ck_assert_str_eq(out[i], out[0]);
	wait_inflight(0);
	ck_assert_int_eq(h_wait_idle(&H, H_STATE_WAIT_MS), 0);
	ck_assert_int_eq(h_count_sms(&H, phone), 1);
	ck_assert_int_eq(metric("smsverify_idempotent_replays_total"), 3);
	ck_assert_int_eq(metric("smsverify_sends_total"), 1);
}

START_TEST(retry_waits_for_first)
{
	retry_round(SEND, PHONE, 201);
}
END_TEST

/* Seed 003's send, the same way. */
START_TEST(retry_waits_for_first_003)
{
	retry_round("/v1/sms/verify/send", PHONE2, 200);
}
END_TEST

/* [server] idempotency_inflight caps the table: past it, 503 with
 * Retry-After, nothing sent; the table empties when the first answers. */
START_TEST(inflight_cap)
{
	char out[3][4096];
	int fd[2];

	snprintf(H.sim_args, sizeof(H.sim_args), "--hold-resp");
	snprintf(H.server_extra, sizeof(H.server_extra),
	    "idempotency_inflight = 2\n");
	H.submit_wait_ms = 30000;
	h_start_all(&H);
	fd[0] = h_req_start(&H, "POST", SEND, H_TOKEN, KEYHDR("c1"),
	    "{\"phone\":\"" PHONE "\"}");
	ck_assert_int_eq(h_wait_sms(&H, PHONE, 1, NULL, 0, H_SMS_WAIT_MS), 0);
	fd[1] = h_req_start(&H, "POST", SEND, H_TOKEN, KEYHDR("c1"),
	    "{\"phone\":\"" PHONE "\"}");
	wait_inflight(2);
	/* A third retry, and another key: both refused at the cap. */
	ck_assert_int_eq(post(SEND, KEYHDR("c1"), "{\"phone\":\"" PHONE "\"}",
	    out[2], sizeof(out[2])), 503);
	ck_assert_ptr_nonnull(strstr(out[2], "idempotency_busy"));
	ck_assert_int_eq(post(SEND, KEYHDR("c2"), "{\"phone\":\"" PHONE2
	    "\"}", out[2], sizeof(out[2])), 503);
	ck_assert_ptr_nonnull(strstr(out[2], "idempotency_busy"));
	ck_assert_int_ge(metric("smsverify_idempotency_busy_total"), 2);
	ck_assert_int_eq(kill(H.sim_pid, SIGUSR1), 0);
	ck_assert_int_eq(h_req_finish(fd[0], out[0], sizeof(out[0]), 20000),
	    201);
	ck_assert_int_eq(h_req_finish(fd[1], out[1], sizeof(out[1]), 20000),
	    201);
	ck_assert_str_eq(out[0], out[1]);
	wait_inflight(0);
	ck_assert_int_eq(h_count_sms(&H, PHONE), 1);
}
END_TEST

/* The kept answers survive a restart, and a crash too. */
START_TEST(restart_keeps_answers)
{
	char a[4096], b[4096];

	h_start_all(&H);
	ck_assert_int_eq(post(SEND, KEYHDR("s1"), "{\"phone\":\"" PHONE "\"}",
	    a, sizeof(a)), 201);
	ck_assert_int_eq(h_wait_sms(&H, PHONE, 1, NULL, 0, H_SMS_WAIT_MS), 0);
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
	ck_assert_msg(h_daemon_start(&H, 1) == 0, "smsverifyd did not come "
	    "back (see %s)", H.daemon_log);
	ck_assert_int_eq(post(SEND, KEYHDR("s1"), "{\"phone\":\"" PHONE "\"}",
	    b, sizeof(b)), 201);
	ck_assert_str_eq(a, b);
	h_daemon_stop(&H, SIGKILL);
	ck_assert_msg(h_daemon_start(&H, 1) == 0, "smsverifyd did not come "
	    "back (see %s)", H.daemon_log);
	ck_assert_int_eq(post(SEND, KEYHDR("s1"), "{\"phone\":\"" PHONE "\"}",
	    b, sizeof(b)), 201);
	ck_assert_str_eq(a, b);
	ck_assert_int_eq(h_wait_idle(&H, H_STATE_WAIT_MS), 0);
	ck_assert_int_eq(h_count_sms(&H, PHONE), 1);
}
END_TEST

/* The daemon dies after the verification and its key's record committed
 * but before the answer was kept (the first request never got one): the
 * retry after the restart gets that verification, as it is now, and makes
 * no other. */
START_TEST(crash_before_answer_kept)
{
	char out[4096], id[64];
	json_t *j, *v;
	long long end;
	int fd;

	snprintf(H.sim_args, sizeof(H.sim_args), "--hold-resp");
	H.submit_wait_ms = 30000;
	h_start_all(&H);
	fd = h_req_start(&H, "POST", SEND, H_TOKEN, KEYHDR("x1"),
	    "{\"phone\":\"" PHONE "\"}");
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(h_wait_sms(&H, PHONE, 1, NULL, 0, H_SMS_WAIT_MS), 0);
	/* Committed (the record with it, in its batch), not yet answered. */
	for (end = h_now_ms() + H_STATE_WAIT_MS;
	    metric("smsverify_store_verifications") != 1;) {
		ck_assert_msg(h_now_ms() < end, "the send never committed");
		h_nap_ms(20);
	}
	h_daemon_stop(&H, SIGKILL);
	ck_assert_int_eq(h_req_finish(fd, out, sizeof(out), 5000), -1);
	ck_assert_int_eq(kill(H.sim_pid, SIGUSR1), 0);   /* end the hold */
	ck_assert_msg(h_daemon_start(&H, 1) == 0, "smsverifyd did not come "
	    "back (see %s)", H.daemon_log);
	ck_assert_int_eq(post(SEND, KEYHDR("x1"), "{\"phone\":\"" PHONE "\"}",
	    out, sizeof(out)), 201);
	j = json_loads(out, 0, NULL);
	snprintf(id, sizeof(id), "%s", h_jstr(j, "id"));
	ck_assert_str_eq(h_jstr(j, "phone"), PHONE);
	json_decref(j);
	v = h_get_verif(&H, id);
	ck_assert_str_eq(h_jstr(v, "status"), "pending");
	json_decref(v);
	ck_assert_int_eq(metric("smsverify_sends_total"), 0);
	ck_assert_int_eq(metric("smsverify_idempotent_replays_total"), 1);
}
END_TEST

static Suite *
idem_suite(void)
{
	Suite *s = suite_create("idem");
	TCase *tc = tcase_create("pure");
	const struct h_test tests[] = {
		{ "store_put_get_prune", store_put_get_prune, 1 },
		{ "same_key_same_answer", same_key_same_answer, 1 },
		{ "mismatch_and_bad_header", mismatch_and_bad_header, 1 },
		{ "failure_not_kept", failure_not_kept, 1 },
		{ "retry_waits_for_first", retry_waits_for_first, 1 },
		{ "retry_waits_for_first_003", retry_waits_for_first_003, 1 },
		{ "inflight_cap", inflight_cap, 1 },
		{ "restart_keeps_answers", restart_keeps_answers, 1 },
		{ "crash_before_answer_kept", crash_before_answer_kept, 1 },
	};

	tcase_add_test(tc, key_valid);
	tcase_add_test(tc, fingerprint);
	tcase_add_test(tc, fresh);
	tcase_add_test(tc, record_codec);
	tcase_add_test(tc, table);
	suite_add_tcase(s, tc);
	h_add_tests(s, tests, sizeof(tests) / sizeof(tests[0]), setup,
	    teardown);
	return s;
}

int
main(void)
{
	return h_run_suite(idem_suite());
}
