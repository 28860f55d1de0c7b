/*
 * http_parse.c - the head and the chunk-size lines of an HTTP/1.x request,
 * parsed from memory (see http_parse.h).  No I/O and no allocation but the
 * head's own copy, so that the fuzz target drives exactly what the
 * listener runs.
 *
 * The reading is strict where leniency has let requests be smuggled past
 * proxies (white space before a colon, folded lines, a Content-Length
 * beside Transfer-Encoding, two Content-Lengths that disagree, a bare CR)
 * and lenient only where RFC 9112 says a server may be: a bare LF ends a
 * line, empty lines before the request line are skipped, an absolute-form
 * target is read for its path.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>

#include "http_parse.h"
#include "util.h"

static int
refuse(struct http_refusal *why, enum http_err kind, const char *code,
    const char *msg)
{
	if (why != NULL) {
		why->kind = kind;
		why->code = code;
		why->msg = msg;
	}
	return -1;
}

#define BAD(why, msg) refuse(why, HTTP_ERR_BAD_REQUEST, "bad_request", msg)

/* RFC 9110 tchar. */
static int
is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Empty lines before the request line: their length. */
static size_t
leading_empty(const char *buf, size_t len)
{
	size_t i = 0;

	for (;;) {
		if (i < len && buf[i] == '\n')
			i++;
		else if (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n')
			i += 2;
		else
			return i;
	}
}

/* See http_parse.h. */
long
http_head_end(const char *buf, size_t len, size_t from, size_t *scanned,
    struct http_refusal *why)
{
	size_t lead = leading_empty(buf, len), i, look;
	const char *nl;

	if (lead > HTTP_HEAD_MAX) {
		refuse(why, HTTP_ERR_HEADERS_TOO_LARGE, "headers_too_large",
		    "the request head is too large");
		return -1;
	}
	/* The request line's end, for the 414 test (memchr over at most
	 * HTTP_LINE_MAX octets: cheap even when asked once per octet). */
	look = len - lead < HTTP_LINE_MAX + 2 ? len - lead : HTTP_LINE_MAX + 2;
	nl = memchr(buf + lead, '\n', look);
	if (nl == NULL && look == HTTP_LINE_MAX + 2) {
		refuse(why, HTTP_ERR_URI_TOO_LONG, "uri_too_long",
		    "the request line is too long");
		return -1;
	}
	i = from > lead + 2 ? from - 2 : lead;
	for (; i < len; i++) {
		unsigned char c = buf[i];

		if (c == '\0') {
			BAD(why, "a NUL octet in the request head");
			return -1;
		}
		if (c == '\r') {
			if (i + 1 == len)
				break;          /* its LF may follow */
			if (buf[i + 1] != '\n') {
				BAD(why, "a bare CR in the request head");
				return -1;
			}
			continue;
		}
		if (c != '\n')
			continue;
		/* A line ended at i; an empty line after it ends the head. */
		if (i + 1 < len && buf[i + 1] == '\n') {
			i += 2;
			goto done;
		}
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
			i += 3;
			goto done;
		}
		if (i + 2 >= len)
			break;      /* the next line has not begun for sure */
	}
	if (scanned != NULL)
		*scanned = i < len ? i : len;
	if (len > HTTP_HEAD_MAX) {
		refuse(why, HTTP_ERR_HEADERS_TOO_LARGE, "headers_too_large",
		    "the request head is too large");
		return -1;
	}
	return 0;
done:
	if (i > HTTP_HEAD_MAX) {
		refuse(why, HTTP_ERR_HEADERS_TOO_LARGE, "headers_too_large",
		    "the request head is too large");
		return -1;
	}
	if (scanned != NULL)
		*scanned = i;
	return (long)i;
}

