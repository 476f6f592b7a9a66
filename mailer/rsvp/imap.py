"""Fetch new messages over IMAP without altering the officer's mailbox (sync, imaplib).

- TLS is always verified: every connection gets ``ssl.create_default_context(cafile=ca_file)``
  (imaplib without a context verifies nothing). ``security = "none"`` only to a loopback host
  or with ``allow_insecure``.
- The folder is opened read-only (EXAMINE) and bodies are fetched with ``BODY.PEEK[]``, so no
  flag changes (\\Seen stays as it was).
- Only UIDs above the last one seen are fetched; when UIDVALIDITY changed, everything is
  fetched again (classification is idempotent, so nothing is applied twice).
- Moving to ``processed_folder`` is a separate, explicit step (:func:`move_processed`) for the
  given UIDs only: UID MOVE, else UID COPY + STORE \\Deleted + UID EXPUNGE (UIDPLUS), else a
  copy only. Never CLOSE or a plain EXPUNGE, which could remove other mail marked deleted.
- :func:`probe` (``mailer check``) logs in, examines the folder and logs out: nothing changes.
"""

from __future__ import annotations

import base64
import imaplib
import re
import ssl
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from mailer.addresses import is_loopback
from mailer.config import ImapConfig
from mailer.errors import InboxError
from mailer.rsvp.parse import MAX_MESSAGE_BYTES
from mailer.store import ImapState

BATCH_SIZE = 50
_SECURITY_NAME = {"starttls": "STARTTLS", "tls": "TLS", "none": "plain"}
Progress = Callable[[int, int], None]  # (total, done)


@dataclass(frozen=True)
class FetchedMessage:
    uid: int
    source: str  # "imap:INBOX/17"
    raw: bytes
    size: int  # RFC822.SIZE on the server
    headers_only: bool  # larger than the limit: only the header was fetched


@dataclass(frozen=True)
class FetchResult:
    state: ImapState  # the new (uidvalidity, last_uid): save it after ingesting the messages
    messages: tuple[FetchedMessage, ...]
    reset: bool  # first fetch, or UIDVALIDITY changed: the whole folder was read


@dataclass(frozen=True)
class MoveResult:
    folder: str
    moved: int
    method: str  # "move", "copy+expunge", "copy" (the server cannot remove single messages)


def account_label(cfg: ImapConfig) -> str:
    return f"{cfg.username}@{cfg.host}:{cfg.port}"


def fetch_new(
    cfg: ImapConfig,
    *,
    password: str,
    state: ImapState | None,
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
    max_bytes: int = MAX_MESSAGE_BYTES,
) -> FetchResult:
    """Messages in ``cfg.folder`` that arrived after *state* (all of them when it is stale)."""
    account = account_label(cfg)
    with _session(cfg, password) as conn:
        uidvalidity = _select(conn, cfg, readonly=True)
        reset = state is None or state.uidvalidity != uidvalidity
        last = 0 if reset or state is None else state.last_uid
        criteria = ("ALL",) if last == 0 else ("UID", f"{last + 1}:*")
        uids = sorted(u for u in _search(conn, cfg, criteria) if u > last)
        fetched: list[FetchedMessage] = []
        if progress is not None:
            progress(len(uids), 0)
        for start in range(0, len(uids), max(1, batch_size)):
            fetched.extend(_fetch_batch(conn, cfg, uids[start : start + batch_size], max_bytes))
            if progress is not None:
                progress(len(uids), min(len(uids), start + batch_size))
    new_last = max([last, *uids]) if uids else last
    return FetchResult(ImapState(account, cfg.folder, uidvalidity, new_last), tuple(fetched), reset)


