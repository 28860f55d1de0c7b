/*
 * check_hostile_http.c - clients that try to take smsverifyd down over
 * HTTP: pipelining without reading the answers, a 100 MB Content-Length,
 * junk after a request, oversized heads and paths, and every framing
 * error.  The daemon runs as a process (tests/harness.c); each test reads
 * its resident memory from /proc/PID/status before and after, and checks
 * that every answer is the API's JSON with the right status, and that a
 * well-behaved client is still served meanwhile.
 *
 * The memory bound is on growth (HOSTILE_RSS_MB), far under what the
 * same clients cost before the listener was bounded (hundreds of MB to
 * GB).  ASan's quarantine keeps freed memory resident, so the daemon of
 * these tests runs with a small one (what is measured is live memory).
 * Every loop here is bounded by a count and by a time, and no assertion
 * depends on how fast the machine is.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <check.h>
#include <jansson.h>

#include "harness.h"

/* What one hostile client may add to the daemon's resident memory. */
#define HOSTILE_RSS_MB 48
/* How long a test waits for an answer or a close. */
#define WAIT_MS 15000

static struct harness H;

static void
setup(void)
{
	ck_assert_int_eq(h_init(&H), 0);
	snprintf(H.log_level, sizeof(H.log_level), "info");
}

/* The daemon of setup_started's tests, on the harness's configuration. */
static void
setup_started(void)
{
	setup();
	h_start_all(&H);
}

static void
teardown(void)
{
	h_fini(&H);
}

/* The daemon's resident memory, in KiB. */
static long
daemon_rss_kb(void)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)H.daemon_pid);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	ck_assert_int_gt(kb, 0);
	return kb;
}

static void
assert_rss_bounded_by(long before_kb, long mb, const char *what)
{
	long after = daemon_rss_kb();

	ck_assert_msg(after - before_kb < mb * 1024L,
	    "%s: the daemon grew from %ld to %ld KiB", what, before_kb, after);
}

static void
assert_rss_bounded(long before_kb, const char *what)
{
	assert_rss_bounded_by(before_kb, HOSTILE_RSS_MB, what);
}

static int
connect_daemon(void)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)H.http_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Send all of buf; the octets sent.  Gives up when the peer takes
 * nothing for stall_ms, or on an error (the peer closed). */
static size_t
send_stall(int fd, const char *buf, size_t len, int stall_ms)
{
	long long last = h_now_ms();
	size_t off = 0;

	while (off < len && h_now_ms() - last < stall_ms) {
		struct pollfd p = { fd, POLLOUT, 0 };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = send(fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
		last = h_now_ms();
	}
	return off;
}

static size_t
send_some(int fd, const char *buf, size_t len)
{
	return send_stall(fd, buf, len, WAIT_MS);
}

/* One answer: status, head and body (Content-Length framed). */
struct answer {
	int status;
	char head[4096];
	char body[4096];
	json_t *json;
};

/* Read one answer from fd (leaving what follows it unread, one octet at
 * a time in the head: answers are small).  0, or -1 on EOF or timeout. */
static int
read_answer(int fd, struct answer *a)
{
	long long deadline = h_now_ms() + WAIT_MS;
	size_t hlen = 0, want = 0, blen = 0;
	const char *cl;

	memset(a, 0, sizeof(*a));
	while (h_now_ms() < deadline) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, 200) <= 0)
			continue;
		if (hlen < 4 || memcmp(a->head + hlen - 4, "\r\n\r\n", 4) != 0) {
			if (hlen + 1 >= sizeof(a->head))
				return -1;
			if ((n = recv(fd, a->head + hlen, 1, 0)) <= 0)
				return -1;
			hlen++;
			if (hlen >= 4 && memcmp(a->head + hlen - 4, "\r\n\r\n",
			    4) == 0) {
				a->head[hlen] = '\0';
				cl = strcasestr(a->head, "\r\nContent-Length:");
				want = cl ? strtoul(cl + 17, NULL, 10) : 0;
				if (want >= sizeof(a->body))
					return -1;
				if (want == 0)
					break;
			}
			continue;
		}
		if ((n = recv(fd, a->body + blen, want - blen, 0)) <= 0)
			return -1;
		blen += (size_t)n;
		if (blen == want)
			break;
	}
	if (hlen < 4 || blen != want ||
	    sscanf(a->head, "HTTP/1.1 %d", &a->status) != 1)
		return -1;
	a->body[blen] = '\0';
	a->json = json_loads(a->body, 0, NULL);
	return 0;
}

