/*
 * api.h - the HTTP endpoints: the native API (api_verify.c), the
 * compatibility APIs (api_compat.c) and the operators' endpoints
 * (api_admin.c).
 *
 * The endpoints see the listener (http.h), the flows (flow.h) and the key
 * table (keys.h); nothing else of the daemon.  The operators' endpoints
 * read the modules' counters through one stats call their owner gives
 * (api_admin.h).
 */
#ifndef API_H
#define API_H

#include <jansson.h>

#include "flow.h"
#include "http.h"

struct api_admin;
struct http_request;
struct http;
struct keys;

/* What every endpoint is given; it must outlive the listener. */
struct api {
	struct http *http;
	struct flow *flow;
	const struct keys *keys;
	const struct api_admin *admin;   /* api_admin.h; api_admin.c only */
};

void api_verify_register(struct api *);
void api_compat_register(struct api *);

/* Shared by the API files: the key of the request's Bearer token, or -1
 * after answering 401. */
int api_auth(const struct api *, struct http_request *, const char *token);
/* The answer of a send that failed (fs->err), in the native API's words. */
void api_send_error(struct http_request *, const struct flow_send *);
/* The metadata field (a JSON object of at most 4 KiB) as compact JSON
 * text into *out, NULL when absent.  0, or -1 after answering 422. */
int api_read_metadata(struct http_request *, json_t *body, char **out);

#endif
