"""Serving in production refuses empty, default and short API keys (Y2), naming the variable
and how to make a good key, without repeating the key."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import SecretStr

from tabops.errors import TabopsError
from tabops.serve.app import auth_for
from tabops.settings import Settings

GOOD = "pk-first-0c6f1d2a9b7e4f35"
ADMIN = "ak-admin-5a4b3c2d1e0f9a8b"


def _settings(
    keys: list[str], admin: str, env: Literal["embedded", "production"] = "production"
) -> Settings:
    return Settings(env=env, api_keys=[SecretStr(k) for k in keys], admin_key=SecretStr(admin))


@pytest.mark.parametrize(
    ("keys", "admin", "named"),
    [
        ([GOOD, "changeme"], ADMIN, "TABOPS_API_KEYS holds an empty or default key"),
        ([GOOD], "admin", "TABOPS_ADMIN_KEY holds an empty or default key"),
        (["pk-short-123"], ADMIN, "TABOPS_API_KEYS holds a key shorter than 16"),
    ],
)
def test_weak_keys_are_refused(keys: list[str], admin: str, named: str) -> None:
    with pytest.raises(TabopsError) as error:
        auth_for(_settings(keys, admin))
    message = str(error.value)
    assert named in message and "token_urlsafe" in message
    assert "changeme" not in message and "pk-short-123" not in message


def test_good_keys_pass_and_embedded_mode_takes_any() -> None:
    assert auth_for(_settings([GOOD], ADMIN)).enabled
    assert auth_for(_settings(["demo"], "admin", env="embedded")).enabled
