/*
 * store_lmdb.c - the durable records (store.h) on LMDB.
 *
 * This is the only file that includes <lmdb.h>.  One environment (a
 * directory, created 0700) holds seven named databases:
 *
 *   verif    id -> record: binary format 2 (see "records" below); the
 *            JSON of format 1 still reads; a record of an unknown format
 *            is refused (STORE_ERR), never misread
 *   pending  key NUL phone -> id, present exactly while the record's status
 *            is VERIF_PENDING (and only the newest pending id of a pair)
 *   expiry   be64(time) id -> one octet: 'E' expire the record at its
 *            expires_at, 'P' purge it at expires_at + retention
 *   queue    id -> "" while status == VERIF_PENDING and send_state ==
 *            SEND_QUEUED (start-up resumes these)
 *   msgid    smsc NUL normalised message id -> id (receipt matching)
 *   msgref   id NUL smsc NUL normalised message id -> "": the reverse of
 *            msgid, so a purge can drop the msgid entries of a record (the
 *            sends hold the raw message id, the index the normalised one,
 *            and normalising is smpp/'s business, not ours)
 *   outbox   be64(seq) -> tries(4) due ms(8) first ms(8) (little-endian,
 *            like the records) key NUL body: webhook events not yet delivered (webhook.c), staged in
 *            the batch of the change they describe
 *
 * Group commit.  All writes of one loop turn go into one write transaction,
 * the "batch".  The batch is an explicit state machine: IDLE -> OPEN on the
 * first staged write or store_on_commit(), which also makes the commit
 * event active, so it runs after the callbacks already active in this loop
 * iteration; OPEN -> FAILED when a write fails (the transaction is aborted
 * at once, later writes of the batch return the same error without
 * touching LMDB); OPEN/FAILED -> IDLE in batch_commit(), which commits
 * (one fsync: no MDB_NOSYNC), then calls the registered callbacks in order
 * with the result.  The callback list is taken before calling them, so a
 * callback that stages writes or registers callbacks starts a new batch.
 * The write transaction itself is begun lazily: a batch of callbacks only
 * commits nothing.
 *
 * Reads go through the batch's transaction when it has one (they see the
 * staged writes), otherwise through one reusable read-only transaction
 * that is renewed for each read and reset right after it, so no snapshot
 * is ever held across loop turns (a held snapshot would pin old pages and
 * grow the map).  MDB_NOTLS lets that read transaction live beside the
 * write transaction on the loop thread.  No user callback is ever called
 * while the read transaction is live.
 *
 * Cost per write: a put reads only the head of the stored record (the
 * fields the indexes depend on), touches only the index entries whose
 * inputs changed, and encodes the record straight into the space LMDB
 * reserves for it (no buffer, no allocation).  A read allocates only the
 * sealed and metadata strings the caller's struct verif owns.  The
 * environment is opened without MDB_WRITEMAP: measured with 20000 puts in
 * batches of 32 it was 15-25% slower here (the sparse map is filled by
 * page faults, and msync costs more than LMDB's pwrite), and a full disk
 * under a writable map is a SIGBUS, not an error.  MDB_NOMEMINIT made no
 * measurable difference, so it is left out too.
 *
 * Errors: every failure inside a batch fails the whole batch (including a
 * record that cannot be encoded): a caller that ignores a put's result
 * still learns it from its commit callback, so nothing is acknowledged
 * that was not persisted.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>
#include <lmdb.h>

#include "log.h"
#include "store.h"
#include "util.h"

#define MSGID_KEY_MAX 256       /* smsc NUL message id; LMDB allows 511 */
#define CLOSE_FLUSH_ROUNDS 16   /* commit callbacks that keep staging */
#define PURGE_REF_MAX 64        /* msgref entries dropped per purge */

enum batch_state {
	BATCH_IDLE,     /* nothing staged, no commit event active */
	BATCH_OPEN,     /* commit event active; wtxn begun on first write */
	BATCH_FAILED,   /* wtxn aborted; commit event delivers the error */
};

struct commit_waiter {
	store_commit_cb cb;
	void *arg;
};

struct store {
	struct event_base *base;
	MDB_env *env;
	MDB_dbi verif, pending, expiry, queue, msgid, msgref, outbox;
	uint64_t outbox_seq;    /* the next outbox key */
	uint64_t map_size;

	enum batch_state state;
	MDB_txn *wtxn;          /* the batch's write txn, NULL until a write */
	int batch_result;       /* STORE_OK or the error that failed it */
	struct event *commit_ev;        /* lowest priority when there are some */
	struct event *force_ev;         /* timer: an urgent batch waits no more */
	int lowprio;                    /* commit_ev runs only when idle */
	int delay_ms;                   /* see store_set_commit_delay() */
	int urgent;                     /* the open batch has waiters */
	struct commit_waiter *waiters;
	int nwaiter, waitercap;

	MDB_txn *rtxn;          /* reusable read-only txn, reset when idle */

	uint64_t commits, commit_failures, swept, purged;
};

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

static const char *
batch_strstate(enum batch_state s)
{
	switch (s) {
	case BATCH_IDLE: return "idle";
	case BATCH_OPEN: return "open";
	case BATCH_FAILED: return "failed";
	}
	return "?";
}

void
verif_clear(struct verif *v)
{
	free(v->sealed);
	free(v->metadata);
	memset(v, 0, sizeof(*v));
}

/* ---- records ---------------------------------------------------------- */

