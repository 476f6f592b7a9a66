"""A process that works the journal as fast as it can until it is killed (``test_journal``).

``python -m tests.reliability.journal_worker DB SEED``: reserves batches of 10 rows, and moves
each through claim -> transmitting -> sent / failed / in doubt / back to pending, printing
every transition after it was committed (``MID STATE``; ``reserved SEED BATCH`` for a batch).
"""

from __future__ import annotations

import datetime as dt
import random
import sys
from pathlib import Path

from mailer.models import Campaign
from mailer.store import Reservation, Store, process_owner

BATCH = 10


def main(path: str, seed: int) -> None:
    rng = random.Random(seed)
    store = Store(Path(path))
    print("open", flush=True)
    owner = process_owner()
    journal = store.journal
    batch = 0
    while True:
        now = dt.datetime.now(dt.UTC)
        rows = [
            Reservation(
                f"w{seed}.{batch}.{i}@news.example",
                f"W {i}",
                f"<{seed}.{batch}.{i}@x>",
                f"uid-{seed}-{batch}-{i}",
                0,
            )
            for i in range(BATCH)
        ]
        journal.reserve(Campaign.INVITATION, 0, rows, now)
        print(f"reserved {seed} {batch}", flush=True)
        for row in rows:
            mid = row.message_id
            if not journal.claim(mid, owner, now):
                continue
            print(mid, "claimed", flush=True)
            journal.mark_transmitting(mid, now)
            print(mid, "transmitting", flush=True)
            outcome = rng.choice(("sent", "failed", "in_doubt", "pending"))
            if outcome == "sent":
                journal.mark_sent(mid, now, "250 2.0.0 OK")
            elif outcome == "failed":
                journal.mark_failed(mid, now, "550 5.1.1 No such user")
            elif outcome == "in_doubt":
                journal.mark_in_doubt(mid, now, "connection lost after the data")
            else:
                journal.mark_retry(mid, now, "451 4.3.0 Try again")
            print(mid, outcome, flush=True)
        batch += 1


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
