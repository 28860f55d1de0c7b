/*
 * api.h - the HTTP endpoints: the native API (api_verify.c), the admin
 * endpoints (api_admin.c), the compatibility APIs (api_compat.c).  Each
 * registers its routes on gw->http.
 */
#ifndef API_H
#define API_H

#include <jansson.h>

struct gw;
struct evhttp_request;
struct flow_send;

void api_verify_register(struct gw *);
void api_admin_register(struct gw *);
void api_compat_register(struct gw *);

/* Shared by the API files: the key of the request's Bearer token, or -1
 * after answering 401. */
int api_auth(struct gw *, struct evhttp_request *, const char *token);
/* The answer of a send that failed (fs->err), in the native API's words. */
void api_send_error(struct evhttp_request *, const struct flow_send *);
/* The metadata field (a JSON object of at most 4 KiB) as compact JSON
 * text into *out, NULL when absent.  0, or -1 after answering 422. */
int api_read_metadata(struct evhttp_request *, json_t *body, char **out);

#endif
