/*
 * phone_pool.h - phone numbers read off the loop: libphonenumber's parse
 * and validity check (tens of microseconds of regular expressions) run on
 * a worker thread, and the answer comes back to a callback on the loop.
 */
#ifndef PHONE_POOL_H
#define PHONE_POOL_H

#include <stddef.h>

#include "phone.h"

struct event_base;
struct phone_pool;

/* The answer of phone_normalise(): r, and when r is PHONE_OK the E.164
 * form and the number's type.  Called on the loop thread. */
typedef void (*phone_done_cb)(void *arg, enum phone_result r,
    const char *e164, enum phone_type type);

/* A pool answering on base with nthreads workers (0: none, every lookup
 * is done on the caller's thread).  NULL on failure (errno set). */
struct phone_pool *phone_pool_new(struct event_base *base, int nthreads);
/* Normalise number as phone_normalise(number, region, ...) would and call
 * cb with the answer: at once when the answer is cached (or the pool has
 * no worker), otherwise later from the loop.  number and region are
 * copied. */
void phone_pool_lookup(struct phone_pool *, const char *number,
    const char *region, phone_done_cb cb, void *arg);
/* Lookups handed to a worker and not yet answered. */
int phone_pool_pending(const struct phone_pool *);
/* Stop the workers; every lookup not yet answered is answered now (on the
 * caller's thread, in order), then the pool is freed. */
void phone_pool_free(struct phone_pool *);

#endif
