/*
 * http.c - the HTTP/1.1 listener: connections, the reading of requests,
 * routing of paths, and every answer (JSON, errors, text) with its status.
 * The framing of a request is parsed in http_parse.c; bodies are read
 * into JSON in http_body.c.
 *
 * Why not evhttp.  libevent 2.1's evhttp keeps reading a connection
 * whatever it has queued to write (a client pipelining requests without
 * reading the answers grew the daemon to 2 GB), buffers a declared body
 * before it can be refused, and answers framing errors itself, in HTML,
 * with no hook to take the answer over (evhttp_set_errorcb is 2.2).  So
 * the listener is our own, on bufferevents, as OpenSMTPD and nginx keep
 * their own: every answer the daemon sends is JSON in the API's error
 * shape, framing errors included (400, 405 with Allow, 408 is never sent:
 * a slow client is closed silently, 413, 414, 417, 431, 501, 505).
 * libevent owns no answer.
 *
 * One connection, one request at a time.  A connection reads one request
 * (head, then body) and hands it to its route's handler; while the handler
 * has it, the connection takes no further request (pipelined ones wait in
 * its input buffer, up to the cap below, then in the socket, so at most one
 * request per connection is in flight), but its read event stays armed: no
 * epoll_ctl to stop and restart reading around every request.  The answer
 * is written to the socket at once over plain TCP when nothing waits
 * before it (no write event to arm and disarm either), else queued on the
 * connection's output buffer; the connection then reads the next request,
 * unless more than HTTP_OUT_MAX octets of answers are waiting for the
 * client to read them: then it reads nothing until they are written.
 * Both cut the system calls of a request to a read, an ioctl and a write
 * (README, Benchmarks).  What is read is bounded too: the input buffer by a
 * read high watermark (HTTP_IN_MAX), a head by HTTP_HEAD_MAX, a body by
 * HTTP_MAX_BODY, refused by its Content-Length before a byte of it is
 * read, and a chunked body cut at the limit.  Memory per connection is
 * thus bounded by about HTTP_IN_MAX + HTTP_MAX_BODY + HTTP_OUT_MAX plus
 * one answer, whatever the client does.
 *
 * Time is bounded by one deadline per connection (its timer): from accept
 * or the previous answer, request_timeout seconds to send a complete
 * request, and for the answers to be read; no deadline while a handler
 * has the request.  A connection past its deadline is closed (a client
 * sending a byte a second never trips an idle timeout, so the deadline is
 * absolute).  A refused request (a framing error) is answered and the
 * connection closed once the answer is written, within the same deadline.
 *
 * HTTPS (http_set_tls) changes only the bufferevent: each accepted
 * connection gets an SSL from tls.c and an OpenSSL bufferevent, whose
 * handshake runs under the same deadline as a request; every bound above
 * holds on the decrypted stream, and OpenSSL adds its record buffers (up
 * to about 34 KiB, released while the connection is idle).
 *
 * Connections over max_conn are accepted, answered 503 in one send and
 * closed (over HTTPS just closed).  Repeated events (refusals, deadlines, framing errors) are
 * logged at most once a second each, with the count held back.
 *
 * Requests.  A request handed to a handler stays valid until answered,
 * even if its client went away (it is detached from the connection) or
 * the listener was freed (http_free orphans it: the answer is dropped and
 * the request freed).  Those decisions are made here, from the request,
 * whatever the caller did with its http pointer.
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>      /* evhttp_uridecode only */
#include <event2/listener.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "http.h"
#include "http_int.h"
#include "http_parse.h"
#include "log.h"
#include "tls.h"
#include "util.h"

/* Answers waiting for the client to read them, past which the connection
 * stops reading requests. */
#define HTTP_OUT_MAX (64 * 1024)
/* The read high watermark: what one read may leave in the input buffer. */
#define HTTP_IN_MAX (HTTP_HEAD_MAX + 4096)
/* Lingering close (as nginx's): after the last answer of a connection we
 * close, we send FIN and read and discard what the client still sends, at
 * most this much for at most LINGER_S seconds, so that closing with unread
 * input (which makes the kernel send RST) does not destroy the answer
 * before the client has read it. */
#define LINGER_MAX (1024 * 1024)
#define LINGER_S 5
/* The listen backlog, as nginx's: room for a burst of connections while
 * the loop is busy (the kernel caps it at net.core.somaxconn). */
#define HTTP_BACKLOG 511
/* At most one line a second per kind of repeated event. */
#define LOG_EVERY_MS 1000

/*
 * A connection's life.  HEAD -> BODY or CHUNK_* -> BUSY when a request is
 * complete and handed over; BUSY -> HEAD when it is answered (or CLOSING
 * when the connection is not kept alive); any reading state -> CLOSING on
 * a framing error.  The connection is freed from CLOSING once its output
 * is written, and from any state on its deadline, EOF or a socket error.
 */
enum conn_state {
	CONN_HEAD,          /* reading a request head                     */
	CONN_BODY,          /* reading a body of Content-Length octets    */
	CONN_CHUNK_SIZE,    /* reading a chunk-size line                  */
	CONN_CHUNK_DATA,    /* reading a chunk's octets                   */
	CONN_CHUNK_END,     /* reading the line end after a chunk         */
	CONN_TRAILER,       /* reading trailer fields up to a blank line  */
	CONN_BUSY,          /* a handler has the request; not reading     */
	CONN_CLOSING,       /* writing the last answer; then closed       */
};

