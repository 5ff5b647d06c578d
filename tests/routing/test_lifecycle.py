"""A ticket's life lives in routing.lifecycle: the table of transitions, the commands, the clocks."""

import ast
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline_core.audit import Actor
from hotline_core.clock_types import Extension, Pause
from hotline_core.errors import HotlineError, Label
from hotline_core.models import Assignment, Deadline, Ticket, TicketEvent
from hotline_core.models.ticket import TicketState
from intake.services import process_ticket_job
from routing import lifecycle
from routing import services as routing
from routing.lifecycle import TRANSITIONS, Command, InvalidTransition, StateWrittenOutsideLifecycle, TicketError
from tests.factories import complaint

BEIJING = ZoneInfo("Asia/Shanghai")
UNIT = Actor("user:unitstaff")  # no user id: the demo users' ids differ between backends
ROOT = Path(__file__).resolve().parents[2]
SOURCE_PACKAGES = ("hotline_core", "hotline_web", "intake", "routing", "responders", "mystery_calls", "stats")


pytestmark = pytest.mark.demo_city


@pytest.fixture(autouse=True)
def monday(clock):
    clock.set(datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING))  # a Monday


def assigned_ticket(runtime, text="让胡路区东湖小区路灯坏了半个月没人修"):
    ticket = complaint(runtime, text)
    process_ticket_job(ticket.id)
    return ticket.id


def lead_assignment(s, ticket_id):
    query = select(Assignment).where(Assignment.ticket_id == ticket_id, Assignment.role == "lead")
    return s.scalars(query.order_by(Assignment.id.desc())).first()


def kinds(s, ticket_id):
    return [e.kind for e in s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id))]


# --- one home --------------------------------------------------------------------------------


TICKET_NAMES = ("ticket", "tk", "duplicate", "into", "t")


