/*
 * check_compat.c - the three hosted verify APIs smsverify serves drop-in
 * (../shared/seeds 000, 002, 003), tested from their documents: each
 * example request sent as the document writes it gets an answer of the
 * documented shape, and the whole flow (send, the code on the handset,
 * check) passes through each API.  smsverifyd and the SMSC simulator run
 * as processes on loopback (harness.h).
 */
#define _GNU_SOURCE             /* strptime, timegm */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <jansson.h>

#include "harness.h"

#define FORM "application/x-www-form-urlencoded"
#define BOUNDARY "----smsverify7MA4YWxkTrZu0gW"
#define MULTIPART "multipart/form-data; boundary=" BOUNDARY

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

/* POST body as ctype (NULL: JSON) with token (NULL: none); the answer
 * parsed (the test fails when it is not JSON). */
static json_t *
post(const char *path, const char *ctype, const char *token,
    const char *body, int *status)
{
	char out[8192];
	json_error_t e;
	json_t *j;

	*status = h_http(&H, "POST", path, ctype, token, body, out,
	    sizeof(out));
	j = json_loads(out, 0, &e);
	ck_assert_msg(j != NULL, "%s answered %d, not JSON: %s", path,
	    *status, out);
	return j;
}

/* The object has exactly these keys (a NULL-terminated list). */
static void
assert_keys(json_t *j, const char *const *keys)
{
	size_t n = 0;

	ck_assert(json_is_object(j));
	for (; keys[n] != NULL; n++)
		ck_assert_msg(json_object_get(j, keys[n]) != NULL,
		    "answer has no \"%s\"", keys[n]);
	ck_assert_int_eq(json_object_size(j), n);
}

/* A code that is not code (same length). */
static void
wrong_of(const char *code, char *out, size_t size)
{
	snprintf(out, size, "%s", code);
	out[0] = out[0] == '9' ? '0' : (char)(out[0] + 1);
}

/* Seconds from now to an RFC 3339 UTC time. */
static long
secs_until(const char *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	ck_assert_msg(strptime(t, "%Y-%m-%dT%H:%M:%S", &tm) != NULL,
	    "not a time: %s", t);
	return (long)(timegm(&tm) - time(NULL));
}

/* ---- seed 000 --------------------------------------------------------- */

static const char *const keys_000[] = { "sent", "number-valid",
	"security-code", NULL };

START_TEST(seed000_send_and_verify)
{
	char body[512], text[512], code[16], wrong[16];
	json_t *j;
	int status;

	h_start_all(&H);
	/* Form-encoded, the key as an api-key field, the defaults: a
	 * 5-digit code in English. */
	snprintf(body, sizeof(body), "number=%%2B14155550123&api-key=%s",
	    H_TOKEN);
	j = post("/sms-verify", FORM, NULL, body, &status);
	ck_assert_int_eq(status, 200);
	assert_keys(j, keys_000);
	ck_assert(json_is_true(json_object_get(j, "sent")));
	ck_assert(json_is_true(json_object_get(j, "number-valid")));
	h_read_sms(H.handset, "+14155550123", 1,
	    text, sizeof(text), code, sizeof(code));
	ck_assert_int_eq((int)strlen(code), 5);
	ck_assert_str_eq(h_jstr(j, "security-code"), code);
	ck_assert_ptr_nonnull(strstr(text, "Your verification code is"));
	json_decref(j);

	/* Checked with the number in international format without its
	 * '+': wrong, right, then the right one again (valid once). */
	wrong_of(code, wrong, sizeof(wrong));
	snprintf(body, sizeof(body), "number=14155550123&security-code=%s"
	    "&api-key=%s", wrong, H_TOKEN);
	j = post("/verify-security-code", FORM, NULL, body, &status);
	ck_assert_int_eq(status, 200);
	ck_assert(json_is_false(json_object_get(j, "verified")));
	ck_assert_int_eq(json_object_size(j), 1);
	json_decref(j);
	snprintf(body, sizeof(body), "{\"number\": \"14155550123\", "
	    "\"security-code\": \"%s\"}", code);
	j = post("/verify-security-code", NULL, H_TOKEN, body, &status);
	ck_assert_int_eq(status, 200);
	ck_assert(json_is_true(json_object_get(j, "verified")));
	json_decref(j);
	j = post("/verify-security-code", NULL, H_TOKEN, body, &status);
	ck_assert(json_is_false(json_object_get(j, "verified")));
	json_decref(j);

	/* JSON: a national number read with country-code, 8 digits, in
	 * French. */
	j = post("/sms-verify", NULL, H_TOKEN, "{\"number\": \"0612345678\", "
	    "\"country-code\": \"fr\", \"code-length\": 8, "
	    "\"language-code\": \"fr\"}", &status);
	ck_assert_int_eq(status, 200);
	ck_assert(json_is_true(json_object_get(j, "sent")));
	h_read_sms(H.handset, "+33612345678", 1,
	    text, sizeof(text), code, sizeof(code));
	ck_assert_int_eq((int)strlen(code), 8);
	ck_assert_str_eq(h_jstr(j, "security-code"), code);
	ck_assert_ptr_nonnull(strstr(text, "Votre code"));
	json_decref(j);

	/* The caller's own code (an integer, as the document types it). */
	j = post("/sms-verify", NULL, H_TOKEN, "{\"number\": \"+14155550124\", "
	    "\"security-code\": 482913, \"language-code\": \"de\"}", &status);
	ck_assert_int_eq(status, 200);
	ck_assert_str_eq(h_jstr(j, "security-code"), "482913");
	h_read_sms(H.handset, "+14155550124", 1,
	    text, sizeof(text), code, sizeof(code));
	ck_assert_str_eq(code, "482913");
	ck_assert_ptr_nonnull(strstr(text, "Bestätigungscode"));
	json_decref(j);

	/* The code left only in the SMS and in the answer: never logged. */
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
	ck_assert(!h_file_contains(H.daemon_log, "482913"));
	ck_assert(!h_file_contains(H.daemon_log, code));
	ck_assert(!h_file_contains(H.daemon_log, H_TOKEN));
}
END_TEST

