"""End-to-end latency of the whole pipeline: a citizen's text to the acknowledgement, the routing and the unit's SMS.

    .venv/bin/python bench/pipeline.py                 # about 5 min: floor, 30 s steady, 5 s burst, 30 s after
    .venv/bin/python bench/pipeline.py --quick         # about 3 min: 10 s steady, 3 s burst, 15 s after
    .venv/bin/python bench/pipeline.py --profile       # also profiles the workers (py-spy) during the burst
    .venv/bin/python bench/pipeline.py --rate 20 --steady 30 --burst-seconds 5 --json > result.json

What runs, all on this machine (every child process is stopped at the end, also on an error or Ctrl-C):
PostgreSQL database ``hotline_bench`` (rebuilt, with the demo city's directory, routing rules and
classifier) and Redis db 12 (flushed), as ``bench/intake.py`` does (it never touches database
``test`` or Redis db 13); gunicorn serving ``wsgi:app`` (2 gthread workers x 4 threads); two
``hotline worker`` processes serving all queues (the first also runs the beat), as in
``bench/intake.py``; and the tests' fake Twilio API (``tests/fakes/twilio_api.py``) on loopback in
this process, which the hotline's real twilio client sends every SMS to. The outbox paces to
``--sms-rate`` segments a second (default 100: a short code or messaging service; a long code sends
1/s), and the fake API answers after ``--twilio-latency-ms`` (default 0; Twilio's real API answers in
about 100-300 ms). Both are printed.

The load: signed SMS webhooks (``POST /twilio/sms``, the form fields Twilio sends, signed with
twilio's ``RequestValidator``), open-loop: each request has a scheduled send time and a pool of
sender threads (one more whenever none is idle) sends it then, whatever the server's answers take, so
a slow server cannot slow the generator and hide its latency (the generator's lag behind its schedule
is printed). Phases: a 3 s warm-up at ``--rate`` (left out of the figures); ``--steady`` seconds at
``--rate`` (default 20/s); a wait until everything settles (every text a ticket, every ticket routed
or queued for a dispatcher, nothing due in the outbox, no job queued or running; bounded by
``--settle-timeout``), so that the burst does not count against steady texts still in flight, and
the burst starts from an idle system; a burst of ``--burst-seconds`` (default 5) at 10x the rate;
``--after`` seconds (default 30) at the rate again (to measure the recovery); nothing until
everything settles again. Texts are real citizens' messages (the TipDM 2020 mayor's
mailbox set, ``$HOTLINE_DATA_DIR`` or ``../shared/data``: ``tipdm2020c/train.csv``, cut at Twilio's
1,600 characters; texts that read as an SMS command are skipped), so routing classifies real text.
Each text comes from its own number: a second text from a number within the thread window would
join the first one's ticket.

The figures, per text, from its **arrival**: the stored ``inbound_events.received_at`` (the web
process's clock just before the webhook's INSERT):

* **acknowledged**: the fake Twilio API received the Messages.create POST of the ticket-number
  acknowledgement (to the citizen; timed as the request arrives, before the fake answers);
* **routed**: both deadline rows (sign-for and resolution) of the ticket are committed, as seen by
  a poller in this process that reads new ``deadlines`` rows every 50 ms (so up to ~50 ms late).
  The rows' own ``started_at`` is not trustworthy for this: the routing job writes it (``runtime.now()``)
  before the rest of its batch of up to 50 tickets is routed and the batch commits, and nobody sees
  the ticket routed before that commit; it is kept in the JSON as a lower bound;
* **unit notified**: the fake Twilio API received the last of the lead unit's ``notify.assigned``
  texts (one per unit phone) for the ticket.

p50/p95/p99/max/count are printed for the steady phase, the burst and the after phase. Tickets that
went to a dispatcher (no unit could be chosen automatically) are counted apart: they are never
"routed" and no unit is notified. The **webhook** line is the generator's side: the scheduled send time
to ``received_at`` (gunicorn's queue and the request up to the INSERT).

**Recovery time** (of the unit-notified latency after the burst): the texts arriving after the
burst's end (the after phase), in order of arrival; the last one whose unit was notified later
than the steady target (2 s) after its arrival, or never; recovery = the arrival of the first text
after it that was within the target, minus the burst's (scheduled) end. 0 when no after-phase text
exceeded the target; "not recovered" when the after phase ended before one was within it again.
**Backlog drained**: the last burst text's unit notified, minus the burst's end.

**Routing drain rate** during the burst: tickets the routing stage finished per second, whether it
gave them to a unit or to a dispatcher (``tickets.processed_at``, routing's own clock: a rate, so the
commit's lag matters little), the peak over 1 s windows and the mean from the burst's start until its
last ticket was finished, against 200/s (issue 14). When routing keeps pace with the 10x burst there is
no backlog and the rate can only be the arrival rate: that also passes (every burst ticket finished
within the steady routed target, 1.5 s, of the burst's end). **Outbox send rate**: messages and
segments the fake Twilio received per second (peak 1 s window, and mean from the burst's start until
the outbox was empty).

**The floor**, measured in the same run before the hotline is served: ``bench/baseline_app.py``'s
``POST /queued-timed`` (one INSERT + commit + one RQ enqueue on the hotline's ``intake`` queue)
driven at the same steady rate for the same time, its job run by the same two ``hotline worker``
processes; its latency is from just before the INSERT to the job's first line. The pipeline's
steady figures are printed beside it, with ratios.

Targets (issue 14, printed PASS/FAIL): steady ``--rate`` 20/s: acknowledged p95 < 1 s, routed p95 <
1.5 s, unit notified p95 < 2 s; routing drain >= 200 tickets/s during the burst. Then the
correctness check: every text answered 200 has exactly one ticket and one acknowledgement; every
routed ticket's lead unit got exactly one ``notify.assigned`` per unit phone; the fake Twilio received
no message twice (same To and Body) and every outbox message that was due was handed to it (none
lost), and nothing it received is unknown to the outbox. The exit status is 1 if it fails.

The machine is shared: the load average before and after and the CPU seconds each part took during the
run are printed; "other processes" is everybody else's work, and when it is large the figures say as
much about the machine as about the hotline. ``--dedicated-sender`` adds a third worker for the
``messages`` queue only, as README's deployment runs it (issue 14 wants two workers to suffice).

``--profile``: py-spy (``pip install py-spy``, in the ``dev`` extras) attaches to each worker from the
burst's start for ``--burst-seconds`` + 10 s (wall clock, idle waits included: time spent waiting on
PostgreSQL counts; the worker is not paused to sample), writes the raw stacks (a flamegraph's input)
in the work directory, which is then kept, and prints per worker the share of its time running a job,
which jobs, and the top 20 functions by own time and the project's top 20 by inclusive time.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import csv
import http.client
import json
import os
import queue
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# bench/intake.py would shadow the hotline's own ``intake`` package: the repository goes first, and
# bench/ last (for baseline_app); bench/intake.py is loaded under another name.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
sys.path.insert(0, str(REPO))
sys.path.append(str(BENCH_DIR))


from benchlib import data_dir, load_bench_intake  # noqa: E402  (bench/ is on sys.path now)

base = load_bench_intake()
log = base.log

TARGETS = {"acknowledged": 1.0, "routed": 1.5, "unit_notified": 2.0}  # seconds, p95, steady phase
TARGET_DRAIN = 200.0  # tickets routed per second during the burst, two workers
BURST_FACTOR = 10
WARMUP_SECONDS = 3.0
SENDERS = 32  # the open-loop generator's threads (and keep-alive connections) at first
MAX_SENDERS = 2000  # ... and at most, started when a request is due and none is idle
POLL_SECONDS = 0.05
STAGES = ("acknowledged", "routed", "unit_notified")
PHASES = ("steady", "burst", "after")
MAX_SMS_CHARS = 1600  # Twilio's limit for a (concatenated) SMS body
ASSIGNED_KIND = "assigned"  # outbox kind of routing's notify.assigned (routing.services.queue_notifications)
ACK_KIND = "acknowledgement"


# --- pure helpers (tests/test_bench_pipeline.py) -----------------------------------------------


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile (the smallest value with at least p% of the values at or below it)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100), at least 1
    return float(ordered[min(int(rank), len(ordered)) - 1])


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """count, p50, p95, p99 and max (None when there is no value)."""
    return {
        "count": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else None,
    }


def recovery_time(samples: Iterable[tuple[float, float | None]], burst_end: float, target: float) -> float | None:
    """Seconds from the burst's end until texts are again served within ``target`` (see the docstring).

    ``samples``: (arrival, latency or None if it never completed) of the texts that arrived after
    the burst's end. 0.0 when none exceeded the target; None when none was within it after the last
    one that exceeded it (not recovered within the measured time)."""
    ordered = sorted(samples, key=lambda s: s[0])
    last_slow = max((i for i, (_, latency) in enumerate(ordered) if latency is None or latency > target), default=None)
    if last_slow is None:
        return 0.0
    if last_slow + 1 >= len(ordered):
        return None
    return max(ordered[last_slow + 1][0] - burst_end, 0.0)


def rate_windows(times: Iterable[float], start: float, end: float, width: float = 1.0) -> tuple[float, float]:
    """(peak count per ``width`` seconds over windows starting at ``start``, mean rate over [start, end])."""
    inside = sorted(t for t in times if start <= t <= end)
    if not inside or end <= start:
        return 0.0, 0.0
    peak = 0
    for i, t in enumerate(inside):  # sliding windows starting at each event
        peak = max(peak, bisect.bisect_left(inside, t + width, lo=i) - i)
    return peak / width, len(inside) / (end - start)


@dataclass
class OutboxRow:
    id: int
    ticket_id: int | None
    kind: str
    to: str
    body: str
    status: str
    due: bool  # next_attempt_at <= the end of the run (not deferred to after the quiet hours)


def correctness(
    accepted: Iterable[str],
    tickets_by_sid: dict[str, list[int]],
    outbox: Sequence[OutboxRow],
    lead_phones: dict[int, list[str] | None],
    received: Sequence[tuple[str, str]],
) -> dict[str, Any]:
    """Every accepted text one ticket and one acknowledgement; every routed ticket's lead unit one
    ``notify.assigned`` per phone; the fake Twilio received nothing twice, nothing due was lost,
    nothing it received is unknown to the outbox.

    ``lead_phones``: per routed ticket, its lead unit's phones (None: not routed automatically);
    ``received``: (To, Body) of every Messages.create the fake Twilio received."""
    accepted = list(dict.fromkeys(accepted))
    acks: dict[int, int] = Counter(r.ticket_id for r in outbox if r.kind == ACK_KIND and r.ticket_id is not None)
    notes: dict[int, Counter[str]] = defaultdict(Counter)
    for r in outbox:
        if r.kind == ASSIGNED_KIND and r.ticket_id is not None:
            notes[r.ticket_id][r.to] += 1
    without_ticket = [sid for sid in accepted if not tickets_by_sid.get(sid)]
    duplicate_tickets = sum(max(len(tickets_by_sid.get(sid, [])) - 1, 0) for sid in accepted)
    tickets = [t for sid in accepted for t in tickets_by_sid.get(sid, [])]
    acks_missing = sum(1 for t in tickets if acks.get(t, 0) == 0)
    acks_duplicated = sum(max(acks.get(t, 0) - 1, 0) for t in tickets)
    routed = [t for t in tickets if lead_phones.get(t) is not None]
    no_phone = sum(1 for t in routed if not lead_phones[t])
    notes_missing = notes_duplicated = 0
    for t in routed:
        for phone in dict.fromkeys(lead_phones[t] or []):
            count = notes[t].get(phone, 0)
            notes_missing += count == 0
            notes_duplicated += max(count - 1, 0)
    sent_counts = Counter(received)
    twilio_duplicates = sum(n - 1 for n in sent_counts.values() if n > 1)
    known = Counter((r.to, r.body) for r in outbox)
    unknown = sum(n for key, n in sent_counts.items() if key not in known)
    lost = sum(1 for r in outbox if r.due and (r.to, r.body) not in sent_counts)
    passed = not (without_ticket or duplicate_tickets or acks_missing or acks_duplicated)
    passed = passed and not (notes_missing or notes_duplicated or twilio_duplicates or unknown or lost)
    return {
        "passed": passed,
        "accepted_texts": len(accepted),
        "tickets": len(tickets),
        "texts_without_ticket": len(without_ticket),
        "duplicate_tickets": duplicate_tickets,
        "acknowledgements_missing": acks_missing,
        "acknowledgements_duplicated": acks_duplicated,
        "routed_tickets": len(routed),
        "routed_tickets_lead_without_phone": no_phone,
        "unit_notifications_missing": notes_missing,
        "unit_notifications_duplicated": notes_duplicated,
        "twilio_received": len(received),
        "twilio_duplicates": twilio_duplicates,
        "twilio_unknown_to_outbox": unknown,
        "outbox_messages": len(outbox),
        "outbox_due_not_received": lost,
        "outbox_deferred": sum(1 for r in outbox if not r.due),
        "first_text_without_ticket": without_ticket[0] if without_ticket else None,
    }


def top_frames(raw: str, limit: int = 20) -> dict[str, Any]:
    """Summarise py-spy's raw output (``frame;frame;... count`` lines, root first, a frame being
    ``Class.function (path:line)``): samples running a job (under RQ's ``perform_job``) and which job,
    samples waiting for one (RQ's ``dequeue...``), the samples in SQLAlchemy's autoflush, and the top
    functions by own and inclusive time within the jobs. Other threads (the beat, RQ's scheduler and
    pub/sub) are left out."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    jobs: Counter[str] = Counter()
    total = in_jobs = waiting = autoflush = 0
    project = ("hotline_core/", "routing/", "intake/", "hotline_app/", "webhooks/", "responders/", "stats/")
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        names = [_name(f) for f in frames]
        if "perform_job" in names:
            in_jobs += count
        elif any(n.startswith("dequeue") for n in names):
            waiting += count
            continue
        else:
            continue
        # the job's own function: the first frame below RQ's Job._execute / Job.perform
        below = [i for i, f in enumerate(frames) if f.startswith(("Job._execute ", "Job.perform "))]
        job = frames[below[-1] + 1] if below and below[-1] + 1 < len(frames) else "(RQ)"
        jobs[_function(job)] += count
        own[_function(frames[-1])] += count
        autoflush += count if "_autoflush" in names else 0
        for name in dict.fromkeys(_function(f) for f in frames if any(f"({p}" in f for p in project)):
            inclusive[name] += count
    return {
        "samples": total,
        "running_a_job": in_jobs,
        "waiting_for_a_job": waiting,
        "by_job": jobs.most_common(),
        # the ORM flushing pending writes before a query: counted under the query's caller, not the writer
        "autoflush": autoflush,
        "own": own.most_common(limit),
        "inclusive_project": inclusive.most_common(limit),
    }


def _name(frame: str) -> str:
    """``Class.function (path:line)`` -> ``function``."""
    return frame.partition(" (")[0].rsplit(".", 1)[-1]


def _function(frame: str) -> str:
    """``name (path:line)`` -> ``name (path)``: one entry per function, whatever line was running."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0].rstrip(')')})" if where else name


# --- texts ------------------------------------------------------------------------------------


def load_texts(count: int, seed: int) -> tuple[list[str], str]:
    """``count`` real complaint texts (shuffled, repeated only if the set is smaller), and their source."""
    from intake import sms_commands

    path = data_dir() / "tipdm2020c" / "train.csv"
    if not path.exists():
        sys.exit(f"{path} not found: set HOTLINE_DATA_DIR to the folder holding tipdm2020c/ (see its README)")
    with path.open(newline="", encoding="utf-8") as f:
        texts = [r["text"].strip()[:MAX_SMS_CHARS] for r in csv.DictReader(f)]
    texts = [t for t in texts if len(t) >= 5 and sms_commands.parse(t) is None]
    random.Random(seed).shuffle(texts)
    out = (texts * (count // len(texts) + 1))[:count]
    return out, f"{path} ({len(texts)} usable texts, median {sorted(map(len, texts))[len(texts) // 2]} chars)"


# --- the fake Twilio API, timed ----------------------------------------------------------------


class TimedTwilio:
    """The tests' fake Twilio API; notes when each Messages.create arrives, then answers after ``latency``."""

    def __init__(self, latency_seconds: float) -> None:
        from tests.fakes.twilio_api import FakeTwilioAPI

        self.latency = latency_seconds
        self.lock = threading.Lock()
        self.received: list[tuple[float, str, str]] = []  # (epoch, To, Body)
        self.api = FakeTwilioAPI(on_request=self._on_request)

    def _on_request(self, request: Any) -> None:
        if request.path.endswith("/Messages.json"):
            with self.lock:
                self.received.append((time.time(), request.field("To") or "", request.field("Body") or ""))
        if self.latency:
            time.sleep(self.latency)

    def snapshot(self) -> list[tuple[float, str, str]]:
        with self.lock:
            return list(self.received)


# --- the open-loop load generator --------------------------------------------------------------


@dataclass
class Request:
    sid: str
    phone: str
    phase: str
    scheduled: float  # epoch seconds
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    sent: float | None = None
    done: float | None = None
    status: int | None = None
    error: str | None = None
    retried: bool = False  # its keep-alive connection had been closed: sent again on a new one


def schedule(rate: float, phases: Sequence[tuple[str, float, float]], start: float) -> list[tuple[str, float]]:
    """(phase, scheduled epoch) for each request: ``phases`` are (name, seconds, rate multiplier), one after
    the other from ``start``, requests evenly spaced within each."""
    out: list[tuple[str, float]] = []
    at = start
    for name, seconds, factor in phases:
        n = round(seconds * rate * factor)
        out += [(name, at + i / (rate * factor)) for i in range(n)]
        at += seconds
    return out


def drive(port: int, path: str, requests: list[Request], senders: int = SENDERS) -> int:
    """Send each request at its scheduled time (open loop); returns how many senders it took.

    Each sender is a thread with its keep-alive connection; when a request is due and none is idle, one
    more starts (up to ``MAX_SENDERS``), so a server answering in seconds still gets the burst on time.
    A connection idle for over a second is opened anew before its next request: gunicorn closes idle ones
    after 2 s, and a request written into a closing connection fails. Should one fail that way all the
    same, it is sent again once on a new connection, as an HTTP client does (the MessageSid makes a repeat
    harmless anyway)."""
    work: queue.Queue[Request | None] = queue.Queue()
    stale = (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected)
    lock = threading.Lock()
    idle = [0]

    def sender() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        last_used = time.monotonic()
        while True:
            with lock:
                idle[0] += 1
            req = work.get()
            with lock:
                idle[0] -= 1
            if req is None:
                break
            req.sent = time.time()
            if time.monotonic() - last_used > 1.0:
                conn.close()  # http.client connects again on the next request
            for attempt in (1, 2):
                try:
                    conn.request("POST", path, body=req.body, headers=req.headers)
                    response = conn.getresponse()
                    response.read()
                    req.status, req.error = response.status, None
                    break
                except (OSError, http.client.HTTPException) as exc:
                    req.error = f"{type(exc).__name__}: {exc}"
                    conn.close()
                    if attempt == 1 and isinstance(exc, stale):
                        req.retried = True
                        continue
                    break
            req.done = time.time()
            last_used = time.monotonic()
        conn.close()

    threads: list[threading.Thread] = []

    def add_sender() -> None:
        thread = threading.Thread(target=sender, daemon=True)
        thread.start()
        threads.append(thread)

    for _ in range(senders):
        add_sender()
    for req in requests:
        delay = req.scheduled - time.time()
        if delay > 0:
            time.sleep(delay)
        with lock:
            busy = idle[0] <= work.qsize()
        if busy and len(threads) < MAX_SENDERS:
            add_sender()
        work.put(req)
    for _ in threads:
        work.put(None)
    for thread in threads:
        thread.join(60)
    return len(threads)


def sms_requests(
    texts: Sequence[str], plan: Sequence[tuple[str, float]], url: str, token: str, run_id: str, first: int
) -> list[Request]:
    """Signed SMS webhooks, each from its own number with its own MessageSid."""
    from simulator.twilio_requests import sign, sms_form

    out = []
    for i, ((phase, at), text) in enumerate(zip(plan, texts, strict=True)):
        n = first + i
        sid, phone = f"SM{run_id}{n:024x}", f"+86137{n:08d}"
        form = sms_form(phone, base.HOTLINE_NUMBER, text, message_sid=sid)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign(token, url, form)}
        out.append(Request(sid, phone, phase, at, urlencode(form).encode(), headers))
    return out


def generator_lag(requests: Sequence[Request]) -> dict[str, Any]:
    lags = [r.sent - r.scheduled for r in requests if r.sent is not None]
    return {"p99_ms": _ms(percentile(lags, 99)), "max_ms": _ms(max(lags) if lags else None)}


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1e3, 1)


