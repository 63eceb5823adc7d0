#!/usr/bin/env bash
#
# Soak: the echo and http example servers under load for a while, RSS
# sampled every 10 s, errors counted.  A pass is a flat RSS after warm-up
# and no error.  Needs wrk and the peers' load generator
# (../shared/peers/loadgen/build.sh builds it).
#
#   tools/soak.sh [SECONDS] [BUILD_DIR]        (default 600, build-rel)
#
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
build=${2:-build-rel}
loadgen=${LOADGEN:-${PEERS_BUILD:-/tmp/peers-build}/loadgen/loadgen}
out=${SOAK_OUT:-/tmp/weft-soak}
mkdir -p "$out"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo -; }

pe=$(port); ph=$(port)
"$build/examples/echo" --port "$pe" 2> "$out/echo.err" & echo_pid=$!
"$build/examples/http" --port "$ph" 2> "$out/http.err" & http_pid=$!
trap 'kill $echo_pid $http_pid 2>/dev/null; kill $(jobs -p) 2>/dev/null; true' EXIT
sleep 0.5

end=$((SECONDS + secs))
# Load: echo rounds of 100 connections, and wrk on http, back to back.
( while [ $SECONDS -lt $end ]; do
	"$loadgen" echo --port "$pe" --conns 100 --msgs 2000 --label soak \
		>> "$out/loadgen.txt" 2>&1 || echo "loadgen failed" >> "$out/errors.txt"
  done ) &
( while [ $SECONDS -lt $end ]; do
	wrk -t1 -c64 -d10s "http://127.0.0.1:$ph/" >> "$out/wrk.txt" 2>&1 ||
		echo "wrk failed" >> "$out/errors.txt"
  done ) &

echo "t_s echo_rss_kib http_rss_kib" > "$out/rss.txt"
t0=$SECONDS
while [ $SECONDS -lt $end ]; do
	echo "$((SECONDS - t0)) $(rss $echo_pid) $(rss $http_pid)" >> "$out/rss.txt"
	sleep 10
done
wait $(jobs -p | grep -v "^$echo_pid$\|^$http_pid$") 2>/dev/null || true
kill -TERM $echo_pid $http_pid
wait $echo_pid; e=$?
wait $http_pid; h=$?
echo "servers exited: echo $e, http $h"
echo "loadgen runs: $(grep -c check=ok "$out/loadgen.txt") ok, $(grep -c check=FAIL "$out/loadgen.txt" || true) failed"
echo "wrk runs: $(grep -c Requests/sec "$out/wrk.txt"); socket errors: $(grep -c 'Socket errors' "$out/wrk.txt" || true); non-2xx: $(grep -c 'Non-2xx' "$out/wrk.txt" || true)"
echo "errors: $(cat "$out/errors.txt" 2>/dev/null | wc -l)"
cat "$out/rss.txt"
