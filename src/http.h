/*
 * http.h - the HTTP side of the daemon: an HTTP/1.1 listener of our own
 * that routes paths to handlers, reads request bodies into JSON objects,
 * and sends every answer, framing errors included, as JSON.  No client can
 * exhaust it: open connections are capped, each connection's input and
 * output are bounded, and each request has a deadline (see http.c's head
 * comment for the budgets).
 *
 * http.c holds the listener, the routes, the connections and the answers;
 * http_body.c reads and parses bodies.  This header is the face of both,
 * so that a handler includes one file.
 *
 * Results become HTTP statuses here and nowhere else: handlers name an
 * enum http_err and http.c picks the status.  Handlers may answer later
 * (after a commit or an SMPP response); the request stays valid until the
 * answer even if the client went away or the listener was freed.  Every
 * request handed to a handler must be answered exactly once, through one
 * of the http_reply_* functions (or http_body(), which answers its own
 * errors); the answer frees the request, which must not be touched after.
 *
 * Everything runs on the event_base given to http_new(), in its thread;
 * only http_body_parse() and http_err_status() are pure and may be called
 * from anywhere.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>
#include <jansson.h>

struct event_base;
struct http_request;
struct http;

/* The largest request body the API accepts, in octets. */
#define HTTP_MAX_BODY 65536

/* Error kinds; http.c maps each to its status once. */
enum http_err {
	HTTP_ERR_BAD_REQUEST = 0, /* 400 malformed JSON or form            */
	HTTP_ERR_UNAUTHORIZED,    /* 401 missing or unknown key             */
	HTTP_ERR_FORBIDDEN,       /* 403 the key's role may not do this     */
	HTTP_ERR_NOT_FOUND,       /* 404 unknown path or record             */
	HTTP_ERR_METHOD,          /* 405 method not allowed on the path     */
	HTTP_ERR_CONFLICT,        /* 409 state does not allow it            */
	HTTP_ERR_TOO_LARGE,       /* 413 body over 64 KiB                   */
	HTTP_ERR_CONTENT_TYPE,    /* 415 not JSON (or form where allowed)   */
	HTTP_ERR_INVALID,         /* 422 a field's value is wrong           */
	HTTP_ERR_RATE,            /* 429 with Retry-After                   */
	HTTP_ERR_UNAVAILABLE,     /* 503 store full, shutting down          */
	HTTP_ERR_INTERNAL,        /* 500                                    */
	/* Framing errors, answered by the listener itself: */
	HTTP_ERR_TIMEOUT,         /* 408 the request did not arrive in time */
	HTTP_ERR_URI_TOO_LONG,    /* 414 request line over 8 KiB            */
	HTTP_ERR_EXPECTATION,     /* 417 an Expect other than 100-continue  */
	HTTP_ERR_HEADERS_TOO_LARGE, /* 431 head over 16 KiB or 64 fields    */
	HTTP_ERR_NOT_IMPLEMENTED, /* 501 unknown method or transfer coding  */
	HTTP_ERR_VERSION,         /* 505 not HTTP/1.0 or HTTP/1.1           */
};

/* The HTTP status of an error kind: 400 for HTTP_ERR_BAD_REQUEST and so on
 * as listed above; 500 for a value outside the enum.  Pure. */
int http_err_status(enum http_err);

/* Methods for http_route (bit mask).  HTTP_GET also admits HEAD, whose
 * answer is sent without its body. */
#define HTTP_GET  1
#define HTTP_POST 2
/* What http_method() answers for HEAD (routes use HTTP_GET for both). */
#define HTTP_HEAD 4
#define HTTP_DELETE 8

/* A handler gets the request, the part of the decoded path after the
 * route's prefix ("" for exact routes; it lives as long as the call) and
 * the route's arg.  It is called on the loop once per request, after the
 * request's whole body has arrived (within HTTP_MAX_BODY).  It
 * answers now or later, exactly once, with http_reply_json,
 * http_reply_error or http_reply_text (or lets http_body() answer an
 * error); until then the request counts in http_inflight(). */
typedef void (*http_handler)(struct http_request *, const char *rest,
    void *arg);

/* ---- the listener (http.c) -------------------------------------------- */