START_TEST(seed000_errors)
{
	json_t *j;
	int status;

	h_start_all(&H);
	/* Not a phone number: answered, not an error, and nothing sent. */
	j = post("/sms-verify", NULL, H_TOKEN, "{\"number\": \"12\"}",
	    &status);
	ck_assert_int_eq(status, 200);
	assert_keys(j, keys_000);
	ck_assert(json_is_false(json_object_get(j, "sent")));
	ck_assert(json_is_false(json_object_get(j, "number-valid")));
	ck_assert_str_eq(h_jstr(j, "security-code"), "");
	json_decref(j);
	/* A London landline is a valid number that cannot take an SMS. */
	j = post("/sms-verify", NULL, H_TOKEN, "{\"number\": \"+442079460000\"}",
	    &status);
	ck_assert_int_eq(status, 200);
	ck_assert(json_is_false(json_object_get(j, "sent")));
	ck_assert(json_is_true(json_object_get(j, "number-valid")));
	ck_assert_str_eq(h_jstr(j, "security-code"), "");
	json_decref(j);

	/* Out of range: the API's error answer, naming the parameter. */
	static const struct {
		const char *body, *names;
		int status, code;
		const char *token;
	} bad[] = {
		{ "{\"number\": \"+14155550125\", \"code-length\": 3}",
		    "code-length", 400, 1, H_TOKEN },
		{ "{\"number\": \"+14155550125\", \"code-length\": 13}",
		    "code-length", 400, 1, H_TOKEN },
		{ "{\"number\": \"+14155550125\", \"security-code\": \"12a4\"}",
		    "security-code", 400, 1, H_TOKEN },
		{ "{\"number\": \"+14155550125\", \"language-code\": \"xx\"}",
		    "language-code", 400, 1, H_TOKEN },
		{ "{\"number\": \"0612345678\", \"country-code\": \"XQ\"}",
		    "country-code", 400, 1, H_TOKEN },
		{ "{\"code-length\": 6}", "number", 400, 1, H_TOKEN },
		{ "{\"number\": \"+14155550125\"}", "api-key", 401, 2, NULL },
		{ "{\"number\": \"+14155550125\", \"api-key\": \"nope\"}",
		    "api-key", 401, 2, NULL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = post("/sms-verify", NULL, bad[i].token, bad[i].body,
		    &status);
		ck_assert_msg(status == bad[i].status, "%s: %d", bad[i].body,
		    status);
		ck_assert_int_eq(json_integer_value(json_object_get(j,
		    "api-error")), bad[i].code);
		ck_assert_msg(strstr(h_jstr(j, "api-error-msg"), bad[i].names),
		    "%s: message %s", bad[i].body, h_jstr(j, "api-error-msg"));
		json_decref(j);
	}
	j = post("/verify-security-code", NULL, H_TOKEN,
	    "{\"number\": \"+14155550125\"}", &status);
	ck_assert_int_eq(status, 400);
	ck_assert_ptr_nonnull(strstr(h_jstr(j, "api-error-msg"),
	    "security-code"));
	json_decref(j);
	ck_assert_int_eq(h_count_sms(&H, "+14155550125"), 0);
	ck_assert_int_eq(h_count_sms(&H, "+442079460000"), 0);
}
END_TEST

/* Types: the document lists parameters that come as form fields (all
 * strings) or in JSON; its integers (code-length, security-code) may be
 * JSON numbers or strings of digits, its strings must be strings. */
START_TEST(seed000_types)
{
	static const struct {
		const char *body, *names;
	} bad[] = {
		{ "{\"number\": 14155550131}", "number" },
		{ "{\"number\": [\"+14155550131\"]}", "number" },
		{ "{\"number\": \"+14155550131\", \"code-length\": true}",
		    "code-length" },
		{ "{\"number\": \"+14155550131\", \"code-length\": 6.5}",
		    "code-length" },
		{ "{\"number\": \"+14155550131\", \"code-length\": \"six\"}",
		    "code-length" },
		{ "{\"number\": \"+14155550131\", \"security-code\": "
		    "[123456]}", "security-code" },
		{ "{\"number\": \"+14155550131\", \"security-code\": -1234}",
		    "security-code" },
		{ "{\"number\": \"+14155550131\", \"language-code\": 1}",
		    "language-code" },
		{ "{\"number\": \"4155550131\", \"country-code\": 1}",
		    "country-code" },
	};
	char body[256], text[512], code[16];
	json_t *j;
	int status;

	h_start_all(&H);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = post("/sms-verify", NULL, H_TOKEN, bad[i].body, &status);
		ck_assert_msg(status == 400, "%s: %d", bad[i].body, status);
		ck_assert_int_eq(json_integer_value(json_object_get(j,
		    "api-error")), 1);
		ck_assert_msg(strstr(h_jstr(j, "api-error-msg"), bad[i].names),
		    "%s: message %s", bad[i].body, h_jstr(j, "api-error-msg"));
		json_decref(j);
	}
	ck_assert_int_eq(h_count_sms(&H, "+14155550131"), 0);

	/* code-length as a string of digits, as a form sends it. */
	j = post("/sms-verify", NULL, H_TOKEN, "{\"number\": \"+14155550131\", "
	    "\"code-length\": \"7\"}", &status);
	ck_assert_int_eq(status, 200);
	ck_assert(json_is_true(json_object_get(j, "sent")));
	json_decref(j);
	h_read_code(H.handset, "+14155550131", 1, code, sizeof(code));
	ck_assert_int_eq((int)strlen(code), 7);

	/* The caller's code as a string keeps its leading zero; the check
	 * takes it as a string or, without one, as an integer. */
	j = post("/sms-verify", NULL, H_TOKEN, "{\"number\": \"+14155550132\", "
	    "\"security-code\": \"012345\", \"code-length\": 6}", &status);
	ck_assert_int_eq(status, 200);
	ck_assert_str_eq(h_jstr(j, "security-code"), "012345");
	json_decref(j);
	h_read_sms(H.handset, "+14155550132", 1, text, sizeof(text), code,
	    sizeof(code));
	ck_assert_str_eq(code, "012345");
	j = post("/verify-security-code", NULL, H_TOKEN, "{\"number\": "
	    "\"+14155550132\", \"security-code\": \"012345\"}", &status);
	ck_assert(json_is_true(json_object_get(j, "verified")));
	json_decref(j);
	j = post("/sms-verify", NULL, H_TOKEN, "{\"number\": \"+14155550133\", "
	    "\"security-code\": 482913}", &status);
	ck_assert_int_eq(status, 200);
	json_decref(j);
	snprintf(body, sizeof(body), "{\"number\": \"+14155550133\", "
	    "\"security-code\": 482913}");
	j = post("/verify-security-code", NULL, H_TOKEN, body, &status);
	ck_assert_int_eq(status, 200);
	ck_assert(json_is_true(json_object_get(j, "verified")));
	json_decref(j);
}
END_TEST

