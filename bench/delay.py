"""A WAN on loopback: a TCP relay adding a one-way delay in each direction.

    python3 delay.py ONE_WAY_MS LISTEN_HOST:PORT=UPSTREAM_HOST:PORT ...

Every byte waits ONE_WAY_MS before it is passed on, in both directions, and
the connect leg is paid too: the kernel completes the client's connect() at
once, so the client's first bytes are held until one full round trip after
the accept (when a real connect() would have returned) plus the one-way
delay. Order within a direction is kept; EOF travels with the same delay.
"""

import asyncio
import socket
import sys
import time

DELAY = float(sys.argv[1]) / 1000.0


async def pump(reader, writer, not_before):
    """Copy reader -> writer, each chunk delivered DELAY after it arrived
    (and not before `not_before`)."""
    queue = asyncio.Queue()

    async def deliver():
        while True:
            at, data = await queue.get()
            wait = at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                try:
                    writer.write_eof()
                except OSError:
                    pass
                return
            writer.write(data)
            try:
                await writer.drain()
            except OSError:
                return

    task = asyncio.ensure_future(deliver())
    try:
        while True:
            try:
                data = await reader.read(65536)
            except OSError:
                data = b""
            at = max(time.monotonic(), not_before) + DELAY
            queue.put_nowait((at, data or None))
            if not data:
                break
        await task
    finally:
        task.cancel()


async def relay(up_host, up_port, c_reader, c_writer):
    accepted = time.monotonic()
    try:
        u_reader, u_writer = await asyncio.open_connection(up_host, up_port)
    except OSError:
        c_writer.close()
        return
    for w in (c_writer, u_writer):
        sock = w.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    await asyncio.gather(
        # Client -> server: held for the connect round trip first.
        pump(c_reader, u_writer, accepted + 2 * DELAY),
        pump(u_reader, c_writer, 0.0),
        return_exceptions=True,
    )
    for w in (c_writer, u_writer):
        w.close()


async def main():
    servers = []
    for spec in sys.argv[2:]:
        listen, up = spec.split("=")
        lh, lp = listen.rsplit(":", 1)
        uh, up_ = up.rsplit(":", 1)
        servers.append(
            await asyncio.start_server(
                lambda r, w, uh=uh, up_=int(up_): relay(uh, up_, r, w),
                lh,
                int(lp),
                backlog=4096,
            )
        )
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


asyncio.run(main())
