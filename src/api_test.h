/*
 * api_test.h - GET /v1/test/messages (api_test.c): the messages test mode
 * captured (testmode.h), for test and admin keys.
 */
#ifndef API_TEST_H
#define API_TEST_H

struct api;
struct testmode;

/* What the endpoint is given (its owner keeps it: it must outlive the
 * listener, as the api and test mode it names). */
struct api_test {
	struct api *api;
	struct testmode *tm;
};

/* Route GET /v1/test/messages on at->api's listener. */
void api_test_register(struct api_test *at);

#endif
