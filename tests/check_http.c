/*
 * check_http.c - http.c: routing, JSON errors, bodies (JSON, form,
 * multipart), the 64 KiB limit, Bearer tokens, deferred answers, the
 * request deadline against slow clients and the connection cap.
 * http_body_parse() on its own is check_http_body's.
 *
 * A server runs on 127.0.0.1, port 0, in its own event_base, whose loop
 * runs in a second thread for the duration of a test; the test thread is a
 * plain blocking HTTP/1.1 client on raw sockets.  The two threads share
 * only what is set before the loop starts and a pipe that stops it (and
 * one that a deferred handler writes to when it has answered).  Every wait
 * is a poll() bounded by WAIT_MS; nothing sleeps for correctness.
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "http.h"
#include "log.h"

#define WAIT_MS 10000

/* ---- the server under test ------------------------------------------- */

static struct event_base *base;
static struct http *http;
static pthread_t loop_thread;
static int stop_pipe[2] = { -1, -1 };
static int notify_pipe[2] = { -1, -1 };  /* a deferred answer went out */
static int release_pipe[2] = { -1, -1 }; /* answer what /hold holds */
static struct event *stop_ev, *release_ev;
static int loop_running;
/* Requests /hold took and did not answer. */
static struct http_request *held[4];
static int nheld;

static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(base);
}

static void *
loop_main(void *arg)
{
	event_base_dispatch(base);
	return NULL;
}

/* POST /echo: the JSON body back under "got". */
static void
h_echo(struct http_request *req, const char *rest, void *arg)
{
	json_t *body = http_body(req, arg != NULL);

	if (body == NULL)
		return;
	http_reply_json(req, 200, json_pack("{s:o}", "got", body));
}

/* GET /v1/items/...: what the prefix left. */
static void
h_items(struct http_request *req, const char *rest, void *arg)
{
	http_reply_json(req, 200, json_pack("{s:s}", "rest", rest));
}

static void
h_special(struct http_request *req, const char *rest, void *arg)
{
	http_reply_json(req, 200, json_pack("{s:b}", "special", 1));
}

static void
h_bearer(struct http_request *req, const char *rest, void *arg)
{
	const char *tok = http_bearer(req);

	http_reply_json(req, 200, json_pack("{s:s?}", "token", tok));
}

static void
h_rate(struct http_request *req, const char *rest, void *arg)
{
	http_set_retry_after(req, 7);
	http_reply_error(req, HTTP_ERR_RATE, "rate_limited", "phone",
	    "slow down");
}

static void
h_inflight(struct http_request *req, const char *rest, void *arg)
{
	/* This request itself is in flight. */
	http_reply_json(req, 200, json_pack("{s:i}", "inflight",
	    http_inflight(http) - 1));
}

static void
h_metrics(struct http_request *req, const char *rest, void *arg)
{
	http_reply_text(req, 200, "text/plain; version=0.0.4", "a 1\n", 4);
}

/* GET or DELETE /q: the method and the query's "a" and "b" back. */
static void
h_query(struct http_request *req, const char *rest, void *arg)
{
	http_reply_json(req, 200, json_pack("{s:i, s:s?, s:s?}", "method",
	    http_method(req), "a", http_query(req, "a"), "b",
	    http_query(req, "b")));
}

/* POST /try: http_body_try's verdict, worded by the handler. */
static void
h_try(struct http_request *req, const char *rest, void *arg)
{
	enum http_err kind;
	const char *msg;
	json_t *body = http_body_try(req, 0, &kind, &msg);

	if (body != NULL) {
		http_reply_json(req, 200, json_pack("{s:o}", "got", body));
		return;
	}
	http_reply_json(req, 200, json_pack("{s:i, s:s}", "status",
	    http_err_status(kind), "msg", msg));
}

/* GET /hold: keep the request unanswered, and say so on notify_pipe. */
static void
h_hold(struct http_request *req, const char *rest, void *arg)
{
	char one = 1;

	if (nheld < 4)
		held[nheld++] = req;
	if (write(notify_pipe[1], &one, 1) != 1)
		abort();
}

/* On the loop: answer every request /hold holds, in order. */
static void
on_release(evutil_socket_t fd, short what, void *arg)
{
	char one;

	if (read(fd, &one, 1) != 1)
		abort();
	for (int i = 0; i < nheld; i++)
		http_reply_json(held[i], 200, json_pack("{s:b}", "late", 1));
	nheld = 0;
}

/* The timer of a deferred answer. */
static void
deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_request *req = arg;
	char one = 1;

	http_reply_json(req, 200, json_pack("{s:b}", "deferred", 1));
	if (notify_pipe[1] >= 0 && write(notify_pipe[1], &one, 1) != 1)
		abort();
}

/* GET /deferred: answer from a timer, after the route's arg in ms. */
static void
h_deferred(struct http_request *req, const char *rest, void *arg)
{
	long ms = (long)(intptr_t)arg;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_once(base, -1, EV_TIMEOUT, deferred_cb, req, &tv);
}

