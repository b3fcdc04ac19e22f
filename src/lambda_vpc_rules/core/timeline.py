"""Compliance over an audit period: per function and rule, the intervals of each state, the days that were
evaluated and those that were not, and what an auditor asks of a period (population, share of compliant
function-days, every non-compliant interval with how it ended, time to remediate). Pure: no AWS call.

Two sources of observations, merged:
- **AWS Config's compliance history** (`AWS::Config::ResourceCompliance` configuration items, read with
  GetResourceConfigHistory): one item per *transition* of a resource's compliance, with the state per rule
  and no annotation; an item whose status is `ResourceDeleted` ends the resource. Config writes nothing while
  the state stays the same, so a transition proves an evaluation on its day, and nothing proves the days
  between ("View compliance history", AWS Config Developer Guide).
- **The pack's snapshots**: each scheduled run of a rule writes every verdict it put, for its account and
  region, with the time (`aws/snapshots.py`). A snapshot proves that the rule evaluated that account-region
  that day, for every function it lists; a function it no longer lists is gone (deleted, or no longer
  returned by ListFunctions).

Decisions (README, "Evidence over an audit period"):
- A state holds from the observation that set it until the next observation of that function and rule, as
  AWS Config's timeline shows it. Before the first observation in the period the state is UNKNOWN unless an
  observation before the period (the last one before its start) is given.
- A **day** (UTC) of a function and rule is *evaluated* when a snapshot of its account, region and rule was
  taken that day, or Config recorded a transition of that function and rule that day. A day without either
  is a coverage gap, never assumed compliant, whatever state the timeline carries over it.
- A function-day counts as compliant only if it was evaluated and the function was COMPLIANT for all of the
  day that it existed; NON_COMPLIANT at any moment of the day makes it a non-compliant day; a gap day is
  neither and is counted apart. NOT_APPLICABLE days (the function outside a VPC) are not in the share.
- A non-compliant interval ends `fixed` (next state COMPLIANT), `deleted` (the function went away),
  `not-applicable` (it left its VPC), `unknown` (the next observation is missing: the period ended in a
  gap) or `open` (still NON_COMPLIANT at the end of the period). An exception in force (issue 24's register,
  named in the annotation as `excepted by EX-12 ...`) is carried on the interval and reported.
- Where both sources observe the same moment and disagree, the snapshot wins: it carries the annotation
  and is the pack's own verdict; the disagreement is kept in the interval's sources.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .model import Compliance

UNKNOWN = "UNKNOWN"  # no observation says what the state was
DELETED = "DELETED"  # the function no longer exists (or is no longer listed)
SOURCE_CONFIG, SOURCE_SNAPSHOT = "config", "snapshot"
EXCEPTION_PATTERN = re.compile(r"\bexcepted by (?P<id>[A-Za-z0-9_.:-]+)")


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError(f"a time without a time zone: {moment.isoformat()}")
    return moment.astimezone(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return _utc(moment).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, order=True)
class Key:
    """One function under one rule, where it runs."""

    account_id: str
    region: str
    rule: str
    resource_id: str


@dataclass(frozen=True)
class Observation:
    """A state of one function under one rule at one moment: COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE or
    DELETED."""

    key: Key
    at: dt.datetime
    state: str
    source: str  # SOURCE_CONFIG | SOURCE_SNAPSHOT
    annotation: str | None = None  # None: the source does not carry one (AWS Config's history)

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _utc(self.at))
        if self.state not in (*Compliance, DELETED):
            raise ValueError(f"not a state: {self.state!r}")


@dataclass(frozen=True)
class Snapshot:
    """One scheduled run's verdicts for one rule in one account and region."""

    account_id: str
    region: str
    rule: str
    taken_at: dt.datetime
    verdicts: Mapping[str, tuple[str, str]]  # function name -> (compliance, annotation)
    source_ref: str = ""  # where it was read (an S3 key), for the report

    def __post_init__(self) -> None:
        object.__setattr__(self, "taken_at", _utc(self.taken_at))

    def observations(self, previously_listed: Iterable[str] = ()) -> list[Observation]:
        """Its verdicts, and DELETED for each function an earlier snapshot listed that this one does not."""
        found = [Observation(Key(self.account_id, self.region, self.rule, name), self.taken_at, compliance,
                             SOURCE_SNAPSHOT, annotation) for name, (compliance, annotation) in self.verdicts.items()]
        found += [Observation(Key(self.account_id, self.region, self.rule, name), self.taken_at, DELETED,
                              SOURCE_SNAPSHOT, "no longer listed by ListFunctions")
                  for name in sorted(set(previously_listed) - set(self.verdicts))]
        return found


