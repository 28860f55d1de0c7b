/*
 * smsverifyctl.c - the operators' and release scripts' command line
 * (SPEC "Statistics and release gates"; man page smsverifyctl.1):
 *
 *   smsverifyctl [-u URL] [-k TOKEN] [--cacert FILE] [--json] COMMAND
 *     stats [--by DIM] [--since T] [--until T] [--key NAME]
 *     gate --min-conversion PCT [--min-sends N] [--by DIM] [--since T]
 *          [--until T] [--key NAME]
 *     test-code PHONE [--wait SECONDS]
 *     shield list
 *     shield reopen RANGE
 *
 * Exit status: 0 done (gate: every group with at least min-sends sends
 * converts at least PCT percent); 1 a negative answer (gate: groups
 * failed, each named; test-code: nothing captured; shield reopen: the
 * range was not tripped); 2 usage, connection, TLS or HTTP errors.
 *
 * -u defaults to $SMSVERIFY_URL, -k to $SMSVERIFY_TOKEN, --cacert to
 * $SMSVERIFY_CACERT.  The token goes in the Authorization header only and
 * is never printed.  Every request is bounded: CTL_TIMEOUT seconds in
 * all (--timeout), an answer of at most CTL_BODY_MAX octets.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#define CTL_TIMEOUT 30
#define CTL_BODY_MAX (8 * 1024 * 1024)
#define EXIT_NEGATIVE 1
#define EXIT_USAGE 2

struct ctl {
	const char *url, *token, *cacert;
	int json, timeout;
	const char *by, *since, *until, *key;
	double min_conversion;
	int have_min_conversion;
	long min_sends;
	long wait;
};

struct body {
	char *p;
	size_t n;
	int over;
};

static void
usage(void)
{
	fputs("usage: smsverifyctl [-u URL] [-k TOKEN] [--cacert FILE] "
	    "[--json] [--timeout S] COMMAND\n"
	    "  stats [--by country|route|smsc|key|range|minute] [--since -1h] "
	    "[--until T] [--key NAME]\n"
	    "  gate --min-conversion PCT [--min-sends 20] [--by country] "
	    "[--since -1h] [--until T] [--key NAME]\n"
	    "  test-code PHONE [--wait SECONDS]\n"
	    "  shield list\n"
	    "  shield reopen RANGE\n"
	    "-u defaults to $SMSVERIFY_URL, -k to $SMSVERIFY_TOKEN, --cacert "
	    "to $SMSVERIFY_CACERT.\n"
	    "exit: 0 ok, 1 gate failed / nothing found, 2 usage or connection "
	    "error\n", stderr);
}

static void
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("smsverifyctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;

	if (b->n + n > CTL_BODY_MAX) {
		b->over = 1;
		return 0;       /* aborts the transfer */
	}
	b->p = realloc(b->p, b->n + n + 1);
	if (b->p == NULL) {
		b->over = 1;
		return 0;
	}
	memcpy(b->p + b->n, ptr, n);
	b->n += n;
	b->p[b->n] = '\0';
	return n;
}

/* One request: method on path (with its query, escaped by the caller).
 * The answer's JSON into *out and its status into *status; 0, or -1
 * after saying why (connection, TLS, timeout, size, not JSON). */
