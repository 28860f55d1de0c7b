/*
 * api_verify.c - the native JSON API: send, check, get, cancel.
 *
 *   POST /v1/verifications              send a code
 *   POST /v1/verifications/check        check the code a person typed
 *   GET  /v1/verifications/{id}         the verification and its sends
 *   POST /v1/verifications/{id}/cancel  cancel a pending verification
 *
 * Handlers validate, build the record and stage it; every answer leaves
 * after the commit that holds what it reports (a 201 means the record is
 * durable).  Check answers all go out at the same point of the loop (after
 * the turn's commit) and with the same shape whatever the reason for a
 * failure, and the HMAC is computed even when there is nothing to compare
 * it with, so neither timing nor shape tells why a check failed.  Codes are
 * never logged nor returned.
 *
 * Types are strict: each field has one JSON type and any other is refused
 * with 422 invalid_field naming the field (before anything is stored or
 * sent).  Strings are strings, a code too ("012345": as a number 012345
 * is not JSON, and 12345 is another code); numbers are JSON numbers with
 * a whole value (never "4"); metadata is an object; null is the field
 * left out.  Fields we do not know are ignored.
 *
 * A send with an Idempotency-Key header is done once (api_idem.h): a
 * retry answers the first answer again.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api.h"
#include "api_idem.h"
#include "conf.h"
#include "flow.h"
#include "http.h"
#include "keys.h"
#include "phone.h"
#include "template.h"
#include "util.h"
#include "verify.h"

#define API_MAX_METADATA 4096

int
api_auth(const struct api *api, struct http_request *req,
    const char *token)
{
	int key = keys_by_token(api->keys, token);

	if (key < 0)
		http_reply_error(req, HTTP_ERR_UNAUTHORIZED, "unauthorized",
		    NULL, token ? "unknown API key" :
		    "missing \"Authorization: Bearer <key>\" header");
	return key;
}

int
api_auth_admin(const struct api *api, struct http_request *req)
{
	int key = api_auth(api, req, http_bearer(req));

	if (key >= 0 && keys_role(api->keys, key) != CONF_ROLE_ADMIN) {
		http_reply_error(req, HTTP_ERR_FORBIDDEN, "forbidden", NULL,
		    "this endpoint needs a key with role = admin");
		return -1;
	}
	return key;
}

/* ---- JSON views ------------------------------------------------------- */

json_t *
api_json_time(int64_t t)
{
	char buf[40];

	if (t <= 0)
		return json_null();
	util_rfc3339(t, buf, sizeof(buf));
	return json_string(buf);
}

static const char *
last_smsc(const struct verif *v)
{
	return v->nsend > 0 ? v->send[v->nsend - 1].smsc : NULL;
}

/* The 201 answer of a send. */
static json_t *
send_json(const struct verif *v)
{
	const char *smsc = last_smsc(v);

	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:i}",
	    "id", v->id, "phone", v->phone,
	    "status", send_strstate(v->send_state),
	    "expires_at", api_json_time(v->expires_at),
	    "smsc", smsc ? json_string(smsc) : json_null(),
	    "attempt", v->attempt > 0 ? v->attempt : 1);
}

/* The whole record, for GET. */
static json_t *
verif_json(const struct verif *v)
{
	json_t *sends = json_array(), *o, *meta = NULL;

	for (int i = 0; i < v->nsend; i++) {
		const struct verif_send *s = &v->send[i];
		json_array_append_new(sends, json_pack(
		    "{s:s, s:s, s:o, s:s, s:o, s:o, s:s}",
		    "smsc", s->smsc, "message_id", s->message_id,
		    "submitted_at", api_json_time(s->submitted_at),
		    "delivery", dlr_strstate(s->dlr),
		    "delivery_at", api_json_time(s->dlr_at),
		    "error", s->error >= 0 ? json_integer(s->error) :
		    json_null(),
		    "reason", s->reason));
	}
	if (v->metadata != NULL)
		meta = json_loads(v->metadata, 0, NULL);
	o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:i, s:i, s:o, "
	    "s:o, s:o}",
	    "id", v->id, "phone", v->phone,
	    "status", verif_strstatus(v->status),
	    "send_status", send_strstate(v->send_state),
	    "created_at", api_json_time(v->created_at),
	    "updated_at", api_json_time(v->updated_at),
	    "expires_at", api_json_time(v->expires_at),
	    "attempt", v->attempt > 0 ? v->attempt : 1,
	    "attempts_left", verify_attempts_left(v),
	    "smsc", last_smsc(v) ? json_string(last_smsc(v)) : json_null(),
	    "metadata", meta ? meta : json_null(),
	    "attempts", sends);
	if (v->fail_reason[0])
		json_object_set_new(o, "fail_reason",
		    json_string(v->fail_reason));
	return o;
}

