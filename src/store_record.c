/*
 * store_record.c - a verification's record (store_record.h): the binary
 * format 2 this code writes, the JSON format 1 older databases hold (read
 * only), and the names of the record's states (store.h).  Pure: no LMDB,
 * no event loop; the only side effects are allocation and the log line of
 * a refused record.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "store.h"
#include "store_record.h"
#include "util.h"

/* ---- names ------------------------------------------------------------ */

const char *
verif_strstatus(int status)
{
	switch (status) {
	case VERIF_PENDING: return "pending";
	case VERIF_APPROVED: return "approved";
	case VERIF_EXPIRED: return "expired";
	case VERIF_CANCELED: return "canceled";
	case VERIF_MAX_ATTEMPTS: return "max_attempts_reached";
	case VERIF_FAILED: return "failed";
	}
	return "unknown";
}

const char *
send_strstate(int state)
{
	switch (state) {
	case SEND_QUEUED: return "queued";
	case SEND_SENT: return "sent";
	case SEND_FAILED: return "failed";
	}
	return "unknown";
}

const char *
dlr_strstate(int state)
{
	switch (state) {
	case DLR_PENDING: return "pending";
	case DLR_DELIVERED: return "delivered";
	case DLR_UNDELIVERABLE: return "undeliverable";
	case DLR_EXPIRED: return "expired";
	case DLR_REJECTED: return "rejected";
	case DLR_UNKNOWN: return "unknown";
	}
	return "unknown";
}

void
verif_clear(struct verif *v)
{
	free(v->sealed);
	free(v->metadata);
	memset(v, 0, sizeof(*v));
}

/* ---- records ---------------------------------------------------------- */

/* Format 2: the layout is described in store_record.h. */
#define REC_V2 2
#define REC_HEAD 78             /* the fixed part, up to key */
#define REC_SEALED 0x01
#define REC_METADATA 0x02
#define REC_STR_MAX 0xffff

static void
put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static uint16_t
get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Octets a fixed field's string takes in a record (2 + its length), or 0
 * when the field holds no NUL within size. */
static size_t
fixed_str_size(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	return n < size ? 2 + n : 0;
}

/* The encoded size of v, or 0 when it cannot be encoded (a field without
 * its NUL, an optional string longer than REC_STR_MAX, a bad nsend). */
size_t
store_record_size(const struct verif *v)
{
	size_t total = REC_HEAD + 1, n;
	int i;

#define FIXED(s) do {						\
		if ((n = fixed_str_size((s), sizeof(s))) == 0)	\
			return 0;				\
		total += n;					\
	} while (0)
	if (v->nsend < 0 || v->nsend > VERIF_MAX_SENDS)
		return 0;
	FIXED(v->key);
	FIXED(v->phone);
	FIXED(v->id);
	FIXED(v->api);
	FIXED(v->sender);
	FIXED(v->fail_reason);
	if (v->sealed != NULL) {
		if ((n = strlen(v->sealed)) > REC_STR_MAX)
			return 0;
		total += 2 + n;
	}
	if (v->metadata != NULL) {
		if ((n = strlen(v->metadata)) > REC_STR_MAX)
			return 0;
		total += 2 + n;
	}
	for (i = 0; i < v->nsend; i++) {
		FIXED(v->send[i].smsc);
		FIXED(v->send[i].message_id);
		FIXED(v->send[i].reason);
		total += 8 + 4 + 8 + 4;
	}
#undef FIXED
	return total;
}

static uint8_t *
put_str(uint8_t *p, const char *s)
{
	size_t n = strlen(s);

	put_u16(p, (uint16_t)n);
	memcpy(p + 2, s, n);
	return p + 2 + n;
}

/* Write v into p, which holds store_record_size(v) (non-zero) octets. */
void
store_record_encode(const struct verif *v, uint8_t *p)
{
	int i;

	p[0] = REC_V2;
	p[1] = (v->sealed != NULL ? REC_SEALED : 0) |
	    (v->metadata != NULL ? REC_METADATA : 0);
	put_u32(p + 2, (uint32_t)v->status);
	put_u32(p + 6, (uint32_t)v->send_state);
	put_u64(p + 10, (uint64_t)v->expires_at);
	put_u64(p + 18, (uint64_t)v->created_at);
	put_u64(p + 26, (uint64_t)v->updated_at);
	put_u32(p + 34, (uint32_t)v->attempt);
	put_u32(p + 38, (uint32_t)v->checks);
	put_u32(p + 42, (uint32_t)v->max_checks);
	memcpy(p + 46, v->code_hmac, 32);
	p += REC_HEAD;
	p = put_str(p, v->key);
	p = put_str(p, v->phone);
	p = put_str(p, v->id);
	p = put_str(p, v->api);
	p = put_str(p, v->sender);
	p = put_str(p, v->fail_reason);
	if (v->sealed != NULL)
		p = put_str(p, v->sealed);
	if (v->metadata != NULL)
		p = put_str(p, v->metadata);
	*p++ = (uint8_t)v->nsend;
	for (i = 0; i < v->nsend; i++) {
		const struct verif_send *sd = &v->send[i];

		p = put_str(p, sd->smsc);
		p = put_str(p, sd->message_id);
		put_u64(p, (uint64_t)sd->submitted_at);
		put_u32(p + 8, (uint32_t)sd->dlr);
		put_u64(p + 12, (uint64_t)sd->dlr_at);
		put_u32(p + 20, (uint32_t)sd->error);
		p = put_str(p + 24, sd->reason);
	}
}

