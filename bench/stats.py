"""Benchmark the leaders' statistics (stats/services.py) on a million tickets in PostgreSQL. Not a test.

    .venv/bin/python bench/stats.py                       # load 1,000,000 tickets (~30 s on 2 cores), measure
    .venv/bin/python bench/stats.py --keep                # reuse the loaded database when its row count matches
    .venv/bin/python bench/stats.py --tickets 200000 --json
    .venv/bin/python bench/stats.py --keep --explain      # also EXPLAIN ANALYZE every statement measured

What it does, all on this machine and bounded in time:

1. Creates its own database ``hotline_stats_bench`` on 127.0.0.1:5432 if missing, drops and recreates its
   schema, and migrates it with ``hotline_core.migrate.upgrade``. It never touches the databases ``test``
   (the test suite's) or ``hotline_bench`` (bench/intake.py's). With ``--keep`` and as many tickets as asked
   already loaded, loading is skipped (the migrations still run, so a new index is picked up).
2. Loads a realistic directory (40 units: 8 district governments and 32 departments; 20 level-1
   categories; 8 areas, each falling back to its district) and ``--tickets`` synthetic tickets over the
   12 months of 2026, streamed with COPY into ``tickets`` (the required columns) and ``ticket_facts``:
   channels 50% phone / 20% SMS / 30% web; skewed unit and category volumes; ~85% assigned to a unit;
   time to sign for lognormal around 2 h (sign-for deadline: 4 working hours), first contact a little
   later, resolution lognormal around 4 days (deadline 14 days, +14 with an approved extension); the
   on-time flags, "overdue" (~8%: a deadline passed unmet) and "escalated" (~2%: still unmet 36 h after the
   sign-for or five days after the resolution deadline) follow from those times; ~5% returns,
   ~3% extensions, ~4% reopened; ~60% answered a callback survey (80% solved, satisfaction 1-5 skewed
   high). Foreign keys and plain indexes of the two tables are dropped for the COPY and rebuilt after it
   (as pg_restore does), leaving the schema as migrated. Then VACUUM ANALYZE.
3. Measures, after a warm-up, ``--repeat`` rounds; each round runs the four calls in turn, so each
   service call and its baseline run under the same load (the machine may be shared):
   (a) the leaders' dashboard, ``summary(session, Filters(month), "unit", now=NOW)`` and its comparisons
       ``compared(...)`` (this month, the previous one and last year's) through a SQLAlchemy session;
   (b) its baseline: hand-written SQL computing the same figures for the same month, run with psycopg
       directly: the unit rows (counts, each clock's on time / late / not yet due judged at NOW,
       percentile_cont medians and p90s) and the comparisons (the three periods' totals in one scan,
       with the two medians the comparison table shows);
   (c) the monthly ranking, ``ranking(session, month_start, min_volume=50, now=NOW)``;
   (d) its baseline: hand-written SQL of the ranking's figures (each unit's counts with its tier, no
       medians: the ranking shows none) and the units' average mystery-call scores.
   Every figure of (a) and (c) is checked against (b) and (d). The default month, December, is read a
   week after it ends, so its last resolutions are still not yet due.
   Targets: dashboard and ranking each < 300 ms (median) and within 1.2x of their baseline (ratio of the
   medians; the median of the rounds' own ratios is reported beside it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import queue
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

BENCH_DB = "hotline_stats_bench"
PG = "127.0.0.1"
PORT = 5432
NEVER_DB = {"test", "hotline_bench", "postgres"}  # the test suite's, bench/intake.py's, the maintenance db
TARGET_MS = 300.0
TARGET_RATIO = 1.2
YEAR = 2026
LOCAL = timedelta(hours=8)  # Asia/Shanghai, no daylight saving
NOW = datetime(YEAR + 1, 1, 8, tzinfo=UTC)  # the facts were refreshed a week into the next year
CHUNK = 100_000
HOUR = 3600.0
DAY = 86400.0
SIGN_DUE_WORKING = 4 * HOUR  # sign-for deadline, in working time
RESOLVE_DUE = 14 * DAY  # resolution deadline (clock), extended by EXTENSION_DAYS when approved
EXTENSION = 14 * DAY
# Escalated beyond the unit (supervision office) when still unmet this long after the deadline.
ESCALATE_SIGN = 36 * HOUR
ESCALATE_RESOLVE = 5 * DAY

DISTRICTS = [
    ("SARTU", "萨尔图区", "Sartu District"),
    ("RANGHULU", "让胡路区", "Ranghulu District"),
    ("LONGFENG", "龙凤区", "Longfeng District"),
    ("HONGGANG", "红岗区", "Honggang District"),
    ("DATONG", "大同区", "Datong District"),
    ("ZHAOZHOU", "肇州县", "Zhaozhou County"),
    ("ZHAOYUAN", "肇源县", "Zhaoyuan County"),
    ("LINDIAN", "林甸县", "Lindian County"),
]
AREA_WEIGHTS = [0.22, 0.18, 0.14, 0.09, 0.08, 0.11, 0.10, 0.08]
DEPARTMENTS = [
    ("HOUSING", "市住房和城乡建设局", "Housing and Urban-Rural Development Bureau"),
    ("HRSS", "市人力资源和社会保障局", "Human Resources and Social Security Bureau"),
    ("EDUCATION", "市教育局", "Education Bureau"),
    ("COMMERCE", "市商务局", "Commerce Bureau"),
    ("ECOLOGY", "市生态环境局", "Ecology and Environment Bureau"),
    ("HEALTH", "市卫生健康委员会", "Health Commission"),
    ("TRANSPORT", "市交通运输局", "Transport Bureau"),
    ("SERVICE-CENTER", "市政务服务中心", "City Government Service Center"),
    ("POLICE", "市公安局", "Public Security Bureau"),
    ("MARKET", "市市场监督管理局", "Market Regulation Administration"),
    ("URBAN", "市城市管理综合执法局", "Urban Management and Law Enforcement Bureau"),
    ("LAND", "市自然资源和规划局", "Natural Resources and Planning Bureau"),
    ("CIVIL", "市民政局", "Civil Affairs Bureau"),
    ("FINANCE", "市财政局", "Finance Bureau"),
    ("TAX", "市税务局", "Taxation Bureau"),
    ("MEDICARE", "市医疗保障局", "Healthcare Security Bureau"),
    ("WATER-AUTH", "市水务局", "Water Affairs Bureau"),
    ("AGRICULTURE", "市农业农村局", "Agriculture and Rural Affairs Bureau"),
    ("CULTURE", "市文化广电和旅游局", "Culture, Radio, Television and Tourism Bureau"),
    ("EMERGENCY", "市应急管理局", "Emergency Management Bureau"),
    ("HOUSING-FUND", "市住房公积金管理中心", "Housing Provident Fund Center"),
    ("REGISTRY", "市不动产登记中心", "Real Estate Registration Center"),
    ("HEATING", "市热力公司", "City Heating Company"),
    ("WATER", "市供水公司", "City Water Supply Company"),
    ("POWER", "市供电公司", "City Power Supply Company"),
    ("GAS", "市燃气公司", "City Gas Company"),
    ("BUS", "市公交集团", "City Bus Group"),
    ("JUSTICE", "市司法局", "Justice Bureau"),
    ("VETERANS", "市退役军人事务局", "Veterans Affairs Bureau"),
    ("SCIENCE", "市科学技术局", "Science and Technology Bureau"),
    ("INDUSTRY", "市工业和信息化局", "Industry and Information Technology Bureau"),
    ("PETITIONS", "市信访局", "Letters and Visits Bureau"),
]
# code, zh, en, weight, lead department (index into DEPARTMENTS), share handled by the area's district
CATEGORIES = [
    ("CONSTRUCTION", "城乡建设", "Urban and rural construction", 14, 0, 0.45),
    ("UTILITIES", "供水供电供暖供气", "Water, power, heating and gas", 12, 22, 0.10),
    ("PROPERTY", "物业管理", "Property management", 11, 0, 0.50),
    ("LABOUR", "劳动和社会保障", "Labour and social security", 9, 1, 0.20),
    ("URBAN", "市容城管", "City appearance and urban management", 8, 10, 0.55),
    ("TRANSPORT", "交通运输", "Transport", 7, 6, 0.20),
    ("MARKET", "市场监管", "Market regulation", 6, 9, 0.25),
    ("ENVIRONMENT", "环境保护", "Environmental protection", 5, 4, 0.35),
    ("EDUCATION", "教育文体", "Education, culture and sports", 5, 2, 0.30),
    ("HEALTH", "卫生计生", "Health and family planning", 4, 5, 0.20),
    ("WORKSTYLE", "作风效能", "Work style and efficiency", 4, 7, 0.40),
    ("SECURITY", "治安管理", "Public order", 3, 8, 0.30),
    ("LAND", "国土规划", "Land and planning", 2.5, 11, 0.40),
    ("CIVIL", "民政救助", "Civil affairs and relief", 2, 12, 0.50),
    ("MEDICARE", "医疗保障", "Medical insurance", 2, 15, 0.10),
    ("GOV-SERVICES", "政务服务", "Government services", 1.5, 7, 0.30),
    ("AGRICULTURE", "农村农业", "Agriculture and rural affairs", 1.5, 17, 0.60),
    ("TAX", "财税金融", "Tax and finance", 1, 14, 0.10),
    ("TOURISM", "商贸旅游", "Commerce and tourism", 1, 3, 0.20),
    ("OTHER", "其他", "Other", 1, 31, 0.30),
]
CHANNELS = np.array(["phone", "sms", "web"])
CHANNEL_P = [0.50, 0.20, 0.30]
# Complaints per local hour of day (relative).
HOURLY = np.array([2, 1, 1, 1, 1, 2, 4, 8, 16, 20, 20, 17, 10, 12, 17, 18, 16, 13, 9, 8, 7, 6, 4, 3], dtype=float)
# Relative volume per month: heating season and the summer rains bring more complaints.
MONTHLY = [1.25, 0.95, 1.05, 0.95, 0.95, 1.0, 1.1, 1.1, 0.95, 1.0, 1.15, 1.3]
SATISFACTION_SOLVED = [0.02, 0.03, 0.09, 0.31, 0.55]
SATISFACTION_UNSOLVED = [0.24, 0.24, 0.26, 0.16, 0.10]

TICKET_COLUMNS = [
    "id",
    "number",
    "channel",
    "language",
    "citizen_phone",
    "citizen_phone_valid",
    "anonymous",
    "contact_consent",
    "text",
    "category_id",
    "area_id",
    "state",
    "lead_unit_id",
    "redo_count",
    "resolved_at",
    "needs_review",
    "created_at",
    "updated_at",
    "processed_at",
]
FACT_COLUMNS = [
    "ticket_id",
    "created_at",
    "day",
    "month",
    "channel",
    "unit_id",
    "unit_tier",
    "category_id",
    "area_id",
    "state",
    "assigned",
    "sign_seconds",
    "sign_working_seconds",
    "contact_seconds",
    "resolve_seconds",
    "resolve_working_seconds",
    "sign_on_time",
    "contact_on_time",
    "resolve_on_time",
    "responded_in_time",
    "overdue",
    "escalated",
    "returns",
    "extensions",
    "reopened",
    "surveyed",
    "solved",
    "satisfaction",
    "refreshed_at",
    "signed_at",
    "contacted_at",
    "responded_at",
    "resolved_at",
    "sign_due_at",
    "resolve_due_at",
]

# The figures of stats/facts.py, hand-written: each clock judged at %(now)s (on time, late, not yet due).
COUNTS = """
       count(*),
       count(*) FILTER (WHERE assigned),
       count(*) FILTER (WHERE overdue),
       count(*) FILTER (WHERE escalated),
       sum(returns),
       sum(extensions),
       count(*) FILTER (WHERE reopened > 0),
       count(*) FILTER (WHERE surveyed),
       count(*) FILTER (WHERE solved),
       count(satisfaction),
       count(*) FILTER (WHERE satisfaction >= 4),
       count(*) FILTER (WHERE signed_at <= sign_due_at),
       count(*) FILTER (WHERE signed_at > sign_due_at OR (signed_at IS NULL AND sign_due_at < %(now)s)),
       count(*) FILTER (WHERE signed_at IS NULL AND sign_due_at >= %(now)s),
       count(*) FILTER (WHERE contacted_at <= sign_due_at),
       count(*) FILTER (WHERE contacted_at > sign_due_at OR (contacted_at IS NULL AND sign_due_at < %(now)s)),
       count(*) FILTER (WHERE contacted_at IS NULL AND sign_due_at >= %(now)s),
       count(*) FILTER (WHERE resolved_at <= resolve_due_at),
       count(*) FILTER (WHERE resolved_at > resolve_due_at OR (resolved_at IS NULL AND resolve_due_at < %(now)s)),
       count(*) FILTER (WHERE resolved_at IS NULL AND resolve_due_at >= %(now)s),
       count(*) FILTER (WHERE responded_at <= sign_due_at),
       count(*) FILTER (WHERE responded_at > sign_due_at OR (responded_at IS NULL AND sign_due_at < %(now)s)),
       count(*) FILTER (WHERE responded_at IS NULL AND sign_due_at >= %(now)s)"""
# The medians and 90th percentiles (each a sort of its group's values: most of a statement's time).
PERCENTILES = {
    "sign_median": "percentile_cont(0.5) WITHIN GROUP (ORDER BY sign_seconds)",
    "sign_p90": "percentile_cont(0.9) WITHIN GROUP (ORDER BY sign_seconds)",
    "sign_working_median": "percentile_cont(0.5) WITHIN GROUP (ORDER BY sign_working_seconds)",
    "sign_working_p90": "percentile_cont(0.9) WITHIN GROUP (ORDER BY sign_working_seconds)",
    "contact_median": "percentile_cont(0.5) WITHIN GROUP (ORDER BY contact_seconds)",
    "contact_p90": "percentile_cont(0.9) WITHIN GROUP (ORDER BY contact_seconds)",
    "resolve_median": "percentile_cont(0.5) WITHIN GROUP (ORDER BY resolve_seconds)",
    "resolve_p90": "percentile_cont(0.9) WITHIN GROUP (ORDER BY resolve_seconds)",
    "resolve_working_median": "percentile_cont(0.5) WITHIN GROUP (ORDER BY resolve_working_seconds)",
    "resolve_working_p90": "percentile_cont(0.9) WITHIN GROUP (ORDER BY resolve_working_seconds)",
}
# What the pages show: the dashboard's rows every percentile, its comparison table two medians, the
# ranking none (it ranks on the three rates).
COMPARED_PERCENTILES = ("sign_median", "resolve_median")
AGGREGATES = COUNTS + ",\n       " + ",\n       ".join(PERCENTILES.values())
COMPARED_AGGREGATES = COUNTS + ",\n       " + ",\n       ".join(PERCENTILES[p] for p in COMPARED_PERCENTILES)
BASELINE_SQL = f"""
SELECT unit_id, {AGGREGATES}
  FROM ticket_facts
 WHERE day BETWEEN %(start)s AND %(end)s
 GROUP BY unit_id
