/*
 * check_http_body.c - http_body_parse() on its own, no server: JSON
 * objects and what is not one, the size limit, form and multipart bodies
 * where they are allowed, and the error each refusal names.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "http.h"

static json_t *
parse(const char *ctype, const char *body, int allow_form,
    enum http_err *kind, const char **err)
{
	*kind = (enum http_err)-1;
	*err = NULL;
	return http_body_parse(ctype, body, strlen(body), allow_form, kind,
	    err);
}

static void
parse_fails(const char *ctype, const char *body, int allow_form,
    enum http_err want)
{
	enum http_err kind;
	const char *err;
	json_t *v = parse(ctype, body, allow_form, &kind, &err);

	ck_assert_msg(v == NULL, "accepted %s: %s", ctype ? ctype : "(none)",
	    body);
	ck_assert_msg(kind == want, "%s: kind %d, want %d", body, kind, want);
	ck_assert_ptr_nonnull(err);
}

static json_t *
parse_ok(const char *ctype, const char *body, int allow_form)
{
	enum http_err kind;
	const char *err;
	json_t *v = parse(ctype, body, allow_form, &kind, &err);

	ck_assert_msg(v != NULL, "refused %s: %s", body, err ? err : "?");
	ck_assert(json_is_object(v));
	return v;
}

static const char *
field(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

START_TEST(parse_json_variants)
{
	json_t *v;
	enum http_err kind;
	const char *err;

	v = parse_ok("Application/JSON; Charset=\"UTF-8\"", "{\"a\":1}", 0);
	ck_assert_int_eq(json_integer_value(json_object_get(v, "a")), 1);
	json_decref(v);
	json_decref(parse_ok(" application/json ;charset=utf-8", "{}", 0));
	parse_fails("application/json", "", 0, HTTP_ERR_BAD_REQUEST);
	parse_fails("application/json", "   ", 0, HTTP_ERR_BAD_REQUEST);
	parse_fails("application/json", "\"str\"", 0, HTTP_ERR_BAD_REQUEST);
	parse_fails("application/json", "null", 0, HTTP_ERR_BAD_REQUEST);
	parse_fails("application/json", "{} {}", 0, HTTP_ERR_BAD_REQUEST);
	parse_fails("application/json", "{\"a\":1,\"a\":2}", 0,
	    HTTP_ERR_BAD_REQUEST);
	parse_fails("application/json", "{\"a\":\"\\u0000\"}", 0,
	    HTTP_ERR_BAD_REQUEST);
	parse_fails("application/json", "{\"a\":\"\xff\"}", 0,
	    HTTP_ERR_BAD_REQUEST);
	parse_fails("application/json; charset=latin1", "{}", 0,
	    HTTP_ERR_CONTENT_TYPE);
	parse_fails("application/json; charset", "{}", 0,
	    HTTP_ERR_CONTENT_TYPE);
	parse_fails("application/jsonx", "{}", 0, HTTP_ERR_CONTENT_TYPE);
	parse_fails(NULL, "{}", 1, HTTP_ERR_CONTENT_TYPE);
	parse_fails("", "{}", 1, HTTP_ERR_CONTENT_TYPE);
	parse_fails("text/plain", "{}", 1, HTTP_ERR_CONTENT_TYPE);
	/* The message names the place. */
	v = parse("application/json", "{\"a\": 1,\n \"b\": }", 0, &kind,
	    &err);
	ck_assert_ptr_null(v);
	ck_assert_msg(strstr(err, "line 2 column") != NULL, "%s", err);
}
END_TEST

START_TEST(parse_size_limit)
{
	size_t n = HTTP_MAX_BODY + 1;
	char *big = malloc(n);
	enum http_err kind;
	const char *err;
	json_t *v;

	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	ck_assert_ptr_null(http_body_parse("application/json", big, n, 0,
	    &kind, &err));
	ck_assert_int_eq(kind, HTTP_ERR_TOO_LARGE);
	json_decref(parse_ok("application/json", "{}", 0));
	/* Exactly 64 KiB is not too large: "{   ...   }" parses. */
	big[n - 2] = '}';
	ck_assert_ptr_nonnull(v = http_body_parse("application/json", big,
	    n - 1, 0, &kind, &err));
	json_decref(v);
	free(big);
}
END_TEST

/* The edges of http_body_parse's contract. */
START_TEST(parse_contract_edges)
{
	enum http_err kind;
	const char *err;
	json_t *v;

	/* NULL body: empty, whatever len says. */
	ck_assert_ptr_null(http_body_parse("application/json", NULL, 5, 0,
	    &kind, &err));
	ck_assert_int_eq(kind, HTTP_ERR_BAD_REQUEST);
	v = http_body_parse("application/x-www-form-urlencoded", NULL, 5, 1,
	    &kind, &err);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(json_object_size(v), 0);
	json_decref(v);
	/* kind and err may be NULL. */
	ck_assert_ptr_null(http_body_parse("text/plain", "{}", 2, 0, NULL,
	    NULL));
	/* Too large is refused unread, and the message names the limit. */
	ck_assert_ptr_null(http_body_parse("application/json", "{}",
	    HTTP_MAX_BODY + 1, 0, &kind, &err));
	ck_assert_int_eq(kind, HTTP_ERR_TOO_LARGE);
	ck_assert_str_eq(err, "the body is larger than 65536 octets");
	ck_assert_int_eq(http_err_status(kind), 413);
}
END_TEST

