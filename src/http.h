/*
 * http.h - the evhttp listener: path routing, body reading, JSON replies and
 * errors, Bearer tokens, and protection against slow or idle clients (a cap
 * on open connections and a deadline for each request's headers and body).
 * http.c holds the listener and the answers, http_body.c the bodies.
 *
 * Results become HTTP statuses here and nowhere else: handlers name an
 * enum http_err and http.c picks the status.  Handlers may answer later
 * (after a commit or an SMPP response); libevent keeps the request alive
 * until the answer even if the client went away.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>
#include <jansson.h>

struct event_base;
struct evhttp_request;
struct http;

#define HTTP_MAX_BODY 65536

/* Error kinds; http.c maps each to its status once. */
enum http_err {
	HTTP_ERR_BAD_REQUEST = 0, /* 400 malformed JSON or form            */
	HTTP_ERR_UNAUTHORIZED,    /* 401 missing or unknown key             */
	HTTP_ERR_NOT_FOUND,       /* 404 unknown path or record             */
	HTTP_ERR_METHOD,          /* 405 method not allowed on the path     */
	HTTP_ERR_CONFLICT,        /* 409 state does not allow it            */
	HTTP_ERR_TOO_LARGE,       /* 413 body over 64 KiB                   */
	HTTP_ERR_CONTENT_TYPE,    /* 415 not JSON (or form where allowed)   */
	HTTP_ERR_INVALID,         /* 422 a field's value is wrong           */
	HTTP_ERR_RATE,            /* 429 with Retry-After                   */
	HTTP_ERR_UNAVAILABLE,     /* 503 store full, shutting down          */
	HTTP_ERR_INTERNAL,        /* 500                                    */
};
int http_err_status(enum http_err);

/* Methods for http_route (bit mask). */
#define HTTP_GET  1
#define HTTP_POST 2

/* A handler gets the request, the part of the path after the route's
 * prefix ("" for exact routes) and the route's arg.  It answers now or
 * later with http_reply_json / http_reply_error. */
typedef void (*http_handler)(struct evhttp_request *, const char *rest,
    void *arg);

/* Listen on host:port.  max_conn caps open connections (more are closed at
 * once); request_timeout bounds, in seconds, the time from a connection's
 * accept (or its previous answer) to a complete request.  Returns NULL and a
 * malloc'd *err on failure. */
struct http *http_new(struct event_base *, const char *host, int port,
    int max_conn, int request_timeout, char **err);
/* The port actually bound (useful with port 0). */
int http_port(const struct http *);
/* Add a route: exact path, or a prefix when path ends with '/' (e.g.
 * "/v1/verifications/").  Routes are tried longest first. */
void http_route(struct http *, int methods, const char *path, http_handler,
    void *arg);
/* Stop accepting connections (drain on SIGTERM). */
void http_stop_accepting(struct http *);
/* Requests handed to handlers and not yet answered. */
int http_inflight(const struct http *);
void http_free(struct http *);

/* Answer with status and body (the reference is stolen). */
void http_reply_json(struct evhttp_request *, int status, json_t *body);
/* Answer {"error": {"code": code, "message": msg, "field": field}}; field
 * may be NULL.  Adds Retry-After: retry_after for HTTP_ERR_RATE. */
void http_reply_error(struct evhttp_request *, enum http_err,
    const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Answer a plain-text body (metrics). */
void http_reply_text(struct evhttp_request *, int status, const char *ctype,
    const char *text, size_t len);
/* Set Retry-After on the next error reply of this request (seconds). */
void http_set_retry_after(struct evhttp_request *, int seconds);

/* The request body as a JSON object.  JSON bodies must be
 * application/json; when allow_form is set, application/x-www-form-urlencoded
 * and multipart/form-data bodies become an object of strings.  On failure
 * the error reply (400, 413, 415) has been sent and NULL is returned. */
json_t *http_body(struct evhttp_request *, int allow_form);
/* The same without an answer: NULL with *kind and *msg (static) set, for
 * the APIs that word their errors their own way. */
json_t *http_body_try(struct evhttp_request *, int allow_form,
    enum http_err *kind, const char **msg);
/* Parse a body from memory (the part http_body and the fuzz target share).
 * Returns the object or NULL with *err set to a static message and
 * *kind to the error kind. */
json_t *http_body_parse(const char *ctype, const char *body, size_t len,
    int allow_form, enum http_err *kind, const char **err);
/* 0 when the request's body is within HTTP_MAX_BODY; -1 once a JSON 413
 * has been sent.  The router asks it before any handler. */
int http_body_check_size(struct evhttp_request *);
/* The token of "Authorization: Bearer TOKEN", or NULL. */
const char *http_bearer(struct evhttp_request *);

#endif
