/*
 * harness.c - see harness.h.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "harness.h"

static const char *
builddir(void)
{
	const char *d = getenv("SV_BUILDDIR");
	return d && *d ? d : ".";
}

void
h_nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static long long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
h_jstr(json_t *j, const char *k)
{
	const char *s = json_string_value(json_object_get(j, k));

	return s != NULL ? s : "";
}

long long
h_now_ms(void)
{
	return now_ms();
}

static int
free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* A free port that differs from the n already taken. */
static int
distinct_port(const int *taken, int n)
{
	for (int tries = 0; tries < 50; tries++) {
		int port = free_port(), dup = 0;
		for (int i = 0; i < n; i++)
			dup |= taken[i] == port;
		if (port > 0 && !dup)
			return port;
	}
	return -1;
}

int
h_init(struct harness *h)
{
	int taken[3 + H_EXTRA_SIMS] = { 0 }, n = 0;
	const char *base = getenv("SV_TMPDIR");
	const char *wrap = getenv("SV_DAEMON_WRAP");

	memset(h, 0, sizeof(*h));
	/* Every daemon of the suite under a launcher (make distcheck runs
	 * the whole suite under the unit's system call filter so). */
	if (wrap != NULL && *wrap != '\0' &&
	    strlen(wrap) < sizeof(h->daemon_wrap))
		memcpy(h->daemon_wrap, wrap, strlen(wrap) + 1);
	snprintf(h->dir, sizeof(h->dir), "%s/smsverify-test-XXXXXX",
	    base && *base ? base : "/tmp");
	if (mkdtemp(h->dir) == NULL)
		return -1;
	snprintf(h->conf, sizeof(h->conf), "%s/smsverifyd.conf", h->dir);
	snprintf(h->handset, sizeof(h->handset), "%s/handset.jsonl", h->dir);
	snprintf(h->daemon_log, sizeof(h->daemon_log), "%s/daemon.log",
	    h->dir);
	snprintf(h->sim_log, sizeof(h->sim_log), "%s/sim.log", h->dir);
	h->sim_port = distinct_port(taken, n);
	taken[n++] = h->sim_port;
	h->http_port = distinct_port(taken, n);
	taken[n++] = h->http_port;
	h->expiry = 600;
	h->max_checks = 5;
	h->submit_wait_ms = 3000;
	h->response_timeout = 5;
	snprintf(h->sim_name, sizeof(h->sim_name), "sim");
	snprintf(h->smsc_password, sizeof(h->smsc_password), "secret1");
	char dir[sizeof(h->dir)];
	memcpy(dir, h->dir, sizeof(dir));   /* not an alias of h for snprintf */
	for (int i = 0; i < H_EXTRA_SIMS; i++) {
		struct h_sim *x = &h->sims[i];
		x->port = distinct_port(taken, n);
		taken[n++] = x->port;
		snprintf(x->handset, sizeof(x->handset), "%s/handset%d.jsonl",
		    dir, i + 2);
		snprintf(x->log, sizeof(x->log), "%s/sim%d.log", dir, i + 2);
		if (x->port <= 0)
			return -1;
	}
	h->hook_port = distinct_port(taken, n);
	taken[n++] = h->hook_port;
	snprintf(h->hook_log, sizeof(h->hook_log), "%s/hooks.jsonl", dir);
	snprintf(h->hook_stderr, sizeof(h->hook_stderr), "%s/hook.log", dir);
	return h->sim_port > 0 && h->http_port > 0 && h->hook_port > 0 ?
	    0 : -1;
}

static pid_t
spawn(char *const argv[], const char *logpath)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
			close(fd);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Wait for pid up to ms; returns the exit status, 128+signal, or -1. */
