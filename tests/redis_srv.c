/*
 * redis_srv.c - real redis-servers for the tests (redis_srv.h).
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

int
redis_srv_free_port(void)
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

int
redis_srv_unix_connects(const char *path)
{
	struct sockaddr_un sun;
	int fd, ok;

	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	util_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return ok;
}

int
redis_srv_tcp_connects(int port)
{
	struct sockaddr_in sin;
	int fd, ok;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	ok = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(fd);
	return ok;
}

/* Fork and exec argv (stdin and stdout to /dev/null), remember the pid,
 * and wait (10 s) until the server accepts. */
static void
spawn_wait(struct redis_srv *s, const char **argv, const char *logf)
{
	int64_t until;
	int fd;

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
	while ((!s->sentinel && !redis_srv_unix_connects(s->sock)) ||
	    !redis_srv_tcp_connects(s->port)) {
		ck_assert_msg(util_mono_ms() < until,
		    "redis-server did not listen within 10 s (see %s)", logf);
		ck_assert_int_eq(waitpid(s->pid, NULL, WNOHANG), 0);
		usleep(10000);
	}
}

static void
run_sentinel(struct redis_srv *s)
{
	char conf[192], logf[192], text[1024];
	const char *argv[4];
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/sentinel.conf", s->dir);
	snprintf(logf, sizeof(logf), "%s/sentinel.log", s->dir);
	snprintf(text, sizeof(text),
	    "port %d\nbind 127.0.0.1\ndaemonize no\nlogfile %s\ndir %s\n"
	    "sentinel monitor mymaster 127.0.0.1 %d 1\n"
	    "sentinel down-after-milliseconds mymaster 1000\n"
	    "sentinel failover-timeout mymaster 3000\n", s->port, logf,
	    s->dir, s->replicaof);
	if (s->pass != NULL)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
		    "requirepass %s\n", s->pass);
	ck_assert_ptr_nonnull(f = fopen(conf, "w"));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	argv[0] = REDIS_SERVER;
	argv[1] = conf;
	argv[2] = "--sentinel";
	argv[3] = NULL;
	spawn_wait(s, argv, logf);
}

void
redis_srv_restart(struct redis_srv *s)
{
	char port[16], logf[192], master[16];
	const char *argv[40];
	int n = 0;

	if (s->sentinel) {
		run_sentinel(s);
		return;
	}
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
	if (s->pass != NULL) {
		argv[n++] = "--requirepass";
		argv[n++] = s->pass;
	}
	if (s->replicaof > 0) {
		snprintf(master, sizeof(master), "%d", s->replicaof);
		argv[n++] = "--replicaof";
		argv[n++] = "127.0.0.1";
		argv[n++] = master;
	}
	argv[n] = NULL;
	spawn_wait(s, argv, logf);
}

/* A new dir and port for s, with its role. */
static void
srv_init(struct redis_srv *s, const char *top, const char *pass,
    int replicaof, int sentinel)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s/redis.XXXXXX", top);
	ck_assert_ptr_nonnull(mkdtemp(s->dir));
	snprintf(s->sock, sizeof(s->sock), "%s/r.sock", s->dir);
	s->port = redis_srv_free_port();
	snprintf(s->tcp, sizeof(s->tcp), "127.0.0.1:%d", s->port);
	s->pass = pass;
	s->replicaof = replicaof;
	s->sentinel = sentinel;
	redis_srv_restart(s);
}

void
redis_srv_start(struct redis_srv *s, const char *top, const char *pass)
{
	srv_init(s, top, pass, 0, 0);
}

void
redis_srv_start_replica(struct redis_srv *s, const char *top,
    int master_port)
{
	srv_init(s, top, NULL, master_port, 0);
}

void
redis_srv_start_sentinel(struct redis_srv *s, const char *top,
    int master_port, const char *pass)
{
	srv_init(s, top, pass, master_port, 1);
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
redis_srv_rm(struct redis_srv *s)
{
	char cmd[200];

	redis_srv_kill(s);
	if (s->dir[0] != '\0' && strncmp(s->dir, "/tmp/", 5) == 0 &&
	    strchr(s->dir, '\'') == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "redis_srv: could not remove %s\n",
			    s->dir);
	}
	s->dir[0] = '\0';
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
