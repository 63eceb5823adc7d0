#!/usr/bin/env bash
#
# Build the libFuzzer targets of the example parsers (clang) and run each
# for SECONDS (default 600), both at once, on copies of the seed corpora.
# A finding leaves crash-* files in OUT and a non-zero exit.
#
#   tools/fuzz.sh [SECONDS] [OUT]        (default 600, /tmp/weft-fuzz)
#
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
out=${2:-/tmp/weft-fuzz}
mkdir -p "$out"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -Iexamples"
clang $flags examples/fuzz/http_parse_fuzz.c examples/http_parse.c -o "$out/http_parse_fuzz"
clang $flags examples/fuzz/resp_parse_fuzz.c examples/resp_parse.c -o "$out/resp_parse_fuzz"
for t in http resp; do
	rm -rf "$out/corpus-$t"
	cp -r "examples/fuzz/corpus/$t" "$out/corpus-$t"
	( cd "$out" && "./${t}_parse_fuzz" -max_total_time="$secs" \
		-artifact_prefix="$out/$t-" "corpus-$t" > "$out/$t.log" 2>&1 ) &
done
status=0
wait -n || status=1
wait -n || status=1
for t in http resp; do
	echo "$t: $(grep -E '^#[0-9]+.*(DONE|pulse)' "$out/$t.log" | tail -1)"
done
ls "$out"/*-crash-* 2>/dev/null && status=1
exit $status
