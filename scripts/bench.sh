#!/usr/bin/env bash
# make bench: Go benchmarks of the hot paths, then the load generator
# against webchat and Nchan in turns (loadtest/cmd/benchrun starts
# redis-server, the webchat node(s) and nginx on free loopback ports and
# stops them), then docs/benchmarks.md from the results.
#
#   scripts/bench.sh                  the full run (10 to 20 minutes), rewrites docs/benchmarks.md
#   scripts/bench.sh -quick           a smoke test of the tooling; writes loadtest/results/ only
#   scripts/bench.sh -only direct-1k  some scenarios (names: direct-1k direct-5k group-500 idle-1k idle-10k)
set -euo pipefail
cd "$(dirname "$0")/.."

for bin in redis-server nginx; do
	command -v "$bin" >/dev/null || { echo "bench: $bin not found; install: apt-get install redis-server nginx libnginx-mod-nchan" >&2; exit 1; }
done
test -f /usr/lib/nginx/modules/ngx_nchan_module.so || { echo "bench: Nchan not found; install: apt-get install libnginx-mod-nchan" >&2; exit 1; }

results=${RESULTS:-loadtest/results}
quick=no
for a in "$@"; do [[ $a == -quick ]] && quick=yes; done
if [[ $quick == yes ]]; then
	out=$results/benchmarks-quick.md plots=$results
else
	out=docs/benchmarks.md plots=docs/bench
fi
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
rm -rf "$results"
mkdir -p "$results" "$plots"
results_abs=$(cd "$results" && pwd)

echo "bench: building"
go build -o "$bin/webchat" ./cmd/webchat
go build -o "$bin/loadtest" ./loadtest
go build -o "$bin/benchrun" ./loadtest/cmd/benchrun
go build -o "$bin/floor" ./loadtest/cmd/floor

echo "bench: Redis round trips per request (go-redis hook)"
WEBCHAT_ROUNDTRIPS_JSON="$results_abs/roundtrips.json" \
	go test -count=1 -run '^(TestRedisRoundTrips|TestPlaneRoundTrips)$' -v ./gateway ./store/plane >"$results/roundtrips.txt" 2>&1 ||
	{ cat "$results/roundtrips.txt"; exit 1; }
grep -A8 'round trips per request' "$results/roundtrips.txt" || true

benchtime=1s
[[ $quick == yes ]] && benchtime=100x
echo "bench: Go benchmarks (-benchtime $benchtime)"
go test -count=1 -run '^$' -bench . -benchmem -benchtime "$benchtime" ./store/plane ./gateway 2>&1 | tee "$results/gobench.txt"

echo "bench: load tests, webchat and Nchan in turns"
"$bin/benchrun" run -webchat "$bin/webchat" -loadtest "$bin/loadtest" -floor "$bin/floor" -results "$results" -plots "$plots" \
	-command "make bench${*:+ ($*)}" "$@"
"$bin/benchrun" render -results "$results" -out "$out"
echo "bench: wrote $out"