struct conn {
	enum conn_state state;
	struct http *http;
	uint64_t id;                /* for the log                        */
	struct bufferevent *bev;
	struct event *timer;        /* the deadline                       */
	struct event *resume;       /* read what is buffered, on the loop */
	struct http_request *req;   /* being read or with its handler     */
	size_t scanned;             /* of the head, by http_head_end      */
	size_t trailer;             /* octets of trailer fields read      */
	size_t discarded;           /* CLOSING: input read and dropped    */
	int paused;                 /* HEAD, not reading: output > cap    */
	int lingering;              /* CLOSING: FIN sent, draining input  */
	int eof;                    /* the client closed its side         */
	int idle;                   /* in http->idle                      */
	SSL *ssl;                   /* HTTPS: the bufferevent's, or NULL  */
	int tls_up;                 /* its handshake completed           */
	TAILQ_ENTRY(conn) entry;
	TAILQ_ENTRY(conn) ientry;   /* http->idle                         */
};

/* The status and reason of each error kind: the one mapping. */
static const struct {
	int status;
	const char *reason;
} err_table[] = {
	[HTTP_ERR_BAD_REQUEST] = { 400, "Bad Request" },
	[HTTP_ERR_UNAUTHORIZED] = { 401, "Unauthorized" },
	[HTTP_ERR_FORBIDDEN] = { 403, "Forbidden" },
	[HTTP_ERR_NOT_FOUND] = { 404, "Not Found" },
	[HTTP_ERR_METHOD] = { 405, "Method Not Allowed" },
	[HTTP_ERR_CONFLICT] = { 409, "Conflict" },
	[HTTP_ERR_TOO_LARGE] = { 413, "Payload Too Large" },
	[HTTP_ERR_CONTENT_TYPE] = { 415, "Unsupported Media Type" },
	[HTTP_ERR_INVALID] = { 422, "Unprocessable Entity" },
	[HTTP_ERR_RATE] = { 429, "Too Many Requests" },
	[HTTP_ERR_UNAVAILABLE] = { 503, "Service Unavailable" },
	[HTTP_ERR_INTERNAL] = { 500, "Internal Server Error" },
	[HTTP_ERR_TIMEOUT] = { 408, "Request Timeout" },
	[HTTP_ERR_URI_TOO_LONG] = { 414, "URI Too Long" },
	[HTTP_ERR_EXPECTATION] = { 417, "Expectation Failed" },
	[HTTP_ERR_HEADERS_TOO_LARGE] = { 431,
	    "Request Header Fields Too Large" },
	[HTTP_ERR_NOT_IMPLEMENTED] = { 501, "Not Implemented" },
	[HTTP_ERR_VERSION] = { 505, "HTTP Version Not Supported" },
};

static void conn_advance(struct conn *);

/* A body over HTTP_MAX_BODY, by its Content-Length or its chunks. */
static const struct http_refusal too_large = {
	HTTP_ERR_TOO_LARGE, "body_too_large", "the body is over 64 KiB"
};

/* The repeated events, each with its limiter, for held_cb. */
#define HELD_EVENTS(http) { \
	{ &(http)->log_refused, LOG_WARN, "http.conn_refused" }, \
	{ &(http)->log_deadline, LOG_INFO, "http.deadline" }, \
	{ &(http)->log_bad, LOG_INFO, "http.refused" }, \
	{ &(http)->log_slow, LOG_INFO, "http.unread_answers" }, \
	{ &(http)->log_shed, LOG_WARN, "http.shed" }, \
	{ &(http)->log_accept, LOG_WARN, "http.accept_failed" }, \
}

/* The HTTP status of an error kind (500 for a value out of range). */
int
http_err_status(enum http_err kind)
{
	if ((unsigned)kind >= sizeof(err_table) / sizeof(err_table[0]) ||
	    err_table[kind].status == 0)
		return 500;
	return err_table[kind].status;
}

/* The reason phrase for a status we send. */
static const char *
status_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	}
	for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (err_table[i].status == status)
			return err_table[i].reason;
	return status < 400 ? "OK" : status < 500 ? "Bad Request" : "Error";
}

/* A malloc'd message for http_new's *err. */
static void
set_err(char **err, const char *fmt, ...)
{
	va_list ap;
	char buf[256];

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	*err = xstrdup(buf);
}

static const char *
conn_strstate(enum conn_state st)
{
	switch (st) {
	case CONN_HEAD: return "head";
	case CONN_BODY: return "body";
	case CONN_CHUNK_SIZE: return "chunk_size";
	case CONN_CHUNK_DATA: return "chunk_data";
	case CONN_CHUNK_END: return "chunk_end";
	case CONN_TRAILER: return "trailer";
	case CONN_BUSY: return "busy";
	case CONN_CLOSING: return "closing";
	}
	return "?";
}

static void
conn_enter_state(struct conn *c, enum conn_state st)
{
	log_debug("http.conn", "id=%" PRIu64 " state=%s->%s", c->id,
	    conn_strstate(c->state), conn_strstate(st));
	c->state = st;
}

/* A line was held back: make sure its count is reported, even if no
 * event of its kind comes again. */
static void
log_held(struct http *http)
{
	struct timeval tv = { LOG_EVERY_MS / 1000, (LOG_EVERY_MS % 1000) *
	    1000 + 100 * 1000 };

	if (!evtimer_pending(http->held_ev, NULL))
		evtimer_add(http->held_ev, &tv);
}

/* Report what each limiter held back since its last line. */
static void
held_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http *http = arg;
	struct {
		struct log_limit *l;
		enum log_level level;
		const char *event;
	} ev[] = HELD_EVENTS(http);
	int64_t now = util_mono_ms();
	int again = 0;
	unsigned n;

	for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
		if (ev[i].l->suppressed == 0)
			continue;
		if (log_limit_ok(ev[i].l, now, LOG_EVERY_MS, &n))
			log_event(ev[i].level, ev[i].event, "suppressed=%u", n);
		else
			again = 1;
	}
	if (again)
		log_held(http);
}

