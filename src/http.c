/*
 * http.c - the evhttp listener: routing of paths, the guard against slow
 * or idle clients and the cap on connections, the records of unanswered
 * requests, and every answer (JSON, errors, text) with its status.
 * Request bodies are read and parsed in http_body.c.
 *
 * One evhttp on the daemon's event_base serves every path through a single
 * general callback (http_route_request) that refuses an over-limit body
 * (http_body_check_size), then looks routes up longest first on the
 * decoded path.  Handlers answer now or later with http_reply_*; the
 * answer is where every enum http_err becomes a status (err_table, the
 * only place).
 *
 * Bodies.  evhttp reads a whole body before calling us.  libevent 2.1.12
 * answers a body over its max_body_size with its own HTML 413 and never
 * calls us, so evhttp's cap is set above ours (HTTP_READ_CAP) and the
 * 64 KiB limit of the API is enforced in http_body.c, which gives clients
 * a JSON 413; only bodies over HTTP_READ_CAP still get libevent's HTML 413
 * and a closed connection.
 *
 * Connections.  libevent 2.1 has no cap on connections and only an idle
 * timeout, which a client sending a byte a second never trips.  So we make
 * each connection's bufferevent ourselves (evhttp_set_bevcb), keep an
 * extra reference on it and track it in a list of struct conn (a small
 * state machine, enum conn_state) with a deadline: accept (or the previous
 * answer) + request_timeout.  A reaper
 * timer (every REAP_MS while any connection is tracked) shuts down the
 * socket of a connection past its deadline that is not waiting on a
 * handler; evhttp then sees EOF and frees the connection itself.  We never
 * close a socket: when evhttp frees a connection, bufferevent_free() clears
 * the callbacks of our still-referenced bufferevent, the reaper notices
 * and drops the last reference, which closes the socket.  A connection
 * over max_conn is created anyway (evhttp gives us no way to refuse it)
 * and shut down from an immediate kick of the reaper, once evhttp has set
 * its socket.
 *
 * Requests.  Each request the router sees gets a struct http_req until it
 * is answered: it counts for http_inflight(), marks its connection busy
 * (exempt from the deadline) and carries Retry-After.  The reply functions
 * get only the evhttp_request, so these records live in one file-local hash
 * table keyed by the request pointer (req_tab; read only here).  A request
 * whose client went away is detached from its connection by libevent and
 * stays valid until answered; its record then simply has no connection.
 *
 * Shutting down.  http_stop_accepting() closes the listening socket only.
 * http_free() frees evhttp, and with it every request still unanswered;
 * their records stay in req_tab, orphaned (no struct http), so that a
 * handler answering later (after a commit that http_free did not wait
 * for) is told nothing and touches nothing: the reply functions see the
 * orphan, drop the answer and forget the record.  That decision is made
 * here, from the record, whatever the caller did with its http pointer.
 * A new request that reuses an orphan's address proves the old one gone;
 * its orphan record is forgotten then.
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "http.h"
#include "log.h"
#include "util.h"

/* evhttp's own body cap; bodies between HTTP_MAX_BODY and this get our
 * JSON 413, larger ones libevent's HTML 413 (see the head comment). */
#define HTTP_READ_CAP (256 * 1024)   /* worst case: this times max_connections */
#define HTTP_MAX_HEADERS (16 * 1024)
/* How often the reaper looks at the connections. */
#define REAP_MS 250
/* At most one line a second per kind of connection event. */
#define LOG_EVERY_MS 1000
#define REQ_TAB_SIZE 1024

struct http_req;

/*
 * A connection's life as we see it.  WAITING -> BUSY when the router
 * takes a request, BUSY -> WAITING when it is answered, WAITING -> CLOSING
 * past the deadline; REFUSED (over max_conn) -> CLOSING on the next reaper
 * pass.  From any state the connection is forgotten once evhttp has
 * released it.
 */
enum conn_state {
	CONN_WAITING,   /* reading a request; the deadline runs            */
	CONN_BUSY,      /* a handler has the request; no deadline          */
	CONN_REFUSED,   /* over max_conn, to be shut down                  */
	CONN_CLOSING,   /* shut down; evhttp will see EOF and release it   */
};

