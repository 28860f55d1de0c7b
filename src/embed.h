/*
 * embed.h - files the daemon serves as they are, built into it at build
 * time by src/embed.sh (Makefile.am generates src/status_html.c and
 * src/openapi_json.c in the build directory).  Each is its octets followed
 * by a NUL that the length does not count.
 */
#ifndef EMBED_H
#define EMBED_H

#include <stddef.h>

/* src/status.html: the operators' status page (GET /status). */
extern const unsigned char status_html[];
extern const size_t status_html_len;

/* src/openapi.json: the OpenAPI 3.1 document (GET /openapi.json). */
extern const unsigned char openapi_json[];
extern const size_t openapi_json_len;

#endif