/* May this repeated event be logged now?  If not it is counted, and the
 * count reported within a second or so. */
static int
log_ok(struct http *http, struct log_limit *l, unsigned *held)
{
	if (log_limit_ok(l, util_mono_ms(), LOG_EVERY_MS, held))
		return 1;
	log_held(http);
	return 0;
}

/* ---- requests ----------------------------------------------------------- */

static struct http_request *
req_new(struct conn *c)
{
	struct http_request *r = xcalloc(1, sizeof(*r));

	r->http = c->http;
	r->conn = c;
	r->head.content_length = -1;
	return r;
}

static void
req_free(struct http_request *r)
{
	http_head_free(&r->head);
	free(r->body);
	for (int i = 0; i < r->nqv; i++)
		free(r->qv[i]);
	free(r->qv);
	free(r->gpath);
	free(r);
}

/* Room for n more body octets (and a NUL); the caller has checked the
 * total against HTTP_MAX_BODY. */
static void
req_body_grow(struct http_request *r, size_t n)
{
	r->body = xrealloc(r->body, r->len + n + 1);
}

/* ---- connections ---------------------------------------------------------- */

static void
conn_deadline(struct conn *c, int seconds)
{
	struct timeval tv = { seconds, 0 };

	evtimer_add(c->timer, &tv);
}

/* A connection waiting for a request's first octet or its rest may be
 * shed; one with a handler or closing may not. */
static void
conn_idle(struct conn *c, int idle)
{
	struct http *http = c->http;

	if (idle && !c->idle)
		TAILQ_INSERT_TAIL(&http->idle, c, ientry);
	else if (!idle && c->idle)
		TAILQ_REMOVE(&http->idle, c, ientry);
	c->idle = idle;
}

/* Forget the connection and close its socket.  A request with a handler
 * is detached (answered later into nothing); one being read is freed. */
static void
conn_free(struct conn *c)
{
	struct http *http = c->http;
	evutil_socket_t fd;

	log_debug("http.close", "id=%" PRIu64 " state=%s", c->id,
	    conn_strstate(c->state));
	TAILQ_REMOVE(&http->conns, c, entry);
	conn_idle(c, 0);
	http->nconn--;
	if (c->req != NULL) {
		if (c->req->handled)
			c->req->conn = NULL;
		else
			req_free(c->req);
	}
	/* The socket is closed now, not when libevent finalizes the
	 * bufferevent on a later turn of the loop (which may not come, in
	 * http_free). */
	fd = bufferevent_getfd(c->bev);
	/* An HTTPS bufferevent frees its SSL when libevent finalizes it
	 * (BEV_OPT_CLOSE_ON_FREE), and would close the descriptor then
	 * too, by which time its number may be another connection's: the
	 * SSL forgets it, and it is closed below. */
	if (c->ssl != NULL)
		BIO_set_fd(SSL_get_rbio(c->ssl), -1, BIO_NOCLOSE);
	/* Out of the event loop's watch before the close, even when this
	 * runs inside one of the bufferevent's callbacks (which hold a
	 * reference that delays the free). */
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_free(c->bev);
	if (fd >= 0)
		evutil_closesocket(fd);
	event_free(c->timer);
	event_free(c->resume);
	free(c);
}

/* Close once what is queued is written (see LINGER_MAX); what the client
 * sends meanwhile is read and dropped. */
static void
conn_close_after_output(struct conn *c)
{
	conn_enter_state(c, CONN_CLOSING);
	conn_idle(c, 0);
	if (!c->eof)
		bufferevent_enable(c->bev, EV_READ);
	conn_deadline(c, c->http->request_timeout);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		event_active(c->resume, EV_TIMEOUT, 0);
}

/* CLOSING, the last answer written: free the connection, or when the
 * client may still be sending, send FIN and drain until its EOF. */
static void
conn_linger(struct conn *c)
{
	if (c->eof || c->lingering) {
		if (c->eof)
			conn_free(c);
		return;
	}
	c->lingering = 1;
	/* HTTPS: close_notify first, so the client sees a clean end of
	 * the stream (the output is empty: it goes straight out). */
	if (c->ssl != NULL && SSL_is_init_finished(c->ssl))
		(void)SSL_shutdown(c->ssl);
	shutdown(bufferevent_getfd(c->bev), SHUT_WR);
	conn_deadline(c, c->http->request_timeout < LINGER_S ?
	    c->http->request_timeout : LINGER_S);
}

/* The Date header's value, remade once a second. */
static const char *
http_date(void)
{
	static char buf[64];
	static time_t made;
	time_t now = time(NULL);
	struct tm tm;

	if (now != made && gmtime_r(&now, &tm) != NULL) {
		strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		made = now;
	}
	return buf;
}

/* Send what buf holds on c: straight to the socket when it is plain TCP
 * and nothing is queued before it (no write event to arm and disarm, and
 * the answer leaves in this turn of the loop), else, and for whatever the
 * socket did not take, through the bufferevent's output as before (its
 * write event, its error handling, conn_write_cb when it is written). */
static void
conn_send(struct conn *c, struct evbuffer *buf)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	evutil_socket_t fd = bufferevent_getfd(c->bev);

	if (c->ssl == NULL && fd >= 0 && evbuffer_get_length(out) == 0)
		(void)evbuffer_write(buf, fd);  /* an error shows below */
	if (evbuffer_get_length(buf) > 0)
		evbuffer_add_buffer(out, buf);
}

