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
#include "phone.h"
#include "heap.h"
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

/* RFC 3339 read back to the millisecond: Z, offsets (a space for an
 * unencoded '+'), fractions; anything else refused. */
START_TEST(rfc3339_parse)
{
	int64_t ms;
	char out[32];

	ck_assert_int_eq(util_rfc3339_parse("2026-12-03T12:00:00Z", &ms), 0);
	ck_assert_int_eq(ms, 1796299200000LL);
	util_rfc3339(ms / 1000, out, sizeof(out));
	ck_assert_str_eq(out, "2026-12-03T12:00:00Z");
	ck_assert_int_eq(util_rfc3339_parse("2026-12-03T12:00:00.25z", &ms), 0);
	ck_assert_int_eq(ms, 1796299200250LL);
	ck_assert_int_eq(util_rfc3339_parse("2026-12-03T12:00:00.1239Z", &ms),
	    0);
	ck_assert_int_eq(ms, 1796299200123LL);
	ck_assert_int_eq(util_rfc3339_parse("2026-12-03T13:30:00+01:30", &ms),
	    0);
	ck_assert_int_eq(ms, 1796299200000LL);
	ck_assert_int_eq(util_rfc3339_parse("2026-12-03T13:30:00 01:30", &ms),
	    0);
	ck_assert_int_eq(ms, 1796299200000LL);
	ck_assert_int_eq(util_rfc3339_parse("2026-12-03T10:00:00-02:00", &ms),
	    0);
	ck_assert_int_eq(ms, 1796299200000LL);
	ck_assert_int_eq(util_rfc3339_parse("2026-12-03T12:00:00", &ms), -1);
	ck_assert_int_eq(util_rfc3339_parse("2026-12-03T12:00:00.Z", &ms), -1);
	ck_assert_int_eq(util_rfc3339_parse("2026-12-03T12:00:00Zx", &ms), -1);
	ck_assert_int_eq(util_rfc3339_parse("2026-12-03T12:00:00+24:00", &ms),
	    -1);
	ck_assert_int_eq(util_rfc3339_parse("2026-12-03T12:00:00+1:00", &ms),
	    -1);
	ck_assert_int_eq(util_rfc3339_parse("2026-12-03", &ms), -1);
	ck_assert_int_eq(util_rfc3339_parse("", &ms), -1);
}
END_TEST

/* The heap gives its nodes back in before() order, whatever was taken
 * out of its middle, and every node always knows its place. */
struct hitem {
	struct heap_node hn;    /* first: a node is its item */
	int key;
	int in;
};

static int
hitem_before(const struct heap_node *a, const struct heap_node *b)
{
	return ((const struct hitem *)a)->key < ((const struct hitem *)b)->key;
}