def move_processed(
    cfg: ImapConfig, *, password: str, uidvalidity: int, uids: Sequence[int]
) -> MoveResult:
    """Move *uids* from ``cfg.folder`` to ``cfg.processed_folder`` (only when configured)."""
    target = cfg.processed_folder
    if not target or not uids:
        return MoveResult(target, 0, "")
    with _session(cfg, password) as conn:
        current = _select(conn, cfg, readonly=False)
        if current != uidvalidity:
            raise InboxError(
                f"{_where(cfg)}: {cfg.folder} changed (UIDVALIDITY) since it was read; "
                "nothing was moved",
                hint="run `mailer rsvp fetch` again",
            )
        _ensure_folder(conn, cfg, target)
        caps = _capabilities(conn)
        uid_set = _uid_set(uids)
        if "MOVE" in caps:
            _ok(conn.uid("MOVE", uid_set, quote_mailbox(target)), cfg, "UID MOVE")
            return MoveResult(target, len(uids), "move")
        _ok(conn.uid("COPY", uid_set, quote_mailbox(target)), cfg, "UID COPY")
        if "UIDPLUS" not in caps:
            return MoveResult(target, len(uids), "copy")
        _ok(conn.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Deleted)"), cfg, "UID STORE")
        _ok(conn.uid("EXPUNGE", uid_set), cfg, "UID EXPUNGE")
        return MoveResult(target, len(uids), "copy+expunge")


def probe(cfg: ImapConfig, *, password: str) -> str:
    """Log in, open ``cfg.folder`` read-only (EXAMINE) and log out; one line such as
    ``imap.example:993 TLS TLSv1.3, logged in as x, folder INBOX (12 messages)``.

    Raises :class:`InboxError` with one line when a step fails.
    """
    with _session(cfg, password) as conn:
        _select(conn, cfg, readonly=True)
        _typ, exists = conn.response("EXISTS")
        version = conn.sock.version() if isinstance(conn.sock, ssl.SSLSocket) else None
        mechanism = _bearer_mechanism(conn) if cfg.auth == "oauth2" else ""
    counts = [int(v) for v in exists or [] if isinstance(v, bytes) and v.strip().isdigit()]
    count = counts[-1] if counts else 0
    mode = _SECURITY_NAME[cfg.security]
    security = f"{mode} {version}" if version else ("plain (no TLS)" if mode == "plain" else mode)
    messages = "1 message" if count == 1 else f"{count} messages"
    method = f" with {mechanism}" if mechanism else ""
    return (
        f"{cfg.host}:{cfg.port} {security}, logged in as {cfg.username}{method}, "
        f"folder {cfg.folder} ({messages})"
    )


# --- connection ------------------------------------------------------------------------------


def _where(cfg: ImapConfig) -> str:
    return f"imap {cfg.host}:{cfg.port}"


@contextmanager
def _session(cfg: ImapConfig, password: str) -> Iterator[imaplib.IMAP4]:
    conn = _connect(cfg, password)
    try:
        yield conn
    except (imaplib.IMAP4.error, OSError) as exc:
        raise InboxError(f"{_where(cfg)}: {_text(exc)}") from None
    finally:
        with suppress(imaplib.IMAP4.error, OSError):
            conn.logout()  # never CLOSE: on a read-write folder it expunges \Deleted mail


