#!/usr/bin/env python3
"""Small helpers for tests/interop/run.sh (standard library only).

    util.py freeport                 print a free TCP port on 127.0.0.1
    util.py waitlisten PORT SECS PID wait until something listens on PORT
                                     (exit 1 on timeout, 2 if PID died)
    util.py waitidle PORT SECS       wait until no connection on local PORT is
                                     still open on the server's side
    util.py squash PATH              the name server.py stores PATH under
    util.py model SRC OUT            write to OUT what client.py delivers of
                                     SRC (it drops the DATA chunk due at each
                                     rotation); print "close" or "noclose"
"""
import os
import re
import socket
import sys
import time

# /proc/net/tcp states
ESTABLISHED, SYN_RECV, CLOSE_WAIT, LISTEN = "01", "03", "08", "0A"


def sockets(port):
    """(state) of every IPv4/IPv6 TCP socket whose local port is PORT."""
    states = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            if int(local.rsplit(":", 1)[1], 16) == port:
                states.append(state)
    return states


def have_proc():
    return os.path.exists("/proc/net/tcp")


def listening(port):
    if have_proc():
        return LISTEN in sockets(port)
    try:  # fallback: a probe connection (the server will log it)
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still answers kill(0): look at its state
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def model(src, out):
    """client.py: frame 1 is ALGORITHMS, then OPEN, the 960-byte chunks (the
    last one shorter, possibly empty) and CLOSE; every send counts, and the
    message due when the count reaches 21 is replaced by ALGORITHMS (count
    back to 0) and never sent. Valid only outside the sizes where the
    dropped message is the last chunk (k = 18 + 21j), which run.sh avoids."""
    with open(src, "rb") as f:
        data = f.read()
    k = len(data) // 960
    chunks = [data[i * 960:(i + 1) * 960] for i in range(k + 1)]
    msgs = [("OPEN", b"")] + [("DATA", c) for c in chunks] + [("CLOSE", b"")]
    counter, kept, closed = 1, [], False
    i = 0
    while i < len(msgs):
        kind, payload = msgs[i]
        counter += 1
        if counter == 21:
            counter = 0
            if kind != "DATA" or i == len(msgs) - 2:
                if kind == "CLOSE":
                    break  # CLOSE never sent (k = 17 + 21j)
                raise SystemExit("model: size %d is in a zone where client.py "
                                 "misbehaves (k = 18 + 21j)" % len(data))
        else:
            if kind == "DATA":
                kept.append(payload)
            elif kind == "CLOSE":
                closed = True
        i += 1
    with open(out, "wb") as f:
        f.write(b"".join(kept))
    print("close" if closed else "noclose")
    return 0


def main(argv):
    cmd = argv[1]
    if cmd == "freeport":
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
        s.close()
    elif cmd == "waitlisten":
        port, secs, pid = int(argv[2]), float(argv[3]), int(argv[4])
        deadline = time.monotonic() + secs
        while time.monotonic() < deadline:
            if listening(port):
                return 0
            if not alive(pid):
                return 2
            time.sleep(0.05)
        return 1
    elif cmd == "waitidle":
        port, secs = int(argv[2]), float(argv[3])
        if not have_proc():
            time.sleep(1.0)
            return 0
        deadline = time.monotonic() + secs
        while time.monotonic() < deadline:
            if not any(s in (ESTABLISHED, SYN_RECV, CLOSE_WAIT) for s in sockets(port)):
                return 0
            time.sleep(0.05)
        return 1
    elif cmd == "squash":
        # server.py: re.sub(r'[^\w\.]', '', file_name) of the absolute path
        # that client.py sends.
        print(re.sub(r"[^\w\.]", "", os.path.abspath(argv[2])))
    elif cmd == "model":
        return model(argv[2], argv[3])
    else:
        print("unknown command " + cmd, file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