/*
 * Record format 2 (binary, written by this code).  Integers are fixed
 * width, little-endian, two's complement; a string is a u16 length and
 * that many octets (no NUL, none inside).  The fields the index logic
 * needs come first at fixed offsets, then key and phone, so
 * record_head_decode() reads them without touching the rest.
 *
 *    0  u8   version: 2
 *    1  u8   flags: REC_SEALED, REC_METADATA (which optional strings follow)
 *    2  i32  status
 *    6  i32  send_state
 *   10  i64  expires_at
 *   18  i64  created_at
 *   26  i64  updated_at
 *   34  i32  attempt
 *   38  i32  checks
 *   42  i32  max_checks
 *   46  32   code_hmac
 *   78  str  key, phone, id, api, sender, fail_reason
 *       str  sealed (when REC_SEALED), metadata (when REC_METADATA)
 *       u8   nsend (at most VERIF_MAX_SENDS), then per send:
 *            str smsc, str message_id, i64 submitted_at, i32 dlr,
 *            i64 dlr_at, i32 error, str reason
 *
 * The record ends exactly there: trailing octets, a length past the end
 * or one too long for its field, an unknown flag or version are refused.
 * Format 1 is JSON text, so its first octet is '{': such records (from
 * an older database) still decode, through jansson; they are rewritten
 * in format 2 the next time they are put.
 */
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

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void
put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)v);
	put_u32(p + 4, (uint32_t)(v >> 32));
}

/* Big-endian, for keys: LMDB compares keys octet by octet, so only this
 * order sorts them by number (the expiry index, the outbox). */
static void
put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t
get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint16_t
get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
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
static size_t
record_size(const struct verif *v)
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

/* Write v into p, which holds record_size(v) (non-zero) octets. */
static void
record_encode(const struct verif *v, uint8_t *p)
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
	size_t n = record_size(v);

	if (n == 0 || n > size)
		return 0;
	record_encode(v, buf);
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
static int
record_decode(const void *buf, size_t len, struct verif *out)
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
	return record_decode(buf, len, out);
}

/* What the index logic needs of a stored record. */
struct record_head {
	int status, send_state;
	int64_t expires_at;
	char key[33], phone[17];
};

/* The head of a stored record, without decoding (or allocating) the rest
 * when it is format 2.  STORE_OK or STORE_ERR (logged). */
static int
record_head_decode(const void *buf, size_t len, struct record_head *h)
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
	/* Format 1 (or garbage, which record_decode() refuses and logs). */
	if (record_decode(buf, len, &v) != STORE_OK)
		return STORE_ERR;
	h->status = v.status;
	h->send_state = v.send_state;
	h->expires_at = v.expires_at;
	memcpy(h->key, v.key, sizeof(h->key));
	memcpy(h->phone, v.phone, sizeof(h->phone));
	verif_clear(&v);
	return STORE_OK;
}

/* ---- keys ------------------------------------------------------------- */

/* "a NUL b" into buf; its length, or 0 when it does not fit. */
static size_t
pair_key(char *buf, size_t size, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la == 0 || la + 1 + lb > size)
		return 0;
	memcpy(buf, a, la);
	buf[la] = '\0';
	memcpy(buf + la + 1, b, lb);
	return la + 1 + lb;
}

/* be64(t) id into buf (at least 8 + 32 octets); its length. */
static size_t
expiry_key(uint8_t *buf, int64_t t, const char *id)
{
	size_t n = strlen(id);

	put_be64(buf, (uint64_t)t);
	memcpy(buf + 8, id, n);
	return 8 + n;
}

static int
valid_id(const char *id)
{
	size_t n = strnlen(id, 32);

	return n > 0 && n < 32;
}

/* ---- the batch -------------------------------------------------------- */

static void
enter_state(struct store *st, enum batch_state to)
{
	enum batch_state from = st->state;

	if (from == to)
		return;
	st->state = to;
	log_debug("store.batch", "from=%s to=%s", batch_strstate(from),
	    batch_strstate(to));
}

/* Fail the open batch with result: abort its txn, log once.  Returns
 * result. */
static int
batch_fail(struct store *st, int result, const char *op, const char *why)
{
	char b[128];

	if (st->wtxn != NULL) {
		mdb_txn_abort(st->wtxn);
		st->wtxn = NULL;
	}
	st->batch_result = result;
	enter_state(st, BATCH_FAILED);
	if (result == STORE_FULL)
		log_err("store.full", "map_size=%" PRIu64
		    " msg=\"raise [store] map_size\"", st->map_size);
	else
		log_err("store.error", "op=%s err=%s", op,
		    log_str(b, sizeof(b), why));
	return result;
}

static int
mdb_fail(struct store *st, int rc, const char *op)
{
	return batch_fail(st, rc == MDB_MAP_FULL ? STORE_FULL : STORE_ERR, op,
	    mdb_strerror(rc));
}

/* IDLE -> OPEN, and when the batch commits.  A batch someone waits on
 * (urgent: a store_on_commit callback) commits once this turn's callbacks
 * ran.  Without waiters, and with a commit delay set, staged writes wait up
 * to that delay for a batch that has waiters, so work that acknowledges
 * nothing (an SMPP submit's record, a sweep) shares the next commit
 * instead of paying for its own.
 *
 * With a delay set and an event base with priorities, the commit event has
 * the lowest one: libevent runs it only in a turn that found no other work
 * ready, i.e. once every request and response already on the sockets has
 * been read and staged.  Under load that makes one commit (one fsync) for
 * all of them instead of one per turn; when idle it costs nothing.  The
 * force timer (normal priority, the delay) bounds the wait when the loop
 * is never idle. */
static void
batch_open(struct store *st, int urgent)
{
	struct timeval tv;

	if (st->state == BATCH_IDLE) {
		st->batch_result = STORE_OK;
		st->urgent = 0;
		enter_state(st, BATCH_OPEN);
	}
	if (st->urgent)
		return;
	tv.tv_sec = st->delay_ms / 1000;
	tv.tv_usec = (st->delay_ms % 1000) * 1000;
	if (urgent || st->delay_ms == 0) {
		st->urgent = 1;
		event_del(st->commit_ev);
		event_active(st->commit_ev, 0, 0);
		if (st->lowprio && st->delay_ms > 0)
			evtimer_add(st->force_ev, &tv);
	} else if (!evtimer_pending(st->commit_ev, NULL)) {
		event_add(st->commit_ev, &tv);
	}
}

