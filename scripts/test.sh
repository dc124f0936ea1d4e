#!/usr/bin/env bash
# Runs every RedisEdge test against a real redis-server that the test fixture starts on a free port.
# Usage: scripts/test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~RateLimiting]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-redis.sh

results_dir="${TEST_RESULTS_DIR:-$PWD/artifacts/test-results}"
rm -rf "$results_dir"
mkdir -p "$results_dir"

dotnet build RedisEdge.sln -c Release -warnaserror -nologo -v quiet
set +e
# --blame-hang: a test that hangs (none should; every wait in the suite is bounded) ends the run after 5 minutes with
# the test named, instead of holding CI until its own limit.
dotnet test tests/RedisEdge.Tests/RedisEdge.Tests.csproj -c Release --no-build -nologo \
  --logger "trx;LogFileName=results.trx" --logger "console;verbosity=normal" \
  --blame-hang --blame-hang-timeout 5min --blame-hang-dump-type none \
  --results-directory "$results_dir" "$@"
status=$?
set -e

# Parity: the fleet tests of every feature (trait Parity=true) again, on RedisEdge.Testing's embedded Garnet server
# (REDISEDGE_TEST_REDIS=embedded starts it in the test process) instead of redis-server. Full runs only: a run narrowed
# by arguments is a developer's subset. REDISEDGE_PARITY=0 skips it, REDISEDGE_PARITY=1 forces it.
parity="${REDISEDGE_PARITY:-$([ $# -eq 0 ] && echo 1 || echo 0)}"
trx_files=("$results_dir/results.trx")
if [ "$parity" = "1" ]; then
  echo "Parity run: the fleet tests on the embedded server (RedisEdge.Testing)."
  set +e
  REDISEDGE_TEST_REDIS=embedded dotnet test tests/RedisEdge.Tests/RedisEdge.Tests.csproj -c Release --no-build -nologo \
    --filter "Parity=true" \
    --logger "trx;LogFileName=parity.trx" --logger "console;verbosity=minimal" \
    --blame-hang --blame-hang-timeout 5min --blame-hang-dump-type none \
    --results-directory "$results_dir"
  parity_status=$?
  set -e
  [ $status -eq 0 ] && status=$parity_status
  trx_files+=("$results_dir/parity.trx")
fi

# The closing line comes from the TRX files the runs wrote (both, when the parity run ran), not from the runners' own
# summaries.
passed=0; failed=0; skipped=0
for trx in "${trx_files[@]}"; do
  if [ ! -f "$trx" ]; then
    echo "error: no test results were written ($trx missing)." >&2
    failed=$(( failed + 1 ))
    [ $status -eq 0 ] && status=1
    continue
  fi
  # Failed tests again, right before the closing line, so the tail of a long log names them and says why.
  awk -v run="$(basename "$trx" .trx)" '
    /<UnitTestResult / && /outcome="Failed"/ { match($0, /testName="[^"]*"/); name = substr($0, RSTART + 10, RLENGTH - 11); inresult = 1; printed = 0; next }
    inresult && /<\/UnitTestResult>/ { inresult = 0 }
    inresult && /<Message>/ { inmsg = 1 }
    inresult && inmsg && printed < 12 { if (printed == 0) print "FAILED (" run ") " name ":"; sub(/^[ \t]*/, ""); print "    " $0; printed++ }
    inmsg && /<\/Message>/ { inmsg = 0 }
  ' "$trx" | sed -e 's/&quot;/"/g' -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&apos;/'"'"'/g' -e 's/&amp;/\&/g' || true

  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  count() { local n; n=$(printf '%s' "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"); echo "${n:-0}"; }
  passed=$(( passed + $(count passed) ))
  failed=$(( failed + $(count failed) + $(count error) + $(count timeout) + $(count aborted) ))
  skipped=$(( skipped + $(count notExecuted) ))
done
if [ "$skipped" -gt 0 ]; then
  echo "${passed} passed, ${failed} failed, ${skipped} skipped"
else
  echo "${passed} passed, ${failed} failed"
fi
exit $status
