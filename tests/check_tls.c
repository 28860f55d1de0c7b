/*
 * check_tls.c - HTTPS on the API listener ([server] tls_cert, tls_key), as
 * a client sees it: smsverifyd and the simulator run as processes, the
 * certificates are made at test time in the test's directory by a test CA
 * (h_tls_make), and the client trusts only that CA.
 *
 * Sends and checks over HTTPS; TLS 1.1, renegotiation and plain HTTP
 * refused; the server's cipher order; SIGHUP to a new pair (new
 * connections see it, an open one stays up on the old) and to a pair
 * renewed in place; a pair whose key is not the certificate's refused at
 * reload (the old one still served) and by smsverifyd -t; one half of the
 * pair without the other refused with its line; the request deadline, the
 * header and body caps and shedding over TLS; tls.c's error messages.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "harness.h"
#include "tls.h"

#define PHONE "+14155550177"

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

/* [server] lines for the pair NAME.pem, KEY.key in the test directory. */
static void
use_pair(const char *cert, const char *key)
{
	ck_assert_int_lt(snprintf(H.server_extra, sizeof(H.server_extra),
	    "tls_cert = %s/%s.pem\ntls_key = %s/%s.key\n", H.dir, cert, H.dir,
	    key), (int)sizeof(H.server_extra));
}

/* Make the pair "a", configure it and start everything over HTTPS. */
static void
start_https(void)
{
	ck_assert_msg(h_tls_make(&H, "pair-a") == 0, "openssl could not "
	    "make a certificate");
	use_pair("pair-a", "pair-a");
	h_start_all(&H);
}

/* A TLS connection to the daemon (trusting the test CA): the SSL, or the
 * test fails naming the reason. */
static SSL *
tls_open(int *fdp)
{
	char err[256];
	SSL *ssl;

	*fdp = h_connect(H.http_port);
	ck_assert_int_ge(*fdp, 0);
	ssl = h_tls_connect(*fdp, H.tls_ca, 0, err, sizeof(err));
	ck_assert_msg(ssl != NULL, "handshake failed: %s", err);
	return ssl;
}

static void
tls_close(SSL *ssl, int fd)
{
	SSL_free(ssl);
	close(fd);
}

/* One keep-alive request on ssl: GET path; the status, or -1.  Reads the
 * answer by its Content-Length. */
static int
tls_get(SSL *ssl, const char *path)
{
	char req[256], buf[8192], *end, *cl;
	int n, got = 0, status = -1;
	long want;

	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "\r\n", path);
	if (SSL_write(ssl, req, n) != n)
		return -1;
	for (;;) {
		if (got >= (int)sizeof(buf) - 1)
			return -1;
		n = SSL_read(ssl, buf + got, (int)sizeof(buf) - 1 - got);
		if (n <= 0)
			return -1;
		got += n;
		buf[got] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		cl = strcasestr(buf, "content-length:");
		want = cl != NULL && cl < end ? strtol(cl + 15, NULL, 10) : 0;
		if (got - (end + 4 - buf) >= want)
			break;
	}
	if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
		return -1;
	return status;
}

START_TEST(https_send_and_check)
{
	char id[64], code[16], cn[128];
	json_t *j;
	SSL *ssl;
	int fd;

	start_https();
	/* The API as an integrator uses it, over HTTPS (h_http). */
	j = h_send_code(&H, PHONE, id, sizeof(id), 201);
	ck_assert_str_eq(h_jstr(j, "status"), "sent");
	json_decref(j);
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	ck_assert_int_eq(h_code_valid(&H, id, code), 1);
	/* The certificate is the configured one, TLS 1.2 or later. */
	ssl = tls_open(&fd);
	ck_assert_str_eq(h_tls_peer_cn(ssl, cn, sizeof(cn)), "pair-a");
	ck_assert_int_ge(SSL_version(ssl), TLS1_2_VERSION);
	ck_assert_int_eq(tls_get(ssl, "/healthz"), 200);
	ck_assert_int_eq(tls_get(ssl, "/healthz"), 200);
	tls_close(ssl, fd);
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
}
END_TEST

