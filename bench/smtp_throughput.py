"""Measured SMTP runs against a local aiosmtpd server (a script, not a unit test).

    /work/venv/bin/python bench/smtp_throughput.py [--messages 1000] [--rate-messages 200]
                                                   [--security none|starttls]

1. ``--messages`` invitations over 1 connection, then over 4 connections, no rate limit:
   messages per second through the whole transport (journal claim / transmitting / sent and the
   SMTP log written for every message, exactly as a real send does).
2. ``--rate-messages`` invitations with ``rate_per_minute = 600`` over 3 connections: the rate
   achieved, measured from the times the server received each message.

The server runs in a separate process (so that it does not share the GIL with the client) and
records every message; each run checks that every recipient got exactly one copy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import multiprocessing as mp
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailer.clock import SystemClock
from mailer.sending import send_batch
from mailer.store import Store


def serve(pipe: Connection, security: str) -> None:
    """Child process: a recording server until told to stop; then send back what it got."""
    import trustme

    from tests.fixtures_smtp import SmtpTestServer

    cert = ca_path = None
    if security != "none":
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1")
        ca_path = Path(tempfile.mkdtemp()) / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_path))
    server = SmtpTestServer(security=security, cert=cert, ca_file=ca_path).start()
    pipe.send((server.port, str(ca_path) if ca_path else ""))
    while True:
        command = pipe.recv()
        if command == "stop":
            break
        pipe.send([(m.message_id, m.rcpt_tos, m.mono) for m in server.drain()])
    server.stop()


def run(
    pipe: Connection, port: int, ca_file: str, security: str, n: int, **smtp: object
) -> tuple[float, list[float]]:
    from tests.fixtures_smtp import outgoing, smtp_config

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        section: dict[str, object] = {
            "host": "127.0.0.1",
            "port": port,
            "security": security,
            "timeout_seconds": 30.0,
        }
        if ca_file:
            section["ca_file"] = ca_file
        section.update(smtp)
        config = smtp_config(root, None, **section)
        with Store(root / "m.db") as store:
            emails = [f"journalist{i}@news{i % 7}.example" for i in range(n)]
            items = outgoing(store, emails, now=dt.datetime.now(dt.UTC))
            begin = time.perf_counter()
            report = send_batch(items, config=config, store=store, clock=SystemClock(), owner="b")
            elapsed = time.perf_counter() - begin
        pipe.send("report")
        got = pipe.recv()
    if report.sent != n or not report.ok:
        raise SystemExit(f"run failed: sent {report.sent} of {n}; {report.stopped}")
    copies = sorted(mid for mid, _, _ in got)
    if len(copies) != n or len(set(copies)) != n:
        raise SystemExit(f"server got {len(copies)} copies of {len(set(copies))} messages")
    return elapsed, sorted(mono for _, _, mono in got)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rate-messages", type=int, default=200)
    parser.add_argument("--security", choices=("none", "starttls"), default="none")
    args = parser.parse_args()

    parent, child = mp.Pipe()
    server = mp.Process(target=serve, args=(child, args.security), daemon=True)
    server.start()
    port, ca_file = parent.recv()
    print(f"local aiosmtpd server on 127.0.0.1:{port} ({args.security}), separate process")
    try:
        for connections in (1, 4):
            elapsed, _ = run(
                parent, port, ca_file, args.security, args.messages, connections=connections
            )
            print(
                f"{args.messages} messages, {connections} connection(s), no rate limit: "
                f"{elapsed:.2f} s = {args.messages / elapsed:.0f} messages/second"
            )
        n = args.rate_messages
        elapsed, received = run(
            parent, port, ca_file, args.security, n, connections=3, rate_per_minute=600
        )
        span = received[-1] - received[0]
        gaps = [b - a for a, b in itertools.pairwise(received)]
        busiest = max(sum(1 for t in received if start <= t < start + 10.0) for start in received)
        print(
            f"{n} messages at rate_per_minute=600 over 3 connections: {elapsed:.2f} s; "
            f"achieved {(n - 1) / span * 60:.1f}/min between the first and the last arrival "
            f"(target 600/min = one every 0.100 s); gaps min {min(gaps):.3f} s, "
            f"mean {sum(gaps) / len(gaps):.3f} s, max {max(gaps):.3f} s; "
            f"most arrivals in any 10 s window: {busiest} (exact spacing gives 100; "
            "arrival jitter can add 1)"
        )
    finally:
        parent.send("stop")
        server.join(10)


if __name__ == "__main__":
    main()