/* Queue one answer on the connection.  head_only: HEAD, the length but no
 * body.  close: say so, and close after it. */
static void
conn_write_answer(struct conn *c, int status, const char *ctype,
    const char *body, size_t len, const struct http_request *r, int head_only,
    int close, int http10_keep)
{
	struct evbuffer *out = c->http->answer;

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Date: %s\r\n", status, status_reason(status), ctype, len,
	    http_date());
	if (r != NULL && r->retry_after > 0)
		evbuffer_add_printf(out, "Retry-After: %d\r\n",
		    r->retry_after);
	if (r != NULL && r->allow[0] != '\0')
		evbuffer_add_printf(out, "Allow: %s\r\n", r->allow);
	if (r != NULL && r->headers != NULL)
		evbuffer_add(out, r->headers, strlen(r->headers));
	if (close)
		evbuffer_add(out, "Connection: close\r\n", 19);
	else if (http10_keep)
		evbuffer_add(out, "Connection: keep-alive\r\n", 24);
	evbuffer_add(out, "\r\n", 2);
	if (!head_only)
		evbuffer_add(out, body, len);
	conn_send(c, out);
}

/* Answer a request the listener refuses (framing, size) and close. */
static void
conn_refuse(struct conn *c, const struct http_refusal *why)
{
	struct http *http = c->http;
	char text[512];
	unsigned held;
	size_t n;
	json_t *e;

	http->stats.bad_requests++;
	if (log_ok(http, &http->log_bad, &held))
		log_info("http.refused", "id=%" PRIu64 " status=%d code=%s "
		    "suppressed=%u", c->id, http_err_status(why->kind),
		    why->code, held);
	e = json_pack("{s:{s:s, s:s}}", "error", "code", why->code,
	    "message", why->msg);
	n = e != NULL ? json_dumpb(e, text, sizeof(text), JSON_COMPACT) : 0;
	json_decref(e);
	if (n == 0 || n > sizeof(text))
		n = (size_t)snprintf(text, sizeof(text),
		    "{\"error\":{\"code\":\"bad_request\"}}");
	if (c->req != NULL) {
		req_free(c->req);
		c->req = NULL;
	}
	conn_write_answer(c, http_err_status(why->kind),
	    "application/json; charset=utf-8", text, n, NULL, 0, 1, 0);
	conn_close_after_output(c);
}

/* ---- routing ---------------------------------------------------------------- */

/* The request's path, %-decoded, or NULL when it holds a NUL octet.
 * Free it. */
static char *
decoded_path(const struct http_request *r)
{
	size_t len = 0;
	char *dec = evhttp_uridecode(r->head.path, 0, &len);

	if (dec == NULL)
		return NULL;
	if (strlen(dec) != len) {
		free(dec);
		return NULL;
	}
	return dec;
}

static int
method_bit(enum http_verb verb)
{
	switch (verb) {
	case HTTP_VERB_GET:
	case HTTP_VERB_HEAD:
		return HTTP_GET;
	case HTTP_VERB_POST:
		return HTTP_POST;
	case HTTP_VERB_DELETE:
		return HTTP_DELETE;
	default:
		return 0;
	}
}

/* A complete request: hand it to its route's handler (or answer 404 or
 * 405 for it).  The connection reads nothing until it is answered. */
static void
conn_dispatch(struct conn *c)
{
	struct http *http = c->http;
	struct http_request *r = c->req;
	int bit = method_bit(r->head.verb), allowed = 0;
	char *path;

	if (r->body == NULL)
		r->body = xstrdup("");
	r->body[r->len] = '\0';
	conn_enter_state(c, CONN_BUSY);
	conn_idle(c, 0);
	/* Reading goes on while the handler runs (no epoll_ctl to stop and
	 * start it for every request): what comes meanwhile waits in the
	 * input, which the read high watermark (HTTP_IN_MAX) bounds, and
	 * conn_advance() takes nothing while the connection is busy.  A
	 * client's end of stream meanwhile is noted (c->eof). */
	evtimer_del(c->timer);
	r->handled = 1;
	TAILQ_INSERT_TAIL(&http->reqs, r, entry);
	http->inflight++;
	if ((path = decoded_path(r)) == NULL) {
		http_reply_error(r, HTTP_ERR_NOT_FOUND, "not_found", NULL,
		    "no such endpoint");
		return;
	}
	for (int i = 0; i < http->nroute; i++) {
		struct path_route *rt = &http->routes[i];
		const char *rest;

		if (rt->prefix ? strncmp(path, rt->path, rt->len) != 0 :
		    strcmp(path, rt->path) != 0)
			continue;
		if ((rt->methods & bit) == 0) {
			allowed |= rt->methods;
			continue;
		}
		rest = rt->prefix ? path + rt->len : "";
		if (http->gate != NULL) {
			r->gpath = path;        /* the request's from now */
			r->groute = i;
			r->grest = (size_t)(rest - path);
			if (http->gate(http->gate_arg, r, rt->path))
				rt->fn(r, rest, rt->arg);
			return;
		}
		rt->fn(r, rest, rt->arg);
		free(path);
		return;
	}
	free(path);
	if (allowed != 0) {
		http_reply_not_allowed(r, allowed);
		return;
	}
	http_reply_error(r, HTTP_ERR_NOT_FOUND, "not_found", NULL,
	    "no such endpoint");
}

/* ---- reading a request -------------------------------------------------------- */

/* CONN_HEAD: 1 when a head was read (and the state moved on), 0 to wait
 * for more, -1 when the request was refused. */