/* ---- seed 002 --------------------------------------------------------- */

static const char *const keys_002[] = { "status", "unique", "timestamp",
	"from", "reason", NULL };

/* A multipart/form-data body ("form-data body", as the document says). */
static void
multipart(char *out, size_t size, const char *const *kv)
{
	size_t n = 0;

	out[0] = '\0';
	for (; kv[0] != NULL; kv += 2)
		n += (size_t)snprintf(out + n, size - n, "--%s\r\n"
		    "Content-Disposition: form-data; name=\"%s\"\r\n\r\n"
		    "%s\r\n", BOUNDARY, kv[0], kv[1]);
	snprintf(out + n, size - n, "--%s--\r\n", BOUNDARY);
}

START_TEST(seed002_send_and_check)
{
	char body[1024], text[512], code[16], wrong[16], path[96];
	json_t *j;
	int status;
	long long before = (long long)time(NULL);

	/* The key's country reads the national numbers ([verify]
	 * default_country stays US). */
	snprintf(H.key_extra, sizeof(H.key_extra), "country = IL\n");
	h_start_all(&H);
	/* The document's send: national number, a sender, ##code##. */
	multipart(body, sizeof(body), (const char *const[]){ "apiKey",
	    H_TOKEN, "from", "Acme", "to", "0501234567", "message",
	    "Your Acme code: ##code##", NULL });
	j = post("/verify/send", MULTIPART, NULL, body, &status);
	ck_assert_int_eq(status, 200);
	assert_keys(j, keys_002);
	ck_assert_str_eq(h_jstr(j, "status"), "OK");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "reason")), 1);
	ck_assert_str_eq(h_jstr(j, "from"), "Acme");
	ck_assert(strlen(h_jstr(j, "unique")) > 0);
	ck_assert(json_integer_value(json_object_get(j, "timestamp")) >=
	    before);
	ck_assert(json_integer_value(json_object_get(j, "timestamp")) <=
	    (long long)time(NULL));
	h_read_sms(H.handset, "+972501234567", 1,
	    text, sizeof(text), code, sizeof(code));
	ck_assert_str_eq(strstr(text, "Your Acme code: "), text);
	ck_assert_int_eq((int)strlen(code), 6);

	/* Codes live 10 minutes, whatever [verify] expiry says. */
	snprintf(path, sizeof(path), "/v1/verifications/%s",
	    h_jstr(j, "unique"));
	json_decref(j);
	j = h_json(&H, "GET", path, NULL, &status);
	ck_assert_int_eq(status, 200);
	ck_assert_int_eq((int)secs_until(h_jstr(j, "expires_at")) / 10, 60);
	json_decref(j);

	/* The document's check: wrong (2), right (1), again (4). */
	wrong_of(code, wrong, sizeof(wrong));
	snprintf(body, sizeof(body), "apiKey=%s&to=0501234567&code=%s",
	    H_TOKEN, wrong);
	j = post("/verify/check", FORM, NULL, body, &status);
	ck_assert_int_eq(status, 200);
	assert_keys(j, (const char *const[]){ "status", "phone", NULL });
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), 2);
	ck_assert_str_eq(h_jstr(j, "phone"), "0501234567");
	json_decref(j);
	multipart(body, sizeof(body), (const char *const[]){ "apiKey",
	    H_TOKEN, "to", "0501234567", "code", code, NULL });
	j = post("/verify/check", MULTIPART, NULL, body, &status);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), 1);
	ck_assert_str_eq(h_jstr(j, "phone"), "0501234567");
	json_decref(j);
	j = post("/verify/check", MULTIPART, NULL, body, &status);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), 4);
	json_decref(j);

	/* Without message: the document's default text. */
	snprintf(body, sizeof(body), "apiKey=%s&to=0501234568", H_TOKEN);
	j = post("/verify/send", FORM, NULL, body, &status);
	ck_assert_str_eq(h_jstr(j, "status"), "OK");
	ck_assert_str_eq(h_jstr(j, "from"), "Verify");   /* [verify] sender */
	json_decref(j);
	h_read_sms(H.handset, "+972501234568", 1,
	    text, sizeof(text), code, sizeof(code));
	ck_assert_str_eq(strstr(text, "Your verification code is: "), text);
}
END_TEST

