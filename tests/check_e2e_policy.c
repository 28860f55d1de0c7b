/*
 * check_e2e_policy.c - the daemon's policies end to end, as users see
 * them: the shield against SMS pumping (countries, uncovered numbers, a
 * range that trips and reopens), the send and check limits (429 with
 * Retry-After, per client IP, the limits endpoint, counts that survive a
 * kill -9), and test mode (test numbers' outcomes, a test key's capture
 * and long poll).  smsverifyd, the SMSC simulator and hook_sink run as
 * processes on loopback (harness.h); helpers shared with check_e2e are
 * in e2e_util.h.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/wait.h>

#include <check.h>
#include <jansson.h>

#include "e2e_util.h"
#include "harness.h"

/* ---- the shield against SMS pumping ------------------------------------ */

#define OPS_TOKEN "ops-token-0123456789abcdef"
#define OTHER_TOKEN "other-token-0123456789abcdef"
#define RANGE "+14155550"       /* PHONE's, with range_digits 8 */

/* An admin key "ops" with a webhook at /hook-ops, routes for +1 only,
 * [shield] allowing US and GB, and a breaker that trips a range after 3
 * mature sends converting under 50% (grace 0: a send is judged once its
 * 2-second slice is over), for ten minutes. */
static void
shield_conf(void)
{
	snprintf(H.extra_conf, sizeof(H.extra_conf),
	    "[key ops]\ntoken = " OPS_TOKEN "\nrole = admin\n"
	    "webhook = http://127.0.0.1:%d/hook-ops\n"
	    "webhook_secret = " HOOK_SECRET "\n"
	    "[route nanp]\nprefix = +1\nsmsc = sim\n"
	    "[shield]\ncountries = US GB\nconversion_floor = 50\n"
	    "window = 60\ngrace = 0\nmin_sample = 3\ncooldown = 600\n",
	    H.hook_port);
	snprintf(H.key_extra, sizeof(H.key_extra),
	    "webhook = http://127.0.0.1:%d/hook-client\nwebhook_secret = "
	    HOOK_SECRET "\n", H.hook_port);
}

/* The JSON answer of method path as token with body (NULL: none), its
 * status into *st and its Retry-After (0: none) into *retry. */
static json_t *
shield_req(const char *method, const char *path, const char *token,
    const char *body, int *st, int *retry)
{
	static char resp[65536];
	char ra[32];
	const char *b;

	*st = http_raw_body(method, path, token, body, resp, sizeof(resp));
	if (retry != NULL)
		*retry = atoi(h_header_of(resp, "Retry-After", ra,
		    sizeof(ra)));
	b = strstr(resp, "\r\n\r\n");
	return b != NULL ? json_loads(b + 4, 0, NULL) : NULL;
}

/* The error code of an answer ("" when none). */
static const char *
err_code(json_t *j)
{
	return h_jstr(json_object_get(j, "error"), "code");
}

/* Wait (bounded) until the shield counts n mature sends in RANGE. */
static void
wait_mature(int n)
{
	json_t *j, *w;
	int st;

	for (long long end = h_now_ms() + H_STATE_WAIT_MS;; h_nap_ms(100)) {
		j = shield_req("GET", "/v1/shield/" RANGE, OPS_TOKEN, NULL,
		    &st, NULL);
		ck_assert_int_eq(st, 200);
		w = json_object_get(j, "window");
		if (json_integer_value(json_object_get(w, "mature")) >= n) {
			json_decref(j);
			return;
		}
		json_decref(j);
		ck_assert_msg(h_now_ms() < end, "never %d mature sends", n);
	}
}

/* Countries off the allow-list and numbers no route covers, as each API
 * words them; nothing reaches the SMSC. */
