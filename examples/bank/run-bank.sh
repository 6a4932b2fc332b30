#!/bin/sh
# SPDX-License-Identifier: MIT
# examples/bank/run-bank.sh - runs the bank under actorsd and checks the audit.
#
# Writes an app file (examples/bank/bank.json with the module path, the
# state paths and the options below filled in) into a fresh directory,
# starts actorsd on it, waits until the auditor says every transfer was
# applied, prints the auditor's and the ledger's reports and the ledger's
# restart count, stops the node, and exits 0 if the books were verified
# (every transfer applied exactly once, money conserved, every balance
# equal to the one recomputed from the transfers) with no dead letter.
#
#     run-bank.sh [-p CRASH_PROBABILITY] [-n TRANSFERS_PER_TELLER]
#                 [-b BUILD_DIR] [-d DIR] [-t TIMEOUT_S] [-k]
#
#   -p  the ledger's crash switch (default 0.02; 0 turns it off)
#   -n  transfers each of the 4 tellers makes (default 5000)
#   -b  the build directory holding actorsd, actorsctl and
#       examples/bank/.libs/bank.so (default: $top_builddir, else the
#       directory two levels above this script)
#   -d  run in DIR (kept) instead of a fresh temporary directory; running
#       again in the same DIR resumes from its books: nothing is applied twice
#   -t  give up after this many seconds (default 60)
#   -k  keep the directory (it is kept anyway when the run fails)
#
# Exit status: 0 verified; 1 not verified, dead letters, or timed out;
# 2 usage error or something missing.
set -u

here=$(cd "$(dirname "$0")" && pwd)
build=${top_builddir:-$here/../..}
prob=0.02
transfers=5000
dir=
timeout=60
keep=0

help() {
	sed -n '12,24s/^# \{0,1\}//p' "$0"
}

while getopts p:n:b:d:t:kh opt; do
	case $opt in
	p) prob=$OPTARG ;;
	n) transfers=$OPTARG ;;
	b) build=$OPTARG ;;
	d) dir=$OPTARG; keep=1 ;;
	t) timeout=$OPTARG ;;
	k) keep=1 ;;
	h) help; exit 0 ;;
	*) help >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { help >&2; exit 2; }
case $prob in '' | *[!0-9.eE+-]*) echo "run-bank.sh: -p wants a number" >&2; exit 2 ;; esac
case $transfers in '' | *[!0-9]*) echo "run-bank.sh: -n wants an integer" >&2; exit 2 ;; esac
case $timeout in '' | *[!0-9]*) echo "run-bank.sh: -t wants an integer" >&2; exit 2 ;; esac

build=$(cd "$build" 2>/dev/null && pwd) || { echo "run-bank.sh: no build directory" >&2; exit 2; }
actorsd=$build/actorsd
actorsctl=$build/actorsctl
module=$build/examples/bank/.libs/bank.so
for f in "$actorsd" "$actorsctl" "$module"; do
	[ -e "$f" ] || { echo "run-bank.sh: $f is not built" >&2; exit 2; }
done

if [ -n "$dir" ]; then
	mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || exit 2
else
	dir=$(mktemp -d "${TMPDIR:-/tmp}/bank.XXXXXX") || exit 2
fi
mkdir -p "$dir/state" || exit 2
case $dir in *'#'* | *'"'* | *\\*)
	echo "run-bank.sh: $dir: a directory name with # \" or \\ is not supported" >&2; exit 2 ;;
esac

# The app file: bank.json with absolute paths (the args' paths are relative
# to actorsd's working directory, the module's to the app file's).
sed -e "s#\"\\.libs/bank\\.so\"#\"$module\"#" \
    -e "s#\"state/#\"$dir/state/#g" \
    -e "s#\"crash_probability\": *[0-9.eE+-]*#\"crash_probability\": $prob#" \
    -e "s#\"transfers\": *[0-9]*#\"transfers\": $transfers#g" \
    "$here/bank.json" > "$dir/bank.json" || exit 2

sock=$dir/state/actorsd.sock
ctl() { "$actorsctl" -s "$sock" "$@"; }

(cd "$dir" && exec "$actorsd" bank.json) > "$dir/actorsd.log" 2>&1 &
pid=$!
echo "run-bank.sh: actorsd pid $pid in $dir" \
	"(crash_probability $prob, 4 tellers x $transfers transfers)"

result=1
finish() {
	if kill -0 "$pid" 2>/dev/null; then
		ctl stop > /dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null
		wait "$pid"
	fi
	if [ "$result" -ne 0 ]; then
		echo "run-bank.sh: FAILED; last lines of $dir/actorsd.log:"
		# Without the lines every crash of the switch adds.
		grep -v -e 'crash switch: SIGSEGV' -e 'restarting the group' -e 'started (pid' \
			-e 'killed by signal 11' -e 'was interrupted' "$dir/actorsd.log" | tail -n 20
		echo "run-bank.sh: kept $dir"
	elif [ "$keep" -eq 0 ]; then
		rm -rf "$dir"
	else
		echo "run-bank.sh: kept $dir"
	fi
	exit "$result"
}
trap finish EXIT
trap 'exit 1' INT TERM

# Wait (polling, against a deadline) until the auditor saw every transfer.
start=$(date +%s)
report=
while :; do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "run-bank.sh: actorsd exited early"
		exit 1
	fi
	report=$(ctl ask auditor Report '{}' 2>/dev/null)
	case $report in *'"complete":true'*) break ;; esac
	if [ $(($(date +%s) - start)) -ge "$timeout" ]; then
		echo "run-bank.sh: not complete after $timeout s: $report"
		exit 1
	fi
	sleep 0.1
done
elapsed=$(($(date +%s) - start))

audit=$(ctl ask ledger Audit '{}')
status=$(ctl --json status)
# The node's own counters: "restarts" comes before the groups' array, and
# "dead_letters" after it (the greedy .* finds its last occurrence).
restarts=$(printf '%s' "$status" | sed -n 's/^[^[]*"restarts":\([0-9]*\).*/\1/p')
dead=$(printf '%s' "$status" | sed -n 's/.*"dead_letters":\([0-9]*\).*/\1/p')

echo "auditor: $report"
echo "ledger:  $audit"
echo "restarts (status): ${restarts:-?}; dead letters: ${dead:-?}; about ${elapsed}s"
case $report in
*'"verified":true'*)
	if [ "${dead:-1}" = 0 ]; then
		echo "run-bank.sh: VERIFIED: every transfer applied exactly once, balances add up"
		result=0
	else
		echo "run-bank.sh: verified books, but ${dead:-?} dead letters"
	fi ;;
*)
	echo "run-bank.sh: NOT verified" ;;
esac
exit "$result"