/* ---- JSON types ------------------------------------------------------- */

const char *
api_json_kind(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_STRING: return "a string";
	case JSON_INTEGER:
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_NULL: break;
	}
	return "null";
}

#define API_WHOLE_MAX 9007199254740992.0        /* 2^53 */

int
api_json_whole(const json_t *j, long long *out)
{
	double d;

	if (json_is_integer(j)) {
		*out = (long long)json_integer_value(j);
		return 1;
	}
	if (!json_is_real(j))
		return 0;
	d = json_real_value(j);
	/* Inside +-2^53 every whole double converts exactly. */
	if (!(d >= -API_WHOLE_MAX && d <= API_WHOLE_MAX) ||
	    (double)(long long)d != d)
		return 0;
	*out = (long long)d;
	return 1;
}

const char *
api_json_str(const json_t *j)
{
	const char *s = json_string_value(j);

	if (s == NULL || strlen(s) != json_string_length(j))
		return NULL;
	return s;
}

/* ---- field readers ---------------------------------------------------- */

int
api_ip_valid(const char *s)
{
	struct in_addr a4;
	struct in6_addr a6;

	return inet_pton(AF_INET, s, &a4) == 1 ||
	    inet_pton(AF_INET6, s, &a6) == 1;
}

/* 422 invalid_field: name is of the wrong JSON type, j, instead of want
 * ("a string", ...). */
static void
reply_type(struct http_request *req, const char *name, const char *want,
    const json_t *j)
{
	http_reply_error(req, HTTP_ERR_INVALID, "invalid_field", name,
	    "%s must be %s, not %s", name, want, api_json_kind(j));
}

/* Read an optional string field.  Returns 0 (absent: *out NULL), 1, or -1
 * after answering 422. */
static int
opt_str(struct http_request *req, json_t *body, const char *name,
    const char **out)
{
	json_t *j = json_object_get(body, name);

	*out = NULL;
	if (j == NULL || json_is_null(j))
		return 0;
	if (!json_is_string(j)) {
		reply_type(req, name, "a string", j);
		return -1;
	}
	if ((*out = api_json_str(j)) == NULL) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_field", name,
		    "%s must not contain NUL characters", name);
		return -1;
	}
	return 1;
}

/* Read an optional whole number field within lo..hi: a JSON number, never
 * a string.  Returns 0 (absent), 1, or -1 after answering 422. */
static int
opt_int(struct http_request *req, json_t *body, const char *name, int lo,
    int hi, int *out)
{
	json_t *j = json_object_get(body, name);
	long long v;

	if (j == NULL || json_is_null(j))
		return 0;
	if (!json_is_number(j)) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_field", name,
		    "%s must be a JSON number from %d to %d, not %s", name,
		    lo, hi, api_json_kind(j));
		return -1;
	}
	if (!api_json_whole(j, &v) || v < lo || v > hi) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_field", name,
		    "%s must be a whole number from %d to %d", name, lo, hi);
		return -1;
	}
	*out = (int)v;
	return 1;
}

/* The code field of a check or a caller-supplied code: a JSON string of
 * 4..12 digits (a number is refused: 012345 is not JSON, and 12345 would
 * be another code).  Returns 1 with buf (size > 12) filled, 0 absent, -1
 * after answering 422: invalid_field for another type, invalid_code for a
 * string that is not 4..12 digits. */