# --- watching the database ----------------------------------------------------------------------


class RoutedWatcher(threading.Thread):
    """Polls new ``deadlines`` rows every 50 ms; a ticket is routed when both its clocks are visible.

    Rows are read by id, but two workers commit out of id order, so ids skipped over are kept as gaps
    and asked for again (for a minute: after that they were rolled back)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.routed_at: dict[int, float] = {}
        self.kinds: dict[int, set[str]] = defaultdict(set)
        self.max_id = 0
        self.gaps: dict[int, float] = {}
        self.error: str | None = None

    def run(self) -> None:
        import psycopg

        try:
            with psycopg.connect(base.libpq_url(), autocommit=True) as conn:
                while not self.stop.wait(POLL_SECONDS):
                    self.poll(conn)
        except Exception as exc:  # reported: the routed figures would be wrong
            self.error = f"{type(exc).__name__}: {exc}"

    def poll(self, conn: Any) -> None:
        now = time.time()  # rows visible to this statement committed before it started
        rows = conn.execute(
            "SELECT id, ticket_id, kind FROM deadlines WHERE id > %s OR id = ANY(%s) ORDER BY id",
            (self.max_id, list(self.gaps)),
        ).fetchall()
        for row_id, ticket_id, kind in rows:
            self.gaps.pop(row_id, None)
            if row_id > self.max_id:
                self.gaps.update(dict.fromkeys(range(self.max_id + 1, row_id), now))
                self.max_id = row_id
            self.kinds[ticket_id].add(kind)
            if ticket_id not in self.routed_at and {"sign_for", "resolution"} <= self.kinds[ticket_id]:
                self.routed_at[ticket_id] = now
        self.gaps = {i: t for i, t in self.gaps.items() if now - t < 60}


def settled(redis: Any, first_event: int) -> tuple[bool, dict[str, Any]]:
    """Every stored text processed, every ticket routed or given to a dispatcher, nothing due in the outbox
    (deferred messages wait for the quiet hours' end), no job queued or running."""
    from rq import Queue
    from rq.registry import StartedJobRegistry

    unprocessed, unrouted, due = base.query(
        "SELECT (SELECT count(*) FROM inbound_events WHERE id > %(e)s AND processed_at IS NULL AND failed_at IS NULL),"
        " (SELECT count(*) FROM tickets WHERE processed_at IS NULL),"
        " (SELECT count(*) FROM outbox_messages WHERE (status = 'pending' AND next_attempt_at <= now())"
        " OR status = 'claimed')",
        {"e": first_event},
    )[0]
    queues = [Queue(name, connection=redis) for name in base.QUEUES]
    jobs = sum(q.count + StartedJobRegistry(queue=q).count for q in queues)
    state = {"texts_unprocessed": unprocessed, "tickets_unrouted": unrouted, "outbox_due": due, "jobs": jobs}
    return not (unprocessed or unrouted or due or jobs), state


def wait_settled(redis: Any, first_event: int, timeout: float, children: Any, workers: list[Any]) -> dict[str, Any]:
    started = time.monotonic()
    state: dict[str, Any] = {}
    quiet_since = None
    while time.monotonic() - started < timeout:
        for i, proc in enumerate(workers, 1):
            if proc.poll() is not None:
                raise RuntimeError(f"worker-{i} exited with {proc.returncode}:\n{children.tail(f'worker-{i}')}")
        done, state = settled(redis, first_event)
        # twice in a row, 0.3 s apart: a job finishing may enqueue the next one just after the look
        if done and quiet_since is not None:
            return {"settled": True, "seconds": round(time.monotonic() - started, 1), **state}
        quiet_since = time.monotonic() if done else None
        time.sleep(0.3)
    return {"settled": False, "seconds": round(time.monotonic() - started, 1), **state}


# --- the phases ---------------------------------------------------------------------------------


def run_floor(
    children: Any, gunicorn: Any, args: argparse.Namespace, redis: Any, run_id: str
) -> tuple[list[Request], dict[str, tuple[float, float]]]:
    """The baseline's timed job through the same queue and workers, at the steady rate."""
    from baseline_app import STARTED_KEY

    port = base.free_port()
    env = base.base_env()
    env.update(BENCH_DATABASE_URL=base.libpq_url(), BENCH_REDIS_URL=f"redis://127.0.0.1:6379/{base.REDIS_DB}")
    argv = gunicorn.argv("baseline_app:app", port, "bench-baseline", "--pythonpath", str(BENCH_DIR))
    proc = children.start("baseline", argv, env)
    requests: list[Request] = []
    try:
        base.wait_ready(children, proc, "baseline", f"http://127.0.0.1:{port}/healthz")
        for phase, seconds in (("warmup", 2.0), ("steady", args.steady)):
            plan = schedule(args.rate, [(phase, seconds, 1)], time.time() + 0.3)
            batch = []
            for i, (name, at) in enumerate(plan):
                sid = f"SM{run_id}f{len(requests) + i:023x}"
                form = {"MessageSid": sid, "From": f"+86136{i:08d}", "To": base.HOTLINE_NUMBER, "Body": "floor"}
                headers = {"Content-Type": "application/x-www-form-urlencoded"}
                batch.append(Request(sid, form["From"], name, at, urlencode(form).encode(), headers))
            log(
                f"floor: {phase} {seconds:g} s at {args.rate:g}/s on POST /queued-timed (load average {base.loadavg()})"
            )
            drive(port, "/queued-timed", batch)
            requests += batch
        deadline = time.time() + 30
        expected = sum(1 for r in requests if r.status == 200)
        while redis.hlen(STARTED_KEY) < expected and time.time() < deadline:
            time.sleep(0.1)
    finally:
        children.stop(proc)
    started = {k.decode(): tuple(float(x) for x in v.decode().split()) for k, v in redis.hgetall(STARTED_KEY).items()}
    return requests, started  # type: ignore[return-value]


def start_profiler(number: int, pid: int, seconds: float, out: Path, children: Any) -> Any:
    """py-spy attached to a running worker: wall clock (``--idle``: waits on PostgreSQL count), sampled
    without pausing it (``--nonblocking``), raw stacks (a flamegraph's input) written when it ends."""
    py_spy = shutil.which("py-spy", path=str(base.BIN)) or shutil.which("py-spy")
    if not py_spy:
        log("--profile: py-spy not found (pip install py-spy): no profile")
        return None
    argv = [py_spy, "record", "-p", str(pid), "-d", str(max(int(seconds), 1)), "-r", "100", "--idle"]
    argv += ["--nonblocking", "-f", "raw", "-o", str(out)]
    log(f"profile: py-spy on worker {number} (pid {pid}) for {seconds:.0f} s")
    return children.start(f"py-spy-{number}", argv, dict(os.environ))


def run_pipeline(
    children: Any, gunicorn: Any, args: argparse.Namespace, redis: Any, workers: list[Any], run_id: str
) -> dict[str, Any]:
    from hotline_core.settings import Settings

    port = base.free_port()
    env = base.hotline_env(children.logdir, port)
    token = Settings.from_env(env).webhook_auth_token
    url = f"http://127.0.0.1:{port}/twilio/sms"
    proc = children.start("hotline-web", gunicorn.argv("wsgi:app", port, "bench-hotline"), env)
    phases = [
        ("steady", args.steady, 1),
        ("burst", args.burst_seconds, BURST_FACTOR),
        ("after", args.after, 1),
    ]
    warm_plan = schedule(args.rate, [("warmup", WARMUP_SECONDS, 1)], 0)
    main_count = len(schedule(args.rate, phases, 0))
    texts, source = load_texts(len(warm_plan) + main_count, args.seed)
    watcher = RoutedWatcher()
    profiler_box: list[Any] = []  # py-spy's process, started by a timer at the burst's start
    timer = None
    try:
        base.wait_ready(children, proc, "hotline-web", f"http://127.0.0.1:{port}/healthz")
        first_event = base.query("SELECT coalesce(max(id), 0) FROM inbound_events")[0][0]
        watcher.start()
        warm = sms_requests(
            texts[: len(warm_plan)],
            schedule(args.rate, [("warmup", WARMUP_SECONDS, 1)], time.time() + 0.3),
            url,
            token,
            run_id,
            1,
        )
        log(f"pipeline: warm-up {WARMUP_SECONDS:g} s at {args.rate:g}/s")
        drive(port, "/twilio/sms", warm)
        warm_settle = wait_settled(redis, first_event, 120, children, workers)
        log(f"pipeline: warm-up settled {warm_settle}")
        # The steady phase alone, then (once everything is settled) the burst and the after phase: what the
        # burst does must not count against the steady texts still in flight when it begins.
        n_steady = len(schedule(args.rate, phases[:1], 0))
        start = time.time() + 1.0
        steady = sms_requests(
            texts[len(warm_plan) : len(warm_plan) + n_steady],
            schedule(args.rate, phases[:1], start),
            url,
            token,
            run_id,
            len(warm_plan) + 1,
        )
        log(f"pipeline: steady {args.steady:g} s at {args.rate:g}/s (load average {base.loadavg()})")
        cpu_before = base.cpu_snapshot()
        senders = drive(port, "/twilio/sms", steady)
        steady_settle = wait_settled(redis, first_event, args.settle_timeout, children, workers)
        log(f"pipeline: steady phase settled {steady_settle}")
        burst_start = time.time() + 1.0
        burst_end = burst_start + args.burst_seconds
        rest = sms_requests(
            texts[len(warm_plan) + n_steady :],
            schedule(args.rate, phases[1:], burst_start),
            url,
            token,
            run_id,
            len(warm_plan) + n_steady + 1,
        )
        requests = steady + rest
        if args.profile:
            seconds = args.burst_seconds + 10

            def profile() -> None:
                for i, worker in enumerate(workers, 1):
                    out = children.logdir / f"worker-{i}.pyspy.txt"
                    profiler_box.append(start_profiler(i, worker.pid, seconds, out, children))

            timer = threading.Timer(burst_start - time.time(), profile)
            timer.daemon = True
            timer.start()
        log(
            f"pipeline: burst {args.burst_seconds:g} s at {args.rate * BURST_FACTOR:g}/s, then {args.after:g} s at"
            f" {args.rate:g}/s (load average {base.loadavg()})"
        )
        senders = max(senders, drive(port, "/twilio/sms", rest))
        sent_end = time.time()
        log(f"pipeline: all sent; waiting until settled (at most {args.settle_timeout:g} s)")
        settle = wait_settled(redis, first_event, args.settle_timeout, children, workers)
        cpu_after = base.cpu_snapshot()
        log(f"pipeline: {settle}")
        for profiler in profiler_box:
            if profiler is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):  # py-spy writes its file as it exits
                    profiler.wait(timeout=max(burst_end + 15 - time.time(), 1))
    finally:
        if timer is not None:
            timer.cancel()
        watcher.stop.set()
        watcher.join(5)
        children.stop(proc)
    cpu = cpu_by_group(cpu_before, cpu_after, {"web": proc.pid, "workers": [w.pid for w in workers]})
    return {
        "warm": warm,
        "requests": requests,
        "watcher": watcher,
        "settle": settle,
        "warm_settle": warm_settle,
        "steady_settle": steady_settle,
        "source": source,
        "start": start,
        "burst_start": burst_start,
        "burst_end": burst_end,
        "sent_end": sent_end,
        "senders": senders,
        "first_event": first_event,
        "cpu": cpu,
        "profile_paths": [str(children.logdir / f"worker-{i}.pyspy.txt") for i in (1, 2)] if args.profile else [],
    }