void
store_set_commit_delay(struct store *st, int ms)
{
	st->delay_ms = ms > 0 ? ms : 0;
}

/* The batch's write txn for a staged write in *txn: STORE_OK, or the
 * batch's error. */
static int
batch_txn(struct store *st, MDB_txn **txn)
{
	int rc;

	batch_open(st, 0);
	if (st->state == BATCH_FAILED)
		return st->batch_result;
	if (st->wtxn == NULL) {
		rc = mdb_txn_begin(st->env, NULL, 0, &st->wtxn);
		if (rc != 0) {
			st->wtxn = NULL;
			return mdb_fail(st, rc, "begin");
		}
	}
	*txn = st->wtxn;
	return STORE_OK;
}

/* Commit (or finish failing) the batch, then call its callbacks in order
 * with the result.  STORE_OK with no batch. */
static int
batch_commit(struct store *st)
{
	struct commit_waiter *w;
	int n, cap, i, rc, result;

	if (st->state == BATCH_IDLE)
		return STORE_OK;
	event_del(st->commit_ev);       /* when flushed before it ran */
	event_del(st->force_ev);
	result = st->batch_result;
	if (st->state == BATCH_OPEN && st->wtxn != NULL) {
		rc = mdb_txn_commit(st->wtxn);
		st->wtxn = NULL;        /* freed by commit even on failure */
		if (rc != 0)
			result = mdb_fail(st, rc, "commit");
		else
			st->commits++;
	}
	if (result != STORE_OK)
		st->commit_failures++;
	w = st->waiters;
	n = st->nwaiter;
	cap = st->waitercap;
	st->waiters = NULL;
	st->nwaiter = st->waitercap = 0;
	enter_state(st, BATCH_IDLE);
	for (i = 0; i < n; i++)
		w[i].cb(w[i].arg, result);
	/* Keep the array for the next batch unless a callback started one
	 * with its own: no allocation per commit in the steady state. */
	if (st->waiters == NULL) {
		st->waiters = w;
		st->waitercap = cap;
	} else {
		free(w);
	}
	return result;
}

static void
on_commit_event(evutil_socket_t fd, short what, void *arg)
{
	batch_commit(arg);
}

/* ---- read views ------------------------------------------------------- */

/* The txn a read goes through: the batch's, or the read txn renewed.  NULL
 * on failure (logged).  Pair with view_end() before any callback. */
static MDB_txn *
view_begin(struct store *st)
{
	int rc;

	if (st->wtxn != NULL)
		return st->wtxn;
	if (st->rtxn == NULL) {
		rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &st->rtxn);
		if (rc != 0)
			st->rtxn = NULL;
	} else {
		rc = mdb_txn_renew(st->rtxn);
	}
	if (rc != 0) {
		log_err("store.error", "op=read err=\"%s\"", mdb_strerror(rc));
		return NULL;
	}
	return st->rtxn;
}

static void
view_end(struct store *st, MDB_txn *txn)
{
	if (txn != NULL && txn == st->rtxn)
		mdb_txn_reset(txn);
}

/* ---- open / close ----------------------------------------------------- */

/* mkdir -p with mode 0700; 0 or -1 (errno set). */
static int
mkdirs(const char *path)
{
	char *p = xstrdup(path), *s, c;
	int rc = 0;

	for (s = p + 1; rc == 0; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			rc = -1;
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return rc;
}

static char *
open_error(const char *what, const char *path, const char *why)
{
	size_t n = strlen(what) + strlen(path) + strlen(why) + 8;
	char *e = xmalloc(n);

	snprintf(e, n, "%s %s: %s", what, path, why);
	return e;
}

/* The key after the outbox's last one into *next, and never below the
 * wall clock in microseconds: event numbers go to receivers (which drop
 * repeats by them), so a restart with an empty outbox must not start
 * over at 1. */
static int
outbox_last(MDB_txn *txn, MDB_dbi dbi, uint64_t *next)
{
	MDB_cursor *c;
	MDB_val k, d;
	struct timespec ts;
	int rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	*next = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0)
		return rc;
	rc = mdb_cursor_get(c, &k, &d, MDB_LAST);
	if (rc == 0 && k.mv_size == 8 && get_be64(k.mv_data) >= *next)
		*next = get_be64(k.mv_data) + 1;
	mdb_cursor_close(c);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : rc;
}

