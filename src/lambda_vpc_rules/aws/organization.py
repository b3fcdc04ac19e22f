"""Many accounts and regions in one run: which accounts, a role assumed in each, which regions, and every
account-region read by a bounded pool of threads, streamed.

- Accounts: `all` is organizations:ListAccounts (the management account or a delegated administrator),
  keeping the ACTIVE ones (`State`; `Status` where an answer has no `State`) minus the excluded ones; the
  others are listed as left out with their state, never dropped silently. Or the account IDs given. Or,
  without either, the caller's own account with its own credentials.
- Role: sts:AssumeRole of `arn:<partition>:iam::<account>:role/<name>` (`ExternalId` if given) in every
  account listed, the caller's own included (one set of permissions everywhere). One session per account,
  whose credentials renew themselves before they expire (botocore's RefreshableCredentials calling
  AssumeRole again), so a run longer than a role session never reads with expired credentials.
- Regions: ec2:DescribeRegions with `AllRegions`, once per account, with that account's credentials; a
  region is enabled when its `OptInStatus` is `opt-in-not-required` or `opted-in` (EC2 API reference,
  DescribeRegions). `all` reads every enabled region; a region named that the account has not enabled is a
  gap ("not enabled"), not a read that fails with an authentication error. Chosen over account:ListRegions,
  which answers for a member account only when called from the management or a delegated administrator
  account with trusted access for AWS Account Management enabled in the organization (one more
  organization-wide prerequisite), and which moto does not implement; DescribeRegions answers for the
  account that calls it, through the role the scan uses anyway, in one call.
- Concurrency: a thread pool of `concurrency` workers runs the account steps (AssumeRole, DescribeRegions)
  and then each account-region; a worker reads one account-region, evaluates it, and returns only what the
  caller keeps (the evaluations): its facts go with it. Memory is that of `concurrency` account-regions,
  whatever the number of accounts. Clients are thread-safe once made; making them is not, so each
  account's session makes its clients under a lock (one data loader shared by all sessions: the service
  models are parsed once).
- Failure: an account or account-region that cannot be read (AssumeRole refused or no such role, a read
  refused, throttling that outlasted the retries, an unreadable answer, a region not enabled) becomes a
  `core.coverage.Gap` with the error in one line, and the other targets are read as usual. A retry about
  to wait is reported through `progress` before the wait.

`scan_many` evaluates a fleet; `views_of_fleet` collects AWS Config's view of the pack in each of its
account-regions (one where no pack rule is deployed is a gap); `aggregator_coverage` states what a Config
aggregator was expected to hold against what it holds.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import boto3
import botocore.session
from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError
from botocore.retries.standard import RetryEventAdapter, StandardRetryConditions

from ..core.coverage import (
    EVERY_REGION,
    FRESHNESS_SLACK_HOURS,
    LONGEST_FREQUENCY,
    Coverage,
    Covered,
    Gap,
    LeftOut,
    Target,
    freshness_gap,
)
from ..core.engine import parse_parameters
from ..core.exceptions import InForce, Register, register_use
from ..core.model import EvaluationResult, ScanReport, Waiver
from ..core.rules import RULES, Rule
from ..errors import PackError
from .account import evaluate_with_waivers, now
from .actions import action_for
from .clients import Clients, is_access_denied, max_attempts, result, retry_config, session_clients
from .config import ConfigReader, ConfigView, pack_rule_name, rule_notes, view_gaps
from .facts import FactReader
from .organization_policies import OrganizationPolicies

T = TypeVar("T")
ALL = "all"
ENABLED = ("opt-in-not-required", "opted-in")  # DescribeRegions OptInStatus of a region the account can use
SESSION_NAME = "lambda-vpc-rules"
Progress = Callable[[str], None]


def quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class Selection:
    """Which accounts and regions to read. `accounts`: ALL, account IDs, or None (the caller's own account,
    own credentials); `regions`: ALL (each account's enabled regions) or region names."""

    regions: str | tuple[str, ...]
    accounts: str | tuple[str, ...] | None = None
    role_name: str | None = None
    external_id: str | None = None
    excluded_accounts: frozenset[str] = frozenset()
    session_name: str = SESSION_NAME

    def __post_init__(self) -> None:
        if self.accounts is None and (self.role_name or self.external_id):
            raise SelectionError("--role-name and --external-id need --accounts (all, or account IDs)")
        if self.excluded_accounts and self.accounts != ALL:
            raise SelectionError("--excluded-accounts applies to --accounts all")
        if not self.regions:
            raise SelectionError("no regions: --regions all, or region names")

    def describe_accounts(self) -> str:
        if self.accounts == ALL:
            return (f"the organization's ACTIVE accounts (organizations:ListAccounts), role {self.role_name}"
                    + (f", minus {len(self.excluded_accounts)} excluded" if self.excluded_accounts else ""))
        if self.accounts is None:
            return "the caller's own account, with its own credentials"
        return f"the accounts listed ({len(self.accounts)}), role {self.role_name}"

    def describe_regions(self) -> str:
        if self.regions == ALL:
            return "each account's enabled regions (ec2:DescribeRegions)"
        return f"the regions listed: {', '.join(self.regions)}"


class SelectionError(PackError):
    """Accounts or regions asked for in a way that cannot be read (e.g. accounts without a role)."""


@dataclass(frozen=True)
class Read(Generic[T]):
    """One account-region read: what the work returned, when and how long it took."""

    target: Target
    value: T
    read_at: str
    seconds: float
    items: int = 0


Outcome = Read | Gap


def describe_error(error: BaseException) -> str:
    """An error in one line, naming the IAM action an AccessDenied refused."""
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        code, message = info.get("Code", "Unknown"), (info.get("Message") or "").strip()
        if is_access_denied(error):
            return f"access denied: {action_for(error.operation_name)} was refused ({code}) {message}".strip()
        return f"{error.operation_name} failed: {code}: {message}".strip()
    if isinstance(error, PackError | BotoCoreError):
        return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    first = (str(error).strip().splitlines() or [""])[0]
    return f"unexpected error: {type(error).__name__}: {first}"


class _RetryNotice:
    """Observes each client's `needs-retry` event and reports, before botocore's standard retry handler
    sleeps, that an attempt failed and will be retried (the same retryability test as that handler)."""

    def __init__(self, notify: Progress, where: str):
        self._notify, self._where = notify, where
        self._adapter = RetryEventAdapter()
        self._max = max_attempts()
        self._conditions = StandardRetryConditions(max_attempts=self._max)

    def __call__(self, **kwargs: Any) -> None:
        try:
            context = self._adapter.create_retry_context(**kwargs)
        except Exception:  # noqa: BLE001 - an observer never breaks a call
            return None
        if self._conditions.is_retryable(context):
            reason = context.get_error_code() or type(context.caught_exception).__name__
            self._notify(f"{self._where}: {context.operation_model.name} answered {reason}; waiting to retry "
                         f"(attempt {context.attempt_number + 1} of {self._max})")
        return None


class _Fixed(CredentialProvider):
    METHOD = "lambda-vpc-rules-assume-role"

    def __init__(self, credentials: RefreshableCredentials):
        super().__init__()
        self._credentials = credentials

    def load(self) -> RefreshableCredentials:
        return self._credentials


@dataclass
class _Account:
    account_id: str
    session: Any  # boto3.Session
    lock: threading.Lock = field(default_factory=threading.Lock)


class Fleet:
    """The accounts and regions of a `Selection`, read from the caller's boto3 `session`.

    `prepare_session` is called with each session the fleet makes (one per account) before any client is
    made from it: instrumentation, e.g. the tests' call recorder."""

    def __init__(self, session: Any, selection: Selection, endpoint_url: str | None = None,
                 prepare_session: Callable[[Any], None] | None = None):
        self.session = session
        self.selection = selection
        self.endpoint_url = endpoint_url
        self.source = Clients(session_clients(session, endpoint_url))
        self._prepare = prepare_session or (lambda _: None)
        self._loader = session._session.get_component("data_loader")  # noqa: SLF001 - shared, parsed once
        self._lock = threading.Lock()
        self.left_out: list[LeftOut] = []

    @property
    def home_region(self) -> str:
        """The region of the calls that find accounts and regions (the caller's region)."""
        return self.session.region_name

    def enabled_regions(self) -> list[str]:
        """The regions the caller's own account has enabled (ec2:DescribeRegions)."""
        answer = self.source("ec2").describe_regions(AllRegions=True)
        return sorted(item["RegionName"] for item in result(answer, "Regions", "DescribeRegions")
                      if item.get("OptInStatus", "opt-in-not-required") in ENABLED)

    def caller(self) -> dict[str, str]:
        return self.source.caller_identity()

    def accounts(self) -> list[str]:
        """The accounts to read (`left_out` lists the organization's others, and why)."""
        selection = self.selection
        if selection.accounts is None:
            return [self.caller()["Account"]]
        if selection.accounts != ALL:
            return sorted(set(selection.accounts))
        chosen, self.left_out = [], []
        for account_id, state in self.source.pages("organizations", "list_accounts", "Accounts",
                                                   lambda a: (a["Id"], a.get("State") or a["Status"])):
            if account_id in selection.excluded_accounts:
                self.left_out.append(LeftOut(account_id, "excluded"))
            elif state != "ACTIVE":
                self.left_out.append(LeftOut(account_id, f"not ACTIVE in the organization ({state})"))
            else:
                chosen.append(account_id)
        unknown = selection.excluded_accounts - {x.account_id for x in self.left_out}
        self.left_out += [LeftOut(a, "excluded (not an account of the organization)") for a in sorted(unknown)]
        return sorted(chosen)

    # ------------------------------------------------------------------------------------- one account

    def _open(self, account_id: str) -> _Account:
        if self.selection.accounts is None:
            return _Account(account_id, self.session, self._lock)
        partition = self.caller()["Arn"].split(":")[1]
        request = {"RoleArn": f"arn:{partition}:iam::{account_id}:role/{self.selection.role_name}",
                   "RoleSessionName": self.selection.session_name}
        if self.selection.external_id:
            request["ExternalId"] = self.selection.external_id

        def assume() -> dict[str, str]:
            answer = result(self.source("sts").assume_role(**request), "Credentials", "AssumeRole")
            expiry = answer["Expiration"]
            return {"access_key": answer["AccessKeyId"], "secret_key": answer["SecretAccessKey"],
                    "token": answer["SessionToken"],
                    "expiry_time": expiry.isoformat() if isinstance(expiry, dt.datetime) else str(expiry)}

        credentials = RefreshableCredentials.create_from_metadata(assume(), assume, _Fixed.METHOD)
        core = botocore.session.Session(profile=self.session.profile_name
                                        if self.session.profile_name in self.session.available_profiles else None)
        core.register_component("data_loader", self._loader)
        core.register_component("credential_provider", CredentialResolver([_Fixed(credentials)]))
        session = boto3.Session(botocore_session=core, region_name=self.home_region)
        self._prepare(session)
        return _Account(account_id, session)

    def _client_for(self, account: _Account, region: str, progress: Progress) -> Callable[[str], Any]:
        notice = _RetryNotice(progress, f"{account.account_id} {region}")

        def client_for(service: str) -> Any:
            with account.lock:
                client = account.session.client(service, region_name=region, endpoint_url=self.endpoint_url,
                                                 config=retry_config())
            client.meta.events.register(f"needs-retry.{client.meta.service_model.service_id.hyphenize()}",
                                        notice)
            return client

        return client_for

    # ---------------------------------------------------------------------------------------- the run

    def run(self, work: Callable[[Clients, Target], tuple[T, int]], concurrency: int = 4,
            progress: Progress = quiet) -> Iterator[Read[T] | Gap]:
        """Read every account-region of the selection with `work` (which returns what to keep and how many
        items it read), at most `concurrency` at a time; yield each outcome as it completes."""
        if concurrency < 1:
            raise SelectionError(f"--concurrency {concurrency}: at least 1")
        if self.selection.accounts is not None and not self.selection.role_name:
            raise SelectionError("--accounts needs --role-name: the role to assume in each account")
        self.caller()  # read once, before the workers need it
        accounts = self.accounts()
        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="lambda-vpc-rules")
        pending: dict[Future, str | Target] = {pool.submit(self._account_step, a): a for a in accounts}
        opening, total, done = len(accounts), 0, 0

        def report(outcome: Read[T] | Gap) -> None:
            count = f"[{done}/{total}{'+' if opening else ''}]"
            if isinstance(outcome, Gap):
                progress(f"{count} {outcome.where}: NOT READ - {outcome.reason}")
            else:
                progress(f"{count} {outcome.target.account_id} {outcome.target.region}: {outcome.items} read "
                         f"in {outcome.seconds:.1f} s")

        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    key = pending.pop(future)
                    if isinstance(key, Target):
                        done += 1
                        report(outcome := future.result())
                        yield outcome
                        continue
                    opening -= 1
                    opened = future.result()
                    if isinstance(opened, Gap):
                        total, done = total + 1, done + 1
                        report(opened)
                        yield opened
                        continue
                    account, regions, gaps = opened
                    total += len(regions) + len(gaps)
                    for gap in gaps:
                        done += 1
                        report(gap)
                        yield gap
                    for region in regions:
                        target = Target(account.account_id, region)
                        pending[pool.submit(self._target_step, account, target, work, progress)] = target
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _account_step(self, account_id: str) -> tuple[_Account, list[str], list[Gap]] | Gap:
        try:
            account = self._open(account_id)
            clients = Clients(self._client_for(account, self.home_region, quiet))
            answer = clients("ec2").describe_regions(AllRegions=True)
            statuses = {item["RegionName"]: item.get("OptInStatus", "opt-in-not-required")
                        for item in result(answer, "Regions", "DescribeRegions")}
        except Exception as error:  # noqa: BLE001 - a gap in coverage, reported; never a verdict
            return Gap(account_id, EVERY_REGION, describe_error(error))
        if self.selection.regions == ALL:
            return account, sorted(name for name, status in statuses.items() if status in ENABLED), []
        regions, gaps = [], []
        for region in self.selection.regions:
            status = statuses.get(region)
            if status in ENABLED:
                regions.append(region)
            elif status is None:
                gaps.append(Gap(account_id, region, "not a region this account's DescribeRegions knows"))
            else:
                gaps.append(Gap(account_id, region, f"region not enabled in this account (OptInStatus {status})"))
        return account, regions, gaps

    def _target_step(self, account: _Account, target: Target, work: Callable[[Clients, Target], tuple[T, int]],
                     progress: Progress) -> Read[T] | Gap:
        started = time.perf_counter()
        try:
            clients = Clients(self._client_for(account, target.region, progress))
            value, items = work(clients, target)
        except Exception as error:  # noqa: BLE001 - a gap in coverage, reported; never a verdict
            return Gap(target.account_id, target.region, describe_error(error))
        return Read(target, value, now(), time.perf_counter() - started, items)


