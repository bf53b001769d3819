#!/usr/bin/env bash
# Runs every fuzz target in the module for a short time (default 3s each), so
# `make test` exercises them on each run. Usage: hack/fuzz.sh [FUZZTIME]
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-3s}"
count=0
while IFS=: read -r file name; do
  pkg="./$(dirname "$file")"
  echo "fuzz ${pkg} ${name} (${fuzztime})" >&2
  for attempt in 1 2 3; do
    if out="$(go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" 2>&1)"; then
      break
    fi
    # Go's fuzzing engine can report "context deadline exceeded" when
    # -fuzztime runs out while it is still processing a new interesting input;
    # that is not a finding (no failing input is written), so run it again.
    # A real failure always writes its input under testdata/fuzz.
    if [[ $attempt -lt 3 && "$out" == *"context deadline exceeded"* && "$out" != *"Failing input written"* ]]; then
      echo "fuzz ${pkg} ${name}: the engine ran out of time without a finding; again" >&2
      continue
    fi
    echo "$out" >&2
    echo "fuzz target ${name} in ${pkg} failed (the failing input is under ${pkg}/testdata/fuzz/${name})" >&2
    exit 1
  done
  count=$((count + 1))
done < <(grep -rHoE --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]+)' --exclude-dir=hack . | sed -E 's|^\./||; s|:func |:|' | sort)
echo "${count} fuzz targets passed" >&2
[[ $count -gt 0 ]]
