#!/usr/bin/env bash
# dctx proxy vs a direct docker context, same daemon, same run. Standalone:
# starts dockerd --tlsverify on 127.0.0.1 (certs from `dctx pki`), a release
# dctx proxy in front of it, and prints a markdown table:
#   * `docker ps` wall time (hyperfine, median), direct vs through the proxy;
#   * `docker cp` of 256 MiB into a container, throughput, direct vs proxy
#     (CP_RUNS alternating copies each, medians);
#   * proxy RSS with 100 concurrent clients (`docker events` streams).
# WAN row: by default bench/delay.py adds WAN_RTT_MS (40) of round trip in
# front of this script's own dockerd (WAN_RTT_MS=0: no WAN row); or point
# WAN_HOST (tcp://h:p) at an already running delayed endpoint in front of a
# daemon that trusts WAN_CERTS (dir with ca.pem, cert.pem, key.pem).
# Needs root (dockerd). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
WAN_RTT_MS=${WAN_RTT_MS:-40}

need=()
for c in dockerd docker hyperfine busybox; do command -v $c >/dev/null || need+=($c); done
if [ ${#need[@]} -gt 0 ]; then
  echo "missing: ${need[*]} (apt-get install docker.io hyperfine busybox-static)" >&2
  exit 1
fi
cargo build --release --locked -q
DCTX=$PWD/target/release/dctx

T=$(mktemp -d /tmp/dctx-proxy-bench.XXXXXX)
cleanup() {
  [ -n "${PXPID:-}" ] && kill "$PXPID" 2>/dev/null || true
  [ -n "${WANPID:-}" ] && kill "$WANPID" 2>/dev/null || true
  [ -n "${DELAYPID:-}" ] && kill "$DELAYPID" 2>/dev/null || true
  [ -n "${CID:-}" ] && $LOCAL rm -f "$CID" >/dev/null 2>&1 || true
  [ -n "${DDPID:-}" ] && kill "$DDPID" 2>/dev/null && wait "$DDPID" 2>/dev/null || true
  # dockerd leaves its data-root bind mount (and netns files) behind.
  grep -o "$T[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount 2>/dev/null || true
  if [ -z "${KEEP:-}" ]; then rm -rf "$T"; else echo "kept $T" >&2; fi
}
trap cleanup EXIT
export HOME=$T/home DOCKER_CONFIG=$T/home/.docker
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
mkdir -p "$HOME" "$T/dd"
LOCAL="docker -H unix://$T/dd/docker.sock"

$DCTX pki init -q >/dev/null 2>&1 || $DCTX pki init >/dev/null
$DCTX pki server --host 127.0.0.1 --out "$T/srv" >/dev/null
$DCTX pki client bench --out "$T/cli" >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
  --data-root="$T/dd/root" --exec-root="$T/dd/exec" --pidfile="$T/dd/pid" \
  --tlsverify --tlscacert="$T/srv/ca.pem" --tlscert="$T/srv/server-cert.pem" \
  --tlskey="$T/srv/server-key.pem" -H "tcp://127.0.0.1:$PORT" -H "unix://$T/dd/docker.sock" \
  >"$T/dd/log" 2>&1 &
DDPID=$!
for _ in $(seq 100); do DOCKER_HOST=unix://$T/dd/docker.sock docker version >/dev/null 2>&1 && break; sleep 0.2; done

# An offline image: static busybox plus a shell link.
mkdir -p "$T/rootfs/bin" "$T/rootfs/tmp"
cp "$(command -v busybox)" "$T/rootfs/bin/busybox"
for a in sh sleep cat; do ln -s busybox "$T/rootfs/bin/$a"; done
tar -C "$T/rootfs" -c . | $LOCAL import --change 'ENV PATH=/bin' - bench-bb:1 >/dev/null
CID=$($LOCAL run -d --network none bench-bb:1 sleep 3600)

$DCTX add lo --ca "$T/cli/ca.pem" --cert "$T/cli/cert.pem" --key "$T/cli/key.pem" \
  --host "tcp://127.0.0.1:$PORT" >/dev/null
start_proxy() { # NAME SOCKET → PXPID
  "$DCTX" proxy "$1" --socket "$2" >"$T/$1.out" 2>"$T/$1.err" &
  PXPID=$!
  for _ in $(seq 100); do [ -S "$2" ] && break; sleep 0.1; done
}
start_proxy lo "$T/lo.sock"

ps_row() { # LABEL CONTEXT SOCKET
  local tag=${1//[^a-zA-Z0-9]/_}
  hyperfine -N -w 3 -r "$RUNS" --export-json "$T/ps-$tag.json" \
    "docker --context $2 ps" "docker -H unix://$3 ps" >/dev/null 2>&1
  python3 - "$T/ps-$tag.json" "$1" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
d, p = (x["median"] * 1000 for x in r)
print(f"| `docker ps`, {sys.argv[2]} | {d:.1f} ms | {p:.1f} ms | {d/p:.2f}× ({p-d:+.1f} ms) |")
EOF
}

cp_row() {
  head -c $((256 << 20)) /dev/urandom >"$T/big"
  # Alternating, CP_RUNS times each: one copy is one sample of a busy
  # 2-core box; the medians are the row.
  local d=() p=() t0 t1 t2
  for _ in $(seq "${CP_RUNS:-5}"); do
    t0=$(date +%s.%N); docker --context lo cp "$T/big" "$CID:/tmp/d"; t1=$(date +%s.%N)
    docker -H "unix://$T/lo.sock" cp "$T/big" "$CID:/tmp/p"; t2=$(date +%s.%N)
    d+=("$t0 $t1") p+=("$t1 $t2")
  done
  python3 - "${d[@]}" -- "${p[@]}" <<'EOF2'
import statistics, sys
a = sys.argv[1:]
cut = a.index("--")
rate = lambda pairs: statistics.median(256 / (float(e) - float(s)) for s, e in (x.split() for x in pairs))
d, p = rate(a[:cut]), rate(a[cut + 1:])
print(f"| `docker cp` 256 MiB in, loopback (median of {cut}) | {d:.0f} MiB/s | {p:.0f} MiB/s | {p/d*100:.0f}% of direct |")
EOF2
}

rss_row() {
  local pids=()
  for _ in $(seq 100); do
    docker -H "unix://$T/lo.sock" events >/dev/null 2>&1 &
    pids+=($!)
  done
  sleep 5
  local n rss hwm
  n=$(ss -xp 2>/dev/null | grep -c "$T/lo.sock" || true)
  rss=$(awk '/VmRSS/ {print $2}' /proc/$PXPID/status)
  hwm=$(awk '/VmHWM/ {print $2}' /proc/$PXPID/status)
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  echo "| proxy RSS, 100 concurrent \`docker events\` clients | – | $((rss / 1024)) MiB (peak $((hwm / 1024)) MiB) | $n client sockets open |"
}

if [ -z "${WAN_HOST:-}" ] && [ "$WAN_RTT_MS" != 0 ]; then
  WPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  python3 bench/delay.py $((WAN_RTT_MS / 2)) "127.0.0.1:$WPORT=127.0.0.1:$PORT" >"$T/delay.log" 2>&1 &
  DELAYPID=$!
  for _ in $(seq 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $WPORT), 1)" 2>/dev/null && break; sleep 0.1; done
  WAN_HOST=tcp://127.0.0.1:$WPORT WAN_CERTS=$T/cli WAN_LABEL="$WAN_RTT_MS ms RTT (bench/delay.py)"
fi

echo "| measurement | direct context | through \`dctx proxy\` | proxy vs direct |"
echo "|---|---|---|---|"
ps_row loopback lo "$T/lo.sock"
if [ -n "${WAN_HOST:-}" ]; then
  $DCTX add wan --ca "$WAN_CERTS/ca.pem" --cert "$WAN_CERTS/cert.pem" --key "$WAN_CERTS/key.pem" \
    --host "$WAN_HOST" >/dev/null
  "$DCTX" proxy wan --socket "$T/wan.sock" >/dev/null 2>&1 &
  WANPID=$!
  for _ in $(seq 100); do [ -S "$T/wan.sock" ] && break; sleep 0.1; done
  ps_row "${WAN_LABEL:-WAN ($WAN_HOST)}" wan "$T/wan.sock"
fi
cp_row
rss_row
echo
echo "_$(nproc) cores, $(docker version --format '{{.Client.Version}}' 2>/dev/null) CLI, dockerd $($LOCAL version --format '{{.Server.Version}}'), $RUNS runs per hyperfine command, $(date -u +%Y-%m-%d)._"
