"""SECRET_HASH against vectors computed independently with `openssl dgst -sha256 -hmac`."""

import pytest
from pydantic import SecretStr

from worker.client_secrets import ClientSecrets
from worker.secret_hash import secret_hash

VECTORS = [
    (
        "s3cr3t-client-secret",
        "jane",
        "1example23456789",
        "8ZezZ9vybR/o++x3zv6SsoTcliH8+R1cGzlRNtvuXsg=",
    ),
    (
        "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop",
        "Jane.Doe@example.com",
        "4a6b8c2d0e1f3g5h7i9j1k3l5m",
        "Hby4+iDed0IK4k2GWIXJenO1gi5XjraLBI1IY/61fi0=",
    ),
    ("k", "ünïcødé-用户", "c+1", "cXSP1CdXbDbKDZMoM/5A7JZ5nOt16/EuzKGMZPt8eWI="),
]


@pytest.mark.parametrize(("secret", "username", "client_id", "expected"), VECTORS)
def test_known_vectors(secret: str, username: str, client_id: str, expected: str) -> None:
    assert secret_hash(secret, username, client_id) == expected
    assert len(expected) == 44


def test_hash_is_over_the_exact_username() -> None:
    assert secret_hash("k", "Jane", "c") != secret_hash("k", "jane", "c")


async def _secrets(mapping: dict[str, str]) -> ClientSecrets:
    fixed = {k: SecretStr(v) for k, v in mapping.items()}

    async def load() -> dict[str, SecretStr]:
        return fixed

    secrets = ClientSecrets(load, source="test", refresh_seconds=0)
    await secrets.load()
    return secrets


async def test_policy_ours_then_producers_then_none() -> None:
    secrets = await _secrets({"1example23456789": "s3cr3t-client-secret"})
    # A configured secret wins, even over a hash the producer sent.
    assert secrets.secret_hash_for("1example23456789", "jane", "producer=") == VECTORS[0][3]
    # A public client: the producer's hash is passed through, or none is sent.
    assert secrets.secret_hash_for("publicclient", "jane", "producer=") == "producer="
    assert secrets.secret_hash_for("publicclient", "jane", None) is None
