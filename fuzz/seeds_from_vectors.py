#!/usr/bin/env python3
"""Writes the seed corpus files that come from the v1 known-answer vectors
(../shared/vectors/seed-v1.json); examples/make_corpus.rs writes the ones
from live sessions.

    python3 fuzz/seeds_from_vectors.py ../shared/vectors/seed-v1.json

Headers (the first bytes of a seed) are those the targets expect:
frames [limit, cut_hi, cut_lo], server_input [mode, chunking, step].
"""
import base64
import json
import os
import sys

vectors = json.load(open(sys.argv[1] if len(sys.argv) > 1 else "../shared/vectors/seed-v1.json"))
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    os.makedirs(os.path.join(root, target), exist_ok=True)
    path = os.path.join(root, target, "seed-" + name)
    with open(path, "wb") as f:
        f.write(data)
    print(f"{path} ({len(data)} bytes)")


frames = {k: v.encode() for k, v in vectors["frames"].items()}
records = vectors["records"]


def session_records(suite, epoch=0, field="frame"):
    """The frames (or inner messages) of one suite and epoch, in order."""
    out = b""
    for r in records:
        if r["group"] == "adhoc-512" and r["epoch"] == epoch and r["suite"] == suite:
            out += r[field].encode() + (b"" if field == "frame" else b"\r\n")
    return out


# frames: every frame type as existing peers write them, whole records,
# and the inner messages (one per line, for Message::from_v1_json).
write("frames", "vectors-handshake", b"\x00\x00\x40" + frames["algorithms"] + frames["exchange"])
write("frames", "vectors-ok-error", b"\x00\x00\x05" + frames["ok"] + frames["error"])
write("frames", "vectors-records-aes-gcm", b"\x00\x02\x00" + session_records("DH;AES-128;GCM;SHA-512"))
write("frames", "vectors-records-3des-ecb", b"\x00\x00\x00" + session_records("DH;3DES;ECB;SHA-256", 1))
write("frames", "vectors-inner", b"\x00\x00\x30" + session_records("DH;AES-128;CBC;SHA-256", 0, "inner"))
# A tiny frame limit (0x80 | 100): the ALGORITHMS frame is over it.
write("frames", "vectors-small-limit", b"\xe4\x00\x10" + frames["ok"] + frames["algorithms"])

# server_input, fresh server: the existing client's first flight and records
# (which do not authenticate: our server draws its own key), then a peer's
# ERROR.
write("server_input", "vectors-session",
      b"\x00\x00\x00" + frames["algorithms"] + session_records("DH;AES-128;CBC;SHA-256"))
write("server_input", "vectors-error", b"\x00\x01\x00" + frames["ok"] + frames["error"])

# dh_decoders: both groups' parameters and the client's public key (PEM and
# raw y), and the ffdhe2048 values a validating receiver refuses.
for g in vectors["groups"]:
    write("dh_decoders", g["name"] + "-params-pem", base64.b64decode(g["params_b64"]))
    write("dh_decoders", g["name"] + "-public-pem", base64.b64decode(g["client_public_key_b64"]))
ffdhe = next(g for g in vectors["groups"] if g["name"] == "ffdhe2048")
write("dh_decoders", "ffdhe2048-server-public-bytes", bytes.fromhex(ffdhe["epochs"][0]["server_public_hex"].zfill(512)))
invalid = {v["why"]: v["y_hex"] for v in vectors["ffdhe2048_invalid_public"]}  # the last of each kind
for why, name in [("p - 1 (order 2)", "p-minus-1"), ("not in the order-q subgroup", "not-in-subgroup")]:
    write("dh_decoders", "ffdhe2048-invalid-" + name, bytes.fromhex(invalid[why].zfill(512)))
