#!/usr/bin/env bash
# dctx vs the docker CLI, side by side, in one run. Everything it starts
# (a TLS dockerd, an nginx with mTLS fronts, a silent TCP peer) listens on
# 127.0.0.0/8 only, lives in one temp dir, and is stopped on exit.
#
#   sudo bash bench/run.sh            # ~5 minutes on 2 cores
#   KEEP=1 sudo bash bench/run.sh     # keep the temp dir (logs, JSON) afterwards
#
# Tunables (env): ENV_RUNS (default 500), CHECK_RUNS (10), LOOP_RUNS (3),
# WAN_RTT_MS (40), WAN_RUNS (10: dctx, docker and curl on one host, dctx on a
# fleet), WAN_LOOP_RUNS (1: the docker loops over a fleet),
# RESULTS (markdown table also written here; default target/bench-results.md).
# Every bench/extra-*.sh is sourced at the end, before the report (hooks for
# other transports); what it appends to EXTRA_ROWS is printed in the report.
# Method and the published numbers: BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ENV_RUNS=${ENV_RUNS:-500}
CHECK_RUNS=${CHECK_RUNS:-10}
LOOP_RUNS=${LOOP_RUNS:-3}
WAN_RTT_MS=${WAN_RTT_MS:-40}
WAN_RUNS=${WAN_RUNS:-10}
WAN_LOOP_RUNS=${WAN_LOOP_RUNS:-1}
EXTRA_ROWS=""
RESULTS=${RESULTS:-$ROOT/target/bench-results.md}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if [ "$(id -u)" != 0 ]; then
  echo "bench/run.sh starts a real dockerd: run it as root (sudo -E bash bench/run.sh)" >&2
  exit 1
fi

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
[ -x /usr/bin/time ] || need+=(time)
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker >/dev/null || need+=(docker.io)
command -v nginx >/dev/null || need+=(nginx)
command -v python3 >/dev/null || need+=(python3)
command -v curl >/dev/null || need+=(curl)
command -v xargs >/dev/null || need+=(findutils)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

log() { printf '\n== %s\n' "$*" >&2; }

log "cargo build --release"
cargo build --release --locked -q
D=$ROOT/target/release/dctx
RUSTC_VERSION=$(rustc --version | cut -d" " -f1-2)

W=$(mktemp -d /tmp/dctx-bench.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "${KEEP:-}" ]; then echo "kept $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT

# Nothing from the caller's shell may redirect dctx or docker.
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_CONFIG DOCKER_TLS_VERIFY DOCKER_TLS DOCKER_CERT_PATH \
  DCTX_HOME XDG_CONFIG_HOME COMPLETE
export NO_COLOR=1 SHELL=/bin/bash

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_tcp ADDR PORT PID LOG: until something accepts on ADDR:PORT (60 s).
wait_tcp() {
  local i
  for i in $(seq 600); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    if ! kill -0 "$3" 2>/dev/null; then
      echo "process $3 died; log $4:" >&2
      cat "$4" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "nothing listens on $1:$2 after 60 s; log $4:" >&2
  cat "$4" >&2
  exit 1
}

# median_ms FILE.json INDEX: median of hyperfine's per-run times, in ms.
median_ms() {
  python3 -c 'import json,sys,statistics
r = json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]
print("%.2f" % (statistics.median(r["times"]) * 1000))' "$1" "$2"
}

# rusage N CMD…: run CMD N times under /usr/bin/time; prints the medians
# "wall_s user_s sys_s" and the max peak RSS in KiB (exit status ignored).
rusage() {
  local n=$1 i
  shift
  : >"$W/rusage.txt"
  for i in $(seq "$n"); do
    /usr/bin/time -a -o "$W/rusage.txt" -f '%e %U %S %M' "$@" >/dev/null 2>"$W/rusage.err" || true
  done
  python3 -c 'import sys,statistics
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l[:1].isdigit()]
med = lambda k: statistics.median(r[k] for r in rows)
print("%.3f %.3f %.3f %d" % (med(0), med(1), med(2), max(r[3] for r in rows)))' "$W/rusage.txt"
}

