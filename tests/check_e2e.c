/*
 * check_e2e.c - the whole path, as users see it: smsverifyd and the SMSC
 * simulator run as processes on loopback; the test sends over HTTP, reads
 * the code from the simulator's handset log and checks it over HTTP;
 * strict JSON, the paths and methods, reloads, a full store, webhooks.
 * The policies (shield, limits, test mode) are check_e2e_policy's; the
 * helpers both use are in e2e_util.h.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <check.h>
#include <jansson.h>

#include "e2e_util.h"
#include "harness.h"
#include "peer.h"

START_TEST(send_and_check)
{
	char id[64], code[16], wrong[16];
	json_t *j;
	int status;

	h_start_all(&H);
	j = h_send_code(&H, PHONE, id, sizeof(id), 201);
	ck_assert_str_eq(h_jstr(j, "status"), "sent");
	ck_assert_str_eq(h_jstr(j, "phone"), PHONE);
	ck_assert_str_eq(h_jstr(j, "smsc"), "sim");
	ck_assert_ptr_null(json_object_get(j, "code"));
	ck_assert_int_eq(strncmp(id, "ver_", 4), 0);
	json_decref(j);

	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	ck_assert_int_eq((int)strlen(code), 6);

	/* A wrong code is refused and costs an attempt. */
	snprintf(wrong, sizeof(wrong), "%06d", (atoi(code) + 1) % 1000000);
	j = h_check(&H, id, wrong, &status);
	ck_assert_int_eq(status, 200);
	ck_assert(json_is_false(json_object_get(j, "valid")));
	ck_assert_str_eq(h_jstr(j, "status"), "pending");
	ck_assert_int_eq(json_integer_value(json_object_get(j,
	    "attempts_left")), 4);
	json_decref(j);

	/* The right code approves. */
	j = h_check(&H, id, code, &status);
	ck_assert_int_eq(status, 200);
	ck_assert(json_is_true(json_object_get(j, "valid")));
	ck_assert_str_eq(h_jstr(j, "status"), "approved");
	json_decref(j);

	/* A code is valid once. */
	j = h_check(&H, id, code, &status);
	ck_assert_int_eq(status, 200);
	ck_assert(json_is_false(json_object_get(j, "valid")));
	json_decref(j);

	/* The record shows the approval and its send. */
	char path[128];
	snprintf(path, sizeof(path), "/v1/verifications/%s", id);
	j = h_json(&H, "GET", path, NULL, &status);
	ck_assert_int_eq(status, 200);
	ck_assert_str_eq(h_jstr(j, "status"), "approved");
	json_t *att = json_array_get(json_object_get(j, "attempts"), 0);
	ck_assert_ptr_nonnull(att);
	ck_assert_str_eq(h_jstr(att, "smsc"), "sim");
	ck_assert(strlen(h_jstr(att, "message_id")) > 0);
	json_decref(j);

	/* Neither the code nor the token ever reached the log. */
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
	ck_assert(!h_file_contains(H.daemon_log, code));
	ck_assert(!h_file_contains(H.daemon_log, H_TOKEN));
	ck_assert(!h_file_contains(H.daemon_log, "secret1"));
}
END_TEST

START_TEST(check_by_phone)
{
	char code[16], body[256];
	json_t *j;
	int status;

	h_start_all(&H);
	json_decref(h_send_code(&H, PHONE, NULL, 0, 201));
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	/* National format read with default_country = US. */
	snprintf(body, sizeof(body), "{\"phone\": \"(415) 555-0123\", "
	    "\"code\": \"%s\"}", code);
	j = h_json(&H, "POST", "/v1/verifications/check", body, &status);
	ck_assert_int_eq(status, 200);
	ck_assert(json_is_true(json_object_get(j, "valid")));
	ck_assert_str_eq(h_jstr(j, "phone"), PHONE);
	json_decref(j);
}
END_TEST

START_TEST(wrong_codes_lock)
{
	char id[64], code[16], wrong[16];
	json_t *j;
	int status;

	H.max_checks = 3;
	h_start_all(&H);
	json_decref(h_send_code(&H, PHONE, id, sizeof(id), 201));
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	snprintf(wrong, sizeof(wrong), "%06d", (atoi(code) + 7) % 1000000);
	for (int left = 2; left >= 0; left--) {
		j = h_check(&H, id, wrong, &status);
		ck_assert_int_eq(status, 200);
		ck_assert(json_is_false(json_object_get(j, "valid")));
		ck_assert_int_eq(json_integer_value(json_object_get(j,
		    "attempts_left")), left);
		ck_assert_str_eq(h_jstr(j, "status"), left > 0 ? "pending" :
		    "max_attempts_reached");
		json_decref(j);
	}
	/* Locked: even the right code is refused now. */
	j = h_check(&H, id, code, &status);
	ck_assert(json_is_false(json_object_get(j, "valid")));
	ck_assert_str_eq(h_jstr(j, "status"), "max_attempts_reached");
	json_decref(j);
}
END_TEST

START_TEST(code_expires)
{
	char id[64], code[16];
	json_t *j;
	int status;

	H.expiry = 2;
	h_start_all(&H);
	json_decref(h_send_code(&H, PHONE, id, sizeof(id), 201));
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	/* The sweep turns it expired within a few seconds. */
	h_wait_verif(&H, id, "status", "expired");
	j = h_check(&H, id, code, &status);
	ck_assert(json_is_false(json_object_get(j, "valid")));
	ck_assert_str_eq(h_jstr(j, "status"), "expired");
	json_decref(j);
}
END_TEST