START_TEST(seed002_errors)
{
	char body[512];
	json_t *j;
	int status;

	snprintf(H.country, sizeof(H.country), "IL");
	h_start_all(&H);
	static const struct {
		const char *fmt;
		int reason;
	} bad[] = {
		{ "apiKey=nope&to=0501234567", 3 },
		{ "to=0501234567", 3 },
		{ "apiKey=%s&to=12", 4 },
		{ "apiKey=%s", 4 },
		{ "apiKey=%s&to=035551234&from=ABC", 5 },
		{ "apiKey=%s&to=0501234567&from=TwelveLetter", 6 },
		{ "apiKey=%s&to=0501234567&from=A%%2BB", 6 },
		{ "apiKey=%s&to=0501234567&message=no+code+here", 7 },
		{ "apiKey=%s&to=0501234567&message=%%7Bcode%%7D+only", 7 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), bad[i].fmt, H_TOKEN);
		j = post("/verify/send", FORM, NULL, body, &status);
		ck_assert_int_eq(status, 200);
		assert_keys(j, keys_002);
		ck_assert_msg(strcmp(h_jstr(j, "status"), "FAIL") == 0, "%s",
		    bad[i].fmt);
		ck_assert_msg(json_integer_value(json_object_get(j,
		    "reason")) == bad[i].reason, "%s: reason %lld",
		    bad[i].fmt, (long long)json_integer_value(
		    json_object_get(j, "reason")));
		ck_assert(json_is_null(json_object_get(j, "unique")));
		json_decref(j);
	}
	ck_assert_int_eq(h_count_sms(&H, "+972501234567"), 0);
	ck_assert_int_eq(h_count_sms(&H, "+97235551234"), 0);

	/* Not a form: reason 9. */
	j = post("/verify/send", "text/plain", NULL, "to=0501234567",
	    &status);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "reason")), 9);
	json_decref(j);

	/* Checks: unknown key 6, missing code 7, malformed code 7, a number
	 * with nothing pending 4. */
	static const struct {
		const char *fmt;
		int status;
	} cbad[] = {
		{ "apiKey=nope&to=0501234567&code=123456", 6 },
		{ "apiKey=%s&to=0501234567", 7 },
		{ "apiKey=%s&to=0501234567&code=12ab56", 7 },
		{ "apiKey=%s&code=123456", 7 },
		{ "apiKey=%s&to=0501234569&code=123456", 4 },
	};
	for (size_t i = 0; i < sizeof(cbad) / sizeof(cbad[0]); i++) {
		snprintf(body, sizeof(body), cbad[i].fmt, H_TOKEN);
		j = post("/verify/check", FORM, NULL, body, &status);
		ck_assert_int_eq(status, 200);
		ck_assert_msg(json_integer_value(json_object_get(j,
		    "status")) == cbad[i].status, "%s", cbad[i].fmt);
		json_decref(j);
	}
}
END_TEST

/* A locked code (too many wrong ones) answers 5, the checks after the
 * lock too, even with the right code, until a new send; then 1. */
START_TEST(seed002_locked)
{
	char body[256], code[16], wrong[16];
	json_t *j;
	int status;

	H.max_checks = 3;
	snprintf(H.key_extra, sizeof(H.key_extra), "country = IL\n"
	    "resend_interval = 0\n");
	h_start_all(&H);
	snprintf(body, sizeof(body), "apiKey=%s&to=0501234570", H_TOKEN);
	j = post("/verify/send", FORM, NULL, body, &status);
	ck_assert_str_eq(h_jstr(j, "status"), "OK");
	json_decref(j);
	h_read_code(H.handset, "+972501234570", 1, code, sizeof(code));
	wrong_of(code, wrong, sizeof(wrong));
	for (int i = 1; i <= 3; i++) {
		snprintf(body, sizeof(body), "apiKey=%s&to=0501234570&code=%s",
		    H_TOKEN, wrong);
		j = post("/verify/check", FORM, NULL, body, &status);
		ck_assert_int_eq(status, 200);
		ck_assert_msg(json_integer_value(json_object_get(j,
		    "status")) == (i < 3 ? 2 : 5), "wrong code %d: status "
		    "%lld", i, (long long)json_integer_value(
		    json_object_get(j, "status")));
		json_decref(j);
	}
	for (int i = 0; i < 2; i++) {
		snprintf(body, sizeof(body), "apiKey=%s&to=0501234570&code=%s",
		    H_TOKEN, i == 0 ? wrong : code);
		j = post("/verify/check", FORM, NULL, body, &status);
		ck_assert_int_eq(json_integer_value(json_object_get(j,
		    "status")), 5);
		ck_assert_str_eq(h_jstr(j, "phone"), "0501234570");
		json_decref(j);
	}
	/* A new code replaces the locked one. */
	snprintf(body, sizeof(body), "apiKey=%s&to=0501234570", H_TOKEN);
	j = post("/verify/send", FORM, NULL, body, &status);
	ck_assert_str_eq(h_jstr(j, "status"), "OK");
	json_decref(j);
	h_read_code(H.handset, "+972501234570", 2, code, sizeof(code));
	snprintf(body, sizeof(body), "apiKey=%s&to=0501234570&code=%s",
	    H_TOKEN, code);
	j = post("/verify/check", FORM, NULL, body, &status);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), 1);
	json_decref(j);
}
END_TEST