"""  # noqa: S608 (constants only)
# The comparisons (环比, 同比): the totals of this period, the previous one and last year's, in one scan,
# with the medians the comparison table shows.
COMPARISON_SQL = f"""
SELECT CASE WHEN day BETWEEN %(start)s AND %(end)s THEN 'current'
            WHEN day BETWEEN %(prev_start)s AND %(prev_end)s THEN 'previous' ELSE 'year_ago' END,
       {COMPARED_AGGREGATES}
  FROM ticket_facts
 WHERE day BETWEEN %(start)s AND %(end)s OR day BETWEEN %(prev_start)s AND %(prev_end)s
    OR day BETWEEN %(year_start)s AND %(year_end)s
 GROUP BY 1
"""  # noqa: S608 (constants only)
# The monthly ranking's figures: the units' tiers and names, each unit's counts (the three rates), and its
# average latest mystery-call score for calls made in the month.
UNITS_SQL = "SELECT id, kind, name_zh FROM units"
RANKING_SQL = f"""
SELECT unit_id, {COUNTS}
  FROM ticket_facts
 WHERE day BETWEEN %(start)s AND %(end)s AND unit_id IS NOT NULL
 GROUP BY unit_id
"""  # noqa: S608 (constants only)
MYSTERY_SQL = """
SELECT h.unit_id, round(avg(s.total)::numeric, 2)
  FROM mystery_calls c
  JOIN audited_hotlines h ON h.id = c.hotline_id
  JOIN LATERAL (SELECT total FROM call_scores WHERE mystery_call_id = c.id ORDER BY number DESC LIMIT 1) s ON true
 WHERE c.state = 'completed' AND date(c.planned_at) BETWEEN %(start)s AND %(end)s
 GROUP BY h.unit_id
