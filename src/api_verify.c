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
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <openssl/crypto.h>

#include "api.h"
#include "conf.h"
#include "dispatch.h"
#include "gw.h"
#include "http.h"
#include "log.h"
#include "phone.h"
#include "phone_pool.h"
#include "score.h"
#include "store.h"
#include "template.h"
#include "util.h"
#include "verify.h"
#include "webhook.h"

#define API_MAX_TEMPLATE 640
#define API_MAX_METADATA 4096
#define API_MAX_PARTS 4   /* a concatenated SMS of at most 4 parts */

int
api_auth(struct gw *gw, struct evhttp_request *req, const char *token)
{
	int key = gw_key_by_token(gw, token);

	if (key < 0)
		http_reply_error(req, HTTP_ERR_UNAUTHORIZED, "unauthorized",
		    NULL, token ? "unknown API key" :
		    "missing \"Authorization: Bearer <key>\" header");
	return key;
}

/* ---- JSON views ------------------------------------------------------- */

static json_t *
json_time(int64_t t)
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
	    "expires_at", json_time(v->expires_at),
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
		    "submitted_at", json_time(s->submitted_at),
		    "delivery", dlr_strstate(s->dlr),
		    "delivery_at", json_time(s->dlr_at),
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
	    "created_at", json_time(v->created_at),
	    "updated_at", json_time(v->updated_at),
	    "expires_at", json_time(v->expires_at),
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

/* ---- field readers ---------------------------------------------------- */

/* Read an optional string field.  Returns 0 (absent: *out NULL), 1, or -1
 * after answering 422. */
static int
opt_str(struct evhttp_request *req, json_t *body, const char *name,
    const char **out)
{
	json_t *j = json_object_get(body, name);

	*out = NULL;
	if (j == NULL || json_is_null(j))
		return 0;
	if (!json_is_string(j)) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_field", name,
		    "%s must be a string", name);
		return -1;
	}
	*out = json_string_value(j);
	return 1;
}

/* Read an optional integer field within lo..hi (a string of digits is
 * accepted too).  Returns 0 (absent), 1, or -1 after answering 422. */
static int
opt_int(struct evhttp_request *req, json_t *body, const char *name, int lo,
    int hi, int *out)
{
	json_t *j = json_object_get(body, name);
	long long v;

	if (j == NULL || json_is_null(j))
		return 0;
	if (json_is_integer(j)) {
		v = json_integer_value(j);
	} else if (json_is_string(j)) {
		const char *s = json_string_value(j);
		char *end;
		if (*s == '\0' || !isdigit((unsigned char)*s))
			goto bad;
		v = strtoll(s, &end, 10);
		if (*end != '\0')
			goto bad;
	} else {
		goto bad;
	}
	if (v < lo || v > hi)
		goto bad;
	*out = (int)v;
	return 1;
bad:
	http_reply_error(req, HTTP_ERR_INVALID, "invalid_field", name,
	    "%s must be an integer from %d to %d", name, lo, hi);
	return -1;
}

/* The code field of a check or a caller-supplied code: a string of 4..12
 * digits (an integer is accepted).  Returns 1 with buf filled, 0 absent,
 * -1 after answering 422. */
static int
read_code(struct evhttp_request *req, json_t *body, const char *name,
    char *buf, size_t size)
{
	json_t *j = json_object_get(body, name);

	if (j == NULL || json_is_null(j))
		return 0;
	if (json_is_integer(j) && json_integer_value(j) >= 0)
		snprintf(buf, size, "%lld",
		    (long long)json_integer_value(j));
	else if (json_is_string(j))
		util_strlcpy(buf, json_string_value(j), size);
	else
		buf[0] = '\0';
	if (!verify_code_valid(buf)) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_code", name,
		    "%s must be 4 to 12 digits", name);
		return -1;
	}
	return 1;
}