static int
request(const struct ctl *c, const char *method, const char *path,
    long *status, json_t **out)
{
	struct curl_slist *hdr = NULL;
	struct body b = { NULL, 0, 0 };
	char *url, *auth;
	size_t ul = strlen(c->url);
	CURL *h;
	CURLcode rc;
	json_error_t je;

	*out = NULL;
	if ((h = curl_easy_init()) == NULL) {
		fail("cannot start libcurl");
		return -1;
	}
	while (ul > 0 && c->url[ul - 1] == '/')
		ul--;
	url = malloc(ul + strlen(path) + 1);
	auth = malloc(strlen(c->token) + 32);
	if (url == NULL || auth == NULL) {
		fail("out of memory");
		free(url);
		free(auth);
		curl_easy_cleanup(h);
		return -1;
	}
	memcpy(url, c->url, ul);
	strcpy(url + ul, path);
	snprintf(auth, strlen(c->token) + 32, "Authorization: Bearer %s",
	    c->token);
	hdr = curl_slist_append(hdr, auth);
	hdr = curl_slist_append(hdr, "Accept: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)c->timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)(c->timeout < 10 ?
	    c->timeout : 10));
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE, (long)CTL_BODY_MAX);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (c->cacert != NULL && *c->cacert != '\0')
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(hdr);
	/* The token leaves no copy behind. */
	memset(auth, 0, strlen(auth));
	free(auth);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK) {
		if (b.over)
			fail("%s %s: the answer is larger than %d octets",
			    method, path, CTL_BODY_MAX);
		else
			fail("%s %s: %s", method, path, curl_easy_strerror(rc));
		free(url);
		free(b.p);
		return -1;
	}
	*out = json_loadb(b.p ? b.p : "", b.n, 0, &je);
	free(b.p);
	if (*out == NULL) {
		fail("%s %s: HTTP %ld, the answer is not JSON", method, path,
		    *status);
		free(url);
		return -1;
	}
	free(url);
	return 0;
}

/* An error answer said in one line: HTTP status, code, message. */
static int
http_error(const char *what, long status, json_t *j)
{
	json_t *e = json_object_get(j, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	fail("%s: HTTP %ld %s%s%s", what, status, code ? code : "error",
	    msg ? ": " : "", msg ? msg : "");
	json_decref(j);
	return EXIT_USAGE;
}

/* Append "&name=escaped value" (or "?" first) to q. */
static void
qadd(char *q, size_t size, const char *name, const char *val)
{
	char *e;

	if (val == NULL)
		return;
	e = curl_easy_escape(NULL, val, 0);
	if (e == NULL)
		return;
	snprintf(q + strlen(q), size - strlen(q), "%c%s=%s",
	    strchr(q, '?') ? '&' : '?', name, e);
	curl_free(e);
}

static void
print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s != NULL) {
		puts(s);
		free(s);
	}
}

/* ---- stats and gate ------------------------------------------------------ */

static json_t *
get_stats(const struct ctl *c, int *rcode)
{
	char path[1024] = "/v1/stats";
	long status = 0;
	json_t *j;

	qadd(path, sizeof(path), "by", c->by ? c->by : "country");
	qadd(path, sizeof(path), "since", c->since ? c->since : "-1h");
	qadd(path, sizeof(path), "until", c->until);
	qadd(path, sizeof(path), "key", c->key);
	if (request(c, "GET", path, &status, &j) != 0) {
		*rcode = EXIT_USAGE;
		return NULL;
	}
	if (status != 200) {
		*rcode = http_error("stats", status, j);
		return NULL;
	}
	if (!json_is_array(json_object_get(j, "rows"))) {
		fail("stats: the answer has no rows");
		json_decref(j);
		*rcode = EXIT_USAGE;
		return NULL;
	}
	return j;
}

static long long
ival(json_t *row, const char *k)
{
	return json_integer_value(json_object_get(row, k));
}

static void
cell_ms(json_t *row, const char *k)
{
	json_t *v = json_object_get(row, k);

	if (json_is_integer(v))
		printf(" %9lld", (long long)json_integer_value(v));
	else
		printf(" %9s", "-");
}