static const char *
answer_header(const struct answer *a, const char *name)
{
	static char val[256];

	h_header_of(a->head, name, val, sizeof(val));
	return val[0] != '\0' ? val : NULL;
}

/* The answer is the API's JSON error with this status and code. */
static void
assert_json_error(const struct answer *a, int status, const char *code,
    const char *what)
{
	const char *got;

	ck_assert_msg(a->status == status, "%s: status %d, not %d", what,
	    a->status, status);
	ck_assert_msg(answer_header(a, "Content-Type") != NULL &&
	    strncmp(answer_header(a, "Content-Type"), "application/json",
	    16) == 0, "%s: not JSON: %s", what, a->head);
	ck_assert_msg(a->json != NULL, "%s: body not JSON: %s", what,
	    a->body);
	got = json_string_value(json_object_get(json_object_get(a->json,
	    "error"), "code"));
	ck_assert_msg(got != NULL && strcmp(got, code) == 0,
	    "%s: error code %s, not %s", what, got ? got : "(none)", code);
	ck_assert_msg(json_string_value(json_object_get(json_object_get(
	    a->json, "error"), "message")) != NULL, "%s: no message", what);
}

/* Wait for the daemon to close fd (reading and dropping what comes): the
 * milliseconds it took, or -1. */
static long long
wait_close(int fd)
{
	long long start = h_now_ms();
	char buf[4096];

	while (h_now_ms() - start < WAIT_MS) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, 200) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return h_now_ms() - start;
		if (n < 0 && errno != EINTR)
			return -1;
	}
	return -1;
}

/* A well-behaved client is served. */
static void
assert_still_serving(void)
{
	char out[512];

	ck_assert_int_eq(h_http(&H, "GET", "/healthz", NULL, NULL, NULL, out,
	    sizeof(out)), 200);
}

/* ---- floods ------------------------------------------------------------- */

/* Pipelined requests, answers never read: the daemon stops reading this
 * client once its answers back up, so it holds neither the requests nor
 * the answers, and drops the client after request_timeout. */
