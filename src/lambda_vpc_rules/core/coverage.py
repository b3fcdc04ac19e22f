"""What a run was expected to read, what it read, and why the rest was not read: the coverage every report
and every evidence bundle states, so that nothing is silently left out.

- A `Target` is one account and region. `Covered` is a target read completely, with when it was read (the
  read time of a scan, the collection time of AWS Config's evaluations) and how many functions or
  evaluations it gave.
- A `Gap` is a target, or a whole account (`region` is `EVERY_REGION` when the account's regions could not
  even be listed), that was expected and could not be read, with the reason in one line: the role could
  not be assumed, a read was refused, the region is not enabled, an answer could not be read, none of the
  pack's rules is deployed there. A gap is never a verdict: the run is incomplete (exit code 2) and the
  verdicts of the other targets still stand.
- `LeftOut` is an account not expected at all, and why: excluded on request, or not ACTIVE in the
  organization. It is listed so that the population is stated, not inferred.

- Coverage by AWS Config (`rule_gap`): an account-region is covered for a rule only when the rule there is the
  pack's own (owner CUSTOM_LAMBDA, source the pack's function in that account and region) and its most recent
  evaluation is within its MaximumExecutionFrequency plus `FRESHNESS_SLACK_HOURS`; otherwise a gap naming why
  ("rule source is not the pack's function", "last evaluated 2026-11-02 03:00 UTC, expected every 24 h").
  A rule merely existing under the pack's name proves nothing: a member account's administrator can create
  one that always answers COMPLIANT, and a rule whose evaluator lost its reads leaves its old verdicts in place.

Pure data, no AWS call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

EVERY_REGION = "*"  # a gap covering every region of an account (its regions are unknown)


@dataclass(frozen=True, order=True)
class Target:
    account_id: str
    region: str


@dataclass(frozen=True, order=True, slots=True)  # slots: a scan keeps one per account-region read
class Covered:
    account_id: str
    region: str
    read_at: str  # ISO 8601, UTC
    items: int = 0  # functions read (scan) or evaluations collected (AWS Config)


@dataclass(frozen=True, order=True)
class Gap:
    account_id: str
    region: str  # EVERY_REGION: the account could not be read at all
    reason: str

    @property
    def where(self) -> str:
        region = "(every region)" if self.region == EVERY_REGION else self.region
        return f"{self.account_id} {region}"


@dataclass(frozen=True, order=True)
class LeftOut:
    account_id: str
    reason: str  # "excluded" or the account's state in the organization


@dataclass(frozen=True)
class Coverage:
    """The population a run was expected to read (how its accounts and regions were chosen), and the outcome
    for each account-region of it."""

    accounts: str  # how the accounts were chosen, e.g. "the organization's ACTIVE accounts (Organizations)"
    regions: str  # how the regions were chosen, e.g. "each account's enabled regions (ec2:DescribeRegions)"
    covered: tuple[Covered, ...] = ()
    gaps: tuple[Gap, ...] = ()
    left_out: tuple[LeftOut, ...] = ()
    notes: tuple[str, ...] = field(default=())  # what the reader of the coverage must know besides
    reader_account: str = ""  # the account and region the run was made from (where gaps are reported)
    reader_region: str = ""

    @classmethod
    def of(cls, accounts: str, regions: str, covered: Iterable[Covered], gaps: Iterable[Gap],
           left_out: Iterable[LeftOut] = (), notes: Iterable[str] = (), reader: tuple[str, str] = ("", "")
           ) -> Coverage:
        return cls(accounts, regions, tuple(sorted(covered)), tuple(sorted(gaps)), tuple(sorted(left_out)),
                   tuple(notes), *reader)

    @property
    def complete(self) -> bool:
        return not self.gaps

    @property
    def account_ids(self) -> list[str]:
        """Every account expected (covered or not)."""
        return sorted({c.account_id for c in self.covered} | {g.account_id for g in self.gaps})

    @property
    def regions_seen(self) -> list[str]:
        return sorted({c.region for c in self.covered} | {g.region for g in self.gaps if g.region != EVERY_REGION})

    def statement(self) -> str:
        """One line: expected, covered, not covered."""
        expected = len(self.covered) + sum(1 for g in self.gaps if g.region != EVERY_REGION)
        unknown = sum(1 for g in self.gaps if g.region == EVERY_REGION)
        accounts = len(self.account_ids)
        text = (f"{accounts} account{'s' * (accounts != 1)}, {expected} account-region{'s' * (expected != 1)} "
                f"expected")
        if unknown:
            text += f" (and {unknown} account{'s' * (unknown != 1)} whose regions could not be listed)"
        text += f"; {len(self.covered)} covered"
        missing = len(self.gaps)
        return text + (f"; {missing} NOT covered." if missing else "; coverage complete.")

    def as_dict(self) -> dict:
        return {
            "complete": self.complete,
            "statement": self.statement(),
            "accounts": self.accounts,
            "regions": self.regions,
            "covered": [{"account_id": c.account_id, "region": c.region, "read_at": c.read_at, "items": c.items}
                        for c in self.covered],
            "not_covered": [{"account_id": g.account_id, "region": g.region, "reason": g.reason} for g in self.gaps],
            "left_out": [{"account_id": x.account_id, "reason": x.reason} for x in self.left_out],
            "notes": list(self.notes),
            "read_from": {"account_id": self.reader_account, "region": self.reader_region},
        }


# ------------------------------------------------------------------ coverage by the pack's own, recent rule

# AWS Config's MaximumExecutionFrequency values (Config API reference, SourceDetail), in hours.
EXECUTION_FREQUENCY_HOURS = {"One_Hour": 1, "Three_Hours": 3, "Six_Hours": 6, "Twelve_Hours": 12,
                             "TwentyFour_Hours": 24}
LONGEST_FREQUENCY = "TwentyFour_Hours"
# A periodic run starts some time after its period is due (AWS Config schedules it), may take up to the
# function's 15-minute timeout, and a failed one is retried twice by the asynchronous invocation (1 and 2
# minutes apart): two hours cover those with room to spare, and are stated in every gap they decide.
FRESHNESS_SLACK_HOURS = 2
PACK_OWNER = "CUSTOM_LAMBDA"


@dataclass(frozen=True)
class RuleSource:
    """What AWS Config says runs a deployed rule (DescribeConfigRules)."""

    config_rule: str  # the AWS Config rule as deployed
    owner: str  # Source.Owner
    source_identifier: str  # Source.SourceIdentifier: for CUSTOM_LAMBDA, the function's ARN
    frequency: str | None  # the ScheduledNotification's MaximumExecutionFrequency; None: no periodic trigger


def _hours(frequency: str) -> int:
    return EXECUTION_FREQUENCY_HOURS.get(frequency, EXECUTION_FREQUENCY_HOURS[LONGEST_FREQUENCY])


def _parse(iso: str) -> dt.datetime | None:
    try:
        value = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _when(iso: str) -> str:
    value = _parse(iso)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if value else iso


def is_pack_function(source_identifier: str, account_id: str, region: str, function_name: str) -> bool:
    """`arn:<partition>:lambda:<region>:<account>:function:<name>`, the pack's function in that account and
    region (unqualified, as the pack's templates name it)."""
    parts = source_identifier.split(":")
    return (len(parts) == 7 and parts[0] == "arn" and parts[1].startswith("aws") and parts[2:] ==
            ["lambda", region, account_id, "function", function_name])


def freshness_gap(config_rule: str, frequency: str, last_evaluated: str | None, now: str,
                  slack_hours: int = FRESHNESS_SLACK_HOURS) -> str | None:
    """None when the rule's most recent evaluation is within its frequency plus the slack; else the reason."""
    hours = _hours(frequency)
    expected = f"expected every {hours} h (+{slack_hours} h slack)"
    if not last_evaluated:
        return f"{config_rule}: no evaluation recorded, {expected}"
    last, current = _parse(last_evaluated), _parse(now)
    if last is None or current is None:
        return f"{config_rule}: last evaluation time unreadable ({last_evaluated!r}), {expected}"
    if current - last > dt.timedelta(hours=hours + slack_hours):
        return f"{config_rule}: last evaluated {_when(last_evaluated)}, {expected}"
    return None


def rule_gap(source: RuleSource, account_id: str, region: str, function_name: str, last_evaluated: str | None,
             now: str, slack_hours: int = FRESHNESS_SLACK_HOURS) -> str | None:
    """The one test of coverage by a deployed rule: None when it is the pack's (owner CUSTOM_LAMBDA, source the
    pack's function in this account and region), periodic, and evaluated within its frequency plus the slack;
    otherwise the reason, naming the rule. Used by evidence, status and the organization scan."""
    if source.owner != PACK_OWNER or not is_pack_function(source.source_identifier, account_id, region,
                                                          function_name):
        return (f"{source.config_rule}: rule source is not the pack's function ({source.owner} "
                f"{source.source_identifier or '-'}; expected {PACK_OWNER} function {function_name} of {account_id} "
                f"{region})")
    if source.frequency is None:
        return f"{source.config_rule}: the rule has no periodic trigger, so no recent evaluation can be expected"
    return freshness_gap(source.config_rule, source.frequency, last_evaluated, now, slack_hours)