static int
cmd_stats(const struct ctl *c)
{
	json_t *j, *rows, *r, *f, *v;
	const char *reason;
	size_t i;
	int rcode = 0;

	if ((j = get_stats(c, &rcode)) == NULL)
		return rcode;
	if (c->json) {
		print_json(j);
		json_decref(j);
		return 0;
	}
	rows = json_object_get(j, "rows");
	printf("# %s to %s, by %s\n",
	    json_string_value(json_object_get(j, "since")),
	    json_string_value(json_object_get(j, "until")),
	    json_string_value(json_object_get(j, "by")));
	printf("%-24s %8s %8s %9s %8s %8s %6s %9s %9s %9s  %s\n", "GROUP",
	    "SENDS", "SENT", "DELIVERED", "UNDELIV", "APPROVED", "CONV%",
	    "DLR_P50", "DLR_P95", "APPR_P50", "FAILURES");
	json_array_foreach(rows, i, r) {
		json_t *conv = json_object_get(r, "conversion");
		printf("%-24s %8lld %8lld %9lld %8lld %8lld",
		    json_string_value(json_object_get(r, "group")),
		    ival(r, "sends"), ival(r, "sent"), ival(r, "delivered"),
		    ival(r, "undeliverable"), ival(r, "approved"));
		if (json_is_number(conv))
			printf(" %6.1f", json_number_value(conv) * 100.0);
		else
			printf(" %6s", "-");
		cell_ms(r, "delivery_p50_ms");
		cell_ms(r, "delivery_p95_ms");
		cell_ms(r, "approve_p50_ms");
		printf(" ");
		f = json_object_get(r, "failures");
		int first = 1;
		json_object_foreach(f, reason, v) {
			printf("%s%s=%lld", first ? " " : ",", reason,
			    (long long)json_integer_value(v));
			first = 0;
		}
		printf("\n");
	}
	if (json_is_true(json_object_get(j, "truncated")))
		printf("# truncated: more groups than one answer holds\n");
	json_decref(j);
	return 0;
}

static int
cmd_gate(const struct ctl *c)
{
	json_t *j, *rows, *r, *failing, *out;
	size_t i;
	int rcode = 0, checked = 0;
	double conv;
	long long sends;

	if ((j = get_stats(c, &rcode)) == NULL)
		return rcode;
	rows = json_object_get(j, "rows");
	failing = json_array();
	json_array_foreach(rows, i, r) {
		sends = ival(r, "sends");
		if (sends < c->min_sends || sends <= 0)
			continue;
		checked++;
		conv = (double)ival(r, "approved") * 100.0 / (double)sends;
		if (conv < c->min_conversion)
			json_array_append_new(failing, json_pack(
			    "{s:s, s:I, s:I, s:f}", "group",
			    json_string_value(json_object_get(r, "group")),
			    "sends", (json_int_t)sends,
			    "approved", (json_int_t)ival(r, "approved"),
			    "conversion", conv));
	}
	if (c->json) {
		out = json_pack("{s:b, s:f, s:i, s:i, s:O}",
		    "ok", json_array_size(failing) == 0,
		    "min_conversion", c->min_conversion,
		    "min_sends", (int)c->min_sends,
		    "checked", checked, "failing", failing);
		print_json(out);
		json_decref(out);
	} else {
		json_array_foreach(failing, i, r)
			printf("FAIL %s: conversion %.1f%% < %.1f%% "
			    "(%lld approved of %lld sends)\n",
			    json_string_value(json_object_get(r, "group")),
			    json_real_value(json_object_get(r, "conversion")),
			    c->min_conversion,
			    (long long)json_integer_value(json_object_get(r,
			    "approved")),
			    (long long)json_integer_value(json_object_get(r,
			    "sends")));
		if (json_array_size(failing) == 0)
			printf("gate: ok (%d group%s with at least %ld sends "
			    "checked, by %s)\n", checked, checked == 1 ? "" :
			    "s", c->min_sends, c->by ? c->by : "country");
		else
			printf("gate: failed (%zu of %d groups under %.1f%%)\n",
			    json_array_size(failing), checked,
			    c->min_conversion);
	}
	rcode = json_array_size(failing) == 0 ? 0 : EXIT_NEGATIVE;
	json_decref(failing);
	json_decref(j);
	return rcode;
}

/* ---- test-code --------------------------------------------------------- */