static int
read_head(struct conn *c, struct evbuffer *in)
{
	struct http_refusal why;
	struct http_request *r;
	size_t len = evbuffer_get_length(in), look, scanned = 0;
	const char *p;
	long end;

	if (len == 0)
		return 0;
	look = len < HTTP_HEAD_MAX + 1 ? len : HTTP_HEAD_MAX + 1;
	p = (const char *)evbuffer_pullup(in, (ev_ssize_t)look);
	end = http_head_end(p, look, c->scanned, &scanned, &why);
	if (end < 0) {
		conn_refuse(c, &why);
		return -1;
	}
	if (end == 0) {
		c->scanned = scanned;
		return 0;
	}
	c->scanned = 0;
	c->req = r = req_new(c);
	if (http_head_parse(p, (size_t)end, &r->head, &why) < 0) {
		conn_refuse(c, &why);
		return -1;
	}
	evbuffer_drain(in, (size_t)end);
	if (r->head.content_length > HTTP_MAX_BODY) {
		conn_refuse(c, &too_large);
		return -1;
	}
	if (r->head.expect_continue && (r->head.chunked ||
	    r->head.content_length > 0))
		evbuffer_add(bufferevent_get_output(c->bev),
		    "HTTP/1.1 100 Continue\r\n\r\n", 25);
	if (r->head.chunked)
		conn_enter_state(c, CONN_CHUNK_SIZE);
	else if (r->head.content_length > 0) {
		req_body_grow(r, (size_t)r->head.content_length);
		conn_enter_state(c, CONN_BODY);
	} else
		conn_dispatch(c);
	return 1;
}

/* Move up to want octets of the body from in. */
static size_t
take_body(struct http_request *r, struct evbuffer *in, size_t want)
{
	size_t have = evbuffer_get_length(in), n = have < want ? have : want;

	if (n > 0) {
		evbuffer_remove(in, r->body + r->len, n);
		r->len += n;
	}
	return n;
}

/* A line of at most max octets from in, without its end, in buf; 1, 0
 * when not complete yet, -1 when too long. */
static int
take_line(struct evbuffer *in, char *buf, size_t max, size_t *len)
{
	struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, NULL,
	    EVBUFFER_EOL_CRLF);
	char *line;
	size_t n;

	/* Not complete yet: too long already, with room for a CR? */
	if (eol.pos < 0)
		return evbuffer_get_length(in) > max + 1 ? -1 : 0;
	if ((size_t)eol.pos > max)
		return -1;
	line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
	if (line == NULL)
		return 0;
	memcpy(buf, line, n);
	buf[n] = '\0';
	*len = n;
	free(line);
	return 1;
}

/* The chunked states: 1 when progress was made, 0 to wait, -1 refused. */
static int
read_chunked(struct conn *c, struct evbuffer *in)
{
	struct http_request *r = c->req;
	struct http_refusal why;
	char line[HTTP_CHUNK_LINE_MAX + 1];
	uint64_t size;
	size_t n;
	int rc;

	switch (c->state) {
	case CONN_CHUNK_SIZE:
		if ((rc = take_line(in, line, HTTP_CHUNK_LINE_MAX, &n)) <= 0)
			goto line_rc;
		if (http_chunk_size(line, n, &size, &why) < 0) {
			conn_refuse(c, &why);
			return -1;
		}
		if (size > HTTP_MAX_BODY - r->len) {
			conn_refuse(c, &too_large);
			return -1;
		}
		if (size == 0) {
			c->trailer = 0;
			conn_enter_state(c, CONN_TRAILER);
			return 1;
		}
		r->chunk_left = size;
		req_body_grow(r, (size_t)size);
		conn_enter_state(c, CONN_CHUNK_DATA);
		return 1;
	case CONN_CHUNK_DATA:
		r->chunk_left -= take_body(r, in, (size_t)r->chunk_left);
		if (r->chunk_left > 0)
			return 0;
		conn_enter_state(c, CONN_CHUNK_END);
		return 1;
	case CONN_CHUNK_END:
		if ((rc = take_line(in, line, 0, &n)) <= 0)
			goto line_rc;
		conn_enter_state(c, CONN_CHUNK_SIZE);
		return 1;
	case CONN_TRAILER:
		if ((rc = take_line(in, line, HTTP_CHUNK_LINE_MAX, &n)) <= 0)
			goto line_rc;
		c->trailer += n + 2;
		if (c->trailer > HTTP_HEAD_MAX) {
			why.kind = HTTP_ERR_HEADERS_TOO_LARGE;
			why.code = "headers_too_large";
			why.msg = "the trailer fields are too large";
			conn_refuse(c, &why);
			return -1;
		}
		if (n == 0)
			conn_dispatch(c);
		return 1;
	default:
		return 0;
	}
line_rc:
	if (rc == 0)
		return 0;
	why.kind = HTTP_ERR_BAD_REQUEST;
	why.code = "bad_request";
	why.msg = "a malformed chunked body";
	conn_refuse(c, &why);
	return -1;
}

/* Read what the input buffer holds, request by request, until a request
 * is with its handler, the input runs out, or the connection is refused. */
static void
conn_advance(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	int rc = 1;

	while (rc > 0) {
		switch (c->state) {
		case CONN_HEAD:
			if (c->paused)
				return;
			rc = read_head(c, in);
			break;
		case CONN_BODY:
			take_body(c->req, in, (size_t)c->req->head.content_length -
			    c->req->len);
			if (c->req->len < (size_t)c->req->head.content_length)
				return;
			conn_dispatch(c);
			rc = 1;
			break;
		case CONN_CHUNK_SIZE:
		case CONN_CHUNK_DATA:
		case CONN_CHUNK_END:
		case CONN_TRAILER:
			rc = read_chunked(c, in);
			break;
		case CONN_BUSY:
		case CONN_CLOSING:
			return;
		}
	}
}

