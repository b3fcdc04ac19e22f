"""What a person sees in a terminal, through `rich`: the verdict table with its summary, progress, and the closing
list of the files a command wrote.

- The table (`--format table`): NON_COMPLIANT first, each marked `!`; a SEVERITY column (the rule's, from its
  metadata: what Security Hub gets for a failure); annotations wrapped at word boundaries to fit `width` (a
  word longer than its column is folded onto the next line, never cut: nothing is lost). Too narrow a terminal
  for the annotation beside the columns: each verdict on its line with its annotation indented below. Then the
  summary: the counts, NON_COMPLIANT by severity, one row per rule, and the coverage.
- Colour only where it is read: on a terminal, and not when `NO_COLOR` is set (https://no-color.org: present and
  not empty) or `TERM=dumb`; a file or a pipe gets plain text.
- Progress (`Reporter`): one line per stage with the seconds since the start, on stderr whether it is a terminal
  or not (a pipe or a CI log also says where the time goes), then the list of files written; `--quiet` silences
  both. Several threads may report: one line at a time.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ..core.exceptions import expiry_lines
from ..core.model import Compliance, EvaluationResult, ScanReport
from ..core.rules import RULES, get_rule
from .verdicts import coverage_lines, ordered, single_scope, summary

UNLIMITED = 10_000  # "width" of a file: no line is wrapped
MIN_ANNOTATION = 30  # narrower than this beside the columns, annotations go below their verdict
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")
VERDICT_STYLE = {Compliance.NON_COMPLIANT: "bold red", Compliance.COMPLIANT: "green",
                 Compliance.NOT_APPLICABLE: "dim"}
SEVERITY_STYLE = {"CRITICAL": "bold magenta", "HIGH": "bold red", "MEDIUM": "yellow", "LOW": "cyan"}


def colour_wanted(stream: TextIO) -> bool:
    """Colour for a terminal, unless NO_COLOR (set and not empty) or TERM=dumb says no."""
    if os.environ.get("NO_COLOR", "") != "" or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def severity_of(rule_name: str) -> str:
    """The rule's severity; a name AWS Config suffixed (conformance packs) is its rule's; '-' if not the pack's."""
    for rule in RULES:
        if rule_name == rule.config_rule_name or rule_name.startswith(rule.config_rule_name + "-conformance-pack"):
            return get_rule(rule.config_rule_name).metadata.severity
    return "-"


def _console(width: int | None, colour: bool) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width or UNLIMITED, color_system="standard" if colour else None,
                      force_terminal=colour, no_color=not colour, highlight=False, emoji=False, markup=False,
                      legacy_windows=False, soft_wrap=False)
    return console, buffer


def _text(console: Console, buffer: io.StringIO) -> str:
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


def render_table(report: ScanReport, only_failing: bool = False, width: int | None = None, colour: bool = False,
                 show_excepted: bool = False, **_: object) -> str:
    """The table and summary. `width`: the terminal's columns (None: no limit, annotations on one line).
    Verdicts an exception in force covers (still NON_COMPLIANT) are counted under the table, listed in a section
    of their own (marked `~`) with `show_excepted`, left out with `only_failing`."""
    console, buffer = _console(width, colour)
    account_id, region = single_scope(report)
    many = account_id is None or region is None
    title = (f"Account {account_id}, region {region}" if not many
             else f"{len(report.coverage.account_ids) if report.coverage else 0} accounts")
    console.print(Text(f"{title}, {report.generated_at}", style="bold"))
    if report.coverage:
        console.print(f"Coverage: {report.coverage.statement()}")
    console.print()
    listed = ordered(report.evaluations, only_failing)
    console.print(_verdicts([r for r in listed if not r.excepted], many, width))
    all_excepted = [r for r in report.evaluations if r.excepted]
    if show_excepted and not only_failing and all_excepted:
        console.print()
        console.print(Text("EXCEPTED (NON_COMPLIANT, covered by an exception in force; not failing the run):",
                           style="bold"))
        console.print(_verdicts(ordered(all_excepted), many, width))
    counts = summary(report.evaluations)
    failing_count = sum(1 for r in report.evaluations if r.failing)
    console.print()
    console.print(Text(f"{counts['evaluations']} evaluations: "
                       + ", ".join(f"{counts[c.value]} {c.value}" for c in Compliance)
                       + (f" (only the {failing_count} NON_COMPLIANT {'not excepted ' if all_excepted else ''}listed)"
                          if only_failing else ""), style="bold"))
    if all_excepted:
        where = ("left out by --only-failing" if only_failing else "listed apart above" if show_excepted
                 else "--show-excepted lists them")
        console.print(f"{len(all_excepted)} of the NON_COMPLIANT are excepted by the exceptions register and do not "
                      f"fail the run ({where}).")
    failing = Counter(severity_of(r.rule) for r in report.evaluations if r.failing)
    if failing:
        by_severity = Text("NON_COMPLIANT by severity: ")
        for index, severity in enumerate([s for s in (*SEVERITIES, "-") if failing[s]]):
            by_severity.append(", " if index else "")
            by_severity.append(f"{failing[severity]} {severity}", style=SEVERITY_STYLE.get(severity, ""))
        console.print(by_severity)
    if report.evaluations:
        console.print()
        console.print(_per_rule(report.evaluations, width))
    if report.exceptions is not None:
        lines = expiry_lines(report.exceptions)
        if lines:
            console.print()
            for line in lines:
                console.print(line[0].upper() + line[1:])
    if report.coverage:
        console.print()
        for line in coverage_lines(report.coverage):
            console.print(Text(line, style="bold red" if line.lstrip().startswith("NOT COVERED") else ""))
    return _text(console, buffer)


