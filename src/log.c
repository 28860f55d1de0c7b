/*
 * log.c - logfmt event lines on stderr.
 *
 * Every event is one line:
 *
 *   ts=2026-11-22T07:33:10.123Z level=info event=smpp.bound smsc=a ...
 *
 * formatted completely in memory and handed to the kernel with a single
 * write(2), so lines from one process never interleave and a line is never
 * half-written by us.  The timestamp is the real wall clock with
 * milliseconds (util_now_ms(), not util_now(): tests that fix the policy
 * clock still get true log times).  The level filter is the only state
 * here; it is set once from [server] log_level and on reload.
 *
 * Secrets never come here.  Values from outside (names, reasons, error
 * texts) go through log_str(); phone numbers through log_phone().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static enum log_level min_level = LOG_INFO;

static const char *const level_names[] = {
	[LOG_DEBUG] = "debug",
	[LOG_INFO] = "info",
	[LOG_WARN] = "warn",
	[LOG_ERR] = "error",
};

/* Set the minimum level by name; -1 (level unchanged) for an unknown name. */
int
log_set_level(const char *name)
{
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			min_level = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

/* Set the minimum level. */
void
log_set_level_num(enum log_level level)
{
	if (level >= LOG_DEBUG && level <= LOG_ERR)
		min_level = level;
}

/* Write all of buf to stderr, retrying on EINTR and short writes. */
static void
write_all(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

/*
 * Buffering.  Under load the daemon logs a few lines per request; a write(2)
 * each costs more than the request's own work.  With buffering on, lines
 * below warn collect in a buffer that is written, whole lines only, when it
 * would overflow and when log_flush() runs (the daemon calls it on a short
 * timer and before it exits).  A warning or error flushes what is buffered
 * and goes out at once, in order.
 */
static char lbuf[64 * 1024];
static size_t llen;
static int buffered;

void
log_flush(void)
{
	if (llen > 0) {
		write_all(lbuf, llen);
		llen = 0;
	}
}

void
log_set_buffered(int on)
{
	if (!on)
		log_flush();
	buffered = on;
}

static void
log_emit(enum log_level level, const char *line, size_t len)
{
	if (buffered && level < LOG_WARN && len <= sizeof(lbuf)) {
		if (llen + len > sizeof(lbuf))
			log_flush();
		memcpy(lbuf + llen, line, len);
		llen += len;
		return;
	}
	log_flush();
	write_all(line, len);
}

/*
 * Format and write one event line if level passes the filter.  fmt gives
 * the pairs after "event=NAME"; an empty fmt gives none.  The line is built
 * in a stack buffer, or a heap one when the pairs are long, and written
 * with one write(2).
 */
void
log_event(enum log_level level, const char *event, const char *fmt, ...)
{
	static time_t ts_sec = -1;
	static char ts[32];             /* "2026-11-22T07:33:10", per second */
	char stackbuf[1024], *buf = stackbuf;
	int64_t now_ms;
	time_t sec;
	struct tm tm;
	va_list ap;
	int hlen, plen;
	size_t total, room, elen = strlen(event);

	if (level < min_level)
		return;
	if (level < LOG_DEBUG || level > LOG_ERR)
		level = LOG_ERR;

	now_ms = util_now_ms();
	sec = (time_t)(now_ms / 1000);
	if (sec != ts_sec) {
		gmtime_r(&sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		ts_sec = sec;
	}
	hlen = snprintf(buf, sizeof(stackbuf), "ts=%s.%03ldZ level=%s event=",
	    ts, (long)(now_ms % 1000), level_names[level]);
	if (hlen < 0 || (size_t)hlen + elen + 3 >= sizeof(stackbuf))
		return;
	memcpy(buf + hlen, event, elen);
	total = (size_t)hlen + elen;
	/* Format the pairs straight into the stack buffer; only a line that
	 * does not fit is formatted again into a heap buffer. */
	room = sizeof(stackbuf) - total - 2;     /* ' ' and '\n' */
	va_start(ap, fmt);
	plen = vsnprintf(buf + total + 1, room, fmt, ap);
	va_end(ap);
	if (plen < 0)
		plen = 0;
	if ((size_t)plen >= room) {
		buf = malloc(total + (size_t)plen + 3);
		if (buf == NULL)
			return;
		memcpy(buf, stackbuf, total);
		va_start(ap, fmt);
		vsnprintf(buf + total + 1, (size_t)plen + 1, fmt, ap);
		va_end(ap);
	}
	if (plen > 0) {
		buf[total] = ' ';
		total += 1 + (size_t)plen;
	}
	buf[total++] = '\n';
	log_emit(level, buf, total);
	if (buf != stackbuf)
		free(buf);
}

/* 1 when s must be quoted to stay one logfmt value. */
static int
needs_quotes(const char *s)
{
	const unsigned char *p;

	if (*s == '\0')
		return 1;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= ' ' || *p == '=' || *p == '"' || *p == 0x7f)
			return 1;
	return 0;
}

/*
 * s as a logfmt value into buf: as is when it is a plain token, otherwise
 * in double quotes with '"' and '\' backslash-escaped and control
 * characters written as \n, \r, \t or \xNN.  A value that does not fit is
 * cut at a character boundary of the escaped form (and still closed by a
 * quote).  A NULL s is written as "".  Returns buf.
 */
const char *
log_str(char *buf, size_t size, const char *s)
{
	const unsigned char *p;
	size_t o = 0;
	char esc[5];

	if (size == 0)
		return buf;
	if (s == NULL)
		s = "";
	if (!needs_quotes(s)) {
		size_t n = strlen(s);

		if (n >= size)
			n = size - 1;
		memcpy(buf, s, n);
		buf[n] = '\0';
		return buf;
	}
	if (size < 3) {
		buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		size_t elen;

		switch (*p) {
		case '"':
			memcpy(esc, "\\\"", 3);
			break;
		case '\\':
			memcpy(esc, "\\\\", 3);
			break;
		case '\n':
			memcpy(esc, "\\n", 3);
			break;
		case '\r':
			memcpy(esc, "\\r", 3);
			break;
		case '\t':
			memcpy(esc, "\\t", 3);
			break;
		default:
			if (*p < ' ' || *p == 0x7f)
				snprintf(esc, sizeof(esc), "\\x%02x", *p);
			else {
				esc[0] = (char)*p;
				esc[1] = '\0';
			}
		}
		elen = strlen(esc);
		/* keep room for the closing quote and the NUL */
		if (o + elen + 2 > size)
			break;
		memcpy(buf + o, esc, elen);
		o += elen;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/*
 * A phone number for the log.  E.164 ("+" and 7..15 digits): the last three
 * digits are kept; numbers of 10 digits or more also keep their first four
 * (country code and the start of the national number, to tell routes
 * apart): "+447911123123" -> "+4479******123".  Anything else is masked
 * entirely, keeping only its length ("*******").  Returns buf.
 */
const char *
log_phone(char *buf, size_t size, const char *e164)
{
	size_t n, i, digits, keep_head;
	int valid = 1;

	if (size == 0)
		return buf;
	if (e164 == NULL)
		e164 = "";
	n = strlen(e164);
	digits = n > 0 ? n - 1 : 0;
	if (n == 0 || e164[0] != '+' || digits < 7 || digits > 15)
		valid = 0;
	for (i = 1; valid && i < n; i++)
		if (e164[i] < '0' || e164[i] > '9')
			valid = 0;
	if (n >= size)
		n = size - 1;
	if (!valid) {
		memset(buf, '*', n);
		buf[n] = '\0';
		return buf;
	}
	keep_head = digits >= 10 ? 4 : 0;
	buf[0] = '+';
	for (i = 1; i < n; i++) {
		size_t d = i - 1;	/* index among the digits */

		if (d < keep_head || d >= digits - 3)
			buf[i] = e164[i];
		else
			buf[i] = '*';
	}
	buf[n] = '\0';
	return buf;
}

/* See log.h. */
int
log_limit_ok(struct log_limit *l, int64_t now_ms, int interval_ms,
    unsigned *suppressed)
{
	if (l->last_ms != 0 && now_ms - l->last_ms < interval_ms) {
		if (l->suppressed < UINT32_MAX)
			l->suppressed++;
		return 0;
	}
	if (suppressed != NULL)
		*suppressed = l->suppressed;
	l->suppressed = 0;
	l->last_ms = now_ms != 0 ? now_ms : 1;
	return 1;
}
