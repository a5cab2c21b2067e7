"""Where the app clients' secrets come from, and keeping them fresh.

Three sources, the first configured wins: ``RESEND_CLIENT_SECRETS`` (JSON in the environment),
``RESEND_CLIENT_SECRETS_FILE`` (the same JSON in a file, typically a mounted Kubernetes Secret,
which the kubelet rewrites on rotation) and ``RESEND_CLIENT_SECRETS_SECRET_ID`` (an AWS Secrets
Manager secret). The file and Secrets Manager sources are re-read every
``RESEND_CLIENT_SECRETS_REFRESH_SECONDS`` so a rotation needs no restart; a failed re-read keeps the
last good secrets and is logged (one line, never the content) and counted by reason in
``resend_worker_client_secrets_refresh_failures_total``, never raised into message processing.
Whatever the file or secret holds (any bytes, any size, any JSON), the re-read fails cleanly:
the refresher survives it and picks up the next good rotation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog
from pydantic import SecretStr
from resend_contract.aws_errors import describe

from worker import metrics
from worker.secret_hash import secret_hash
from worker.settings import Settings, parse_client_secrets_json

if TYPE_CHECKING:
    from types_aiobotocore_secretsmanager import SecretsManagerClient

log = structlog.get_logger(__name__)

Loader = Callable[[], Awaitable[dict[str, SecretStr]]]

# Secrets Manager's own limit on a SecretString; a file is held to the same.
MAX_DOCUMENT_BYTES = 65_536


class ClientSecretsError(Exception):
    """The secrets could not be loaded; the message never contains a secret.

    ``reason`` is one of ``metrics.CLIENT_SECRETS_FAILURE_REASONS``.
    """

    def __init__(self, message: str, reason: str = "unreadable") -> None:
        super().__init__(message)
        self.reason = reason


class ClientSecrets:
    """The current ClientId -> secret mapping, with the SECRET_HASH policy beside it."""

    def __init__(self, loader: Loader | None, *, source: str, refresh_seconds: float) -> None:
        self._loader = loader
        self._secrets: dict[str, SecretStr] = {}
        self.source = source
        self._refresh_seconds = refresh_seconds

    @classmethod
    def from_settings(
        cls, settings: Settings, secretsmanager: SecretsManagerClient | None
    ) -> ClientSecrets:
        refresh = settings.client_secrets_refresh_seconds
        if settings.client_secrets is not None:
            fixed = dict(settings.client_secrets)

            async def from_env() -> dict[str, SecretStr]:
                return fixed

            return cls(from_env, source="RESEND_CLIENT_SECRETS", refresh_seconds=0)
        if settings.client_secrets_file is not None:
            path = settings.client_secrets_file

            def read() -> bytes:
                # One byte more than allowed tells a file that is too large from one that fits.
                with path.open("rb") as file:
                    return file.read(MAX_DOCUMENT_BYTES + 1)

            async def from_file() -> dict[str, SecretStr]:
                try:
                    data = await asyncio.to_thread(read)
                except OSError as exc:
                    raise ClientSecretsError(f"cannot read {path}: {exc.strerror}") from None
                return _parse(data, str(path))

            return cls(from_file, source="RESEND_CLIENT_SECRETS_FILE", refresh_seconds=refresh)
        if settings.client_secrets_secret_id is not None:
            secret_id = settings.client_secrets_secret_id
            if secretsmanager is None:
                raise ClientSecretsError("a Secrets Manager client is needed")

            async def from_secrets_manager() -> dict[str, SecretStr]:
                try:
                    answer = await secretsmanager.get_secret_value(SecretId=secret_id)
                except Exception as exc:
                    code = describe(exc).code
                    raise ClientSecretsError(
                        f"cannot read Secrets Manager secret {secret_id}: {code}"
                    ) from None
                text = answer.get("SecretString")
                if not isinstance(text, str):
                    raise ClientSecretsError(f"secret {secret_id} has no SecretString", "invalid")
                return _parse(text.encode("utf-8", "surrogatepass"), f"secret {secret_id}")

            return cls(
                from_secrets_manager,
                source="RESEND_CLIENT_SECRETS_SECRET_ID",
                refresh_seconds=refresh,
            )
        return cls(None, source="none", refresh_seconds=0)

    async def load(self) -> None:
        """Load at start; a failure here stops the worker (raise)."""
        if self._loader is not None:
            self._secrets = await self._loader()
            metrics.client_secrets_refresh.labels("ok").inc()
        log.info("client secrets loaded", source=self.source, client_count=len(self._secrets))

    async def refresh_forever(self) -> None:
        """Re-read periodically; keep the last good secrets on failure, whatever it was."""
        if self._loader is None or self._refresh_seconds <= 0:
            return
        while True:
            await asyncio.sleep(self._refresh_seconds)
            try:
                fresh = await self._loader()
            except ClientSecretsError as exc:
                self._refresh_failed(exc.reason, str(exc))
                continue
            except Exception as exc:
                # Last resort: nothing a file or a secret holds may stop the refresher. The
                # exception's text may quote the content, so only its type is logged.
                self._refresh_failed("unreadable", type(exc).__name__)
                continue
            if set(fresh) != set(self._secrets) or any(
                fresh[k].get_secret_value() != self._secrets[k].get_secret_value() for k in fresh
            ):
                log.info("client secrets changed", source=self.source, client_count=len(fresh))
            self._secrets = fresh
            metrics.client_secrets_refresh.labels("ok").inc()

    def _refresh_failed(self, reason: str, error: str) -> None:
        metrics.client_secrets_refresh.labels("error").inc()
        metrics.client_secrets_refresh_failures.labels(reason).inc()
        log.warning(
            "client secrets refresh failed; keeping the last good ones",
            source=self.source,
            reason=reason,
            error=error,
            client_count=len(self._secrets),
        )

    def secret_hash_for(self, client_id: str, username: str, sent: str | None) -> str | None:
        """The SecretHash to send: ours when we hold the secret, else the producer's, else none."""
        secret = self._secrets.get(client_id)
        if secret is not None:
            return secret_hash(secret.get_secret_value(), username, client_id)
        return sent


def _parse(data: bytes, where: str) -> dict[str, SecretStr]:
    """The secrets in a document; each failure names the problem and where, never the content."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ClientSecretsError(f"{where} is larger than {MAX_DOCUMENT_BYTES} bytes", "too_large")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClientSecretsError(f"{where} is not UTF-8 (byte {exc.start})", "not_utf8") from None
    try:
        return parse_client_secrets_json(text)
    except ValueError as exc:
        raise ClientSecretsError(f"{where}: {exc}", "invalid") from None
