/*
 * bare_http.c - the benchmark's ceiling: the cheapest HTTP server libevent
 * can be, on the same evhttp that smsverifyd uses.
 *
 * It binds 127.0.0.1 only, reads each request's body (evhttp does that
 * before calling us), throws it away and answers 200 with a fixed small
 * JSON body shaped like a send's answer.  No logging per request, no store,
 * no SMPP: whatever smsverifyd does beyond this shows up in scripts/bench as
 * the distance from this server's figures.
 *
 *	bare_http -p PORT [-P PORTFILE]
 *
 * PORT 0 picks a free port; PORTFILE then receives the port actually bound
 * (written to a temporary name and renamed, so a reader never sees half of
 * it).  SIGINT and SIGTERM stop the loop and the program exits 0.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "peer.h"

static const char reply_body[] =
    "{\"id\":\"ver_000000000000000000000000\",\"status\":\"sent\"}";

static void
usage(void)
{
	fprintf(stderr, "usage: bare_http -p PORT [-P PORTFILE]\n");
	exit(2);
}

/* Every request, whatever its method or path: drop the body, answer 200. */
static void
on_request(struct evhttp_request *req, void *arg)
{
	struct evbuffer *in, *out;

	in = evhttp_request_get_input_buffer(req);
	evbuffer_drain(in, evbuffer_get_length(in));
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	out = evhttp_request_get_output_buffer(req);
	evbuffer_add_reference(out, reply_body, sizeof(reply_body) - 1, NULL,
	    NULL);
	evhttp_send_reply(req, HTTP_OK, "OK", NULL);
}

static void
on_signal(evutil_socket_t sig, short events, void *arg)
{
	event_base_loopbreak(arg);
}

int
main(int argc, char **argv)
{
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *handle;
	struct event *sigint, *sigterm;
	const char *portfile = NULL;
	char *end;
	long port = -1;
	int ch, actual;

	while ((ch = getopt(argc, argv, "p:P:")) != -1) {
		switch (ch) {
		case 'p':
			errno = 0;
			port = strtol(optarg, &end, 10);
			if (errno != 0 || *optarg == '\0' || *end != '\0' ||
			    port < 0 || port > 65535) {
				fprintf(stderr, "bare_http: bad port: %s\n",
				    optarg);
				return 2;
			}
			break;
		case 'P':
			portfile = optarg;
			break;
		default:
			usage();
		}
	}
	if (port == -1 || optind != argc)
		usage();

	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL ||
	    (http = evhttp_new(base)) == NULL) {
		fprintf(stderr, "bare_http: cannot set up libevent\n");
		return 1;
	}
	evhttp_set_gencb(http, on_request, NULL);
	evhttp_set_max_body_size(http, 64 * 1024);
	handle = evhttp_bind_socket_with_handle(http, "127.0.0.1",
	    (ev_uint16_t)port);
	if (handle == NULL) {
		fprintf(stderr, "bare_http: cannot listen on port %ld: %s\n",
		    port, strerror(errno));
		return 1;
	}
	if ((actual = peer_bound_port(handle)) == -1) {
		fprintf(stderr, "bare_http: getsockname: %s\n",
		    strerror(errno));
		return 1;
	}
	if (portfile != NULL && peer_write_portfile(portfile, actual) == -1) {
		fprintf(stderr, "bare_http: %s: %s\n", portfile,
		    strerror(errno));
		return 1;
	}

	sigint = evsignal_new(base, SIGINT, on_signal, base);
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	if (sigint == NULL || sigterm == NULL ||
	    evsignal_add(sigint, NULL) == -1 ||
	    evsignal_add(sigterm, NULL) == -1) {
		fprintf(stderr, "bare_http: cannot watch signals\n");
		return 1;
	}

	event_base_dispatch(base);

	event_free(sigint);
	event_free(sigterm);
	evhttp_free(http);
	event_base_free(base);
	return 0;
}
