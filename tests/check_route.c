/*
 * check_route.c - route.c: longest prefix, the default route, the switch
 * to the next SMSC on a repeat send, and route_choose(): health (degraded
 * SMSCs to the back, the probe share) and sidelining, by plain calls with
 * made-up figures.
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
	struct conf *c;
	struct route_choice ch;
	int order[ROUTE_MAX_SMSC];
	enum route_reason why;

	/* Routes without a default ("+") are valid: what no prefix covers
	 * has no route (flow.c answers no_route before anything is stored). */
	c = load_routes("[route uk]\nprefix = +44\nsmsc = b\n");
	ck_assert_int_eq(route_find(c, "+447400123456"), 0);
	ck_assert_int_eq(route_find(c, "+14155550123"), -1);
	ck_assert_int_eq(route_order(c, "+14155550123", -1, order, &why), 0);
	ck_assert_int_eq(route_choose(c, "+14155550123", -1, NULL, 0, &ch), 0);
	ck_assert_int_eq(ch.route, -1);
	ck_assert_int_eq(ch.norder, 0);
	ck_assert_int_eq(route_choose(c, "+447400123456", -1, NULL, 0, &ch), 1);
	conf_free(c);
	/* route_order() answers nothing for what no route takes. */
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

/* --- route_choose() ------------------------------------------------------ */

/* Three SMSCs a b c (indexes 0 1 2) on one route for every number, 30% of
 * sends probing a degraded first choice. */
static struct conf *
load_abc(void)
{
	struct conf *c = load_routes("[route all]\nprefix = +\n"
	    "smsc = a b c\nprobe = 30\n");

	ck_assert_int_eq(conf_smsc_index(c, "a"), 0);
	ck_assert_int_eq(conf_smsc_index(c, "b"), 1);
	ck_assert_int_eq(conf_smsc_index(c, "c"), 2);
	return c;
}

/* All up, none sidelined, no figures. */
static void
all_up(struct route_smsc *s, int n)
{
	memset(s, 0, (size_t)n * sizeof(*s));
	for (int i = 0; i < n; i++) {
		s[i].up = 1;
		s[i].score.delivered_ratio = s[i].score.conversion = -1;
		s[i].score.latency_s = s[i].score.score = -1;
	}
}

/* Figures of an SMSC whose receipts say it delivers one message in ten,
 * on a sample large enough to count. */
static void
degrade(struct route_smsc *s)
{
	s->score.sent = 40;
	s->score.delivered = 3;
	s->score.undeliverable = 27;
	s->score.delivered_ratio = 0.1;
	s->score.score = 0.1;
	s->score.latency_s = 4;
	s->score.degraded = 1;
}

static void
assert_order(const struct route_choice *ch, int n, int o0, int o1, int o2)
{
	ck_assert_int_eq(ch->norder, n);
	ck_assert_int_eq(ch->order[0], o0);
	if (n > 1)
		ck_assert_int_eq(ch->order[1], o1);
	if (n > 2)
		ck_assert_int_eq(ch->order[2], o2);
}

START_TEST(choose_primary)
{
	struct conf *c = load_abc();
	struct route_smsc st[3];
	struct route_choice ch;

	ck_assert_int_eq(route_choose(c, "+14155550123", -1, NULL, 0, &ch), 3);
	ck_assert_int_eq(ch.route, 0);
	assert_order(&ch, 3, 0, 1, 2);
	ck_assert_int_eq(ch.reason, ROUTE_PRIMARY);
	ck_assert_int_eq(ch.nskip, 0);
	ck_assert_int_eq(ch.switched_from, -1);
	/* All up and healthy: the same, whatever the roll. */
	all_up(st, 3);
	ck_assert_int_eq(route_choose(c, "+14155550123", -1, st, 99, &ch), 3);
	assert_order(&ch, 3, 0, 1, 2);
	ck_assert_int_eq(ch.reason, ROUTE_PRIMARY);
	ck_assert_int_eq(ch.nskip, 0);
	ck_assert_int_eq(ch.switched_from, -1);
	conf_free(c);
}
END_TEST

