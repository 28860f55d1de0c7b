/*
 * check_store.c - the durable store (store.h, on LMDB: store_lmdb.h).
 *
 * Every test gets a fresh LMDB directory under /tmp (removed afterwards)
 * and its own event_base; commits happen only when the test runs the loop
 * (or flushes), exactly as in the daemon.  Times are plain numbers: the
 * sweep takes "now" as an argument, so nothing here sleeps.
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <lmdb.h>

#include "store.h"
#include "store_fixture.h"

/* The record codec (store_record.c) and a raw write (store_verif.c),
 * exposed for this test only. */
int store_record_decode_for_test(const char *buf, size_t len,
    struct verif *out);
size_t store_record_encode_for_test(const struct verif *v, uint8_t *buf,
    size_t size);
int store_record_put_raw_for_test(struct store *, const char *id,
    const void *buf, size_t len);

/* ---- records ---------------------------------------------------------- */

START_TEST(test_put_get_every_field)
{
	struct verif v, w;

	make_verif(&v, 7, VERIF_PENDING, SEND_SENT, T0 + 300);
	add_sends(&v, 7);
	v.sealed = strdup("c2VhbGVkIGNvZGUgdGV4dA==");
	v.metadata = strdup("{\"order\":\"A-17\",\"note\":\"caf\\u00e9 \\\"x\\\"\"}");
	make_verif(&w, 8, VERIF_FAILED, SEND_FAILED, T0 + 300);

	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	ck_assert_int_eq(store_verif_put(st, &w), STORE_OK);
	/* Reads see the open batch before it commits... */
	assert_stored(7, &v);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	/* ...and the committed records after. */
	assert_stored(7, &v);
	assert_stored(8, &w);
	verif_clear(&v);
}
END_TEST

START_TEST(test_get_unknown)
{
	struct verif got;
	char id[32];

	ck_assert_int_eq(store_verif_get(st, "ver_000000000000000000000099",
	    &got), STORE_NOTFOUND);
	ck_assert_str_eq(got.id, "");
	verif_clear(&got);
	ck_assert_int_eq(store_pending_get(st, "key0", "+447900000001", id,
	    sizeof(id)), STORE_NOTFOUND);
	ck_assert_int_eq(store_msgid_get(st, "alpha", "X", id, sizeof(id)),
	    STORE_NOTFOUND);
}
END_TEST

START_TEST(test_record_version_refused)
{
	static const char v1[] = "{\"v\":1,\"id\":\"ver_1\",\"key\":\"k\","
	    "\"phone\":\"+15550001\",\"api\":\"v1\",\"status\":1,"
	    "\"send_state\":1,\"attempt\":1,\"checks\":0,\"max_checks\":5,"
	    "\"code_hmac\":\"000102030405060708090a0b0c0d0e0f"
	    "101112131415161718191a1b1c1d1e1f\",\"created_at\":1,"
	    "\"expires_at\":2,\"updated_at\":3,\"sender\":\"S\","
	    "\"fail_reason\":\"\",\"sends\":[]}";
	char buf[sizeof(v1) + 16];
	const char *p;
	struct verif v;

	ck_assert_int_eq(store_record_decode_for_test(v1, strlen(v1), &v),
	    STORE_OK);
	ck_assert_str_eq(v.id, "ver_1");
	ck_assert_int_eq(v.code_hmac[31], 0x1f);
	ck_assert_ptr_null(v.sealed);
	verif_clear(&v);

	/* The same record claiming a newer format is refused, not misread. */
	snprintf(buf, sizeof(buf), "{\"v\":99,%s", v1 + strlen("{\"v\":1,"));
	ck_assert_int_eq(store_record_decode_for_test(buf, strlen(buf), &v),
	    STORE_ERR);
	ck_assert_str_eq(v.id, "");
	/* No version, truncated text, a field too long: refused. */
	snprintf(buf, sizeof(buf), "{%s", v1 + strlen("{\"v\":1,"));
	ck_assert_int_eq(store_record_decode_for_test(buf, strlen(buf), &v),
	    STORE_ERR);
	ck_assert_int_eq(store_record_decode_for_test(v1, strlen(v1) - 1, &v),
	    STORE_ERR);
	p = strstr(v1, "\"v1\"");
	snprintf(buf, sizeof(buf), "%.*s\"v1234567\"%s", (int)(p - v1), v1,
	    p + 4);
	ck_assert_int_eq(store_record_decode_for_test(buf, strlen(buf), &v),
	    STORE_ERR);
}
END_TEST

/* Every field at the edges of its range: longest strings, NULL and empty
 * optional strings, negative and 64-bit times, the most sends. */
static void
make_extreme(struct verif *v)
{
	memset(v, 0, sizeof(*v));
	memset(v->id, 'i', sizeof(v->id) - 1);
	memset(v->key, 'k', sizeof(v->key) - 1);
	strcpy(v->phone, "+123456789012345");
	strcpy(v->api, "0000000");
	v->status = VERIF_MAX_ATTEMPTS;
	v->send_state = SEND_FAILED;
	v->attempt = INT32_MAX;
	v->checks = -7;
	v->max_checks = INT32_MIN;
	for (int i = 0; i < 32; i++)
		v->code_hmac[i] = (uint8_t)(255 - i * 3);
	v->created_at = INT64_MIN;
	v->expires_at = INT64_MAX;
	v->updated_at = -1;
	memset(v->sender, 's', sizeof(v->sender) - 1);
	memset(v->fail_reason, 'f', sizeof(v->fail_reason) - 1);
	v->sealed = strdup("");
	v->metadata = NULL;
	v->nsend = VERIF_MAX_SENDS;
	for (int i = 0; i < VERIF_MAX_SENDS; i++) {
		struct verif_send *sd = &v->send[i];

		memset(sd->smsc, 'a' + i, sizeof(sd->smsc) - 1);
		memset(sd->message_id, '0' + i, sizeof(sd->message_id) - 1);
		sd->submitted_at = (int64_t)1 << (40 + i);
		sd->dlr = DLR_PENDING + i % 6;
		sd->dlr_at = -(int64_t)i;
		sd->error = i % 2 ? -1 : 0x7fffffff;
		snprintf(sd->reason, sizeof(sd->reason), "%s",
		    i == 0 ? "" : "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr");
	}
}