static int
sender_valid(const char *s)
{
	size_t n = strlen(s), digits = 0, letters = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (isdigit(c))
			digits++;
		else if (isalpha(c))
			letters++;
		else if (!(c == ' ' || c == '.' || c == '-' || c == '_' ||
		    (c == '+' && i == 0)))
			return 0;
	}
	if (letters > 0)
		return n >= 1 && n <= 11;
	return digits >= 1 && digits <= 15;
}

/* Read and normalise the phone field.  Returns 0 with e164 filled or -1
 * after answering 422. */
static int
read_phone(struct gw *gw, struct evhttp_request *req, const char *phone,
    const char *country, const char *field, char *e164, size_t size)
{
	enum phone_type type;
	enum phone_result r;

	if (phone == NULL) {
		http_reply_error(req, HTTP_ERR_INVALID, "missing_field", field,
		    "%s is required", field);
		return -1;
	}
	r = phone_normalise(phone, country ? country :
	    gw->conf->default_country, e164, size, &type);
	if (r != PHONE_OK) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_phone", field,
		    r == PHONE_UNPARSABLE ? "%s is not a phone number" :
		    "%s is not a valid phone number", field);
		return -1;
	}
	return 0;
}

/* ---- send ------------------------------------------------------------- */

/*
 * A send in progress: the request's fields, read from body (whose
 * strings they point into), while its number is read off the loop
 * (phone_pool.h), then until the verification is stored and submitted
 * (send_answer).
 */
struct send_ctx {
	struct gw *gw;
	struct evhttp_request *req;
	json_t *body;
	int key;
	const char *phone, *country, *language, *tmpl, *sender;
	int has_code;           /* the caller chose the code */
	char code[16];
	int code_length, expiry;
};

static void
send_ctx_free(struct send_ctx *ctx)
{
	OPENSSL_cleanse(ctx->code, sizeof(ctx->code));
	json_decref(ctx->body);
	free(ctx);
}

static void
send_answer(void *arg, const struct verif *v, int result)
{
	struct send_ctx *ctx = arg;
	struct gw *gw = ctx->gw;

	if (gw->http == NULL) {
		/* Shutting down: the listener and its requests are gone. */
	} else if (v == NULL) {
		http_reply_error(ctx->req, HTTP_ERR_UNAVAILABLE,
		    result == STORE_FULL ? "store_full" : "store_error", NULL,
		    "the verification could not be stored; nothing was sent");
	} else {
		if (v->send_state == SEND_QUEUED)
			gw->metrics.sends_queued++;
		http_reply_json(ctx->req, 201, send_json(v));
	}
	send_ctx_free(ctx);
}

/* Cancel the pending verification of (key, phone), if any; tell whether
 * it was recent enough to count as a repeat: *last gets its SMSC index and
 * *attempt its attempt number (0 when none). */
static void
cancel_pending(struct gw *gw, const char *key, const char *phone,
    int *last, int *attempt)
{
	char id[32];
	struct verif old;
	int64_t now = util_now();

	*last = -1;
	*attempt = 0;
	if (store_pending_get(gw->store, key, phone, id, sizeof(id)) !=
	    STORE_OK)
		return;
	memset(&old, 0, sizeof(old));
	if (store_verif_get(gw->store, id, &old) != STORE_OK)
		return;
	if (now - old.created_at < gw->conf->repeat_window) {
		*attempt = old.attempt > 0 ? old.attempt : 1;
		if (old.nsend > 0)
			*last = conf_smsc_index(gw->conf,
			    old.send[old.nsend - 1].smsc);
	}
	if (old.status == VERIF_PENDING) {
		old.status = VERIF_CANCELED;
		free(old.sealed);
		old.sealed = NULL;
		old.updated_at = now;
		store_verif_put(gw->store, &old);
		webhook_emit(gw, &old, "verification.canceled");
		dispatch_drop(gw->dispatch, old.id);
		log_info("verify.superseded", "id=%s", old.id);
	}
	verif_clear(&old);
}

static void send_phone_done(void *, enum phone_result, const char *,
    enum phone_type);