START_TEST(choose_repeat_wraps)
{
	struct conf *c = load_abc();
	struct route_smsc st[3];
	struct route_choice ch;

	all_up(st, 3);
	route_choose(c, "+1415", 0, st, 0, &ch);
	assert_order(&ch, 3, 1, 2, 0);
	ck_assert_int_eq(ch.reason, ROUTE_REPEAT);
	route_choose(c, "+1415", 2, st, 0, &ch);
	assert_order(&ch, 3, 0, 1, 2);   /* wraps round */
	ck_assert_int_eq(ch.reason, ROUTE_REPEAT);
	ck_assert_int_eq(ch.switched_from, -1);
	conf_free(c);
	/* An SMSC not on the route gives the primary. */
	c = load_routes("[route one]\nprefix = +\nsmsc = b c\n");
	route_choose(c, "+1415", conf_smsc_index(c, "a"), NULL, 0, &ch);
	assert_order(&ch, 2, conf_smsc_index(c, "b"), conf_smsc_index(c, "c"),
	    -1);
	ck_assert_int_eq(ch.reason, ROUTE_PRIMARY);
	/* A one-SMSC route has nothing to rotate to. */
	conf_free(c);
	c = load_routes("[route one]\nprefix = +\nsmsc = b\n");
	route_choose(c, "+1415", conf_smsc_index(c, "b"), NULL, 0, &ch);
	assert_order(&ch, 1, conf_smsc_index(c, "b"), -1, -1);
	ck_assert_int_eq(ch.reason, ROUTE_PRIMARY);
	conf_free(c);
}
END_TEST

START_TEST(choose_no_route)
{
	struct conf *c = load_routes("[route uk]\nprefix = +44\nsmsc = b\n"
	    "[route all]\nprefix = +\nsmsc = a\n");
	struct route_smsc st[3];
	struct route_choice ch;

	all_up(st, 3);
	memset(&ch, 0x5a, sizeof(ch));   /* every field is written */
	ck_assert_int_eq(route_choose(c, "not a number", 1, st, 0, &ch), 0);
	ck_assert_int_eq(ch.norder, 0);
	ck_assert_int_eq(ch.route, -1);
	ck_assert_int_eq(ch.nskip, 0);
	ck_assert_int_eq(ch.switched_from, -1);
	ck_assert_int_eq(ch.reason, ROUTE_PRIMARY);
	/* The longest prefix picks the route it reports. */
	ck_assert_int_eq(route_choose(c, "+447400123456", -1, st, 0, &ch), 1);
	ck_assert_int_eq(ch.route, 0);
	ck_assert_int_eq(ch.order[0], conf_smsc_index(c, "b"));
	conf_free(c);
}
END_TEST

START_TEST(health_switch)
{
	struct conf *c = load_abc();
	struct route_smsc st[3];
	struct route_choice ch;

	/* The first choice degraded: it goes to the back. */
	all_up(st, 3);
	degrade(&st[0]);
	ck_assert_int_eq(route_choose(c, "+1415", -1, st, 99, &ch), 3);
	assert_order(&ch, 3, 1, 2, 0);
	ck_assert_int_eq(ch.reason, ROUTE_SCORE);
	ck_assert_int_eq(ch.switched_from, 0);
	ck_assert_int_eq(ch.nskip, 0);
	/* Two degraded: both behind the good one, keeping their order. */
	degrade(&st[1]);
	route_choose(c, "+1415", -1, st, 99, &ch);
	assert_order(&ch, 3, 2, 0, 1);
	ck_assert_int_eq(ch.reason, ROUTE_SCORE);
	ck_assert_int_eq(ch.switched_from, 0);
	/* On a repeat the first choice is the one after the last; when that
	 * is degraded the switch is from it. */
	all_up(st, 3);
	degrade(&st[1]);
	route_choose(c, "+1415", 0, st, 99, &ch);
	assert_order(&ch, 3, 2, 0, 1);
	ck_assert_int_eq(ch.reason, ROUTE_SCORE);
	ck_assert_int_eq(ch.switched_from, 1);
	/* Figures under the floor without degraded set (too small a sample)
	 * do not move anything: degraded is the whole test. */
	all_up(st, 3);
	st[0].score.delivered = 0;
	st[0].score.undeliverable = 2;
	st[0].score.delivered_ratio = st[0].score.score = 0;
	route_choose(c, "+1415", -1, st, 99, &ch);
	assert_order(&ch, 3, 0, 1, 2);
	ck_assert_int_eq(ch.reason, ROUTE_PRIMARY);
	conf_free(c);
}
END_TEST