START_TEST(test_record_binary_round_trip)
{
	uint8_t buf[4096];
	struct verif v, got;
	size_t n;

	/* Extremes, then a plain record with metadata and no sends. */
	make_extreme(&v);
	n = store_record_encode_for_test(&v, buf, sizeof(buf));
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(buf[0], 2);    /* format 2 */
	ck_assert_int_eq(store_record_decode_for_test((char *)buf, n, &got),
	    STORE_OK);
	assert_same(&v, &got);
	ck_assert_ptr_nonnull(got.sealed);      /* "" is not NULL */
	verif_clear(&got);
	verif_clear(&v);

	make_verif(&v, 12, VERIF_PENDING, SEND_QUEUED, T0 + 60);
	v.metadata = strdup("{\"k\":\"\\u00e9\"}");
	n = store_record_encode_for_test(&v, buf, sizeof(buf));
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(store_record_decode_for_test((char *)buf, n, &got),
	    STORE_OK);
	assert_same(&v, &got);
	ck_assert_ptr_null(got.sealed);
	verif_clear(&got);
	/* Too small a buffer: nothing written. */
	ck_assert_uint_eq(store_record_encode_for_test(&v, buf, n - 1), 0);
	verif_clear(&v);

	/* Through the store, across a reopen. */
	make_extreme(&v);
	strcpy(v.id, "ver_extreme");
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	reopen(BIG_MAP);
	ck_assert_int_eq(store_verif_get(st, "ver_extreme", &got), STORE_OK);
	assert_same(&v, &got);
	verif_clear(&got);
	verif_clear(&v);
}
END_TEST

START_TEST(test_record_binary_refused)
{
	uint8_t buf[1024], bad[1024];
	struct verif v, got;
	size_t n, i;
	int ok = 0;

	make_verif(&v, 21, VERIF_PENDING, SEND_SENT, T0 + 60);
	add_sends(&v, 21);
	v.sealed = strdup("c2VhbGVk");
	v.metadata = strdup("{}");
	n = store_record_encode_for_test(&v, buf, sizeof(buf));
	ck_assert_uint_gt(n, 100);

	/* Every truncation, and one octet too many. */
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(store_record_decode_for_test((char *)buf, i,
		    &got), STORE_ERR);
		ck_assert_str_eq(got.id, "");
		ck_assert_ptr_null(got.sealed);
	}
	memcpy(bad, buf, n);
	bad[n] = 0;
	ck_assert_int_eq(store_record_decode_for_test((char *)bad, n + 1,
	    &got), STORE_ERR);

	/* Unknown versions: older, newer, none. */
	const uint8_t versions[] = { 0, 1, 3, 0x7f, 0xff };

	for (i = 0; i < sizeof(versions); i++) {
		memcpy(bad, buf, n);
		bad[0] = versions[i];
		ck_assert_int_eq(store_record_decode_for_test((char *)bad, n,
		    &got), STORE_ERR);
	}
	/* An unknown flag. */
	memcpy(bad, buf, n);
	bad[1] |= 0x80;
	ck_assert_int_eq(store_record_decode_for_test((char *)bad, n, &got),
	    STORE_ERR);
	/* The key's length (offset 78): past the end, too long for the
	 * field, and a NUL inside it. */
	memcpy(bad, buf, n);
	bad[78] = 0xff;
	bad[79] = 0xff;
	ck_assert_int_eq(store_record_decode_for_test((char *)bad, n, &got),
	    STORE_ERR);
	memcpy(bad, buf, n);
	bad[78] = 33;
	bad[79] = 0;
	ck_assert_int_eq(store_record_decode_for_test((char *)bad, n, &got),
	    STORE_ERR);
	memcpy(bad, buf, n);
	bad[80] = '\0';
	ck_assert_int_eq(store_record_decode_for_test((char *)bad, n, &got),
	    STORE_ERR);

	/* A key one octet longer than its field, the rest intact. */
	ck_assert_uint_eq(strlen(v.key), 4);
	memcpy(bad, buf, 80);
	memset(bad + 80, 'k', 33);
	memcpy(bad + 113, buf + 84, n - 84);
	bad[78] = 33;
	ck_assert_int_eq(store_record_decode_for_test((char *)bad, n + 29,
	    &got), STORE_ERR);
	bad[78] = 32;                   /* the same with 32 octets reads */
	memmove(bad + 112, bad + 113, n - 84);
	ck_assert_int_eq(store_record_decode_for_test((char *)bad, n + 28,
	    &got), STORE_OK);
	ck_assert_uint_eq(strlen(got.key), 32);
	verif_clear(&got);

	/* Any single octet changed to any of a few values: refused or read,
	 * never out of bounds (ASan), never leaking (LSan). */
	const uint8_t vals[] = { 0x00, 0x01, 0x08, 0x09, 0x20, 0x7f, 0x80,
	    0xff };

	for (i = 0; i < n; i++) {
		for (size_t j = 0; j < sizeof(vals); j++) {
			memcpy(bad, buf, n);
			bad[i] = vals[j];
			if (store_record_decode_for_test((char *)bad, n,
			    &got) == STORE_OK)
				ok++;
			verif_clear(&got);
		}
	}
	ck_assert_int_gt(ok, 0);        /* e.g. a changed time is still valid */

	/* What cannot be encoded is refused, and fails the batch. */
	memset(v.key, 'k', sizeof(v.key));      /* no NUL */
	ck_assert_uint_eq(store_record_encode_for_test(&v, buf, sizeof(buf)),
	    0);
	snprintf(v.key, sizeof(v.key), "key");
	v.nsend = VERIF_MAX_SENDS + 1;
	ck_assert_uint_eq(store_record_encode_for_test(&v, buf, sizeof(buf)),
	    0);
	v.nsend = 1;
	free(v.metadata);
	v.metadata = malloc(70000);
	memset(v.metadata, 'm', 69999);
	v.metadata[69999] = '\0';
	ck_assert_uint_eq(store_record_encode_for_test(&v, buf, sizeof(buf)),
	    0);
	ck_assert_int_eq(store_verif_put(st, &v), STORE_ERR);
	ck_assert_int_eq(store_flush(st), STORE_ERR);
	verif_clear(&v);
}
END_TEST

/* A format-1 (JSON) record in the database, as an older version wrote it:
 * it reads, and an update over it keeps the indexes right. */
