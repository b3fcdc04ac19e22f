"""The exceptions register: who may knowingly break which rule, where, why, and until when.

Pure: the register arrives as a parsed document (YAML or JSON, read by the caller), the evaluation time is an
input (`now`), and nothing here calls AWS. docs/exceptions.md is the user's page; `exceptions.schema.json`
beside this module is the published JSON Schema of the document (the checks here are the same, written out,
because the Lambda runtime has no `jsonschema`; tests/test_exceptions.py holds both to the same examples).

The document:

    version: "2026-12-01.1"            # the register's own label, reported with its SHA-256
    max_duration_days: 365             # optional (default 365): expires - approved may not exceed it
    require_exception_for_tags: false  # optional: true, the internet-access tag alone no longer waives
    exceptions:
      - id: EX-12
        rules: [lambda-vpc-private-subnet-nat]   # or "*": every rule
        scope: {accounts: [...], ous: [...], regions: [...], resources: [...], tags: ["key=value"]}
        reason: ..., owner: ..., approver: ..., ticket: https://...
        compensating_control: ...      # optional
        approved: 2026-03-01           # the approval date, the start of the maximum duration
        expires: 2027-03-01            # in force through that whole day (UTC)

Matching, as Prowler's mutelist does it (fields ANDed, values ORed, `*` matches anything): an exception covers
a verdict when its rules name the verdict's rule AND every scope field it sets matches: the account is one of
`accounts` (12 digits or `*`), AND it is in one of `ous` (via the register's OU resolution), AND the region is
one of `regions` (a glob), AND the function's ARN or name matches one of `resources` (a pattern starting with
`arn:` is matched against the ARN, any other against the name; shell globs, `*` and `?`, anchored at both
ends, unlike Prowler's unanchored regexes, so `test` does not cover `contest`), AND the function carries one of
`tags` (`key=value`, the value a glob; Prowler ANDs its tags: the issue asks values ORed in every field). A
scope must set at least one field: an exception for everything says `accounts: ["*"]`.

Applying (`apply`): only a NON_COMPLIANT verdict is excepted, and it stays NON_COMPLIANT (the truth stays in
AWS Config; a NOT_APPLICABLE is deleted by Config and would erase its history); its annotation starts with
`excepted by EX-12 until 2027-03-01 (owner, ticket)` and keeps as much of the rule's own as fits in 256
characters. Of several exceptions covering a verdict, the one in force the longest wins (then the lowest id).
When the only ones covering it have expired, the annotation starts `exception EX-12 expired 2027-03-01 (...)`
and the verdict counts as failing again. A scope the register cannot decide for a function (tags not read,
OUs not resolved) is an error, never a guess: it neither excepts nor un-excepts.
"""

from __future__ import annotations

import datetime as dt
import enum
import fnmatch
import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

from ..errors import PackError
from .model import ANNOTATION_LIMIT, Compliance, EvaluationResult, LambdaFunction, Verdict

DEFAULT_MAX_DURATION_DAYS = 365
MAX_DURATION_CEILING_DAYS = 3 * 365  # a register may not set a longer maximum
DEFAULT_EXPIRING_WITHIN_DAYS = 30
ALL_RULES = "*"
SCHEMA_FILE = "exceptions.schema.json"
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
ACCOUNT_PATTERN = re.compile(r"^(\d{12}|\*)$")
OU_PATTERN = re.compile(r"^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$")
TAG_PATTERN = re.compile(r"^[^=]{1,128}=.{0,256}$", re.DOTALL)
LIMITS = {"owner": 48, "approver": 128, "ticket": 100, "reason": 1024, "compensating_control": 1024}
TOP_FIELDS = {"version", "max_duration_days", "require_exception_for_tags", "exceptions", "ou_accounts"}
ENTRY_FIELDS = {"id", "rules", "scope", "reason", "owner", "approver", "ticket", "compensating_control",
                "approved", "expires"}
REQUIRED = ("id", "rules", "scope", "reason", "owner", "approver", "ticket", "approved", "expires")
SCOPE_FIELDS = ("accounts", "ous", "regions", "resources", "tags")


class RegisterError(PackError):
    """A register that cannot be used; the message names every entry at fault and why. Never a verdict:
    the CLI exits 2, a rule handler answers with an error and puts nothing."""

    def __init__(self, problems: Sequence[str], source: str = "exceptions register"):
        self.problems = list(problems)
        super().__init__(f"{source}: " + "; ".join(self.problems))