START_TEST(health_probe_share)
{
	struct conf *c = load_abc();   /* probe = 30 */
	struct route_smsc st[3];
	struct route_choice ch;

	all_up(st, 3);
	degrade(&st[0]);
	/* Rolls 0..29 of 100 probe: the degraded first choice keeps its
	 * place and the send says why. */
	for (int roll = 0; roll < 30; roll++) {
		route_choose(c, "+1415", -1, st, roll, &ch);
		assert_order(&ch, 3, 0, 1, 2);
		ck_assert_int_eq(ch.reason, ROUTE_PROBE);
		ck_assert_int_eq(ch.switched_from, -1);
	}
	/* 30..99 switch. */
	for (int roll = 30; roll < 100; roll++) {
		route_choose(c, "+1415", -1, st, roll, &ch);
		assert_order(&ch, 3, 1, 2, 0);
		ck_assert_int_eq(ch.reason, ROUTE_SCORE);
		ck_assert_int_eq(ch.switched_from, 0);
	}
	conf_free(c);
	/* probe = 0: never; probe = 100: always. */
	c = load_routes("[route all]\nprefix = +\nsmsc = a b\nprobe = 0\n");
	route_choose(c, "+1415", -1, st, 0, &ch);
	ck_assert_int_eq(ch.order[0], 1);
	ck_assert_int_eq(ch.reason, ROUTE_SCORE);
	conf_free(c);
	c = load_routes("[route all]\nprefix = +\nsmsc = a b\nprobe = 100\n");
	route_choose(c, "+1415", -1, st, 99, &ch);
	ck_assert_int_eq(ch.order[0], 0);
	ck_assert_int_eq(ch.reason, ROUTE_PROBE);
	conf_free(c);
	/* The share is the route's own: the longest prefix's. */
	c = load_routes("[route all]\nprefix = +\nsmsc = a b\nprobe = 0\n"
	    "[route uk]\nprefix = +44\nsmsc = a b\nprobe = 50\n");
	route_choose(c, "+447400123456", -1, st, 40, &ch);
	ck_assert_int_eq(ch.reason, ROUTE_PROBE);
	route_choose(c, "+14155550123", -1, st, 40, &ch);
	ck_assert_int_eq(ch.reason, ROUTE_SCORE);
	conf_free(c);
}
END_TEST

START_TEST(health_no_switch)
{
	struct conf *c = load_abc();
	struct route_smsc st[3];
	struct route_choice ch;

	/* All degraded: nowhere better to go. */
	all_up(st, 3);
	degrade(&st[0]);
	degrade(&st[1]);
	degrade(&st[2]);
	route_choose(c, "+1415", -1, st, 99, &ch);
	assert_order(&ch, 3, 0, 1, 2);
	ck_assert_int_eq(ch.reason, ROUTE_PRIMARY);
	ck_assert_int_eq(ch.switched_from, -1);
	/* The first choice is good: a degraded later one keeps its place
	 * (it is tried only after the first anyway), and no probe either. */
	all_up(st, 3);
	degrade(&st[1]);
	for (int roll = 0; roll < 100; roll += 99) {
		route_choose(c, "+1415", -1, st, roll, &ch);
		assert_order(&ch, 3, 0, 1, 2);
		ck_assert_int_eq(ch.reason, ROUTE_PRIMARY);
		ck_assert_int_eq(ch.switched_from, -1);
	}
	/* ... a repeat keeps its reason. */
	route_choose(c, "+1415", 2, st, 99, &ch);
	assert_order(&ch, 3, 0, 1, 2);
	ck_assert_int_eq(ch.reason, ROUTE_REPEAT);
	conf_free(c);
	/* A one-SMSC route: health has no second choice to offer. */
	c = load_routes("[route one]\nprefix = +\nsmsc = a\n");
	all_up(st, 3);
	degrade(&st[0]);
	route_choose(c, "+1415", -1, st, 99, &ch);
	assert_order(&ch, 1, 0, -1, -1);
	ck_assert_int_eq(ch.reason, ROUTE_PRIMARY);
	ck_assert_int_eq(ch.switched_from, -1);
	conf_free(c);
}
END_TEST

