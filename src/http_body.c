/*
 * http_body.c - request bodies: Content-Type, the 64 KiB limit, and the
 * JSON, urlencoded and multipart parsers that turn a body into a json_t
 * object for the handlers.
 *
 * Everything here is pure but for the two functions that take a request:
 * http_body() and http_body_try().  They read the body the listener has
 * already gathered in full (within HTTP_MAX_BODY: http.c refuses a larger
 * one while reading it) and hand it to http_body_parse(), which sees
 * only memory, so that check_http and the fuzz target can call it without
 * a listener.  http.c owns the connection and the answer; the one answer
 * sent from here (http_body()'s error) goes through http_reply_error(),
 * which maps the error kind to its status.
 *
 * Media types and their parameters follow RFC 9110 (tokens, quoted
 * strings, case-insensitive names).  JSON must be UTF-8, an object, and
 * free of duplicate keys.  Forms become an object of strings: of a name
 * repeated in urlencoded data the last value wins; multipart (RFC 7578)
 * parts carrying a file are skipped.  A returned object belongs to the caller (json_decref it);
 * error messages are static, or for a JSON syntax error a thread-local
 * buffer valid until the next parse in the same thread.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "util.h"

#define STR(x) #x
#define XSTR(x) STR(x)

/* The answer to a body over the limit (http_body_parse's own check). */
static const char too_large_msg[] =
    "the body is larger than " XSTR(HTTP_MAX_BODY) " octets";

/* Longest message http_body_parse returns (it names a position). */
static _Thread_local char parse_msg[160];

static int
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* A token character of RFC 9110 (media types, parameter names). */
static int
is_tchar(unsigned char c)
{
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/*
 * Look name up in the parameters "; a=b; c="d"" of a header value
 * (p, len).  Returns 1 with the value (unquoted) in out, 0 when absent,
 * -1 when the parameters are malformed or the value does not fit.
 */
static int
param_get(const char *p, size_t len, const char *name, char *out,
    size_t outsize)
{
	size_t i = 0;
	int found = 0;

	for (;;) {
		size_t ns, nlen, o = 0;
		int match;

		while (i < len && is_ows(p[i]))
			i++;
		if (i == len)
			return found;
		if (p[i] != ';')
			return -1;
		i++;
		while (i < len && is_ows(p[i]))
			i++;
		if (i == len || p[i] == ';')
			continue;
		ns = i;
		while (i < len && is_tchar((unsigned char)p[i]))
			i++;
		nlen = i - ns;
		if (nlen == 0 || i == len || p[i] != '=')
			return -1;
		i++;
		match = !found && nlen == strlen(name) &&
		    strncasecmp(p + ns, name, nlen) == 0;
		if (i < len && p[i] == '"') {
			for (i++; i < len && p[i] != '"'; i++) {
				if (p[i] == '\\' && i + 1 < len)
					i++;
				if (match) {
					if (o + 1 >= outsize)
						return -1;
					out[o++] = p[i];
				}
			}
			if (i == len)
				return -1;
			i++;
		} else {
			size_t vs = i;

			while (i < len && p[i] != ';' && !is_ows(p[i]) &&
			    p[i] != '"')
				i++;
			if (i == vs)
				return -1;
			if (match) {
				if (i - vs + 1 > outsize)
					return -1;
				memcpy(out, p + vs, i - vs);
				o = i - vs;
			}
		}
		if (match) {
			out[o] = '\0';
			found = 1;
		}
	}
}

/* The media type of a header value (p, len), lower-cased into mt; *rest
 * is what follows it.  Returns -1 when it is empty or too long. */
static int
media_type(const char *p, size_t len, char *mt, size_t mtsize,
    const char **rest)
{
	size_t i = 0, o = 0;

	while (i < len && is_ows(p[i]))
		i++;
	while (i < len && (is_tchar((unsigned char)p[i]) || p[i] == '/')) {
		if (o + 1 >= mtsize)
			return -1;
		mt[o++] = (char)tolower((unsigned char)p[i++]);
	}
	mt[o] = '\0';
	*rest = p + i;
	return o == 0 ? -1 : 0;
}

/* Fail a parse: kind, the error code for the reply and a message. */
struct parse_err {
	enum http_err kind;
	const char *code;
	const char *msg;
};

static json_t *
fail(struct parse_err *pe, enum http_err kind, const char *code,
    const char *msg)
{
	pe->kind = kind;
	pe->code = code;
	pe->msg = msg;
	return NULL;
}

static json_t *
parse_json(const char *body, size_t len, struct parse_err *pe)
{
	json_error_t jerr;
	json_t *v;

	if (len == 0)
		return fail(pe, HTTP_ERR_BAD_REQUEST, "invalid_json",
		    "the body is empty; send a JSON object");
	v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL) {
		snprintf(parse_msg, sizeof(parse_msg),
		    "invalid JSON at line %d column %d: %.100s", jerr.line,
		    jerr.column, jerr.text);
		return fail(pe, HTTP_ERR_BAD_REQUEST, "invalid_json",
		    parse_msg);
	}
	if (!json_is_object(v)) {
		json_decref(v);
		return fail(pe, HTTP_ERR_BAD_REQUEST, "invalid_json",
		    "body must be a JSON object");
	}
	return v;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* %-decode (and '+' to space) s[0..len) into out (len + 1 octets);
 * returns the decoded length or -1 for a bad escape or a NUL. */
static long
form_decode(const char *s, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '+')
			out[o++] = ' ';
		else if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -1;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else if (s[i] == '\0')
			return -1;
		else
			out[o++] = s[i];
	}
	out[o] = '\0';
	return (long)o;
}

