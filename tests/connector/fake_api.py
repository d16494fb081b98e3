"""A scriptable in-process API for `httpx.MockTransport` client tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

BASE = "https://api.test"
Responder = Callable[[httpx.Request], httpx.Response | None]


def envelope(
    status: str,
    run_id: str = "r1",
    rows: list[dict[str, Any]] | None = None,
    next_after: str | None = None,
    cutoff: str | None = None,
) -> dict[str, Any]:
    """A report envelope like the API's."""
    links: dict[str, Any] = {
        "self": {"href": f"{BASE}/api/v1/reports/results/{run_id}?max=500"}
    }
    if next_after is not None:
        links["next"] = {
            "href": f"{BASE}/api/v1/reports/results/{run_id}?max=500"
            f"&starting_after={next_after}"
        }
    result: dict[str, Any] = {"data": rows or [], "total": None, "timeZone": "UTC"}
    if cutoff:
        result["dataCutoffTimestamp"] = cutoff
    return {"_links": links, "status": status, "progress": 0, "result": result}


def error(status: int, message: str = "boom") -> httpx.Response:
    """An error envelope."""
    body = {"status": "error", "error": {"code": str(status), "message": message}}
    return httpx.Response(status, json=body)


@dataclass
class FakeApi:
    """Answers from a queue of scripted responders, then from `default`.

    Attributes:
        log: (method, path, query) of every request seen.
    """

    scripted: list[Responder] = field(default_factory=list)
    default: Responder | None = None
    log: list[tuple[str, str, str]] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        """A transport answering through this fake."""
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.log.append((request.method, request.url.path, request.url.query.decode()))
        while self.scripted:
            answer = self.scripted.pop(0)(request)
            if answer is not None:
                return answer
        if self.default is not None:
            answer = self.default(request)
            if answer is not None:
                return answer
        raise AssertionError(f"unexpected request {request.method} {request.url}")

    def count(self, method: str, path_prefix: str = "") -> int:
        """How many requests of `method` under `path_prefix` were seen."""
        return sum(
            1 for m, p, _ in self.log if m == method and p.startswith(path_prefix)
        )


def body_of(request: httpx.Request) -> dict[str, Any]:
    """The JSON body of a request."""
    parsed: dict[str, Any] = json.loads(request.content)
    return parsed
