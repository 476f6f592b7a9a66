"""The cheap pre-flight of every ``send-due`` run before the embargo ("not yet").

Hours or days before the embargo, each cron run checks what the release will need at the
embargo second, in the environment it will run in, without connecting to any server:

* the config loads (the run got this far);
* the SMTP password resolves here, without a terminal: the variable is set in cron's
  environment, the keyring answers, the password command runs
  (:func:`mailer.config.password_problem`); with ``auth = "oauth2"``, the saved sign-in gives
  an access token (:func:`mailer.oauth.sign_in_problem`, which renews it only when due);
* the templates, the contacts and the attachments are those that were rendered and checked
  when the release was scheduled, by content (:func:`~mailer.release.audience.changed_inputs`);
* the release lock is free, or held by a run that is legitimately waiting (``wait``,
  ``prebrief``), not by one that hangs.

The result is kept as the schedule's last check in the journal (``mailer release status`` and
``mailer status`` show it) and ends the run's log line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mailer.clock import Clock
from mailer.config import Config, password_problem
from mailer.models import Schedule
from mailer.oauth import sign_in_problem
from mailer.release.audience import changed_inputs

# A send-due or send-now holding the lock longer than this before the embargo is stuck.
STUCK_AFTER = dt.timedelta(minutes=3)
RESCHEDULE = " ('mailer release schedule' checks the messages again now)"


@dataclass(frozen=True)
class Preflight:
    problems: tuple[str, ...]  # the release would fail (or not be checked) at the embargo
    warnings: tuple[str, ...]  # it would go out, with messages not checked since scheduling

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def text(self) -> str:
        """``ok``, ``FAIL: ...``, ``WARN: ...`` (one line)."""
        if self.problems:
            return "FAIL: " + "; ".join((*self.problems, *self.warnings))
        if self.warnings:
            return "WARN: " + "; ".join(self.warnings) + RESCHEDULE
        return "ok"


def _stuck(holder: str, now: dt.datetime) -> str:
    """A problem when *holder* (what the lock's holder wrote: owner, command, since when) is a
    sending run that has held the lock for long although nothing is due."""
    words = holder.split()
    if len(words) < 4 or words[1] not in ("send-due", "send-now") or words[2] != "since":
        return ""
    try:
        since = dt.datetime.fromisoformat(words[3].replace("Z", "+00:00"))
    except ValueError:
        return ""
    if now - since < STUCK_AFTER:
        return ""
    return (
        f"the release lock is held by {words[1]} (process {words[0]}) since {words[3]}, though "
        "nothing is due: a stuck run would keep the release from going out; end that process"
    )


def preflight(
    config: Config,
    schedule: Schedule,
    *,
    now: dt.datetime,
    lock_holder: str,
    where: str,
    clock: Clock | None = None,
) -> Preflight:
    """Check what the release needs at the embargo (see the module docstring). *lock_holder*:
    '' when this run holds the lock, else what the holder wrote; *where* names the
    environment for the password's line (``cron's environment``); *clock*: for the OAuth 2.0
    sign-in's token (not checked without one)."""
    problems: list[str] = []
    missing = password_problem(config, where=where)
    if missing:
        problems.append(missing)
    signed_out = sign_in_problem(config, clock) if clock is not None else ""
    if signed_out:
        problems.append(signed_out)
    warnings: list[str] = []
    for change in changed_inputs(config, schedule.fingerprint):
        (problems if change.startswith("cannot read") else warnings).append(change)
    if lock_holder:
        stuck = _stuck(lock_holder, now)
        if stuck:
            problems.append(stuck)
    return Preflight(tuple(problems), tuple(warnings))
