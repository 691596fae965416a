"""Reading scenario files: YAML, ``extends:`` inheritance, ``--set`` overrides, validation.

Errors are raised as :class:`ScenarioError` whose message names the file, the field path and
what is expected, before anything is written.
"""

from __future__ import annotations

import copy
import reprlib
import warnings
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sim.scenario.schema import Scenario, ScenarioError


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Merge ``over`` into ``base``: mappings merge recursively, everything else replaces."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def yaml_error_text(err: yaml.YAMLError) -> str:
    """`` (line L, column C): problem`` of a YAML parse error, for one-line messages."""
    mark = getattr(err, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    problem = getattr(err, "problem", None) or " ".join(str(err).split())
    return f"{where}: {problem}"


#: Largest YAML file read (a scenario is a few kB; a price table does not belong here).
MAX_YAML_BYTES = 2_000_000
#: Most values a YAML file may expand to once its aliases (``*name``) are resolved: a few
#: hundred bytes of nested aliases can otherwise stand for billions of values.
MAX_YAML_VALUES = 200_000

_SHORT = reprlib.Repr()
_SHORT.maxstring = 60
_SHORT.maxother = 60
_SHORT.maxlist = _SHORT.maxdict = _SHORT.maxtuple = 4
_SHORT.maxlevel = 2


def short(value: Any) -> str:
    """A short excerpt of ``value`` for an error message (never the whole of a large value)."""
    return _SHORT.repr(value)


def _expanded_size(data: Any, limit: int) -> int:
    """Number of values ``data`` holds with shared (aliased) parts counted at every use.

    Stops counting once past ``limit``; each distinct container is walked once.
    """
    sizes: dict[int, int] = {}

    def size(x: Any) -> int:
        if not isinstance(x, dict | list):
            return 1
        if id(x) in sizes:
            return sizes[id(x)]
        items = list(x.keys()) + list(x.values()) if isinstance(x, dict) else x
        n = 1
        for item in items:
            n += size(item)
            if n > limit:
                break
        sizes[id(x)] = n
        return n

    return size(data)


def read_yaml_file(path: Path, error: type[Exception] = ScenarioError) -> Any:
    """Parse a YAML file safely: size, encoding, syntax, nesting and alias expansion checked.

    Raises ``error`` with a one-line message naming the file (never the file's content).
    """
    try:
        if not path.exists():
            raise error(f"{path}: file not found")
        if not path.is_file():
            raise error(f"{path}: not a file")
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise error(f"{path}: {size:,} bytes; a YAML file here is at most {MAX_YAML_BYTES:,}")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise error(f"{path}: not a UTF-8 text file") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"{path}: malformed YAML{yaml_error_text(exc)}") from None
    except RecursionError:
        raise error(f"{path}: nested too deeply to be a configuration file") from None
    try:
        n = _expanded_size(data, MAX_YAML_VALUES)
    except RecursionError:
        raise error(f"{path}: nested too deeply to be a configuration file") from None
    if n > MAX_YAML_VALUES:
        raise error(
            f"{path}: expands to more than {MAX_YAML_VALUES:,} values once its YAML aliases "
            "(*name) are resolved; refusing it"
        )
    return data


def _read_yaml(path: Path) -> dict[str, Any]:
    data = read_yaml_file(path)
    if data is None:
        raise ScenarioError(f"{path}: the file is empty; expected a mapping of scenario fields")
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a mapping of scenario fields at top level")
    return data