static int
reap(pid_t pid, int ms)
{
	long long end = now_ms() + ms;
	int st;

	while (now_ms() < end) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) :
			    128 + WTERMSIG(st);
		if (r < 0)
			return -1;
		h_nap_ms(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

/* Start a simulator on port with its handset log, extra arguments and
 * stderr log; wait (bounded) until it accepts.  0 or -1; *pidp is set
 * while it runs. */
/* Append the words of extra (copied into buf) to argv[n..]; the new n.
 * argv has room for 32 entries, the last kept for the NULL. */
static int
add_args(char **argv, int n, const char *extra, char *buf, size_t size)
{
	char *save = NULL, *tok;

	snprintf(buf, size, "%s", extra != NULL ? extra : "");
	for (tok = strtok_r(buf, " ", &save); tok && n < 30;
	    tok = strtok_r(NULL, " ", &save))
		argv[n++] = tok;
	argv[n] = NULL;
	return n;
}

/* Wait (bounded by timeout_ms, polling every nap_ms) until ready(arg)
 * says the process *pidp is up: 0; -1 when time runs out or the process
 * died first (*pidp is then 0). */
static int
wait_ready(pid_t *pidp, int timeout_ms, int nap_ms,
    int (*ready)(void *), void *arg)
{
	for (long long end = now_ms() + timeout_ms; now_ms() < end;) {
		if (ready(arg))
			return 0;
		if (waitpid(*pidp, NULL, WNOHANG) == *pidp) {
			*pidp = 0;
			return -1;
		}
		h_nap_ms(nap_ms);
	}
	return -1;
}

/* A connection to 127.0.0.1:*port is accepted. */
static int
port_open(void *port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(*(int *)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* The file exists. */
static int
file_exists(void *path)
{
	return access(path, F_OK) == 0;
}

static int
sim_start(int sim_port, const char *handset, const char *sim_args,
    const char *logpath, pid_t *pidp)
{
	char bin[512], port[16], *argv[32];
	int n = 0;
	char args[256];

	snprintf(bin, sizeof(bin), "%s/tests/smsc_sim", builddir());
	snprintf(port, sizeof(port), "%d", sim_port);
	argv[n++] = bin;
	argv[n++] = "-p";
	argv[n++] = port;
	argv[n++] = "-u";
	argv[n++] = "smsverify";
	argv[n++] = "-w";
	argv[n++] = "secret1";
	argv[n++] = "-o";
	argv[n++] = (char *)handset;
	add_args(argv, n, sim_args, args, sizeof(args));
	*pidp = spawn(argv, logpath);
	if (*pidp <= 0) {
		*pidp = 0;
		return -1;
	}
	/* Wait until it accepts connections. */
	return wait_ready(pidp, 10000, 20, port_open, &sim_port);
}

static int
sim_stop(pid_t *pidp)
{
	int st;

	if (*pidp <= 0)
		return -1;
	kill(*pidp, SIGTERM);
	st = reap(*pidp, 10000);
	*pidp = 0;
	return st;
}

int
h_hook_start(struct harness *h, const char *extra)
{
	char bin[512], port[16], portfile[400], *argv[32];
	char args[256];
	int n = 0;

	snprintf(bin, sizeof(bin), "%s/tests/hook_sink", builddir());
	snprintf(port, sizeof(port), "%d", h->hook_port);
	snprintf(portfile, sizeof(portfile), "%s/hook.port", h->dir);
	argv[n++] = bin;
	argv[n++] = "-p";
	argv[n++] = port;
	argv[n++] = "-P";
	argv[n++] = portfile;
	argv[n++] = "-o";
	argv[n++] = h->hook_log;
	add_args(argv, n, extra, args, sizeof(args));
	unlink(portfile);
	h->hook_pid = spawn(argv, h->hook_stderr);
	if (h->hook_pid <= 0) {
		h->hook_pid = 0;
		return -1;
	}
	/* It writes the port file once it listens. */
	return wait_ready(&h->hook_pid, 10000, 20, file_exists, portfile);
}

int
h_hook_stop(struct harness *h)
{
	return sim_stop(&h->hook_pid);
}

int
h_sim_start(struct harness *h)
{
	return sim_start(h->sim_port, h->handset, h->sim_args, h->sim_log,
	    &h->sim_pid);
}

int
h_sim_stop(struct harness *h)
{
	return sim_stop(&h->sim_pid);
}

int
h_xsim_start(struct harness *h, int i)
{
	struct h_sim *x;

	if (i < 0 || i >= H_EXTRA_SIMS || h->sims[i].name[0] == '\0')
		return -1;
	x = &h->sims[i];
	return sim_start(x->port, x->handset, x->args, x->log, &x->pid);
}

int
h_xsim_stop(struct harness *h, int i)
{
	if (i < 0 || i >= H_EXTRA_SIMS)
		return -1;
	return sim_stop(&h->sims[i].pid);
}

/* An [smsc NAME] section for a simulator on port. */
static void
write_smsc(FILE *f, const char *name, int port, const char *password,
    int response_timeout)
{
	fprintf(f, "[smsc %s]\nhost = 127.0.0.1\nport = %d\n"
	    "system_id = smsverify\npassword = %s\nreconnect_min_ms = 100\n"
	    "reconnect_max_ms = 500\nenquire_link = 5\n"
	    "response_timeout = %d\n", name, port, password,
	    response_timeout);
}

static int
write_conf(struct harness *h)
{
	FILE *f = fopen(h->conf, "w");
	const char *redis = getenv("SV_TEST_REDIS");

	if (f == NULL)
		return -1;
	/* The whole suite on the store on Redis: SV_TEST_REDIS=host:port
	 * (scripts/test starts one), a prefix of this test's own. */
	if (redis != NULL && *redis != '\0' && h->store_extra[0] == '\0') {
		const char *tag = strrchr(h->dir, '-');

		snprintf(h->store_extra, sizeof(h->store_extra),
		    "backend = redis\nredis = %s\nredis_prefix = t%s\n"
		    "node = n1\n", redis, tag != NULL ? tag + 1 : "x");
	}
	fprintf(f,
	    "[server]\nlisten = 127.0.0.1:%d\nsecret_file = %s/secret\n"
	    "request_timeout = 10\nsubmit_wait_ms = %d\nlog_level = %s\n"
	    "%s"
	    "[store]\npath = %s/db\nmap_size = %s\nsweep_interval = 1\n%s"
	    "[verify]\ncode_length = 6\nexpiry = %d\n"
	    "max_check_attempts = %d\nrepeat_window = 600\nsender = Verify\n"
	    "default_country = %s\n",
	    h->http_port, h->dir, h->submit_wait_ms,
	    h->log_level[0] ? h->log_level : "debug", h->server_extra, h->dir,
	    h->map_size[0] ? h->map_size : "64M", h->store_extra, h->expiry,
	    h->max_checks, h->country[0] ? h->country : "US");
	fputs(h->verify_extra, f);
	if (h->sim_name[0] != '\0') {
		write_smsc(f, h->sim_name, h->sim_port, h->smsc_password,
		    h->response_timeout);
		fputs(h->smsc_extra, f);
	}
	for (int i = 0; i < H_EXTRA_SIMS; i++)
		if (h->sims[i].name[0] != '\0')
			write_smsc(f, h->sims[i].name, h->sims[i].port,
			    "secret1", h->response_timeout);
	fprintf(f, "[key test]\ntoken = " H_TOKEN "\n%s\n"
	    "[key other]\ntoken = other-token-0123456789abcdef\n%s\n",
	    h->key_extra, h->extra_conf);
	return fclose(f) == 0 ? 0 : -1;
}

struct daemon_wait {
	struct harness *h;
	int want_bound;
};

/* /healthz answers, and with want_bound an SMSC is bound. */
static int
daemon_up(void *arg)
{
	struct daemon_wait *w = arg;
	char out[4096];
	int st = h_http(w->h, "GET", "/healthz", NULL, NULL, NULL, out,
	    sizeof(out));

	return st == 200 && (!w->want_bound ||
	    strstr(out, "\"smscs_up\":0") == NULL);
}

int
h_daemon_start(struct harness *h, int want_bound)
{
	struct daemon_wait w = { h, want_bound };
	char bin[512], *argv[32], **av = argv, wrap[sizeof(h->daemon_wrap)];

	if (write_conf(h) != 0)
		return -1;
	snprintf(bin, sizeof(bin), "%s/src/smsverifyd", builddir());
	/* The wrapper's words, leaving room for the daemon's four. */
	av += add_args(argv, 0, h->daemon_wrap, wrap, sizeof(wrap));
	if (av - argv > 27)
		return -1;
	av[0] = bin;
	av[1] = "-c";
	av[2] = h->conf;
	av[3] = NULL;
	h->daemon_pid = spawn(argv, h->daemon_log);
	if (h->daemon_pid <= 0)
		return -1;
	return wait_ready(&h->daemon_pid, 20000, 50, daemon_up, &w);
}

void
h_start_all(struct harness *h)
{
	ck_assert_msg(h_sim_start(h) == 0, "simulator did not start");
	ck_assert_msg(h_daemon_start(h, 1) == 0,
	    "smsverifyd did not start or bind (see %s)", h->daemon_log);
}

void
h_start_two(struct harness *h, const char *extra_conf)
{
	snprintf(h->sim_name, sizeof(h->sim_name), "a");
	snprintf(h->sims[0].name, sizeof(h->sims[0].name), "b");
	snprintf(h->extra_conf, sizeof(h->extra_conf), "%s", extra_conf);
	ck_assert_msg(h_sim_start(h) == 0, "simulator a did not start");
	ck_assert_msg(h_xsim_start(h, 0) == 0, "simulator b did not start");
	ck_assert_msg(h_daemon_start(h, 1) == 0,
	    "smsverifyd did not start or bind (see %s)", h->daemon_log);
	ck_assert_msg(h_wait_up(h, 2, H_STATE_WAIT_MS) == 0,
	    "both SMSCs never bound (see %s)", h->daemon_log);
}

int
h_daemon_reload(struct harness *h)
{
	int ok = h_count_lines(h->daemon_log, "event=gw.reloaded ");
	int refused = h_count_lines(h->daemon_log, "event=gw.reload_refused");

	if (h->daemon_pid <= 0 || write_conf(h) != 0 ||
	    kill(h->daemon_pid, SIGHUP) != 0)
		return -1;
	for (long long end = now_ms() + H_LOG_WAIT_MS; now_ms() < end;) {
		if (h_count_lines(h->daemon_log, "event=gw.reloaded ") > ok)
			return 0;
		if (h_count_lines(h->daemon_log, "event=gw.reload_refused") >
		    refused)
			return -1;
		h_nap_ms(25);
	}
	return -1;
}

int
h_daemon_stop(struct harness *h, int sig)
{
	int st;

	if (h->daemon_pid <= 0)
		return -1;
	kill(h->daemon_pid, sig);
	st = reap(h->daemon_pid, 20000);
	h->daemon_pid = 0;
	return st;
}

void
h_fini(struct harness *h)
{
	char cmd[400];

	if (h->daemon_pid > 0)
		h_daemon_stop(h, SIGKILL);
	if (h->sim_pid > 0)
		h_sim_stop(h);
	for (int i = 0; i < H_EXTRA_SIMS; i++)
		if (h->sims[i].pid > 0)
			h_xsim_stop(h, i);
	if (h->hook_pid > 0)
		h_hook_stop(h);
	if (getenv("SV_KEEP") == NULL && h->dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", h->dir);
	}
	h->dir[0] = '\0'; /* a second call does nothing */
}

int
h_http(struct harness *h, const char *method, const char *path,
    const char *ctype, const char *token, const char *body, char *out,
    size_t outsize)
{
	char head[1024], *resp = NULL, *p, err[256];
	size_t blen = body ? strlen(body) : 0, got = 0, cap = 0;
	int fd, status = -1, n;
	SSL *ssl = NULL;

	out[0] = '\0';
	if ((fd = h_connect(h->http_port)) < 0)
		return -1;
	if (h->tls_ca[0] != '\0' &&
	    (ssl = h_tls_connect(fd, h->tls_ca, 0, err, sizeof(err))) == NULL)
		goto done;
	n = snprintf(head, sizeof(head),
	    "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
	    "%s%s%s"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", method, path,
	    token ? "Authorization: Bearer " : "", token ? token : "",
	    token ? "\r\n" : "", ctype ? ctype : "application/json", blen);
	if (ssl != NULL ? SSL_write(ssl, head, n) != n ||
	    (blen && SSL_write(ssl, body, (int)blen) != (int)blen) :
	    write(fd, head, n) != n ||
	    (blen && write(fd, body, blen) != (ssize_t)blen))
		goto done;
	for (;;) {
		if (got + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			resp = realloc(resp, cap);
		}
		n = ssl != NULL ? SSL_read(ssl, resp + got,
		    (int)(cap - got - 1)) : read(fd, resp + got,
		    cap - got - 1);
		if (n <= 0)
			break;
		got += n;
	}
	if (resp == NULL)
		goto done;
	resp[got] = '\0';
	if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1)
		status = -1;
	p = strstr(resp, "\r\n\r\n");
	if (p != NULL)
		snprintf(out, outsize, "%s", p + 4);
done:
	free(resp);
	SSL_free(ssl);
	close(fd);
	return status;
}

int
h_http_raw(struct harness *h, const char *method, const char *path,
    const char *token, const char *body, char *out, size_t size,
    size_t *got)
{
	char head[1024];
	size_t n = 0, blen = body != NULL ? strlen(body) : 0;
	int fd, len, status = -1;
	ssize_t r;

	out[0] = '\0';
	if ((fd = h_connect(h->http_port)) < 0)
		return -1;
	len = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nConnection: close\r\n%s%s%s"
	    "%sContent-Length: %zu\r\n\r\n", method, path,
	    token ? "Authorization: Bearer " : "", token ? token : "",
	    token ? "\r\n" : "", body != NULL ?
	    "Content-Type: application/json\r\n" : "", blen);
	if (len > 0 && (size_t)len < sizeof(head) &&
	    write(fd, head, (size_t)len) == len &&
	    (blen == 0 || write(fd, body, blen) == (ssize_t)blen))
		while (n + 1 < size && (r = read(fd, out + n,
		    size - n - 1)) > 0)
			n += (size_t)r;
	out[n] = '\0';
	if (sscanf(out, "HTTP/1.%*d %d", &status) != 1)
		status = -1;
	if (got != NULL)
		*got = n;
	close(fd);
	return status;
}

int
h_write_conf(struct harness *h)
{
	return write_conf(h);
}

int
h_connect(int port)
{
	struct sockaddr_in sa;
	struct timeval tv = { 15, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

void *
h_tls_connect(int fd, const char *ca, int max_version, char *err,
    size_t errsize)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = NULL;
	unsigned long e;

	err[0] = '\0';
	if (ctx == NULL)
		goto fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
		goto fail;
	if (max_version != 0) {
		/* Let this client offer what the daemon must refuse: OpenSSL's
		 * default security level would stop it first. */
		SSL_CTX_set_security_level(ctx, 0);
		SSL_CTX_set_min_proto_version(ctx, 0);
		SSL_CTX_set_max_proto_version(ctx, max_version);
		SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
	}
	if ((ssl = SSL_new(ctx)) == NULL)
		goto fail;
	X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1)
		goto fail;
	SSL_CTX_free(ctx);
	return ssl;
fail:
	e = ERR_peek_last_error();
	snprintf(err, errsize, "%s", e != 0 ? ERR_error_string(e, NULL) :
	    "handshake failed (connection closed)");
	ERR_clear_error();
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return NULL;
}

const char *
h_tls_peer_cn(void *ssl, char *buf, size_t size)
{
	X509 *x = SSL_get1_peer_certificate(ssl);

	buf[0] = '\0';
	if (x != NULL) {
		X509_NAME_get_text_by_NID(X509_get_subject_name(x),
		    NID_commonName, buf, (int)size);
		X509_free(x);
	}
	return buf;
}

int
h_tls_make(struct harness *h, const char *name)
{
	char cmd[2048], ca[320], cakey[320];
	const char *quiet = ">/dev/null 2>&1";
	const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-days 2";

	snprintf(ca, sizeof(ca), "%s/ca.pem", h->dir);
	snprintf(cakey, sizeof(cakey), "%s/ca.key", h->dir);
	if (access(ca, F_OK) != 0) {
		snprintf(cmd, sizeof(cmd), "openssl req -x509 %s -keyout '%s' "
		    "-out '%s' -subj /CN=smsverify-test-ca %s", ec, cakey, ca,
		    quiet);
		if (system(cmd) != 0)
			return -1;
	}
	snprintf(cmd, sizeof(cmd), "openssl req -x509 %s -keyout '%s/%s.key' "
	    "-out '%s/%s.pem' -subj /CN=%s -CA '%s' -CAkey '%s' "
	    "-addext subjectAltName=IP:127.0.0.1 "
	    "-addext basicConstraints=critical,CA:FALSE %s", ec, h->dir, name,
	    h->dir, name, name, ca, cakey, quiet);
	if (system(cmd) != 0)
		return -1;
	snprintf(h->tls_ca, sizeof(h->tls_ca), "%s", ca);
	return 0;
}

json_t *
h_json(struct harness *h, const char *method, const char *path,
    const char *body, int *status)
{
	static char out[65536];

	*status = h_http(h, method, path, NULL, H_TOKEN, body, out,
	    sizeof(out));
	return json_loads(out, 0, NULL);
}

json_t *
h_send(struct harness *h, const char *body, char *id, size_t idsize,
    int want_status)
{
	int status;
	json_t *j;

	j = h_json(h, "POST", "/v1/verifications", body, &status);
	ck_assert_msg(j != NULL, "send %s: the answer is not JSON (status %d)",
	    body, status);
	ck_assert_msg(status == want_status, "send %s answered %d, not %d",
	    body, status, want_status);
	if (id != NULL) {
		const char *s = json_string_value(json_object_get(j, "id"));
		ck_assert_msg(s != NULL, "send %s: no id in the answer", body);
		snprintf(id, idsize, "%s", s);
	}
	return j;
}

json_t *
h_send_code(struct harness *h, const char *phone, char *id, size_t idsize,
    int want_status)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"phone\": \"%s\"}", phone);
	return h_send(h, body, id, idsize, want_status);
}

