/*
 * check_redis_e2e.c - two smsverifyd nodes on one Redis ([store] backend
 * = redis), each with its own LMDB replica and its own SMSC simulator (two
 * binds to one carrier: both name it "sim"), sharing the secret: a code
 * sent through A is checked on B; a receipt for A's submit that comes in
 * on B's bind updates the verification; 50 sends to one number split over
 * both nodes at once leave one pending verification whose code is the one
 * that approves; every verification A acknowledged is checkable on B
 * after A is killed -9; Redis killed and back: 503 while it is away, no
 * acknowledged verification lost, sends again within seconds; the Redis
 * password rotated with a SIGHUP, no restart.
 *
 * Redis is Debian's redis-server (tests/redis_srv.c: loopback, appendonly
 * yes, appendfsync always); without it the suite is skipped (77).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "harness.h"
#include "redis_srv.h"

#define NSEND 50

static struct harness A, B;
static struct redis_srv R;

static void
node_conf(struct harness *h, const char *node)
{
	snprintf(h->store_extra, sizeof(h->store_extra),
	    "backend = redis\nredis = %s\nredis_prefix = e2e\nnode = %s\n",
	    R.tcp, node);
}

static void
setup(void)
{
	ck_assert_int_eq(h_init(&A), 0);
	ck_assert_int_eq(h_init(&B), 0);
	redis_srv_start(&R, A.dir, NULL);
	node_conf(&A, "a");
	node_conf(&B, "b");
}

static void
teardown(void)
{
	h_fini(&A);
	h_fini(&B);
	redis_srv_kill(&R);
}

/* Both nodes up, B with A's secret (a code is an HMAC under it). */
static void
start_both(void)
{
	char cmd[800];

	h_start_all(&A);
	snprintf(cmd, sizeof(cmd), "cp '%s/secret' '%s/secret'", A.dir,
	    B.dir);
	ck_assert_int_eq(system(cmd), 0);
	h_start_all(&B);
}

/* Graceful stops, checked: the shutdown path under the sanitizers. */
static void
stop_both(void)
{
	ck_assert_int_eq(h_daemon_stop(&A, SIGTERM), 0);
	ck_assert_int_eq(h_daemon_stop(&B, SIGTERM), 0);
}

START_TEST(send_on_a_check_on_b)
{
	char id[64], code[16], wrong[16];
	json_t *j;
	int status;

	start_both();
	json_decref(h_send_code(&A, "+14155550101", id, sizeof(id), 201));
	h_read_code(A.handset, "+14155550101", 1, code, sizeof(code));
	snprintf(wrong, sizeof(wrong), "%06d", (atoi(code) + 1) % 1000000);
	/* A wrong code on B costs an attempt, which A sees. */
	j = h_check(&B, id, wrong, &status);
	ck_assert_int_eq(status, 200);
	ck_assert(json_is_false(json_object_get(j, "valid")));
	ck_assert_int_eq(json_integer_value(json_object_get(j,
	    "attempts_left")), 4);
	json_decref(j);
	j = h_check(&A, id, wrong, &status);
	ck_assert_int_eq(json_integer_value(json_object_get(j,
	    "attempts_left")), 3);
	json_decref(j);
	/* The right code approves on B, once; A then says approved. */
	ck_assert_int_eq(h_code_valid(&B, id, code), 1);
	ck_assert_int_eq(h_code_valid(&A, id, code), 0);
	j = h_get_verif(&A, id);
	ck_assert_str_eq(h_jstr(j, "status"), "approved");
	json_decref(j);
	/* And by phone on B, for a code sent on A. */
	json_decref(h_send_code(&A, "+14155550102", id, sizeof(id), 201));
	h_read_code(A.handset, "+14155550102", 1, code, sizeof(code));
	{
		char body[128];

		snprintf(body, sizeof(body), "{\"phone\": \"+14155550102\", "
		    "\"code\": \"%s\"}", code);
		j = h_json(&B, "POST", "/v1/verifications/check", body,
		    &status);
		ck_assert_int_eq(status, 200);
		ck_assert(json_is_true(json_object_get(j, "valid")));
		json_decref(j);
	}
	stop_both();
}
END_TEST

