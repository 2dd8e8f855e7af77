#!/usr/bin/env bash
# make cluster: three webchat nodes behind nginx, with one redis-server, all
# on loopback, for a person to try. Open http://127.0.0.1:8080; Ctrl-C stops
# everything. State lives under data/cluster/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh

dir=data/cluster
mkdir -p "$dir/nginx/tmp" "$dir/redis"
go build -o "$dir/webchat" ./cmd/webchat

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo "stopping…"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

redis-server --bind 127.0.0.1 --port 6390 --dir "$PWD/$dir/redis" --appendonly yes --save "" \
  --logfile "$PWD/$dir/redis/redis.log" &
pids+=($!)
until redis-cli -p 6390 ping >/dev/null 2>&1; do sleep 0.1; done

for i in 1 2 3; do
  ADDR=127.0.0.1:808$i NODE_NAME=node$i REDIS_URL=redis://127.0.0.1:6390 \
  DATABASE_URL=sqlite:$dir/webchat.db TRUSTED_PROXIES=127.0.0.1 \
    "$dir/webchat" >"$dir/node$i.log" 2>&1 &
  pids+=($!)
done
for i in 1 2 3; do
  until curl -fs "http://127.0.0.1:808$i/healthz" >/dev/null 2>&1; do sleep 0.1; done
done

nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
"$nginx_bin" -p "$PWD/$dir/nginx" -c "$PWD/deploy/nginx.conf" -g 'daemon off;' &
pids+=($!)

cat <<MSG
webchat: three nodes (127.0.0.1:8081-8083, logs in $dir/node*.log) behind
nginx on http://127.0.0.1:8080, Redis on 127.0.0.1:6390 (redis-cli -p 6390).
Every answer names its node in the X-Webchat-Node header. Ctrl-C stops all.
MSG
wait
