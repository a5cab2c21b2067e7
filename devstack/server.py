"""moto's server in a thread, with our Cognito extension and admin routes.

One ``DevStack`` is a whole local AWS (SQS, SNS, Cognito, Secrets Manager, DynamoDB) on one
127.0.0.1 port, for tests, benchmarks and the demo.
"""

from __future__ import annotations

import logging
import urllib.request
from types import TracebackType

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from devstack import cognito, sqs_faults, sqs_receive
from devstack.admin import AdminMiddleware


class _Server(ThreadedMotoServer):
    """ThreadedMotoServer, with moto's WSGI app wrapped by the admin routes.

    moto builds its app inside ``_server_entry``; this is the same code with one wrapper more.
    """

    def _server_entry(self) -> None:
        app = AdminMiddleware(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


class DevStack:
    """The local AWS stack: ``start()``, use ``endpoint_url``, ``stop()`` (or ``with``)."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", *, quiet: bool = True) -> None:
        """``quiet`` drops werkzeug's line per request, which costs CPU under load."""
        self._host = host
        self._port = port
        self._quiet = quiet
        self._server: _Server | None = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the devstack is not started")
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def start(self) -> DevStack:
        if self._server is None:
            cognito.install()
            sqs_receive.install()
            if self._quiet:
                logging.getLogger("werkzeug").setLevel(logging.WARNING)
            server = _Server(ip_address=self._host, port=self._port, verbose=False)
            server.start()
            self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def reset(self) -> None:
        """Wipe every resource (moto's reset) and the Cognito fault state and call record."""
        url = f"{self.endpoint_url}/moto-api/reset"  # always http://127.0.0.1:PORT
        request = urllib.request.Request(url, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            pass
        cognito.injector.reset()
        sqs_faults.faults.reset()

    def __enter__(self) -> DevStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