/* ---- connection callbacks ------------------------------------------------------ */

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->state == CONN_CLOSING) {
		struct evbuffer *in = bufferevent_get_input(bev);

		c->discarded += evbuffer_get_length(in);
		evbuffer_drain(in, evbuffer_get_length(in));
		if (c->discarded > LINGER_MAX)
			conn_free(c);
		return;
	}
	conn_advance(c);
}

/* The output was written out (the write low watermark is 0). */
static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->state == CONN_CLOSING) {
		conn_linger(c);
		return;
	}
	if (c->state == CONN_HEAD && c->paused) {
		c->paused = 0;
		bufferevent_enable(c->bev, EV_READ);
		event_active(c->resume, EV_TIMEOUT, 0);
	}
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	/* HTTPS: the handshake is done; the deadline still runs. */
	if (what & BEV_EVENT_CONNECTED) {
		c->tls_up = 1;
		return;
	}
	if (c->ssl != NULL && (what & BEV_EVENT_ERROR)) {
		unsigned long e = bufferevent_get_openssl_error(bev);

		if (!c->tls_up)
			c->http->stats.tls_failed++;

		log_debug("http.tls_failed", "id=%" PRIu64 " state=%s "
		    "handshake=%s reason=\"%s\"", c->id,
		    conn_strstate(c->state), c->tls_up ? "done" : "no",
		    e != 0 && ERR_reason_error_string(e) ?
		    ERR_reason_error_string(e) : "closed");
	}
	/* The client closed its side: answers still queued are written
	 * first (a client may half-close after its last request), and a
	 * request with its handler is answered into a closing connection. */
	if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING) &&
	    !(what & BEV_EVENT_ERROR)) {
		c->eof = 1;
		if (c->state == CONN_BUSY)
			return;
		if ((c->state == CONN_HEAD || c->state == CONN_CLOSING) &&
		    evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
			if (c->state == CONN_HEAD)
				conn_close_after_output(c);
			return;
		}
	}
	conn_free(c);
}

/* The deadline: a request that did not arrive, answers not read, or a
 * last answer not written in time. */
static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct http *http = c->http;
	unsigned held;

	if (c->state == CONN_BUSY)
		return;
	if (c->paused)
		http->stats.unread++;
	else
		http->stats.timeouts++;
	if (log_ok(http, c->paused ? &http->log_slow : &http->log_deadline,
	    &held))
		log_info(c->paused ? "http.unread_answers" : "http.deadline",
		    "id=%" PRIu64 " state=%s timeout_s=%d suppressed=%u",
		    c->id, conn_strstate(c->state), http->request_timeout,
		    held);
	conn_free(c);
}

/* Go on with buffered input after an answer, or close a connection whose
 * last answer had nothing left to write. */
static void
conn_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->state == CONN_CLOSING) {
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			conn_linger(c);
		return;
	}
	conn_advance(c);
}

/* ---- accepting ---------------------------------------------------------------- */

/* Close the connection that has waited longest for a request; 1, or 0
 * when every connection has a handler or is closing. */
static int
shed_one(struct http *http)
{
	struct conn *c = TAILQ_FIRST(&http->idle);
	unsigned held;

	if (c == NULL)
		return 0;
	if (log_ok(http, &http->log_shed, &held))
		log_warn("http.shed", "id=%" PRIu64 " state=%s open=%d max=%d "
		    "suppressed=%u", c->id, conn_strstate(c->state),
		    http->nconn, http->max_conn, held);
	conn_free(c);
	return 1;
}

static void
accept_again_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http *http = arg;

	if (http->listener != NULL)
		evconnlistener_enable(http->listener);
}

/* accept() failed: out of descriptors (the process's or the system's) is
 * met by shedding a connection, and if there is none by a pause of 100 ms,
 * not by a loop that spins on a listening socket it cannot serve. */
