#!/usr/bin/env bash
# Runs the sample API against a local Redis: starts a private redis-server (installing it when missing)
# on port ${REDIS_PORT:-6379} unless one already answers there, then starts the API on http://localhost:5080.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-redis.sh

redis_port="${REDIS_PORT:-6379}"
api_url="${API_URL:-http://localhost:5080}"
redis_pid=""

if redis-cli -p "$redis_port" ping >/dev/null 2>&1; then
  echo "Using the Redis already listening on port $redis_port."
else
  mkdir -p .redis-sample
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$PWD/.redis-sample" --daemonize no --loglevel warning &
  redis_pid=$!
  trap '[ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 1 50); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "Started redis-server on 127.0.0.1:$redis_port (stops when this script exits)."
fi

cat <<EOM

RedisEdge sample API starting on $api_url
  Try:  curl $api_url/            (lists the endpoints)
        curl $api_url/health
Press Ctrl+C to stop.

EOM

dotnet run --project samples/RedisEdge.Samples.Api -c Release --no-launch-profile --urls "$api_url" -- \
  --RedisEdge:Redis:Configuration="127.0.0.1:$redis_port"
