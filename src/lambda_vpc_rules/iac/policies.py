"""Policy documents with values known only after creation: keep what can be judged, on the safe side.

An Allow statement can only grant; judging it with fewer actions or resources, or not at all, can only
make a role look less able than it is. So an unknown value in an Allow's `Action` or `Resource` list is
dropped from the list, and an Allow with an unknown value anywhere else (its Condition, NotAction,
NotResource, a whole element) is dropped: the role is judged narrowed. A narrowed role's COMPLIANT
stands (it holds with less); its NON_COMPLIANT is not established (the dropped part may have granted
it). A Deny can only take away, and dropping or narrowing it could make a role look able when it is
not: a Deny with an unknown value makes the whole document unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .resolve import Unknown, contains_unknown


def allow_only_known(document: Any) -> tuple[Any, str]:
    """(the document to judge, or None when it cannot be judged; what was dropped or why unknown)."""
    if isinstance(document, Unknown):
        return None, document.reason
    if not isinstance(document, Mapping) or contains_unknown(document) is None:
        return document, ""
    statements = document.get("Statement")
    single = isinstance(statements, Mapping)
    statements = [statements] if single else statements
    if not isinstance(statements, list):
        return None, f"Statement ({contains_unknown(statements)})"
    kept, dropped = [], []
    for index, statement in enumerate(statements):
        unknown = contains_unknown(statement)
        if unknown is None:
            kept.append(statement)
            continue
        label = statement.get("Sid") if isinstance(statement, Mapping) else None
        label = label or f"statement {index + 1}"
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            return None, f"{label}: a Deny with a value known only after creation ({unknown.reason})"
        narrowed = dict(statement)
        whole = False
        for key in ("Action", "Resource"):
            value = narrowed.get(key)
            if isinstance(value, list):
                narrowed[key] = [item for item in value if contains_unknown(item) is None]
                whole = whole or not narrowed[key]
            elif contains_unknown(value) is not None:
                whole = True
        if whole or contains_unknown(narrowed) is not None:
            dropped.append(f"{label} left out ({unknown.reason})")
        else:
            kept.append(narrowed)
            dropped.append(f"{label} narrowed ({unknown.reason})")
    other = {key: value for key, value in document.items() if key != "Statement"}
    return {**other, "Statement": kept}, "; ".join(dropped)
