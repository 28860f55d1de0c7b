/*
 * fuzz_http_request.c - libFuzzer target for the framing of a request as
 * the listener reads it (http_parse.c): where the head ends, found on a
 * buffer that grows in two steps as a connection's would (the first input
 * octet picks the split), then the head parsed, then every later line read
 * as a chunk-size line.
 *
 * Checked: both scans of the growing buffer agree with one scan of the
 * whole; a refusal names a kind and a message; a parsed head has a method,
 * a path that starts with '/', at most HTTP_FIELDS_MAX fields with
 * non-empty names, and framing that is not both chunked and
 * length-delimited.  Any crash, sanitizer report or leak is a finding.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_refusal why = { 0, NULL, NULL };
	struct http_head h;
	const char *buf = (const char *)data + 1;
	size_t len, split, scanned = 0, scanned2 = 0;
	long whole, part;

	if (size == 0)
		return 0;
	len = size - 1;
	split = len > 0 ? data[0] % (len + 1) : 0;
	whole = http_head_end(buf, len, 0, NULL, &why);
	if (whole < 0 && (why.code == NULL || why.msg == NULL))
		abort();
	/* The same buffer seen first cut at split, then whole. */
	part = http_head_end(buf, split, 0, &scanned, &why);
	if (part == 0) {
		if (scanned > split)
			abort();
		part = http_head_end(buf, len, scanned, &scanned2, &why);
	}
	/* Found in the prefix or on resuming, a head ends where one scan of
	 * the whole says. */
	if (whole > 0 && part != whole)
		abort();
	if (whole <= 0)
		return 0;
	if (http_head_parse(buf, (size_t)whole, &h, &why) < 0) {
		if (why.code == NULL || why.msg == NULL)
			abort();
	} else {
		if (h.method == NULL || h.path == NULL || h.path[0] != '/' ||
		    h.nfield > HTTP_FIELDS_MAX || h.verb == 0)
			abort();
		for (int i = 0; i < h.nfield; i++)
			if (h.fields[i].name[0] == '\0' ||
			    h.fields[i].value == NULL)
				abort();
		if (h.chunked && h.content_length >= 0)
			abort();
		(void)http_head_field(&h, "content-type");
		/* what handlers read of it: a query value, the bearer token */
		{
			char *v = http_query_value(h.query, "phone");
			const char *tok = http_bearer_token(
			    http_head_field(&h, "authorization"));

			if (v != NULL && strlen(v) > strlen(h.query))
				abort();        /* decoding only shortens */
			free(v);
			if (tok != NULL && (*tok == '\0' || strchr(tok, ' ')))
				abort();
		}
		http_head_free(&h);
	}
	/* What follows the head, line by line, as chunk sizes. */
	for (size_t i = (size_t)whole; i < len;) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t n = nl != NULL ? (size_t)(nl - (buf + i)) : len - i;
		uint64_t sz;

		if (n > 0 && buf[i + n - 1] == '\r')
			n--;
		if (n <= HTTP_CHUNK_LINE_MAX &&
		    http_chunk_size(buf + i, n, &sz, &why) < 0 &&
		    why.msg == NULL)
			abort();
		if (nl == NULL)
			break;
		i = (size_t)(nl - buf) + 1;
	}
	return 0;
}