struct store *
store_open(struct event_base *base, const char *path, uint64_t map_size,
    char **err)
{
	struct store *st;
	MDB_txn *txn = NULL;
	char pb[256];
	int rc, dead = 0;

	*err = NULL;
	if (mkdirs(path) != 0) {
		*err = open_error("cannot create", path, strerror(errno));
		return NULL;
	}
	st = xcalloc(1, sizeof(*st));
	st->base = base;
	st->map_size = map_size;
	if ((rc = mdb_env_create(&st->env)) != 0)
		goto fail;
	if ((rc = mdb_env_set_maxdbs(st->env, 8)) != 0 ||
	    (map_size > 0 &&
	    (rc = mdb_env_set_mapsize(st->env, (size_t)map_size)) != 0) ||
	    (rc = mdb_env_open(st->env, path, MDB_NOTLS, 0600)) != 0)
		goto fail;
	mdb_reader_check(st->env, &dead);
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "verif", MDB_CREATE, &st->verif)) != 0 ||
	    (rc = mdb_dbi_open(txn, "pending", MDB_CREATE, &st->pending)) != 0 ||
	    (rc = mdb_dbi_open(txn, "expiry", MDB_CREATE, &st->expiry)) != 0 ||
	    (rc = mdb_dbi_open(txn, "queue", MDB_CREATE, &st->queue)) != 0 ||
	    (rc = mdb_dbi_open(txn, "msgid", MDB_CREATE, &st->msgid)) != 0 ||
	    (rc = mdb_dbi_open(txn, "msgref", MDB_CREATE, &st->msgref)) != 0 ||
	    (rc = mdb_dbi_open(txn, "outbox", MDB_CREATE, &st->outbox)) != 0 ||
	    (rc = outbox_last(txn, st->outbox, &st->outbox_seq)) != 0) {
		if (txn != NULL)
			mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	if (map_size == 0) {
		MDB_envinfo ei;

		mdb_env_info(st->env, &ei);
		st->map_size = ei.me_mapsize;
	}
	st->commit_ev = event_new(base, -1, 0, on_commit_event, st);
	st->force_ev = evtimer_new(base, on_commit_event, st);
	if (st->commit_ev == NULL || st->force_ev == NULL) {
		*err = open_error("cannot open", path, "event_new failed");
		if (st->commit_ev)
			event_free(st->commit_ev);
		if (st->force_ev)
			event_free(st->force_ev);
		mdb_env_close(st->env);
		free(st);
		return NULL;
	}
	if (event_base_get_npriorities(base) > 1 &&
	    event_priority_set(st->commit_ev,
	    event_base_get_npriorities(base) - 1) == 0)
		st->lowprio = 1;
	log_info("store.open", "path=%s map_size=%" PRIu64 " stale_readers=%d",
	    log_str(pb, sizeof(pb), path), st->map_size, dead);
	return st;
fail:
	*err = open_error("cannot open", path, mdb_strerror(rc));
	if (st->env != NULL)
		mdb_env_close(st->env);
	free(st);
	return NULL;
}

void
store_close(struct store *st)
{
	int i;

	if (st == NULL)
		return;
	for (i = 0; i < CLOSE_FLUSH_ROUNDS && st->state != BATCH_IDLE; i++)
		batch_commit(st);
	if (st->state != BATCH_IDLE) {
		/* Callbacks that stage forever: what is left is dropped. */
		log_err("store.close_dropped", "callbacks=%d", st->nwaiter);
		if (st->wtxn != NULL)
			mdb_txn_abort(st->wtxn);
	}
	free(st->waiters);
	event_free(st->commit_ev);
	event_free(st->force_ev);
	if (st->rtxn != NULL)
		mdb_txn_abort(st->rtxn);
	mdb_env_close(st->env);
	free(st);
}

/* ---- records and indexes ---------------------------------------------- */

static int
record_get(struct store *st, MDB_txn *txn, const char *id, struct verif *out)
{
	MDB_val k = { strlen(id), (void *)id }, d;
	int rc;

	rc = mdb_get(txn, st->verif, &k, &d);
	if (rc == 0)
		return record_decode(d.mv_data, d.mv_size, out);
	memset(out, 0, sizeof(*out));
	if (rc == MDB_NOTFOUND)
		return STORE_NOTFOUND;
	log_err("store.error", "op=get id=%s err=\"%s\"", id,
	    mdb_strerror(rc));
	return STORE_ERR;
}

static int
db_put(struct store *st, MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kl,
    const void *d, size_t dl, const char *op)
{
	MDB_val key = { kl, (void *)k }, val = { dl, (void *)d };
	int rc = mdb_put(txn, dbi, &key, &val, 0);

	return rc == 0 ? STORE_OK : mdb_fail(st, rc, op);
}

static int
db_del(struct store *st, MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kl,
    const char *op)
{
	MDB_val key = { kl, (void *)k };
	int rc = mdb_del(txn, dbi, &key, NULL);

	return rc == 0 || rc == MDB_NOTFOUND ? STORE_OK : mdb_fail(st, rc, op);
}

/* Delete the index entry k only while it still points at id. */
static int
db_del_if(struct store *st, MDB_txn *txn, MDB_dbi dbi, const void *k,
    size_t kl, const char *id, const char *op)
{
	MDB_val key = { kl, (void *)k }, d;
	int rc = mdb_get(txn, dbi, &key, &d);

	if (rc == MDB_NOTFOUND)
		return STORE_OK;
	if (rc != 0)
		return mdb_fail(st, rc, op);
	if (d.mv_size != strlen(id) || memcmp(d.mv_data, id, d.mv_size) != 0)
		return STORE_OK;
	return db_del(st, txn, dbi, k, kl, op);
}

static void
head_of(const struct verif *v, struct record_head *h)
{
	h->status = v->status;
	h->send_state = v->send_state;
	h->expires_at = v->expires_at;
	memcpy(h->key, v->key, sizeof(h->key));
	memcpy(h->phone, v->phone, sizeof(h->phone));
}

/* Write v and bring the indexes from old (NULL: insert) in step with it:
 * only the index entries whose inputs changed are touched. */