json_t *
h_check(struct harness *h, const char *id, const char *code, int *status)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"id\": \"%s\", \"code\": \"%s\"}",
	    id, code);
	return h_json(h, "POST", "/v1/verifications/check", body, status);
}

int
h_code_valid(struct harness *h, const char *id, const char *code)
{
	int status, valid;
	json_t *j = h_check(h, id, code, &status);

	valid = status == 200 && json_is_true(json_object_get(j, "valid"));
	json_decref(j);
	return valid;
}

json_t *
h_get_verif(struct harness *h, const char *id)
{
	char path[160];
	int status;
	json_t *j;

	snprintf(path, sizeof(path), "/v1/verifications/%s", id);
	j = h_json(h, "GET", path, NULL, &status);
	ck_assert_msg(status == 200 && j != NULL, "GET %s answered %d", path,
	    status);
	return j;
}

void
h_wait_verif(struct harness *h, const char *id, const char *key,
    const char *want)
{
	char last[64] = "";

	for (long long end = now_ms() + H_STATE_WAIT_MS; now_ms() < end;) {
		json_t *j = h_get_verif(h, id);
		snprintf(last, sizeof(last), "%s", h_jstr(j, key));
		json_decref(j);
		if (strcmp(last, want) == 0)
			return;
		h_nap_ms(50);
	}
	ck_abort_msg("%s: %s never became \"%s\" in %d ms (last \"%s\"; "
	    "see %s)", id, key, want, H_STATE_WAIT_MS, last, h->daemon_log);
}