def cpu_by_group(before: Any, after: Any, groups: dict[str, Any]) -> dict[str, float]:
    """CPU seconds over the run: the hotline's web processes, the workers, PostgreSQL, Redis, this process and
    everything else on the machine (other people's work)."""
    hz = os.sysconf("SC_CLK_TCK")
    owner: dict[int, str] = {}
    for name, pids in groups.items():
        for pid in pids if isinstance(pids, list) else [pids]:
            owner[pid] = name
    spent: Counter[str] = Counter()
    for pid, (comm, group, ticks) in after[0].items():
        delta = ticks - (before[0][pid][2] if pid in before[0] and before[0][pid][0] == comm else 0)
        if group in owner:
            spent[owner[group]] += delta
        elif pid == os.getpid():
            spent["bench (generator, fake Twilio, poller)"] += delta
        elif comm == "postgres":
            spent["postgres"] += delta
        elif comm.startswith("redis-server"):
            spent["redis"] += delta
    busy = after[1] - before[1]
    result = {k: round(v / hz, 1) for k, v in spent.items()}
    result["other processes"] = round(max(busy - sum(spent.values()), 0) / hz, 1)
    result["idle"] = round((after[2] - before[2]) / hz, 1)
    return result


# --- analysis --------------------------------------------------------------------------------------


