/*
 * check_conf.c - conf.c: the documented example and a minimal file load
 * with the right values and defaults; every kind of mistake is reported
 * as "FILE:LINE: [section NAME] key: message" with the right line; all
 * mistakes of a file are reported at once; the implicit default route;
 * [template NAME] sections and the text conf_template_text() picks.
 *
 * Files are read from $SV_SRCDIR (default ".").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "conf.h"
#include "phone.h"
#include "template.h"

/* Lines 1..5; fragments appended by the tests start at line 6. */
#define BASE \
	"[smsc a]\n" \
	"host = 127.0.0.1\n" \
	"system_id = a\n" \
	"[key k]\n" \
	"token = 0123456789abcdef0123\n"

static const char *
srcdir(void)
{
	const char *d = getenv("SV_SRCDIR");

	return d != NULL && *d != '\0' ? d : ".";
}

static struct conf *
load_ok(const char *text)
{
	char *errors = NULL;
	struct conf *c = conf_load_string(text, "t.conf", &errors);

	ck_assert_msg(c != NULL, "refused: %s", errors ? errors : "(none)");
	ck_assert_ptr_null(errors);
	return c;
}

/* Load text expecting failure; returns the malloc'd error text. */
static char *
load_bad(const char *text)
{
	char *errors = NULL;
	struct conf *c = conf_load_string(text, "t.conf", &errors);

	ck_assert_msg(c == NULL, "accepted a bad configuration:\n%s", text);
	ck_assert_ptr_nonnull(errors);
	return errors;
}

