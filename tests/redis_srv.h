/*
 * redis_srv.h - a real redis-server for a test: Debian's
 * /usr/bin/redis-server in a temp dir, on 127.0.0.1 (a free port) and a
 * unix socket, appendonly yes with appendfsync always, killed at exit and
 * by the kernel if the test dies (PR_SET_PDEATHSIG).
 */
#ifndef REDIS_SRV_H
#define REDIS_SRV_H

#include <sys/types.h>

#define REDIS_SERVER "/usr/bin/redis-server"

struct redis_srv {
	int master_port;        /* a replica of 127.0.0.1:master_port; 0 none */
	char dir[128];
	char sock[160];
	char tcp[32];           /* "127.0.0.1:N" */
	int port;
	pid_t pid;
};

/* 1 when redis-server is installed. */
int redis_srv_have(void);
/* A fresh server in a new dir under top (made with mkdtemp).  Waits until
 * it listens, 10 s at most; aborts the test otherwise. */
void redis_srv_start(struct redis_srv *, const char *top);
/* A replica of master (replicaof), started as redis_srv_start(). */
void redis_srv_start_replica(struct redis_srv *, const char *top,
    const struct redis_srv *master);
/* kill -9, and the same server (same dir, port, data) again. */
void redis_srv_kill(struct redis_srv *);
void redis_srv_restart(struct redis_srv *);
/* Every server this process started, killed (for atexit). */
void redis_srv_kill_all(void);

#endif
