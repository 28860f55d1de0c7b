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

#include <hiredis/hiredis.h>

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

int
redis_sentinels_parse(const char *s, struct redis_addr *a, int *n, char *err,
    size_t errsize)
{
	char one[256], sub[200];
	const char *p, *e;
	size_t len;
	int i = 0;

	*n = 0;
	if (s == NULL)
		s = "";
	for (p = s;; p = e + 1) {
		while (*p == ' ' || *p == '\t')
			p++;
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		len = (size_t)(e - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0) {
			snprintf(err, errsize, "redis sentinels: element %d is "
			    "empty (host:port,host:port)", i + 1);
			return (-1);
		}
		if (i == REDIS_SENTINELS_MAX) {
			snprintf(err, errsize, "redis sentinels: more than %d",
			    REDIS_SENTINELS_MAX);
			return (-1);
		}
		if (len >= sizeof(one)) {
			snprintf(err, errsize, "redis sentinels: element %d is "
			    "longer than %zu octets", i + 1, sizeof(one) - 1);
			return (-1);
		}
		memcpy(one, p, len);
		one[len] = '\0';
		if (redis_addr_parse(one, &a[i], sub, sizeof(sub)) == -1) {
			snprintf(err, errsize, "redis sentinels: element %d: %s",
			    i + 1, sub);
			return (-1);
		}
		i++;
		if (*e == '\0')
			break;
	}
	*n = i;
	return (0);
}

int
redis_master_name_check(const char *name, char *err, size_t errsize)
{
	size_t i;

	if (name == NULL || name[0] == '\0') {
		snprintf(err, errsize, "redis master name: empty");
		return (-1);
	}
	for (i = 0; name[i] != '\0'; i++) {
		if (i == REDIS_MASTER_NAME_MAX) {
			snprintf(err, errsize, "redis master name: longer than "
			    "%d octets", REDIS_MASTER_NAME_MAX);
			return (-1);
		}
		if ((unsigned char)name[i] <= 0x20 ||
		    (unsigned char)name[i] >= 0x7f) {
			snprintf(err, errsize, "redis master name: octet %zu "
			    "is not printable ASCII (no blank)", i + 1);
			return (-1);
		}
	}
	return (0);
}

int
redis_sentinel_reply(const struct redisReply *rp, struct redis_addr *a,
    char *err, size_t errsize)
{
	const redisReply *h, *p;
	unsigned char bin[16];
	char port[8];

	memset(a, 0, sizeof(*a));
	if (rp == NULL) {
		snprintf(err, errsize, "no reply");
		return (-1);
	}
	if (rp->type == REDIS_REPLY_NIL) {
		snprintf(err, errsize, "the sentinel does not know the master");
		return (-1);
	}
	if (rp->type == REDIS_REPLY_ERROR) {
		/* The sentence itself, printable octets only, cut short. */
		{
			size_t i, k, m;

			k = (size_t)snprintf(err, errsize, "error reply \"");
			if (k >= errsize)
				return (-1);
			m = rp->len > 80 ? 80 : rp->len;
			for (i = 0; i < m && k + 2 < errsize; i++)
				err[k++] = rp->str[i] >= 0x20 &&
				    rp->str[i] < 0x7f && rp->str[i] != '"' ?
				    rp->str[i] : '?';
			if (k + 1 < errsize) {
				err[k++] = '"';
				err[k] = '\0';
			}
		}
		return (-1);
	}
	if (rp->type != REDIS_REPLY_ARRAY || rp->elements != 2) {
		snprintf(err, errsize, "not an array of 2 (type %d)", rp->type);
		return (-1);
	}
	h = rp->element[0];
	p = rp->element[1];
	if (h == NULL || p == NULL || h->type != REDIS_REPLY_STRING ||
	    p->type != REDIS_REPLY_STRING) {
		snprintf(err, errsize, "the host and port are not strings");
		return (-1);
	}
	if (h->len == 0 || h->len >= sizeof(a->host) ||
	    memchr(h->str, '\0', h->len) != NULL) {
		snprintf(err, errsize, "the host is empty, too long or holds "
		    "a NUL");
		return (-1);
	}
	memcpy(a->host, h->str, h->len);
	a->host[h->len] = '\0';
	if (inet_pton(AF_INET, a->host, bin) != 1 &&
	    inet_pton(AF_INET6, a->host, bin) != 1) {
		memset(a, 0, sizeof(*a));
		snprintf(err, errsize, "the host is not an IP address (a name "
		    "would block the loop to resolve)");
		return (-1);
	}
	if (p->len == 0 || p->len >= sizeof(port) ||
	    memchr(p->str, '\0', p->len) != NULL) {
		memset(a, 0, sizeof(*a));
		snprintf(err, errsize, "the port is not a number in 1..65535");
		return (-1);
	}
	memcpy(port, p->str, p->len);
	port[p->len] = '\0';
	if (parse_port(port, &a->port) == -1) {
		memset(a, 0, sizeof(*a));
		snprintf(err, errsize, "the port is not a number in 1..65535");
		return (-1);
	}
	a->kind = REDIS_ADDR_TCP;
	return (0);
}

int
redis_switch_parse(const char *msg, size_t len, const char *name,
    struct redis_addr *to, char *err, size_t errsize)
{
	const char *f[5];
	size_t fl[5], i, k = 0, start = 0;
	unsigned char bin[16];
	char port[8];

	memset(to, 0, sizeof(*to));
	if (len > 512 || memchr(msg, '\0', len) != NULL) {
		snprintf(err, errsize, "+switch-master: longer than 512 "
		    "octets or holds a NUL");
		return (-1);
	}
	/* name old-ip old-port new-ip new-port, one space apart */
	for (i = 0; i <= len; i++) {
		if (i < len && msg[i] != ' ')
			continue;
		if (k == 5 || i == start) {
			snprintf(err, errsize, "+switch-master: not 5 words "
			    "one space apart");
			return (-1);
		}
		f[k] = msg + start;
		fl[k++] = i - start;
		start = i + 1;
	}
	if (k != 5) {
		snprintf(err, errsize, "+switch-master: not 5 words one space "
		    "apart");
		return (-1);
	}
	if (fl[0] != strlen(name) || memcmp(f[0], name, fl[0]) != 0)
		return (0);
	if (fl[3] >= sizeof(to->host) || fl[4] >= sizeof(port)) {
		snprintf(err, errsize, "+switch-master: the new address is "
		    "too long");
		return (-1);
	}
	memcpy(to->host, f[3], fl[3]);
	to->host[fl[3]] = '\0';
	memcpy(port, f[4], fl[4]);
	port[fl[4]] = '\0';
	if ((inet_pton(AF_INET, to->host, bin) != 1 &&
	    inet_pton(AF_INET6, to->host, bin) != 1) ||
	    parse_port(port, &to->port) == -1) {
		memset(to, 0, sizeof(*to));
		snprintf(err, errsize, "+switch-master: the new address is "
		    "not an IP address and a port in 1..65535");
		return (-1);
	}
	to->kind = REDIS_ADDR_TCP;
	return (1);
}