static int
cmd_test_code(const struct ctl *c, const char *phone)
{
	char path[512] = "/v1/test/messages", wb[24];
	json_t *j, *m, *code;
	long status = 0;

	qadd(path, sizeof(path), "phone", phone);
	if (c->wait > 0) {
		snprintf(wb, sizeof(wb), "%ld", c->wait);
		qadd(path, sizeof(path), "wait", wb);
	}
	if (request(c, "GET", path, &status, &j) != 0)
		return EXIT_USAGE;
	if (status != 200)
		return http_error("test-code", status, j);
	m = json_array_get(json_object_get(j, "messages"), 0);
	code = json_object_get(m, "code");
	if (!json_is_string(code)) {
		if (c->json)
			print_json(json_pack("{s:s, s:n}", "phone", phone,
			    "code"));
		else
			fail("test-code: no captured message with a code for "
			    "%s", phone);
		json_decref(j);
		return EXIT_NEGATIVE;
	}
	if (c->json) {
		json_t *o = json_pack("{s:s, s:O, s:O, s:O}", "phone", phone,
		    "code", code, "id", json_object_get(m, "id"),
		    "sent_at", json_object_get(m, "sent_at"));
		print_json(o);
		json_decref(o);
	} else {
		puts(json_string_value(code));
	}
	json_decref(j);
	return 0;
}

/* ---- shield ------------------------------------------------------------- */

static int
cmd_shield_list(const struct ctl *c)
{
	json_t *j, *r;
	long status = 0;
	size_t i;

	if (request(c, "GET", "/v1/shield", &status, &j) != 0)
		return EXIT_USAGE;
	if (status != 200)
		return http_error("shield list", status, j);
	if (c->json) {
		print_json(j);
		json_decref(j);
		return 0;
	}
	printf("%-18s %8s %8s %6s  %-20s  %-20s\n", "RANGE", "SENDS",
	    "APPROVED", "CONV%", "TRIPPED_AT", "REOPENS_AT");
	json_array_foreach(json_object_get(j, "ranges"), i, r) {
		json_t *conv = json_object_get(r, "conversion");
		printf("%-18s %8lld %8lld ",
		    json_string_value(json_object_get(r, "range")),
		    ival(r, "sends"), ival(r, "approved"));
		if (json_is_number(conv))
			printf("%6.1f", json_number_value(conv));
		else
			printf("%6s", "-");
		printf("  %-20s  %-20s\n",
		    json_string_value(json_object_get(r, "tripped_at")) ?: "-",
		    json_string_value(json_object_get(r, "reopens_at")) ?: "-");
	}
	printf("# %zu range%s tripped\n",
	    json_array_size(json_object_get(j, "ranges")),
	    json_array_size(json_object_get(j, "ranges")) == 1 ? "" : "s");
	json_decref(j);
	return 0;
}

static int
cmd_shield_reopen(const struct ctl *c, const char *range)
{
	char path[128] = "/v1/shield/", *e;
	long status = 0;
	json_t *j;

	if ((e = curl_easy_escape(NULL, range, 0)) == NULL ||
	    strlen(e) > 64) {
		curl_free(e);
		fail("shield reopen: %s is not a range", range);
		return EXIT_USAGE;
	}
	strcat(path, e);
	curl_free(e);
	if (request(c, "DELETE", path, &status, &j) != 0)
		return EXIT_USAGE;
	if (status == 404) {
		if (c->json)
			print_json(json_pack("{s:s, s:b}", "range", range,
			    "reopened", 0));
		else
			fail("shield reopen: %s is not tripped", range);
		json_decref(j);
		return EXIT_NEGATIVE;
	}
	if (status != 200)
		return http_error("shield reopen", status, j);
	if (c->json)
		print_json(json_pack("{s:s, s:b}", "range", range, "reopened",
		    1));
	else
		printf("reopened %s\n", range);
	json_decref(j);
	return 0;
}

/* ---- main --------------------------------------------------------------- */

enum {
	OPT_CACERT = 256, OPT_JSON, OPT_TIMEOUT, OPT_BY, OPT_SINCE, OPT_UNTIL,
	OPT_KEY, OPT_MINCONV, OPT_MINSENDS, OPT_WAIT, OPT_HELP,
};

