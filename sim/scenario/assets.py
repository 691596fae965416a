"""Company data checked and completed before validation: the dictionary and the price files.

Two steps run on a scenario's raw mapping (after ``extends:``, includes and ``--set``), before
the schema validates it:

1. **The characteristic dictionary** (``universe.dictionary``, ``scenarios/characteristics.yaml``):
   every characteristic an asset gives and every characteristic ``universe.exposures`` loads
   must be defined there, and an asset's value must lie in its ``min``/``max``. A name the
   dictionary lists under ``replaces:`` is renamed with a :class:`CharacteristicRenamed` warning.
2. **Price files** (:mod:`sim.marketdata`): an asset's missing ``price``, ``adv_shares``,
   ``daily_volatility``, ``relative_return_12m`` and ``relative_runup`` are computed from its
   ``price_file`` (or ``proxy_price_file``) for the calendar's start, or read from the committed
   derived table when the file is absent.

Every refusal is a :class:`ScenarioError` naming the file, the company and the field.
"""

from __future__ import annotations

import datetime as dt
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

#: key under which the loader records the file an asset was written in (removed before validation)
FILE_KEY = "__file__"
#: fields a price file can fill
FILLED = ("price", "adv_shares", "daily_volatility", "relative_return_12m", "relative_runup")


class CharacteristicRenamed(FutureWarning):
    """An asset or loading uses a characteristic's old name (the dictionary's ``replaces:``)."""


@lru_cache(maxsize=8)
def _dictionary(path: Path, mtime: float) -> dict[str, dict[str, Any]]:
    from sim.scenario.loading import read_yaml_file
    from sim.scenario.schema import ScenarioError

    data = read_yaml_file(path)
    chars = data.get("characteristics") if isinstance(data, dict) else None
    if not isinstance(chars, dict):
        raise ScenarioError(f"{path}: expected a mapping 'characteristics:' of definitions")
    return chars


def dictionary(setting: str) -> tuple[Path, dict[str, dict[str, Any]]]:
    """(path, name -> definition) of the characteristic dictionary a scenario names."""
    from sim.marketdata import locate
    from sim.scenario.schema import ScenarioError

    path = locate(setting)
    if not path.is_file():
        raise ScenarioError(f"universe.dictionary: {path}: characteristic dictionary not found")
    return path, _dictionary(path, path.stat().st_mtime)


def _where(asset: dict[str, Any], i: int, origin: str) -> str:
    f = asset.get(FILE_KEY) or origin
    return f"{f}: universe.assets.{i} ({asset.get('ticker', '?')})"


def check_characteristics(data: dict[str, Any], origin: str) -> None:
    """Refuse characteristics and loadings not in the dictionary or out of its range; rename
    old names (in place)."""
    from sim.scenario.schema import ScenarioError

    uni = data.get("universe")
    if not isinstance(uni, dict):
        return
    path, defs = dictionary(str(uni.get("dictionary", "scenarios/characteristics.yaml")))
    renamed = {d["replaces"]: k for k, d in defs.items() if isinstance(d, dict) and "replaces" in d}

    def name(c: str, where: str) -> str:
        if c in renamed:
            warnings.warn(
                f"{where}: characteristic {c!r} is now {renamed[c]!r} ({path.name})",
                CharacteristicRenamed,
                stacklevel=6,
            )
            return renamed[c]
        if c not in defs:
            raise ScenarioError(
                f"{where}: characteristic {c!r} is not in the dictionary {path} "
                f"(defined: {sorted(defs)})"
            )
        return c

    for i, a in enumerate(uni.get("assets") or []):
        if not isinstance(a, dict) or not isinstance(a.get("characteristics"), dict):
            continue
        where = _where(a, i, origin)
        out = {}
        for c, v in a["characteristics"].items():
            n = name(str(c), f"{where}.characteristics")
            d = defs[n]
            lo, hi = d.get("min"), d.get("max")
            if isinstance(v, int | float) and v == v and abs(v) != float("inf"):
                if (lo is not None and v < lo) or (hi is not None and v > hi):
                    raise ScenarioError(
                        f"{where}.characteristics.{n}: {v} is outside the dictionary's range "
                        f"[{lo}, {hi}] ({path.name})"
                    )
            out[n] = v
        a["characteristics"] = out
    for f, loads in (uni.get("exposures") or {}).items():
        if isinstance(loads, dict):
            uni["exposures"][f] = {
                name(str(c), f"{origin}: universe.exposures.{f}"): w for c, w in loads.items()
            }


def fill_from_prices(data: dict[str, Any], origin: str) -> None:
    """Fill missing price-derived fields of every asset (in place); see the module."""
    from sim.marketdata import (
        MarketDataError,
        derive,
        derived_row,
        locate,
        market_folder,
        read_derived,
        read_prices,
    )
    from sim.scenario.schema import MarketDataConfig, ScenarioError

    uni = data.get("universe")
    cal = data.get("calendar")
    if not isinstance(uni, dict) or not isinstance(cal, dict):
        return
    assets = [a for a in uni.get("assets") or [] if isinstance(a, dict)]
    if not any(a.get("price_file") or a.get("proxy_price_file") for a in assets):
        return
    try:
        cfg = MarketDataConfig.model_validate(uni.get("market_data") or {})
    except ValidationError as exc:  # named here: without it no price could be filled
        raise ScenarioError(
            "\n".join(
                f"{origin}: universe.market_data.{'.'.join(map(str, e['loc']))}: "
                f"{e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            )
        ) from None
    try:
        start = dt.date.fromisoformat(str(cal.get("start")))
    except ValueError:
        return  # the schema reports the bad calendar.start itself
    folder = market_folder(cfg.folder)
    w = cfg.windows()
    market_path = folder / cfg.market_file
    table = None
    market = None
    for i, a in enumerate(uni.get("assets") or []):
        if not isinstance(a, dict):
            continue
        pf = a.get("price_file") or a.get("proxy_price_file")
        if not pf or all(a.get(k) is not None for k in FILLED):
            continue
        where = _where(a, i, origin)
        field = "price_file" if a.get("price_file") else "proxy_price_file"
        path = folder / str(pf)
        try:
            if path.is_file():
                if market is None and market_path.is_file():
                    market = read_prices(market_path)
                got = derive(path, start, w, market, market_path)
            else:
                if table is None:
                    table = read_derived(locate(cfg.derived_table))
                row = derived_row(table, str(pf), start)
                if row is None:
                    raise MarketDataError(
                        f"{path}: price file not found, and the derived table "
                        f"{cfg.derived_table} has no row for it with calendar start {start} "
                        "(make one with: python -m sim.marketdata build SCENARIO)"
                    )
                got = row
        except MarketDataError as exc:
            raise ScenarioError(f"{where}.{field}: {exc}") from None
        keys = FILLED if field == "price_file" else ("daily_volatility",) + FILLED[3:]
        for k in keys:
            if a.get(k) is None and got.get(k) is not None:
                a[k] = float(got[k])
        if field == "price_file" and a.get("price_as_of") is None:
            a["price_as_of"] = str(got["as_of"])


def complete(data: dict[str, Any], origin: str) -> dict[str, str]:
    """Check and fill the company data of ``data`` in place; returns ticker -> file written in
    (for messages) with the private file tags removed."""
    check_characteristics(data, origin)
    fill_from_prices(data, origin)
    files: dict[str, str] = {}
    uni = data.get("universe")
    if isinstance(uni, dict):
        for a in uni.get("assets") or []:
            if isinstance(a, dict) and FILE_KEY in a:
                files[str(a.get("ticker"))] = str(a.pop(FILE_KEY))
    return files