def _state_assignments(path: Path) -> list[int]:
    """Lines of ``path`` that assign ``.state`` of a ticket (by its variable's name or a TicketState value)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            for e in target.elts if isinstance(target, ast.Tuple) else [target]:
                if not (isinstance(e, ast.Attribute) and e.attr == "state"):
                    continue
                owner = ast.unparse(e.value).split(".")[-1]
                if owner in TICKET_NAMES or "TicketState" in ast.unparse(node.value or ast.Constant(None)):
                    lines.append(node.lineno)
    return lines


def test_no_module_but_the_lifecycle_assigns_a_ticket_state():
    offenders = {
        str(path.relative_to(ROOT)): lines
        for package in SOURCE_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if path.name != "lifecycle.py" and "migrations" not in path.parts
        if (lines := _state_assignments(path))
    }
    assert offenders == {}
    assert _state_assignments(ROOT / "routing" / "lifecycle.py")  # the scan does find the one that does


def test_a_state_written_outside_the_lifecycle_is_refused(runtime):
    ticket_id = assigned_ticket(runtime)
    with runtime.db.session() as s:
        ticket = s.get(Ticket, ticket_id)
        with pytest.raises(StateWrittenOutsideLifecycle):
            ticket.state = TicketState.CLOSED


def test_every_state_command_pair_outside_the_table_is_refused(runtime):
    ticket_id = assigned_ticket(runtime)
    states = (TicketState.RECEIVED, TicketState.DISPATCH, *TicketState.OPEN, "resolved", "closed", "merged")
    with runtime.db.session() as s:
        ticket = s.get(Ticket, ticket_id)
        for state in set(states):
            with lifecycle._moving_ticket():
                ticket.state = state
            for command in Command:
                if (state, command) in TRANSITIONS:
                    continue
                with pytest.raises(InvalidTransition) as refused:
                    lifecycle._move(ticket, command, datetime.now(BEIJING))
                assert refused.value.status == 409 and refused.value.key == "error.ticket.not_allowed"
                assert ticket.state == state
        s.rollback()


def test_closed_and_merged_tickets_allow_no_command():
    assert {state for state, _ in TRANSITIONS} == {"received", "dispatch", "assigned", "signed", "approval", "resolved"}


# --- commands --------------------------------------------------------------------------------


def test_resolving_without_signing_for_is_refused_on_every_path(runtime):
    ticket_id = assigned_ticket(runtime)
    with runtime.db.transaction() as s, pytest.raises(TicketError) as refused:
        routing.resolve(s, runtime, s.get(Ticket, ticket_id), text="修好了", actor=UNIT)
    assert refused.value.key == "error.ticket.sign_before_resolving"
    with runtime.db.session() as s:
        assert s.get(Ticket, ticket_id).state == "assigned"


def test_resolving_sets_the_resolution_time_and_meets_the_clock(runtime, clock):
    ticket_id = assigned_ticket(runtime)
    with runtime.db.transaction() as s:
        routing.sign_for(s, runtime, lead_assignment(s, ticket_id), actor=UNIT)
    clock.advance(3600)
    with runtime.db.transaction() as s:
        routing.resolve(s, runtime, s.get(Ticket, ticket_id), text="路灯已修复", actor=UNIT)
    with runtime.db.session() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket.state == "resolved" and ticket.resolved_at == clock()
        clocks = s.scalars(select(Deadline).where(Deadline.ticket_id == ticket_id)).all()
        assert {(d.kind, d.met_at is not None) for d in clocks} == {("sign_for", True), ("resolution", True)}


def test_a_returned_ticket_pauses_its_resolution_clock_with_a_typed_pause(runtime, clock):
    ticket_id = assigned_ticket(runtime)
    with runtime.db.transaction() as s:
        routing.return_ticket(
            s, runtime, lead_assignment(s, ticket_id), reason="不属本单位职责", suggested_unit_id=None, actor=UNIT
        )
    with runtime.db.session() as s:
        [resolution] = s.scalars(select(Deadline).where(Deadline.ticket_id == ticket_id, Deadline.kind == "resolution"))
        assert resolution.pauses == [Pause(clock(), None, "arbitration")]
        assert lifecycle.is_paused(resolution) and s.get(Ticket, ticket_id).state == "dispatch"


def test_an_extension_is_stored_typed_and_moves_the_deadline_through_the_clock(runtime, clock):
    ticket_id = assigned_ticket(runtime)
    with runtime.db.transaction() as s:
        before = lifecycle.open_deadline(s, ticket_id, "resolution").due_at
        routing.approve_extension(s, runtime, s.get(Ticket, ticket_id), reason="需现场勘查", actor=UNIT, working_days=3)
    with runtime.db.session() as s:
        deadline = lifecycle.open_deadline(s, ticket_id, "resolution")
        assert deadline.extensions == [Extension(clock(), "需现场勘查", working_days=3)]
        cfg = routing.config(s, runtime)
        assert (
            deadline.due_at
            == cfg.calendar.add_working_days(before, 3)
            == lifecycle.clock_of(deadline, cfg).deadline(clock())
        )


def test_a_redo_goes_back_to_the_same_unit_with_fresh_clocks_then_to_the_dispatcher(runtime, clock):
    ticket_id = assigned_ticket(runtime)

    def resolve_now():
        with runtime.db.transaction() as s:
            routing.sign_for(s, runtime, lead_assignment(s, ticket_id), actor=UNIT)
            routing.resolve(s, runtime, s.get(Ticket, ticket_id), text="已处理", actor=UNIT)

    resolve_now()
    clock.advance(86400)
    with runtime.db.transaction() as s:
        cfg = routing.config(s, runtime)
        ticket = s.get(Ticket, ticket_id)
        unit = ticket.lead_unit_id
        assert lifecycle.reopen(s, ticket, clock(), cfg, reason="citizen: not solved", max_redos=1) is True
    with runtime.db.session() as s:
        ticket = s.get(Ticket, ticket_id)
        assert (ticket.state, ticket.redo_count, ticket.lead_unit_id, ticket.resolved_at) == ("assigned", 1, unit, None)
        assert lifecycle.open_deadline(s, ticket_id, "resolution").started_at == clock()
    resolve_now()
    with runtime.db.transaction() as s:
        ticket = s.get(Ticket, ticket_id)
        assert lifecycle.reopen(s, ticket, clock(), cfg, reason="citizen: not solved", max_redos=1) is False
    with runtime.db.session() as s:
        assert s.get(Ticket, ticket_id).state == "dispatch"
        assert kinds(s, ticket_id).count("reopened") == 2


def test_closing_only_closes_a_resolved_ticket(runtime):
    ticket_id = assigned_ticket(runtime)
    with runtime.db.transaction() as s:
        ticket = s.get(Ticket, ticket_id)
        assert lifecycle.close(s, ticket, datetime.now(BEIJING), by="survey") is False
        assert ticket.state == "assigned"


def test_merging_ends_the_duplicates_assignments_and_clocks(runtime):
    first, second = assigned_ticket(runtime), assigned_ticket(runtime, "让胡路区东湖小区路灯还是不亮")
    with runtime.db.transaction() as s:
        lifecycle.merge(s, s.get(Ticket, second), s.get(Ticket, first), datetime.now(BEIJING), actor=UNIT)
    with runtime.db.session() as s:
        assert s.get(Ticket, second).state == "merged"
        assert lifecycle.active_assignments(s, second) == []
        assert lifecycle.open_deadline(s, second, "resolution") is None
        assert lifecycle.open_deadline(s, first, "resolution") is not None


def test_a_merged_ticket_cannot_be_merged_again(runtime):
    first, second = assigned_ticket(runtime), assigned_ticket(runtime, "让胡路区东湖小区路灯还是不亮")
    now = datetime.now(BEIJING)
    with runtime.db.transaction() as s:
        lifecycle.merge(s, s.get(Ticket, second), s.get(Ticket, first), now, actor=UNIT)
    with runtime.db.transaction() as s, pytest.raises(InvalidTransition):
        lifecycle.merge(s, s.get(Ticket, second), s.get(Ticket, first), now + timedelta(seconds=1), actor=UNIT)


# --- errors users can read -------------------------------------------------------------------


def test_a_domain_error_reads_in_both_languages_with_translated_labels():
    error = TicketError(
        "error.ticket.not_allowed", number="2026-000001", state=Label("state.closed"), command=Label("command.resolve")
    )
    assert error.message("zh") == "工单 2026-000001 当前状态为“已关闭”，不能办结。"
    assert error.message("en") == "Ticket 2026-000001 is closed: it cannot resolve."


def test_a_domain_error_with_an_unknown_key_is_a_programming_error():
    with pytest.raises(KeyError):
        HotlineError("error.no_such_key")


# --- inside a unit: delegation and the head's approval (issue 13 point 5) ---------------------------


def signed_ticket(runtime):
    ticket_id = assigned_ticket(runtime)
    with runtime.db.transaction() as s:
        routing.sign_for(s, runtime, lead_assignment(s, ticket_id), actor=UNIT)
    return ticket_id


def test_the_approval_step_is_in_the_transition_table():
    assert TRANSITIONS[(TicketState.SIGNED, Command.PROPOSE)] == TicketState.APPROVAL
    assert TRANSITIONS[(TicketState.APPROVAL, Command.APPROVE)] == TicketState.RESOLVED
    assert TRANSITIONS[(TicketState.APPROVAL, Command.SEND_BACK)] == TicketState.SIGNED
    assert (TicketState.APPROVAL, Command.RESOLVE) not in TRANSITIONS  # only the head's approval resolves it
    assert TicketState.APPROVAL in TicketState.OPEN
    assert {TRANSITIONS[(state, Command.DELEGATE)] for state in ("assigned", "signed", "approval")} == {
        "assigned",
        "signed",
        "approval",
    }


def test_a_proposed_resolution_keeps_the_clock_running_until_the_head_approves(runtime, clock):
    ticket_id = signed_ticket(runtime)
    with runtime.db.transaction() as s:
        lifecycle.propose_resolution(s, s.get(Ticket, ticket_id), clock(), text="路灯已修复", actor=UNIT)
    with runtime.db.session() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket.state == "approval" and ticket.resolved_at is None
        assert lifecycle.open_deadline(s, ticket_id, "resolution") is not None
        assert lifecycle.proposed_resolution(s, ticket).body == "路灯已修复"
    clock.advance(600)
    with runtime.db.transaction() as s:
        text = lifecycle.approve_resolution(s, s.get(Ticket, ticket_id), clock(), actor=Actor("user:unithead"))
    assert text == "路灯已修复"
    with runtime.db.session() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket.state == "resolved" and ticket.resolved_at == clock()
        assert lifecycle.open_deadline(s, ticket_id, "resolution") is None
        assert kinds(s, ticket_id)[-3:] == ["resolution_proposed", "resolution_approved", "resolved"]


def test_the_head_sends_a_resolution_back_only_with_a_reason(runtime, clock):
    ticket_id = signed_ticket(runtime)
    with runtime.db.transaction() as s:
        lifecycle.propose_resolution(s, s.get(Ticket, ticket_id), clock(), text="已处理", actor=UNIT)
    with runtime.db.transaction() as s, pytest.raises(TicketError) as refused:
        lifecycle.send_back_resolution(s, s.get(Ticket, ticket_id), clock(), reason=" ", actor=UNIT)
    assert refused.value.key == "error.ticket.send_back_needs_reason"
    with runtime.db.transaction() as s:
        lifecycle.send_back_resolution(s, s.get(Ticket, ticket_id), clock(), reason="没有现场照片", actor=UNIT)
    with runtime.db.session() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket.state == "signed" and lifecycle.proposed_resolution(s, ticket) is None
        back = s.scalars(select(TicketEvent).where(TicketEvent.kind == "resolution_sent_back")).one()
        assert back.body == "没有现场照片"


def test_approving_without_a_proposal_is_refused(runtime, clock):
    ticket_id = signed_ticket(runtime)
    with runtime.db.transaction() as s, pytest.raises(InvalidTransition):
        lifecycle.approve_resolution(s, s.get(Ticket, ticket_id), clock(), actor=UNIT)


def test_a_ticket_is_delegated_only_to_an_active_officer_of_its_unit(runtime, clock):
    from hotline_core.models import User
    from tests.factories import user

    ticket_id = signed_ticket(runtime)
    with runtime.db.session() as s:
        unit_id = lead_assignment(s, ticket_id).unit_id
    insider = user(runtime, "officer2", "unit_staff", unit_id=unit_id)
    outsider = user(runtime, "elsewhere", "unit_staff")
    with runtime.db.transaction() as s, pytest.raises(TicketError) as refused:
        lifecycle.delegate(s, lead_assignment(s, ticket_id), s.get(User, outsider.id), clock(), actor=UNIT)
    assert refused.value.key == "error.ticket.officer_not_in_unit"
    with runtime.db.transaction() as s:
        lifecycle.delegate(s, lead_assignment(s, ticket_id), s.get(User, insider.id), clock(), actor=UNIT)
    with runtime.db.session() as s:
        assert lead_assignment(s, ticket_id).officer_id == insider.id
        assert s.get(Ticket, ticket_id).state == "signed"
        assert kinds(s, ticket_id)[-1] == "delegated"


def test_a_redo_goes_back_to_the_officer_who_resolved_it(runtime, clock):
    from hotline_core.models import User
    from tests.factories import user

    ticket_id = signed_ticket(runtime)
    with runtime.db.session() as s:
        unit_id = lead_assignment(s, ticket_id).unit_id
    officer_id = user(runtime, "lights", "unit_staff", unit_id=unit_id).id
    with runtime.db.transaction() as s:
        lifecycle.delegate(s, lead_assignment(s, ticket_id), s.get(User, officer_id), clock(), actor=UNIT)
        routing.resolve(s, runtime, s.get(Ticket, ticket_id), text="已修复", actor=UNIT)
    with runtime.db.transaction() as s:
        cfg = routing.config(s, runtime)
        assert lifecycle.reopen(s, s.get(Ticket, ticket_id), clock(), cfg, reason="citizen: not solved", max_redos=1)
    with runtime.db.session() as s:
        redo = lead_assignment(s, ticket_id)
        assert (redo.state, redo.officer_id) == ("assigned", officer_id)