/* Webhook events of verification id and type that the sink took. */
static int
hook_count(const char *type, const char *id)
{
	json_t *lines = h_handset_read(A.hook_log), *l, *ev;
	size_t i;
	int n = 0;

	json_array_foreach(lines, i, l) {
		ev = json_loads(h_jstr(l, "body"), 0, NULL);
		if (ev != NULL && h_jstr(ev, "type") != NULL &&
		    strcmp(h_jstr(ev, "type"), type) == 0 &&
		    h_jstr(json_object_get(ev, "data"), "id") != NULL &&
		    strcmp(h_jstr(json_object_get(ev, "data"), "id"), id) == 0)
			n++;
		json_decref(ev);
	}
	json_decref(lines);
	return n;
}

static void
hook_wait(const char *type, const char *id)
{
	long long end = h_now_ms() + H_STATE_WAIT_MS;

	while (hook_count(type, id) == 0) {
		ck_assert_msg(h_now_ms() < end, "no %s event for %s", type, id);
		h_nap_ms(50);
	}
}

/* A later event of type from each node (a send to pa on A, to pb on B),
 * waited for: a node delivers its own events in order, so a second copy
 * of an earlier one would have come before these. */
static void
later_events(const char *type, const char *pa, const char *pb)
{
	char ia[64], ib[64];

	json_decref(h_send_code(&A, pa, ia, sizeof(ia), 201));
	json_decref(h_send_code(&B, pb, ib, sizeof(ib), 201));
	hook_wait(type, ia);
	hook_wait(type, ib);
}

/* Each event is POSTed once, by the node that made it: both nodes see
 * every event in their replicas, and deliver their own only. */
START_TEST(webhooks_once)
{
	char id[64], code[16];

	ck_assert_int_eq(h_hook_start(&A, ""), 0);
	snprintf(A.key_extra, sizeof(A.key_extra), "webhook = "
	    "http://127.0.0.1:%d/hook\nwebhook_secret = "
	    "0123456789abcdef0123456789abcdef\n", A.hook_port);
	memcpy(B.key_extra, A.key_extra, sizeof(B.key_extra));
	start_both();
	json_decref(h_send_code(&A, "+14155550601", id, sizeof(id), 201));
	h_read_code(A.handset, "+14155550601", 1, code, sizeof(code));
	ck_assert_int_eq(h_code_valid(&B, id, code), 1);
	hook_wait("verification.approved", id);
	later_events("verification.sent", "+14155550602", "+14155550603");
	ck_assert_int_eq(hook_count("verification.sent", id), 1);
	ck_assert_int_eq(hook_count("verification.approved", id), 1);
	stop_both();
}
END_TEST

#define OPS_TOKEN "ops-token-0123456789abcdef"

/* GET /v1/shield/+14155550 on h: its "tripped", or its "window"'s
 * "mature" when want_mature. */
static long long
shield_field(struct harness *h, int want_mature)
{
	char out[4096];
	json_t *j;
	long long v;
	int st;

	st = h_http(h, "GET", "/v1/shield/+14155550", NULL, OPS_TOKEN, NULL,
	    out, sizeof(out));
	ck_assert_int_eq(st, 200);
	j = json_loads(out, 0, NULL);
	ck_assert_ptr_nonnull(j);
	v = want_mature ? json_integer_value(json_object_get(
	    json_object_get(j, "window"), "mature")) :
	    json_is_true(json_object_get(j, "tripped"));
	json_decref(j);
	return v;
}