START_TEST(heap_order)
{
	static struct hitem it[1000];
	struct heap h;
	struct heap_node *n;
	int i, last = -1, left = 0;
	unsigned r = 12345;

	heap_init(&h, hitem_before);
	ck_assert_ptr_null(heap_top(&h));
	for (i = 0; i < 1000; i++) {
		r = r * 1103515245u + 12345u;
		it[i].key = (int)(r >> 16) % 5000;
		it[i].in = 1;
		heap_push(&h, &it[i].hn);
	}
	for (i = 0; i < 1000; i += 3) {         /* out of the middle */
		heap_remove(&h, &it[i].hn);
		it[i].in = 0;
	}
	for (i = 0; i < 1000; i++)
		left += it[i].in;
	ck_assert_uint_eq(heap_count(&h), (size_t)left);
	for (size_t k = 0; k < heap_count(&h); k++)
		ck_assert_uint_eq(heap_at(&h, k)->idx, k);
	while ((n = heap_top(&h)) != NULL) {
		struct hitem *x = (struct hitem *)n;

		ck_assert(x->in);
		ck_assert_int_ge(x->key, last);
		last = x->key;
		heap_remove(&h, n);
		x->in = 0;
		left--;
	}
	ck_assert_int_eq(left, 0);
	heap_release(&h);
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

/* A storm of one event writes a line a second and counts the rest. */
START_TEST(log_limit_counts)
{
	struct log_limit l = { 0, 0 };
	unsigned n = 99, lines = 0;

	ck_assert_int_eq(log_limit_ok(&l, 5000, 1000, &n), 1);
	ck_assert_uint_eq(n, 0);
	for (int64_t t = 5001; t < 6000; t++)
		lines += log_limit_ok(&l, t, 1000, &n);
	ck_assert_uint_eq(lines, 0);
	ck_assert_uint_eq(l.suppressed, 999);
	ck_assert_int_eq(log_limit_ok(&l, 6000, 1000, &n), 1);
	ck_assert_uint_eq(n, 999);
	ck_assert_int_eq(log_limit_ok(&l, 6500, 1000, &n), 0);
	ck_assert_int_eq(log_limit_ok(&l, 9000, 1000, &n), 1);
	ck_assert_uint_eq(n, 1);
	/* a clock that starts at 0 still holds back the next one */
	l = (struct log_limit){ 0, 0 };
	ck_assert_int_eq(log_limit_ok(&l, 0, 1000, &n), 1);
	ck_assert_int_eq(log_limit_ok(&l, 10, 1000, &n), 0);
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

/* Numbers as libphonenumber reads them, including the cases the E.164
 * short way must leave to Parse(). */
START_TEST(phone_reading)
{
	static const struct {
		const char *in, *region;
		enum phone_result r;
		const char *e164;
		int type;
	} cases[] = {
		{ "+14155550123", NULL, PHONE_OK, "+14155550123",
		    PHONE_FIXED_LINE_OR_MOBILE },
		{ "14155550123", NULL, PHONE_OK, "+14155550123",
		    PHONE_FIXED_LINE_OR_MOBILE },
		{ "0014155550123", NULL, PHONE_OK, "+14155550123",
		    PHONE_FIXED_LINE_OR_MOBILE },
		{ " 14155550123", NULL, PHONE_OK, "+14155550123",
		    PHONE_FIXED_LINE_OR_MOBILE },
		{ "(415) 555-0123", "US", PHONE_OK, "+14155550123",
		    PHONE_FIXED_LINE_OR_MOBILE },
		{ "020 7946 0000", "GB", PHONE_OK, "+442079460000",
		    PHONE_FIXED_LINE },
		{ "+447400123456", NULL, PHONE_OK, "+447400123456",
		    PHONE_MOBILE },
		{ "0501234567", "IL", PHONE_OK, "+972501234567", PHONE_MOBILE },
		/* Mexico's old "1" before mobiles is a national prefix. */
		{ "+5219370169614", NULL, PHONE_OK, "+529370169614", -1 },
		/* Italy keeps its leading zero. */
		{ "+390612345678", NULL, PHONE_OK, "+390612345678",
		    PHONE_FIXED_LINE },
		{ "+1415555012", NULL, PHONE_INVALID, NULL, 0 },
		{ "+999123456789", NULL, PHONE_UNPARSABLE, NULL, 0 },
		{ "not a number", "US", PHONE_UNPARSABLE, NULL, 0 },
		{ "", "US", PHONE_UNPARSABLE, NULL, 0 },
	};
	char out[24];
	enum phone_type t;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum phone_result r = phone_normalise(cases[i].in,
		    cases[i].region, out, sizeof(out), &t);
		ck_assert_msg(r == cases[i].r, "%s: %d", cases[i].in, r);
		if (r != PHONE_OK)
			continue;
		ck_assert_str_eq(out, cases[i].e164);
		if (cases[i].type >= 0)
			ck_assert_msg((int)t == cases[i].type, "%s: %s",
			    cases[i].in, phone_strtype(t));
	}
}
END_TEST

/* The E.164 short way and Parse() agree on every region's example numbers
 * and on neighbours of each (other last digits, other lengths), and on
 * numbers where Parse() strips a national prefix after the country code
 * (found by a search over eight million numbers: Mexico, Belarus). */
/* The region of a number: a calling code of one region at once, shared
 * ones (+1, +44) by the number's own patterns, non-geographic "001". */
START_TEST(phone_regions)
{
	static const struct {
		const char *e164, *region;
	} cases[] = {
		{ "+14155550123", "US" },
		{ "+14165550123", "CA" },
		{ "+18765550123", "JM" },
		{ "+447400123456", "GB" },
		{ "+447781123456", "GG" },
		{ "+33612345678", "FR" },
		{ "+972501234567", "IL" },
		{ "+79123456789", "RU" },
		{ "+77011234567", "KZ" },
		{ "+80012345678", "001" },
	};
	char r[8];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(phone_region(cases[i].e164, r, sizeof(r)) == 0,
		    "%s: no region", cases[i].e164);
		ck_assert_str_eq(r, cases[i].region);
	}
	ck_assert_int_eq(phone_region("14155550123", r, sizeof(r)), -1);
	ck_assert_int_eq(phone_region("+999", r, sizeof(r)), -1);
	ck_assert_int_eq(phone_region("+80012345678", r, 3), -1);
	ck_assert_int_eq(phone_region(NULL, r, sizeof(r)), -1);
}
END_TEST

