"""The SMTP sinks: Postfix's ``smtp-sink`` (C, discards), and an aiosmtpd sink that can delay its
answer to DATA and record what it got (for the slow-server runs and for validation).

Both listen on 127.0.0.1 only and run as child processes of ``run.py``, so they never share a core's
interpreter with the client being measured.

``python bench/sinks.py --port P [--delay 0.05] [--record DIR]`` runs the aiosmtpd sink until
SIGTERM; it prints ``ready`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import LOOPBACK, free_port, wait_for_port

SMTP_SINK_CANDIDATES = ("smtp-sink", "/usr/sbin/smtp-sink")
SMTP_SOURCE_CANDIDATES = ("smtp-source", "/usr/sbin/smtp-source")


def find_tool(candidates: tuple[str, ...]) -> str | None:
    for name in candidates:
        found = shutil.which(name)
        if found:
            return found
        if Path(name).is_absolute() and Path(name).exists():
            return name
    return None


class Sink:
    """A running sink process: ``port``, ``kind`` and ``stop()``."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, kind: str) -> None:
        self.proc = proc
        self.port = port
        self.kind = kind

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_smtp_sink() -> Sink | None:
    """Postfix's smtp-sink on a free loopback port, or None when it is not installed."""
    tool = find_tool(SMTP_SINK_CANDIDATES)
    if tool is None:
        return None
    port = free_port()
    # -u nobody: required when started as root (it drops privileges after binding).
    # -m 512: simultaneous connections; backlog 512.
    proc = subprocess.Popen(
        [tool, "-u", "nobody", "-4", "-m", "512", f"{LOOPBACK}:{port}", "512"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port)
    except RuntimeError:
        proc.kill()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise RuntimeError(f"smtp-sink did not start: {err.strip()}") from None
    return Sink(proc, port, "smtp-sink")


class CountingSink(Sink):
    """``smtp-sink -c``: it prints ``sess=S quit=Q mesg=M`` each time a message's data ends; a
    thread reads it and stamps ``time.time()`` at every new count (first and last message)."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int) -> None:
        super().__init__(proc, port, "smtp-sink -c")
        self.count = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        pending = b""
        while chunk := os.read(stream.fileno(), 65536):
            stamp = time.time()
            pending += chunk
            *records, pending = pending.split(b"\r")
            if not records:
                continue
            count = int(records[-1].rpartition(b"mesg=")[2] or 0)
            with self._changed:
                if count > self.count:
                    self.first_at = self.first_at or stamp
                    self.count, self.last_at = count, stamp
                    self._changed.notify_all()

    def wait_for(self, count: int, timeout: float) -> bool:
        """Wait until the sink has *count* messages; False if *timeout* passes first."""
        with self._changed:
            return self._changed.wait_for(lambda: self.count >= count, timeout)


def start_counting_sink() -> CountingSink:
    """smtp-sink counting messages on a free loopback port (needs Postfix's smtp-sink)."""
    tool = find_tool(SMTP_SINK_CANDIDATES)
    if tool is None:
        raise RuntimeError("smtp-sink is not installed: run bash bench/setup.sh")
    port = free_port()
    proc = subprocess.Popen(
        [tool, "-c", "-u", "nobody", "-4", "-m", "512", f"{LOOPBACK}:{port}", "512"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
    except RuntimeError:
        proc.kill()
        raise RuntimeError("smtp-sink did not start") from None
    return CountingSink(proc, port)


def start_aiosmtpd_sink(*, delay: float = 0.0, record: Path | None = None) -> Sink:
    port = free_port()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--port", str(port)]
    if delay:
        cmd += ["--delay", str(delay)]
    if record is not None:
        cmd += ["--record", str(record)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()
    if line != "ready":
        proc.kill()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise RuntimeError(f"aiosmtpd sink did not start: {line} {err.strip()}")
    kind = "aiosmtpd" + (f" (DATA +{delay * 1000:.0f} ms)" if delay else "")
    return Sink(proc, port, kind)


@contextmanager
def sink(kind: str, *, delay: float = 0.0, record: Path | None = None) -> Iterator[Sink]:
    """``kind`` "fast": smtp-sink, else the aiosmtpd fallback; "aiosmtpd": always aiosmtpd."""
    started = start_smtp_sink() if kind == "fast" and not delay and record is None else None
    if started is None:
        started = start_aiosmtpd_sink(delay=delay, record=record)
    try:
        yield started
    finally:
        started.stop()


# --- the aiosmtpd sink process -----------------------------------------------------------------


class _Handler:
    def __init__(self, delay: float, record: Path | None) -> None:
        self.delay = delay
        self.record = record
        self.count = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.count += 1
        if self.record is not None:
            mail_from = getattr(envelope, "mail_from", "")
            rcpts = getattr(envelope, "rcpt_tos", [])
            content = getattr(envelope, "original_content", None) or getattr(
                envelope, "content", b""
            )
            head = f"X-Envelope-From: {mail_from}\r\nX-Envelope-To: {','.join(rcpts)}\r\n"
            path = self.record / f"{self.count:07d}.eml"
            path.write_bytes(head.encode() + content)
        return f"250 2.0.0 Ok: queued as {self.count}"


def serve(port: int, delay: float, record: Path | None) -> None:
    from aiosmtpd.controller import Controller

    if record is not None:
        record.mkdir(parents=True, exist_ok=True)
    handler = _Handler(delay, record)
    controller = Controller(
        handler,
        hostname=LOOPBACK,
        port=port,
        ready_timeout=10,
        data_size_limit=64 * 1024 * 1024,
        decode_data=False,
    )
    controller.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print("ready", flush=True)
    done.wait()
    controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before answering DATA")
    parser.add_argument("--record", type=Path, help="write each message to DIR/NNNNNNN.eml")
    args = parser.parse_args()
    serve(args.port, args.delay, args.record)


if __name__ == "__main__":
    main()
