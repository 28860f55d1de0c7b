/*
 * http_request.c - what a handler reads of its request (method, header
 * fields, query values, body, bearer token), what it sets on the answer
 * (Retry-After, more header lines), and the gate before handlers with its
 * second runs (http_set_gate, http_gate_done, http_again).  http.c owns
 * the connections and the framing.
 */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "http_int.h"
#include "http_parse.h"
#include "util.h"

void
http_set_gate(struct http *http, http_gate gate, void *arg)
{
	http->gate = gate;
	http->gate_arg = arg;
}

/* The gate's answer for a request it held (http.h). */
void
http_gate_done(struct http_request *r, int ok)
{
	struct path_route *rt;

	if (r->http == NULL || !ok) {   /* orphaned: sends nothing, frees */
		http_reply_error(r, HTTP_ERR_UNAVAILABLE, "store_unavailable",
		    NULL, "the store cannot be reached; try again");
		return;
	}
	rt = &r->http->routes[r->groute];
	rt->fn(r, r->gpath + r->grest, rt->arg);
}

int
http_again(struct http_request *r)
{
	struct path_route *rt;

	if (r->http == NULL || r->gpath == NULL || r->gtries >= HTTP_AGAIN_MAX)
		return 0;
	r->gtries++;
	rt = &r->http->routes[r->groute];
	if (r->http->gate(r->http->gate_arg, r, rt->path))
		rt->fn(r, r->gpath + r->grest, rt->arg);
	return 1;
}

void
http_set_retry_after(struct http_request *req, int seconds)
{
	req->retry_after = seconds;
}

void
http_set_headers(struct http_request *req, const char *lines)
{
	req->headers = lines;
}

/* ---- what a handler reads ------------------------------------------------ */

int
http_method(struct http_request *req)
{
	switch (req->head.verb) {
	case HTTP_VERB_GET: return HTTP_GET;
	case HTTP_VERB_HEAD: return HTTP_HEAD;
	case HTTP_VERB_POST: return HTTP_POST;
	case HTTP_VERB_DELETE: return HTTP_DELETE;
	default: return 0;
	}
}

const char *
http_header(struct http_request *req, const char *name)
{
	return http_head_field(&req->head, name);
}

/* The value of name in the query, decoded, kept with the request. */
const char *
http_query(struct http_request *req, const char *name)
{
	char *v = http_query_value(req->head.query, name);

	if (v == NULL)
		return NULL;
	req->qv = xrealloc(req->qv, (size_t)(req->nqv + 1) * sizeof(*req->qv));
	req->qv[req->nqv++] = v;
	return v;
}

const char *
http_req_body(struct http_request *req, size_t *len)
{
	*len = req->len;
	return req->body != NULL ? req->body : "";
}

/* ---- Authorization ---------------------------------------------------------- */

const char *
http_bearer(struct http_request *req)
{
	return http_bearer_token(http_header(req, "Authorization"));
}