static int
read_code(struct http_request *req, json_t *body, const char *name,
    char *buf, size_t size)
{
	json_t *j = json_object_get(body, name);
	const char *s;

	buf[0] = '\0';
	if (j == NULL || json_is_null(j))
		return 0;
	if (!json_is_string(j)) {
		reply_type(req, name, "a string of 4 to 12 digits", j);
		return -1;
	}
	if ((s = api_json_str(j)) == NULL || strlen(s) >= size ||
	    !verify_code_valid(s)) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_code", name,
		    "%s must be 4 to 12 digits", name);
		return -1;
	}
	memcpy(buf, s, strlen(s) + 1);
	return 1;
}

/* Read and normalise the phone field (national numbers in country, else
 * the key's).  Returns 0 with e164 filled or -1 after answering 422. */
static int
read_phone(const struct api *api, struct http_request *req, int key,
    const char *phone, const char *country, const char *field, char *e164,
    size_t size)
{
	enum phone_type type;
	enum phone_result r;

	if (phone == NULL) {
		http_reply_error(req, HTTP_ERR_INVALID, "missing_field", field,
		    "%s is required", field);
		return -1;
	}
	r = phone_normalise(phone, country ? country :
	    keys_country(api->keys, key), e164, size, &type);
	if (r != PHONE_OK) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_phone", field,
		    r == PHONE_UNPARSABLE ? "%s is not a phone number" :
		    "%s is not a valid phone number", field);
		return -1;
	}
	return 0;
}

/* ---- send ------------------------------------------------------------- */

/* 429 range_blocked, with Retry-After and, besides the usual code,
 * message and field, the range and retry_after (seconds) in the error:
 * the shape of every 429 of the native API. */
static void
reply_range_blocked(struct http_request *req, const struct flow_send *fs)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "sends to numbers of range %s are "
	    "suspended: too few of the codes sent there were used (SMS "
	    "pumping protection); try again in %d seconds", fs->range,
	    fs->retry_after);
	http_set_retry_after(req, fs->retry_after);
	http_reply_json(req, http_err_status(HTTP_ERR_RATE),
	    json_pack("{s:{s:s, s:s, s:s, s:s, s:i}}", "error",
	    "code", "range_blocked", "message", msg, "field", "phone",
	    "range", fs->range, "retry_after", fs->retry_after));
}

/* A failed send's answer in the native API's words (seed 003's too). */
void
api_send_error(struct http_request *req, const struct flow_send *fs)
{
	switch (fs->err) {
	case FLOW_COUNTRY:
		http_reply_error(req, HTTP_ERR_INVALID, "country_not_allowed",
		    "phone", "phone is a number of %s, where this key may not "
		    "send codes ([shield] countries, [key] countries)",
		    fs->country[0] ? fs->country : "no country");
		break;
	case FLOW_NO_ROUTE:
		http_reply_error(req, HTTP_ERR_INVALID, "no_route", "phone",
		    "no route covers this number; nothing was sent");
		break;
	case FLOW_RANGE_BLOCKED:
		reply_range_blocked(req, fs);
		break;
	case FLOW_OK:
	case FLOW_SHUTDOWN:
		break;          /* the listener and its requests are gone */
	case FLOW_PHONE_UNPARSABLE:
	case FLOW_PHONE_INVALID:
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_phone",
		    "phone", fs->err == FLOW_PHONE_UNPARSABLE ?
		    "phone is not a phone number" :
		    "phone is not a valid phone number");
		break;
	case FLOW_PHONE_TYPE:
		http_reply_error(req, HTTP_ERR_INVALID, "phone_type_refused",
		    "phone", "phone is a %s number, which is not sent codes "
		    "([verify] refuse_types)", phone_strtype(fs->ptype));
		break;
	case FLOW_LANGUAGE:
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_language",
		    "language", "language must be one of de en es fr it pt ru");
		break;
	case FLOW_TEMPLATE:
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_template",
		    "template", "template must contain {code} and be at most "
		    "%d octets", FLOW_MAX_TEMPLATE);
		break;
	case FLOW_TOO_LONG:
		http_reply_error(req, HTTP_ERR_INVALID, "template_too_long",
		    "template", "the message must fit %d SMS parts (153 GSM "
		    "or 67 UCS-2 characters each)", FLOW_MAX_PARTS);
		break;
	case FLOW_SENDER:
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_sender",
		    "sender", "sender must be up to 11 letters and digits, or "
		    "up to 15 digits");
		break;
	case FLOW_STORE_CONFLICT:
		if (http_again(req))
			break;          /* once more, on what the other node did */
		/* FALLTHROUGH */
	case FLOW_STORE_FULL:
	case FLOW_STORE_ERROR:
		http_reply_error(req, HTTP_ERR_UNAVAILABLE,
		    fs->err == FLOW_STORE_FULL ? "store_full" : "store_error",
		    NULL, "the verification could not be stored; nothing was "
		    "sent");
		break;
	case FLOW_RATE_LIMITED:
		api_reply_limited(req, fs->limit, fs->retry_after);
		break;
	case FLOW_INTERNAL:
	case FLOW_NOT_FOUND:     /* not an outcome of a send */
	case FLOW_NOT_PENDING:
		http_reply_error(req, HTTP_ERR_INTERNAL, "internal", NULL,
		    "the verification could not be made; nothing was sent");
		break;
	}
}

