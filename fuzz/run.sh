#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets with clang and runs each for a bounded time.
#   fuzz/run.sh SRCDIR BUILDDIR [SECONDS]      (make fuzz does this)
# Needs clang and libclang-rt (Debian: clang libclang-rt-14-dev).  New
# crashes are left as crash-* files in BUILDDIR/fuzz and fail the run.
set -eu
# Absolute: the targets run from BUILDDIR/fuzz.
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
secs=${3:-60}
cc=${FUZZ_CC:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "fuzz: $cc not found (apt-get install clang libclang-rt-14-dev)" >&2
	exit 1
fi
out=$build/fuzz
mkdir -p "$out"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -DACT_BUILDING_LIBRARY \
	-I$build -I$src/include -I$src/src -I$src/supervisor -I$src/t"
build_target() {
	name=$1; shift
	echo "fuzz: building $name"
	# shellcheck disable=SC2086
	$cc $flags -o "$out/$name" "$src/fuzz/$name.c" "$@" -lcjson
}
build_target wire-fuzz "$src/src/wire.c" "$src/src/utf8.c" "$src/t/wire-tree.c"
build_target codec-fuzz "$src/src/codec.c" "$src/src/message.c" "$src/src/base64.c"
build_target appfile-fuzz "$src/supervisor/appfile.c" "$src/supervisor/jsoncheck.c" \
	"$src/supervisor/pathcheck.c" "$src/supervisor/restart.c" \
	"$src/supervisor/metricsaddr.c" "$src/src/topicname.c" \
	"$src/src/utf8.c"
for t in wire codec appfile; do
	corpus=$out/corpus-$t
	mkdir -p "$corpus"
	seeds=$src/fuzz/corpus/$t
	[ "$t" = appfile ] && seeds=$src/t/appfile
	echo "fuzz: running $t-fuzz for $secs s"
	(cd "$out" && ./$t-fuzz -max_total_time="$secs" -max_len=65536 \
		-print_final_stats=1 "$corpus" "$seeds")
done
echo "fuzz: no crash found"
