/*
 * api_status.h - the status page's Content-Security-Policy (api_status.c,
 * which serves GET /status and GET /openapi.json; api.h registers them).
 */
#ifndef API_STATUS_H
#define API_STATUS_H

#include <stddef.h>

/* The longest policy api_status_policy() makes, NUL included. */
#define API_STATUS_POLICY_MAX 900

/*
 * The Content-Security-Policy value for an HTML page of len octets whose
 * only code is its inline <script> and <style> elements (exactly those
 * tags, without attributes; at most 8 of each; HTML comments are skipped):
 * "default-src 'none'; script-src 'sha256-...' ...; style-src ...;
 * connect-src 'self'; ..." naming each element's SHA-256, so that the page
 * runs its own code and nothing else, and talks to its origin only.  A
 * kind the page has none of is 'none'.  Writes it NUL-terminated to out
 * and returns 0; -1 when an element is not closed, there are too many, or
 * out is too small.  Pure.
 */
int api_status_policy(const char *page, size_t len, char *out,
    size_t outsize);

#endif