START_TEST(test_record_v1_in_database)
{
	struct verif v, got;
	char id[32], json[1024];
	uint8_t bad[8] = { 3, 0, 0, 0, 0, 0, 0, 0 };
	char hex[65];

	make_verif(&v, 31, VERIF_PENDING, SEND_QUEUED, T0 + 300);
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", v.code_hmac[i]);
	snprintf(json, sizeof(json), "{\"v\":1,\"id\":\"%s\",\"key\":\"%s\","
	    "\"phone\":\"%s\",\"api\":\"v1\",\"status\":1,\"send_state\":1,"
	    "\"attempt\":%d,\"checks\":%d,\"max_checks\":5,"
	    "\"code_hmac\":\"%s\",\"created_at\":%lld,\"expires_at\":%lld,"
	    "\"updated_at\":%lld,\"sender\":\"%s\",\"fail_reason\":\"\","
	    "\"sealed\":\"c2VhbGVk\",\"metadata\":null,\"sends\":[]}",
	    v.id, v.key, v.phone, v.attempt, v.checks, hex,
	    (long long)v.created_at, (long long)v.expires_at,
	    (long long)v.updated_at, v.sender);
	ck_assert_int_eq(store_record_put_raw_for_test(st, v.id, json,
	    strlen(json)), STORE_OK);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	v.sealed = strdup("c2VhbGVk");
	assert_stored(31, &v);

	/* Approve it over the JSON record: pending and queue entries go. */
	v.status = VERIF_APPROVED;
	v.send_state = SEND_SENT;
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	assert_stored(31, &v);
	ck_assert_int_eq(store_pending_get(st, v.key, v.phone, id,
	    sizeof(id)), STORE_NOTFOUND);
	struct store_stats ss;

	store_stats(st, &ss);
	ck_assert_int_eq(ss.pending, 0);
	ck_assert_int_eq(ss.queued, 0);

	/* A record of an unknown format: reads and updates refuse it, and
	 * the update's batch fails. */
	ck_assert_int_eq(store_record_put_raw_for_test(st, v.id, bad,
	    sizeof(bad)), STORE_OK);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(store_verif_get(st, v.id, &got), STORE_ERR);
	ck_assert_str_eq(got.id, "");
	ck_assert_int_eq(store_verif_put(st, &v), STORE_ERR);
	ck_assert_int_eq(store_flush(st), STORE_ERR);
	verif_clear(&v);
}
END_TEST

START_TEST(test_strings)
{
	ck_assert_str_eq(verif_strstatus(VERIF_PENDING), "pending");
	ck_assert_str_eq(verif_strstatus(VERIF_APPROVED), "approved");
	ck_assert_str_eq(verif_strstatus(VERIF_EXPIRED), "expired");
	ck_assert_str_eq(verif_strstatus(VERIF_CANCELED), "canceled");
	ck_assert_str_eq(verif_strstatus(VERIF_MAX_ATTEMPTS),
	    "max_attempts_reached");
	ck_assert_str_eq(verif_strstatus(VERIF_FAILED), "failed");
	ck_assert_str_eq(send_strstate(SEND_QUEUED), "queued");
	ck_assert_str_eq(send_strstate(SEND_SENT), "sent");
	ck_assert_str_eq(send_strstate(SEND_FAILED), "failed");
	ck_assert_str_eq(dlr_strstate(DLR_PENDING), "pending");
	ck_assert_str_eq(dlr_strstate(DLR_DELIVERED), "delivered");
	ck_assert_str_eq(dlr_strstate(DLR_UNDELIVERABLE), "undeliverable");
	ck_assert_str_eq(dlr_strstate(DLR_EXPIRED), "expired");
	ck_assert_str_eq(dlr_strstate(DLR_REJECTED), "rejected");
	ck_assert_str_eq(dlr_strstate(DLR_UNKNOWN), "unknown");
}
END_TEST

/* ---- indexes ---------------------------------------------------------- */

START_TEST(test_pending_index)
{
	struct verif a, b;
	char id[32];

	make_verif(&a, 3, VERIF_PENDING, SEND_QUEUED, T0 + 600);
	make_verif(&b, 6, VERIF_PENDING, SEND_QUEUED, T0 + 900);
	strcpy(b.phone, a.phone);       /* same (key, phone): key3%3 == 6%3 */
	ck_assert_str_eq(a.key, b.key);

	ck_assert_int_eq(store_verif_put(st, &a), STORE_OK);
	ck_assert_int_eq(store_pending_get(st, a.key, a.phone, id,
	    sizeof(id)), STORE_OK);
	ck_assert_str_eq(id, a.id);
	ck_assert_int_eq(store_flush(st), STORE_OK);

	/* A newer verification takes the entry; the older one, still
	 * updated as pending (a wrong code) before it is canceled, must not
	 * take it back nor remove it. */
	ck_assert_int_eq(store_verif_put(st, &b), STORE_OK);
	a.checks++;
	ck_assert_int_eq(store_verif_put(st, &a), STORE_OK);
	ck_assert_int_eq(store_pending_get(st, a.key, a.phone, id,
	    sizeof(id)), STORE_OK);
	ck_assert_str_eq(id, b.id);
	a.status = VERIF_CANCELED;
	ck_assert_int_eq(store_verif_put(st, &a), STORE_OK);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(store_pending_get(st, a.key, a.phone, id,
	    sizeof(id)), STORE_OK);
	ck_assert_str_eq(id, b.id);

	/* Approval removes it. */
	b.status = VERIF_APPROVED;
	ck_assert_int_eq(store_verif_put(st, &b), STORE_OK);
	ck_assert_int_eq(store_pending_get(st, a.key, a.phone, id,
	    sizeof(id)), STORE_NOTFOUND);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(store_pending_get(st, a.key, a.phone, id,
	    sizeof(id)), STORE_NOTFOUND);

	struct store_stats ss;

	store_stats(st, &ss);
	ck_assert_int_eq(ss.verifs, 2);
	ck_assert_int_eq(ss.pending, 0);
	ck_assert_int_eq(ss.queued, 0);
}
END_TEST

/* An update that changes expires_at moves the pending expiry entry. */
START_TEST(test_expiry_moves)
{
	struct verif v;

	make_verif(&v, 41, VERIF_PENDING, SEND_SENT, T0 + 300);
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	v.expires_at = T0 + 900;
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(store_sweep(st, T0 + 400, 10, 86400, NULL, NULL), 0);
	ck_assert_int_eq(status_of(41), VERIF_PENDING);
	v.expires_at = T0 + 100;
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(store_sweep(st, T0 + 150, 10, 86400, NULL, NULL), 1);
	ck_assert_int_eq(status_of(41), VERIF_EXPIRED);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	/* Only the purge entry is left, at expiry + retention. */
	ck_assert_int_eq(store_sweep(st, T0 + 100 + 86399, 10, 86400, NULL,
	    NULL), 0);
	ck_assert_int_eq(store_sweep(st, T0 + 100 + 86400, 10, 86400, NULL,
	    NULL), 1);
	ck_assert_int_eq(status_of(41), 0);
}
END_TEST

/* The sweep expires through verif_enter(): the sealed text goes, the
 * time is stamped, the rest (metadata above all) stays; a record already
 * final is left as it is and not handed to the callback. */
struct expiry_copy {
	int n;
	struct verif v;
};