static int
verif_write(struct store *st, MDB_txn *txn, const struct verif *v,
    const struct record_head *old)
{
	MDB_val key, val;
	char pk[64];
	uint8_t ek[40];
	size_t pkl, ekl, idl = strlen(v->id);
	int rc, was_pending, is_pending, moved, had_q, want_q, write_e;

	/* Encoded straight into the page LMDB reserves for it. */
	key.mv_size = idl;
	key.mv_data = (void *)v->id;
	if ((val.mv_size = record_size(v)) == 0)
		return batch_fail(st, STORE_ERR, "verif_put",
		    "record cannot be encoded");
	if ((rc = mdb_put(txn, st->verif, &key, &val, MDB_RESERVE)) != 0)
		return mdb_fail(st, rc, "verif_put");
	record_encode(v, val.mv_data);

	/* pending: on entering VERIF_PENDING (or moving to another pair)
	 * only, so an update of an older pending verification never takes
	 * the entry back from a newer one. */
	was_pending = old != NULL && old->status == VERIF_PENDING;
	is_pending = v->status == VERIF_PENDING;
	moved = was_pending && (strcmp(old->key, v->key) != 0 ||
	    strcmp(old->phone, v->phone) != 0);
	if (was_pending && (!is_pending || moved)) {
		pkl = pair_key(pk, sizeof(pk), old->key, old->phone);
		if (pkl > 0 && (rc = db_del_if(st, txn, st->pending, pk, pkl,
		    v->id, "pending_del")) != STORE_OK)
			return rc;
	}
	if (is_pending && (!was_pending || moved)) {
		pkl = pair_key(pk, sizeof(pk), v->key, v->phone);
		if (pkl == 0)
			return batch_fail(st, STORE_ERR, "verif_put",
			    "empty key");
		if ((rc = db_put(st, txn, st->pending, pk, pkl, v->id, idl,
		    "pending_put")) != STORE_OK)
			return rc;
	}

	/* expiry: 'E' at insert; moved when expires_at changes before the
	 * sweep reached it. */
	write_e = old == NULL;
	if (old != NULL && old->expires_at != v->expires_at) {
		MDB_val k, d;

		ekl = expiry_key(ek, old->expires_at, v->id);
		k.mv_size = ekl;
		k.mv_data = ek;
		rc = mdb_get(txn, st->expiry, &k, &d);
		if (rc == 0 && d.mv_size == 1 &&
		    *(const char *)d.mv_data == 'E') {
			if ((rc = db_del(st, txn, st->expiry, ek, ekl,
			    "expiry_del")) != STORE_OK)
				return rc;
			write_e = 1;
		} else if (rc != 0 && rc != MDB_NOTFOUND) {
			return mdb_fail(st, rc, "expiry_get");
		}
	}
	if (write_e) {
		ekl = expiry_key(ek, v->expires_at, v->id);
		if ((rc = db_put(st, txn, st->expiry, ek, ekl, "E", 1,
		    "expiry_put")) != STORE_OK)
			return rc;
	}

	/* queue */
	had_q = was_pending && old->send_state == SEND_QUEUED;
	want_q = is_pending && v->send_state == SEND_QUEUED;
	if (want_q && !had_q)
		return db_put(st, txn, st->queue, v->id, idl, "", 0,
		    "queue_put");
	if (had_q && !want_q)
		return db_del(st, txn, st->queue, v->id, idl, "queue_del");
	return STORE_OK;
}

int
store_verif_put(struct store *st, const struct verif *v)
{
	MDB_txn *txn;
	MDB_val k, d;
	struct record_head old;
	int rc;

	if ((rc = batch_txn(st, &txn)) != STORE_OK)
		return rc;
	if (!valid_id(v->id) || v->status < VERIF_PENDING ||
	    v->status > VERIF_FAILED)
		return batch_fail(st, STORE_ERR, "verif_put", "invalid record");
	/* The stored version's head only: what the indexes depend on. */
	k.mv_size = strlen(v->id);
	k.mv_data = (void *)v->id;
	rc = mdb_get(txn, st->verif, &k, &d);
	if (rc == MDB_NOTFOUND)
		return verif_write(st, txn, v, NULL);
	if (rc != 0)
		return mdb_fail(st, rc, "verif_get");
	if (record_head_decode(d.mv_data, d.mv_size, &old) != STORE_OK)
		return batch_fail(st, STORE_ERR, "verif_put",
		    "stored record unreadable");
	return verif_write(st, txn, v, &old);
}

/* Test hook, declared by tests/check_store.c only: stage buf as the raw
 * record of id, indexes untouched (an older format, a corrupt record). */
int store_record_put_raw_for_test(struct store *, const char *id,
    const void *buf, size_t len);

int
store_record_put_raw_for_test(struct store *st, const char *id,
    const void *buf, size_t len)
{
	MDB_txn *txn;
	int rc;

	if ((rc = batch_txn(st, &txn)) != STORE_OK)
		return rc;
	return db_put(st, txn, st->verif, id, strlen(id), buf, len, "raw_put");
}

int
store_verif_get(struct store *st, const char *id, struct verif *out)
{
	MDB_txn *txn;
	int rc;

	if (!valid_id(id) || (txn = view_begin(st)) == NULL) {
		memset(out, 0, sizeof(*out));
		return valid_id(id) ? STORE_ERR : STORE_NOTFOUND;
	}
	rc = record_get(st, txn, id, out);
	view_end(st, txn);
	return rc;
}

/* Look up an index entry whose value is an id. */
static int
index_get(struct store *st, MDB_dbi dbi, const void *k, size_t kl, char *id,
    size_t idsize)
{
	MDB_txn *txn;
	MDB_val key = { kl, (void *)k }, d;
	int rc;

	if ((txn = view_begin(st)) == NULL)
		return STORE_ERR;
	rc = mdb_get(txn, dbi, &key, &d);
	if (rc == 0 && d.mv_size < idsize) {
		memcpy(id, d.mv_data, d.mv_size);
		id[d.mv_size] = '\0';
		rc = STORE_OK;
	} else if (rc == MDB_NOTFOUND) {
		rc = STORE_NOTFOUND;
	} else {
		rc = STORE_ERR;
	}
	view_end(st, txn);
	return rc;
}

int
store_pending_get(struct store *st, const char *key, const char *phone,
    char *id, size_t idsize)
{
	char pk[64];
	size_t pkl = pair_key(pk, sizeof(pk), key, phone);

	if (pkl == 0)
		return STORE_NOTFOUND;
	return index_get(st, st->pending, pk, pkl, id, idsize);
}