def covered(read: Read) -> Covered:
    return Covered(read.target.account_id, read.target.region, read.read_at, read.items)


# ------------------------------------------------------------------------ many accounts and regions


def views_of_fleet(fleet: Fleet, rule_names: Iterable[str], concurrency: int = 4, progress: Progress = quiet,
                   ) -> tuple[list[ConfigView], Coverage]:
    """AWS Config's view of the pack in every account-region of `fleet`; an account-region where none of the
    pack's rules is deployed is a gap, like one that cannot be read."""
    rule_names = list(rule_names)

    def work(clients: Clients, target: Target) -> tuple[ConfigView, int]:
        view = ConfigReader(clients).view(rule_names, target.account_id)
        return view, len(view.evaluations)

    views, reads, gaps = [], [], []
    for outcome in fleet.run(work, concurrency, progress):
        if isinstance(outcome, Gap):
            gaps.append(outcome)
            continue
        views.append(outcome.value)
        # covered only by the pack's own rules, recently evaluated (core.coverage.rule_gap)
        reasons = view_gaps(outcome.value, outcome.read_at)
        if reasons:
            gaps.append(Gap(outcome.target.account_id, outcome.target.region, "; ".join(reasons)))
        else:
            reads.append(covered(outcome))
    selection = fleet.selection
    coverage = Coverage.of(selection.describe_accounts(), selection.describe_regions(), reads, gaps, fleet.left_out,
                           rule_notes(*views), reader=(fleet.caller()["Account"], fleet.home_region))
    return views, coverage