static void
on_expired_copy(void *arg, const struct verif *v)
{
	struct expiry_copy *c = arg;

	c->n++;
	c->v = *v;      /* the strings are the sweep's: copy them */
	c->v.sealed = v->sealed ? strdup(v->sealed) : NULL;
	c->v.metadata = v->metadata ? strdup(v->metadata) : NULL;
}

START_TEST(test_sweep_expire_state)
{
	struct expiry_copy c = { 0 };
	struct verif v, got;

	make_verif(&v, 42, VERIF_PENDING, SEND_SENT, T0 + 100);
	v.sealed = strdup("c2VhbGVk");
	v.metadata = strdup("{\"order\":7}");
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	verif_clear(&v);
	make_verif(&v, 43, VERIF_APPROVED, SEND_SENT, T0 + 100);
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	verif_clear(&v);
	ck_assert_int_eq(store_flush(st), STORE_OK);

	ck_assert_int_eq(store_sweep(st, T0 + 150, 10, 86400,
	    on_expired_copy, &c), 2);
	ck_assert_int_eq(c.n, 1);
	ck_assert_str_eq(c.v.id, "ver_00000000000000000000002a");
	ck_assert_int_eq(c.v.status, VERIF_EXPIRED);
	ck_assert_int_eq(c.v.send_state, SEND_SENT);
	ck_assert_ptr_null(c.v.sealed);
	ck_assert_str_eq(c.v.metadata, "{\"order\":7}");
	ck_assert_int_eq(c.v.updated_at, T0 + 150);
	ck_assert_int_eq(c.v.expires_at, T0 + 100);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(store_verif_get(st, c.v.id, &got), STORE_OK);
	assert_same(&c.v, &got);
	verif_clear(&got);
	verif_clear(&c.v);
	ck_assert_int_eq(status_of(43), VERIF_APPROVED);
}
END_TEST

struct idset {
	char ids[16][32];
	int n;
};

static void
collect(void *arg, const char *id)
{
	struct idset *s = arg;

	ck_assert_int_lt(s->n, 16);
	strcpy(s->ids[s->n++], id);
}

static int
idset_has(const struct idset *s, int n)
{
	char id[32];

	snprintf(id, sizeof(id), "ver_%024x", n);
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->ids[i], id) == 0)
			return 1;
	return 0;
}

START_TEST(test_queue_index)
{
	static const int status[6] = { VERIF_PENDING, VERIF_PENDING,
	    VERIF_APPROVED, VERIF_PENDING, VERIF_CANCELED, VERIF_PENDING };
	static const int sendst[6] = { SEND_QUEUED, SEND_SENT, SEND_QUEUED,
	    SEND_QUEUED, SEND_QUEUED, SEND_FAILED };
	struct verif v;
	struct idset s = { .n = 0 };

	for (int i = 0; i < 6; i++) {
		make_verif(&v, i, status[i], sendst[i], T0 + 300);
		ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	}
	run_loop();
	ck_assert_int_eq(store_queue_each(st, collect, &s), 2);
	ck_assert_int_eq(s.n, 2);
	ck_assert(idset_has(&s, 0));
	ck_assert(idset_has(&s, 3));

	/* Accepted by an SMSC: leaves the queue. */
	make_verif(&v, 3, VERIF_PENDING, SEND_SENT, T0 + 300);
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	/* Canceled while queued: leaves it too. */
	make_verif(&v, 0, VERIF_CANCELED, SEND_QUEUED, T0 + 300);
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	/* A sent one back to queued (resend): enters it. */
	make_verif(&v, 1, VERIF_PENDING, SEND_QUEUED, T0 + 300);
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	run_loop();
	s.n = 0;
	ck_assert_int_eq(store_queue_each(st, collect, &s), 1);
	ck_assert(idset_has(&s, 1));
}
END_TEST

START_TEST(test_msgid_index)
{
	char id[32];

	ck_assert_int_eq(store_msgid_put(st, "alpha", "1F2E", "ver_a"),
	    STORE_OK);
	ck_assert_int_eq(store_msgid_put(st, "beta", "1F2E", "ver_b"),
	    STORE_OK);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(store_msgid_get(st, "alpha", "1F2E", id, sizeof(id)),
	    STORE_OK);
	ck_assert_str_eq(id, "ver_a");
	ck_assert_int_eq(store_msgid_get(st, "beta", "1F2E", id, sizeof(id)),
	    STORE_OK);
	ck_assert_str_eq(id, "ver_b");
	ck_assert_int_eq(store_msgid_get(st, "alpha", "1F2", id, sizeof(id)),
	    STORE_NOTFOUND);
	/* Too small a buffer is an error, not a truncated id. */
	ck_assert_int_eq(store_msgid_get(st, "alpha", "1F2E", id, 5),
	    STORE_ERR);
}
END_TEST

static int
limit_str(const char *name, char *out, size_t size)
{
	size_t len = 0;
	int rc = store_limit_get(st, name, out, size - 1, &len);

	out[rc == STORE_OK ? len : 0] = '\0';
	return rc;
}

/* A put is read back at once (staged), again after the commit and after
 * a reopen; the last put of a name wins; bad names and sizes are
 * refused and fail the batch. */