START_TEST(shield_refusals)
{
	json_t *j;
	int st, retry;

	ck_assert_int_eq(h_hook_start(&H, ""), 0);
	shield_conf();
	h_start_all(&H);

	j = shield_req("POST", "/v1/verifications", H_TOKEN,
	    "{\"phone\": \"+33612345678\"}", &st, &retry);
	ck_assert_int_eq(st, 422);
	ck_assert_str_eq(err_code(j), "country_not_allowed");
	ck_assert_str_eq(h_jstr(json_object_get(j, "error"), "field"), "phone");
	ck_assert_ptr_nonnull(strstr(h_jstr(json_object_get(j, "error"),
	    "message"), "FR"));
	ck_assert_int_eq(retry, 0);
	json_decref(j);
	j = shield_req("POST", "/v1/verifications", H_TOKEN,
	    "{\"phone\": \"+447400123456\"}", &st, NULL);
	ck_assert_int_eq(st, 422);
	ck_assert_str_eq(err_code(j), "no_route");
	json_decref(j);
	/* seed 000: its api-error, 7 and 9 */
	j = shield_req("POST", "/sms-verify", H_TOKEN,
	    "{\"number\": \"+33612345678\"}", &st, NULL);
	ck_assert_int_eq(st, 422);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "api-error")),
	    7);
	json_decref(j);
	j = shield_req("POST", "/sms-verify", H_TOKEN,
	    "{\"number\": \"+447400123456\"}", &st, NULL);
	ck_assert_int_eq(st, 422);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "api-error")),
	    9);
	json_decref(j);
	/* seed 002: 200 FAIL, reasons 12 and 14 */
	j = shield_req("POST", "/verify/send", H_TOKEN,
	    "{\"to\": \"+33612345678\"}", &st, NULL);
	ck_assert_int_eq(st, 200);
	ck_assert_str_eq(h_jstr(j, "status"), "FAIL");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "reason")), 12);
	json_decref(j);
	j = shield_req("POST", "/verify/send", H_TOKEN,
	    "{\"to\": \"+447400123456\"}", &st, NULL);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "reason")), 14);
	json_decref(j);
	/* seed 003: the native words */
	j = shield_req("POST", "/v1/sms/verify/send", H_TOKEN,
	    "{\"phone\": \"+33612345678\"}", &st, NULL);
	ck_assert_int_eq(st, 422);
	ck_assert_str_eq(err_code(j), "country_not_allowed");
	json_decref(j);
	j = shield_req("POST", "/v1/sms/verify/send", H_TOKEN,
	    "{\"phone\": \"+447400123456\"}", &st, NULL);
	ck_assert_int_eq(st, 422);
	ck_assert_str_eq(err_code(j), "no_route");
	json_decref(j);
	/* An allowed number with a route goes. */
	json_decref(h_send_code(&H, PHONE, NULL, 0, 201));
	ck_assert_int_eq(h_wait_sms(&H, PHONE, 1, NULL, 0, H_SMS_WAIT_MS), 0);
	ck_assert_int_eq(h_count_sms(&H, "+33612345678"), 0);
	ck_assert_int_eq(h_count_sms(&H, "+447400123456"), 0);
}
END_TEST

/*
 * A range trips: three codes to it never checked, then a send answers
 * 429 range_blocked with Retry-After (and each seed API in its shape),
 * admin keys' webhooks get shield.tripped (the client key's do not), the
 * daemon logs it, /metrics counts it, GET /v1/shield lists it (admin
 * only), a restart keeps it blocked, DELETE reopens it.
 */