def analyse(run: dict[str, Any], twilio: TimedTwilio, floor: tuple[list[Request], dict[str, Any]], args: Any) -> dict:
    requests: list[Request] = run["requests"]
    warm: list[Request] = run["warm"]
    watcher: RoutedWatcher = run["watcher"]
    received = twilio.snapshot()
    first_time: dict[tuple[str, str], float] = {}
    for at, to, body in received:
        first_time.setdefault((to, body), at)

    events = {
        sid: received_at.timestamp()
        for sid, received_at in base.query(
            "SELECT form->>'MessageSid', received_at FROM inbound_events WHERE id > %s AND kind = 'sms'",
            (run["first_event"],),
        )
    }
    tickets = base.query(
        "SELECT t.id, t.source_ref, t.state, t.lead_unit_id, t.processed_at,"
        " (SELECT min(d.started_at) FROM deadlines d WHERE d.ticket_id = t.id)"
        " FROM tickets t WHERE t.channel = 'sms'"
    )
    tickets_by_sid: dict[str, list[int]] = defaultdict(list)
    info: dict[int, tuple[str, int | None, float | None]] = {}
    processed: dict[int, float] = {}  # routing's own clock (in its transaction): to a unit or a dispatcher
    for ticket_id, sid, state, lead, processed_at, started_at in tickets:
        tickets_by_sid[sid].append(ticket_id)
        info[ticket_id] = (state, lead, started_at.timestamp() if started_at else None)
        if processed_at is not None:
            processed[ticket_id] = processed_at.timestamp()
    outbox = [
        OutboxRow(i, t, kind, to, body, status, due)
        for i, t, kind, to, body, status, due in base.query(
            "SELECT id, ticket_id, kind, to_number, body, status, next_attempt_at <= now() FROM outbox_messages"
        )
    ]
    segments = dict(base.query("SELECT id, segments FROM outbox_messages"))
    phones = unit_phones()
    lead_phones: dict[int, list[str] | None] = {}
    for ticket_id, (_state, lead, _) in info.items():
        lead_phones[ticket_id] = phones.get(lead, []) if lead is not None and ticket_id in watcher.routed_at else None
    by_ticket: dict[int, list[OutboxRow]] = defaultdict(list)
    for row in outbox:
        if row.ticket_id is not None:
            by_ticket[row.ticket_id].append(row)

    per_text: list[dict[str, Any]] = []
    for req in [*warm, *requests]:
        arrival = events.get(req.sid)
        row: dict[str, Any] = {"sid": req.sid, "phase": req.phase, "scheduled": req.scheduled, "status": req.status}
        row["arrival"] = arrival
        ids = tickets_by_sid.get(req.sid, [])
        if arrival is None or not ids:
            per_text.append(row)
            continue
        ticket_id = ids[0]
        state, lead, started_at = info[ticket_id]
        rows = by_ticket.get(ticket_id, [])
        ack = next((first_time.get((r.to, r.body)) for r in rows if r.kind == ACK_KIND), None)
        routed = watcher.routed_at.get(ticket_id)
        notified = None
        if lead_phones.get(ticket_id):
            lead_set = set(lead_phones[ticket_id] or [])
            times = [first_time.get((r.to, r.body)) for r in rows if r.kind == ASSIGNED_KIND and r.to in lead_set]
            if times and all(t is not None for t in times):
                notified = max(t for t in times if t is not None)
        row.update(
            ticket_id=ticket_id,
            state=state,
            manual=routed is None and state == "dispatch",
            acknowledged=None if ack is None else ack - arrival,
            routed=None if routed is None else routed - arrival,
            routed_lower_bound=None if started_at is None else started_at - arrival,
            unit_notified=None if notified is None else notified - arrival,
            webhook=arrival - req.scheduled,
        )
        per_text.append(row)

    phases: dict[str, Any] = {}
    for phase in PHASES:
        rows = [r for r in per_text if r["phase"] == phase]
        stats = {stage: summarize([r[stage] for r in rows if r.get(stage) is not None]) for stage in STAGES}
        stats["routed_lower_bound"] = summarize([r["routed_lower_bound"] for r in rows if r.get("routed_lower_bound")])
        stats["webhook"] = summarize([r["webhook"] for r in rows if r.get("webhook") is not None])
        stats["texts"] = len(rows)
        stats["accepted"] = sum(1 for r in rows if r["status"] == 200)
        stats["manual_dispatch"] = sum(1 for r in rows if r.get("manual"))
        stats["not_routed_not_manual"] = sum(
            1 for r in rows if r.get("ticket_id") and r.get("routed") is None and not r.get("manual")
        )
        phases[phase] = stats

    burst_end = run["burst_end"]
    after = [
        (r["arrival"], r.get("unit_notified"))
        for r in per_text
        if r["phase"] == "after"
        and r.get("arrival")
        and not r.get("manual")
        and r.get("ticket_id")
        and lead_phones.get(r["ticket_id"])
    ]
    recovery = recovery_time(after, burst_end, TARGETS["unit_notified"])
    burst_rows = [r for r in per_text if r["phase"] == "burst" and r.get("arrival")]
    burst_notified = [r["arrival"] + r["unit_notified"] for r in burst_rows if r.get("unit_notified") is not None]
    # The drain: tickets the routing stage finished (to a unit or to a dispatcher), by tickets.processed_at.
    burst_routed = [processed[r["ticket_id"]] for r in burst_rows if r.get("ticket_id") in processed]
    backlog = (max(burst_notified) - burst_end) if burst_notified else None
    last_routed = max(burst_routed) if burst_routed else run["burst_start"]
    peak, mean = rate_windows(processed.values(), run["burst_start"], max(last_routed, run["burst_start"] + 1))
    kept_pace = len(burst_routed) == len(burst_rows) > 0 and last_routed - burst_end <= TARGETS["routed"]
    twilio_times = [at for at, _, _ in received]
    outbox_end = max(twilio_times) if twilio_times else run["burst_start"]
    send_peak, send_mean = rate_windows(twilio_times, run["burst_start"], max(outbox_end, run["burst_start"] + 1))
    seg_of = {(r.to, r.body): segments.get(r.id, 1) for r in outbox}
    seg_times = [at for at, to, body in received for _ in range(seg_of.get((to, body), 1))]
    seg_peak, seg_mean = rate_windows(seg_times, run["burst_start"], max(outbox_end, run["burst_start"] + 1))

    accepted = [r.sid for r in [*warm, *requests] if r.status == 200]
    check = correctness(accepted, tickets_by_sid, outbox, lead_phones, [(to, body) for _, to, body in received])
    check["requests_not_200"] = sum(1 for r in [*warm, *requests] if r.status != 200)
    check["requests_retried"] = sum(1 for r in [*warm, *requests] if r.retried)
    check["first_error"] = next((r.error or f"HTTP {r.status}" for r in [*warm, *requests] if r.status != 200), None)
    check["routed_watcher_error"] = watcher.error
    if watcher.error:
        check["passed"] = False

    floor_requests, started = floor
    floor_rows = [r for r in floor_requests if r.phase == "steady" and r.sid in started]
    floor_lat = [started[r.sid][1] - started[r.sid][0] for r in floor_rows]
    floor_web = [started[r.sid][0] - r.scheduled for r in floor_rows]
    floor_stats = {
        "job_start": summarize(floor_lat),
        "webhook": summarize(floor_web),
        "accepted": sum(1 for r in floor_requests if r.phase == "steady" and r.status == 200),
        "jobs_missing": sum(
            1 for r in floor_requests if r.phase == "steady" and r.status == 200 and r.sid not in started
        ),
        "generator_lag": generator_lag([r for r in floor_requests if r.phase == "steady"]),
    }
    steady = phases["steady"]
    targets = {
        stage: {
            "target_p95": TARGETS[stage],
            "p95": steady[stage]["p95"],
            "passed": steady[stage]["p95"] is not None and steady[stage]["p95"] < TARGETS[stage],
        }
        for stage in STAGES
    }
    targets["drain"] = {
        "target": TARGET_DRAIN,
        "peak": peak,
        "mean": round(mean, 1),
        "kept_pace": kept_pace,
        "passed": kept_pace or mean >= TARGET_DRAIN,
    }
    return {
        "phases": phases,
        "floor": floor_stats,
        "targets": targets,
        "recovery_seconds": None if recovery is None else round(recovery, 2),
        "backlog_drained_seconds": None if backlog is None else round(backlog, 2),
        "routing_drain": {
            "peak_per_second": peak,
            "mean_per_second": round(mean, 1),
            "from_burst_start_to_last_burst_ticket_routed_s": round(last_routed - run["burst_start"], 2),
        },
        "outbox_send": {
            "messages_peak_per_second": send_peak,
            "messages_mean_per_second": round(send_mean, 1),
            "segments_peak_per_second": seg_peak,
            "segments_mean_per_second": round(seg_mean, 1),
            "from_burst_start_to_last_send_s": round(outbox_end - run["burst_start"], 2),
            "messages_by_kind": dict(Counter(r.kind for r in outbox)),
        },
        "generator_lag": generator_lag(requests),
        "correctness": check,
        "per_text": per_text if args.json else None,
    }