/*
 * Listen on host:port (port 0: any free port; see http_port()).  max_conn
 * caps open connections: at the cap a newcomer is taken in place of the
 * connection that has waited longest without completing a request (shed),
 * and only when every connection has a request with its handler is the
 * newcomer answered 503 and closed.  request_timeout bounds, in seconds, the time from
 * a connection's accept (or its previous answer) to a complete request;
 * past it the connection is closed, unless a handler holds its request.
 *
 * Returns a listener with no routes (every path answers 404 until
 * http_route() adds some), owned by the caller and freed with http_free();
 * base must outlive it.  On failure (bad parameters, an address that does
 * not resolve or is in use) returns NULL and sets *err (when err is not NULL) to a
 * malloc'd message the caller frees; on success *err is NULL.
 */
struct http *http_new(struct event_base *base, const char *host, int port,
    int max_conn, int request_timeout, char **err);

/*
 * Speak HTTPS on connections accepted from now on: each gets an SSL from
 * tls (tls.h), whose handshake, like a request, must be done within
 * request_timeout; every other bound holds as over plain HTTP.  At the
 * connection cap a newcomer is closed without the plain 503.  tls stays
 * the caller's and must outlive the listener or the next call; NULL goes
 * back to plain HTTP.  Connections already open are not touched.
 */
struct tls;
void http_set_tls(struct http *, struct tls *);

/* The port actually bound (the one chosen when http_new got port 0). */
int http_port(const struct http *);

/*
 * Add a route: an exact path, or a prefix when path ends with '/' (e.g.
 * "/v1/verifications/").  Routes are tried longest first on the
 * %-decoded path, ties in the order added.  path is copied; arg is the
 * caller's and is passed to fn untouched.  A path that matches a route but
 * not its methods is answered 405 with an Allow header; a path that
 * matches none, 404.  Both are JSON errors sent without calling fn.
 */
void http_route(struct http *, int methods, const char *path, http_handler fn,
    void *arg);

/*
 * A gate before every handler: gate(arg, request, route's path) returns 1
 * to call the handler now, or 0 to hold the request and call
 * http_gate_done(request, ok) later, exactly once: the handler then runs
 * (ok), or the request is answered 503 store_unavailable.  For the store
 * on Redis (gw.c): a request's reads wait for store_sync().
 */
typedef int (*http_gate)(void *arg, struct http_request *,
    const char *route);
void http_set_gate(struct http *, http_gate, void *arg);
void http_gate_done(struct http_request *, int ok);
/*
 * From a handler that has not answered: run the request again, from the
 * gate (the store on Redis refused its commit for a conflict: another
 * node changed what it read; the second run reads the new state).  1 when
 * it will (the handler is called again, later or now), 0 when the request
 * did not come through a gate or HTTP_AGAIN_MAX runs are used up: the
 * caller answers.
 */
#define HTTP_AGAIN_MAX 4
int http_again(struct http_request *);

/*
 * Stop accepting connections (the drain on SIGTERM): the listening socket
 * is closed.  Open connections are still served, keep-alive requests on
 * them included, and requests in flight may still be answered; callers
 * wait for http_inflight() to reach 0 before http_free().  A second call
 * does nothing.
 */
void http_stop_accepting(struct http *);

/* Requests handed to handlers and not yet answered, including those whose
 * client has gone away. */
int http_inflight(const struct http *);

/* What the listener has done since http_new, for /metrics. */
struct http_stats {
	unsigned long long accepted;      /* connections taken             */
	unsigned long long shed;          /* closed to make room at the cap */
	unsigned long long refused;       /* turned away (503) at the cap  */
	unsigned long long timeouts;      /* no complete request in time   */
	unsigned long long unread;        /* answers not read in time      */
	unsigned long long bad_requests;  /* refused by the framing (4xx, 5xx) */
	unsigned long long tls_failed;    /* HTTPS handshakes that failed  */
	int open, max_open;               /* connections now; the cap      */
};
void http_stats(const struct http *, struct http_stats *);

/*
 * Close every connection and free the listener and its routes (NULL is
 * allowed).  Route args are not freed.  Requests still unanswered stay
 * valid, orphaned: answering one afterwards with http_reply_json,
 * http_reply_error or http_reply_text sends nothing and frees it, so a
 * handler whose answer comes after a commit need not know the listener is
 * gone.  Not to be called from inside a handler.
 */
void http_free(struct http *);

/* ---- answers (http.c) ------------------------------------------------- */