START_TEST(tls11_refused)
{
	char err[256];
	SSL *ssl;
	int fd;

	start_https();
	/* The same permissive client capped at TLS 1.1 is refused by the
	 * daemon (its protocol_version alert)... */
	fd = h_connect(H.http_port);
	ck_assert_int_ge(fd, 0);
	ssl = h_tls_connect(fd, H.tls_ca, TLS1_1_VERSION, err, sizeof(err));
	ck_assert_msg(ssl == NULL, "a TLS 1.1 handshake succeeded");
	ck_assert_msg(strstr(err, "protocol version") != NULL,
	    "not refused by the server's alert: %s", err);
	close(fd);
	/* counted in /metrics, once the daemon has seen the end */
	{
		char out[65536];
		int i;

		for (i = 0; i < 200; i++) {
			ck_assert_int_eq(h_http(&H, "GET", "/metrics", NULL,
			    NULL, NULL, out, sizeof(out)), 200);
			if (strstr(out, "\nsmsverify_http_tls_handshake_"
			    "failures_total 1\n") != NULL)
				break;
			usleep(25000);
		}
		ck_assert_msg(i < 200, "the failed handshake not counted: %s",
		    strstr(out, "\nsmsverify_http_tls") ? strstr(out,
		    "\nsmsverify_http_tls") + 1 : "(no metric)");
	}
	/* ...and capped at TLS 1.2 it is served. */
	fd = h_connect(H.http_port);
	ssl = h_tls_connect(fd, H.tls_ca, TLS1_2_VERSION, err, sizeof(err));
	ck_assert_msg(ssl != NULL, "TLS 1.2 refused: %s", err);
	ck_assert_int_eq(SSL_version(ssl), TLS1_2_VERSION);
	ck_assert_int_eq(tls_get(ssl, "/healthz"), 200);
	/* A renegotiation the client asks for is refused: the request
	 * that follows it gets no answer. */
	ck_assert_int_eq(SSL_renegotiate(ssl), 1);
	ck_assert_msg(tls_get(ssl, "/healthz") != 200, "served after a "
	    "renegotiation");
	tls_close(ssl, fd);
	/* Connections whose handshake went through are not counted, however
	 * they ended. */
	{
		char out[65536];

		ck_assert_int_eq(h_http(&H, "GET", "/metrics", NULL, NULL, NULL,
		    out, sizeof(out)), 200);
		ck_assert_ptr_nonnull(strstr(out, "\nsmsverify_http_tls_"
		    "handshake_failures_total 1\n"));
	}
}
END_TEST

/* The server's order of ciphers wins: a TLS 1.2 client that prefers
 * AES-128 gets AES-256, OpenSSL's first choice (the certificate is
 * P-256, so ECDSA suites). */
