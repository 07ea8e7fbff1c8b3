#!/usr/bin/env bash
# Interoperability test of securex's v1 (--seed-compatible) example programs
# with the seed Python peers (shared/peers/seed-python, see its README.md).
#
# Usage: tests/interop/run.sh [--python-only] [--no-build] [--keep]
#   --python-only  only check the Python peers against each other (the
#                  reference cases); no Rust build
#   --no-build     use the target/release/examples binaries as they are
#   --keep         keep the temporary directory (sources, stored copies, logs)
# Environment:
#   SEED_PEERS       folder of client.py/server.py/requirements.txt
#                    (default: ../shared/peers/seed-python beside the repo root)
#   INTEROP_TIMEOUT  seconds allowed to each client run (default 60)
#   INTEROP_SUITES   comma-separated subset of the suites to run, e.g.
#                    'DH;3DES;ECB;SHA-256,DH;AES-128;GCM;SHA-512'
#   INTEROP_BIN      folder of the server and client programs (default
#                    target/release/examples; --no-build is then implied)
#
# Cases, for each of the 8 v1 suites:
#   client.py -> securex server (restricted to the suite), 5000 and 45000 B:
#     the stored copy must equal what server.py stores from the same client and
#     file (client.py drops the chunk due at each rotation), and client.py must
#     have been given the suite in every EXCHANGE;
#   securex client (restricted to the suite) -> server.py, 45000 B: exit 0,
#     server.py's copy equals the source, server.py chose the suite.
# Plus: our client offering no suite server.py can choose must exit non-zero
# with a message; client.py -> securex server with 16500 B (k = 17: client.py
# never sends CLOSE) must leave only <name>.partial, equal to what server.py
# keeps; two reference cases check the Python peers against each other (and
# the model of client.py's drops in util.py). A securex server that dies
# during its cases adds a FAIL line "... kept serving".
#
# Prints one PASS/FAIL line per case and "interop: N passed, M failed".
# Exit status: 0 all passed, 1 a case failed, 2 set-up error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PEERS_SRC=${SEED_PEERS:-$ROOT/../shared/peers/seed-python}
CLIENT_TIMEOUT=${INTEROP_TIMEOUT:-60}
VENV=$ROOT/target/interop-venv
BIN=${INTEROP_BIN:-$ROOT/target/release/examples}
UTIL=$HERE/util.py

PYTHON_ONLY=0 BUILD=1 KEEP=0
for arg in "$@"; do
	case $arg in
	--python-only) PYTHON_ONLY=1 ;;
	--no-build) BUILD=0 ;;
	--keep) KEEP=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "interop: unknown argument: $arg (see --help)" >&2
		exit 2
		;;
	esac
done

SUITES=(
	'DH;AES-128;GCM;SHA-256' 'DH;AES-128;GCM;SHA-512'
	'DH;AES-128;CBC;SHA-256' 'DH;AES-128;CBC;SHA-512'
	'DH;3DES;CBC;SHA-256' 'DH;3DES;CBC;SHA-512'
	'DH;3DES;ECB;SHA-256' 'DH;3DES;ECB;SHA-512'
)
if [[ -n ${INTEROP_SUITES:-} ]]; then
	IFS=',' read -r -a SUITES <<<"$INTEROP_SUITES"
fi
# Sizes for client.py must avoid k = floor(size / 960) = 17 + 21j (no CLOSE)
# and 18 + 21j (file sent twice / never ends); util.py model refuses the
# latter and run.sh checks that the former is hit only on purpose.
PY_SIZES=(5000 45000) # k = 5 (no rotation) and 46 (two rotations)
RS_SIZE=45000         # our client loses nothing whatever the size
PARTIAL_SIZE=16500    # k = 17: client.py never sends CLOSE

now_ms() { echo $(($(date +%s%N) / 1000000)); }
T_START=$(now_ms)

die() {
	echo "interop: $*" >&2
	exit 2
}

