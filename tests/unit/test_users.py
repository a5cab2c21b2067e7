"""Who is "the same user": per user pool, folded as the pool folds, keyed by RESEND_HASH_KEY."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any

import pytest

from worker import users
from worker.dedupe import dedupe_key
from worker.logs import username_hash
from worker.settings import Settings, SettingsError, load_settings
from worker.users import BUILT_IN_HASH_KEY, Pool, UserDirectory, using

POOL = "us-east-1_AbC123xyz"
WEB, MOBILE, OTHER = "webclient1", "mobileclient2", "otherclient3"
# Distinct Cognito users that str.casefold() would merge: case folding is not compatibility folding.
CASEFOLD_ONLY_PAIRS = [("straße", "strasse"), ("\u017fam", "sam"), ("\ufb01ona", "fiona")]
BASE: dict[str, Any] = {
    "queue_url": "https://sqs.example/q",
    "result_topic_arn": "arn:aws:sns:us-east-1:123456789012:t",
}


def directory(case_sensitive: bool, *, key: bytes = BUILT_IN_HASH_KEY) -> UserDirectory:
    pool = Pool(POOL, case_sensitive)
    return UserDirectory({WEB: pool, MOBILE: pool}, hash_key=key)


def from_env(**overrides: Any) -> UserDirectory:
    return UserDirectory.from_settings(Settings(**BASE, **overrides))


# The key.


@pytest.mark.parametrize("case_sensitive", [True, False])
@pytest.mark.parametrize(("first", "second"), CASEFOLD_ONLY_PAIRS)
def test_pairs_only_casefold_merges_stay_distinct(
    case_sensitive: bool, first: str, second: str
) -> None:
    assert first.casefold() == second.casefold(), "the pair is what casefold() wrongly merges"
    keys = directory(case_sensitive)
    assert keys.dedupe_key(WEB, first) != keys.dedupe_key(WEB, second)
    assert keys.pseudonym(WEB, first) != keys.pseudonym(WEB, second)


def test_ascii_case_is_one_user_only_in_a_case_insensitive_pool() -> None:
    assert directory(False).dedupe_key(WEB, "Jane") == directory(False).dedupe_key(WEB, "jane")
    assert directory(True).dedupe_key(WEB, "Jane") != directory(True).dedupe_key(WEB, "jane")


def test_case_insensitive_pool_lowercases_unicode_letters_too() -> None:
    keys = directory(False)
    assert keys.dedupe_key(WEB, "STRASSE") == keys.dedupe_key(WEB, "strasse")
    assert keys.dedupe_key(WEB, "STRASSE") != keys.dedupe_key(WEB, "straße")
    assert keys.dedupe_key(WEB, "ÉLODIE") == keys.dedupe_key(WEB, "élodie")
    assert keys.dedupe_key(WEB, "\u1e9e") == keys.dedupe_key(WEB, "ß")  # capital sharp s


@pytest.mark.parametrize("case_sensitive", [True, False])
def test_two_app_clients_of_one_pool_are_the_same_users(case_sensitive: bool) -> None:
    keys = directory(case_sensitive)
    assert keys.dedupe_key(WEB, "jane") == keys.dedupe_key(MOBILE, "jane")
    assert keys.pseudonym(WEB, "jane") == keys.pseudonym(MOBILE, "jane")
    assert keys.dedupe_key(WEB, "jane") != keys.dedupe_key(OTHER, "jane")


def test_unlisted_client_is_its_own_pool_and_case_sensitive_by_default() -> None:
    keys = UserDirectory()
    assert keys.dedupe_key(OTHER, "Jane") != keys.dedupe_key(OTHER, "jane")
    assert keys.dedupe_key(OTHER, "jane") != keys.dedupe_key(WEB, "jane")
    folding = UserDirectory(default_case_sensitive=False)
    assert folding.dedupe_key(OTHER, "Jane") == folding.dedupe_key(OTHER, "jane")


def test_a_client_id_equal_to_a_pool_id_is_not_that_pool() -> None:
    keys = UserDirectory({WEB: Pool("same_1", True)})
    assert keys.dedupe_key(WEB, "bob") != keys.dedupe_key("same_1", "bob")


def test_key_is_the_hmac_of_the_pool_identity() -> None:
    key = b"k" * 32
    message = json.dumps(["dedupe", "pool", POOL, "jane"], separators=(",", ":")).encode()
    expected = hmac.new(key, message, hashlib.sha256).hexdigest()
    assert directory(False, key=key).dedupe_key(WEB, "Jane") == expected
    unkeyed = hashlib.sha256(json.dumps([WEB, "jane"]).encode()).hexdigest()
    assert expected != unkeyed


def test_hash_key_changes_every_key_and_pseudonym() -> None:
    one, two = directory(True, key=b"a" * 16), directory(True, key=b"b" * 16)
    assert one.dedupe_key(WEB, "jane") != two.dedupe_key(WEB, "jane")
    assert one.pseudonym(WEB, "jane") != two.pseudonym(WEB, "jane")


def test_dedupe_key_and_pseudonym_are_not_derivable_from_each_other() -> None:
    keys = directory(True)
    assert not keys.dedupe_key(WEB, "jane").startswith(keys.pseudonym(WEB, "jane"))


@pytest.mark.parametrize(
    ("first", "second"),
    [(("ab", "c"), ("a", "bc")), (('a","b', "c"), ("a", 'b","c')), (("a", ""), ("", "a"))],
)
def test_the_pair_is_joined_unambiguously(first: tuple[str, str], second: tuple[str, str]) -> None:
    keys = UserDirectory()
    assert keys.dedupe_key(*first) != keys.dedupe_key(*second)


def test_any_string_has_a_key_and_no_username_in_it() -> None:
    keys = directory(False)
    lone_surrogate = keys.dedupe_key(WEB, "ab\ud800cd")
    assert len(lone_surrogate) == 64 and int(lone_surrogate, 16) >= 0
    key = keys.dedupe_key(WEB, "alice@example.com")
    assert "alice" not in key and "example" not in key


# The directory in use, and the module-level functions that read it.


def test_dedupe_key_and_username_hash_use_the_current_directory() -> None:
    assert dedupe_key(WEB, "Jane") != dedupe_key(MOBILE, "jane")
    with using(directory(False)):
        assert dedupe_key(WEB, "Jane") == dedupe_key(MOBILE, "jane")
        assert username_hash(WEB, "Jane") == username_hash(MOBILE, "jane")
        pseudonym = username_hash(WEB, "jane")
        assert pseudonym is not None and len(pseudonym) == 16 and int(pseudonym, 16) >= 0
    assert users.current() == UserDirectory()


async def test_tasks_inherit_their_workers_directory() -> None:
    async def key_in_task() -> str:
        await asyncio.sleep(0)
        return dedupe_key(MOBILE, "jane")

    with using(directory(False)):
        inside = await asyncio.create_task(key_in_task())
    assert inside == directory(False).dedupe_key(WEB, "JANE")
    assert await asyncio.create_task(key_in_task()) == UserDirectory().dedupe_key(MOBILE, "jane")


# Settings.


def test_user_pools_setting_from_json() -> None:
    pools = json.dumps({POOL: {"CaseSensitive": False, "ClientIds": [WEB, MOBILE]}})
    keys = from_env(user_pools=pools, hash_key="x" * 16)
    assert keys.pools == {WEB: Pool(POOL, False), MOBILE: Pool(POOL, False)}
    assert keys.hash_key == b"x" * 16 and not keys.uses_built_in_key
    assert keys.dedupe_key(WEB, "Jane") == keys.dedupe_key(MOBILE, "jane")


def test_defaults_keep_users_apart() -> None:
    keys = from_env()
    assert keys.pools == {} and keys.default_case_sensitive is True and keys.uses_built_in_key


def test_user_pools_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "RESEND_QUEUE_URL": BASE["queue_url"],
        **{
            "RESEND_RESULT_TOPIC_ARN": BASE["result_topic_arn"],
            "RESEND_USER_POOLS": json.dumps({POOL: {"CaseSensitive": True, "ClientIds": [WEB]}}),
        },
    }.items():
        monkeypatch.setenv(name, value)
    assert load_settings().user_pools[POOL].case_sensitive is True


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("{not json", "RESEND_USER_POOLS: is not valid JSON"),
        ('["a"]', "RESEND_USER_POOLS: must be a JSON object"),
        (json.dumps({"not-a-pool-id": {"CaseSensitive": True, "ClientIds": [WEB]}}), "pattern"),
        (json.dumps({POOL: {"ClientIds": [WEB]}}), "RESEND_USER_POOLS: CaseSensitive is required"),
        (json.dumps({POOL: {"CaseSensitive": "no", "ClientIds": [WEB]}}), "valid boolean"),
        (json.dumps({POOL: {"CaseSensitive": True, "ClientIds": []}}), "at least 1"),
        (json.dumps({POOL: {"CaseSensitive": True, "ClientIds": ["bad id!"]}}), "pattern"),
        (json.dumps({POOL: {"CaseSensitive": True, "ClientIds": [WEB], "Extra": 1}}), "Extra"),
        (
            json.dumps(
                {
                    POOL: {"CaseSensitive": True, "ClientIds": [WEB]},
                    "eu-west-1_Other": {"CaseSensitive": False, "ClientIds": [MOBILE, WEB]},
                }
            ),
            "listed under pool 1 and pool 2",
        ),
    ],
)
def test_bad_user_pools_are_refused_without_echoing_them(value: str, problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(**BASE, user_pools=value)
    message = str(caught.value)
    assert problem in message
    assert WEB not in message and MOBILE not in message


def test_a_pool_outside_the_user_pools_region_is_refused() -> None:
    pools = json.dumps({POOL: {"CaseSensitive": True, "ClientIds": [WEB]}})
    with pytest.raises(SettingsError) as caught:
        load_settings(**BASE, user_pools=pools, cognito_region="eu-west-1")
    assert "pool 1 is not in the user pools' region" in str(caught.value)
    assert load_settings(**BASE, user_pools=pools, region="us-east-1").user_pools


def test_short_hash_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(**BASE, hash_key="short-key")
    assert "RESEND_HASH_KEY: must be at least 16 characters" in str(caught.value)
    assert "short-key" not in str(caught.value)