START_TEST(test_limit_counters)
{
	char buf[64], big[STORE_LIMIT_MAX + 1], name[STORE_LIMIT_NAME_MAX + 2];
	struct store_stats ss;
	size_t len;

	ck_assert_int_eq(limit_str("P/k/+1", buf, sizeof(buf)),
	    STORE_NOTFOUND);
	ck_assert_int_eq(store_limit_put(st, "P/k/+1", "abc", 3, T0 + 10),
	    STORE_OK);
	ck_assert_int_eq(limit_str("P/k/+1", buf, sizeof(buf)), STORE_OK);
	ck_assert_str_eq(buf, "abc");
	ck_assert_int_eq(store_limit_put(st, "P/k/+1", "abcd", 4, T0 + 20),
	    STORE_OK);
	ck_assert_int_eq(store_limit_put(st, "K/k", "", 0, T0 + 20),
	    STORE_OK);
	ck_assert_int_eq(limit_str("P/k/+1", buf, sizeof(buf)), STORE_OK);
	ck_assert_str_eq(buf, "abcd");
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(limit_str("P/k/+1", buf, sizeof(buf)), STORE_OK);
	ck_assert_str_eq(buf, "abcd");
	ck_assert_int_eq(limit_str("K/k", buf, sizeof(buf)), STORE_OK);
	ck_assert_str_eq(buf, "");
	/* too small a buffer */
	ck_assert_int_eq(store_limit_get(st, "P/k/+1", buf, 3, &len),
	    STORE_ERR);
	reopen(BIG_MAP);
	ck_assert_int_eq(limit_str("P/k/+1", buf, sizeof(buf)), STORE_OK);
	ck_assert_str_eq(buf, "abcd");
	/* a number's counters live beside the pending index, the key's in
	 * the limits database */
	store_stats(st, &ss);
	ck_assert_uint_eq(ss.limits, 1);

	/* refused: an empty name, a space, too long a name or value */
	ck_assert_int_eq(limit_str("", buf, sizeof(buf)), STORE_ERR);
	ck_assert_int_eq(store_limit_put(st, "a b", "x", 1, T0), STORE_ERR);
	ck_assert_int_eq(store_flush(st), STORE_ERR);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	ck_assert_int_eq(store_limit_put(st, name, "x", 1, T0), STORE_ERR);
	ck_assert_int_eq(store_flush(st), STORE_ERR);
	memset(big, 'v', sizeof(big));
	ck_assert_int_eq(store_limit_put(st, "K/k", big, sizeof(big), T0),
	    STORE_ERR);
	ck_assert_int_eq(store_flush(st), STORE_ERR);
	/* nothing of those batches was kept */
	ck_assert_int_eq(limit_str("K/k", buf, sizeof(buf)), STORE_OK);
	ck_assert_str_eq(buf, "");
	name[STORE_LIMIT_NAME_MAX] = '\0';     /* the longest name is good */
	ck_assert_int_eq(store_limit_put(st, name, big, STORE_LIMIT_MAX, T0),
	    STORE_OK);
	ck_assert_int_eq(store_flush(st), STORE_OK);
}
END_TEST

/* A counter put and committed survives the process's death (no close):
 * what kill -9 leaves. */
START_TEST(test_limit_survives_exit)
{
	char buf[16];
	struct event_base *b = NULL;
	struct store *s = NULL;
	pid_t pid;
	int status;

	if ((pid = fork_with_store(&s, &b)) == 0) {
		if (store_limit_put(s, "F/k/+1", "7", 1,
		    T0 + 86400) != STORE_OK || store_flush(s) != STORE_OK)
			_exit(1);
		_exit(0);       /* no close, no loop */
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	st = open_store(BIG_MAP);
	ck_assert_int_eq(limit_str("F/k/+1", buf, sizeof(buf)), STORE_OK);
	ck_assert_str_eq(buf, "7");
}
END_TEST

#define NLIMIT 1000

/* The prune drops the counters whose until has passed, a bounded number
 * per call, going on from call to call round the database: after enough
 * calls exactly the dead ones are gone.  A counter staged alive since is
 * kept; nothing to drop stages nothing. */
START_TEST(test_limit_prune)
{
	/* _i 0: the numbers' counters (beside the pending index); 1:
	 * others (the limits database) */
	const char *fmt = _i == 0 ? "P/k/+%04d" : "K/%04d";
	const char *zero = _i == 0 ? "P/k/+0000" : "K/0000";
	char name[32], buf[16], id[32];
	int i, n, dropped = 0, calls = 0;
	struct verif v;

	/* an entry of the pending index, which no prune may take */
	make_verif(&v, 5, VERIF_PENDING, SEND_SENT, T0 + 100);
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);

	for (i = 0; i < NLIMIT; i++) {
		snprintf(name, sizeof(name), fmt, (i * 7919) % NLIMIT);
		ck_assert_int_eq(store_limit_put(st, name, "x", 1,
		    T0 + (i * 7919) % NLIMIT), STORE_OK);
	}
	ck_assert_int_eq(store_flush(st), STORE_OK);
	/* +0000 is dead at T0 + 500 as committed, alive as staged now */
	ck_assert_int_eq(store_limit_put(st, zero, "y", 1, T0 + 9999),
	    STORE_OK);
	while ((n = store_limit_prune(st, T0 + 500, 10)) != 0 ||
	    calls < 20) {
		ck_assert_int_ge(n, 0);
		ck_assert_int_le(n, 10);
		dropped += n;
		calls++;
		ck_assert_int_lt(calls, 1000);
		ck_assert_int_eq(store_flush(st), STORE_OK);
	}
	ck_assert_int_eq(dropped, 499);
	for (i = 0; i < NLIMIT; i++) {
		snprintf(name, sizeof(name), fmt, i);
		ck_assert_int_eq(limit_str(name, buf, sizeof(buf)),
		    i >= 500 || i == 0 ? STORE_OK : STORE_NOTFOUND);
	}
	/* nothing more is due: nothing staged, nothing to commit */
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(store_limit_prune(st, T0 + 500, 100), 0);
	/* the rest, but +0000, at most two calls (one round) later */
	for (i = 0, dropped = 0; i < 3; i++) {
		dropped += store_limit_prune(st, T0 + 5000, 100000);
		ck_assert_int_eq(store_flush(st), STORE_OK);
	}
	ck_assert_int_eq(dropped, 500);
	ck_assert_int_eq(limit_str(zero, buf, sizeof(buf)), STORE_OK);
	ck_assert_str_eq(buf, "y");
	ck_assert_int_eq(store_pending_get(st, v.key, v.phone, id,
	    sizeof(id)), STORE_OK);
	ck_assert_str_eq(id, v.id);
	verif_clear(&v);
}
END_TEST

/* A number's counter written where an older version kept it (under its
 * name in the limits database) is still read; the next put keeps it
 * beside the pending index, which the old one does not disturb. */
