# shellcheck shell=bash
# scripts/lib.sh - helpers shared by scripts/test, scripts/run and
# scripts/bench: messages, the autotools steps, out-of-tree configure with a
# stamp of its arguments, and bounded waits for ports and files.
#
# Sourced, never run.  The caller has already done `cd` to the top of the
# tree and `set -euo pipefail`.
#
# Builds go under $SV_BUILD_ROOT (default build/, relative to the top or
# absolute), one directory per purpose: asan, fuzz, run, bench.
SV_BUILD_ROOT=${SV_BUILD_ROOT:-build}

# A step the user should see.
sv_say() {
	printf '==> %s\n' "$*"
}

# An error, then exit 1.
sv_die() {
	printf '%s: error: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

# Run scripts/bootstrap (silent when every package is there).
sv_bootstrap() {
	scripts/bootstrap
}

# Print the last lines of a file, indented, to stderr.
sv_tail() {
	local file=$1 n=${2:-40}

	[ -f "$file" ] || return 0
	printf -- '--- last lines of %s ---\n' "$file" >&2
	tail -n "$n" "$file" | sed 's/^/    /' >&2
}

# autoreconf -fi when configure is missing or older than its inputs.
sv_autoreconf() {
	if [ -f configure ] && [ ! configure -ot configure.ac ] &&
	    [ ! configure -ot Makefile.am ] && [ -f Makefile.in ] &&
	    [ ! Makefile.in -ot Makefile.am ]; then
		return 0
	fi
	if [ -f config.status ]; then
		sv_die "the source tree itself is configured (config.status);" \
		    "run 'make distclean' at the top first: builds go to build/"
	fi
	sv_say "autoreconf -fi"
	mkdir -p m4 build
	if ! autoreconf -fi >build/autoreconf.log 2>&1; then
		sv_tail build/autoreconf.log
		sv_die "autoreconf failed (full log: build/autoreconf.log)"
	fi
}

# sv_configure DIR ARG...: configure the tree out of source in DIR with these
# arguments, unless DIR already holds a configuration made by the current
# configure script with the very same arguments.
sv_configure() {
	local dir=$1 want have='' top=$PWD
	shift

	sv_autoreconf
	want=$(printf '%s\n' "$@")
	if [ -f "$dir/.sv-configure-args" ]; then
		have=$(cat "$dir/.sv-configure-args")
	fi
	if [ -f "$dir/Makefile" ] && [ -f "$dir/config.status" ] &&
	    [ ! "$dir/config.status" -ot configure ] && [ "$want" = "$have" ]; then
		return 0
	fi
	sv_say "configuring $dir"
	mkdir -p "$dir"
	rm -f "$dir/.sv-configure-args"
	# New arguments or a new configure may change what is linked, which
	# make does not see: start from clean objects.
	if [ -f "$dir/Makefile" ]; then
		make -C "$dir" --no-print-directory clean >/dev/null 2>&1 || true
	fi
	if ! (cd "$dir" && "$top/configure" "$@") >"$dir/configure.out" 2>&1; then
		sv_tail "$dir/configure.out" 25
		sv_die "configure failed in $dir (see $dir/configure.out" \
		    "and $dir/config.log)"
	fi
	printf '%s\n' "$want" >"$dir/.sv-configure-args"
}

# sv_make DIR TARGET...: make -j2 in DIR, quiet rules; dies on failure.
sv_make() {
	local dir=$1
	shift

	if ! make -C "$dir" -j2 --no-print-directory ARFLAGS=cr "$@"; then
		sv_die "build failed in $dir: make $*"
	fi
}

# True when something accepts TCP connections on HOST:PORT.
sv_port_in_use() {
	local host=$1 port=$2

	(exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

# A TCP port on 127.0.0.1 that nothing listens on now (a small race remains
# until the caller binds it).
sv_free_port() {
	local i port

	for i in $(seq 1 50); do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		if ! sv_port_in_use 127.0.0.1 "$port"; then
			echo "$port"
			return 0
		fi
	done
	sv_die "no free TCP port found on 127.0.0.1 after $i tries"
}

# sv_wait_file FILE PID SECONDS NAME: wait until FILE is non-empty, while PID
# lives; dies when PID exits or the time runs out.
sv_wait_file() {
	local file=$1 pid=$2 secs=$3 name=$4 i

	for i in $(seq 1 $((secs * 10))); do
		[ -s "$file" ] && return 0
		kill -0 "$pid" 2>/dev/null || sv_die "$name exited during startup"
		sleep 0.1
	done
	sv_die "$name did not start within $secs s (no $file)"
}

# sv_wait_http URL PID SECONDS NAME [LOG]: wait until URL answers 2xx, while
# PID lives; on failure print the tail of LOG and die.
sv_wait_http() {
	local url=$1 pid=$2 secs=$3 name=$4 log=${5:-} i

	for i in $(seq 1 $((secs * 10))); do
		if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			[ -n "$log" ] && sv_tail "$log"
			sv_die "$name exited during startup"
		fi
		sleep 0.1
	done
	[ -n "$log" ] && sv_tail "$log"
	sv_die "$name did not answer $url within $secs s"
}

# sv_stop PID...: SIGTERM each live PID, wait for it (bounded: SIGKILL after
# 10 s); returns 0.
sv_stop() {
	local pid i

	for pid in "$@"; do
		[ -n "$pid" ] || continue
		kill -TERM "$pid" 2>/dev/null || continue
	done
	for pid in "$@"; do
		[ -n "$pid" ] || continue
		for i in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			printf '%s: pid %s did not stop in 10 s: SIGKILL\n' \
			    "${0##*/}" "$pid" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
	done
	return 0
}
