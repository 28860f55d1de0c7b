/*
 * e2e_util.h - what check_e2e and check_e2e_policy share beyond
 * harness.h: the fixture over the suite's harness H, a raw HTTP request
 * that keeps the answer's headers, and the readers of hook_sink's log
 * (every webhook event checked for JSON and its signature).
 */
#ifndef E2E_UTIL_H
#define E2E_UTIL_H

#include <stddef.h>

#include <jansson.h>

#include "harness.h"

#define PHONE "+14155550123"
#define HOOK_SECRET "hook-secret-for-tests"
#define HOOK_WAIT_MS 30000

extern struct harness H;        /* the test's (e2e_util.c) */

void setup(void);
void teardown(void);

/* One request, Connection: close, with the whole answer (status line and
 * headers too) into out; its status, or -1.  body (JSON) may be NULL. */
int http_raw_body(const char *method, const char *path, const char *token,
    const char *body, char *out, size_t size);
/* http_raw_body() without a body. */
int http_raw(const char *method, const char *path, const char *token,
    char *out, size_t size);

/* hook_sink's log: the events of type whose data's member field is value
 * (and that came to path, unless NULL) answered 2xx, each checked for
 * JSON and its signature under HOOK_SECRET; *first (caller frees) the
 * first of them, *failed the answers the sink refused (either may be
 * NULL). */
int hook_walk_where(const char *type, const char *field, const char *value,
    const char *path, json_t **first, int *failed);
/* The same for the events of the verification id. */
int hook_walk(const char *type, const char *id, json_t **first,
    int *failed);
int hook_count(const char *type, const char *id, int *failed);
/* The first such event (caller frees), or NULL. */
json_t *hook_event(const char *type, const char *id);
/* Wait up to HOOK_WAIT_MS for one: 0, or -1 when none came. */
int hook_wait(const char *type, const char *id);

#endif
