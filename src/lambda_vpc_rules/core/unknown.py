"""Verdicts before deployment: what a rule says when some of what it reads is not known yet.

`check` (a template or a plan) and the CloudFormation hook judge functions that do not exist yet. Some of
what the rules read is then unknown: a subnet the template names but does not define, read offline; a
value known only after creation (an export, a parameter without default, an Amazon-provided address
block); an AWS managed policy offline. The rules themselves stay as they are: what is unknown is absent
from the facts (a rule then says "not found", never COMPLIANT), and this step says so in the verdict.

Two kinds of notes per function, by what they affect (a `Fact` kind: the rules that read it; a rule's
name: that rule alone, e.g. a subnet's zone for the multi-AZ rule; None: every rule):
- unknown: something the rule reads could not be established;
- narrowed: the facts were made narrower on the safe side (an Allow statement with an unknown value
  left out, `iac.policies`): a COMPLIANT verdict holds with less, a NON_COMPLIANT one may be due to
  what was left out.

No AWS page decides a verdict on what does not exist yet: every row below follows the pack's rule that a
verdict it cannot establish is never COMPLIANT (README), and the rule's own table (with its AWS sources) decides
the verdict it qualifies.

| rule's verdict | notes that affect the rule | result |
|---|---|---|
| NOT_APPLICABLE (no VPC configuration) | any | NOT_APPLICABLE, established |
| COMPLIANT | none, or only narrowed | COMPLIANT, established |
| COMPLIANT | unknown | NON_COMPLIANT, not established: "Not established before deployment: <what>; <rule's annotation>" (never COMPLIANT on what is unknown) |
| NON_COMPLIANT | none | NON_COMPLIANT, established |
| NON_COMPLIANT | unknown or narrowed | NON_COMPLIANT, not established: "Not established before deployment: <what>; <rule's annotation>" |

A run with a verdict not established is incomplete (exit 2, as a scan with incomplete coverage), the
verdicts still written.
"""  # noqa: E501 (the table)

from __future__ import annotations

from dataclasses import dataclass, field

from .model import ANNOTATION_LIMIT, Compliance, Fact, Verdict, join_findings, non_compliant

PREFIX = "Not established before deployment: "


@dataclass
class Unknowns:
    """What is unknown (or narrowed) about one function, by the fact kind it affects (None: all)."""

    unknown: dict[Fact | str | None, list[str]] = field(default_factory=dict)
    narrowed: dict[Fact | str | None, list[str]] = field(default_factory=dict)

    def add(self, kind: Fact | str | None, what: str) -> None:
        items = self.unknown.setdefault(kind, [])
        if what not in items:
            items.append(what)

    def add_narrowed(self, kind: Fact | str | None, what: str) -> None:
        items = self.narrowed.setdefault(kind, [])
        if what not in items:
            items.append(what)

    def affecting(self, rule: str, needs: frozenset[Fact]) -> tuple[list[str], list[str]]:
        """(unknown, narrowed) notes that affect the rule named `rule`, which reads `needs`."""
        def pick(notes: dict[Fact | str | None, list[str]]) -> list[str]:
            return [what for kind, items in notes.items() if kind is None or kind == rule or kind in needs
                    for what in items]

        return pick(self.unknown), pick(self.narrowed)

    def __bool__(self) -> bool:
        return bool(self.unknown or self.narrowed)


def qualify(verdict: Verdict, unknown: list[str], narrowed: list[str]) -> tuple[Verdict, bool]:
    """The verdict to report and whether it is established (the table above)."""
    if verdict.compliance is Compliance.NOT_APPLICABLE:
        return verdict, True
    if verdict.compliance is Compliance.COMPLIANT and not unknown:
        return verdict, True
    if verdict.compliance is Compliance.NON_COMPLIANT and not unknown and not narrowed:
        return verdict, True
    what = join_findings(unknown + narrowed, limit=ANNOTATION_LIMIT // 2)
    return non_compliant(f"{PREFIX}{what}; {verdict.annotation}"), False
