"""A minimal Open311 client written from the spec, for what the ``georeport`` package does not do (POSTs)."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

import requests


class Open311Client:
    def __init__(self, root: str, api_key: str, fmt: str = "xml") -> None:
        self.root, self.api_key, self.fmt = root.rstrip("/"), api_key, fmt

    def _answer(self, response: requests.Response) -> list[dict[str, Any]]:
        if self.fmt == "json":
            return response.json()
        tree = ET.fromstring(response.content)  # noqa: S314 (our own server's answer)
        return [{child.tag: child.text for child in item} for item in tree]

    def post_request(self, service_code: str, **fields: Any) -> tuple[int, list[dict[str, Any]]]:
        attributes = fields.pop("attributes", {})
        form: list[tuple[str, str]] = [("api_key", self.api_key), ("service_code", service_code)]
        form += [(k, str(v)) for k, v in fields.items()]
        for code, value in attributes.items():
            if isinstance(value, list):
                form += [(f"attribute[{code}][]", v) for v in value]
            else:
                form.append((f"attribute[{code}]", value))
        response = requests.post(
            f"{self.root}/requests.{self.fmt}",
            data=form,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            timeout=10,
        )
        return response.status_code, self._answer(response)

    def post_update(self, **fields: Any) -> tuple[int, list[dict[str, Any]]]:
        response = requests.post(
            f"{self.root}/servicerequestupdates.{self.fmt}", data={"api_key": self.api_key, **fields}, timeout=10
        )
        return response.status_code, self._answer(response)

    def get_updates(self, **params: Any) -> list[dict[str, Any]]:
        response = requests.get(f"{self.root}/servicerequestupdates.{self.fmt}", params=params, timeout=10)
        response.raise_for_status()
        return self._answer(response)
