"""Statistics pages: who sees what, the public page without personal data, exports."""

import pytest
from sqlalchemy import select

from hotline_core.models import Ticket
from tests.helpers import sign_in

pytestmark = pytest.mark.demo_city


def test_the_dashboard_shows_the_figures_and_their_formulas(app, dataset, clock):
    page = sign_in(app, "leader").get("/stats/?period=month&date=2026-11-23").get_data(as_text=True)
    assert 'id="total-count">3<' in page
    assert "市住房和城乡建设局" in page and "33.3%" in page and "62.5" in page
    assert "按时签收且按时联系市民的工单数 ÷ 交办工单数" in page
    english = sign_in(app, "leader").get("/stats/?period=month&date=2026-11-23&lang=en").get_data(as_text=True)
    assert "Response rate" in english and "tickets signed for and citizen contacted" in english


def test_units_see_only_their_own_figures(app, runtime, dataset):
    from tests.factories import complaint

    other = complaint(runtime, "公交车司机拒载老人")
    from intake.services import process_ticket_job

    process_ticket_job(other.id)
    from stats import facts

    facts.refresh(runtime)
    page = sign_in(app, "unitstaff").get("/stats/?period=month&date=2026-11-23&unit=999").get_data(as_text=True)
    assert "市住房和城乡建设局" in page and "市交通运输局" not in page


def test_the_csv_export_has_every_unit_row(app, dataset):
    text = sign_in(app, "dispatcher").get("/stats/export.csv?period=month&date=2026-11-23").get_data(as_text=True)
    lines = text.strip().splitlines()
    assert lines[0].startswith("\ufeffunit,count,assigned") and len(lines) == 2


def test_the_ranking_puts_units_in_tiers(app, dataset):
    page = sign_in(app, "leader").get("/stats/ranking?month=2026-11&min=1").get_data(as_text=True)
    assert "市直部门" in page and "市住房和城乡建设局" in page and "62.5" in page


def test_the_weekly_bulletin_is_printable_in_both_languages(app, dataset):
    client = sign_in(app, "leader")
    assert "每周一报" in client.get("/stats/weekly?week=2026-11-23").get_data(as_text=True)
    english = client.get("/stats/weekly?week=2026-11-23&lang=en").get_data(as_text=True)
    assert "Weekly bulletin" in english and "2026-11-23 – 2026-11-29" in english


def test_the_public_page_needs_no_login_and_shows_no_personal_data(app, runtime, dataset):
    page = app.test_client().get("/public/?month=2026-11&lang=zh").get_data(as_text=True)
    assert "政务服务效能公开排名" in page
    with runtime.db.session() as s:
        tickets = s.scalars(select(Ticket)).all()
    for ticket in tickets:
        assert ticket.text not in page and ticket.number not in page
        assert ticket.citizen_phone not in page and ticket.citizen_phone[-4:] not in page


def test_bad_period_parameters_get_400(app, dataset):
    assert sign_in(app, "leader").get("/stats/?period=custom&start=2026-12-01&end=2026-11-01").status_code == 400
    assert sign_in(app, "leader").get("/stats/?by=nonsense").status_code == 400


def test_a_units_count_links_to_the_tickets_behind_it(app, runtime, dataset):
    client = sign_in(app, "leader")
    page = client.get("/stats/?period=month&date=2026-11-23").get_data(as_text=True)
    link = page.split('href="/staff/tickets?')[1].split('"')[0].replace("&amp;", "&")
    assert "from=2026-11-01" in link and "to=2026-11-30" in link
    listed = client.get("/staff/tickets?" + link).get_data(as_text=True)
    with runtime.db.session() as s:
        numbers = [t.number for t in s.scalars(select(Ticket))]
    assert all(number in listed for number in numbers)
    assert not any(
        n in client.get("/staff/tickets?" + link.replace("2026-11-01", "2026-11-24")).get_data(as_text=True)
        for n in numbers
    )


def test_the_ranking_exports_as_csv_with_unranked_units_marked(app, dataset):
    text = sign_in(app, "leader").get("/stats/ranking.csv?month=2026-11").get_data(as_text=True)
    header, *rows = text.lstrip("\ufeff").strip().splitlines()
    assert header.startswith("tier,rank,unit,assigned")
    assert rows == [row for row in rows if row.startswith("unranked,")] and "市住房和城乡建设局" in rows[0]


def test_tables_are_sortable_in_the_browser(app, dataset):
    page = sign_in(app, "leader").get("/stats/?period=month&date=2026-11-23").get_data(as_text=True)
    assert 'class="sortable"' in page and "sort.js" in page


def test_the_bulletin_lists_the_weeks_missed_deadlines_and_exports_every_table(app, runtime, dataset):
    with runtime.db.session() as s:
        overdue_number = s.scalars(select(Ticket.number).where(Ticket.state == "assigned")).first()
    client = sign_in(app, "leader")
    page = client.get("/stats/weekly?week=2026-11-23").get_data(as_text=True)
    assert "本周超期问责清单" in page and overdue_number in page and "单位负责人督办" in page
    text = client.get("/stats/weekly.csv?week=2026-11-23").get_data(as_text=True)
    assert "units,市住房和城乡建设局,3" in text and f"accountability,{overdue_number}" in text
