/*
 * hook_sink.c - a webhook receiver for the integration tests: the far end
 * of smsverifyd's webhook deliveries, recording what it was sent.
 *
 *	hook_sink -p PORT -P PORTFILE -o LOGFILE [--fail-first N]
 *	    [--fail-status S] [--slow-ms MS] [--tls-cert FILE --tls-key FILE]
 *
 * One evhttp listener on 127.0.0.1 only takes every request, whatever its
 * method or path.  The first N to arrive (--fail-first, default 0) are
 * answered with status S (--fail-status, 300-599, default 500) and body
 * "no", later ones with 200 and "ok", so a test can make the daemon retry
 * a known number of times.  --slow-ms holds each answer back on a timer,
 * for the daemon's timeouts; the loop keeps serving meanwhile.
 *
 * With --tls-cert and --tls-key (PEM: the certificate chain and its key)
 * it speaks HTTPS instead, so the daemon's certificate checks can be
 * tried: a client that refuses the certificate never gets to send a
 * request, and so leaves no line.
 *
 * Each answer is preceded by ONE JSON line appended and flushed to
 * LOGFILE, so a test that saw the answer can read the line:
 *
 *	{"ts":1718000000.123456,"method":"POST","path":"/hook",
 *	 "signature":"t=..,v1=..","content_type":"application/json",
 *	 "body":"{..}"}
 *
 * ts is the arrival (Unix seconds); path has no query; signature and
 * content_type are the Smsverify-Signature and Content-Type headers or
 * null; body is the raw body (at most 1 MiB) as a string, null if not
 * UTF-8.  Failed answers add "failed":true, so lines count attempts.
 *
 * PORT 0 picks a free port.  PORTFILE gets the port bound (written to a
 * temporary name and renamed, so a reader never sees half of it), stderr
 * "hook_sink listening port=N".  SIGINT and SIGTERM stop the loop; all is
 * freed and the exit status is 0.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "peer.h"

#define MAX_BODY (1024 * 1024)

struct sink;

/* A request whose answer waits for --slow-ms. */
struct pending {
	TAILQ_ENTRY(pending) entry;
	struct sink *sink;
	struct evhttp_request *req;
	struct event *timer; /* NULL: answered at once, off the list */
	double ts;
	int failed;
};

struct sink {
	struct event_base *base;
	struct evhttp *http;
	struct event *sigint, *sigterm;
	SSL_CTX *tls;        /* NULL: plain HTTP */
	FILE *log;
	long fail_first, seen;
	int fail_status, slow_ms;
	TAILQ_HEAD(, pending) pending;
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: hook_sink -p PORT -P PORTFILE -o LOGFILE "
	    "[--fail-first N] [--fail-status S] [--slow-ms MS] "
	    "[--tls-cert FILE --tls-key FILE]\n");
	exit(2);
}

/* An integer option within [min, max], or usage(). */
static long
num_arg(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < min || v > max)
		usage();
	return v;
}

static double
now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec + tv.tv_usec / 1e6;
}

static const char *
method_name(enum evhttp_cmd_type cmd)
{
	static const char *names[] = {"GET", "POST", "HEAD", "PUT", "DELETE",
	    "OPTIONS", "TRACE", "CONNECT", "PATCH"};
	size_t i;

	/* The enum is one bit per method, in this order. */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (cmd == 1u << i)
			return names[i];
	return "UNKNOWN";
}

/* s[0..len) as a JSON string, or null when it is not UTF-8. */
static json_t *
jstrn(const char *s, size_t len)
{
	json_t *j;

	if ((j = json_stringn(s, len)) == NULL)
		return json_null();
	return j;
}

/* s as a JSON string, or null when it is absent (or not UTF-8). */
static json_t *
jstr(const char *s)
{
	return s == NULL ? json_null() : jstrn(s, strlen(s));
}

/* Append p's line to the log.  A line that cannot be built is reported on
 * stderr rather than silently missing, since tests count lines. */
