/*
 * template.h - message texts: the built-in templates per language and the
 * substitution of {code} (or ##code##) and {minutes}.  Pure: no I/O.
 */
#ifndef TEMPLATE_H
#define TEMPLATE_H

/* The built-in template for lang (de en es fr it pt ru), or NULL for any
 * other language.  Each contains {code} and {minutes} and, with a 12-digit
 * code and 60 minutes, fits one SMS (160 GSM 03.38 or 70 UCS-2 units).
 * The string is static. */
const char *template_builtin(const char *lang);

/* 1 when lang has a built-in template, else 0 (NULL gives 0). */
int template_lang_valid(const char *lang);

/* 1 when tmpl contains a code placeholder, {code} or ##code##. */
int template_has_code(const char *tmpl);

/* tmpl with every {code} and ##code## replaced by code and every {minutes}
 * by minutes, malloc'd (the caller frees it).  NULL when tmpl is NULL or
 * has no code placeholder: a message without its code is never sent. */
char *template_render(const char *tmpl, const char *code, int minutes);

#endif