/* A range the shield trips on A is blocked on B too. */
START_TEST(shield_shared)
{
	char body[128], out[2048];
	long long end;
	int i;

	for (i = 0; i < 2; i++)
		snprintf((i ? &B : &A)->extra_conf, sizeof(A.extra_conf),
		    "[key ops]\ntoken = " OPS_TOKEN "\nrole = admin\n"
		    "[route nanp]\nprefix = +1\nsmsc = sim\n"
		    "[shield]\ncountries = US\nconversion_floor = 50\n"
		    "window = 60\ngrace = 0\nmin_sample = 3\n"
		    "cooldown = 600\n");
	start_both();
	for (i = 0; i < 3; i++) {
		snprintf(body, sizeof(body), "{\"phone\": \"+1415555012%d\"}",
		    i);
		json_decref(h_send(&A, body, NULL, 0, 201));
	}
	for (end = h_now_ms() + H_STATE_WAIT_MS; shield_field(&A, 1) < 3;
	    h_nap_ms(100))
		ck_assert_msg(h_now_ms() < end, "never 3 mature sends on A");
	ck_assert_int_eq(h_http(&A, "POST", "/v1/verifications", NULL,
	    H_TOKEN, "{\"phone\": \"+14155550198\"}", out, sizeof(out)),
	    429);
	ck_assert_ptr_nonnull(strstr(out, "range_blocked"));
	/* B made none of those sends: it learns the trip from the store. */
	for (end = h_now_ms() + H_STATE_WAIT_MS; !shield_field(&B, 0);
	    h_nap_ms(100))
		ck_assert_msg(h_now_ms() < end, "B never saw A's trip");
	ck_assert_int_eq(h_http(&B, "POST", "/v1/verifications", NULL,
	    H_TOKEN, "{\"phone\": \"+14155550199\"}", out, sizeof(out)),
	    429);
	ck_assert_ptr_nonnull(strstr(out, "range_blocked"));
	ck_assert_int_eq(h_count_sms(&B, "+14155550199"), 0);
	stop_both();
}
END_TEST

/* A dies with messages queued (its SMSC down) and an event its webhook
 * receiver did not take: once A's lease has run out, B sends the
 * messages (their codes approve) and delivers the event. */
START_TEST(takeover)
{
	char id[64], phone[32], qid[3][64], code[16], text[256];
	long long end;
	json_t *j;
	int i;

	for (i = 0; i < 2; i++) {
		struct harness *h = i ? &B : &A;
		size_t n = strlen(h->store_extra);

		snprintf(h->store_extra + n, sizeof(h->store_extra) - n,
		    "node_lease = 2\n");
		snprintf(h->key_extra, sizeof(h->key_extra), "webhook = "
		    "http://127.0.0.1:%d/hook\nwebhook_secret = "
		    "0123456789abcdef0123456789abcdef\n", A.hook_port);
	}
	A.submit_wait_ms = 300;
	start_both();
	/* The receiver is down: A's event waits in its outbox. */
	json_decref(h_send_code(&A, "+14155550701", id, sizeof(id), 201));
	ck_assert_msg(h_wait_lines(A.daemon_log, "tries=1 ", H_LOG_WAIT_MS) >
	    0, "the event was never tried (see %s)", A.daemon_log);
	/* A's SMSC goes: its sends wait queued. */
	ck_assert_int_eq(h_sim_stop(&A), 0);
	for (end = h_now_ms() + H_STATE_WAIT_MS;; h_nap_ms(50)) {
		char out[2048];

		h_http(&A, "GET", "/healthz", NULL, NULL, NULL, out,
		    sizeof(out));
		if (strstr(out, "\"smscs_up\":0") != NULL)
			break;
		ck_assert_msg(h_now_ms() < end, "A's bind never went down");
	}
	for (i = 0; i < 3; i++) {
		snprintf(phone, sizeof(phone), "+1415555071%d", i);
		j = h_send_code(&A, phone, qid[i], sizeof(qid[i]), 201);
		ck_assert_str_eq(h_jstr(j, "status"), "queued");
		json_decref(j);
	}
	h_daemon_stop(&A, SIGKILL);
	ck_assert_int_eq(h_hook_start(&A, ""), 0);
	/* B takes them over after A's lease (2 s): the codes reach the
	 * handset through B's SMSC and approve. */
	for (i = 0; i < 3; i++) {
		snprintf(phone, sizeof(phone), "+1415555071%d", i);
		ck_assert_msg(h_wait_sms_in(B.handset, phone, 1, text,
		    sizeof(text), H_STATE_WAIT_MS) == 0, "%s never sent by B "
		    "(see %s)", phone, B.daemon_log);
		ck_assert_int_eq(h_code_of(text, code, sizeof(code)), 0);
		ck_assert_int_eq(h_code_valid(&B, qid[i], code), 1);
	}
	hook_wait("verification.sent", id);
	ck_assert_int_eq(hook_count("verification.sent", id), 1);
	ck_assert(h_file_contains(B.daemon_log, "event=store.takeover"));
	{
		static char m[65536];
		const char *t, *n = "\nsmsverify_store_taken_over_total ";

		ck_assert_int_eq(h_http(&B, "GET", "/metrics", NULL, NULL,
		    NULL, m, sizeof(m)), 200);
		ck_assert_ptr_nonnull(strstr(m, "\nsmsverify_redis_up 1\n"));
		t = strstr(m, n);
		ck_assert_ptr_nonnull(t);
		ck_assert_int_ge(atoi(t + strlen(n)), 4); /* 3 queued, 1 event */
	}
	ck_assert_int_eq(h_daemon_stop(&B, SIGTERM), 0);
}
END_TEST

