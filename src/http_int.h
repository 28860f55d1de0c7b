/*
 * http_int.h - the listener's insides shared by http.c (connections,
 * framing, answers) and http_request.c (what a handler reads, the gate),
 * and by no one else: http.h is the contract.
 */
#ifndef HTTP_INT_H
#define HTTP_INT_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "http_parse.h"
#include "log.h"

struct conn;

struct http_request {
	struct http *http;          /* NULL once http_free orphaned it    */
	struct conn *conn;          /* NULL once its connection is gone   */
	struct http_head head;
	char *body;                 /* NUL-terminated; len octets         */
	size_t len;
	uint64_t chunk_left;
	int handled;                /* given to a handler, not answered   */
	int retry_after;            /* seconds; 0 for none                */
	char allow[32];             /* the 405's Allow, or ""             */
	const char *headers;        /* http_set_headers(): more lines     */
	char **qv;                  /* decoded query values handed out    */
	int nqv;
	char *gpath;                /* held by the gate: the decoded path */
	int groute;                 /* and its route, its rest at grest   */
	size_t grest;
	int gtries;                 /* http_again() calls                 */
	TAILQ_ENTRY(http_request) entry;   /* http->reqs while handled   */
};

struct path_route {
	int methods;
	char *path;
	size_t len;
	int prefix;                 /* path ends with '/'                 */
	http_handler fn;
	void *arg;
};

TAILQ_HEAD(conn_list, conn);
TAILQ_HEAD(req_list, http_request);

struct http {
	struct event_base *base;
	http_gate gate;                     /* http_set_gate() */
	void *gate_arg;
	struct evconnlistener *listener;    /* NULL once not accepting */
	int port;
	int max_conn;
	int request_timeout;                /* seconds */
	struct path_route *routes;          /* longest path first */
	int nroute;
	struct conn_list conns;
	/* The connections that may be shed for a newcomer: reading a
	 * request (none complete yet since accept or their last answer),
	 * longest waiting first. */
	struct conn_list idle;
	int nconn;
	struct event *accept_ev;            /* re-enables accepting */
	struct http_stats stats;
	uint64_t next_conn_id;
	struct req_list reqs;               /* with handlers */
	int inflight;
	struct log_limit log_refused, log_deadline, log_bad, log_slow, log_shed,
	    log_accept;
	struct event *held_ev;              /* reports lines held back */
	struct tls *tls;                    /* HTTPS when set (the caller's) */
	struct evbuffer *answer;            /* an answer being written */
};

#endif