/* The document's bodies are form data, where every field is a string;
 * its JSON bodies (ours) take the same: a field of another type is
 * refused with its reason or status, the code as a number too. */
START_TEST(seed002_types)
{
	static const struct {
		const char *fmt;
		int reason;
	} bad[] = {
		{ "{\"apiKey\": \"%s\", \"to\": 501234571}", 4 },
		{ "{\"apiKey\": \"%s\", \"to\": \"0501234571\", "
		    "\"from\": 123}", 6 },
		{ "{\"apiKey\": \"%s\", \"to\": \"0501234571\", "
		    "\"message\": [\"##code##\"]}", 7 },
		{ "{\"apiKey\": [\"%s\"], \"to\": \"0501234571\"}", 3 },
	};
	char body[256], code[16];
	json_t *j;
	int status;

	snprintf(H.key_extra, sizeof(H.key_extra), "country = IL\n");
	h_start_all(&H);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), bad[i].fmt, H_TOKEN);
		j = post("/verify/send", NULL, NULL, body, &status);
		ck_assert_int_eq(status, 200);
		ck_assert_msg(json_integer_value(json_object_get(j,
		    "reason")) == bad[i].reason, "%s: reason %lld", body,
		    (long long)json_integer_value(json_object_get(j,
		    "reason")));
		json_decref(j);
	}
	ck_assert_int_eq(h_count_sms(&H, "+972501234571"), 0);

	snprintf(body, sizeof(body), "{\"apiKey\": \"%s\", \"to\": "
	    "\"0501234571\"}", H_TOKEN);
	j = post("/verify/send", NULL, NULL, body, &status);
	ck_assert_str_eq(h_jstr(j, "status"), "OK");
	json_decref(j);
	h_read_code(H.handset, "+972501234571", 1, code, sizeof(code));
	/* The code as a JSON number: 7 (malformed), not 2 (a wrong code). */
	snprintf(body, sizeof(body), "{\"apiKey\": \"%s\", \"to\": "
	    "\"0501234571\", \"code\": 1%s}", H_TOKEN, code);
	j = post("/verify/check", NULL, NULL, body, &status);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), 7);
	json_decref(j);
	snprintf(body, sizeof(body), "{\"apiKey\": \"%s\", \"to\": "
	    "\"0501234571\", \"code\": \"%s\"}", H_TOKEN, code);
	j = post("/verify/check", NULL, NULL, body, &status);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), 1);
	json_decref(j);
}
END_TEST

/* ---- seed 003 --------------------------------------------------------- */

static const char *const keys_003[] = { "id", "phone", "status",
	"expires_at", NULL };

/* expires_at as the document's example writes it: ...T15:30:00.000Z */
static void
assert_time_003(const char *t, long want_secs)
{
	long d;

	ck_assert_msg(strlen(t) == 24 && strcmp(t + 19, ".000Z") == 0,
	    "expires_at %s", t);
	d = secs_until(t);
	ck_assert_msg(d > want_secs - 30 && d <= want_secs, "expires in %ld",
	    d);
}