"""
BASELINE_FIELDS = [
    "count",
    "assigned",
    "overdue",
    "escalated",
    "returns",
    "extensions",
    "reopened",
    "surveyed",
    "solved",
    "rated",
    "satisfied",
    "sign_on",
    "sign_late",
    "sign_pending",
    "contact_on",
    "contact_late",
    "contact_pending",
    "resolve_on",
    "resolve_late",
    "resolve_pending",
    "responded",
    "respond_late",
    "respond_pending",
]
COUNT_FIELDS = list(BASELINE_FIELDS)
BASELINE_FIELDS += [
    "sign_median",
    "sign_p90",
    "sign_working_median",
    "sign_working_p90",
    "contact_median",
    "contact_p90",
    "resolve_median",
    "resolve_p90",
    "resolve_working_median",
    "resolve_working_p90",
]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- database --------------------------------------------------------------------------------


def libpq_url(db: str | None = None) -> str:
    return f"postgresql://{PG}:{PORT}/{db or BENCH_DB}"


def sqlalchemy_url() -> str:
    return f"postgresql+psycopg://{PG}:{PORT}/{BENCH_DB}"


def connect(db: str | None = None, **kwargs: Any) -> Any:
    import psycopg

    db = db or BENCH_DB
    assert db == "postgres" or db not in NEVER_DB
    return psycopg.connect(libpq_url(db), connect_timeout=5, **kwargs)


def ensure_database() -> None:
    assert BENCH_DB not in NEVER_DB
    with connect("postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DB,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
            log(f"created database {BENCH_DB}")


def loaded_tickets() -> tuple[int, int] | None:
    """(tickets, facts) already in the database, or None without a schema."""
    with connect(autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('public.ticket_facts')").fetchone()[0] is None:
            return None
        row = conn.execute("SELECT (SELECT count(*) FROM tickets), (SELECT count(*) FROM ticket_facts)").fetchone()
        return int(row[0]), int(row[1])


def migrate() -> None:
    from hotline_core.migrate import upgrade

    upgrade(sqlalchemy_url())


def rebuild_schema() -> None:
    with connect(autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
    migrate()


# --- the directory ---------------------------------------------------------------------------


def load_directory(conn: Any) -> dict[str, Any]:
    """Units 1-8 are the district governments, 9-40 the departments; categories 1-20; areas 1-8."""
    with conn.cursor() as cur:
        units = [
            (i, f"GOV-{code}", f"{zh}人民政府", f"{en} Government", "district", "[]", "[]")
            for i, (code, zh, en) in enumerate(DISTRICTS, start=1)
        ]
        units += [
            (len(DISTRICTS) + i, code, zh, en, "department", "[]", "[]")
            for i, (code, zh, en) in enumerate(DEPARTMENTS, start=1)
        ]
        cur.executemany(
            "INSERT INTO units (id, code, name_zh, name_en, kind, contact_phones, service_hotlines, active)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, true)",
            units,
        )
        cur.executemany(
            "INSERT INTO categories (id, code, name_zh, name_en, level, keywords, urgency, active)"
            " VALUES (%s, %s, %s, %s, 1, '[]', 'general', true)",
            [(i, c[0], c[1], c[2]) for i, c in enumerate(CATEGORIES, start=1)],
        )
        cur.executemany(
            "INSERT INTO areas (id, code, name_zh, name_en, aliases, fallback_unit_id)"
            " VALUES (%s, %s, %s, %s, '[]', %s)",
            [(i, code, zh, en, i) for i, (code, zh, en) in enumerate(DISTRICTS, start=1)],
        )
        for table in ("units", "categories", "areas"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")  # noqa: S608
    return {"units": len(units), "districts": len(DISTRICTS), "categories": len(CATEGORIES), "areas": len(DISTRICTS)}


# --- synthetic tickets -----------------------------------------------------------------------


def creation_times(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds since 2026-01-01 00:00 local time, sorted: weekdays busier than weekends, days than nights."""
    days = np.arange(365)
    first = date(YEAR, 1, 1)
    weights = np.array(
        [
            MONTHLY[(first + timedelta(days=int(d))).month - 1]
            * (0.55 if (first + timedelta(days=int(d))).weekday() >= 5 else 1.0)
            for d in days
        ]
    )
    day = rng.choice(days, size=n, p=weights / weights.sum())
    hour = rng.choice(24, size=n, p=HOURLY / HOURLY.sum())
    seconds = day * 86400 + hour * 3600 + rng.integers(0, 3600, size=n)
    return np.sort(seconds)


