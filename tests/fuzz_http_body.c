/*
 * fuzz_http_body.c - libFuzzer target for http_body_parse() (http_body.c),
 * the parser of every request body the daemon accepts.
 *
 * The first input octet picks the Content-Type from ctypes[] (JSON, form,
 * multipart with plain, quoted and odd boundaries, and types that must be
 * refused); the rest is the body, parsed with forms allowed.  A result is
 * checked to be an object of the promised shape and freed; any crash,
 * sanitizer report or leak is a finding.
 *
 *	clang -g -fsanitize=fuzzer,address,undefined -Isrc \
 *	    tests/fuzz_http_body.c src/http_body.c src/http.c src/log.c \
 *	    src/util.c -levent -ljansson
 *	./a.out tests/data/fuzz_http_body
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const ctypes[] = {
	"application/json",
	"application/json; charset=utf-8",
	"application/x-www-form-urlencoded",
	"multipart/form-data; boundary=B",
	"multipart/form-data; boundary=\"a b:c\"",
	"multipart/form-data; boundary=--",
	"multipart/form-data",
	"text/plain",
	NULL,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const size_t nct = sizeof(ctypes) / sizeof(ctypes[0]);
	enum http_err kind;
	const char *err = NULL;
	json_t *v;

	if (size == 0)
		return 0;
	v = http_body_parse(ctypes[data[0] % nct], (const char *)data + 1,
	    size - 1, 1, &kind, &err);
	if (v == NULL) {
		if (err == NULL)
			abort();        /* a failure must say why */
		return 0;
	}
	if (!json_is_object(v))
		abort();
	json_decref(v);
	return 0;
}