static int
count_lines(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* BASE + fragment must fail with exactly one error line containing want. */
static void
expect_one(const char *fragment, const char *want)
{
	char text[4096];
	char *errors;

	snprintf(text, sizeof(text), "%s%s", BASE, fragment);
	errors = load_bad(text);
	ck_assert_msg(strstr(errors, want) != NULL,
	    "expected \"%s\" in:\n%s", want, errors);
	ck_assert_msg(count_lines(errors) == 1, "expected one error, got:\n%s",
	    errors);
	free(errors);
}

/* [store] backend = redis needs its address and the node's name; both
 * are named, on the backend line; a bad address names itself. */
START_TEST(store_redis_keys)
{
	struct conf *c;

	expect_one("[store]\nbackend = redis\nnode = gw1\n",
	    "t.conf:7: [store] redis: required with backend = redis");
	expect_one("[store]\nbackend = redis\nredis = 127.0.0.1:6379\n",
	    "t.conf:7: [store] node: required with backend = redis");
	expect_one("[store]\nbackend = redis\nredis = redis.example:6379\n"
	    "node = gw1\n", "t.conf:8: [store] redis: redis address");
	expect_one("[store]\nbackend = mysql\n", "t.conf:7:");
	expect_one("[store]\nbackend = redis\nredis = unix:/r.sock\n"
	    "node = a b\n", "t.conf:9:");
	expect_one("[store]\nbackend = redis\nnode = gw1\n"
	    "redis_sentinel = 10.0.0.1:26379, 10.0.0.2:26379\n",
	    "t.conf:9: [store] redis_master: required with redis_sentinel");
	expect_one("[store]\nbackend = redis\nnode = gw1\n"
	    "redis_sentinel = 10.0.0.1:26379,sentinel.example\n"
	    "redis_master = mymaster\n", "t.conf:9: [store] redis_sentinel:");
	c = load_ok(BASE "[store]\nbackend = redis\nnode = gw1\n"
	    "redis_sentinel = 10.0.0.1:26379, 10.0.0.2:26379\n"
	    "redis_master = mymaster\n");
	ck_assert_str_eq(c->redis_master, "mymaster");
	ck_assert_ptr_null(c->redis_addr);
	conf_free(c);
	c = load_ok(BASE "[store]\nbackend = redis\nredis = unix:/r.sock\n"
	    "node = gw1\nredis_db = 3\nredis_prefix = sv2\n");
	ck_assert_int_eq(c->store_backend, CONF_BACKEND_REDIS);
	ck_assert_str_eq(c->redis_addr, "unix:/r.sock");
	ck_assert_str_eq(c->node, "gw1");
	ck_assert_int_eq(c->redis_db, 3);
	ck_assert_str_eq(c->redis_prefix, "sv2");
	conf_free(c);
	c = load_ok(BASE);
	ck_assert_int_eq(c->store_backend, CONF_BACKEND_LMDB);
	ck_assert_str_eq(c->redis_prefix, "smsverify");
	conf_free(c);
}
END_TEST

START_TEST(example_conf_loads)
{
	char path[1024], *errors = NULL;
	struct conf *c;

	snprintf(path, sizeof(path), "%s/conf/smsverifyd.conf", srcdir());
	c = conf_load(path, &errors);
	ck_assert_msg(c != NULL, "%s", errors ? errors : "");
	ck_assert_str_eq(c->listen_host, "127.0.0.1");
	ck_assert_int_eq(c->listen_port, 8080);
	ck_assert_str_eq(c->secret_file, "var/secret");
	ck_assert_str_eq(c->store_path, "var/db");
	ck_assert_uint_eq(c->map_size, 1024ULL * 1024 * 1024);
	ck_assert_str_eq(c->log_level, "info");
	ck_assert_int_eq(c->code_length, 6);
	ck_assert_int_eq(c->expiry, 600);
	ck_assert_int_eq(c->max_check_attempts, 5);
	ck_assert_str_eq(c->sender, "Verify");
	ck_assert_str_eq(c->default_country, "US");
	ck_assert_int_eq(c->nsmsc, 1);
	ck_assert_str_eq(c->smscs[0].name, "sim-a");
	ck_assert_str_eq(c->smscs[0].host, "127.0.0.1");
	ck_assert_int_eq(c->smscs[0].port, 2775);
	ck_assert_str_eq(c->smscs[0].system_id, "smsverify");
	ck_assert_str_eq(c->smscs[0].password, "secret1");
	ck_assert_str_eq(c->smscs[0].system_type, "");
	ck_assert_int_eq(c->smscs[0].bind, CONF_BIND_TRANSCEIVER);
	ck_assert_int_eq(c->nroute, 1);
	ck_assert_str_eq(c->routes[0].name, "default");
	ck_assert_int_eq(c->routes[0].nprefix, 1);
	ck_assert_str_eq(c->routes[0].prefixes[0], "+");
	ck_assert_int_eq(c->routes[0].nsmsc, 1);
	ck_assert_int_eq(c->routes[0].smsc[0], 0);
	ck_assert_int_eq(c->nkey, 1);
	ck_assert_int_eq(c->limits.resend_interval, 30);
	ck_assert_int_eq(c->limits.sends_per_phone.n, 5);
	ck_assert_int_eq(c->limits.sends_per_phone.period, 600);
	ck_assert_int_eq(c->limits.sends_per_range.n, 200);
	ck_assert_int_eq(c->limits.failed_checks_per_phone.period, 86400);
	ck_assert_str_eq(c->keys[0].name, "demo");
	ck_assert_int_eq(c->nshield_country, 0);
	ck_assert_int_eq(c->shield_floor, 10);
	ck_assert_int_eq(c->shield_min_sample, 50);
	ck_assert_int_eq(c->limits.range_digits, 8);
	ck_assert_str_eq(c->keys[0].token, "demo-token-change-me-0123456789");
	ck_assert_ptr_null(c->keys[0].webhook);
	ck_assert_ptr_null(c->keys[0].language);
	ck_assert_ptr_null(c->keys[0].tmpl);
	ck_assert_int_eq(c->ntemplate, 1);
	ck_assert_str_eq(c->templates[0].name, "short");
	ck_assert_str_eq(conf_template_text(c, 0, NULL), template_builtin("en"));
	ck_assert_str_eq(c->path, path);
	conf_free(c);
}
END_TEST

START_TEST(minimal_file_gets_defaults)
{
	char path[1024], *errors = NULL;
	struct conf *c;
	struct conf_smsc *m;

	snprintf(path, sizeof(path), "%s/tests/data/conf/good_minimal.conf",
	    srcdir());
	c = conf_load(path, &errors);
	ck_assert_msg(c != NULL, "%s", errors ? errors : "");
	ck_assert_str_eq(c->listen_host, "127.0.0.1");
	ck_assert_int_eq(c->listen_port, 8080);
	ck_assert_str_eq(c->secret_file, "var/secret");
	ck_assert_int_eq(c->max_connections, 0);   /* auto */
	ck_assert_int_eq(c->request_timeout, 10);
	ck_assert_int_eq(c->submit_wait_ms, 3000);
	ck_assert_ptr_null(c->webhook_ca_file);
	ck_assert_str_eq(c->log_level, "info");
	ck_assert_str_eq(c->store_path, "var/db");
	ck_assert_uint_eq(c->map_size, 1ULL << 30);
	ck_assert_int_eq(c->sweep_interval, 1);
	ck_assert_int_eq(c->sweep_batch, 256);
	ck_assert_int_eq(c->retention, 86400);
	ck_assert_int_eq(c->code_length, 6);
	ck_assert_int_eq(c->expiry, 600);
	ck_assert_int_eq(c->max_check_attempts, 5);
	ck_assert_int_eq(c->repeat_window, 600);
	ck_assert_str_eq(c->sender, "Verify");
	ck_assert_str_eq(c->default_country, "US");
	m = &c->smscs[0];
	ck_assert_str_eq(m->name, "only");
	ck_assert_int_eq(m->line, 3);
	ck_assert_str_eq(m->host, "192.0.2.10");
	ck_assert_int_eq(m->port, 2775);
	ck_assert_str_eq(m->system_id, "user1");
	ck_assert_str_eq(m->password, "");
	ck_assert_str_eq(m->system_type, "");
	ck_assert_int_eq(m->bind, CONF_BIND_TRANSCEIVER);
	ck_assert_int_eq(m->sessions, 1);
	ck_assert_int_eq(m->window, 10);
	ck_assert_int_eq(m->throughput, 0);
	ck_assert_int_eq(m->enquire_link, 30);
	ck_assert_int_eq(m->response_timeout, 10);
	ck_assert_int_eq(m->reconnect_min_ms, 500);
	ck_assert_int_eq(m->reconnect_max_ms, 30000);
	ck_assert_int_eq(m->latin1_default, 0);
	ck_assert_str_eq(c->keys[0].token, "0123456789abcdef-main");
	ck_assert_ptr_null(c->keys[0].countries);
	ck_assert_int_eq(c->keys[0].ncountry, 0);
	/* [shield]: every country, the breaker on */
	ck_assert_ptr_null(c->shield_countries);
	ck_assert_int_eq(c->nshield_country, 0);
	ck_assert_int_eq(c->shield_floor, 10);
	ck_assert_int_eq(c->shield_window, 3600);
	ck_assert_int_eq(c->shield_min_sample, 50);
	ck_assert_int_eq(c->shield_cooldown, 3600);
	ck_assert_int_eq(c->shield_grace, 120);
	ck_assert_int_eq(c->limits.range_digits, 8);
	ck_assert_int_eq(c->shield_max_ranges, 20000);
	conf_free(c);
}
END_TEST

START_TEST(every_key_set)
{
	struct conf *c = load_ok(
	    "[server]\nlisten = [::1]:0\nmax_connections = 7\n"
	    "webhook_ca_file = /etc/smsverify/hooks ca.pem\n"
	    "log_level = debug\n"
	    "[store]\nmap_size = 64M\nretention = 0\n"
	    "[verify]\ncode_length = 12\nsender = +15551234\n"
	    "default_country = GB\n"
	    "[smsc x]\nhost = ::1\nport = 1\nsystem_id = 123456789012345\n"
	    "password = 12345678\nsystem_type = VMA\nbind = transmitter\n"
	    "sessions = 64\nthroughput = 100000\n"
	    "reconnect_min_ms = 100 ; comment\nreconnect_max_ms = 100\n"
	    "data_coding_default = latin1\n"
	    "[key k]\ntoken = 0123456789abcdef\n"
	    "webhook = https://example.net/h\nwebhook_secret = s\n"
	    "language = de\n");

	ck_assert_str_eq(c->listen_host, "::1");
	ck_assert_int_eq(c->listen_port, 0);
	ck_assert_int_eq(c->max_connections, 7);
	ck_assert_str_eq(c->webhook_ca_file, "/etc/smsverify/hooks ca.pem");
	ck_assert_str_eq(c->log_level, "debug");
	ck_assert_uint_eq(c->map_size, 64ULL << 20);
	ck_assert_int_eq(c->retention, 0);
	ck_assert_int_eq(c->code_length, 12);
	ck_assert_str_eq(c->sender, "+15551234");
	ck_assert_str_eq(c->default_country, "GB");
	ck_assert_int_eq(c->smscs[0].bind, CONF_BIND_TRANSMITTER);
	ck_assert_int_eq(c->smscs[0].reconnect_min_ms, 100);
	ck_assert_int_eq(c->smscs[0].latin1_default, 1);
	ck_assert_str_eq(c->smscs[0].system_type, "VMA");
	ck_assert_str_eq(c->keys[0].webhook, "https://example.net/h");
	ck_assert_str_eq(c->keys[0].webhook_secret, "s");
	ck_assert_str_eq(c->keys[0].language, "de");
	conf_free(c);
}
END_TEST

START_TEST(implicit_default_route)
{
	struct conf *c = load_ok(BASE
	    "[smsc b]\nhost = 127.0.0.2\nsystem_id = b\n");

	ck_assert_int_eq(c->nroute, 1);
	ck_assert_str_eq(c->routes[0].name, "default");
	ck_assert_int_eq(c->routes[0].nprefix, 1);
	ck_assert_str_eq(c->routes[0].prefixes[0], "+");
	ck_assert_int_eq(c->routes[0].nsmsc, 2);
	ck_assert_int_eq(c->routes[0].smsc[0], conf_smsc_index(c, "a"));
	ck_assert_int_eq(c->routes[0].smsc[1], conf_smsc_index(c, "b"));
	ck_assert_int_eq(conf_smsc_index(c, "nosuch"), -1);
	conf_free(c);
}
END_TEST

START_TEST(routes_resolve_smscs_written_later)
{
	struct conf *c = load_ok(
	    "[route uk]\nprefix = +44 +447\nsmsc = b a\n"
	    "[smsc a]\nhost = 10.0.0.1\nsystem_id = a\n"
	    "[smsc b]\nhost = 10.0.0.1\nsystem_id = b\n"
	    "[route world]\nprefix = +\nsmsc = a\n"
	    "[key k]\ntoken = 0123456789abcdef0123\n");

	/* the routes as written, and no implicit one */
	ck_assert_int_eq(c->nroute, 2);
	ck_assert_str_eq(c->routes[0].name, "uk");
	ck_assert_int_eq(c->routes[0].nprefix, 2);
	ck_assert_str_eq(c->routes[0].prefixes[1], "+447");
	ck_assert_int_eq(c->routes[0].nsmsc, 2);
	ck_assert_int_eq(c->routes[0].smsc[0], 1);
	ck_assert_int_eq(c->routes[0].smsc[1], 0);
	conf_free(c);
}
END_TEST

START_TEST(bad_port)
{
	expect_one("[smsc carrier-a]\nhost = 10.0.0.1\nsystem_id = s\n"
	    "port = 70000\n",
	    "t.conf:9: [smsc carrier-a] port: 70000 is out of range 1..65535");
}
END_TEST

START_TEST(code_length_out_of_range)
{
	expect_one("[verify]\ncode_length = 3\n",
	    "t.conf:7: [verify] code_length: 3 is out of range 4..12");
	expect_one("[verify]\ncode_length = 13\n",
	    "t.conf:7: [verify] code_length: 13 is out of range 4..12");
}
END_TEST

START_TEST(unknown_key)
{
	expect_one("[smsc b]\nhost = 10.0.0.1\nsystem_id = s\nprot = 2775\n",
	    "t.conf:9: [smsc b] unknown key 'prot'");
}
END_TEST

START_TEST(unknown_section)
{
	expect_one("[smsc b]\nhost = smsc.example.net\nsystem_id = s\n",
	    "t.conf:7: [smsc b] host: 'smsc.example.net' is not an IP "
	    "address");
	expect_one("[smcs b]\nhost = 10.0.0.1\n", "t.conf:6: unknown section [smcs b]");
	expect_one("[server x]\n", "t.conf:6: section [server] takes no name");
	expect_one("[route]\nprefix = +\n", "t.conf:6: section [route] needs a "
	    "name");
	expect_one("[smsc a/b]\n", "t.conf:6: section name 'a/b'");
}
END_TEST

START_TEST(key_outside_section)
{
	char *errors = load_bad("port = 1\n" BASE);

	ck_assert_msg(strstr(errors, "t.conf:1: key 'port' is outside any "
	    "section") != NULL, "%s", errors);
	free(errors);
}
END_TEST

START_TEST(missing_required_key)
{
	/* the line of the section header */
	expect_one("\n[smsc b]\nsystem_id = s\n",
	    "t.conf:7: [smsc b] required key 'host' is missing");
	expect_one("[key other]\nwebhook = https://x.example/\n"
	    "webhook_secret = s\n",
	    "t.conf:6: [key other] required key 'token' is missing");
	expect_one("[route r]\nsmsc = a\n",
	    "t.conf:6: [route r] required key 'prefix' is missing");
}
END_TEST

START_TEST(route_unknown_smsc)
{
	expect_one("[route r]\nprefix = +\nsmsc = a carrier-z\n",
	    "t.conf:8: [route r] smsc: unknown SMSC 'carrier-z'");
	expect_one("[route r]\nprefix = +\nsmsc = a a\n",
	    "t.conf:8: [route r] smsc: SMSC 'a' named twice");
	expect_one("[route r]\nprefix = +44 44\nsmsc = a\n",
	    "t.conf:7: [route r] prefix: '44' is not a prefix");
	expect_one("[route r]\nprefix = +44\nsmsc = a\n"
	    "[route s]\nprefix = +33 +44\nsmsc = a\n"
	    "[route w]\nprefix = +\nsmsc = a\n",
	    "t.conf:10: [route s] prefix: +44 is already in [route r] "
	    "(line 7)");
}
END_TEST

/* Routes need not cover every number: one outside them answers no_route
 * (flow.c), the file is valid. */
START_TEST(routes_without_default)
{
	struct conf *c = load_ok(BASE "[route r]\nprefix = +44 +33\n"
	    "smsc = a\n");

	ck_assert_int_eq(c->nroute, 1);
	ck_assert_str_eq(c->routes[0].name, "r");
	conf_free(c);
}
END_TEST

/* [shield] and [key] countries: values, bounds, and the lists. */
START_TEST(shield_keys)
{
	struct conf *c = load_ok(BASE
	    "countries = GB\n"
	    "[key wide]\ntoken = 0123456789abcdef-wide\n"
	    "[shield]\ncountries = US GB CA\nconversion_floor = 0\n"
	    "window = 600\nmin_sample = 1\ncooldown = 1\ngrace = 0\n"
	    "max_ranges = 16\n");

	ck_assert_int_eq(c->nshield_country, 3);
	ck_assert_str_eq(c->shield_countries[2], "CA");
	ck_assert_int_eq(c->shield_floor, 0);
	ck_assert_int_eq(c->shield_window, 600);
	ck_assert_int_eq(c->shield_min_sample, 1);
	ck_assert_int_eq(c->shield_cooldown, 1);
	ck_assert_int_eq(c->shield_grace, 0);
	ck_assert_int_eq(c->shield_max_ranges, 16);
	ck_assert_int_eq(c->keys[0].ncountry, 1);
	ck_assert_str_eq(c->keys[0].countries[0], "GB");
	/* The key's list narrows the global one; no key list: the global. */
	ck_assert(conf_country_allowed(c, 0, "GB"));
	ck_assert(!conf_country_allowed(c, 0, "US"));
	ck_assert(conf_country_allowed(c, 1, "US"));
	ck_assert(!conf_country_allowed(c, 1, "FR"));
	ck_assert(!conf_country_allowed(c, 1, "001"));
	ck_assert(!conf_country_allowed(c, 1, NULL));
	ck_assert(conf_country_allowed(c, -1, "CA"));
	conf_free(c);
	/* No global list: every country, or the key's. */
	c = load_ok(BASE "countries = DE FR\n"
	    "[key all]\ntoken = 0123456789abcdef-all\n"
	    "[shield]\ncountries =\n");
	ck_assert_int_eq(c->nshield_country, 0);
	ck_assert(conf_country_allowed(c, 0, "FR"));
	ck_assert(!conf_country_allowed(c, 0, "US"));
	ck_assert(!conf_country_allowed(c, 0, NULL));
	ck_assert(conf_country_allowed(c, 1, "US"));
	ck_assert(conf_country_allowed(c, 1, "001"));
	ck_assert(conf_country_allowed(c, 1, NULL));
	conf_free(c);
	/* The bounds, one past each end. */
	expect_one("[shield]\nconversion_floor = 101\n",
	    "t.conf:7: [shield] conversion_floor: 101 is out of range 0..100");
	expect_one("[shield]\nconversion_floor = -1\n",
	    "t.conf:7: [shield] conversion_floor: -1 is out of range 0..100");
	expect_one("[shield]\nwindow = 9\n",
	    "t.conf:7: [shield] window: 9 is out of range 10..604800");
	expect_one("[shield]\nwindow = 604801\n",
	    "t.conf:7: [shield] window: 604801 is out of range 10..604800");
	expect_one("[shield]\nmin_sample = 0\n",
	    "t.conf:7: [shield] min_sample: 0 is out of range 1..1000000");
	expect_one("[shield]\ncooldown = 0\n",
	    "t.conf:7: [shield] cooldown: 0 is out of range 1..2592000");
	expect_one("[shield]\ncooldown = 2592001\n",
	    "t.conf:7: [shield] cooldown: 2592001 is out of range 1..2592000");
	expect_one("[shield]\ngrace = -1\n",
	    "t.conf:7: [shield] grace: -1 is out of range 0..86400");
	/* A range is [limits]'s, for the shield too. */
	expect_one("[shield]\nrange_digits = 8\n",
	    "t.conf:7: [shield] unknown key 'range_digits'");
	expect_one("[shield]\nmax_ranges = 15\n",
	    "t.conf:7: [shield] max_ranges: 15 is out of range 16..10000000");
	expect_one("[shield]\nmin_sample = many\n",
	    "t.conf:7: [shield] min_sample: 'many' is not an integer");
	/* A send must be able to count before it leaves the window. */
	expect_one("[shield]\nwindow = 100\ngrace = 100\n",
	    "t.conf:8: [shield] grace: 100 is not below window 100");
	expect_one("[shield]\ngrace = 3600\n",
	    "t.conf:7: [shield] grace: 3600 is not below window 3600");
	/* Countries: known ISO alpha-2 codes, upper case, each once. */
	expect_one("[shield]\ncountries = US gb\n",
	    "t.conf:7: [shield] countries: 'gb' is not a country: two "
	    "upper-case letters (ISO 3166 alpha-2, e.g. US GB FR)\n");
	expect_one("[shield]\ncountries = USA\n",
	    "t.conf:7: [shield] countries: 'USA' is not a country");
	expect_one("[shield]\ncountries = XQ\n",
	    "t.conf:7: [shield] countries: 'XQ' is not a country");
	expect_one("[shield]\ncountries = US,GB\n",
	    "t.conf:7: [shield] countries: 'US,GB' is not a country");
	expect_one("[shield]\ncountries = US GB US\n",
	    "t.conf:7: [shield] countries: US given twice");
	expect_one("countries = 1\n",
	    "t.conf:6: [key k] countries: '1' is not a country");
	/* A key cannot widen the global list. */
	expect_one("countries = US FR\n[shield]\ncountries = US GB\n",
	    "t.conf:6: [key k] countries: FR is not in [shield] countries: "
	    "sends there are refused whatever the key says");
	expect_one("[shield]\nfloor = 5\n",
	    "t.conf:7: [shield] unknown key 'floor'");
	expect_one("[shield]\n[shield]\n",
	    "t.conf:7: [shield] duplicate section");
	expect_one("[shield x]\n",
	    "t.conf:6: section [shield] takes no name");
}
END_TEST

START_TEST(duplicate_key)
{
	expect_one("[server]\nlisten = 127.0.0.1:1\n\nlisten = 127.0.0.1:2\n",
	    "t.conf:9: [server] listen: given twice in this section (first "
	    "at line 7)");
}
END_TEST

START_TEST(duplicate_section)
{
	expect_one("[smsc a]\nhost = 10.0.0.1\nsystem_id = s\n",
	    "t.conf:6: [smsc a] duplicate section (first at line 1)");
	expect_one("[store]\n[store]\n",
	    "t.conf:7: [store] duplicate section (first at line 6)");
}
END_TEST

START_TEST(refuse_types)
{
	struct conf *c;

	/* by default: the types that cannot take an SMS */
	c = load_ok(BASE);
	ck_assert(c->refuse_types & (1 << PHONE_FIXED_LINE));
	ck_assert(c->refuse_types & (1 << PHONE_VOIP));
	ck_assert(c->refuse_types & (1 << PHONE_PREMIUM_RATE));
	ck_assert(c->refuse_types & (1 << PHONE_SHARED_COST));
	ck_assert(!(c->refuse_types & (1 << PHONE_MOBILE)));
	ck_assert(!(c->refuse_types & (1 << PHONE_FIXED_LINE_OR_MOBILE)));
	conf_free(c);
	/* a list of its own */
	c = load_ok(BASE "[verify]\nrefuse_types = voip pager\n");
	ck_assert_int_eq(c->refuse_types, (1 << PHONE_VOIP) |
	    (1 << PHONE_PAGER));
	conf_free(c);
	/* an unknown word names itself */
	expect_one("[verify]\nrefuse_types = voip landline\n",
	    "t.conf:7: [verify] refuse_types: 'landline' is not a number "
	    "type");
}
END_TEST

START_TEST(bad_sender)
{
	expect_one("[verify]\nsender = TwelveLetter\n",
	    "t.conf:7: [verify] sender: 'TwelveLetter' is not a sender");
	expect_one("[verify]\nsender = 1234567890123456\n",
	    "t.conf:7: [verify] sender:");
	expect_one("[verify]\nsender = 12-34\n", "t.conf:7: [verify] sender:");
	expect_one("[verify]\nsender = Bad!\n", "t.conf:7: [verify] sender:");
	expect_one("[verify]\ndefault_country = us\n",
	    "t.conf:7: [verify] default_country:");
}
END_TEST

START_TEST(bad_token_not_echoed)
{
	char *errors = load_bad(BASE "[key b]\ntoken = tooShortTok\n");

	ck_assert_msg(strstr(errors, "t.conf:7: [key b] token: must be 16..256 "
	    "characters") != NULL, "%s", errors);
	ck_assert_msg(strstr(errors, "tooShortTok") == NULL,
	    "the token leaked into the error: %s", errors);
	free(errors);

	errors = load_bad(BASE "[smsc b]\nhost = 10.0.0.1\nsystem_id = s\n"
	    "password = secret-pw-123\n");
	ck_assert_msg(strstr(errors, "t.conf:9: [smsc b] password: must be at "
	    "most 8 characters") != NULL, "%s", errors);
	ck_assert_msg(strstr(errors, "secret-pw") == NULL, "%s", errors);
	free(errors);

	expect_one("[key b]\ntoken = 0123456789abcdef0123\n",
	    "t.conf:7: [key b] token: the same token as [key k]");
	expect_one("[key b]\ntoken = 0123456789 abcdef0123\n",
	    "t.conf:7: [key b] token: must be printable ASCII without spaces");
}
END_TEST

START_TEST(non_numeric_values)
{
	expect_one("[server]\nmax_connections = 12abc\n",
	    "t.conf:7: [server] max_connections: '12abc' is not an integer");
	expect_one("[server]\nmax_connections =\n",
	    "t.conf:7: [server] max_connections: '' is not an integer");
	expect_one("[server]\nmax_connections = 0x10\n",
	    "t.conf:7: [server] max_connections: '0x10' is not an integer");
	expect_one("[server]\nmax_connections = 99999999999999999999999\n",
	    "t.conf:7: [server] max_connections: 99999999999999999999999 is "
	    "out of range 0..1000000");
	expect_one("[store]\nmap_size = 12X\n",
	    "t.conf:7: [store] map_size: '12X' is not a size");
	expect_one("[store]\nmap_size = 512K\n",
	    "t.conf:7: [store] map_size: 512K is out of range 1M..1T");
	expect_one("[store]\nmap_size = 9999999999999T\n",
	    "t.conf:7: [store] map_size: 9999999999999T is out of range");
	expect_one("[server]\nlisten = 127.0.0.1\n",
	    "t.conf:7: [server] listen: '127.0.0.1' is not host:port");
	expect_one("[server]\nlog_level = loud\n",
	    "t.conf:7: [server] log_level: 'loud' is not debug, info, warn or "
	    "error");
	expect_one("[smsc b]\nhost = 10.0.0.1\nsystem_id = s\nbind = receiver\n",
	    "t.conf:9: [smsc b] bind: 'receiver' is not transceiver or "
	    "transmitter");
}
END_TEST

/*
 * One bad value of every type of value in the key table, each refused
 * with the whole message: file, line, section, key and why.  A message
 * is matched up to its newline, so nothing may follow it on the line.
 */
START_TEST(bad_value_of_each_type)
{
	/* BASE + fragment, the one line of error text it must give. */
	static const struct {
		const char *fragment, *want;
	} cases[] = {
		/* int */
		{ "[server]\nrequest_timeout = ten\n",
		    "t.conf:7: [server] request_timeout: 'ten' is not an "
		    "integer\n" },
		{ "[smsc b]\nhost = 10.0.0.1\nsystem_id = s\nsource_ton = -2\n",
		    "t.conf:9: [smsc b] source_ton: -2 is out of range "
		    "-1..6\n" },
		/* size */
		{ "[store]\nmap_size = 1.5G\n",
		    "t.conf:7: [store] map_size: '1.5G' is not a size (an "
		    "integer with an optional K, M, G or T suffix)\n" },
		{ "[store]\nmap_size = 2T\n",
		    "t.conf:7: [store] map_size: 2T is out of range 1M..1T\n" },
		/* string: printable ASCII, spaces allowed */
		{ "[smsc b]\nhost = 10.0.0.1\nsystem_id = s\xc3\xa9\n",
		    "t.conf:8: [smsc b] system_id: must be printable ASCII\n" },
		{ "[smsc b]\nhost = 10.0.0.1\nsystem_id = 0123456789abcdef\n",
		    "t.conf:8: [smsc b] system_id: must be 1..15 "
		    "characters\n" },
		{ "[smsc b]\nhost = 10.0.0.1\nsystem_id =\n",
		    "t.conf:8: [smsc b] system_id: must be 1..15 "
		    "characters\n" },
		{ "[smsc b]\nhost = 10.0.0.1\nsystem_id = s\n"
		    "system_type = 0123456789abc\n",
		    "t.conf:9: [smsc b] system_type: must be at most 12 "
		    "characters\n" },
		/* word: printable ASCII without spaces */
		{ "[smsc b]\nhost = 10.0.0.1 x\nsystem_id = s\n",
		    "t.conf:7: [smsc b] host: must be printable ASCII without "
		    "spaces\n" },
		{ "[smsc b]\nhost = 10.0.0.1\nsystem_id = s\n"
		    "tls_server_name = a b\n",
		    "t.conf:9: [smsc b] tls_server_name: must be printable "
		    "ASCII without spaces\n" },
		/* path */
		{ "[server]\nsecret_file = var/\tsecret\n",
		    "t.conf:7: [server] secret_file: must not contain control "
		    "characters\n" },
		{ "[store]\npath =\n",
		    "t.conf:7: [store] path: must be 1..4095 characters\n" },
		/* enum, stored as its index */
		{ "[smsc b]\nhost = 10.0.0.1\nsystem_id = s\ntls = maybe\n",
		    "t.conf:9: [smsc b] tls: 'maybe' is not no or yes\n" },
		{ "[smsc b]\nhost = 10.0.0.1\nsystem_id = s\nmessage_id = hex\n",
		    "t.conf:9: [smsc b] message_id: 'hex' is not auto, string, "
		    "hex-dec or dec-hex\n" },
		/* enum, stored as its string */
		{ "[server]\nlog_level = INFO\n",
		    "t.conf:7: [server] log_level: 'INFO' is not debug, info, "
		    "warn or error\n" },
		/* host:port */
		{ "[server]\nlisten = 127.0.0.1:70000\n",
		    "t.conf:7: [server] listen: '127.0.0.1:70000' is not "
		    "host:port (IPv6 as [::1]:8080, port 0..65535)\n" },
		/* sender */
		{ "[verify]\nsender = Bad!\n",
		    "t.conf:7: [verify] sender: 'Bad!' is not a sender: up to "
		    "11 letters, digits, spaces, '.', '_' or '-' with at least "
		    "one letter, or up to 15 digits with an optional '+'\n" },
		/* country */
		{ "[verify]\ndefault_country = USA\n",
		    "t.conf:7: [verify] default_country: 'USA' is not a "
		    "country: two upper-case letters (ISO 3166 alpha-2, e.g. "
		    "US)\n" },
		/* prefixes */
		{ "[route r]\nprefix =\nsmsc = a\n",
		    "t.conf:7: [route r] prefix: needs at least one prefix\n" },
		{ "[route r]\nprefix = + +\nsmsc = a\n",
		    "t.conf:7: [route r] prefix: + given twice\n" },
		{ "[route r]\nprefix = +1234567890123456\nsmsc = a\n",
		    "t.conf:7: [route r] prefix: '+1234567890123456' is not a "
		    "prefix: '+' and up to 15 digits\n" },
		/* SMSC list */
		{ "[route r]\nprefix = +\nsmsc =\n",
		    "t.conf:8: [route r] smsc: needs at least one SMSC\n" },
		{ "[route r]\nprefix = +\nsmsc = b\n",
		    "t.conf:8: [route r] smsc: unknown SMSC 'b' (no [smsc b] "
		    "section)\n" },
		/* token */
		{ "[key b]\ntoken = 0123456789abcde\n",
		    "t.conf:7: [key b] token: must be 16..256 characters (it "
		    "has 15)\n" },
		/* URL */
		{ "webhook = https://\n",
		    "t.conf:6: [key k] webhook: 'https://' is not an http:// "
		    "or https:// URL\n" },
		/* language */
		{ "language = EN\n",
		    "t.conf:6: [key k] language: 'EN' is not a language with "
		    "built-in templates (de en es fr it pt ru)\n" },
		/* phone types */
		{ "[verify]\nrefuse_types = voip mobil\n",
		    "t.conf:7: [verify] refuse_types: 'mobil' is not a number "
		    "type (fixed_line mobile fixed_line_or_mobile toll_free "
		    "premium_rate shared_cost voip personal_number pager uan "
		    "voicemail)\n" },
		/* template text */
		{ "[template x]\ntext = no code\n",
		    "t.conf:7: [template x] text: has no {code} (or ##code##) "
		    "placeholder: a message without its code is never sent\n" },
		/* template name */
		{ "template = fr\n",
		    "t.conf:6: [key k] template: 'fr' is a language: [template "
		    "fr] replaces its built-in text for every key; write "
		    "language = fr instead\n" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_one(cases[i].fragment, cases[i].want);
}
END_TEST

START_TEST(whole_file_rules)
{
	char *errors = load_bad("[server]\n\n");

	ck_assert_msg(strstr(errors, "t.conf:2: at least one [smsc NAME]")
	    != NULL, "%s", errors);
	ck_assert_msg(strstr(errors, "t.conf:2: at least one [key NAME]")
	    != NULL, "%s", errors);
	free(errors);
	expect_one("[smsc b]\nhost = 10.0.0.1\nsystem_id = s\n"
	    "reconnect_min_ms = 5000\nreconnect_max_ms = 1000\n",
	    "t.conf:10: [smsc b] reconnect_max_ms: 1000 is below "
	    "reconnect_min_ms 5000");
	expect_one("[key b]\ntoken = 0123456789abcdef-bbbb\n"
	    "webhook = https://example.net/\n",
	    "t.conf:8: [key b] webhook_secret: required when webhook is set");
	expect_one("[key b]\ntoken = 0123456789abcdef-bbbb\n"
	    "webhook = ftp://example.net/\nwebhook_secret = s\n",
	    "t.conf:8: [key b] webhook: 'ftp://example.net/' is not an http");
	expect_one("[key b]\ntoken = 0123456789abcdef-bbbb\nlanguage = nl\n",
	    "t.conf:8: [key b] language: 'nl' is not a language");
}
END_TEST

START_TEST(syntax_errors)
{
	expect_one("[server]\nthis line is junk\n",
	    "t.conf:7: syntax error");
	expect_one("[server\n", "t.conf:6: syntax error");
	/* an indented line would be glued to the key above by inih */
	expect_one("[server]\nlisten = 127.0.0.1:1\n  log_level = debug\n",
	    "t.conf:8: [server] indented line");
}
END_TEST

START_TEST(long_line_keeps_line_numbers)
{
	char text[4096], *errors;

	snprintf(text, sizeof(text), BASE "[server]\n; %0300d\nprot = 1\n", 0);
	errors = load_bad(text);
	ck_assert_msg(strstr(errors, "t.conf:7: line is longer than") != NULL,
	    "%s", errors);
	ck_assert_msg(strstr(errors, "t.conf:8: [server] unknown key 'prot'")
	    != NULL, "%s", errors);
	ck_assert_int_eq(count_lines(errors), 2);
	free(errors);
}
END_TEST

START_TEST(all_errors_reported)
{
	char path[1024], *errors = NULL;
	struct conf *c;
	static const char *const want[] = {
		"bad_many.conf:3: [server] listen: '127.0.0.1' is not "
		    "host:port",
		"bad_many.conf:4: [server] unknown key 'lisen' (did you mean "
		    "'listen'?)",
		"bad_many.conf:7: [verify] code_length: 20 is out of range "
		    "4..12",
		"bad_many.conf:9: [smsc a] required key 'host' is missing",
		"bad_many.conf:14: [route r] smsc: unknown SMSC 'nosuch'",
		"bad_many.conf:17: [key k] token: must be 16..256 characters",
	};
	const char *p;
	size_t i;

	snprintf(path, sizeof(path), "%s/tests/data/conf/bad_many.conf",
	    srcdir());
	c = conf_load(path, &errors);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(errors);
	ck_assert_int_eq(count_lines(errors), 6);
	/* in line order, one per line */
	p = errors;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *hit = strstr(p, want[i]);

		ck_assert_msg(hit != NULL, "missing or out of order: %s\nin:\n%s",
		    want[i], errors);
		p = hit + 1;
	}
	free(errors);
}
END_TEST

/* A language override, a named template, and keys that use either. */
#define TEMPLATES \
	"[smsc a]\n" \
	"host = 127.0.0.1\n" \
	"system_id = a\n" \
	"[key plain]\n" \
	"token = 0123456789abcdef-plain\n" \
	"[key named]\n" \
	"token = 0123456789abcdef-named\n" \
	"language = fr\n" \
	"template = shop\n" \
	"[key french]\n" \
	"token = 0123456789abcdef-french\n" \
	"language = fr\n" \
	"[key german]\n" \
	"token = 0123456789abcdef-german\n" \
	"language = de\n" \
	"[template de]\n" \
	"text = Code {code}, {minutes} Minuten.\n" \
	"[template shop]\n" \
	"text = ##code## is your Example Shop code\n"

/* The key called name's index, failing the test when there is none. */
static int
key_index(const struct conf *c, const char *name)
{
	int i;

	for (i = 0; i < c->nkey; i++)
		if (strcmp(c->keys[i].name, name) == 0)
			return i;
	ck_abort_msg("no [key %s]", name);
	return -1;
}

START_TEST(templates_loaded)
{
	struct conf *c = load_ok(TEMPLATES);

	ck_assert_int_eq(c->ntemplate, 2);
	ck_assert_str_eq(c->templates[0].name, "de");
	ck_assert_int_eq(c->templates[0].line, 16);
	ck_assert_str_eq(c->templates[0].text,
	    "Code {code}, {minutes} Minuten.");
	ck_assert_str_eq(c->templates[1].name, "shop");
	ck_assert_str_eq(c->keys[key_index(c, "named")].tmpl, "shop");
	ck_assert_ptr_null(c->keys[key_index(c, "plain")].tmpl);
	conf_free(c);
}
END_TEST

START_TEST(template_text_precedence)
{
	struct conf *c = load_ok(TEMPLATES);
	int plain = key_index(c, "plain"), named = key_index(c, "named");
	int french = key_index(c, "french"), german = key_index(c, "german");

	/* a request's language wins over everything the key says */
	ck_assert_str_eq(conf_template_text(c, named, "de"),
	    "Code {code}, {minutes} Minuten.");
	ck_assert_str_eq(conf_template_text(c, named, "es"),
	    template_builtin("es"));
	ck_assert_str_eq(conf_template_text(c, plain, "en"),
	    template_builtin("en"));
	/* without one: the key's template before the key's language */
	ck_assert_str_eq(conf_template_text(c, named, NULL),
	    "##code## is your Example Shop code");
	ck_assert_str_eq(conf_template_text(c, french, NULL),
	    template_builtin("fr"));
	/* the key's language takes its override too */
	ck_assert_str_eq(conf_template_text(c, german, NULL),
	    "Code {code}, {minutes} Minuten.");
	ck_assert_str_eq(conf_template_text(c, plain, NULL),
	    template_builtin("en"));
	ck_assert_str_eq(conf_template_text(c, -1, NULL),
	    template_builtin("en"));
	/* a named template is not a language a request may ask for */
	ck_assert_ptr_null(conf_template_text(c, plain, "nl"));
	ck_assert_ptr_null(conf_template_text(c, -1, "shop"));
	ck_assert_ptr_null(conf_template_text(c, named, ""));
	conf_free(c);
}
END_TEST

START_TEST(template_en_override)
{
	struct conf *c = load_ok(BASE "[template en]\n"
	    "text = Ваш код {code}\n");

	/* no key and no language is "en", which is overridden; UTF-8 */
	ck_assert_str_eq(conf_template_text(c, -1, NULL), "Ваш код {code}");
	ck_assert_str_eq(conf_template_text(c, 0, NULL), "Ваш код {code}");
	ck_assert_str_eq(conf_template_text(c, 0, "en"), "Ваш код {code}");
	ck_assert_str_eq(conf_template_text(c, 0, "it"),
	    template_builtin("it"));
	conf_free(c);
}
END_TEST

START_TEST(bad_templates)
{
	char text[1024], *p;
	int i;

	expect_one("[template x]\n",
	    "t.conf:6: [template x] required key 'text' is missing");
	expect_one("[template x]\ntext = Your code is ready\n",
	    "t.conf:7: [template x] text: has no {code} (or ##code##) "
	    "placeholder");
	expect_one("[template de]\ntext = Code {Code}\n",
	    "t.conf:7: [template de] text: has no {code}");
	expect_one("[template x]\ntext =\n",
	    "t.conf:7: [template x] text: has no {code}");
	expect_one("[template x]\ntext = {code}\ntxet = {code}\n",
	    "t.conf:8: [template x] unknown key 'txet' (did you mean "
	    "'text'?)");
	expect_one("[template x]\ntext = {code}\ntext = {code}\n",
	    "t.conf:8: [template x] text: given twice in this section");
	expect_one("[template x]\ntext = {code}\n[template x]\ntext = {code}\n",
	    "t.conf:8: [template x] duplicate section (first at line 6)");
	expect_one("[template a/b]\ntext = {code}\n",
	    "t.conf:6: section name 'a/b' in [template ...]");
	expect_one("[template x]\ntext = {code} \xff\n",
	    "t.conf:7: [template x] text: is not valid UTF-8");
	expect_one("[template x]\ntext = {code}\tok\n",
	    "t.conf:7: [template x] text: must not contain control");

	/* 30 codes of 12 digits and one Cyrillic letter (UCS-2, 67 a part):
	 * 361 characters, 6 parts; the line itself is well under 199 */
	p = text + snprintf(text, sizeof(text), "[template long]\ntext = ж");
	for (i = 0; i < 30; i++)
		p += snprintf(p, sizeof(text) - (size_t)(p - text), "{code}");
	snprintf(p, sizeof(text) - (size_t)(p - text), "\n");
	expect_one(text, "t.conf:7: [template long] text: too long: with a "
	    "12-digit code and 1440 minutes it needs 6 SMS parts, at most 4");
	/* 4 parts is the limit: 22 codes of 12 digits are 265 UCS-2 units */
	p = text + snprintf(text, sizeof(text), BASE "[template ok]\n"
	    "text = ж");
	for (i = 0; i < 22; i++)
		p += snprintf(p, sizeof(text) - (size_t)(p - text), "{code}");
	snprintf(p, sizeof(text) - (size_t)(p - text), "\n");
	conf_free(load_ok(text));
}
END_TEST

START_TEST(key_template_reference)
{
	/* a template written after the key that names it */
	struct conf *c = load_ok(BASE "template = late\n"
	    "[template late]\ntext = {code}\n");

	ck_assert_str_eq(conf_template_text(c, 0, NULL), "{code}");
	conf_free(c);

	expect_one("template = nosuch\n",
	    "t.conf:6: [key k] template: unknown template 'nosuch' (no "
	    "[template nosuch] section)");
	expect_one("\ntemplate = de\n[template de]\ntext = {code}\n",
	    "t.conf:7: [key k] template: 'de' is a language");
	expect_one("template = en\n",
	    "t.conf:6: [key k] template: 'en' is a language");
}
END_TEST

/* [key] country: the region of the key's national numbers. */
START_TEST(key_country)
{
	struct conf *c = load_ok(BASE "country = IL\n");

	ck_assert_str_eq(conf_key_country(c, 0), "IL");
	ck_assert_str_eq(conf_key_country(c, -1), c->default_country);
	conf_free(c);
	c = load_ok(BASE);
	ck_assert_str_eq(conf_key_country(c, 0), c->default_country);
	conf_free(c);
	expect_one("country = il\n",
	    "t.conf:6: [key k] country: 'il' is not a country");
}
END_TEST

/* [key] role: client by default, admin or test, nothing else. */
START_TEST(key_role)
{
	struct conf *c = load_ok(BASE);

	ck_assert_int_eq(c->keys[0].role, CONF_ROLE_CLIENT);
	conf_free(c);
	c = load_ok(BASE "role = admin\n");
	ck_assert_int_eq(c->keys[0].role, CONF_ROLE_ADMIN);
	conf_free(c);
	c = load_ok(BASE "role = test\n");
	ck_assert_int_eq(c->keys[0].role, CONF_ROLE_TEST);
	conf_free(c);
	expect_one("role = root\n", "t.conf:6: [key k] role:");
}
END_TEST

/* [limits]: SPEC's defaults; every key inherits what it does not set. */
START_TEST(limits_defaults)
{
	struct conf *c = load_ok(BASE);
	const struct conf_limits *l = &c->limits;

	ck_assert_int_eq(l->resend_interval, 30);
	ck_assert_int_eq(l->sends_per_phone.n, 5);
	ck_assert_int_eq(l->sends_per_phone.period, 600);
	ck_assert_int_eq(l->sends_per_key.n, 0);
	ck_assert_int_eq(l->sends_per_ip.n, 10);
	ck_assert_int_eq(l->sends_per_ip.period, 3600);
	ck_assert_int_eq(l->sends_per_range.n, 200);
	ck_assert_int_eq(l->sends_per_range.period, 3600);
	ck_assert_int_eq(l->range_digits, 8);
	ck_assert_int_eq(l->failed_checks_per_phone.n, 20);
	ck_assert_int_eq(l->failed_checks_per_phone.period, 86400);
	ck_assert_int_eq(memcmp(&c->keys[0].limits, l, sizeof(*l)), 0);
	conf_free(c);
}
END_TEST

/* Values of every form, [limits] and a key's own; a key's empty value
 * or a key left out inherits; 0 (or 0/PERIOD) is off. */
START_TEST(limits_overridden)
{
	struct conf *c = load_ok(
	    "[limits]\nresend_interval = 0\nsends_per_phone = 3/30s\n"
	    "sends_per_key = 100000/1d\nsends_per_ip = 0/1h\n"
	    "sends_per_range = 1/30d\nrange_digits = 15\n"
	    "failed_checks_per_phone = 100/2h\n"
	    "[smsc a]\nhost = 127.0.0.1\nsystem_id = a\n"
	    "[key k]\ntoken = 0123456789abcdef0123\nsends_per_phone = 0\n"
	    "resend_interval = 60\nrange_digits = 1\nsends_per_key =\n"
	    "failed_checks_per_phone = 1/1m\n"
	    "[key j]\ntoken = 0123456789abcdef0124\n");
	const struct conf_limits *l = &c->limits, *k = &c->keys[0].limits;

	ck_assert_int_eq(l->resend_interval, 0);
	ck_assert_int_eq(l->sends_per_phone.n, 3);
	ck_assert_int_eq(l->sends_per_phone.period, 30);
	ck_assert_int_eq(l->sends_per_key.n, 100000);
	ck_assert_int_eq(l->sends_per_key.period, 86400);
	ck_assert_int_eq(l->sends_per_ip.n, 0);
	ck_assert_int_eq(l->sends_per_range.n, 1);
	ck_assert_int_eq(l->sends_per_range.period, 30 * 86400);
	ck_assert_int_eq(l->range_digits, 15);
	ck_assert_int_eq(l->failed_checks_per_phone.n, 100);
	ck_assert_int_eq(l->failed_checks_per_phone.period, 7200);
	/* [key k]: its own, and [limits]' for the rest */
	ck_assert_int_eq(k->sends_per_phone.n, 0);
	ck_assert_int_eq(k->resend_interval, 60);
	ck_assert_int_eq(k->range_digits, 1);
	ck_assert_int_eq(k->sends_per_key.n, 100000);
	ck_assert_int_eq(k->failed_checks_per_phone.n, 1);
	ck_assert_int_eq(k->failed_checks_per_phone.period, 60);
	ck_assert_int_eq(k->sends_per_range.n, 1);
	/* [key j]: all [limits]' */
	ck_assert_int_eq(memcmp(&c->keys[1].limits, l, sizeof(*l)), 0);
	conf_free(c);
}
END_TEST

/* Each mistake in N/PERIOD and the other keys, with file, line, section
 * and key; in [key] sections too. */
START_TEST(limits_bad_values)
{
	static const struct {
		const char *fragment, *want;
	} cases[] = {
		{ "[limits]\nsends_per_phone = 5\n",
		    "t.conf:7: [limits] sends_per_phone: '5' is not N/PERIOD "
		    "(e.g. 5/10m: at most 5 in any 10 minutes; PERIOD is a "
		    "number with s, m, h or d) or 0 (off)\n" },
		{ "[limits]\nsends_per_phone = 5/10x\n",
		    "t.conf:7: [limits] sends_per_phone: '5/10x': PERIOD must "
		    "be a number with s, m, h or d (e.g. 30s, 10m, 1h, 1d)\n" },
		{ "[limits]\nsends_per_ip = 5/\n",
		    "t.conf:7: [limits] sends_per_ip: '5/': PERIOD must be" },
		{ "[limits]\nsends_per_ip = 5/m\n",
		    "t.conf:7: [limits] sends_per_ip: '5/m': PERIOD must be" },
		{ "[limits]\nsends_per_ip = 5/-1h\n",
		    "t.conf:7: [limits] sends_per_ip: '5/-1h': PERIOD must be" },
		{ "[limits]\nsends_per_key = many/1h\n",
		    "t.conf:7: [limits] sends_per_key: 'many/1h': N must be a "
		    "whole number (N/PERIOD, e.g. 5/10m)\n" },
		{ "[limits]\nsends_per_key = /1h\n",
		    "t.conf:7: [limits] sends_per_key: '/1h': N must be" },
		{ "[limits]\nsends_per_phone = 1000001/1h\n",
		    "t.conf:7: [limits] sends_per_phone: '1000001/1h': N is out "
		    "of range 1..1000000 (or 0: off)\n" },
		{ "[limits]\nsends_per_phone = -1/1h\n",
		    "t.conf:7: [limits] sends_per_phone: '-1/1h': N is out of "
		    "range 1..1000000" },
		{ "[limits]\nsends_per_phone = 99999999999999999999/1h\n",
		    "t.conf:7: [limits] sends_per_phone: "
		    "'99999999999999999999/1h': N is out of range" },
		{ "[limits]\nsends_per_range = 5/31d\n",
		    "t.conf:7: [limits] sends_per_range: '5/31d': PERIOD is out "
		    "of range 1s..30d\n" },
		{ "[limits]\nsends_per_range = 5/0s\n",
		    "t.conf:7: [limits] sends_per_range: '5/0s': PERIOD is out "
		    "of range 1s..30d\n" },
		{ "[limits]\nfailed_checks_per_phone = 5/99999999999d\n",
		    "t.conf:7: [limits] failed_checks_per_phone: "
		    "'5/99999999999d': PERIOD is out of range 1s..30d\n" },
		{ "[limits]\nrange_digits = 0\n",
		    "t.conf:7: [limits] range_digits: 0 is out of range "
		    "1..15\n" },
		{ "[limits]\nrange_digits = 16\n",
		    "t.conf:7: [limits] range_digits: 16 is out of range "
		    "1..15\n" },
		{ "[limits]\nresend_interval = 86401\n",
		    "t.conf:7: [limits] resend_interval: 86401 is out of range "
		    "0..86400\n" },
		{ "[limits]\nresend_interval = 30s\n",
		    "t.conf:7: [limits] resend_interval: '30s' is not an "
		    "integer\n" },
		{ "[limits]\nsends_per_phone = 5 / 10m\n",
		    "t.conf:7: [limits] sends_per_phone: '5 / 10m': N must be" },
		{ "[limits]\nsends_per_phones = 5/10m\n",
		    "t.conf:7: [limits] unknown key 'sends_per_phones' (did you "
		    "mean 'sends_per_phone'?)\n" },
		{ "[limits]\n[limits]\n",
		    "t.conf:7: [limits] duplicate section (first at line 6)\n" },
		{ "[limits NAME]\n",
		    "t.conf:6: section [limits] takes no name" },
		/* in a [key]: BASE ends inside [key k] */
		{ "sends_per_ip = 1/1y\n",
		    "t.conf:6: [key k] sends_per_ip: '1/1y': PERIOD must be" },
		{ "range_digits = 20\n",
		    "t.conf:6: [key k] range_digits: 20 is out of range "
		    "1..15\n" },
		{ "failed_checks_per_phone = 0.5/1h\n",
		    "t.conf:6: [key k] failed_checks_per_phone: '0.5/1h': N "
		    "must be a whole number" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_one(cases[i].fragment, cases[i].want);
}
END_TEST

START_TEST(unreadable_file)
{
	char *errors = NULL;

	ck_assert_ptr_null(conf_load("/nonexistent/x.conf", &errors));
	ck_assert_msg(strstr(errors, "/nonexistent/x.conf: cannot open") !=
	    NULL, "%s", errors);
	free(errors);
}
END_TEST

/* A file with a NUL octet is not text: refused whole, by its name. */
START_TEST(file_with_nul)
{
	char path[] = "/tmp/check_conf.XXXXXX", *errors = NULL, want[64];
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "[server]\n\0\n", 11), 11);
	close(fd);
	ck_assert_ptr_null(conf_load(path, &errors));
	unlink(path);
	snprintf(want, sizeof(want), "%s: contains a NUL octet (not text)\n",
	    path);
	ck_assert_pstr_eq(errors, want);
	free(errors);
}
END_TEST

/* [test NAME]: numbers, ranges, the fixed code, the scripted outcome. */
START_TEST(test_sections)
{
	struct conf *c = load_ok(BASE
	    "[test magic]\n"
	    "numbers = +15005550000-+15005550099 +447700900123\n"
	    "code = 123456\n"
	    "[test slow]\n"
	    "numbers = +15005550200\n"
	    "delivery = undeliverable\n"
	    "delay = 5\n"
	    "[test busy]\n"
	    "numbers = +15005550300\n"
	    "delivery = none\n"
	    "refuse = ESME_RTHROTTLED\n");
	const struct conf_test *t;

	ck_assert_int_eq(c->ntest, 3);
	t = &c->tests[0];
	ck_assert_str_eq(t->name, "magic");
	ck_assert_int_eq(t->nrange, 2);
	ck_assert_str_eq(t->ranges[0].lo, "+15005550000");
	ck_assert_str_eq(t->ranges[0].hi, "+15005550099");
	ck_assert_str_eq(t->ranges[1].lo, "+447700900123");
	ck_assert_str_eq(t->ranges[1].hi, "+447700900123");
	ck_assert_str_eq(t->code, "123456");
	ck_assert_int_eq(t->delivery, CONF_TEST_DELIVERED);
	ck_assert_int_eq(t->delay, 1);
	ck_assert_uint_eq(t->refuse, 0);
	t = &c->tests[1];
	ck_assert_ptr_null(t->code);
	ck_assert_int_eq(t->delivery, CONF_TEST_UNDELIVERABLE);
	ck_assert_int_eq(t->delay, 5);
	t = &c->tests[2];
	ck_assert_int_eq(t->delivery, CONF_TEST_NONE);
	ck_assert_uint_eq(t->refuse, 0x58);     /* ESME_RTHROTTLED */

	/* Lookup: ends of a range, inside, outside, other lengths. */
	ck_assert_ptr_eq(conf_test_find(c, "+15005550000"), &c->tests[0]);
	ck_assert_ptr_eq(conf_test_find(c, "+15005550042"), &c->tests[0]);
	ck_assert_ptr_eq(conf_test_find(c, "+15005550099"), &c->tests[0]);
	ck_assert_ptr_null(conf_test_find(c, "+15005550100"));
	ck_assert_ptr_null(conf_test_find(c, "+1500555004"));
	ck_assert_ptr_null(conf_test_find(c, "+150055500420"));
	ck_assert_ptr_eq(conf_test_find(c, "+447700900123"), &c->tests[0]);
	ck_assert_ptr_eq(conf_test_find(c, "+15005550200"), &c->tests[1]);
	ck_assert_ptr_eq(conf_test_find(c, "+15005550300"), &c->tests[2]);
	ck_assert_ptr_null(conf_test_find(c, NULL));
	conf_free(c);

	/* None: nothing is a test number. */
	c = load_ok(BASE);
	ck_assert_int_eq(c->ntest, 0);
	ck_assert_ptr_null(conf_test_find(c, "+15005550000"));
	conf_free(c);
}
END_TEST

START_TEST(numbers_loaded)
{
	struct conf *c = load_ok(BASE
	    "[number qa]\n"
	    "address = +447700900123\n"
	    "key = k\n"
	    "[number short]\n"
	    "address = 84433\n"
	    "key = k\n");

	ck_assert_int_eq(c->nnumber, 2);
	ck_assert_str_eq(c->numbers[0].name, "qa");
	ck_assert_str_eq(c->numbers[0].address, "+447700900123");
	ck_assert_int_eq(c->numbers[0].key, 0);
	ck_assert_int_eq(c->numbers[0].line, 6);
	ck_assert_str_eq(c->numbers[1].address, "84433");
	/* SMSCs write destinations with or without the '+'. */
	ck_assert_int_eq(conf_number_find(c, "447700900123"), 0);
	ck_assert_int_eq(conf_number_find(c, "+447700900123"), 0);
	ck_assert_int_eq(conf_number_find(c, "84433"), 1);
	ck_assert_int_eq(conf_number_find(c, "447700900124"), -1);
	ck_assert_int_eq(conf_number_find(c, NULL), -1);
	conf_free(c);
}
END_TEST

START_TEST(test_sections_bad)
{
	static const struct {
		const char *fragment, *want;
	} cases[] = {
		{ "[test t]\ncode = 1234\n",
		    "t.conf:6: [test t] required key 'numbers' is missing" },
		{ "[test t]\nnumbers =\n",
		    "t.conf:7: [test t] numbers: needs at least one number" },
		{ "[test t]\nnumbers = 15005550000\n",
		    "t.conf:7: [test t] numbers: '15005550000' is not a number "
		    "or a range" },
		{ "[test t]\nnumbers = +1500555000x\n",
		    "t.conf:7: [test t] numbers: '+1500555000x' is not" },
		{ "[test t]\nnumbers = +15005550000-\n",
		    "t.conf:7: [test t] numbers: '+15005550000-' is not" },
		{ "[test t]\nnumbers = +15005550099-+15005550000\n",
		    "t.conf:7: [test t] numbers: range "
		    "'+15005550099-+15005550000': both ends" },
		{ "[test t]\nnumbers = +15005550000-+150055500000\n",
		    "t.conf:7: [test t] numbers: range" },
		{ "[test t]\nnumbers = +15005550000\ncode = 123\n",
		    "t.conf:8: [test t] code: must be 4 to 12 digits" },
		{ "[test t]\nnumbers = +15005550000\ncode = 1234567890123\n",
		    "t.conf:8: [test t] code: must be 4 to 12 digits" },
		{ "[test t]\nnumbers = +15005550000\ncode = 12a456\n",
		    "t.conf:8: [test t] code: must be 4 to 12 digits" },
		{ "[test t]\nnumbers = +15005550000\ndelivery = lost\n",
		    "t.conf:8: [test t] delivery:" },
		{ "[test t]\nnumbers = +15005550000\ndelay = -1\n",
		    "t.conf:8: [test t] delay: -1 is out of range" },
		{ "[test t]\nnumbers = +15005550000\nrefuse = ESME_NOPE\n",
		    "t.conf:8: [test t] refuse: 'ESME_NOPE' is not an SMPP "
		    "status name" },
		{ "[test t]\nnumbers = +15005550000\nrefuse = ESME_ROK\n",
		    "t.conf:8: [test t] refuse: 'ESME_ROK' is not" },
		{ "[test]\nnumbers = +15005550000\n",
		    "t.conf:6: section [test] needs a name" },
		{ "[test t]\nnumbers = +15005550000\n[test t]\n",
		    "t.conf:8: [test t] duplicate section" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_one(cases[i].fragment, cases[i].want);
}
END_TEST

START_TEST(bad_numbers)
{
	expect_one("[number a]\naddress = 447700900123x\nkey = k\n",
	    "t.conf:7: [number a] address: '447700900123x' is neither E.164");
	expect_one("[number a]\naddress = +44\nkey = k\n",
	    "t.conf:7: [number a] address: '+44' is neither");
	expect_one("[number a]\naddress = 12\nkey = k\n",
	    "t.conf:7: [number a] address:");
	expect_one("[number a]\naddress = +447700900123\nkey = nobody\n",
	    "t.conf:8: [number a] key: no [key nobody] section");
	expect_one("[number a]\naddress = +447700900123\n",
	    "[number a] required key 'key' is missing");
	expect_one("[number a]\naddress = +447700900123\nkey = k\n"
	    "[number b]\naddress = +447700900123\nkey = k\n",
	    "t.conf:10: [number b] address: +447700900123 is already "
	    "[number a] (line 6)");
	expect_one("[number]\naddress = +447700900123\nkey = k\n",
	    "section [number] needs a name");
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc;

	tc = tcase_create("good");
	tcase_add_test(tc, example_conf_loads);
	tcase_add_test(tc, minimal_file_gets_defaults);
	tcase_add_test(tc, every_key_set);
	tcase_add_test(tc, implicit_default_route);
	tcase_add_test(tc, key_country);
	tcase_add_test(tc, key_role);
	tcase_add_test(tc, routes_resolve_smscs_written_later);
	tcase_add_test(tc, limits_defaults);
	tcase_add_test(tc, limits_overridden);
	tcase_add_test(tc, test_sections);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_test(tc, bad_port);
	tcase_add_test(tc, code_length_out_of_range);
	tcase_add_test(tc, non_numeric_values);
	tcase_add_test(tc, bad_sender);
	tcase_add_test(tc, refuse_types);
	tcase_add_test(tc, bad_token_not_echoed);
	tcase_add_test(tc, bad_value_of_each_type);
	tcase_add_test(tc, limits_bad_values);
	tcase_add_test(tc, test_sections_bad);
	suite_add_tcase(s, tc);

	tc = tcase_create("structure");
	tcase_add_test(tc, unknown_key);
	tcase_add_test(tc, unknown_section);
	tcase_add_test(tc, key_outside_section);
	tcase_add_test(tc, missing_required_key);
	tcase_add_test(tc, duplicate_key);
	tcase_add_test(tc, duplicate_section);
	tcase_add_test(tc, syntax_errors);
	tcase_add_test(tc, long_line_keeps_line_numbers);
	suite_add_tcase(s, tc);

	tc = tcase_create("whole_file");
	tcase_add_test(tc, route_unknown_smsc);
	tcase_add_test(tc, routes_without_default);
	tcase_add_test(tc, shield_keys);
	tcase_add_test(tc, whole_file_rules);
	tcase_add_test(tc, all_errors_reported);
	tcase_add_test(tc, unreadable_file);
	tcase_add_test(tc, file_with_nul);
	suite_add_tcase(s, tc);

	tc = tcase_create("templates");
	tcase_add_test(tc, templates_loaded);
	tcase_add_test(tc, template_text_precedence);
	tcase_add_test(tc, template_en_override);
	tcase_add_test(tc, bad_templates);
	tcase_add_test(tc, key_template_reference);
	suite_add_tcase(s, tc);

	tc = tcase_create("numbers");
	tcase_add_test(tc, numbers_loaded);
	tcase_add_test(tc, bad_numbers);
	tcase_add_test(tc, store_redis_keys);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(conf_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