def unit_phones() -> dict[int, list[str]]:
    """Every unit's notification numbers, as routing computes them (``routing.directory.unit_contact_numbers``)."""
    script = (
        "import json\n"
        "from hotline_app.bootstrap import bootstrap\n"
        "from hotline_core.models import Unit\n"
        "from routing.directory import unit_contact_numbers\n"
        "runtime = bootstrap()\n"
        "with runtime.db.session() as s:\n"
        "    print(json.dumps({u.id: unit_contact_numbers(s, u) for u in s.query(Unit)}))\n"
    )
    env = base.hotline_env(Path(tempfile.gettempdir()), 0)
    env.pop("PUBLIC_BASE_URL")
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=REPO, capture_output=True, timeout=120, check=True
    )
    return {int(k): v for k, v in json.loads(proc.stdout.decode().strip().splitlines()[-1]).items()}


# --- report -----------------------------------------------------------------------------------------


def _f(value: float | None, unit: str = "s") -> str:
    if value is None:
        return "-"
    return f"{value * 1e3:.0f} ms" if unit == "ms" else f"{value:.2f}"


def report(data: dict[str, Any]) -> str:
    a = data["analysis"]
    lines = [
        "",
        f"hotline pipeline benchmark: {data['cores']} cores, gunicorn {data['gunicorn']}, 2 hotline workers (all "
        f"queues){' + a dedicated sender' if data['dedicated_sender'] else ''}; routing directory: {data['directory']}",
        f"texts: {data['texts']}",
        f"load: {data['rate']:g}/s for {data['steady']:g} s, burst {data['rate'] * BURST_FACTOR:g}/s for "
        f"{data['burst_seconds']:g} s, {data['rate']:g}/s for {data['after']:g} s after; SMS rate "
        f"{data['sms_rate']:g} segments/s; fake Twilio latency {data['twilio_latency_ms']:g} ms; load average "
        f"before {data['loadavg_before']}, after {data['loadavg_after']}",
        f"settled {data['steady_settle']['seconds']:g} s after the steady phase's last text"
        + ("" if data["steady_settle"]["settled"] else f" (NOT settled: {data['steady_settle']})")
        + f", {data['settle']['seconds']:g} s after the after phase's last text"
        + ("" if data["settle"]["settled"] else " (NOT settled)"),
        f"CPU seconds during the run: {data['cpu']}",
        f"generator lag behind schedule: p99 {a['generator_lag']['p99_ms']} ms, max {a['generator_lag']['max_ms']} ms"
        f" ({data['senders']} sender threads at most)",
        "",
        "latency from the webhook's arrival (inbound_events.received_at), seconds",
        f"{'':28}{'count':>7}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}",
    ]
    labels = {
        "webhook": "webhook (sched -> stored)",
        "acknowledged": "acknowledged",
        "routed": "routed (both deadlines)",
        "unit_notified": "unit notified",
    }
    for phase in PHASES:
        p = a["phases"][phase]
        lines.append(
            f"{phase}: {p['texts']} texts, {p['accepted']} accepted, {p['manual_dispatch']} to a dispatcher"
            + (
                f", {p['not_routed_not_manual']} neither routed nor with a dispatcher"
                if p["not_routed_not_manual"]
                else ""
            )
        )
        for key in ("webhook", *STAGES):
            s = p[key]
            lines.append(
                f"  {labels[key]:26}{s['count']:7d}{_f(s['p50']):>8}{_f(s['p95']):>8}{_f(s['p99']):>8}{_f(s['max']):>8}"
            )
    fl = a["floor"]
    st = a["phases"]["steady"]
    lines += [
        "",
        f"floor (same run, {data['rate']:g}/s for {data['steady']:g} s): insert + commit + RQ enqueue on 'intake'"
        f" -> the job's first line, same 2 workers: {fl['job_start']['count']} jobs ({fl['jobs_missing']} missing)",
        f"{'':28}{'p50':>8}{'p95':>8}{'p99':>8}   pipeline steady p50/p95/p99 as multiples of the floor's",
        f"  {'floor job start':26}{_f(fl['job_start']['p50']):>8}{_f(fl['job_start']['p95']):>8}"
        f"{_f(fl['job_start']['p99']):>8}",
    ]
    for stage in STAGES:
        ratios = []
        for q in ("p50", "p95", "p99"):
            f, v = fl["job_start"][q], st[stage][q]
            ratios.append(f"{v / f:.0f}x" if f and v is not None else "-")
        lines.append(
            f"  {labels[stage]:26}{_f(st[stage]['p50']):>8}{_f(st[stage]['p95']):>8}"
            f"{_f(st[stage]['p99']):>8}   {' / '.join(ratios)}"
        )
    t = a["targets"]
    lines += [""]
    for stage in STAGES:
        lines.append(
            f"steady {labels[stage]:26} p95 {_f(t[stage]['p95'])} s   (target < {t[stage]['target_p95']:g} s)"
            f"   {base.verdict(t[stage]['passed'])}"
        )
    d = a["routing_drain"]
    lines += [
        f"routing drain in the burst          mean {d['mean_per_second']:.0f}/s, peak {d['peak_per_second']:.0f}/s"
        f" in 1 s (target >= {TARGET_DRAIN:.0f}/s, or keeping pace)   {base.verdict(t['drain']['passed'])}: the burst's"
        f" last ticket through routing {d['from_burst_start_to_last_burst_ticket_routed_s']:.1f} s after the burst"
        f" began ({data['burst_seconds']:g} s long)",
        "recovery after the burst            "
        + (
            f"{a['recovery_seconds']:.1f} s"
            if a["recovery_seconds"] is not None
            else "NOT recovered within the after phase"
        )
        + f" (texts again unit-notified within {TARGETS['unit_notified']:g} s); backlog drained (last burst text's unit"
        f" notified) {_f(a['backlog_drained_seconds'])} s after the burst's end",
    ]
    o = a["outbox_send"]
    lines.append(
        f"outbox send rate                    {o['messages_mean_per_second']:.0f} messages/s"
        f" ({o['segments_mean_per_second']:.0f} segments/s) mean, peak {o['messages_peak_per_second']:.0f}"
        f" ({o['segments_peak_per_second']:.0f} segments) in 1 s, configured {data['sms_rate']:g} segments/s;"
        f" last send {o['from_burst_start_to_last_send_s']:.1f} s after the burst began;"
        f" by kind {o['messages_by_kind']}"
    )
    c = a["correctness"]
    lines.append(
        f"correctness                         {base.verdict(c['passed'])}: {c['accepted_texts']} texts accepted ->"
        f" {c['tickets']} tickets (without {c['texts_without_ticket']}, duplicated {c['duplicate_tickets']});"
        f" acknowledgements missing {c['acknowledgements_missing']}, duplicated {c['acknowledgements_duplicated']};"
        f" {c['routed_tickets']} routed tickets: unit notifications missing {c['unit_notifications_missing']},"
        f" duplicated {c['unit_notifications_duplicated']} (lead unit without a phone:"
        f" {c['routed_tickets_lead_without_phone']}); fake Twilio received {c['twilio_received']}: duplicates"
        f" {c['twilio_duplicates']}, unknown to the outbox {c['twilio_unknown_to_outbox']}; outbox"
        f" {c['outbox_messages']} messages, due but never received {c['outbox_due_not_received']}, deferred"
        f" (quiet hours) {c['outbox_deferred']}; requests not answered 200: {c['requests_not_200']}"
        f" (sent again on a new connection after gunicorn closed an idle one: {c['requests_retried']})"
    )
    if c["requests_not_200"]:
        lines.append(
            f"   !! {c['requests_not_200']} texts were not accepted (first: {c['first_error']}): not counted above"
        )
    if (a["generator_lag"]["p99_ms"] or 0) > 100:
        lines.append(
            "   !! the generator fell behind its schedule (p99 > 100 ms): this process got too little CPU (see"
            " 'other processes'); the burst arrived spread out"
        )
    s = data["settle"]
    if not s["settled"]:
        lines.append(f"   !! NOT settled within --settle-timeout: {s}")
    for prof in data.get("profile") or []:
        lines += ["", prof["summary"]]
    return "\n".join(lines) + "\n"