START_TEST(test_limit_old_place)
{
	struct verif v;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, d;
	uint8_t val[8 + 3];
	char name[64], got[16], id[32];

	make_verif(&v, 1, VERIF_PENDING, SEND_SENT, T0 + 600);
	snprintf(name, sizeof(name), "P/%s/%s", v.key, v.phone);
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	store_close(st);
	st = NULL;
	/* what an older version left: the name in "limits" */
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 16), 0);
	ck_assert_int_eq(mdb_env_set_mapsize(env, BIG_MAP), 0);
	ck_assert_int_eq(mdb_env_open(env, dbpath, 0, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "limits", 0, &dbi), 0);
	memset(val, 0, 8);
	val[3] = 0x7f;          /* until: far away (little-endian) */
	memcpy(val + 8, "old", 3);
	k.mv_data = name;
	k.mv_size = strlen(name);
	d.mv_data = val;
	d.mv_size = sizeof(val);
	ck_assert_int_eq(mdb_put(txn, dbi, &k, &d, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	st = open_store(BIG_MAP);
	ck_assert_int_eq(limit_str(name, got, sizeof(got)), STORE_OK);
	ck_assert_str_eq(got, "old");
	ck_assert_int_eq(store_limit_put(st, name, "new", 3, T0 + 60),
	    STORE_OK);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	reopen(BIG_MAP);
	ck_assert_int_eq(limit_str(name, got, sizeof(got)), STORE_OK);
	ck_assert_str_eq(got, "new");
	/* the pending index of the pair is still the verification's */
	ck_assert_int_eq(store_pending_get(st, v.key, v.phone, id,
	    sizeof(id)), STORE_OK);
	ck_assert_str_eq(id, v.id);
	verif_clear(&v);
}
END_TEST

/* ---- sweep ------------------------------------------------------------ */

#define NSWEEP 1000

struct expired_seen {
	int n;
	int bad;
	int64_t last;
};

static void
on_expired(void *arg, const struct verif *v)
{
	struct expired_seen *e = arg;

	e->n++;
	if (v->status != VERIF_EXPIRED || v->sealed != NULL ||
	    v->expires_at < e->last)
		e->bad++;
	e->last = v->expires_at;
}

/* Record i expires at T0 + 10 * i; inserted in a scrambled order. */
static int64_t
sweep_exp(int i)
{
	return T0 + 10 * (int64_t)i;
}

START_TEST(test_sweep)
{
	struct verif v;
	struct store_stats ss, ss2;
	struct expired_seen seen = { 0, 0, 0 };
	char id[32];
	int n, total, i;
	const int64_t retention = 86400;

	for (int k = 0; k < NSWEEP; k++) {
		i = (k * 7) % NSWEEP;   /* 7 is prime to 1000 */
		make_verif(&v, i, i % 2 ? VERIF_APPROVED : VERIF_PENDING,
		    i % 4 == 0 ? SEND_QUEUED : SEND_SENT, sweep_exp(i));
		snprintf(v.key, sizeof(v.key), "key");
		v.sealed = i % 2 ? NULL : strdup("c2VhbGVk");
		if (i % 2 == 0) {
			add_sends(&v, i);
			/* The index holds the normalised id (no leading
			 * zero), not the raw one of the send. */
			ck_assert_int_eq(store_msgid_put(st, "alpha",
			    v.send[0].message_id + 1, v.id), STORE_OK);
		}
		ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
		verif_clear(&v);
	}
	run_loop();
	store_stats(st, &ss);
	ck_assert_int_eq(ss.verifs, NSWEEP);
	ck_assert_int_eq(ss.pending, NSWEEP / 2);
	ck_assert_int_eq(ss.queued, NSWEEP / 4);

	/* Nothing due: nothing touched, no batch, no commit. */
	ck_assert_int_eq(store_sweep(st, T0 - 1, 100, retention, on_expired,
	    &seen), 0);
	run_loop();
	store_stats(st, &ss2);
	ck_assert_int_eq(ss2.commits, ss.commits);
	ck_assert_int_eq(seen.n, 0);

	/* Everything due: each sweep takes the 100 oldest. */
	const int64_t now = sweep_exp(NSWEEP - 1);

	ck_assert_int_eq(store_sweep(st, now, 100, retention, on_expired,
	    &seen), 100);
	ck_assert_int_eq(seen.n, 50);
	ck_assert_int_eq(status_of(98), VERIF_EXPIRED);
	ck_assert_int_eq(status_of(99), VERIF_APPROVED);
	ck_assert_int_eq(status_of(100), VERIF_PENDING);
	make_verif(&v, 98, VERIF_PENDING, SEND_QUEUED, 0);
	ck_assert_int_eq(store_pending_get(st, "key", v.phone, id,
	    sizeof(id)), STORE_NOTFOUND);
	make_verif(&v, 100, VERIF_PENDING, SEND_QUEUED, 0);
	ck_assert_int_eq(store_pending_get(st, "key", v.phone, id,
	    sizeof(id)), STORE_OK);
	run_loop();
	store_stats(st, &ss);
	ck_assert_int_eq(ss.pending, NSWEEP / 2 - 50);
	ck_assert_int_eq(ss.queued, NSWEEP / 4 - 25);
	ck_assert_int_eq(ss.swept, 50);

	/* Half-way in time: only what is due by then. */
	total = 100;
	n = store_sweep(st, sweep_exp(499), 1000, retention, on_expired,
	    &seen);
	ck_assert_int_eq(n, 400);
	total += n;
	ck_assert_int_eq(status_of(498), VERIF_EXPIRED);
	ck_assert_int_eq(status_of(500), VERIF_PENDING);
	for (int r = 0; r < 20 && (n = store_sweep(st, now, 100, retention,
	    on_expired, &seen)) > 0; r++) {
		ck_assert_int_le(n, 100);
		total += n;
		run_loop();
	}
	ck_assert_int_eq(total, NSWEEP);
	ck_assert_int_eq(seen.n, NSWEEP / 2);
	ck_assert_int_eq(seen.bad, 0);
	run_loop();
	store_stats(st, &ss);
	ck_assert_int_eq(ss.verifs, NSWEEP);
	ck_assert_int_eq(ss.pending, 0);
	ck_assert_int_eq(ss.queued, 0);
	ck_assert_int_eq(status_of(0), VERIF_EXPIRED);
	ck_assert_int_eq(status_of(1), VERIF_APPROVED);

	ck_assert_int_eq(store_msgid_get(st, "alpha", "A000998", id,
	    sizeof(id)), STORE_OK);
	/* Before the retention has passed nothing is purged. */
	ck_assert_int_eq(store_sweep(st, now + retention - 10 * NSWEEP, 1000,
	    retention, on_expired, &seen), 0);
	/* After it, records go with their receipt index entries. */
	ck_assert_int_eq(store_sweep(st, sweep_exp(9) + retention, 1000,
	    retention, on_expired, &seen), 10);
	ck_assert_int_eq(status_of(9), 0);
	ck_assert_int_eq(status_of(10), VERIF_EXPIRED);
	ck_assert_int_eq(store_sweep(st, now + retention, 1000, retention,
	    on_expired, &seen), NSWEEP - 10);
	run_loop();
	store_stats(st, &ss);
	ck_assert_int_eq(ss.verifs, 0);
	ck_assert_int_eq(ss.purged, NSWEEP);
	ck_assert_int_eq(seen.n, NSWEEP / 2);
	ck_assert_int_eq(store_msgid_get(st, "alpha", "A000000", id,
	    sizeof(id)), STORE_NOTFOUND);
	ck_assert_int_eq(store_msgid_get(st, "alpha", "A000998", id,
	    sizeof(id)), STORE_NOTFOUND);

	/* And a sweep now finds nothing to do. */
	ck_assert_int_eq(store_sweep(st, now + 2 * retention, 100, retention,
	    on_expired, &seen), 0);
	run_loop();
	store_stats(st, &ss2);
	ck_assert_int_eq(ss2.commits, ss.commits);
	/* The map holds no leftover index entries: reopen and re-count. */
	reopen(BIG_MAP);
	store_stats(st, &ss);
	ck_assert_int_eq(ss.verifs + ss.pending + ss.queued, 0);
}
END_TEST

/* The sweep sees due entries wherever they are: committed, staged in the
 * batch with the writer, staged in the open batch, interleaved in time and
 * over more than one of its chunks (64); and not an entry whose move a
 * batch has staged.  In time order, each once. */
START_TEST(test_sweep_over_batches)
{
	struct verif v;
	struct expired_seen seen = { 0, 0, 0 };
	int i;

	/* Committed: records expiring at T0 + 3i (i < 60), and record 500
	 * at T0 + 31, whose expiry moves below. */
	for (i = 0; i < 60; i++) {
		make_verif(&v, i, VERIF_PENDING, SEND_SENT, T0 + 3 * i);
		ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	}
	make_verif(&v, 500, VERIF_PENDING, SEND_SENT, T0 + 31);
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	/* With the writer: T0 + 3i + 1. */
	for (i = 0; i < 60; i++) {
		make_verif(&v, 100 + i, VERIF_PENDING, SEND_SENT,
		    T0 + 3 * i + 1);
		ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	}
	store_on_commit(st, cb_record, (void *)(intptr_t)1);
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	/* Open: T0 + 3i + 2, and record 500 moved past the sweep. */
	for (i = 0; i < 60; i++) {
		make_verif(&v, 200 + i, VERIF_PENDING, SEND_SENT,
		    T0 + 3 * i + 2);
		ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	}
	make_verif(&v, 500, VERIF_PENDING, SEND_SENT, T0 + 100000);
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);

	ck_assert_int_eq(store_sweep(st, T0 + 1000, 1000, 86400, on_expired,
	    &seen), 180);
	ck_assert_int_eq(seen.n, 180);
	ck_assert_int_eq(seen.bad, 0);  /* expired, sealed gone, in order */
	ck_assert_int_eq(status_of(59), VERIF_EXPIRED);
	ck_assert_int_eq(status_of(159), VERIF_EXPIRED);
	ck_assert_int_eq(status_of(259), VERIF_EXPIRED);
	ck_assert_int_eq(status_of(500), VERIF_PENDING);
	/* Nothing due is left, committed or not. */
	ck_assert_int_eq(store_sweep(st, T0 + 1000, 1000, 86400, on_expired,
	    &seen), 0);
	run_loop();
	reopen(BIG_MAP);
	ck_assert_int_eq(status_of(0), VERIF_EXPIRED);
	ck_assert_int_eq(status_of(130), VERIF_EXPIRED);
	ck_assert_int_eq(status_of(230), VERIF_EXPIRED);
	ck_assert_int_eq(status_of(500), VERIF_PENDING);
	ck_assert_int_eq(store_sweep(st, T0 + 1000, 1000, 86400, on_expired,
	    &seen), 0);
	/* 180 purges; record 500 expires and, with no retention, is purged
	 * in the same sweep (its 'P' takes the place of its 'E'). */
	ck_assert_int_eq(store_sweep(st, T0 + 100000 + 86400, 1000, 0, NULL,
	    NULL), 180 + 2);
	ck_assert_int_eq(status_of(0), 0);
	ck_assert_int_eq(status_of(500), 0);
}
END_TEST

