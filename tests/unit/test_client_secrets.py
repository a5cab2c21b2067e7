"""The secrets refresher over a real file: every bad document fails cleanly, the good one stays."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from worker import metrics
from worker.client_secrets import MAX_DOCUMENT_BYTES, ClientSecrets, ClientSecretsError
from worker.settings import Settings

GOOD_SECRET = "the-good-secret"
CLIENT = "client1"

BAD_DOCUMENTS = [
    ("not_utf8", b'{"client1": "\xff\xfe"}'),
    ("invalid", b'{"client1": 1' + b"0" * 60_000 + b"}"),
    ("invalid", b'{"client1": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"),
    ("invalid", b""),
    ("invalid", b"   \n"),
    ("invalid", b'["client1", "x"]'),
    ("invalid", b"123"),
    ("invalid", b'{"client1": {"secret": "x"}}'),
    ("invalid", b'{"client1": null}'),
    ("invalid", b'{"client1": NaN}'),
    ("invalid", b'{"client1": "\\ud800"}'),
    ("invalid", b'{"not a client id!": "x"}'),
    ("invalid", b'{"client1": "x"'),
    ("too_large", b'{"client1": "' + b"x" * MAX_DOCUMENT_BYTES + b'"}'),
]


def file_secrets(path: Path, refresh: float) -> ClientSecrets:
    # model_construct: the settings' 10 s floor on the period would make this test slow.
    settings = Settings.model_construct(
        client_secrets=None,
        client_secrets_file=path,
        client_secrets_secret_id=None,
        # Below the setting's floor of 10 s, so the test runs in milliseconds.
        client_secrets_refresh_seconds=refresh,  # type: ignore[arg-type]
    )
    return ClientSecrets.from_settings(settings, None)


def failures(reason: str) -> float:
    return float(metrics.client_secrets_refresh_failures.labels(reason)._value.get())


def current_secret(secrets: ClientSecrets) -> str | None:
    return secrets.secret_hash_for(CLIENT, "jane", None)


async def until(condition: Any, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


@pytest.mark.parametrize(("reason", "content"), BAD_DOCUMENTS)
async def test_a_bad_rotation_keeps_the_last_good_secrets(
    tmp_path: Path, reason: str, content: bytes
) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({CLIENT: GOOD_SECRET}))
    secrets = file_secrets(path, 0.02)
    await secrets.load()
    good_hash = current_secret(secrets)
    assert good_hash is not None
    before = failures(reason)
    path.write_bytes(content)
    with capture_logs() as logs:
        refresher = asyncio.create_task(secrets.refresh_forever())
        try:
            await until(lambda: failures(reason) > before)
            assert current_secret(secrets) == good_hash
            # The next good rotation is picked up.
            path.write_text(json.dumps({CLIENT: "the-next-secret"}))
            await until(lambda: current_secret(secrets) != good_hash)
        finally:
            refresher.cancel()
    failed = [e for e in logs if e["event"].startswith("client secrets refresh failed")]
    assert failed and all(e["reason"] == reason for e in failed)
    shown = repr(failed)
    assert "xff" not in shown and "0000000000" not in shown and "[[[[" not in shown
    assert GOOD_SECRET not in shown and "not a client id" not in shown
    assert any(e["event"] == "client secrets changed" for e in logs)


async def test_bad_documents_at_start_are_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    for _, content in BAD_DOCUMENTS:
        path.write_bytes(content)
        with pytest.raises(ClientSecretsError) as caught:
            await file_secrets(path, 10).load()
        assert str(path) in str(caught.value)
        assert "xff" not in str(caught.value) and "0000000000" not in str(caught.value)


async def test_a_missing_file_is_unreadable_and_kept_through(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({CLIENT: GOOD_SECRET}))
    secrets = file_secrets(path, 0.02)
    await secrets.load()
    before = failures("unreadable")
    path.unlink()
    refresher = asyncio.create_task(secrets.refresh_forever())
    try:
        await until(lambda: failures("unreadable") > before)
        assert current_secret(secrets) is not None
    finally:
        refresher.cancel()


class LeakyError(Exception):
    """An error whose text quotes what it read, as some libraries' errors do."""


async def test_an_unexpected_error_is_logged_by_type_and_survived() -> None:
    calls = 0

    async def loader() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            from pydantic import SecretStr

            return {CLIENT: SecretStr(GOOD_SECRET)}
        raise LeakyError(f"could not parse {GOOD_SECRET}")

    secrets = ClientSecrets(loader, source="test", refresh_seconds=0.01)
    await secrets.load()
    with capture_logs() as logs:
        refresher = asyncio.create_task(secrets.refresh_forever())
        await until(lambda: calls >= 4)
        assert not refresher.done()
        refresher.cancel()
    assert current_secret(secrets) is not None
    assert GOOD_SECRET not in repr(logs)
    assert any(e.get("error") == "LeakyError" for e in logs)
