/*
 * log.h - logfmt event lines on stderr.
 *
 * One line per event: "ts=... level=info event=smpp.bound smsc=a ...".  The
 * caller writes the key=value pairs; values that may hold spaces or quotes
 * go through log_str().  Codes, passwords and tokens are never passed here;
 * phone numbers go through log_phone().
 */
#ifndef LOG_H
#define LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERR };

/* Minimum level written; default LOG_INFO.  Returns -1 for an unknown
 * name ("debug", "info", "warn", "error"). */
int log_set_level(const char *name);
void log_set_level_num(enum log_level);
/* Write one event line: fmt yields the key=value pairs after event=. */
void log_event(enum log_level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define log_debug(ev, ...) log_event(LOG_DEBUG, ev, __VA_ARGS__)
#define log_info(ev, ...) log_event(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_event(LOG_WARN, ev, __VA_ARGS__)
#define log_err(ev, ...) log_event(LOG_ERR, ev, __VA_ARGS__)

/* Buffer lines below warn (on) or write each at once (off, the default);
 * log_flush() writes what is buffered. */
void log_set_buffered(int on);
void log_flush(void);

/*
 * A cap on the lines one repeated event from one peer may write: at most
 * one per interval.  The caller keeps one struct per (peer, event), zeroed
 * at first, and asks before logging:
 *
 *	unsigned n;
 *	if (log_limit_ok(&peer->lim_nack, now_ms, 1000, &n))
 *		log_warn("smpp.generic_nack", "... suppressed=%u", ..., n);
 *
 * 1: write the line now; *suppressed is how many were held back since
 * the last one written (the count starts again).  0: hold it back (it is
 * counted).  Pure: no I/O, no clock.
 */
struct log_limit {
	int64_t last_ms;        /* when the last line went out; 0: never */
	unsigned suppressed;    /* held back since                      */
};
int log_limit_ok(struct log_limit *, int64_t now_ms, int interval_ms,
    unsigned *suppressed);
/* log_event() through a limiter: the line goes out with " suppressed=N"
 * appended, or is held back and counted.  fmt must have at least one
 * key=value pair. */
#define log_limited(lim, now_ms, interval_ms, level, ev, fmt, ...) do {	\
	unsigned log_n_;						\
	if (log_limit_ok((lim), (now_ms), (interval_ms), &log_n_))	\
		log_event((level), (ev), fmt " suppressed=%u",		\
		    __VA_ARGS__, log_n_);				\
} while (0)

/* s quoted and escaped when it needs to be (spaces, quotes, '='), into
 * buf; returns buf. */
const char *log_str(char *buf, size_t size, const char *s);
/* An E.164 number masked but for its last three digits: "+4479******123". */
const char *log_phone(char *buf, size_t size, const char *e164);

#endif
