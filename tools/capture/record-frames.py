#!/usr/bin/env python3
"""Recording proxy for golden test data.

Listens on 127.0.0.1:LISTEN, forwards every connection to 127.0.0.1:TARGET, and writes each request
frame a client sends (without its 4-byte size prefix) to OUT/<client>-<api key>-v<version>-<n>.bin.
Run the broker with advertised.listeners pointing at the proxy so clients come back through it.
Usage: record-frames.py LISTEN TARGET OUT CLIENT_LABEL
"""
import os
import socket
import struct
import sys
import threading

listen_port, target_port, out_dir, label = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
os.makedirs(out_dir, exist_ok=True)
counter = {}
lock = threading.Lock()
FRAME_BYTES_MAX = 64 * 1024 * 1024


def record(frame):
    api_key, version = struct.unpack(">hh", frame[:4])
    with lock:
        n = counter.get((api_key, version), 0)
        counter[(api_key, version)] = n + 1
    with open(os.path.join(out_dir, f"{label}-{api_key:02d}-v{version}-{n}.bin"), "wb") as f:
        f.write(frame)


def upstream(client, server):
    buffer = b""
    try:
        while True:
            data = client.recv(65536)
            if not data:
                break
            server.sendall(data)
            buffer += data
            while len(buffer) >= 4:
                size = struct.unpack(">i", buffer[:4])[0]
                if size < 0 or size > FRAME_BYTES_MAX or len(buffer) < 4 + size:
                    break
                record(buffer[4:4 + size])
                buffer = buffer[4 + size:]
    except OSError:
        pass
    finally:
        server.close()


def downstream(server, client):
    try:
        while True:
            data = server.recv(65536)
            if not data:
                break
            client.sendall(data)
    except OSError:
        pass
    finally:
        client.close()


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", listen_port))
listener.listen(16)
while True:
    c, _ = listener.accept()
    s = socket.create_connection(("127.0.0.1", target_port))
    threading.Thread(target=upstream, args=(c, s), daemon=True).start()
    threading.Thread(target=downstream, args=(s, c), daemon=True).start()