/* Set obj[key] = value (a JSON string); -1 when either is not UTF-8. */
static int
set_field(json_t *obj, const char *key, const char *val, size_t vlen)
{
	json_t *s = json_stringn(val, vlen);

	if (s == NULL)
		return -1;
	return json_object_set_new(obj, key, s);
}

/* a=1&b=x+y: repeated keys, the last wins; a key without '=' is "". */
static json_t *
parse_form(const char *body, size_t len, struct parse_err *pe)
{
	json_t *obj = json_object();
	char *key = xmalloc(len + 1), *val = xmalloc(len + 1);
	const char *p = body, *end = body + len;

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *eq, *stop = amp != NULL ? amp : end;
		long klen, vlen;

		if (stop == p) {
			p++;
			continue;
		}
		eq = memchr(p, '=', (size_t)(stop - p));
		klen = form_decode(p, (size_t)((eq ? eq : stop) - p), key);
		vlen = eq ? form_decode(eq + 1, (size_t)(stop - eq - 1), val) :
		    form_decode("", 0, val);
		if (klen < 0 || vlen < 0) {
			fail(pe, HTTP_ERR_BAD_REQUEST, "invalid_form",
			    "bad %-escape in form data");
			goto bad;
		}
		if (klen == 0) {
			fail(pe, HTTP_ERR_BAD_REQUEST, "invalid_form",
			    "a form field has no name");
			goto bad;
		}
		if (set_field(obj, key, val, (size_t)vlen) < 0) {
			fail(pe, HTTP_ERR_BAD_REQUEST, "invalid_form",
			    "form data must be UTF-8");
			goto bad;
		}
		p = stop + (amp != NULL);
	}
	free(key);
	free(val);
	return obj;
bad:
	free(key);
	free(val);
	json_decref(obj);
	return NULL;
}

/* The part headers (p, len): the field name from Content-Disposition
 * into name; *is_file when it names a filename.  0 or -1. */
static int
part_headers(const char *p, size_t len, char *name, size_t namesize,
    int *is_file)
{
	const char *end = p + len;
	int have_name = 0;

	*is_file = 0;
	while (p < end) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		const char *colon, *v;
		char mt[32], fname[8];
		const char *rest;

		if (eol == NULL)
			eol = end;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL)
			return -1;
		if ((size_t)(colon - p) == 19 &&
		    strncasecmp(p, "Content-Disposition", 19) == 0) {
			v = colon + 1;
			if (media_type(v, (size_t)(eol - v), mt, sizeof(mt),
			    &rest) < 0 || strcmp(mt, "form-data") != 0)
				return -1;
			if (param_get(rest, (size_t)(eol - rest), "name", name,
			    namesize) != 1 || name[0] == '\0')
				return -1;
			/* Only presence matters; long names are files too. */
			if (param_get(rest, (size_t)(eol - rest), "filename",
			    fname, sizeof(fname)) != 0)
				*is_file = 1;
			have_name = 1;
		}
		p = eol + 2;
	}
	return have_name ? 0 : -1;
}

/* multipart/form-data (RFC 7578): each part's name and text; parts that
 * carry a file are skipped. */