/* The rest of what is shared: a code that expires is expired once (both
 * gateways sweep; its webhook goes out once), an Idempotency-Key used on
 * A answers the same on B and sends nothing, and B's statistics count
 * what went through A (each counts in rows of its own). */
START_TEST(shared_rest)
{
	char id[64], a1[2048], b1[2048];
	char out[8192], hdr[128];
	long long end;
	int fd;
	json_t *j, *r;
	size_t i;

	ck_assert_int_eq(h_hook_start(&A, ""), 0);
	for (i = 0; i < 2; i++) {
		struct harness *h = i ? &B : &A;

		snprintf(h->key_extra, sizeof(h->key_extra), "webhook = "
		    "http://127.0.0.1:%d/hook\nwebhook_secret = "
		    "0123456789abcdef0123456789abcdef\n", A.hook_port);
		h->expiry = 2;
	}
	start_both();
	/* Expiry: both sweeps see it, one wins. */
	json_decref(h_send_code(&A, "+14155550801", id, sizeof(id), 201));
	hook_wait("verification.expired", id);
	later_events("verification.expired", "+14155550802", "+14155550803");
	ck_assert_int_eq(hook_count("verification.expired", id), 1);
	/* Idempotency-Key: the first answer again, on the other gateway. */
	snprintf(hdr, sizeof(hdr), "Idempotency-Key: k-shared-1\r\n");
	fd = h_req_start(&A, "POST", "/v1/verifications", H_TOKEN, hdr,
	    "{\"phone\": \"+14155550804\"}");
	ck_assert_int_eq(h_req_finish(fd, a1, sizeof(a1), 30000), 201);
	fd = h_req_start(&B, "POST", "/v1/verifications", H_TOKEN, hdr,
	    "{\"phone\": \"+14155550804\"}");
	ck_assert_int_eq(h_req_finish(fd, b1, sizeof(b1), 30000), 201);
	ck_assert_str_eq(a1, b1);
	ck_assert_int_eq(h_count_sms(&A, "+14155550804") +
	    h_count_sms(&B, "+14155550804"), 1);
	/* Statistics: B counts A's sends (3 through A, 1 through B). */
	for (end = h_now_ms() + H_STATE_WAIT_MS;; h_nap_ms(100)) {
		ck_assert_int_eq(h_http(&B, "GET", "/v1/stats?by=smsc", NULL,
		    H_TOKEN, NULL, out, sizeof(out)), 200);
		j = json_loads(out, 0, NULL);
		ck_assert_ptr_nonnull(j);
		r = json_array_get(json_object_get(j, "rows"), 0);
		if (r != NULL && json_integer_value(json_object_get(r,
		    "sends")) == 4) {
			json_decref(j);
			break;
		}
		json_decref(j);
		ck_assert_msg(h_now_ms() < end, "B never counted 4 sends: %s",
		    out);
	}
	stop_both();
}
END_TEST

