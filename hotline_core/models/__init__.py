"""Domain models, one module per entity group. Importing this package registers every table."""

from hotline_core.models.audit import AuditEntry
from hotline_core.models.directory import Area, Category, Unit
from hotline_core.models.followup import CallbackCall, ExtensionRequest, Survey
from hotline_core.models.inbound import InboundEvent
from hotline_core.models.messaging import MessageStatusEvent, OptOut, OutboxMessage
from hotline_core.models.mystery import (
    AuditedHotline,
    CallProgress,
    CallReview,
    CallScore,
    Campaign,
    MysteryCall,
    Scenario,
    ScorecardDefinition,
    ScoreDispute,
)
from hotline_core.models.routing import (
    AccountabilityEntry,
    Assignment,
    ClassifierModel,
    Deadline,
    DirectorySetting,
    EscalationStep,
    RoutingRule,
)
from hotline_core.models.stats import TicketFact
from hotline_core.models.ticket import Attachment, Ticket, TicketEvent
from hotline_core.models.user import Role, User

__all__ = [
    "AccountabilityEntry",
    "Area",
    "Assignment",
    "Attachment",
    "AuditEntry",
    "AuditedHotline",
    "CallProgress",
    "CallReview",
    "CallScore",
    "CallbackCall",
    "Campaign",
    "Category",
    "ClassifierModel",
    "Deadline",
    "DirectorySetting",
    "EscalationStep",
    "ExtensionRequest",
    "InboundEvent",
    "MessageStatusEvent",
    "MysteryCall",
    "OptOut",
    "OutboxMessage",
    "Role",
    "RoutingRule",
    "Scenario",
    "ScoreDispute",
    "ScorecardDefinition",
    "Survey",
    "Ticket",
    "TicketEvent",
    "TicketFact",
    "Unit",
    "User",
]