def profile_summary(number: int, path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"path": str(path), "summary": f"profile: py-spy wrote nothing ({path}); see py-spy-{number}.log"}
    top = top_frames(path.read_text(errors="replace"))
    busy = max(top["running_a_job"], 1)
    main_thread = max(top["running_a_job"] + top["waiting_for_a_job"], 1)
    lines = [
        f"profile of worker {number} (py-spy, 100 Hz, wall clock including waits, from the burst's start; raw"
        f" stacks in {path}): running a job {100 * top['running_a_job'] / main_thread:.0f}% of the time, waiting"
        f" for one {100 * top['waiting_for_a_job'] / main_thread:.0f}%; by job: "
        + ", ".join(f"{name.split(' (')[0]} {100 * n / busy:.0f}%" for name, n in top["by_job"][:6])
        + f"; in SQLAlchemy's autoflush (earlier writes flushed by a query, counted under the query's caller below)"
        f" {100 * top['autoflush'] / busy:.0f}%",
        "  top 20 by own time (share of the time running a job):",
    ]
    lines += [f"    {100 * n / busy:5.1f}%  {name}" for name, n in top["own"]]
    lines.append("  top 20 of the project's functions by inclusive time:")
    lines += [f"    {100 * n / busy:5.1f}%  {name}" for name, n in top["inclusive_project"]]
    return {"path": str(path), "top": top, "summary": "\n".join(lines)}


