"""The dispatch directory: units that handle complaints, categories of complaint, areas of the city."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline_core.db import Base


class Unit(Base):
    """A responsible unit: a district government, a department, a service window."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40), default="department")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    contact_phones: Mapped[list[Any]] = mapped_column(default=list)
    service_hotlines: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)

    def name(self, language: str) -> str:
        return self.name_zh if language == "zh" else self.name_en


class Category(Base):
    """A complaint category; level 1 is the broadest."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    level: Mapped[int] = mapped_column(default=1)
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    urgency: Mapped[str] = mapped_column(String(20), default="general")
    policy: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(default=True)
    # Open311 service definition: the attributes a client fills in (see routing.directory).
    open311_attributes: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    # What the citizen should do at once (e.g. 燃气泄漏请立即拨打119), texted when a ticket gets the category.
    safety_advice_zh: Mapped[str | None] = mapped_column(Text)
    safety_advice_en: Mapped[str | None] = mapped_column(Text)

    def name(self, language: str) -> str:
        return self.name_zh if language == "zh" else self.name_en


class Area(Base):
    """A district or street, with the other names citizens use for it."""

    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    aliases: Mapped[list[Any]] = mapped_column(default=list)
    # Beijing's rule: a complaint whose unit is unclear falls to the district government.
    fallback_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))

    def name(self, language: str) -> str:
        return self.name_zh if language == "zh" else self.name_en
