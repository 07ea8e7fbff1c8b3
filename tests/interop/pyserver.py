#!/usr/bin/env python3
"""Runs the seed server.py (copied next to this file by run.sh, its `-p`
flag patched) bound to 127.0.0.1 instead of 0.0.0.0, and prints one line
`INTEROP-DONE suite=<last suite chosen> file=<stored path>` per connection
when it ends (run.sh waits for it). Nothing of the protocol is changed."""
import functools
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import server  # noqa: E402  (the patched copy of the seed server.py)
from aio_tcpserver import tcp_server  # noqa: E402

server.tcp_server = functools.partial(tcp_server, host="127.0.0.1")


def _connection_lost(self, exc):
    suite = "DH;%s;%s;%s" % (self.cipher, self.mode, self.sintese)
    print("INTEROP-DONE suite=%s file=%s" % (suite, self.file_path), flush=True)


server.ClientHandler.connection_lost = _connection_lost

if __name__ == "__main__":
    server.main()
