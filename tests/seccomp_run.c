/*
 * seccomp_run.c - run a program under the system call filter of a systemd
 * unit, as systemd would, so that the test suite proves the daemon lives
 * with its unit's SystemCallFilter=.
 *
 *	seccomp_run UNIT PROGRAM [ARG...]
 *
 * The allow-list is read from UNIT's SystemCallFilter= lines (the same
 * file that is installed: one list, kept in one place).  Each word is a
 * system call or an @group, which "systemd-analyze syscall-filter @group"
 * expands (groups nest); an empty SystemCallFilter= starts the list over,
 * as in systemd.  A list that denies (~) is not supported: the unit's is
 * an allow-list.  Names this architecture does not have are skipped, as
 * systemd skips them.  Every other system call kills the process
 * (SCMP_ACT_KILL_PROCESS: the death by SIGSYS that systemd's default
 * action gives), and so do calls of another architecture
 * (SystemCallArchitectures=native).  no_new_privs is set (the unit's
 * NoNewPrivileges=yes), then PROGRAM is executed.
 *
 * Exits 2 on a usage error, 1 when the filter cannot be built or loaded,
 * 127 when PROGRAM cannot be executed.  $SYSTEMD_ANALYZE names the
 * systemd-analyze to run (default: from $PATH).
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_GROUPS 64
#define MAX_LINE 4096

struct filter {
	scmp_filter_ctx ctx;
	char *groups[MAX_GROUPS];   /* expanded already */
	int ngroup;
	int allowed, unknown;
};

static int add_word(struct filter *, const char *word);

static void
die(const char *fmt, const char *arg)
{
	fprintf(stderr, "seccomp_run: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

/* Add every call of @group (and of the groups it names). */
static void
add_group(struct filter *f, const char *group)
{
	const char *sa = getenv("SYSTEMD_ANALYZE");
	char cmd[512], line[MAX_LINE], word[256];
	int first = 1;
	FILE *p;

	for (int i = 0; i < f->ngroup; i++)
		if (strcmp(f->groups[i], group) == 0)
			return;
	if (f->ngroup == MAX_GROUPS)
		die("too many groups at %s", group);
	f->groups[f->ngroup++] = strdup(group);
	if (strspn(group + 1, "abcdefghijklmnopqrstuvwxyz-") !=
	    strlen(group + 1))
		die("bad group name %s", group);
	snprintf(cmd, sizeof(cmd), "'%s' syscall-filter --no-pager '%s'",
	    sa != NULL && *sa != '\0' ? sa : "systemd-analyze", group);
	if ((p = popen(cmd, "r")) == NULL)
		die("cannot run %s", cmd);
	while (fgets(line, sizeof(line), p) != NULL) {
		/* "@group" then its indented members and "# comments". */
		if (first) {
			first = 0;
			continue;
		}
		if (sscanf(line, " %255s", word) != 1 || word[0] == '#')
			continue;
		if (add_word(f, word) != 0)
			die("cannot add %s", word);
	}
	if (pclose(p) != 0 || first)
		die("systemd-analyze does not know %s", group);
}

static int
add_word(struct filter *f, const char *word)
{
	int nr;

	if (word[0] == '~')
		die("a deny list (%s) is not supported", word);
	if (word[0] == '@') {
		add_group(f, word);
		return 0;
	}
	if ((nr = seccomp_syscall_resolve_name(word)) == __NR_SCMP_ERROR) {
		f->unknown++;
		return 0;
	}
	if (seccomp_rule_add(f->ctx, SCMP_ACT_ALLOW, nr, 0) != 0)
		return -1;
	f->allowed++;
	return 0;
}

/* Read the unit's SystemCallFilter= lines into f. */
static void
read_unit(struct filter *f, const char *unit)
{
	char line[MAX_LINE], *v, *save = NULL, *w;
	int lines = 0;
	FILE *u;

	if ((u = fopen(unit, "r")) == NULL)
		die("cannot read %s", unit);
	while (fgets(line, sizeof(line), u) != NULL) {
		if (strncmp(line, "SystemCallFilter=", 17) != 0)
			continue;
		v = line + 17;
		v[strcspn(v, "\r\n")] = '\0';
		lines++;
		if (*v == '\0') {
			/* "SystemCallFilter=" alone starts over. */
			seccomp_reset(f->ctx, SCMP_ACT_KILL_PROCESS);
			f->allowed = 0;
			continue;
		}
		for (w = strtok_r(v, " \t", &save); w != NULL;
		    w = strtok_r(NULL, " \t", &save))
			if (add_word(f, w) != 0)
				die("cannot allow %s", w);
	}
	fclose(u);
	if (lines == 0)
		die("%s has no SystemCallFilter=", unit);
}

int
main(int argc, char **argv)
{
	struct filter f;

	if (argc < 3) {
		fprintf(stderr, "usage: seccomp_run UNIT PROGRAM [ARG...]\n");
		return 2;
	}
	memset(&f, 0, sizeof(f));
	if ((f.ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		die("%s", "seccomp_init failed");
	read_unit(&f, argv[1]);
	if (f.allowed == 0)
		die("%s allows no system call", argv[1]);
	if (seccomp_attr_set(f.ctx, SCMP_FLTATR_CTL_NNP, 1) != 0)
		die("%s", "cannot set no_new_privs");
	fprintf(stderr, "seccomp_run: %d system calls allowed (%d unknown "
	    "here), groups:", f.allowed, f.unknown);
	for (int i = 0; i < f.ngroup; i++)
		fprintf(stderr, " %s", f.groups[i]);
	fputc('\n', stderr);
	if (seccomp_load(f.ctx) != 0)
		die("%s", "seccomp_load failed");
	seccomp_release(f.ctx);
	for (int i = 0; i < f.ngroup; i++)
		free(f.groups[i]);
	execv(argv[2], argv + 2);
	fprintf(stderr, "seccomp_run: cannot execute %s: %s\n", argv[2],
	    strerror(errno));
	return 127;
}