@dataclass(frozen=True)
class Interval:
    key: Key
    state: str  # a Compliance value, UNKNOWN or DELETED
    start: dt.datetime
    end: dt.datetime  # exclusive; the period's end for the last one
    annotation: str | None
    sources: tuple[str, ...]
    ended_by: str | None = None  # for NON_COMPLIANT: fixed | deleted | not-applicable | unknown | open

    @property
    def duration(self) -> dt.timedelta:
        return self.end - self.start

    @property
    def exception(self) -> str | None:
        match = EXCEPTION_PATTERN.search(self.annotation or "")
        return match.group("id") if match else None

    def as_dict(self) -> dict[str, object]:
        return {"account_id": self.key.account_id, "region": self.key.region, "rule": self.key.rule,
                "resource_id": self.key.resource_id, "state": self.state, "start": iso(self.start),
                "end": iso(self.end), "duration_hours": round(self.duration.total_seconds() / 3600, 2),
                "annotation": self.annotation, "sources": list(self.sources), "ended_by": self.ended_by,
                "exception": self.exception}


@dataclass(frozen=True)
class Period:
    start: dt.datetime
    end: dt.datetime  # exclusive

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _utc(self.start))
        object.__setattr__(self, "end", _utc(self.end))
        if self.end <= self.start:
            raise ValueError(f"the period ends ({iso(self.end)}) before it starts ({iso(self.start)})")

    def days(self) -> list[dt.date]:
        first, last = self.start.date(), (self.end - dt.timedelta(microseconds=1)).date()
        return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def _day_bounds(day: dt.date, period: Period) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    return max(start, period.start), min(start + dt.timedelta(days=1), period.end)


def intervals_for(key: Key, observations: Sequence[Observation], period: Period,
                  before: Observation | None = None) -> list[Interval]:
    """The intervals of one function and rule over the period, from its observations (any order); `before`:
    the last observation before the period, if known."""
    inside = sorted((o for o in observations if period.start <= o.at < period.end),
                    key=lambda o: (o.at, o.source != SOURCE_SNAPSHOT))
    # one observation per moment: the snapshot's, where both sources observed it
    by_moment: dict[dt.datetime, list[Observation]] = {}
    for observation in inside:
        by_moment.setdefault(observation.at, []).append(observation)
    steps: list[tuple[dt.datetime, str, str | None, tuple[str, ...]]] = []
    if before is not None:
        steps.append((period.start, before.state, before.annotation, (before.source,)))
    elif not inside or inside[0].at > period.start:
        steps.append((period.start, UNKNOWN, None, ()))
    for moment, seen in by_moment.items():
        chosen = seen[0]
        steps.append((moment, chosen.state, chosen.annotation, tuple(sorted({o.source for o in seen}))))
    intervals: list[Interval] = []
    for index, (start, state, annotation, sources) in enumerate(steps):
        end = steps[index + 1][0] if index + 1 < len(steps) else period.end
        if intervals and intervals[-1].state == state:
            last = intervals[-1]
            intervals[-1] = Interval(key, state, last.start, end, last.annotation or annotation,
                                     tuple(sorted(set(last.sources) | set(sources))))
            continue
        intervals.append(Interval(key, state, start, end, annotation, sources))
    return [_with_ending(interval, intervals[index + 1] if index + 1 < len(intervals) else None)
            for index, interval in enumerate(intervals)]


def _with_ending(interval: Interval, following: Interval | None) -> Interval:
    if interval.state != Compliance.NON_COMPLIANT:
        return interval
    if following is None:
        ended = "open"
    else:
        ended = {Compliance.COMPLIANT: "fixed", DELETED: "deleted", Compliance.NOT_APPLICABLE: "not-applicable"
                 }.get(following.state, "unknown")
    return Interval(interval.key, interval.state, interval.start, interval.end, interval.annotation,
                    interval.sources, ended)


@dataclass(frozen=True)
class DayTally:
    compliant: int = 0
    non_compliant: int = 0
    gap: int = 0
    not_applicable: int = 0

    @property
    def judged(self) -> int:
        """The function-days in the share: compliant, non-compliant and gap days."""
        return self.compliant + self.non_compliant + self.gap

    @property
    def compliant_share(self) -> float | None:
        return self.compliant / self.judged if self.judged else None

    def __add__(self, other: DayTally) -> DayTally:
        return DayTally(self.compliant + other.compliant, self.non_compliant + other.non_compliant,
                        self.gap + other.gap, self.not_applicable + other.not_applicable)


@dataclass(frozen=True)
class FunctionTimeline:
    key: Key
    intervals: tuple[Interval, ...]
    days: DayTally
    gap_days: tuple[dt.date, ...]

    @property
    def existed(self) -> bool:
        """In the population: it existed (in any state but DELETED/UNKNOWN) at some time in the period."""
        return any(i.state in tuple(Compliance) for i in self.intervals)

    @property
    def non_compliant(self) -> list[Interval]:
        return [i for i in self.intervals if i.state == Compliance.NON_COMPLIANT]


