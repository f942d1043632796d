"""Generated secrets, kept in the data folder with owner-only permissions.

Nothing ships a default secret: the first set-up generates each one, later runs reuse it.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

SECRETS_FILE = "secrets.json"


@dataclass(frozen=True)
class Secrets:
    ami_username: str
    ami_secret: str
    operator_passwords: dict[str, str]

    def operator_password(self, name: str) -> str:
        try:
            return self.operator_passwords[name]
        except KeyError:
            raise KeyError(f"no password generated for operator endpoint {name!r}") from None


def _token() -> str:
    return secrets.token_urlsafe(24)


def load_or_create(data_dir: Path, operators: list[str]) -> Secrets:
    """Read the secrets file, adding any missing secret, and return the whole set."""
    path = data_dir / SECRETS_FILE
    stored: dict[str, object] = {}
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
    changed = not path.exists()
    if not stored.get("ami_secret"):
        stored["ami_secret"] = _token()
        changed = True
    passwords = stored.get("operator_passwords")
    if not isinstance(passwords, dict):
        passwords = {}
    for name in operators:
        if name not in passwords:
            passwords[name] = _token()
            changed = True
    stored["operator_passwords"] = passwords
    stored.setdefault("ami_username", "hotline")
    if changed:
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(stored, handle, indent=2, sort_keys=True)
        os.replace(tmp, path)
    return Secrets(
        ami_username=str(stored["ami_username"]),
        ami_secret=str(stored["ami_secret"]),
        operator_passwords={str(k): str(v) for k, v in passwords.items()},
    )


def load(data_dir: Path) -> Secrets:
    """Read existing secrets; the set-up must have created them."""
    path = data_dir / SECRETS_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run 'hotline setup' first")
    stored = json.loads(path.read_text(encoding="utf-8"))
    return Secrets(
        ami_username=str(stored["ami_username"]),
        ami_secret=str(stored["ami_secret"]),
        operator_passwords={str(k): str(v) for k, v in stored["operator_passwords"].items()},
    )
