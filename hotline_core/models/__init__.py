"""Domain models, one module per entity group. Importing this package registers every table.

The rule: **every table lives here, in the core, one module per feature** (``routing.py`` for
rules, assignments and deadlines; ``mystery.py`` for audits; ``stats.py`` for facts ...), and
never next to its feature. Features read each other's tables (statistics read tickets,
assignments, deadlines and call scores; routing reads the directory; responders read all of a
ticket), and the layers contract lets a package import only downward, so tables that several
features read must sit below all of them. Keeping them in one place also gives alembic one
metadata and the "migrated schema matches the models" test one source. What a feature *does* with
its tables lives in the feature (``routing.lifecycle`` owns how a ticket's rows change).
"""

from hotline_core.models.audit import AuditEntry
from hotline_core.models.directory import Area, Category, Unit
from hotline_core.models.followup import CallbackCall, ExtensionRequest, Survey
from hotline_core.models.inbound import InboundEvent
from hotline_core.models.messaging import (
    MessageStatusEvent,
    OptOut,
    OutboxMessage,
    SmsConversation,
    WebAcknowledgement,
)
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
from hotline_core.models.open311 import Open311ClientUpdate, Open311Key, Open311Request
from hotline_core.models.routing import (
    AccountabilityEntry,
    Assignment,
    CacheStamp,
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
    "CacheStamp",
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
    "Open311ClientUpdate",
    "Open311Key",
    "Open311Request",
    "OptOut",
    "OutboxMessage",
    "Role",
    "RoutingRule",
    "Scenario",
    "ScoreDispute",
    "ScorecardDefinition",
    "SmsConversation",
    "Survey",
    "Ticket",
    "TicketEvent",
    "TicketFact",
    "Unit",
    "User",
    "WebAcknowledgement",
]

# The flush hooks that stamp changes to what workers cache (imported last: it imports the modules above).
from hotline_core import stamps as _stamps  # noqa: F401