/* One connection we made the bufferevent of. */
struct conn {
	enum conn_state state;
	uint64_t id;                /* for the log                        */
	struct bufferevent *bev;    /* our extra reference               */
	int64_t deadline_ms;        /* util_mono_ms() by which a request
	                               must be complete                   */
	int counted;                /* counts against max_conn            */
	struct http_req *req;       /* the BUSY request's record          */
	int cached_fd;              /* its slot in http->by_fd, or -1     */
	struct conn *prev, *next;
};

/* One request seen by the router and not yet answered. */
struct http_req {
	struct evhttp_request *req;
	struct http *http;          /* NULL once http_free() orphaned it  */
	struct conn *conn;          /* NULL once the connection is gone   */
	int retry_after;            /* seconds; 0 for none                */
	struct http_req *hnext;     /* req_tab chain                      */
};

struct path_route {
	int methods;
	char *path;
	size_t len;
	int prefix;                 /* path ends with '/'                 */
	http_handler fn;
	void *arg;
};

/* Rate limit for a repeated log line. */
struct ratelog {
	int64_t last_ms;
	int suppressed;
};

struct http {
	struct event_base *base;
	struct evhttp *evhttp;
	struct evhttp_bound_socket *bound;  /* NULL once not accepting */
	int port;
	int max_conn;
	int request_timeout;                /* seconds */
	struct path_route *routes;          /* longest path first */
	int nroute;
	struct conn *conns;
	struct conn **by_fd;            /* conn_of() cache, indexed by fd */
	int nby_fd;
	int nconn;                          /* tracked, not refused */
	uint64_t next_conn_id;
	struct event *reap_ev;              /* the REAP_MS timer */
	struct event *kick_ev;              /* an immediate reaper pass */
	int inflight;
	struct ratelog log_refused, log_deadline;
};

/* The status and reason of each error kind: the one mapping. */
static const struct {
	int status;
	const char *reason;
} err_table[] = {
	[HTTP_ERR_BAD_REQUEST] = { 400, "Bad Request" },
	[HTTP_ERR_UNAUTHORIZED] = { 401, "Unauthorized" },
	[HTTP_ERR_NOT_FOUND] = { 404, "Not Found" },
	[HTTP_ERR_METHOD] = { 405, "Method Not Allowed" },
	[HTTP_ERR_CONFLICT] = { 409, "Conflict" },
	[HTTP_ERR_TOO_LARGE] = { 413, "Payload Too Large" },
	[HTTP_ERR_CONTENT_TYPE] = { 415, "Unsupported Media Type" },
	[HTTP_ERR_INVALID] = { 422, "Unprocessable Entity" },
	[HTTP_ERR_RATE] = { 429, "Too Many Requests" },
	[HTTP_ERR_UNAVAILABLE] = { 503, "Service Unavailable" },
	[HTTP_ERR_INTERNAL] = { 500, "Internal Server Error" },
};

/* Unanswered requests of every struct http, by request pointer. */
static struct http_req *req_tab[REQ_TAB_SIZE];

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

/* 1 if this event should be logged now; counts the ones that are not. */
static int
ratelog_ok(struct ratelog *rl, int64_t now)
{
	if (rl->last_ms != 0 && now - rl->last_ms < LOG_EVERY_MS) {
		rl->suppressed++;
		return 0;
	}
	rl->last_ms = now;
	return 1;
}