START_TEST(phone_fast_path)
{
	char **ex, in[40], a[24], b[24];
	enum phone_type ta, tb;
	unsigned seed = 12345;
	int n = phone_example_numbers(&ex), checked = 0;

	static const char *const stripped[] = { "+5219370169614",
	    "+5217794824925", "+5214474194558", "+3758103468809",
	    "+3758100287847" };
	size_t ns = sizeof(stripped) / sizeof(stripped[0]);

	ck_assert_int_gt(n, 1000);
	ex = realloc(ex, (n + ns + 1) * sizeof(*ex));
	for (size_t i = 0; i < ns; i++)
		ex[n++] = strdup(stripped[i]);
	ex[n] = NULL;
	for (int i = 0; i < n; i++) {
		for (int k = 0; k < 12; k++) {
			size_t len = strlen(ex[i]);
			snprintf(in, sizeof(in), "%s", ex[i]);
			seed = seed * 1103515245 + 12345;
			if (k > 0)
				in[len - 1 - (seed >> 16) % 4] =
				    (char)('0' + (seed >> 8) % 10);
			if (k == 10 && len > 5)
				in[len - 1] = '\0';      /* one digit short */
			if (k == 11 && len < 16)
				strcat(in, "7");         /* one digit long */
			a[0] = b[0] = '\0';
			ta = tb = PHONE_UNKNOWN;
			enum phone_result ra = phone_normalise(in, NULL, a,
			    sizeof(a), &ta);
			enum phone_result rb = phone_normalise_slow(in, NULL,
			    b, sizeof(b), &tb);
			ck_assert_msg(ra == rb && (ra != PHONE_OK ||
			    (strcmp(a, b) == 0 && ta == tb)),
			    "%s: fast %d %s %s, Parse() %d %s %s", in, ra, a,
			    phone_strtype(ta), rb, b, phone_strtype(tb));
			checked++;
		}
		free(ex[i]);
	}
	free(ex);
	ck_assert_int_gt(checked, 12000);
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
	tcase_add_test(tc, rfc3339_parse);
	tcase_add_test(tc, heap_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("phone");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, phone_reading);
	tcase_add_test(tc, phone_fast_path);
	tcase_add_test(tc, phone_regions);
	suite_add_tcase(s, tc);

	tc = tcase_create("log");
	tcase_add_test(tc, str_quoting);
	tcase_add_test(tc, log_limit_counts);
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