void
h_wait_delivery(struct harness *h, const char *id, const char *want)
{
	char last[32] = "";

	for (long long end = now_ms() + H_STATE_WAIT_MS; now_ms() < end;) {
		json_t *j = h_get_verif(h, id);
		json_t *a = json_array_get(json_object_get(j, "attempts"), 0);
		snprintf(last, sizeof(last), "%s", a ? h_jstr(a, "delivery") :
		    "");
		json_decref(j);
		if (last[0] != '\0' && strcmp(last, "pending") != 0)
			break;
		h_nap_ms(50);
	}
	ck_assert_msg(strcmp(last, want) == 0, "%s: the receipt said \"%s\", "
	    "not \"%s\" (\"pending\" or \"\": none came in %d ms; see %s)", id,
	    last, want, H_STATE_WAIT_MS, h->daemon_log);
}

void
h_read_sms(const char *handset, const char *phone, int nth, char *text,
    size_t tsize, char *code, size_t csize)
{
	char buf[2048];

	if (text == NULL) {
		text = buf;
		tsize = sizeof(buf);
	}
	ck_assert_msg(h_wait_sms_in(handset, phone, nth, text, tsize,
	    H_SMS_WAIT_MS) == 0, "no SMS #%d to %s reached %s in %d ms", nth,
	    phone, handset, H_SMS_WAIT_MS);
	ck_assert_msg(h_code_of(text, code, csize) == 0,
	    "SMS #%d to %s holds no code: %s", nth, phone, text);
}

