"""`scan --checkpoint FILE`: the account-regions an organization scan has finished, with their verdicts, so
that a run interrupted (a laptop closed, credentials expired, Ctrl-C) is finished by running it again.

The file is JSON Lines, append-only: a first line stating the scan it belongs to (accounts, regions, role,
rules and their parameters), then one line per account-region read, written and flushed as soon as it is
read (its account, region, read time, functions read, verdicts and waiver tags). A rerun with the same file
reads only the account-regions not in it, and writes one report as if the run had not been interrupted: the
verdicts from the file keep the time they were made. What could not be read (a gap) is not recorded: the
rerun tries it again. A last line cut short (the process killed mid-write) is dropped. A file written for
another scan (other accounts, regions, role, rules or parameters) is refused, never mixed in.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from ..core.coverage import Target
from ..core.model import Compliance, EvaluationResult, Waiver
from ..errors import PackError

FORMAT = "lambda-vpc-rules scan checkpoint"
VERSION = 1
Value = tuple[list[EvaluationResult], list[Waiver] | None]


class CheckpointError(PackError):
    """A checkpoint file that cannot be used for this scan (another scan's, or unreadable)."""


def _evaluation(result: EvaluationResult) -> list[Any]:
    return [result.rule, result.resource_id, result.compliance.value, result.annotation, result.resource_type,
            result.resource_arn, result.recorded_at]


def _from_evaluation(row: list[Any], target: Target) -> EvaluationResult:
    rule, resource_id, compliance, annotation, resource_type, arn, recorded_at = row
    return EvaluationResult(rule, resource_id, Compliance(compliance), annotation, resource_type, arn,
                            target.account_id, target.region, recorded_at)


class Checkpoint:
    """One scan's checkpoint file: `done` (read when opened) and `record` (appends one account-region)."""

    def __init__(self, path: str | os.PathLike, scan: Mapping[str, Any]):
        self.path = Path(path)
        self.scan = json.loads(json.dumps(scan, sort_keys=True))  # as it reads back
        self.done: dict[Target, tuple[str, int, Value]] = {}
        self._file: IO[str] | None = None
        if self.path.exists() and self.path.stat().st_size:
            self._load()
        else:
            self._open().write(json.dumps({"format": FORMAT, "version": VERSION, "scan": self.scan},
                                          sort_keys=True) + "\n")
            self._file.flush()

    def _open(self) -> IO[str]:
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8")
        return self._file

    def _load(self) -> None:
        text = self.path.read_text(encoding="utf-8")
        lines = text.split("\n")
        complete, cut = lines[:-1], lines[-1]  # a last line without its newline was cut short
        try:
            header = json.loads(complete[0]) if complete else None
        except json.JSONDecodeError:
            header = None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise CheckpointError(f"{self.path}: not a lambda-vpc-rules scan checkpoint")
        if header.get("version") != VERSION:
            raise CheckpointError(f"{self.path}: checkpoint version {header.get('version')}, expected {VERSION}")
        if header.get("scan") != self.scan:
            differs = sorted(k for k in set(self.scan) | set(header.get("scan") or {})
                             if self.scan.get(k) != (header.get("scan") or {}).get(k))
            raise CheckpointError(f"{self.path}: written for another scan (it differs in {', '.join(differs)}); "
                                  "use a new file, or rerun the scan it was written for")
        for number, line in enumerate(complete[1:], 2):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                target = Target(entry["account_id"], entry["region"])
                evaluations = [_from_evaluation(row, target) for row in entry["evaluations"]]
                waivers = None if entry["waivers"] is None else [Waiver(target.account_id, target.region, *w)
                                                                 for w in entry["waivers"]]
                self.done[target] = (entry["read_at"], int(entry["items"]), (evaluations, waivers))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
                raise CheckpointError(f"{self.path} line {number}: unreadable ({error!r})") from None
        if cut:
            with self.path.open("r+", encoding="utf-8") as handle:  # drop the cut line before appending
                handle.truncate(len(text.encode("utf-8")) - len(cut.encode("utf-8")))

    def record(self, target: Target, read_at: str, items: int, value: Value) -> None:
        evaluations, waivers = value
        entry = {"account_id": target.account_id, "region": target.region, "read_at": read_at, "items": items,
                 "evaluations": [_evaluation(e) for e in evaluations],
                 "waivers": None if waivers is None else [[w.resource_id, w.tag, w.value] for w in waivers]}
        handle = self._open()
        handle.write(json.dumps(entry, separators=(",", ":")) + "\n")
        handle.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def scan_identity(selection: Any, rule_names: Sequence[str], parameters: Mapping[str, Mapping[str, str]]
                  ) -> dict[str, Any]:
    """What makes two runs the same scan, for the checkpoint's first line."""
    def listed(value: Any) -> Any:
        return sorted(value) if isinstance(value, tuple | frozenset | list | set) else value

    return {"accounts": listed(selection.accounts), "regions": listed(selection.regions),
            "role_name": selection.role_name, "external_id_set": bool(selection.external_id),
            "excluded_accounts": listed(selection.excluded_accounts), "rules": list(rule_names),
            "parameters": {rule: dict(values) for rule, values in parameters.items()}}