static void
api_send(struct evhttp_request *req, const char *rest, void *arg)
{
	struct gw *gw = arg;
	const struct conf *conf = gw->conf;
	struct send_ctx *ctx;
	int key, minutes, rc = 0;
	json_t *body;

	if ((key = api_auth(gw, req, http_bearer(req))) < 0)
		return;
	if ((body = http_body(req, 0)) == NULL)
		return;
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->gw = gw;
	ctx->req = req;
	ctx->body = body;
	ctx->key = key;
	ctx->code_length = conf->code_length;
	ctx->expiry = conf->expiry;
	if (opt_str(req, body, "phone", &ctx->phone) < 0 ||
	    opt_str(req, body, "country", &ctx->country) < 0 ||
	    opt_str(req, body, "language", &ctx->language) < 0 ||
	    opt_str(req, body, "template", &ctx->tmpl) < 0 ||
	    opt_str(req, body, "sender", &ctx->sender) < 0 ||
	    opt_int(req, body, "code_length", VERIFY_CODE_MIN,
	    VERIFY_CODE_MAX, &ctx->code_length) < 0 ||
	    (rc = read_code(req, body, "code", ctx->code,
	    sizeof(ctx->code))) < 0)
		goto fail;
	ctx->has_code = rc == 1;
	switch (opt_int(req, body, "expiry_minutes", 1, 60, &minutes)) {
	case -1:
		goto fail;
	case 1:
		ctx->expiry = minutes * 60;
		break;
	}
	if (ctx->country != NULL && !phone_region_valid(ctx->country)) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_country",
		    "country", "country must be an ISO 3166 alpha-2 code");
		goto fail;
	}
	if (ctx->phone == NULL) {
		http_reply_error(req, HTTP_ERR_INVALID, "missing_field",
		    "phone", "phone is required");
		goto fail;
	}
	/* The rest runs in send_phone_done(), now or once a worker has read
	 * the number. */
	phone_pool_lookup(gw->phones, ctx->phone, ctx->country ? ctx->country :
	    conf->default_country, send_phone_done, ctx);
	return;
fail:
	send_ctx_free(ctx);
}

static void
send_phone_done(void *arg, enum phone_result pr, const char *e164,
    enum phone_type ptype)
{
	struct send_ctx *ctx = arg;
	struct gw *gw = ctx->gw;
	const struct conf *conf = gw->conf;
	struct evhttp_request *req = ctx->req;
	const char *language = ctx->language, *tmpl = ctx->tmpl;
	const char *sender = ctx->sender;
	char pbuf[24];
	int last, attempt, rc, parts, expiry = ctx->expiry;
	json_t *meta;
	struct verif v;
	char *text = NULL, *meta_text = NULL;