static const char *
conn_strstate(enum conn_state st)
{
	switch (st) {
	case CONN_WAITING: return "waiting";
	case CONN_BUSY: return "busy";
	case CONN_REFUSED: return "refused";
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

/* ---- request records ------------------------------------------------ */

static size_t
req_slot(const struct evhttp_request *req)
{
	return ((uintptr_t)req >> 4) % REQ_TAB_SIZE;
}

static struct http_req *
req_find(const struct evhttp_request *req)
{
	struct http_req *r;

	for (r = req_tab[req_slot(req)]; r != NULL; r = r->hnext)
		if (r->req == req)
			return r;
	return NULL;
}

static void
req_unlink(struct http_req *r)
{
	struct http_req **pp;

	for (pp = &req_tab[req_slot(r->req)]; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == r) {
			*pp = r->hnext;
			return;
		}
}

/* A record for a request the router took; its connection is busy. */
static struct http_req *
req_begin(struct http *http, struct evhttp_request *req, struct conn *c)
{
	struct http_req *r = xcalloc(1, sizeof(*r)), *old;
	size_t slot = req_slot(req);

	/* An orphan at this address was a request evhttp has freed. */
	if ((old = req_find(req)) != NULL && old->http == NULL) {
		req_unlink(old);
		free(old);
	}
	r->req = req;
	r->http = http;
	r->conn = c;
	r->hnext = req_tab[slot];
	req_tab[slot] = r;
	if (c != NULL && c->state == CONN_WAITING) {
		conn_enter_state(c, CONN_BUSY);
		c->req = r;
	} else
		r->conn = NULL;
	http->inflight++;
	return r;
}

/* 1 when req was unanswered as its http was freed: the record is
 * forgotten and req must not be touched (evhttp freed it); 0 otherwise. */
static int
req_orphaned(struct evhttp_request *req)
{
	struct http_req *r = req_find(req);

	if (r == NULL || r->http != NULL)
		return 0;
	log_debug("http.answer_dropped", "reason=listener_freed");
	req_unlink(r);
	free(r);
	return 1;
}

/* The request is being answered: forget it, and give its connection a
 * fresh deadline for the next request. */
static void
req_end(struct evhttp_request *req)
{
	struct http_req *r = req_find(req);
	struct http *http;

	if (r == NULL)
		return;
	http = r->http;
	if (r->conn != NULL) {
		r->conn->req = NULL;
		if (r->conn->state == CONN_BUSY) {
			conn_enter_state(r->conn, CONN_WAITING);
			r->conn->deadline_ms = util_mono_ms() +
			    (int64_t)http->request_timeout * 1000;
		}
	}
	http->inflight--;
	req_unlink(r);
	free(r);
}

/* ---- connections ------------------------------------------------------ */

static void
conn_unlink(struct http *http, struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		http->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->counted)
		http->nconn--;
	if (c->cached_fd >= 0 && c->cached_fd < http->nby_fd &&
	    http->by_fd[c->cached_fd] == c)
		http->by_fd[c->cached_fd] = NULL;
}

/* Drop our reference (closing the socket if evhttp is done with it). */
static void
conn_drop(struct http *http, struct conn *c)
{
	conn_unlink(http, c);
	if (c->req != NULL)
		c->req->conn = NULL;
	bufferevent_decref(c->bev);
	free(c);
}

/* The tracked connection of a request, or NULL (detached, or not ours). */
static struct conn *
conn_of(struct http *http, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev;
	struct conn *c;
	evutil_socket_t fd;

	if (evcon == NULL)
		return NULL;
	bev = evhttp_connection_get_bufferevent(evcon);
	/* Kept-alive connections ask again and again: look in the by-fd
	 * cache first, and walk the list only for a connection's first
	 * request. */
	fd = bufferevent_getfd(bev);
	if (fd >= 0 && fd < http->nby_fd && http->by_fd[fd] != NULL &&
	    http->by_fd[fd]->bev == bev)
		return http->by_fd[fd];
	for (c = http->conns; c != NULL; c = c->next)
		if (c->bev == bev)
			break;
	if (c != NULL && fd >= 0 && fd < 1 << 20) {
		if (fd >= http->nby_fd) {
			int n = http->nby_fd ? http->nby_fd : 256;
			while (n <= fd)
				n *= 2;
			http->by_fd = xrealloc(http->by_fd, n * sizeof(c));
			memset(http->by_fd + http->nby_fd, 0,
			    (n - http->nby_fd) * sizeof(c));
			http->nby_fd = n;
		}
		http->by_fd[fd] = c;
		c->cached_fd = fd;
	}
	return c;
}

/* evhttp has called bufferevent_free() on it: every callback is cleared,
 * which evhttp never does to a live connection (the event callback stays
 * set from creation to free). */
static int
conn_released(const struct conn *c)
{
	bufferevent_data_cb rcb, wcb;
	bufferevent_event_cb ecb;

	bufferevent_getcb(c->bev, &rcb, &wcb, &ecb, NULL);
	return rcb == NULL && wcb == NULL && ecb == NULL;
}

/* Half-close both ways so evhttp reads EOF and frees the connection. */
static void
conn_shut(struct conn *c)
{
	evutil_socket_t fd = bufferevent_getfd(c->bev);

	conn_enter_state(c, CONN_CLOSING);
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

/* One pass over the connections: release what evhttp let go, shut down
 * what is refused or past its deadline, and re-arm while any remain. */
static void
reap(struct http *http, int64_t now)
{
	struct conn *c, *next;
	struct timeval tv = { 0, REAP_MS * 1000 };

	for (c = http->conns; c != NULL; c = next) {
		next = c->next;
		if (conn_released(c)) {
			conn_drop(http, c);
			continue;
		}
		switch (c->state) {
		case CONN_REFUSED:
			conn_shut(c);
			if (ratelog_ok(&http->log_refused, now)) {
				log_warn("http.conn_refused", "id=%" PRIu64
				    " open=%d max=%d suppressed=%d", c->id,
				    http->nconn,
				    http->max_conn,
				    http->log_refused.suppressed);
				http->log_refused.suppressed = 0;
			}
			break;
		case CONN_WAITING:
			if (now <= c->deadline_ms)
				break;
			conn_shut(c);
			if (ratelog_ok(&http->log_deadline, now)) {
				log_info("http.deadline", "id=%" PRIu64
				    " timeout_s=%d suppressed=%d", c->id,
				    http->request_timeout,
				    http->log_deadline.suppressed);
				http->log_deadline.suppressed = 0;
			}
			break;
		case CONN_BUSY:
		case CONN_CLOSING:
			break;
		}
	}
	if (http->conns != NULL && !evtimer_pending(http->reap_ev, NULL))
		evtimer_add(http->reap_ev, &tv);
}

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	reap(arg, util_mono_ms());
}

/* evhttp's bevcb: make the bufferevent of a new connection and track it. */
static struct bufferevent *
conn_new_bev(struct event_base *base, void *arg)
{
	struct http *http = arg;
	struct conn *c;
	int64_t now = util_mono_ms();

	/* Connections evhttp already let go still count until reaped. */
	if (http->nconn >= http->max_conn)
		reap(http, now);
	c = xcalloc(1, sizeof(*c));
	c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		free(c);
		return NULL;    /* evhttp makes its own */
	}
	bufferevent_incref(c->bev);
	c->cached_fd = -1;
	c->deadline_ms = now + (int64_t)http->request_timeout * 1000;
	c->id = ++http->next_conn_id;
	c->counted = http->nconn < http->max_conn;
	c->state = c->counted ? CONN_WAITING : CONN_REFUSED;
	if (c->counted)
		http->nconn++;
	c->next = http->conns;
	if (c->next != NULL)
		c->next->prev = c;
	http->conns = c;
	log_debug("http.accept", "id=%" PRIu64 " state=%s open=%d", c->id,
	    conn_strstate(c->state), http->nconn);
	if (c->state == CONN_REFUSED)
		event_active(http->kick_ev, EV_TIMEOUT, 0);
	else if (!evtimer_pending(http->reap_ev, NULL)) {
		struct timeval tv = { 0, REAP_MS * 1000 };
		evtimer_add(http->reap_ev, &tv);
	}
	return c->bev;
}

