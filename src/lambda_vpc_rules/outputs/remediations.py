"""The evidence report's remediation section: each recorded execution (`remediate`'s records file, one JSON
object a line) with who ran it, when, what it changed, and the state before and after as read from AWS."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

REMEDIATIONS_FILE = "remediations.json"


def remediations_json(records: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(list(records), indent=2, sort_keys=True, default=str) + "\n"


def _state(value: Any) -> str:
    return html.escape(json.dumps(value, sort_keys=True, default=str))


def remediations_html(records: Sequence[Mapping[str, Any]] | None) -> str:
    if records is None:
        return "<p>Not included: pass <code>evidence --remediation-records FILE</code> to include them.</p>"
    if not records:
        return "<p>None recorded.</p>"
    e = html.escape
    rows = "".join(
        f"<tr><td class=id>{e(str(r.get('started_at', '')))}</td><td class=id>{e(str(r.get('who', '')))}</td>"
        f"<td class=id>{e(str(r.get('account', '')))} {e(str(r.get('region', '')))}</td>"
        f"<td class=id>{e(str(r.get('function', '')))}</td><td class=id>{e(str(r.get('rule', '')))}</td>"
        f"<td>{e(str(r.get('summary', '')))}<br><small>{e(str(r.get('document', '')))} via "
        f"{e(str(r.get('executor', '')))} {e(str(r.get('execution_id', '')))}</small></td>"
        f"<td>{e(str(r.get('status', '')))}</td><td><code>{_state(r.get('before'))}</code></td>"
        f"<td><code>{_state(r.get('after'))}</code></td></tr>"
        for r in records)
    return ('<table id="remediations"><thead><tr><th class=id>When</th><th class=id>Who</th><th class=id>Where</th>'
            "<th class=id>Function</th><th class=id>Rule</th><th>What changed</th><th>Status</th><th>Before</th>"
            f"<th>After</th></tr></thead><tbody>{rows}</tbody></table>")