START_TEST(pipelining_without_reading)
{
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
	size_t chunk = (sizeof(req) - 1) * 4096, sent = 0;
	char *buf = malloc(chunk);
	long before = daemon_rss_kb();
	int fd = connect_daemon();

	for (size_t i = 0; i < 4096; i++)
		memcpy(buf + i * (sizeof(req) - 1), req, sizeof(req) - 1);
	/* Up to 64 MB of requests, until the daemon takes nothing for 2 s
	 * (it stopped reading: the kernel's buffers are full). */
	for (int i = 0; i < 450; i++) {
		size_t n = send_stall(fd, buf, chunk, 2000);

		sent += n;
		if (n < chunk)
			break;
	}
	free(buf);
	ck_assert_msg(sent < 450 * chunk, "the daemon read 64 MB of "
	    "requests whose answers nobody read");
	assert_rss_bounded(before, "pipelining without reading");
	assert_still_serving();
	/* Still not reading: the daemon drops the client after its
	 * request_timeout (10 s), which a send then sees. */
	{
		long long start = h_now_ms();
		int dropped = 0;

		while (!dropped && h_now_ms() - start < 3 * WAIT_MS) {
			struct pollfd p = { fd, POLLOUT, 0 };
			ssize_t n;

			(void)poll(&p, 1, 200);
			n = send(fd, req, sizeof(req) - 1,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			dropped = n < 0 && (errno == EPIPE ||
			    errno == ECONNRESET);
		}
		ck_assert_msg(dropped, "the client that reads nothing was "
		    "never dropped");
	}
	close(fd);
}
END_TEST

/* 8 clients each declaring 100 MB: each gets a JSON 413 before its body
 * is read, and the daemon holds none of it. */
START_TEST(huge_content_length_refused_unread)
{
	static const char head[] = "POST /v1/verifications HTTP/1.1\r\n"
	    "Host: t\r\nContent-Type: application/json\r\n"
	    "Authorization: Bearer " H_TOKEN "\r\n"
	    "Content-Length: 104857600\r\n\r\n";
	char *junk = malloc(1 << 20);
	long before = daemon_rss_kb();
	int fds[8];

	memset(junk, '7', 1 << 20);
	for (int i = 0; i < 8; i++) {
		struct answer a;

		fds[i] = connect_daemon();
		ck_assert_uint_eq(send_some(fds[i], head, sizeof(head) - 1),
		    sizeof(head) - 1);
		ck_assert_int_eq(read_answer(fds[i], &a), 0);
		assert_json_error(&a, 413, "body_too_large", "100 MB");
		ck_assert_ptr_nonnull(strstr(a.head, "Connection: close"));
		json_decref(a.json);
		/* Up to 4 MB of the body anyway: dropped, then the close. */
		for (int k = 0; k < 4; k++)
			if (send_some(fds[i], junk, 1 << 20) < (1 << 20))
				break;
	}
	for (int i = 0; i < 8; i++) {
		ck_assert_msg(wait_close(fds[i]) >= 0, "client %d not closed",
		    i);
		close(fds[i]);
	}
	free(junk);
	assert_rss_bounded(before, "8 x 100 MB Content-Length");
	assert_still_serving();
}
END_TEST

/* A request, then 32 MB of junk: the request is answered, the junk is
 * a 400 and the end of the connection, not a buffer. */
START_TEST(junk_after_request)
{
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
	char *junk = malloc(1 << 20);
	long before = daemon_rss_kb();
	struct answer a;
	size_t sent = 0;
	int fd = connect_daemon();

	memset(junk, 'A', 1 << 20);
	ck_assert_uint_eq(send_some(fd, req, sizeof(req) - 1),
	    sizeof(req) - 1);
	for (int i = 0; i < 32; i++) {
		size_t n = send_some(fd, junk, 1 << 20);

		sent += n;
		if (n < (1 << 20))
			break;
	}
	free(junk);
	ck_assert_int_eq(read_answer(fd, &a), 0);
	ck_assert_int_eq(a.status, 200);
	json_decref(a.json);
	/* The junk's answer (a line too long), unless the close came first:
	 * the daemon stops reading junk after LINGER_MAX. */
	if (read_answer(fd, &a) == 0) {
		assert_json_error(&a, 414, "uri_too_long", "junk");
		json_decref(a.json);
	}
	close(fd);
	assert_rss_bounded(before, "junk after a request");
	assert_still_serving();
}
END_TEST

/* ---- framing errors: each one JSON, with its status -------------------- */

struct bad {
	const char *what;
	int status;
	const char *code;
	const char *allow;      /* the Allow header, when 405 */
};

/* Send head (len octets; built by the caller) on a new connection; the
 * answer must be the JSON error of b, and the connection then close
 * (unless b is a 405, which keeps it). */
static void
expect_refusal(const char *req, size_t len, const struct bad *b)
{
	struct answer a;
	int fd = connect_daemon();

	ck_assert_uint_eq(send_some(fd, req, len), len);
	ck_assert_msg(read_answer(fd, &a) == 0, "%s: no answer", b->what);
	assert_json_error(&a, b->status, b->code, b->what);
	if (b->allow != NULL)
		ck_assert_msg(answer_header(&a, "Allow") != NULL &&
		    strcmp(answer_header(&a, "Allow"), b->allow) == 0,
		    "%s: Allow is %s", b->what, answer_header(&a, "Allow"));
	else
		ck_assert_msg(wait_close(fd) >= 0, "%s: the connection "
		    "stayed open", b->what);
	json_decref(a.json);
	close(fd);
}

START_TEST(framing_errors_are_json)
{
	static const struct {
		const char *req;
		struct bad b;
	} cases[] = {
		{ "POST /v1/verifications HTTP/1.1\r\nHost: t\r\n"
		  "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "0\r\n\r\n",
		  { "Content-Length with Transfer-Encoding", 400,
		    "bad_request", NULL } },
		{ "GET /healthz\r\n\r\n",
		  { "HTTP/0.9", 400, "bad_request", NULL } },
		{ "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		  { "the HTTP/2 preface", 505, "http_version_not_supported",
		    NULL } },
		{ "POST /v1/verifications HTTP/1.1\r\nHost: t\r\n"
		  "Transfer-Encoding: chunked\r\n\r\nzz\r\n",
		  { "a bad chunk size", 400, "bad_request", NULL } },
		{ "POST /v1/verifications HTTP/1.1\r\nHost: t\r\n"
		  "Transfer-Encoding: gzip\r\n\r\n",
		  { "an unknown transfer coding", 501, "not_implemented",
		    NULL } },
		{ "CONNECT example.net:443 HTTP/1.1\r\nHost: t\r\n\r\n",
		  { "CONNECT", 501, "not_implemented", NULL } },
		{ "get /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
		  { "a lower-case method", 501, "not_implemented", NULL } },
		{ "GET /healthz HTTP/1.1\r\nHost: t\r\nX-A : b\r\n\r\n",
		  { "white space before a colon", 400, "bad_request",
		    NULL } },
		{ "GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: b\r\n c\r\n\r\n",
		  { "a folded header", 400, "bad_request", NULL } },
		{ "GET /healthz HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n",
		  { "two Hosts", 400, "bad_request", NULL } },
		{ "GET /healthz HTTP/1.1\rHost: t\r\n\r\n",
		  { "a bare CR", 400, "bad_request", NULL } },
		{ "POST /v1/verifications HTTP/1.1\r\nHost: t\r\n"
		  "Expect: something\r\nContent-Length: 2\r\n\r\n{}",
		  { "an unknown Expect", 417, "expectation_failed", NULL } },
		{ "TRACE /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
		  { "TRACE", 405, "method_not_allowed", "GET, HEAD" } },
		{ "DELETE /v1/verifications HTTP/1.1\r\nHost: t\r\n\r\n",
		  { "DELETE", 405, "method_not_allowed", "POST" } },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_refusal(cases[i].req, strlen(cases[i].req),
		    &cases[i].b);
	assert_still_serving();
}
END_TEST

START_TEST(oversized_heads_are_json)
{
	static const struct bad header64k = { "a 64 KB header", 431,
		"headers_too_large", NULL };
	static const struct bad headers10k = { "10,000 headers", 431,
		"headers_too_large", NULL };
	static const struct bad path60k = { "a 60 KB path", 414,
		"uri_too_long", NULL };
	size_t cap = 128 * 1024, n;
	char *req = malloc(cap);
	long before = daemon_rss_kb();

	n = (size_t)snprintf(req, cap, "GET /healthz HTTP/1.1\r\nHost: t\r\n"
	    "X-Big: ");
	memset(req + n, 'b', 64 * 1024);
	n += 64 * 1024;
	n += (size_t)snprintf(req + n, cap - n, "\r\n\r\n");
	expect_refusal(req, n, &header64k);

	n = (size_t)snprintf(req, cap, "GET /healthz HTTP/1.1\r\n");
	for (int i = 0; i < 10000 && n + 16 < cap; i++)
		n += (size_t)snprintf(req + n, cap - n, "X-%d: 1\r\n", i);
	n += (size_t)snprintf(req + n, cap - n, "\r\n");
	expect_refusal(req, n, &headers10k);

	n = (size_t)snprintf(req, cap, "GET /");
	memset(req + n, 'p', 60 * 1024);
	n += 60 * 1024;
	n += (size_t)snprintf(req + n, cap - n, " HTTP/1.1\r\nHost: t\r\n\r\n");
	expect_refusal(req, n, &path60k);
	free(req);
	assert_rss_bounded(before, "oversized heads");
	assert_still_serving();
}
END_TEST

/* 300 bad requests in a row: a handful of log lines, the rest counted. */
START_TEST(refusals_log_is_bounded)
{
	static const char bad[] = "GET /healthz HTTP/1.1\r\nX-A : b\r\n\r\n";
	static const struct bad b = { "bad header", 400, "bad_request", NULL };
	long long start = h_now_ms();
	int lines, secs;

	for (int i = 0; i < 300; i++)
		expect_refusal(bad, sizeof(bad) - 1, &b);
	secs = (int)((h_now_ms() - start) / 1000);
	/* What was held back is counted, on the next line of its kind or
	 * in a summary line a second or so later (lines under warn reach
	 * the file when the daemon flushes its log: wait for them). */
	{
		long long deadline = h_now_ms() + WAIT_MS;
		long held = 0;
		int events = 0;

		while (events + held != 300 && h_now_ms() < deadline) {
			FILE *f = fopen(H.daemon_log, "r");
			char line[1024];

			h_nap_ms(200);
			ck_assert_ptr_nonnull(f);
			held = 0;
			events = 0;
			while (fgets(line, sizeof(line), f) != NULL) {
				const char *p = strstr(line,
				    "event=http.refused ");

				if (p == NULL)
					continue;
				events += strstr(p, " id=") != NULL;
				if ((p = strstr(p, "suppressed=")) != NULL)
					held += atol(p + 11);
			}
			fclose(f);
		}
		ck_assert_msg(events + held == 300, "%d lines + %ld held back "
		    "for 300 refusals", events, held);
		/* A line a second during the storm, the first one, and the
		 * summary after it. */
		lines = h_count_lines(H.daemon_log, "event=http.refused ");
		ck_assert_msg(lines >= 1 && lines <= secs + 3,
		    "%d refusal lines in %d s", lines, secs);
	}
}
END_TEST

/* Expect: 100-continue gets its interim answer, then the real one. */
START_TEST(expect_continue)
{
	static const char head[] = "POST /v1/verifications/check HTTP/1.1\r\n"
	    "Host: t\r\nContent-Type: application/json\r\n"
	    "Authorization: Bearer " H_TOKEN "\r\n"
	    "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n";
	char cont[26];
	struct answer a;
	int fd = connect_daemon();
	size_t got = 0;
	long long deadline = h_now_ms() + WAIT_MS;

	ck_assert_uint_eq(send_some(fd, head, sizeof(head) - 1),
	    sizeof(head) - 1);
	while (got < 25 && h_now_ms() < deadline) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, 200) <= 0)
			continue;
		if ((n = recv(fd, cont + got, 25 - got, 0)) <= 0)
			break;
		got += (size_t)n;
	}
	cont[got] = '\0';
	ck_assert_str_eq(cont, "HTTP/1.1 100 Continue\r\n\r\n");
	ck_assert_uint_eq(send_some(fd, "{}", 2), 2);
	ck_assert_int_eq(read_answer(fd, &a), 0);
	ck_assert_int_eq(a.status, 422);
	json_decref(a.json);
	close(fd);
}
END_TEST

