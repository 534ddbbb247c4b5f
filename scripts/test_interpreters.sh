#!/usr/bin/env bash
# Build a wheel from the sdist with each CPython >= 3.10 found here and run the
# test suite on it in a fresh virtual environment (scripts/check_dist.sh for
# each interpreter: build from the sdist, auditwheel repair, install, test).
#
#   scripts/test_interpreters.sh [--sdist FILE] [--out DIR] [--ends] [VERSION|PATH ...]
#
#   VERSION   a minor version such as 3.10 (found as pyenv's newest 3.10.x,
#             else python3.10 on PATH) or a path to an interpreter; default:
#             every CPython >= 3.10 that pyenv or PATH offers, newest patch
#             release of each minor version
#   --sdist   the sdist to build from (default: one made from this tree)
#   --out     where the repaired wheels are left (default: wheelhouse/)
#   --ends    of the interpreters found, only the oldest and the newest
#
# Prints one line per interpreter and exits non-zero if any failed.  Takes
# about 2.5 minutes per interpreter on 2 cores; .ci/run runs the oldest and the
# newest (--ends; see docs/distribution.md).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SDIST=
OUT=$ROOT/wheelhouse
WANTED=()
ENDS=0
while [ $# -gt 0 ]; do
    case "$1" in
        --sdist) SDIST=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --ends) ENDS=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "test_interpreters.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) WANTED+=("$1"); shift ;;
    esac
done

PYENV_VERSIONS=${PYENV_ROOT:-$HOME/.pyenv}/versions
minor_of() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }
gil_build() { "$1" -c 'import sys, sysconfig; sys.exit(bool(sysconfig.get_config_var("Py_GIL_DISABLED")))' 2>/dev/null; }

find_minor() {  # newest pyenv 3.X.y, else python3.X on PATH
    local minor=$1 best=
    for dir in $(ls -d "$PYENV_VERSIONS/$minor".[0-9]* 2>/dev/null | sort -V); do
        [ -x "$dir/bin/python3" ] && gil_build "$dir/bin/python3" && best=$dir/bin/python3
    done
    [ -n "$best" ] || best=$(command -v "python$minor" || true)
    echo "$best"
}

INTERPRETERS=()
if [ ${#WANTED[@]} = 0 ]; then
    minors=$({ ls "$PYENV_VERSIONS" 2>/dev/null; compgen -c python3. ; } | grep -Eo '^(python)?3\.[0-9]+' | sed 's/^python//' | sort -uV)
    for minor in $minors; do
        [ "${minor#3.}" -ge 10 ] || continue
        py=$(find_minor "$minor")
        [ -n "$py" ] && INTERPRETERS+=("$py")
    done
else
    for want in "${WANTED[@]}"; do
        case "$want" in
            */*) INTERPRETERS+=("$want") ;;
            *) py=$(find_minor "$want"); [ -n "$py" ] || { echo "no Python $want here" >&2; exit 1; }; INTERPRETERS+=("$py") ;;
        esac
    done
fi
[ ${#INTERPRETERS[@]} -gt 0 ] || { echo "test_interpreters.sh: no CPython >= 3.10 found" >&2; exit 1; }
if [ "$ENDS" = 1 ] && [ ${#INTERPRETERS[@]} -gt 2 ]; then
    INTERPRETERS=("${INTERPRETERS[0]}" "${INTERPRETERS[-1]}")
fi
echo "interpreters: ${INTERPRETERS[*]}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/zk-interpreters.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
if [ -z "$SDIST" ]; then
    echo "==> the sdist, with python -m build --sdist"
    python3 -m venv "$WORK/tools"
    "$WORK/tools/bin/python" -m pip install -q --disable-pip-version-check \
        -c "$ROOT/scripts/tool-constraints.txt" build
    "$WORK/tools/bin/python" -m build --sdist --outdir "$WORK" "$ROOT" >"$WORK/sdist.log" 2>&1 \
        || { cat "$WORK/sdist.log"; exit 1; }
    SDIST=$(ls "$WORK"/*.tar.gz)
fi

SUMMARY=$WORK/summary.txt
: >"$SUMMARY"
failed=0
for py in "${INTERPRETERS[@]}"; do
    minor=$(minor_of "$py")
    echo
    echo "######## Python $minor: $py"
    start=$SECONDS
    if ! bash "$ROOT/scripts/check_dist.sh" --python "$py" --sdist "$SDIST" --out "$OUT" --summary "$SUMMARY"; then
        failed=1
        grep -q "^python$minor " "$SUMMARY" || echo "python$minor FAILED (before the tests; see above)" >>"$SUMMARY"
    fi
    sed -i "\$s/\$/ ($((SECONDS - start)) s)/" "$SUMMARY"
done

echo
echo "######## interpreters (sdist $(basename "$SDIST"))"
cat "$SUMMARY"
exit "$failed"
