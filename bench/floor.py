"""dockerd's own floor for a fleet check: the API calls one dctx probe makes
(/_ping, /version, /info), issued by N concurrent clients straight on the
daemon's unix socket (no TLS, no nginx, no dctx). Prints the median of 5
rounds in ms.  Usage: python3 floor.py SOCKET N
"""

import socket
import statistics
import sys
import threading
import time

sock, n = sys.argv[1], int(sys.argv[2])


def one():
    for path in ("/_ping", "/version", "/info"):
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        s.sendall(("GET %s HTTP/1.0\r\nHost: docker\r\n\r\n" % path).encode())
        while s.recv(65536):
            pass
        s.close()


one()
rounds = []
for _ in range(5):
    t = time.perf_counter()
    threads = [threading.Thread(target=one) for _ in range(n)]
    for x in threads:
        x.start()
    for x in threads:
        x.join()
    rounds.append(time.perf_counter() - t)
print("%.0f" % (statistics.median(rounds) * 1000))
