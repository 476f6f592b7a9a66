"""Reading messages from files: mailer.rsvp.sources."""

from __future__ import annotations

import errno
import mailbox
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailer.errors import InboxError
from mailer.rsvp.budget import HEADER_BYTES
from mailer.rsvp.sources import read_sources

CORPUS = Path(__file__).parent / "data" / "replies"
A = (CORPUS / "text_sv_yes_outlook_quote.eml").read_bytes()
B = (CORPUS / "unsubscribe_fi.eml").read_bytes()
C = (CORPUS / "oof_lotus_domino.eml").read_bytes()


def test_single_eml_file() -> None:
    path = CORPUS / "unsubscribe_fi.eml"
    assert list(read_sources([path])) == [(str(path), B)]


def test_folder_is_read_recursively_in_order(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a.eml").write_bytes(A)
    (tmp_path / "b" / "c.EML").write_bytes(B)
    (tmp_path / "notes.txt").write_text("not mail")
    (tmp_path / ".hidden.eml").write_bytes(C)
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "x.eml").write_bytes(C)
    got = [
        (Path(label).relative_to(tmp_path).as_posix(), data)
        for label, data in read_sources([tmp_path])
    ]
    assert got == [("a.eml", A), ("b/c.EML", B)]


def test_mbox_file(tmp_path: Path) -> None:
    path = tmp_path / "export.mbox"
    box = mailbox.mbox(path)
    for raw in (A, B):
        box.add(raw)
    box.flush()
    box.close()
    got = list(read_sources([path]))
    assert [label for label, _ in got] == [f"{path}#1", f"{path}#2"]
    assert b"Jag kommer." in got[0][1] and b"poista minut listalta" in got[1][1]


def test_maildir_cur_and_new_unchanged(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "Maildir")
    box.add(mailbox.MaildirMessage(A))  # lands in new/
    seen = mailbox.MaildirMessage(B)
    seen.set_subdir("cur")
    seen.set_flags("S")
    box.add(seen)
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    got = sorted(data for _, data in read_sources([tmp_path / "Maildir"]))
    assert got == sorted(m.replace(b"\r\n", b"\n") for m in (A, B))  # mailbox writes LF
    after = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert before == after
    assert any(name.startswith("Maildir/new/") for name in after)


def test_maildir_inside_a_folder_and_mbox_beside_it(tmp_path: Path) -> None:
    (tmp_path / "mail").mkdir()
    box = mailbox.Maildir(tmp_path / "mail" / "INBOX")
    box.add(mailbox.MaildirMessage(A))
    mbox = mailbox.mbox(tmp_path / "mail" / "old.mbox")
    mbox.add(C)
    mbox.close()
    got = [data for _, data in read_sources([tmp_path / "mail"])]
    assert len(got) == 2
    assert A.replace(b"\r\n", b"\n") in got
    assert any(b"is out of the office" in d for d in got)


def test_missing_path_names_it(tmp_path: Path) -> None:
    with pytest.raises(InboxError, match=r"nope\.eml: no such file or folder"):
        list(read_sources([tmp_path / "nope.eml"]))


def test_unreadable_file_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.eml"
    path.write_bytes(A)
    real_open = Path.open

    def refuse(self: Path, *args: object, **kwargs: object) -> object:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(InboxError, match=r"locked\.eml: cannot read the file: Permission denied"):
        list(read_sources([path]))


def test_unreadable_folder_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_walk(top: object, onerror: object = None, **kw: object) -> object:
        assert callable(onerror)
        onerror(PermissionError(13, "Permission denied", str(tmp_path / "secret")))
        return iter(())

    monkeypatch.setattr(os, "walk", failing_walk)
    with pytest.raises(InboxError, match=r"secret: cannot read the folder: Permission denied"):
        list(read_sources([tmp_path]))


def test_broken_mbox_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.mbox"
    path.write_bytes(b"From x\n" + A + b"\nFrom y\n" + B)
    real_open = Path.open

    class Failing:
        """The file as it reads, until the disk fails in the second message."""

        def __init__(self, handle: Any) -> None:
            self.handle = handle

        def __enter__(self) -> Failing:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def read(self, size: int = -1) -> bytes:
            return bytes(self.handle.read(size))

        def readline(self, size: int = -1) -> bytes:
            line = self.handle.readline(size)
            if b"poista minut" in line:  # in the second message
                raise OSError(errno.EIO, "disk error")
            return bytes(line)

    def failing_open(self: Path, *args: Any, **kw: Any) -> Any:
        handle = real_open(self, *args, **kw)
        return Failing(handle) if self == path else handle

    monkeypatch.setattr(Path, "open", failing_open)
    with pytest.raises(InboxError, match=r"x\.mbox: cannot read message 2: disk error"):
        list(read_sources([path]))