def aggregator_coverage(fleet: Fleet, sources: Iterable[tuple[str, str, str]], rows: Iterable[EvaluationResult],
                        collected_at: str) -> Coverage:
    """The accounts x regions expected (`fleet`'s accounts; its regions, `all` being the enabled regions of the
    account collecting), against those the aggregator holds evaluations of the pack's rules for."""
    accounts = fleet.accounts()
    selection = fleet.selection
    regions = fleet.enabled_regions() if selection.regions == ALL else list(selection.regions)
    held = {(account, region) for _, account, region in sources}
    rows = list(rows)
    counts = Counter((row.account_id, row.region) for row in rows)
    expected = {(account, region) for account in accounts for region in regions}
    # freshness: the newest evaluation of each pack rule an account-region runs, against the longest frequency
    # the pack allows (an aggregator tells neither the rules' frequencies nor their sources)
    newest: dict[tuple[str, str, str], str] = {}
    for row in rows:
        key = (row.account_id, row.region, row.rule)
        newest[key] = max(newest.get(key, ""), row.recorded_at or "")
    stale: dict[tuple[str, str], list[str]] = {}
    for name, account, region in sources:
        rule = pack_rule_name(name, [r.config_rule_name for r in RULES]) or name
        reason = freshness_gap(name, LONGEST_FREQUENCY, newest.get((account, region, rule)), collected_at)
        if reason:
            stale.setdefault((account, region), []).append(reason)
    reads = [Covered(a, r, collected_at, counts[(a, r)]) for a, r in sorted(expected & held) if (a, r) not in stale]
    gaps = [Gap(a, r, "the aggregator holds no evaluation of the pack's rules here (rules not deployed, or "
                "the aggregator does not collect this account or region)") for a, r in sorted(expected - held)]
    gaps += [Gap(a, r, "; ".join(sorted(stale[(a, r)]))) for a, r in sorted(expected & held) if (a, r) in stale]
    extra = sorted(held - expected)
    notes = [f"the aggregator also holds evaluations for {len(extra)} account-region(s) outside the expected "
             f"population, included as rows: {', '.join(f'{a} {r}' for a, r in extra[:20])}"
             f"{' ...' if len(extra) > 20 else ''}"] if extra else []
    notes.append("rule evaluation status is not available through an aggregator")
    notes.append(f"through an aggregator a rule's source cannot be read: that each rule is the pack's own function is "
                 f"NOT verified (evidence --source config per account verifies it); freshness is checked against "
                 f"24 h, the longest frequency the pack allows, plus {FRESHNESS_SLACK_HOURS} h")
    scope = ("the organization's ACTIVE accounts (organizations:ListAccounts)" if selection.accounts == ALL
             else selection.describe_accounts())
    regions_text = ("the enabled regions of the collecting account (ec2:DescribeRegions)" if selection.regions == ALL
                    else selection.describe_regions())
    return Coverage.of(scope, regions_text, reads, gaps, fleet.left_out, notes,
                       reader=(fleet.caller()["Account"], fleet.home_region))


