"""A reverse HTTP proxy that adds a fixed delay before each request: object-storage latency on
loopback, without touching the machine's network settings (tc netem would slow every test on a
shared machine). Keep-alive towards the client; one upstream connection per request.

    python latency_proxy.py LISTEN_PORT UPSTREAM_PORT DELAY_MS
"""

from __future__ import annotations

import asyncio
import sys


async def relay_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    upstream_port: int, delay: float) -> bool:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    request_line, headers = lines[0], [h for h in lines[1:] if h]
    length = 0
    kept = []
    for h in headers:
        name = h.split(":", 1)[0].strip().lower()
        if name == "content-length":
            length = int(h.split(":", 1)[1])
        if name in ("connection", "keep-alive", "proxy-connection"):
            continue
        kept.append(h)
    body = await reader.readexactly(length) if length else b""
    await asyncio.sleep(delay)
    ur, uw = await asyncio.open_connection("127.0.0.1", upstream_port)
    uw.write(("\r\n".join([request_line, *kept, "Connection: close"]) + "\r\n\r\n")
             .encode("latin-1") + body)
    await uw.drain()
    rhead = await ur.readuntil(b"\r\n\r\n")
    rlines = [h for h in rhead.decode("latin-1").split("\r\n") if h]
    out = [rlines[0]] + [h for h in rlines[1:]
                         if h.split(":", 1)[0].strip().lower() not in ("connection", "keep-alive")]
    has_length = any(h.lower().startswith("content-length:") for h in out)
    out.append("Connection: keep-alive" if has_length else "Connection: close")
    writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
    while True:
        data = await ur.read(1 << 20)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    uw.close()
    return has_length


async def handle(reader, writer, upstream_port, delay):
    try:
        while await relay_one(reader, writer, upstream_port, delay):
            pass
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main() -> None:
    listen, upstream, delay_ms = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, upstream, delay_ms / 1000), "127.0.0.1", listen,
        limit=1 << 16)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
