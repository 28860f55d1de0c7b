/*
 * http_parse.h - the framing of an HTTP/1.x request read from memory: the
 * head (request line and header fields) and the size lines of a chunked
 * body.  Pure functions, no I/O: the listener (http.c) calls them on what
 * a connection has sent, the fuzz target (tests/fuzz_http_request.c) on
 * anything.
 *
 * The rules are a strict reading of RFC 9112, as nginx and OpenSMTPD's
 * HTTP clients apply it to hostile input: a refusal names the status to
 * answer (400, 413, 414, 431, 501, 505) and a message for the client; the
 * connection is closed after it, because what follows a badly framed
 * request cannot be trusted to be the next request.
 */
#ifndef HTTP_PARSE_H
#define HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

/* The longest request head (request line, header fields, blank line). */
#define HTTP_HEAD_MAX (16 * 1024)
/* The longest request line; a longer one is refused 414. */
#define HTTP_LINE_MAX (8 * 1024)
/* The most header fields in one request; more are refused 431. */
#define HTTP_FIELDS_MAX 64
/* The longest chunk-size line (with extensions) of a chunked body. */
#define HTTP_CHUNK_LINE_MAX 256

/* Methods: the ones the listener routes.  Other tokens are refused 501. */
enum http_verb {
	HTTP_VERB_GET = 1,
	HTTP_VERB_HEAD,
	HTTP_VERB_POST,
	HTTP_VERB_PUT,
	HTTP_VERB_DELETE,
	HTTP_VERB_PATCH,
	HTTP_VERB_OPTIONS,
	HTTP_VERB_TRACE,
};

/* Why a request is refused: the kind of error (its status is http.c's to
 * say), the API's error code and a message for the client (static
 * strings). */
struct http_refusal {
	enum http_err kind;
	const char *code;
	const char *msg;
};

struct http_field {
	const char *name;       /* as sent; compare without case */
	const char *value;      /* without surrounding white space */
};

/* A parsed head.  Every string points into buf, which it owns. */
struct http_head {
	char *buf;
	enum http_verb verb;
	const char *method;     /* as sent */
	const char *path;       /* the target up to '?', still %-encoded */
	const char *query;      /* after '?' (may be ""), or NULL */
	int minor;              /* HTTP/1.minor: 0 or 1 */
	struct http_field fields[HTTP_FIELDS_MAX];
	int nfield;
	int64_t content_length; /* -1 when absent */
	int chunked;            /* Transfer-Encoding: chunked */
	int keep_alive;         /* the connection may serve another request */
	int expect_continue;    /* Expect: 100-continue */
};

/*
 * Where the head in buf[0, len) ends: the length of the head with its
 * blank line (> 0), 0 when it is not complete yet, or -1 with *why set
 * (a request line longer than HTTP_LINE_MAX: 414; a head longer than
 * HTTP_HEAD_MAX: 431; a bare CR or a NUL octet: 400).  from is where the
 * previous call on the same growing buffer stopped looking (0 the first
 * time; *scanned is set for the next call), so that a head sent an octet
 * at a time is scanned once, not once per octet.  Leading empty lines
 * (which RFC 9112 lets a server ignore) are part of the head.
 */
long http_head_end(const char *buf, size_t len, size_t from,
    size_t *scanned, struct http_refusal *why);

/*
 * Parse a complete head of len octets (as http_head_end measured it) into
 * *h: 0, or -1 with *why set and *h left empty.  Refused: a request line
 * that is not "METHOD SP origin-form SP HTTP/1.x" (HTTP/0.9 included:
 * 400), a version other than 1.0 or 1.1 (505), a method token this
 * listener does not know (501), a target that does not start with '/'
 * (400), a field without a colon, with white space before it, folded onto
 * the next line or with control octets (400), more than HTTP_FIELDS_MAX
 * fields (431), a Content-Length that is not digits or disagrees with a
 * repeated one, or comes with Transfer-Encoding (400), a Transfer-Encoding
 * other than chunked (501; on HTTP/1.0: 400), more than one Host (400), an
 * Expect other than 100-continue (417).  On success free h with
 * http_head_free.
 */
int http_head_parse(const char *buf, size_t len, struct http_head *h,
    struct http_refusal *why);

void http_head_free(struct http_head *);

/* The value of field name (any case), or NULL; the first of repeated ones. */
const char *http_head_field(const struct http_head *, const char *name);

/* The value of name in query ("a=1&b=2", or NULL), both decoded ('+' is a
 * space): malloc'd, the caller frees it; NULL when absent, or when its
 * decoding holds a NUL. */
char *http_query_value(const char *query, const char *name);
/* The token of an Authorization value "Bearer TOKEN" (the scheme in any
 * case, one or more spaces or tabs): a pointer into v, or NULL when v is
 * NULL, of another scheme, or its token is empty or holds white space or
 * a control character. */
const char *http_bearer_token(const char *v);

/*
 * A chunk-size line of len octets without its line end: hex digits, then
 * optional chunk extensions (";name[=value]", ignored).  0 with *size set,
 * or -1 with *why set (400: not hex, empty, or more than 64 bits).
 */
int http_chunk_size(const char *line, size_t len, uint64_t *size,
    struct http_refusal *why);

#endif
