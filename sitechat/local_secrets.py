"""Secrets a non-production deployment did not set: generated once, kept in the data folder.

There is no public default secret. Outside production, each secret left unset (the JWT signing
key, the API-key pepper, the webhook signing secret) is generated on first use and stored in
`<SITECHAT_DATA_DIR>/secrets.json` (mode 0600), so every process of the deployment (uvicorn
workers, `sitechat worker`) and every restart signs and verifies with the same value, and a
deployment that forgot `SITECHAT_ENV` still signs with a secret nobody else knows. Production
never generates: an unset secret there is a configuration problem (`ops/config_check.py`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path

SECRETS_FILE_NAME = "secrets.json"
SECRET_NAMES = ("jwt_secret", "api_key_pepper", "stripe_webhook_secret")


def secrets_file(data_dir: Path) -> Path:
    return data_dir / SECRETS_FILE_NAME


def _read(path: Path) -> dict[str, str]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} is not a JSON object of secrets")
    return {str(key): str(value) for key, value in loaded.items()}


def _generated() -> dict[str, str]:
    return {name: secrets.token_urlsafe(48) for name in SECRET_NAMES}


def _publish(path: Path, values: dict[str, str], *, replace: bool) -> None:
    """Write `values` as `path`; without `replace`, the first process to publish wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(values, handle, indent=2)
    try:
        if replace:
            temporary.replace(path)
        else:
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)  # atomic: fails if another process published
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def local_secret(data_dir: Path, name: str) -> str:
    """The stored value of secret `name`, generated and stored on first use."""
    path = secrets_file(data_dir)
    stored = _read(path)
    if name not in stored:
        # A file from an older version may lack a newer name: keep its values, add the rest.
        _publish(path, {**_generated(), **stored}, replace=bool(stored))
        stored = _read(path)
    return stored[name]
