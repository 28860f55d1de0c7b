#!/bin/sh
# install.sh - "make install DESTDIR=..." lays out every file where an
# operator and systemd look for it, the installed daemon accepts the
# installed configuration, the manual pages format without a warning, and
# "make uninstall" takes every file away again.
#
# Run by "make check" with SV_BUILDDIR set (it runs make in that build
# directory: nothing is rebuilt, "make check" has built it all).
set -u

builddir=${SV_BUILDDIR:-.}
make=${MAKE:-make}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smsverify-install.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
fail=0

say_fail() {
	echo "FAIL: $*" >&2
	fail=1
}

# The installation directories as the Makefile expands them.
dirs=$(cd "$builddir" && $make -s --no-print-directory -f Makefile -f - \
    sv-print-dirs <<'MK'
sv-print-dirs:
	@echo "sbindir='$(sbindir)' bindir='$(bindir)' man1dir='$(man1dir)'"
	@echo "man5dir='$(man5dir)' man8dir='$(man8dir)'"
	@echo "confdir='$(smsverifyconfdir)' unitdir='$(systemdsystemunitdir)'"
	@echo "programs='$(bin_PROGRAMS) $(sbin_PROGRAMS)'"
MK
) || { echo "FAIL: cannot read the Makefile's directories" >&2; exit 1; }
eval "$dirs"

if ! (cd "$builddir" && $make -s --no-print-directory install \
    DESTDIR="$dest") >"$tmp/install.log" 2>&1; then
	cat "$tmp/install.log" >&2
	echo "FAIL: make install DESTDIR=$dest" >&2
	exit 1
fi

# want FILE MODE: FILE is installed with permissions MODE.
want() {
	if [ ! -f "$dest$1" ]; then
		say_fail "$1 not installed"
		return
	fi
	mode=$(stat -c %a "$dest$1")
	[ "$mode" = "$2" ] || say_fail "$1 has mode $mode, not $2"
}

want "$sbindir/smsverifyd" 755
want "$man8dir/smsverifyd.8" 644
want "$man5dir/smsverifyd.conf.5" 644
want "$confdir/smsverifyd.conf" 644
[ -n "$unitdir" ] && want "$unitdir/smsverifyd.service" 644
# smsverifyctl and its page, once the tree builds it.
case " $programs " in
*smsverifyctl*)
	want "$bindir/smsverifyctl" 755
	want "$man1dir/smsverifyctl.1" 644
	;;
esac

# The unit starts the installed daemon on the installed configuration.
if [ -n "$unitdir" ] && [ -f "$dest$unitdir/smsverifyd.service" ]; then
	grep -qxF "ExecStart=$sbindir/smsverifyd -c $confdir/smsverifyd.conf" \
	    "$dest$unitdir/smsverifyd.service" ||
	    say_fail "smsverifyd.service's ExecStart= is not $sbindir/smsverifyd"
fi

# The installed daemon accepts the installed example.
if [ -x "$dest$sbindir/smsverifyd" ]; then
	out=$("$dest$sbindir/smsverifyd" -t -c "$dest$confdir/smsverifyd.conf" 2>&1) ||
	    say_fail "smsverifyd -t refused the installed configuration: $out"
fi

# The pages format, and say nothing while they do (mdoc warnings).
for page in "$dest$man8dir/smsverifyd.8" "$dest$man5dir/smsverifyd.conf.5"; do
	[ -f "$page" ] || continue
	if ! head -n 20 "$page" | grep -q '^\.Dt '; then
		say_fail "$page is not mdoc"
		continue
	fi
	warn=$(LC_ALL=C groff -mdoc -ww -z -Tutf8 "$page" 2>&1)
	[ -z "$warn" ] || say_fail "$page: $warn"
done

# smsverifyd.conf(5) documents every key of conf.c's tables.
srcdir=${SV_SRCDIR:-}
if [ -n "$srcdir" ] && [ -r "$srcdir/src/conf.c" ]; then
	for k in $(sed -n 's/^[[:space:]]*{ "\([a-z_0-9]*\)", conv_.*/\1/p' \
	    "$srcdir/src/conf.c" | sort -u); do
		grep -q "^\.It Cm $k " "$srcdir/src/smsverifyd.conf.5" ||
		    say_fail "smsverifyd.conf.5 does not document the key $k"
	done
fi

# Every file goes away again.
(cd "$builddir" && $make -s --no-print-directory uninstall \
    DESTDIR="$dest") >"$tmp/uninstall.log" 2>&1 ||
    say_fail "make uninstall failed: $(cat "$tmp/uninstall.log")"
left=$(find "$dest" -type f 2>/dev/null)
[ -z "$left" ] || say_fail "left after make uninstall: $left"

[ $fail -eq 0 ] && echo "ok: make install DESTDIR lays out every file"
exit $fail
