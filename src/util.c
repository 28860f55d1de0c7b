/*
 * util.c - allocation that aborts on out-of-memory, the daemon's one clock,
 * and small string helpers.
 *
 * The x*alloc functions never return NULL: a daemon that cannot get a few
 * hundred octets has nothing sensible left to do, so they print one line
 * and abort.  util_now() is the only source of wall-clock time for policy
 * (expiry, repeat windows); tests fix it with util_clock_set() instead of
 * sleeping.  The override is a file-local static, read only through
 * util_now().
 */
#define _GNU_SOURCE             /* strptime, timegm */
#include <sys/resource.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* 0: the real clock; otherwise the time util_now() returns. */
static int64_t clock_override;

static void
oom(size_t n)
{
	fprintf(stderr, "smsverifyd: out of memory allocating %zu octets\n", n);
	abort();
}

/* malloc that never returns NULL; malloc(0) is made malloc(1). */
void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom(n);
	return p;
}

/* calloc that never returns NULL (and checks nmemb * size overflow). */
void *
xcalloc(size_t nmemb, size_t size)
{
	void *p;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	p = calloc(nmemb, size);
	if (p == NULL)
		oom(nmemb * size);
	return p;
}

/* realloc that never returns NULL. */
void *
xrealloc(void *old, size_t n)
{
	void *p = realloc(old, n ? n : 1);

	if (p == NULL)
		oom(n);
	return p;
}

/* strdup that never returns NULL. */
char *
xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = xmalloc(n);

	memcpy(p, s, n);
	return p;
}

/* Wall-clock seconds, or the value fixed by util_clock_set(). */
int64_t
util_now(void)
{
	if (clock_override != 0)
		return clock_override;
	return (int64_t)time(NULL);
}

/* Fix the clock at now (seconds since the epoch); 0 restores the real one. */
void
util_clock_set(int64_t now)
{
	clock_override = now;
}

/* Monotonic milliseconds; never affected by util_clock_set(). */
int64_t
util_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Real wall-clock milliseconds; never affected by util_clock_set(), so
 * logs and webhook retries keep true times while tests fix policy time. */
int64_t
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* t as "YYYY-MM-DDTHH:MM:SSZ" (UTC).  An empty string when out is too small
 * or t cannot be represented. */
void
util_rfc3339(int64_t t, char *out, size_t outsize)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (outsize == 0)
		return;
	out[0] = '\0';
	if (gmtime_r(&tt, &tm) == NULL)
		return;
	if (strftime(out, outsize, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		out[0] = '\0';
}

/* RFC 3339 into milliseconds since the epoch: "2026-12-03T12:00:00Z", a
 * fraction (to the millisecond; further digits ignored) and an offset
 * ("+01:00"; a space for the '+', as an unencoded '+' in a query reads)
 * optional but one of Z or an offset required. */
int
util_rfc3339_parse(const char *s, int64_t *ms)
{
	struct tm tm;
	const char *p;
	int64_t frac = 0, scale = 1000, t;
	int sign, oh, om;

	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	if (*p == '.') {
		if (!isdigit((unsigned char)p[1]))
			return -1;
		for (p++; isdigit((unsigned char)*p); p++)
			if (scale > 1) {
				scale /= 10;
				frac += (*p - '0') * scale;
			}
	}
	t = (int64_t)timegm(&tm);
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-' || *p == ' ') && strlen(p) == 6 &&
	    isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
	    p[3] == ':' && isdigit((unsigned char)p[4]) &&
	    isdigit((unsigned char)p[5])) {
		sign = *p == '-' ? -1 : 1;
		oh = (p[1] - '0') * 10 + p[2] - '0';
		om = (p[4] - '0') * 10 + p[5] - '0';
		if (oh > 23 || om > 59)
			return -1;
		t -= sign * (oh * 3600 + om * 60);
		p += 6;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	*ms = t * 1000 + frac;
	return 0;
}

/* Lower-case hex of in[0..len) into out, which holds 2 * len + 1 octets. */
void
util_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

/* Parse a decimal port 0..65535 with nothing after it. */
static int
parse_port(const char *s, int *port)
{
	long v = 0;
	const char *p;

	if (*s == '\0' || strlen(s) > 5)
		return -1;
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

/*
 * Split "host:port", "[v6addr]:port" into host (without brackets) and port.
 * The host must be non-empty, without spaces, and fit in hostsize; an
 * unbracketed host may not contain ':' (write IPv6 in brackets).  Returns 0
 * or -1 (host and port untouched on error).
 */
int
util_hostport(const char *s, char *host, size_t hostsize, int *port)
{
	const char *colon, *h, *p;
	size_t hlen;
	int portv;

	if (s == NULL || hostsize == 0)
		return -1;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
		if (memchr(h, '[', hlen) != NULL)
			return -1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		h = s;
		hlen = (size_t)(colon - s);
		if (memchr(h, ':', hlen) != NULL || memchr(h, ']', hlen))
			return -1;
	}
	if (hlen == 0 || hlen >= hostsize)
		return -1;
	for (p = h; p < h + hlen; p++)
		if (!isgraph((unsigned char)*p))
			return -1;
	if (parse_port(colon + 1, &portv) != 0)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = portv;
	return 0;
}

/* BSD strlcpy: copy at most size - 1 octets, always terminate (size > 0),
 * return strlen(src) so truncation shows as a result >= size. */
size_t
util_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

long
util_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max;

		if (want == RLIM_INFINITY || want > 1048576)
			want = 1048576;
		if (want > rl.rlim_cur) {
			rl.rlim_cur = want;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
			(void)getrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	return rl.rlim_cur == RLIM_INFINITY ? 1048576 : (long)rl.rlim_cur;
}

uint32_t
util_fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}
