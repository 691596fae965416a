"""Reference tables of every scenario field, generated from the schema.

``python -m sim.scenario.doc`` prints Markdown tables (field, type, default, meaning) that are
pasted into ``scenarios/README.md``; a test checks that the README names every field.
"""

from __future__ import annotations

import typing

from pydantic import BaseModel
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


def field_paths(model: type[BaseModel] = Scenario, prefix: str = "") -> list[tuple[str, object]]:
    """Every (dotted path, FieldInfo) of the schema; list items are written ``[]``."""
    out = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        out.append((path, info))
        sub = _submodel(info.annotation)
        if sub is not None:
            is_list = typing.get_origin(info.annotation) in (list, dict)
            out.extend(field_paths(sub, f"{path}{'[].' if is_list else '.'}"))
    return out


def _type_name(info) -> str:
    t = info.annotation
    s = getattr(t, "__name__", None) or str(t)
    return s.replace("typing.", "").replace("datetime.", "")


def markdown() -> str:
    rows = ["| field | type | default | meaning |", "| --- | --- | --- | --- |"]
    for path, info in field_paths():
        if info.default is PydanticUndefined and info.default_factory is None:
            default = "required"
        elif info.default_factory is not None:
            default = repr(info.default_factory())
        else:
            default = repr(info.default)
        desc = (info.description or "").replace("|", "/")
        rows.append(f"| `{path}` | {_type_name(info)} | {default} | {desc} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown())