	if (gw->http == NULL)
		goto fail;      /* shutting down: the request is gone */
	if (pr != PHONE_OK) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_phone",
		    "phone", pr == PHONE_UNPARSABLE ?
		    "phone is not a phone number" :
		    "phone is not a valid phone number");
		goto fail;
	}
	if (conf->refuse_types & (1 << ptype)) {
		/* A landline, premium or VoIP number cannot take the SMS
		 * (and NIST SP 800-63B rules VoIP out for codes). */
		http_reply_error(req, HTTP_ERR_INVALID, "phone_type_refused",
		    "phone", "phone is a %s number, which is not sent codes "
		    "([verify] refuse_types)", phone_strtype(ptype));
		goto fail;
	}
	if (language == NULL)
		language = conf->keys[ctx->key].language ?
		    conf->keys[ctx->key].language : "en";
	if (!template_lang_valid(language)) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_language",
		    "language", "language must be one of de en es fr it pt ru");
		goto fail;
	}
	if (tmpl != NULL && (strlen(tmpl) > API_MAX_TEMPLATE ||
	    !template_has_code(tmpl))) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_template",
		    "template", "template must contain {code} and be at most "
		    "%d octets", API_MAX_TEMPLATE);
		goto fail;
	}
	if (sender != NULL && !sender_valid(sender)) {
		http_reply_error(req, HTTP_ERR_INVALID, "invalid_sender",
		    "sender", "sender must be up to 11 letters and digits, or "
		    "up to 15 digits");
		goto fail;
	}
	meta = json_object_get(ctx->body, "metadata");
	if (meta != NULL && !json_is_null(meta)) {
		if (!json_is_object(meta)) {
			http_reply_error(req, HTTP_ERR_INVALID,
			    "invalid_field", "metadata",
			    "metadata must be a JSON object");
			goto fail;
		}
		meta_text = json_dumps(meta, JSON_COMPACT);
		if (meta_text == NULL || strlen(meta_text) > API_MAX_METADATA) {
			http_reply_error(req, HTTP_ERR_INVALID,
			    "invalid_field", "metadata", "metadata must be at "
			    "most %d octets as JSON", API_MAX_METADATA);
			goto fail;
		}
	}
	if (!ctx->has_code &&
	    verify_code_new(ctx->code, ctx->code_length) != 0) {
		http_reply_error(req, HTTP_ERR_INTERNAL, "internal", NULL,
		    "no random code could be made");
		goto fail;
	}
	text = template_render(tmpl ? tmpl : template_builtin(language),
	    ctx->code, (expiry + 59) / 60);
	if (text == NULL || (parts = smpp_text_parts(text, 0)) < 1 ||
	    parts > API_MAX_PARTS) {
		http_reply_error(req, HTTP_ERR_INVALID, "template_too_long",
		    "template", "the message must fit %d SMS parts (153 GSM "
		    "or 67 UCS-2 characters each)", API_MAX_PARTS);
		goto fail;
	}

	memset(&v, 0, sizeof(v));
	verify_id_new(v.id);
	util_strlcpy(v.key, conf->keys[ctx->key].name, sizeof(v.key));
	util_strlcpy(v.phone, e164, sizeof(v.phone));
	util_strlcpy(v.api, "v1", sizeof(v.api));
	util_strlcpy(v.sender, sender ? sender : conf->sender,
	    sizeof(v.sender));
	v.status = VERIF_PENDING;
	v.send_state = SEND_QUEUED;
	v.max_checks = conf->max_check_attempts;
	v.created_at = v.updated_at = util_now();
	v.expires_at = v.created_at + expiry;
	verify_code_hmac(gw->secret, v.id, ctx->code, v.code_hmac);
	v.sealed = verify_seal(gw->secret, v.id, text);
	v.metadata = meta_text;
	meta_text = NULL;
	OPENSSL_cleanse(text, strlen(text));
	free(text);
	text = NULL;
	if (v.sealed == NULL) {
		http_reply_error(req, HTTP_ERR_INTERNAL, "internal", NULL,
		    "the message could not be sealed");
		verif_clear(&v);
		goto fail;
	}
	cancel_pending(gw, v.key, v.phone, &last, &attempt);
	v.attempt = attempt + 1;
	rc = store_verif_put(gw->store, &v);
	if (rc != STORE_OK) {
		http_reply_error(req, HTTP_ERR_UNAVAILABLE, rc == STORE_FULL ?
		    "store_full" : "store_error", NULL,
		    "the verification could not be stored; nothing was sent");
		verif_clear(&v);
		goto fail;
	}
	gw->metrics.sends++;
	log_info("verify.created", "id=%s key=%s phone=%s attempt=%d",
	    v.id, v.key, log_phone(pbuf, sizeof(pbuf), v.phone), v.attempt);
	/* The code is in the HMAC and the sealed text only from here on. */
	OPENSSL_cleanse(ctx->code, sizeof(ctx->code));
	dispatch_send(gw->dispatch, &v, last, send_answer, ctx);
	verif_clear(&v);
	return;
fail:
	if (text != NULL) {
		OPENSSL_cleanse(text, strlen(text));
		free(text);
	}
	free(meta_text);
	send_ctx_free(ctx);
}

/* ---- check ------------------------------------------------------------ */

/* An answer that leaves after the current batch commits. */
struct reply_ctx {
	struct gw *gw;
	struct evhttp_request *req;
	int status;
	json_t *answer;
};

