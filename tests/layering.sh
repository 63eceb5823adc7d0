#!/bin/sh
# Check the include layering of the library (ARCHITECTURE: runtime/ knows
# nothing of io/ except its driver hook; sync/ sits on a few runtime headers).
#
#   runtime/*.c|h: nothing from io/; the one exception is runtime/driver.h,
#                  the I/O driver hook, which may include io/ headers.
#   sync/*.c|h:    from runtime/ only park.h task.h worker.h compiler.h
#                  alloc.h panic.h waitq.h; nothing from io/.
#
# Usage: layering.sh SOURCE_ROOT.  Exit 1 and list the offenders.
set -u
root=${1:-.}
cd "$root" || exit 2
fail=0

incs() {
	# file:line:header for every #include "..." in the files given
	grep -Hn '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$@" 2>/dev/null |
		sed 's/^\([^:]*:[0-9]*\):.*"\([^"]*\)".*/\1:\2/'
}

for f in runtime/*.c runtime/*.h; do
	[ -e "$f" ] || continue
	[ "$f" = runtime/driver.h ] && continue
	for hit in $(incs "$f"); do
		h=${hit##*:}
		case $h in
		io/*)
			echo "layering: $hit: runtime/ must not include io/ headers (only runtime/driver.h may)"
			fail=1 ;;
		esac
	done
done

for f in sync/*.c sync/*.h; do
	[ -e "$f" ] || continue
	for hit in $(incs "$f"); do
		h=${hit##*:}
		case $h in
		runtime/park.h|runtime/task.h|runtime/worker.h|runtime/compiler.h|runtime/alloc.h|runtime/panic.h|runtime/waitq.h)
			;;
		runtime/*)
			echo "layering: $hit: sync/ may include from runtime/ only park.h task.h worker.h compiler.h alloc.h panic.h waitq.h"
			fail=1 ;;
		io/*)
			echo "layering: $hit: sync/ must not include io/"
			fail=1 ;;
		esac
	done
done

if [ $fail -eq 0 ]; then
	echo "layering: ok"
fi
exit $fail