START_TEST(shield_trips_and_reopens)
{
	static char metrics[65536];
	char body[128], path[64], code[16], id[64];
	json_t *j, *r, *ev, *data;
	int st, retry;

	ck_assert_int_eq(h_hook_start(&H, ""), 0);
	shield_conf();
	h_start_all(&H);

	/* Honest first: a checked code in another range counts for it. */
	json_decref(h_send_code(&H, "+14155551234", id, sizeof(id), 201));
	h_read_code(H.handset, "+14155551234", 1, code, sizeof(code));
	ck_assert(h_code_valid(&H, id, code));
	for (int i = 0; i < 3; i++) {
		snprintf(body, sizeof(body), "{\"phone\": \"+1415555012%d\"}",
		    i);
		json_decref(h_send(&H, body, NULL, 0, 201));
	}
	wait_mature(3);
	j = shield_req("POST", "/v1/verifications", H_TOKEN,
	    "{\"phone\": \"+14155550199\"}", &st, &retry);
	ck_assert_int_eq(st, 429);
	ck_assert_str_eq(err_code(j), "range_blocked");
	r = json_object_get(j, "error");
	ck_assert_str_eq(h_jstr(r, "range"), RANGE);
	ck_assert_str_eq(h_jstr(r, "field"), "phone");
	ck_assert_int_ge(retry, 590);
	ck_assert_int_le(retry, 600);
	ck_assert_int_eq(json_integer_value(json_object_get(r, "retry_after")),
	    retry);
	json_decref(j);
	/* Every number of the range, whoever asks; others go. */
	j = shield_req("POST", "/v1/verifications", OTHER_TOKEN,
	    "{\"phone\": \"+14155550777\"}", &st, &retry);
	ck_assert_int_eq(st, 429);
	ck_assert_int_ge(retry, 1);
	json_decref(j);
	json_decref(h_send_code(&H, "+14155551235", NULL, 0, 201));
	/* The seed APIs in their shapes. */
	j = shield_req("POST", "/sms-verify", H_TOKEN,
	    "{\"number\": \"+14155550199\"}", &st, &retry);
	ck_assert_int_eq(st, 429);
	ck_assert_int_ge(retry, 1);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "api-error")),
	    8);
	json_decref(j);
	j = shield_req("POST", "/verify/send", H_TOKEN,
	    "{\"to\": \"4155550199\"}", &st, &retry);
	ck_assert_int_eq(st, 200);
	ck_assert_int_ge(retry, 1);
	ck_assert_str_eq(h_jstr(j, "status"), "FAIL");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "reason")), 13);
	json_decref(j);
	j = shield_req("POST", "/v1/sms/verify/send", H_TOKEN,
	    "{\"phone\": \"+14155550199\"}", &st, &retry);
	ck_assert_int_eq(st, 429);
	ck_assert_str_eq(err_code(j), "range_blocked");
	json_decref(j);
	ck_assert_int_eq(h_count_sms(&H, "+14155550199"), 0);
	ck_assert_int_eq(h_count_sms(&H, "+14155550777"), 0);

	/* The admin key's webhook gets the event, signed; the client's not. */
	for (long long end = h_now_ms() + HOOK_WAIT_MS; hook_walk_where(
	    "shield.tripped", "range", RANGE, "/hook-ops", NULL, NULL) == 0;
	    h_nap_ms(50))
		ck_assert_msg(h_now_ms() < end, "no shield.tripped event "
		    "(see %s)", H.daemon_log);
	hook_walk_where("shield.tripped", "range", RANGE, "/hook-ops", &ev,
	    NULL);
	data = json_object_get(ev, "data");
	ck_assert_int_eq(json_integer_value(json_object_get(data, "sends")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(data,
	    "approved")), 0);
	ck_assert(strlen(h_jstr(data, "reopens_at")) > 0);
	json_decref(ev);
	ck_assert_int_eq(hook_walk_where("shield.tripped", "range", RANGE,
	    "/hook-client", NULL, NULL), 0);
	ck_assert(h_wait_lines(H.daemon_log, "event=shield.tripped range="
	    RANGE " sends=3 approved=0", H_LOG_WAIT_MS) == 1);

	/* The operators' view: admin only. */
	j = shield_req("GET", "/v1/shield", OPS_TOKEN, NULL, &st, NULL);
	ck_assert_int_eq(st, 200);
	ck_assert_int_eq(json_array_size(json_object_get(j, "ranges")), 1);
	r = json_array_get(json_object_get(j, "ranges"), 0);
	ck_assert_str_eq(h_jstr(r, "range"), RANGE);
	ck_assert_int_eq(json_integer_value(json_object_get(r, "sends")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(r, "approved")),
	    0);
	ck_assert(strlen(h_jstr(r, "reopens_at")) > 0);
	ck_assert_int_le(json_integer_value(json_object_get(r, "retry_after")),
	    600);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j,
	    "settings"), "min_sample")), 3);
	json_decref(j);
	j = shield_req("GET", "/v1/shield", H_TOKEN, NULL, &st, NULL);
	ck_assert_int_eq(st, 403);
	ck_assert_str_eq(err_code(j), "forbidden");
	json_decref(j);
	j = shield_req("DELETE", "/v1/shield/" RANGE, H_TOKEN, NULL, &st,
	    NULL);
	ck_assert_int_eq(st, 403);
	json_decref(j);
	j = shield_req("GET", "/v1/shield/" RANGE, OTHER_TOKEN, NULL, &st,
	    NULL);
	ck_assert_int_eq(st, 403);
	json_decref(j);
	j = shield_req("GET", "/v1/shield", NULL, NULL, &st, NULL);
	ck_assert_int_eq(st, 401);
	json_decref(j);
	j = shield_req("POST", "/v1/shield/" RANGE, OPS_TOKEN, NULL, &st,
	    NULL);
	ck_assert_int_eq(st, 405);
	json_decref(j);
	j = shield_req("GET", "/v1/shield/" RANGE, OPS_TOKEN, NULL, &st,
	    NULL);
	ck_assert_int_eq(st, 200);
	ck_assert(json_is_true(json_object_get(j, "tripped")));
	json_decref(j);
	/* /metrics: the trip, and the sends it refused. */
	ck_assert_int_eq(h_http(&H, "GET", "/metrics", NULL, NULL, NULL,
	    metrics, sizeof(metrics)), 200);
	ck_assert_ptr_nonnull(strstr(metrics,
	    "\nsmsverify_shield_trips_total 1\n"));
	ck_assert_ptr_nonnull(strstr(metrics,
	    "\nsmsverify_shield_tripped_ranges 1\n"));
	ck_assert_ptr_nonnull(strstr(metrics,
	    "\nsmsverify_shield_blocked_total 5\n"));

	/* A restart keeps it blocked. */
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
	ck_assert_int_eq(h_daemon_start(&H, 1), 0);
	j = shield_req("POST", "/v1/verifications", H_TOKEN,
	    "{\"phone\": \"+14155550199\"}", &st, &retry);
	ck_assert_int_eq(st, 429);
	ck_assert_int_le(retry, 600);
	json_decref(j);

	/* DELETE reopens it, once. */
	snprintf(path, sizeof(path), "/v1/shield/%s", RANGE + 1);  /* no + */
	j = shield_req("DELETE", path, OPS_TOKEN, NULL, &st, NULL);
	ck_assert_int_eq(st, 200);
	ck_assert(json_is_true(json_object_get(j, "reopened")));
	json_decref(j);
	j = shield_req("DELETE", "/v1/shield/" RANGE, OPS_TOKEN, NULL, &st,
	    NULL);
	ck_assert_int_eq(st, 404);
	ck_assert_str_eq(err_code(j), "not_found");
	json_decref(j);
	j = shield_req("DELETE", "/v1/shield/44x", OPS_TOKEN, NULL, &st, NULL);
	ck_assert_int_eq(st, 404);
	json_decref(j);
	json_decref(h_send_code(&H, "+14155550199", NULL, 0, 201));
	ck_assert_int_eq(h_wait_sms(&H, "+14155550199", 1, NULL, 0,
	    H_SMS_WAIT_MS), 0);
	j = shield_req("GET", "/v1/shield", OPS_TOKEN, NULL, &st, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(j, "ranges")), 0);
	json_decref(j);
	ck_assert(h_wait_lines(H.daemon_log, "event=shield.reopened range="
	    RANGE " by=key:ops", H_LOG_WAIT_MS) == 1);
}
END_TEST

