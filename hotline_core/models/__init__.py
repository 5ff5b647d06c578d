"""Domain models, one module per entity group. Importing this package registers every table."""

from hotline_core.models.audit import AuditEntry
from hotline_core.models.directory import Area, Category, Unit
from hotline_core.models.followup import CallbackCall, ExtensionRequest, Survey
from hotline_core.models.inbound import InboundEvent
from hotline_core.models.messaging import MessageStatusEvent, OptOut, OutboxMessage
from hotline_core.models.mystery import (
    AuditedHotline,
    CallProgress,
    CallScore,
    Campaign,
    MysteryCall,
    Scenario,
    ScorecardDefinition,
)
from hotline_core.models.open311 import Open311ClientUpdate, Open311Key, Open311Request
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
    "Open311ClientUpdate",
    "Open311Key",
    "Open311Request",
    "OptOut",
    "OutboxMessage",
    "Role",
    "RoutingRule",
    "Scenario",
    "ScorecardDefinition",
    "Survey",
    "Ticket",
    "TicketEvent",
    "TicketFact",
    "Unit",
    "User",
]