# ---------------------------------------------------------------- processes
WORK=$(mktemp -d "${TMPDIR:-/tmp}/securex-interop.XXXXXX")
mkdir -p "$WORK/src" "$WORK/logs" "$WORK/model" "$WORK/pystore"
BG_PIDS=()

stop_bg() { # PID: end the process group (session) started by start_bg
	local pid=$1 p keep=()
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	sleep 0.2
	kill -KILL -- "-$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	for p in ${BG_PIDS[@]+"${BG_PIDS[@]}"}; do [[ $p == "$pid" ]] || keep+=("$p"); done
	BG_PIDS=(${keep[@]+"${keep[@]}"})
}

cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	for pid in ${BG_PIDS[@]+"${BG_PIDS[@]}"}; do stop_bg "$pid"; done
	if ((KEEP)); then
		echo "interop: kept $WORK"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_bg() { # LOG CMD...: CMD in $WORK, in a session of its own; sets BG_PID
	local log=$1
	shift
	(cd "$WORK" && exec setsid "$@") >"$log" 2>&1 </dev/null &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
}

alive() { [[ -e /proc/$1 ]] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }

show_tail() { # FILE [N]: indented tail of a log, long lines cut, without
	# client.py's per-frame debug lines (it runs with -v for the suite lines)
	[[ -s $1 ]] || {
		echo "      | ($(basename "$1"): empty or missing)"
		return 0
	}
	echo "      | --- $(basename "$1") (last ${2:-12} lines)"
	{ grep -v -e ' DEBUG Send: ' -e ' DEBUG Received: ' -e ' DEBUG Frame: ' "$1" || true; } |
		tail -n "${2:-12}" | cut -c1-200 | sed 's/^/      | /'
}

# ---------------------------------------------------------------- build, venv
if ((!PYTHON_ONLY)); then
	if ((BUILD)) && [[ -z ${INTEROP_BIN:-} ]]; then
		echo "interop: cargo build --release --examples"
		(cd "$ROOT" && cargo build --release --examples) >"$WORK/build.log" 2>&1 || {
			tail -n 40 "$WORK/build.log" >&2
			die "cargo build --release --examples failed"
		}
	fi
	[[ -x $BIN/server && -x $BIN/client ]] ||
		die "$BIN/server or $BIN/client is missing (examples not written or not built?)"
fi

[[ -f $PEERS_SRC/client.py && -f $PEERS_SRC/server.py ]] ||
	die "no seed peers in $PEERS_SRC (set SEED_PEERS)"

setup_venv() {
	local req=$PEERS_SRC/requirements.txt con=$HERE/constraints.txt stamp
	stamp=$(cat "$req" "$con" | sha256sum | cut -d' ' -f1)
	if [[ -x $VENV/bin/python && "$(cat "$VENV/.interop-stamp" 2>/dev/null || true)" == "$stamp" ]]; then
		return 0
	fi
	echo "interop: setting up $VENV"
	if [[ ! -x $VENV/bin/python ]]; then
		python3 -m venv "$VENV" >"$WORK/venv.log" 2>&1 || {
			cat "$WORK/venv.log" >&2
			die "python3 -m venv $VENV failed"
		}
	fi
	"$VENV/bin/python" -m pip install -q --disable-pip-version-check \
		-r "$req" -c "$con" >>"$WORK/venv.log" 2>&1 || {
		tail -n 30 "$WORK/venv.log" >&2
		die "pip install -r $req failed"
	}
	echo "$stamp" >"$VENV/.interop-stamp"
}
setup_venv
PY=$VENV/bin/python

# The peers, with the broken -p (and the client's -s) flags fixed.
PEERS=$WORK/peers
mkdir -p "$PEERS"
cp "$PEERS_SRC"/*.py "$PEERS/"
sed -i 's/nargs=1, *//' "$PEERS/server.py" "$PEERS/client.py"
! grep -n 'nargs=1' "$PEERS/server.py" "$PEERS/client.py" || die "could not patch nargs=1 out of the peers"
cp "$HERE/pyserver.py" "$PEERS/"