/* ---- limits ------------------------------------------------------------ */

#define ADMIN_TOKEN "admin-token-0123456789abcdef"
#define ADMIN_KEY "[key ops]\ntoken = " ADMIN_TOKEN "\nrole = admin\n"

/* The JSON body of a raw answer (after its blank line), parsed. */
static json_t *
raw_json(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");

	return b != NULL ? json_loads(b + 4, 0, NULL) : NULL;
}

/* A send limit refused: 429 with Retry-After, and the error names the
 * limit and retry_after (the header's value); nothing reaches the SMSC,
 * no verification is made. */
START_TEST(limits_429)
{
	char resp[4096], ra[16], body[128];
	json_t *j, *e;
	int st;

	snprintf(H.key_extra, sizeof(H.key_extra),
	    "resend_interval = 0\nsends_per_phone = 2/1h\n");
	h_start_all(&H);
	json_decref(h_send_code(&H, PHONE, NULL, 0, 201));
	json_decref(h_send_code(&H, PHONE, NULL, 0, 201));
	h_read_code(H.handset, PHONE, 2, body, sizeof(body));
	snprintf(body, sizeof(body), "{\"phone\": \"%s\"}", PHONE);
	st = http_raw_body("POST", "/v1/verifications", H_TOKEN, body, resp,
	    sizeof(resp));
	ck_assert_msg(st == 429, "answered %d:\n%s", st, resp);
	h_header_of(resp, "Retry-After", ra, sizeof(ra));
	ck_assert_msg(atoi(ra) > 3500 && atoi(ra) <= 3660, "Retry-After "
	    "\"%s\"", ra);
	j = raw_json(resp);
	ck_assert_ptr_nonnull(j);
	e = json_object_get(j, "error");
	ck_assert_str_eq(h_jstr(e, "code"), "rate_limited");
	ck_assert_str_eq(h_jstr(e, "limit"), "sends_per_phone");
	ck_assert_int_eq(json_integer_value(json_object_get(e,
	    "retry_after")), atoi(ra));
	ck_assert(strlen(h_jstr(e, "message")) > 0);
	json_decref(j);
	/* nothing more reached the handset */
	h_nap_ms(300);
	ck_assert_int_eq(h_count_sms(&H, PHONE), 2);
}
END_TEST

/* client_ip: an address (IPv4 or IPv6) or refused 422 invalid_field; it
 * feeds sends_per_ip. */
START_TEST(limits_client_ip)
{
	static const char *bad[] = {
		"{\"phone\": \"+14155550101\", \"client_ip\": \"1.2.3\"}",
		"{\"phone\": \"+14155550101\", \"client_ip\": \"::g\"}",
		"{\"phone\": \"+14155550101\", \"client_ip\": \"\"}",
		"{\"phone\": \"+14155550101\", \"client_ip\": "
		    "\"example.com\"}",
		"{\"phone\": \"+14155550101\", \"client_ip\": 16909060}",
	};
	json_t *j, *e;
	int st;

	snprintf(H.key_extra, sizeof(H.key_extra), "sends_per_ip = 2/1h\n");
	h_start_all(&H);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = h_json(&H, "POST", "/v1/verifications", bad[i], &st);
		e = json_object_get(j, "error");
		ck_assert_msg(st == 422, "%s: %d", bad[i], st);
		ck_assert_str_eq(h_jstr(e, "code"), "invalid_field");
		ck_assert_str_eq(h_jstr(e, "field"), "client_ip");
		json_decref(j);
	}
	json_decref(h_send(&H, "{\"phone\": \"+14155550101\", "
	    "\"client_ip\": \"2001:db8::1\"}", NULL, 0, 201));
	json_decref(h_send(&H, "{\"phone\": \"+14155550102\", "
	    "\"client_ip\": \"2001:db8:0:0:ffff::2\"}", NULL, 0, 201));
	j = h_send(&H, "{\"phone\": \"+14155550103\", "
	    "\"client_ip\": \"2001:db8::3\"}", NULL, 0, 429);
	ck_assert_str_eq(h_jstr(json_object_get(j, "error"), "limit"),
	    "sends_per_ip");
	json_decref(j);
	json_decref(h_send(&H, "{\"phone\": \"+14155550103\", "
	    "\"client_ip\": \"192.0.2.1\"}", NULL, 0, 201));
}
END_TEST

/* GET /v1/limits: admin keys only (403 forbidden to a client key, 401
 * without one); the counters of a number for a key. */