void
h_read_code(const char *handset, const char *phone, int nth, char *code,
    size_t csize)
{
	h_read_sms(handset, phone, nth, NULL, 0, code, csize);
}

json_t *
h_smsc_entry(json_t *list, const char *name)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(list, "smscs"), i, e)
		if (strcmp(h_jstr(e, "name"), name) == 0)
			return e;
	return NULL;
}

void
h_add_tests(Suite *s, const struct h_test *tests, size_t n, SFun setup,
    SFun teardown)
{
	for (size_t i = 0; i < n; i++) {
		TCase *tc = tcase_create(tests[i].name);
		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_set_timeout(tc, 120);
		tcase_add_loop_test(tc, tests[i].test, 0,
		    tests[i].loops > 0 ? tests[i].loops : 1);
		suite_add_tcase(s, tc);
	}
}

int
h_run_suite(Suite *s)
{
	char base[] = "/tmp/smsverify-suite-XXXXXX", cmd[128];
	SRunner *sr;
	int failed;

	if (mkdtemp(base) == NULL || setenv("SV_TMPDIR", base, 1) != 0) {
		perror("test directory");
		return 1;
	}
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (getenv("SV_KEEP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", base);
	} else {
		fprintf(stderr, "test directories kept in %s\n", base);
	}
	return failed ? 1 : 0;
}

