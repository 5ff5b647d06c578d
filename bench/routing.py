"""Benchmark the routing stage: how many stored tickets a second become routed tickets, and at what
cost in SQL statements, on PostgreSQL with the demo city's directory and classifier.

    .venv/bin/python bench/routing.py                 # about 2 minutes
    .venv/bin/python bench/routing.py --tickets 500 --worker-tickets 2000 --json

Routing a ticket (``intake.services.process_waiting_job``) classifies its text, picks its units,
starts its two clocks, writes its timeline and queues the unit's and the citizen's texts. Issue 14
asks that two workers route at least 200 tickets a second (as fast as intake stores texts), with
the directory and model cached per worker and a few statements per ticket. This prints:

1. **In one process**, the same real complaints (../shared/data/tipdm2020c, else the demo's
   examples) routed three ways, each on its own copy of the tickets:
   - *one at a time, read afresh*: batches of one ticket, directory and model read for each (the
     shape of the routing before issue 14: that code also read the unit, the category and the
     settings again per ticket, 14 statements and 32 tickets/s on this machine);
   - *batches, read afresh* (``HOTLINE_ROUTING_CACHE=0``);
   - *batches, cached* (the default).
   Tickets per second, SQL statements per ticket (an ``executemany`` counts once) and the ratio to
   the first way; and whether the three ways made the same decisions (they must).
2. **Two ``hotline worker`` processes** draining ``--worker-tickets`` stored tickets through Redis,
   as production runs: routed tickets per second against the 200/s target.

It rebuilds its own database (``hotline_bench_routing``) and flushes its own Redis database (10);
it never touches the test suite's database ``test`` or Redis database 13, nor ``bench/intake.py``'s.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.append(str(Path(__file__).resolve().parent))  # baseline_app, after the project's packages


from benchlib import data_dir, load_bench_intake  # noqa: E402  (bench/ is on sys.path now)

bench_intake = load_bench_intake()

TARGET_PER_SECOND = 200.0
REDIS_DB = 10


def texts(limit: int) -> tuple[list[str], str]:
    path = data_dir() / "tipdm2020c" / "train.csv"
    if path.exists():
        with path.open(encoding="utf-8") as f:
            found = [row["text"][:1000] for row in csv.DictReader(f) if row.get("text")]
        return found[:limit], f"{path.parent.name}/{path.name}"
    with (REPO / "hotline_app" / "demo_training.csv").open(encoding="utf-8") as f:
        demo = [row["text"] for row in csv.DictReader(f)]
    return (demo * (limit // len(demo) + 1))[:limit], "the demo's training examples (shared data not found)"


def runtime_for(workdir: Path, cache: bool) -> Any:
    from hotline_app.bootstrap import bootstrap
    from hotline_core.settings import Settings

    env = bench_intake.hotline_env(workdir, 0)
    env.pop("PUBLIC_BASE_URL")
    env["DATABASE_URL"] = env["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://")
    env["HOTLINE_ROUTING_CACHE"] = "1" if cache else "0"
    return bootstrap(Settings.from_env(env))


def submit(runtime: Any, batch: list[str], first_phone: int) -> list[int]:
    from intake.services import Complaint, submit_complaint

    ids: list[int] = []
    for start in range(0, len(batch), 200):
        with runtime.db.transaction() as s:
            made = [
                submit_complaint(
                    s, runtime, Complaint(channel="sms", text=text, phone=f"+86139{first_phone + start + i:08d}")
                )
                for i, text in enumerate(batch[start : start + 200])
            ]
            s.flush()
            ids += [t.id for t in made]
    return ids


def decisions(runtime: Any, ids: list[int]) -> list[tuple[Any, ...]]:
    from sqlalchemy import select

    from hotline_core.models import Ticket

    with runtime.db.session() as s:
        found = {
            row.id: (row.state, row.category_id, row.area_id, row.urgency, row.lead_unit_id)
            for row in s.execute(
                select(
                    Ticket.id, Ticket.state, Ticket.category_id, Ticket.area_id, Ticket.urgency, Ticket.lead_unit_id
                ).where(Ticket.id.in_(ids))
            )
        }
    return [found[i] for i in ids]


def in_process(workdir: Path, batch: list[str]) -> dict[str, Any]:
    from sqlalchemy import Engine, event

    from intake import services

    ways = [
        ("one at a time, read afresh", 1, False),
        ("batches, read afresh", None, False),
        ("batches, cached", None, True),
    ]
    results: dict[str, Any] = {}
    made: list[list[tuple[Any, ...]]] = []
    default_batch = services.PROCESS_BATCH_SIZE
    for n, (name, batch_size, cache) in enumerate(ways):
        runtime = runtime_for(workdir, cache)
        ids = submit(runtime, batch, n * 100_000)
        statements = [0]

        def count(*_: Any, statements: list[int] = statements) -> None:
            statements[0] += 1

        services.PROCESS_BATCH_SIZE = batch_size or default_batch
        event.listen(Engine, "before_cursor_execute", count)
        started = time.perf_counter()
        after = 0
        try:
            while routed := services._process_batch(runtime, after):
                after = routed[-1]
        finally:
            seconds = time.perf_counter() - started
            event.remove(Engine, "before_cursor_execute", count)
            services.PROCESS_BATCH_SIZE = default_batch
        made.append(decisions(runtime, ids))
        states = Counter(d[0] for d in made[-1])
        results[name] = {
            "tickets": len(ids),
            "seconds": round(seconds, 2),
            "per_second": round(len(ids) / seconds, 1),
            "statements_per_ticket": round(statements[0] / len(ids), 2),
            "batch_size": services.PROCESS_BATCH_SIZE if batch_size is None else batch_size,
            "states": dict(states),
        }
        bench_intake.log(f"{name}: {results[name]}")
        runtime.db.dispose()
    first = results[ways[0][0]]["per_second"]
    for name, *_ in ways:
        results[name]["ratio"] = round(results[name]["per_second"] / first, 2)
    results["same_decisions"] = made[0] == made[1] == made[2]
    return results


def with_workers(workdir: Path, batch: list[str], children: Any, timeout: float) -> dict[str, Any]:
    from sqlalchemy import func, select

    from hotline_core.models import Ticket
    from intake.services import process_waiting_job

    runtime = runtime_for(workdir, True)
    ids = submit(runtime, batch, 900_000)
    runtime.jobs.connection.flushdb()
    runtime.jobs.enqueue(process_waiting_job, queue="routing")
    env = bench_intake.hotline_env(workdir, 0)
    env.pop("PUBLIC_BASE_URL")
    started, pid = time.monotonic(), os.getpid()
    workers = [
        children.start(f"worker-{i}", [str(bench_intake.BIN / "hotline"), "worker", "--name", f"route-{pid}-{i}"], env)
        for i in (1, 2)
    ]
    ready = first_routed = None
    routed = 0
    while time.monotonic() < started + timeout:
        for i, proc in enumerate(workers, 1):
            if proc.poll() is not None:
                raise RuntimeError(f"worker-{i} exited:\n{children.tail(f'worker-{i}')}")
        with runtime.db.session() as s:
            routed = (
                s.scalar(
                    select(func.count()).select_from(Ticket).where(Ticket.id.in_(ids), Ticket.processed_at.is_not(None))
                )
                or 0
            )
        now = time.monotonic()
        if ready is None and all("Listening on" in children.tail(f"worker-{i}", 50) for i in (1, 2)):
            ready = now
        if routed and first_routed is None:
            first_routed = now
        if routed >= len(ids):
            break
        time.sleep(0.05)
    finished = time.monotonic()
    for proc in workers:
        children.stop(proc)
    begin = first_routed or ready or started
    seconds = max(finished - begin, 1e-6)
    runtime.db.dispose()
    return {
        "tickets": len(ids),
        "routed": routed,
        "seconds": round(seconds, 2),
        "per_second": round(routed / seconds, 1),
        "target_per_second": TARGET_PER_SECOND,
        "pass": routed >= len(ids) and routed / seconds >= TARGET_PER_SECOND,
    }


def report(data: dict[str, Any]) -> str:
    lines = [f"texts: {data['texts']}; load average {data['load']}", "", "In one process (PostgreSQL, demo city):"]
    lines.append(f"  {'way':<28} {'tickets/s':>10} {'ratio':>6} {'statements/ticket':>18}  states")
    for name, row in data["in_process"].items():
        if isinstance(row, dict):
            lines.append(
                f"  {name:<28} {row['per_second']:>10.1f} {row['ratio']:>6.2f} {row['statements_per_ticket']:>18.2f}"
                f"  {row['states']}"
            )
    lines.append(f"  same decisions all three ways: {'yes' if data['in_process']['same_decisions'] else 'NO'}")
    if data.get("workers"):
        w = data["workers"]
        verdict = "PASS" if w["pass"] else "FAIL"
        lines += [
            "",
            f"Two `hotline worker` processes: {w['routed']} of {w['tickets']} tickets routed in {w['seconds']} s"
            f" = {w['per_second']}/s (target >= {w['target_per_second']:.0f}/s: {verdict})",
        ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=600, help="tickets per in-process way (default 600)")
    parser.add_argument("--worker-tickets", type=int, default=3000, help="tickets for the two workers (0: skip)")
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    bench_intake.set_targets("hotline_bench_routing", REDIS_DB)
    with tempfile.TemporaryDirectory(prefix="hotline-route-bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "instance").mkdir()
        children = bench_intake.Children(workdir)
        try:
            bench_intake.prepare_database()
            bench_intake.redis_connection().flushdb()
            directory = bench_intake.load_demo_city(workdir)
            batch, source = texts(max(args.tickets, args.worker_tickets))
            data: dict[str, Any] = {"texts": source, "directory": directory}
            data["in_process"] = in_process(workdir, batch[: args.tickets])
            if args.worker_tickets:
                data["workers"] = with_workers(workdir, batch[: args.worker_tickets], children, args.timeout)
            data["load"] = bench_intake.loadavg()
        finally:
            children.stop_all()
    print(json.dumps(data, indent=2, ensure_ascii=False) if args.json else report(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