START_TEST(limits_endpoint)
{
	char out[4096];
	json_t *j, *rows, *r;
	int st;

	snprintf(H.key_extra, sizeof(H.key_extra), "resend_interval = 0\n");
	snprintf(H.extra_conf, sizeof(H.extra_conf), ADMIN_KEY);
	h_start_all(&H);
	json_decref(h_send_code(&H, PHONE, NULL, 0, 201));
	json_decref(h_send_code(&H, PHONE, NULL, 0, 201));

	st = h_http(&H, "GET", "/v1/limits?phone=%2B14155550123", NULL,
	    H_TOKEN, NULL, out, sizeof(out));
	ck_assert_int_eq(st, 403);
	ck_assert_ptr_nonnull(strstr(out, "\"forbidden\""));
	st = h_http(&H, "GET", "/v1/limits?phone=%2B14155550123", NULL,
	    NULL, NULL, out, sizeof(out));
	ck_assert_int_eq(st, 401);
	st = h_http(&H, "GET", "/v1/limits", NULL, ADMIN_TOKEN, NULL, out,
	    sizeof(out));
	ck_assert_int_eq(st, 422);
	ck_assert_ptr_nonnull(strstr(out, "\"missing_field\""));
	st = h_http(&H, "GET", "/v1/limits?phone=12", NULL, ADMIN_TOKEN, NULL,
	    out, sizeof(out));
	ck_assert_int_eq(st, 422);
	ck_assert_ptr_nonnull(strstr(out, "\"invalid_phone\""));
	st = h_http(&H, "GET", "/v1/limits?phone=%2B14155550123&key=nosuch",
	    NULL, ADMIN_TOKEN, NULL, out, sizeof(out));
	ck_assert_int_eq(st, 422);
	st = h_http(&H, "GET", "/v1/limits?phone=%2B14155550123&client_ip=x",
	    NULL, ADMIN_TOKEN, NULL, out, sizeof(out));
	ck_assert_int_eq(st, 422);

	/* the test key's counters; a '+' left unencoded reads as one */
	st = h_http(&H, "GET", "/v1/limits?phone=+14155550123&key=test"
	    "&client_ip=192.0.2.9", NULL, ADMIN_TOKEN, NULL, out, sizeof(out));
	ck_assert_msg(st == 200, "%d %s", st, out);
	j = json_loads(out, 0, NULL);
	ck_assert_str_eq(h_jstr(j, "phone"), PHONE);
	ck_assert_str_eq(h_jstr(j, "key"), "test");
	rows = json_object_get(j, "limits");
	ck_assert_int_eq(json_array_size(rows), 4);   /* resend off */
	r = json_array_get(rows, 0);
	ck_assert_str_eq(h_jstr(r, "limit"), "sends_per_phone");
	ck_assert_int_eq(json_integer_value(json_object_get(r, "count")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(r, "max")), 5);
	ck_assert_int_eq(json_integer_value(json_object_get(r, "window")),
	    600);
	ck_assert_ptr_null(json_object_get(r, "retry_after"));
	r = json_array_get(rows, 1);
	ck_assert_str_eq(h_jstr(r, "limit"), "sends_per_ip");
	ck_assert_str_eq(h_jstr(r, "client_ip"), "192.0.2.9");
	ck_assert_int_eq(json_integer_value(json_object_get(r, "count")), 0);
	r = json_array_get(rows, 2);
	ck_assert_str_eq(h_jstr(r, "limit"), "sends_per_range");
	ck_assert_str_eq(h_jstr(r, "range"), "+14155550");
	ck_assert_int_eq(json_integer_value(json_object_get(r, "count")), 2);
	r = json_array_get(rows, 3);
	ck_assert_str_eq(h_jstr(r, "limit"), "failed_checks_per_phone");
	json_decref(j);
	/* the admin key's own: nothing sent, resend_interval on */
	st = h_http(&H, "GET", "/v1/limits?phone=%2B14155550123", NULL,
	    ADMIN_TOKEN, NULL, out, sizeof(out));
	ck_assert_int_eq(st, 200);
	j = json_loads(out, 0, NULL);
	rows = json_object_get(j, "limits");
	ck_assert_str_eq(h_jstr(j, "key"), "ops");
	ck_assert_int_eq(json_array_size(rows), 4);   /* no client_ip */
	r = json_array_get(rows, 0);
	ck_assert_str_eq(h_jstr(r, "limit"), "resend_interval");
	ck_assert_int_eq(json_integer_value(json_object_get(r, "count")), 0);
	r = json_array_get(rows, 2);
	ck_assert_str_eq(h_jstr(r, "limit"), "sends_per_range");
	ck_assert_int_eq(json_integer_value(json_object_get(r, "count")), 2);
	json_decref(j);
}
END_TEST

/* The counters are durable: after kill -9 and a restart a send past the
 * limit is still refused, and so is a check past failed_checks_per_phone
 * (the right code too). */
