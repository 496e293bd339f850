#!/usr/bin/env bash
# Runs every fuzz target of the module, one at a time, for FUZZTIME each
# (default 10s), and prints the executions Go's fuzzer reports per target
# and a summary. Exits non-zero if any target fails; a failing input is
# left in <package>/testdata/fuzz/<target>/ by go test.
#
#   FUZZTIME=30s infra/fuzz.sh
#   FUZZTIME=30s FUZZPKGS=./shared/webhook/ infra/fuzz.sh   # some packages only
set -uo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10s}
FUZZPKGS=${FUZZPKGS:-./...}

# Packages with test files; go test -list names their fuzz targets.
mapfile -t pkgs < <($GO list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' $FUZZPKGS) || exit 1

targets=()
for pkg in "${pkgs[@]}"; do
  [[ -n "$pkg" ]] || continue
  if ! out=$($GO test -list '^Fuzz' "$pkg" 2>&1); then
    echo "$out"
    echo "fuzz: cannot list the tests of $pkg" >&2
    exit 1
  fi
  while read -r name; do
    [[ "$name" =~ ^Fuzz[A-Za-z0-9_]*$ ]] && targets+=("$pkg $name")
  done <<<"$out"
done
if ((${#targets[@]} == 0)); then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, $FUZZTIME each"

failed=()
total=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  start=$SECONDS
  $GO test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg" >"$log" 2>&1
  rc=$?
  # The fuzzer's last progress line: "fuzz: elapsed: 10s, execs: 123456 (12345/sec), ..."
  execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+')
  execs=${execs:-0}
  total=$((total + execs))
  if ((rc == 0)); then
    printf 'ok    %-48s %-22s %12s execs  %3ds\n' "$pkg" "$name" "$execs" $((SECONDS - start))
  else
    printf 'FAIL  %-48s %-22s %12s execs  %3ds\n' "$pkg" "$name" "$execs" $((SECONDS - start))
    grep -vE '^fuzz: elapsed:' "$log" | sed 's/^/      /'
    failed+=("$pkg $name")
  fi
done

if ((${#failed[@]} > 0)); then
  echo "fuzz: FAIL: ${#failed[@]} of ${#targets[@]} targets failed (${total} execs in all): ${failed[*]}"
  exit 1
fi
echo "fuzz: ok: ${#targets[@]} targets passed, ${total} execs in all, ${FUZZTIME} each"