START_TEST(restart_between_send_and_check)
{
	char id[64], code[16];

	h_start_all(&H);
	json_decref(h_send_code(&H, PHONE, id, sizeof(id), 201));
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
	ck_assert_msg(h_daemon_start(&H, 1) == 0, "smsverifyd did not come "
	    "back (see %s)", H.daemon_log);
	ck_assert_msg(h_code_valid(&H, id, code), "the code of %s was "
	    "refused", id);
}
END_TEST

START_TEST(crash_after_201_loses_nothing)
{
	char id[64], code[16];

	h_start_all(&H);
	json_decref(h_send_code(&H, PHONE, id, sizeof(id), 201));
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	/* No drain, no unbind: the 201 alone promised durability. */
	h_daemon_stop(&H, SIGKILL);
	ck_assert_msg(h_daemon_start(&H, 1) == 0, "smsverifyd did not come "
	    "back (see %s)", H.daemon_log);
	ck_assert_msg(h_code_valid(&H, id, code), "the code of %s was "
	    "refused", id);
}
END_TEST

START_TEST(smsc_down_then_back)
{
	char id[64], code[16];
	json_t *j;

	/* No simulator yet: the send is stored and answered `queued`. */
	ck_assert_msg(h_daemon_start(&H, 0) == 0, "smsverifyd did not "
	    "start (see %s)", H.daemon_log);
	j = h_send_code(&H, PHONE, id, sizeof(id), 201);
	ck_assert_str_eq(h_jstr(j, "status"), "queued");
	json_decref(j);
	ck_assert_int_eq(h_count_sms(&H, PHONE), 0);

	/* The SMSC comes back: the daemon rebinds and the code goes out. */
	ck_assert_int_eq(h_sim_start(&H), 0);
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	h_wait_verif(&H, id, "send_status", "sent");
	ck_assert_msg(h_code_valid(&H, id, code), "the code of %s was "
	    "refused", id);
	ck_assert_int_eq(h_count_sms(&H, PHONE), 1);
}
END_TEST

START_TEST(queued_survives_restart)
{
	char id[64], code[16];
	json_t *j;

	ck_assert_msg(h_daemon_start(&H, 0) == 0, "smsverifyd did not "
	    "start (see %s)", H.daemon_log);
	j = h_send_code(&H, PHONE, id, sizeof(id), 201);
	ck_assert_str_eq(h_jstr(j, "status"), "queued");
	json_decref(j);
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
	/* The message waited in the store, sealed; it goes out after the
	 * restart once the SMSC is there. */
	ck_assert_int_eq(h_sim_start(&H), 0);
	ck_assert_msg(h_daemon_start(&H, 0) == 0, "smsverifyd did not "
	    "start (see %s)", H.daemon_log);
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	ck_assert_msg(h_code_valid(&H, id, code), "the code of %s was "
	    "refused", id);
}
END_TEST

START_TEST(new_send_cancels_pending)
{
	char id1[64], id2[64], code1[16], code2[16];
	json_t *j;
	int status;

	/* Two sends at once to one number: no resend_interval here. */
	snprintf(H.key_extra, sizeof(H.key_extra), "resend_interval = 0\n");
	h_start_all(&H);
	json_decref(h_send_code(&H, PHONE, id1, sizeof(id1), 201));
	h_read_code(H.handset, PHONE, 1, code1, sizeof(code1));
	j = h_send_code(&H, PHONE, id2, sizeof(id2), 201);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "attempt")),
	    2);
	json_decref(j);
	h_read_code(H.handset, PHONE, 2, code2, sizeof(code2));
	ck_assert_str_ne(id1, id2);
	j = h_check(&H, id1, code1, &status);
	ck_assert(json_is_false(json_object_get(j, "valid")));
	ck_assert_str_eq(h_jstr(j, "status"), "canceled");
	json_decref(j);
	ck_assert_msg(h_code_valid(&H, id2, code2), "the code of %s was "
	    "refused", id2);
}
END_TEST

START_TEST(receipt_updates_delivery)
{
	char id[64];

	snprintf(H.sim_args, sizeof(H.sim_args), "--dlr delivered "
	    "--dlr-delay-ms 50");
	h_start_all(&H);
	json_decref(h_send_code(&H, PHONE, id, sizeof(id), 201));
	h_wait_delivery(&H, id, "delivered");
}
END_TEST

