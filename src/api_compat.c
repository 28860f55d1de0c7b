/*
 * api_compat.c - the three hosted verify APIs smsverify serves drop-in
 * (the seed documents 000, 002 and 003; SPEC "Compatibility endpoints").
 *
 *   seed 000  POST /sms-verify             number, code-length,
 *                                          security-code, country-code,
 *                                          language-code
 *             POST /verify-security-code   number, security-code
 *   seed 002  POST /verify/send            apiKey, from, to, message
 *             POST /verify/check           apiKey, to, code
 *   seed 003  POST /v1/sms/verify/send     phone, template, code_length,
 *                                          expiry_minutes, metadata
 *             POST /v1/sms/verify/check    the native check (api_verify.c)
 *
 * Each keeps its own field names, ranges, defaults and answer shapes; the
 * work in between is flow.c's, on the same keys, store and routes as the
 * native API.  Where a seed is silent the choice is written down in the
 * README ("Compatibility APIs"), with each API's error answers.
 *
 * Seed 000 returns the code in its answer by design (its users may check
 * it themselves): that answer is the one place a code leaves the daemon
 * other than in the SMS.  It is never logged.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "api.h"
#include "api_idem.h"
#include "keys.h"
#include "flow.h"
#include "http.h"
#include "phone.h"
#include "store.h"
#include "template.h"
#include "util.h"
#include "verify.h"

/* Seed 002's and 003's own default texts, as their documents give them. */
#define TEXT_002 "Your verification code is: ##code##"
#define TEXT_003 "Your verification code is: {code}. Valid for {minutes} " \
	"minutes."
#define EXPIRY_002 600          /* "the client has 10 minutes" */
#define SENDER_002_MAX 11       /* "maximum of 11 characters" */
#define CODE_000_DEFAULT 5
#define CODE_003_MIN 4
#define CODE_003_MAX 8
#define CODE_003_DEFAULT 6
#define EXPIRY_003_DEFAULT 10   /* minutes */

/* ---- field readers (no answer: each API words its own errors) ---------- */

/*
 * Types.  A form has only strings; a JSON body has the types each seed's
 * document gives, and where a seed is a form API its JSON bodies take what
 * its forms take:
 *   000  form or JSON.  Its document lists parameters, not a JSON schema,
 *        and its integer parameters (code-length, security-code) arrive
 *        as strings from every form client: in JSON either a number or a
 *        string of digits.  Its string parameters (number, country-code,
 *        language-code, api-key) must be strings.
 *   002  form data only in its document; JSON (ours) as its forms: every
 *        field a string, the code too.
 *   003  JSON: phone and template strings, code_length and
 *        expiry_minutes JSON numbers (its document: "number"; it allows no
 *        strings), metadata an object.
 * A value of another type is refused, never read as something else.
 */

/* What get_int and get_code answer for a value of the wrong JSON type,
 * besides -1 for one of the right type but a wrong value. */
#define BAD_TYPE (-2)

/* A string field: 1 with *out set, 0 when absent, null or empty (*out
 * NULL), BAD_TYPE when it is there but not a string (or holds a NUL). */
static int
get_str(json_t *body, const char *name, const char **out)
{
	json_t *j = json_object_get(body, name);

	*out = NULL;
	if (j == NULL || json_is_null(j))
		return 0;
	if ((*out = api_json_str(j)) == NULL)
		return BAD_TYPE;
	if (**out == '\0') {
		*out = NULL;
		return 0;
	}
	return 1;
}

/* A whole number field within lo..hi: a JSON number, or, when digits_ok,
 * a string of digits (with spaces around it, as forms may write it).  0
 * absent (*out unchanged), 1, -1 not a whole number in range, BAD_TYPE. */