/* Walk the handset log; return the text of the nth message to phone. */
static int
scan_sms(const char *handset, const char *phone, int nth, char *text,
    size_t size)
{
	FILE *f = fopen(handset, "r");
	char line[8192];
	int count = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		json_t *j = json_loads(line, 0, NULL);
		const char *to = json_string_value(json_object_get(j, "to"));
		if (to != NULL && strcmp(to, phone) == 0 && ++count == nth &&
		    text != NULL) {
			const char *t = json_string_value(
			    json_object_get(j, "text"));
			snprintf(text, size, "%s", t ? t : "");
		}
		json_decref(j);
	}
	fclose(f);
	return count;
}

int
h_count_sms(struct harness *h, const char *phone)
{
	return scan_sms(h->handset, phone, 0, NULL, 0);
}

int
h_count_sms_in(const char *handset, const char *phone)
{
	return scan_sms(handset, phone, 0, NULL, 0);
}

int
h_wait_sms_in(const char *handset, const char *phone, int nth, char *text,
    size_t size, int timeout_ms)
{
	for (long long end = now_ms() + timeout_ms; now_ms() < end;) {
		if (scan_sms(handset, phone, nth, text, size) >= nth)
			return 0;
		h_nap_ms(25);
	}
	return -1;
}

int
h_wait_sms(struct harness *h, const char *phone, int nth, char *text,
    size_t size, int timeout_ms)
{
	return h_wait_sms_in(h->handset, phone, nth, text, size, timeout_ms);
}

