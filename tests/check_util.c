/*
 * check_util.c - util.c and log.c: host:port parsing, the settable clock,
 * hex and RFC 3339, strlcpy; logfmt lines (format, level filter, one line
 * per event), value quoting and phone masking.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "log.h"
#include "util.h"

START_TEST(hostport)
{
	static const struct {
		const char *in, *host;
		int port;
	} good[] = {
		{ "127.0.0.1:8080", "127.0.0.1", 8080 },
		{ "[::1]:8080", "::1", 8080 },
		{ "localhost:80", "localhost", 80 },
		{ "h:0", "h", 0 },
		{ "h:65535", "h", 65535 },
	};
	static const char *const bad[] = { "h", "h:", ":80", "h:65536",
	    "h:8x", "h:-1", "h: 80", "::1:80", "[::1]", "[::1]80", "[]:80",
	    "a b:80", "h:0000080" };
	char host[64];
	int port;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(util_hostport(good[i].in, host, sizeof(host),
		    &port) == 0, "%s refused", good[i].in);
		ck_assert_str_eq(host, good[i].host);
		ck_assert_int_eq(port, good[i].port);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(util_hostport(bad[i], host, sizeof(host),
		    &port) == -1, "%s accepted", bad[i]);
	/* a host that does not fit */
	ck_assert_int_eq(util_hostport("abcdefgh:1", host, 8, &port), -1);
}
END_TEST

START_TEST(clock_and_strings)
{
	char buf[32];
	uint8_t in[3] = { 0x00, 0xab, 0xff };
	int64_t a, b;

	util_clock_set(1795000000);
	ck_assert_int_eq(util_now(), 1795000000);
	util_clock_set(0);
	ck_assert_int_gt(util_now(), 1700000000);
	a = util_mono_ms();
	b = util_mono_ms();
	ck_assert_int_ge(b, a);

	util_rfc3339(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
	util_rfc3339(1795000000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2026-11-18T11:06:40Z");
	util_hex(in, sizeof(in), buf);
	ck_assert_str_eq(buf, "00abff");
	ck_assert_uint_eq(util_strlcpy(buf, "hello", 4), 5);
	ck_assert_str_eq(buf, "hel");
	ck_assert_uint_eq(util_strlcpy(buf, "hi", sizeof(buf)), 2);
	ck_assert_str_eq(buf, "hi");
}
END_TEST

START_TEST(str_quoting)
{
	char buf[64];

	ck_assert_str_eq(log_str(buf, sizeof(buf), "plain-value"),
	    "plain-value");
	ck_assert_str_eq(log_str(buf, sizeof(buf), ""), "\"\"");
	ck_assert_str_eq(log_str(buf, sizeof(buf), NULL), "\"\"");
	ck_assert_str_eq(log_str(buf, sizeof(buf), "a b"), "\"a b\"");
	ck_assert_str_eq(log_str(buf, sizeof(buf), "k=v"), "\"k=v\"");
	ck_assert_str_eq(log_str(buf, sizeof(buf), "say \"hi\" \\o/"),
	    "\"say \\\"hi\\\" \\\\o/\"");
	ck_assert_str_eq(log_str(buf, sizeof(buf), "x\ny\x01"),
	    "\"x\\ny\\x01\"");
	/* cut short but still closed */
	ck_assert_str_eq(log_str(buf, 8, "aaaa bbbb"), "\"aaaa \"");
	ck_assert_str_eq(log_str(buf, 4, "abcdef"), "abc");
}
END_TEST

START_TEST(phone_masking)
{
	char buf[32];

	ck_assert_str_eq(log_phone(buf, sizeof(buf), "+4479111234123"),
	    "+4479******123");
	ck_assert_str_eq(log_phone(buf, sizeof(buf), "+14155551234"),
	    "+1415****234");
	ck_assert_str_eq(log_phone(buf, sizeof(buf), "+3361234"),
	    "+****234");
	/* not E.164: masked entirely, only the length kept */
	ck_assert_str_eq(log_phone(buf, sizeof(buf), "0501234567"),
	    "**********");
	ck_assert_str_eq(log_phone(buf, sizeof(buf), "+1-415-555"),
	    "**********");
	ck_assert_str_eq(log_phone(buf, sizeof(buf), ""), "");
}
END_TEST

/* Run fn with stderr captured; returns what it wrote (malloc'd). */
static char *
capture(void (*fn)(void))
{
	static char out[4096];
	int fds[2], saved;
	ssize_t n;

	ck_assert_int_eq(pipe(fds), 0);
	saved = dup(STDERR_FILENO);
	dup2(fds[1], STDERR_FILENO);
	close(fds[1]);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = read(fds[0], out, sizeof(out) - 1);
	close(fds[0]);
	out[n > 0 ? n : 0] = '\0';
	return out;
}

static void
emit(void)
{
	char b[64];

	ck_assert_int_eq(log_set_level("warn"), 0);
	log_info("test.hidden", "n=%d", 1);
	log_warn("test.shown", "smsc=%s n=%d", log_str(b, sizeof(b), "a b"), 2);
	log_err("test.bare", "%s", "");
	ck_assert_int_eq(log_set_level("loud"), -1);
	log_set_level_num(LOG_INFO);
}

START_TEST(event_lines)
{
	const char *out = capture(emit), *second;

	ck_assert_msg(strncmp(out, "ts=", 3) == 0, "%s", out);
	/* ts=YYYY-MM-DDTHH:MM:SS.mmmZ */
	ck_assert_msg(strlen(out) > 28 && out[13] == 'T' && out[22] == '.' &&
	    out[26] == 'Z' && out[27] == ' ', "%s", out);
	ck_assert_msg(strstr(out, " level=warn event=test.shown "
	    "smsc=\"a b\" n=2\n") != NULL, "%s", out);
	ck_assert_ptr_null(strstr(out, "test.hidden"));
	second = strchr(out, '\n') + 1;
	ck_assert_msg(strstr(second, " level=error event=test.bare\n") != NULL,
	    "%s", out);
	ck_assert_str_eq(strchr(second, '\n'), "\n");
}
END_TEST

static Suite *
util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc;

	tc = tcase_create("util");
	tcase_add_test(tc, hostport);
	tcase_add_test(tc, clock_and_strings);
	suite_add_tcase(s, tc);

	tc = tcase_create("log");
	tcase_add_test(tc, str_quoting);
	tcase_add_test(tc, phone_masking);
	tcase_add_test(tc, event_lines);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(util_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
