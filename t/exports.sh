#!/bin/sh
# SPDX-License-Identifier: MIT
# t/exports.sh - libactors.so exports no writable data: every exported
# object (the built-in message descriptors, the ACTORS_PRIVATE name tables)
# is const, in a section the loader makes read-only (.rodata, or
# .data.rel.ro under RELRO), never .data or .bss, so no program can
# change what every other user of the library sees.
set -u
lib=${top_builddir:-.}/.libs/libactors.so
echo 1..2
if ! command -v readelf >/dev/null 2>&1 || [ ! -f "$lib" ]; then
	echo "ok 1 # SKIP no readelf or no shared $lib"
	echo "ok 2 # SKIP no readelf or no shared $lib"
	exit 0
fi
# Section number -> name, then each defined exported OBJECT's section.
secs=$(readelf -SW "$lib" | sed -n 's/^ *\[ *\([0-9]*\)\] \([^ ]*\) .*/\1 \2/p')
bad=$(readelf --dyn-syms -W "$lib" | awk -v secs="$secs" -v ok=".rodata .data.rel.ro" '
	BEGIN {
		n = split(secs, l, "\n")
		for (i = 1; i <= n; i++) { split(l[i], f, " "); sec[f[1]] = f[2] }
		n = split(ok, l, " ")
		for (i = 1; i <= n; i++) good[l[i]] = 1
	}
	$4 == "OBJECT" && $7 != "UND" && $7 != "ABS" && !(sec[$7] in good) { print $8 " in " sec[$7] }')
if [ -z "$bad" ]; then
	echo "ok 1 - every exported object is in .rodata or .data.rel.ro"
else
	echo "not ok 1 - writable exported objects: $(echo $bad)"
fi
if readelf -lW "$lib" | grep -q GNU_RELRO; then
	echo "ok 2 - the library has a GNU_RELRO segment (.data.rel.ro is read-only after load)"
else
	echo "not ok 2 - no GNU_RELRO segment: .data.rel.ro stays writable"
fi