json_t *
h_handset_read(const char *handset)
{
	json_t *all = json_array();
	FILE *f = fopen(handset, "r");
	char line[8192];

	if (f == NULL)
		return all;
	while (fgets(line, sizeof(line), f) != NULL) {
		json_t *j = json_loads(line, 0, NULL);
		if (json_is_object(j))
			json_array_append(all, j);
		json_decref(j);
	}
	fclose(f);
	return all;
}

/* Poll /healthz until done(answer, n) or the deadline.  0 or -1. */
static int
wait_health(struct harness *h, int (*done)(json_t *, int), int n,
    int timeout_ms)
{
	char out[4096];

	for (long long end = now_ms() + timeout_ms; now_ms() < end;) {
		int st = h_http(h, "GET", "/healthz", NULL, NULL, NULL, out,
		    sizeof(out));
		json_t *j = st == 200 ? json_loads(out, 0, NULL) : NULL;
		int ok = j != NULL && done(j, n);
		json_decref(j);
		if (ok)
			return 0;
		h_nap_ms(50);
	}
	return -1;
}

static int
health_up(json_t *j, int n)
{
	return json_integer_value(json_object_get(j, "smscs_up")) >= n;
}

static int
health_idle(json_t *j, int n)
{
	return json_integer_value(json_object_get(j, "queued")) == 0 &&
	    json_integer_value(json_object_get(j, "inflight")) == 0;
}

