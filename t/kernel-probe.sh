#!/bin/sh
# SPDX-License-Identifier: MIT
# t/kernel-probe.sh - runs one test (the LOG_COMPILER of `make check`), or
# skips it with a TAP reason when the kernel lacks what a node needs.
#
# Every test that starts a node needs io_uring (each worker's loop),
# pidfd_open (the supervisor watches workers through pidfds) and
# memfd_create (the shared region).  A build chroot or a container may
# refuse them (seccomp, kernel.io_uring_disabled, an old kernel): there a
# node cannot start, which says nothing about this code, so such tests
# report "1..0 # SKIP" with the reason instead of failing.  The unit tests
# below touch none of those and always run.
set -u
test=$1
case ${test##*/} in
ring|timer-heap|codec|wire|appfile-parser|supervise-policy|log-limit)
	exec "$@" ;;
esac

# The probe costs one python start per test (no cache, so a changed
# environment is seen at once).  No python: no probe, run everything.
py=${PYTHON_ZMQ:-}
[ -n "$py" ] || py=$(command -v python3 || true)
[ -n "$py" ] || exec "$@"
reason=$("$py" - 2>/dev/null <<'PY' || echo ok
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def probe(what, nr, *args):
    # io_uring_setup is 425 and pidfd_open 434 on every architecture but alpha.
    fd = libc.syscall(nr, *args)
    if fd < 0:
        e = ctypes.get_errno()
        print("%s unavailable (%s)" % (what, os.strerror(e)))
        raise SystemExit(0)
    os.close(fd)
params = ctypes.create_string_buffer(120)
probe("io_uring", 425, ctypes.c_uint(1), params)
probe("pidfd_open", 434, ctypes.c_int(os.getpid()), ctypes.c_uint(0))
try:
    os.close(os.memfd_create("actors-probe", os.MFD_CLOEXEC))
except OSError as e:
    print("memfd_create unavailable (%s)" % e.strerror)
    raise SystemExit(0)
print("ok")
PY
)
if [ "$reason" != ok ]; then
	echo "1..0 # SKIP kernel: $reason"
	exit 0
fi
exec "$@"