START_TEST(seed003_send_and_check)
{
	char text[512], code1[16], code2[16], body[256], id1[64];
	json_t *j;
	int status;

	/* Two sends to one number at once: no resend_interval here. */
	snprintf(H.key_extra, sizeof(H.key_extra), "resend_interval = 0\n");
	h_start_all(&H);
	/* "Basic OTP", as the document writes it. */
	j = post("/v1/sms/verify/send", "application/json", H_TOKEN,
	    "{\n    \"phone\": \"+14155551234\"\n  }", &status);
	ck_assert_int_eq(status, 200);
	assert_keys(j, keys_003);
	ck_assert_str_eq(h_jstr(j, "phone"), "+14155551234");
	ck_assert_str_eq(h_jstr(j, "status"), "sent");
	assert_time_003(h_jstr(j, "expires_at"), 600);
	snprintf(id1, sizeof(id1), "%s", h_jstr(j, "id"));
	json_decref(j);
	h_read_sms(H.handset, "+14155551234", 1,
	    text, sizeof(text), code1, sizeof(code1));
	ck_assert_int_eq((int)strlen(code1), 6);
	snprintf(body, sizeof(body), "Your verification code is: %s. Valid "
	    "for 10 minutes.", code1);
	ck_assert_str_eq(text, body);

	/* "Custom Template": it also invalidates the pending code. */
	j = post("/v1/sms/verify/send", "application/json", H_TOKEN,
	    "{\n    \"phone\": \"+14155551234\",\n    \"template\": \"Your "
	    "Acme login code: {code}\",\n    \"code_length\": 4,\n    "
	    "\"expiry_minutes\": 5\n  }", &status);
	ck_assert_int_eq(status, 200);
	assert_keys(j, keys_003);
	ck_assert_str_eq(h_jstr(j, "status"), "sent");
	assert_time_003(h_jstr(j, "expires_at"), 300);
	ck_assert_str_ne(h_jstr(j, "id"), id1);
	json_decref(j);
	h_read_sms(H.handset, "+14155551234", 2,
	    text, sizeof(text), code2, sizeof(code2));
	ck_assert_int_eq((int)strlen(code2), 4);
	snprintf(body, sizeof(body), "Your Acme login code: %s", code2);
	ck_assert_str_eq(text, body);

	/* The first code is no longer good, the second is, once. */
	snprintf(body, sizeof(body), "{\"id\": \"%s\", \"code\": \"%s\"}",
	    id1, code1);
	j = post("/v1/sms/verify/check", NULL, H_TOKEN, body, &status);
	ck_assert_int_eq(status, 200);
	ck_assert(json_is_false(json_object_get(j, "valid")));
	ck_assert_str_eq(h_jstr(j, "status"), "canceled");
	json_decref(j);
	snprintf(body, sizeof(body), "{\"phone\": \"+14155551234\", "
	    "\"code\": \"%s\"}", code2);
	j = post("/v1/sms/verify/check", NULL, H_TOKEN, body, &status);
	ck_assert_int_eq(status, 200);
	ck_assert(json_is_true(json_object_get(j, "valid")));
	ck_assert_str_eq(h_jstr(j, "status"), "approved");
	json_decref(j);
	j = post("/v1/sms/verify/check", NULL, H_TOKEN, body, &status);
	ck_assert(json_is_false(json_object_get(j, "valid")));
	json_decref(j);

	/* metadata is kept with the verification. */
	j = post("/v1/sms/verify/send", NULL, H_TOKEN, "{\"phone\": "
	    "\"+14155550126\", \"metadata\": {\"user\": \"u-42\"}}", &status);
	ck_assert_int_eq(status, 200);
	snprintf(body, sizeof(body), "/v1/verifications/%s", h_jstr(j, "id"));
	json_decref(j);
	j = h_json(&H, "GET", body, NULL, &status);
	ck_assert_int_eq(status, 200);
	ck_assert_str_eq(h_jstr(json_object_get(j, "metadata"), "user"),
	    "u-42");
	json_decref(j);
}
END_TEST