# --- main ----------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="texts per second, steady (default 20)")
    parser.add_argument("--steady", type=float, default=30.0, help="seconds at --rate (default 30)")
    parser.add_argument("--burst-seconds", type=float, default=5.0, help="seconds at 10x --rate (default 5)")
    parser.add_argument("--after", type=float, default=30.0, help="seconds at --rate after the burst (default 30)")
    parser.add_argument("--settle-timeout", type=float, default=300.0, help="seconds (default 300)")
    parser.add_argument("--sms-rate", type=float, default=100.0, help="outbox segments per second (default 100)")
    parser.add_argument("--twilio-latency-ms", type=float, default=0.0, help="the fake Twilio's answer time")
    parser.add_argument("--quick", action="store_true", help="10 s steady, 3 s burst, 15 s after")
    parser.add_argument("--profile", action="store_true", help="py-spy on both workers during the burst")
    parser.add_argument(
        "--dedicated-sender",
        action="store_true",
        help="a third worker for the 'messages' queue only, as README's deployment runs it",
    )
    parser.add_argument("--json", action="store_true", help="print the results (and every text's) as JSON")
    parser.add_argument("--seed", type=int, default=14, help="shuffles the texts (default 14)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    parser.add_argument("--database", default="hotline_bench", help="PostgreSQL database to rebuild")
    parser.add_argument("--redis-db", type=int, default=12, help="Redis database to flush (default 12)")
    args = parser.parse_args()
    if args.quick:
        args.steady, args.burst_seconds, args.after = 10.0, 3.0, 15.0
    base.set_targets(args.database, args.redis_db)
    workdir = Path(tempfile.mkdtemp(prefix="hotline-pipeline-"))
    children = base.Children(workdir)

    def on_signal(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    exit_code = 0
    keep = args.keep or args.profile
    try:
        log(f"work directory {workdir}; repository {REPO}; load average {base.loadavg()}")
        loadavg_before = base.loadavg()
        base.prepare_database()
        directory = base.load_demo_city(workdir)
        redis = base.redis_connection()
        redis.flushdb()
        log(f"database {base.BENCH_DB} rebuilt, Redis db {base.REDIS_DB} flushed")
        twilio = TimedTwilio(args.twilio_latency_ms / 1e3)
        base.start_twilio_fake(args.sms_rate, twilio.api)
        env = base.hotline_env(workdir, 0)
        env.pop("PUBLIC_BASE_URL")
        env["PYTHONPATH"] += os.pathsep + str(BENCH_DIR)  # the floor's job (baseline_app), after the repository
        workers = base.start_workers(children, env)
        base.wait_for_workers(children, workers)
        if args.dedicated_sender:
            children.start("sender", [str(base.BIN / "hotline"), "worker", "--no-beat", "--queues", "messages"], env)
        gunicorn = base.Gunicorn()
        run_id = secrets.token_hex(4)
        floor = run_floor(children, gunicorn, args, redis, run_id)
        run = run_pipeline(children, gunicorn, args, redis, workers, run_id)
        analysis = analyse(run, twilio, floor, args)
        data: dict[str, Any] = {
            "cores": os.cpu_count(),
            "gunicorn": gunicorn.describe(),
            "directory": directory,
            "texts": run["source"],
            "rate": args.rate,
            "steady": args.steady,
            "burst_seconds": args.burst_seconds,
            "after": args.after,
            "sms_rate": args.sms_rate,
            "twilio_latency_ms": args.twilio_latency_ms,
            "dedicated_sender": args.dedicated_sender,
            "loadavg_before": loadavg_before,
            "loadavg_after": base.loadavg(),
            "cpu": run["cpu"],
            "senders": run["senders"],
            "settle": run["settle"],
            "warm_settle": run["warm_settle"],
            "steady_settle": run["steady_settle"],
            "analysis": analysis,
            "logs": str(workdir) if keep else None,
        }
        data["profile"] = [profile_summary(i, Path(path)) for i, path in enumerate(run["profile_paths"], 1)]
        print(json.dumps(data, indent=2, default=str) if args.json else report(data), flush=True)
        if not analysis["correctness"]["passed"]:
            exit_code = 1
    except KeyboardInterrupt:
        log("interrupted")
        exit_code = 130
    except Exception as exc:
        log(f"ERROR: {type(exc).__name__}: {exc}")
        exit_code = 2
        keep = True
    finally:
        children.stop_all()
        if keep:
            log(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
