/*
 * fuzz_conf.c - libFuzzer target for the configuration parser
 * (conf_load_string: libinih, the key table, the validation pass).
 *
 * Besides "no crash, no sanitizer report" it checks the contract:
 *  - either a config and no errors, or no config and a non-empty error
 *    text whose every line starts with the file name;
 *  - an accepted config keeps the whole-file rules: at least one SMSC,
 *    key and route, route SMSC indexes in range, values within bounds.
 *
 *	./configure --enable-fuzz CC=clang CXX=clang++ && make tests/fuzz_conf
 *	tests/fuzz_conf -max_total_time=30 -dict=tests/data/conf/fuzz_conf.dict \
 *	    tests/data/conf
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_conf(const struct conf *c)
{
	int i, j;

	if (c->nsmsc < 1 || c->nkey < 1 || c->nroute < 1)
		abort();
	if (c->code_length < 4 || c->code_length > 12 ||
	    c->listen_port < 0 || c->listen_port > 65535 ||
	    c->map_size < (1ULL << 20) || c->map_size > (1ULL << 40))
		abort();
	for (i = 0; i < c->nsmsc; i++)
		if (c->smscs[i].host == NULL || c->smscs[i].port < 1 ||
		    c->smscs[i].port > 65535 ||
		    c->smscs[i].reconnect_max_ms < c->smscs[i].reconnect_min_ms)
			abort();
	for (i = 0; i < c->nroute; i++) {
		if (c->routes[i].nprefix < 1 || c->routes[i].nsmsc < 1)
			abort();
		for (j = 0; j < c->routes[i].nsmsc; j++)
			if (c->routes[i].smsc[j] < 0 ||
			    c->routes[i].smsc[j] >= c->nsmsc)
				abort();
	}
	for (i = 0; i < c->nkey; i++)
		if (c->keys[i].token == NULL || strlen(c->keys[i].token) < 16)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *errors = NULL;
	struct conf *c;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	c = conf_load_string(text, "fuzz.conf", &errors);
	if (c != NULL) {
		if (errors != NULL)
			abort();
		check_conf(c);
		conf_free(c);
	} else {
		const char *p = errors;

		if (errors == NULL || *errors == '\0')
			abort();
		while (*p != '\0') {
			const char *nl = strchr(p, '\n');

			if (strncmp(p, "fuzz.conf:", 10) != 0 || nl == NULL)
				abort();
			p = nl + 1;
		}
		free(errors);
	}
	free(text);
	return 0;
}