int
store_msgid_put(struct store *st, const char *smsc, const char *msgid,
    const char *id)
{
	MDB_txn *txn;
	char k[MSGID_KEY_MAX], rk[32 + 1 + MSGID_KEY_MAX];
	size_t kl, idl;
	int rc;

	if ((rc = batch_txn(st, &txn)) != STORE_OK)
		return rc;
	kl = pair_key(k, sizeof(k), smsc, msgid);
	if (kl == 0 || msgid[0] == '\0' || !valid_id(id))
		return batch_fail(st, STORE_ERR, "msgid_put", "invalid key");
	idl = strlen(id);
	memcpy(rk, id, idl);
	rk[idl] = '\0';
	memcpy(rk + idl + 1, k, kl);
	if ((rc = db_put(st, txn, st->msgid, k, kl, id, idl,
	    "msgid_put")) != STORE_OK)
		return rc;
	return db_put(st, txn, st->msgref, rk, idl + 1 + kl, "", 0,
	    "msgref_put");
}

int
store_msgid_get(struct store *st, const char *smsc, const char *msgid,
    char *id, size_t idsize)
{
	char k[MSGID_KEY_MAX];
	size_t kl = pair_key(k, sizeof(k), smsc, msgid);

	if (kl == 0)
		return STORE_NOTFOUND;
	return index_get(st, st->msgid, k, kl, id, idsize);
}

void
store_on_commit(struct store *st, store_commit_cb cb, void *arg)
{
	batch_open(st, 1);
	if (st->nwaiter == st->waitercap) {
		st->waitercap = st->waitercap ? st->waitercap * 2 : 16;
		st->waiters = xrealloc(st->waiters,
		    (size_t)st->waitercap * sizeof(*st->waiters));
	}
	st->waiters[st->nwaiter].cb = cb;
	st->waiters[st->nwaiter].arg = arg;
	st->nwaiter++;
}

int
store_flush(struct store *st)
{
	return batch_commit(st);
}

int
store_queue_each(struct store *st, void (*fn)(void *arg, const char *id),
    void *arg)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, d;
	char (*ids)[32] = NULL;
	int n = 0, cap = 0, rc, i;

	if ((txn = view_begin(st)) == NULL)
		return STORE_ERR;
	if ((rc = mdb_cursor_open(txn, st->queue, &c)) != 0) {
		view_end(st, txn);
		return STORE_ERR;
	}
	/* Collect first: fn may read the store, which needs the view. */
	for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		if (k.mv_size == 0 || k.mv_size >= 32)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ids = xrealloc(ids, (size_t)cap * sizeof(*ids));
		}
		memcpy(ids[n], k.mv_data, k.mv_size);
		ids[n][k.mv_size] = '\0';
		n++;
	}
	mdb_cursor_close(c);
	view_end(st, txn);
	if (rc != MDB_NOTFOUND) {
		free(ids);
		return STORE_ERR;
	}
	for (i = 0; i < n; i++)
		fn(arg, ids[i]);
	free(ids);
	return n;
}

/* ---- sweep ------------------------------------------------------------ */

struct due {
	uint8_t key[512];       /* LMDB's largest key: '?' entries too */
	size_t keylen;
	int64_t t;
	char id[32];
	char kind;      /* 'E', 'P', or '?' for an entry we cannot parse */
};

/* The first expiry entry if it is due at or before now: 1 (filled in), 0
 * none due, -1 error. */
static int
first_due(struct store *st, MDB_txn *txn, int64_t now, struct due *e)
{
	MDB_cursor *c;
	MDB_val k, d;
	int rc;

	if (mdb_cursor_open(txn, st->expiry, &c) != 0)
		return -1;
	rc = mdb_cursor_get(c, &k, &d, MDB_FIRST);
	if (rc != 0) {
		mdb_cursor_close(c);
		return rc == MDB_NOTFOUND ? 0 : -1;
	}
	if (k.mv_size > sizeof(e->key)) {
		mdb_cursor_close(c);
		log_err("store.error", "op=sweep err=\"bad expiry key\"");
		return -1;
	}
	memcpy(e->key, k.mv_data, k.mv_size);
	e->keylen = k.mv_size;
	mdb_cursor_close(c);
	e->t = e->keylen >= 8 ? (int64_t)get_be64(e->key) : 0;
	if (e->t > now)
		return 0;
	e->kind = '?';
	e->id[0] = '\0';
	if (e->keylen > 8 && e->keylen < 8 + 32 && d.mv_size == 1) {
		memcpy(e->id, e->key + 8, e->keylen - 8);
		e->id[e->keylen - 8] = '\0';
		e->kind = *(const char *)d.mv_data;
	}
	return 1;
}

/* 'E': expire a still pending record, then schedule its purge. */
static int
sweep_expire(struct store *st, MDB_txn *txn, const struct due *e,
    int64_t now, int64_t retention, struct verif *expired)
{
	struct verif old, nv;
	struct record_head oh;
	uint8_t pk[8 + 32];
	size_t pkl;
	int rc;

	rc = record_get(st, txn, e->id, &old);
	if (rc == STORE_OK && old.status == VERIF_PENDING) {
		nv = old;
		nv.status = VERIF_EXPIRED;
		nv.sealed = NULL;
		nv.metadata = old.metadata ? xstrdup(old.metadata) : NULL;
		nv.updated_at = now;
		nv.expires_at = old.expires_at;
		head_of(&old, &oh);
		if ((rc = verif_write(st, txn, &nv, &oh)) != STORE_OK) {
			verif_clear(&old);
			verif_clear(&nv);
			return rc;
		}
		*expired = nv;
		st->swept++;
	} else if (rc == STORE_ERR) {
		/* Unreadable (e.g. a newer format): leave it alone. */
		verif_clear(&old);
		return db_del(st, txn, st->expiry, e->key, e->keylen,
		    "expiry_del");
	} else if (rc == STORE_NOTFOUND) {
		return db_del(st, txn, st->expiry, e->key, e->keylen,
		    "expiry_del");
	}
	verif_clear(&old);
	if ((rc = db_del(st, txn, st->expiry, e->key, e->keylen,
	    "expiry_del")) != STORE_OK)
		return rc;
	pkl = expiry_key(pk, e->t + retention, e->id);
	return db_put(st, txn, st->expiry, pk, pkl, "P", 1, "expiry_put");
}