/* GET /stop: stop accepting, answer 100 ms later. */
static void
h_stop(struct http_request *req, const char *rest, void *arg)
{
	struct timeval tv = { 0, 100 * 1000 };

	http_stop_accepting(http);
	event_base_once(base, -1, EV_TIMEOUT, deferred_cb, req, &tv);
}

static void
srv_start(int max_conn, int timeout)
{
	char *err = NULL;

	signal(SIGPIPE, SIG_IGN);
	log_set_level_num(LOG_WARN);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	http = http_new(base, "127.0.0.1", 0, max_conn, timeout, &err);
	ck_assert_msg(http != NULL, "http_new: %s", err ? err : "?");
	ck_assert_int_gt(http_port(http), 0);
	http_route(http, HTTP_POST, "/echo", h_echo, NULL);
	http_route(http, HTTP_POST, "/form", h_echo, (void *)1);
	http_route(http, HTTP_GET, "/v1/items/", h_items, NULL);
	http_route(http, HTTP_GET, "/v1/items/special", h_special, NULL);
	http_route(http, HTTP_GET, "/bearer", h_bearer, NULL);
	http_route(http, HTTP_GET, "/rate", h_rate, NULL);
	http_route(http, HTTP_GET, "/inflight", h_inflight, NULL);
	http_route(http, HTTP_GET, "/metrics", h_metrics, NULL);
	http_route(http, HTTP_GET, "/deferred", h_deferred,
	    (void *)(intptr_t)100);
	http_route(http, HTTP_GET, "/deferred-slow", h_deferred,
	    (void *)(intptr_t)300);
	http_route(http, HTTP_GET, "/deferred-long", h_deferred,
	    (void *)(intptr_t)1600);
	http_route(http, HTTP_GET, "/stop", h_stop, NULL);
	http_route(http, HTTP_POST, "/try", h_try, NULL);
	http_route(http, HTTP_GET, "/hold", h_hold, NULL);
	http_route(http, HTTP_GET | HTTP_DELETE, "/q", h_query, NULL);
	nheld = 0;
	ck_assert_int_eq(pipe(stop_pipe), 0);
	ck_assert_int_eq(pipe(notify_pipe), 0);
	ck_assert_int_eq(pipe(release_pipe), 0);
	stop_ev = event_new(base, stop_pipe[0], EV_READ | EV_PERSIST, on_stop,
	    NULL);
	event_add(stop_ev, NULL);
	release_ev = event_new(base, release_pipe[0], EV_READ | EV_PERSIST,
	    on_release, NULL);
	event_add(release_ev, NULL);
	ck_assert_int_eq(pthread_create(&loop_thread, NULL, loop_main, NULL),
	    0);
	loop_running = 1;
}

/* Stop the loop thread (once); the server's objects stay. */
static void
loop_stop(void)
{
	char one = 1;

	if (!loop_running)
		return;
	ck_assert_int_eq(write(stop_pipe[1], &one, 1), 1);
	pthread_join(loop_thread, NULL);
	loop_running = 0;
}

static void
srv_stop(void)
{
	loop_stop();
	http_free(http);
	event_free(stop_ev);
	event_free(release_ev);
	event_base_free(base);
	for (int i = 0; i < 2; i++) {
		close(stop_pipe[i]);
		close(notify_pipe[i]);
		close(release_pipe[i]);
	}
	http = NULL;
	base = NULL;
}

static void setup_default(void) { srv_start(64, 5); }
static void setup_timeout1(void) { srv_start(64, 1); }
static void setup_cap4(void) { srv_start(4, 30); }

/* ---- the blocking test client ----------------------------------------- */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
cl_connect(void)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)http_port(http));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
cl_send(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		ck_assert_msg(n > 0, "send: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/* Wait up to ms for fd to be readable; 1 ready, 0 timed out. */
static int
cl_wait(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms > 0 ? ms : 0) > 0;
}

struct resp {
	int status;
	char head[4096];      /* status line and headers */
	char *body;           /* NUL-terminated */
	size_t len;
	json_t *json;         /* the body parsed, when it is JSON */
};

static void
resp_clear(struct resp *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

/* The value of header name in r->head, or NULL (in a static buffer). */
static const char *
resp_header(const struct resp *r, const char *name)
{
	static char val[256];
	const char *p = r->head;
	size_t nlen = strlen(name);

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			const char *v = p + nlen + 1, *e = strstr(v, "\r\n");

			while (*v == ' ')
				v++;
			if (e == NULL)
				e = v + strlen(v);
			snprintf(val, sizeof(val), "%.*s", (int)(e - v), v);
			return val;
		}
	}
	return NULL;
}

/* Read one response (Content-Length framed); 0, or -1 on EOF / error /
 * WAIT_MS passing first. */
