/*
 * fuzz_redis_sentinel.c - libFuzzer target for what src/redis_addr.c
 * reads of a sentinel configuration and of a sentinel's answer:
 * redis_sentinels_parse() (the list), redis_master_name_check() (the
 * name), redis_sentinel_reply() (SENTINEL get-master-addr-by-name's
 * answer, outside input, given as RESP octets and read by hiredis's
 * reader as the connection reads it) and
 * redis_switch_parse() (a +switch-master message, outside input too).
 *
 * The first octet picks the function (mod 4), the rest is its input.
 * Besides "no crash, no sanitizer report" it checks the contracts: 0
 * with usable addresses (TCP: an IP literal and a port in 1..65535;
 * UNIX: an absolute path), at most REDIS_SENTINELS_MAX of them; -1 with
 * a NUL-terminated error that names what it is about.
 *
 *	./configure --enable-fuzz CC=clang CXX=clang++ && make tests/fuzz_redis_sentinel
 *	tests/fuzz_redis_sentinel -max_total_time=30 tests/data/fuzz_redis_sentinel
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <hiredis/hiredis.h>

#include "redis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_addr(const struct redis_addr *a)
{
	unsigned char bin[16];

	if (a->kind == REDIS_ADDR_TCP) {
		if (a->port < 1 || a->port > 65535 ||
		    memchr(a->host, '\0', sizeof(a->host)) == NULL ||
		    (inet_pton(AF_INET, a->host, bin) != 1 &&
		    inet_pton(AF_INET6, a->host, bin) != 1))
			abort();
	} else if (a->kind == REDIS_ADDR_UNIX) {
		if (a->path[0] != '/' ||
		    memchr(a->path, '\0', sizeof(a->path)) == NULL)
			abort();
	} else
		abort();
}

static void
check_err(const char *err, size_t size, const char *prefix)
{
	if (memchr(err, '\0', size) == NULL)
		abort();
	if (prefix != NULL && strncmp(err, prefix, strlen(prefix)) != 0)
		abort();
}

/* The connection's guard refuses an array of more than 2^20 elements
 * (src/redis.c); here a smaller cap keeps libFuzzer's memory bounded. */
static const redisReplyObjectFunctions *base_fn;

static void *
capped_array(const redisReadTask *t, int n)
{
	if (n > 1024)
		return (NULL);
	return (base_fn->createArray(t, n));
}

static redisReplyObjectFunctions capped_fn;

/* The answer as the connection reads it: hiredis's reader, then ours. */
static void
reply(const uint8_t *data, size_t size)
{
	struct redis_addr a;
	redisReader *rd;
	void *rp = NULL;
	char err[128];

	rd = redisReaderCreate();
	if (rd == NULL)
		return;
	if (base_fn == NULL) {
		base_fn = rd->fn;
		capped_fn = *base_fn;
		capped_fn.createArray = capped_array;
	}
	rd->fn = &capped_fn;
	if (redisReaderFeed(rd, (const char *)data, size) == REDIS_OK &&
	    redisReaderGetReply(rd, &rp) == REDIS_OK && rp != NULL) {
		memset(err, 'x', sizeof(err));
		if (redis_sentinel_reply(rp, &a, err, sizeof(err)) == 0) {
			if (a.kind != REDIS_ADDR_TCP)
				abort();
			check_addr(&a);
		} else {
			check_err(err, sizeof(err), NULL);
			if (a.kind != 0)
				abort();
		}
		freeReplyObject(rp);
	}
	redisReaderFree(rd);
}

/* A +switch-master message, binary as it comes. */
static void
switch_msg(const uint8_t *data, size_t size)
{
	struct redis_addr to;
	char err[128];
	int rc;

	memset(err, 'x', sizeof(err));
	rc = redis_switch_parse((const char *)data, size, "mymaster", &to,
	    err, sizeof(err));
	if (rc == 1) {
		if (to.kind != REDIS_ADDR_TCP || size < 9 ||
		    memcmp(data, "mymaster ", 9) != 0)
			abort();
		check_addr(&to);
	} else if (rc == -1) {
		check_err(err, sizeof(err), "+switch-master");
		if (to.kind != 0)
			abort();
	} else if (rc != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct redis_addr a[REDIS_SENTINELS_MAX];
	char *s, err[160];
	int n, i;

	if (size < 1 || size > 4096)
		return 0;
	if (data[0] % 4 == 2) {
		reply(data + 1, size - 1);
		return 0;
	}
	if (data[0] % 4 == 3) {
		switch_msg(data + 1, size - 1);
		return 0;
	}
	s = malloc(size);
	if (s == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	memset(err, 'x', sizeof(err));
	if (data[0] % 4 == 0) {
		n = -1;
		if (redis_sentinels_parse(s, a, &n, err, sizeof(err)) == 0) {
			if (n < 1 || n > REDIS_SENTINELS_MAX)
				abort();
			for (i = 0; i < n; i++)
				check_addr(&a[i]);
		} else
			check_err(err, sizeof(err), "redis sentinels");
	} else if (redis_master_name_check(s, err, sizeof(err)) == 0) {
		if (s[0] == '\0' || strlen(s) > REDIS_MASTER_NAME_MAX)
			abort();
		for (i = 0; s[i] != '\0'; i++)
			if ((unsigned char)s[i] <= 0x20 ||
			    (unsigned char)s[i] >= 0x7f)
				abort();
	} else
		check_err(err, sizeof(err), "redis master name");
	free(s);
	return 0;
}
