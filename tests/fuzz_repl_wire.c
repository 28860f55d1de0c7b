/*
 * fuzz_repl_wire.c - libFuzzer target for repl_wire_decode(): a batch's
 * blob as it comes back from Redis's log (src/store_repl_wire.c).
 *
 * Besides "no crash, no sanitizer report" it checks the contract: a blob
 * that decodes encodes again to the same octets once each key is written
 * once (the decoder keeps a key's last write; the blob may hold several),
 * and a refusal leaves a NUL-terminated reason.
 *
 *	./configure --enable-fuzz CC=clang CXX=clang++ && make tests/fuzz_repl_wire
 *	tests/fuzz_repl_wire -max_total_time=30
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_batch.h"
#include "store_repl_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
ident(void *arg, unsigned x)
{
	return x < 15 ? (int)x : -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_batch *w = store_batch_new(), *again;
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	char err[128];

	memset(err, 'x', sizeof(err));
	if (repl_wire_decode(data, size, w, ident, NULL, err,
	    sizeof(err)) != 0) {
		if (memchr(err, '\0', sizeof(err)) == NULL)
			abort();
		store_batch_free(w);
		return 0;
	}
	/* What decoded encodes and decodes to the same writes. */
	repl_wire_encode(w, ident, NULL, &buf, &len, &cap);
	again = store_batch_new();
	if (repl_wire_decode(buf, len, again, ident, NULL, err,
	    sizeof(err)) != 0 ||
	    store_batch_count(again) != store_batch_count(w))
		abort();
	for (size_t i = 0; i < store_batch_count(w); i++) {
		const struct batch_entry *a = store_batch_entry(w, i);
		const struct batch_entry *b = store_batch_entry(again, i);

		if (a->db != b->db || a->del != b->del || a->klen != b->klen ||
		    memcmp(a->key, b->key, a->klen) != 0 ||
		    (!a->del && (a->vlen != b->vlen ||
		    (a->vlen > 0 && memcmp(a->val, b->val, a->vlen) != 0))))
			abort();
	}
	free(buf);
	store_batch_free(again);
	store_batch_free(w);
	return 0;
}