START_TEST(parse_form_variants)
{
	json_t *v;

	v = parse_ok("application/x-www-form-urlencoded; charset=UTF-8",
	    "a=1&b=x+y%21&a=2&c&&d=%C3%A9&e%2Dk=%3D", 1);
	ck_assert_str_eq(field(v, "a"), "2");
	ck_assert_str_eq(field(v, "b"), "x y!");
	ck_assert_str_eq(field(v, "c"), "");
	ck_assert_str_eq(field(v, "d"), "\xc3\xa9");
	ck_assert_str_eq(field(v, "e-k"), "=");
	json_decref(v);
	v = parse_ok("application/x-www-form-urlencoded", "", 1);
	ck_assert_int_eq(json_object_size(v), 0);
	json_decref(v);
	parse_fails("application/x-www-form-urlencoded", "a=1", 0,
	    HTTP_ERR_CONTENT_TYPE);
	parse_fails("application/x-www-form-urlencoded", "a=%zz", 1,
	    HTTP_ERR_BAD_REQUEST);
	parse_fails("application/x-www-form-urlencoded", "a=%4", 1,
	    HTTP_ERR_BAD_REQUEST);
	parse_fails("application/x-www-form-urlencoded", "a=%", 1,
	    HTTP_ERR_BAD_REQUEST);
	parse_fails("application/x-www-form-urlencoded", "a=%00", 1,
	    HTTP_ERR_BAD_REQUEST);
	parse_fails("application/x-www-form-urlencoded", "a=%ff", 1,
	    HTTP_ERR_BAD_REQUEST);
	parse_fails("application/x-www-form-urlencoded", "=v", 1,
	    HTTP_ERR_BAD_REQUEST);
}
END_TEST

START_TEST(parse_multipart_variants)
{
	static const char ct[] = "multipart/form-data; boundary=\"a b:c\"";
	json_t *v;

	/* Preamble, quoted boundary, a file part (skipped), epilogue. */
	v = parse_ok(ct, "preamble\r\n--a b:c\r\n"
	    "content-disposition: form-data; name=\"x\"\r\n\r\n1\r\n"
	    "--a b:c  \r\nContent-Disposition: form-data; name=\"f\"; "
	    "filename=\"f.bin\"\r\n\r\n\x01\xffz\r\n"
	    "--a b:c\r\nContent-Disposition: form-data; name=empty\r\n\r\n"
	    "\r\n--a b:c\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n"
	    "2\r\n--a b:c--\r\nepilogue", 1);
	ck_assert_str_eq(field(v, "x"), "2");
	ck_assert_str_eq(field(v, "empty"), "");
	ck_assert_ptr_null(json_object_get(v, "f"));
	json_decref(v);
	v = parse_ok("multipart/form-data; boundary=B",
	    "--B\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\nv\r\n"
	    "--B--", 1);
	ck_assert_str_eq(field(v, "k"), "v");
	json_decref(v);
	parse_fails("multipart/form-data", "--B\r\n", 1, HTTP_ERR_BAD_REQUEST);
	parse_fails("multipart/form-data; boundary=", "--\r\n", 1,
	    HTTP_ERR_BAD_REQUEST);
	parse_fails("multipart/form-data; boundary=B", "no delimiter", 1,
	    HTTP_ERR_BAD_REQUEST);
	parse_fails("multipart/form-data; boundary=B",
	    "--B\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\nv", 1,
	    HTTP_ERR_BAD_REQUEST);
	parse_fails("multipart/form-data; boundary=B",
	    "--B\r\nContent-Type: text/plain\r\n\r\nv\r\n--B--", 1,
	    HTTP_ERR_BAD_REQUEST);
	parse_fails("multipart/form-data; boundary=B",
	    "--B\r\nContent-Disposition: attachment; name=k\r\n\r\nv\r\n--B--",
	    1, HTTP_ERR_BAD_REQUEST);
	parse_fails("multipart/form-data; boundary=B",
	    "--B\r\nContent-Disposition: form-data; name=\"k\r\n\r\nv\r\n--B--",
	    1, HTTP_ERR_BAD_REQUEST);
	parse_fails("multipart/form-data; boundary=B", "--B", 1,
	    HTTP_ERR_BAD_REQUEST);
	parse_fails("multipart/form-data; boundary=B",
	    "--B\r\nContent-Disposition: form-data; name=k\r\n\r\nv", 1,
	    HTTP_ERR_BAD_REQUEST);
	/* A close delimiter alone: no fields. */
	v = parse_ok("multipart/form-data; boundary=B", "--B--", 1);
	ck_assert_int_eq(json_object_size(v), 0);
	json_decref(v);
	parse_fails("multipart/form-data; boundary=B",
	    "--B\r\nContent-Disposition: form-data; name=k\r\n\r\n\xc3\r\n--B--",
	    1, HTTP_ERR_BAD_REQUEST);
	parse_fails("multipart/form-data; boundary=B", "--B\r\n", 0,
	    HTTP_ERR_CONTENT_TYPE);
}
END_TEST

static Suite *
body_suite(void)
{
	Suite *s = suite_create("http_body");
	TCase *tc;

	tc = tcase_create("body_parse");
	tcase_add_test(tc, parse_json_variants);
	tcase_add_test(tc, parse_size_limit);
	tcase_add_test(tc, parse_contract_edges);
	tcase_add_test(tc, parse_form_variants);
	tcase_add_test(tc, parse_multipart_variants);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(body_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