def _connect(cfg: ImapConfig, password: str) -> imaplib.IMAP4:
    where = _where(cfg)
    if cfg.security == "none" and not is_loopback(cfg.host) and not cfg.allow_insecure:
        raise InboxError(
            f"{where}: security 'none' would send the password in clear text",
            hint='use security = "tls" or "starttls"',
        )
    try:
        context = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise InboxError(f"{cfg.ca_file}: cannot read the CA file: {_text(exc)}") from None
    conn: imaplib.IMAP4 | None = None
    try:
        if cfg.security == "tls":
            conn = imaplib.IMAP4_SSL(
                cfg.host, cfg.port, ssl_context=context, timeout=cfg.timeout_seconds
            )
        else:
            conn = imaplib.IMAP4(cfg.host, cfg.port, timeout=cfg.timeout_seconds)
            if cfg.security == "starttls":
                try:
                    conn.starttls(ssl_context=context)
                except imaplib.IMAP4.error as exc:  # not offered: never log in without TLS
                    _drop(conn)
                    raise InboxError(
                        f"{where}: STARTTLS failed ({_text(exc)}); nothing was sent",
                        hint='use security = "tls" (port 993) if the server expects TLS '
                        "from the start",
                    ) from None
        if cfg.auth == "oauth2":
            _authenticate_bearer(conn, cfg.username, password)
        else:
            _login(conn, cfg.username, password)
        return conn
    except ssl.SSLCertVerificationError as exc:
        _drop(conn)
        raise InboxError(
            f"{where}: the server's certificate is not trusted ({exc.verify_message})",
            hint="if the server uses its own CA, set [imap] ca_file to that CA's certificate",
        ) from None
    except imaplib.IMAP4.error as exc:
        _drop(conn)
        if cfg.auth == "oauth2":
            raise InboxError(
                f"{where}: {_text(exc)}",
                hint="the server refused the access token: check [imap] username, that the "
                "app may use IMAP (IMAP.AccessAsUser.All), or sign in again: mailer login",
            ) from None
        raise InboxError(
            f"{where}: {_text(exc)}", hint="check [imap] username and the password"
        ) from None
    except (OSError, ssl.SSLError) as exc:
        _drop(conn)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else _text(exc)
        raise InboxError(f"{where}: cannot connect: {reason}") from None


def _login(conn: imaplib.IMAP4, username: str, password: str) -> None:
    if username.isascii() and password.isascii():
        conn.login(username, password)
    else:  # LOGIN cannot carry UTF-8; SASL PLAIN can
        secret = f"\0{username}\0{password}".encode()
        conn.authenticate("PLAIN", lambda _challenge: secret)


def _authenticate_bearer(conn: imaplib.IMAP4, username: str, token: str) -> None:
    """SASL XOAUTH2 (Microsoft, Google), or OAUTHBEARER (RFC 7628) where only that is offered.
    On failure the server sends an error challenge; it is answered with an empty response
    (XOAUTH2) or ^A (OAUTHBEARER), and the server then says NO."""
    if _bearer_mechanism(conn) == "OAUTHBEARER":
        first = f"n,a={username},\x01auth=Bearer {token}\x01\x01".encode()
        conn.authenticate("OAUTHBEARER", lambda challenge: b"\x01" if challenge else first)
        return
    initial = f"user={username}\x01auth=Bearer {token}\x01\x01".encode()
    conn.authenticate("XOAUTH2", lambda challenge: b"" if challenge else initial)


def _bearer_mechanism(conn: imaplib.IMAP4) -> str:
    offered = {c.upper() for c in conn.capabilities}
    if "AUTH=XOAUTH2" not in offered and "AUTH=OAUTHBEARER" in offered:
        return "OAUTHBEARER"
    return "XOAUTH2"


def _drop(conn: imaplib.IMAP4 | None) -> None:
    if conn is None:
        return
    with suppress(OSError):
        conn.shutdown()


def _text(exc: BaseException) -> str:
    arg = exc.args[0] if exc.args else exc
    text = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)
    return text.strip() or type(exc).__name__


def _ok(response: tuple[str, list[object]], cfg: ImapConfig, what: str) -> list[object]:
    typ, data = response
    if typ != "OK":
        detail = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
        raise InboxError(f"{_where(cfg)}: {what} failed: {detail or typ}")
    return data


def _capabilities(conn: imaplib.IMAP4) -> set[str]:
    typ, data = conn.capability()
    words = b" ".join(d for d in data if isinstance(d, bytes)).decode("ascii", "replace")
    return set(words.upper().split()) if typ == "OK" else set()


# --- folder, search, fetch ---------------------------------------------------------------------