/* 429 rate_limited with Retry-After, naming the limit (SPEC "Limits"):
 * http_reply_error() carries no extra fields, so the error is written
 * here. */
void
api_reply_limited(struct http_request *req, const char *limit,
    int retry_after)
{
	char msg[160];

	if (retry_after < 1)
		retry_after = 1;
	snprintf(msg, sizeof(msg), "too many sends: %s refuses this one; "
	    "try again in %d seconds (nothing was sent)", limit,
	    retry_after);
	http_set_retry_after(req, retry_after);
	http_reply_json(req, http_err_status(HTTP_ERR_RATE),
	    json_pack("{s:{s:s, s:s, s:i, s:s}}", "error", "code",
	    "rate_limited", "limit", limit, "retry_after", retry_after,
	    "message", msg));
}

/* Idempotency-Key on the native send (api_idem.h). */
static const struct api_idem_ops send_idem = {
	.api = "v1",
	.status = 201,
	.render = send_json,
	.fail = api_send_error,
};

static void
send_done(struct flow_send *fs, const struct verif *v)
{
	if (api_idem_done(fs, v))
		return;
	if (fs->err == FLOW_OK)
		http_reply_json(fs->arg, 201, send_json(v));
	else
		api_send_error(fs->arg, fs);
}

int
api_read_metadata(struct http_request *req, json_t *body, char **out)
{
	json_t *meta = json_object_get(body, "metadata");

	*out = NULL;
	if (meta == NULL || json_is_null(meta))
		return 0;
	if (!json_is_object(meta)) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_field",
		    "metadata", "metadata must be a JSON object");
		return -1;
	}
	*out = json_dumps(meta, JSON_COMPACT);
	if (*out == NULL || strlen(*out) > API_MAX_METADATA) {
		free(*out);
		*out = NULL;
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_field",
		    "metadata", "metadata must be at most %d octets as JSON",
		    API_MAX_METADATA);
		return -1;
	}
	return 0;
}

