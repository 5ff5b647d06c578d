"""Build the runtime once per process: database, job queue, event subscriptions, periodic jobs."""

from __future__ import annotations

import logging

from hotline_core import outbox
from hotline_core.db import Database
from hotline_core.events import ComplaintReceived, EventBus, MatterAsked, TextArrived
from hotline_core.queue import JobQueue, PeriodicJob
from hotline_core.runtime import Runtime, set_current
from hotline_core.settings import Settings
from hotline_core.twilio_gateway import TwilioGateway
from intake import evidence, inbound
from intake import services as intake_services
from mystery_calls import services as mystery
from responders import survey
from responders.survey import intercept_sms
from routing import escalation
from routing.services import describe_matter, on_complaint_received
from stats import facts, reports
from webhooks import processors as inbound_processors

log = logging.getLogger(__name__)

PERIODIC_JOBS = (
    PeriodicJob("inbound-sweep", inbound.sweep_job, every=30),
    PeriodicJob("unprocessed-tickets-sweep", intake_services.sweep_unprocessed_job, every=60),
    PeriodicJob("outbox-sweep", outbox.sweep_job, every=15),
    PeriodicJob("escalation-sweep", escalation.sweep_job, every=60),
    PeriodicJob("survey-no-reply-sweep", survey.sweep_no_reply_job, every=300),
    PeriodicJob("mystery-stale-call-sweep", mystery.flag_stale_job, every=300),
    PeriodicJob("stats-facts-refresh", facts.refresh_job, every=60),
    PeriodicJob("evidence-keep-sweep", evidence.sweep_job, every=300),
)


def bootstrap(settings: Settings | None = None, *, make_current: bool = True) -> Runtime:
    settings = settings or Settings.from_env()

    runtime = Runtime(
        settings=settings,
        db=Database(settings.database_url),
        jobs=JobQueue(settings.redis_url),
        events=EventBus(),
        twilio=TwilioGateway(settings),
    )
    for job in PERIODIC_JOBS:
        runtime.jobs.add_periodic(job)
    # The weekly bulletin (每周一报): Monday morning in the city's time (HOTLINE_BULLETIN_CRON).
    runtime.jobs.add_periodic(
        PeriodicJob("weekly-bulletin", reports.weekly_job, cron=settings.bulletin_cron, timezone=settings.timezone)
    )
    runtime.events.subscribe(ComplaintReceived, on_complaint_received)
    runtime.events.subscribe(TextArrived, intercept_sms)
    runtime.events.subscribe(MatterAsked, describe_matter)  # a new matter in an open SMS thread
    inbound_processors.subscribe(runtime.events)  # stored webhooks: one processor per kind
    if settings.skip_twilio_signature:
        log.warning("!!! TWILIO_SKIP_SIGNATURE is ON: webhooks are accepted unsigned. Development only. !!!")
    if not settings.twilio_configured:
        log.warning("No Twilio credentials: outbound SMS are recorded in the outbox, not sent.")
    if make_current:
        set_current(runtime)
    return runtime
