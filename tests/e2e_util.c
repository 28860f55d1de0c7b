/*
 * e2e_util.c - the end-to-end suites' shared helpers (e2e_util.h).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "e2e_util.h"
#include "harness.h"

struct harness H;

void
setup(void)
{
	ck_assert_int_eq(h_init(&H), 0);
}

void
teardown(void)
{
	h_fini(&H);
}

/* One request, Connection: close, with the whole answer (status line and
 * headers too) into out; its status, or -1.  h_http() keeps the body
 * only, and these tests read a header.  body (JSON), when not NULL, goes
 * with it. */
int
http_raw_body(const char *method, const char *path, const char *token,
    const char *body, char *out, size_t size)
{
	return h_http_raw(&H, method, path, token, body, out, size, NULL);
}

/* http_raw_body() without a body. */
int
http_raw(const char *method, const char *path, const char *token,
    char *out, size_t size)
{
	return http_raw_body(method, path, token, NULL, out, size);
}

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
int
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
int
hook_walk(const char *type, const char *id, json_t **first, int *failed)
{
	return hook_walk_where(type, "id", id, NULL, first, failed);
}

/* Events of type for id that hook_sink answered 2xx (checking each one's
 * signature); *failed gets the answers it refused. */
int
hook_count(const char *type, const char *id, int *failed)
{
	return hook_walk(type, id, NULL, failed);
}

/* The first event of type for id (from hook_sink's log, answered 2xx,
 * checked as hook_count() checks), as JSON (caller frees), or NULL. */
json_t *
hook_event(const char *type, const char *id)
{
	json_t *ev;

	hook_walk(type, id, &ev, NULL);
	return ev;
}

int
hook_wait(const char *type, const char *id)
{
	for (long long end = h_now_ms() + HOOK_WAIT_MS; h_now_ms() < end;) {
		if (hook_count(type, id, NULL) > 0)
			return 0;
		h_nap_ms(50);
	}
	return -1;
}
