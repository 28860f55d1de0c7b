/*
 * redis_srv.h - real redis-servers for the tests: Debian's
 * /usr/bin/redis-server in a temp dir, on 127.0.0.1 (a free port) and a
 * unix socket, appendonly yes with appendfsync always; a master (with a
 * password or not), a replica of one, or a sentinel watching one.  Every
 * server is killed at teardown, at exit (redis_srv_kill_all) and by the
 * kernel if the test process dies (PR_SET_PDEATHSIG).  Used by
 * check_redis, check_store_redis and check_redis_e2e.
 */
#ifndef REDIS_SRV_H
#define REDIS_SRV_H

#include <sys/types.h>

#define REDIS_SERVER "/usr/bin/redis-server"

struct redis_srv {
	char dir[96];
	char sock[128];
	char tcp[32];           /* "127.0.0.1:N" */
	int port;
	const char *pass;       /* --requirepass, or NULL */
	int replicaof;          /* the master's port; 0: a master */
	int sentinel;           /* a sentinel (no unix socket) */
	pid_t pid;
};

/* 1 when redis-server is installed. */
int redis_srv_have(void);
/* A fresh master in a new dir under top (mkdtemp), requirepass pass
 * unless NULL.  Waits until it listens, 10 s at most, else the test
 * fails. */
void redis_srv_start(struct redis_srv *, const char *top, const char *pass);
/* A replica of the master on master_port (--replicaof), listening. */
void redis_srv_start_replica(struct redis_srv *, const char *top,
    int master_port);
/* A sentinel watching 127.0.0.1:master_port as "mymaster", quorum 1,
 * down after 1 s, failover timeout 3 s (requirepass pass unless NULL). */
void redis_srv_start_sentinel(struct redis_srv *, const char *top,
    int master_port, const char *pass);
/* The same server again: same dir, port, socket and data. */
void redis_srv_restart(struct redis_srv *);
/* kill -9 (nothing when it is not running). */
void redis_srv_kill(struct redis_srv *);
/* Killed, and its dir removed. */
void redis_srv_rm(struct redis_srv *);
/* Every server this process started, killed (for atexit). */
void redis_srv_kill_all(void);

/* A port nothing listens on now; 1 when something accepts on the port or
 * the unix socket. */
int redis_srv_free_port(void);
int redis_srv_tcp_connects(int port);
int redis_srv_unix_connects(const char *path);

#endif