START_TEST(sideline_moves_back)
{
	struct conf *c = load_abc();
	struct route_smsc st[3];
	struct route_choice ch;

	/* The first sidelined, the others up: it goes to the back, to be
	 * passed over; passing the first over is a failover. */
	all_up(st, 3);
	st[0].sidelined = 1;
	route_choose(c, "+1415", -1, st, 99, &ch);
	assert_order(&ch, 3, 1, 2, 0);
	ck_assert_int_eq(ch.nskip, 1);
	ck_assert_int_eq(ch.reason, ROUTE_FAILOVER);
	ck_assert_int_eq(ch.switched_from, -1);
	/* A later one sidelined: the first keeps its place and reason. */
	all_up(st, 3);
	st[1].sidelined = 1;
	route_choose(c, "+1415", -1, st, 99, &ch);
	assert_order(&ch, 3, 0, 2, 1);
	ck_assert_int_eq(ch.nskip, 1);
	ck_assert_int_eq(ch.reason, ROUTE_PRIMARY);
	/* Two sidelined, one up: both to the back in their order; a repeat
	 * stays a repeat. */
	all_up(st, 3);
	st[1].sidelined = st[2].sidelined = 1;
	route_choose(c, "+1415", 0, st, 99, &ch);   /* b c a */
	assert_order(&ch, 3, 0, 1, 2);
	ck_assert_int_eq(ch.nskip, 2);
	ck_assert_int_eq(ch.reason, ROUTE_REPEAT);
	/* One up but not sidelined is enough, even when it is down-ranked
	 * elsewhere: c down, b up. */
	all_up(st, 3);
	st[0].sidelined = 1;
	st[2].up = 0;
	route_choose(c, "+1415", -1, st, 99, &ch);
	assert_order(&ch, 3, 1, 2, 0);
	ck_assert_int_eq(ch.nskip, 1);
	conf_free(c);
}
END_TEST

START_TEST(sideline_kept_when_alone)
{
	struct conf *c = load_abc();
	struct route_smsc st[3];
	struct route_choice ch;

	/* The others down: a sidelined SMSC is better than none. */
	all_up(st, 3);
	st[0].sidelined = 1;
	st[1].up = st[2].up = 0;
	route_choose(c, "+1415", -1, st, 99, &ch);
	assert_order(&ch, 3, 0, 1, 2);
	ck_assert_int_eq(ch.nskip, 0);
	ck_assert_int_eq(ch.reason, ROUTE_PRIMARY);
	/* Every SMSC sidelined: the same. */
	all_up(st, 3);
	st[0].sidelined = st[1].sidelined = st[2].sidelined = 1;
	route_choose(c, "+1415", -1, st, 99, &ch);
	assert_order(&ch, 3, 0, 1, 2);
	ck_assert_int_eq(ch.nskip, 0);
	/* The only other up one is sidelined too; the last is down. */
	all_up(st, 3);
	st[1].sidelined = st[0].sidelined = 1;
	st[2].up = 0;
	route_choose(c, "+1415", -1, st, 99, &ch);
	assert_order(&ch, 3, 0, 1, 2);
	ck_assert_int_eq(ch.nskip, 0);
	/* Everything down: the configured order. */
	all_up(st, 3);
	st[0].up = st[1].up = st[2].up = 0;
	st[1].sidelined = 1;
	route_choose(c, "+1415", -1, st, 99, &ch);
	assert_order(&ch, 3, 0, 1, 2);
	ck_assert_int_eq(ch.nskip, 0);
	conf_free(c);
}
END_TEST