/*
 * Answer status with body, compact JSON, as application/json with
 * Cache-Control: no-store.  The reference to body is stolen, whatever
 * happens; a NULL body or one that cannot be encoded gives a 500 JSON
 * error instead.  The request is answered and freed.
 */
void http_reply_json(struct http_request *, int status, json_t *body);

/*
 * Answer {"error": {"code": code, "message": msg, "field": field}} with
 * the status of kind; field may be NULL (left out).  msg is formatted from
 * fmt and cut at 511 octets; a message that is not UTF-8 is replaced.  A
 * Retry-After set with http_set_retry_after goes with it, and
 * HTTP_ERR_RATE always carries one (1 second unless set).  code and field
 * are copied.
 */
void http_reply_error(struct http_request *, enum http_err,
    const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Answer 405 method_not_allowed with "Allow:" naming methods (HTTP_GET,
 * which also names HEAD, HTTP_POST and HTTP_DELETE). */
void http_reply_not_allowed(struct http_request *, int methods);

/* Answer status with len octets of text (copied) as Content-Type ctype,
 * with Cache-Control: no-store (metrics). */
void http_reply_text(struct http_request *, int status, const char *ctype,
    const char *text, size_t len);

/* Set Retry-After, in seconds, on the error reply of this request
 * (http_reply_error); the last call wins.  On a request that no route
 * handed out, the header is added at once and goes with any answer. */
void http_set_retry_after(struct http_request *, int seconds);

/* More header fields for this request's answer, whatever it is: lines
 * each "Name: value\r\n", from the handler's own constants (not checked,
 * not copied: lines must outlive the answer, e.g. a static string).  The
 * last call wins.  The status page's Content-Security-Policy. */
void http_set_headers(struct http_request *, const char *lines);

/* The request's method: HTTP_GET, HTTP_HEAD, HTTP_POST or HTTP_DELETE; 0
 * for any other (which no route admits). */
int http_method(struct http_request *);

/* The value of the request header name (any case), or NULL when absent;
 * the first of repeated ones.  It belongs to the request and lives until
 * it is answered. */
const char *http_header(struct http_request *, const char *name);

/* The value of the query parameter name, %-decoded ('+' as space), or NULL
 * when absent or not decodable (a NUL octet); the first of repeated ones.
 * It belongs to the request and lives until it is answered. */
const char *http_query(struct http_request *, const char *name);

/* The request's body: *len octets, not NUL-terminated (a pointer to ""
 * when empty).  It belongs to the request and lives until it is answered. */
const char *http_req_body(struct http_request *, size_t *len);

/* The token of "Authorization: Bearer TOKEN" (scheme in any case), or NULL
 * when the header is absent, of another scheme, or its token is empty or
 * holds white space or control characters.  The string belongs to the
 * request and lives until it is answered. */
const char *http_bearer(struct http_request *);

/* ---- request bodies (http_body.c) --------------------------------------- */

/*
 * The request body as a JSON object, new and owned by the caller.  JSON
 * bodies must be application/json (charset, if given, utf-8), an object,
 * without duplicate keys.  When allow_form is set,
 * application/x-www-form-urlencoded and multipart/form-data bodies are
 * accepted too and become an object of strings (file parts are skipped).
 * On failure the error reply (400, 413, 415) has been sent, the request
 * is answered, and NULL is returned: the handler just returns.
 */
json_t *http_body(struct http_request *, int allow_form);

/*
 * The same without an answer, for the APIs that word their errors their
 * own way: the object, or NULL with *kind and *msg set (either pointer
 * may be NULL).  *msg is static or, for a JSON syntax error, valid until
 * the next parse in this thread.  The caller answers.
 */
json_t *http_body_try(struct http_request *, int allow_form,
    enum http_err *kind, const char **msg);

/*
 * Parse a body from memory: what http_body and http_body_try do once the
 * body is read, and what the fuzz target calls.  ctype is the
 * Content-Type header's value (NULL when absent: 415); body holds len
 * octets, not NUL-terminated (NULL means empty).  A body over
 * HTTP_MAX_BODY is refused (413) unread.  Returns a new object owned by
 * the caller, or NULL with *kind and *err set as for http_body_try.  Pure:
 * no I/O, safe in any thread.
 */
json_t *http_body_parse(const char *ctype, const char *body, size_t len,
    int allow_form, enum http_err *kind, const char **err);


#endif