/* Test mode's captures are in the store too: a send to a test number
 * through A is read on B (GET /v1/test/messages), and its fixed code
 * approves there. */
START_TEST(test_capture_shared)
{
	char id[64], out[8192];
	long long end;
	int i;

	for (i = 0; i < 2; i++)
		snprintf((i ? &B : &A)->extra_conf, sizeof(A.extra_conf),
		    "[key ops]\ntoken = " OPS_TOKEN "\nrole = admin\n"
		    "[test ok]\nnumbers = +14155550901\ncode = 246810\n");
	start_both();
	json_decref(h_send_code(&A, "+14155550901", id, sizeof(id), 201));
	for (end = h_now_ms() + H_STATE_WAIT_MS;; h_nap_ms(50)) {
		ck_assert_int_eq(h_http(&B, "GET",
		    "/v1/test/messages?phone=%2B14155550901", NULL, OPS_TOKEN,
		    NULL, out, sizeof(out)), 200);
		if (strstr(out, id) != NULL)
			break;
		ck_assert_msg(h_now_ms() < end, "B never showed %s: %s", id,
		    out);
	}
	ck_assert_ptr_nonnull(strstr(out, "246810"));
	ck_assert_int_eq(h_count_sms(&A, "+14155550901"), 0);
	ck_assert_int_eq(h_code_valid(&B, id, "246810"), 1);
	stop_both();
}
END_TEST