START_TEST(bad_requests)
{
	char out[4096];
	int st;

	h_start_all(&H);
	st = h_http(&H, "POST", "/v1/verifications", NULL, "wrong-token",
	    "{\"phone\": \"" PHONE "\"}", out, sizeof(out));
	ck_assert_int_eq(st, 401);
	ck_assert_ptr_nonnull(strstr(out, "\"unauthorized\""));
	st = h_http(&H, "POST", "/v1/verifications", NULL, NULL,
	    "{\"phone\": \"" PHONE "\"}", out, sizeof(out));
	ck_assert_int_eq(st, 401);
	st = h_http(&H, "POST", "/v1/verifications", NULL, H_TOKEN,
	    "{\"phone\": ", out, sizeof(out));
	ck_assert_int_eq(st, 400);
	st = h_http(&H, "POST", "/v1/verifications", "text/plain", H_TOKEN,
	    "phone", out, sizeof(out));
	ck_assert_int_eq(st, 415);
	st = h_http(&H, "POST", "/v1/verifications", NULL, H_TOKEN,
	    "{\"phone\": \"12\"}", out, sizeof(out));
	ck_assert_int_eq(st, 422);
	ck_assert_ptr_nonnull(strstr(out, "\"phone\""));
	/* A London landline cannot take an SMS: refused by type, nothing
	 * stored or sent. */
	st = h_http(&H, "POST", "/v1/verifications", NULL, H_TOKEN,
	    "{\"phone\": \"+442079460000\"}", out, sizeof(out));
	ck_assert_int_eq(st, 422);
	ck_assert_ptr_nonnull(strstr(out, "\"phone_type_refused\""));
	ck_assert_ptr_nonnull(strstr(out, "fixed_line"));
	ck_assert_int_eq(h_count_sms(&H, "+442079460000"), 0);
	st = h_http(&H, "POST", "/v1/verifications", NULL, H_TOKEN,
	    "{\"phone\": \"" PHONE "\", \"code_length\": 3}", out,
	    sizeof(out));
	ck_assert_int_eq(st, 422);
	ck_assert_ptr_nonnull(strstr(out, "code_length"));
	st = h_http(&H, "POST", "/v1/verifications", NULL, H_TOKEN,
	    "{\"phone\": \"" PHONE "\", \"template\": \"no code here\"}",
	    out, sizeof(out));
	ck_assert_int_eq(st, 422);
	st = h_http(&H, "GET", "/v1/verifications/ver_nope", NULL, H_TOKEN,
	    NULL, out, sizeof(out));
	ck_assert_int_eq(st, 404);
	st = h_http(&H, "GET", "/nowhere", NULL, H_TOKEN, NULL, out,
	    sizeof(out));
	ck_assert_int_eq(st, 404);
	/* Nothing reached the handset for all that. */
	ck_assert_int_eq(h_count_sms(&H, PHONE), 0);
}
END_TEST

START_TEST(cancel_and_other_key)
{
	char id[64], code[16], path[160], out[4096];
	json_t *j;
	int status, st;

	h_start_all(&H);
	json_decref(h_send_code(&H, PHONE, id, sizeof(id), 201));
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	/* Another key sees nothing of it. */
	snprintf(path, sizeof(path), "/v1/verifications/%s", id);
	st = h_http(&H, "GET", path, NULL, "other-token-0123456789abcdef",
	    NULL, out, sizeof(out));
	ck_assert_int_eq(st, 404);
	snprintf(path, sizeof(path), "/v1/verifications/%s/cancel", id);
	j = h_json(&H, "POST", path, "{}", &status);
	ck_assert_int_eq(status, 200);
	ck_assert_str_eq(h_jstr(j, "status"), "canceled");
	json_decref(j);
	j = h_json(&H, "POST", path, "{}", &status);
	ck_assert_int_eq(status, 409);
	json_decref(j);
	j = h_check(&H, id, code, &status);
	ck_assert(json_is_false(json_object_get(j, "valid")));
	ck_assert_str_eq(h_jstr(j, "status"), "canceled");
	json_decref(j);
}
END_TEST

/* ---- strict JSON types and the paths under /v1/verifications/ ---- */

/* POST body to path; the test fails unless the answer is 422 (or want)
 * with the error code and the field named. */
static void
assert_refused(const char *path, const char *body, int want,
    const char *code, const char *field)
{
	json_t *j, *e;
	int status;

	j = h_json(&H, "POST", path, body, &status);
	ck_assert_msg(status == want, "%s %s answered %d, not %d", path, body,
	    status, want);
	e = json_object_get(j, "error");
	ck_assert_msg(strcmp(h_jstr(e, "code"), code) == 0, "%s %s: code %s, "
	    "not %s", path, body, h_jstr(e, "code"), code);
	if (field != NULL)
		ck_assert_msg(strcmp(h_jstr(e, "field"), field) == 0, "%s %s: "
		    "field %s, not %s", path, body, h_jstr(e, "field"), field);
	json_decref(j);
}

/* Each field of a send has one JSON type: any other is refused 422
 * naming the field, and nothing is stored or sent; null is the field
 * left out. */