/* Test hook: the encoder, declared by tests/check_store.c only.  The
 * record's length (at most size octets written), or 0 when v cannot be
 * encoded or buf is too small. */
size_t store_record_encode_for_test(const struct verif *v, uint8_t *buf,
    size_t size);

size_t
store_record_encode_for_test(const struct verif *v, uint8_t *buf,
    size_t size)
{
	size_t n = store_record_size(v);

	if (n == 0 || n > size)
		return 0;
	store_record_encode(v, buf);
	return n;
}

/* A bounds-checked reader over one record. */
struct rd {
	const uint8_t *p, *end;
};

static int
rd_take(struct rd *r, size_t n, const uint8_t **out)
{
	if ((size_t)(r->end - r->p) < n)
		return -1;
	*out = r->p;
	r->p += n;
	return 0;
}

/* A string into a fixed field of size octets: -1 when it runs past the
 * end, does not fit with its NUL, or holds a NUL. */
static int
rd_str(struct rd *r, char *out, size_t size)
{
	const uint8_t *q;
	size_t n;

	if (rd_take(r, 2, &q) != 0)
		return -1;
	n = get_u16(q);
	if (n >= size || rd_take(r, n, &q) != 0 || memchr(q, '\0', n) != NULL)
		return -1;
	memcpy(out, q, n);
	out[n] = '\0';
	return 0;
}

/* An optional string: a malloc'd copy in *out. */
static int
rd_dup(struct rd *r, char **out)
{
	const uint8_t *q;
	size_t n;

	if (rd_take(r, 2, &q) != 0)
		return -1;
	n = get_u16(q);
	if (rd_take(r, n, &q) != 0 || memchr(q, '\0', n) != NULL)
		return -1;
	*out = xmalloc(n + 1);
	memcpy(*out, q, n);
	(*out)[n] = '\0';
	return 0;
}

static int
rd_i32(struct rd *r, int *out)
{
	const uint8_t *q;

	if (rd_take(r, 4, &q) != 0)
		return -1;
	*out = (int)(int32_t)get_u32(q);
	return 0;
}

static int
rd_i64(struct rd *r, int64_t *out)
{
	const uint8_t *q;

	if (rd_take(r, 8, &q) != 0)
		return -1;
	*out = (int64_t)get_u64(q);
	return 0;
}

/* Format 2 into out (zeroed by the caller): 0 or -1. */
static int
record_decode_v2(const uint8_t *buf, size_t len, struct verif *out)
{
	struct rd r = { buf, buf + len };
	const uint8_t *q;
	int flags, i;

	if (len < REC_HEAD)
		return -1;
	flags = buf[1];
	if ((flags & ~(REC_SEALED | REC_METADATA)) != 0)
		return -1;
	out->status = (int)(int32_t)get_u32(buf + 2);
	out->send_state = (int)(int32_t)get_u32(buf + 6);
	out->expires_at = (int64_t)get_u64(buf + 10);
	out->created_at = (int64_t)get_u64(buf + 18);
	out->updated_at = (int64_t)get_u64(buf + 26);
	out->attempt = (int)(int32_t)get_u32(buf + 34);
	out->checks = (int)(int32_t)get_u32(buf + 38);
	out->max_checks = (int)(int32_t)get_u32(buf + 42);
	memcpy(out->code_hmac, buf + 46, 32);
	r.p = buf + REC_HEAD;
	if (rd_str(&r, out->key, sizeof(out->key)) != 0 ||
	    rd_str(&r, out->phone, sizeof(out->phone)) != 0 ||
	    rd_str(&r, out->id, sizeof(out->id)) != 0 ||
	    rd_str(&r, out->api, sizeof(out->api)) != 0 ||
	    rd_str(&r, out->sender, sizeof(out->sender)) != 0 ||
	    rd_str(&r, out->fail_reason, sizeof(out->fail_reason)) != 0 ||
	    ((flags & REC_SEALED) && rd_dup(&r, &out->sealed) != 0) ||
	    ((flags & REC_METADATA) && rd_dup(&r, &out->metadata) != 0) ||
	    rd_take(&r, 1, &q) != 0 || *q > VERIF_MAX_SENDS)
		return -1;
	out->nsend = *q;
	for (i = 0; i < out->nsend; i++) {
		struct verif_send *sd = &out->send[i];

		if (rd_str(&r, sd->smsc, sizeof(sd->smsc)) != 0 ||
		    rd_str(&r, sd->message_id, sizeof(sd->message_id)) != 0 ||
		    rd_i64(&r, &sd->submitted_at) != 0 ||
		    rd_i32(&r, &sd->dlr) != 0 ||
		    rd_i64(&r, &sd->dlr_at) != 0 ||
		    rd_i32(&r, &sd->error) != 0 ||
		    rd_str(&r, sd->reason, sizeof(sd->reason)) != 0)
			return -1;
	}
	return r.p == r.end ? 0 : -1;
}