START_TEST(server_cipher_order)
{
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;

	start_https();
	ck_assert_ptr_nonnull(ctx = SSL_CTX_new(TLS_client_method()));
	SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
	ck_assert_int_eq(SSL_CTX_set_cipher_list(ctx,
	    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384"),
	    1);
	ck_assert_int_eq(SSL_CTX_load_verify_locations(ctx, H.tls_ca, NULL),
	    1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	fd = h_connect(H.http_port);
	ck_assert_int_ge(fd, 0);
	ck_assert_ptr_nonnull(ssl = SSL_new(ctx));
	SSL_set_fd(ssl, fd);
	ck_assert_int_eq(SSL_connect(ssl), 1);
	ck_assert_str_eq(SSL_get_cipher_name(ssl),
	    "ECDHE-ECDSA-AES256-GCM-SHA384");
	ck_assert_int_eq(tls_get(ssl, "/healthz"), 200);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
}
END_TEST

/* Read fd until EOF or error, bounded by the socket's 15 s timeout: the
 * octets read (-1 when the read timed out). */
static int
read_to_close(int fd, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;

	for (;;) {
		n = read(fd, buf + got, size - 1 - got);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		if (n < 0)
			return -1;
		got += (size_t)n;
		if (got >= size - 1)
			break;
	}
	buf[got] = '\0';
	return (int)got;
}

START_TEST(plain_http_refused)
{
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[4096];
	int fd, n;

	start_https();
	fd = h_connect(H.http_port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, req, sizeof(req) - 1),
	    (int)sizeof(req) - 1);
	n = read_to_close(fd, buf, sizeof(buf));
	close(fd);
	ck_assert_msg(n >= 0, "the daemon neither answered nor closed");
	ck_assert_msg(strstr(buf, "HTTP/1.1") == NULL && strstr(buf,
	    "healthz") == NULL && strstr(buf, "smscs") == NULL,
	    "plain HTTP was served: %s", buf);
	/* HTTPS still is. */
	ck_assert_int_eq(h_http(&H, "GET", "/healthz", NULL, NULL, NULL, buf,
	    sizeof(buf)), 200);
}
END_TEST

START_TEST(sighup_new_pair)
{
	char cn[128], out[1024], id[64], code[16], cmd[1400];
	SSL *old, *ssl;
	int ofd, fd;

	start_https();
	old = tls_open(&ofd);
	ck_assert_int_eq(tls_get(old, "/healthz"), 200);
	ck_assert_int_eq(h_tls_make(&H, "pair-b"), 0);
	use_pair("pair-b", "pair-b");
	ck_assert_msg(h_daemon_reload(&H) == 0, "reload refused (see %s)",
	    H.daemon_log);
	/* A new connection gets the new pair... */
	ssl = tls_open(&fd);
	ck_assert_str_eq(h_tls_peer_cn(ssl, cn, sizeof(cn)), "pair-b");
	ck_assert_int_eq(tls_get(ssl, "/healthz"), 200);
	tls_close(ssl, fd);
	/* ...the one opened before is still up, on the old one. */
	ck_assert_int_eq(tls_get(old, "/healthz"), 200);
	ck_assert_str_eq(h_tls_peer_cn(old, cn, sizeof(cn)), "pair-a");
	tls_close(old, ofd);
	/* A renewal in place: new files under the same names. */
	ck_assert_int_eq(h_tls_make(&H, "pair-c"), 0);
	ck_assert_int_lt(snprintf(cmd, sizeof(cmd), "cp '%s/pair-c.pem' "
	    "'%s/pair-b.pem' && cp '%s/pair-c.key' '%s/pair-b.key'", H.dir,
	    H.dir, H.dir, H.dir), (int)sizeof(cmd));
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_msg(h_daemon_reload(&H) == 0, "reload refused (see %s)",
	    H.daemon_log);
	ssl = tls_open(&fd);
	ck_assert_str_eq(h_tls_peer_cn(ssl, cn, sizeof(cn)), "pair-c");
	tls_close(ssl, fd);
	/* And the API works on the new pair. */
	json_decref(h_send_code(&H, PHONE, id, sizeof(id), 201));
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	ck_assert_int_eq(h_code_valid(&H, id, code), 1);
	ck_assert_int_eq(h_http(&H, "GET", "/healthz", NULL, NULL, NULL, out,
	    sizeof(out)), 200);
	/* A clean exit: under ASan a leaked context would fail it. */
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
}
END_TEST

/* Run smsverifyd -t on the harness's configuration file; its exit status,
 * its output in out. */
static int
check_conf(char *out, size_t size)
{
	const char *bd = getenv("SV_BUILDDIR");
	char cmd[1024];
	FILE *p;
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd), "'%s/src/smsverifyd' -t -c '%s' 2>&1",
	    bd && *bd ? bd : ".", H.conf);
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	n = fread(out, 1, size - 1, p);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Write the configuration without starting anything. */
static void
write_conf_only(void)
{
	ck_assert_int_eq(h_write_conf(&H), 0);
}

START_TEST(bad_pair_refused)
{
	char cn[128], out[2048], key[400], cert[400];
	SSL *ssl;
	int fd;

	start_https();
	ck_assert_int_eq(h_tls_make(&H, "pair-b"), 0);
	ck_assert_int_eq(h_tls_make(&H, "pair-c"), 0);
	/* b's certificate with c's key. */
	use_pair("pair-b", "pair-c");
	ck_assert_msg(h_daemon_reload(&H) != 0, "a mismatched pair was "
	    "taken (see %s)", H.daemon_log);
	ck_assert_msg(h_wait_lines(H.daemon_log, "does not match",
	    H_LOG_WAIT_MS) > 0, "the refusal does not say why (see %s)",
	    H.daemon_log);
	/* The old pair is still served, and the API still works. */
	ssl = tls_open(&fd);
	ck_assert_str_eq(h_tls_peer_cn(ssl, cn, sizeof(cn)), "pair-a");
	ck_assert_int_eq(tls_get(ssl, "/healthz"), 200);
	tls_close(ssl, fd);
	json_decref(h_send_code(&H, PHONE, NULL, 0, 201));
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
	/* smsverifyd -t says so, naming both files. */
	ck_assert_int_eq(check_conf(out, sizeof(out)), 1);
	snprintf(cert, sizeof(cert), "%s/pair-b.pem", H.dir);
	snprintf(key, sizeof(key), "%s/pair-c.key", H.dir);
	ck_assert_msg(strstr(out, "does not match") != NULL &&
	    strstr(out, cert) != NULL && strstr(out, key) != NULL,
	    "-t output: %s", out);
	/* A missing file too. */
	use_pair("pair-b", "nothing");
	write_conf_only();
	ck_assert_int_eq(check_conf(out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "nothing.key") != NULL, "-t output: %s",
	    out);
	/* And the good pair passes. */
	use_pair("pair-b", "pair-b");
	write_conf_only();
	ck_assert_int_eq(check_conf(out, sizeof(out)), 0);
}
END_TEST

