/*
 * smpp_tls.h - TLS for a session's bind (smpp_tls.c); private to smpp/.
 */
#ifndef SMPP_TLS_H
#define SMPP_TLS_H

#include <openssl/ssl.h>

struct bufferevent;
struct event_base;

/* TLS 1.2 or later; the peer must present a certificate that chains to
 * ca_file (the system store when NULL).  NULL, with the reason logged
 * under smsc's name, when the CA cannot be loaded. */
SSL_CTX *smpp_tls_context(const char *smsc, const char *ca_file);
/* A client-side openssl bufferevent on base (no socket yet) whose SSL
 * checks the peer's certificate against server_name (a name, or an
 * address literal: no SNI then).  NULL on failure. */
struct bufferevent *smpp_tls_bufferevent(struct event_base *base,
    SSL_CTX *ctx, const char *server_name);
/* Log why bev's handshake failed, if TLS failed (a certificate that does
 * not verify, or an OpenSSL error): 1 when it logged, 0 when the failure
 * was below TLS (the TCP connect). */
int smpp_tls_failed(struct bufferevent *bev, const char *smsc,
    const char *server_name);

#endif