static void
api_send(struct http_request *req, const char *rest, void *arg)
{
	struct api *api = arg;
	struct flow_send *fs;
	const char *country;
	int key, minutes, rc = 0;
	json_t *body;

	if ((key = api_auth(api, req, http_bearer(req))) < 0)
		return;
	if ((body = http_body(req, 0)) == NULL)
		return;
	fs = flow_send_new(api->flow, key, "v1", send_done, req);
	fs->hold = body;
	if (opt_str(req, body, "phone", &fs->phone) < 0 ||
	    opt_str(req, body, "country", &country) < 0 ||
	    opt_str(req, body, "language", &fs->language) < 0 ||
	    opt_str(req, body, "template", &fs->tmpl) < 0 ||
	    opt_str(req, body, "sender", &fs->sender) < 0 ||
	    opt_str(req, body, "client_ip", &fs->client_ip) < 0 ||
	    opt_int(req, body, "code_length", VERIFY_CODE_MIN,
	    VERIFY_CODE_MAX, &fs->code_length) < 0 ||
	    (rc = read_code(req, body, "code", fs->code,
	    sizeof(fs->code))) < 0)
		goto fail;
	fs->has_code = rc == 1;
	switch (opt_int(req, body, "expiry_minutes", 1, 60, &minutes)) {
	case -1:
		goto fail;
	case 1:
		fs->expiry = minutes * 60;
		break;
	}
	if (country != NULL && !phone_region_valid(country)) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_country",
		    "country", "country must be an ISO 3166 alpha-2 code");
		goto fail;
	}
	if (country != NULL)
		fs->region = country;
	if (fs->phone == NULL) {
		http_reply_error(req, HTTP_ERR_INVALID, "missing_field",
		    "phone", "phone is required");
		goto fail;
	}
	if (fs->client_ip != NULL && !api_ip_valid(fs->client_ip)) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_field",
		    "client_ip", "client_ip must be an IPv4 or IPv6 address");
		goto fail;
	}
	if (fs->language != NULL && !template_lang_valid(fs->language)) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_language",
		    "language", "language must be one of de en es fr it pt ru");
		goto fail;
	}
	if (api_read_metadata(req, body, &fs->metadata) < 0)
		goto fail;
	if (api_idem_begin(api, req, fs, body, &send_idem))
		flow_send(fs);
	return;
fail:
	flow_send_free(fs);
}

/* ---- check ------------------------------------------------------------ */

static void
check_done(void *arg, int result, const struct flow_check *fc)
{
	struct http_request *req = arg;

	if (fc == NULL)
		return;         /* shutting down */
	if (result == STORE_CONFLICT && http_again(req))
		return;
	if (result != STORE_OK) {
		http_reply_error(req, HTTP_ERR_UNAVAILABLE, "store_error",
		    NULL, "the change could not be stored; try again");
		return;
	}
	http_reply_json(req, 200, json_pack("{s:o, s:o, s:b, s:s, s:i}",
	    "id", fc->found ? json_string(fc->id) : json_null(),
	    "phone", fc->phone[0] ? json_string(fc->phone) : json_null(),
	    "valid", fc->result == VERIFY_APPROVED,
	    "status", fc->status,
	    "attempts_left", fc->found ? fc->attempts_left : 0));
}

static void
api_check(struct http_request *req, const char *rest, void *arg)
{
	struct api *api = arg;
	const char *id, *phone, *country;
	char code[16], e164[20];
	int key;
	json_t *body;

	code[0] = '\0';
	if ((key = api_auth(api, req, http_bearer(req))) < 0)
		return;
	if ((body = http_body(req, 0)) == NULL)
		return;
	if (opt_str(req, body, "id", &id) < 0 ||
	    opt_str(req, body, "phone", &phone) < 0 ||
	    opt_str(req, body, "country", &country) < 0)
		goto out;
	switch (read_code(req, body, "code", code, sizeof(code))) {
	case -1:
		goto out;
	case 0:
		http_reply_error(req, HTTP_ERR_INVALID, "missing_field",
		    "code", "code is required");
		goto out;
	}
	if (id == NULL && phone == NULL) {
		http_reply_error(req, HTTP_ERR_INVALID, "missing_field", "id",
		    "id or phone is required");
		goto out;
	}
	if (id == NULL && country != NULL && !phone_region_valid(country)) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_country",
		    "country", "country must be an ISO 3166 alpha-2 code");
		goto out;
	}
	if (id == NULL && read_phone(api, req, key, phone, country, "phone",
	    e164, sizeof(e164)) < 0)
		goto out;
	flow_check(api->flow, key, id, id == NULL ? e164 : NULL, code, check_done,
	    req);
out:
	OPENSSL_cleanse(code, sizeof(code));
	json_decref(body);
}

/* ---- get and cancel --------------------------------------------------- */

/* The id in the path (idlen octets of rest) into buf, or -1 when it
 * cannot be one. */
