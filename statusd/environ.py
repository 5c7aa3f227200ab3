"""``STATUSD_*`` environment variables: the settings they set, and the unknown ones warned about.

A typo in an environment file (``STATUSD_INTERAVL=5``) must not pass unnoticed, yet other
tools share the prefix, so an unknown name is a warning naming the nearest known one, never
an error.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from statusd.config import PARSERS, TABLE_SETTINGS

log = logging.getLogger("statusd.config")

ENV_PREFIX = "STATUSD_"
ENV_CONFIG = "STATUSD_CONFIG"
"""The variable naming the TOML file (like ``--config``)."""

ENV_SETTINGS = {
    f"{ENV_PREFIX}{name.upper()}": name for name in PARSERS if name not in TABLE_SETTINGS
}
"""``STATUSD_<NAME>`` → the setting it overrides."""

ENV_NOT_SETTINGS = frozenset(
    {
        "STATUSD_OPTS",  # extra flags of systemd/statusd.service, in statusd's environment
        "STATUSD_SIM_OPTS",  # extra flags of systemd/statusd-sim.service
        "STATUSD_PREFIX",  # where `make install` puts statusd (mk/install.mk)
        # envsubst names of the nginx example (bench/nginx-cache.conf)
        "STATUSD_NGINX_LISTEN",
        "STATUSD_UPSTREAM_A",
        "STATUSD_UPSTREAM_B",
        "STATUSD_CACHE_DIR",
        "STATUSD_PUBLISH_LISTEN",
    }
)
"""``STATUSD_*`` names this project's own files give other programs: known, so never warned
about, though statusd reads none of them. Any other unknown name is most likely a typo."""


@dataclass(frozen=True, slots=True)
class UnknownVariable:
    """A ``STATUSD_*`` environment variable statusd does not read, and what was likely meant."""

    name: str
    nearest: str | None
    """The closest known name (``difflib``), or None when nothing is close."""
    hint: str = ""

    def __str__(self) -> str:
        text = f"environment variable {self.name} is not a setting and is ignored"
        if self.hint:
            return f"{text} ({self.hint})"
        return f"{text} (did you mean {self.nearest}?)" if self.nearest else text

    def log_fields(self) -> dict[str, str]:
        found = {"variable": self.name}
        if self.hint:
            found["hint"] = self.hint
        elif self.nearest:
            found["did_you_mean"] = self.nearest
        return found


def unknown_environ(environ: Mapping[str, str]) -> list[UnknownVariable]:
    """Every ``STATUSD_*`` variable that is neither a setting nor a known non-setting.

    Not an error: other tools share the prefix; statusd warns so a typo in an environment
    file (``STATUSD_INTERAVL=5``) does not pass unnoticed.
    """
    known = [*ENV_SETTINGS, ENV_CONFIG, *sorted(ENV_NOT_SETTINGS)]
    # Compared without the shared prefix, which would make any two names look alike.
    suffixes = {name.removeprefix(ENV_PREFIX).lower(): name for name in known}
    found: list[UnknownVariable] = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in known:
            continue
        suffix = name.removeprefix(ENV_PREFIX).lower()
        if suffix in TABLE_SETTINGS:
            found.append(UnknownVariable(name, None, f"{suffix} is set in the config file only"))
            continue
        nearest = difflib.get_close_matches(suffix, suffixes, n=1)
        found.append(UnknownVariable(name, suffixes[nearest[0]] if nearest else None))
    return found


def warn_unknown_environ(environ: Mapping[str, str]) -> None:
    """Log one warning per ``unknown_environ`` variable (at start, once logging is set up)."""
    for unknown in unknown_environ(environ):
        log.warning("unknown environment variable ignored", extra=unknown.log_fields())


def read_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """The raw settings of ``STATUSD_<NAME>`` variables (``STATUSD_CONFIG`` is the file)."""
    return {
        name: environ[variable] for variable, name in ENV_SETTINGS.items() if variable in environ
    }