START_TEST(limits_survive_kill)
{
	char id[64], code[16], wrong[16], out[1024];
	json_t *j;
	int st;

	H.max_checks = 5;
	snprintf(H.key_extra, sizeof(H.key_extra),
	    "sends_per_phone = 1/1h\nfailed_checks_per_phone = 2/1h\n");
	h_start_all(&H);
	json_decref(h_send_code(&H, PHONE, id, sizeof(id), 201));
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	snprintf(wrong, sizeof(wrong), "%s", code);
	wrong[0] = wrong[0] == '9' ? '0' : (char)(wrong[0] + 1);
	for (int i = 0; i < 2; i++) {
		j = h_check(&H, id, wrong, &st);
		ck_assert_int_eq(st, 200);
		json_decref(j);
	}
	h_daemon_stop(&H, SIGKILL);
	ck_assert_msg(h_daemon_start(&H, 1) == 0, "smsverifyd did not come "
	    "back (see %s)", H.daemon_log);
	j = h_send_code(&H, PHONE, NULL, 0, 429);
	ck_assert_str_eq(h_jstr(json_object_get(j, "error"), "limit"),
	    "sends_per_phone");
	json_decref(j);
	j = h_check(&H, id, code, &st);
	ck_assert_int_eq(st, 200);
	ck_assert(json_is_false(json_object_get(j, "valid")));
	ck_assert_str_eq(h_jstr(j, "status"), "max_attempts_reached");
	ck_assert_int_eq(json_integer_value(json_object_get(j,
	    "attempts_left")), 0);
	json_decref(j);
	/* by number too */
	snprintf(out, sizeof(out), "{\"phone\": \"%s\", \"code\": \"%s\"}",
	    PHONE, code);
	j = h_json(&H, "POST", "/v1/verifications/check", out, &st);
	ck_assert_str_eq(h_jstr(j, "status"), "max_attempts_reached");
	json_decref(j);
}
END_TEST

/* ---- test mode: test numbers and test keys ----------------------------- */

#define T_OK "+14155550101"         /* fixed code, delivered after 1 s */
#define T_UNDELIV "+14155550102"    /* in a range, undeliverable at once */
#define T_EXPIRED "+14155550104"
#define T_SILENT "+14155550105"     /* no receipt */
#define T_REFUSED "+14155550106"    /* refused as an SMSC would */
#define TEST_SECTIONS \
	"[test ok]\nnumbers = " T_OK "\ncode = 246810\n" \
	"[test undeliv]\nnumbers = +14155550102-+14155550103\n" \
	"delivery = undeliverable\ndelay = 0\n" \
	"[test exp]\nnumbers = " T_EXPIRED "\ndelivery = expired\n" \
	"[test silent]\nnumbers = " T_SILENT "\ndelivery = none\n" \
	"[test refused]\nnumbers = " T_REFUSED "\nrefuse = ESME_RINVDSTADR\n"

/* GET path with token: the answer parsed (NULL when not JSON), *st its
 * status. */
static json_t *
get_as(const char *path, const char *token, int *st)
{
	static char out[65536];

	*st = h_http(&H, "GET", path, NULL, token, NULL, out, sizeof(out));
	return json_loads(out, 0, NULL);
}

/* The delivery of id's last attempt, as GET shows it. */
static char *
last_delivery(const char *id, char *buf, size_t size)
{
	json_t *j = h_get_verif(&H, id);
	json_t *a = json_object_get(j, "attempts");

	snprintf(buf, size, "%s", h_jstr(json_array_get(a,
	    json_array_size(a) - 1), "delivery"));
	json_decref(j);
	return buf;
}