static int
cl_read(int fd, struct resp *r)
{
	int64_t deadline = now_ms() + WAIT_MS;
	size_t cap = 8192, have = 0, hlen = 0, want = 0;
	char *buf = malloc(cap);
	const char *cl;

	memset(r, 0, sizeof(*r));
	for (;;) {
		char *eoh;
		ssize_t n;

		if (hlen == 0 && have > 0) {
			buf[have] = '\0';
			if ((eoh = strstr(buf, "\r\n\r\n")) != NULL) {
				hlen = (size_t)(eoh - buf) + 4;
				snprintf(r->head, sizeof(r->head), "%.*s",
				    (int)hlen - 2, buf);
				cl = resp_header(r, "Content-Length");
				want = hlen + (cl ? strtoul(cl, NULL, 10) : 0);
			}
		}
		if (hlen > 0 && have >= want)
			break;
		if (have + 1 >= cap)
			buf = realloc(buf, cap *= 2);
		if (!cl_wait(fd, (int)(deadline - now_ms())))
			goto fail;
		n = recv(fd, buf + have, cap - have - 1, 0);
		if (n <= 0)
			goto fail;
		have += (size_t)n;
	}
	if (sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1)
		goto fail;
	r->len = want - hlen;
	r->body = malloc(r->len + 1);
	memcpy(r->body, buf + hlen, r->len);
	r->body[r->len] = '\0';
	r->json = json_loadb(r->body, r->len, 0, NULL);
	free(buf);
	return 0;
fail:
	free(buf);
	return -1;
}

/* Wait for the server to close fd; the milliseconds it took, or -1. */
static int64_t
cl_wait_eof(int fd)
{
	int64_t start = now_ms(), deadline = start + WAIT_MS;
	char buf[512];

	while (now_ms() < deadline) {
		ssize_t n;

		if (!cl_wait(fd, (int)(deadline - now_ms())))
			break;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return now_ms() - start;
		if (n < 0)
			break;
	}
	return -1;
}

/* One request on a fresh connection; the response in r. */
static void
request(const char *method, const char *path, const char *headers,
    const char *ctype, const char *body, struct resp *r)
{
	char head[2048];
	size_t blen = body ? strlen(body) : 0;
	int fd = cl_connect();

	ck_assert_int_ge(fd, 0);
	snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: test\r\n"
	    "Connection: close\r\n%s%s%s%s", method, path,
	    headers ? headers : "", ctype ? "Content-Type: " : "",
	    ctype ? ctype : "", ctype ? "\r\n" : "");
	if (body != NULL)
		snprintf(head + strlen(head), sizeof(head) - strlen(head),
		    "Content-Length: %zu\r\n", blen);
	strcat(head, "\r\n");
	cl_send(fd, head, strlen(head));
	if (blen > 0)
		cl_send(fd, body, blen);
	ck_assert_msg(cl_read(fd, r) == 0, "no response to %s %s", method,
	    path);
	close(fd);
}

/* A keep-alive GET on an open connection. */
static int
get_on(int fd, const char *path, struct resp *r)
{
	char head[512];

	snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: test\r\n\r\n",
	    path);
	cl_send(fd, head, strlen(head));
	return cl_read(fd, r);
}

static const char *
err_code(const struct resp *r)
{
	return json_string_value(json_object_get(json_object_get(r->json,
	    "error"), "code"));
}

static const char *
err_message(const struct resp *r)
{
	return json_string_value(json_object_get(json_object_get(r->json,
	    "error"), "message"));
}

/* ---- routing and replies -------------------------------------------------- */

START_TEST(route_echoes_json)
{
	struct resp r;

	request("POST", "/echo", NULL, "application/json; charset=utf-8",
	    "{\"a\": [1, 2], \"b\": \"x\"}", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(resp_header(&r, "Content-Type"),
	    "application/json; charset=utf-8");
	ck_assert_str_eq(resp_header(&r, "Cache-Control"), "no-store");
	ck_assert_str_eq(r.body, "{\"got\":{\"a\":[1,2],\"b\":\"x\"}}");
	resp_clear(&r);
}
END_TEST

START_TEST(unknown_path_is_json_404)
{
	struct resp r;

	request("GET", "/nope", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 404);
	ck_assert_ptr_nonnull(r.json);
	ck_assert_str_eq(err_code(&r), "not_found");
	ck_assert_ptr_nonnull(err_message(&r));
	ck_assert_str_eq(resp_header(&r, "Content-Type"),
	    "application/json; charset=utf-8");
	resp_clear(&r);
	/* A prefix route does not match its own name without the slash. */
	request("GET", "/v1/items", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 404);
	resp_clear(&r);
}
END_TEST

START_TEST(longest_route_first_and_decoded_path)
{
	struct resp r;

	request("GET", "/v1/items/special?x=1", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert(json_is_true(json_object_get(r.json, "special")));
	resp_clear(&r);
	request("GET", "/v1/items/sp%65cial", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert(json_is_true(json_object_get(r.json, "special")));
	resp_clear(&r);
	request("GET", "/v1/items/abc/cancel?y=2", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "rest")),
	    "abc/cancel");
	resp_clear(&r);
	request("GET", "/v1/items/a%00b", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 404);
	resp_clear(&r);
}
END_TEST

/* HEAD is served by GET routes, with headers only. */
START_TEST(head_has_no_body)
{
	static const char req[] = "HEAD /v1/items/special HTTP/1.1\r\n"
	    "Host: test\r\nConnection: close\r\n\r\n";
	char buf[4096];
	size_t have = 0;
	int64_t deadline = now_ms() + WAIT_MS;
	int fd = cl_connect();

	cl_send(fd, req, sizeof(req) - 1);
	while (have < sizeof(buf) - 1 && cl_wait(fd, (int)(deadline -
	    now_ms()))) {
		ssize_t n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);

		if (n <= 0)
			break;
		have += (size_t)n;
	}
	buf[have] = '\0';
	close(fd);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200 ", 13) == 0, "%s", buf);
	ck_assert_msg(have >= 4 && strcmp(buf + have - 4, "\r\n\r\n") == 0 &&
	    strstr(buf, "\r\n\r\n") == buf + have - 4, "body sent: %s", buf);
	ck_assert_msg(strstr(buf, "Content-Length: 16\r\n") != NULL,
	    "length of the GET body expected: %s", buf);
}
END_TEST

