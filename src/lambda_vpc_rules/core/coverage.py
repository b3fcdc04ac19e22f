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

Pure data, no AWS call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

EVERY_REGION = "*"  # a gap covering every region of an account (its regions are unknown)


@dataclass(frozen=True, order=True)
class Target:
    account_id: str
    region: str


@dataclass(frozen=True, order=True)
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