START_TEST(test_numbers_outcomes)
{
	char ok[64], un[64], ex[64], si[64], re[64], buf[32];
	json_t *j, *msgs, *m, *ev;
	int st;

	snprintf(H.key_extra, sizeof(H.key_extra),
	    "resend_interval = 0\nwebhook = http://127.0.0.1:%d/hook\n"
	    "webhook_secret = " HOOK_SECRET "\n", H.hook_port);
	snprintf(H.extra_conf, sizeof(H.extra_conf), "%s%s", ADMIN_KEY,
	    TEST_SECTIONS);
	ck_assert_int_eq(h_hook_start(&H, ""), 0);
	h_start_all(&H);

	/* Every outcome answers as a live send does. */
	j = h_send_code(&H, T_OK, ok, sizeof(ok), 201);
	ck_assert_str_eq(h_jstr(j, "status"), "sent");
	json_decref(j);
	j = h_send_code(&H, T_UNDELIV, un, sizeof(un), 201);
	ck_assert_str_eq(h_jstr(j, "status"), "sent");
	json_decref(j);
	json_decref(h_send_code(&H, T_EXPIRED, ex, sizeof(ex), 201));
	json_decref(h_send_code(&H, T_SILENT, si, sizeof(si), 201));
	/* refuse: failed, as if the SMSC had answered ESME_RINVDSTADR */
	j = h_send_code(&H, T_REFUSED, re, sizeof(re), 201);
	ck_assert_str_eq(h_jstr(j, "status"), "failed");
	json_decref(j);
	h_wait_verif(&H, re, "status", "failed");

	/* The scripted receipts, through the receipt path. */
	h_wait_delivery(&H, ok, "delivered");
	h_wait_delivery(&H, un, "undeliverable");
	h_wait_delivery(&H, ex, "expired");
	h_nap_ms(2000);
	ck_assert_str_eq(last_delivery(si, buf, sizeof(buf)), "pending");

	/* The fixed code: checked like any other (wrong, then right,
	 * then used). */
	ck_assert_int_eq(h_code_valid(&H, ok, "135790"), 0);
	ck_assert_int_eq(h_code_valid(&H, ok, "246810"), 1);
	ck_assert_int_eq(h_code_valid(&H, ok, "246810"), 0);

	/* Webhooks see scripted receipts as real ones. */
	ck_assert_msg(hook_wait("verification.sent", ok) == 0,
	    "no sent event (see %s)", H.daemon_log);
	ck_assert_msg(hook_wait("verification.delivery", ok) == 0,
	    "no delivery event (see %s)", H.daemon_log);
	ev = hook_event("verification.delivery", un);
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(h_jstr(json_object_get(json_object_get(ev, "data"),
	    "last_attempt"), "delivery"), "undeliverable");
	json_decref(ev);
	ck_assert_msg(hook_wait("verification.failed", re) == 0,
	    "no failed event (see %s)", H.daemon_log);
	ev = hook_event("verification.failed", re);
	ck_assert_ptr_nonnull(strstr(h_jstr(json_object_get(ev, "data"),
	    "reason"), "ESME_RINVDSTADR"));
	json_decref(ev);

	/* Nothing reached the simulator. */
	ck_assert_int_eq(h_count_sms(&H, T_OK), 0);
	ck_assert_int_eq(h_count_sms(&H, T_UNDELIV), 0);
	ck_assert_int_eq(h_count_sms(&H, T_REFUSED), 0);
	j = h_handset_read(H.handset);
	ck_assert_int_eq((int)json_array_size(j), 0);
	json_decref(j);

	/* The captured message: a client key may not read it, admin may. */
	j = get_as("/v1/test/messages?phone=%2B14155550101", H_TOKEN, &st);
	ck_assert_int_eq(st, 403);
	json_decref(j);
	j = get_as("/v1/test/messages?phone=%2B14155550101", ADMIN_TOKEN,
	    &st);
	ck_assert_int_eq(st, 200);
	msgs = json_object_get(j, "messages");
	ck_assert_int_eq((int)json_array_size(msgs), 1);
	m = json_array_get(msgs, 0);
	ck_assert_str_eq(h_jstr(m, "id"), ok);
	ck_assert_str_eq(h_jstr(m, "phone"), T_OK);
	ck_assert_str_eq(h_jstr(m, "code"), "246810");
	ck_assert_ptr_nonnull(strstr(h_jstr(m, "text"), "246810"));
	ck_assert_str_eq(h_jstr(m, "delivery"), "delivered");
	ck_assert_int_gt((int)strlen(h_jstr(m, "sent_at")), 20);
	json_decref(j);
	/* The refused send was never captured. */
	j = get_as("/v1/test/messages?phone=%2B14155550106", ADMIN_TOKEN,
	    &st);
	ck_assert_int_eq(st, 200);
	ck_assert_int_eq((int)json_array_size(json_object_get(j,
	    "messages")), 0);
	json_decref(j);
	/* Never a code in the log. */
	ck_assert_int_eq(h_count_lines(H.daemon_log, "246810"), 0);
}
END_TEST

#define TESTKEY_TOKEN "qa-token-0123456789abcdefgh"
#define TESTKEY "[key qa]\ntoken = " TESTKEY_TOKEN "\nrole = test\n"

/* A test key's sends, to any number: captured, newest first, read and
 * approved; the long poll wakes on a new capture and times out empty. */
