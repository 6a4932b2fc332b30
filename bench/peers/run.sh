#!/bin/sh
# SPDX-License-Identifier: MIT
# bench/peers/run.sh - the same four workloads through actors, Erlang/OTP
# and CAF, in one run, printed side by side:
#
#   bench: PEER_NAME ours X theirs Y UNIT ratio Z
#
# ratio = ours / theirs: below 1 is better for times (pingpong_rtt ns,
# restart_p50 us), above 1 for rates (throughput_1to1 msgs/s, spawn_rate
# /s).  Ours comes from bench-core, bench-restart and bench-spawn; theirs
# from bench/peers/peers.erl (compiled with erlc, run by erl) and
# bench/peers/peers-caf.cpp (built against libcaf_core 0.17).  A peer whose
# tools are missing is skipped with the reason.  Note what differs: ours
# crosses processes (each actor group is its own worker), theirs stays in
# one OS process (Erlang processes, CAF actors in threads).
#
#   run.sh TOP_BUILDDIR TOP_SRCDIR [SCALE]    (make bench-peers)
#   CXX: the C++ compiler (default c++).
set -u
b=${1:?top_builddir}
s=${2:?top_srcdir}
scale=${3:-1}
cxx=${CXX:-c++}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/actors-peers.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# The value of figure $2 in the output file $1: "bench: NAME V ..." or
# "peer: PEER NAME V ..." or bench-spawn's "NAME   V /s".
val() {
	awk -v n="$2" '($1 == "bench:" && $2 == n) { print $3; exit }
	               ($1 == "peer:" && $3 == n) { print $4; exit }
	               ($1 == n) { print $2; exit }' "$1"
}

line() { # name ours theirs unit
	awk -v n="$1" -v o="$2" -v t="$3" -v u="$4" 'BEGIN {
		r = (o + 0 > 0 && t + 0 > 0) ? sprintf("%.2f", o / t) : "nan"
		printf "bench: %s ours %s theirs %s %s ratio %s\n", n, (o == "" ? "nan" : o),
		       (t == "" ? "nan" : t), u, r }'
}

echo "# bench-peers: scale $scale; cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cpus"
echo "# ours: bench-core pingpong_spin_rtt throughput_1to1, bench-restart restart_p50, bench-spawn spawn_rate"
"$b/bench/bench-core" "$scale" pingpong_spin_rtt throughput_1to1 >"$tmp/core" 2>&1 ||
	echo "# bench-core failed: $(tail -n 1 "$tmp/core")"
rounds=$(awk -v s="$scale" 'BEGIN { r = int(1000 * s); print (r < 50 ? 50 : (r > 4096 ? 4096 : r)) }')
"$b/bench/bench-restart" "$rounds" >"$tmp/restart" 2>&1 ||
	echo "# bench-restart failed: $(tail -n 1 "$tmp/restart")"
spawns=$(awk -v s="$scale" 'BEGIN { r = int(200000 * s); print (r < 10000 ? 10000 : r) }')
"$b/bench/bench-spawn" "$spawns" >"$tmp/spawn" 2>&1 ||
	echo "# bench-spawn failed: $(tail -n 1 "$tmp/spawn")"
grep '^bench:' "$tmp/core" "$tmp/restart" | sed 's/^[^:]*:/# ours: /'

o_rtt=$(val "$tmp/core" pingpong_spin_rtt)
o_tp=$(val "$tmp/core" throughput_1to1)
o_rs=$(val "$tmp/restart" restart_p50)
o_sp=$(val "$tmp/spawn" spawn_rate)

peer_lines() { # peer outfile
	line "$1_pingpong_rtt" "$o_rtt" "$(val "$2" pingpong_rtt)" ns
	line "$1_throughput_1to1" "$o_tp" "$(val "$2" throughput_1to1)" msgs/s
	line "$1_restart_p50" "$o_rs" "$(val "$2" restart_p50)" us
	line "$1_spawn_rate" "$o_sp" "$(val "$2" spawn_rate)" /s
}

if ! command -v erlc >/dev/null 2>&1 || ! command -v erl >/dev/null 2>&1; then
	echo "# erlang skipped: erlc/erl not found (apt-get install erlang-nox)"
elif ! erlc -o "$tmp" "$s/bench/peers/peers.erl" >"$tmp/erlc.log" 2>&1; then
	echo "# erlang skipped: peers.erl did not compile: $(head -n 1 "$tmp/erlc.log")"
else
	erl -noshell -pa "$tmp" -eval "peers:main([\"$scale\"])" -s init stop >"$tmp/erl" 2>&1
	grep '^#' "$tmp/erl"
	peer_lines erlang "$tmp/erl"
fi

if ! printf '#include <caf/all.hpp>\n' | "$cxx" -std=c++17 -E -x c++ - >/dev/null 2>&1; then
	echo "# caf skipped: no caf/all.hpp for $cxx (apt-get install libcaf-dev)"
elif ! "$cxx" -std=c++17 -O2 -o "$tmp/peers-caf" "$s/bench/peers/peers-caf.cpp" \
		-lcaf_core -pthread >"$tmp/cxx.log" 2>&1; then
	echo "# caf skipped: peers-caf.cpp did not build: $(grep -m1 error "$tmp/cxx.log")"
else
	"$tmp/peers-caf" "$scale" >"$tmp/caf" 2>&1
	grep '^#' "$tmp/caf"
	peer_lines caf "$tmp/caf"
fi