START_TEST(seed003_errors)
{
	json_t *j, *e;
	int status;

	h_start_all(&H);
	/* The document's request skeleton, placeholders and all: refused
	 * with an error that names a field. */
	j = post("/v1/sms/verify/send", "application/json", H_TOKEN,
	    "\n{\n  \"phone\": \"<string>\",\n  \"template\": \"<string>\",\n"
	    "  \"code_length\": 123,\n  \"expiry_minutes\": 123,\n"
	    "  \"metadata\": {}\n}\n", &status);
	ck_assert_int_eq(status, 422);
	e = json_object_get(j, "error");
	ck_assert(strlen(h_jstr(e, "code")) > 0 && strlen(h_jstr(e, "field")) > 0);
	json_decref(j);

	static const struct {
		const char *body, *field;
		int status;
	} bad[] = {
		{ "{\"phone\": \"+14155550127\", \"code_length\": 9}",
		    "code_length", 422 },
		{ "{\"phone\": \"+14155550127\", \"code_length\": 3}",
		    "code_length", 422 },
		{ "{\"phone\": \"+14155550127\", \"expiry_minutes\": 0}",
		    "expiry_minutes", 422 },
		{ "{\"phone\": \"+14155550127\", \"expiry_minutes\": 61}",
		    "expiry_minutes", 422 },
		{ "{\"phone\": \"+14155550127\", \"template\": \"no code\"}",
		    "template", 422 },
		{ "{\"phone\": \"+14155550127\", \"template\": \"##code##\"}",
		    "template", 422 },
		{ "{\"phone\": \"+14155550127\", \"metadata\": [1]}",
		    "metadata", 422 },
		{ "{\"phone\": \"<string>\"}", "phone", 422 },
		{ "{\"template\": \"{code}\"}", "phone", 422 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = post("/v1/sms/verify/send", NULL, H_TOKEN, bad[i].body,
		    &status);
		ck_assert_msg(status == bad[i].status, "%s: %d", bad[i].body,
		    status);
		ck_assert_str_eq(h_jstr(json_object_get(j, "error"), "field"),
		    bad[i].field);
		json_decref(j);
	}
	j = post("/v1/sms/verify/send", NULL, "wrong-token-0123456789",
	    "{\"phone\": \"+14155550127\"}", &status);
	ck_assert_int_eq(status, 401);
	json_decref(j);
	ck_assert_int_eq(h_count_sms(&H, "+14155550127"), 0);
}
END_TEST

/* The document types code_length and expiry_minutes "number" and allows
 * no strings: "4" is refused 422 naming the field, as is any field of
 * another type; a whole number written 4.0 is the number 4. */
START_TEST(seed003_types)
{
	static const struct {
		const char *body, *field;
	} bad[] = {
		{ "{\"phone\": \"+14155550134\", \"code_length\": \"4\"}",
		    "code_length" },
		{ "{\"phone\": \"+14155550134\", \"code_length\": 4.5}",
		    "code_length" },
		{ "{\"phone\": \"+14155550134\", \"code_length\": false}",
		    "code_length" },
		{ "{\"phone\": \"+14155550134\", \"expiry_minutes\": \"5\"}",
		    "expiry_minutes" },
		{ "{\"phone\": \"+14155550134\", \"expiry_minutes\": {}}",
		    "expiry_minutes" },
		{ "{\"phone\": 14155550134}", "phone" },
		{ "{\"phone\": \"+14155550134\", \"template\": 5}",
		    "template" },
		{ "{\"phone\": \"+14155550134\", \"metadata\": \"x\"}",
		    "metadata" },
	};
	char text[256], code[16], body[256];
	json_t *j, *e;
	int status;

	h_start_all(&H);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = post("/v1/sms/verify/send", NULL, H_TOKEN, bad[i].body,
		    &status);
		ck_assert_msg(status == 422, "%s: %d", bad[i].body, status);
		e = json_object_get(j, "error");
		ck_assert_str_eq(h_jstr(e, "code"), "invalid_field");
		ck_assert_str_eq(h_jstr(e, "field"), bad[i].field);
		json_decref(j);
	}
	ck_assert_int_eq(h_count_sms(&H, "+14155550134"), 0);

	j = post("/v1/sms/verify/send", NULL, H_TOKEN, "{\"phone\": "
	    "\"+14155550134\", \"code_length\": 4.0, \"expiry_minutes\": "
	    "5, \"template\": \"{code} ({minutes})\"}", &status);
	ck_assert_int_eq(status, 200);
	ck_assert_str_eq(h_jstr(j, "status"), "sent");
	json_decref(j);
	h_read_sms(H.handset, "+14155550134", 1, text, sizeof(text), code,
	    sizeof(code));
	ck_assert_int_eq((int)strlen(code), 4);
	snprintf(body, sizeof(body), "%s (5)", code);
	ck_assert_str_eq(text, body);
	/* Its check is the native one: the code is a string. */
	snprintf(body, sizeof(body), "{\"phone\": \"+14155550134\", "
	    "\"code\": 1%s}", code);
	j = post("/v1/sms/verify/check", NULL, H_TOKEN, body, &status);
	ck_assert_int_eq(status, 422);
	ck_assert_str_eq(h_jstr(json_object_get(j, "error"), "field"), "code");
	json_decref(j);
	snprintf(body, sizeof(body), "{\"phone\": \"+14155550134\", "
	    "\"code\": \"%s\"}", code);
	j = post("/v1/sms/verify/check", NULL, H_TOKEN, body, &status);
	ck_assert(json_is_true(json_object_get(j, "valid")));
	json_decref(j);
}
END_TEST

/* A [key] template and a [template de] override reach the handset, a
 * request's language still wins over the key's template, and SIGHUP
 * brings in a new [template en]. */
START_TEST(configured_templates)
{
	char text[512], code[16], want[256];
	json_t *j;
	int status;

	snprintf(H.key_extra, sizeof(H.key_extra), "template = acme\n");
	snprintf(H.extra_conf, sizeof(H.extra_conf),
	    "[template acme]\ntext = Acme: {code} is your code.\n"
	    "[template de]\ntext = Acme-Code {code}, {minutes} Minuten.\n");
	h_start_all(&H);
	json_decref(h_send_code(&H, "+14155550128", NULL, 0, 201));
	h_read_sms(H.handset, "+14155550128", 1,
	    text, sizeof(text), code, sizeof(code));
	snprintf(want, sizeof(want), "Acme: %s is your code.", code);
	ck_assert_str_eq(text, want);

	j = post("/sms-verify", NULL, H_TOKEN, "{\"number\": \"+14155550129\", "
	    "\"language-code\": \"de\"}", &status);
	ck_assert_int_eq(status, 200);
	json_decref(j);
	h_read_sms(H.handset, "+14155550129", 1,
	    text, sizeof(text), code, sizeof(code));
	snprintf(want, sizeof(want), "Acme-Code %s, 10 Minuten.", code);
	ck_assert_str_eq(text, want);

	/* SIGHUP takes a new [template en] without a restart. */
	size_t n = strlen(H.extra_conf);
	snprintf(H.extra_conf + n, sizeof(H.extra_conf) - n,
	    "[template en]\ntext = Reloaded: {code}.\n");
	ck_assert_msg(h_daemon_reload(&H) == 0, "the reload was refused or "
	    "never logged (see %s)", H.daemon_log);
	json_decref(h_send(&H, "{\"phone\": \"+14155550130\", "
	    "\"language\": \"en\"}", NULL, 0, 201));
	h_read_sms(H.handset, "+14155550130", 1,
	    text, sizeof(text), code, sizeof(code));
	snprintf(want, sizeof(want), "Reloaded: %s.", code);
	ck_assert_str_eq(text, want);
}
END_TEST

/* ---- limits, in each seed's words --------------------------------------- */

/*
 * A send a limit refuses (resend_interval here: two sends to a number at
 * once) and checks past failed_checks_per_phone, through each seed API:
 * 000 answers 429 with its api-error 6, 002 its reason 11 (status FAIL,
 * HTTP 200 as all its answers), 003 the native 429 rate_limited; past the
 * wrong-code limit 000 says verified false and 002 status 5 (locked), the
 * right code too.  The limits are the same counters whatever the API.
 */