START_TEST(test_key_capture_and_long_poll)
{
	char id1[64], id2[64], code[16], path[256], out[4096];
	json_t *j, *msgs;
	long long t0;
	pid_t pid;
	int st;

	snprintf(H.extra_conf, sizeof(H.extra_conf), "%s", TESTKEY
	    "resend_interval = 0\n");
	h_start_all(&H);

	st = h_http(&H, "POST", "/v1/verifications", NULL, TESTKEY_TOKEN,
	    "{\"phone\": \"" PHONE "\"}", out, sizeof(out));
	ck_assert_int_eq(st, 201);
	j = json_loads(out, 0, NULL);
	snprintf(id1, sizeof(id1), "%s", h_jstr(j, "id"));
	ck_assert_str_eq(h_jstr(j, "status"), "sent");
	json_decref(j);
	st = h_http(&H, "POST", "/v1/verifications", NULL, TESTKEY_TOKEN,
	    "{\"phone\": \"" PHONE "\"}", out, sizeof(out));
	ck_assert_int_eq(st, 201);
	j = json_loads(out, 0, NULL);
	snprintf(id2, sizeof(id2), "%s", h_jstr(j, "id"));
	json_decref(j);

	j = get_as("/v1/test/messages?phone=%2B14155550123", TESTKEY_TOKEN,
	    &st);
	ck_assert_int_eq(st, 200);
	msgs = json_object_get(j, "messages");
	ck_assert_int_eq((int)json_array_size(msgs), 2);
	ck_assert_str_eq(h_jstr(json_array_get(msgs, 0), "id"), id2);
	ck_assert_str_eq(h_jstr(json_array_get(msgs, 1), "id"), id1);
	snprintf(code, sizeof(code), "%s", h_jstr(json_array_get(msgs, 0),
	    "code"));
	ck_assert_int_eq((int)strlen(code), 6);
	json_decref(j);
	snprintf(path, sizeof(path), "{\"id\": \"%s\", \"code\": \"%s\"}",
	    id2, code);
	st = h_http(&H, "POST", "/v1/verifications/check", NULL,
	    TESTKEY_TOKEN, path, out, sizeof(out));
	ck_assert_int_eq(st, 200);
	ck_assert_ptr_nonnull(strstr(out, "\"approved\""));
	ck_assert_int_eq(h_count_sms(&H, PHONE), 0);

	/* Bad parameters. */
	json_decref(get_as("/v1/test/messages", TESTKEY_TOKEN, &st));
	ck_assert_int_eq(st, 422);
	json_decref(get_as("/v1/test/messages?phone=%2B14155550123&wait=31",
	    TESTKEY_TOKEN, &st));
	ck_assert_int_eq(st, 422);
	json_decref(get_as("/v1/test/messages?phone=%2B14155550123&since=x",
	    TESTKEY_TOKEN, &st));
	ck_assert_int_eq(st, 422);
	/* since: nothing after the future. */
	j = get_as("/v1/test/messages?phone=%2B14155550123"
	    "&since=2099-01-01T00:00:00Z", TESTKEY_TOKEN, &st);
	ck_assert_int_eq(st, 200);
	ck_assert_int_eq((int)json_array_size(json_object_get(j,
	    "messages")), 0);
	json_decref(j);

	/* The long poll times out cleanly, empty. */
	t0 = h_now_ms();
	j = get_as("/v1/test/messages?phone=%2B14155550177&wait=1",
	    TESTKEY_TOKEN, &st);
	ck_assert_int_eq(st, 200);
	ck_assert_int_eq((int)json_array_size(json_object_get(j,
	    "messages")), 0);
	ck_assert_int_ge(h_now_ms() - t0, 900);
	json_decref(j);

	/* It wakes on a new capture to its number, long before its 20 s. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		h_nap_ms(700);
		st = h_http(&H, "POST", "/v1/verifications", NULL,
		    TESTKEY_TOKEN, "{\"phone\": \"+14155550177\"}", out,
		    sizeof(out));
		_exit(st == 201 ? 0 : 1);
	}
	t0 = h_now_ms();
	j = get_as("/v1/test/messages?phone=%2B14155550177&wait=20",
	    TESTKEY_TOKEN, &st);
	ck_assert_int_eq(st, 200);
	ck_assert_int_eq((int)json_array_size(json_object_get(j,
	    "messages")), 1);
	ck_assert_int_lt(h_now_ms() - t0, 15000);
	json_decref(j);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(h_count_sms(&H, "+14155550177"), 0);
}
END_TEST

/* SIGTERM answers a waiting long poll at once (an empty list), and the
 * daemon stops cleanly instead of waiting out the poll. */
START_TEST(test_long_poll_drained)
{
	char out[4096];
	long long t0;
	pid_t pid;
	int st;

	snprintf(H.extra_conf, sizeof(H.extra_conf), "%s", TESTKEY);
	h_start_all(&H);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		st = h_http(&H, "GET", "/v1/test/messages?phone=%2B14155550188"
		    "&wait=30", NULL, TESTKEY_TOKEN, NULL, out, sizeof(out));
		_exit(st == 200 && strstr(out, "\"messages\":[]") != NULL ?
		    0 : 1);
	}
	h_nap_ms(1000);
	t0 = h_now_ms();
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
	ck_assert_int_lt(h_now_ms() - t0, 4000);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "the waiting request got no empty answer (see %s)", H.daemon_log);
}
END_TEST

/* A scripted receipt not yet due when the daemon stops comes after the
 * restart. */
START_TEST(test_receipt_survives_restart)
{
	char id[64], buf[32];

	snprintf(H.extra_conf, sizeof(H.extra_conf),
	    "[test slow]\nnumbers = +14155550107\ndelay = 3\n");
	h_start_all(&H);
	json_decref(h_send_code(&H, "+14155550107", id, sizeof(id), 201));
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
	ck_assert_msg(h_daemon_start(&H, 1) == 0, "smsverifyd did not come "
	    "back (see %s)", H.daemon_log);
	ck_assert_str_eq(last_delivery(id, buf, sizeof(buf)), "pending");
	h_wait_delivery(&H, id, "delivered");
	ck_assert_int_eq(h_count_lines(H.daemon_log, "event=test.resumed "
	    "receipts=1"), 1);
	ck_assert_int_eq(h_count_sms(&H, "+14155550107"), 0);
}
END_TEST

static Suite *
e2e_policy_suite(void)
{
	Suite *s = suite_create("e2e_policy");
	const struct h_test tests[] = {
		{ "shield_refusals", shield_refusals, 1 },
		{ "shield_trips_and_reopens", shield_trips_and_reopens, 1 },
		{ "limits_429", limits_429, 1 },
		{ "limits_client_ip", limits_client_ip, 1 },
		{ "limits_endpoint", limits_endpoint, 1 },
		{ "limits_survive_kill", limits_survive_kill, 1 },
		{ "test_numbers_outcomes", test_numbers_outcomes, 1 },
		{ "test_key_capture_and_long_poll",
		    test_key_capture_and_long_poll, 1 },
		{ "test_long_poll_drained", test_long_poll_drained, 1 },
		{ "test_receipt_survives_restart",
		    test_receipt_survives_restart, 1 },
	};

	h_add_tests(s, tests, sizeof(tests) / sizeof(tests[0]), setup,
	    teardown);
	return s;
}

int
main(void)
{
	return h_run_suite(e2e_policy_suite());
}
