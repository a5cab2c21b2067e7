"""A typed client for the devstack's ``/_devstack/`` routes, usable from any process."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from devstack.faults import CallStats, Faults


@dataclass(frozen=True)
class DevUser:
    """A user of the local pool; email is their only attribute."""

    username: str
    email: str
    confirmed: bool = False


class DevStackAdminError(Exception):
    """The admin route refused the request (bad knob, unknown route)."""


class DevStackAdmin:
    """Set fault knobs and read the Cognito call record of a running devstack."""

    def __init__(self, endpoint_url: str, *, timeout: float = 10.0) -> None:
        if not endpoint_url.startswith(("http://", "https://")):
            raise ValueError("the endpoint URL must be http:// or https://")
        self.endpoint_url = endpoint_url.rstrip("/")
        self.timeout = timeout

    def set_faults(self, **knobs: Any) -> Faults:
        """Change only the knobs given; the others keep their value. Answers all knobs."""
        return Faults.from_json(self._call("POST", "cognito/faults", knobs))

    def faults(self) -> Faults:
        return Faults.from_json(self._call("GET", "cognito/faults"))

    def calls(self, *, with_calls: bool = True) -> CallStats:
        path = "cognito/calls" if with_calls else "cognito/calls?calls=0"
        return CallStats.from_json(self._call("GET", path))

    def add_users(self, user_pool_id: str, users: Iterable[DevUser]) -> int:
        """Create users in one request, straight in moto's backend (SignUp costs ~5 ms each)."""
        body = {
            "user_pool_id": user_pool_id,
            "users": [
                {"username": u.username, "email": u.email, "confirmed": u.confirmed} for u in users
            ],
        }
        return int(self._call("POST", "cognito/users", body)["created"])

    def held(self) -> dict[str, int]:
        """Requests waiting at a ``hold_users`` point right now, by username."""
        return {str(k): int(v) for k, v in self._call("GET", "cognito/held")["waiting"].items()}

    def release(self, *usernames: str) -> dict[str, int]:
        """Let held users' requests go on (every held user when none is named)."""
        body = {"usernames": list(usernames)} if usernames else {}
        answer = self._call("POST", "cognito/release", body)["waiting"]
        return {str(k): int(v) for k, v in answer.items()}

    def fail_sqs(
        self, operations: Iterable[str], seconds: float, queue: str = ""
    ) -> dict[str, Any]:
        """Make these SQS operations on queues whose URL contains ``queue`` answer HTTP 500 for
        ``seconds`` (replacing earlier rules); answers the rules in force and the refused count."""
        rule = {"operations": list(operations), "queue": queue, "seconds": seconds}
        return dict(self._call("POST", "sqs/faults", {"rules": [rule]}))

    def sqs_faults(self) -> dict[str, Any]:
        """The SQS rules still in force and how many requests each operation had refused."""
        return dict(self._call("GET", "sqs/faults"))

    def reset_sqs(self) -> None:
        self._call("POST", "sqs/reset")

    def reset(self) -> None:
        """Healthy knobs and an empty call record; AWS resources stay."""
        self._call("POST", "cognito/reset")

    def reset_all(self) -> None:
        """Wipe every AWS resource too (moto's reset)."""
        self._call("POST", "reset")

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 (scheme checked in __init__)
            f"{self.endpoint_url}/_devstack/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                return json.load(answer)
        except urllib.error.HTTPError as exc:
            detail = json.loads(exc.read() or b"{}").get("error", exc.reason)
            raise DevStackAdminError(f"{method} {path}: {exc.code} {detail}") from None


class AsyncDevStackAdmin:
    """The same calls for asyncio code; each runs the blocking client in a thread."""

    def __init__(self, endpoint_url: str, *, timeout: float = 10.0) -> None:
        self._sync = DevStackAdmin(endpoint_url, timeout=timeout)

    async def set_faults(self, **knobs: Any) -> Faults:
        return await asyncio.to_thread(lambda: self._sync.set_faults(**knobs))

    async def faults(self) -> Faults:
        return await asyncio.to_thread(self._sync.faults)

    async def calls(self, *, with_calls: bool = True) -> CallStats:
        return await asyncio.to_thread(lambda: self._sync.calls(with_calls=with_calls))

    async def add_users(self, user_pool_id: str, users: Iterable[DevUser]) -> int:
        users = list(users)
        return await asyncio.to_thread(lambda: self._sync.add_users(user_pool_id, users))

    async def reset(self) -> None:
        await asyncio.to_thread(self._sync.reset)

    async def reset_all(self) -> None:
        await asyncio.to_thread(self._sync.reset_all)
