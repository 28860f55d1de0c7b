/*
 * fuzz_idem.c - libFuzzer target for what idem.c reads: the
 * Idempotency-Key header's value (a client's), a kept answer's record (the
 * store's, which a newer or damaged database may hold) and a request
 * body's fingerprint.
 *
 * Besides "no crash, no sanitizer report" it checks invariants:
 *  - a valid key is 1..255 octets of 0x20..0x7e;
 *  - a record that decodes encodes back to the same octets;
 *  - a body's fingerprint does not depend on its fields' order.
 *
 *	./configure --enable-fuzz CC=clang CXX=clang++ && make tests/fuzz_idem
 *	tests/fuzz_idem -max_total_time=30
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "idem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_key(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	size_t n;

	memcpy(s, data, size);
	s[size] = '\0';
	if (idem_key_valid(s)) {
		n = strlen(s);
		if (n < 1 || n > IDEM_KEY_MAX)
			abort();
		for (size_t i = 0; i < n; i++)
			if (s[i] < 0x20 || s[i] > 0x7e)
				abort();
	}
	free(s);
}

static void
check_record(const uint8_t *data, size_t size)
{
	struct idem_rec r;
	uint8_t *out;
	size_t len;

	if (idem_decode(data, size, &r) != 0)
		return;
	if (idem_encode(&r, &out, &len) != 0 || len != size ||
	    memcmp(out, data, size) != 0)
		abort();
	free(out);
	idem_rec_clear(&r);
}

static void
check_fingerprint(const uint8_t *data, size_t size)
{
	uint8_t a[IDEM_FP_LEN], b[IDEM_FP_LEN];
	json_t *j = json_loadb((const char *)data, size, 0, NULL), *rev;
	const char *k;
	void *tmp;
	json_t *v;

	if (!json_is_object(j)) {
		json_decref(j);
		return;
	}
	/* The same fields in reverse order. */
	rev = json_object();
	const char **keys = calloc(json_object_size(j) + 1, sizeof(*keys));
	size_t n = 0;
	json_object_foreach_safe(j, tmp, k, v)
		keys[n++] = k;
	while (n-- > 0)
		json_object_set(rev, keys[n], json_object_get(j, keys[n]));
	if (idem_fingerprint("v1", j, a) != 0 ||
	    idem_fingerprint("v1", rev, b) != 0 ||
	    memcmp(a, b, IDEM_FP_LEN) != 0)
		abort();
	free(keys);
	json_decref(rev);
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_key(data, size);
	check_record(data, size);
	check_fingerprint(data, size);
	return 0;
}
