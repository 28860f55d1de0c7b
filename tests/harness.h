/*
 * harness.h - integration test harness: runs the SMSC simulator and
 * smsverifyd as real processes on free loopback ports in a temporary
 * directory, talks HTTP to the daemon like an integrator, and reads codes
 * from the simulator's handset log like a person reading their phone.
 * Every wait is bounded.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>

#define H_TOKEN "test-token-0123456789abcdef"

struct harness {
	char dir[256];
	char conf[320];
	char handset[320];
	char daemon_log[320];
	char sim_log[320];
	int sim_port, http_port;
	pid_t sim_pid, daemon_pid;
	/* settings written into the configuration */
	int expiry;
	int max_checks;
	int submit_wait_ms;
	char sim_args[256];   /* extra simulator arguments */
	char extra_conf[1024];
};

/* Make the directory and pick ports; nothing runs yet.  0 or -1. */
int h_init(struct harness *);
/* Start the simulator on h->sim_port (with h->sim_args).  0 or -1. */
int h_sim_start(struct harness *);
/* Stop it (SIGTERM, bounded wait); returns its exit status or -1. */
int h_sim_stop(struct harness *);
/* Write the configuration and start smsverifyd; wait (bounded) until
 * /healthz answers and, when want_bound, an SMSC is bound.  0 or -1. */
int h_daemon_start(struct harness *, int want_bound);
/* Send sig and wait (bounded); returns the exit status or -1. */
int h_daemon_stop(struct harness *, int sig);
/* Stop whatever runs and remove the directory. */
void h_fini(struct harness *);

/* One HTTP request (Connection: close).  Returns the status or -1; the
 * body goes to out (NUL-terminated).  token NULL sends no Authorization;
 * ctype NULL means application/json. */
int h_http(struct harness *, const char *method, const char *path,
    const char *ctype, const char *token, const char *body, char *out,
    size_t outsize);
/* The same with the answer parsed as JSON (NULL when it is not). */
json_t *h_json(struct harness *, const char *method, const char *path,
    const char *body, int *status);
/* Wait (bounded by timeout_ms) for the nth (1-based) message to phone in
 * the handset log; copy its text.  0 or -1. */
int h_wait_sms(struct harness *, const char *phone, int nth, char *text,
    size_t size, int timeout_ms);
/* Messages to phone in the handset log now. */
int h_count_sms(struct harness *, const char *phone);
/* The first run of 4..12 digits in text.  0 or -1. */
int h_code_of(const char *text, char *code, size_t size);
/* 1 when the file contains s. */
int h_file_contains(const char *path, const char *s);
/* Sleep a little (polling helper). */
void h_nap_ms(int ms);

#endif