class Undecidable(PackError):
    """The register cannot tell whether an exception covers a function (its tags were not read, an OU was not
    resolved): an error, not a guess either way."""


def schema() -> dict[str, Any]:
    """The published JSON Schema of the register (package data)."""
    return json.loads(resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Scope:
    accounts: tuple[str, ...] | None = None  # None: the field is not set (matches anything)
    ous: tuple[str, ...] | None = None
    regions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None
    tags: tuple[tuple[str, str], ...] | None = None


@dataclass(frozen=True)
class Entry:
    id: str
    rules: tuple[str, ...]  # ("*",): every rule
    scope: Scope
    reason: str
    owner: str
    approver: str
    ticket: str
    approved: dt.date
    expires: dt.date
    compensating_control: str | None = None

    def in_force(self, now: dt.datetime) -> bool:
        """In force through the whole expiry day (UTC)."""
        return now.astimezone(dt.UTC).date() <= self.expires

    def expires_within(self, now: dt.datetime, days: int) -> bool:
        return self.in_force(now) and (self.expires - now.astimezone(dt.UTC).date()).days <= days

    def covers_rule(self, rule: str) -> bool:
        return ALL_RULES in self.rules or rule in self.rules


@dataclass(frozen=True)
class Register:
    version: str
    sha256: str  # of the canonical JSON of the document: the same for its YAML and its published JSON
    entries: tuple[Entry, ...] = ()
    max_duration_days: int = DEFAULT_MAX_DURATION_DAYS
    require_exception_for_tags: bool = False
    # OU -> the accounts in it (at any depth), as resolved when the register was loaded or published;
    # None: not resolved (an entry scoped by OU is then undecidable)
    ou_accounts: Mapping[str, frozenset[str]] | None = None

    @functools.cached_property
    def _by_account(self) -> tuple[dict[str, tuple[Entry, ...]], tuple[Entry, ...]]:
        """The entries naming each account, and those for any account: `apply` looks only at these."""
        named: dict[str, list[Entry]] = {}
        anywhere = []
        for entry in self.entries:
            accounts = entry.scope.accounts
            if accounts is None or "*" in accounts:
                anywhere.append(entry)
            else:
                for account in accounts:
                    named.setdefault(account, []).append(entry)
        return {account: tuple(entries) for account, entries in named.items()}, tuple(anywhere)

    def candidates(self, account_id: str) -> tuple[Entry, ...]:
        named, anywhere = self._by_account
        return named.get(account_id, ()) + anywhere

    @property
    def tag_keys(self) -> frozenset[str]:
        """The function tags the register's scopes read (the reads must fetch them)."""
        return frozenset(key for entry in self.entries for key, _ in (entry.scope.tags or ()))

    @property
    def ous(self) -> frozenset[str]:
        return frozenset(ou for entry in self.entries for ou in (entry.scope.ous or ()))

    def with_ou_accounts(self, ou_accounts: Mapping[str, Iterable[str]]) -> Register:
        return replace(self, ou_accounts={ou: frozenset(accounts) for ou, accounts in ou_accounts.items()})

    def canonical(self) -> dict[str, Any]:
        """The document as published for the deployed rules (JSON; OUs resolved when they were)."""
        document: dict[str, Any] = {
            "version": self.version, "max_duration_days": self.max_duration_days,
            "require_exception_for_tags": self.require_exception_for_tags,
            "exceptions": [_entry_document(entry) for entry in self.entries]}
        if self.ou_accounts is not None:
            document["ou_accounts"] = {ou: sorted(accounts) for ou, accounts in sorted(self.ou_accounts.items())}
        return document


def _entry_document(entry: Entry) -> dict[str, Any]:
    scope = {name: list(getattr(entry.scope, name)) for name in SCOPE_FIELDS
             if getattr(entry.scope, name) is not None and name != "tags"}
    if entry.scope.tags is not None:
        scope["tags"] = [f"{key}={value}" for key, value in entry.scope.tags]
    document = {"id": entry.id, "rules": ALL_RULES if entry.rules == (ALL_RULES,) else list(entry.rules),
                "scope": scope, "reason": entry.reason, "owner": entry.owner, "approver": entry.approver,
                "ticket": entry.ticket, "approved": entry.approved.isoformat(), "expires": entry.expires.isoformat()}
    if entry.compensating_control is not None:
        document["compensating_control"] = entry.compensating_control
    return document


# Parsing ---------------------------------------------------------------------------------------------------

def _jsonable(value: Any) -> Any:
    """YAML's dates as ISO strings, so that a YAML register and its JSON hash alike."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def document_sha256(document: Any) -> str:
    canonical = json.dumps(_jsonable(document), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return None  # a date, not a time: the register speaks in whole days
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _string_list(value: Any, pattern: re.Pattern | None, what: str, problems: list[str], where: str
                 ) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not value or not all(isinstance(item, str) and item for item in value):
        problems.append(f"{where}: {what} must be a non-empty list of strings")
        return None
    bad = [item for item in value if pattern is not None and not pattern.match(item)]
    if bad:
        problems.append(f"{where}: {what}: not valid: {', '.join(map(repr, bad))}")
        return None
    return tuple(value)


def _scope(value: Any, problems: list[str], where: str) -> Scope | None:
    if not isinstance(value, Mapping) or not value:
        problems.append(f"{where}: scope must set at least one of {', '.join(SCOPE_FIELDS)} "
                        '(an exception for everything says accounts: ["*"])')
        return None
    unknown = sorted(set(value) - set(SCOPE_FIELDS))
    if unknown:
        problems.append(f"{where}: scope: unknown field(s) {', '.join(unknown)}")
        return None
    count = len(problems)
    parsed = {
        "accounts": _string_list(value["accounts"], ACCOUNT_PATTERN, "scope.accounts (12-digit IDs or *)", problems,
                                 where) if "accounts" in value else None,
        "ous": _string_list(value["ous"], OU_PATTERN, "scope.ous (ou-... or r-... IDs)", problems,
                            where) if "ous" in value else None,
        "regions": _string_list(value["regions"], None, "scope.regions", problems, where) if "regions" in value
        else None,
        "resources": _string_list(value["resources"], None, "scope.resources", problems, where)
        if "resources" in value else None,
    }
    if "tags" in value:
        tags = _string_list(value["tags"], TAG_PATTERN, "scope.tags (key=value)", problems, where)
        parsed["tags"] = None if tags is None else tuple(tuple(tag.split("=", 1)) for tag in tags)
    return None if len(problems) > count else Scope(**parsed)


def _entry(raw: Any, index: int, known_rules: frozenset[str], max_days: int, problems: list[str]) -> Entry | None:
    name = raw.get("id") if isinstance(raw, Mapping) else None
    where = f"exceptions[{index}]" + (f" ({name})" if isinstance(name, str) and name else "")
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: not a mapping")
        return None
    count = len(problems)
    missing = [key for key in REQUIRED if key not in raw or raw[key] is None]
    if missing:
        problems.append(f"{where}: missing required field(s) {', '.join(missing)}")
    unknown = sorted(set(raw) - ENTRY_FIELDS)
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(map(str, unknown))}")
    if missing or unknown:
        return None
    if not isinstance(raw["id"], str) or not ID_PATTERN.match(raw["id"]):
        problems.append(f"{where}: id must be 1-32 letters, digits, '.', '_' or '-' (e.g. EX-12)")
    rules = raw["rules"]
    if rules == ALL_RULES:
        rules = [ALL_RULES]
    if not isinstance(rules, list) or not rules or not all(isinstance(r, str) for r in rules):
        problems.append(f'{where}: rules must be "*" or a non-empty list of rule names')
        rules = []
    elif ALL_RULES not in rules:
        unknown_rules = sorted(set(rules) - known_rules)
        if unknown_rules:
            problems.append(f"{where}: unknown rule(s) {', '.join(unknown_rules)}; "
                            f"known: {', '.join(sorted(known_rules))}")
    scope = _scope(raw["scope"], problems, where)
    for key in ("reason", "owner", "approver", "ticket", "compensating_control"):
        if key not in raw:
            continue
        if not _text(raw[key]):
            problems.append(f"{where}: {key} must be a non-empty string")
        elif len(raw[key]) > LIMITS[key]:
            problems.append(f"{where}: {key} is longer than {LIMITS[key]} characters")
    if _text(raw["ticket"]) and not re.match(r"^https?://\S+$", raw["ticket"]):
        problems.append(f"{where}: ticket must be an http(s) URL")
    approved, expires = _date(raw["approved"]), _date(raw["expires"])
    if approved is None:
        problems.append(f"{where}: approved must be a date, YYYY-MM-DD")
    if expires is None:
        problems.append(f"{where}: expires must be a date, YYYY-MM-DD")
    if approved and expires:
        if expires < approved:
            problems.append(f"{where}: expires {expires} is before approved {approved}")
        elif (expires - approved).days > max_days:
            problems.append(f"{where}: expires {expires} is {(expires - approved).days} days after approved "
                            f"{approved}, over the register's maximum of {max_days} days")
    if len(problems) > count or scope is None:
        return None
    return Entry(raw["id"], tuple(rules), scope, raw["reason"], raw["owner"], raw["approver"], raw["ticket"],
                 approved, expires, raw.get("compensating_control"))


def parse_register(document: Any, known_rules: Iterable[str], source: str = "exceptions register") -> Register:
    """The register, or `RegisterError` listing every problem, each naming its entry. Expired entries are
    kept (they are reported as expired); an entry past the maximum duration is an error."""
    known = frozenset(known_rules)
    if not isinstance(document, Mapping):
        raise RegisterError(["the document is not a mapping with version and exceptions"], source)
    problems: list[str] = []
    unknown = sorted(set(map(str, document)) - TOP_FIELDS)
    if unknown:
        problems.append(f"unknown top-level field(s) {', '.join(unknown)}")
    version = document.get("version")
    if not _text(version if not isinstance(version, int | float) else str(version)):
        problems.append("version: required, the register's own label (e.g. 2026-12-01.1)")
    max_days = document.get("max_duration_days", DEFAULT_MAX_DURATION_DAYS)
    if not isinstance(max_days, int) or isinstance(max_days, bool) or not 1 <= max_days <= MAX_DURATION_CEILING_DAYS:
        problems.append(f"max_duration_days must be a whole number of days, 1 to {MAX_DURATION_CEILING_DAYS}")
        max_days = DEFAULT_MAX_DURATION_DAYS
    require = document.get("require_exception_for_tags", False)
    if not isinstance(require, bool):
        problems.append("require_exception_for_tags must be true or false")
    raw_entries = document.get("exceptions")
    if not isinstance(raw_entries, list):
        problems.append("exceptions: required, a list (empty for none)")
        raw_entries = []
    entries = [_entry(raw, index, known, max_days, problems) for index, raw in enumerate(raw_entries)]
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if entry is not None:
            if entry.id in seen:
                problems.append(f"exceptions[{index}] ({entry.id}): id already used by exceptions[{seen[entry.id]}]")
            seen.setdefault(entry.id, index)
    ou_accounts = document.get("ou_accounts")
    if ou_accounts is not None and not (isinstance(ou_accounts, Mapping) and all(
            isinstance(v, list) and all(isinstance(a, str) and ACCOUNT_PATTERN.match(a) for a in v)
            for v in ou_accounts.values())):
        problems.append("ou_accounts must map OU IDs to lists of 12-digit account IDs")
    if problems:
        raise RegisterError(problems, source)
    return Register(str(version), document_sha256(document), tuple(e for e in entries if e is not None), max_days,
                    require, None if ou_accounts is None else {ou: frozenset(v) for ou, v in ou_accounts.items()})


# Matching --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Subject:
    """What an exception is matched against: one function under one rule, where it was evaluated."""

    rule: str
    account_id: str
    region: str
    name: str
    arn: str | None = None
    tags: Mapping[str, str] | None = None  # None: not read

    @classmethod
    def of(cls, rule: str, function: LambdaFunction, account_id: str, region: str) -> Subject:
        return cls(rule, account_id, region, function.name, function.arn, function.tags)


def _glob(pattern: str, value: str | None) -> bool:
    return value is not None and fnmatch.fnmatchcase(value, pattern)


def matches(entry: Entry, subject: Subject, register: Register) -> bool:
    """Whether `entry` covers `subject` (module docstring: the rules). `Undecidable` when it cannot tell."""
    scope = entry.scope
    if not entry.covers_rule(subject.rule):
        return False
    if scope.accounts is not None and not any(a in ("*", subject.account_id) for a in scope.accounts):
        return False
    if scope.regions is not None and not any(_glob(r, subject.region) for r in scope.regions):
        return False
    if scope.resources is not None and not any(
            _glob(p, subject.arn if p.startswith("arn:") else subject.name) for p in scope.resources):
        return False
    if scope.ous is not None:
        if register.ou_accounts is None or any(ou not in register.ou_accounts for ou in scope.ous):
            raise Undecidable(f"exception {entry.id} is scoped by OU ({', '.join(scope.ous)}) and the register's OUs "
                              "were not resolved to accounts: publish it with `lambda-vpc-rules exceptions publish` "
                              "or scan with access to AWS Organizations")
        if not any(subject.account_id in register.ou_accounts[ou] for ou in scope.ous):
            return False
    if scope.tags is not None:
        if subject.tags is None:
            raise Undecidable(f"exception {entry.id} is scoped by tags and the tags of {subject.name} were not read")
        if not any(key in subject.tags and _glob(value, subject.tags[key]) for key, value in scope.tags):
            return False
    return True


class State(enum.StrEnum):
    EXCEPTED = "excepted"  # an exception in force covers the NON_COMPLIANT verdict
    EXPIRED = "expired"  # only expired exceptions cover it: it fails again


@dataclass(frozen=True)
class Applied:
    verdict: Verdict
    exception: Entry | None = None
    state: State | None = None


def _label(entry: Entry) -> str:
    return f"({entry.owner}, {entry.ticket})"


def _annotated(prefix: str, annotation: str) -> str:
    """`prefix: annotation`, the prefix whole, the rule's own annotation cut to fit 256 characters."""
    text = f"{prefix}: {annotation}"
    if len(text) <= ANNOTATION_LIMIT:
        return text
    return text[: ANNOTATION_LIMIT - 3] + "..."


def apply(verdict: Verdict, subject: Subject, register: Register | None, now: dt.datetime) -> Applied:
    """The final verdict of `subject` under the register at `now` (module docstring). The only place where a
    verdict meets the register: every edge (scan, the handlers, Security Hub, evidence) goes through it."""
    if register is None or verdict.compliance is not Compliance.NON_COMPLIANT:
        return Applied(verdict)
    covering = [entry for entry in register.candidates(subject.account_id) if matches(entry, subject, register)]
    if not covering:
        return Applied(verdict)
    entry = _chosen([e for e in covering if e.in_force(now)])
    if entry is not None:
        prefix = f"excepted by {entry.id} until {entry.expires.isoformat()} {_label(entry)}"
        return Applied(Verdict(verdict.compliance, _annotated(prefix, verdict.annotation)), entry, State.EXCEPTED)
    entry = _chosen(covering)
    prefix = f"exception {entry.id} expired {entry.expires.isoformat()} {_label(entry)}"
    return Applied(Verdict(verdict.compliance, _annotated(prefix, verdict.annotation)), entry, State.EXPIRED)


def _chosen(entries: Sequence[Entry]) -> Entry | None:
    """Of several exceptions covering a verdict, the one in force the longest (then the lowest id)."""
    return min(entries, key=lambda e: (-e.expires.toordinal(), e.id)) if entries else None


def excepting(subject: Subject, register: Register, now: dt.datetime) -> Entry | None:
    """The exception in force that covers `subject` (the one `apply` names), or None."""
    return _chosen([e for e in register.candidates(subject.account_id)
                    if e.in_force(now) and matches(e, subject, register)])


def excepted_by(register: Register, account_id: str, region: str, now: dt.datetime
                ) -> Callable[[str, LambdaFunction], bool]:
    """(rule, function) -> whether an exception in force covers it there: what keeps a function from being
    remediated (`core.remediation.plan`'s hook; the `remediate` CLI and the planner function alike)."""
    return lambda rule, function: excepting(Subject.of(rule, function, account_id, region), register, now) is not None


def subject_function(function: LambdaFunction, register: Register | None, waiver_tag: str) -> LambdaFunction:
    """The function as the rules see it: with `require_exception_for_tags`, without the waiver tag (the tag
    alone no longer waives; an exception covering the function excepts its NON_COMPLIANT verdict instead)."""
    if register is None or not register.require_exception_for_tags or not function.tags \
            or waiver_tag not in function.tags:
        return function
    return replace(function, tags={k: v for k, v in function.tags.items() if k != waiver_tag})


@dataclass(frozen=True)
class InForce:
    """A register and the evaluation time: what the engine applies to every verdict."""

    register: Register
    now: dt.datetime


# What the register did in a run: for scan, status and evidence ---------------------------------------------

@dataclass(frozen=True)
class Covered:
    account_id: str
    region: str
    rule: str
    resource_id: str


@dataclass(frozen=True)
class EntryUse:
    entry: Entry
    covered: tuple[Covered, ...] = ()  # NON_COMPLIANT verdicts it excepted (in force) or would have (expired)
    stale: bool = False  # in force, within the run's accounts and regions, and covering no failing verdict


@dataclass(frozen=True)
class RegisterUse:
    register: Register
    now: dt.datetime
    within_days: int
    uses: tuple[EntryUse, ...] = field(default_factory=tuple)

    @property
    def expired(self) -> list[EntryUse]:
        return [u for u in self.uses if not u.entry.in_force(self.now)]

    @property
    def expiring(self) -> list[EntryUse]:
        return [u for u in self.uses if u.entry.expires_within(self.now, self.within_days)]

    @property
    def stale(self) -> list[EntryUse]:
        return [u for u in self.uses if u.stale]

    @property
    def in_force(self) -> list[EntryUse]:
        return [u for u in self.uses if u.entry.in_force(self.now)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.register.version, "sha256": self.register.sha256,
            "evaluated_at": self.now.isoformat(timespec="seconds"), "expiring_within_days": self.within_days,
            "require_exception_for_tags": self.register.require_exception_for_tags,
            "exceptions": [{
                **_entry_document(u.entry),
                "state": ("expired" if not u.entry.in_force(self.now)
                          else "expiring" if u.entry.expires_within(self.now, self.within_days) else "in force"),
                "stale": u.stale,
                "covered": [c.__dict__ for c in u.covered]} for u in self.uses],
        }


def register_use(register: Register, results: Iterable[EvaluationResult], now: dt.datetime,
                 within_days: int = DEFAULT_EXPIRING_WITHIN_DAYS) -> RegisterUse:
    """Per exception, the failing verdicts it covered in this run (`results`, as `apply` annotated them);
    stale: in force, scoped to an account and region this run read, and covering none of its failing verdicts."""
    results = list(results)
    seen = {(r.account_id, r.region) for r in results}
    covered: dict[str, list[Covered]] = {}
    for result in results:
        if result.exception_id:
            covered.setdefault(result.exception_id, []).append(
                Covered(result.account_id, result.region, result.rule, result.resource_id))
    uses = []
    for entry in register.entries:
        mine = tuple(sorted(covered.get(entry.id, ()), key=lambda c: (c.account_id, c.region, c.rule, c.resource_id)))
        stale = entry.in_force(now) and not mine and any(
            _place_in_scope(entry, account, region, register) for account, region in seen)
        uses.append(EntryUse(entry, mine, stale))
    return RegisterUse(register, now, within_days, tuple(uses))


def _place_in_scope(entry: Entry, account_id: str, region: str, register: Register) -> bool:
    scope = entry.scope
    if scope.accounts is not None and not any(a in ("*", account_id) for a in scope.accounts):
        return False
    if scope.regions is not None and not any(_glob(r, region) for r in scope.regions):
        return False
    if scope.ous is not None and register.ou_accounts is not None:
        return any(account_id in register.ou_accounts.get(ou, ()) for ou in scope.ous)
    return True


_ANNOTATED = re.compile(
    r"^(?:excepted by (?P<excepted>\S+) until|exception (?P<expired>\S+) expired) \d{4}-\d{2}-\d{2} ")


def from_annotation(result: EvaluationResult) -> EvaluationResult:
    """A verdict read back from AWS Config, with the exception its annotation names (what `apply` wrote)."""
    found = _ANNOTATED.match(result.annotation) if result.compliance is Compliance.NON_COMPLIANT else None
    if not found:
        return result
    state = State.EXCEPTED if found["excepted"] else State.EXPIRED
    return replace(result, exception_id=found["excepted"] or found["expired"], exception_state=state.value)


def expiry_lines(use: RegisterUse, after_a_run: bool = True) -> list[str]:
    """What scan and status print about the register: expired, expiring, and (`after_a_run`) stale."""
    lines = [f"exceptions register {use.register.version} (sha256 {use.register.sha256[:12]}): "
             f"{len(use.in_force)} in force, {len(use.expired)} expired, {len(use.expiring)} expiring within "
             f"{use.within_days} days" + (f", {len(use.stale)} stale" if after_a_run else "")]
    lines += [f"  EXPIRED {u.entry.id} on {u.entry.expires} (owner {u.entry.owner}, {u.entry.ticket})"
              + (f": {len(u.covered)} failing verdict(s) no longer excepted" if u.covered else "")
              for u in use.expired]
    lines += [f"  expiring {u.entry.id} on {u.entry.expires} (owner {u.entry.owner}, {u.entry.ticket})"
              for u in use.expiring]
    lines += [f"  stale {u.entry.id}: covers no failing verdict in the accounts and regions read" for u in use.stale
              if after_a_run]
    return lines