static void
reply_committed(void *arg, int result)
{
	struct reply_ctx *ctx = arg;

	if (ctx->gw->http == NULL)
		json_decref(ctx->answer);
	else if (result != STORE_OK) {
		json_decref(ctx->answer);
		http_reply_error(ctx->req, HTTP_ERR_UNAVAILABLE, "store_error",
		    NULL, "the change could not be stored; try again");
	} else
		http_reply_json(ctx->req, ctx->status, ctx->answer);
	free(ctx);
}

static const char *
check_status(enum verify_result r)
{
	switch (r) {
	case VERIFY_APPROVED: return "approved";
	case VERIFY_WRONG: return "pending";
	case VERIFY_LOCKED: return "max_attempts_reached";
	case VERIFY_EXPIRED: return "expired";
	case VERIFY_CANCELED:
	case VERIFY_FAILED: return "canceled";
	case VERIFY_USED: return "not_found";   /* a code is valid once */
	}
	return "not_found";
}

static void
api_check(struct evhttp_request *req, const char *rest, void *arg)
{
	struct gw *gw = arg;
	const char *id, *phone, *country;
	char code[16], e164[20], vid[32];
	int key, found = 0;
	json_t *body, *answer;
	struct verif v;
	enum verify_result r = VERIFY_USED;
	struct reply_ctx *ctx;

	memset(&v, 0, sizeof(v));
	code[0] = '\0';
	if ((key = api_auth(gw, req, http_bearer(req))) < 0)
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
	e164[0] = '\0';
	if (id == NULL && read_phone(gw, req, phone, country, "phone", e164,
	    sizeof(e164)) < 0)
		goto out;
	if (id != NULL)
		util_strlcpy(vid, id, sizeof(vid));
	if ((id != NULL || store_pending_get(gw->store,
	    gw->conf->keys[key].name, e164, vid, sizeof(vid)) == STORE_OK) &&
	    strlen(vid) < sizeof(v.id) &&
	    store_verif_get(gw->store, vid, &v) == STORE_OK &&
	    strcmp(v.key, gw->conf->keys[key].name) == 0)
		found = 1;

	if (found) {
		int before = v.status, checks = v.checks;
		r = verify_check(&v, gw->secret, code, util_now());
		if (v.status != before || v.checks != checks)
			store_verif_put(gw->store, &v);
		if (r == VERIFY_APPROVED && v.nsend > 0) {
			/* A code typed back: proof its SMSC delivered. */
			const struct verif_send *s = &v.send[v.nsend - 1];
			score_approved(gw->score, gw->conf, v.phone, s->smsc,
			    s->submitted_at);
		}
		if (r == VERIFY_APPROVED)
			webhook_emit(gw, &v, "verification.approved");
		else if (v.status == VERIF_EXPIRED && before != VERIF_EXPIRED)
			webhook_emit(gw, &v, "verification.expired");
		if (r == VERIFY_APPROVED)
			dispatch_drop(gw->dispatch, v.id);
	} else {
		/* Same work as a real check: an HMAC over a throwaway id. */
		uint8_t mac[32];
		verify_code_hmac(gw->secret, "ver_000000000000000000000000",
		    code, mac);
	}
	if (r == VERIFY_APPROVED)
		gw->metrics.checks_approved++;
	else if (r == VERIFY_WRONG || r == VERIFY_LOCKED)
		gw->metrics.checks_wrong++;
	else
		gw->metrics.checks_other++;
	log_info("verify.check", "id=%s result=%s", found ? v.id : "-",
	    found ? check_status(r) : "not_found");
	answer = json_pack("{s:o, s:o, s:b, s:s, s:i}",
	    "id", found ? json_string(v.id) : json_null(),
	    "phone", found ? json_string(v.phone) :
	    (e164[0] ? json_string(e164) : json_null()),
	    "valid", r == VERIFY_APPROVED,
	    "status", found ? check_status(r) : "not_found",
	    "attempts_left", found ? verify_attempts_left(&v) : 0);
	ctx = xmalloc(sizeof(*ctx));
	ctx->gw = gw;
	ctx->req = req;
	ctx->status = 200;
	ctx->answer = answer;
	store_on_commit(gw->store, reply_committed, ctx);
out:
	OPENSSL_cleanse(code, sizeof(code));
	verif_clear(&v);
	json_decref(body);
}

