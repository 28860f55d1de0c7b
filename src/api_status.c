/*
 * api_status.c - the two documents the daemon serves as they are, built
 * into it from src/status.html and src/openapi.json (embed.h):
 *
 *   GET /status         the operators' status page: one HTML file with its
 *                       CSS and JavaScript inline.  Loading it needs no
 *                       key; the page asks for an admin token and calls
 *                       the endpoints that need one (/v1/smscs, /v1/stats,
 *                       /v1/shield) with it.
 *   GET /openapi.json   the OpenAPI 3.1 description of every endpoint.
 *
 * The page is answered with a Content-Security-Policy that lets it run
 * nothing but its own inline <script> and <style> elements, named by their
 * SHA-256 (computed here once, from the page as built), and talk to
 * nothing but the daemon it came from: no external asset can load, and
 * markup an SMSC or a key name might smuggle into the page cannot run.
 */
#define _GNU_SOURCE             /* memmem */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "api.h"
#include "api_status.h"
#include "embed.h"
#include "http.h"
#include "log.h"

/* The hash sources of the page's inline elements: at most this many. */
#define STATUS_MAX_INLINE 8

/* The page's header fields, made once (the page does not change). */
static char status_headers[1024];

/*
 * Append " 'sha256-B64'" for the content of each element <tag>...</tag>
 * (exactly "<tag>", no attributes; HTML comments skipped) of page to out
 * (size outsize, NUL terminated).  Returns the number of elements, or -1
 * when out is too small, there are more than STATUS_MAX_INLINE, or one is
 * not closed.
 */
static int
inline_hashes(const char *page, size_t len, const char *tag, char *out,
    size_t outsize)
{
	char open[16], close[16];
	const char *p = page, *end = page + len;
	size_t olen, clen;
	int n = 0;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	olen = strlen(open);
	clen = strlen(close);
	while ((p = memchr(p, '<', (size_t)(end - p))) != NULL) {
		unsigned char md[EVP_MAX_MD_SIZE], b64[4 * EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;
		const char *body, *q;
		size_t used = strlen(out);

		if ((size_t)(end - p) >= 4 && memcmp(p, "<!--", 4) == 0) {
			q = memmem(p + 4, (size_t)(end - p - 4), "-->", 3);
			if (q == NULL)
				return -1;
			p = q + 3;
			continue;
		}
		if ((size_t)(end - p) < olen || memcmp(p, open, olen) != 0) {
			p++;
			continue;
		}
		body = p + olen;
		q = memmem(body, (size_t)(end - body), close, clen);
		if (q == NULL || ++n > STATUS_MAX_INLINE)
			return -1;
		if (EVP_Digest(body, (size_t)(q - body), md, &mdlen,
		    EVP_sha256(), NULL) != 1)
			return -1;
		EVP_EncodeBlock(b64, md, (int)mdlen);
		if ((size_t)snprintf(out + used, outsize - used,
		    " 'sha256-%s'", (const char *)b64) >= outsize - used)
			return -1;
		p = q + clen;
	}
	return n;
}

int
api_status_policy(const char *page, size_t len, char *out, size_t outsize)
{
	char scripts[512] = "", styles[512] = "";

	if (inline_hashes(page, len, "script", scripts, sizeof(scripts)) < 0 ||
	    inline_hashes(page, len, "style", styles, sizeof(styles)) < 0)
		return -1;
	/* connect-src 'self': the page's fetch() calls go to this daemon
	 * only; img-src data: for the favicon the page names inline. */
	if ((size_t)snprintf(out, outsize, "default-src 'none';"
	    " script-src%s; style-src%s; connect-src 'self';"
	    " img-src data:; base-uri 'none'; form-action 'none';"
	    " frame-ancestors 'none'",
	    scripts[0] ? scripts : " 'none'",
	    styles[0] ? styles : " 'none'") >= outsize)
		return -1;
	return 0;
}

/* status_headers from the page; 0, or -1 (logged) when it cannot be. */
static int
status_headers_make(void)
{
	char policy[API_STATUS_POLICY_MAX];

	if (api_status_policy((const char *)status_html, status_html_len,
	    policy, sizeof(policy)) < 0) {
		log_err("status.page_bad", "why=\"inline elements not "
		    "hashable\"");
		return -1;
	}
	snprintf(status_headers, sizeof(status_headers),
	    "Content-Security-Policy: %s\r\n"
	    "Referrer-Policy: no-referrer\r\n"
	    "X-Frame-Options: DENY\r\n", policy);
	return 0;
}

static void
api_status_page(struct http_request *req, const char *rest, void *arg)
{
	if (status_headers[0] == '\0' && status_headers_make() < 0) {
		http_reply_error(req, HTTP_ERR_INTERNAL, "internal", NULL,
		    "the status page could not be served (logged)");
		return;
	}
	http_set_headers(req, status_headers);
	http_reply_text(req, 200, "text/html; charset=utf-8",
	    (const char *)status_html, status_html_len);
}

/* The document is public: documentation viewers and client generators on
 * other origins (Swagger UI, Redoc) may read it from a browser. */
static void
api_openapi(struct http_request *req, const char *rest, void *arg)
{
	http_set_headers(req, "Access-Control-Allow-Origin: *\r\n");
	http_reply_text(req, 200, "application/json; charset=utf-8",
	    (const char *)openapi_json, openapi_json_len);
}

void
api_status_register(struct api *api)
{
	http_route(api->http, HTTP_GET, "/status", api_status_page, api);
	http_route(api->http, HTTP_GET, "/openapi.json", api_openapi, api);
}