/* ---- routing ------------------------------------------------------------ */

/* The request's path, %-decoded, or NULL when it holds a NUL octet.
 * Free it. */
static char *
decoded_path(struct evhttp_request *req)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	size_t len = 0;
	char *dec;

	if (path == NULL || *path == '\0')
		path = "/";
	dec = evhttp_uridecode(path, 0, &len);
	if (dec == NULL)
		return NULL;
	if (strlen(dec) != len) {
		free(dec);
		return NULL;
	}
	return dec;
}

static int
method_bit(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:
	case EVHTTP_REQ_HEAD:
		return HTTP_GET;
	case EVHTTP_REQ_POST:
		return HTTP_POST;
	default:
		return 0;
	}
}

/* evhttp's general callback: every request comes here. */
static void
http_route_request(struct evhttp_request *req, void *arg)
{
	struct http *http = arg;
	int bit = method_bit(evhttp_request_get_command(req));
	int allowed = 0;
	char *path;

	req_begin(http, req, conn_of(http, req));
	if (http_body_check_size(req) < 0)
		return;
	if ((path = decoded_path(req)) == NULL) {
		http_reply_error(req, HTTP_ERR_NOT_FOUND, "not_found", NULL,
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
		rt->fn(req, rest, rt->arg);
		free(path);
		return;
	}
	free(path);
	if (allowed != 0) {
		http_reply_not_allowed(req, allowed);
		return;
	}
	http_reply_error(req, HTTP_ERR_NOT_FOUND, "not_found", NULL,
	    "no such endpoint");
}

/* ---- lifecycle ------------------------------------------------------------ */

/* Listen on host:port; see http.h. */
struct http *
http_new(struct event_base *base, const char *host, int port, int max_conn,
    int request_timeout, char **err)
{
	struct http *http;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	evutil_socket_t fd;

	if (err != NULL)
		*err = NULL;
	if (port < 0 || port > 65535 || max_conn < 1 || request_timeout < 1) {
		set_err(err, "bad listener parameters (port %d, max_conn %d, "
		    "request_timeout %d)", port, max_conn, request_timeout);
		return NULL;
	}
	http = xcalloc(1, sizeof(*http));
	http->base = base;
	http->max_conn = max_conn;
	http->request_timeout = request_timeout;
	if ((http->evhttp = evhttp_new(base)) == NULL) {
		set_err(err, "evhttp_new failed");
		goto fail;
	}
	http->reap_ev = evtimer_new(base, reap_cb, http);
	http->kick_ev = event_new(base, -1, 0, reap_cb, http);
	if (http->reap_ev == NULL || http->kick_ev == NULL) {
		set_err(err, "event_new failed");
		goto fail;
	}
	evhttp_set_max_headers_size(http->evhttp, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(http->evhttp, HTTP_READ_CAP);
	/* More than we serve, so that the router answers a JSON 405
	 * instead of libevent's HTML 501. */
	evhttp_set_allowed_methods(http->evhttp, EVHTTP_REQ_GET |
	    EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	evhttp_set_timeout(http->evhttp, request_timeout);
	evhttp_set_bevcb(http->evhttp, conn_new_bev, http);
	evhttp_set_gencb(http->evhttp, http_route_request, http);
	http->bound = evhttp_bind_socket_with_handle(http->evhttp, host,
	    (ev_uint16_t)port);
	if (http->bound == NULL) {
		set_err(err, "cannot listen on %s:%d: %s", host, port,
		    strerror(errno));
		goto fail;
	}
	fd = evconnlistener_get_fd(evhttp_bound_socket_get_listener(
	    http->bound));
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0) {
		if (ss.ss_family == AF_INET)
			http->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			http->port = ntohs(
			    ((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	log_info("http.listen", "port=%d max_conn=%d request_timeout_s=%d",
	    http->port, max_conn, request_timeout);
	return http;
fail:
	http_free(http);
	return NULL;
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

/* Close the listening socket; open connections and in-flight requests
 * carry on. */
void
http_stop_accepting(struct http *http)
{
	if (http->bound == NULL)
		return;
	evhttp_del_accept_socket(http->evhttp, http->bound);
	http->bound = NULL;
	log_info("http.stop_accepting", "inflight=%d open=%d", http->inflight,
	    http->nconn);
}

int
http_inflight(const struct http *http)
{
	return http->inflight;
}

/* Orphan the records of unanswered requests (see the head comment), free
 * evhttp (and with it every connection and attached request), then our
 * references. */
void
http_free(struct http *http)
{
	if (http == NULL)
		return;
	for (size_t i = 0; i < REQ_TAB_SIZE; i++)
		for (struct http_req *r = req_tab[i]; r != NULL; r = r->hnext)
			if (r->http == http) {
				r->http = NULL;
				r->conn = NULL;
			}
	if (http->evhttp != NULL)
		evhttp_free(http->evhttp);
	while (http->conns != NULL)
		conn_drop(http, http->conns);
	if (http->reap_ev != NULL)
		event_free(http->reap_ev);
	if (http->kick_ev != NULL)
		event_free(http->kick_ev);
	for (int i = 0; i < http->nroute; i++)
		free(http->routes[i].path);
	free(http->routes);
	free(http->by_fd);
	free(http);
}

/* ---- replies ---------------------------------------------------------------- */

/* Send status with the output buffer filled by the caller. */
static void
send_reply(struct evhttp_request *req, int status, struct evbuffer *buf)
{
	req_end(req);
	evhttp_send_reply(req, status, status_reason(status), buf);
}

static void
reply_raw(struct evhttp_request *req, int status, const char *ctype,
    const char *text, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *buf = evhttp_request_get_output_buffer(req);

	evhttp_remove_header(h, "Content-Type");
	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_remove_header(h, "Cache-Control");
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		/* libevent 2.1 would send a HEAD answer's body. */
		char num[24];

		snprintf(num, sizeof(num), "%zu", len);
		evhttp_remove_header(h, "Content-Length");
		evhttp_add_header(h, "Content-Length", num);
	} else
		evbuffer_add(buf, text, len);
	send_reply(req, status, NULL);
}

/* Answer status with body, compact; the reference is stolen.  Answers
 * are small: encoded on the stack, on the heap only when they do not fit. */
void
http_reply_json(struct evhttp_request *req, int status, json_t *body)
{
	char stackbuf[2048], *text = stackbuf;
	size_t len = 0;

	if (req_orphaned(req)) {
		json_decref(body);
		return;
	}
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
http_reply_error(struct evhttp_request *req, enum http_err kind,
    const char *code, const char *field, const char *fmt, ...)
{
	struct http_req *r;
	int retry;
	char msg[512];
	va_list ap;
	json_t *e;

	if (req_orphaned(req))
		return;
	r = req_find(req);
	retry = r != NULL ? r->retry_after : 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (kind == HTTP_ERR_RATE && retry <= 0)
		retry = 1;
	if (retry > 0) {
		struct evkeyvalq *h = evhttp_request_get_output_headers(req);
		char num[16];

		snprintf(num, sizeof(num), "%d", retry);
		evhttp_remove_header(h, "Retry-After");
		evhttp_add_header(h, "Retry-After", num);
	}
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
	char allow[32];

	if (req_orphaned(req))
		return;
	snprintf(allow, sizeof(allow), "%s%s%s",
	    methods & HTTP_GET ? "GET, HEAD" : "",
	    (methods & HTTP_GET) && (methods & HTTP_POST) ? ", " : "",
	    methods & HTTP_POST ? "POST" : "");
	evhttp_remove_header(evhttp_request_get_output_headers(req), "Allow");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
	    allow);
	http_reply_error(req, HTTP_ERR_METHOD, "method_not_allowed", NULL,
	    "method not allowed on this path; use %s", allow);
}

/* Answer a text body; see http.h. */
void
http_reply_text(struct evhttp_request *req, int status, const char *ctype,
    const char *text, size_t len)
{
	if (!req_orphaned(req))
		reply_raw(req, status, ctype, text, len);
}

/* Remembered on the request's record (harmless on an orphan's); a request
 * we did not route gets the header at once. */
void
http_set_retry_after(struct evhttp_request *req, int seconds)
{
	struct http_req *r = req_find(req);
	char num[16];

	if (r != NULL) {
		r->retry_after = seconds;
		return;
	}
	snprintf(num, sizeof(num), "%d", seconds);
	evhttp_remove_header(evhttp_request_get_output_headers(req),
	    "Retry-After");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Retry-After", num);
}

/* ---- what a handler reads ------------------------------------------------ */

int
http_method(struct http_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET: return HTTP_GET;
	case EVHTTP_REQ_HEAD: return HTTP_HEAD;
	case EVHTTP_REQ_POST: return HTTP_POST;
	default: return 0;
	}
}

const char *
http_header(struct http_request *req, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

const char *
http_query(struct http_request *req, const char *name)
{
	(void)req;
	(void)name;
	return NULL;    /* interim */
}

const char *
http_req_body(struct http_request *req, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);

	*len = evbuffer_get_length(in);
	if (*len == 0)
		return "";
	return (const char *)evbuffer_pullup(in, -1);
}

/* ---- Authorization ---------------------------------------------------------- */

/* The token after "Bearer " (scheme in any case, one or more spaces), or
 * NULL when absent, of another scheme, empty or holding white space. */
const char *
http_bearer(struct evhttp_request *req)
{
	const char *v = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	const char *tok;

	if (v == NULL)
		return NULL;
	while (*v == ' ' || *v == '\t')
		v++;
	if (strncasecmp(v, "Bearer", 6) != 0 || (v[6] != ' ' && v[6] != '\t'))
		return NULL;
	tok = v + 6;
	while (*tok == ' ' || *tok == '\t')
		tok++;
	if (*tok == '\0')
		return NULL;
	for (const char *p = tok; *p != '\0'; p++)
		if (*p == ' ' || *p == '\t' || (unsigned char)*p < 0x20 ||
		    *p == 0x7f)
			return NULL;
	return tok;
}