START_TEST(send_types_strict)
{
	static const struct {
		const char *body, *code, *field;
	} bad[] = {
		{ "{\"phone\": 14155550123}", "invalid_field", "phone" },
		{ "{\"phone\": [\"" PHONE "\"]}", "invalid_field", "phone" },
		{ "{\"phone\": null}", "missing_field", "phone" },
		{ "{\"phone\": \"" PHONE "\", \"code\": 123456}",
		    "invalid_field", "code" },
		{ "{\"phone\": \"" PHONE "\", \"code\": 1.23456e5}",
		    "invalid_field", "code" },
		{ "{\"phone\": \"" PHONE "\", \"code\": \"12a456\"}",
		    "invalid_code", "code" },
		{ "{\"phone\": \"" PHONE "\", \"code\": \"123\"}",
		    "invalid_code", "code" },
		{ "{\"phone\": \"" PHONE "\", \"code_length\": \"4\"}",
		    "invalid_field", "code_length" },
		{ "{\"phone\": \"" PHONE "\", \"code_length\": 4.5}",
		    "invalid_field", "code_length" },
		{ "{\"phone\": \"" PHONE "\", \"code_length\": true}",
		    "invalid_field", "code_length" },
		{ "{\"phone\": \"" PHONE "\", \"expiry_minutes\": \"5\"}",
		    "invalid_field", "expiry_minutes" },
		{ "{\"phone\": \"" PHONE "\", \"expiry_minutes\": [5]}",
		    "invalid_field", "expiry_minutes" },
		{ "{\"phone\": \"" PHONE "\", \"country\": 1}",
		    "invalid_field", "country" },
		{ "{\"phone\": \"" PHONE "\", \"language\": [\"en\"]}",
		    "invalid_field", "language" },
		{ "{\"phone\": \"" PHONE "\", \"template\": "
		    "{\"text\": \"{code}\"}}", "invalid_field", "template" },
		{ "{\"phone\": \"" PHONE "\", \"sender\": 12345}",
		    "invalid_field", "sender" },
		{ "{\"phone\": \"" PHONE "\", \"metadata\": \"{}\"}",
		    "invalid_field", "metadata" },
		{ "{\"phone\": \"" PHONE "\", \"metadata\": [1]}",
		    "invalid_field", "metadata" },
	};
	char id[64], text[256], code[16], body[256];
	json_t *j;

	h_start_all(&H);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_refused("/v1/verifications", bad[i].body, 422,
		    bad[i].code, bad[i].field);
	ck_assert_int_eq(h_count_sms(&H, PHONE), 0);

	/* Each type as it should be (a whole number written 5.0 is the
	 * number 5), null for a field left out: sent, and the caller's code
	 * keeps its leading zero. */
	j = h_send(&H, "{\"phone\": \"" PHONE "\", \"code\": \"012345\", "
	    "\"code_length\": 8, \"expiry_minutes\": 5.0, \"language\": "
	    "null, \"country\": \"US\", \"sender\": \"Acme\", "
	    "\"template\": \"Code {code}, {minutes} min\", \"metadata\": "
	    "{\"n\": 1}}", id, sizeof(id), 201);
	json_decref(j);
	h_read_sms(H.handset, PHONE, 1, text, sizeof(text), code,
	    sizeof(code));
	ck_assert_str_eq(text, "Code 012345, 5 min");

	/* The check reads the code as a string too: 12345 is refused, not
	 * taken for 012345 nor counted as a wrong code. */
	snprintf(body, sizeof(body), "{\"id\": \"%s\", \"code\": 12345}",
	    id);
	assert_refused("/v1/verifications/check", body, 422,
	    "invalid_field", "code");
	j = h_get_verif(&H, id);
	ck_assert_int_eq(json_integer_value(json_object_get(j,
	    "attempts_left")), 5);
	json_decref(j);
	ck_assert(h_code_valid(&H, id, "012345"));
}
END_TEST

/* The check's fields: id, phone, country and code are strings; a refused
 * check costs no attempt. */
START_TEST(check_types_strict)
{
	char id[64], code[16], body[256];
	json_t *j;
	int status;

	h_start_all(&H);
	json_decref(h_send_code(&H, PHONE, id, sizeof(id), 201));
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	/* fmt takes the id, then the code (%.0s: one left out) */
	const struct {
		const char *fmt, *code, *field;
	} bad[] = {
		{ "{\"id\": \"%s\", \"code\": 123456%.0s}", "invalid_field",
		    "code" },
		{ "{\"id\": \"%s\", \"code\": [\"%s\"]}", "invalid_field",
		    "code" },
		{ "{\"id\": \"%s\", \"code\": \"%s0000000\"}",
		    "invalid_code", "code" },
		{ "{\"id\": \"%s\", \"code\": null%.0s}", "missing_field",
		    "code" },
		{ "{\"id\": 1%.0s, \"code\": \"%s\"}", "invalid_field",
		    "id" },
		{ "{\"phone\": 14155550123%.0s, \"code\": \"%s\"}",
		    "invalid_field", "phone" },
		{ "{\"phone\": \"4155550123%.0s\", \"country\": true, "
		    "\"code\": \"%s\"}", "invalid_field", "country" },
		{ "{\"phone\": \"4155550123%.0s\", \"country\": \"XQ\", "
		    "\"code\": \"%s\"}", "invalid_country", "country" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), bad[i].fmt, id, code);
		assert_refused("/v1/verifications/check", body, 422,
		    bad[i].code, bad[i].field);
		/* seed 003's check is the same */
		assert_refused("/v1/sms/verify/check", body, 422,
		    bad[i].code, bad[i].field);
	}
	j = h_get_verif(&H, id);
	ck_assert_str_eq(h_jstr(j, "status"), "pending");
	ck_assert_int_eq(json_integer_value(json_object_get(j,
	    "attempts_left")), 5);
	json_decref(j);
	/* As strings, by number with its country: approved. */
	snprintf(body, sizeof(body), "{\"phone\": \"4155550123\", "
	    "\"country\": \"US\", \"code\": \"%s\"}", code);
	j = h_json(&H, "POST", "/v1/verifications/check", body, &status);
	ck_assert_int_eq(status, 200);
	ck_assert(json_is_true(json_object_get(j, "valid")));
	json_decref(j);
}
END_TEST

/* A fixed path under the /v1/verifications/ prefix answers 405 with Allow
 * for another method, as an exact route does: GET .../check is not a
 * verification called "check".  No key is needed to learn it. */
