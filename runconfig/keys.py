"""The one place an API key is read from the environment.

Config files never hold a key: a section names the variable (``api_key_env``) and the code that builds a
client calls :func:`api_key` with that name. Library code (synthesis, validators) takes the key as an argument
and reads no environment itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["api_key"]


def api_key(variable: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of environment variable ``variable``; ``""`` when it is unset.

    Clients substitute their own placeholder for ``""`` (the OpenAI-compatible teacher sends ``"none"``, the
    judge ``"EMPTY"``), which is what local servers accept.

    Args:
        variable (`str`): the variable a config's ``api_key_env`` names.
        environ (`Mapping[str, str]`, *optional*): the environment to read; ``os.environ`` when None.

    Example:
        >>> api_key("MY_KEY", {"MY_KEY": "sk-1"}), api_key("MY_KEY", {})
        ('sk-1', '')
    """
    env = os.environ if environ is None else environ
    return env[variable] if variable in env else ""