/* ---- map full --------------------------------------------------------- */

START_TEST(test_map_full)
{
	struct verif v;
	struct store_stats ss;
	int committed = 0, failed_from = -1, turn;

	store_close(st);
	st = open_store(256 << 10);
	memset(&calls, 0, sizeof(calls));
	for (turn = 0; turn < 200 && failed_from < 0; turn++) {
		int first = committed;

		for (int i = 0; i < 10; i++) {
			make_padded(&v, first + i);
			/* LMDB's errors come with the commit. */
			ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
			verif_clear(&v);
		}
		calls.n = 0;
		store_on_commit(st, cb_record, (void *)(intptr_t)turn);
		/* An early answer gets the batch's failure too. */
		store_on_written(st, cb_record, (void *)(intptr_t)-1);
		run_loop();
		ck_assert_int_eq(calls.n, 2);
		ck_assert_int_eq(calls.result[0], calls.result[1]);
		if (calls.result[0] == STORE_OK) {
			committed = first + 10;
		} else {
			ck_assert_int_eq(calls.result[0], STORE_FULL);
			failed_from = first;
		}
	}
	ck_assert_int_ge(failed_from, 0);
	ck_assert_int_ge(committed, 30);
	fprintf(stderr, "map_full: %d records committed in 256 KiB\n",
	    committed);
	store_stats(st, &ss);
	ck_assert_int_eq(ss.commit_failures, 1);
	ck_assert_int_eq(ss.verifs, committed);

	/* A batch staged while a failing one is with the writer fails with
	 * it, though alone it would commit (deleting what is not there):
	 * it was built on writes that never happened. */
	calls.n = 0;
	for (int i = 0; i < 10; i++) {
		make_verif(&v, 5000 + i, VERIF_PENDING, SEND_QUEUED, T0 + 300);
		add_sends(&v, 5000 + i);
		ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
		verif_clear(&v);
	}
	store_on_commit(st, cb_record, (void *)(intptr_t)1);
	/* One turn: the commit event hands the batch to the writer; its
	 * answer can only be taken by a later turn. */
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	ck_assert_int_eq(calls.n, 0);
	ck_assert_int_eq(status_of(5000), VERIF_PENDING);  /* staged: read */
	ck_assert_int_eq(store_outbox_del(st, 12345), STORE_OK);
	store_on_commit(st, cb_record, (void *)(intptr_t)2);
	run_loop();
	ck_assert_int_eq(calls.n, 2);
	ck_assert_int_eq(calls.order[0], 1);
	ck_assert_int_eq(calls.result[0], STORE_FULL);
	ck_assert_int_eq(calls.order[1], 2);
	ck_assert_int_eq(calls.result[1], STORE_FULL);
	ck_assert_int_eq(status_of(5000), 0);   /* gone with its batch */
	/* Alone, the same deletion commits. */
	ck_assert_int_eq(store_outbox_del(st, 12345), STORE_OK);
	ck_assert_int_eq(store_flush(st), STORE_OK);

	/* Raise the map: every record committed before is intact, none of
	 * the failed batches is there, and writing works again. */
	reopen(BIG_MAP);
	for (int i = 0; i < committed; i++) {
		make_padded(&v, i);
		assert_stored(i, &v);
		verif_clear(&v);
	}
	ck_assert_int_eq(status_of(committed), 0);
	ck_assert_int_eq(status_of(5000), 0);
	store_stats(st, &ss);
	ck_assert_int_eq(ss.verifs, committed);
	ck_assert_int_eq(ss.pending, committed);
	make_verif(&v, 99999, VERIF_PENDING, SEND_QUEUED, T0 + 300);
	ck_assert_int_eq(store_verif_put(st, &v), STORE_OK);
	ck_assert_int_eq(store_flush(st), STORE_OK);
}
END_TEST

