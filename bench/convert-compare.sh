#!/usr/bin/env bash
# bench/convert-compare.sh OLD_KT NEW_KT: runs `kt convert --check` (and
# --check --no-host, --check --strict, and the conversion itself: `kt convert`
# to TOML, and `--to keepalived` of the new binary's TOML) of both binaries on
# every *.conf in the repository (and on the generated files given in EXTRA,
# space-separated) and reports every file where stdout, stderr or the exit
# code differ. A change meant to make the check faster (or the model smaller)
# must leave all of them byte-identical.
#
# Exits 0 when all are identical, 1 when any differs, 2 on usage errors.
set -uo pipefail
if [ $# -ne 2 ] || [ ! -x "$1" ] || [ ! -x "$2" ]; then
	echo "usage: $0 OLD_KT NEW_KT" >&2
	exit 2
fi
old=$(realpath "$1")
new=$(realpath "$2")
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
bad=0
while IFS= read -r -d '' f; do
	for flags in "--check" "--check --no-host" "--check --strict" "" "--to keepalived"; do
		n=$((n + 1))
		in=$(basename "$f")
		if [ "$flags" = "--to keepalived" ]; then
			# Back from TOML: both read the same TOML (the new binary's),
			# written beside the file, as its includes are relative.
			in=".convert-compare.$$.toml"
			(cd "$(dirname "$f")" && timeout 60 "$new" convert "$(basename "$f")" >"$in" 2>/dev/null)
		fi
		# Each file from its own directory, as its includes are relative.
		(cd "$(dirname "$f")" && timeout 60 "$old" convert $flags "$in" >"$tmp/o.out" 2>"$tmp/o.err"; echo "exit $?" >>"$tmp/o.err")
		(cd "$(dirname "$f")" && timeout 60 "$new" convert $flags "$in" >"$tmp/n.out" 2>"$tmp/n.err"; echo "exit $?" >>"$tmp/n.err")
		if [ "$flags" = "--to keepalived" ]; then
			rm -f "$(dirname "$f")/$in"
		fi
		if ! cmp -s "$tmp/o.out" "$tmp/n.out" || ! cmp -s "$tmp/o.err" "$tmp/n.err"; then
			bad=$((bad + 1))
			echo "DIFFERS: $f ($flags)"
			diff "$tmp/o.out" "$tmp/n.out" | head -5
			diff "$tmp/o.err" "$tmp/n.err" | head -5
		fi
	done
done < <({ find . -path ./.git -prune -o -name '*.conf' -type f -print0; for e in ${EXTRA:-}; do printf '%s\0' "$e"; done; })
echo "compared $n runs: $bad differ"
[ "$bad" -eq 0 ]
