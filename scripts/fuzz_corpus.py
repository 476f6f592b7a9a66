"""Write tests/data/fuzz/: real replies from tests/data/replies, mutated as hostile mail would be.

Seeded, so the same files come out every time (``python scripts/fuzz_corpus.py``); the files are
committed and read by tests/reliability/test_fuzz_corpus.py. Each mutation keeps the message
real-looking (headers, MIME, calendar text) and attacks one place: a line of the body pumped
(repeated until the message is about 60 KB, the shape that made the bounce reader quadratic),
bytes flipped, a header repeated or lengthened, a boundary or a calendar cut off, white space
runs, encoded words, nesting.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tests" / "data" / "replies"
TARGET = ROOT / "tests" / "data" / "fuzz"
SIZE = 60_000
SEED = 15


def _split(raw: bytes) -> tuple[bytes, bytes]:
    for sep in (b"\r\n\r\n", b"\n\n"):
        head, found, body = raw.partition(sep)
        if found:
            return head, body
    return raw, b""


def pump_line(raw: bytes, rng: random.Random) -> bytes:
    head, body = _split(raw)
    lines = body.splitlines(keepends=True) or [b"x\n"]
    at = rng.randrange(len(lines))
    line = lines[at].rstrip(b"\r\n") or b" "
    pumped = line * max(1, SIZE // len(line))
    return head + b"\n\n" + b"".join(lines[:at]) + pumped + b"".join(lines[at + 1 :])


def flip_bytes(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(max(1, len(data) // 200)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def long_header(raw: bytes, rng: random.Random) -> bytes:
    name = rng.choice([b"References", b"In-Reply-To", b"Subject", b"From", b"Content-Type"])
    unit = rng.choice([b"<a@b> ", b"=?utf-8?q?x?= ", b"a@", b"; a=b", b"\t", b"<"])
    return name + b": " + unit * (SIZE // len(unit)) + b"\n" + raw


def many_headers(raw: bytes, rng: random.Random) -> bytes:
    line = rng.choice([b"Received: from x by y; Mon, 1 Mar 2027 10:00:00 +0200\n", b"X-A: b\n"])
    return line * (SIZE // len(line)) + raw


def cut_off(raw: bytes, rng: random.Random) -> bytes:
    return raw[: rng.randrange(len(raw) // 3, len(raw))]


def white_space(raw: bytes, rng: random.Random) -> bytes:
    head, body = _split(raw)
    run = rng.choice([b" ", b"\t", b"\n", b" \n", b"  \n", b"\r\n"]) * (SIZE // 2)
    at = rng.randrange(len(body) + 1)
    return head + b"\n\n" + body[:at] + run + body[at:]


def nest(raw: bytes, rng: random.Random) -> bytes:
    depth = rng.randrange(20, 60)
    out = raw
    for level in range(depth):
        boundary = f"b{level}".encode()
        out = (
            (
                b'Content-Type: multipart/mixed; boundary="'
                + boundary
                + b'"\n\n--'
                + boundary
                + b"\n"
            )
            + out.replace(b"\r\n", b"\n")
            + b"\n--"
            + boundary
            + b"--\n"
        )
    return b"From: a@b.example\nSubject: Re: x\nMIME-Version: 1.0\n" + out


MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "pumped": pump_line,
    "flipped": flip_bytes,
    "long-header": long_header,
    "many-headers": many_headers,
    "cut": cut_off,
    "space": white_space,
    "nested": nest,
}


def main() -> None:
    rng = random.Random(SEED)  # noqa: S311 (a reproducible corpus, not a secret)
    TARGET.mkdir(parents=True, exist_ok=True)
    for old in TARGET.glob("*.eml"):
        old.unlink()
    sources = sorted(SOURCE.glob("*.eml"))
    for number, (kind, mutate) in enumerate((k, m) for k, m in MUTATIONS.items() for _ in range(4)):
        source = rng.choice(sources)
        data = mutate(source.read_bytes(), rng)
        (TARGET / f"{number:02d}-{kind}-{source.stem}.eml").write_bytes(data)


if __name__ == "__main__":
    main()
