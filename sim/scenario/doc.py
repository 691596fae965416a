"""Reference tables of every scenario field, generated from the schema.

``python -m sim.scenario.doc`` prints Markdown tables (field, type, default, meaning);
``python -m sim.scenario.doc --write scenarios/README.md`` puts them into the README; a test checks that the README names every field.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from sim.scenario.schema import Scenario


def _submodel(annotation: typing.Any) -> type[BaseModel] | None:
    for a in (annotation, *typing.get_args(annotation)):
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
        for b in typing.get_args(a):
            if isinstance(b, type) and issubclass(b, BaseModel):
                return b
    return None


def field_paths(model: type[BaseModel] = Scenario, prefix: str = "") -> list[tuple[str, FieldInfo]]:
    """Every (dotted path, FieldInfo) of the schema; list items are written ``[]``."""
    out: list[tuple[str, FieldInfo]] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        out.append((path, info))
        sub = _submodel(info.annotation)
        if sub is not None:
            is_list = typing.get_origin(info.annotation) in (list, dict)
            out.extend(field_paths(sub, f"{path}{'[].' if is_list else '.'}"))
    return out


def _type_name(info: FieldInfo) -> str:
    """A short type name: no module paths, unions written with "or"."""

    def name(t: typing.Any) -> str:
        args = typing.get_args(t)
        if typing.get_origin(t) in (typing.Union, types.UnionType):
            return " or ".join(name(a) for a in args)
        if isinstance(t, type) and not args:
            return "None" if t is type(None) else t.__name__
        s = getattr(t, "__name__", None) or str(t)
        return s.replace("typing.", "").replace("datetime.", "")

    return name(info.annotation)


def markdown() -> str:
    rows = ["| field | type | default | meaning |", "| --- | --- | --- | --- |"]
    for path, info in field_paths():
        if info.default is PydanticUndefined and info.default_factory is None:
            default = "required"
        elif info.default_factory is not None:
            default = repr(info.get_default(call_default_factory=True))
        else:
            default = repr(info.default)
        desc = (info.description or "").replace("|", "/")
        rows.append(f"| `{path}` | {_type_name(info)} | {default} | {desc} |")
    return "\n".join(rows)


def write_reference(readme: Path) -> None:
    """Replace the field table under ``## Every field`` in ``readme`` with :func:`markdown`."""
    text = readme.read_text(encoding="utf-8")
    head, sep, rest = text.partition("| field | type | default | meaning |")
    if not sep:
        raise ValueError(f"{readme}: no field table to replace")
    lines = rest.split("\n")
    k = next((i for i, line in enumerate(lines[1:], 1) if not line.startswith("|")), len(lines))
    readme.write_text(head + markdown() + "\n".join([""] + lines[k:]), encoding="utf-8")


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 2 and sys.argv[1] == "--write":
        write_reference(Path(sys.argv[2]))
    else:
        print(markdown())