/* ---- format 1: JSON, read only ---- */

/* Copy a string member of o into a fixed field; -1 when absent, not a
 * string, or too long for it. */
static int
get_str(json_t *o, const char *name, char *out, size_t size)
{
	json_t *j = json_object_get(o, name);

	if (!json_is_string(j) || json_string_length(j) >= size ||
	    strlen(json_string_value(j)) != json_string_length(j))
		return -1;
	memcpy(out, json_string_value(j), json_string_length(j) + 1);
	return 0;
}

static int
get_i64(json_t *o, const char *name, int64_t *out)
{
	json_t *j = json_object_get(o, name);

	if (!json_is_integer(j))
		return -1;
	*out = json_integer_value(j);
	return 0;
}

static int
get_int(json_t *o, const char *name, int *out)
{
	int64_t n;

	if (get_i64(o, name, &n) != 0 || n < INT32_MIN || n > INT32_MAX)
		return -1;
	*out = (int)n;
	return 0;
}

/* An optional string member: NULL when absent or null, a malloc'd copy,
 * or -1 for any other type. */
static int
get_opt_str(json_t *o, const char *name, char **out)
{
	json_t *j = json_object_get(o, name);

	*out = NULL;
	if (j == NULL || json_is_null(j))
		return 0;
	if (!json_is_string(j))
		return -1;
	*out = xstrdup(json_string_value(j));
	return 0;
}