def _select(conn: imaplib.IMAP4, cfg: ImapConfig, *, readonly: bool) -> int:
    typ, data = conn.select(quote_mailbox(cfg.folder), readonly=readonly)
    if typ != "OK":
        detail = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
        raise InboxError(
            f"{_where(cfg)}: cannot open folder {cfg.folder!r}: {detail}",
            hint="check [imap] folder",
        )
    _typ, values = conn.response("UIDVALIDITY")
    for value in values or []:
        if isinstance(value, bytes) and value.strip().isdigit():
            return int(value)
    raise InboxError(f"{_where(cfg)}: the server did not report UIDVALIDITY for {cfg.folder!r}")


def _search(conn: imaplib.IMAP4, cfg: ImapConfig, criteria: tuple[str, ...]) -> list[int]:
    data = _ok(conn.uid("SEARCH", *criteria), cfg, "UID SEARCH")
    words = b" ".join(d for d in data if isinstance(d, bytes)).split()
    return [int(w) for w in words if w.isdigit()]


_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


def _fetch_batch(
    conn: imaplib.IMAP4, cfg: ImapConfig, uids: list[int], max_bytes: int = MAX_MESSAGE_BYTES
) -> list[FetchedMessage]:
    sizes: dict[int, int] = {}
    for item in _ok(conn.uid("FETCH", _uid_set(uids), "(UID RFC822.SIZE)"), cfg, "UID FETCH"):
        meta = item[0] if isinstance(item, tuple) else item
        if isinstance(meta, bytes):
            uid_m, size_m = _UID.search(meta), _SIZE.search(meta)
            if uid_m and size_m:
                sizes[int(uid_m.group(1))] = int(size_m.group(1))
    small = [u for u in uids if sizes.get(u, 0) <= max_bytes]
    large = [u for u in uids if sizes.get(u, 0) > max_bytes]
    bodies: dict[int, bytes] = {}
    for group, spec in ((small, "BODY.PEEK[]"), (large, "BODY.PEEK[HEADER]")):
        if group:
            data = _ok(conn.uid("FETCH", _uid_set(group), f"(UID {spec})"), cfg, "UID FETCH")
            bodies.update(_literals(data))
    out = []
    for uid in uids:
        if uid in bodies:  # a message expunged meanwhile is simply absent
            out.append(
                FetchedMessage(
                    uid,
                    f"imap:{cfg.folder}/{uid}",
                    bodies[uid],
                    sizes.get(uid, len(bodies[uid])),
                    uid in large,
                )
            )
    return out


def _literals(data: list[object]) -> dict[int, bytes]:
    """UID -> literal from a FETCH response (the UID may come before or after the literal)."""
    out: dict[int, bytes] = {}
    for index, item in enumerate(data):
        if not (isinstance(item, tuple) and len(item) == 2):
            continue
        meta, body = item
        found = _UID.search(meta) if isinstance(meta, bytes) else None
        if found is None and index + 1 < len(data):
            after = data[index + 1]
            found = _UID.search(after) if isinstance(after, bytes) else None
        if found is not None and isinstance(body, bytes):
            out[int(found.group(1))] = body
    return out


def _uid_set(uids: Sequence[int]) -> str:
    """1,2,3,7 -> "1:3,7"."""
    ranges: list[str] = []
    ordered = sorted(set(uids))
    start = prev = ordered[0]
    for uid in [*ordered[1:], -1]:
        if uid == prev + 1:
            prev = uid
            continue
        ranges.append(str(start) if start == prev else f"{start}:{prev}")
        start = prev = uid
    return ",".join(ranges)


def _ensure_folder(conn: imaplib.IMAP4, cfg: ImapConfig, name: str) -> None:
    typ, data = conn.list('""', quote_mailbox(name))
    if typ == "OK" and any(d for d in data if d):
        return
    _ok(conn.create(quote_mailbox(name)), cfg, f"CREATE {name}")
    conn.subscribe(quote_mailbox(name))


def quote_mailbox(name: str) -> str:
    """A folder name for an IMAP command: modified UTF-7 (RFC 3501 5.1.3), quoted."""
    encoded = _mutf7(name)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _mutf7(name: str) -> str:
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            raw = "".join(run).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            run.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            run.append(char)
    flush()
    return "".join(out)