START_TEST(seeds_rate_limited)
{
	char body[256], code[16], wrong[16];
	json_t *j, *e;
	int status;

	snprintf(H.key_extra, sizeof(H.key_extra), "country = IL\n"
	    "failed_checks_per_phone = 2/1h\n");
	h_start_all(&H);

	/* 000 */
	snprintf(body, sizeof(body), "number=%%2B14155550140&api-key=%s",
	    H_TOKEN);
	j = post("/sms-verify", FORM, NULL, body, &status);
	ck_assert_int_eq(status, 200);
	snprintf(code, sizeof(code), "%s", h_jstr(j, "security-code"));
	json_decref(j);
	j = post("/sms-verify", FORM, NULL, body, &status);
	ck_assert_int_eq(status, 429);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "api-error")),
	    6);
	ck_assert_ptr_nonnull(strstr(h_jstr(j, "api-error-msg"),
	    "resend_interval"));
	ck_assert_int_eq(json_object_size(j), 2);
	json_decref(j);
	/* the native API meets the same counter */
	j = h_send_code(&H, "+14155550140", NULL, 0, 429);
	ck_assert_str_eq(h_jstr(json_object_get(j, "error"), "limit"),
	    "resend_interval");
	json_decref(j);
	wrong_of(code, wrong, sizeof(wrong));
	for (int i = 0; i < 3; i++) {
		snprintf(body, sizeof(body), "{\"number\": \"+14155550140\", "
		    "\"security-code\": \"%s\"}", i < 2 ? wrong : code);
		j = post("/verify-security-code", NULL, H_TOKEN, body,
		    &status);
		ck_assert_int_eq(status, 200);
		ck_assert(json_is_false(json_object_get(j, "verified")));
		json_decref(j);
	}

	/* 002 */
	snprintf(body, sizeof(body), "apiKey=%s&to=0501234571", H_TOKEN);
	j = post("/verify/send", FORM, NULL, body, &status);
	ck_assert_str_eq(h_jstr(j, "status"), "OK");
	json_decref(j);
	j = post("/verify/send", FORM, NULL, body, &status);
	ck_assert_int_eq(status, 200);
	ck_assert_str_eq(h_jstr(j, "status"), "FAIL");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "reason")),
	    11);
	ck_assert(json_is_null(json_object_get(j, "unique")));
	json_decref(j);
	h_read_code(H.handset, "+972501234571", 1, code, sizeof(code));
	wrong_of(code, wrong, sizeof(wrong));
	for (int i = 0; i < 3; i++) {
		snprintf(body, sizeof(body), "apiKey=%s&to=0501234571&code=%s",
		    H_TOKEN, i < 2 ? wrong : code);
		j = post("/verify/check", FORM, NULL, body, &status);
		ck_assert_int_eq(status, 200);
		/* wrong, then wrong and now locked, then the right code
		 * locked out */
		ck_assert_int_eq(json_integer_value(json_object_get(j,
		    "status")), i == 0 ? 2 : 5);
		json_decref(j);
	}

	/* 003 */
	j = post("/v1/sms/verify/send", NULL, H_TOKEN,
	    "{\"phone\": \"+14155550141\"}", &status);
	ck_assert_int_eq(status, 200);
	json_decref(j);
	j = post("/v1/sms/verify/send", NULL, H_TOKEN,
	    "{\"phone\": \"+14155550141\"}", &status);
	ck_assert_int_eq(status, 429);
	e = json_object_get(j, "error");
	ck_assert_str_eq(h_jstr(e, "code"), "rate_limited");
	ck_assert_str_eq(h_jstr(e, "limit"), "resend_interval");
	ck_assert_int_ge(json_integer_value(json_object_get(e,
	    "retry_after")), 1);
	ck_assert_int_le(json_integer_value(json_object_get(e,
	    "retry_after")), 30);
	json_decref(j);
	/* its client_ip, as the native one's */
	j = post("/v1/sms/verify/send", NULL, H_TOKEN,
	    "{\"phone\": \"+14155550142\", \"client_ip\": \"300.1.1.1\"}",
	    &status);
	ck_assert_int_eq(status, 422);
	ck_assert_str_eq(h_jstr(json_object_get(j, "error"), "field"),
	    "client_ip");
	json_decref(j);
}
END_TEST

static Suite *
compat_suite(void)
{
	Suite *s = suite_create("compat");
	const struct h_test tests[] = {
		{ "seed000", seed000_send_and_verify, 1 },
		{ "seed000_errors", seed000_errors, 1 },
		{ "seed000_types", seed000_types, 1 },
		{ "seed002", seed002_send_and_check, 1 },
		{ "seed002_errors", seed002_errors, 1 },
		{ "seed002_locked", seed002_locked, 1 },
		{ "seed002_types", seed002_types, 1 },
		{ "seed003", seed003_send_and_check, 1 },
		{ "seed003_errors", seed003_errors, 1 },
		{ "seed003_types", seed003_types, 1 },
		{ "templates", configured_templates, 1 },
		{ "seeds_rate_limited", seeds_rate_limited, 1 },
	};

	h_add_tests(s, tests, sizeof(tests) / sizeof(tests[0]), setup,
	    teardown);
	return s;
}

int
main(void)
{
	return h_run_suite(compat_suite());
}
