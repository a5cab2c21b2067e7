"""Control of the local stack over HTTP, on moto's own port.

Benchmarks and demos drive the stack from other processes, so the fault knobs and call record
are reachable as JSON under ``/_devstack/``. moto has no hook for extra routes (it builds one
Flask app per service, chosen by the request), so a WSGI wrapper answers this prefix and hands
everything else to moto untouched.

    GET  /_devstack/health               -> {"ok": true}
    POST /_devstack/reset                -> wipe moto and the fault state
    GET  /_devstack/cognito/faults       -> the knobs (Faults.to_json)
    POST /_devstack/cognito/faults       -> change the knobs given in the JSON body, answer all
    GET  /_devstack/cognito/calls[?calls=0] -> CallStats.to_json (without the list when calls=0)
    POST /_devstack/cognito/reset        -> healthy knobs, no history
    GET  /_devstack/cognito/held         -> {"waiting": {username: requests held now}}
    POST /_devstack/cognito/release      -> {"usernames": [...]} (all when omitted) stop being
                                            held; answers {"waiting": ...} as it was
    POST /_devstack/cognito/users        -> {"user_pool_id": id, "users": [{"username", "email",
                                            "confirmed"}]} created in moto's backend at once
    GET  /_devstack/sqs/faults           -> {"rules": [...], "refused": {operation: count}}
    POST /_devstack/sqs/faults           -> {"rules": [{"operations": [...], "queue": "...",
                                            "seconds": N}]} replace the SQS refusal rules
    POST /_devstack/sqs/reset            -> no rules, no count
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

from devstack import sqs_faults
from devstack.cognito import add_users, injector

PREFIX = "/_devstack/"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def reset_moto() -> None:
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


class AdminMiddleware:
    """Answers ``/_devstack/`` itself and passes every other request to moto."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if not str(environ.get("PATH_INFO", "")).startswith(PREFIX):
            if sqs_faults.faults.active:
                refused = self._refuse_sqs(environ)
                if refused is not None:
                    start_response(refused[0], refused[1])
                    return [refused[2]]
            return self.app(environ, start_response)
        request = Request(environ)
        try:
            status, body = self._route(request)
        except ValueError as exc:
            status, body = 400, {"error": str(exc)}
        response = Response(json.dumps(body), status=status, mimetype="application/json")
        return response(environ, start_response)

    @staticmethod
    def _refuse_sqs(environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes] | None:
        """Read the body (and put it back for moto); an error answer if a rule refuses it."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        request = sqs_faults.sqs_request(environ, body)
        if request is None or not sqs_faults.faults.refusal(*request):
            return None
        return sqs_faults.error_response("HTTP_X_AMZ_TARGET" in environ)

    def _route(self, request: Request) -> tuple[int, Any]:
        route = (request.method, request.path.removeprefix(PREFIX).rstrip("/"))
        if route == ("GET", "health"):
            return 200, {"ok": True}
        if route == ("POST", "reset"):
            reset_moto()
            injector.reset()
            sqs_faults.faults.reset()
            return 200, {"ok": True}
        if route == ("GET", "sqs/faults"):
            return 200, sqs_faults.faults.state()
        if route == ("POST", "sqs/faults"):
            body = json.loads(request.get_data(as_text=True) or "{}")
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object with rules")
            return 200, sqs_faults.faults.configure(body.get("rules", []))
        if route == ("POST", "sqs/reset"):
            sqs_faults.faults.reset()
            return 200, {"ok": True}
        if route == ("GET", "cognito/faults"):
            return 200, injector.faults.to_json()
        if route == ("POST", "cognito/faults"):
            changes = json.loads(request.get_data(as_text=True) or "{}")
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object of knobs")
            return 200, injector.configure(changes).to_json()
        if route == ("GET", "cognito/calls"):
            with_calls = request.args.get("calls", "1") not in ("0", "false")
            return 200, injector.stats(with_calls=with_calls).to_json()
        if route == ("GET", "cognito/held"):
            return 200, {"waiting": injector.waiting()}
        if route == ("POST", "cognito/release"):
            body = json.loads(request.get_data(as_text=True) or "{}")
            names = body.get("usernames") if isinstance(body, dict) else None
            if names is not None and not (
                isinstance(names, list) and all(isinstance(n, str) for n in names)
            ):
                raise ValueError("usernames must be a list of strings")
            return 200, {"waiting": injector.release(names)}
        if route == ("POST", "cognito/reset"):
            injector.reset()
            return 200, {"ok": True}
        if route == ("POST", "cognito/users"):
            body = json.loads(request.get_data(as_text=True) or "{}")
            try:
                created = add_users(str(body["user_pool_id"]), list(body["users"]))
            except (KeyError, TypeError) as exc:
                raise ValueError(f"bad users request: missing or wrong {exc}") from None
            return 200, {"created": created}
        return 404, {"error": f"no route {route[0]} {request.path}"}
