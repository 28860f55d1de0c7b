/*
 * check_e2e.c - the whole path, as users see it: smsverifyd and the SMSC
 * simulator run as processes on loopback; the test sends over HTTP, reads
 * the code from the simulator's handset log and checks it over HTTP.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <check.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "harness.h"
#include "peer.h"

#define PHONE "+14155550123"

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

/* One request, Connection: close, with the whole answer (status line and
 * headers too) into out; its status, or -1.  h_http() keeps the body
 * only, and these tests read a header.  body (JSON), when not NULL, goes
 * with it. */
static int
http_raw_body(const char *method, const char *path, const char *token,
    const char *body, char *out, size_t size)
{
	struct sockaddr_in sa;
	struct timeval tv = { 15, 0 };
	char head[512];
	size_t got = 0, blen = body != NULL ? strlen(body) : 0;
	int fd, n, status = -1;

	out[0] = '\0';
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(H.http_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\n"
		    "Host: 127.0.0.1\r\nConnection: close\r\n%s%s%s"
		    "%sContent-Length: %zu\r\n\r\n", method, path,
		    token ? "Authorization: Bearer " : "", token ? token : "",
		    token ? "\r\n" : "", body != NULL ?
		    "Content-Type: application/json\r\n" : "", blen);
		if (write(fd, head, (size_t)n) == n &&
		    (blen == 0 || write(fd, body, blen) == (ssize_t)blen))
			while (got + 1 < size && (n = (int)read(fd, out + got,
			    size - got - 1)) > 0)
				got += (size_t)n;
		out[got] = '\0';
		if (sscanf(out, "HTTP/1.%*d %d", &status) != 1)
			status = -1;
	}
	close(fd);
	return status;
}

/* http_raw_body() without a body. */
static int
http_raw(const char *method, const char *path, const char *token,
    char *out, size_t size)
{
	return http_raw_body(method, path, token, NULL, out, size);
}

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

#define HOOK_SECRET "hook-secret-for-tests"
#define HOOK_WAIT_MS 30000

/* 1 when line (a hook_sink log entry) carries a valid signature of its
 * body under HOOK_SECRET: "t=UNIX,v1=HEX" over "UNIX.BODY". */
static int
hook_signed(json_t *line)
{
	const char *sig = h_jstr(line, "signature"), *body = h_jstr(line, "body");
	char t[32], want[65], msg[8192];
	unsigned char mac[32];
	unsigned ml = 0;
	const char *v1;
	size_t tl;

	if (strncmp(sig, "t=", 2) != 0 || (v1 = strstr(sig, ",v1=")) == NULL)
		return 0;
	tl = (size_t)(v1 - (sig + 2));
	if (tl == 0 || tl >= sizeof(t))
		return 0;
	memcpy(t, sig + 2, tl);
	t[tl] = '\0';
	snprintf(msg, sizeof(msg), "%s.%s", t, body);
	HMAC(EVP_sha256(), HOOK_SECRET, (int)strlen(HOOK_SECRET),
	    (const unsigned char *)msg, strlen(msg), mac, &ml);
	for (int i = 0; i < 32; i++)
		snprintf(want + 2 * i, 3, "%02x", mac[i]);
	return strlen(v1 + 4) == 64 && CRYPTO_memcmp(want, v1 + 4, 64) == 0;
}

/* Walk hook_sink's log for the events of type whose data's member field
 * is value (and, when path is not NULL, that came to that path) that it
 * answered 2xx, checking that every body is JSON and every match is
 * signed.  Returns how many match; *first, unless NULL, gets the first of
 * them (caller frees) or NULL; *failed, unless NULL, the answers it
 * refused. */
static int
hook_walk_where(const char *type, const char *field, const char *value,
    const char *path, json_t **first, int *failed)
{
	json_t *lines = h_handset_read(H.hook_log), *l, *ev;
	size_t i;
	int n = 0, bad = 0;

	if (first != NULL)
		*first = NULL;
	json_array_foreach(lines, i, l) {
		if (json_is_true(json_object_get(l, "failed"))) {
			bad++;
			continue;
		}
		ev = json_loads(h_jstr(l, "body"), 0, NULL);
		ck_assert_msg(ev != NULL, "a webhook body is not JSON");
		if (strcmp(h_jstr(ev, "type"), type) == 0 &&
		    strcmp(h_jstr(json_object_get(ev, "data"), field),
		    value) == 0 && (path == NULL ||
		    strcmp(h_jstr(l, "path"), path) == 0)) {
			ck_assert_msg(hook_signed(l), "bad signature on %s",
			    type);
			/* Not freed here: the caller owns the first. */
			if (n++ == 0 && first != NULL) {
				*first = ev;
				continue;
			}
		}
		json_decref(ev);
	}
	json_decref(lines);
	if (failed != NULL)
		*failed = bad;
	return n;
}

/* Events of type for id (the verification's) that hook_sink answered
 * 2xx; as hook_walk_where(). */
static int
hook_walk(const char *type, const char *id, json_t **first, int *failed)
{
	return hook_walk_where(type, "id", id, NULL, first, failed);
}

/* Events of type for id that hook_sink answered 2xx (checking each one's
 * signature); *failed gets the answers it refused. */
static int
hook_count(const char *type, const char *id, int *failed)
{
	return hook_walk(type, id, NULL, failed);
}

/* The first event of type for id (from hook_sink's log, answered 2xx,
 * checked as hook_count() checks), as JSON (caller frees), or NULL. */
static json_t *
hook_event(const char *type, const char *id)
{
	json_t *ev;

	hook_walk(type, id, &ev, NULL);
	return ev;
}

static int
hook_wait(const char *type, const char *id)
{
	for (long long end = h_now_ms() + HOOK_WAIT_MS; h_now_ms() < end;) {
		if (hook_count(type, id, NULL) > 0)
			return 0;
		h_nap_ms(50);
	}
	return -1;
}

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
	return h_run_suite(e2e_suite());
}
