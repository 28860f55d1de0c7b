/*
 * fuzz_redis_addr.c - libFuzzer target for redis_addr_parse() (the Redis
 * address forms, src/redis_addr.c).
 *
 * Besides "no crash, no sanitizer report" it checks the contract: either
 * 0 with a usable address (TCP: an IP literal that inet_pton takes and a
 * port in 1..65535; UNIX: an absolute path that fits sun_path), or -1
 * with an error that starts "redis address" and is NUL-terminated within
 * its buffer.
 *
 *	./configure --enable-fuzz CC=clang CXX=clang++ && make tests/fuzz_redis_addr
 *	tests/fuzz_redis_addr -max_total_time=30
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "redis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct redis_addr a;
	unsigned char bin[16];
	char *s, err[96];

	if (size > 4096)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	memset(err, 'x', sizeof(err));
	if (redis_addr_parse(s, &a, err, sizeof(err)) == 0) {
		if (a.kind == REDIS_ADDR_TCP) {
			if (a.port < 1 || a.port > 65535 ||
			    memchr(a.host, '\0', sizeof(a.host)) == NULL ||
			    (inet_pton(AF_INET, a.host, bin) != 1 &&
			    inet_pton(AF_INET6, a.host, bin) != 1))
				abort();
		} else if (a.kind == REDIS_ADDR_UNIX) {
			if (a.path[0] != '/' ||
			    memchr(a.path, '\0', sizeof(a.path)) == NULL)
				abort();
		} else
			abort();
	} else if (memchr(err, '\0', sizeof(err)) == NULL ||
	    strncmp(err, "redis address", 13) != 0)
		abort();
	free(s);
	return 0;
}