START_TEST(half_pair_is_an_error)
{
	char out[2048], want[64];

	ck_assert_int_eq(h_tls_make(&H, "pair-a"), 0);
	/* [server] is the file's first section: listen is line 2, so the
	 * extra lines start at line 7 (harness.c's write_conf). */
	ck_assert_int_lt(snprintf(H.server_extra, sizeof(H.server_extra),
	    "tls_cert = %s/pair-a.pem\n", H.dir), (int)sizeof(H.server_extra));
	write_conf_only();
	ck_assert_int_eq(check_conf(out, sizeof(out)), 1);
	snprintf(want, sizeof(want), ":7: [server] tls_key: required");
	ck_assert_msg(strstr(out, want) != NULL, "-t output: %s", out);
	ck_assert_int_lt(snprintf(H.server_extra, sizeof(H.server_extra),
	    "\ntls_key = %s/pair-a.key\n", H.dir),
	    (int)sizeof(H.server_extra));
	write_conf_only();
	ck_assert_int_eq(check_conf(out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, ":8: [server] tls_cert: required") != NULL,
	    "-t output: %s", out);
}
END_TEST

START_TEST(bounds_over_tls)
{
	char buf[4096], err[256], *big;
	long long t0;
	SSL *ssl;
	int fd, n, got = 0;

	start_https();
	/* A client that connects and never says hello is closed by the
	 * request deadline (request_timeout = 10 in the harness). */
	fd = h_connect(H.http_port);
	ck_assert_int_ge(fd, 0);
	t0 = h_now_ms();
	n = read_to_close(fd, buf, sizeof(buf));
	close(fd);
	ck_assert_msg(n == 0, "a silent client was not closed (read %d)", n);
	ck_assert_msg(h_now_ms() - t0 >= 8000, "closed after %lld ms, "
	    "before the deadline", h_now_ms() - t0);
	/* The head cap holds over TLS: 431, in JSON. */
	fd = h_connect(H.http_port);
	ssl = h_tls_connect(fd, H.tls_ca, 0, err, sizeof(err));
	ck_assert_msg(ssl != NULL, "%s", err);
	big = malloc(40000);
	memset(big, 'a', 40000);
	n = snprintf(buf, sizeof(buf), "GET /healthz HTTP/1.1\r\nHost: x\r\n"
	    "X-Big: ");
	ck_assert_int_eq(SSL_write(ssl, buf, n), n);
	/* The daemon may close before it has read all of it. */
	(void)SSL_write(ssl, big, 40000);
	free(big);
	while (got < (int)sizeof(buf) - 1 &&
	    (n = SSL_read(ssl, buf + got, (int)sizeof(buf) - 1 - got)) > 0)
		got += n;
	buf[got] = '\0';
	ck_assert_msg(strncmp(buf, "HTTP/1.1 431", 12) == 0, "answer: %s",
	    buf);
	ck_assert_msg(strstr(buf, "\"error\"") != NULL, "answer: %s", buf);
	tls_close(ssl, fd);
	/* The body cap too: a Content-Length over 64 KiB is 413 unread. */
	fd = h_connect(H.http_port);
	ssl = h_tls_connect(fd, H.tls_ca, 0, err, sizeof(err));
	ck_assert_msg(ssl != NULL, "%s", err);
	n = snprintf(buf, sizeof(buf), "POST /v1/verifications HTTP/1.1\r\n"
	    "Host: x\r\nContent-Type: application/json\r\n"
	    "Content-Length: 70000\r\n\r\n");
	ck_assert_int_eq(SSL_write(ssl, buf, n), n);
	got = 0;
	while (got < (int)sizeof(buf) - 1 &&
	    (n = SSL_read(ssl, buf + got, (int)sizeof(buf) - 1 - got)) > 0)
		got += n;
	buf[got] = '\0';
	ck_assert_msg(strncmp(buf, "HTTP/1.1 413", 12) == 0, "answer: %s",
	    buf);
	tls_close(ssl, fd);
}
END_TEST

