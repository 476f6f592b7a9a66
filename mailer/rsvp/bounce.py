"""Recognise delivery failures: RFC 3464 reports and the older plain-text kinds (pure).

RFC 3464 (``multipart/report; report-type=delivery-status``): Final-Recipient, Action, Status and
Diagnostic-Code per recipient, the original Message-ID from the returned message or headers.
Plain-text bounces (Exim, qmail, old Exchange and Domino): a MAILER-DAEMON / postmaster sender,
an ``X-Failed-Recipients`` header or a delivery-failure subject, with the status code and the
failed address found in the text. Status 5.1.x is a permanent address failure.
"""

from __future__ import annotations

import dataclasses
import re

from mailer.rsvp.parse import ParsedMessage
from mailer.rsvp.results import BounceRecipient, BounceReport
from mailer.rsvp.textutil import message_ids, parse_address, tidy

_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_BASIC = re.compile(r"(?<!\d)([45]\d\d)(?:[ -]|$)", re.MULTILINE)
_DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon", "mail.delivery.system")
_SUBJECTS = re.compile(
    r"^\s*(undeliver(ed|able)|delivery (status notification|has failed|failure)|"
    r"mail delivery (failed|failure|subsystem)|returned mail|failure notice|"
    r"non[- ]?deliver|nondeliverable|ei voitu toimittaa|toimitus epäonnistui|"
    r"kan inte levereras|olevererbart|delivery status notification \(failure\))",
    re.IGNORECASE,
)
_COPY_MARK = re.compile(
    r"(this is a copy of the message|below this line is a copy of the message|"
    r"original message follows|original message headers|----- original message -----|"
    r"the original message was received|returned message|alkuperäinen viesti)",
    re.IGNORECASE,
)
# Every pattern here runs on text that anyone can send: each is linear in the text (an attempt
# starts only at the start of a run or of a line, and every repetition inside it is bounded or
# possessive). tests/reliability/test_linear_time.py runs each on adversarial 200 KB input.
_ADDRESS = re.compile(r"(?<![\w.+'=-])[\w.+'=-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,10}")
_QMAIL = re.compile(r"^<([^<>\s@]{1,64}@[^<>\s]{1,255})>:[ \t]*+$", re.MULTILINE)
_EXIM = re.compile(r"^[ \t]{2,}+<?([^<>\s@]{1,64}@[^<>\s>]{1,255})>?[ \t]*+$", re.MULTILINE)
_RETURNED_ID = re.compile(r"^message-id:\s*+(<[^<>\s]{1,250}>)", re.IGNORECASE | re.MULTILINE)
_UNKNOWN_USER = re.compile(
    r"(user unknown|unknown user|no such (user|mailbox|recipient)|mailbox unavailable|"
    r"does not exist|no mailbox|recipient not found|invalid recipient|address rejected|"
    r"unknown recipient|not a valid mailbox)",
    re.IGNORECASE,
)
_DELAYED = re.compile(
    r"(delayed|will (be )?retr|still trying|has not yet been delivered|"
    r"viivästyi|försenat)",
    re.IGNORECASE,
)


def read_bounce(msg: ParsedMessage) -> BounceReport | None:
    """A bounce report for *msg*, or None when it is not a delivery notification."""
    if msg.report_type in ("delivery-status", "global-delivery-status") or msg.delivery_status:
        report = _rfc3464(msg)
    elif _looks_like_text_bounce(msg):
        report = _text_bounce(msg)
    else:
        return None
    return dataclasses.replace(report, from_server=from_mail_server(msg))


def from_mail_server(msg: ParsedMessage) -> bool:
    """True when the report comes from where delivery reports come from: a From of
    MAILER-DAEMON, postmaster or Exchange's NDR mailbox (one plain mailbox), or the null
    Return-Path ``<>`` that RFC 5321 requires of them."""
    env = msg.envelope
    local = env.sender.rpartition("@")[0]
    daemon = local in _DAEMONS or local.startswith("microsoftexchange")
    return (daemon and not env.sender_doubt) or msg.header("return-path").strip() == "<>"


