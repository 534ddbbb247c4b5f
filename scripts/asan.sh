#!/usr/bin/env bash
# Build the compiled kernels with AddressSanitizer and run the test suite on
# that build: any invalid read or write (heap/stack/global buffer overflow,
# use after free, ...) in our Cython/C code aborts with a report, and this
# script exits non-zero.
#
#   bash scripts/asan.sh                       # the whole test suite
#   bash scripts/asan.sh tests/test_layers.py  # chosen tests (pytest arguments)
#
# After pytest it runs the window-geometry fuzz target (tests/fuzz_geometry.py,
# GEOMETRY_CASES cases, default 100000) on the same build.
#
# What it does:
#  1. copies the working tree (tracked and untracked files, not the ignored
#     build outputs) to a temporary directory, so the in-place build here is
#     not touched;
#  2. builds there in place with gcc, the baseline kernels only
#     (ZK_LAYERS_BASELINE_ONLY=1), through a compiler wrapper that appends
#     -fsanitize=address -fno-omit-frame-pointer -g -O1 to every compile and
#     link (appended, so -O1 wins over setup.py's -O3);
#  3. runs pytest there with the ASan runtime preloaded into the (not
#     instrumented) Python: LD_PRELOAD=$(gcc -print-file-name=libasan.so)
#     (and libstdc++, see below),
#     PYTHONMALLOC=malloc (so Python's allocations go through ASan's malloc
#     too), ASAN_OPTIONS=detect_leaks=0 (CPython keeps memory alive until exit
#     by design, which the leak checker would report; leaks are measured by
#     tests/test_memory.py and scripts/leak_check.py instead).  Child
#     interpreters started by the tests inherit all of it;
#  4. fails if pytest fails or if any ASan report was written (log_path
#     catches reports from child processes too).
#
# Environment: PYTHON (default: python3, e.g. the project's .venv), KEEP=1 to
# keep the temporary directory, ASAN_EXTRA_OPTIONS appended to ASAN_OPTIONS.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
command -v gcc >/dev/null || { echo "asan.sh: gcc is required" >&2; exit 2; }
libasan=$(gcc -print-file-name=libasan.so)
[ -e "$libasan" ] || { echo "asan.sh: gcc has no libasan.so ($libasan)" >&2; exit 2; }
# libstdc++ is preloaded too: ASan's __cxa_throw interceptor must find the real
# one at startup, or the first C++ exception of a C++ extension loaded later
# (matplotlib's ft2font, torch) aborts with "CHECK failed ... real___cxa_throw".
preload="$libasan"
libstdcxx=$(gcc -print-file-name=libstdc++.so)
[ -e "$libstdcxx" ] && preload="$preload $(readlink -f "$libstdcxx")"
"$python" -c "import Cython, setuptools, numpy, pytest" || {
    echo "asan.sh: $python needs Cython, setuptools, numpy and pytest" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/zk_asan.XXXXXX")
cleanup() { if [ "${KEEP:-0}" = 1 ]; then echo "asan.sh: kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT

echo "asan.sh: copying the working tree to $work/repo"
mkdir -p "$work/repo" "$work/bin" "$work/logs"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' \
    | tar --null -T - -cf -) | tar -xf - -C "$work/repo"

cat > "$work/bin/gcc-asan" <<'EOF'
#!/bin/sh
exec gcc "$@" -fsanitize=address -fno-omit-frame-pointer -g -O1
EOF
chmod +x "$work/bin/gcc-asan"

echo "asan.sh: building with AddressSanitizer (baseline kernels only)"
(
    cd "$work/repo"
    CC="$work/bin/gcc-asan" LDSHARED="$work/bin/gcc-asan -shared" \
    ZK_LAYERS_BASELINE_ONLY=1 \
    "$python" setup.py -q build_ext --inplace -j 2 > "$work/build.log" 2>&1
) || { tail -50 "$work/build.log"; echo "asan.sh: build failed" >&2; exit 2; }
# Every kernel module must really be instrumented.
for so in "$work"/repo/zk_layers/_*.so; do
    # (grep without -q: an early exit would SIGPIPE nm and fail the pipeline)
    nm -D "$so" | grep __asan_init >/dev/null || { echo "asan.sh: $so is not instrumented" >&2; exit 2; }
done
echo "asan.sh: built $(ls "$work"/repo/zk_layers/_*.so | wc -l) instrumented modules"

asan_options="detect_leaks=0:abort_on_error=1:halt_on_error=1:log_path=$work/logs/asan:print_summary=1"
asan_options="$asan_options:detect_stack_use_after_return=1:strict_string_checks=1${ASAN_EXTRA_OPTIONS:+:$ASAN_EXTRA_OPTIONS}"
[ $# -gt 0 ] || set -- tests

# Canary: an out-of-bounds memset from Python must produce a report, or
# the runtime is not active and a clean run below would prove nothing.
mkdir -p "$work/canary"
LD_PRELOAD="$preload" PYTHONMALLOC=malloc \
ASAN_OPTIONS="detect_leaks=0:log_path=$work/canary/asan" \
"$python" -c "import ctypes; b = ctypes.create_string_buffer(16); ctypes.memset(ctypes.addressof(b), 0, 64)" \
    >/dev/null 2>&1 && { echo "asan.sh: canary overflow was not stopped: ASan is not active" >&2; exit 2; }
grep -q "heap-buffer-overflow" "$work"/canary/asan.* 2>/dev/null || {
    echo "asan.sh: canary overflow was not reported: ASan is not active" >&2; exit 2; }
echo "asan.sh: canary: a 48-byte heap overflow from Python was caught (ASan is active)"

echo "asan.sh: running pytest $* under ASan"
status=0
(
    cd "$work/repo"
    LD_PRELOAD="$preload" ASAN_OPTIONS="$asan_options" PYTHONMALLOC=malloc \
    PYTHONPATH="$work/repo" "$python" -m pytest -q -p no:cacheprovider "$@"
) || status=$?

# The window-geometry fuzz target (tests/fuzz_geometry.py): 10^5 random
# geometries, strides and pads up to beyond 2**64, in child processes; an
# out-of-bounds read or write in im2col, col2im or pooling aborts its child.
if [ "$status" -eq 0 ]; then
    echo "asan.sh: geometry fuzz target under ASan (${GEOMETRY_CASES:=100000} cases)"
    (
        cd "$work/repo"
        LD_PRELOAD="$preload" ASAN_OPTIONS="$asan_options" PYTHONMALLOC=malloc \
        PYTHONPATH="$work/repo" "$python" tests/fuzz_geometry.py --cases "$GEOMETRY_CASES"
    ) || status=$?
fi

reports=$(find "$work/logs" -name 'asan.*' | wc -l)
if [ "$reports" -gt 0 ]; then
    echo "asan.sh: $reports AddressSanitizer report(s):" >&2
    cat "$work"/logs/asan.* >&2
    exit 1
fi
if [ "$status" -ne 0 ]; then
    echo "asan.sh: pytest failed under ASan (exit $status), no ASan report was written" >&2
    exit "$status"
fi
echo "asan.sh: OK: no AddressSanitizer report, pytest passed"
