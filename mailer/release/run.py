"""One release run (``send-due``, ``wait``, ``send-now``) after it has the lock: decide, then send.

:func:`mailer.release.runner.run_release` takes the lock, records the run and calls :class:`Run`.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from mailer.clock import Clock
from mailer.config import Config, password_for
from mailer.contacts import project_for
from mailer.errors import EmbargoGuardError, ExitCode, ScheduleError, UsageError
from mailer.invitations import suppressed
from mailer.messages import build_plan, new_message_id
from mailer.models import (
    ACTIVE_STATES,
    Campaign,
    Contact,
    Schedule,
    ScheduleState,
    State,
    StateCounts,
)
from mailer.oauth import token_source
from mailer.release.audience import (
    ROUND,
    audience,
    changed_inputs,
    release_spec,
)
from mailer.release.batches import batch_size, bcc_items
from mailer.release.clocktrust import (
    ClockCheck,
    Verdict,
    check_clock,
    needs_check,
    record_of,
    reusable,
)
from mailer.release.relays import Fallback, prepare_fallback, relay_lines
from mailer.release.schedule import Decision, brief, decide, in_words, relative
from mailer.sending import Progress, SendReport, send_batch
from mailer.store import Releases, Reservation, Store, is_alive

DONE_STATES = frozenset({State.SENT, State.FAILED, State.IN_DOUBT, State.SKIPPED})


class Command(enum.StrEnum):
    SEND_DUE = "send-due"
    WAIT = "wait"
    SEND_NOW = "send-now"


@dataclass(frozen=True)
class RunResult:
    command: str
    decision: str  # a Decision value, or "locked"
    schedule: Schedule | None
    outcome: str  # one line, without the time stamp
    exit_code: ExitCode
    counts: StateCounts | None  # the release's journal rows after the run
    first: float | None  # first and last delivery of this run, seconds after the embargo
    last: float | None
    report: SendReport | None
    line: str  # the log line: time stamp, command, decision, outcome
    # A failure the last run already reported in the same words (a pre-flight that keeps
    # failing): printed to stdout, not to stderr, so that cron mails it once, not every minute.
    repeated: bool = False
    clock: ClockCheck | None = None  # the clock check of this run, when it made one

    @property
    def ok(self) -> bool:
        return self.exit_code == ExitCode.OK


Waiting = Callable[[Schedule, float], None]


def locked(command: Command, holder: str, schedule: Schedule | None) -> RunResult:
    text = f"another release run is in progress ({holder or 'pid unknown'}); it does the sending"
    if command is not Command.SEND_DUE:
        raise ScheduleError(text, hint="follow it with: mailer release status")
    return RunResult(
        command.value, "locked", schedule, text, ExitCode.OK, None, None, None, None, ""
    )


def finish(
    command: Command,
    decision: Decision,
    schedule: Schedule | None,
    store: Store | None,
    outcome: str,
    code: ExitCode,
) -> RunResult:
    counts = store.journal.counts(Campaign.RELEASE, ROUND) if store is not None else None
    return RunResult(
        command.value, decision.value, schedule, outcome, code, counts, None, None, None, ""
    )


class Run:
    def __init__(
        self,
        config: Config,
        store: Store,
        releases: Releases,
        *,
        clock: Clock,
        owner: str,
        command: Command,
        progress: Progress | None,
        interactive: bool,
        on_pause: Callable[[RunResult], None] | None = None,
        trust_clock: bool = False,
    ) -> None:
        self.config = config
        self.store = store
        self.releases = releases
        self.clock = clock
        self.owner = owner
        self.command = command
        self.progress = progress
        self.interactive = interactive
        self._password: str | None = None
        self._password_known = False
        self._fallback: Fallback | None = None
        self.on_pause = on_pause  # `wait`: a send the clock stopped (it goes on waiting)
        self.trust_clock = trust_clock  # --trust-clock: send whatever the clock check finds
        self.clock_check: ClockCheck | None = None

    def password(self) -> str | None:
        """Asked for once (``wait`` asks before its countdown, not in the middle of it)."""
        if not self._password_known:
            self._password = password_for(self.config, interactive=self.interactive)
            self._password_known = True
        return self._password

    def fallback(self) -> Fallback:
        """[smtp.fallback], made ready once (``wait`` asks for its password before the
        countdown, like the primary's)."""
        if self._fallback is None:
            self._fallback = prepare_fallback(self.config, self.clock, interactive=self.interactive)
        return self._fallback

    def sign_in(self, *, early: bool) -> Callable[[], str] | None:
        """With ``auth = "oauth2"``: an access token now, before anything is claimed (a lapsed
        sign-in stops here, exit code 4, all still queued). *early* (the armed minute before
        the embargo): a new one from the provider, so that no connection has to renew it while
        the release goes out and signing in never delays the first message."""
        smtp = self.config.smtp if self.config.transport.kind == "smtp" else None
        if smtp is None or smtp.auth != "oauth2":
            return None
        source = token_source(self.config, self.clock)
        source.access_token(refresh=early)
        return source.access_token

    def when(self, schedule: Schedule) -> str:
        return brief(schedule.embargo, ZoneInfo(schedule.zone))

    def go(
        self,
        *,
        late_ok: bool,
        retry_failed: bool,
        on_wait: Waiting | None,
        resend_in_doubt: bool = False,
    ) -> RunResult:
        first = self.releases.current()
        if self.command is Command.WAIT and first is not None and first.state in ACTIVE_STATES:
            self.password()
            self.fallback()
        while True:
            schedule = self.releases.current()
            now = self.clock.now()
            decision = decide(schedule, now)
            if self.command is Command.SEND_NOW:
                return self.send_now(
                    schedule,
                    now,
                    late_ok=late_ok,
                    retry_failed=retry_failed,
                    resend_in_doubt=resend_in_doubt,
                )
            if decision in (Decision.NOT_YET, Decision.PAUSED) and self.command is Command.WAIT:
                assert schedule is not None
                left = (schedule.embargo - now).total_seconds()
                if on_wait is not None:
                    on_wait(schedule, left)
                self.clock.sleep_blocking(max(0.05, min(1.0, left - 59.5)))
                continue
            if (
                on_wait is not None
                and schedule is not None
                and decision in (Decision.ARM, Decision.SEND_LATE)
            ):
                on_wait(schedule, (schedule.embargo - now).total_seconds())
            result = self.decided(schedule, decision, now)
            if result.decision == Decision.PAUSED and self.command is Command.WAIT:
                if self.on_pause is not None:
                    self.on_pause(result)
                continue  # wait for the embargo again
            return result

    def decided(self, schedule: Schedule | None, decision: Decision, now: dt.datetime) -> RunResult:
        c = self.command
        if schedule is None:
            return finish(
                c, decision, None, None, "nothing scheduled (mailer release schedule)", ExitCode.OK
            )
        when = self.when(schedule)
        if decision is Decision.NOT_YET:
            left = in_words((schedule.embargo - now).total_seconds())
            return finish(
                c, decision, schedule, None, f"not yet: the embargo {when} is {left}", ExitCode.OK
            )
        if decision is Decision.PAUSED:
            left = in_words((schedule.embargo - now).total_seconds())
            counts = self.store.journal.counts(Campaign.RELEASE, ROUND)
            return finish(
                c,
                decision,
                schedule,
                self.store,
                f"paused ({schedule.note}): {counts.sent} of {counts.total} sent; the other "
                f"{counts.pending} go out when the clock is past the embargo {when} again, {left}",
                ExitCode.OK,
            )
        if decision is Decision.CANCELLED:
            return finish(
                c, decision, schedule, None, f"the release of {when} is cancelled", ExitCode.OK
            )
        if decision is Decision.DONE:
            return finish(
                c,
                decision,
                schedule,
                self.store,
                f"done: the release of {when} was sent",
                ExitCode.OK,
            )
        if decision is Decision.MISSED and schedule.state in ACTIVE_STATES:
            # A clock far ahead must not mark a release missed that is not yet due.
            refused = self.refused_by_clock(schedule, decision)
            if refused is not None:
                return refused
        if decision is Decision.MISSED:
            after = relative((now - schedule.embargo).total_seconds())
            marked = self.releases.set_state(
                schedule.id,
                ScheduleState.MISSED,
                now,
                from_states=ACTIVE_STATES,
                note=f"missed: found {after} after the embargo",
            )
            late = in_words((schedule.embargo - now).total_seconds())
            text = (
                f"MISSED: the embargo {when} was {late}, more than the grace of "
                f"{schedule.grace_minutes} min; not sent. To send it anyway: "
                "mailer release send-now --late-ok"
            )
            return finish(
                c, decision, schedule, self.store, text, ExitCode.FAILED if marked else ExitCode.OK
            )
        refused = self.refused_by_clock(schedule, decision)
        if refused is not None:
            return refused
        return self.send(schedule, decision)

    def refused_by_clock(self, schedule: Schedule, decision: Decision) -> RunResult | None:
        """Check the clock (:mod:`.clocktrust`) and record it; a refusal ends the run, exit
        code 5, nothing claimed and the schedule as it was (the next run checks again). A
        pre-flight's check of the last minutes that found it right is used as it is: no round
        trip to a source between the embargo second and the first message."""
        if not needs_check(self.config):
            return None
        release = self.config.release
        check = reusable(
            self.store.clock_checks.last(schedule.id),
            now=self.clock.now(),
            max_skew=release.max_clock_skew_seconds,
            require=release.require_clock_check,
            trust=self.trust_clock,
        ) or check_clock(self.config, self.clock, trust=self.trust_clock)
        self.clock_check = check
        self.store.clock_checks.record(
            record_of(
                check, schedule_id=schedule.id, at=self.clock.now(), command=self.command.value
            )
        )
        if not check.refused:
            return None
        counts = self.store.journal.counts(Campaign.RELEASE, ROUND)
        return RunResult(
            self.command.value,
            "clock",
            schedule,
            f"{check.line} (the embargo {self.when(schedule)}, {decision.value})",
            ExitCode.CLOCK,
            counts,
            None,
            None,
            None,
            "",
            clock=check,
        )

    def send_now(
        self,
        schedule: Schedule | None,
        now: dt.datetime,
        *,
        late_ok: bool,
        retry_failed: bool,
        resend_in_doubt: bool = False,
    ) -> RunResult:
        if schedule is None:
            raise ScheduleError(
                "nothing is scheduled", hint='schedule it first: mailer release schedule --at "..."'
            )
        when = self.when(schedule)
        if schedule.state is ScheduleState.CANCELLED:
            raise ScheduleError(
                f"the release of {when} is cancelled",
                hint="schedule it again: mailer release schedule",
            )
        if now < schedule.embargo:
            raise ScheduleError(
                f"the embargo {when} is {in_words((schedule.embargo - now).total_seconds())}; "
                "mailer never sends the release early",
                hint="to send it on the second: mailer release wait",
            )
        if not late_ok:
            raise UsageError(
                f"the embargo {when} was {in_words((schedule.embargo - now).total_seconds())}: "
                "add --late-ok to send the release late, deliberately"
            )
        again = [
            s for s, on in ((State.FAILED, retry_failed), (State.IN_DOUBT, resend_in_doubt)) if on
        ]
        refused = self.refused_by_clock(schedule, Decision.SEND_LATE)
        if refused is not None:
            return refused
        if again:
            self.store.journal.requeue(Campaign.RELEASE, ROUND, again, now)
        return self.send(schedule, Decision.SEND_LATE)

    def send(self, schedule: Schedule, decision: Decision) -> RunResult:
        config, store, clock = self.config, self.store, self.clock
        now = clock.now()
        store.journal.recover_stale(now, is_alive)
        warnings = list(changed_inputs(config, schedule.fingerprint))
        project = project_for(config)
        who = audience(project, store, schedule.tag)
        blocked = suppressed(store)
        password = self.password()
        access_token = self.sign_in(early=decision is Decision.ARM)
        fallback = self.fallback()
        render_now = max(now, schedule.embargo)  # the Date header: never before the embargo
        spec = release_spec(config, schedule.embargo)
        batches: dict[str, tuple[str, ...]] = {}
        if schedule.mode == "bcc":
            items, batches = bcc_items(
                config,
                store,
                who.release,
                spec,
                now=now,
                render_now=render_now,
                blocked=blocked,
                size=batch_size(config),
            )
        else:
            self.reserve(who.release, blocked, now)
            items = list(
                build_plan(
                    config,
                    who.release,
                    spec,
                    now=render_now,
                    store=store,
                    reserve=False,
                    suppressed=blocked,
                ).items
            )
        before = store.journal.counts(Campaign.RELEASE, ROUND)
        self.releases.set_state(
            schedule.id,
            ScheduleState.SENDING,
            now,
            from_states=(*ACTIVE_STATES, ScheduleState.MISSED, ScheduleState.DONE),
        )
        journal = store.release_journal(
            schedule_id=schedule.id, embargo=schedule.embargo, batches=batches
        )
        started = clock.now()
        # Who had it before this run: "sent N now" counts the others, whatever the clock did.
        had = frozenset(
            e for e, row in store.journal.existing(Campaign.RELEASE, ROUND).items() if row.sent_at
        )
        try:
            report = send_batch(
                items,
                config=config,
                store=store,
                journal=journal,
                clock=clock,
                owner=self.owner,
                progress=self.progress,
                not_before=schedule.embargo,
                password=password,
                access_token=access_token,
                fallback=fallback.relay,
            )
        except EmbargoGuardError as exc:
            return self.paused(schedule, exc, who.release, had)
        except BaseException:
            # Stopped (Ctrl-C, cancel, an error) before anything went out: back to how it was,
            # so that it can still be rescheduled.
            after = store.journal.counts(Campaign.RELEASE, ROUND)
            if (after.sent, after.in_doubt) == (before.sent, before.in_doubt) and not any(
                e.state is State.TRANSMITTING
                for e in store.journal.entries(Campaign.RELEASE, ROUND)
            ):
                self.releases.set_state(
                    schedule.id,
                    schedule.state,
                    clock.now(),
                    note=schedule.note,
                    from_states=(ScheduleState.SENDING,),
                )
            raise
        return self.summarize(schedule, decision, who.release, started, report, warnings, had)

    def paused(
        self,
        schedule: Schedule,
        exc: EmbargoGuardError,
        contacts: tuple[Contact, ...],
        had: frozenset[str],
    ) -> RunResult:
        """The embargo guard stopped the send: the clock reads a time before the embargo again.

        The transports sent nothing more and gave back their claims (pending again); what went
        out stays sent. With part of the release out, the schedule is ``paused`` with a note
        saying when the clock went back and how far; else it is as it was before the run. The
        next run (or ``wait``) sends the rest once the clock is past the embargo again.
        """
        now = self.clock.now()
        self.releases.release_claims(self.owner, now)
        zone = ZoneInfo(schedule.zone)
        local = now.astimezone(zone)
        step = (
            f"clock went back {exc.went_back:.0f} s at {local:%H:%M:%S} {local.tzname()}"
            if exc.went_back is not None
            else f"the embargo guard refused a message at {local:%H:%M:%S} {local.tzname()}"
        )
        counts = self.store.journal.counts(Campaign.RELEASE, ROUND)
        out = counts.sent + counts.in_doubt
        note = f"{step}; {counts.sent} of {counts.total} sent"
        self.releases.set_state(
            schedule.id,
            ScheduleState.PAUSED if out else schedule.state,
            now,
            note=note,
            from_states=(ScheduleState.SENDING,),
        )
        rows = self.store.journal.existing(Campaign.RELEASE, ROUND)
        sent_now = sum(
            1
            for c in contacts
            if c.email in rows and rows[c.email].sent_at is not None and c.email not in had
        )
        outcome = (
            f"PAUSED: {step}, before the embargo {self.when(schedule)}: nothing more is sent "
            f"until the clock is past it again; sent {sent_now} now ({counts.sent} of "
            f"{counts.total} in all); {counts.pending} still queued"
        )
        return RunResult(
            self.command.value,
            Decision.PAUSED.value,
            self.releases.get(schedule.id),
            outcome,
            ExitCode.FAILED,
            counts,
            None,
            None,
            None,
            "",
        )

    def reserve(
        self, contacts: tuple[Contact, ...], blocked: tuple[str, ...], now: dt.datetime
    ) -> None:
        """Journal rows for every contact that can get the release (ids fixed from now on)."""
        skip = {b.lower() for b in blocked}
        self.store.journal.reserve(
            Campaign.RELEASE,
            ROUND,
            [
                Reservation(c.email, c.name, new_message_id(self.config), None, 0)
                for c in contacts
                if c.key not in skip
            ],
            now,
        )

    def summarize(
        self,
        schedule: Schedule,
        decision: Decision,
        contacts: tuple[Contact, ...],
        started: dt.datetime,
        report: SendReport,
        warnings: list[str],
        had: frozenset[str] = frozenset(),
    ) -> RunResult:
        rows = self.store.journal.existing(Campaign.RELEASE, ROUND)
        mine = [rows[c.email] for c in contacts if c.email in rows]
        times = sorted(
            (e.sent_at - schedule.embargo).total_seconds()
            for e in mine
            if e.sent_at is not None and e.email not in had
        )
        waiting = sum(1 for e in mine if e.state not in DONE_STATES)
        if not waiting:
            self.releases.set_state(
                schedule.id,
                ScheduleState.DONE,
                self.clock.now(),
                from_states=(ScheduleState.SENDING,),
            )
        counts = self.store.journal.counts(Campaign.RELEASE, ROUND)
        late = (started - schedule.embargo).total_seconds()
        cancelled = self.releases.state_of(schedule.id) is ScheduleState.CANCELLED
        parts = ["CANCELLED during the run: nothing more is sent"] if cancelled else []
        if decision is Decision.SEND_LATE:
            parts.append(f"LATE: started {relative(late)} after the embargo")
        sent_now = len(times)
        parts.append(
            f"sent {sent_now} now ({counts.sent} of {len(mine)} in all) for the embargo "
            f"{self.when(schedule)}"
        )
        if times:
            parts.append(f"first {relative(times[0])}, last {relative(times[-1])}")
        for name, n in (
            ("failed", counts.failed),
            ("in doubt", counts.in_doubt),
            ("still queued", waiting),
        ):
            if n:
                parts.append(f"{n} {name}")
        parts += relay_lines(self.config, self.store, report, self.fallback())
        if report.stopped:
            parts.append(f"stopped: {report.stopped}")
        parts += warnings
        check = self.clock_check
        if check is not None and (check.verdict is not Verdict.TRUSTED or check.overridden):
            parts.append(check.line)
        bad = counts.failed or counts.in_doubt or (waiting and not cancelled) or report.stopped
        return RunResult(
            self.command.value,
            decision.value,
            self.releases.get(schedule.id),
            "; ".join(parts),
            ExitCode.SIGN_IN
            if report.sign_in_lapsed
            else (ExitCode.FAILED if bad else ExitCode.OK),
            counts,
            times[0] if times else None,
            times[-1] if times else None,
            report,
            "",
            clock=check,
        )
