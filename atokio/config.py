"""Site configuration (``tokio.config``), loaded when atokio is imported.

Which file is read: ``$ATOKIO_CONFIG`` if set, else ``$PYTOKIO_CONFIG``, else
the ``site.json`` packaged with atokio (a link to ``site.json`` at the top of
the repository).  A missing file is an empty configuration; with
``PYTOKIO_SKIP_CONFIG`` (or ``ATOKIO_SKIP_CONFIG``) set, no file is read and no
override applied.  The file is JSON (YAML too when PyYAML is installed, with
``${VAR}`` expanded from the environment).  Top-level keys are lower-cased;
keys starting with ``_`` are comments: no tool reads them, but they are loaded
like any other key, so that ``CONFIG`` holds every key of the file.

After loading, these variables replace single keys (the value is parsed as
JSON when it can be, else taken as a string): ``PYTOKIO_HDF5_FILES``,
``PYTOKIO_ISDCT_FILES``, ``PYTOKIO_LFSSTATUS_FULLNESS_FILES``,
``PYTOKIO_LFSSTATUS_MAP_FILES``, ``PYTOKIO_DARSHAN_LOG_DIRS`` and
``PYTOKIO_ESNET_SNMP_URI`` (which sets both ``esnet_snmp_uri`` and
``esnet_snmp_url``, the key's two historical spellings); the same names with
``ATOKIO_`` also work and win.

Relative paths in the configuration are used as they are, i.e. relative to the
current working directory of the process when a tool uses them (as in the
reference, whose test configuration has ``inputs/%Y-%m-%d/...`` paths).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

__all__ = [
    "CONFIG",
    "DEFAULT_CONFIG_FILE",
    "MAGIC_VARIABLES",
    "PYTOKIO_CONFIG_FILE",
    "init_config",
]

#: The loaded configuration.
CONFIG: dict[str, Any] = {}

#: The packaged default configuration.
DEFAULT_CONFIG_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "site.json")

#: The configuration file actually loaded (empty when none was).
PYTOKIO_CONFIG_FILE = ""

#: Environment variables that override one key each (prefix removed, lower-cased).
OVERRIDES = (
    "HDF5_FILES",
    "ISDCT_FILES",
    "LFSSTATUS_FULLNESS_FILES",
    "LFSSTATUS_MAP_FILES",
    "DARSHAN_LOG_DIRS",
    "ESNET_SNMP_URI",
)

#: pytokio's name for the same list: each entry, prefixed with ``PYTOKIO_``,
#: is an environment variable that replaces the key ``entry.lower()``.
MAGIC_VARIABLES = list(OVERRIDES)

_ENV_REF = re.compile(r"\$\{(\w+)\}")


def _env(name: str) -> str | None:
    """``ATOKIO_<name>`` or ``PYTOKIO_<name>``."""
    value = os.environ.get("ATOKIO_" + name)
    return value if value is not None else os.environ.get("PYTOKIO_" + name)


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        import yaml
    except ImportError:
        raise
    return _expand(yaml.safe_load(text))


def _expand(value: Any) -> Any:
    if isinstance(value, str):
        return _ENV_REF.sub(lambda m: os.environ.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [_expand(v) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    return value


def _override_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def init_config() -> None:
    """Load the site configuration, then apply environment overrides."""
    global PYTOKIO_CONFIG_FILE
    CONFIG.clear()
    if _env("SKIP_CONFIG") is not None:
        PYTOKIO_CONFIG_FILE = ""
        return
    path = _env("CONFIG") or DEFAULT_CONFIG_FILE
    PYTOKIO_CONFIG_FILE = path
    try:
        with open(path) as handle:
            text = handle.read()
    except FileNotFoundError:
        text = ""
    if text.strip():
        loaded = _parse(text)
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: the configuration must be a JSON object")
        CONFIG.update({str(key).lower(): value for key, value in loaded.items()})
    for name in OVERRIDES:
        value = _env(name)
        if value is None:
            continue
        key = name.lower()
        CONFIG[key] = _override_value(value)
        if key == "esnet_snmp_uri":
            CONFIG["esnet_snmp_url"] = CONFIG[key]


def __getattr__(name: str) -> Any:
    """Upper-case names read the loaded configuration: ``config.HDF5_FILES`` is ``CONFIG["hdf5_files"]``.

    Older pytokio scripts read keys this way.  The value is the one loaded by
    the last :func:`init_config`.
    """
    if name.isupper() and name.lower() in CONFIG:
        return CONFIG[name.lower()]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


init_config()