wait_listen() { # PORT PID LOG WHAT
	local rc=0
	python3 "$UTIL" waitlisten "$1" 30 "$2" || rc=$?
	((rc == 0)) && return 0
	if ((rc == 2)); then echo "interop: $4 exited before listening on $1" >&2; else echo "interop: $4 is not listening on $1 after 30 s" >&2; fi
	show_tail "$3" 30 >&2
	return 1
}

# The reference server.py, shared by all cases.
PYPORT=$(python3 "$UTIL" freeport)
PYLOG=$WORK/logs/server.py.log
start_bg "$PYLOG" "$PY" -u "$PEERS/pyserver.py" -p "$PYPORT" -d "$WORK/pystore"
PYSRV=$BG_PID
wait_listen "$PYPORT" "$PYSRV" "$PYLOG" "server.py" || die "server.py did not start"
echo "interop: server.py on 127.0.0.1:$PYPORT, work dir $WORK"

# ---------------------------------------------------------------- helpers
PASSED=0 FAILED=0
ERRS=()
FAILED_CASES=()
err() { ERRS+=("$*"); }

finish_case() { # LABEL START_MS LOG...
	local label=$1 start=$2 ms e
	shift 2
	ms=$(($(now_ms) - start))
	if ((${#ERRS[@]} == 0)); then
		PASSED=$((PASSED + 1))
		printf 'PASS  %s  (%d.%d s)\n' "$label" $((ms / 1000)) $((ms % 1000 / 100))
	else
		FAILED=$((FAILED + 1))
		FAILED_CASES+=("$label")
		printf 'FAIL  %s  (%d.%d s)\n' "$label" $((ms / 1000)) $((ms % 1000 / 100))
		for e in "${ERRS[@]}"; do echo "      - $e"; done
		for e in "$@"; do show_tail "$e"; done
	fi
	ERRS=()
}

make_file() { head -c "$2" /dev/urandom >"$1"; }

suite_tag() { echo "$1" | cut -d';' -f2- | tr -d -- '-' | tr ';A-Z' '_a-z'; }

rc_text() { # RC
	case $1 in
	0) echo "exit 0" ;;
	124 | 137) echo "timed out after ${CLIENT_TIMEOUT} s" ;;
	*) echo "exit $1" ;;
	esac
}

py_client() { # PORT FILE LOG: client.py (-v: it logs each EXCHANGE's suite); sets RC
	RC=0
	(cd "$WORK" && exec timeout -k 5 "$CLIENT_TIMEOUT" "$PY" "$PEERS/client.py" -v -p "$1" "$2") \
		>"$3" 2>&1 </dev/null || RC=$?
}

# The suites client.py was given, one line per EXCHANGE, as DH;C;M;H.
py_client_suites() { grep -o "\['DH', '[^]]*\]" "$1" | sed "s/[][' ]//g; s/,/;/g" || true; }

check_suites() { # LOG SUITE WHO
	local got bad
	got=$(py_client_suites "$1")
	if [[ -z $got ]]; then
		err "$3 sent client.py no EXCHANGE"
	else
		bad=$(grep -vxF -- "$2" <<<"$got" | sort -u | paste -sd' ' || true)
		[[ -z $bad ]] || err "$3 chose $bad, expected $2"
	fi
}

py_done_count() { grep -c '^INTEROP-DONE' "$PYLOG" || true; }

wait_py_done() { # COUNT_BEFORE: server.py ended one more connection
	local i
	python3 "$UTIL" waitidle "$PYPORT" 20 || {
		err "server.py still holds a connection 20 s after the client ended"
		return 1
	}
	for ((i = 0; i < 40; i++)); do
		(($(py_done_count) > $1)) && return 0
		sleep 0.05
	done
	err "server.py saw no connection"
	return 1
}