/* Query parameters decoded ('+' a space), DELETE routed, and its name in
 * Allow. */
START_TEST(query_and_delete)
{
	struct resp r;

	request("GET", "/q?a=%2B44+1&x=&b", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(json_integer_value(json_object_get(r.json,
	    "method")), HTTP_GET);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "a")),
	    "+44 1");
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "b")), "");
	resp_clear(&r);
	request("GET", "/q?a=x%00y", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert(json_is_null(json_object_get(r.json, "a")));
	resp_clear(&r);
	request("DELETE", "/q", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(json_integer_value(json_object_get(r.json,
	    "method")), HTTP_DELETE);
	resp_clear(&r);
	request("POST", "/q", NULL, "application/json", "{}", &r);
	ck_assert_int_eq(r.status, 405);
	ck_assert_str_eq(resp_header(&r, "Allow"), "GET, HEAD, DELETE");
	resp_clear(&r);
}
END_TEST

START_TEST(wrong_method_is_405)
{
	struct resp r;

	request("POST", "/v1/items/special", NULL, "application/json", "{}",
	    &r);
	ck_assert_int_eq(r.status, 405);
	ck_assert_str_eq(err_code(&r), "method_not_allowed");
	ck_assert_str_eq(resp_header(&r, "Allow"), "GET, HEAD");
	resp_clear(&r);
	request("PUT", "/echo", NULL, "application/json", "{}", &r);
	ck_assert_int_eq(r.status, 405);
	ck_assert_str_eq(err_code(&r), "method_not_allowed");
	resp_clear(&r);
	request("GET", "/echo", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 405);
	resp_clear(&r);
}
END_TEST

START_TEST(malformed_json_names_position)
{
	struct resp r;

	request("POST", "/echo", NULL, "application/json",
	    "{\n  \"a\": tru\n}", &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(err_code(&r), "invalid_json");
	ck_assert_msg(strstr(err_message(&r), "line 2") != NULL,
	    "message: %s", err_message(&r));
	ck_assert_msg(strstr(err_message(&r), "column") != NULL,
	    "message: %s", err_message(&r));
	resp_clear(&r);
}
END_TEST

START_TEST(non_object_json_is_400)
{
	struct resp r;

	request("POST", "/echo", NULL, "application/json", "[1,2]", &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(err_code(&r), "invalid_json");
	ck_assert_str_eq(err_message(&r), "body must be a JSON object");
	resp_clear(&r);
	request("POST", "/echo", NULL, "application/json", "", &r);
	ck_assert_int_eq(r.status, 400);
	resp_clear(&r);
}
END_TEST

START_TEST(text_plain_is_415)
{
	struct resp r;

	request("POST", "/echo", NULL, "text/plain", "{}", &r);
	ck_assert_int_eq(r.status, 415);
	ck_assert_str_eq(err_code(&r), "unsupported_media_type");
	resp_clear(&r);
	request("POST", "/echo", NULL, NULL, "{}", &r);
	ck_assert_int_eq(r.status, 415);
	resp_clear(&r);
}
END_TEST

START_TEST(form_only_where_allowed)
{
	struct resp r;
	json_t *got;

	request("POST", "/form", NULL, "application/x-www-form-urlencoded",
	    "number=%2B14155551234&code-length=6&x=a+b", &r);
	ck_assert_int_eq(r.status, 200);
	got = json_object_get(r.json, "got");
	ck_assert_str_eq(json_string_value(json_object_get(got, "number")),
	    "+14155551234");
	ck_assert_str_eq(json_string_value(json_object_get(got,
	    "code-length")), "6");
	ck_assert_str_eq(json_string_value(json_object_get(got, "x")), "a b");
	resp_clear(&r);
	request("POST", "/echo", NULL, "application/x-www-form-urlencoded",
	    "number=1", &r);
	ck_assert_int_eq(r.status, 415);
	ck_assert_str_eq(err_code(&r), "unsupported_media_type");
	resp_clear(&r);
}
END_TEST

START_TEST(multipart_parsed)
{
	struct resp r;
	json_t *got;

	request("POST", "/form", NULL, "multipart/form-data; boundary=XyZ",
	    "--XyZ\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n"
	    "0501234567\r\n--XyZ\r\nContent-Disposition: form-data; "
	    "name=\"message\"\r\nContent-Type: text/plain\r\n\r\n"
	    "Your code ##code##\r\nsecond line\r\n--XyZ--\r\n", &r);
	ck_assert_int_eq(r.status, 200);
	got = json_object_get(r.json, "got");
	ck_assert_str_eq(json_string_value(json_object_get(got, "to")),
	    "0501234567");
	ck_assert_str_eq(json_string_value(json_object_get(got, "message")),
	    "Your code ##code##\r\nsecond line");
	resp_clear(&r);
}
END_TEST

/* Send a request head with Content-Length: n and n octets of body. */
static void
send_big(int fd, const char *path, size_t n)
{
	char head[256];
	char *body = malloc(n);

	memset(body, 'a', n);
	body[0] = '"';
	snprintf(head, sizeof(head), "POST %s HTTP/1.1\r\nHost: test\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
	    path, n);
	cl_send(fd, head, strlen(head));
	cl_send(fd, body, n);
	free(body);
}

START_TEST(body_over_64k_is_json_413)
{
	struct resp r;
	int fd = cl_connect();

	send_big(fd, "/echo", 70 * 1024);
	ck_assert_int_eq(cl_read(fd, &r), 0);
	ck_assert_int_eq(r.status, 413);
	ck_assert_str_eq(err_code(&r), "body_too_large");
	ck_assert_str_eq(resp_header(&r, "Content-Type"),
	    "application/json; charset=utf-8");
	ck_assert_ptr_nonnull(strstr(r.head, "Connection: close"));
	resp_clear(&r);
	/* Refused by its Content-Length, before routing and before its body
	 * (which is not read into memory): the connection closes. */
	ck_assert_int_ge(cl_wait_eof(fd), 0);
	close(fd);
	fd = cl_connect();
	send_big(fd, "/nope", 70 * 1024);
	ck_assert_int_eq(cl_read(fd, &r), 0);
	ck_assert_int_eq(r.status, 413);
	ck_assert_str_eq(err_code(&r), "body_too_large");
	resp_clear(&r);
	close(fd);
}
END_TEST

START_TEST(chunked_body_over_64k_is_json_413)
{
	static const char head[] = "POST /echo HTTP/1.1\r\nHost: test\r\n"
	    "Content-Type: application/json\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n";
	char chunk[4096];
	struct resp r;
	int fd = cl_connect();

	memset(chunk, ' ', sizeof(chunk));
	cl_send(fd, head, sizeof(head) - 1);
	for (int i = 0; i < 18; i++) {
		cl_send(fd, "1000\r\n", 6);
		cl_send(fd, chunk, sizeof(chunk));
		cl_send(fd, "\r\n", 2);
	}
	cl_send(fd, "0\r\n\r\n", 5);
	ck_assert_int_eq(cl_read(fd, &r), 0);
	ck_assert_int_eq(r.status, 413);
	ck_assert_str_eq(err_code(&r), "body_too_large");
	resp_clear(&r);
	close(fd);
}
END_TEST

/* A declared length far over the limit: a JSON 413 before the body. */
START_TEST(huge_declared_body_is_413)
{
	static const char head[] = "POST /echo HTTP/1.1\r\nHost: test\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: 5000000\r\n\r\n";
	struct resp r;
	int fd = cl_connect();

	cl_send(fd, head, sizeof(head) - 1);
	ck_assert_int_eq(cl_read(fd, &r), 0);
	ck_assert_int_eq(r.status, 413);
	resp_clear(&r);
	ck_assert_int_ge(cl_wait_eof(fd), 0);
	close(fd);
}
END_TEST

START_TEST(bearer_token)
{
	static const struct {
		const char *header;
		const char *token;   /* NULL: none */
	} cases[] = {
		{ "Authorization: Bearer abc123\r\n", "abc123" },
		{ "Authorization: bearer    tok.en-_~+/=\r\n", "tok.en-_~+/=" },
		{ "Authorization: BEARER x\r\n", "x" },
		{ "Authorization: Basic dXNlcjpwYXNz\r\n", NULL },
		{ "Authorization: Bearer\r\n", NULL },
		{ "Authorization: Bearer a b\r\n", NULL },
		{ "Authorization: Bearerabc\r\n", NULL },
		{ "", NULL },
	};
	struct resp r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *t;

		request("GET", "/bearer", cases[i].header, NULL, NULL, &r);
		ck_assert_int_eq(r.status, 200);
		t = json_object_get(r.json, "token");
		if (cases[i].token == NULL)
			ck_assert_msg(json_is_null(t), "case %zu", i);
		else
			ck_assert_str_eq(json_string_value(t),
			    cases[i].token);
		resp_clear(&r);
	}
}
END_TEST

START_TEST(rate_error_has_retry_after)
{
	struct resp r;

	request("GET", "/rate", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 429);
	ck_assert_str_eq(resp_header(&r, "Retry-After"), "7");
	ck_assert_str_eq(err_code(&r), "rate_limited");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
	    r.json, "error"), "field")), "phone");
	resp_clear(&r);
	ck_assert_int_eq(http_err_status(HTTP_ERR_UNAVAILABLE), 503);
	ck_assert_int_eq(http_err_status(HTTP_ERR_INVALID), 422);
	ck_assert_int_eq(http_err_status(HTTP_ERR_CONFLICT), 409);
}
END_TEST

