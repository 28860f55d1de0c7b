/*
 * main.c - argv, configuration, run.  Everything else is in the library
 * the tests link too.
 *
 *   smsverifyd -c FILE      run in the foreground
 *   smsverifyd -t -c FILE   check the configuration and exit 0 or 1
 *   smsverifyd -V           print the version
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "conf.h"
#include "gw.h"
#include "log.h"
#include "tls.h"

static void
usage(void)
{
	fprintf(stderr, "usage: smsverifyd [-t] -c FILE\n"
	    "       smsverifyd -V\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	int check_only = 0, ch, rc;
	char *errors = NULL, *err = NULL;
	struct conf *conf;
	struct event_base *base;
	struct gw *gw;

	while ((ch = getopt(argc, argv, "c:tVh")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check_only = 1;
			break;
		case 'V':
			printf("smsverifyd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (path == NULL || optind != argc)
		usage();

	conf = conf_load(path, &errors);
	if (conf == NULL) {
		fputs(errors ? errors : "configuration unreadable\n", stderr);
		free(errors);
		return 1;
	}
	/* The HTTPS pair is read as the start would read it. */
	if (check_only && conf->tls_cert != NULL &&
	    tls_check(conf->tls_cert, conf->tls_key, &err) != 0) {
		fprintf(stderr, "%s: %s\n", path, err ? err : "tls_cert, "
		    "tls_key: unusable");
		free(err);
		conf_free(conf);
		return 1;
	}
	if (check_only) {
		printf("%s: configuration ok\n", path);
		conf_free(conf);
		return 0;
	}
	if (log_set_level(conf->log_level) != 0)
		log_set_level("info");
	signal(SIGPIPE, SIG_IGN);

	/* Three priorities: everything runs at the middle one (libevent's
	 * default), the store's group commit at the lowest (store_lmdb.c). */
	base = event_base_new();
	if (base == NULL || event_base_priority_init(base, 3) != 0) {
		log_err("gw.error", "msg=\"no event base\"");
		return 1;
	}
	gw = gw_new(base, conf, &err);
	if (gw == NULL) {
		char buf[512];
		log_err("gw.error", "msg=%s", log_str(buf, sizeof(buf),
		    err ? err : "start-up failed"));
		free(err);
		event_base_free(base);
		return 1;
	}
	gw_start(gw);
	event_base_dispatch(base);
	rc = gw_exit_code(gw);
	gw_free(gw);
	event_base_free(base);
	return rc;
}