def _verdict_cells(result: EvaluationResult, many: bool) -> list[Text]:
    severity = severity_of(result.rule)
    failing = result.compliance is Compliance.NON_COMPLIANT
    mark = "~" if result.excepted else "!" if failing else ""
    return [Text(mark, style="bold red" if result.failing else "yellow"),
            *((Text(result.account_id), Text(result.region)) if many else ()),
            Text(result.rule),
            Text(severity, style=SEVERITY_STYLE.get(severity, "") if failing else "dim"),
            Text(result.resource_id),
            Text(result.compliance.value, style=VERDICT_STYLE[result.compliance])]


def _verdicts(results: Sequence[EvaluationResult], many: bool, width: int | None) -> Table | Padding:
    headers = ["", *(("ACCOUNT", "REGION") if many else ()), "RULE", "SEVERITY", "FUNCTION", "VERDICT"]
    cells = [_verdict_cells(result, many) for result in results]
    widths = [max([len(header)] + [len(row[i].plain) for row in cells]) for i, header in enumerate(headers)]
    beside = width is None or width - (sum(widths) + 2 * len(widths)) >= MIN_ANNOTATION
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold", show_edge=False,
                  expand=False)
    for header in headers:
        table.add_column(header, no_wrap=True)
    if beside:
        table.add_column("ANNOTATION", overflow="fold", ratio=1)
        for result, row in zip(results, cells, strict=True):
            table.add_row(*row, Text(result.annotation))
        return table
    # too narrow: each verdict on its own line(s), its annotation below it, indented
    grid = Table.grid()
    grid.add_column(overflow="fold")
    for result, row in zip(results, cells, strict=True):
        line = Text()
        for cell in [row[0], row[-1], row[-2], *row[1:-2]]:  # verdict and function first: what must show
            if cell.plain:
                line.append_text(cell).append("  ")
        grid.add_row(line)
        grid.add_row(Padding(Text(result.annotation, overflow="fold"), (0, 0, 0, 4)))
    return grid


def _per_rule(results: Sequence[EvaluationResult], width: int | None) -> Table:
    """One row per rule; on a screen too narrow for the columns, one line per rule."""
    counts: dict[str, Counter] = {}
    for result in results:
        counts.setdefault(result.rule, Counter())[result.compliance] += 1
    order = {rule.config_rule_name: index for index, rule in enumerate(RULES)}
    rules = sorted(counts, key=lambda name: (order.get(name, len(order)), name))
    needed = max(len(rule) for rule in rules) + 2 + len("SEVERITY") + sum(2 + len(c.value) for c in Compliance)
    if width is not None and needed > width:
        lines = Table.grid(padding=(0, 0, 0, 0))
        lines.add_column(overflow="fold")
        lines.add_row(Text("By rule", style="bold"))
        for rule in rules:
            severity = severity_of(rule)
            line = Text(f"{rule} ").append(severity, style=SEVERITY_STYLE.get(severity, ""))
            line.append(": " + ", ".join(f"{counts[rule][c]} {c.value}" for c in Compliance))
            lines.add_row(line)
        return lines
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold", show_edge=False,
                  title="By rule", title_justify="left", title_style="bold")
    for header in ("RULE", "SEVERITY", *(c.value for c in Compliance)):
        table.add_column(header, no_wrap=True, justify="left" if header in ("RULE", "SEVERITY") else "right")
    for rule in rules:
        severity = severity_of(rule)
        failing = counts[rule][Compliance.NON_COMPLIANT]
        table.add_row(Text(rule), Text(severity, style=SEVERITY_STYLE.get(severity, "")),
                      *(Text(str(counts[rule][c]), style=VERDICT_STYLE[c] if c is not Compliance.NON_COMPLIANT
                             or failing else "") for c in Compliance))
    return table


# ------------------------------------------------------------------------------------------- progress


class Reporter:
    """Progress lines and the closing list of files written, on stderr (a terminal or not); nothing when quiet.
    Callable with a message: what `aws.account.scan` and the demo take as `progress`."""

    def __init__(self, quiet: bool = False, stream: TextIO | None = None):
        self.quiet = quiet
        stream = stream or sys.stderr
        colour = colour_wanted(stream)
        self.console = Console(file=stream, color_system="standard" if colour else None, force_terminal=colour,
                               no_color=not colour, highlight=False, emoji=False, soft_wrap=True,
                               legacy_windows=False)
        self.started = time.monotonic()
        self.written: list[tuple[str, str]] = []
        self.closed = False
        self._lock = threading.Lock()

    def __call__(self, message: str) -> None:
        if self.quiet:
            return
        with self._lock:
            self.console.print(f"[dim]{time.monotonic() - self.started:6.1f}s[/dim] {escape(message)}")

    def wrote(self, path: object, what: str) -> None:
        """Remember a file (or directory) written, for the closing list."""
        self.written.append((str(path), what))

    def close(self, notes: Sequence[str] = ()) -> None:
        """The files written, then `notes` (e.g. the manifest's digest and the command that checks it)."""
        if self.quiet or self.closed or not (self.written or notes):
            return
        self.closed = True
        with self._lock:
            if self.written:
                self.console.print(f"[bold]Wrote[/bold] ({time.monotonic() - self.started:.1f} s):")
                for path, what in self.written:
                    self.console.print(f"  {escape(path)}  [dim]{escape(what)}[/dim]")
            for note in notes:
                self.console.print(escape(note))
