/*
 * peer.h - what the test peers (smsc_sim, hook_sink, bare_http) share:
 * telling the script or test that started them which port they got; and
 * what the tests that talk TLS to a peer share: where its test
 * certificates are.
 */
#ifndef PEER_H
#define PEER_H

#include <stddef.h>

struct evhttp_bound_socket;

/* The port the kernel gave an evhttp listener, or -1. */
int peer_bound_port(struct evhttp_bound_socket *);
/* Write port to path atomically (path.tmp, then rename), so a reader
 * never sees half a number.  0, or -1 with errno set. */
int peer_write_portfile(const char *path, int port);
/* The path of file in tests/data/tls (see its README) under $SV_SRCDIR,
 * or under "." when that is unset, written into buf (truncated to size).
 * Returns buf. */
const char *peer_tls_path(char *buf, size_t size, const char *file);

#endif
