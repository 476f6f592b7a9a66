"""The sending context: what every transport needs, and the journal transitions of one message."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from mailer.clock import Clock
from mailer.config import Config, SmtpConfig
from mailer.errors import EmbargoGuardError
from mailer.models import Outgoing, State
from mailer.sending.report import Delivery, Notice, Progress
from mailer.store import Journal, Outcome, SmtpLog, Submission

PRIMARY = "primary"  # the relay names a journal row records: [smtp]
FALLBACK = "fallback"  # [smtp.fallback]


@dataclass(frozen=True)
class Relay:
    """The fallback relay of a send: its keys and how it signs in (each its own secret)."""

    smtp: SmtpConfig  # [smtp.fallback]
    password: str | None = None
    access_token: Callable[[], str] | None = None  # auth = "oauth2": a token per connection


@dataclass
class RunContext:
    """What every transport needs; its methods are the journal transitions of one message.

    Outcomes (sent, failed, in doubt) and daily-cap log rows are queued and written together with
    the next ``transmitting`` mark, or by :meth:`flush` (the SMTP transport flushes 50 ms after
    an outcome at the latest, and every transport at the end of the run): one transaction per
    message instead of three. A process killed before a flush leaves its row ``transmitting``,
    which recovery reports as in doubt; it is never resent on its own.
    """

    config: Config
    journal: Journal  # the store's, or a release run's (Store.release_journal)
    smtp_log: SmtpLog
    clock: Clock
    owner: str
    progress: Progress
    not_before: dt.datetime | None
    password: str | None
    access_token: Callable[[], str] | None = None  # auth = "oauth2": a fresh token per call
    deliveries: list[Delivery] = field(default_factory=list)
    not_claimed: int = 0
    stopped: str = ""
    sign_in_lapsed: bool = False  # stopped because the OAuth 2.0 sign-in lapsed (exit code 4)
    remedy: str = ""  # with a local cause of the stop: what to do first ("free space")
    outcomes: list[Outcome] = field(default_factory=list)  # not yet in the journal
    submissions: list[Submission] = field(default_factory=list)  # for the daily cap's log
    embargo_passed: bool = False
    # The wall and the monotonic clock at the last transmission after the embargo: how far the
    # clock went back, when the guard refuses one.
    passed_at: tuple[dt.datetime, float] | None = None
    guard: EmbargoGuardError | None = None  # the guard stopped the run (the transport stops)
    # The relay this run hands messages to, recorded in each message's journal row when its
    # data goes out: 'primary' ([smtp]), 'fallback' ([smtp.fallback]) or 'outbox'.
    relay: str = PRIMARY
    # A fallback relay is waiting: give this relay up at its first connection- or account-level
    # failure (mailer.sending.probe.relay_trouble) instead of retrying it.
    switch_relay: bool = False
    relay_failed: bool = False  # stopped because the relay failed (a reason to switch)

    def claim(self, item: Outgoing) -> bool:
        won = self.journal.claim(item.message_id, self.owner, self.clock.now())
        if not won:
            self.not_claimed += 1
        return won

    def claim_many(self, items: Sequence[Outgoing]) -> list[Outgoing]:
        """Claim *items* in one transaction; the ones this process won, in order."""
        won = self.journal.claim_many([i.message_id for i in items], self.owner, self.clock.now())
        taken = []
        for item in items:
            if item.message_id in won:
                won.discard(item.message_id)  # a message listed twice is sent once
                taken.append(item)
        self.not_claimed += len(items) - len(taken)
        return taken

    def embargo_ahead(self) -> bool:
        """True while ``not_before`` is still ahead (once past, the clock is not asked again)."""
        if self.embargo_passed or self.not_before is None:
            return False
        self.embargo_passed = self.clock.now() >= self.not_before
        return not self.embargo_passed

    async def wait_for_embargo(self) -> None:
        """Sleep until ``not_before``; re-read the clock after every sleep (never early)."""
        if self.not_before is None:
            return
        while True:
            remaining = (self.not_before - self.clock.now()).total_seconds()
            if remaining <= 0:
                return
            await self.clock.sleep(min(remaining, 0.5) if remaining > 0.002 else 0.0005)

    def transmitting(self, item: Outgoing) -> None:
        """Durable before the data goes out; writes the queued outcomes in the same transaction."""
        now = self.clock.now()
        if self.not_before is not None:
            if now < self.not_before:
                raise self._refused(now)
            self.passed_at = (now, self.clock.monotonic())
        self.journal.commit_marks(
            transmitting=(item.message_id, now),
            outcomes=self.outcomes,
            submissions=self.submissions,
            relay=self.relay,
        )
        self.outcomes.clear()
        self.submissions.clear()

    def _refused(self, now: dt.datetime) -> EmbargoGuardError:
        assert self.not_before is not None
        embargo = f"{self.not_before.astimezone(dt.UTC):%H:%M:%S} UTC"
        shown = f"{now.astimezone(dt.UTC):%H:%M:%S} UTC"
        if self.passed_at is None:
            return EmbargoGuardError(
                f"embargo guard: a message was about to be transmitted at {shown}, before the "
                f"embargo {embargo}; it was not sent",
                now=now,
                went_back=None,
            )
        wall, mono = self.passed_at
        expected = wall + dt.timedelta(seconds=self.clock.monotonic() - mono)
        back = max(0.0, (expected - now).total_seconds())
        return EmbargoGuardError(
            f"embargo guard: the clock went back {back:.0f} s (to {shown}, before the embargo "
            f"{embargo}); nothing more is sent until the clock is past the embargo again",
            now=now,
            went_back=back,
        )

    def relay_down(self, message: str) -> None:
        """The transport's relay failed at the connection or account level: the run stops
        with *message*, and a waiting fallback relay may take the rest."""
        if not self.stopped:
            self.stopped = message
            self.relay_failed = True

    def stop_for_guard(self, exc: EmbargoGuardError) -> None:
        """The transports' way to end the run when the guard refused a message."""
        self.guard = exc
        self.stopped = exc.message

    def flush(self) -> None:
        """Write the queued outcomes and log rows now."""
        if not self.outcomes and not self.submissions:
            return
        self.journal.commit_marks(outcomes=self.outcomes, submissions=self.submissions)
        self.outcomes.clear()
        self.submissions.clear()

    def _record(self, item: Outgoing, state: State, detail: str, now: dt.datetime) -> None:
        delivery = Delivery(item.message_id, item.contact.email, state, detail, now)
        self.deliveries.append(delivery)
        self.progress.advance(delivery)

    def _outcome(self, item: Outgoing, state: State, detail: str) -> None:
        now = self.clock.now()
        self.outcomes.append(Outcome(item.message_id, state, detail, now))
        self._record(item, state, detail, now)

    def sent(self, item: Outgoing, response: str = "") -> None:
        self._outcome(item, State.SENT, response)

    def failed(self, item: Outgoing, error: str) -> None:
        self._outcome(item, State.FAILED, error)

    def in_doubt(self, item: Outgoing, error: str) -> None:
        self._outcome(item, State.IN_DOUBT, error)

    def retry_later(self, item: Outgoing, error: str) -> None:
        """Temporary failure: back to pending (a later attempt or run sends it)."""
        self.journal.mark_retry(item.message_id, self.clock.now(), error)

    def left_queued(self, item: Outgoing, error: str) -> None:
        """The run gives up on this message for now; it stays pending for the next run."""
        self.journal.mark_retry(item.message_id, self.clock.now(), error)
        self._record(item, State.PENDING, error, self.clock.now())

    def notice(
        self, text: str, *, attempt: int = 0, attempts: int = 0, wait_seconds: float = 0.0
    ) -> None:
        """Tell the terminal what the run is doing while no message moves (a retry, a reconnect)."""
        self.progress.notice(Notice(text, self.clock.now(), attempt, attempts, wait_seconds))

    def unclaim(self, item: Outgoing) -> None:
        self.journal.release_claim(item.message_id, self.clock.now())

    def unclaim_many(self, items: Sequence[Outgoing]) -> None:
        for item in items:  # rare (a stop with claims left): one transaction each is fine
            self.unclaim(item)
