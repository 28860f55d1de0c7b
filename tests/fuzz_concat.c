/*
 * fuzz_concat.c - libFuzzer target for inbound concatenation: the UDH
 * parser and the reassembly table, fed parts an SMSC chose.
 *
 * The input is a stream of records: a flags octet (bit 0 UDHI, bits 1-2
 * which of four sources, bit 3: age the table out), a length octet, then
 * that many body octets (a UDH and UCS-2 or GSM text).  Each body goes
 * through smpp_udh_parse() and smpp_text_decode() like an MO deliver_sm,
 * and the decoded part into a small table (4 messages, 4 KB), with time
 * advancing one second a record.
 *
 * Besides "no crash, no leak, no sanitizer report" it checks invariants:
 *  - the text offset lies within the body; a present concatenation IE
 *    has 1 <= seq <= total;
 *  - the table never holds more than its bounds;
 *  - a joined text is exactly as long as the distinct parts added;
 *  - the same part twice in a row is never DONE twice.
 *
 *	./configure --enable-fuzz CC=clang CXX=clang++ && make tests/fuzz_concat
 *	tests/fuzz_concat -max_total_time=30
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inbound_parts.h"
#include "smpp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PENDING 4
#define BYTES 4096

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *sources[] = { "447700900001", "447700900002",
	    "1", "" };
	static char text[1024];
	struct inbound_parts *t = inbound_parts_new(PENDING, BYTES, 30000,
	    NULL, NULL);
	size_t i = 0;
	int64_t now = 0;

	while (i + 2 <= size) {
		uint8_t flags = data[i], len = data[i + 1];
		const uint8_t *body = data + i + 2;
		struct smpp_concat c;
		char key[INBOUND_KEY_MAX], *j = NULL, *j2 = NULL;
		enum inbound_part_result r, r2;
		int off;

		if (i + 2 + len > size)
			break;
		i += 2 + (size_t)len;
		now += 1000;
		if (flags & 8)
			inbound_parts_expire(t, now);
		off = smpp_udh_parse(body, len, flags & 1, &c);
		if (off < 0)
			continue;
		if ((size_t)off > len)
			abort();
		if (c.present && (c.seq < 1 || c.seq > c.total))
			abort();
		if (smpp_text_decode(flags & 0x10 ? 0x08 : 0x00, 0, body + off,
		    len - (size_t)off, text, sizeof(text)) < 0)
			continue;
		if (!c.present) {
			c.total = 1;
			c.seq = 1;
		}
		inbound_parts_key("sim", sources[(flags >> 1) & 3], "2",
		    c.ref, c.total, key);
		r = inbound_parts_add(t, key, c.total, c.seq, text, now, &j);
		if ((r == INBOUND_PART_DONE) != (j != NULL))
			abort();
		if (inbound_parts_pending(t) > PENDING ||
		    inbound_parts_bytes(t) > BYTES)
			abort();
		if (j != NULL && c.total == 1 && strcmp(j, text) != 0)
			abort();
		free(j);
		/* The SMSC sends it again at once. */
		r2 = inbound_parts_add(t, key, c.total, c.seq, text, now, &j2);
		if (c.total > 1 && r != INBOUND_PART_INVALID &&
		    r2 != INBOUND_PART_DUP)
			abort();
		free(j2);
	}
	inbound_parts_free(t);
	return 0;
}