struct seen {
	uint64_t seq[600];
	int n;
};

static void
outbox_collect(void *arg, struct store_event *ev)
{
	struct seen *s = arg;

	if (s->n < 600)
		s->seq[s->n++] = ev->seq;
	free(ev->body);
}

/* Events come back in the order they were staged, from any one of them
 * on, across a restart, however many there are: 300 spans a change of
 * every octet below the top two of the number. */
START_TEST(test_outbox_order)
{
	struct seen all = { .n = 0 }, tail = { .n = 0 };
	uint64_t first = 0, mid = 0, seq;

	for (int i = 0; i < 300; i++) {
		ck_assert_int_eq(store_outbox_put(st, "k", "{}", 1000, &seq),
		    STORE_OK);
		if (i == 0)
			first = seq;
		if (i == 150)
			mid = seq;
	}
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(store_outbox_scan(st, 0, 600, outbox_collect, &all), 300);
	ck_assert_int_eq(all.seq[0], first);
	for (int i = 1; i < all.n; i++)
		ck_assert(all.seq[i] == all.seq[i - 1] + 1);
	ck_assert_int_eq(store_outbox_scan(st, mid, 600, outbox_collect, &tail), 150);
	ck_assert(tail.seq[0] == mid);
	/* A restart numbers on after the last one. */
	reopen(BIG_MAP);
	ck_assert_int_eq(store_outbox_put(st, "k", "{}", 1000, &seq),
	    STORE_OK);
	ck_assert(seq > all.seq[all.n - 1]);
	/* The count and the scan are of committed events only. */
	ck_assert_int_eq(store_outbox_count(st), 300);
	all.n = 0;
	ck_assert_int_eq(store_outbox_scan(st, 0, 600, outbox_collect, &all),
	    300);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	ck_assert_int_eq(store_outbox_count(st), 301);
	/* A staged deletion hides a committed event from the scan at once. */
	ck_assert_int_eq(store_outbox_del(st, first), STORE_OK);
	all.n = 0;
	ck_assert_int_eq(store_outbox_scan(st, 0, 600, outbox_collect, &all),
	    300);
	ck_assert(all.seq[0] == first + 1);
}
END_TEST

/* ---- shield ------------------------------------------------------------ */

struct trips_seen {
	struct store_shield t[8];
	int n;
};

static void
trips_collect(void *arg, const struct store_shield *t)
{
	struct trips_seen *s = arg;

	if (s->n < 8)
		s->t[s->n++] = *t;
}

/* Tripped ranges: seen at once when staged, in the order of their text,
 * durable across a restart, gone once deleted; a bad range fails its
 * batch. */
START_TEST(test_shield_trips)
{
	struct store_shield t = { "+44770090", T0, T0 + 3600, 55, 1 };
	struct trips_seen s = { .n = 0 };

	ck_assert_int_eq(store_shield_put(st, &t), STORE_OK);
	snprintf(t.range, sizeof(t.range), "+14155550");
	t.until = T0 + 60;
	ck_assert_int_eq(store_shield_put(st, &t), STORE_OK);
	ck_assert_int_eq(store_shield_each(st, trips_collect, &s), 2);
	ck_assert_str_eq(s.t[0].range, "+14155550");
	ck_assert_str_eq(s.t[1].range, "+44770090");
	ck_assert_int_eq(s.t[1].tripped_at, T0);
	ck_assert_int_eq(s.t[1].until, T0 + 3600);
	ck_assert_uint_eq(s.t[1].mature, 55);
	ck_assert_uint_eq(s.t[1].approved, 1);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	reopen(BIG_MAP);
	s.n = 0;
	ck_assert_int_eq(store_shield_each(st, trips_collect, &s), 2);
	ck_assert_int_eq(s.t[0].until, T0 + 60);
	/* A put replaces; a deletion hides it at once. */
	t.until = T0 + 120;
	ck_assert_int_eq(store_shield_put(st, &t), STORE_OK);
	ck_assert_int_eq(store_shield_del(st, "+44770090"), STORE_OK);
	ck_assert_int_eq(store_shield_del(st, "+1"), STORE_OK);  /* none */
	s.n = 0;
	ck_assert_int_eq(store_shield_each(st, trips_collect, &s), 1);
	ck_assert_int_eq(s.t[0].until, T0 + 120);
	ck_assert_int_eq(store_flush(st), STORE_OK);
	reopen(BIG_MAP);
	s.n = 0;
	ck_assert_int_eq(store_shield_each(st, trips_collect, &s), 1);
	ck_assert_str_eq(s.t[0].range, "+14155550");
	/* Not a range: refused, and its batch with it. */
	snprintf(t.range, sizeof(t.range), "4477");
	ck_assert_int_eq(store_shield_put(st, &t), STORE_ERR);
	ck_assert_int_eq(store_flush(st), STORE_ERR);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc;

	tc = tcase_create("records");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_put_get_every_field);
	tcase_add_test(tc, test_get_unknown);
	tcase_add_test(tc, test_record_version_refused);
	tcase_add_test(tc, test_record_binary_round_trip);
	tcase_add_test(tc, test_record_binary_refused);
	tcase_add_test(tc, test_record_v1_in_database);
	tcase_add_test(tc, test_strings);
	suite_add_tcase(s, tc);

	tc = tcase_create("indexes");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pending_index);
	tcase_add_test(tc, test_queue_index);
	tcase_add_test(tc, test_msgid_index);
	tcase_add_test(tc, test_expiry_moves);
	tcase_add_test(tc, test_sweep_expire_state);
	tcase_add_test(tc, test_outbox_order);
	tcase_add_test(tc, test_shield_trips);
	suite_add_tcase(s, tc);

	tc = tcase_create("sweep");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sweep);
	tcase_add_test(tc, test_sweep_over_batches);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_limit_counters);
	tcase_add_test(tc, test_limit_survives_exit);
	tcase_add_loop_test(tc, test_limit_prune, 0, 2);
	tcase_add_test(tc, test_limit_old_place);
	suite_add_tcase(s, tc);

	tc = tcase_create("map_full");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_map_full);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return store_fixture_run(store_suite(), "check_store");
}
