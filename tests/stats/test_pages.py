"""Statistics pages: who sees what, the public page without personal data, exports."""

import pytest
from sqlalchemy import select

from hotline_core.models import Ticket
from tests.helpers import sign_in

pytestmark = pytest.mark.demo_city


def test_the_dashboard_shows_the_figures_and_their_formulas(app, dataset, clock):
    page = sign_in(app, "leader").get("/stats/?period=month&date=2026-11-23").get_data(as_text=True)
    assert page.split('id="total-count"')[1].split("</a>")[0].endswith(">3")
    assert "市住房和城乡建设局" in page and "33.3%" in page and "62.5" in page
    assert "签收期限未到且尚未响应的工单计为“未到期”" in page
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
    assert lines[0].startswith("\ufeff承办单位,工单数,交办工单数")
    assert lines[1].startswith("市住房和城乡建设局,3,3,") and "33.3%" in lines[1]
    assert lines[2] == "" and "数据截至 2026年11月24日 10:00" in lines[3] and len(lines) == 4


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
    link = page.split('class="count"')[0].rsplit('href="/stats/tickets?', 1)[1].split('"')[0].replace("&amp;", "&")
    assert "start=2026-11-01" in link and "end=2026-11-30" in link and "unit=" in link
    listed = client.get("/stats/tickets?" + link).get_data(as_text=True)
    with runtime.db.session() as s:
        numbers = [t.number for t in s.scalars(select(Ticket))]
    assert all(number in listed for number in numbers) and "共 3 件" in listed
    narrower = client.get("/stats/tickets?" + link.replace("2026-11-01", "2026-11-24")).get_data(as_text=True)
    assert not any(n in narrower for n in numbers) and "共 0 件" in narrower


def test_the_ranking_exports_as_csv_with_unranked_units_marked(app, dataset):
    text = sign_in(app, "leader").get("/stats/ranking.csv?month=2026-11").get_data(as_text=True)
    header, *rows, _blank, note = text.lstrip("\ufeff").strip().splitlines()
    assert header.startswith("层级,名次,承办单位,交办工单数")
    assert rows == [row for row in rows if row.startswith("未参加排名的单位,")] and "市住房和城乡建设局" in rows[0]
    assert rows[0].endswith("交办工单少于 5 件")  # three tickets: below the minimum volume, the true reason
    assert note.startswith("2026-11,临时数据")  # the month has not ended


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
    assert "\r\n市住房和城乡建设局,3," in text and f"\r\n,{overdue_number},市住房和城乡建设局,签收," in text
    assert text.startswith("\ufeff每周一报,第 1 期,2026-11-23,2026-11-29")
