"""What ``mailer report`` and ``mailer rsvp doorlist`` say when they have written their files."""

from __future__ import annotations

from mailer.console.output import info, warning
from mailer.report import DoorListWritten, ReportWritten
from mailer.wording import plural


def report_written(result: ReportWritten) -> None:
    r = result.report
    info(
        f"Wrote {result.path}: {plural(r.invitations.invited, 'invitation')}, "
        f"{r.answers.yes} yes, {r.headcounts.expected} people expected, "
        f"{plural(len(r.reviews), 'item')} to review (readable by you only)"
    )
    if r.release is not None and r.release.problems:
        warning(
            f"the release has {plural(len(r.release.problems), 'message')} to look at: "
            "see the report's release section"
        )


def report_opened(opened: bool) -> None:
    if not opened:
        warning("could not open a web browser: open the file yourself")


def doorlist_written(result: DoorListWritten) -> None:
    door = result.door
    files = ", ".join(str(p) for p in result.paths)
    info(
        f"Wrote the door list ({plural(len(door.rows), 'person', 'people')} coming, "
        f"{len(door.maybe)} maybe) to {files} (readable by you only)"
    )
    info(door.caterer)