START_TEST(shedding_over_tls)
{
	enum { CAP = 4 };
	int fds[CAP], closed = 0, fd;
	char buf[1024];
	struct pollfd p;

	ck_assert_int_eq(h_tls_make(&H, "pair-a"), 0);
	ck_assert_int_lt(snprintf(H.server_extra, sizeof(H.server_extra),
	    "max_connections = %d\ntls_cert = %s/pair-a.pem\n"
	    "tls_key = %s/pair-a.key\n", CAP, H.dir, H.dir),
	    (int)sizeof(H.server_extra));
	h_start_all(&H);
	/* CAP clients that connect and never say hello fill the cap... */
	for (int i = 0; i < CAP; i++) {
		fds[i] = h_connect(H.http_port);
		ck_assert_int_ge(fds[i], 0);
	}
	/* ...and HTTPS clients are still served: the silent ones make
	 * room, oldest first (each request sheds one). */
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(h_http(&H, "GET", "/healthz", NULL, NULL,
		    NULL, buf, sizeof(buf)), 200);
	/* The first one was closed for it (bounded: it is closed at once,
	 * well within the socket's timeout). */
	p.fd = fds[0];
	p.events = POLLIN;
	if (poll(&p, 1, 5000) == 1 && read(fds[0], buf, sizeof(buf)) <= 0)
		closed = 1;
	ck_assert_msg(closed, "the oldest silent client was not shed");
	for (int i = 0; i < CAP; i++)
		close(fds[i]);
	fd = h_connect(H.http_port);
	ck_assert_int_ge(fd, 0);
	close(fd);
}
END_TEST

/* tls.c's own answers, without a daemon: each error names the file. */
START_TEST(tls_errors_name_the_file)
{
	char a[400], b[400], ak[400], bk[400], junk[400], *err = NULL;
	struct tls *t;
	FILE *f;

	ck_assert_int_eq(h_tls_make(&H, "pair-a"), 0);
	ck_assert_int_eq(h_tls_make(&H, "pair-b"), 0);
	snprintf(a, sizeof(a), "%s/pair-a.pem", H.dir);
	snprintf(ak, sizeof(ak), "%s/pair-a.key", H.dir);
	snprintf(b, sizeof(b), "%s/pair-b.pem", H.dir);
	snprintf(bk, sizeof(bk), "%s/pair-b.key", H.dir);
	snprintf(junk, sizeof(junk), "%s/junk.pem", H.dir);
	ck_assert_ptr_nonnull(f = fopen(junk, "w"));
	fputs("-----BEGIN CERTIFICATE-----\nnot base64\n"
	    "-----END CERTIFICATE-----\n", f);
	fclose(f);

	ck_assert_int_eq(tls_check(a, ak, &err), 0);
	ck_assert_ptr_null(err);
	/* A key that is not the certificate's. */
	ck_assert_int_eq(tls_check(a, bk, &err), -1);
	ck_assert_msg(strstr(err, "does not match") && strstr(err, a) &&
	    strstr(err, bk), "%s", err);
	free(err);
	/* A file that is not there, or not PEM. */
	ck_assert_ptr_null(tls_new(junk, ak, &err));
	ck_assert_msg(strstr(err, "tls_cert") && strstr(err, junk), "%s",
	    err);
	free(err);
	ck_assert_ptr_null(tls_new(a, junk, &err));
	ck_assert_msg(strstr(err, "tls_key") && strstr(err, junk), "%s", err);
	free(err);
	/* A reload that fails keeps the pair in use; one that works
	 * replaces it. */
	ck_assert_ptr_nonnull(t = tls_new(a, ak, &err));
	ck_assert_str_eq(tls_subject(t), "/CN=pair-a");
	ck_assert_int_eq(tls_reload(t, b, ak, &err), -1);
	free(err);
	ck_assert_str_eq(tls_subject(t), "/CN=pair-a");
	ck_assert_int_eq(tls_reload(t, b, bk, &err), 0);
	ck_assert_str_eq(tls_subject(t), "/CN=pair-b");
	tls_free(t);
}
END_TEST

static Suite *
tls_suite(void)
{
	Suite *s = suite_create("tls");
	const struct h_test tests[] = {
		{ "https_send_and_check", https_send_and_check, 1 },
		{ "tls11_refused", tls11_refused, 1 },
		{ "server_cipher_order", server_cipher_order, 1 },
		{ "plain_http_refused", plain_http_refused, 1 },
		{ "sighup_new_pair", sighup_new_pair, 1 },
		{ "bad_pair_refused", bad_pair_refused, 1 },
		{ "half_pair_is_an_error", half_pair_is_an_error, 1 },
		{ "bounds_over_tls", bounds_over_tls, 1 },
		{ "shedding_over_tls", shedding_over_tls, 1 },
		{ "tls_errors_name_the_file", tls_errors_name_the_file, 1 },
	};

	h_add_tests(s, tests, sizeof(tests) / sizeof(tests[0]), setup,
	    teardown);
	return s;
}

int
main(void)
{
	return h_run_suite(tls_suite());
}
