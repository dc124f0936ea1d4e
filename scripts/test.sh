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

# The closing line comes from the TRX file the run wrote, not from the runner's own summary.
trx="$results_dir/results.trx"
if [ ! -f "$trx" ]; then
  echo "error: no test results were written ($trx missing)." >&2
  echo "0 passed, 1 failed"
  exit 1
fi
# Failed tests again, right before the closing line, so the tail of a long log names them and says why.
awk '
  /<UnitTestResult / && /outcome="Failed"/ { match($0, /testName="[^"]*"/); name = substr($0, RSTART + 10, RLENGTH - 11); inresult = 1; printed = 0; next }
  inresult && /<\/UnitTestResult>/ { inresult = 0 }
  inresult && /<Message>/ { inmsg = 1 }
  inresult && inmsg && printed < 12 { if (printed == 0) print "FAILED " name ":"; sub(/^[ \t]*/, ""); print "    " $0; printed++ }
  inmsg && /<\/Message>/ { inmsg = 0 }
' "$trx" | sed -e 's/&quot;/"/g' -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&apos;/'"'"'/g' -e 's/&amp;/\&/g' || true

counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
count() { printf '%s' "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
passed=$(count passed); failed=$(( $(count failed) + $(count error) + $(count timeout) + $(count aborted) ))
skipped=$(count notExecuted)
if [ "${skipped:-0}" -gt 0 ]; then
  echo "${passed:-0} passed, ${failed} failed, ${skipped} skipped"
else
  echo "${passed:-0} passed, ${failed} failed"
fi
exit $status
