/*
 * util.h - allocation that aborts on out-of-memory, the one clock, and small
 * string helpers shared by the daemon.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xrealloc(void *, size_t);
char *xstrdup(const char *);

/* Wall-clock seconds since the epoch (UTC).  Tests may fix it with
 * util_clock_set(); 0 returns to the real clock. */
int64_t util_now(void);
void util_clock_set(int64_t now);
/* Monotonic milliseconds, for latency and timers; never set by tests. */
int64_t util_mono_ms(void);
/* FNV-1a of a string: for hash tables, no secret rides on it. */
uint32_t util_fnv1a(const char *);
/* Wall-clock milliseconds since the epoch (UTC), for log times and
 * webhook due times; always the real clock, never set by tests. */
int64_t util_now_ms(void);

/* "2026-11-22T07:33:10Z" into out (at least 21 octets). */
void util_rfc3339(int64_t t, char *out, size_t outsize);
/* RFC 3339 ("2026-12-03T12:00:00Z"; a fraction and an offset such as
 * "+01:00", or " 01:00" as a query's unencoded '+' reads, instead of Z)
 * into milliseconds since the epoch: 0, or -1. */
int util_rfc3339_parse(const char *s, int64_t *ms);
/* Lower-case hex of len octets into out (2 * len + 1 octets). */
void util_hex(const uint8_t *in, size_t len, char *out);
/* Split "host:port" (IPv6 as "[::1]:8080").  Returns 0 or -1. */
int util_hostport(const char *s, char *host, size_t hostsize, int *port);
/* Copy at most size-1 octets and terminate; returns strlen(src). */
size_t util_strlcpy(char *dst, const char *src, size_t size);
/* Raise the soft limit on open descriptors to the hard one (at most
 * 1048576), as a server that holds many connections must; the limit now
 * in force, or -1 when it cannot be read. */
long util_raise_nofile(void);

/*
 * Little-endian integers, as the store's records and the limits' counters
 * hold them.
 */
static inline void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void
put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)v);
	put_u32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static inline uint64_t
get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

#endif