wait_rs_done() { # PORT FILE: no open connection on our server's side, FILE exists
	local i
	python3 "$UTIL" waitidle "$1" 20 || {
		err "securex server still holds the connection 20 s after the client ended"
		return 0
	}
	for ((i = 0; i < 40; i++)); do
		[[ -e $2 ]] && return 0
		sleep 0.05
	done
}

compare() { # OURS REF WHAT
	local out
	out=$(cmp -- "$1" "$2" 2>&1) && return 0
	out=${out##*: }
	err "$3: $(stat -c %s "$1") B vs $(stat -c %s "$2") B, cmp: ${out%, *line *}"
}

listing() { find "$1" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort; }
list_dir() { # DIR: its entries on one line, for messages
	local l
	l=$(listing "$1" | paste -sd' ')
	echo "${l:-empty}"
}

# client.py -> server.py with FILE; checks server.py's copy against the model
# of client.py's drops. Sets REF (server.py's copy) and MODEL_CLOSE.
reference_run() { # FILE LOG EXPECT_CLOSE(close|noclose)
	local file=$1 log=$2 before model
	model=$WORK/model/$(basename "$file")
	MODEL_CLOSE=$(python3 "$UTIL" model "$file" "$model") || die "bad test size $(stat -c %s "$file")"
	[[ $MODEL_CLOSE == "$3" ]] || die "test size $(stat -c %s "$file") gives $MODEL_CLOSE, expected $3"
	before=$(py_done_count)
	py_client "$PYPORT" "$file" "$log"
	((RC == 0)) || err "client.py -> server.py: $(rc_text $RC)"
	wait_py_done "$before" || true
	REF=$WORK/pystore/$(python3 "$UTIL" squash "$file")
	if [[ ! -f $REF ]]; then
		err "reference: server.py stored nothing under $(basename "$REF") (has: $(list_dir "$WORK/pystore"))"
		REF=
	elif ! cmp -s "$REF" "$model"; then
		err "reference: server.py's copy ($(stat -c %s "$REF") B) differs from the model of client.py ($(stat -c %s "$model") B)"
	fi
}

# ---------------------------------------------------------------- cases
case_reference() { # the Python peers against each other
	local start file log last
	start=$(now_ms)
	file=$WORK/src/ref_45000.bin
	log=$WORK/logs/ref_45000.client.py.log
	make_file "$file" 45000
	reference_run "$file" "$log" close
	check_suites "$log" 'DH;AES-128;CBC;SHA-256' "server.py"
	[[ -z $REF ]] || [[ $(stat -c %s "$REF") == 43080 ]] || err "reference: expected 43080 B (two chunks dropped)"
	finish_case "reference   client.py -> server.py, 45000 B, stored under the squashed absolute path, chunks dropped at rotations" "$start" "$log" "$PYLOG"

	start=$(now_ms)
	file=$WORK/src/ref_16500.bin
	log=$WORK/logs/ref_16500.client.py.log
	make_file "$file" 16500
	reference_run "$file" "$log" noclose
	last=$(grep -o "Send: {'[a-z]*': '[A-Z_]*'" "$log" | tail -n1 || true)
	[[ $last == *ALGORITHMS* ]] || err "reference: client.py's last frame was not ALGORITHMS (no CLOSE expected): ${last:-none}"
	grep -q 'File transferred' "$log" || err "reference: client.py did not report success"
	finish_case "reference   client.py -> server.py, 16500 B, no CLOSE sent, success reported, all data kept" "$start" "$log" "$PYLOG"
}

RS_PORT='' RS_DIR='' RS_LOG='' RS_PID=''
start_rs_server() { # NAME ARGS...
	local name=$1
	shift
	RS_PORT=$(python3 "$UTIL" freeport)
	RS_DIR=$WORK/rs-$name
	RS_LOG=$WORK/logs/securex-server-$name.log
	mkdir -p "$RS_DIR"
	start_bg "$RS_LOG" "$BIN/server" --listen "127.0.0.1:$RS_PORT" --dir "$RS_DIR" "$@"
	RS_PID=$BG_PID
	wait_listen "$RS_PORT" "$RS_PID" "$RS_LOG" "securex server ($*)"
}

stop_rs_server() { # LABEL: a FAIL line if it died on its own
	if ! alive "$RS_PID"; then
		err "securex server exited on its own; it must keep serving"
		finish_case "$1" "$(now_ms)" "$RS_LOG"
	fi
	stop_bg "$RS_PID"
}

case_py_to_rs() { # SUITE SIZE
	local suite=$1 size=$2 name file start logr logp ours
	name=p2r_$(suite_tag "$suite")_$size.bin
	file=$WORK/src/$name
	logr=$WORK/logs/$name.client.py-to-securex.log
	logp=$WORK/logs/$name.client.py-to-server.py.log
	ours=$RS_DIR/$name
	make_file "$file" "$size"
	start=$(now_ms)
	py_client "$RS_PORT" "$file" "$logr"
	((RC == 0)) || err "client.py -> securex server: $(rc_text $RC)"
	wait_rs_done "$RS_PORT" "$ours"
	check_suites "$logr" "$suite" "securex server"
	reference_run "$file" "$logp" close
	[[ ! -e $ours.partial ]] || err "securex server left $name.partial although CLOSE arrived"
	if [[ ! -f $ours ]]; then
		err "securex server stored no $name (has: $(list_dir "$RS_DIR"))"
	elif [[ -n $REF ]]; then
		compare "$ours" "$REF" "securex server's copy differs from server.py's"
	fi
	finish_case "py->rust    client.py -> securex server  $suite  $size B" "$start" "$RS_LOG" "$logr"
}

case_rs_to_py() { # SUITE SIZE
	local suite=$1 size=$2 name file start log before new done_line C M H
	IFS=';' read -r _ C M H <<<"$suite"
	name=r2p_$(suite_tag "$suite")_$size.bin
	file=$WORK/src/$name
	log=$WORK/logs/$name.securex-client.log
	make_file "$file" "$size"
	listing "$WORK/pystore" >"$WORK/before.lst"
	before=$(py_done_count)
	start=$(now_ms)
	RC=0
	timeout -k 5 "$CLIENT_TIMEOUT" "$BIN/client" --connect "127.0.0.1:$PYPORT" --seed-compatible \
		--ciphers "$C" --modes "$M" --hashes "$H" "$file" >"$log" 2>&1 </dev/null || RC=$?
	((RC == 0)) || err "securex client: $(rc_text $RC), expected exit 0"
	if wait_py_done "$before"; then
		done_line=$(grep '^INTEROP-DONE' "$PYLOG" | tail -n1)
		[[ $done_line == "INTEROP-DONE suite=$suite "* ]] || err "server.py ended with: ${done_line#INTEROP-DONE }, expected suite=$suite"
	fi
	new=$(listing "$WORK/pystore" | comm -13 "$WORK/before.lst" - || true)
	if [[ -z $new ]]; then
		err "server.py stored no new file"
	elif (($(wc -l <<<"$new") > 1)); then
		err "server.py stored several new files: $(paste -sd' ' <<<"$new")"
	else
		compare "$WORK/pystore/$new" "$file" "server.py's copy differs from the source"
	fi
	finish_case "rust->py    securex client -> server.py  $suite  $size B" "$start" "$log" "$PYLOG"
}

case_partial() { # on the current securex server
	local name file start logr logp ours
	name=partial_$PARTIAL_SIZE.bin
	file=$WORK/src/$name
	logr=$WORK/logs/$name.client.py-to-securex.log
	logp=$WORK/logs/$name.client.py-to-server.py.log
	ours=$RS_DIR/$name
	make_file "$file" "$PARTIAL_SIZE"
	start=$(now_ms)
	py_client "$RS_PORT" "$file" "$logr"
	((RC == 0)) || err "client.py -> securex server: $(rc_text $RC)"
	wait_rs_done "$RS_PORT" "$ours.partial"
	reference_run "$file" "$logp" noclose
	[[ ! -e $ours ]] || err "securex server stored $name under its final name although no CLOSE arrived"
	if [[ ! -f $ours.partial ]]; then
		err "securex server kept no $name.partial (has: $(list_dir "$RS_DIR"))"
	elif [[ -n $REF ]]; then
		compare "$ours.partial" "$REF" "$name.partial differs from what server.py kept"
	fi
	finish_case "partial     client.py -> securex server  (default seed-compatible lists)  $PARTIAL_SIZE B, no CLOSE -> only $name.partial" "$start" "$RS_LOG" "$logr"
}

case_no_suite() { # our client offers nothing server.py (or any v1 server) can choose
	local name file start log before lines
	name=nosuite_5000.bin
	file=$WORK/src/$name
	log=$WORK/logs/$name.securex-client.log
	make_file "$file" 5000
	listing "$WORK/pystore" >"$WORK/before.lst"
	before=$(py_done_count)
	start=$(now_ms)
	RC=0
	# A v1 server fixes the cipher first (3DES) and then finds no mode for
	# it: server.py would answer ERROR. Our client knows that rule and
	# refuses the offer before connecting (Config::validate), exit 2.
	timeout -k 5 "$CLIENT_TIMEOUT" "$BIN/client" --connect "127.0.0.1:$PYPORT" --seed-compatible \
		--ciphers 3DES,AES-128 --modes GCM "$file" >"$log" 2>&1 </dev/null || RC=$?
	((RC == 2)) || err "securex client $(rc_text $RC) instead of refusing the offer (exit 2)"
	lines=$(wc -l <"$log")
	((lines == 1)) || err "securex client said $lines lines, not one"
	grep -q "no valid cipher suite" "$log" || err "securex client did not say why: $(head -c 200 "$log")"
	sleep 0.3
	(($(py_done_count) == before)) || err "server.py saw a connection although the client refused its offer"
	[[ -z $(listing "$WORK/pystore" | comm -13 "$WORK/before.lst" - || true) ]] || err "server.py stored a file"
	finish_case "negative    securex client (3DES,AES-128 + GCM): refused before connecting to server.py, exit 2" "$start" "$log" "$PYLOG"
}

# ---------------------------------------------------------------- run
case_reference

if ((!PYTHON_ONLY)); then
	for suite in "${SUITES[@]}"; do
		IFS=';' read -r _ C M H <<<"$suite"
		if start_rs_server "$(suite_tag "$suite")" --seed-compatible --ciphers "$C" --modes "$M" --hashes "$H"; then
			for size in "${PY_SIZES[@]}"; do case_py_to_rs "$suite" "$size"; done
			stop_rs_server "py->rust    securex server ($suite) kept serving"
		else
			for size in "${PY_SIZES[@]}"; do
				err "securex server did not start"
				finish_case "py->rust    client.py -> securex server  $suite  $size B" "$(now_ms)"
			done
			stop_bg "$RS_PID"
		fi
		case_rs_to_py "$suite" "$RS_SIZE"
	done

	case_no_suite

	if start_rs_server default --seed-compatible; then
		case_partial
		stop_rs_server "partial     securex server (default) kept serving"
	else
		err "securex server did not start"
		finish_case "partial     client.py -> securex server  $PARTIAL_SIZE B" "$(now_ms)"
		stop_bg "$RS_PID"
	fi
fi

ms=$(($(now_ms) - T_START))
echo
if ((FAILED)); then
	echo "interop: failed cases:"
	printf '  %s\n' "${FAILED_CASES[@]}"
fi
printf 'interop: total %d.%d s\n' $((ms / 1000)) $((ms % 1000 / 100))
echo "interop: $PASSED passed, $FAILED failed"
((FAILED == 0)) || exit 1
