#!/usr/bin/env bash
# Times the example programs over loopback (issue 10): one line per case,
# with the client's wall time (process start to exit: connect, handshake,
# reading the file, the transfer, the server's answer) and MB/s (10^6
# bytes per second of file).
#
#   v2                 256 MiB, default flags (64 KiB chunks)
#   v1 64 KiB          256 MiB, --seed-compatible --chunk-size 65536 --rotate-after 1000
#   v1 seed preset      32 MiB, --seed-compatible (960-byte chunks, rotation every 20 frames)
#   TLS 1.3 (Python)   256 MiB through Python's ssl (OpenSSL), TLS_AES_128_GCM_SHA256,
#                      with a throwaway self-signed cert from `openssl req`
#                      (only if python3 and openssl are there)
#
# Every case has a fresh server and store directory, the server's
# --max-file-size just large enough; the stored file is compared with
# the one sent. Everything lives in a temp dir, removed on exit, and the
# server is killed on any exit. What the securex cases do besides the
# channel: the client reads the file and (v2) hashes it with SHA-256, the
# server writes it and (v2) checks its SHA-256 before answering CLOSE;
# a v1 client stops once CLOSE is written (v1 servers never answer it).
# The Python client reads the same file and its server writes it.
#
#   bash benches/loopback.sh            # builds the release examples first
#   bash benches/loopback.sh v2 tls     # only some cases: v2, v1, seed, tls
#
# CARGO_TARGET_DIR is honoured. Takes about 2 minutes, 55 s of it the
# seed preset's 32 MiB: its 1747 rotations (one every 20 frames), each two
# PBKDF2 runs in sequence.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
bin=$target/release/examples

cargo build --release --examples --manifest-path "$root/Cargo.toml" >&2

