/*
 * check_status.c - GET /status and GET /openapi.json (api_status.c): the
 * Content-Security-Policy made from the page's inline elements (pure), and
 * the daemon serving both documents as built, without a key, the page
 * with the policy that names its own code.  The page's behaviour in a
 * browser is tests/status's; the document against real answers,
 * tests/openapi's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "api_status.h"
#include "embed.h"
#include "harness.h"

static struct harness H;

static void
setup(void)
{
	ck_assert_int_eq(h_init(&H), 0);
}

static void
teardown(void)
{
	h_fini(&H);
}

/* " 'sha256-B64'" of s, as a browser hashes an inline element. */
static const char *
source_of(const char *s, char *buf, size_t size)
{
	unsigned char md[EVP_MAX_MD_SIZE], b64[4 * EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	ck_assert_int_eq(EVP_Digest(s, strlen(s), md, &len, EVP_sha256(),
	    NULL), 1);
	EVP_EncodeBlock(b64, md, (int)len);
	snprintf(buf, size, " 'sha256-%.64s'", (const char *)b64); /* 44 */
	return buf;
}

static int
policy_of(const char *page, char *out, size_t size)
{
	return api_status_policy(page, strlen(page), out, size);
}

/* Each inline script and style is named by its hash, in order; a tag in
 * an HTML comment is not an element (it would hash the text from the
 * comment to the real element's end: a page that never runs). */
START_TEST(policy_names_each_inline_element)
{
	static const char page[] = "<!DOCTYPE html>\n"
	    "<!-- the <script> and <style> elements below -->\n"
	    "<style>body { color: red }</style>\n"
	    "<script>alert(1)</script><p>text</p>\n<script>\nx();\n</script>";
	char out[API_STATUS_POLICY_MAX], want[API_STATUS_POLICY_MAX];
	char a[96], b[96], c[96];

	ck_assert_int_eq(policy_of(page, out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "default-src 'none'; script-src%s%s;"
	    " style-src%s; connect-src 'self'; img-src data:;"
	    " base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	    source_of("alert(1)", a, sizeof(a)),
	    source_of("\nx();\n", b, sizeof(b)),
	    source_of("body { color: red }", c, sizeof(c)));
	ck_assert_str_eq(out, want);
}
END_TEST

/* Nothing inline: nothing may run; what cannot be hashed whole is refused
 * rather than served with a policy that blocks the page or lets in more. */
START_TEST(policy_refuses_what_it_cannot_name)
{
	char out[API_STATUS_POLICY_MAX], many[1024] = "";

	ck_assert_int_eq(policy_of("<p>no code</p>", out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "script-src 'none';"));
	ck_assert_ptr_nonnull(strstr(out, "style-src 'none';"));
	ck_assert_int_eq(policy_of("<script>never closed", out, sizeof(out)),
	    -1);
	ck_assert_int_eq(policy_of("<!-- <script>x()</script>", out,
	    sizeof(out)), -1);
	for (int i = 0; i < 9; i++)
		strcat(many, "<script>x()</script>");
	ck_assert_int_eq(policy_of(many, out, sizeof(out)), -1);
	ck_assert_int_eq(policy_of("<script>x()</script>", out, 100), -1);
	/* An attribute makes another element: not hashed, so not run. */
	ck_assert_int_eq(policy_of("<script src=\"x.js\"></script>", out,
	    sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "script-src 'none';"));
}
END_TEST

/* The page as built: one script and one style, nothing unsafe. */
START_TEST(policy_of_the_page)
{
	char out[API_STATUS_POLICY_MAX];
	const char *p;
	int n = 0;

	ck_assert_int_eq(api_status_policy((const char *)status_html,
	    status_html_len, out, sizeof(out)), 0);
	for (p = out; (p = strstr(p, "'sha256-")) != NULL; p++)
		n++;
	ck_assert_int_eq(n, 2);
	ck_assert_ptr_null(strstr(out, "unsafe"));
	ck_assert_ptr_null(strstr(out, "*"));
	ck_assert_uint_eq(strlen((const char *)status_html), status_html_len);
}
END_TEST

/* One request on its own connection; the whole answer (head and body)
 * into out.  Returns the status or -1. */
static int
http_raw(const char *method, const char *path, char *out, size_t size,
    size_t *got)
{
	return h_http_raw(&H, method, path, NULL, NULL, out, size, got);
}

/* The body of a raw answer, and its length. */
static const char *
body_of(const char *resp, size_t got, size_t *len)
{
	const char *b = strstr(resp, "\r\n\r\n");

	ck_assert_ptr_nonnull(b);
	b += 4;
	*len = got - (size_t)(b - resp);
	return b;
}

/* GET /status without a key: the page as built, as HTML, with the policy
 * that names its code, framing and referrers refused; HEAD the same
 * without the body. */
START_TEST(serves_the_page_with_its_policy)
{
	static char resp[256 * 1024];
	char val[1024], want[API_STATUS_POLICY_MAX];
	const char *body;
	size_t got, len;

	h_start_all(&H);
	ck_assert_int_eq(http_raw("GET", "/status", resp, sizeof(resp), &got),
	    200);
	ck_assert_str_eq(h_header_of(resp, "Content-Type", val, sizeof(val)),
	    "text/html; charset=utf-8");
	ck_assert_int_eq(api_status_policy((const char *)status_html,
	    status_html_len, want, sizeof(want)), 0);
	ck_assert_str_eq(h_header_of(resp, "Content-Security-Policy", val,
	    sizeof(val)), want);
	ck_assert_str_eq(h_header_of(resp, "X-Frame-Options", val,
	    sizeof(val)), "DENY");
	ck_assert_str_eq(h_header_of(resp, "Referrer-Policy", val,
	    sizeof(val)), "no-referrer");
	body = body_of(resp, got, &len);
	ck_assert_uint_eq(len, status_html_len);
	ck_assert_int_eq(memcmp(body, status_html, len), 0);
	ck_assert_ptr_nonnull(strstr(body, "<title>smsverify status</title>"));

	ck_assert_int_eq(http_raw("HEAD", "/status", resp, sizeof(resp),
	    &got), 200);
	body_of(resp, got, &len);
	ck_assert_uint_eq(len, 0);
	ck_assert_ptr_nonnull(strstr(resp, "Content-Security-Policy: "));
	/* Other answers carry no page policy. */
	ck_assert_int_eq(http_raw("GET", "/healthz", resp, sizeof(resp),
	    &got), 200);
	ck_assert_str_eq(h_header_of(resp, "Content-Security-Policy", val,
	    sizeof(val)), "");
	ck_assert_int_eq(http_raw("POST", "/status", resp, sizeof(resp),
	    &got), 405);
}
END_TEST

/* GET /openapi.json without a key: the document as built, OpenAPI 3.1,
 * naming every endpoint the daemon serves and every webhook event it
 * POSTs, readable from other origins. */
START_TEST(serves_the_openapi_document)
{
	static const char *const paths[] = {
		"/v1/verifications", "/v1/verifications/check",
		"/v1/verifications/{id}", "/v1/verifications/{id}/cancel",
		"/healthz", "/metrics", "/v1/smscs", "/v1/shield",
		"/v1/shield/{range}", "/v1/limits", "/v1/test/messages",
		"/v1/messages", "/v1/stats", "/status", "/openapi.json",
		"/sms-verify", "/verify-security-code", "/verify/send",
		"/verify/check", "/v1/sms/verify/send", "/v1/sms/verify/check",
	};
	static const char *const hooks[] = {
		"verification.sent", "verification.delivery",
		"verification.approved", "verification.expired",
		"verification.failed", "verification.canceled",
		"shield.tripped", "message.received",
	};
	static char resp[256 * 1024];
	json_t *doc, *p;
	json_error_t jerr;
	const char *body;
	char val[128];
	size_t got, len;

	h_start_all(&H);
	ck_assert_int_eq(http_raw("GET", "/openapi.json", resp, sizeof(resp),
	    &got), 200);
	ck_assert_str_eq(h_header_of(resp, "Content-Type", val, sizeof(val)),
	    "application/json; charset=utf-8");
	ck_assert_str_eq(h_header_of(resp, "Access-Control-Allow-Origin", val,
	    sizeof(val)), "*");
	ck_assert_str_eq(h_header_of(resp, "Content-Security-Policy", val,
	    sizeof(val)), "");
	body = body_of(resp, got, &len);
	ck_assert_uint_eq(len, openapi_json_len);
	ck_assert_int_eq(memcmp(body, openapi_json, len), 0);
	doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	ck_assert_msg(doc != NULL, "openapi.json: line %d: %s", jerr.line,
	    jerr.text);
	ck_assert_str_eq(h_jstr(doc, "openapi"), "3.1.0");
	p = json_object_get(doc, "paths");
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		ck_assert_msg(json_object_get(p, paths[i]) != NULL,
		    "openapi.json does not describe %s", paths[i]);
	p = json_object_get(doc, "webhooks");
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
		ck_assert_msg(json_object_get(p, hooks[i]) != NULL,
		    "openapi.json does not describe the event %s", hooks[i]);
	json_decref(doc);
}
END_TEST

static Suite *
status_suite(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("policy");
	const struct h_test tests[] = {
		{ "serves_the_page", serves_the_page_with_its_policy, 1 },
		{ "serves_openapi", serves_the_openapi_document, 1 },
	};

	tcase_add_test(tc, policy_names_each_inline_element);
	tcase_add_test(tc, policy_refuses_what_it_cannot_name);
	tcase_add_test(tc, policy_of_the_page);
	suite_add_tcase(s, tc);
	h_add_tests(s, tests, sizeof(tests) / sizeof(tests[0]), setup,
	    teardown);
	return s;
}

int
main(void)
{
	return h_run_suite(status_suite());
}
