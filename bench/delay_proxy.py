"""A TCP proxy on 127.0.0.1 that adds a fixed one-way delay in each direction: a chosen round trip.

    python bench/delay_proxy.py --target PORT --rtt-ms 25          # prints "ready LISTEN_PORT"
    python bench/delay_proxy.py --target PORT --up-ms 10 --down-ms 15

It is latency, not bandwidth limiting: every chunk read from one side is written to the other at
its arrival time plus the delay of that direction, in the order it arrived, however many chunks
are in flight (a pipelined client's MAIL, RCPT and DATA all arrive one delay later, together).
An end of stream is forwarded the same way. Flow control only pauses reading when the far side's
socket buffer is full, which a sink on loopback never lets happen for long.

Not delayed: the TCP handshake (the client's ``connect`` returns at once; the server's greeting
then arrives one down-delay after the proxy's own connection to the server), so a new connection
costs one round trip less here than on a real network, which flatters senders that open many
(mailmerge opens one per message).

Runs in its own process (``run_proxy``), so that its event loop shares no interpreter with the
client being measured; ``DelayProxy`` starts and stops one as a context manager.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import LOOPBACK


class _Pipe:
    """One direction: chunks due at arrival + delay, written in arrival order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, delay: float) -> None:
        self.loop = loop
        self.delay = delay
        self.queue: collections.deque[tuple[float, bytes | None]] = collections.deque()
        self.timer: asyncio.TimerHandle | None = None
        self.out: asyncio.Transport | None = None  # set once the far side is connected

    def push(self, data: bytes | None) -> None:
        """*data* arrived now (None: end of stream); forward it one delay later."""
        self.queue.append((self.loop.time() + self.delay, data))
        if self.timer is None and self.out is not None:
            self._schedule()

    def attach(self, out: asyncio.Transport) -> None:
        self.out = out
        if self.queue and self.timer is None:
            self._schedule()

    def _schedule(self) -> None:
        due = self.queue[0][0]
        self.timer = self.loop.call_at(due, self._flush)

    def _flush(self) -> None:
        self.timer = None
        out = self.out
        assert out is not None
        now = self.loop.time()
        while self.queue and self.queue[0][0] <= now:
            _, data = self.queue.popleft()
            if out.is_closing():
                self.queue.clear()
                return
            if data is None:
                if out.can_write_eof():
                    out.write_eof()
                else:
                    out.close()
            else:
                out.write(data)
        if self.queue:
            self._schedule()

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.queue.clear()


class _Side(asyncio.Protocol):
    """One socket of a proxied connection; what it reads goes into *pipe*."""

    def __init__(self, pipe: _Pipe, peer_pipe: _Pipe) -> None:
        self.pipe = pipe  # what this side receives, towards the other side
        self.peer_pipe = peer_pipe  # what the other side receives, towards this side
        self.transport: asyncio.Transport | None = None
        self.other: _Side | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.peer_pipe.attach(transport)

    def data_received(self, data: bytes) -> None:
        self.pipe.push(data)

    def eof_received(self) -> bool:
        self.pipe.push(None)
        return True  # keep our writing half open until the other side has finished

    def connection_lost(self, exc: Exception | None) -> None:
        self.peer_pipe.cancel()
        if self.other is not None and self.other.transport is not None:
            other = self.other.transport
            # let what is still in flight towards the other side arrive, then close it
            self.pipe.loop.call_later(self.pipe.delay + 0.001, other.close)

    # flow control: when the far side cannot take more, stop reading this side
    def pause_writing(self) -> None:
        if self.other is not None and self.other.transport is not None:
            self.other.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.other is not None and self.other.transport is not None:
            self.other.transport.resume_reading()


async def _serve(target: int, up: float, down: float, ready: asyncio.Future[int]) -> None:
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[None]] = set()

    def accept() -> asyncio.Protocol:
        upstream = _Pipe(loop, up)  # client -> server
        downstream = _Pipe(loop, down)  # server -> client
        client = _Side(upstream, downstream)

        async def connect() -> None:
            try:
                _, server = await loop.create_connection(
                    lambda: _Side(downstream, upstream), LOOPBACK, target
                )
            except OSError:
                if client.transport is not None:
                    client.transport.close()
                return
            client.other, server.other = server, client

        task = loop.create_task(connect())
        pending.add(task)
        task.add_done_callback(pending.discard)
        return client

    server = await loop.create_server(accept, LOOPBACK, 0, backlog=512)
    ready.set_result(int(server.sockets[0].getsockname()[1]))
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()


def run_proxy(target: int, up: float, down: float) -> None:
    """Serve until SIGTERM/SIGINT; print ``ready PORT`` once listening."""

    async def main() -> None:
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(_serve(target, up, down, ready))
        print(f"ready {await ready}", flush=True)
        await task

    asyncio.run(main())


class DelayProxy:
    """``with DelayProxy(target_port, rtt=0.025) as port:`` the proxy runs in a child process."""

    def __init__(self, target: int, *, rtt: float) -> None:
        self.target = target
        self.rtt = rtt
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> int:
        half = self.rtt / 2
        cmd = [sys.executable, str(Path(__file__).resolve()), "--target", str(self.target)]
        cmd += ["--up-ms", str(half * 1000), "--down-ms", str(half * 1000)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().split()
        if len(line) != 2 or line[0] != "ready":
            self.close()
            raise RuntimeError(f"delay proxy did not start: {line}")
        return int(line[1])

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=int, required=True, help="port on 127.0.0.1")
    parser.add_argument("--rtt-ms", type=float, help="round trip: half of it each way")
    parser.add_argument("--up-ms", type=float, default=0.0, help="client -> server delay")
    parser.add_argument("--down-ms", type=float, default=0.0, help="server -> client delay")
    args = parser.parse_args()
    up, down = args.up_ms, args.down_ms
    if args.rtt_ms is not None:
        up = down = args.rtt_ms / 2
    run_proxy(args.target, up / 1000, down / 1000)


if __name__ == "__main__":
    main()
