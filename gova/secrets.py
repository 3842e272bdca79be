"""Encryption at rest for third-party credentials (e.g. a tenant's LLM provider key)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class SecretsUnavailable(RuntimeError):
    """No GOVA_SECRET_KEY: credentials cannot be stored or read."""


def new_key() -> str:
    return Fernet.generate_key().decode()


def _fernet(secret_key: str | None) -> Fernet:
    if not secret_key:
        raise SecretsUnavailable("set GOVA_SECRET_KEY (a Fernet key) to store provider keys")
    return Fernet(secret_key.encode())


def encrypt(secret_key: str | None, plaintext: str) -> str:
    return _fernet(secret_key).encrypt(plaintext.encode()).decode()


def decrypt(secret_key: str | None, token: str) -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretsUnavailable("stored key was encrypted with another GOVA_SECRET_KEY") from exc