static void
sink_log(struct sink *sink, struct pending *p)
{
	struct evhttp_request *req = p->req;
	struct evkeyvalq *hdrs = evhttp_request_get_input_headers(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *method, *path = NULL, *sig, *ctype, *body = "";
	size_t len = evbuffer_get_length(in);
	json_t *line;
	char *s;

	if (uri != NULL)
		path = evhttp_uri_get_path(uri);
	if (path == NULL || *path == '\0')
		path = evhttp_request_get_uri(req);
	sig = evhttp_find_header(hdrs, "Smsverify-Signature");
	ctype = evhttp_find_header(hdrs, "Content-Type");
	/* pullup of an empty buffer is NULL; the body is then "". */
	if (len > 0)
		body = (const char *)evbuffer_pullup(in, -1);

	method = method_name(evhttp_request_get_command(req));
	/* "o" hands the values over: json_pack frees them even on error. */
	line = json_pack("{s:f, s:s, s:o, s:o, s:o, s:o}", "ts", p->ts,
	    "method", method, "path", jstr(path), "signature", jstr(sig),
	    "content_type", jstr(ctype), "body", jstrn(body, len));
	if (line != NULL && p->failed)
		json_object_set_new(line, "failed", json_true());
	if (line == NULL || (s = json_dumps(line, JSON_COMPACT)) == NULL) {
		fprintf(stderr, "hook_sink: cannot build a log line\n");
		json_decref(line);
		return;
	}
	fprintf(sink->log, "%s\n", s);
	fflush(sink->log);
	free(s);
	json_decref(line);
}

/* Answer p and free it.  Without logit the answer only hands the request
 * back to evhttp so that it is freed (at shutdown, when the loop will not
 * run again to deliver it); evhttp frees it too if the client is gone. */
static void
sink_answer(struct pending *p, int logit)
{
	struct sink *sink = p->sink;
	struct evhttp_request *req = p->req;

	if (logit)
		sink_log(sink, p);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain");
	evbuffer_add(evhttp_request_get_output_buffer(req),
	    p->failed ? "no" : "ok", 2);
	evhttp_send_reply(req, p->failed ? sink->fail_status : HTTP_OK, NULL,
	    NULL);
	if (p->timer != NULL) {
		TAILQ_REMOVE(&sink->pending, p, entry);
		event_free(p->timer);
	}
	free(p);
}

static void
on_timer(evutil_socket_t fd, short events, void *arg)
{
	(void)fd, (void)events;
	sink_answer(arg, 1);
}

/* Every request: decide its fate on arrival, so --fail-first counts
 * arrivals even when slow answers finish out of order. */
static void
on_request(struct evhttp_request *req, void *arg)
{
	struct sink *sink = arg;
	struct pending *p;
	struct timeval tv;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		evhttp_send_error(req, HTTP_SERVUNAVAIL, NULL);
		return;
	}
	p->sink = sink;
	p->req = req;
	p->ts = now();
	p->failed = sink->seen++ < sink->fail_first;
	/* Without a timer (none asked for, or no memory) answer now. */
	if (sink->slow_ms == 0 ||
	    (p->timer = evtimer_new(sink->base, on_timer, p)) == NULL) {
		sink_answer(p, 1);
		return;
	}
	TAILQ_INSERT_TAIL(&sink->pending, p, entry);
	tv.tv_sec = sink->slow_ms / 1000;
	tv.tv_usec = (sink->slow_ms % 1000) * 1000;
	evtimer_add(p->timer, &tv);
}

/* evhttp's bufferevent for each accepted connection when serving HTTPS:
 * the server side of a TLS handshake on the socket evhttp sets later.
 * NULL (no memory) makes evhttp drop the connection. */