static int
num_arg(const char *name, const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		fail("%s: %s is not a number in %g..%g", name, s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "token", required_argument, NULL, 'k' },
		{ "cacert", required_argument, NULL, OPT_CACERT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "by", required_argument, NULL, OPT_BY },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "until", required_argument, NULL, OPT_UNTIL },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "min-conversion", required_argument, NULL, OPT_MINCONV },
		{ "min-sends", required_argument, NULL, OPT_MINSENDS },
		{ "wait", required_argument, NULL, OPT_WAIT },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl c;
	const char *cmd;
	double v;
	int ch, rc;

	memset(&c, 0, sizeof(c));
	c.url = getenv("SMSVERIFY_URL");
	c.token = getenv("SMSVERIFY_TOKEN");
	c.cacert = getenv("SMSVERIFY_CACERT");
	c.timeout = CTL_TIMEOUT;
	c.min_sends = 20;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "u:k:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'u': c.url = optarg; break;
		case 'k': c.token = optarg; break;
		case OPT_CACERT: c.cacert = optarg; break;
		case 'j':
		case OPT_JSON: c.json = 1; break;
		case OPT_TIMEOUT:
			if (num_arg("--timeout", optarg, 1, 3600, &v) != 0)
				return EXIT_USAGE;
			c.timeout = (int)v;
			break;
		case OPT_BY: c.by = optarg; break;
		case OPT_SINCE: c.since = optarg; break;
		case OPT_UNTIL: c.until = optarg; break;
		case OPT_KEY: c.key = optarg; break;
		case OPT_MINCONV:
			if (num_arg("--min-conversion", optarg, 0, 100,
			    &c.min_conversion) != 0)
				return EXIT_USAGE;
			c.have_min_conversion = 1;
			break;
		case OPT_MINSENDS:
			if (num_arg("--min-sends", optarg, 0, 1e12, &v) != 0)
				return EXIT_USAGE;
			c.min_sends = (long)v;
			break;
		case OPT_WAIT:
			if (num_arg("--wait", optarg, 0, 30, &v) != 0)
				return EXIT_USAGE;
			c.wait = (long)v;
			break;
		case 'h':
		case OPT_HELP:
			usage();
			return 0;
		default:
			if (optopt != 0 && optopt < 256)
				fail("unknown option -%c, or it lacks its "
				    "value", optopt);
			else
				fail("unknown option %s, or it lacks its "
				    "value", argv[optind - 1]);
			usage();
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fail("no command");
		usage();
		return EXIT_USAGE;
	}
	cmd = argv[optind++];
	if (c.url == NULL || *c.url == '\0') {
		fail("no URL: give -u URL or set SMSVERIFY_URL");
		return EXIT_USAGE;
	}
	if (strncmp(c.url, "http://", 7) != 0 &&
	    strncmp(c.url, "https://", 8) != 0) {
		fail("-u: the URL must start with http:// or https://");
		return EXIT_USAGE;
	}
	if (c.token == NULL || *c.token == '\0') {
		fail("no token: give -k TOKEN or set SMSVERIFY_TOKEN");
		return EXIT_USAGE;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fail("cannot start libcurl");
		return EXIT_USAGE;
	}
	rc = -1;
	if (strcmp(cmd, "stats") == 0 && optind == argc) {
		rc = cmd_stats(&c);
	} else if (strcmp(cmd, "gate") == 0 && optind == argc) {
		if (!c.have_min_conversion) {
			fail("gate: --min-conversion PCT is required");
			rc = EXIT_USAGE;
		} else {
			rc = cmd_gate(&c);
		}
	} else if (strcmp(cmd, "test-code") == 0 && optind + 1 == argc) {
		rc = cmd_test_code(&c, argv[optind]);
	} else if (strcmp(cmd, "shield") == 0 && optind + 1 == argc &&
	    strcmp(argv[optind], "list") == 0) {
		rc = cmd_shield_list(&c);
	} else if (strcmp(cmd, "shield") == 0 && optind + 2 == argc &&
	    strcmp(argv[optind], "reopen") == 0) {
		rc = cmd_shield_reopen(&c, argv[optind + 1]);
	}
	curl_global_cleanup();
	if (rc < 0) {
		fail("%s: unknown command or wrong arguments", cmd);
		usage();
		return EXIT_USAGE;
	}
	return rc;
}
