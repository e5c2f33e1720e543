#!/usr/bin/env bash
# What a prompt segment costs: `dctx current` next to `docker context show`
# and an empty process (`true`), in one run, medians of many runs
# (hyperfine). Each side's own cost is its median minus the empty
# process's. Standalone; no daemon, no network, nothing outside a temp dir.
#
#   bash bench/current.sh            # RUNS=500 by default
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-500}
command -v hyperfine >/dev/null || { echo "missing: hyperfine (apt-get install hyperfine)" >&2; exit 1; }
command -v docker >/dev/null || { echo "missing: docker (apt-get install docker.io)" >&2; exit 1; }
cargo build --release --locked -q
DCTX=$PWD/target/release/dctx

T=$(mktemp -d /tmp/dctx-current-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
# A store like a user's: a handful of contexts, one of them current.
export HOME=$T/home DOCKER_CONFIG=$T/home/.docker DCTX_HOME=$T/home/.config/dctx
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
mkdir -p "$HOME"
for i in 1 2 3 4 5 6 7 8; do
  "$DCTX" add "ctx$i" --host "tcp://127.0.0.1:$((2374 + i))" >/dev/null 2>&1
done
"$DCTX" use ctx4 >/dev/null
[ "$("$DCTX" current)" = ctx4 ] && [ "$(docker context show)" = ctx4 ] || { echo "current differs" >&2; exit 1; }

hyperfine -N --runs "$RUNS" --warmup 20 --export-json "$T/h.json" \
  -n empty true -n dctx "$DCTX current" -n docker "docker context show" >/dev/null 2>&1

python3 - "$T/h.json" "$RUNS" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
med = {k: v["median"] * 1000 for k, v in r.items()}
own = {k: med[k] - med["empty"] for k in ("dctx", "docker")}
print(f"| `{sys.argv[2]}` runs each, median | wall | own cost (minus the empty process) |")
print("|---|---|---|")
print(f"| empty process (`true`) | {med['empty']:.2f} ms | – |")
print(f"| `dctx current` | {med['dctx']:.2f} ms | {own['dctx']:.2f} ms |")
print(f"| `docker context show` | {med['docker']:.2f} ms | {own['docker']:.2f} ms |")
ratio = own["docker"] / own["dctx"] if own["dctx"] > 0 else float("inf")
print(f"| docker's own cost / dctx's | {ratio:.1f}× | target ≥ 10× |")
EOF