START_TEST(methods_under_prefix)
{
	static const struct {
		const char *method, *path, *allow;
		int status;
	} want[] = {
		{ "GET", "/v1/verifications/check", "POST", 405 },
		{ "HEAD", "/v1/verifications/check", "POST", 405 },
		{ "GET", "/v1/verifications/%s/cancel", "POST", 405 },
		{ "POST", "/v1/verifications/%s", "GET, HEAD", 405 },
		{ "GET", "/v1/verifications", "POST", 405 },
		{ "GET", "/v1/sms/verify/check", "POST", 405 },
		{ "GET", "/v1/verifications/%s/other", "", 404 },
	};
	char id[64], path[160], resp[4096], allow[64];
	int st;

	h_start_all(&H);
	json_decref(h_send_code(&H, PHONE, id, sizeof(id), 201));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		snprintf(path, sizeof(path), want[i].path, id);
		for (int auth = 0; auth < 2; auth++) {
			st = http_raw(want[i].method, path, auth ? H_TOKEN :
			    NULL, resp, sizeof(resp));
			ck_assert_msg(st == want[i].status, "%s %s answered "
			    "%d, not %d", want[i].method, path, st,
			    want[i].status);
			h_header_of(resp, "Allow", allow, sizeof(allow));
			ck_assert_msg(strcmp(allow, want[i].allow) == 0,
			    "%s %s: Allow \"%s\", not \"%s\"", want[i].method,
			    path, allow, want[i].allow);
			if (st == 405 && strcmp(want[i].method, "HEAD") != 0)
				ck_assert_ptr_nonnull(strstr(resp,
				    "\"method_not_allowed\""));
		}
	}
	/* The verification is still there, untouched. */
	json_t *j = h_get_verif(&H, id);
	ck_assert_str_eq(h_jstr(j, "status"), "pending");
	json_decref(j);
}
END_TEST

/* A cancel takes no fields: an empty body or a JSON object; another body
 * is refused as every endpoint refuses it, and cancels nothing. */
START_TEST(cancel_body)
{
	char id[64], path[160], out[1024];
	json_t *j;
	int st;

	h_start_all(&H);
	json_decref(h_send_code(&H, PHONE, id, sizeof(id), 201));
	snprintf(path, sizeof(path), "/v1/verifications/%s/cancel", id);
	st = h_http(&H, "POST", path, NULL, H_TOKEN, "[1]", out, sizeof(out));
	ck_assert_int_eq(st, 400);
	st = h_http(&H, "POST", path, "text/plain", H_TOKEN, "please", out,
	    sizeof(out));
	ck_assert_int_eq(st, 415);
	j = h_get_verif(&H, id);
	ck_assert_str_eq(h_jstr(j, "status"), "pending");
	json_decref(j);
	st = h_http(&H, "POST", path, "text/plain", H_TOKEN, NULL, out,
	    sizeof(out));
	ck_assert_msg(st == 200, "empty cancel answered %d: %s", st, out);
	j = h_get_verif(&H, id);
	ck_assert_str_eq(h_jstr(j, "status"), "canceled");
	json_decref(j);
}
END_TEST

/* After the lock (max attempts) a check by number answers
 * max_attempts_reached, not not_found, and the next send, within
 * repeat_window, is a repeat: attempt 2, over the other SMSC.  Its code
 * then checks by number. */
START_TEST(send_after_lock)
{
	char id1[64], id2[64], code[16], wrong[16], body[128];
	json_t *j;
	int status;

	H.max_checks = 3;
	snprintf(H.key_extra, sizeof(H.key_extra), "resend_interval = 0\n");
	h_start_two(&H, "[route all]\nprefix = +\nsmsc = a b\n");
	j = h_send_code(&H, PHONE, id1, sizeof(id1), 201);
	ck_assert_str_eq(h_jstr(j, "smsc"), "a");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "attempt")),
	    1);
	json_decref(j);
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	snprintf(wrong, sizeof(wrong), "%06d", (atoi(code) + 7) % 1000000);
	snprintf(body, sizeof(body), "{\"phone\": \"" PHONE "\", "
	    "\"code\": \"%s\"}", wrong);
	for (int i = 0; i < 3; i++) {
		j = h_json(&H, "POST", "/v1/verifications/check", body,
		    &status);
		ck_assert_int_eq(status, 200);
		json_decref(j);
	}
	/* Locked: by number, even the right code. */
	snprintf(body, sizeof(body), "{\"phone\": \"" PHONE "\", "
	    "\"code\": \"%s\"}", code);
	j = h_json(&H, "POST", "/v1/verifications/check", body, &status);
	ck_assert_int_eq(status, 200);
	ck_assert(json_is_false(json_object_get(j, "valid")));
	ck_assert_str_eq(h_jstr(j, "status"), "max_attempts_reached");
	ck_assert_str_eq(h_jstr(j, "id"), id1);
	json_decref(j);

	j = h_send_code(&H, PHONE, id2, sizeof(id2), 201);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "attempt")),
	    2);
	ck_assert_str_eq(h_jstr(j, "smsc"), "b");
	json_decref(j);
	h_read_code(H.sims[0].handset, PHONE, 1, code, sizeof(code));
	ck_assert_int_eq(h_count_sms_in(H.handset, PHONE), 1);
	snprintf(body, sizeof(body), "{\"phone\": \"" PHONE "\", "
	    "\"code\": \"%s\"}", code);
	j = h_json(&H, "POST", "/v1/verifications/check", body, &status);
	ck_assert(json_is_true(json_object_get(j, "valid")));
	ck_assert_str_eq(h_jstr(j, "id"), id2);
	json_decref(j);
	j = h_get_verif(&H, id1);
	ck_assert_str_eq(h_jstr(j, "status"), "max_attempts_reached");
	json_decref(j);
}
END_TEST