# cpu_ticks PID…: utime+stime (clock ticks) of the given processes.
cpu_ticks() {
  local t=0 p f
  for p in "$@"; do
    f=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    f=${f##*) }
    set -- $f
    t=$((t + ${12} + ${13}))
  done
  echo "$t"
}

# ---------------------------------------------------------------- PKI
log "PKI (dctx pki)"
export HOME=$W/pki-home
mkdir -p "$HOME"
"$D" pki init >/dev/null 2>&1
srv_hosts=()
for a in 1 2 3 4 5 6 7 8; do srv_hosts+=(--host "127.0.0.$a"); done
"$D" pki server "${srv_hosts[@]}" --out "$W/srv" >/dev/null 2>&1
"$D" pki client bench --out "$W/client" >/dev/null 2>&1

# ---------------------------------------------------------------- dockerd
log "dockerd --tlsverify on 127.0.0.1"
DPORT=$(free_port)
mkdir -p "$W/d"
dockerd --tlsverify \
  --tlscacert="$W/srv/ca.pem" --tlscert="$W/srv/server-cert.pem" --tlskey="$W/srv/server-key.pem" \
  -H "tcp://127.0.0.1:$DPORT" -H "unix://$W/d/docker.sock" \
  --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
  --data-root="$W/d/root" --exec-root="$W/d/exec" --pidfile="$W/d/dockerd.pid" \
  </dev/null >"$W/d/dockerd.log" 2>&1 &
DOCKERD_PID=$!
PIDS+=("$DOCKERD_PID")
wait_tcp 127.0.0.1 "$DPORT" "$DOCKERD_PID" "$W/d/dockerd.log"
# docker's `default` context, which `dctx check` probes along with every
# profile, is this same daemon's unix socket (`--context X` beats it).
export DOCKER_HOST="unix://$W/d/docker.sock"

# ---------------------------------------------------------------- nginx
# mTLS fronts for the same daemon on 127.0.0.2–8, three ports each.
log "nginx mTLS fronts on 127.0.0.2-8"
N=$W/nginx
mkdir -p "$N"
ENDPOINTS=("tcp://127.0.0.1:$DPORT")
listens=""
for port in $(free_port) $(free_port) $(free_port); do
  for a in 2 3 4 5 6 7 8; do
    listens+="    listen 127.0.0.$a:$port ssl;"$'\n'
    ENDPOINTS+=("tcp://127.0.0.$a:$port")
  done
done
cat >"$N/nginx.conf" <<EOF
daemon off;
worker_processes 2;
worker_rlimit_nofile 16384;
user root;
pid $N/nginx.pid;
error_log $N/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $N/cb; proxy_temp_path $N/px; fastcgi_temp_path $N/fc;
  uwsgi_temp_path $N/uw; scgi_temp_path $N/sc;
  server {
$listens
    ssl_certificate $W/srv/server-cert.pem;
    ssl_certificate_key $W/srv/server-key.pem;
    ssl_verify_client on;
    ssl_client_certificate $W/srv/ca.pem;
    location / {
      proxy_pass http://unix:$W/d/docker.sock:;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
nginx -p "$N" -c "$N/nginx.conf" -e "$N/error.log" </dev/null >"$N/stderr.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
for ep in "${ENDPOINTS[@]:1}"; do
  hp=${ep#tcp://}
  wait_tcp "${hp%:*}" "${hp##*:}" "$NGINX_PID" "$N/stderr.log"
done

# ---------------------------------------------------------------- silent peer
# Accepts TCP on 127.0.0.9 and never sends a byte (holds every connection).
log "silent TCP peer on 127.0.0.9"
SPORT=$(free_port)
python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.9", int(sys.argv[1])))
s.listen(1024)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
' "$SPORT" </dev/null >"$W/silent.log" 2>&1 &
SILENT_PID=$!
PIDS+=("$SILENT_PID")
wait_tcp 127.0.0.9 "$SPORT" "$SILENT_PID" "$W/silent.log"

# ---------------------------------------------------------------- WAN
# A delay proxy (bench/delay.py) in front of every endpoint, on the same
# address (the server certificate names it) and a new port:
# WAN_RTT_MS / 2 each way, the connect leg included.
log "delay proxy: ${WAN_RTT_MS} ms RTT in front of all ${#ENDPOINTS[@]} endpoints"
WAN_ENDPOINTS=()
relays=()
for ep in "${ENDPOINTS[@]}"; do
  hp=${ep#tcp://}
  p=$(free_port)
  relays+=("${hp%:*}:$p=$hp")
  WAN_ENDPOINTS+=("tcp://${hp%:*}:$p")
done
python3 "$ROOT/bench/delay.py" "$(python3 -c "print($WAN_RTT_MS / 2)")" "${relays[@]}" \
  </dev/null >"$W/delay.log" 2>&1 &
DELAY_PID=$!
PIDS+=("$DELAY_PID")
for ep in "${WAN_ENDPOINTS[@]}"; do
  hp=${ep#tcp://}
  wait_tcp "${hp%:*}" "${hp##*:}" "$DELAY_PID" "$W/delay.log"
done

# ---------------------------------------------------------------- profiles
# fleetN: N profiles (and Docker contexts) named prod, n002…, spread over the
# 22 endpoints. silent: fleet50 with its last member replaced by the silent peer.
FLEET_EPS=("${ENDPOINTS[@]}")
make_fleet() { # make_fleet HOME N [silent]   (endpoints: FLEET_EPS)
  local home=$1 n=$2 i name ep
  mkdir -p "$home"
  : >"$home/names"
  for i in $(seq "$n"); do
    if [ "$i" = 1 ]; then name=prod; else name=$(printf 'n%03d' "$i"); fi
    ep=${FLEET_EPS[$(((i - 1) % ${#FLEET_EPS[@]}))]}
    if [ "${3:-}" = silent ] && [ "$i" = "$n" ]; then
      name=silent
      ep="tcp://127.0.0.9:$SPORT"
    fi
    HOME=$home "$D" add "$name" --bundle "$W/client" --host "$ep" >/dev/null
    echo "$name" >>"$home/names"
  done
}
log "creating profiles with dctx add (10 + 50 + 200 + 50)"
for n in 10 50 200; do make_fleet "$W/fleet$n" "$n"; done
make_fleet "$W/silent" 50 silent
log "creating the same fleets behind the delay proxy (50 + 200)"
FLEET_EPS=("${WAN_ENDPOINTS[@]}")
for n in 50 200; do make_fleet "$W/wan$n" "$n"; done
FLEET_EPS=("${ENDPOINTS[@]}")

cat >"$W/docker-loop.sh" <<'EOF'
# The docker CLI way to check a fleet: one `docker version` per context.
set -e
while read -r c; do docker --context "$c" version >/dev/null; done <"$1"
EOF
cat >"$W/docker-xargs.sh" <<'EOF'
# What a user writes instead of a loop: 16 `docker version` at a time.
xargs -P16 -I{} docker --context {} version <"$1" >/dev/null
EOF

# Sanity: every fleet member is healthy for both tools before timing anything.
for n in 10 50 200; do
  HOME=$W/fleet$n "$D" check >"$W/check$n.txt" || {
    echo "dctx check on fleet$n is not all ok:" >&2
    cat "$W/check$n.txt" >&2
    exit 1
  }
done
HOME=$W/fleet50 bash "$W/docker-loop.sh" "$W/fleet50/names"

DOCKERD_VERSION=$(docker -H "unix://$W/d/docker.sock" version -f '{{.Server.Version}}')

# ---------------------------------------------------------------- 1. env
log "1. dctx env prod vs docker context inspect prod ($ENV_RUNS runs each)"
export HOME=$W/fleet50
hyperfine -N --style basic --warmup 50 --runs "$ENV_RUNS" --export-json "$W/env.json" \
  "$D env prod" "docker context inspect prod" >&2
ENV_DCTX=$(median_ms "$W/env.json" 0)
ENV_DOCKER=$(median_ms "$W/env.json" 1)
read -r _ _ _ ENV_DCTX_RSS < <(rusage 20 "$D" env prod)
read -r _ _ _ ENV_DOCKER_RSS < <(rusage 20 docker context inspect prod)

# ---------------------------------------------------------------- 2. fleet
log "2. dctx check vs a sequential docker version loop (50 contexts)"
hyperfine -N --style basic --warmup 2 --runs "$CHECK_RUNS" --export-json "$W/check50.json" \
  "$D check" >&2
hyperfine -N --style basic --runs "$LOOP_RUNS" --export-json "$W/loop50.json" \
  "bash $W/docker-loop.sh $W/fleet50/names" >&2
CHECK50=$(median_ms "$W/check50.json" 0)
LOOP50=$(median_ms "$W/loop50.json" 0)
read -r _ _ _ CHECK50_RSS < <(rusage 5 "$D" check)
read -r _ _ _ LOOP50_RSS < <(rusage 1 bash "$W/docker-loop.sh" "$W/fleet50/names")

log "2b. dockerd's own floor and one member alone"
FLOOR1=$(python3 "$ROOT/bench/floor.py" "$W/d/docker.sock" 1)
FLOOR50=$(python3 "$ROOT/bench/floor.py" "$W/d/docker.sock" 50)
FLOOR200=$(python3 "$ROOT/bench/floor.py" "$W/d/docker.sock" 200)
hyperfine -N --style basic --warmup 3 --runs 20 --export-json "$W/one.json" \
  "$D check prod" "docker --context prod version" >&2
ONE_DCTX=$(median_ms "$W/one.json" 0)
ONE_DOCKER=$(median_ms "$W/one.json" 1)

# ---------------------------------------------------------------- 3. silent
log "3. one silent peer among 50: dctx check --timeout 2"
export HOME=$W/silent
hyperfine -N --style basic -i --runs 3 --export-json "$W/silent.json" \
  "$D check --timeout 2" >&2
SILENT_WALL=$(median_ms "$W/silent.json" 0)
read -r _ _ _ SILENT_RSS < <(rusage 1 "$D" check --timeout 2)
SILENT_ROW=$("$D" check --timeout 2 --json | python3 -c 'import json,sys
r = [x for x in json.load(sys.stdin) if x["name"] == "silent"][0]
print(r["status"], "/", "; ".join(f["code"] + ": " + f["message"] for f in r["findings"]))' || true)
OTHERS_OK=$("$D" check --timeout 2 --json | python3 -c 'import json,sys
print(sum(1 for x in json.load(sys.stdin) if x["status"] == "ok" and x["name"] != "default"))' || true)
log "   docker --context silent version (bounded by timeout 20)"
t0=$(date +%s.%N)
set +e
timeout 20 docker --context silent version >"$W/docker-silent.out" 2>&1
DOCKER_SILENT_RC=$?
set -e
DOCKER_SILENT_S=$(python3 -c "import sys; print('%.1f' % ($(date +%s.%N) - $t0))")
DOCKER_SILENT_TAIL=$(tail -n 1 "$W/docker-silent.out" | cut -c1-160)

# ---------------------------------------------------------------- 4. scaling
log "4. scaling: dctx check over 10, 50, 200 profiles"
SCALE_ROWS=""
for n in 10 50 200; do
  export HOME=$W/fleet$n
  hyperfine -N --style basic --warmup 1 --runs "$CHECK_RUNS" --export-json "$W/scale$n.json" \
    "$D check" >&2
  wall=$(median_ms "$W/scale$n.json" 0)
  read -r _ u s rss < <(rusage 5 "$D" check)
  # Server-side CPU (dockerd + nginx workers) for one run.
  srv_pids=("$DOCKERD_PID" "$NGINX_PID" $(pgrep -P "$NGINX_PID" || true))
  before=$(cpu_ticks "${srv_pids[@]}")
  "$D" check >/dev/null
  after=$(cpu_ticks "${srv_pids[@]}")
  hz=$(getconf CLK_TCK)
  SCALE_ROWS+=$(python3 -c 'import sys
n, wall, u, s, rss, ticks, hz = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
cpu = (u + s) * 1000
srv = ticks * 1000 / hz
print("| %d | %.0f | %.0f (%.0f user + %.0f sys) | %.2f | %.0f | %.1f | %.1f |" % (
    n, wall, cpu, u * 1000, s * 1000, cpu / n, srv, srv / n, rss / 1024))' \
    "$n" "$wall" "$u" "$s" "$rss" "$((after - before))" "$hz")$'\n'
done

log "4b. concurrency sweep over 200 profiles"
export HOME=$W/fleet200
hyperfine -N --style basic --warmup 1 --runs 5 --export-json "$W/conc.json" \
  -L c 1,2,4,8,16,32,64,200 "$D check --concurrency {c}" >&2
CONC_ROW=$(python3 -c 'import json,sys,statistics
rs = json.load(open(sys.argv[1]))["results"]
print(" | ".join("%.0f" % (statistics.median(r["times"]) * 1000) for r in rs))' "$W/conc.json")

# ---------------------------------------------------------------- 5. WAN
# RTT 0 = the endpoints themselves; RTT $WAN_RTT_MS = the same ones through
# the delay proxy. prod (first member) is dockerd itself in both fleets.
log "5. WAN: RTT 0 and ${WAN_RTT_MS} ms, one host, 50 and 200 hosts"
WAN_ONE_ROWS=""
WAN_FLEET_ROWS=""
for rtt in 0 "$WAN_RTT_MS"; do
  if [ "$rtt" = 0 ]; then pre=fleet ep=${ENDPOINTS[0]}; else pre=wan ep=${WAN_ENDPOINTS[0]}; fi
  export HOME=$W/${pre}50
  url="https://${ep#tcp://}/version"
  hyperfine -N --style basic --warmup 2 --runs "$WAN_RUNS" --export-json "$W/wan1-$rtt.json" \
    "$D check prod" "docker --context prod version" \
    "curl -sf -o /dev/null --cacert $W/client/ca.pem --cert $W/client/cert.pem --key $W/client/key.pem $url" >&2
  one_d=$(median_ms "$W/wan1-$rtt.json" 0)
  one_k=$(median_ms "$W/wan1-$rtt.json" 1)
  one_c=$(median_ms "$W/wan1-$rtt.json" 2)
  WAN_ONE_ROWS+=$(python3 -c 'import sys
rtt, d, k, c = (float(x) for x in sys.argv[1:5])
ok = lambda b: "met" if b else "MISSED"
res = "%s / %s" % (ok(d <= 150), ok(d < k and d < c)) if rtt > 0 else ""
tgt = "≤ 150 ms, faster than docker and curl" if rtt > 0 else ""
print("| %.0f ms | %.0f ms | %.0f ms | %.0f ms | %s | %s | %s | %s |" % (
    rtt, d, k, c, "%.0f ms" % (3 * rtt) if rtt else "-", "%.2f" % (d / rtt) if rtt else "-", tgt, res))' \
    "$rtt" "$one_d" "$one_k" "$one_c")$'\n'
  for n in 50 200; do
    export HOME=$W/$pre$n
    "$D" check >"$W/wan-check-$rtt-$n.txt" || {
      echo "dctx check over $pre$n is not all ok:" >&2
      cat "$W/wan-check-$rtt-$n.txt" >&2
      exit 1
    }
    hyperfine -N --style basic --warmup 1 --runs "$WAN_RUNS" --export-json "$W/wanc-$rtt-$n.json" \
      "$D check" >&2
    hyperfine -N --style basic --runs "$WAN_LOOP_RUNS" --export-json "$W/wanl-$rtt-$n.json" \
      "bash $W/docker-loop.sh $HOME/names" "bash $W/docker-xargs.sh $HOME/names" >&2
    if [ "$n" = 50 ]; then fl=$FLOOR50; else fl=$FLOOR200; fi
    WAN_FLEET_ROWS+=$(python3 -c 'import sys
rtt, n, d, loop, xa, fl = (float(x) for x in sys.argv[1:7])
lim = max(3 * rtt, fl)
ok = lambda b: "met" if b else "MISSED"
tgt = res = ""
if rtt > 0 and n == 50:
    tgt = "≤ 1.25 × limit, ≥ 25× loop, ≥ 4× xargs"
    res = " / ".join((ok(d <= 1.25 * lim), ok(loop / d >= 25), ok(xa / d >= 4)))
print("| %.0f ms | %d | %.0f ms | %.0f ms | %.0f ms | max(%.0f, %.0f) = %.0f ms | %.2f× | %.1f× | %.1f× | %s | %s |" % (
    rtt, n, d, loop, xa, 3 * rtt, fl, lim, d / lim, loop / d, xa / d, tgt, res))' \
      "$rtt" "$n" "$(median_ms "$W/wanc-$rtt-$n.json" 0)" "$(median_ms "$W/wanl-$rtt-$n.json" 0)" \
      "$(median_ms "$W/wanl-$rtt-$n.json" 1)" "$fl")$'\n'
  done
done

# ---------------------------------------------------------------- hooks
for extra in "$ROOT"/bench/extra-*.sh; do
  # shellcheck disable=SC1090
  [ -e "$extra" ] && . "$extra"
done

# ---------------------------------------------------------------- report
ratio() { python3 -c "import sys; print('%.1f' % (float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2"; }
mib() { python3 -c "import sys; print('%.1f' % (int(sys.argv[1]) / 1024))" "$1"; }
verdict() { python3 -c "import sys; print('met' if eval(sys.argv[1]) else 'MISSED')" "$1"; }

ENV_RATIO=$(ratio "$ENV_DOCKER" "$ENV_DCTX")
CHECK_RATIO=$(ratio "$LOOP50" "$CHECK50")

{
  echo "### dctx benchmark results"
  echo
  echo "Machine: $(nproc) cores, $(python3 -c 'import os; print("%.0f" % (os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30))') GiB, $(uname -sr);" \
    "dctx $("$D" --version | cut -d' ' -f2) ($RUSTC_VERSION);" \
    "docker CLI $(docker version -f '{{.Client.Version}}' 2>/dev/null);" \
    "dockerd $DOCKERD_VERSION; $(nginx -v 2>&1 | cut -d' ' -f3); $(hyperfine --version)."
  echo
  echo "| # | measurement | dctx | docker CLI | ratio | target | result |"
  echo "|---|---|---|---|---|---|---|"
  echo "| 1 | \`env prod\` vs \`context inspect prod\`, median wall ($ENV_RUNS runs) | $ENV_DCTX ms | $ENV_DOCKER ms | ${ENV_RATIO}× | ≤ 2 ms, ≥ 8× | $(verdict "$ENV_DCTX <= 2") / $(verdict "$ENV_RATIO >= 8") |"
  echo "| 1 | peak RSS (max of 20) | $(mib "$ENV_DCTX_RSS") MiB | $(mib "$ENV_DOCKER_RSS") MiB | | ≤ 8 MiB | $(verdict "$ENV_DCTX_RSS <= 8192") |"
  echo "| 2 | 50-profile fleet: \`check\` vs \`docker --context X version\` loop, median wall | $CHECK50 ms | $LOOP50 ms | ${CHECK_RATIO}× | ≥ 15× | $(verdict "$CHECK_RATIO >= 15") |"
  echo "| 2 | peak RSS (max of 5; docker: largest single \`docker\` process) | $(mib "$CHECK50_RSS") MiB | $(mib "$LOOP50_RSS") MiB | | ≤ 40 MiB | $(verdict "$CHECK50_RSS <= 40960") |"
  echo "| 2 | one member alone: \`check prod\` vs \`docker --context prod version\`, median (20 runs) | $ONE_DCTX ms | $ONE_DOCKER ms | | | |"
  echo "| 2 | dockerd's own floor: /_ping + /version + /info on its unix socket, no TLS, by 1 / 50 / 200 concurrent clients | $FLOOR1 / $FLOOR50 / $FLOOR200 ms | | | | |"
  echo "| 3 | 1 silent peer among 50, \`check --timeout 2\`, median wall (3 runs) | $SILENT_WALL ms | exit $DOCKER_SILENT_RC after ${DOCKER_SILENT_S} s (\`timeout 20\`) | | ≤ 2.5 s | $(verdict "$SILENT_WALL <= 2500") |"
  echo "| 3 | peak RSS | $(mib "$SILENT_RSS") MiB | | | | |"
  echo
  echo "Silent peer in \`dctx check --json\`: $SILENT_ROW ($OTHERS_OK of 50 ok)."
  echo "docker CLI on the silent peer, last line: \`$DOCKER_SILENT_TAIL\`"
  echo
  echo "#### 4. Scaling (\`dctx check\`, default --concurrency 64)"
  echo
  echo "| profiles | median wall ms | dctx CPU ms (median of 5) | dctx CPU ms / probe | server CPU ms (dockerd + nginx, 1 run) | server CPU ms / probe | peak RSS MiB |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s' "$SCALE_ROWS"
  echo
  echo "Concurrency sweep, 200 profiles, median wall ms (5 runs each):"
  echo
  echo "| --concurrency | 1 | 2 | 4 | 8 | 16 | 32 | 64 | 200 |"
  echo "|---|---|---|---|---|---|---|---|---|"
  echo "| wall ms | $CONC_ROW |"
  echo
  echo "#### 5. WAN: the same daemons behind a delay proxy (bench/delay.py, ${WAN_RTT_MS} ms RTT incl. the connect leg)"
  echo
  echo "One host (prod = dockerd), median wall of $WAN_RUNS runs:"
  echo
  echo "| RTT | \`dctx check prod\` | \`docker --context prod version\` | curl mTLS GET /version | 3 RTT | dctx in RTTs | target | result |"
  echo "|---|---|---|---|---|---|---|---|"
  printf '%s' "$WAN_ONE_ROWS"
  echo
  echo "Fleets (dctx: median of $WAN_RUNS runs; docker loops: median of $WAN_LOOP_RUNS), limit = max(3 RTT, dockerd's floor for N clients):"
  echo
  echo "| RTT | hosts | \`dctx check\` | sequential docker loop | \`xargs -P16 docker\` | limit | dctx / limit | loop / dctx | xargs / dctx | target | result |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s' "$WAN_FLEET_ROWS"
  if [ -n "$EXTRA_ROWS" ]; then
    echo
    printf '%s' "$EXTRA_ROWS"
  fi
} | tee "$RESULTS"
echo "(table also written to $RESULTS)" >&2