static int
path_id(const char *rest, size_t idlen, char *buf, size_t size)
{
	if (idlen == 0 || idlen >= size)
		return -1;
	memcpy(buf, rest, idlen);
	buf[idlen] = '\0';
	return 0;
}

static void
reply_not_found(struct http_request *req)
{
	http_reply_error(req, HTTP_ERR_NOT_FOUND, "not_found", "id",
	    "no such verification");
}

static void
cancel_done(void *arg, enum flow_err err, const struct verif *v)
{
	struct http_request *req = arg;

	switch (err) {
	case FLOW_OK:
		http_reply_json(req, 200, verif_json(v));
		return;
	case FLOW_NOT_FOUND:
		reply_not_found(req);
		return;
	case FLOW_NOT_PENDING:
		http_reply_error(req, HTTP_ERR_CONFLICT, "not_pending", "id",
		    "the verification is %s", verif_strstatus(v->status));
		return;
	case FLOW_SHUTDOWN:
		return;         /* the request is gone */
	default:
		http_reply_error(req, HTTP_ERR_UNAVAILABLE, "store_error",
		    NULL, "the change could not be stored; try again");
		return;
	}
}

/*
 * Everything under /v1/verifications/ that no exact route took:
 *
 *   {id}          GET (HEAD)
 *   {id}/cancel   POST, with an empty body or a JSON object (no fields)
 *   check         POST only, which its exact route serves: any other
 *                 method lands here and is answered 405, not taken for
 *                 an id
 *
 * The path's shape and method are answered first, without the key, as
 * the router answers them for exact routes: 405 with Allow, or 404 for a
 * path that names no endpoint.
 */
static void
api_one(struct http_request *req, const char *rest, void *arg)
{
	struct api *api = arg;
	int method = http_method(req);
	const char *slash = strchr(rest, '/');
	size_t idlen = slash ? (size_t)(slash - rest) : strlen(rest), len;
	char id[40];
	struct verif v;
	json_t *body;
	int key;

	if (slash == NULL && strcmp(rest, "check") == 0)
		return http_reply_not_allowed(req, HTTP_POST);
	if (slash != NULL && strcmp(slash, "/cancel") != 0) {
		http_reply_error(req, HTTP_ERR_NOT_FOUND, "not_found", NULL,
		    "no such endpoint");
		return;
	}
	if (slash == NULL && method != HTTP_GET && method != HTTP_HEAD)
		return http_reply_not_allowed(req, HTTP_GET);
	if (slash != NULL && method != HTTP_POST)
		return http_reply_not_allowed(req, HTTP_POST);

	if ((key = api_auth(api, req, http_bearer(req))) < 0)
		return;
	if (slash == NULL) {
		if (path_id(rest, idlen, id, sizeof(id)) < 0 ||
		    flow_get(api->flow, key, id, &v) != FLOW_OK)
			return reply_not_found(req);
		http_reply_json(req, 200, verif_json(&v));
		verif_clear(&v);
		return;
	}
	/* A cancel takes no fields; a body, if any, is still JSON. */
	http_req_body(req, &len);
	if (len > 0) {
		if ((body = http_body(req, 0)) == NULL)
			return;
		json_decref(body);
	}
	if (path_id(rest, idlen, id, sizeof(id)) < 0)
		return reply_not_found(req);
	flow_cancel(api->flow, key, id, cancel_done, req);
}

void
api_verify_register(struct api *api)
{
	if (api->idem == NULL && api->store != NULL)
		api->idem = api_idem_new(api->store, api->flow);
	http_route(api->http, HTTP_POST, "/v1/verifications", api_send, api);
	http_route(api->http, HTTP_POST, "/v1/verifications/check",
	    api_check, api);
	/* Seed 003's check is the native one (SPEC "Compatibility"). */
	http_route(api->http, HTTP_POST, "/v1/sms/verify/check", api_check,
	    api);
	http_route(api->http, HTTP_GET | HTTP_POST, "/v1/verifications/",
	    api_one, api);
	api_limits_register(api);
}