START_TEST(sighup_reloads_keys_keeps_binds)
{
	char out[4096];
	json_t *list, *e, *b;
	int st;

	h_start_all(&H);
	st = h_http(&H, "GET", "/v1/smscs", NULL,
	    "added-token-0123456789abcdef", NULL, out, sizeof(out));
	ck_assert_int_eq(st, 401);
	/* Add a key to the configuration and reload: it works at once. */
	snprintf(H.extra_conf, sizeof(H.extra_conf),
	    "[key added]\ntoken = added-token-0123456789abcdef\n");
	ck_assert_msg(h_daemon_reload(&H) == 0, "the reload was refused or "
	    "never logged (see %s)", H.daemon_log);
	st = h_http(&H, "GET", "/v1/smscs", NULL,
	    "added-token-0123456789abcdef", NULL, out, sizeof(out));
	ck_assert_msg(st == 200, "the new key got %d after the reload", st);
	/* The unchanged SMSC kept its bind: no reconnect happened. */
	list = json_loads(out, 0, NULL);
	e = h_smsc_entry(list, "sim");
	b = json_array_get(json_object_get(e, "binds"), 0);
	ck_assert_msg(e != NULL, "sim not listed: %s", out);
	ck_assert_int_eq(json_integer_value(json_object_get(b, "reconnects")),
	    0);
	ck_assert_str_eq(h_jstr(b, "state"), "bound");
	json_decref(list);
	/* A broken configuration is refused and the daemon goes on with the
	 * one it has. */
	snprintf(H.extra_conf, sizeof(H.extra_conf),
	    "[key added]\ntoken = added-token-0123456789abcdef\n"
	    "[smsc broken]\nport = 99999\n");
	ck_assert_msg(h_daemon_reload(&H) == -1, "a broken configuration was "
	    "swapped in");
	ck_assert_msg(h_count_lines(H.daemon_log, "event=gw.reload_refused")
	    == 1, "the refusal was not logged (see %s)", H.daemon_log);
	st = h_http(&H, "GET", "/v1/smscs", NULL,
	    "added-token-0123456789abcdef", NULL, out, sizeof(out));
	ck_assert_int_eq(st, 200);
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
}
END_TEST

START_TEST(full_store_answers_503)
{
	char first[64] = "", body[128], out[4096], path[160];
	int st = 0, sent = 0;

	/* A 1 MiB map and no SMSC: every send is stored queued with its sealed
	 * text, so the map fills after some hundreds. */
	snprintf(H.map_size, sizeof(H.map_size), "1M");
	/* Thousands of sends to a few ranges: no range limit here. */
	snprintf(H.key_extra, sizeof(H.key_extra), "sends_per_range = 0\n");
	ck_assert_msg(h_daemon_start(&H, 0) == 0, "smsverifyd did not "
	    "start (see %s)", H.daemon_log);
	for (int i = 0; i < 5000; i++) {
		snprintf(body, sizeof(body), "{\"phone\": \"+1415555%04d\"}",
		    i);
		st = h_http(&H, "POST", "/v1/verifications", NULL, H_TOKEN,
		    body, out, sizeof(out));
		if (st != 201)
			break;
		if (first[0] == '\0') {
			json_t *j = json_loads(out, 0, NULL);
			snprintf(first, sizeof(first), "%s", h_jstr(j, "id"));
			json_decref(j);
		}
		sent++;
	}
	ck_assert_msg(st == 503, "no 503 after %d sends (last %d)", sent, st);
	ck_assert_ptr_nonnull(strstr(out, "\"store_full\""));
	ck_assert_int_gt(sent, 10);
	/* What was stored before is intact and the daemon still answers. */
	snprintf(path, sizeof(path), "/v1/verifications/%s", first);
	ck_assert_int_eq(h_http(&H, "GET", path, NULL, H_TOKEN, NULL, out,
	    sizeof(out)), 200);
	ck_assert_ptr_nonnull(strstr(out, "\"pending\""));
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
	ck_assert(h_file_contains(H.daemon_log, "map_size"));
}
END_TEST

/* ---- webhooks --------------------------------------------------------- */

START_TEST(webhooks_signed_retried_durable)
{
	char id[64], id2[64], code[16], path[160];
	json_t *j;
	int status, failed = 0;

	snprintf(H.key_extra, sizeof(H.key_extra),
	    "webhook = http://127.0.0.1:%d/hook\nwebhook_secret = "
	    HOOK_SECRET "\n", H.hook_port);
	/* The receiver refuses its first two POSTs: they are retried. */
	ck_assert_int_eq(h_hook_start(&H, "--fail-first 2"), 0);
	h_start_all(&H);
	json_decref(h_send_code(&H, PHONE, id, sizeof(id), 201));
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	j = h_check(&H, id, code, &status);
	ck_assert_int_eq(status, 200);
	ck_assert_str_eq(h_jstr(j, "status"), "approved");
	json_decref(j);
	ck_assert_msg(hook_wait("verification.sent", id) == 0,
	    "no verification.sent event (see %s)", H.daemon_log);
	ck_assert_msg(hook_wait("verification.approved", id) == 0,
	    "no verification.approved event (see %s)", H.daemon_log);
	ck_assert_int_eq(hook_count("verification.approved", id, &failed), 1);
	ck_assert_int_eq(failed, 2);
	/* No event ever holds the code. */
	ck_assert(!h_file_contains(H.hook_log, code));

	/* The receiver is down: an event waits in the outbox, across a
	 * restart of the daemon, and arrives once the receiver is back. */
	ck_assert_int_eq(h_hook_stop(&H), 0);
	json_decref(h_send_code(&H, "+14155550124", id2, sizeof(id2), 201));
	snprintf(path, sizeof(path), "/v1/verifications/%s/cancel", id2);
	j = h_json(&H, "POST", path, "{}", &status);
	ck_assert_int_eq(status, 200);
	json_decref(j);
	/* Both of id2's events (sent, canceled) were tried, and found no
	 * receiver (a warning: written at once). */
	ck_assert_msg(h_wait_lines_n(H.daemon_log, "status=0 tries=1 ", 2,
	    H_LOG_WAIT_MS) >= 2, "the events of %s were not tried while the "
	    "receiver was down (see %s)", id2, H.daemon_log);
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
	ck_assert_int_eq(hook_count("verification.canceled", id2, NULL), 0);
	ck_assert_int_eq(h_hook_start(&H, ""), 0);
	ck_assert_msg(h_daemon_start(&H, 1) == 0, "no restart (see %s)",
	    H.daemon_log);
	ck_assert_msg(hook_wait("verification.canceled", id2) == 0,
	    "the canceled event did not survive the restart (see %s)",
	    H.daemon_log);
	ck_assert_int_eq(hook_count("verification.canceled", id2, NULL), 1);
}
END_TEST