/* Drop the msgid entries recorded for id in msgref. */
static int
purge_msgrefs(struct store *st, MDB_txn *txn, const char *id)
{
	char prefix[33], buf[32 + 1 + MSGID_KEY_MAX];
	size_t pl = strlen(id) + 1, kl;
	MDB_cursor *c;
	MDB_val k, d;
	int i, rc;

	memcpy(prefix, id, pl);         /* with its NUL */
	for (i = 0; i < PURGE_REF_MAX; i++) {
		if ((rc = mdb_cursor_open(txn, st->msgref, &c)) != 0)
			return mdb_fail(st, rc, "msgref_cursor");
		k.mv_size = pl;
		k.mv_data = prefix;
		rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
		if (rc == 0 && (k.mv_size <= pl || k.mv_size > sizeof(buf) ||
		    memcmp(k.mv_data, prefix, pl) != 0))
			rc = MDB_NOTFOUND;
		if (rc == 0) {
			kl = k.mv_size;
			memcpy(buf, k.mv_data, kl);
		}
		mdb_cursor_close(c);
		if (rc == MDB_NOTFOUND)
			return STORE_OK;
		if (rc != 0)
			return mdb_fail(st, rc, "msgref_get");
		if ((rc = db_del_if(st, txn, st->msgid, buf + pl, kl - pl, id,
		    "msgid_del")) != STORE_OK ||
		    (rc = db_del(st, txn, st->msgref, buf, kl,
		    "msgref_del")) != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

/* 'P': delete the record and every index entry of it. */
static int
sweep_purge(struct store *st, MDB_txn *txn, const struct due *e)
{
	struct verif v;
	char k[MSGID_KEY_MAX];
	size_t kl, idl = strlen(e->id);
	int rc, i;

	rc = record_get(st, txn, e->id, &v);
	if (rc == STORE_OK) {
		for (i = 0; i < v.nsend; i++) {
			kl = pair_key(k, sizeof(k), v.send[i].smsc,
			    v.send[i].message_id);
			if (kl > 0 && (rc = db_del_if(st, txn, st->msgid, k,
			    kl, e->id, "msgid_del")) != STORE_OK)
				goto out;
		}
		kl = pair_key(k, sizeof(k), v.key, v.phone);
		if (kl > 0 && (rc = db_del_if(st, txn, st->pending, k, kl,
		    e->id, "pending_del")) != STORE_OK)
			goto out;
		if ((rc = db_del(st, txn, st->queue, e->id, idl,
		    "queue_del")) != STORE_OK ||
		    (rc = purge_msgrefs(st, txn, e->id)) != STORE_OK ||
		    (rc = db_del(st, txn, st->verif, e->id, idl,
		    "verif_del")) != STORE_OK)
			goto out;
		st->purged++;
	} else if (rc == STORE_ERR) {
		log_warn("store.purge_skipped", "id=%s", e->id);
	}
	rc = db_del(st, txn, st->expiry, e->key, e->keylen, "expiry_del");
out:
	verif_clear(&v);
	return rc;
}

int
store_sweep(struct store *st, int64_t now, int max, int64_t retention,
    void (*fn)(void *arg, const struct verif *), void *arg)
{
	MDB_txn *txn;
	struct due e;
	struct verif expired;
	int n = 0, rc;

	if (max <= 0)
		return 0;
	/* Peek through a read view: nothing due opens no batch. */
	if ((txn = view_begin(st)) == NULL)
		return STORE_ERR;
	rc = first_due(st, txn, now, &e);
	view_end(st, txn);
	if (rc <= 0)
		return rc < 0 ? STORE_ERR : 0;
	if (batch_txn(st, &txn) != STORE_OK)
		return STORE_ERR;
	while (n < max) {
		/* Each round starts from the first entry again: the handled
		 * one is gone, and fn may have written to the batch. */
		rc = first_due(st, txn, now, &e);
		if (rc < 0)
			return batch_fail(st, STORE_ERR, "sweep",
			    "expiry index unreadable");
		if (rc == 0)
			break;
		memset(&expired, 0, sizeof(expired));
		if (e.kind == 'E')
			rc = sweep_expire(st, txn, &e, now, retention,
			    &expired);
		else if (e.kind == 'P')
			rc = sweep_purge(st, txn, &e);
		else
			rc = db_del(st, txn, st->expiry, e.key, e.keylen,
			    "expiry_del");
		if (rc != STORE_OK) {
			verif_clear(&expired);
			return STORE_ERR;
		}
		n++;
		if (expired.id[0] != '\0') {
			if (fn != NULL)
				fn(arg, &expired);
			verif_clear(&expired);
			/* fn may have failed the batch. */
			if (st->state != BATCH_OPEN || st->wtxn != txn)
				return STORE_ERR;
		}
	}
	return n;
}

/* ---- stats ------------------------------------------------------------ */

void
store_stats(struct store *st, struct store_stats *out)
{
	MDB_txn *txn;
	MDB_stat ms;
	MDB_envinfo ei;

	memset(out, 0, sizeof(*out));
	out->commits = st->commits;
	out->commit_failures = st->commit_failures;
	out->swept = st->swept;
	out->purged = st->purged;
	if (mdb_env_info(st->env, &ei) == 0 &&
	    mdb_env_stat(st->env, &ms) == 0) {
		out->map_size = ei.me_mapsize;
		out->used = (uint64_t)(ei.me_last_pgno + 1) * ms.ms_psize;
	}
	if ((txn = view_begin(st)) == NULL)
		return;
	if (mdb_stat(txn, st->verif, &ms) == 0)
		out->verifs = ms.ms_entries;
	if (mdb_stat(txn, st->pending, &ms) == 0)
		out->pending = ms.ms_entries;
	if (mdb_stat(txn, st->queue, &ms) == 0)
		out->queued = ms.ms_entries;
	view_end(st, txn);
}

/* ---- webhook outbox ---------------------------------------------------- */

#define OUTBOX_HEAD 20          /* tries(4) due_ms(8) first_ms(8) */

int
store_outbox_put(struct store *st, const char *key, const char *body,
    int64_t now_ms, uint64_t *seq)
{
	MDB_txn *txn;
	MDB_val k, d;
	uint8_t kb[8];
	size_t kl = strlen(key), bl = strlen(body);
	uint8_t *p;
	int rc;

	if ((rc = batch_txn(st, &txn)) != STORE_OK)
		return rc;
	put_be64(kb, st->outbox_seq);
	k.mv_size = 8;
	k.mv_data = kb;
	d.mv_size = OUTBOX_HEAD + kl + 1 + bl;
	d.mv_data = NULL;
	if ((rc = mdb_put(txn, st->outbox, &k, &d, MDB_RESERVE)) != 0)
		return mdb_fail(st, rc, "outbox_put");
	p = d.mv_data;
	put_u32(p, 0);
	put_u64(p + 4, (uint64_t)now_ms);
	put_u64(p + 12, (uint64_t)now_ms);
	memcpy(p + OUTBOX_HEAD, key, kl + 1);
	memcpy(p + OUTBOX_HEAD + kl + 1, body, bl);
	if (seq != NULL)
		*seq = st->outbox_seq;
	st->outbox_seq++;
	return STORE_OK;
}

/* Decode an outbox entry; 0, or -1 when it is malformed. */
static int
outbox_decode(const MDB_val *k, const MDB_val *d, struct store_event *ev)
{
	const uint8_t *p = d->mv_data, *nul;

	if (k->mv_size != 8 || d->mv_size < OUTBOX_HEAD + 1)
		return -1;
	nul = memchr(p + OUTBOX_HEAD, 0, d->mv_size - OUTBOX_HEAD);
	if (nul == NULL || (size_t)(nul - (p + OUTBOX_HEAD)) >=
	    sizeof(ev->key))
		return -1;
	memset(ev, 0, sizeof(*ev));
	ev->seq = get_be64(k->mv_data);
	ev->tries = (int)get_u32(p);
	ev->due_ms = (int64_t)get_u64(p + 4);
	ev->first_ms = (int64_t)get_u64(p + 12);
	memcpy(ev->key, p + OUTBOX_HEAD, (size_t)(nul - (p + OUTBOX_HEAD)) + 1);
	ev->body_len = d->mv_size - (size_t)(nul + 1 - p);
	ev->body = xmalloc(ev->body_len + 1);
	memcpy(ev->body, nul + 1, ev->body_len);
	ev->body[ev->body_len] = '\0';
	return 0;
}

int
store_outbox_scan(struct store *st, uint64_t from, int max,
    void (*fn)(void *arg, struct store_event *), void *arg)
{
	struct store_event *evs;
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, d;
	uint8_t kb[8];
	int n = 0, i, rc;

	if (max <= 0)
		return 0;
	if ((txn = view_begin(st)) == NULL)
		return STORE_ERR;
	if (mdb_cursor_open(txn, st->outbox, &c) != 0) {
		view_end(st, txn);
		return STORE_ERR;
	}
	evs = xcalloc((size_t)max, sizeof(*evs));
	put_be64(kb, from);
	k.mv_size = 8;
	k.mv_data = kb;
	for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0 &&
	    n < max; rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		if (outbox_decode(&k, &d, &evs[n]) == 0)
			n++;
	}
	mdb_cursor_close(c);
	view_end(st, txn);
	/* Callbacks only once the read is over: they may stage writes. */
	for (i = 0; i < n; i++)
		fn(arg, &evs[i]);
	free(evs);
	return n;
}

int
store_outbox_del(struct store *st, uint64_t seq)
{
	MDB_txn *txn;
	uint8_t kb[8];
	int rc;

	if ((rc = batch_txn(st, &txn)) != STORE_OK)
		return rc;
	put_be64(kb, seq);
	return db_del(st, txn, st->outbox, kb, 8, "outbox_del");
}

int
store_outbox_retry(struct store *st, uint64_t seq, int tries, int64_t due_ms)
{
	MDB_txn *txn;
	MDB_val k, d;
	uint8_t kb[8], *p;
	int rc;

	if ((rc = batch_txn(st, &txn)) != STORE_OK)
		return rc;
	put_be64(kb, seq);
	k.mv_size = 8;
	k.mv_data = kb;
	rc = mdb_get(txn, st->outbox, &k, &d);
	if (rc == MDB_NOTFOUND)
		return STORE_OK;
	if (rc != 0)
		return mdb_fail(st, rc, "outbox_retry");
	if (d.mv_size < OUTBOX_HEAD)
		return batch_fail(st, STORE_ERR, "outbox_retry", "malformed");
	/* Rewrite in place: same size, so the copy is the new value. */
	p = xmalloc(d.mv_size);
	memcpy(p, d.mv_data, d.mv_size);
	put_u32(p, (uint32_t)tries);
	put_u64(p + 4, (uint64_t)due_ms);
	rc = db_put(st, txn, st->outbox, kb, 8, p, d.mv_size, "outbox_retry");
	free(p);
	return rc;
}

uint64_t
store_outbox_count(struct store *st)
{
	MDB_txn *txn = view_begin(st);
	MDB_stat ms;
	uint64_t n = 0;

	if (txn == NULL)
		return 0;
	if (mdb_stat(txn, st->outbox, &ms) == 0)
		n = ms.ms_entries;
	view_end(st, txn);
	return n;
}
