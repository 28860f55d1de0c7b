/*
 * check_route.c - route.c: longest prefix, the default route, and the
 * switch to the next SMSC on a repeat send.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "conf.h"
#include "route.h"

static struct conf *
load(const char *text)
{
	char *errors = NULL;
	struct conf *c = conf_load_string(text, "route.conf", &errors);

	ck_assert_msg(c != NULL, "config refused: %s", errors ? errors : "");
	free(errors);
	return c;
}

static const char *base_conf =
    "[smsc a]\nhost = 127.0.0.1\nsystem_id = a\n"
    "[smsc b]\nhost = 127.0.0.1\nsystem_id = b\n"
    "[smsc c]\nhost = 127.0.0.1\nsystem_id = c\n"
    "[key k]\ntoken = 0123456789abcdef0123\n";

static struct conf *
load_routes(const char *routes)
{
	char buf[2048];

	strcpy(buf, base_conf);
	strcat(buf, routes);
	return load(buf);
}

START_TEST(longest_prefix_wins)
{
	struct conf *c = load_routes(
	    "[route world]\nprefix = +\nsmsc = a b\n"
	    "[route uk]\nprefix = +44\nsmsc = b\n"
	    "[route uk_mobile]\nprefix = +447 +33\nsmsc = c a\n");
	int order[ROUTE_MAX_SMSC];
	enum route_reason why;

	ck_assert_str_eq(c->routes[route_find(c, "+14155550123")].name,
	    "world");
	ck_assert_str_eq(c->routes[route_find(c, "+442071234567")].name,
	    "uk");
	ck_assert_str_eq(c->routes[route_find(c, "+447400123456")].name,
	    "uk_mobile");
	ck_assert_str_eq(c->routes[route_find(c, "+33612345678")].name,
	    "uk_mobile");
	ck_assert_int_eq(route_order(c, "+447400123456", -1, order, &why), 2);
	ck_assert_int_eq(order[0], conf_smsc_index(c, "c"));
	ck_assert_int_eq(order[1], conf_smsc_index(c, "a"));
	ck_assert_int_eq(why, ROUTE_PRIMARY);
	conf_free(c);
}
END_TEST

START_TEST(no_route_no_smsc)
{
	char buf[2048], *errors = NULL;
	struct conf *c;
	int order[ROUTE_MAX_SMSC];
	enum route_reason why;

	/* Routes without a default ("+") are refused at load: some number
	 * would have no SMSC. */
	snprintf(buf, sizeof(buf), "%s[route uk]\nprefix = +44\nsmsc = b\n",
	    base_conf);
	ck_assert_ptr_null(conf_load_string(buf, "route.conf", &errors));
	ck_assert_ptr_nonnull(strstr(errors, "no [route] has prefix +"));
	free(errors);
	/* route_order() still answers nothing for what no route takes. */
	c = load_routes("[route uk]\nprefix = +44\nsmsc = b\n"
	    "[route all]\nprefix = +\nsmsc = a\n");
	ck_assert_int_eq(route_order(c, "not a number", -1, order, &why), 0);
	ck_assert_int_eq(route_find(c, "+14155550123"), 1);
	conf_free(c);
}
END_TEST

START_TEST(implicit_default_route)
{
	struct conf *c = load(base_conf);
	int order[ROUTE_MAX_SMSC];
	enum route_reason why;

	ck_assert_int_eq(route_order(c, "+14155550123", -1, order, &why), 3);
	ck_assert_int_eq(order[0], 0);
	ck_assert_int_eq(order[2], 2);
	conf_free(c);
}
END_TEST

START_TEST(repeat_goes_to_next_and_wraps)
{
	struct conf *c = load_routes("[route all]\nprefix = +\n"
	    "smsc = a b c\n");
	int order[ROUTE_MAX_SMSC], a = conf_smsc_index(c, "a"),
	    b = conf_smsc_index(c, "b"), cc = conf_smsc_index(c, "c");
	enum route_reason why;

	ck_assert_int_eq(route_order(c, "+1415", a, order, &why), 3);
	ck_assert_int_eq(why, ROUTE_REPEAT);
	ck_assert_int_eq(order[0], b);
	ck_assert_int_eq(order[1], cc);
	ck_assert_int_eq(order[2], a);
	route_order(c, "+1415", cc, order, &why);
	ck_assert_int_eq(order[0], a);   /* wraps round */
	/* An SMSC not on the route gives the primary. */
	conf_free(c);
	c = load_routes("[route one]\nprefix = +\nsmsc = b c\n");
	route_order(c, "+1415", conf_smsc_index(c, "a"), order, &why);
	ck_assert_int_eq(order[0], conf_smsc_index(c, "b"));
	ck_assert_int_eq(why, ROUTE_PRIMARY);
	conf_free(c);
}
END_TEST

static Suite *
route_suite(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("order");

	tcase_add_test(tc, longest_prefix_wins);
	tcase_add_test(tc, no_route_no_smsc);
	tcase_add_test(tc, implicit_default_route);
	tcase_add_test(tc, repeat_goes_to_next_and_wraps);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(route_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
