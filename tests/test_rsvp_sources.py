"""Reading messages from files: mailer.rsvp.sources."""

from __future__ import annotations

import mailbox
import os
from pathlib import Path

import pytest

from mailer.errors import InboxError
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
    path.write_bytes(b"From x\n" + A)

    def boom(self: mailbox.mbox, key: str) -> bytes:
        raise OSError("disk error")

    monkeypatch.setattr(mailbox.mbox, "get_bytes", boom)
    with pytest.raises(InboxError, match=r"x\.mbox: cannot read message 1: disk error"):
        list(read_sources([path]))
