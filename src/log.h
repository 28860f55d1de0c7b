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

/* s quoted and escaped when it needs to be (spaces, quotes, '='), into
 * buf; returns buf. */
const char *log_str(char *buf, size_t size, const char *s);
/* An E.164 number masked but for its last three digits: "+4479******123". */
const char *log_phone(char *buf, size_t size, const char *e164);

#endif