/* The next line of [*p, end): NUL-terminated in place, its CR dropped. */
static char *
next_line(char **p, char *end)
{
	char *s = *p, *nl;

	if (s >= end)
		return NULL;
	nl = memchr(s, '\n', (size_t)(end - s));
	if (nl == NULL)
		nl = end;
	*p = nl < end ? nl + 1 : end;
	*nl = '\0';
	if (nl > s && nl[-1] == '\r')
		nl[-1] = '\0';
	return s;
}

static const struct {
	const char *name;
	enum http_verb verb;
} verbs[] = {
	{ "GET", HTTP_VERB_GET },
	{ "HEAD", HTTP_VERB_HEAD },
	{ "POST", HTTP_VERB_POST },
	{ "PUT", HTTP_VERB_PUT },
	{ "DELETE", HTTP_VERB_DELETE },
	{ "PATCH", HTTP_VERB_PATCH },
	{ "OPTIONS", HTTP_VERB_OPTIONS },
	{ "TRACE", HTTP_VERB_TRACE },
};

/* "METHOD SP target SP HTTP/1.x" into h. */
static int
parse_request_line(char *line, struct http_head *h, struct http_refusal *why)
{
	char *sp1, *sp2, *target, *version, *q;
	size_t i;

	if ((sp1 = strchr(line, ' ')) == NULL)
		return BAD(why, "the request line has no target");
	*sp1 = '\0';
	target = sp1 + 1;
	if ((sp2 = strchr(target, ' ')) == NULL)
		return BAD(why, "the request line has no HTTP version "
		    "(HTTP/0.9 is not served)");
	*sp2 = '\0';
	version = sp2 + 1;
	if (*line == '\0' || *target == '\0' || strchr(version, ' ') != NULL)
		return BAD(why, "the request line is not "
		    "\"METHOD target HTTP/1.1\"");
	for (char *m = line; *m != '\0'; m++)
		if (!is_tchar((unsigned char)*m))
			return BAD(why, "the method is not a token");
	if (strncmp(version, "HTTP/", 5) != 0 || strlen(version) != 8 ||
	    version[6] != '.' || version[5] < '0' || version[5] > '9' ||
	    version[7] < '0' || version[7] > '9')
		return BAD(why, "the request line's version is not HTTP/1.x");
	if (version[5] != '1' || (version[7] != '0' && version[7] != '1'))
		return refuse(why, HTTP_ERR_VERSION, "http_version_not_supported",
		    "only HTTP/1.0 and HTTP/1.1 are served");
	h->minor = version[7] - '0';
	h->method = line;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(line, verbs[i].name) == 0)
			break;
	if (i == sizeof(verbs) / sizeof(verbs[0]))
		return refuse(why, HTTP_ERR_NOT_IMPLEMENTED, "not_implemented",
		    "this method is not implemented");
	h->verb = verbs[i].verb;
	for (char *t = target; *t != '\0'; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
			return BAD(why, "the target holds a control octet or "
			    "white space");
	/* Absolute form: read the path after the authority. */
	if (strncasecmp(target, "http://", 7) == 0 ||
	    strncasecmp(target, "https://", 8) == 0) {
		char *slash = strchr(strchr(target, ':') + 3, '/');

		if (slash == NULL) {
			/* "http://host" is the root; point at a "/" of our
			 * own: the scheme's first slash, cut off. */
			target = strchr(target, ':') + 1;
			target[1] = '\0';
		} else
			target = slash;
	}
	if (*target != '/')
		return BAD(why, "the target is not a path");
	if ((q = strchr(target, '?')) != NULL) {
		*q = '\0';
		h->query = q + 1;
	}
	if ((q = strchr(target, '#')) != NULL)
		return BAD(why, "the target holds a fragment");
	h->path = target;
	return 0;
}

/* A Content-Length value: digits only.  413 when it cannot be a length we
 * would read (over 18 digits). */