/* ---- get and cancel --------------------------------------------------- */

/* Load the verification named by the path for the request's key, or answer
 * 404.  Returns 0 or -1. */
static int
load_for_key(struct gw *gw, struct evhttp_request *req, int key,
    const char *id, size_t idlen, struct verif *v)
{
	char buf[40];

	if (idlen == 0 || idlen >= sizeof(v->id) || idlen >= sizeof(buf))
		goto missing;
	memcpy(buf, id, idlen);
	buf[idlen] = '\0';
	if (store_verif_get(gw->store, buf, v) != STORE_OK)
		goto missing;
	if (strcmp(v->key, gw->conf->keys[key].name) != 0) {
		verif_clear(v);
		goto missing;
	}
	return 0;
missing:
	http_reply_error(req, HTTP_ERR_NOT_FOUND, "not_found", "id",
	    "no such verification");
	return -1;
}

static void
api_one(struct evhttp_request *req, const char *rest, void *arg)
{
	struct gw *gw = arg;
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	const char *slash = strchr(rest, '/');
	size_t idlen = slash ? (size_t)(slash - rest) : strlen(rest);
	struct verif v;
	int key;

	if ((key = api_auth(gw, req, http_bearer(req))) < 0)
		return;
	memset(&v, 0, sizeof(v));
	if (slash == NULL) {
		if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
			http_reply_error(req, HTTP_ERR_METHOD,
			    "method_not_allowed", NULL, "use GET");
			return;
		}
		if (load_for_key(gw, req, key, rest, idlen, &v) < 0)
			return;
		http_reply_json(req, 200, verif_json(&v));
		verif_clear(&v);
		return;
	}
	if (strcmp(slash, "/cancel") != 0) {
		http_reply_error(req, HTTP_ERR_NOT_FOUND, "not_found", NULL,
		    "no such endpoint");
		return;
	}
	if (method != EVHTTP_REQ_POST) {
		http_reply_error(req, HTTP_ERR_METHOD, "method_not_allowed",
		    NULL, "use POST");
		return;
	}
	if (load_for_key(gw, req, key, rest, idlen, &v) < 0)
		return;
	if (v.status != VERIF_PENDING) {
		http_reply_error(req, HTTP_ERR_CONFLICT, "not_pending", "id",
		    "the verification is %s", verif_strstatus(v.status));
		verif_clear(&v);
		return;
	}
	v.status = VERIF_CANCELED;
	free(v.sealed);
	v.sealed = NULL;
	v.updated_at = util_now();
	if (store_verif_put(gw->store, &v) == STORE_OK) {
		struct reply_ctx *ctx = xmalloc(sizeof(*ctx));
		webhook_emit(gw, &v, "verification.canceled");
		dispatch_drop(gw->dispatch, v.id);
		gw->metrics.cancels++;
		log_info("verify.canceled", "id=%s", v.id);
		ctx->gw = gw;
		ctx->req = req;
		ctx->status = 200;
		ctx->answer = verif_json(&v);
		store_on_commit(gw->store, reply_committed, ctx);
	} else {
		http_reply_error(req, HTTP_ERR_UNAVAILABLE, "store_error",
		    NULL, "the change could not be stored; try again");
	}
	verif_clear(&v);
}

void
api_verify_register(struct gw *gw)
{
	http_route(gw->http, HTTP_POST, "/v1/verifications", api_send, gw);
	http_route(gw->http, HTTP_POST, "/v1/verifications/check", api_check,
	    gw);
	http_route(gw->http, HTTP_GET | HTTP_POST, "/v1/verifications/",
	    api_one, gw);
}