/* A's simulator sends no receipts; B's sends the one for A's submit. */
START_TEST(receipt_on_b)
{
	char id[64], mo[240], line[512], msgid[80];
	json_t *j, *a;
	FILE *f;

	snprintf(A.sim_args, sizeof(A.sim_args), "--dlr none");
	ck_assert_int_lt(snprintf(mo, sizeof(mo), "%s/mo.jsonl", B.dir),
	    (int)sizeof(mo));
	ck_assert_int_lt(snprintf(B.sim_args, sizeof(B.sim_args),
	    "--dlr none --mo %s", mo), (int)sizeof(B.sim_args));
	start_both();
	json_decref(h_send_code(&A, "+14155550201", id, sizeof(id), 201));
	j = h_get_verif(&A, id);
	a = json_array_get(json_object_get(j, "attempts"), 0);
	ck_assert_ptr_nonnull(a);
	snprintf(msgid, sizeof(msgid), "%s", h_jstr(a, "message_id"));
	ck_assert_str_eq(h_jstr(a, "delivery"), "pending");
	json_decref(j);
	snprintf(line, sizeof(line), "{\"receipt\": \"%s\", \"from\": "
	    "\"14155550201\", \"to\": \"Verify\"}\n", msgid);
	ck_assert_ptr_nonnull(f = fopen(mo, "w"));
	fputs(line, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(kill(B.sim_pid, SIGUSR2), 0);
	/* Applied on B, seen on A. */
	h_wait_delivery(&A, id, "delivered");
	stop_both();
}
END_TEST

/* 50 sends to one number at once, split over both nodes. */
START_TEST(fifty_split)
{
	char body[128], out[2048], id[NSEND][64], pending[64] = "", code[16];
	int fd[NSEND], http, i, n201 = 0, npending = 0, approved = 0;
	json_t *j;

	A.max_checks = B.max_checks = 100;
	for (i = 0; i < 2; i++)
		snprintf((i ? &B : &A)->extra_conf, sizeof(A.extra_conf),
		    "[limits]\nresend_interval = 0\nsends_per_phone = 0\n"
		    "sends_per_ip = 0\nsends_per_range = 0\n"
		    "failed_checks_per_phone = 0\n");
	start_both();
	snprintf(body, sizeof(body), "{\"phone\": \"+14155550301\"}");
	for (i = 0; i < NSEND; i++) {
		fd[i] = h_req_start(i % 2 ? &B : &A, "POST",
		    "/v1/verifications", H_TOKEN, NULL, body);
		ck_assert_int_ge(fd[i], 0);
	}
	for (i = 0; i < NSEND; i++) {
		id[i][0] = '\0';
		http = h_req_finish(fd[i], out, sizeof(out), 30000);
		if (http != 201) {
			/* A send that lost the race on the other node is
			 * refused whole: nothing stored, nothing sent. */
			ck_assert_int_eq(http, 503);
			continue;
		}
		n201++;
		j = json_loads(out, 0, NULL);
		ck_assert_ptr_nonnull(j);
		snprintf(id[i], sizeof(id[i]), "%s", h_jstr(j, "id"));
		json_decref(j);
	}
	/* A send refused for a conflict runs again (http_again()): without
	 * that, alternating nodes lose every other one. */
	fprintf(stderr, "fifty_split: %d of %d answered 201, the others 503\n",
	    n201, NSEND);
	ck_assert_int_gt(n201, NSEND / 2);
	for (i = 0; i < NSEND; i++) {
		if (id[i][0] == '\0')
			continue;
		j = h_get_verif(i % 2 ? &A : &B, id[i]);
		if (strcmp(h_jstr(j, "status"), "pending") == 0) {
			npending++;
			snprintf(pending, sizeof(pending), "%.63s", id[i]);
		} else {
			ck_assert_str_eq(h_jstr(j, "status"), "canceled");
		}
		json_decref(j);
	}
	ck_assert_int_eq(npending, 1);
	/* Of every code either handset got, exactly one approves it. */
	for (int s = 0; s < 2; s++) {
		struct harness *h = s ? &B : &A;
		int got = h_count_sms(h, "+14155550301");

		for (i = 1; i <= got; i++) {
			h_read_code(h->handset, "+14155550301", i, code,
			    sizeof(code));
			if (h_code_valid(s ? &A : &B, pending, code))
				approved++;
		}
	}
	ck_assert_int_eq(approved, 1);
	j = h_get_verif(&A, pending);
	ck_assert_str_eq(h_jstr(j, "status"), "approved");
	json_decref(j);
	stop_both();
}
END_TEST

/* Every verification A answered 201 for is checkable on B after A dies,
 * killed -9 with 30 sends in flight. */
#define KILL_N 40
START_TEST(kill_a)
{
	char id[KILL_N][64], phone[32], code[16], body[64], out[2048];
	int fd[KILL_N], i, http, acked = 0;
	json_t *j;

	start_both();
	for (i = 0; i < KILL_N; i++) {
		snprintf(body, sizeof(body), "{\"phone\": \"+141555504%02d\"}",
		    i);
		fd[i] = h_req_start(&A, "POST", "/v1/verifications", H_TOKEN,
		    NULL, body);
		ck_assert_int_ge(fd[i], 0);
	}
	for (i = 0; i < KILL_N; i++) {
		if (i == 10)
			h_daemon_stop(&A, SIGKILL);
		id[i][0] = '\0';
		http = h_req_finish(fd[i], out, sizeof(out), 30000);
		if (http != 201)
			continue;       /* cut off by the kill: no promise */
		j = json_loads(out, 0, NULL);
		ck_assert_ptr_nonnull(j);
		snprintf(id[i], sizeof(id[i]), "%s", h_jstr(j, "id"));
		json_decref(j);
		acked++;
	}
	ck_assert_int_ge(acked, 10);
	for (i = 0; i < KILL_N; i++) {
		if (id[i][0] == '\0')
			continue;
		snprintf(phone, sizeof(phone), "+141555504%02d", i);
		h_read_code(A.handset, phone, 1, code, sizeof(code));
		ck_assert_msg(h_code_valid(&B, id[i], code), "%s lost", id[i]);
	}
	fprintf(stderr, "kill_a: %d of %d acknowledged before the kill, all "
	    "checkable on B\n", acked, KILL_N);
	ck_assert_int_eq(h_daemon_stop(&B, SIGTERM), 0);
}
END_TEST

/* Redis killed under load (30 sends in flight over both nodes): the
 * sends answer 201 or 503, none hangs; while it is away a send answers
 * 503 at once and reaches no handset; back (appendfsync always), every
 * acknowledged verification is there and sends are taken again within
 * about 2 s (the reconnect backoff is capped at 1 s). */
#define AWAY_N 30
/* Sends on h answer 201 again within 10 s (503 meanwhile): the
 * milliseconds it took. */
static long long
wait_sends(struct harness *h, const char *phone)
{
	char body[64], out[2048];
	long long t0 = h_now_ms();
	int http;

	snprintf(body, sizeof(body), "{\"phone\": \"%s\"}", phone);
	for (;;) {
		http = h_http(h, "POST", "/v1/verifications",
		    "application/json", H_TOKEN, body, out, sizeof(out));
		if (http == 201)
			return h_now_ms() - t0;
		ck_assert_int_eq(http, 503);
		ck_assert_msg(h_now_ms() - t0 < 10000, "no 201 within 10 s");
		h_nap_ms(20);
	}
}

START_TEST(redis_away)
{
	char id[AWAY_N][64], code[16], out[2048], body[64], phone[32];
	int fd[AWAY_N], i, http, acked = 0, refused = 0;
	long long t0, back;
	json_t *j;

	start_both();
	for (i = 0; i < AWAY_N; i++) {
		snprintf(body, sizeof(body), "{\"phone\": \"+141555505%02d\"}",
		    i);
		fd[i] = h_req_start(i % 2 ? &B : &A, "POST", "/v1/verifications",
		    H_TOKEN, NULL, body);
		ck_assert_int_ge(fd[i], 0);
	}
	for (i = 0; i < AWAY_N; i++) {
		if (i == 3)     /* three answered, the rest in flight */
			redis_srv_kill(&R);
		id[i][0] = '\0';
		http = h_req_finish(fd[i], out, sizeof(out), 30000);
		if (http == 503) {
			refused++;
			continue;
		}
		ck_assert_int_eq(http, 201);
		j = json_loads(out, 0, NULL);
		snprintf(id[i], sizeof(id[i]), "%s", h_jstr(j, "id"));
		json_decref(j);
		acked++;
	}
	t0 = h_now_ms();
	http = h_http(&A, "POST", "/v1/verifications", "application/json",
	    H_TOKEN, "{\"phone\": \"+14155550599\"}", out, sizeof(out));
	ck_assert_int_eq(http, 503);
	ck_assert_ptr_nonnull(strstr(out, "store_"));
	ck_assert_int_lt(h_now_ms() - t0, 5000);
	ck_assert_int_eq(h_count_sms(&A, "+14155550599"), 0);
	/* Not ready, but its SMSC bind stays up. */
	ck_assert_int_eq(h_http(&A, "GET", "/healthz", NULL, NULL, NULL, out,
	    sizeof(out)), 503);
	ck_assert_ptr_nonnull(strstr(out, "\"store_unavailable\""));
	ck_assert_ptr_nonnull(strstr(out, "\"smscs_up\":1"));
	redis_srv_restart(&R);
	back = wait_sends(&B, "+14155550598");
	fprintf(stderr, "redis_away: %d acknowledged, %d refused; sends "
	    "taken again %lld ms after Redis was back\n", acked, refused,
	    back);
	ck_assert_int_lt(back, 3000);
	ck_assert_int_ge(acked, 3);
	for (i = 0; i < AWAY_N; i++) {
		if (id[i][0] == '\0')
			continue;
		snprintf(phone, sizeof(phone), "+141555505%02d", i);
		h_read_code(i % 2 ? B.handset : A.handset, phone, 1, code,
		    sizeof(code));
		ck_assert_msg(h_code_valid(i % 2 ? &A : &B, id[i], code),
		    "%s lost", id[i]);
	}
	stop_both();
}
END_TEST

/* Write text to path (the test fails when it cannot). */
static void
put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

/* The Redis password rotated without a restart: the new one written to
 * redis_password_file, SIGHUP, then Redis told (and its clients dropped):
 * the gateway's next connect authenticates with the new one.  Without
 * the reload that AUTH is refused and every send answers 503 until a
 * restart.  A password file that cannot be read refuses the reload (the
 * old password kept); no password reaches the log. */
START_TEST(password_rotation)
{
	char pf[320], extra[640], cmd[400];
	size_t len;

	redis_srv_kill(&R);
	redis_srv_start(&R, A.dir, "old-secret-1");
	snprintf(pf, sizeof(pf), "%s/redis.pass", A.dir);
	put_file(pf, "old-secret-1\n");
	node_conf(&A, "a");
	len = (size_t)snprintf(extra, sizeof(extra), "%s"
	    "redis_password_file = %s\n", A.store_extra, pf);
	ck_assert_uint_lt(len, sizeof(A.store_extra));
	memcpy(A.store_extra, extra, len + 1);
	h_start_all(&A);
	(void)wait_sends(&A, "+14155550701");

	/* A file that is gone: the reload is refused, naming it. */
	ck_assert_int_eq(unlink(pf), 0);
	ck_assert_int_ne(h_daemon_reload(&A), 0);
	ck_assert(h_file_contains(A.daemon_log, "redis.pass"));

	put_file(pf, "new-secret-2\n");
	ck_assert_int_eq(h_daemon_reload(&A), 0);
	snprintf(cmd, sizeof(cmd), "REDISCLI_AUTH=old-secret-1 redis-cli "
	    "-p %d config set requirepass new-secret-2 >/dev/null && "
	    "REDISCLI_AUTH=new-secret-2 redis-cli -p %d client kill type "
	    "normal >/dev/null", R.port, R.port);
	ck_assert_int_eq(system(cmd), 0);
	(void)wait_sends(&A, "+14155550702");
	ck_assert(!h_file_contains(A.daemon_log, "old-secret-1"));
	ck_assert(!h_file_contains(A.daemon_log, "new-secret-2"));
	ck_assert_int_eq(h_daemon_stop(&A, SIGTERM), 0);
}
END_TEST

int
main(void)
{
	const struct h_test tests[] = {
		{ "send_on_a_check_on_b", send_on_a_check_on_b, 1 },
		{ "receipt_on_b", receipt_on_b, 1 },
		{ "fifty_split", fifty_split, 1 },
		{ "kill_a", kill_a, 1 },
		{ "redis_away", redis_away, 1 },
		{ "webhooks_once", webhooks_once, 1 },
		{ "shield_shared", shield_shared, 1 },
		{ "takeover", takeover, 1 },
		{ "shared_rest", shared_rest, 1 },
		{ "test_capture_shared", test_capture_shared, 1 },
		{ "password_rotation", password_rotation, 1 },
	};
	Suite *s = suite_create("redis_e2e");
	int rc;

	if (!redis_srv_have()) {
		fprintf(stderr, "check_redis_e2e: SKIPPED: %s is missing "
		    "(scripts/bootstrap installs it)\n", REDIS_SERVER);
		return 77;
	}
	h_add_tests(s, tests, sizeof(tests) / sizeof(tests[0]), setup,
	    teardown);
	rc = h_run_suite(s);
	redis_srv_kill_all();
	return rc;
}
