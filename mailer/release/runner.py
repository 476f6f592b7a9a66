"""The embargoed press release: schedule it, pre-brief, send it when due, cancel it.

``schedule`` validates the embargo (:mod:`mailer.release.schedule`), renders and checks every
message now, and shows when the last one will leave. ``send-due`` (cron, every minute), ``wait`` (in
the foreground) and ``send-now --late-ok`` all end in :func:`run_release`: one run at a time
(:mod:`mailer.release.lock`), a decision from the stored schedule and the clock, and a send in which
every message is checked against the embargo immediately before it is transmitted.

Guarantees and how they are kept:

* Never early: ``send_batch(not_before=embargo)`` checks the clock before every transmission;
  :class:`~mailer.store.ReleaseJournal` checks it a second time. Aware datetimes only.
* Exactly once: the journal's atomic claims (a Bcc batch claims all its rows or none), the
  lock, and recovery of rows left by a killed run (claimed -> pending; transmitting -> in doubt,
  which is never resent automatically: the server may have it).
* Pre-brief: contacts with ``[release] prebrief_tag`` get the release early, marked embargoed;
  once their pre-brief is sent (or in doubt) they do not get the release again.
* A line for every run in the run log (``mailer release status``) and in ``[log] file``.

Other parts: :mod:`mailer.release.run` (one run), :mod:`mailer.release.plan` (schedule,
pre-brief, cancel), :mod:`mailer.release.audience` (who gets it), :mod:`mailer.release.batches`
(Bcc mode), :mod:`mailer.release.status`, :mod:`mailer.release.cron` (delivery plan, crontab,
systemd timer).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace

from mailer.clock import Clock
from mailer.config import Config
from mailer.contacts import open_store
from mailer.errors import ExitCode, MailerError, ReleaseCancelled
from mailer.models import ACTIVE_STATES, Campaign, Schedule
from mailer.release.audience import ROUND
from mailer.release.lock import ReleaseLock, lock_path, log_line, stamp
from mailer.release.plan import (
    Cancelled,
    Proposal,
    cancel,
    plan_schedule,
    save_schedule,
    send_prebrief,
)
from mailer.release.preflight import Preflight, check_clock_ahead, preflight
from mailer.release.run import Command, Run, RunResult, Waiting, finish, locked
from mailer.release.schedule import Decision, decide
from mailer.sending import Progress
from mailer.store import ReleaseCheck, Store, process_owner


def run_release(
    config: Config,
    *,
    command: Command,
    clock: Clock,
    progress: Progress | None = None,
    late_ok: bool = False,
    retry_failed: bool = False,
    resend_in_doubt: bool = False,
    interactive: bool = False,
    use_lock: bool = True,
    on_wait: Waiting | None = None,
    trust_clock: bool = False,
    on_check: Callable[[str], None] | None = None,
) -> RunResult:
    """One run of ``send-due``, ``wait`` or ``send-now``; logged in the run log and the log file.

    Before it sends (or marks the release missed) it checks that it can trust the clock
    (:mod:`~mailer.release.clocktrust`); *trust_clock* (``--trust-clock``) sends whatever the
    check finds. Never raises for "nothing to do"; raises :class:`MailerError` (after logging
    it) when the run cannot work, and re-raises Ctrl-C after releasing what it had claimed.
    ``wait`` runs send-due's pre-flight every minute of its countdown and hands each result to
    *on_check* (:class:`WaitChecks`).
    """
    owner = process_owner()
    about = f"{owner} {command.value} since {stamp(clock.now())}"
    with ReleaseLock(lock_path(config), about) as lock, open_store(config) as store:
        releases = store.releases
        run_id = releases.start_run(
            schedule_id=None, command=command.value, owner=owner, now=clock.now()
        )
        result: RunResult | None = None
        try:
            if use_lock and not lock.acquired:
                result = locked(command, lock.holder(), releases.current())
            else:

                def paused(pause: RunResult) -> None:
                    """`wait` goes on waiting after the clock went back: the pause is a run of
                    its own in the run log and the log file."""
                    nonlocal run_id
                    releases.finish_run(
                        run_id,
                        now=clock.now(),
                        decision=pause.decision,
                        outcome=pause.outcome,
                        ok=False,
                        schedule_id=pause.schedule.id if pause.schedule else None,
                    )
                    log_line(
                        config, f"mailer release {command.value}: {pause.outcome}", now=clock.now()
                    )
                    run_id = releases.start_run(
                        schedule_id=None, command=command.value, owner=owner, now=clock.now()
                    )

                if command is Command.WAIT:
                    on_wait = WaitChecks(config, store, clock, on_wait, on_check)
                run = Run(
                    config,
                    store,
                    releases,
                    clock=clock,
                    owner=owner,
                    command=command,
                    progress=progress,
                    interactive=interactive,
                    on_pause=paused,
                    trust_clock=trust_clock,
                )
                result = run.go(
                    late_ok=late_ok,
                    retry_failed=retry_failed,
                    resend_in_doubt=resend_in_doubt,
                    on_wait=on_wait,
                )
        except ReleaseCancelled:
            releases.release_claims(owner, clock.now())
            sent = store.journal.counts(Campaign.RELEASE, ROUND).sent
            result = finish(
                command,
                Decision.CANCELLED,
                releases.current(),
                store,
                f"CANCELLED during the run: nothing more is sent ({sent} sent before the cancel)",
                ExitCode.OK,
            )
        except BaseException as exc:
            released = releases.release_claims(owner, clock.now())
            doubt = releases.in_doubt_mine(owner, clock.now(), "the run stopped while sending")
            what = (
                exc.message
                if isinstance(exc, MailerError)
                else "interrupted"
                if isinstance(exc, KeyboardInterrupt)
                else f"{type(exc).__name__}: {exc}"
            )
            tail = f" ({released} claims released, {doubt} in doubt)" if released or doubt else ""
            current = releases.current()
            releases.finish_run(
                run_id,
                now=clock.now(),
                decision="error",
                outcome=f"{what}{tail}",
                ok=False,
                schedule_id=current.id if current else None,
            )
            log_line(
                config, f"mailer release {command.value}: error: {what}{tail}", now=clock.now()
            )
            raise
        if command is Command.SEND_DUE:
            result = _with_preflight(
                config,
                store,
                result,
                clock=clock,
                holder="" if lock.acquired else lock.holder(),
            )
        ended = clock.now()
        text = f"mailer release {command.value}: {result.outcome}"
        result = replace(result, line=f"{stamp(ended)} {text}")
        releases.finish_run(
            run_id,
            now=clock.now(),
            decision=result.decision,
            outcome=result.outcome,
            ok=result.ok,
            schedule_id=result.schedule.id if result.schedule else None,
        )
    log_line(config, text, now=ended)
    return result


class WaitChecks:
    """The ``on_wait`` of ``wait``: before the embargo, once a minute (by the monotonic clock),
    the pre-flight that cron's send-due runs (without the password, which ``wait`` asked for
    before its countdown), recorded as the schedule's last check; its text goes to *on_check*.
    So ``release status`` in another terminal sees a waiting release checked, and the clock is
    checked in the minutes before the embargo (the arming run reuses that check)."""

    EVERY = 60.0  # seconds

    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Clock,
        on_wait: Waiting | None,
        on_check: Callable[[str], None] | None,
    ) -> None:
        self.config, self.store, self.clock = config, store, clock
        self.on_wait, self.on_check = on_wait, on_check
        self.last: float | None = None

    def __call__(self, schedule: Schedule, left: float) -> None:
        now, mono = self.clock.now(), self.clock.monotonic()
        waiting = decide(schedule, now) in (Decision.NOT_YET, Decision.PAUSED)
        if waiting and (self.last is None or mono - self.last >= self.EVERY):
            self.last = mono
            check, _ = _checked(
                self.config,
                self.store,
                schedule,
                clock=self.clock,
                now=now,
                command=Command.WAIT,
                holder="",
                where="this terminal",
                password_known=True,
            )
            if self.on_check is not None:
                self.on_check(check.text)
        if self.on_wait is not None:
            self.on_wait(schedule, left)


def _checked(
    config: Config,
    store: Store,
    schedule: Schedule,
    *,
    clock: Clock,
    now: dt.datetime,
    command: Command,
    holder: str,
    where: str,
    password_known: bool = False,
) -> tuple[Preflight, ReleaseCheck | None]:
    """The pre-flight of *command* (its clock check first), kept as the schedule's last check;
    with the check it replaces."""
    clock_check = check_clock_ahead(
        config, store, schedule, clock=clock, command=f"{command.value} pre-flight"
    )
    check = preflight(
        config,
        schedule,
        now=now,
        lock_holder=holder,
        where=where,
        clock=clock,
        clock_check=clock_check,
        password_known=password_known,
    )
    before = store.releases.record_check(
        schedule.id, now=now, command=command.value, ok=check.ok, result=check.text
    )
    return check, before


def _with_preflight(
    config: Config, store: Store, result: RunResult, *, clock: Clock, holder: str
) -> RunResult:
    """A send-due run before the embargo (not yet, paused, or locked by a waiting run) checks
    what the release needs (:func:`~mailer.release.preflight.preflight`), keeps the result as
    the schedule's last check, and ends its line with it. A failed check exits 1; it goes to
    stderr (cron's mail) when it is new or differs from the last check, else to stdout."""
    schedule = result.schedule
    now = clock.now()
    if schedule is None or schedule.state not in ACTIVE_STATES:
        return result
    if decide(schedule, now) not in (Decision.NOT_YET, Decision.PAUSED):
        return result
    check, before = _checked(
        config,
        store,
        schedule,
        clock=clock,
        now=now,
        command=Command.SEND_DUE,
        holder=holder,
        where="cron's environment",
    )
    if check.ok:
        return replace(result, outcome=f"{result.outcome}; pre-flight {check.text}")
    return replace(
        result,
        outcome=f"{result.outcome}; pre-flight {check.text}",
        exit_code=ExitCode.ERROR,
        repeated=before is not None and before.result == check.text,
    )


__all__ = [
    "Cancelled",
    "Command",
    "Proposal",
    "RunResult",
    "cancel",
    "plan_schedule",
    "run_release",
    "save_schedule",
    "send_prebrief",
]