static int
get_int(json_t *body, const char *name, int lo, int hi, int digits_ok,
    int *out)
{
	json_t *j = json_object_get(body, name);
	const char *s;
	char *end;
	long long v;

	if (j == NULL || json_is_null(j))
		return 0;
	if (json_is_number(j)) {
		if (!api_json_whole(j, &v))
			return -1;
	} else if (!json_is_string(j) || !digits_ok) {
		return BAD_TYPE;
	} else {
		switch (get_str(body, name, &s)) {
		case 0:
			return 0;       /* "" from a form: left out */
		case BAD_TYPE:
			return BAD_TYPE;
		}
		while (*s == ' ')
			s++;
		if (!isdigit((unsigned char)*s))
			return -1;
		v = strtoll(s, &end, 10);
		while (*end == ' ')
			end++;
		if (*end != '\0')
			return -1;
	}
	if (v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 1;
}

/* A code field: a string of 4..12 digits or, when number_ok, a JSON
 * number of as many digits.  0 absent, 1 with buf (size > 12) filled,
 * -1 not 4..12 digits, BAD_TYPE. */
static int
get_code(json_t *body, const char *name, int number_ok, char *buf,
    size_t size)
{
	json_t *j = json_object_get(body, name);
	const char *s;
	long long v;
	int rc;

	buf[0] = '\0';
	if (j != NULL && json_is_number(j)) {
		if (!number_ok)
			return BAD_TYPE;
		/* More digits than buf takes: no code (not a cut one). */
		if (!api_json_whole(j, &v) || v < 0 ||
		    snprintf(buf, size, "%lld", v) >= (int)size)
			return -1;
		return verify_code_valid(buf) ? 1 : -1;
	}
	if ((rc = get_str(body, name, &s)) != 1)
		return rc;
	if (strlen(s) >= size || !verify_code_valid(s))
		return -1;
	memcpy(buf, s, strlen(s) + 1);
	return 1;
}

/* The key of the request: a Bearer token, else the field (form or JSON),
 * else a header of the field's name.  -1 when none or unknown. */
static int
get_key(const struct api *api, struct http_request *req, json_t *body,
    const char *field)
{
	const char *token = http_bearer(req);

	if (token == NULL && body != NULL && get_str(body, field, &token) < 0)
		token = NULL;
	if (token == NULL)
		token = http_header(req, field);
	return keys_by_token(api->keys, token);
}

/* A region field (ISO 3166 alpha-2, either case) into out ("" when
 * absent).  0 absent, 1, -1 not a region libphonenumber knows. */
static int
get_region(json_t *body, const char *name, char *out, size_t size)
{
	const char *s;

	out[0] = '\0';
	switch (get_str(body, name, &s)) {
	case 0:
		return 0;
	case BAD_TYPE:
		return -1;
	}
	if (strlen(s) != 2 || size < 3)
		return -1;
	out[0] = (char)toupper((unsigned char)s[0]);
	out[1] = (char)toupper((unsigned char)s[1]);
	out[2] = '\0';
	return phone_region_valid(out) ? 1 : -1;
}

/* number read in region (NULL: international, with or without its '+',
 * as phone.cc reads it) as E.164 into e164, or NULL when it is not a
 * valid number: a check of it then finds nothing, and says so as it says
 * every other failure. */
static const char *
check_number(const char *number, const char *region, char *e164,
    size_t size)
{
	enum phone_type type;

	return phone_normalise(number, region, e164, size, &type) ==
	    PHONE_OK ? e164 : NULL;
}

/* ---- seed 000: /sms-verify, /verify-security-code --------------------- */

/*
 * Errors are {"api-error": N, "api-error-msg": "..."} (the style of that
 * API's own error answers), N from this table (README):
 *   1  a parameter is missing or invalid (the message names it)   400
 *   2  the api-key is missing or unknown                          401
 *   3  the body is not JSON or a form, or too large               400/413/415
 *   4  the verification could not be stored: try again           503
 *   5  internal error                                             500
 *   6  a limit refuses the send ([limits]): try again after       429
 *      Retry-After seconds (the message names the limit)
 *   7  the number's country is not allowed                       422
 *   8  the number's range is blocked (pumping): Retry-After       429
 *   9  no route covers the number                                422
 */
static void
err_000(struct http_request *req, int status, int code, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void
err_000(struct http_request *req, int status, int code, const char *fmt,
    ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	http_reply_json(req, status, json_pack("{s:i, s:s}", "api-error",
	    code, "api-error-msg", msg));
}

/* The body (JSON or form) and the key of a seed 000 request, or -1 after
 * an error answer. */
static int
begin_000(const struct api *api, struct http_request *req, json_t **body)
{
	enum http_err kind;
	const char *msg;
	int key;

	if ((*body = http_body_try(req, 1, &kind, &msg)) == NULL) {
		err_000(req, http_err_status(kind), 3, "%s", msg);
		return -1;
	}
	if ((key = get_key(api, req, *body, "api-key")) < 0) {
		err_000(req, 401, 2, "the api-key is missing or unknown");
		json_decref(*body);
		*body = NULL;
	}
	return key;
}

static void
sent_000(struct flow_send *fs, const struct verif *v)
{
	struct http_request *req = fs->arg;
	int valid = 1, sent = 0;
	const char *code = "";

	switch (fs->err) {
	case FLOW_OK:
		sent = v->send_state == SEND_SENT;
		/* A queued message still goes out (until it expires): its
		 * code is the one to check.  A failed one never will. */
		if (v->send_state != SEND_FAILED)
			code = fs->code;
		break;
	case FLOW_SHUTDOWN:
		return;
	case FLOW_PHONE_UNPARSABLE:
	case FLOW_PHONE_INVALID:
		valid = 0;
		break;
	case FLOW_PHONE_TYPE:
		break;          /* valid, but cannot take an SMS */
	case FLOW_LANGUAGE:
		err_000(req, 400, 1, "language-code must be one of de en es "
		    "fr it pt ru");
		return;
	case FLOW_TEMPLATE:
	case FLOW_TOO_LONG:
		err_000(req, 400, 1, "the message does not fit %d SMS parts",
		    FLOW_MAX_PARTS);
		return;
	case FLOW_SENDER:
		err_000(req, 400, 1, "the sender is not valid");
		return;
	case FLOW_COUNTRY:
		err_000(req, 422, 7, "number is a number of %s, where codes may "
		    "not be sent", fs->country[0] ? fs->country :
		    "no country");
		return;
	case FLOW_RANGE_BLOCKED:
		http_set_retry_after(req, fs->retry_after);
		err_000(req, 429, 8, "sends to numbers of range %s are "
		    "suspended (SMS pumping protection); try again in %d "
		    "seconds", fs->range, fs->retry_after);
		return;
	case FLOW_NO_ROUTE:
		err_000(req, 422, 9, "no route covers this number; nothing was "
		    "sent");
		return;
	case FLOW_STORE_CONFLICT:
		if (http_again(req))
			return;
		/* FALLTHROUGH */
	case FLOW_STORE_FULL:
	case FLOW_STORE_ERROR:
		err_000(req, 503, 4, "the verification could not be stored; "
		    "nothing was sent");
		return;
	case FLOW_RATE_LIMITED:
		http_set_retry_after(req, fs->retry_after);
		err_000(req, 429, 6, "rate limited by %s: try again in %d "
		    "seconds; nothing was sent", fs->limit, fs->retry_after);
		return;
	case FLOW_INTERNAL:
	case FLOW_NOT_FOUND:     /* not an outcome of a send */
	case FLOW_NOT_PENDING:
		err_000(req, 500, 5, "the verification could not be made; "
		    "nothing was sent");
		return;
	}
	http_reply_json(req, 200, json_pack("{s:b, s:b, s:s}", "sent", sent,
	    "number-valid", valid, "security-code", code));
}

/* The number of a seed 000 request into number, its country-code into
 * region ("" without one: the number is then read as international, with
 * or without its '+', as phone.cc reads a number without a region).  0,
 * or -1 after an error answer. */
static int
number_000(struct http_request *req, json_t *body, char *number,
    size_t nsize, char *region, size_t rsize)
{
	const char *s;

	switch (get_str(body, "number", &s)) {
	case 0:
		err_000(req, 400, 1, "number is required");
		return -1;
	case BAD_TYPE:
		err_000(req, 400, 1, "number must be a string, not %s",
		    api_json_kind(json_object_get(body, "number")));
		return -1;
	}
	if (get_region(body, "country-code", region, rsize) < 0) {
		err_000(req, 400, 1, "country-code must be an ISO 2-letter "
		    "country code");
		return -1;
	}
	util_strlcpy(number, s, nsize);
	return 0;
}

static void
api_sms_verify(struct http_request *req, const char *rest, void *arg)
{
	struct api *api = arg;
	struct flow_send *fs;
	json_t *body;
	int key, rc;

	if ((key = begin_000(api, req, &body)) < 0)
		return;
	fs = flow_send_new(api->flow, key, "000", sent_000, req);
	fs->hold = body;
	fs->keep_code = 1;
	fs->code_length = CODE_000_DEFAULT;
	if (number_000(req, body, fs->phone_buf, sizeof(fs->phone_buf),
	    fs->region_buf, sizeof(fs->region_buf)) < 0)
		goto fail;
	fs->phone = fs->phone_buf;
	fs->region = fs->region_buf[0] ? fs->region_buf : NULL;
	if (get_int(body, "code-length", VERIFY_CODE_MIN, VERIFY_CODE_MAX, 1,
	    &fs->code_length) < 0) {
		err_000(req, 400, 1, "code-length must be an integer from %d "
		    "to %d", VERIFY_CODE_MIN, VERIFY_CODE_MAX);
		goto fail;
	}
	if ((rc = get_code(body, "security-code", 1, fs->code,
	    sizeof(fs->code))) < 0) {
		err_000(req, 400, 1, "security-code must be 4 to 12 digits");
		goto fail;
	}
	fs->has_code = rc == 1;
	/* Without language-code: the key's template or language, else en
	 * (the seed's default). */
	if (get_str(body, "language-code", &fs->language) < 0 ||
	    (fs->language != NULL && !template_lang_valid(fs->language))) {
		err_000(req, 400, 1, "language-code must be one of de en es "
		    "fr it pt ru");
		goto fail;
	}
	flow_send(fs);
	return;
fail:
	flow_send_free(fs);
}

static void
checked_000(void *arg, int result, const struct flow_check *fc)
{
	struct http_request *req = arg;

	if (fc == NULL)
		return;
	if (result == STORE_CONFLICT && http_again(req))
		return;
	if (result != STORE_OK) {
		err_000(req, 503, 4, "the check could not be stored; try "
		    "again");
		return;
	}
	http_reply_json(req, 200, json_pack("{s:b}", "verified",
	    fc->result == VERIFY_APPROVED));
}

static void
api_verify_security_code(struct http_request *req, const char *rest,
    void *arg)
{
	struct api *api = arg;
	json_t *body;
	char number[64], region[3], code[16], e164[20];
	int key;

	code[0] = '\0';
	if ((key = begin_000(api, req, &body)) < 0)
		return;
	if (number_000(req, body, number, sizeof(number), region,
	    sizeof(region)) < 0)
		goto out;
	if (get_code(body, "security-code", 1, code, sizeof(code)) != 1) {
		err_000(req, 400, 1, "security-code must be 4 to 12 digits");
		goto out;
	}
	flow_check(api->flow, key, NULL, check_number(number, region[0] ? region :
	    NULL, e164, sizeof(e164)), code, checked_000, req);
out:
	OPENSSL_cleanse(code, sizeof(code));
	json_decref(body);
}

/* ---- seed 002: /verify/send, /verify/check ---------------------------- */

/*
 * Every answer is 200 with a JSON body (the seed documents no other);
 * what happened is in status/reason (send) and status (check), numbered
 * as in the README:
 *
 * send reason: 1 sent, 2 queued (still OK), 3 apiKey, 4 to, 5 to's type,
 *   6 from, 7 message, 8 refused by every SMSC, 9 body, 10 try again,
 *   11 rate limited (a [limits] limit; Retry-After says when).
 *   12 to's country not allowed, 13 to's range blocked (pumping; with
 *   Retry-After), 14 no route for to.
 * check status: 1 verified, 2 wrong code, 3 expired, 4 no code pending,
 *   5 locked (the verification, or failed_checks_per_phone for the
 *   number), 6 apiKey, 7 to or code missing or malformed, 8 try again.
 */
enum {
	R002_SENT = 1, R002_QUEUED, R002_KEY, R002_TO, R002_TO_TYPE,
	R002_FROM, R002_MESSAGE, R002_REFUSED, R002_BODY, R002_AGAIN,
	R002_LIMITED = 11, R002_COUNTRY = 12, R002_RANGE_BLOCKED,
	R002_NO_ROUTE,
};
enum {
	C002_VERIFIED = 1, C002_WRONG, C002_EXPIRED, C002_NONE, C002_LOCKED,
	C002_KEY, C002_FIELD, C002_AGAIN,
};

static void
answer_002(struct http_request *req, const char *unique, int64_t ts,
    const char *from, int reason)
{
	int ok = reason == R002_SENT || reason == R002_QUEUED;

	http_reply_json(req, 200, json_pack("{s:s, s:o, s:I, s:s, s:i}",
	    "status", ok ? "OK" : "FAIL",
	    "unique", unique ? json_string(unique) : json_null(),
	    "timestamp", (json_int_t)ts, "from", from ? from : "",
	    "reason", reason));
}

static void
sent_002(struct flow_send *fs, const struct verif *v)
{
	struct http_request *req = fs->arg;
	int reason = R002_AGAIN;

	switch (fs->err) {
	case FLOW_OK:
		reason = v->send_state == SEND_SENT ? R002_SENT :
		    v->send_state == SEND_QUEUED ? R002_QUEUED : R002_REFUSED;
		answer_002(req, v->id, v->created_at, v->sender, reason);
		return;
	case FLOW_SHUTDOWN:
		return;
	case FLOW_PHONE_UNPARSABLE:
	case FLOW_PHONE_INVALID:
		reason = R002_TO;
		break;
	case FLOW_PHONE_TYPE:
		reason = R002_TO_TYPE;
		break;
	case FLOW_COUNTRY:
		reason = R002_COUNTRY;
		break;
	case FLOW_RANGE_BLOCKED:
		/* 200 as every answer of this API; the header tells when. */
		http_set_retry_after(req, fs->retry_after);
		reason = R002_RANGE_BLOCKED;
		break;
	case FLOW_NO_ROUTE:
		reason = R002_NO_ROUTE;
		break;
	case FLOW_SENDER:
		reason = R002_FROM;
		break;
	case FLOW_LANGUAGE:
	case FLOW_TEMPLATE:
	case FLOW_TOO_LONG:
		reason = R002_MESSAGE;
		break;
	case FLOW_RATE_LIMITED:
		/* 200 as every answer of this API; the header says when. */
		http_set_retry_after(req, fs->retry_after);
		reason = R002_LIMITED;
		break;
	case FLOW_STORE_CONFLICT:
		if (http_again(req))
			return;
		/* FALLTHROUGH */
	case FLOW_STORE_FULL:
	case FLOW_STORE_ERROR:
	case FLOW_INTERNAL:
	case FLOW_NOT_FOUND:     /* not an outcome of a send */
	case FLOW_NOT_PENDING:
		reason = R002_AGAIN;
		break;
	}
	answer_002(req, NULL, util_now(), fs->sender ? fs->sender :
	    flow_default_sender(fs->flow), reason);
}

static void
api_002_send(struct http_request *req, const char *rest, void *arg)
{
	struct api *api = arg;
	struct flow_send *fs;
	enum http_err kind;
	const char *msg, *from = NULL;
	json_t *body;
	int key;

	if ((body = http_body_try(req, 1, &kind, &msg)) == NULL) {
		answer_002(req, NULL, util_now(), "", R002_BODY);
		return;
	}
	if (get_str(body, "from", &from) < 0)
		from = "";
	if ((key = get_key(api, req, body, "apiKey")) < 0) {
		answer_002(req, NULL, util_now(), from, R002_KEY);
		json_decref(body);
		return;
	}
	fs = flow_send_new(api->flow, key, "002", sent_002, req);
	fs->hold = body;
	fs->expiry = EXPIRY_002;
	fs->tmpl = TEXT_002;
	if (get_str(body, "to", &fs->phone) != 1) {
		answer_002(req, NULL, util_now(), from, R002_TO);
		goto fail;
	}
	if (from != NULL && (strlen(from) > SENDER_002_MAX ||
	    !flow_sender_valid(from))) {
		answer_002(req, NULL, util_now(), from, R002_FROM);
		goto fail;
	}
	fs->sender = from;
	if (get_str(body, "message", &msg) < 0 ||
	    (msg != NULL && (strlen(msg) > FLOW_MAX_TEMPLATE ||
	    strstr(msg, "##code##") == NULL))) {
		answer_002(req, NULL, util_now(), from, R002_MESSAGE);
		goto fail;
	}
	if (msg != NULL)
		fs->tmpl = msg;
	flow_send(fs);
	return;
fail:
	flow_send_free(fs);
}

/* A seed 002 check's answer: the number as the client wrote it. */
struct check_002 {
	struct http_request *req;
	char to[64];
};

static void
answer_002_check(struct http_request *req, int status, const char *to)
{
	http_reply_json(req, 200, json_pack("{s:i, s:s}", "status", status,
	    "phone", to));
}

static void
checked_002(void *arg, int result, const struct flow_check *fc)
{
	struct check_002 *c = arg;
	int status = C002_NONE;

	if (fc == NULL || (result == STORE_CONFLICT && http_again(c->req))) {
		free(c);
		return;
	}
	if (result != STORE_OK)
		status = C002_AGAIN;
	else if (fc->result == VERIFY_LOCKED)
		status = C002_LOCKED;   /* with nothing pending too: the
		                         * number's failed checks */
	else if (fc->found) {
		switch (fc->result) {
		case VERIFY_APPROVED: status = C002_VERIFIED; break;
		case VERIFY_WRONG: status = C002_WRONG; break;
		case VERIFY_LOCKED: status = C002_LOCKED; break;
		case VERIFY_EXPIRED: status = C002_EXPIRED; break;
		default: status = C002_NONE; break;
		}
	}
	answer_002_check(c->req, status, c->to);
	free(c);
}

static void
api_002_check(struct http_request *req, const char *rest, void *arg)
{
	struct api *api = arg;
	struct check_002 *c;
	enum http_err kind;
	const char *msg, *to = NULL;
	char code[16], e164[20];
	json_t *body;
	int key;

	code[0] = '\0';
	if ((body = http_body_try(req, 1, &kind, &msg)) == NULL) {
		answer_002_check(req, C002_FIELD, "");
		return;
	}
	if (get_str(body, "to", &to) < 0)
		to = NULL;
	if ((key = get_key(api, req, body, "apiKey")) < 0) {
		answer_002_check(req, C002_KEY, to ? to : "");
		goto out;
	}
	if (to == NULL || get_code(body, "code", 0, code, sizeof(code)) != 1) {
		answer_002_check(req, C002_FIELD, to ? to : "");
		goto out;
	}
	c = xcalloc(1, sizeof(*c));
	c->req = req;
	util_strlcpy(c->to, to, sizeof(c->to));
	flow_check(api->flow, key, NULL, check_number(to,
	    keys_country(api->keys, key), e164, sizeof(e164)), code,
	    checked_002, c);
out:
	OPENSSL_cleanse(code, sizeof(code));
	json_decref(body);
}

/* ---- seed 003: /v1/sms/verify/send ------------------------------------ */

/* Errors are the native API's {"error": {"code", "message", "field"}}
 * with 400/401/422/503: the seed documents none of its own. */

/* ISO 8601 with milliseconds, as the seed's example writes it. */
static json_t *
time_003(int64_t t)
{
	char buf[40];
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S.000Z", &tm) == 0)
		return json_null();
	return json_string(buf);
}

/* The 200 answer of a seed 003 send. */
static json_t *
json_003(const struct verif *v)
{
	/* "sent or failed": a queued message is taken and retried until it
	 * expires, so it is "sent" to this API's users. */
	return json_pack("{s:s, s:s, s:s, s:o}",
	    "id", v->id, "phone", v->phone, "status",
	    v->send_state == SEND_FAILED ? "failed" : "sent",
	    "expires_at", time_003(v->expires_at));
}

/* Idempotency-Key on seed 003's send, as on the native one. */
static const struct api_idem_ops idem_003 = {
	.api = "003",
	.status = 200,
	.render = json_003,
	.fail = api_send_error,
};

static void
sent_003(struct flow_send *fs, const struct verif *v)
{
	struct http_request *req = fs->arg;

	if (api_idem_done(fs, v))
		return;
	if (fs->err != FLOW_OK) {
		api_send_error(req, fs);
		return;
	}
	http_reply_json(req, 200, json_003(v));
}

/* 422 invalid_field: name is not of the JSON type want ("a string"). */
static void
type_003(struct http_request *req, json_t *body, const char *name,
    const char *want)
{
	http_reply_error(req, HTTP_ERR_INVALID, "invalid_field", name,
	    "%s must be %s, not %s", name, want,
	    api_json_kind(json_object_get(body, name)));
}

/* A whole number field lo..hi, a JSON number only (the document's type
 * is "number").  As get_int(), or -1 after answering 422. */
static int
int_003(struct http_request *req, json_t *body, const char *name, int lo,
    int hi, int *out)
{
	switch (get_int(body, name, lo, hi, 0, out)) {
	case BAD_TYPE:
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_field", name,
		    "%s must be a JSON number from %d to %d, not %s", name,
		    lo, hi, api_json_kind(json_object_get(body, name)));
		return -1;
	case -1:
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_field", name,
		    "%s must be a whole number from %d to %d", name, lo, hi);
		return -1;
	case 0:
		return 0;
	}
	return 1;
}