int
h_wait_up(struct harness *h, int n, int timeout_ms)
{
	return wait_health(h, health_up, n, timeout_ms);
}

int
h_wait_idle(struct harness *h, int timeout_ms)
{
	return wait_health(h, health_idle, 0, timeout_ms);
}

int
h_count_lines(const char *path, const char *s)
{
	FILE *f = fopen(path, "r");
	char line[8192];
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, s) != NULL;
	fclose(f);
	return n;
}

int
h_code_of(const char *text, char *code, size_t size)
{
	for (const char *p = text; *p; p++) {
		size_t n = 0;
		while (isdigit((unsigned char)p[n]))
			n++;
		if (n >= 4 && n <= 12 && n < size) {
			memcpy(code, p, n);
			code[n] = '\0';
			return 0;
		}
		if (n > 0)
			p += n - 1;
	}
	return -1;
}

int
h_wait_lines_n(const char *path, const char *s, int n, int timeout_ms)
{
	int got;

	for (long long end = now_ms() + timeout_ms;
	    (got = h_count_lines(path, s)) < n && now_ms() < end;)
		h_nap_ms(25);
	return got;
}

int
h_wait_lines(const char *path, const char *s, int timeout_ms)
{
	return h_wait_lines_n(path, s, 1, timeout_ms);
}

int
h_file_contains(const char *path, const char *s)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long len;
	int found;

	if (f == NULL)
		return 0;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, len + 1);
	if (fread(buf, 1, len, f) != (size_t)len)
		len = 0;
	buf[len] = '\0';
	found = strstr(buf, s) != NULL;
	free(buf);
	fclose(f);
	return found;
}

/* The value of header name in a whole answer, into val ("" if none). */
const char *
h_header_of(const char *resp, const char *name, char *val, size_t size)
{
	size_t nl = strlen(name);
	const char *p = strstr(resp, "\r\n"), *end;

	val[0] = '\0';
	for (; p != NULL && strncmp(p, "\r\n\r\n", 4) != 0;
	    p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
			const char *v = p + 2 + nl + 1;
			while (*v == ' ')
				v++;
			end = strstr(v, "\r\n");
			snprintf(val, size, "%.*s", (int)(end ? end - v :
			    (ptrdiff_t)strlen(v)), v);
			break;
		}
	}
	return val;
}

void
h_asan_quarantine_mb(int mb)
{
	const char *asan = getenv("ASAN_OPTIONS");
	char opts[512];

	snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=%d",
	    asan ? asan : "", asan && *asan ? ":" : "", mb);
	setenv("ASAN_OPTIONS", opts, 1);
}

int
h_req_start(struct harness *h, const char *method, const char *path,
    const char *token, const char *headers, const char *body)
{
	struct sockaddr_in sa;
	struct timeval tv = { 15, 0 };
	size_t blen = body ? strlen(body) : 0;
	char head[2048];
	int fd, n;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(h->http_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	n = snprintf(head, sizeof(head),
	    "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
	    "%s%s%s%s"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
	    method, path, token ? "Authorization: Bearer " : "",
	    token ? token : "", token ? "\r\n" : "", headers ? headers : "",
	    blen);
	if (n < 0 || (size_t)n >= sizeof(head) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    write(fd, head, n) != n ||
	    (blen && write(fd, body, blen) != (ssize_t)blen)) {
		close(fd);
		return -1;
	}
	return fd;
}

int
h_req_finish(int fd, char *out, size_t outsize, int timeout_ms)
{
	char *resp = NULL, *p;
	size_t got = 0, cap = 0;
	long long end = now_ms() + timeout_ms;
	int status = -1;
	ssize_t n;

	out[0] = '\0';
	if (fd < 0)
		return -1;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	for (;;) {
		if (got + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			resp = realloc(resp, cap);
		}
		n = read(fd, resp + got, cap - got - 1);
		if (n > 0) {
			got += n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) ||
		    now_ms() >= end)
			break;
		h_nap_ms(5);
	}
	if (resp != NULL) {
		resp[got] = '\0';
		if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1)
			status = -1;
		if ((p = strstr(resp, "\r\n\r\n")) != NULL)
			snprintf(out, outsize, "%s", p + 4);
	}
	free(resp);
	close(fd);
	return status;
}