def scan_many(
    fleet: Fleet,
    rules: Sequence[Rule] = RULES,
    raw_parameters: Mapping[str, str] | None = None,
    concurrency: int = 4,
    progress: Progress = lambda message: None,
    exceptions: Register | None = None,
    at: dt.datetime | None = None,
) -> ScanReport:
    """Every account-region of `fleet` evaluated with `rules`, `concurrency` at a time, merged into one report
    whose coverage lists what could not be read (and why) beside the verdicts of the rest; the exceptions
    register applied at `at` (default: now)."""
    raw_parameters = dict(raw_parameters or {})
    parameters = parse_parameters(rules, raw_parameters)
    # the SCP chain of each account, read by the caller (organization_policies); not for the caller's own account
    scps = OrganizationPolicies(fleet.source) if fleet.selection.accounts is not None else None
    at = at or dt.datetime.now(dt.UTC)
    in_force = InForce(exceptions, at) if exceptions is not None else None

    def work(clients: Clients, target: Target) -> tuple[tuple[list[EvaluationResult], list[Waiver] | None], int]:
        results, waivers = evaluate_with_waivers(FactReader(clients), rules, parameters, account_id=target.account_id,
                                                 scps=scps and (lambda: scps.chain(target.account_id)),
                                                 exceptions=in_force)
        return (results, waivers), len(results) // max(1, len(rules))

    evaluations: list[EvaluationResult] = []
    waivers: list[Waiver] | None = None
    reads, gaps = [], []
    for outcome in fleet.run(work, concurrency, progress):
        if isinstance(outcome, Gap):
            gaps.append(outcome)
        else:
            evaluations += outcome.value[0]
            if outcome.value[1] is not None:
                waivers = (waivers or []) + outcome.value[1]
            reads.append(covered(outcome))
    selection = fleet.selection
    coverage = Coverage.of(selection.describe_accounts(), selection.describe_regions(), reads, gaps, fleet.left_out,
                           reader=(fleet.caller()["Account"], fleet.home_region))
    evaluations.sort(key=lambda r: (r.account_id, r.region, r.rule, r.resource_id))
    used = {rule.config_rule_name: rule.parameter_values(raw_parameters) for rule in rules}
    return ScanReport("", "", now(), evaluations, used, coverage, sorted(waivers) if waivers is not None else None,
                      register_use(exceptions, evaluations, at) if exceptions is not None else None)