static struct bufferevent *
tls_bev(struct event_base *base, void *arg)
{
	struct sink *sink = arg;
	SSL *ssl;

	if ((ssl = SSL_new(sink->tls)) == NULL)
		return NULL;
	/* BEV_OPT_CLOSE_ON_FREE: freeing the bufferevent frees ssl too. */
	return bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

/* The server context for cert (a PEM chain) and its key, or NULL with
 * the reason on stderr. */
static SSL_CTX *
tls_context(const char *cert, const char *key)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		fprintf(stderr, "hook_sink: cannot use %s and %s: %s\n", cert,
		    key, ERR_error_string(ERR_get_error(), NULL));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static void
on_signal(evutil_socket_t sig, short events, void *arg)
{
	(void)sig, (void)events;
	event_base_loopbreak(arg);
}

enum {
	OPT_FAIL_FIRST = 256,
	OPT_FAIL_STATUS,
	OPT_SLOW_MS,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
};

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"portfile", required_argument, NULL, 'P'},
	    {"log", required_argument, NULL, 'o'},
	    {"fail-first", required_argument, NULL, OPT_FAIL_FIRST},
	    {"fail-status", required_argument, NULL, OPT_FAIL_STATUS},
	    {"slow-ms", required_argument, NULL, OPT_SLOW_MS},
	    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
	    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sink sink;
	struct evhttp_bound_socket *handle;
	const char *portfile = NULL, *logfile = NULL;
	const char *tls_cert = NULL, *tls_key = NULL;
	struct pending *p;
	long port = -1;
	int ch, actual, rc = 1;

	memset(&sink, 0, sizeof(sink));
	TAILQ_INIT(&sink.pending);
	sink.fail_status = HTTP_INTERNAL;
	while ((ch = getopt_long(argc, argv, "p:P:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			port = num_arg(optarg, 0, 65535);
			break;
		case 'P':
			portfile = optarg;
			break;
		case 'o':
			logfile = optarg;
			break;
		case OPT_FAIL_FIRST:
			sink.fail_first = num_arg(optarg, 0, 1000000000);
			break;
		case OPT_FAIL_STATUS:
			/* Not 2xx: a failure must look like one. */
			sink.fail_status = (int)num_arg(optarg, 300, 599);
			break;
		case OPT_SLOW_MS:
			sink.slow_ms = (int)num_arg(optarg, 0, 3600000);
			break;
		case OPT_TLS_CERT:
			tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			tls_key = optarg;
			break;
		default:
			usage();
		}
	}
	if (port == -1 || portfile == NULL || logfile == NULL ||
	    optind != argc || (tls_cert == NULL) != (tls_key == NULL))
		usage();

	/* A client that vanishes mid-answer must not kill the sink. */
	signal(SIGPIPE, SIG_IGN);
	if ((sink.log = fopen(logfile, "a")) == NULL) {
		fprintf(stderr, "hook_sink: %s: %s\n", logfile,
		    strerror(errno));
		return 1;
	}
	if (tls_cert != NULL &&
	    (sink.tls = tls_context(tls_cert, tls_key)) == NULL)
		goto out;
	if ((sink.base = event_base_new()) == NULL ||
	    (sink.http = evhttp_new(sink.base)) == NULL) {
		fprintf(stderr, "hook_sink: cannot set up libevent\n");
		goto out;
	}
	evhttp_set_gencb(sink.http, on_request, &sink);
	if (sink.tls != NULL)
		evhttp_set_bevcb(sink.http, tls_bev, &sink);
	evhttp_set_max_body_size(sink.http, MAX_BODY);
	evhttp_set_allowed_methods(sink.http,
	    EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	        EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
	        EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	handle = evhttp_bind_socket_with_handle(sink.http, "127.0.0.1",
	    (ev_uint16_t)port);
	if (handle == NULL) {
		fprintf(stderr, "hook_sink: cannot listen on port %ld: %s\n",
		    port, strerror(errno));
		goto out;
	}
	if ((actual = peer_bound_port(handle)) == -1) {
		fprintf(stderr, "hook_sink: getsockname: %s\n",
		    strerror(errno));
		goto out;
	}
	if (peer_write_portfile(portfile, actual) == -1) {
		fprintf(stderr, "hook_sink: %s: %s\n", portfile,
		    strerror(errno));
		goto out;
	}
	sink.sigint = evsignal_new(sink.base, SIGINT, on_signal, sink.base);
	sink.sigterm = evsignal_new(sink.base, SIGTERM, on_signal, sink.base);
	if (sink.sigint == NULL || sink.sigterm == NULL ||
	    evsignal_add(sink.sigint, NULL) == -1 ||
	    evsignal_add(sink.sigterm, NULL) == -1) {
		fprintf(stderr, "hook_sink: cannot watch signals\n");
		goto out;
	}
	fprintf(stderr, "hook_sink listening port=%d\n", actual);

	if (event_base_dispatch(sink.base) == 0)
		rc = 0;

out:
	/* Answers still waiting are never delivered: not logged. */
	while ((p = TAILQ_FIRST(&sink.pending)) != NULL)
		sink_answer(p, 0);
	if (sink.sigint != NULL)
		event_free(sink.sigint);
	if (sink.sigterm != NULL)
		event_free(sink.sigterm);
	if (sink.http != NULL)
		evhttp_free(sink.http);
	if (sink.base != NULL)
		event_base_free(sink.base);
	SSL_CTX_free(sink.tls);
	fclose(sink.log);
	return rc;
}