/* ---- connection floods -------------------------------------------------- */

/* The most descriptors this process may hold: its hard limit. */
static long
raise_nofile(void)
{
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	return rl.rlim_cur == RLIM_INFINITY ? 1L << 20 : (long)rl.rlim_cur;
}

/* Hold nidle idle connections and nslow that stop in the middle of a
 * header, then make 100 sends, each on a new connection: every send is
 * answered 201, 95 of them within a second, and the daemon's memory
 * stays bounded.  The connections are counted, not timed: a loaded
 * machine only makes the test slower. */
static void
flood_then_send(int nidle, int nslow)
{
	static const char slow[] = "POST /v1/verifications HTTP/1.1\r\nHo";
	long before, room = raise_nofile() - 200;
	int n = nidle + nslow, *fds, fast = 0, opened = 0;
	long long slowest = 0;

	/* A machine whose hard limit is lower gets a smaller flood (said in
	 * the log), in the same proportions. */
	if (n > room) {
		nidle = (int)(room * nidle / n);
		nslow = (int)(room * nslow / n);
		fprintf(stderr, "flood scaled to %d idle + %d slow by "
		    "RLIMIT_NOFILE\n", nidle, nslow);
		n = nidle + nslow;
	}
	fds = calloc((size_t)n, sizeof(*fds));
	ck_assert_ptr_nonnull(fds);
	before = daemon_rss_kb();
	for (int i = 0; i < n; i++) {
		fds[i] = connect_daemon();
		opened++;
		if (i >= nidle)
			ck_assert_uint_eq(send_some(fds[i], slow,
			    sizeof(slow) - 1), sizeof(slow) - 1);
	}
	for (int i = 0; i < 100; i++) {
		char phone[32], id[64];
		long long t0 = h_now_ms(), took;
		json_t *j;

		snprintf(phone, sizeof(phone), "+1415555%04d", 1000 + i);
		j = h_send_code(&H, phone, id, sizeof(id), 201);
		took = h_now_ms() - t0;
		json_decref(j);
		fast += took < 1000;
		if (took > slowest)
			slowest = took;
	}
	fprintf(stderr, "%d connections held: 100 sends, %d within 1 s, the "
	    "slowest %lld ms; RSS %ld -> %ld KiB\n", opened, fast, slowest,
	    before, daemon_rss_kb());
	ck_assert_msg(fast >= 95, "only %d of 100 sends within 1 s (the "
	    "slowest %lld ms)", fast, slowest);
	assert_rss_bounded_by(before, 256, "a flood of connections");
	for (int i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
}

/* The default cap follows the descriptor limit: 10,000 idle and 1,000
 * slow connections all fit, and a newcomer is served. */
START_TEST(flood_under_the_default_cap)
{
	h_start_all(&H);
	flood_then_send(10000, 1000);
}
END_TEST

/* A cap far under the flood: the connections that waited longest are
 * shed for the newcomers, the sends are served, and the shedding is
 * counted in /metrics and logged a line a second at most. */
START_TEST(flood_over_a_small_cap_sheds)
{
	char out[65536];

	snprintf(H.server_extra, sizeof(H.server_extra),
	    "max_connections = 2000\n");
	h_start_all(&H);
	flood_then_send(10000, 1000);
	ck_assert_int_eq(h_http(&H, "GET", "/metrics", NULL, NULL, NULL, out,
	    sizeof(out)), 200);
	ck_assert_ptr_nonnull(strstr(out,
	    "smsverify_http_connections_max 2000\n"));
	ck_assert_ptr_null(strstr(out,
	    "smsverify_http_connections_total{fate=\"shed\"} 0\n"));
	ck_assert_int_gt(h_count_lines(H.daemon_log, "event=http.shed "), 0);
	ck_assert_int_lt(h_count_lines(H.daemon_log, "event=http.shed "),
	    200);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("hostile_http");
	TCase *tc = tcase_create("hostile");

	TCase *flood = tcase_create("flood");

	tcase_add_checked_fixture(tc, setup_started, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, pipelining_without_reading);
	tcase_add_test(tc, huge_content_length_refused_unread);
	tcase_add_test(tc, junk_after_request);
	tcase_add_test(tc, framing_errors_are_json);
	tcase_add_test(tc, oversized_heads_are_json);
	tcase_add_test(tc, refusals_log_is_bounded);
	tcase_add_test(tc, expect_continue);
	tcase_add_checked_fixture(flood, setup, teardown);
	tcase_set_timeout(flood, 300);
	tcase_add_test(flood, flood_under_the_default_cap);
	tcase_add_test(flood, flood_over_a_small_cap_sheds);
	suite_add_tcase(s, flood);
	/* Freed memory must leave: a small quarantine for the daemon. */
	h_asan_quarantine_mb(4);
	suite_add_tcase(s, tc);
	return h_run_suite(s);
}
