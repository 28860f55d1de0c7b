/*
 * peer.c - shared by the test peers (peer.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/http.h>

#include "peer.h"

int
peer_bound_port(struct evhttp_bound_socket *handle)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	evutil_socket_t fd = evhttp_bound_socket_get_fd(handle);

	if (getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		return -1;
	return ntohs(sin.sin_port);
}

int
peer_write_portfile(const char *path, int port)
{
	char tmp[PATH_MAX];
	FILE *fp;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fp = fopen(tmp, "w")) == NULL)
		return -1;
	fprintf(fp, "%d\n", port);
	if (fclose(fp) == EOF || rename(tmp, path) == -1) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

const char *
peer_tls_path(char *buf, size_t size, const char *file)
{
	const char *dir = getenv("SV_SRCDIR");

	snprintf(buf, size, "%s/tests/data/tls/%s", dir ? dir : ".", file);
	return buf;
}