static int
parse_length(const char *v, int64_t *out, struct http_refusal *why)
{
	int64_t n = 0;
	size_t i;

	if (*v == '\0')
		return BAD(why, "Content-Length is empty");
	for (i = 0; v[i] != '\0'; i++) {
		if (v[i] < '0' || v[i] > '9')
			return BAD(why, "Content-Length is not a number");
		if (i >= 18)
			return refuse(why, HTTP_ERR_TOO_LARGE, "body_too_large",
			    "the body is too large");
		n = n * 10 + (v[i] - '0');
	}
	*out = n;
	return 0;
}

/* Does the comma-separated list v hold token (any case)? */
static int
has_token(const char *v, const char *token)
{
	size_t tl = strlen(token);

	while (*v != '\0') {
		const char *end;
		size_t n;

		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		end = v + strcspn(v, ",");
		n = (size_t)(end - v);
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		if (n == tl && strncasecmp(v, token, tl) == 0)
			return 1;
		v = end;
	}
	return 0;
}

/* What the fields mean for framing and the connection. */
static int
read_fields(struct http_head *h, struct http_refusal *why)
{
	int hosts = 0, te = 0;

	h->content_length = -1;
	h->keep_alive = h->minor == 1;
	for (int i = 0; i < h->nfield; i++) {
		const char *n = h->fields[i].name, *v = h->fields[i].value;

		if (strcasecmp(n, "Content-Length") == 0) {
			int64_t len;

			if (parse_length(v, &len, why) < 0)
				return -1;
			if (h->content_length >= 0 && h->content_length != len)
				return BAD(why, "two Content-Lengths disagree");
			h->content_length = len;
		} else if (strcasecmp(n, "Transfer-Encoding") == 0) {
			if (te++ > 0)
				return BAD(why, "Transfer-Encoding is repeated");
			if (h->minor == 0)
				return BAD(why, "Transfer-Encoding in an "
				    "HTTP/1.0 request");
			if (strcasecmp(v, "chunked") != 0)
				return refuse(why, HTTP_ERR_NOT_IMPLEMENTED, "not_implemented",
				    "only the chunked transfer coding is "
				    "implemented");
			h->chunked = 1;
		} else if (strcasecmp(n, "Host") == 0) {
			if (hosts++ > 0)
				return BAD(why, "Host is repeated");
		} else if (strcasecmp(n, "Connection") == 0) {
			if (has_token(v, "close"))
				h->keep_alive = 0;
			else if (has_token(v, "keep-alive"))
				h->keep_alive = 1;
		} else if (strcasecmp(n, "Expect") == 0) {
			if (strcasecmp(v, "100-continue") != 0)
				return refuse(why, HTTP_ERR_EXPECTATION, "expectation_failed",
				    "only Expect: 100-continue is known");
			h->expect_continue = h->minor == 1;
		}
	}
	if (h->chunked && h->content_length >= 0)
		return BAD(why, "Content-Length and Transfer-Encoding "
		    "together");
	/* "close" wins over "keep-alive", in whichever order they came. */
	for (int i = 0; i < h->nfield && h->keep_alive; i++)
		if (strcasecmp(h->fields[i].name, "Connection") == 0 &&
		    has_token(h->fields[i].value, "close"))
			h->keep_alive = 0;
	return 0;
}

/* One header field line into h. */
static int
parse_field(char *line, struct http_head *h, struct http_refusal *why)
{
	char *colon, *v, *end;

	if (*line == ' ' || *line == '\t')
		return BAD(why, "a folded header line");
	if ((colon = strchr(line, ':')) == NULL)
		return BAD(why, "a header line without a colon");
	if (colon == line)
		return BAD(why, "a header line without a name");
	for (char *n = line; n < colon; n++)
		if (!is_tchar((unsigned char)*n))
			return BAD(why, "a header name that is not a token "
			    "(white space before the colon?)");
	*colon = '\0';
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	for (char *c = v; *c != '\0'; c++)
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
			return BAD(why, "a header value holds a control "
			    "octet");
	if (h->nfield == HTTP_FIELDS_MAX)
		return refuse(why, HTTP_ERR_HEADERS_TOO_LARGE, "headers_too_large",
		    "too many header fields");
	h->fields[h->nfield].name = line;
	h->fields[h->nfield].value = v;
	h->nfield++;
	return 0;
}