static void
api_003_send(struct http_request *req, const char *rest, void *arg)
{
	struct api *api = arg;
	struct flow_send *fs;
	json_t *body;
	int key, minutes = EXPIRY_003_DEFAULT;

	if ((key = api_auth(api, req, http_bearer(req))) < 0)
		return;
	if ((body = http_body(req, 0)) == NULL)
		return;
	fs = flow_send_new(api->flow, key, "003", sent_003, req);
	fs->hold = body;
	fs->code_length = CODE_003_DEFAULT;
	fs->tmpl = TEXT_003;
	switch (get_str(body, "phone", &fs->phone)) {
	case 0:
		http_reply_error(req, HTTP_ERR_INVALID, "missing_field",
		    "phone", "phone is required (a string such as "
		    "+14155551234)");
		goto fail;
	case BAD_TYPE:
		type_003(req, body, "phone", "a string");
		goto fail;
	}
	if (get_str(body, "template", &fs->tmpl) == BAD_TYPE) {
		type_003(req, body, "template", "a string");
		goto fail;
	}
	if (fs->tmpl != NULL && strstr(fs->tmpl, "{code}") == NULL) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_template",
		    "template", "template must contain {code}");
		goto fail;
	}
	if (fs->tmpl == NULL)
		fs->tmpl = TEXT_003;
	if (int_003(req, body, "code_length", CODE_003_MIN, CODE_003_MAX,
	    &fs->code_length) < 0 ||
	    int_003(req, body, "expiry_minutes", 1, 60, &minutes) < 0)
		goto fail;
	fs->expiry = minutes * 60;
	if (api_read_metadata(req, body, &fs->metadata) < 0)
		goto fail;
	/* Ours, as on the native API: the end user's address. */
	if (get_str(body, "client_ip", &fs->client_ip) == BAD_TYPE) {
		type_003(req, body, "client_ip", "a string");
		goto fail;
	}
	if (fs->client_ip != NULL && !api_ip_valid(fs->client_ip)) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_field",
		    "client_ip", "client_ip must be an IPv4 or IPv6 address");
		goto fail;
	}
	if (api_idem_begin(api, req, fs, body, &idem_003))
		flow_send(fs);
	return;
fail:
	flow_send_free(fs);
}

void
api_compat_register(struct api *api)
{
	http_route(api->http, HTTP_POST, "/sms-verify", api_sms_verify, api);
	http_route(api->http, HTTP_POST, "/verify-security-code",
	    api_verify_security_code, api);
	http_route(api->http, HTTP_POST, "/verify/send", api_002_send, api);
	http_route(api->http, HTTP_POST, "/verify/check", api_002_check, api);
	http_route(api->http, HTTP_POST, "/v1/sms/verify/send", api_003_send,
	    api);
}