START_TEST(sideline_after_health)
{
	struct conf *c = load_abc();
	struct route_smsc st[3];
	struct route_choice ch;

	/* a degraded, b sidelined: health gives b c a, sidelining c a b.
	 * The reason and the switch are health's. */
	all_up(st, 3);
	degrade(&st[0]);
	st[1].sidelined = 1;
	route_choose(c, "+1415", -1, st, 99, &ch);
	assert_order(&ch, 3, 2, 0, 1);
	ck_assert_int_eq(ch.nskip, 1);
	ck_assert_int_eq(ch.reason, ROUTE_SCORE);
	ck_assert_int_eq(ch.switched_from, 0);
	/* The same send in the probe share: health keeps a b c, sidelining
	 * moves b back. */
	route_choose(c, "+1415", -1, st, 0, &ch);
	assert_order(&ch, 3, 0, 2, 1);
	ck_assert_int_eq(ch.nskip, 1);
	ck_assert_int_eq(ch.reason, ROUTE_PROBE);
	ck_assert_int_eq(ch.switched_from, -1);
	/* a degraded and sidelined: health would probe it, but sidelining
	 * puts it last all the same; the reason stays what health said. */
	all_up(st, 3);
	degrade(&st[0]);
	st[0].sidelined = 1;
	route_choose(c, "+1415", -1, st, 0, &ch);
	assert_order(&ch, 3, 1, 2, 0);
	ck_assert_int_eq(ch.nskip, 1);
	ck_assert_int_eq(ch.reason, ROUTE_PROBE);
	/* a good but sidelined, b degraded: health sees a good first and
	 * moves nothing, so sidelining leaves b c a.  Health runs before
	 * sidelining, as the dispatcher always did: degraded b goes ahead of
	 * good c. */
	all_up(st, 3);
	degrade(&st[1]);
	st[0].sidelined = 1;
	route_choose(c, "+1415", -1, st, 99, &ch);
	assert_order(&ch, 3, 1, 2, 0);
	ck_assert_int_eq(ch.nskip, 1);
	ck_assert_int_eq(ch.reason, ROUTE_FAILOVER);
	ck_assert_int_eq(ch.switched_from, -1);
	conf_free(c);
}
END_TEST

START_TEST(choose_null_smscs)
{
	struct conf *c = load_abc();
	struct route_choice ch;

	/* No table: all up, none sidelined, no figures: the configured
	 * order whatever the roll. */
	for (int roll = 0; roll < 100; roll++) {
		ck_assert_int_eq(route_choose(c, "+1415", -1, NULL, roll, &ch),
		    3);
		assert_order(&ch, 3, 0, 1, 2);
		ck_assert_int_eq(ch.reason, ROUTE_PRIMARY);
		ck_assert_int_eq(ch.nskip, 0);
		ck_assert_int_eq(ch.switched_from, -1);
	}
	route_choose(c, "+1415", 1, NULL, 0, &ch);
	assert_order(&ch, 3, 2, 0, 1);
	ck_assert_int_eq(ch.reason, ROUTE_REPEAT);
	ck_assert_int_eq(ch.nskip, 0);
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
	tc = tcase_create("choose");
	tcase_add_test(tc, choose_primary);
	tcase_add_test(tc, choose_repeat_wraps);
	tcase_add_test(tc, choose_no_route);
	tcase_add_test(tc, choose_null_smscs);
	suite_add_tcase(s, tc);
	tc = tcase_create("health");
	tcase_add_test(tc, health_switch);
	tcase_add_test(tc, health_probe_share);
	tcase_add_test(tc, health_no_switch);
	suite_add_tcase(s, tc);
	tc = tcase_create("sideline");
	tcase_add_test(tc, sideline_moves_back);
	tcase_add_test(tc, sideline_kept_when_alone);
	tcase_add_test(tc, sideline_after_health);
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
