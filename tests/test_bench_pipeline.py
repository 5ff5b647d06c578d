"""bench/pipeline.py's own arithmetic: percentiles, the burst's recovery time, rates and the correctness
accounting. The benchmark's figures are only as right as these; the benchmark itself is run by hand."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_pipeline", REPO / "bench" / "pipeline.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_pipeline"] = module
    spec.loader.exec_module(module)
    return module


def test_percentile_is_the_nearest_rank(bench: ModuleType) -> None:
    values = [float(v) for v in range(100, 0, -1)]  # unsorted on purpose
    assert bench.percentile(values, 50) == 50.0
    assert bench.percentile(values, 95) == 95.0
    assert bench.percentile(values, 99) == 99.0
    assert bench.percentile(values, 100) == 100.0
    assert bench.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert bench.percentile([7.0], 99) == 7.0


def test_percentile_of_nothing_is_none(bench: ModuleType) -> None:
    assert bench.percentile([], 95) is None
    assert bench.summarize([]) == {"count": 0, "p50": None, "p95": None, "p99": None, "max": None}


def test_recovery_is_zero_when_no_text_after_the_burst_was_late(bench: ModuleType) -> None:
    assert bench.recovery_time([(101.0, 0.5), (102.0, 1.9)], burst_end=100.0, target=2.0) == 0.0


def test_recovery_ends_at_the_first_text_on_time_after_the_last_late_one(bench: ModuleType) -> None:
    samples = [(100.5, 9.0), (101.0, 1.0), (102.0, 3.0), (103.0, 1.5), (104.0, 1.0)]  # 101 on time, 102 late again
    assert bench.recovery_time(samples, burst_end=100.0, target=2.0) == pytest.approx(3.0)


def test_a_text_never_served_counts_as_late(bench: ModuleType) -> None:
    assert bench.recovery_time([(101.0, None), (102.0, 0.5)], burst_end=100.0, target=2.0) == pytest.approx(2.0)


def test_no_recovery_when_the_last_text_is_still_late(bench: ModuleType) -> None:
    assert bench.recovery_time([(101.0, 0.5), (102.0, 2.5)], burst_end=100.0, target=2.0) is None


def test_rate_windows_give_the_busiest_second_and_the_mean(bench: ModuleType) -> None:
    times = [10.0, 10.1, 10.2, 10.9, 11.5, 13.0, 99.0]  # 99 lies outside the span
    peak, mean = bench.rate_windows(times, start=10.0, end=14.0)
    assert peak == 4.0  # 10.0 .. 10.9 within one second
    assert mean == pytest.approx(6 / 4)


def test_schedule_spaces_each_phase_at_its_rate(bench: ModuleType) -> None:
    plan = bench.schedule(10.0, [("steady", 1.0, 1), ("burst", 0.5, 10)], start=100.0)
    assert [phase for phase, _ in plan].count("steady") == 10
    assert [phase for phase, _ in plan].count("burst") == 50
    assert plan[1][1] == pytest.approx(100.1)
    assert plan[10][1] == pytest.approx(101.0)
    assert plan[11][1] == pytest.approx(101.01)


def _outbox(bench: ModuleType, *rows: tuple[int, str, str, str]) -> list:
    return [
        bench.OutboxRow(i, ticket, kind, to, body, "queued", True) for i, (ticket, kind, to, body) in enumerate(rows, 1)
    ]


def _clean_run(bench: ModuleType) -> dict:
    outbox = _outbox(
        bench,
        (1, "acknowledgement", "+8613700000001", "ack 1"),
        (1, "assigned", "+8610000000001", "unit 1"),
        (2, "acknowledgement", "+8613700000002", "ack 2"),  # ticket 2 went to a dispatcher
    )
    return {
        "accepted": ["SM1", "SM2"],
        "tickets_by_sid": {"SM1": [1], "SM2": [2]},
        "outbox": outbox,
        "lead_phones": {1: ["+8610000000001"], 2: None},
        "received": [(r.to, r.body) for r in outbox],
    }


def test_a_clean_run_passes_the_correctness_check(bench: ModuleType) -> None:
    check = bench.correctness(**_clean_run(bench))
    assert check["passed"]
    assert (check["tickets"], check["routed_tickets"], check["twilio_received"]) == (2, 1, 3)


def test_the_same_sms_received_twice_fails_the_check(bench: ModuleType) -> None:
    run = _clean_run(bench)
    run["received"].append(("+8610000000001", "unit 1"))
    check = bench.correctness(**run)
    assert not check["passed"]
    assert check["twilio_duplicates"] == 1


def test_a_routed_ticket_whose_unit_was_not_told_fails_the_check(bench: ModuleType) -> None:
    run = _clean_run(bench)
    run["lead_phones"][1] = ["+8610000000001", "+8610000000009"]  # a second unit phone got nothing
    check = bench.correctness(**run)
    assert not check["passed"]
    assert check["unit_notifications_missing"] == 1


def test_a_text_without_its_ticket_or_acknowledgement_fails_the_check(bench: ModuleType) -> None:
    run = _clean_run(bench)
    run["tickets_by_sid"].pop("SM2")
    assert bench.correctness(**run)["texts_without_ticket"] == 1
    run = _clean_run(bench)
    run["outbox"] = [r for r in run["outbox"] if r.body != "ack 2"]
    run["received"] = [(r.to, r.body) for r in run["outbox"]]
    check = bench.correctness(**run)
    assert not check["passed"]
    assert check["acknowledgements_missing"] == 1


def test_a_due_message_never_received_is_lost_but_a_deferred_one_is_not(bench: ModuleType) -> None:
    run = _clean_run(bench)
    run["received"] = run["received"][:-1]  # "ack 2" never reached Twilio
    assert bench.correctness(**run)["outbox_due_not_received"] == 1
    run["outbox"][-1].due = False  # waiting for the quiet hours' end
    check = bench.correctness(**run)
    assert check["outbox_due_not_received"] == 0
    assert check["outbox_deferred"] == 1


def test_an_sms_the_outbox_never_queued_fails_the_check(bench: ModuleType) -> None:
    run = _clean_run(bench)
    run["received"].append(("+8613700000003", "from nowhere"))
    assert bench.correctness(**run)["twilio_unknown_to_outbox"] == 1


def test_top_frames_split_job_time_from_waiting_and_rank_functions(bench: ModuleType) -> None:
    job = "BaseWorker.work (rq/worker/base.py:673);BaseWorker.perform_job (rq/worker/base.py:1671);"
    job += "Job.perform (rq/job.py:1478);Job._execute (rq/job.py:1539);"
    raw = "\n".join(
        [
            job + "process_waiting_job (intake/services.py:380);route_new_ticket (routing/services.py:160);"
            "Connection.execute (sqlalchemy/engine/base.py:9) 30",
            job + "process_waiting_job (intake/services.py:380);route_new_ticket (routing/services.py:170);"
            "Session._autoflush (sqlalchemy/orm/session.py:3) 10",
            job + "dispatch_job (hotline_core/outbox.py:242) 10",
            "BaseWorker.work (rq/worker/base.py:673);BaseWorker.dequeue_job_and_maintain_ttl (rq/worker/base.py:5);"
            "Redis.blpop (redis/client.py:3) 50",
            "Thread.run (threading.py:1);PubSubWorkerThread.run (redis/client.py:1776) 500",
        ]
    )
    top = bench.top_frames(raw)
    assert (top["samples"], top["running_a_job"], top["waiting_for_a_job"]) == (600, 50, 50)
    assert top["by_job"] == [
        ("process_waiting_job (intake/services.py)", 40),
        ("dispatch_job (hotline_core/outbox.py)", 10),
    ]
    assert top["own"][0] == ("Connection.execute (sqlalchemy/engine/base.py)", 30)
    assert top["autoflush"] == 10
    assert top["inclusive_project"][:2] == [
        ("process_waiting_job (intake/services.py)", 40),
        ("route_new_ticket (routing/services.py)", 40),
    ]
