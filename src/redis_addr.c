/*
 * redis_addr.c - the forms of a Redis address, parsed.  Pure: no I/O, no
 * resolver (a host name would need getaddrinfo(), which blocks the loop in
 * hiredis 0.14; only IP literals and "localhost" are taken).
 *
 *	127.0.0.1:6379   [::1]:6379   localhost   unix:/run/redis/redis.sock
 */
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>

#include "redis.h"

#define REDIS_DEFAULT_PORT 6379

static int
fail(char *err, size_t errsize, const char *s, const char *what)
{
	char shown[80];
	size_t i, n = 0;

	/* The address as given, printable octets only and cut short. */
	for (i = 0; s[i] != '\0' && n + 4 < sizeof(shown); i++)
		shown[n++] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"') ?
		    s[i] : '?';
	if (s[i] != '\0') {
		shown[n++] = '.';
		shown[n++] = '.';
		shown[n++] = '.';
	}
	shown[n] = '\0';
	snprintf(err, errsize, "redis address \"%s\": %s", shown, what);
	return (-1);
}

static int
parse_port(const char *p, int *port)
{
	long v = 0;

	if (*p == '\0')
		return (-1);
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return (-1);
		v = v * 10 + (*p - '0');
		if (v > 65535)
			return (-1);
	}
	if (v < 1)
		return (-1);
	*port = (int)v;
	return (0);
}

int
redis_addr_parse(const char *s, struct redis_addr *a, char *err,
    size_t errsize)
{
	char host[64];
	const char *orig = s, *end, *port;
	unsigned char bin[16];
	size_t hl;

	memset(a, 0, sizeof(*a));
	if (s == NULL || *s == '\0')
		return (fail(err, errsize, "", "empty"));
	if (strncmp(s, "unix:", 5) == 0) {
		if (s[5] != '/')
			return (fail(err, errsize, s,
			    "the socket path must be absolute (unix:/path)"));
		if (strlen(s + 5) >= sizeof(a->path))
			return (fail(err, errsize, s,
			    "the socket path is longer than 107 octets"));
		a->kind = REDIS_ADDR_UNIX;
		memcpy(a->path, s + 5, strlen(s + 5) + 1);
		return (0);
	}
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (end == NULL)
			return (fail(err, errsize, s, "no ']' after the IPv6 "
			    "address"));
		hl = (size_t)(end - s - 1);
		port = end + 1;
		if (*port != '\0' && *port != ':')
			return (fail(err, errsize, s, "':' must follow ']'"));
		s++;
	} else {
		end = strchr(s, ':');
		if (end != NULL && strchr(end + 1, ':') != NULL)
			return (fail(err, errsize, orig, "an IPv6 address "
			    "goes in brackets: [::1]:6379"));
		hl = end != NULL ? (size_t)(end - s) : strlen(s);
		port = end != NULL ? end : s + hl;
	}
	if (hl == 0)
		return (fail(err, errsize, orig, "no host before the port"));
	if (hl >= sizeof(host))
		return (fail(err, errsize, orig, "host too long"));
	memcpy(host, s, hl);
	host[hl] = '\0';
	a->port = REDIS_DEFAULT_PORT;
	if (*port == ':' && parse_port(port + 1, &a->port) == -1)
		return (fail(err, errsize, orig,
		    "the port must be a number in 1..65535"));
	if (strcmp(host, "localhost") == 0)
		memcpy(host, "127.0.0.1", sizeof("127.0.0.1"));
	if (inet_pton(AF_INET, host, bin) != 1 &&
	    inet_pton(AF_INET6, host, bin) != 1)
		return (fail(err, errsize, orig, "the host must be an IP address "
		    "or localhost (a name would block the loop to resolve)"));
	a->kind = REDIS_ADDR_TCP;
	memcpy(a->host, host, strlen(host) + 1);
	return (0);
}