def tally_days(key: Key, intervals: Sequence[Interval], period: Period,
               evaluated: set[dt.date]) -> tuple[DayTally, tuple[dt.date, ...]]:
    """Each day of the period on which the function is known to have existed: compliant, non-compliant,
    gap (not evaluated that day) or not applicable. Days it is not known to exist on (UNKNOWN before its
    first observation, DELETED after its last) are not its days; a day no evidence covers at all is a run
    gap of its account, region and rule (`PeriodResult.run_gaps`)."""
    tally, gaps = DayTally(), []
    for day in period.days():
        start, end = _day_bounds(day, period)
        living = {i.state for i in intervals if i.start < end and i.end > start} - {DELETED, UNKNOWN}
        if not living:
            continue
        if day not in evaluated:
            tally, gaps = tally + DayTally(gap=1), [*gaps, day]
        elif Compliance.NON_COMPLIANT in living:
            tally += DayTally(non_compliant=1)
        elif Compliance.COMPLIANT in living:
            tally += DayTally(compliant=1)
        else:
            tally += DayTally(not_applicable=1)
    return tally, tuple(gaps)


@dataclass(frozen=True)
class RunGap:
    """A day on which a rule left no evidence of evaluating an account-region."""

    account_id: str
    region: str
    rule: str
    day: dt.date


@dataclass
class PeriodResult:
    period: Period
    timelines: list[FunctionTimeline]
    run_gaps: list[RunGap]  # account-region-rule-days with neither snapshot nor Config transition
    expected: list[tuple[str, str, str]]  # (account, region, rule) the period covers
    notes: list[str] = field(default_factory=list)

    @property
    def population(self) -> list[FunctionTimeline]:
        return [t for t in self.timelines if t.existed]

    def by_rule(self) -> dict[str, DayTally]:
        totals: dict[str, DayTally] = defaultdict(DayTally)
        for timeline in self.population:
            totals[timeline.key.rule] += timeline.days
        return dict(sorted(totals.items()))

    def non_compliant_intervals(self) -> list[Interval]:
        return sorted((i for t in self.population for i in t.non_compliant), key=lambda i: (i.key, i.start))

    def time_to_remediate(self) -> dict[str, float | int | None]:
        """Hours from becoming NON_COMPLIANT to fixed, over the intervals that were fixed within the period
        and began within it (one already open at its start has no known beginning)."""
        hours = [i.duration.total_seconds() / 3600 for i in self.non_compliant_intervals()
                 if i.ended_by == "fixed" and i.start > self.period.start]
        if not hours:
            return {"fixed": 0, "mean_hours": None, "median_hours": None, "max_hours": None}
        return {"fixed": len(hours), "mean_hours": round(statistics.fmean(hours), 2),
                "median_hours": round(statistics.median(hours), 2), "max_hours": round(max(hours), 2)}


def build_period(period: Period, snapshots: Iterable[Snapshot], config_observations: Iterable[Observation],
                 expected: Iterable[tuple[str, str, str]], before: Mapping[Key, Observation] | None = None
                 ) -> PeriodResult:
    """The period's timelines from the pack's snapshots and AWS Config's transitions.

    `expected`: the (account, region, rule) the period should cover (where the rules are deployed): each of
    their days without any evidence is a run gap. `before`: per function and rule, the last observation
    before the period."""
    before = dict(before or {})
    observations: dict[Key, list[Observation]] = defaultdict(list)
    evaluated: dict[tuple[str, str, str], set[dt.date]] = defaultdict(set)
    evaluated_key: dict[Key, set[dt.date]] = defaultdict(set)
    config_days: dict[tuple[str, str, str], set[dt.date]] = defaultdict(set)  # any transition recorded
    listed: dict[tuple[str, str, str], set[str]] = {}
    for snapshot in sorted(snapshots, key=lambda s: s.taken_at):
        target = (snapshot.account_id, snapshot.region, snapshot.rule)
        if snapshot.taken_at < period.start:
            for observation in snapshot.observations(listed.get(target, ())):
                before[observation.key] = observation
        elif snapshot.taken_at < period.end:
            for observation in snapshot.observations(listed.get(target, ())):
                observations[observation.key].append(observation)
            evaluated[target].add(snapshot.taken_at.date())
        listed[target] = set(snapshot.verdicts)
    for observation in config_observations:
        if observation.at < period.start:
            if observation.key not in before or before[observation.key].at < observation.at:
                before[observation.key] = observation
        elif observation.at < period.end:
            observations[observation.key].append(observation)
            evaluated_key[observation.key].add(observation.at.date())
            key = observation.key
            config_days[(key.account_id, key.region, key.rule)].add(observation.at.date())
    expected = sorted(set(expected))
    timelines = []
    for key in sorted(set(observations) | {k for k, o in before.items() if o.state != DELETED}):
        intervals = intervals_for(key, observations.get(key, []), period, before.get(key))
        days = evaluated[(key.account_id, key.region, key.rule)] | evaluated_key[key]
        tally, gap_days = tally_days(key, intervals, period, days)
        timelines.append(FunctionTimeline(key, tuple(intervals), tally, gap_days))
    run_gaps = [RunGap(account, region, rule, day) for account, region, rule in expected
                for day in period.days()
                if day not in evaluated[(account, region, rule)] | config_days[(account, region, rule)]]
    return PeriodResult(period, timelines, run_gaps, expected)
