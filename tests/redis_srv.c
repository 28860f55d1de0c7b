/*
 * redis_srv.c - a real redis-server for a test (redis_srv.h).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <check.h>

#include "redis_srv.h"
#include "util.h"

static pid_t pids[32];
static int npids;

int
redis_srv_have(void)
{
	return access(REDIS_SERVER, X_OK) == 0;
}

static int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd, port;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static int
listens(const struct redis_srv *s)
{
	struct sockaddr_un sun;
	struct sockaddr_in sin;
	int fd, ok;

	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	util_strlcpy(sun.sun_path, s->sock, sizeof(sun.sun_path));
	ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	if (!ok || (fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)s->port);
	ok = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(fd);
	return ok;
}

void
redis_srv_restart(struct redis_srv *s)
{
	char port[16], logf[192], mport[16];
	const char *argv[32];
	int64_t until;
	int n = 0, fd;

	snprintf(port, sizeof(port), "%d", s->port);
	snprintf(logf, sizeof(logf), "%s/redis.log", s->dir);
	argv[n++] = REDIS_SERVER;
	argv[n++] = "--port";
	argv[n++] = port;
	argv[n++] = "--bind";
	argv[n++] = "127.0.0.1";
	argv[n++] = "--save";
	argv[n++] = "";
	argv[n++] = "--appendonly";
	argv[n++] = "yes";
	argv[n++] = "--appendfsync";
	argv[n++] = "always";
	argv[n++] = "--dir";
	argv[n++] = s->dir;
	argv[n++] = "--unixsocket";
	argv[n++] = s->sock;
	argv[n++] = "--unixsocketperm";
	argv[n++] = "700";
	argv[n++] = "--logfile";
	argv[n++] = logf;
	argv[n++] = "--daemonize";
	argv[n++] = "no";
	if (s->master_port > 0) {
		snprintf(mport, sizeof(mport), "%d", s->master_port);
		argv[n++] = "--replicaof";
		argv[n++] = "127.0.0.1";
		argv[n++] = mport;
	}
	argv[n] = NULL;
	s->pid = fork();
	ck_assert_int_ge(s->pid, 0);
	if (s->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		dup2(fd, 1);
		execv(REDIS_SERVER, (char *const *)argv);
		_exit(127);
	}
	ck_assert_int_lt(npids, 32);
	pids[npids++] = s->pid;
	until = util_mono_ms() + 10000;
	while (!listens(s)) {
		ck_assert_msg(util_mono_ms() < until,
		    "redis-server did not listen within 10 s (see %s)", logf);
		ck_assert_int_eq(waitpid(s->pid, NULL, WNOHANG), 0);
		usleep(10000);
	}
}

void
redis_srv_start(struct redis_srv *s, const char *top)
{
	memset(s, 0, sizeof(*s));
	s->master_port = 0;
	snprintf(s->dir, sizeof(s->dir), "%s/redis.XXXXXX", top);
	ck_assert_ptr_nonnull(mkdtemp(s->dir));
	snprintf(s->sock, sizeof(s->sock), "%s/r.sock", s->dir);
	s->port = free_port();
	snprintf(s->tcp, sizeof(s->tcp), "127.0.0.1:%d", s->port);
	redis_srv_restart(s);
}

void
redis_srv_start_replica(struct redis_srv *s, const char *top,
    const struct redis_srv *master)
{
	memset(s, 0, sizeof(*s));
	s->master_port = master->port;
	snprintf(s->dir, sizeof(s->dir), "%s/replica.XXXXXX", top);
	ck_assert_ptr_nonnull(mkdtemp(s->dir));
	snprintf(s->sock, sizeof(s->sock), "%s/r.sock", s->dir);
	s->port = free_port();
	snprintf(s->tcp, sizeof(s->tcp), "127.0.0.1:%d", s->port);
	redis_srv_restart(s);
}

void
redis_srv_kill(struct redis_srv *s)
{
	int i;

	if (s->pid <= 0)
		return;
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	for (i = 0; i < npids; i++)
		if (pids[i] == s->pid)
			pids[i] = 0;
	s->pid = 0;
}

void
redis_srv_kill_all(void)
{
	int i;

	for (i = 0; i < npids; i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
			pids[i] = 0;
		}
}
