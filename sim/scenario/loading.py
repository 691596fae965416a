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


def _tag_assets(assets: Any, path: Path) -> None:
    """Record in each asset mapping the file it was written in (for error messages)."""
    from sim.scenario.assets import FILE_KEY

    for a in assets if isinstance(assets, list) else []:
        if isinstance(a, dict):
            a.setdefault(FILE_KEY, str(path))


def _merge_assets(base: list[Any], over: Any, where: str) -> list[Any]:
    """``over``'s assets merged into ``base`` by ticker: a known ticker's fields are merged into
    the parent's entry (mappings field by field), a new ticker is appended."""
    if not isinstance(over, list):
        raise ScenarioError(f"{where}: expected a list of assets")
    out = [copy.deepcopy(a) for a in base]
    pos = {a.get("ticker"): i for i, a in enumerate(out) if isinstance(a, dict)}
    for a in over:
        if not isinstance(a, dict) or "ticker" not in a:
            raise ScenarioError(f"{where}: every asset needs a ticker (got {short(a)})")
        if a["ticker"] in pos:
            out[pos[a["ticker"]]] = _deep_merge(out[pos[a["ticker"]]], a)
        else:
            pos[a["ticker"]] = len(out)
            out.append(copy.deepcopy(a))
    return out


def _includes(data: dict[str, Any], path: Path, seen: tuple[Path, ...]) -> None:
    """Resolve ``universe.include:`` (universe files, relative to ``path``) in place: their
    assets come first, the file's own ``universe.assets`` are merged into them by ticker."""
    uni = data.get("universe")
    if not isinstance(uni, dict) or "include" not in uni:
        _tag_assets((uni or {}).get("assets") if isinstance(uni, dict) else None, path)
        return
    files = uni.pop("include")
    files = [files] if isinstance(files, str) else files
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise ScenarioError(f"{path}: universe.include: expected a file path or a list of them")
    assets: list[Any] = []
    for f in files:
        fp = (path.parent / f).resolve()
        if fp in seen:
            raise ScenarioError(f"{path}: universe.include: {f} includes itself")
        inc = read_yaml_file(fp)
        if not isinstance(inc, dict) or not isinstance(inc.get("assets"), list):
            raise ScenarioError(f"{fp}: a universe file needs a list 'assets:'")
        _tag_assets(inc["assets"], fp)
        assets = _merge_assets(assets, inc["assets"], f"{fp}: assets")
    own = uni.get("assets", [])
    _tag_assets(own, path)
    uni["assets"] = _merge_assets(assets, own, f"{path}: universe.assets")


def _asset_edits(merged: dict[str, Any], child: dict[str, Any], path: Path) -> None:
    """Apply a child's ``universe.assets_add`` (merge by ticker) and ``assets_remove``."""
    cu = child.get("universe")
    if not isinstance(cu, dict):
        return
    mu = merged.setdefault("universe", {})
    mu.pop("assets_add", None)
    mu.pop("assets_remove", None)
    if "assets_add" in cu:
        _tag_assets(cu["assets_add"], path)
        mu["assets"] = _merge_assets(
            mu.get("assets", []), cu["assets_add"], f"{path}: universe.assets_add"
        )
    if "assets_remove" in cu:
        drop = cu["assets_remove"]
        if not isinstance(drop, list):
            raise ScenarioError(f"{path}: universe.assets_remove: expected a list of tickers")
        known = {a.get("ticker") for a in mu.get("assets", []) if isinstance(a, dict)}
        unknown = [t for t in drop if t not in known]
        if unknown:
            raise ScenarioError(f"{path}: universe.assets_remove: unknown ticker(s) {unknown}")
        mu["assets"] = [a for a in mu.get("assets", []) if a.get("ticker") not in drop]
        # a removed company leaves the indices and the reference values with it
        indices = merged.get("indices") or {}
        for name, idx in list(indices.items()):
            if isinstance(idx, dict) and isinstance(idx.get("members"), dict):
                idx["members"] = {t: w for t, w in idx["members"].items() if t not in drop}
                if not idx["members"]:  # every member removed: the index goes too
                    del indices[name]
        ref = merged.get("reference") or {}
        for key in ("returns_pct", "dollar_loss_usd"):
            if isinstance(ref.get(key), dict):
                ref[key] = {t: v for t, v in ref[key].items() if t not in drop}


def load_raw(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a scenario file and resolve ``extends:`` (paths relative to the file) recursively,
    with ``universe.include`` / ``assets_add`` / ``assets_remove`` (assets merged by ticker)."""
    try:
        path = Path(path).resolve()
    except OSError as exc:
        raise ScenarioError(f"{short(str(path))}: not a usable path ({exc.strerror})") from None
    if path in _seen:
        chain = " -> ".join(p.name for p in (*_seen, path))
        raise ScenarioError(f"{path}: extends: circular inheritance ({chain})")
    data = _read_yaml(path)
    _includes(data, path, (*_seen, path))
    parent = data.pop("extends", None)
    if parent is None:
        if isinstance(data.get("universe"), dict):
            _asset_edits(data, copy.deepcopy(data), path)
        return data
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}: extends: expected a file path (string), got {short(parent)}")
    base = load_raw(path.parent / parent, (*_seen, path))
    # A child's news list replaces the parent's unless it asks to append.
    extra_news = data.pop("news_append", None)
    merged = _deep_merge(base, data)
    _asset_edits(merged, data, path)
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


def _format_validation(
    origin: str, exc: ValidationError, data: dict[str, Any], files: dict[str, str] | None = None
) -> str:
    assets = (data.get("universe") or {}).get("assets") if isinstance(data, dict) else None
    lines = []
    for err in exc.errors():
        parts = [str(p) for p in err["loc"]]
        where = origin
        if parts[:2] == ["universe", "assets"] and len(parts) > 2 and parts[2].isdigit():
            i = int(parts[2])
            a = assets[i] if isinstance(assets, list) and i < len(assets) else None
            t = a.get("ticker") if isinstance(a, dict) else None
            if t is not None:
                parts[2] = f"{i} ({t})"
                where = (files or {}).get(str(t), origin)
        loc = ".".join(parts)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; see scenarios/README.md)"
        got = err.get("input")
        got_txt = "" if err["type"] in ("missing", "extra_forbidden") else f" (got {short(got)})"
        if isinstance(got, dict | list):
            got_txt = ""
        # a cross-field check names its own fields at the start of its message
        lines.append(f"{where}: {loc}: {msg}{got_txt}" if loc else f"{where}: {msg}")
    return "\n".join(lines)


def validate(data: dict[str, Any], origin: str = "<scenario>") -> Scenario:
    """Validate a raw mapping into a :class:`Scenario`, raising :class:`ScenarioError`.

    Company data is checked against the characteristic dictionary and completed from price
    files first (:mod:`sim.scenario.assets`); ``data`` itself is not changed.
    """
    from sim.scenario.assets import complete

    data = copy.deepcopy(data)
    files = complete(data, origin)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_validation(origin, exc, data, files)) from None


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
