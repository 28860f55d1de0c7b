/*
 * smpp_tls.c - the client side of an SMPP bind over TLS: the context (TLS
 * 1.2 or later, the SMSC's certificate chained to a CA file or the system
 * store), the bufferevent whose SSL checks the certificate's name or
 * address, and the log line of a failed handshake.  smpp_session.c owns
 * the session; this file only knows OpenSSL and libevent's openssl
 * bufferevents.
 */
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "smpp_tls.h"

/* The session's TLS context: TLS 1.2 or later, the peer must present a
 * certificate that chains to ca_file (or the system store when NULL).
 * NULL, with the reason logged, when the CA cannot be loaded. */
SSL_CTX *
smpp_tls_context(const char *smsc, const char *ca_file)
{
	SSL_CTX *ctx;
	char nb[128], fb[300], eb[256], es[256];
	int ok;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file != NULL)
		ok = SSL_CTX_load_verify_locations(ctx, ca_file, NULL) == 1;
	else
		ok = SSL_CTX_set_default_verify_paths(ctx) == 1;
	if (!ok) {
		ERR_error_string_n(ERR_peek_last_error(), es, sizeof(es));
		ERR_clear_error();
		log_err("smpp.config", "smsc=%s tls_ca_file=%s ssl_error=%s "
		    "msg=\"cannot load the CA certificates\"",
		    log_str(nb, sizeof(nb), smsc),
		    log_str(fb, sizeof(fb), ca_file ? ca_file : "(system)"),
		    log_str(eb, sizeof(eb), es));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* A client-side openssl bufferevent (not yet connected) whose SSL checks
 * the peer's certificate against tls_server_name.  NULL on failure. */
struct bufferevent *
smpp_tls_bufferevent(struct event_base *base, SSL_CTX *ctx, const char *sn)
{
	struct in6_addr a6;
	struct bufferevent *bev;
	SSL *ssl;
	int is_ip, ok;

	if ((ssl = SSL_new(ctx)) == NULL)
		return NULL;
	is_ip = inet_pton(AF_INET, sn, &a6) == 1 ||
	    inet_pton(AF_INET6, sn, &a6) == 1;
	if (is_ip) {
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), sn);
	} else {
		/* No SNI for an address literal (RFC 6066, section 3). */
		ok = SSL_set_tlsext_host_name(ssl, sn) == 1 &&
		    SSL_set1_host(ssl, sn) == 1;
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	}
	if (!ok) {
		SSL_free(ssl);
		return NULL;
	}
	/* With BEV_OPT_CLOSE_ON_FREE the bufferevent owns ssl, also when
	 * this call fails. */
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev != NULL)
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/*
 * Log why a TLS handshake failed, if it was TLS that failed (a certificate
 * that does not verify, or any OpenSSL error).  Returns 1 when it logged,
 * 0 when the failure was below TLS (the TCP connect).
 */
int
smpp_tls_failed(struct bufferevent *bev, const char *smsc,
    const char *server_name)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	long vr = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	unsigned long e, first = 0;
	char nb[128], vb[256], eb[256], es[256];

	/* Drain libevent's queue of OpenSSL errors; keep the first. */
	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (first == 0)
			first = e;
	if (vr == X509_V_OK && first == 0)
		return 0;
	if (first != 0)
		ERR_error_string_n(first, es, sizeof(es));
	else
		snprintf(es, sizeof(es), "none");
	log_err("smpp.tls_failed", "smsc=%s server_name=%s verify_error=%s "
	    "ssl_error=%s", log_str(nb, sizeof(nb), smsc),
	    server_name,
	    log_str(vb, sizeof(vb), X509_verify_cert_error_string(vr)),
	    log_str(eb, sizeof(eb), es));
	return 1;
}