def working_share(local_seconds: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Share of clock time that is working time over the next hours (08:30-12:00, 13:30-17:30 on weekdays)."""
    n = len(local_seconds)
    hour = (local_seconds % 86400) / 3600
    weekday = (local_seconds // 86400 + date(YEAR, 1, 1).weekday()) % 7
    office = (weekday < 5) & (hour >= 8.5) & (hour < 16.5)
    return np.where(office, rng.uniform(0.7, 1.0, n), rng.uniform(0.15, 0.5, n))


def lognormal(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return np.exp(rng.normal(math.log(median), sigma, n))


def generate(rng: np.random.Generator, first_id: int, local: np.ndarray) -> dict[str, np.ndarray]:
    """Every ticket's facts for a chunk of creation times (seconds since 2026-01-01 local)."""
    n = len(local)
    f: dict[str, np.ndarray] = {"id": np.arange(first_id, first_id + n)}
    now = (NOW + LOCAL - datetime(YEAR, 1, 1, tzinfo=UTC)).total_seconds()
    horizon = now - local  # seconds between creation and the refresh
    f["local"] = local
    f["channel"] = rng.choice(3, size=n, p=CHANNEL_P)
    cat_w = np.array([c[3] for c in CATEGORIES], dtype=float)
    f["category"] = rng.choice(len(CATEGORIES), size=n, p=cat_w / cat_w.sum())
    f["area"] = rng.choice(len(DISTRICTS), size=n, p=AREA_WEIGHTS)
    # ~15% answered by the call centre itself (consultations, duplicates): never assigned to a unit.
    assigned = rng.random(n) < 0.85
    lead = np.array([c[4] for c in CATEGORIES])[f["category"]] + len(DISTRICTS) + 1
    to_district = rng.random(n) < np.array([c[5] for c in CATEGORIES])[f["category"]]
    dept_w = 1.0 / np.arange(1, len(DEPARTMENTS) + 1) ** 1.4
    elsewhere = rng.choice(len(DEPARTMENTS), size=n, p=dept_w / dept_w.sum()) + len(DISTRICTS) + 1
    unit = np.where(to_district, f["area"] + 1, np.where(rng.random(n) < 0.8, lead, elsewhere))
    f["unit"] = np.where(assigned, unit, 0)
    f["assigned"] = assigned

    # Returns (the unit sends the ticket back to dispatch) delay signing.
    returns = np.where(assigned & (rng.random(n) < 0.05 / 0.85), 1 + (rng.random(n) < 0.15), 0)
    share = working_share(local, rng)
    dispatch = lognormal(rng, 600, 0.8, n)  # created -> assigned
    sign = lognormal(rng, 2 * HOUR, 0.53, n) * (1 + 1.5 * returns)
    signed = assigned & (rng.random(n) < 0.995) & (dispatch + sign < horizon)
    contact = sign + lognormal(rng, 20 * 60, 0.8, n)
    contacted = signed & (rng.random(n) < 0.99) & (dispatch + contact < horizon)
    extended = assigned & (rng.random(n) < 0.03 / 0.85)
    resolve = np.where(
        assigned,
        np.maximum(lognormal(rng, 4 * DAY, 0.72, n) * np.where(extended, 2.5, 1.0), dispatch + contact + 600),
        lognormal(rng, 20 * 60, 1.0, n),  # answered on the phone or by the operator
    )
    resolved = np.where(assigned, signed & (rng.random(n) < 0.996), rng.random(n) < 0.97) & (resolve < horizon)

    sign_due = SIGN_DUE_WORKING / share  # clock seconds after assignment
    resolve_due = RESOLVE_DUE + np.where(extended, EXTENSION, 0.0)
    f["sign"] = np.where(signed, sign, np.nan)
    f["sign_working"] = np.where(signed, sign * share, np.nan)
    f["contact"] = np.where(contacted, contact, np.nan)
    f["resolve"] = np.where(resolved, resolve, np.nan)
    f["resolve_working"] = np.where(resolved, resolve * rng.uniform(0.2, 0.3, n), np.nan)
    sign_on_time = signed & (sign <= sign_due)
    contact_on_time = contacted & (contact <= sign_due)
    resolve_on_time = resolved & (resolve <= resolve_due)
    f["sign_on_time"], f["contact_on_time"], f["resolve_on_time"] = sign_on_time, contact_on_time, resolve_on_time
    f["responded"] = sign_on_time & contact_on_time

    # Overdue: a deadline that has passed unmet. Escalated: still unmet 36 h (sign-for) or five days
    # (resolution) after it passed.
    sign_missed = assigned & ~sign_on_time & (dispatch + sign_due < horizon)
    resolve_missed = assigned & ~resolve_on_time & (resolve_due < horizon)
    f["overdue"] = sign_missed | resolve_missed
    sign_late = np.where(signed, sign, np.inf) - sign_due
    resolve_late = np.where(resolved, resolve, np.inf) - resolve_due
    f["escalated"] = (sign_missed & (sign_late > ESCALATE_SIGN)) | (resolve_missed & (resolve_late > ESCALATE_RESOLVE))
    f["returns"] = returns
    f["extensions"] = (extended & resolved).astype(int)
    f["reopened"] = np.where(resolved & (rng.random(n) < 0.04 / 0.96), 1 + (rng.random(n) < 0.1), 0)

    # Callback survey of resolved tickets: reopened ones are likelier "not solved", and "not solved" rates lower.
    surveyed = resolved & (rng.random(n) < 0.60 / 0.96)
    solved = surveyed & (rng.random(n) < np.where(f["reopened"] > 0, 0.5, 0.81))
    rated = surveyed & (rng.random(n) < 0.95)
    rating = np.where(
        solved,
        rng.choice(5, size=n, p=SATISFACTION_SOLVED),
        rng.choice(5, size=n, p=SATISFACTION_UNSOLVED),
    )
    f["surveyed"], f["solved"], f["rated"], f["rating"] = surveyed, solved, rated, rating + 1
    f["resolved"], f["signed"] = resolved, signed
    f["state"] = np.select(
        [surveyed, resolved, signed, assigned],
        ["closed", "resolved", "signed", "assigned"],
        default="dispatch",
    )
    f["dispatch"] = dispatch
    f["sign_due"], f["resolve_due"] = sign_due, resolve_due
    last = np.where(resolved, resolve, np.where(contacted, dispatch + contact, np.where(signed, dispatch + sign, 0)))
    f["updated"] = local + last + np.where(surveyed, 2 * DAY, 0)
    return f


# --- COPY formatting -------------------------------------------------------------------------

NULL = "\\N"


def nullable(values: list[str], present: np.ndarray) -> list[str]:
    out = np.array(values, dtype=object)
    out[~present] = NULL
    return out.tolist()


def ints(values: np.ndarray, present: np.ndarray | None = None) -> list[str]:
    strings = list(map(str, values.tolist()))
    return strings if present is None else nullable(strings, present)


def seconds_text(values: np.ndarray) -> list[str]:
    """Whole seconds (event times are stored to the second), NULL where NaN."""
    present = ~np.isnan(values)
    return nullable(list(map(str, np.where(present, np.rint(values), 0).astype(np.int64).tolist())), present)


def bools(values: np.ndarray, present: np.ndarray | None = None) -> list[str]:
    text = np.where(values, "t", "f").astype(object)
    if present is not None:
        text[~present] = NULL
    return text.tolist()


def timestamps(local_seconds: np.ndarray) -> list[str]:
    """UTC timestamps (the loading session runs with TimeZone=UTC)."""
    base = np.datetime64(f"{YEAR}-01-01T00:00:00") - np.timedelta64(8, "h")
    return (base + np.rint(local_seconds).astype(np.int64).astype("timedelta64[s]")).astype(str).tolist()


def rows(columns: list[list[str]]) -> str:
    return "\n".join(map("\t".join, zip(*columns, strict=True))) + "\n"


def chunk_text(f: dict[str, np.ndarray], rng: np.random.Generator) -> tuple[str, str]:
    n = len(f["id"])
    local = f["local"]
    created = timestamps(local)
    day_text = (np.datetime64(f"{YEAR}-01-01") + (local // 86400).astype("timedelta64[D]")).astype(str)
    month = day_text.astype("U7").tolist()
    assigned = f["assigned"]
    unit = ints(f["unit"], assigned)
    channel = CHANNELS[f["channel"]].tolist()
    category = ints(f["category"] + 1)
    area = ints(f["area"] + 1)
    state = f["state"].tolist()
    ids = ints(f["id"])
    resolved_at = nullable(timestamps(local + np.nan_to_num(f["resolve"])), f["resolved"])
    phone = ints(rng.integers(13_000_000_000, 19_000_000_000, n))
    tickets = [
        ids,
        [f"{YEAR}-{i:06d}" for i in f["id"].tolist()],
        channel,
        ["zh"] * n,
        ["+86" + p for p in phone],
        ["t"] * n,
        ["f"] * n,
        ["t"] * n,
        [f"投诉 #{i}" for i in f["id"].tolist()],
        category,
        area,
        state,
        unit,
        ints(f["reopened"]),
        resolved_at,
        ["f"] * n,
        created,
        timestamps(f["updated"]),
        timestamps(local + 5),
    ]
    tier = np.where(f["unit"] <= len(DISTRICTS), "district", "department").astype(object)
    tier[~assigned] = NULL
    facts = [
        ids,
        created,
        day_text.tolist(),
        month,
        channel,
        unit,
        tier.tolist(),
        category,
        area,
        state,
        bools(assigned),
        seconds_text(f["sign"]),
        seconds_text(f["sign_working"]),
        seconds_text(f["contact"]),
        seconds_text(f["resolve"]),
        seconds_text(f["resolve_working"]),
        bools(f["sign_on_time"], assigned),
        bools(f["contact_on_time"], assigned),
        bools(f["resolve_on_time"], assigned),
        bools(f["responded"]),
        bools(f["overdue"]),
        bools(f["escalated"]),
        ints(f["returns"]),
        ints(f["extensions"]),
        ints(f["reopened"]),
        bools(f["surveyed"]),
        bools(f["solved"], f["surveyed"]),
        ints(f["rating"], f["rated"]),
        [NOW.strftime("%Y-%m-%d %H:%M:%S")] * n,
        nullable(timestamps(local + f["dispatch"] + np.nan_to_num(f["sign"])), ~np.isnan(f["sign"])),
        nullable(timestamps(local + f["dispatch"] + np.nan_to_num(f["contact"])), ~np.isnan(f["contact"])),
        nullable(  # the later of signing and contact (contact always follows signing here)
            timestamps(local + f["dispatch"] + np.nan_to_num(f["contact"])), ~np.isnan(f["contact"]) & f["signed"]
        ),
        nullable(timestamps(local + np.nan_to_num(f["resolve"])), f["resolved"]),
        nullable(timestamps(local + f["dispatch"] + f["sign_due"]), assigned),
        nullable(timestamps(local + f["resolve_due"]), assigned),
    ]
    return rows(tickets), rows(facts)


def copy_text(cur: Any, table: str, columns: list[str], text: str) -> None:
    data = text.encode()
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        view = memoryview(data)
        for start in range(0, len(data), 1 << 20):
            copy.write(view[start : start + (1 << 20)])


def tally_chunk(f: dict[str, np.ndarray], tally: dict[str, int]) -> None:
    counts = {key: f[key] for key in ("assigned", "overdue", "escalated", "surveyed", "solved", "rated")}
    counts |= {
        "phone": f["channel"] == 0,
        "returns": f["returns"] > 0,
        "extensions": f["extensions"] > 0,
        "reopened": f["reopened"] > 0,
        "satisfied": f["rated"] & (f["rating"] >= 4),
        "sign_on_time": f["sign_on_time"],
    }
    for key, values in counts.items():
        tally[key] = tally.get(key, 0) + int(values.sum())


def produce(n: int, seed: int, out: queue.Queue[Any], tally: dict[str, int], timing: dict[str, float]) -> None:
    """Generate and format the chunks (in a thread, so Python works while PostgreSQL ingests the last chunk)."""
    try:
        rng = np.random.default_rng(seed)
        local = creation_times(rng, n)
        for start in range(0, n, CHUNK):
            t0 = time.perf_counter()
            f = generate(rng, start + 1, local[start : start + CHUNK])
            tally_chunk(f, tally)
            out.put((min(start + CHUNK, n), *chunk_text(f, rng)))
            timing["generating"] += time.perf_counter() - t0
        out.put(None)
    except BaseException as exc:  # handed to the consumer, which raises it
        out.put(exc)


@contextlib.contextmanager
def bulk_load(conn: Any, tables: tuple[str, ...]) -> Iterator[None]:
    """Drop the tables' foreign keys and plain indexes for the load and rebuild them after it, as
    pg_restore does: one validating join and one sorted index build instead of a check and an index
    insertion per row. The schema ends exactly as migrated."""
    from psycopg import sql

    names = [f"public.{t}" for t in tables]
    fks = conn.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE contype = 'f' AND conrelid = ANY(%s::regclass[])",
        (names,),
    ).fetchall()
    indexes = conn.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " WHERE i.indrelid = ANY(%s::regclass[])"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        (names,),
    ).fetchall()
    for table, name, _definition in fks:
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(name)))
    for name, _definition in indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    yield
    conn.execute("SET maintenance_work_mem = '256MB'")
    for _name, definition in indexes:
        conn.execute(definition)
    for table, name, definition in fks:
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(sql.Identifier(table), sql.Identifier(name))
            + sql.SQL(definition)  # type: ignore[arg-type]  # from pg_get_constraintdef
        )


