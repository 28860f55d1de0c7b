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
 * NoNewPrivileges=yes).
 *
 * The unit's other settings that systemd also enforces with seccomp are
 * applied the way systemd does, as filters of their own:
 * RestrictAddressFamilies= (socket() of another family fails with
 * EAFNOSUPPORT) and MemoryDenyWriteExecute=yes (a mapping both writable
 * and executable, or making memory executable afterwards, fails with
 * EPERM).  Then PROGRAM is executed.
 *
 * Exits 2 on a usage error, 1 when the filter cannot be built or loaded,
 * 127 when PROGRAM cannot be executed.  $SYSTEMD_ANALYZE names the
 * systemd-analyze to run (default: from $PATH).
 */
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/socket.h>

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

/* The value of the unit's last "name=" line, into buf; 0, or -1 when it
 * has none. */
static int
unit_value(const char *unit, const char *name, char *buf, size_t size)
{
	char line[MAX_LINE];
	size_t n = strlen(name);
	int found = -1;
	FILE *u;

	if ((u = fopen(unit, "r")) == NULL)
		die("cannot read %s", unit);
	while (fgets(line, sizeof(line), u) != NULL) {
		if (strncmp(line, name, n) != 0 || line[n] != '=')
			continue;
		line[strcspn(line, "\r\n")] = '\0';
		snprintf(buf, size, "%s", line + n + 1);
		found = 0;
	}
	fclose(u);
	return found;
}

/* RestrictAddressFamilies=: socket() of a family not listed fails. */
static void
restrict_families(scmp_filter_ctx ctx, const char *list)
{
	static const struct {
		const char *name;
		int af;
	} names[] = {
		{ "AF_UNIX", AF_UNIX }, { "AF_INET", AF_INET },
		{ "AF_INET6", AF_INET6 }, { "AF_NETLINK", AF_NETLINK },
		{ "AF_PACKET", AF_PACKET },
	};
	char copy[MAX_LINE], *save = NULL, *w;
	int allowed[AF_MAX] = { 0 };
	size_t i;

	snprintf(copy, sizeof(copy), "%s", list);
	if (copy[0] == '~')
		die("a deny list of families (%s) is not supported", list);
	for (w = strtok_r(copy, " \t", &save); w != NULL;
	    w = strtok_r(NULL, " \t", &save)) {
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strcmp(w, names[i].name) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			die("unknown address family %s", w);
		allowed[names[i].af] = 1;
	}
	for (int af = 0; af < AF_MAX; af++)
		if (!allowed[af] && seccomp_rule_add(ctx,
		    SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
		    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)af, 0)) != 0)
			die("%s", "cannot restrict socket()");
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT),
	    SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_GE, AF_MAX, 0)) != 0)
		die("%s", "cannot restrict socket()");
}

/* MemoryDenyWriteExecute=yes, as systemd words it. */
static void
deny_write_execute(scmp_filter_ctx ctx)
{
	const scmp_datum_t wx = PROT_WRITE | PROT_EXEC;

	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mmap), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, wx, wx)) != 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mprotect), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC)) != 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
	    SCMP_SYS(pkey_mprotect), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC,
	    PROT_EXEC)) != 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(shmat), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC)) != 0)
		die("%s", "cannot deny write+execute memory");
}

/* The unit's other seccomp-enforced settings, as a second filter. */
static void
load_restrictions(const char *unit)
{
	char v[MAX_LINE];
	scmp_filter_ctx ctx;
	int any = 0;

	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL)
		die("%s", "seccomp_init failed");
	if (unit_value(unit, "RestrictAddressFamilies", v, sizeof(v)) == 0) {
		restrict_families(ctx, v);
		fprintf(stderr, "seccomp_run: address families %s\n", v);
		any = 1;
	}
	if (unit_value(unit, "MemoryDenyWriteExecute", v, sizeof(v)) == 0 &&
	    strcmp(v, "yes") == 0) {
		deny_write_execute(ctx);
		fprintf(stderr, "seccomp_run: memory write xor execute\n");
		any = 1;
	}
	if (any && seccomp_load(ctx) != 0)
		die("%s", "seccomp_load of the restrictions failed");
	seccomp_release(ctx);
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
	load_restrictions(argv[1]);
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