START_TEST(text_reply)
{
	struct resp r;

	request("GET", "/metrics", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(resp_header(&r, "Content-Type"),
	    "text/plain; version=0.0.4");
	ck_assert_str_eq(r.body, "a 1\n");
	resp_clear(&r);
}
END_TEST

START_TEST(deferred_answer_arrives)
{
	struct resp r;

	request("GET", "/deferred", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert(json_is_true(json_object_get(r.json, "deferred")));
	resp_clear(&r);
	request("GET", "/inflight", NULL, NULL, NULL, &r);
	ck_assert_int_eq(json_integer_value(json_object_get(r.json,
	    "inflight")), 0);
	resp_clear(&r);
}
END_TEST

/* The client leaves before the answer; answering later must be safe and
 * must still count the request as done. */
START_TEST(answer_after_client_left)
{
	static const char req[] = "GET /deferred-slow HTTP/1.1\r\n"
	    "Host: test\r\n\r\n";
	struct resp r;
	char one;
	int fd = cl_connect();

	cl_send(fd, req, sizeof(req) - 1);
	close(fd);
	ck_assert_msg(cl_wait(notify_pipe[0], WAIT_MS), "no deferred answer");
	ck_assert_int_eq(read(notify_pipe[0], &one, 1), 1);
	request("GET", "/inflight", NULL, NULL, NULL, &r);
	ck_assert_int_eq(json_integer_value(json_object_get(r.json,
	    "inflight")), 0);
	resp_clear(&r);
}
END_TEST

START_TEST(stop_accepting_keeps_inflight)
{
	struct resp r;
	int fd = cl_connect();

	ck_assert_int_eq(get_on(fd, "/stop", &r), 0);
	ck_assert_int_eq(r.status, 200);
	resp_clear(&r);
	ck_assert_int_lt(cl_connect(), 0);
	/* The open connection is still served. */
	ck_assert_int_eq(get_on(fd, "/v1/items/special", &r), 0);
	ck_assert_int_eq(r.status, 200);
	resp_clear(&r);
	close(fd);
}
END_TEST

/* http_body_try answers nothing: the handler words the error itself. */
START_TEST(body_try_leaves_the_answer)
{
	struct resp r;

	request("POST", "/try", NULL, "text/plain", "{}", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(json_integer_value(json_object_get(r.json, "status")),
	    415);
	ck_assert_ptr_nonnull(json_string_value(json_object_get(r.json,
	    "msg")));
	resp_clear(&r);
	request("POST", "/try", NULL, "application/json", "{\"a\":1}", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"got\":{\"a\":1}}");
	resp_clear(&r);
}
END_TEST

/* Wait until /hold holds a request. */
static void
wait_held(void)
{
	char one;

	ck_assert_msg(cl_wait(notify_pipe[0], WAIT_MS), "not held");
	ck_assert_int_eq(read(notify_pipe[0], &one, 1), 1);
}

static void
release_held(void)
{
	char one = 1;

	ck_assert_int_eq(write(release_pipe[1], &one, 1), 1);
}

/* Read the answer release_held() gave; last: it says the connection
 * closes after it. */
static void
read_late_answer(int fd, int last)
{
	struct resp r;
	const char *conn;

	ck_assert_int_eq(cl_read(fd, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert(json_is_true(json_object_get(r.json, "late")));
	conn = resp_header(&r, "Connection");
	if (last)
		ck_assert_msg(conn != NULL && strcmp(conn, "close") == 0,
		    "the answer after the client's end says Connection: %s",
		    conn ? conn : "(none)");
	resp_clear(&r);
}

/* While its request is with a handler, a connection reads on, but only up
 * to its input cap: a client that pipelines 64 MB meanwhile stalls once
 * the kernel's buffers are full (the listener holding a few KiB of it),
 * and is served in order once the first answer goes. */
START_TEST(busy_connection_reads_bounded)
{
	static const char hold[] = "GET /hold HTTP/1.1\r\nHost: test\r\n\r\n";
	static const char next[] = "GET /v1/items/n HTTP/1.1\r\n"
	    "Host: test\r\n\r\n";
	size_t chunk = (sizeof(next) - 1) * 4096, sent = 0,
	    most = (size_t)64 << 20;
	char *buf = malloc(chunk);
	int fd = cl_connect();

	ck_assert_int_ge(fd, 0);
	for (size_t i = 0; i < 4096; i++)
		memcpy(buf + i * (sizeof(next) - 1), next, sizeof(next) - 1);
	cl_send(fd, hold, sizeof(hold) - 1);
	wait_held();
	/* Until nothing is taken for half a second: the listener stopped
	 * reading (or 64 MB went, which fails below). */
	while (sent < most) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		ssize_t n;

		if (poll(&p, 1, 500) <= 0)
			break;
		n = send(fd, buf + sent % chunk, chunk - sent % chunk,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		ck_assert_msg(n > 0, "send: %s", strerror(errno));
		sent += (size_t)n;
	}
	free(buf);
	ck_assert_msg(sent < most, "a busy connection read %zu octets of "
	    "pipelined requests", sent);
	ck_assert_int_eq(http_inflight(http), 1);
	release_held();
	read_late_answer(fd, 0);
	close(fd);
}
END_TEST

/* A client that ends its stream while its request is with a handler gets
 * the answer, marked as the last, and then the close. */
START_TEST(eof_while_busy_answered_then_closed)
{
	static const char hold[] = "GET /hold HTTP/1.1\r\nHost: test\r\n\r\n";
	int fd = cl_connect();

	ck_assert_int_ge(fd, 0);
	cl_send(fd, hold, sizeof(hold) - 1);
	wait_held();
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	release_held();
	read_late_answer(fd, 1);
	ck_assert_int_ge(cl_wait_eof(fd), 0);
	close(fd);
}
END_TEST

/* Requests unanswered when the listener is freed: answering them later is
 * dropped without touching them (ASan reports any use after free), and
 * their clients see the connection close. */
START_TEST(answer_after_free_is_dropped)
{
	static const char get[] = "GET /hold HTTP/1.1\r\nHost: test\r\n\r\n";
	int fds[3];

	for (int i = 0; i < 3; i++) {
		fds[i] = cl_connect();
		ck_assert_int_ge(fds[i], 0);
		cl_send(fds[i], get, sizeof(get) - 1);
		wait_held();
	}
	ck_assert_int_eq(nheld, 3);
	loop_stop();
	ck_assert_int_eq(http_inflight(http), 3);
	http_free(http);
	http = NULL;
	http_set_retry_after(held[0], 5);
	http_reply_json(held[0], 200, json_pack("{s:b}", "late", 1));
	http_reply_error(held[1], HTTP_ERR_UNAVAILABLE, "store_error", NULL,
	    "late");
	http_reply_text(held[2], 200, "text/plain", "late\n", 5);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_ge(cl_wait_eof(fds[i]), 0);
		close(fds[i]);
	}
}
END_TEST

/* ---- slow clients and the connection cap (request_timeout 1 s) ------------ */

START_TEST(stalled_headers_disconnected)
{
	static const char half[] = "POST /echo HTTP/1.1\r\nHost: te";
	struct resp r;
	int64_t waited;
	int fd = cl_connect();

	cl_send(fd, half, sizeof(half) - 1);
	/* Another client is served meanwhile. */
	request("GET", "/v1/items/special", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	resp_clear(&r);
	waited = cl_wait_eof(fd);
	ck_assert_msg(waited >= 0, "the stalled client was not disconnected");
	close(fd);
}
END_TEST

/* A byte every 200 ms never trips an idle timeout; the deadline must
 * still end it about a second after accept. */
START_TEST(dribbling_client_disconnected)
{
	static const char req[] = "POST /echo HTTP/1.1\r\nHost: test\r\n"
	    "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	int64_t start = now_ms(), end = 0;
	struct resp r;
	size_t i = 0;
	int fd = cl_connect();

	while (now_ms() - start < WAIT_MS) {
		char buf[256];
		ssize_t n;

		if (i < sizeof(req) - 1 &&
		    send(fd, req + i, 1, MSG_NOSIGNAL) == 1)
			i++;
		if (i == 3) {   /* a well-behaved client meanwhile */
			request("GET", "/v1/items/special", NULL, NULL, NULL,
			    &r);
			ck_assert_int_eq(r.status, 200);
			resp_clear(&r);
		}
		if (!cl_wait(fd, 200))
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			end = now_ms();
			break;
		}
	}
	ck_assert_msg(end != 0, "the dribbling client was never cut off");
	ck_assert_msg(end - start >= 800, "cut off too early: %lld ms",
	    (long long)(end - start));
	ck_assert_msg(end - start < 5000, "cut off too late: %lld ms",
	    (long long)(end - start));
	ck_assert_int_lt(i, sizeof(req) - 1);
	close(fd);
}
END_TEST

/* A handler may take longer than request_timeout: the deadline is for
 * the client's request, not for our answer. */
START_TEST(slow_handler_still_answers)
{
	struct resp r;
	int fd = cl_connect();

	ck_assert_int_eq(get_on(fd, "/deferred-long", &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert(json_is_true(json_object_get(r.json, "deferred")));
	resp_clear(&r);
	close(fd);
}
END_TEST

/* After an answer the kept-alive connection has request_timeout for the
 * next request. */
START_TEST(idle_keepalive_closed_after_answer)
{
	struct resp r;
	int fd = cl_connect();

	ck_assert_int_eq(get_on(fd, "/v1/items/special", &r), 0);
	ck_assert_int_eq(r.status, 200);
	resp_clear(&r);
	ck_assert_int_ge(cl_wait_eof(fd), 0);
	close(fd);
}
END_TEST

/* At the cap a newcomer is served in place of the connection that has
 * waited longest for a request (idle keep-alives cannot lock it out). */
START_TEST(fifth_connection_sheds_the_longest_idle)
{
	int fds[4], extra;
	struct resp r;

	for (int i = 0; i < 4; i++) {
		fds[i] = cl_connect();
		ck_assert_int_eq(get_on(fds[i], "/v1/items/special", &r), 0);
		ck_assert_int_eq(r.status, 200);
		resp_clear(&r);
	}
	/* fds[0] answered again: fds[1] now waits longest. */
	ck_assert_int_eq(get_on(fds[0], "/v1/items/special", &r), 0);
	resp_clear(&r);
	extra = cl_connect();
	ck_assert_int_eq(get_on(extra, "/v1/items/special", &r), 0);
	ck_assert_int_eq(r.status, 200);
	resp_clear(&r);
	ck_assert_msg(cl_wait_eof(fds[1]) >= 0, "the longest idle was kept");
	for (int i = 0; i < 4; i++) {
		if (i == 1)
			continue;
		ck_assert_int_eq(get_on(fds[i], "/v1/items/x", &r), 0);
		ck_assert_int_eq(r.status, 200);
		resp_clear(&r);
	}
	close(extra);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
}
END_TEST

/* When every connection has a request with its handler, there is nothing
 * to shed: the newcomer gets a JSON 503 and the close. */
START_TEST(cap_of_busy_connections_is_503)
{
	static const char get[] = "GET /hold HTTP/1.1\r\nHost: test\r\n\r\n";
	int fds[4], extra;
	struct resp r;

	for (int i = 0; i < 4; i++) {
		fds[i] = cl_connect();
		cl_send(fds[i], get, sizeof(get) - 1);
		wait_held();
	}
	extra = cl_connect();
	ck_assert_int_eq(cl_read(extra, &r), 0);
	ck_assert_int_eq(r.status, 503);
	ck_assert_str_eq(err_code(&r), "too_many_connections");
	ck_assert_str_eq(resp_header(&r, "Retry-After"), "1");
	resp_clear(&r);
	ck_assert_int_ge(cl_wait_eof(extra), 0);
	close(extra);
	/* The held requests are answered with the loop stopped (this
	 * thread may not touch the listener while the loop runs). */
	loop_stop();
	ck_assert_int_eq(nheld, 4);
	for (int i = 0; i < 4; i++)
		http_reply_json(held[i], 200, json_pack("{}"));
	for (int i = 0; i < 4; i++)
		close(fds[i]);
}
END_TEST

static Suite *
http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc;

	tc = tcase_create("routing");
	tcase_add_checked_fixture(tc, setup_default, srv_stop);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, route_echoes_json);
	tcase_add_test(tc, unknown_path_is_json_404);
	tcase_add_test(tc, longest_route_first_and_decoded_path);
	tcase_add_test(tc, head_has_no_body);
	tcase_add_test(tc, wrong_method_is_405);
	tcase_add_test(tc, query_and_delete);
	tcase_add_test(tc, rate_error_has_retry_after);
	tcase_add_test(tc, text_reply);
	suite_add_tcase(s, tc);

	tc = tcase_create("bodies");
	tcase_add_checked_fixture(tc, setup_default, srv_stop);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, malformed_json_names_position);
	tcase_add_test(tc, non_object_json_is_400);
	tcase_add_test(tc, text_plain_is_415);
	tcase_add_test(tc, form_only_where_allowed);
	tcase_add_test(tc, multipart_parsed);
	tcase_add_test(tc, body_over_64k_is_json_413);
	tcase_add_test(tc, chunked_body_over_64k_is_json_413);
	tcase_add_test(tc, huge_declared_body_is_413);
	suite_add_tcase(s, tc);

	tc = tcase_create("requests");
	tcase_add_checked_fixture(tc, setup_default, srv_stop);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, bearer_token);
	tcase_add_test(tc, deferred_answer_arrives);
	tcase_add_test(tc, answer_after_client_left);
	tcase_add_test(tc, stop_accepting_keeps_inflight);
	tcase_add_test(tc, body_try_leaves_the_answer);
	tcase_add_test(tc, answer_after_free_is_dropped);
	tcase_add_test(tc, busy_connection_reads_bounded);
	tcase_add_test(tc, eof_while_busy_answered_then_closed);
	suite_add_tcase(s, tc);

	tc = tcase_create("slow_clients");
	tcase_add_checked_fixture(tc, setup_timeout1, srv_stop);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, stalled_headers_disconnected);
	tcase_add_test(tc, dribbling_client_disconnected);
	tcase_add_test(tc, idle_keepalive_closed_after_answer);
	tcase_add_test(tc, slow_handler_still_answers);
	suite_add_tcase(s, tc);

	tc = tcase_create("connection_cap");
	tcase_add_checked_fixture(tc, setup_cap4, srv_stop);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, fifth_connection_sheds_the_longest_idle);
	tcase_add_test(tc, cap_of_busy_connections_is_503);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(http_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
