"""What the hotline texted back: the simulator's phone reads it from the outbox.

Texts are answered by a job, by SMS, after the webhook has returned. A real phone would receive
that SMS from Twilio; the simulator (page, CLI, tests) reads the message from the outbox instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import func, select

from hotline_core import phones
from hotline_core.models import OutboxMessage
from hotline_core.runtime import Runtime


class OutboxTexts:
    """Calling it with a number returns the texts queued for that number since the last call.

    ``run_jobs`` runs queued jobs first (tests); otherwise it waits up to ``timeout`` seconds for
    a worker to queue the first one (a running service).
    """

    def __init__(self, runtime: Runtime, *, run_jobs: Callable[[], object] | None = None, timeout: float = 0.0) -> None:
        self.runtime = runtime
        self.run_jobs = run_jobs
        self.timeout = timeout
        with runtime.db.session() as session:
            self.seen = session.scalar(select(func.max(OutboxMessage.id))) or 0

    def __call__(self, number: str) -> list[str]:
        parsed = phones.normalise(number, self.runtime.settings.default_region)
        to = parsed.value if parsed else number
        deadline = time.monotonic() + self.timeout
        while True:
            if self.run_jobs is not None:
                self.run_jobs()
            with self.runtime.db.session() as session:
                rows = session.execute(
                    select(OutboxMessage.id, OutboxMessage.body)
                    .where(OutboxMessage.to_number == to, OutboxMessage.id > self.seen)
                    .order_by(OutboxMessage.id)
                ).all()
            if rows or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if rows:
            self.seen = rows[-1].id
        return [row.body for row in rows]