/* See http_parse.h. */
int
http_head_parse(const char *buf, size_t len, struct http_head *h,
    struct http_refusal *why)
{
	char *p, *end, *line;
	size_t lead = leading_empty(buf, len);

	memset(h, 0, sizeof(*h));
	h->content_length = -1;
	h->buf = xmalloc(len + 1);
	memcpy(h->buf, buf, len);
	h->buf[len] = '\0';
	if (memchr(h->buf, '\0', len) != NULL) {
		BAD(why, "a NUL octet in the request head");
		goto fail;
	}
	p = h->buf + lead;
	end = h->buf + len;
	if ((line = next_line(&p, end)) == NULL || *line == '\0') {
		BAD(why, "no request line");
		goto fail;
	}
	if (parse_request_line(line, h, why) < 0)
		goto fail;
	while ((line = next_line(&p, end)) != NULL && *line != '\0')
		if (parse_field(line, h, why) < 0)
			goto fail;
	if (read_fields(h, why) < 0)
		goto fail;
	return 0;
fail:
	http_head_free(h);
	return -1;
}

void
http_head_free(struct http_head *h)
{
	free(h->buf);
	memset(h, 0, sizeof(*h));
	h->content_length = -1;
}

const char *
http_head_field(const struct http_head *h, const char *name)
{
	for (int i = 0; i < h->nfield; i++)
		if (strcasecmp(h->fields[i].name, name) == 0)
			return h->fields[i].value;
	return NULL;
}

/* See http_parse.h. */
int
http_chunk_size(const char *line, size_t len, uint64_t *size,
    struct http_refusal *why)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		int d;
		char c = line[i];

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			break;
		if (n > (UINT64_MAX >> 4))
			return BAD(why, "a chunk size too large to read");
		n = n << 4 | (uint64_t)d;
	}
	if (i == 0)
		return BAD(why, "a chunk size that is not hexadecimal");
	/* White space, then extensions or nothing. */
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i < len && line[i] != ';')
		return BAD(why, "a chunk size that is not hexadecimal");
	for (; i < len; i++)
		if (((unsigned char)line[i] < 0x20 && line[i] != '\t') ||
		    line[i] == 0x7f)
			return BAD(why, "a chunk extension holds a control "
			    "octet");
	*size = n;
	return 0;
}

/* ---- what a handler reads of a head --------------------------------- */

static char *
copy_n(const char *s, size_t n)
{
	char *d = xmalloc(n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *
http_query_value(const char *query, const char *name)
{
	const char *q = query;

	while (q != NULL && *q != '\0') {
		const char *amp = strchr(q, '&');
		size_t plen = amp != NULL ? (size_t)(amp - q) : strlen(q);
		const char *eq = memchr(q, '=', plen);
		size_t klen = eq != NULL ? (size_t)(eq - q) : plen;
		char *k = copy_n(q, klen), *kd, *vd;
		size_t kdlen = 0, vdlen = 0;
		int match;

		kd = evhttp_uridecode(k, 1, &kdlen);
		free(k);
		match = kd != NULL && strlen(kd) == kdlen &&
		    strcmp(kd, name) == 0;
		free(kd);
		if (match) {
			char *v = eq != NULL ? copy_n(eq + 1,
			    plen - klen - 1) : xstrdup("");

			vd = evhttp_uridecode(v, 1, &vdlen);
			free(v);
			if (vd == NULL || strlen(vd) != vdlen) {
				free(vd);
				return NULL;
			}
			return vd;
		}
		q = amp != NULL ? amp + 1 : NULL;
	}
	return NULL;
}

const char *
http_bearer_token(const char *v)
{
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