static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct http *http = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = { 0, 100 * 1000 };
	unsigned held;

	if (log_ok(http, &http->log_accept, &held))
		log_warn("http.accept_failed", "error=%s open=%d suppressed=%u",
		    evutil_socket_error_to_string(err), http->nconn, held);
	if ((err == EMFILE || err == ENFILE) && shed_one(http)) {
		http->stats.shed++;
		return;
	}
	evconnlistener_disable(l);
	evtimer_add(http->accept_ev, &tv);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	static const char body[] = "{\"error\":{\"code\":"
	    "\"too_many_connections\",\"message\":\"too many open "
	    "connections; try again shortly\"}}";
	static char busy[384];
	static int busylen;
	struct http *http = arg;
	struct conn *c;
	unsigned held;

	/* At the cap, the connection that has waited longest without
	 * finishing a request makes room: idle keep-alives and slow senders
	 * cannot lock newcomers out. */
	if (http->nconn >= http->max_conn && shed_one(http))
		http->stats.shed++;
	if (http->nconn >= http->max_conn) {
		http->stats.refused++;
		if (log_ok(http, &http->log_refused, &held))
			log_warn("http.conn_refused", "open=%d max=%d "
			    "suppressed=%u", http->nconn, http->max_conn, held);
		/* HTTPS: a plain answer would be noise to the client. */
		if (http->tls != NULL) {
			evutil_closesocket(fd);
			return;
		}
		if (busylen == 0)
			busylen = snprintf(busy, sizeof(busy), "HTTP/1.1 503 "
			    "Service Unavailable\r\nContent-Type: "
			    "application/json; charset=utf-8\r\n"
			    "Content-Length: %zu\r\nRetry-After: 1\r\n"
			    "Connection: close\r\n\r\n%s", sizeof(body) - 1,
			    body);
		/* One try; a client that cannot take 300 octets now gets
		 * only the close. */
		(void)send(fd, busy, (size_t)busylen,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		evutil_closesocket(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->http = http;
	c->id = ++http->next_conn_id;
	if (http->tls == NULL)
		c->bev = bufferevent_socket_new(http->base, fd, 0);
	else if ((c->ssl = tls_ssl_new(http->tls)) != NULL) {
		/* The handshake is bound by the connection's deadline like
		 * any request; a peer's bare FIN is an end of stream, not an
		 * error (answers carry their length). */
		c->bev = bufferevent_openssl_socket_new(http->base, fd, c->ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL)
			SSL_free(c->ssl);
		else
			bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	}
	c->timer = evtimer_new(http->base, conn_timer_cb, c);
	c->resume = event_new(http->base, -1, 0, conn_resume_cb, c);
	if (c->bev == NULL || c->timer == NULL || c->resume == NULL) {
		log_err("http.accept_failed", "reason=out_of_events");
		if (c->bev != NULL && c->ssl != NULL)
			BIO_set_fd(SSL_get_rbio(c->ssl), -1, BIO_NOCLOSE);
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		evutil_closesocket(fd);
		if (c->timer != NULL)
			event_free(c->timer);
		if (c->resume != NULL)
			event_free(c->resume);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&http->conns, c, entry);
	http->nconn++;
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb,
	    c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, HTTP_IN_MAX);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	conn_deadline(c, http->request_timeout);
	conn_idle(c, 1);
	http->stats.accepted++;
	log_debug("http.accept", "id=%" PRIu64 " open=%d", c->id, http->nconn);
}

/* ---- lifecycle ------------------------------------------------------------ */

/* Listen on host:port; see http.h. */
struct http *
http_new(struct event_base *base, const char *host, int port, int max_conn,
    int request_timeout, char **err)
{
	struct http *http;
	struct addrinfo hints, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char portstr[8];
	int rc;

	if (err != NULL)
		*err = NULL;
	if (port < 0 || port > 65535 || max_conn < 1 || request_timeout < 1) {
		set_err(err, "bad listener parameters (port %d, max_conn %d, "
		    "request_timeout %d)", port, max_conn, request_timeout);
		return NULL;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if ((rc = getaddrinfo(host, portstr, &hints, &ai)) != 0) {
		set_err(err, "cannot listen on %s:%d: %s", host, port,
		    gai_strerror(rc));
		return NULL;
	}
	http = xcalloc(1, sizeof(*http));
	http->base = base;
	http->max_conn = max_conn;
	http->request_timeout = request_timeout;
	TAILQ_INIT(&http->conns);
	TAILQ_INIT(&http->reqs);
	TAILQ_INIT(&http->idle);
	http->held_ev = evtimer_new(base, held_cb, http);
	http->accept_ev = evtimer_new(base, accept_again_cb, http);
	http->answer = evbuffer_new();
	if (http->held_ev == NULL || http->accept_ev == NULL ||
	    http->answer == NULL) {
		freeaddrinfo(ai);
		set_err(err, "listener on %s:%d: out of memory", host, port);
		http_free(http);
		return NULL;
	}
	http->listener = evconnlistener_new_bind(base, accept_cb, http,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    HTTP_BACKLOG, ai->ai_addr, (int)ai->ai_addrlen);
	freeaddrinfo(ai);
	if (http->listener == NULL) {
		set_err(err, "cannot listen on %s:%d: %s", host, port,
		    strerror(errno));
		http_free(http);
		return NULL;
	}
	evconnlistener_set_error_cb(http->listener, accept_error_cb);
	if (getsockname(evconnlistener_get_fd(http->listener),
	    (struct sockaddr *)&ss, &sslen) == 0) {
		if (ss.ss_family == AF_INET)
			http->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			http->port = ntohs(
			    ((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	log_info("http.listen", "port=%d max_conn=%d request_timeout_s=%d",
	    http->port, max_conn, request_timeout);
	return http;
}

int
http_port(const struct http *http)
{
	return http->port;
}

/* Add a route, keeping the table longest path first (ties: first added
 * first). */
void
http_route(struct http *http, int methods, const char *path, http_handler fn,
    void *arg)
{
	struct path_route rt;
	int i;

	rt.methods = methods;
	rt.path = xstrdup(path);
	rt.len = strlen(path);
	rt.prefix = rt.len > 0 && path[rt.len - 1] == '/';
	rt.fn = fn;
	rt.arg = arg;
	http->routes = xrealloc(http->routes,
	    (size_t)(http->nroute + 1) * sizeof(*http->routes));
	for (i = http->nroute; i > 0 && http->routes[i - 1].len < rt.len; i--)
		http->routes[i] = http->routes[i - 1];
	http->routes[i] = rt;
	http->nroute++;
}

/* HTTPS from now on; see http.h. */
void
http_set_tls(struct http *http, struct tls *tls)
{
	http->tls = tls;
}

/* Close the listening socket; open connections and in-flight requests
 * carry on. */
void
http_stop_accepting(struct http *http)
{
	if (http->listener == NULL)
		return;
	evconnlistener_free(http->listener);
	http->listener = NULL;
	log_info("http.stop_accepting", "inflight=%d open=%d", http->inflight,
	    http->nconn);
}

int
http_inflight(const struct http *http)
{
	return http->inflight;
}

void
http_stats(const struct http *http, struct http_stats *out)
{
	*out = http->stats;
	out->open = http->nconn;
	out->max_open = http->max_conn;
}

/* Orphan the unanswered requests (see the head comment), close every
 * connection, free the rest. */
void
http_free(struct http *http)
{
	struct http_request *r;

	if (http == NULL)
		return;
	while ((r = TAILQ_FIRST(&http->reqs)) != NULL) {
		TAILQ_REMOVE(&http->reqs, r, entry);
		r->http = NULL;
		if (r->conn != NULL)
			r->conn->req = NULL;
		r->conn = NULL;
	}
	while (!TAILQ_EMPTY(&http->conns))
		conn_free(TAILQ_FIRST(&http->conns));
	if (http->listener != NULL)
		evconnlistener_free(http->listener);
	if (http->held_ev != NULL)
		event_free(http->held_ev);
	if (http->accept_ev != NULL)
		event_free(http->accept_ev);
	if (http->answer != NULL)
		evbuffer_free(http->answer);
	for (int i = 0; i < http->nroute; i++)
		free(http->routes[i].path);
	free(http->routes);
	free(http);
}

/* ---- replies ---------------------------------------------------------------- */

/* Answer the request: queue the answer on its connection (if it still has
 * one) and free the request; the connection reads on, or closes. */
static void
reply_raw(struct http_request *r, int status, const char *ctype,
    const char *text, size_t len)
{
	struct http *http = r->http;
	struct conn *c = r->conn;
	int keep, head_only;

	if (http == NULL) {
		log_debug("http.answer_dropped", "reason=listener_freed");
		req_free(r);
		return;
	}
	if (r->handled) {
		TAILQ_REMOVE(&http->reqs, r, entry);
		http->inflight--;
		r->handled = 0;
	}
	if (c == NULL) {
		log_debug("http.answer_dropped", "reason=client_gone");
		req_free(r);
		return;
	}
	keep = r->head.keep_alive && !c->eof;
	head_only = r->head.verb == HTTP_VERB_HEAD;
	conn_write_answer(c, status, ctype, text, len, r, head_only, !keep,
	    keep && r->head.minor == 0);
	c->req = NULL;
	req_free(r);
	if (!keep) {
		conn_close_after_output(c);
		return;
	}
	conn_enter_state(c, CONN_HEAD);
	conn_idle(c, 1);
	conn_deadline(c, http->request_timeout);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) >
	    HTTP_OUT_MAX) {
		/* The client is not reading its answers: read nothing more
		 * until they are written (conn_write_cb), or the deadline. */
		c->paused = 1;
		bufferevent_disable(c->bev, EV_READ);
		return;
	}
	bufferevent_enable(c->bev, EV_READ);
	event_active(c->resume, EV_TIMEOUT, 0);
}

/* Answer status with body, compact; the reference is stolen.  Answers
 * are small: encoded on the stack, on the heap only when they do not fit. */
void
http_reply_json(struct http_request *req, int status, json_t *body)
{
	char stackbuf[2048], *text = stackbuf;
	size_t len = 0;

	if (body != NULL) {
		len = json_dumpb(body, stackbuf, sizeof(stackbuf),
		    JSON_COMPACT);
		if (len > sizeof(stackbuf)) {
			text = json_dumps(body, JSON_COMPACT);
			len = text != NULL ? strlen(text) : 0;
		}
	}
	json_decref(body);
	if (len == 0 || text == NULL) {
		static const char oops[] = "{\"error\":{\"code\":\"internal\","
		    "\"message\":\"the answer could not be encoded\"}}";

		log_err("http.encode_failed", "status=%d", status);
		reply_raw(req, 500, "application/json; charset=utf-8", oops,
		    sizeof(oops) - 1);
		return;
	}
	reply_raw(req, status, "application/json; charset=utf-8", text, len);
	if (text != stackbuf)
		free(text);
}

/* Answer {"error": {...}}; a Retry-After set for this request goes with it
 * (1 second by default for HTTP_ERR_RATE). */
void
http_reply_error(struct http_request *req, enum http_err kind,
    const char *code, const char *field, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *e;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (kind == HTTP_ERR_RATE && req->retry_after <= 0)
		req->retry_after = 1;
	e = json_pack("{s:s, s:s%}", "code", code, "message", msg,
	    strnlen(msg, sizeof(msg)));
	if (e == NULL)  /* msg not UTF-8 */
		e = json_pack("{s:s, s:s}", "code", code, "message",
		    "(unprintable message)");
	if (e != NULL && field != NULL)
		json_object_set_new(e, "field", json_string(field));
	http_reply_json(req, http_err_status(kind),
	    e != NULL ? json_pack("{s:o}", "error", e) : NULL);
}

/* 405 with Allow; see http.h. */
void
http_reply_not_allowed(struct http_request *req, int methods)
{
	size_t n = 0;

	req->allow[0] = '\0';
	if (methods & HTTP_GET)
		n += (size_t)snprintf(req->allow + n, sizeof(req->allow) - n,
		    "GET, HEAD");
	if (methods & HTTP_POST)
		n += (size_t)snprintf(req->allow + n, sizeof(req->allow) - n,
		    "%sPOST", n > 0 ? ", " : "");
	if (methods & HTTP_DELETE)
		n += (size_t)snprintf(req->allow + n, sizeof(req->allow) - n,
		    "%sDELETE", n > 0 ? ", " : "");
	http_reply_error(req, HTTP_ERR_METHOD, "method_not_allowed", NULL,
	    "method not allowed on this path; use %s", req->allow);
}

/* Answer a text body; see http.h. */
void
http_reply_text(struct http_request *req, int status, const char *ctype,
    const char *text, size_t len)
{
	reply_raw(req, status, ctype, text, len);
}