/* Start hook_sink speaking HTTPS with the test server certificate (it
 * names 127.0.0.1), and point [key test] at it. */
static void
hook_start_tls(void)
{
	char cert[400], key[400], args[256];

	peer_tls_path(cert, sizeof(cert), "server.pem");
	peer_tls_path(key, sizeof(key), "server.key");
	ck_assert_msg(h_file_contains(cert, "BEGIN CERTIFICATE"),
	    "cannot read %s (set SV_SRCDIR)", cert);
	ck_assert_int_lt(snprintf(args, sizeof(args),
	    "--tls-cert %s --tls-key %s", cert, key), (int)sizeof(args));
	snprintf(H.key_extra, sizeof(H.key_extra),
	    "webhook = https://127.0.0.1:%d/hook\nwebhook_secret = "
	    HOOK_SECRET "\n", H.hook_port);
	ck_assert_msg(h_hook_start(&H, args) == 0,
	    "hook_sink did not start (see %s)", H.hook_stderr);
}

/* Send a code to PHONE and approve it; copies the verification's id. */
static void
send_and_approve(char *id, size_t idsize)
{
	char code[16];
	json_t *j;
	int status;

	json_decref(h_send_code(&H, PHONE, id, idsize, 201));
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	j = h_check(&H, id, code, &status);
	ck_assert_int_eq(status, 200);
	ck_assert_str_eq(h_jstr(j, "status"), "approved");
	json_decref(j);
}

START_TEST(webhooks_https)
{
	char id[64], ca[400];
	int failed = -1;

	hook_start_tls();
	/* The test CA is no system's: the daemon trusts it by name. */
	ck_assert_int_lt(snprintf(H.server_extra, sizeof(H.server_extra),
	    "webhook_ca_file = %s\n", peer_tls_path(ca, sizeof(ca), "ca.pem")),
	    (int)sizeof(H.server_extra));
	h_start_all(&H);
	send_and_approve(id, sizeof(id));
	ck_assert_msg(hook_wait("verification.approved", id) == 0,
	    "no verification.approved event over HTTPS (see %s)",
	    H.daemon_log);
	/* hook_count() checked the signature; every try got through. */
	ck_assert_int_eq(hook_count("verification.approved", id, &failed), 1);
	ck_assert_int_eq(failed, 0);
	ck_assert_int_eq(h_count_lines(H.daemon_log, "event=webhook.failed"),
	    0);
	ck_assert_int_eq(h_count_lines(H.daemon_log, "event=webhook.tls"), 0);
	/* Both exit cleanly: under ASan a leak would fail them here. */
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
	ck_assert_int_eq(h_hook_stop(&H), 0);
}
END_TEST

START_TEST(webhooks_https_untrusted)
{
	char id[64];

	/* No webhook_ca_file: the system's CA store, which does not know
	 * the test CA, so the receiver's certificate is refused. */
	hook_start_tls();
	h_start_all(&H);
	send_and_approve(id, sizeof(id));
	/* webhook.failed is a warning, so written at once (not with the
	 * batched info lines) when a try has ended: wait for a second try
	 * of an event (its first one came a second or two before). */
	ck_assert_msg(h_wait_lines(H.daemon_log, "status=0 tries=2 ",
	    HOOK_WAIT_MS) > 0,
	    "no second failed try of a webhook event (see %s)", H.daemon_log);
	/* Both tries ended in the handshake: no request reached the
	 * receiver, so there is no line at all, and the event is not
	 * dropped but waits for the next try. */
	ck_assert_int_eq(h_count_lines(H.hook_log, "\"method\""), 0);
	ck_assert_int_eq(h_count_lines(H.daemon_log, "event=webhook.dropped"),
	    0);

	/* The same receiver with the test CA trusted is webhooks_https. */
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
	ck_assert_int_eq(h_hook_stop(&H), 0);
}
END_TEST

/* A receiver that never answers: a socket on 127.0.0.1 that listens and
 * never accepts (the kernel completes the connections, nobody reads).
 * Returns the fd; *port gets its port. */
static int
black_hole(int *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 64), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

