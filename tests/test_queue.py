"""The job queue: the same RQ jobs on the in-process stand-in and on Redis."""

import time

import pytest

from hotline_core.queue import JobQueue, PeriodicJob
from tests import jobs
from tests.conftest import wait_for


@pytest.fixture(autouse=True)
def _clear():
    jobs.RAN.clear()


@pytest.fixture
def embedded():
    """An in-process queue with its worker threads, whatever backend the suite runs on
    (the Redis path with real worker processes is covered by test_worker_process.py)."""
    queue = JobQueue(None)
    queue.start_embedded()
    yield queue
    queue.stop_embedded()


def test_the_embedded_worker_thread_runs_jobs(embedded):
    embedded.enqueue(jobs.remember, "now")
    wait_for(lambda: jobs.RAN, timeout=5)
    assert jobs.RAN[0][0] == "now"


def test_the_embedded_mode_runs_scheduled_jobs(embedded):
    enqueued_at = time.monotonic()
    embedded.enqueue(jobs.remember, "later", delay=2)
    wait_for(lambda: jobs.RAN, timeout=8)
    label, ran_at = jobs.RAN[0]
    # RQ keeps scheduled times to the whole second, so a 2 s delay runs after 1 to 3 s.
    assert label == "later" and 1.0 <= ran_at - enqueued_at <= 4


def test_the_embedded_runner_stops_cleanly():
    queue = JobQueue(None)
    runner = queue.start_embedded()
    queue.stop_embedded()
    assert not any(thread.is_alive() for thread in runner.threads)


def test_jobs_wait_for_the_commit_and_vanish_with_a_rollback(runtime):
    with runtime.db.session() as s:
        s.add(user_row("committed"))
        runtime.jobs.enqueue_after_commit(s, jobs.remember, "committed")
        s.flush()
        assert runtime.jobs.pending_count() == 0
        s.commit()
    assert runtime.jobs.pending_count() == 1
    with runtime.db.session() as s:
        s.add(user_row("rolled-back"))
        runtime.jobs.enqueue_after_commit(s, jobs.remember, "rolled back")
        s.flush()
        s.rollback()
        s.commit()
    assert runtime.jobs.pending_count() == 1
    runtime.jobs.run_burst()
    assert [label for label, _ in jobs.RAN] == ["committed"]


def user_row(name):
    from hotline_core.models import User

    return User(username=name, password_hash="x", display_name=name, role="leader")


def test_the_beat_enqueues_each_periodic_job_once_per_period_across_processes(runtime):
    other_process = JobQueue.__new__(JobQueue)
    other_process.__dict__.update(runtime.jobs.__dict__)  # same Redis, separate beat
    job = PeriodicJob("test-remember", jobs.remember, every=60, queue="default")
    runtime.jobs.periodic = [job]
    other_process.periodic = [job]
    now = 1_800_000_000.0
    assert runtime.jobs.beat(now) == ["test-remember"]
    assert other_process.beat(now + 1) == []
    assert runtime.jobs.beat(now + 61) == ["test-remember"]


def test_an_unreachable_redis_makes_enqueue_report_failure_not_raise():
    broken = JobQueue("redis://127.0.0.1:1/0")
    assert broken.enqueue(jobs.remember, "x") is False


def test_a_job_named_by_a_dotted_string_is_refused_when_enqueued():
    embedded = JobQueue(None)
    with pytest.raises(TypeError, match="function reference"):
        embedded.enqueue("tests.jobs.remember", "x")


def test_every_periodic_job_is_a_function_reference():
    from hotline_app.bootstrap import PERIODIC_JOBS

    assert PERIODIC_JOBS and all(callable(job.func) and not isinstance(job.func, str) for job in PERIODIC_JOBS)