static int
unhex(const char *s, uint8_t *out, size_t len)
{
	size_t i;
	int hi, lo;

	if (strlen(s) != 2 * len)
		return -1;
	for (i = 0; i < len; i++) {
		hi = s[2 * i];
		lo = s[2 * i + 1];
		hi = hi >= '0' && hi <= '9' ? hi - '0' :
		    hi >= 'a' && hi <= 'f' ? hi - 'a' + 10 : -1;
		lo = lo >= '0' && lo <= '9' ? lo - '0' :
		    lo >= 'a' && lo <= 'f' ? lo - 'a' + 10 : -1;
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int
decode_send(json_t *s, struct verif_send *sd)
{
	if (!json_is_object(s) ||
	    get_str(s, "smsc", sd->smsc, sizeof(sd->smsc)) != 0 ||
	    get_str(s, "message_id", sd->message_id,
	    sizeof(sd->message_id)) != 0 ||
	    get_i64(s, "submitted_at", &sd->submitted_at) != 0 ||
	    get_int(s, "dlr", &sd->dlr) != 0 ||
	    get_i64(s, "dlr_at", &sd->dlr_at) != 0 ||
	    get_int(s, "error", &sd->error) != 0 ||
	    get_str(s, "reason", sd->reason, sizeof(sd->reason)) != 0)
		return -1;
	return 0;
}

/* Format 1 into out (zeroed by the caller): 0, or -1 with *why set. */
static int
record_decode_v1(const char *buf, size_t len, struct verif *out,
    const char **why)
{
	json_t *o, *sends;
	json_error_t jerr;
	char hex[65];
	int64_t version;
	size_t i;

	o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL || !json_is_object(o) || get_i64(o, "v", &version) != 0)
		goto bad;
	if (version != 1) {
		*why = version > 1 ? "newer_version" : "bad_version";
		goto bad;
	}
	sends = json_object_get(o, "sends");
	if (get_str(o, "id", out->id, sizeof(out->id)) != 0 ||
	    get_str(o, "key", out->key, sizeof(out->key)) != 0 ||
	    get_str(o, "phone", out->phone, sizeof(out->phone)) != 0 ||
	    get_str(o, "api", out->api, sizeof(out->api)) != 0 ||
	    get_int(o, "status", &out->status) != 0 ||
	    get_int(o, "send_state", &out->send_state) != 0 ||
	    get_int(o, "attempt", &out->attempt) != 0 ||
	    get_int(o, "checks", &out->checks) != 0 ||
	    get_int(o, "max_checks", &out->max_checks) != 0 ||
	    get_str(o, "code_hmac", hex, sizeof(hex)) != 0 ||
	    unhex(hex, out->code_hmac, sizeof(out->code_hmac)) != 0 ||
	    get_i64(o, "created_at", &out->created_at) != 0 ||
	    get_i64(o, "expires_at", &out->expires_at) != 0 ||
	    get_i64(o, "updated_at", &out->updated_at) != 0 ||
	    get_str(o, "sender", out->sender, sizeof(out->sender)) != 0 ||
	    get_str(o, "fail_reason", out->fail_reason,
	    sizeof(out->fail_reason)) != 0 ||
	    get_opt_str(o, "sealed", &out->sealed) != 0 ||
	    get_opt_str(o, "metadata", &out->metadata) != 0 ||
	    !json_is_array(sends) ||
	    json_array_size(sends) > VERIF_MAX_SENDS)
		goto bad;
	for (i = 0; i < json_array_size(sends); i++) {
		if (decode_send(json_array_get(sends, i), &out->send[i]) != 0)
			goto bad;
	}
	out->nsend = (int)i;
	json_decref(o);
	return 0;
bad:
	/* Keep the id, when there is one, for the log line. */
	if (o != NULL && json_is_string(json_object_get(o, "id")))
		util_strlcpy(out->id,
		    json_string_value(json_object_get(o, "id")),
		    sizeof(out->id));
	json_decref(o);
	return -1;
}

/* ---- either format ---- */

/* Log a refused record: the id when there is one, never the rest. */
static void
record_refused(const char *id, const char *why)
{
	char b[40];

	log_err("store.record_refused", "id=%s reason=%s",
	    id != NULL && id[0] ? log_str(b, sizeof(b), id) : "-", why);
}

/* Parse a record into out (zeroed first; cleared again on failure), by
 * its first octet: '{' format 1, REC_V2 format 2.  STORE_OK, or STORE_ERR
 * for a malformed record or a format this code does not know (logged). */
int
store_record_decode(const void *buf, size_t len, struct verif *out)
{
	const uint8_t *b = buf;
	const char *why = "malformed";
	char id[sizeof(out->id)];
	int rc;

	memset(out, 0, sizeof(*out));
	if (len == 0) {
		rc = -1;
	} else if (b[0] == REC_V2) {
		rc = record_decode_v2(b, len, out);
	} else if (b[0] == '{') {
		rc = record_decode_v1(buf, len, out, &why);
	} else {
		rc = -1;
		why = "unknown_version";
	}
	if (rc == 0)
		return STORE_OK;
	memcpy(id, out->id, sizeof(id));
	id[sizeof(id) - 1] = '\0';
	verif_clear(out);
	record_refused(id, why);
	return STORE_ERR;
}

/* Test hook: the record decoder, declared by tests/check_store.c only. */
int store_record_decode_for_test(const char *buf, size_t len,
    struct verif *out);

int
store_record_decode_for_test(const char *buf, size_t len, struct verif *out)
{
	return store_record_decode(buf, len, out);
}

/* The head of a stored record, without decoding (or allocating) the rest
 * when it is format 2.  STORE_OK or STORE_ERR (logged). */
int
store_record_head_decode(const void *buf, size_t len,
    struct store_record_head *h)
{
	const uint8_t *b = buf;
	struct rd r = { b, b + len };
	struct verif v;

	if (len >= REC_HEAD && b[0] == REC_V2) {
		h->status = (int)(int32_t)get_u32(b + 2);
		h->send_state = (int)(int32_t)get_u32(b + 6);
		h->expires_at = (int64_t)get_u64(b + 10);
		r.p = b + REC_HEAD;
		if (rd_str(&r, h->key, sizeof(h->key)) == 0 &&
		    rd_str(&r, h->phone, sizeof(h->phone)) == 0)
			return STORE_OK;
		record_refused(NULL, "malformed");
		return STORE_ERR;
	}
	/* Format 1 (or garbage, which store_record_decode() refuses and
	 * logs). */
	if (store_record_decode(buf, len, &v) != STORE_OK)
		return STORE_ERR;
	h->status = v.status;
	h->send_state = v.send_state;
	h->expires_at = v.expires_at;
	memcpy(h->key, v.key, sizeof(h->key));
	memcpy(h->phone, v.phone, sizeof(h->phone));
	verif_clear(&v);
	return STORE_OK;
}
