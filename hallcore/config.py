"""Reading the tablet's TOML config (DESIGN.md section 6): the error type and
the typed getters every part uses, so a bad value always names its key and
the fix the same way. The full schema of the tablet file lives with the code
that owns each table; this module only knows how to read and complain.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Mapping, Sequence
from zoneinfo import ZoneInfo

from hallcore.hallclock import DEFAULT_ZONE, zone_named

from hallcore.fsutil import regular_file_problem


class ConfigError(ValueError):
    """A config value that cannot be used: names the key, the value and the fix."""

    def __init__(self, key: str, problem: str, fix: str = "", *, source: str | None = None):
        self.key, self.problem, self.fix, self.source = key, problem, fix, source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{key}: {problem}" + (f" — {fix}" if fix else ""))


def load_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError("(file)", f"config file {path} does not exist",
                          "pass --config with the path of the tablet's TOML file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError("(file)", f"{path} is not valid TOML ({e})",
                          "fix the syntax at the line named") from None


_MISSING = object()


class Table:
    """A TOML table with typed getters that raise ConfigError naming the dotted key."""

    def __init__(self, data: Mapping[str, Any] | None, prefix: str = "", source: str | None = None):
        if data is not None and not isinstance(data, Mapping):
            raise ConfigError(prefix or "(root)", f"expected a table, got {data!r}",
                              f"write it as [{prefix}]", source=source)
        self.data = dict(data or {})
        self.prefix = prefix
        self.source = source
        self._read: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def error(self, name: str, problem: str, fix: str = "") -> ConfigError:
        return ConfigError(self.key(name), problem, fix, source=self.source)

    def table(self, name: str) -> "Table":
        self._read.add(name)
        return Table(self.data.get(name), self.key(name), self.source)

    def has(self, name: str) -> bool:
        return name in self.data

    def _get(self, name: str, default: Any) -> Any:
        self._read.add(name)
        if name in self.data:
            return self.data[name]
        if default is _MISSING:
            raise self.error(name, "is required but missing", f"add `{name} = ...` under [{self.prefix}]")
        return default

    def str(self, name: str, default: Any = _MISSING, *, choices: Sequence[str] | None = None,
            empty: bool = False) -> str:
        v = self._get(name, default)
        if v is None and default is None:
            return None  # type: ignore[return-value]
        if not isinstance(v, str) or (not empty and not v.strip()):
            raise self.error(name, f"expected a non-empty string, got {v!r}", 'quote it: name = "value"')
        if choices is not None and v not in choices:
            raise self.error(name, f"{v!r} is not allowed", f"use one of: {', '.join(choices)}")
        return v

    def int(self, name: str, default: Any = _MISSING, *, min: int | None = None,
            max: int | None = None, choices: Sequence[int] | None = None) -> int:
        v = self._get(name, default)
        if not isinstance(v, int) or isinstance(v, bool):
            raise self.error(name, f"expected a whole number, got {v!r}", "write it without quotes")
        if choices is not None and v not in choices:
            raise self.error(name, f"{v} is not allowed", f"use one of: {', '.join(map(str, choices))}")
        if (min is not None and v < min) or (max is not None and v > max):
            raise self.error(name, f"{v} is out of range", f"use a value from {min} to {max}")
        return v

    def float(self, name: str, default: Any = _MISSING, *, min: float | None = None,
              max: float | None = None) -> float:
        v = self._get(name, default)
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise self.error(name, f"expected a number, got {v!r}", "write it without quotes")
        if (min is not None and v < min) or (max is not None and v > max):
            raise self.error(name, f"{v} is out of range", f"use a value from {min} to {max}")
        return float(v)

    def bool(self, name: str, default: Any = _MISSING) -> bool:
        v = self._get(name, default)
        if not isinstance(v, bool):
            raise self.error(name, f"expected true or false, got {v!r}", "write true or false, unquoted")
        return v

    def str_list(self, name: str, default: Any = _MISSING) -> list[str]:
        v = self._get(name, default)
        if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
            raise self.error(name, f"expected a list of non-empty strings, got {v!r}",
                             'write it as ["a", "b"]')
        return list(v)

    def zone(self, name: str, default: str = DEFAULT_ZONE) -> ZoneInfo:
        """An IANA time zone name (hallcore.hallclock.zone_named checks it)."""
        v = self.str(name, default)
        try:
            return zone_named(v)
        except ValueError as e:
            raise self.error(name, str(e), f'use an IANA zone name, e.g. "{DEFAULT_ZONE}" or "Asia/Urumqi"') from None

    def path(self, name: str, default: Any = _MISSING, *, base: Path | None = None,
             must_exist: bool = False) -> Path | None:
        v = self._get(name, default)
        if v is None and default is None:
            return None
        if not isinstance(v, str) or not v.strip():
            raise self.error(name, f"expected a file path, got {v!r}", 'quote it: name = "/path"')
        p = Path(v)
        if base is not None and not p.is_absolute():
            p = base / p
        problem = regular_file_problem(p) if must_exist else None
        if problem:
            # a FIFO or device named here would block or never end the read that follows
            raise self.error(name, problem, "point it at a regular file (create it or fix the path)")
        return p

    def reject_unknown(self) -> None:
        """Call after reading a table: a typo'd key is an error, not ignored."""
        for name in self.data:
            if name not in self._read:
                raise self.error(name, "is not a known key", "check the spelling against config/example.toml")