START_TEST(webhooks_dead_receiver_holds_back_nothing_else)
{
	char id[64], code[16], body[128], out[1024], phone[32];
	int hole, port, st;

	/* Key "other" POSTs to a receiver that never answers (each try
	 * waits for the 10 s timeout); key "test" to a working one. */
	hole = black_hole(&port);
	snprintf(H.key_extra, sizeof(H.key_extra),
	    "webhook = http://127.0.0.1:%d/hook\nwebhook_secret = "
	    HOOK_SECRET "\n", H.hook_port);
	snprintf(H.extra_conf, sizeof(H.extra_conf),
	    "webhook = http://127.0.0.1:%d/hook\nwebhook_secret = x\n", port);
	ck_assert_int_eq(h_hook_start(&H, ""), 0);
	h_start_all(&H);
	/* More of other's events than may be in flight for one key. */
	for (int i = 0; i < 6; i++) {
		snprintf(body, sizeof(body), "{\"phone\": \"+1415555080%d\"}",
		    i);
		st = h_http(&H, "POST", "/v1/verifications", NULL,
		    "other-token-0123456789abcdef", body, out, sizeof(out));
		ck_assert_int_eq(st, 201);
	}
	snprintf(phone, sizeof(phone), "%s", PHONE);
	json_decref(h_send_code(&H, phone, id, sizeof(id), 201));
	h_read_code(H.handset, phone, 1, code, sizeof(code));
	json_decref(h_check(&H, id, code, &st));
	ck_assert_int_eq(st, 200);
	ck_assert_msg(hook_wait("verification.approved", id) == 0,
	    "test's event never came (see %s)", H.daemon_log);
	/* It came while other's POSTs were all still waiting for their
	 * answer: no try of other's had ended yet. */
	ck_assert_int_eq(h_count_lines(H.daemon_log,
	    "event=webhook.failed key=other"), 0);
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
	close(hole);
}
END_TEST

START_TEST(webhook_event_types)
{
	char a[64], b[64], c[64], code[16];
	json_t *ev, *data, *last;
	int st;

	snprintf(H.key_extra, sizeof(H.key_extra),
	    "webhook = http://127.0.0.1:%d/hook\nwebhook_secret = "
	    HOOK_SECRET "\n", H.hook_port);
	/* Receipts say delivered; numbers under +1415555099 are refused
	 * for good; codes live 10 s. */
	snprintf(H.sim_args, sizeof(H.sim_args),
	    "--dlr delivered --refuse-prefix 1415555099");
	H.expiry = 10;
	ck_assert_int_eq(h_hook_start(&H, ""), 0);
	h_start_all(&H);

	json_decref(h_send_code(&H, PHONE, a, sizeof(a), 201));
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	json_decref(h_check(&H, a, code, &st));
	ck_assert_int_eq(st, 200);
	json_decref(h_send_code(&H, "+14155550990", b, sizeof(b), 201));
	json_decref(h_send_code(&H, "+14155550777", c, sizeof(c), 201));

	/* delivery: the receipt's state on the last attempt */
	ck_assert_msg(hook_wait("verification.delivery", a) == 0,
	    "no delivery event (see %s)", H.daemon_log);
	ev = hook_event("verification.delivery", a);
	data = json_object_get(ev, "data");
	last = json_object_get(data, "last_attempt");
	ck_assert_str_eq(h_jstr(last, "delivery"), "delivered");
	ck_assert_str_eq(h_jstr(last, "smsc"), "sim");
	json_decref(ev);
	/* approved */
	ck_assert_msg(hook_wait("verification.approved", a) == 0,
	    "no approved event (see %s)", H.daemon_log);
	ev = hook_event("verification.approved", a);
	ck_assert_str_eq(h_jstr(json_object_get(ev, "data"), "status"),
	    "approved");
	json_decref(ev);
	/* failed, with the SMSC's refusal as the reason */
	ck_assert_msg(hook_wait("verification.failed", b) == 0,
	    "no failed event (see %s)", H.daemon_log);
	ev = hook_event("verification.failed", b);
	data = json_object_get(ev, "data");
	ck_assert_str_eq(h_jstr(data, "status"), "failed");
	ck_assert_ptr_nonnull(strstr(h_jstr(data, "reason"), "INVDSTADR"));
	json_decref(ev);
	/* expired, by the sweep once its 10 s are over */
	ck_assert_msg(hook_wait("verification.expired", c) == 0,
	    "no expired event (see %s)", H.daemon_log);
	ev = hook_event("verification.expired", c);
	ck_assert_str_eq(h_jstr(json_object_get(ev, "data"), "status"),
	    "expired");
	json_decref(ev);
}
END_TEST

static Suite *
e2e_suite(void)
{
	Suite *s = suite_create("e2e");
	const struct h_test tests[] = {
		{ "send_and_check", send_and_check, 1 },
		{ "check_by_phone", check_by_phone, 1 },
		{ "wrong_codes_lock", wrong_codes_lock, 1 },
		{ "code_expires", code_expires, 1 },
		{ "restart", restart_between_send_and_check, 1 },
		{ "crash", crash_after_201_loses_nothing, 1 },
		{ "smsc_down", smsc_down_then_back, 1 },
		{ "queued_restart", queued_survives_restart, 1 },
		{ "supersede", new_send_cancels_pending, 1 },
		{ "receipt", receipt_updates_delivery, 1 },
		{ "bad_requests", bad_requests, 1 },
		{ "cancel", cancel_and_other_key, 1 },
		{ "send_types", send_types_strict, 1 },
		{ "check_types", check_types_strict, 1 },
		{ "methods_under_prefix", methods_under_prefix, 1 },
		{ "cancel_body", cancel_body, 1 },
		{ "send_after_lock", send_after_lock, 1 },
		{ "sighup", sighup_reloads_keys_keeps_binds, 1 },
		{ "store_full", full_store_answers_503, 1 },
		{ "webhooks", webhooks_signed_retried_durable, 1 },
		{ "webhook_event_types", webhook_event_types, 1 },
		{ "webhooks_dead_receiver",
		    webhooks_dead_receiver_holds_back_nothing_else, 1 },
		{ "webhooks_https", webhooks_https, 1 },
		{ "webhooks_https_untrusted", webhooks_https_untrusted, 1 },
	};

	h_add_tests(s, tests, sizeof(tests) / sizeof(tests[0]), setup,
	    teardown);
	return s;
}

int
main(void)
{
	return h_run_suite(e2e_suite());
}