def load_raw(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a scenario file and resolve ``extends:`` (paths relative to the file) recursively."""
    try:
        path = Path(path).resolve()
    except OSError as exc:
        raise ScenarioError(f"{short(str(path))}: not a usable path ({exc.strerror})") from None
    if path in _seen:
        chain = " -> ".join(p.name for p in (*_seen, path))
        raise ScenarioError(f"{path}: extends: circular inheritance ({chain})")
    data = _read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}: extends: expected a file path (string), got {short(parent)}")
    base = load_raw(path.parent / parent, (*_seen, path))
    # A child's news list replaces the parent's unless it asks to append.
    extra_news = data.pop("news_append", None)
    merged = _deep_merge(base, data)
    if extra_news is not None:
        if not isinstance(extra_news, list):
            raise ScenarioError(f"{path}: news_append: expected a list of news events")
        merged["news"] = list(merged.get("news", [])) + extra_news
    return merged


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``key.path=value`` (value read as YAML, so numbers and lists work)."""
    if "=" not in text:
        raise ScenarioError(f"--set {short(text)}: expected key.path=value")
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key:
        raise ScenarioError(f"--set {short(text)}: empty key")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    return key, value


class PathDeprecation(FutureWarning):
    """A dotted path uses an old form that still works (e.g. a news item by position)."""


def _list_item(node: list[Any], part: str, key: str, where: str, origin: str) -> int:
    """Index of the list item ``part`` names: an item's ``id`` or (deprecated) its position."""
    ids = [item.get("id") if isinstance(item, dict) else None for item in node]
    if part in ids:
        return ids.index(part)
    if part.isdigit() and int(part) < len(node):
        if ids[int(part)] is not None:
            parent = where.rpartition(".")[0]
            warnings.warn(
                f"{origin}: {key}: addressing a list item by position is deprecated; use its "
                f"id: {parent}.{ids[int(part)]}",
                PathDeprecation,
                stacklevel=4,
            )
        return int(part)
    known = [x for x in ids if x is not None]
    expected = f"an id (one of {known})" if known else f"an index below {len(node)}"
    raise ScenarioError(f"{origin}: override {key}: {where}: expected {expected}")


def get_path(data: Any, key: str, origin: str = "<scenario>") -> Any:
    """The value at dotted path ``key`` (list items by id, or by position); KeyError if absent."""
    node = data
    parts = key.split(".")
    for i, part in enumerate(parts):
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            try:
                node = node[_list_item(node, part, key, where, origin)]
            except ScenarioError as exc:
                raise KeyError(str(exc)) from None
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(f"{origin}: {key}: {where} does not exist")
    return node


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any], origin: str) -> dict[str, Any]:
    """Set dotted paths (``population.cohorts.momentum.share``, ``news.<id>.credibility``).

    Items of a list of mappings with ids (the news) are addressed by id; by position still
    works but warns (:class:`PathDeprecation`).
    """
    out = copy.deepcopy(data)
    for key, value in overrides.items():
        parts = key.split(".")
        node: Any = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            where = ".".join(parts[: i + 1])
            if isinstance(node, list):
                k = _list_item(node, part, key, where, origin)
                if last:
                    node[k] = value
                else:
                    node = node[k]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    if part not in node:
                        node[part] = {}
                    node = node[part]
            else:
                raise ScenarioError(f"{origin}: override {key}: {where} is not a mapping or list")
    return out


def _format_validation(origin: str, exc: ValidationError, data: dict[str, Any]) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; see scenarios/README.md)"
        got = err.get("input")
        got_txt = "" if err["type"] in ("missing", "extra_forbidden") else f" (got {short(got)})"
        if isinstance(got, dict | list):
            got_txt = ""
        # a cross-field check names its own fields at the start of its message
        lines.append(f"{origin}: {loc}: {msg}{got_txt}" if loc else f"{origin}: {msg}")
    return "\n".join(lines)


def validate(data: dict[str, Any], origin: str = "<scenario>") -> Scenario:
    """Validate a raw mapping into a :class:`Scenario`, raising :class:`ScenarioError`."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_validation(origin, exc, data)) from None


def load_scenario(
    path: str | Path,
    overrides: dict[str, Any] | None = None,
) -> Scenario:
    """Load, inherit, override and validate a scenario file."""
    p = Path(path)
    data = load_raw(p)
    if overrides:
        data = apply_overrides(data, overrides, p.name)
    return validate(data, p.name)
