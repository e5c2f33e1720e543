#!/usr/bin/env bash
# What a first build costs: `cargo build --release --locked` of one commit in
# an EMPTY target dir (the registry already fetched, as after `cargo fetch`),
# timed with /usr/bin/time (user + sys CPU, wall), plus the 15 longest units
# from `cargo build --timings`. The binary is kept next to the target dir
# ($TARGET.dctx) so a later run can compare speeds with --compare.
#
#   bash bench/build.sh [REV]                          # default REV: HEAD
#   bash bench/build.sh REV --compare OLD_BINARY       # also env/show speed, OLD vs new
#
# Env: TARGET (default target-rel/ in the repo; emptied first; git-ignored).
# Needs /usr/bin/time (apt: time) and python3; --compare needs hyperfine.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# Resolved once: HEAD may move while the build runs.
REV=$(git rev-parse --short "${1:-HEAD}")
COMPARE=""
if [ "${2:-}" = --compare ]; then COMPARE=${3:?--compare needs the old binary}; fi
T=${TARGET:-$ROOT/target-rel}

SRC=$(mktemp -d /tmp/dctx-build-bench.XXXXXX)
trap 'rm -rf "$SRC"' EXIT
git archive "$REV" | tar -x -C "$SRC"
cargo fetch --locked --manifest-path "$SRC/Cargo.toml" -q
rm -rf "$T"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
/usr/bin/time -f '%U %S %e' -o "$SRC/time" \
  cargo build --release --locked -q --timings --manifest-path "$SRC/Cargo.toml" --target-dir "$T"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
read -r user sys wall <"$SRC/time"
cp "$T/release/dctx" "$T.dctx"

echo "## cargo build --release --locked, empty target dir: $REV"
echo
echo "$(rustc --version), $(nproc) cores; load average before: $load_before, after: $load_after"
echo
echo "| user CPU | sys CPU | user + sys | wall | binary |"
echo "|---:|---:|---:|---:|---:|"
printf '| %.0f s | %.0f s | **%.0f s** | %.0f s | %s |\n' "$user" "$sys" \
  "$(echo "$user + $sys" | bc)" "$wall" "$(du -h "$T.dctx" | cut -f1)"
echo
echo "Longest units (cargo --timings; wall seconds of each unit, run in parallel):"
echo
python3 - "$T/cargo-timings/cargo-timing.html" <<'PY'
import json, re, sys
html = open(sys.argv[1]).read()
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\n\]);", html, re.S).group(1))
units.sort(key=lambda u: -u["duration"])
total = sum(u["duration"] for u in units)
print(f"| unit | seconds | share of the {len(units)} units' sum ({total:.0f} s) |")
print("|---|---:|---:|")
for u in units[:15]:
    what = u.get("target", "").strip().replace('"', "")
    print(f"| {u['name']} {u['version']} {what} | {u['duration']:.1f} | {100*u['duration']/total:.0f}% |")
PY

if [ -n "$COMPARE" ]; then
  # The hot path and a parse-heavy command, old binary vs new, interleaved
  # by hyperfine in one run (the same machine load for both).
  H=$(mktemp -d /tmp/dctx-build-bench-home.XXXXXX)
  trap 'rm -rf "$SRC" "$H"' EXIT
  export HOME=$H DCTX_HOME=$H/dctx DOCKER_CONFIG=$H/docker NO_COLOR=1
  NEW=$T.dctx
  "$NEW" pki init >/dev/null
  "$NEW" pki client alice --out "$H/alice.tar" >/dev/null
  "$NEW" add prod --bundle "$H/alice.tar" --host tcp://127.0.0.1:2376 >/dev/null
  echo
  echo "Speed, old ($COMPARE) vs new, hyperfine -N:"
  echo
  hyperfine -N -w 20 -r 300 --style none --export-markdown "$H/env.md" \
    -n "old env prod" "$COMPARE env prod" -n "new env prod" "$NEW env prod" >/dev/null
  hyperfine -N -w 5 -r 100 --style none --export-markdown "$H/show.md" \
    -n "old show prod --json" "$COMPARE show prod --json" -n "new show prod --json" "$NEW show prod --json" >/dev/null
  cat "$H/env.md"; tail -n +3 "$H/show.md"
fi