static json_t *
parse_multipart(const char *params, size_t plen, const char *body,
    size_t len, struct parse_err *pe)
{
	char boundary[80], delim[84], name[256];
	const char *p, *end = body + len;
	size_t dlen;
	json_t *obj;

	if (param_get(params, plen, "boundary", boundary,
	    sizeof(boundary)) != 1 || boundary[0] == '\0' ||
	    strlen(boundary) > 70)
		return fail(pe, HTTP_ERR_BAD_REQUEST, "invalid_form",
		    "multipart body without a valid boundary");
	dlen = (size_t)snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
	/* The first delimiter may open the body (no preamble). */
	if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0)
		p = body + dlen - 2;
	else if ((p = memmem(body, len, delim, dlen)) != NULL)
		p += dlen;
	else
		return fail(pe, HTTP_ERR_BAD_REQUEST, "invalid_form",
		    "multipart boundary not found in the body");
	obj = json_object();
	for (;;) {
		const char *hend, *next;
		int is_file;

		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return obj;     /* the close delimiter */
		while (p < end && is_ows(*p))
			p++;
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
			break;
		p += 2;
		/* Headers end at an empty line (a part may have none). */
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
			hend = p;
		else if ((hend = memmem(p, (size_t)(end - p), "\r\n\r\n",
		    4)) != NULL)
			hend += 2;
		else
			break;
		if (part_headers(p, (size_t)(hend - p), name, sizeof(name),
		    &is_file) < 0) {
			json_decref(obj);
			return fail(pe, HTTP_ERR_BAD_REQUEST, "invalid_form",
			    "a multipart part has no form-data name");
		}
		p = hend + 2;
		if ((next = memmem(p, (size_t)(end - p), delim, dlen)) == NULL)
			break;
		if (!is_file && (memchr(p, '\0', (size_t)(next - p)) != NULL ||
		    set_field(obj, name, p, (size_t)(next - p)) < 0)) {
			json_decref(obj);
			return fail(pe, HTTP_ERR_BAD_REQUEST, "invalid_form",
			    "form data must be UTF-8 text");
		}
		p = next + dlen;
	}
	json_decref(obj);
	return fail(pe, HTTP_ERR_BAD_REQUEST, "invalid_form",
	    "truncated multipart body");
}

/* The shared parser: also names the error code for the reply. */
static json_t *
body_parse(const char *ctype, const char *body, size_t len, int allow_form,
    struct parse_err *pe)
{
	const char *want = allow_form ? "Content-Type must be application/json "
	    "or form data" : "Content-Type must be application/json";
	const char *rest;
	char mt[64], cs[32];
	size_t rlen;
	int rc;

	if (len > HTTP_MAX_BODY)
		return fail(pe, HTTP_ERR_TOO_LARGE, "body_too_large",
		    too_large_msg);
	if (ctype == NULL || media_type(ctype, strlen(ctype), mt, sizeof(mt),
	    &rest) < 0)
		return fail(pe, HTTP_ERR_CONTENT_TYPE, "unsupported_media_type",
		    want);
	rlen = strlen(rest);
	if (strcmp(mt, "application/json") == 0) {
		rc = param_get(rest, rlen, "charset", cs, sizeof(cs));
		if (rc < 0 || (rc == 1 && strcasecmp(cs, "utf-8") != 0))
			return fail(pe, HTTP_ERR_CONTENT_TYPE,
			    "unsupported_media_type",
			    "JSON bodies must be UTF-8");
		return parse_json(body, len, pe);
	}
	if (allow_form && strcmp(mt, "application/x-www-form-urlencoded") == 0)
		return parse_form(body, len, pe);
	if (allow_form && strcmp(mt, "multipart/form-data") == 0)
		return parse_multipart(rest, rlen, body, len, pe);
	return fail(pe, HTTP_ERR_CONTENT_TYPE, "unsupported_media_type", want);
}

/* See http.h; *err is valid until the next call in this thread. */
json_t *
http_body_parse(const char *ctype, const char *body, size_t len,
    int allow_form, enum http_err *kind, const char **err)
{
	struct parse_err pe = { HTTP_ERR_BAD_REQUEST, NULL, NULL };
	json_t *v = body_parse(ctype, body != NULL ? body : "",
	    body != NULL ? len : 0, allow_form, &pe);

	if (v == NULL) {
		if (kind != NULL)
			*kind = pe.kind;
		if (err != NULL)
			*err = pe.msg;
	}
	return v;
}

/* The request's body in memory (not NUL-terminated: *len octets) and its
 * Content-Type.  An over-limit body is never pulled up: parsing refuses
 * it by its length. */
static const char *
req_body(struct http_request *req, size_t *len, const char **ctype)
{
	const char *body = http_req_body(req, len);

	*ctype = http_header(req, "Content-Type");
	return *len <= HTTP_MAX_BODY ? body : "";
}

/* The request's body as an object, or NULL with *kind and *msg set. */
json_t *
http_body_try(struct http_request *req, int allow_form,
    enum http_err *kind, const char **msg)
{
	const char *ctype, *body;
	size_t len;

	body = req_body(req, &len, &ctype);
	return http_body_parse(ctype, body, len, allow_form, kind, msg);
}

/* The request's body as an object, or NULL after an error reply. */
json_t *
http_body(struct http_request *req, int allow_form)
{
	struct parse_err pe = { HTTP_ERR_BAD_REQUEST, NULL, NULL };
	const char *ctype, *body;
	size_t len;
	json_t *v;

	body = req_body(req, &len, &ctype);
	if ((v = body_parse(ctype, body, len, allow_form, &pe)) == NULL)
		http_reply_error(req, pe.kind, pe.code, NULL, "%s", pe.msg);
	return v;
}
