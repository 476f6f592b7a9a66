"""``mailer init`` and ``mailer status``: what was written, the project's state at a glance."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from mailer.console.output import counts, info, print_json, warning
from mailer.project import StarterResult, Status
from mailer.project import status_json as status_dict


def starter(result: StarterResult, directory: Path) -> None:
    """What ``mailer init`` wrote into *directory*, and the next commands to run."""
    for path in result.written:
        info(f"wrote   {path}")
    for path in result.skipped:
        info(f"skipped {path} (exists; not overwritten)")
    cfg = directory / "config.toml"
    info("")
    info(f"Next: mailer -c {cfg} invite preview    (see one invitation)")
    info(f"      mailer -c {cfg} invite send       (write them all to the outbox)")


def status_json(s: Status) -> None:
    print_json(status_dict(s))


def status(s: Status) -> None:
    info(f"Event:     {s.title}")
    info(f"When:      {s.start:%Y-%m-%d %H:%M}-{s.end:%H:%M} {s.timezone}")
    info(f"Where:     {s.location}")
    errors = f", {s.contact_errors} with errors" if s.contact_errors else ""
    info(f"Contacts:  {s.contacts} valid{errors}")
    info(f"Transport: {s.transport}")
    counts(
        "Invitations",
        s.invitations.as_dict(),
    )
    _followups(s.extra)
    for name, section in s.extra.items():
        if isinstance(section, dict) and all(isinstance(v, int) for v in section.values()):
            counts(name.upper() if name == "rsvp" else name.replace("_", " ").capitalize(), section)
    _release_schedule(s.extra.get("release_schedule"))
    from mailer.project import PROBLEMS_SHOWN

    for e in s.problems[:PROBLEMS_SHOWN]:
        info(f"  {e.state.value.replace('_', ' ')}: {e.email}: {e.last_error}")
    shown = min(len(s.problems), PROBLEMS_SHOWN)
    if s.problems_total > shown:
        info(f"  ... and {s.problems_total - shown} more (mailer status --json lists all)")


def _followups(extra: dict[str, Any]) -> None:
    """The reminder, update and cancel rounds of ``mailer status``, and whether an update is
    due."""
    for campaign, rounds in extra.get("followups", {}).items():
        for r in rounds:
            title = "Cancel" if campaign == "cancel" else f"{campaign.capitalize()} {r['round']}"
            counts(title, {k: v for k, v in r.items() if k != "round"})
    due = extra.get("update_due")
    if isinstance(due, dict) and due.get("due"):
        info(f"{'Update due:':<13}{due['reason']}")


def _release_schedule(schedule: Any) -> None:
    """The release's schedule in ``mailer status``: the embargo, the state (its note says why
    it is paused), and send-due's last pre-flight check."""
    if not isinstance(schedule, dict):
        return
    embargo = dt.datetime.fromisoformat(schedule["embargo"]).astimezone(
        ZoneInfo(schedule["timezone"])
    )
    note = f" ({schedule['note']})" if schedule["note"] else ""
    info(
        f"{'Embargo:':<13}{embargo:%Y-%m-%d %H:%M:%S} {embargo.tzname()}: {schedule['state']}{note}"
    )
    check = schedule.get("last_check")
    if isinstance(check, dict):
        info(f"{'Pre-flight:':<13}{check['summary']}")
    if schedule.get("overdue"):
        warning(str(schedule["overdue"]))
    clock = schedule.get("clock_check")
    if isinstance(clock, dict):
        if clock["refused"] or clock["verdict"] != "trusted":
            warning(f"clock check: {clock['summary']}")
        else:
            info(f"{'Clock:':<13}{clock['summary']}")