def load_tickets(conn: Any, n: int, seed: int) -> dict[str, Any]:
    tally: dict[str, int] = {}
    timing = {"generating": 0.0, "copy": 0.0}
    chunks: queue.Queue[Any] = queue.Queue(maxsize=2)
    producer = threading.Thread(target=produce, args=(n, seed, chunks, tally, timing), daemon=True)
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("SET synchronous_commit = off")
    with conn.cursor() as cur:
        with bulk_load(conn, ("tickets", "ticket_facts")):
            producer.start()
            while (item := chunks.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                done, tickets, facts = item
                t0 = time.perf_counter()
                copy_text(cur, "tickets", TICKET_COLUMNS, tickets)
                copy_text(cur, "ticket_facts", FACT_COLUMNS, facts)
                timing["copy"] += time.perf_counter() - t0
                if done % (5 * CHUNK) == 0 or done == n:
                    log(f"  {done:,} tickets copied ({timing['copy']:.1f} s in COPY)")
            rebuild = time.perf_counter()
        timing["rebuild"] = time.perf_counter() - rebuild
        cur.execute("SELECT setval(pg_get_serial_sequence('tickets', 'id'), %s)", (n,))
    producer.join()
    shares = {k: round(v / n, 4) for k, v in tally.items()}
    shares["sign_on_time_of_assigned"] = round(tally["sign_on_time"] / max(tally["assigned"], 1), 4)
    shares["solved_of_surveyed"] = round(tally["solved"] / max(tally["surveyed"], 1), 4)
    shares["satisfied_of_rated"] = round(tally["satisfied"] / max(tally["rated"], 1), 4)
    return {
        "generating_s": round(timing["generating"], 1),
        "copy_s": round(timing["copy"], 1),
        "index_fk_rebuild_s": round(timing["rebuild"], 1),
        "shares": shares,
    }


def load(n: int, seed: int) -> dict[str, Any]:
    started = time.monotonic()
    rebuild_schema()
    log(f"schema rebuilt and migrated in {time.monotonic() - started:.1f} s")
    with connect() as conn:
        directory = load_directory(conn)
        info = load_tickets(conn, n, seed)
        conn.commit()
    copied = time.monotonic()
    with connect(autocommit=True) as conn:
        for table in ("tickets", "ticket_facts", "units", "categories", "areas"):
            conn.execute(f"VACUUM (ANALYZE) {table}")
    info["vacuum_analyze_s"] = round(time.monotonic() - copied, 1)
    info["directory"] = directory
    info["seconds"] = round(time.monotonic() - started, 1)
    log(
        f"{n:,} tickets loaded in {info['seconds']:.1f} s (COPY {info['copy_s']:.1f} s, indexes and foreign keys"
        f" {info['index_fk_rebuild_s']:.1f} s, VACUUM ANALYZE {info['vacuum_analyze_s']:.1f} s)"
    )
    return info


# --- measurements ----------------------------------------------------------------------------


class StatementLog:
    """The SQL statements a call sends through SQLAlchemy (for counting them and EXPLAIN ANALYZE)."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.statements: list[tuple[str, Any]] = []
        self.active = False
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if self.active:
            self.statements.append((statement, parameters))

    def capture(self, func: Callable[[], Any]) -> list[tuple[str, Any]]:
        self.statements, self.active = [], True
        try:
            func()
        finally:
            self.active = False
        return self.statements


def timed(funcs: dict[str, Callable[[], Any]], warmup: int, repeat: int) -> dict[str, list[float]]:
    for _ in range(warmup):
        for func in funcs.values():
            func()
    times: dict[str, list[float]] = {name: [] for name in funcs}
    for _ in range(repeat):
        for name, func in funcs.items():
            t0 = time.perf_counter()
            func()
            times[name].append((time.perf_counter() - t0) * 1000)
    return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def describe(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(values), 1),
        "p95_ms": round(percentile(values, 0.95), 1),
        "min_ms": round(min(values), 1),
        "max_ms": round(max(values), 1),
    }


def compare(
    rows: list[Any], baseline: list[tuple[Any, ...]], fields: list[str] = BASELINE_FIELDS, what: str = "unit"
) -> list[str]:
    """Differences between the service's rows and the baseline's (empty when the figures agree)."""
    expected = {r[0]: dict(zip(fields, r[-len(fields) :], strict=True)) for r in baseline}
    problems = []
    rows = [r for r in rows if r.count or r.key in expected]  # a period without tickets: zeros, no SQL row
    if {r.key for r in rows} != set(expected):
        problems.append(f"groups differ: {sorted(map(str, {r.key for r in rows} ^ set(expected)))}")
    for row in rows:
        want = expected.get(row.key)
        if want is None:
            continue
        for name, value in want.items():
            got = getattr(row, name)
            if value is None or got is None:
                same = value is None and got is None
            else:
                same = math.isclose(float(got), float(value), rel_tol=1e-9, abs_tol=1e-9)
            if not same:
                problems.append(f"{what} {row.key} {name}: service {got!r}, baseline {value!r}")
    return problems


def explain(sa_conn: Any, pg_conn: Any, statements: list[tuple[str, Any]], baseline_params: dict[str, Any]) -> str:
    out = []
    for i, (statement, parameters) in enumerate(statements, start=1):
        plan = sa_conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
        out.append(f"--- statement {i}: {' '.join(statement.split())[:160]}")
        out += [f"    {line}" for (line,) in plan]
    for name, sql in (("unit rows", BASELINE_SQL), ("comparisons", COMPARISON_SQL)):
        plan = pg_conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, baseline_params).fetchall()
        out.append(f"--- baseline: {name}")
        out += [f"    {line}" for (line,) in plan]
    return "\n".join(out)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from hotline_core.db import Database
    from stats.services import Filters, compared, comparison_periods, period, ranking, summary

    month_start = date(YEAR, args.month, 1)
    start, end = period("month", month_start)
    today = (NOW + LOCAL).date()
    periods = comparison_periods("month", start, end, today)
    params = {
        "now": NOW,
        "start": periods["current"][0],
        "end": periods["current"][1],
        "prev_start": periods["previous"][0],
        "prev_end": periods["previous"][1],
        "year_start": periods["year_ago"][0],
        "year_end": periods["year_ago"][1],
    }
    before_load = [round(x, 2) for x in os.getloadavg()]
    db = Database(sqlalchemy_url())
    statements = StatementLog(db.engine)
    pg = connect(autocommit=True)
    try:

        def dashboard() -> tuple[Any, Any]:
            """The figures by unit, and the totals of this month, the previous one and last year's."""
            with db.session() as s:
                rows = summary(s, Filters(start, end), "unit", now=NOW)
                return rows, compared(s, Filters(start, end), "month", today, now=NOW)

        def monthly_ranking() -> Any:
            with db.session() as s:
                return ranking(s, month_start, min_volume=50, now=NOW, today=today)

        def baseline() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
            """The same figures, hand-written: the unit rows and the comparisons."""
            return pg.execute(BASELINE_SQL, params).fetchall(), pg.execute(COMPARISON_SQL, params).fetchall()

        def ranking_baseline() -> list[tuple[Any, ...]]:
            """The ranking's figures, hand-written: units, counts per unit, mystery-call averages."""
            pg.execute(UNITS_SQL).fetchall()
            rows = pg.execute(RANKING_SQL, params).fetchall()
            pg.execute(MYSTERY_SQL, params).fetchall()
            return rows

        month_rows = pg.execute("SELECT count(*) FROM ticket_facts WHERE day BETWEEN %s AND %s", (start, end))
        month_tickets = month_rows.fetchone()[0]
        (rows, comparison), (base_rows, base_comparison) = dashboard(), baseline()
        ranked = monthly_ranking()
        problems = compare(rows, base_rows)
        compared_fields = COUNT_FIELDS + list(COMPARED_PERCENTILES)
        problems += compare(list(comparison.values()), base_comparison, compared_fields, "period")
        ranked_rows = [r for tier in ranked.tiers.values() for r in tier] + ranked.unranked
        problems += compare(ranked_rows, ranking_baseline(), COUNT_FIELDS, "ranked unit")
        dashboard_sql = statements.capture(dashboard)
        ranking_sql = statements.capture(monthly_ranking)
        log(
            f"measuring {YEAR}-{args.month:02d} ({month_tickets:,} tickets):"
            f" {args.warmup} warm-up + {args.repeat} rounds, the four calls interleaved"
        )
        times = timed(
            {
                "dashboard": dashboard,
                "baseline": baseline,
                "ranking": monthly_ranking,
                "ranking_baseline": ranking_baseline,
            },
            args.warmup,
            args.repeat,
        )
        plans = None
        if args.explain:
            with db.engine.connect() as sa_conn:
                plans = explain(sa_conn, pg, dashboard_sql, params)
        settings = dict(
            pg.execute(
                "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN"
                " ('work_mem', 'shared_buffers', 'max_parallel_workers_per_gather', 'jit')"
            ).fetchall()
        )
        version = pg.execute("SHOW server_version").fetchone()[0]
    finally:
        pg.close()
        db.dispose()
    result = {name: describe(values) for name, values in times.items()}
    baselines = {"dashboard": "baseline", "ranking": "ranking_baseline"}
    ratios = {
        name: round(result[name]["median_ms"] / result[base]["median_ms"], 2) if result[base]["median_ms"] else math.inf
        for name, base in baselines.items()
    }
    # Each round runs the four calls one after another, so a round's ratio compares calls made under the
    # same load; their median is steadier than the ratio of medians on a shared machine.
    round_ratios = {
        name: round(statistics.median(a / b for a, b in zip(times[name], times[base], strict=True)), 2)
        for name, base in baselines.items()
    }
    targets = {
        name: {
            "under_300_ms": result[name]["median_ms"] < TARGET_MS,
            "within_ratio_of_baseline": ratios[name] <= TARGET_RATIO,
        }
        for name in ("dashboard", "ranking")
    }
    return {
        "month": f"{YEAR}-{args.month:02d}",
        "month_tickets": month_tickets,
        "timings": result,
        "ratios": ratios,
        "round_ratios": round_ratios,
        "targets": targets,
        "passed": all(all(t.values()) for t in targets.values()),
        "figures_match_baseline": not problems,
        "figure_differences": problems[:20],
        "statements": {
            "dashboard": len(dashboard_sql),
            "ranking": len(ranking_sql),
            "baseline": 2,
            "ranking_baseline": 3,
        },
        "ranked": {tier: len(rows) for tier, rows in ranked.tiers.items()} | {"unranked": len(ranked.unranked)},
        "postgres": {"version": version, **settings},
        "explain": plans,
        "loadavg": {"before": before_load, "after": [round(x, 2) for x in os.getloadavg()]},
    }


# --- report ----------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(data: dict[str, Any]) -> str:
    m = data["measurements"]
    t = m["timings"]
    load_info = data["load"]
    lines = [
        "",
        f"hotline statistics benchmark: PostgreSQL {m['postgres']['version']} on {data['cores']} cores"
        f" (work_mem {m['postgres'].get('work_mem')}, shared_buffers {m['postgres'].get('shared_buffers')},"
        f" parallel workers/gather {m['postgres'].get('max_parallel_workers_per_gather')})",
        f"database {BENCH_DB}: {data['tickets']:,} tickets over {YEAR}; "
        + (
            f"loaded in {load_info['seconds']:.1f} s (generating {load_info['generating_s']:.1f} s in a thread"
            f" alongside COPY {load_info['copy_s']:.1f} s; indexes and foreign keys rebuilt in"
            f" {load_info['index_fk_rebuild_s']:.1f} s; VACUUM ANALYZE {load_info['vacuum_analyze_s']:.1f} s)"
            if load_info.get("seconds") is not None
            else "reused (--keep)"
        ),
        f"month {m['month']}: {m['month_tickets']:,} tickets; {data['warmup']} warm-up + {data['repeat']} rounds;"
        f" SQL statements per call: dashboard {m['statements']['dashboard']}, ranking {m['statements']['ranking']},"
        f" baselines {m['statements']['baseline']} and {m['statements']['ranking_baseline']};"
        f" load average {m['loadavg']['before'][0]:.2f} before, {m['loadavg']['after'][0]:.2f} after"
        " (other processes share the machine)",
        "",
        f"{'':58}{'median ms':>10}{'p95 ms':>9}{'min ms':>9}{'max ms':>9}",
    ]
    labels = [
        ("dashboard", 'dashboard  summary(month, "unit") + compared()'),
        ("baseline", "  baseline hand-written SQL: unit rows + comparisons"),
        ("ranking", "ranking    ranking(month, min_volume=50)"),
        ("ranking_baseline", "  baseline hand-written SQL: unit counts + mystery"),
    ]
    for key, label in labels:
        r = t[key]
        lines.append(f"{label:58}{r['median_ms']:10.1f}{r['p95_ms']:9.1f}{r['min_ms']:9.1f}{r['max_ms']:9.1f}")
    lines.append("")
    for key in ("dashboard", "ranking"):
        ok = m["targets"][key]
        lines.append(
            f"{key:10} {t[key]['median_ms']:7.1f} ms (target < {TARGET_MS:.0f}) {verdict(ok['under_300_ms'])};"
            f"  {key}/baseline {m['ratios'][key]:.2f}x (target <= {TARGET_RATIO:g}x)"
            f" {verdict(ok['within_ratio_of_baseline'])}; median of the rounds' ratios {m['round_ratios'][key]:.2f}x"
        )
    lines.append(
        "figures identical to the baseline's: "
        + ("yes" if m["figures_match_baseline"] else "NO: " + "; ".join(m["figure_differences"][:5]))
    )
    ranked = m["ranked"]
    lines.append(
        f"ranking: {ranked.get('district', 0)} districts and {ranked.get('department', 0)} departments ranked,"
        f" {ranked['unranked']} below the minimum volume"
    )
    if load_info.get("shares"):
        s = load_info["shares"]
        lines.append(
            "data: "
            + ", ".join(
                f"{k} {100 * s[k]:.1f}%"
                for k in (
                    "phone",
                    "assigned",
                    "sign_on_time_of_assigned",
                    "overdue",
                    "escalated",
                    "returns",
                    "extensions",
                    "reopened",
                    "surveyed",
                    "solved_of_surveyed",
                    "satisfied_of_rated",
                )
                if k in s
            )
        )
    lines.append(f"overall: {verdict(m['passed'])}")
    if m.get("explain"):
        lines += ["", "EXPLAIN (ANALYZE, BUFFERS) of the dashboard's statements and of the baseline:", m["explain"]]
    return "\n".join(lines) + "\n"


def main() -> int:
    global BENCH_DB
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000, help="tickets to load (default 1,000,000)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--keep", action="store_true", help="reuse the loaded database when its row count matches")
    parser.add_argument("--repeat", type=int, default=30, help="timed rounds (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default 3)")
    parser.add_argument(
        "--month",
        type=int,
        default=12,
        choices=range(1, 13),
        help=f"month of {YEAR} (default 12: read a week after it ends, its last resolutions are not yet due)",
    )
    parser.add_argument("--database", default=BENCH_DB, help=f"database to load and measure (default {BENCH_DB})")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the dashboard and the baseline")
    args = parser.parse_args()
    if args.database in NEVER_DB:
        parser.error(f"--database {args.database} is not the benchmark's to overwrite")
    BENCH_DB = args.database
    if args.tickets < 1:
        parser.error("--tickets must be positive")
    try:
        ensure_database()
        existing = loaded_tickets()
        if args.keep and existing == (args.tickets, args.tickets):
            log(f"reusing {args.tickets:,} tickets in {BENCH_DB} (--keep); migrating to head")
            migrate()
            with connect(autocommit=True) as conn:
                conn.execute("ANALYZE ticket_facts")
            load_info: dict[str, Any] = {}
        else:
            if args.keep and existing is not None:
                log(f"--keep: {BENCH_DB} holds {existing[0]:,} tickets, not {args.tickets:,}: reloading")
            load_info = load(args.tickets, args.seed)
        data = {
            "cores": os.cpu_count(),
            "database": BENCH_DB,
            "tickets": args.tickets,
            "warmup": args.warmup,
            "repeat": args.repeat,
            "load": load_info,
            "measurements": measure(args),
        }
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    print(json.dumps(data, indent=2, default=str) if args.json else report(data), flush=True)
    return 0 if data["measurements"]["passed"] and data["measurements"]["figures_match_baseline"] else 1


if __name__ == "__main__":
    sys.exit(main())