# --- the size limit: a message over max_message_bytes is never read whole (issue 15) ----------

LIMIT = 64 * 1024  # the smallest [rsvp] max_message_bytes


def big(size: int, mid: str = "<big@hs.example>") -> bytes:
    head = f"From: Anna <anna@hs.example>\nSubject: Re: Kutsu\nMessage-ID: {mid}\n\n".encode()
    return head + b"y" * (size - len(head))


def test_a_large_eml_file_is_read_for_its_start_only(tmp_path: Path) -> None:
    path = tmp_path / "large.eml"
    path.write_bytes(big(1_000_000))
    (tmp_path / "small.eml").write_bytes(B)
    sizes: dict[str, int] = {}
    got = list(read_sources([tmp_path], max_message_bytes=LIMIT, sizes=sizes))
    assert [(label, len(data)) for label, data in got] == [
        (str(path), HEADER_BYTES),
        (str(tmp_path / "small.eml"), len(B)),
    ]
    assert got[0][1] == big(1_000_000)[:HEADER_BYTES]
    assert sizes == {str(path): 1_000_000}


def test_an_mbox_is_streamed_and_a_large_message_cut(tmp_path: Path) -> None:
    path = tmp_path / "export.mbox"
    box = mailbox.mbox(path)
    for raw in (A, big(1_000_000), B):
        box.add(raw)
    box.close()
    sizes: dict[str, int] = {}
    got = list(read_sources([path], max_message_bytes=LIMIT, sizes=sizes))
    whole = mailbox.mbox(path)
    expected = [whole.get_bytes(key) for key in whole.iterkeys()]
    whole.close()
    assert [label for label, _ in got] == [f"{path}#1", f"{path}#2", f"{path}#3"]
    assert got[0][1] == expected[0] and got[2][1] == expected[2]
    assert got[1][1] == expected[1][:HEADER_BYTES]
    assert sizes == {f"{path}#2": len(expected[1])}


def test_an_mbox_line_without_end_is_read_in_pieces(tmp_path: Path) -> None:
    # mailbox.mbox reads each line whole: one line of 3 MB would be 3 MB in memory
    path = tmp_path / "one-line.mbox"
    path.write_bytes(b"From x\nSubject: one line\n\n" + b"z" * 3_000_000 + b"\n\nFrom y\n" + B)
    sizes: dict[str, int] = {}
    got = list(read_sources([path], max_message_bytes=LIMIT, sizes=sizes))
    assert [len(data) for _label, data in got] == [HEADER_BYTES, len(B)]
    assert got[1][1] == B
    assert sizes == {f"{path}#1": len(b"Subject: one line\n\n") + 3_000_000 + 1}


def test_a_large_maildir_message_is_read_for_its_start_only(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "Maildir")
    key = box.add(mailbox.MaildirMessage(big(500_000)))
    box.add(mailbox.MaildirMessage(A))
    sizes: dict[str, int] = {}
    got = dict(read_sources([tmp_path / "Maildir"], max_message_bytes=LIMIT, sizes=sizes))
    label = f"{tmp_path / 'Maildir'}#{key}"
    assert got[label] == big(500_000)[:HEADER_BYTES]
    assert sizes == {label: 500_000}
    assert A.replace(b"\r\n", b"\n") in got.values()


LINES = st.lists(
    st.sampled_from(
        [b"", b"From ", b"From x y", b">From z", b"text", b"\r", b"Subject: s", b"a" * 70]
    ),
    max_size=12,
).map(lambda lines: b"\n".join(lines))


@settings(max_examples=200, deadline=2000)
@given(
    bodies=st.lists(LINES, min_size=1, max_size=5),
    ends=st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_the_mbox_stream_splits_as_mailbox_does(
    tmp_path_factory: pytest.TempPathFactory, bodies: list[bytes], ends: list[bool]
) -> None:
    """Any mbox text: the same messages, byte for byte, as mailbox.mbox (the keys of messages
    without a Message-ID are the hashes of these bytes, so they must not change)."""
    text = b"".join(
        b"From sender@example Thu Jan  1 00:00:00 2026\n" + body + (b"\n\n" if end else b"\n")
        for body, end in zip(bodies, ends, strict=False)
    )
    path = tmp_path_factory.mktemp("mbox") / "any.mbox"
    path.write_bytes(text)
    box = mailbox.mbox(path)
    expected = [box.get_bytes(key) for key in box.iterkeys()]
    box.close()
    assert [data for _label, data in read_sources([path])] == expected