tmp=$(mktemp -d "${TMPDIR:-/tmp}/securex-loopback.XXXXXX")
server_pid=
cleanup() {
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

head -c $((256 << 20)) /dev/urandom >"$tmp/file-256MiB"
head -c $((32 << 20)) /dev/urandom >"$tmp/file-32MiB"

# Waits for the server's "listening on ADDR" line in $1 and prints the port.
port_of() {
    local log=$1 line
    for _ in $(seq 100); do
        line=$(grep -m1 -o 'listening on [^ ]*' "$log" || true)
        if [[ -n $line ]]; then
            echo "${line##*:}"
            return
        fi
        sleep 0.05
    done
    echo "the server did not start:" >&2
    cat "$log" >&2
    exit 1
}

# Prints one result line: name, bytes, start and end times (date +%s.%N),
# a note.
report() {
    awk -v name="$1" -v bytes="$2" -v t0="$3" -v t1="$4" -v note="${5:-}" \
        'BEGIN { secs = t1 - t0; printf "%-52s %7.2f s %7.1f MB/s  %s\n", name, secs, bytes / secs / 1e6, note }'
}

# case NAME FILE "SERVER FLAGS" "CLIENT FLAGS"
case_securex() {
    local name=$1 file=$2 server_flags=$3 client_flags=$4
    local size store port t0 t1
    size=$(stat -c %s "$file")
    store=$tmp/store-$RANDOM$RANDOM
    mkdir "$store"
    # shellcheck disable=SC2086 # the flags are words
    "$bin/server" --listen 127.0.0.1:0 --dir "$store" --max-file-size "$size" \
        $server_flags 2>"$tmp/server.log" &
    server_pid=$!
    port=$(port_of "$tmp/server.log")
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    "$bin/client" --connect "127.0.0.1:$port" $client_flags "$file" >"$tmp/client.out"
    t1=$(date +%s.%N)
    # v1 clients never hear back: wait for the server to store the file.
    for _ in $(seq 600); do
        [[ -f $store/$(basename "$file") ]] && break
        sleep 0.05
    done
    cmp "$file" "$store/$(basename "$file")"
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    rm -rf "$store"
    # "sent FILE (N bytes) with SUITE, K key rotations": the suite and rotations.
    report "$name" "$size" "$t0" "$t1" "$(sed -n 's/.* with //p' "$tmp/client.out")"
}

# Whether case $1 was asked for (all without arguments).
wanted() {
    [[ -z $cases || " $cases " == *" $1 "* ]]
}
cases="$*"

if wanted v2; then
    case_securex "securex v2 (64 KiB chunks), 256 MiB" "$tmp/file-256MiB" "" ""
fi
if wanted v1; then
    case_securex "securex v1 (64 KiB chunks, rotate 1000), 256 MiB" "$tmp/file-256MiB" \
        "--seed-compatible" "--seed-compatible --chunk-size 65536 --rotate-after 1000"
fi
if wanted seed; then
    case_securex "securex v1 seed preset (960 B, rotate 20), 32 MiB" "$tmp/file-32MiB" \
        "--seed-compatible" "--seed-compatible"
fi

if ! wanted tls; then
    exit 0
fi
if ! command -v python3 >/dev/null || ! command -v openssl >/dev/null; then
    echo "TLS 1.3 (Python ssl): skipped, needs python3 and openssl" >&2
    exit 0
fi

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
# Python's ssl cannot pick TLS 1.3 suites: OpenSSL's config does.
cat >"$tmp/openssl.cnf" <<'EOF'
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Ciphersuites = TLS_AES_128_GCM_SHA256
EOF
cat >"$tmp/tls.py" <<'EOF'
"""TLS 1.3 over loopback: `server DIR CERT KEY` or `client PORT CERT FILE`."""
import os, socket, ssl, sys

CHUNK = 64 * 1024

def server(store, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(cert, key)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        print(f"listening on 127.0.0.1:{listener.getsockname()[1]}", file=sys.stderr, flush=True)
        raw, _ = listener.accept()
        with ctx.wrap_socket(raw, server_side=True) as conn:
            size = int.from_bytes(read_exact(conn, 8), "big")
            buf = bytearray(CHUNK)
            got = 0
            with open(os.path.join(store, "file"), "wb") as out:
                while got < size:
                    n = conn.recv_into(buf)
                    if n == 0:
                        sys.exit("short file")
                    out.write(memoryview(buf)[:n])
                    got += n
            conn.sendall(b"K")
            print(f"cipher {conn.cipher()[0]} {conn.version()}", file=sys.stderr, flush=True)

def read_exact(conn, n):
    data = b""
    while len(data) < n:
        part = conn.recv(n - len(data))
        if not part:
            sys.exit("short header")
        data += part
    return data

def client(port, cert, path):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(cert)
    with socket.create_connection(("127.0.0.1", int(port))) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as conn:
            assert conn.cipher()[0] == "TLS_AES_128_GCM_SHA256", conn.cipher()
            size = os.path.getsize(path)
            conn.sendall(size.to_bytes(8, "big"))
            with open(path, "rb") as f:
                while chunk := f.read(CHUNK):
                    conn.sendall(chunk)
            if read_exact(conn, 1) != b"K":
                sys.exit("no answer")

if __name__ == "__main__":
    {"server": server, "client": client}[sys.argv[1]](*sys.argv[2:])
EOF

store=$tmp/store-tls
mkdir "$store"
OPENSSL_CONF=$tmp/openssl.cnf python3 "$tmp/tls.py" server "$store" "$tmp/cert.pem" "$tmp/key.pem" \
    2>"$tmp/server.log" &
server_pid=$!
port=$(port_of "$tmp/server.log")
t0=$(date +%s.%N)
OPENSSL_CONF=$tmp/openssl.cnf python3 "$tmp/tls.py" client "$port" "$tmp/cert.pem" "$tmp/file-256MiB"
t1=$(date +%s.%N)
wait "$server_pid"
server_pid=
cmp "$tmp/file-256MiB" "$store/file"
grep -q "cipher TLS_AES_128_GCM_SHA256 TLSv1.3" "$tmp/server.log"
report "TLS 1.3 (Python ssl, 64 KiB writes), 256 MiB" $((256 << 20)) "$t0" "$t1" \
    "TLS_AES_128_GCM_SHA256, $(python3 -c 'import ssl; print(ssl.OPENSSL_VERSION)')"