def _rfc3464(msg: ParsedMessage) -> BounceReport:
    recipients: list[BounceRecipient] = []
    for block in msg.delivery_status:
        fields = dict(block)
        final = _typed_address(fields.get("final-recipient"))
        original = _typed_address(fields.get("original-recipient"))
        address = final or original
        if not address:
            continue
        diagnostic = fields.get("diagnostic-code", "")
        status = _status(fields.get("status", "")) or _status(diagnostic)
        action = fields.get("action", "").strip().lower()[:20]
        other = original if original != address else ""
        recipients.append(BounceRecipient(address, action, status, _diagnostic(diagnostic), other))
    if not recipients and msg.text:  # a report without usable fields: read its text
        return _text_bounce(msg, fmt="rfc3464")
    return BounceReport(tuple(recipients[:50]), _original_id(msg), "rfc3464")


def _looks_like_text_bounce(msg: ParsedMessage) -> bool:
    if msg.header("x-failed-recipients"):
        return True
    local = msg.envelope.sender.partition("@")[0]
    daemon = local in _DAEMONS or "mail delivery" in msg.envelope.sender_name.lower()
    null_path = msg.header("return-path").strip() in ("<>", "")
    if msg.header("x-ms-exchange-message-is-ndr") and null_path:
        return True
    subject_says = bool(_SUBJECTS.search(msg.envelope.subject))
    return (daemon and (subject_says or bool(_STATUS.search(msg.text)))) or (
        subject_says and null_path and bool(msg.header("return-path"))
    )


def _text_bounce(msg: ParsedMessage, fmt: str = "text") -> BounceReport:
    text = msg.text
    mark = _COPY_MARK.search(text)
    report, returned = (text[: mark.start()], text[mark.start() :]) if mark else (text, "")
    status = _status(report)
    if not status:
        basic = _BASIC.search(report)
        if basic:
            code = basic.group(1)
            status = (
                "5.1.1" if code[0] == "5" and _UNKNOWN_USER.search(report) else f"{code[0]}.0.0"
            )
    delayed = status.startswith("4.") and bool(_DELAYED.search(report))
    action = "delayed" if delayed else "failed"
    diagnostic = _diagnostic_line(report, status)
    recipients = [
        BounceRecipient(a, action, status, diagnostic) for a in _failed_addresses(msg, report)
    ]
    original = _original_id(msg)
    if not original and returned:
        found = _RETURNED_ID.search(returned)
        original = found.group(1) if found else ""
    return BounceReport(tuple(recipients[:50]), original, fmt)


def _failed_addresses(msg: ParsedMessage, report: str) -> list[str]:
    header = msg.header("x-failed-recipients")
    candidates: list[str] = []
    if header:
        candidates = [parse_address(p)[1] for p in header.split(",")]
    if not any(candidates):
        candidates = _QMAIL.findall(report) or _EXIM.findall(report)
    if not candidates:
        candidates = _ADDRESS.findall(report)
    out: list[str] = []
    ours = {msg.envelope.sender}
    for candidate in candidates:
        address = candidate.strip().strip("<>").lower()
        if "@" not in address or address in ours or address in out:
            continue
        if address.partition("@")[0] in _DAEMONS:
            continue
        out.append(address)
    return out


def _typed_address(value: str | None) -> str:
    """``rfc822; someone@example.org`` -> ``someone@example.org``."""
    if not value:
        return ""
    kind, sep, rest = value.partition(";")
    address = (rest if sep else kind).strip().strip("<>").lower()
    return address if "@" in address and " " not in address else ""


def _status(text: str) -> str:
    m = _STATUS.search(text or "")
    return ".".join(m.groups()) if m else ""


def _diagnostic(text: str) -> str:
    kind, sep, rest = text.partition(";")
    return tidy(rest if sep and kind.strip().lower() in ("smtp", "x-unix", "x-postfix") else text)[
        :400
    ]


def _diagnostic_line(report: str, status: str) -> str:
    lines = [tidy(line) for line in report.splitlines() if line.strip()]
    for line in lines:
        if (status and status in line) or _UNKNOWN_USER.search(line):
            return line[:400]
    return next((line for line in lines if _BASIC.search(line)), "")[:400]


def _original_id(msg: ParsedMessage) -> str:
    for name, value in msg.returned_headers:
        if name == "message-id":
            ids = message_ids(value)
            if ids:
                return ids[0]
    return msg.envelope.in_reply_to[0] if msg.envelope.in_reply_to else ""
