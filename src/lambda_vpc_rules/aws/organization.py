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
  models are parsed once). The run hands out one task at a time as a worker frees: an account-region of
  the account with the fewest reads in flight (so that concurrent workers hit different accounts), and
  opens the next account only when too few account-regions are ready (accounts are opened as they are
  needed, not all at the start). See docs/organization-scale.md.
- IAM once per account: IAM is global, so all of an account's regions share one `facts.IamCache`;
  GetAccountAuthorizationDetails runs once per account, whatever the regions and workers. The cache is
  dropped when the account's last account-region is done (memory does not grow with accounts).
- Rate limits: every client of an account, region and service sends through one shared adaptive limiter
  (`ratelimit.RateLimits`, botocore's own components), so throttling slows every worker calling that API
  of that account instead of outlasting the retries.
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
import functools
import gc
import multiprocessing
import os
import pickle
import queue
import threading
import time
from collections import Counter, deque
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
from ..core.rules import RULES, Rule, get_rule
from ..core.scp import ScpChain
from ..errors import PackError
from .account import evaluate_estate, fewer_collections, now, read_estate
from .actions import action_for
from .checkpoint import Checkpoint, scan_identity
from .clients import Clients, is_access_denied, max_attempts, result, retry_config, session_clients
from .config import ConfigReader, ConfigView, pack_rule_name, rule_notes, view_gaps
from .facts import FactReader, IamCache
from .organization_policies import OrganizationPolicies
from .ratelimit import RateLimits
from .shared_models import sharing_loader

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
    iam: IamCache = field(default_factory=IamCache)  # shared by the account's regions (IAM is global)
    _scps: ScpChain | None = field(default=None, repr=False)
    _scps_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def scp_chain(self, reader: OrganizationPolicies) -> ScpChain:
        """The account's SCP chain, read once for all its regions and kept with the account (not by the reader,
        which would then hold every account's until the run ends)."""
        with self._scps_lock:
            if self._scps is None:
                self._scps = reader.chain(self.account_id)
            return self._scps


class CredentialsExpired(PackError):
    """The run's credentials expired and could not be renewed: the run ends (what is done is kept in the
    checkpoint, if one is written); rerun with fresh credentials and the same --checkpoint to finish."""


# Errors that mean the credentials themselves expired (AWS API common errors: ExpiredToken, RequestExpired;
# STS and the JSON protocols add ExpiredTokenException): no account-region can be read with them any more.
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"})


RERUN = (": the credentials expired and could not be renewed; the run stopped (rerun with fresh credentials, "
         "and with the same --checkpoint FILE to read only what is missing)")


def _expired(error: BaseException) -> bool:
    return isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in EXPIRED_CODES


Work = Callable[[Clients, Target, _Account], tuple[T, int]]


class _Report:
    """What the run says of each outcome: the tally, a progress line, `on_progress`."""

    def __init__(self, tally: Tally, progress: Progress, on_progress: Callable[[Tally], None] | None,
                 done: Mapping[Target, Read]):
        self.tally, self.done = tally, done
        self._progress, self._on_progress = progress, on_progress

    def opened(self, targets: int) -> None:
        self.tally.opened(targets)

    def refresh(self) -> None:
        if self._on_progress is not None:
            self._on_progress(self.tally)

    def __call__(self, outcome: Read | Gap) -> None:
        tally = self.tally
        tally.add(outcome)
        count = f"[{tally.done}/{tally.total}{'+' if tally.unopened else ''}]"
        if isinstance(outcome, Gap):
            self._progress(f"{count} {outcome.where}: NOT READ - {outcome.reason}")
        else:
            resumed = " (from the checkpoint)" if outcome.target in self.done else ""
            self._progress(f"{count} {outcome.target.account_id} {outcome.target.region}: {outcome.items} read "
                           f"in {outcome.seconds:.1f} s{resumed}")
        if self._on_progress is not None:
            self._on_progress(tally)


class _Accounts:
    """The accounts still to open, in order: this process's own list, or (with `counter`, a shared integer)
    one list shared by the processes of `Shards`, each taking the next account under the counter's lock, so
    that every account is opened by exactly one process."""

    def __init__(self, accounts: Sequence[str], counter: Any = None):
        self._accounts, self._counter = list(accounts), counter
        self._next, self._taken = 0, None

    def __bool__(self) -> bool:
        if self._taken is None:
            self._taken = self._take()
        return self._taken is not None

    def popleft(self) -> str:
        if not self:
            raise IndexError("no account left to open")
        account, self._taken = self._taken, None
        return account

    def _take(self) -> str | None:
        if self._counter is None:
            index, self._next = self._next, self._next + 1
        else:
            with self._counter.get_lock():
                index = self._counter.value
                if index < len(self._accounts):
                    self._counter.value = index + 1
        return self._accounts[index] if index < len(self._accounts) else None


@dataclass(frozen=True)
class _Caller:
    """How a process of `Shards` makes the caller's session: the same profile and region (the same credential
    chain, from the environment it inherits), or the same keys where the session was given keys."""

    region: str
    profile: str | None = None
    keys: tuple[str, str, str | None] | None = None

    @classmethod
    def of(cls, session: Any) -> _Caller:
        profile = session.profile_name if session.profile_name in session.available_profiles else None
        credentials = session.get_credentials()
        keys = None
        if credentials is not None and getattr(credentials, "method", None) == "explicit":
            frozen = credentials.get_frozen_credentials()
            keys = (frozen.access_key, frozen.secret_key, frozen.token)
        return cls(session.region_name, profile, keys)

    def session(self) -> Any:
        if self.keys is not None:
            return boto3.Session(aws_access_key_id=self.keys[0], aws_secret_access_key=self.keys[1],
                                 aws_session_token=self.keys[2], region_name=self.region)
        return boto3.Session(profile_name=self.profile, region_name=self.region)


class _Forward:
    """A process's report: each outcome sent to the caller's process (with the process's throttling count);
    an account-region of the checkpoint only named, its verdicts being the caller's already."""

    def __init__(self, send: Callable[[str, Any], None], rate_limits: RateLimits, done: Mapping[Target, Read]):
        self._send, self._rate_limits, self.done = send, rate_limits, done

    def opened(self, targets: int) -> None:
        self._send("opened", targets)

    def __call__(self, outcome: Read | Gap) -> None:
        if isinstance(outcome, Read) and outcome.target in self.done:
            self._send("resumed", outcome.target)
        else:
            self._send("outcome", (outcome, self._rate_limits.throttles))


class _Throttles:
    """The throttling answers counted in every process of a sharded run."""

    def __init__(self, own: RateLimits, processes: int):
        self._own, self.by_process = own, [0] * processes

    @property
    def throttles(self) -> int:
        return self._own.throttles + sum(self.by_process)


def _sendable(error: BaseException) -> BaseException:
    try:
        pickle.dumps(error)
    except Exception:  # noqa: BLE001 - an error that cannot cross processes is sent as its description
        return PackError(describe_error(error))
    return error


def _shard(index: int, environment: Mapping[str, str], caller: _Caller, selection: Selection,
           endpoint_url: str | None, make_work: Callable[[Fleet], Work], accounts: Sequence[str], counter: Any,
           done: frozenset[Target], threads: int, stopping: Any, messages: Any) -> None:
    """One process of `Shards`: its own fleet and work over the accounts it takes, outcomes sent back."""

    def send(kind: str, value: Any) -> None:
        messages.put((index, kind, value))

    try:
        # the caller's environment now (credentials, profile, endpoints), not the fork server's from its start
        os.environ.clear()
        os.environ.update(environment)
        fleet = Fleet(caller.session(), selection, endpoint_url)
        fleet.caller()
        work = make_work(fleet)
        placeholders = {target: Read(target, None, "", 0.0) for target in done}
        with fewer_collections():
            for _ in fleet._drive(work, threads, _Accounts(accounts, counter), placeholders,  # noqa: SLF001
                                  _Forward(send, fleet.rate_limits, placeholders),
                                  lambda message: send("progress", message), stopping.is_set):
                pass
    except BaseException as error:  # noqa: BLE001 - every error goes back to the caller's process
        send("error", _sendable(error))
    finally:
        send("end", time.process_time())
        messages.close()
        messages.join_thread()  # everything sent is in the pipe before the process ends


@dataclass(frozen=True)
class Shards:
    """A run's accounts read in `processes` processes, so that reading (botocore's parsing) and evaluating,
    CPU-bound under one interpreter lock in threads, use as many cores. Each process is forked from
    multiprocessing's fork server (a single-threaded process that has imported the pack and boto3 once: never
    forked from a process whose threads may hold locks, and started in milliseconds), takes the caller's
    environment as it is now, makes its own caller session, fleet and clients, and runs its share of the
    concurrency as threads; `make_work(fleet)` (module-level, picklable) makes its work.

    An account is read by one process only (each takes the next account from one shared counter), so IAM is
    still read once per account and an account's clients share one rate limit. What each process reads
    comes back through one queue as it is made; this process keeps the tally, the checkpoint and the report.
    Per process, not per run: the caller's GetCallerIdentity and its SCP reads (a few calls each)."""

    processes: int
    make_work: Callable[[Fleet], Work]

    def run(self, fleet: Fleet, accounts: Sequence[str], concurrency: int, report: _Report,
            progress: Progress) -> Iterator[Read | Gap]:
        context = multiprocessing.get_context("forkserver")
        # imported once, in the fork server: the caller's main module (each process would import it again) and the
        # pack with the service models and client classes; the processes forked from it start with them
        context.set_forkserver_preload(["__main__", f"{__package__}.forkserver_preload"])
        count = max(1, min(self.processes, concurrency, len(accounts)))
        counter, stopping, messages = context.Value("i", 0), context.Event(), context.Queue()
        done = frozenset(report.done)
        caller = _Caller.of(fleet.session)
        throttles = _Throttles(fleet.rate_limits, count)
        report.tally.rate_limits = throttles
        workers = [context.Process(
            target=_shard, name=f"lambda-vpc-rules-{index}", daemon=True,
            args=(index, dict(os.environ), caller, fleet.selection, fleet.endpoint_url, self.make_work,
                  list(accounts), counter, done, concurrency // count + (index < concurrency % count), stopping,
                  messages))
            for index in range(count)]
        for worker in workers:
            worker.start()
        running, error = set(range(count)), None
        try:
            while running:
                try:
                    index, kind, value = messages.get(timeout=1.0)
                except queue.Empty:
                    lost = [w for i, w in enumerate(workers) if i in running and w.exitcode not in (None, 0)]
                    if lost:
                        raise PackError(f"a scanning process ended unexpectedly (exit code {lost[0].exitcode}); "
                                        "rerun with --checkpoint FILE to keep what was read") from None
                    continue
                if kind == "outcome":
                    outcome, throttles.by_process[index] = value
                    report(outcome)
                    yield outcome
                elif kind == "resumed":
                    report(report.done[value])
                    yield report.done[value]
                elif kind == "opened":
                    report.opened(value)
                elif kind == "progress":
                    progress(value)
                elif kind == "error":
                    error = error or value
                    stopping.set()  # the others finish what is in flight and start nothing more
                else:  # "end", with the process's CPU time
                    running.discard(index)
                    report.tally.worker_cpu_s += value
            report.refresh()
            if error is not None:
                raise error
        finally:
            stopping.set()
            for worker in workers:
                worker.join(timeout=10)
                if worker.is_alive():
                    worker.terminate()
                    worker.join()


# A finished account's boto3 session and clients hold reference cycles (botocore's event handlers): garbage only
# the cyclic collector frees, about 0.5 MB an account, which a process with a large heap runs rarely. Collected
# every so many accounts, so that memory stays that of the accounts in flight. Every 16 let up to 8 MB of it
# pile up between collections, the largest swing of a run's memory; every 4 keeps a 1,000-account run's peak
# that of a 100-account run, and each collection costs about 70 ms, since what existed before the scan is
# frozen out of the collector's sight (`account.fewer_collections`). Measured: docs/organization-scale.md.
COLLECT_EVERY = 4


class Fleet:
    """The accounts and regions of a `Selection`, read from the caller's boto3 `session`.

    `prepare_session` is called with each session the fleet makes (one per account) before any client is
    made from it: instrumentation, e.g. the tests' call recorder."""

    def __init__(self, session: Any, selection: Selection, endpoint_url: str | None = None,
                 prepare_session: Callable[[Any], None] | None = None):
        self.session = session
        self.selection = selection
        self.endpoint_url = endpoint_url
        self.rate_limits = RateLimits()
        own = session_clients(session, endpoint_url)
        # the caller's clients (AssumeRole for every account, from every worker) share their limits too
        self.source = Clients(lambda service: self.rate_limits.attach(own(service), "caller", session.region_name))
        self._prepare = prepare_session or (lambda _: None)
        # the account sessions' one loader: models parsed once, and one model and client class per service
        self._loader = sharing_loader(session._session.get_config_variable("data_path"))  # noqa: SLF001
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
            return self.rate_limits.attach(client, account.account_id, region)

        return client_for

    # ---------------------------------------------------------------------------------------- the run

    def run(self, work: Work, concurrency: int = 4, progress: Progress = quiet,
            done: Mapping[Target, Read] | None = None, on_progress: Callable[[Tally], None] | None = None,
            *, shards: Shards | None = None) -> Iterator[Read[T] | Gap]:
        """Read every account-region of the selection with `work` (which returns what to keep and how many
        items it read), at most `concurrency` at a time; yield each outcome as it completes. `done`: the
        account-regions read already (a checkpoint): yielded as they are, not read again. `shards`: the
        accounts are read in that many processes instead (each makes its own `work`; see `Shards`)."""
        if concurrency < 1:
            raise SelectionError(f"--concurrency {concurrency}: at least 1")
        if self.selection.accounts is not None and not self.selection.role_name:
            raise SelectionError("--accounts needs --role-name: the role to assume in each account")
        done = dict(done or {})
        self.caller()  # read once, before the workers need it
        accounts = self.accounts()
        tally = Tally(len(accounts), started=time.monotonic())
        tally.rate_limits = self.rate_limits
        report = _Report(tally, progress, on_progress, done)

        # Accounts whose selected regions are all in the checkpoint need no account step (named regions).
        unopened = []
        for account_id in accounts:
            if self.selection.regions != ALL and all(Target(account_id, r) in done for r in self.selection.regions):
                report.opened(len(self.selection.regions))
                for region in self.selection.regions:
                    report(done[Target(account_id, region)])
                    yield done[Target(account_id, region)]
            else:
                unopened.append(account_id)
        if shards is not None and len(unopened) > 1:
            yield from shards.run(self, unopened, concurrency, report, progress)
        else:
            yield from self._drive(work, concurrency, _Accounts(unopened), done, report, progress)

    def _drive(self, work: Work, concurrency: int, unopened: _Accounts, done: Mapping[Target, Read],
               report: _Report, progress: Progress, stopping: Callable[[], bool] = lambda: False,
               ) -> Iterator[Read[T] | Gap]:
        """The accounts of `unopened` read by `concurrency` threads: the scheduling of `run`."""
        ready: dict[str, deque[tuple[_Account, Target]]] = {}  # account -> its account-regions to read
        in_flight: Counter[str] = Counter()
        pending: dict[Future, tuple[str, Target | None]] = {}
        stop: BaseException | None = None
        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="lambda-vpc-rules")

        opening = 0  # account steps in flight
        finished_accounts = 0

        def next_task() -> bool:
            """Submit one task: an account-region of the account with the fewest reads in flight; or, while
            every account with work waiting is being read already, open another account. At most one account
            a worker is open (those being opened count): each holds its session, IAM cache and SCP chain (about
            0.3 MB in the benchmark), and twice as many held 5 MB more at 16 workers, for no speed."""
            nonlocal opening
            candidates = [a for a, queue in ready.items() if queue]
            best = min(candidates, key=lambda a: in_flight[a]) if candidates else None
            if unopened and (best is None or in_flight[best]) and len(ready) + opening < concurrency:
                account_id = unopened.popleft()
                opening += 1
                pending[pool.submit(self._account_step, account_id)] = (account_id, None)
                return True
            if best is None:
                return False
            account, target = ready[best].popleft()
            in_flight[best] += 1
            pending[pool.submit(self._target_step, account, target, work, progress)] = (best, target)
            return True

        try:
            while True:
                while stop is None and not stopping() and len(pending) < concurrency and next_task():
                    pass
                if not pending:
                    break
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    account_id, target = pending.pop(future)
                    if target is None:
                        opening -= 1
                    else:
                        in_flight[account_id] -= 1
                    try:
                        outcome = future.result()
                    except CredentialsExpired as error:
                        stop = stop or error  # finish what is in flight, start nothing more
                        continue
                    if target is not None:
                        if not in_flight[account_id] and not ready.get(account_id):
                            ready.pop(account_id, None)  # the account is done: its IAM cache goes with it
                            in_flight.pop(account_id, None)
                            self.rate_limits.forget(account_id)  # and its limiters
                            finished_accounts += 1
                            if finished_accounts % COLLECT_EVERY == 0:
                                gc.collect()  # its session and clients are cyclic garbage: bounded, not left to pile up
                        report(outcome)
                        yield outcome
                        continue
                    if isinstance(outcome, Gap):
                        report.opened(1)
                        report(outcome)
                        yield outcome
                        continue
                    account, regions, gaps = outcome
                    report.opened(len(regions) + len(gaps))
                    for gap in gaps:
                        report(gap)
                        yield gap
                    queue = ready.setdefault(account_id, deque())
                    for region in regions:
                        target = Target(account_id, region)
                        if target in done:
                            report(done[target])
                            yield done[target]
                        else:
                            queue.append((account, target))
                    if not queue:
                        del ready[account_id]
            if stop is not None:
                raise stop
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
            if _expired(error):
                raise CredentialsExpired(f"{account_id}: {describe_error(error)}{RERUN}") from error
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

    def _target_step(self, account: _Account, target: Target, work: Work, progress: Progress) -> Read[T] | Gap:
        started = time.perf_counter()
        try:
            clients = Clients(self._client_for(account, target.region, progress))
            value, items = work(clients, target, account)
        except Exception as error:  # noqa: BLE001 - a gap in coverage, reported; never a verdict
            if _expired(error):
                raise CredentialsExpired(f"{target.account_id} {target.region}: {describe_error(error)}{RERUN}"
                                         ) from error
            return Gap(target.account_id, target.region, describe_error(error))
        return Read(target, value, now(), time.perf_counter() - started, items)


@dataclass
class Tally:
    """A run's progress, as `on_progress` receives it after each outcome: account-regions done of those known
    (`unopened` accounts still to list their regions), verdicts made, gaps, throttling answers, an ETA."""

    accounts: int
    started: float
    done: int = 0
    total: int = 0
    unopened: int = -1
    verdicts: int = 0
    gaps: int = 0
    rate_limits: Any = None
    worker_cpu_s: float = 0.0  # the CPU time of the processes that read (Shards), once they have ended

    def __post_init__(self) -> None:
        if self.unopened < 0:
            self.unopened = self.accounts

    def opened(self, targets: int) -> None:
        self.unopened -= 1
        self.total += targets

    def add(self, outcome: Read | Gap) -> None:
        self.done += 1
        if isinstance(outcome, Gap):
            self.gaps += 1
        elif isinstance(outcome.value, tuple) and outcome.value and isinstance(outcome.value[0], list):
            self.verdicts += len(outcome.value[0])

    @property
    def throttles(self) -> int:
        return self.rate_limits.throttles if self.rate_limits is not None else 0

    @property
    def expected(self) -> int:
        """Account-regions expected: those known, and for accounts not yet opened as many as the average."""
        opened = self.accounts - self.unopened
        return self.total + (round(self.unopened * self.total / opened) if opened else 0)

    def eta_seconds(self, now_: float | None = None) -> float | None:
        if not self.done:
            return None
        elapsed = (now_ if now_ is not None else time.monotonic()) - self.started
        return elapsed / self.done * max(0, self.expected - self.done)


def covered(read: Read) -> Covered:
    return Covered(read.target.account_id, read.target.region, read.read_at, read.items)


# ------------------------------------------------------------------------ many accounts and regions


def views_of_fleet(fleet: Fleet, rule_names: Iterable[str], concurrency: int = 4, progress: Progress = quiet,
                   ) -> tuple[list[ConfigView], Coverage]:
    """AWS Config's view of the pack in every account-region of `fleet`; an account-region where none of the
    pack's rules is deployed is a gap, like one that cannot be read."""
    rule_names = list(rule_names)

    def work(clients: Clients, target: Target, _: _Account) -> tuple[ConfigView, int]:
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


Evaluations = tuple[list[EvaluationResult], list[Waiver] | None]
Sink = Callable[[list[EvaluationResult]], None]


def _registered(rule: Rule) -> bool:
    try:
        return get_rule(rule.config_rule_name) is rule
    except KeyError:
        return False


def scan_work(rules: Sequence[Rule | str], raw_parameters: Mapping[str, str], exceptions: Register | None,
              at: dt.datetime, fleet: Fleet) -> Work:
    """What a scan does in one account-region of `fleet`: read it (IAM through the account's cache, the SCP
    chain through the caller), evaluate it, apply the register in force at `at`. Rules may be given by name
    (a process of `Shards` gets them so)."""
    rules = [get_rule(rule) if isinstance(rule, str) else rule for rule in rules]
    parameters = parse_parameters(rules, raw_parameters)
    # the SCP chain of each account, read by the caller (organization_policies); not for the caller's own account
    scps = OrganizationPolicies(fleet.source) if fleet.selection.accounts is not None else None
    in_force = InForce(exceptions, at) if exceptions is not None else None

    def work(clients: Clients, target: Target, account: _Account) -> tuple[Evaluations, int]:
        chain = scps and (lambda: account.scp_chain(scps))
        functions, facts = read_estate(FactReader(clients, account.iam), rules, exceptions=in_force, scps=chain)
        value = evaluate_estate(functions, facts, rules, parameters, target.account_id, target.region, now(),
                                exceptions=in_force)
        return value, len(functions)

    return work


def scan_many(
    fleet: Fleet,
    rules: Sequence[Rule] = RULES,
    raw_parameters: Mapping[str, str] | None = None,
    concurrency: int = 4,
    progress: Progress = lambda message: None,
    exceptions: Register | None = None,
    at: dt.datetime | None = None,
    *,
    checkpoint: str | os.PathLike | None = None,
    sink: Sink | None = None,
    on_progress: Callable[[Tally], None] | None = None,
    processes: int = 0,
) -> ScanReport:
    """Every account-region of `fleet` evaluated with `rules`, `concurrency` at a time, merged into one report
    whose coverage lists what could not be read (and why) beside the verdicts of the rest; the exceptions
    register applied at `at` (default: now).

    - `checkpoint`: a file (aws.checkpoint) recording each account-region read; those it holds already are
      not read again, and the report is as if the run had not been interrupted.
    - `sink`: receives each account-region's verdicts as they are made, and the report keeps none (memory
      independent of the number of verdicts; `--format jsonl`).
    - `on_progress`: a `Tally` after each account-region (done / total, verdicts, gaps, throttles, ETA).
    - `processes`: read and evaluate the accounts in that many processes (`Shards`; 0: all in this process's
      threads); the calls and the verdicts are the same.
    """
    raw_parameters = dict(raw_parameters or {})
    parse_parameters(rules, raw_parameters)  # a bad parameter is refused before any account is read
    used = {rule.config_rule_name: rule.parameter_values(raw_parameters) for rule in rules}
    names = [rule.config_rule_name for rule in rules]
    at = at or dt.datetime.now(dt.UTC)
    work = scan_work(rules, raw_parameters, exceptions, at, fleet)
    # processes get the rules by name: rules not in the registry (a test's own) are read in threads
    shards = (Shards(processes, functools.partial(scan_work, names, raw_parameters, exceptions, at))
              if processes and all(_registered(rule) for rule in rules) else None)
    # a checkpoint holds verdicts made with these rules, parameters and register: another run's is refused
    identity = {**used, **({"exceptions register": exceptions.sha256} if exceptions is not None else {})}
    saved = (Checkpoint(checkpoint, scan_identity(fleet.selection, names, identity))
             if checkpoint is not None else None)

    done = {target: Read(target, value, read_at, 0.0, items)
            for target, (read_at, items, value) in (saved.done if saved else {}).items()}
    evaluations: list[EvaluationResult] = []
    waivers: list[Waiver] | None = None
    reads, gaps = [], []
    with fewer_collections():
        try:
            for outcome in fleet.run(work, concurrency, progress, done, on_progress, shards=shards):
                if isinstance(outcome, Gap):
                    gaps.append(outcome)
                    continue
                if saved is not None and outcome.target not in done:
                    saved.record(outcome.target, outcome.read_at, outcome.items, outcome.value)
                results, found = outcome.value
                if sink is not None:
                    sink(results)
                else:
                    evaluations += results
                if found is not None:
                    waivers = (waivers or []) + found
                reads.append(covered(outcome))
        finally:
            if saved is not None:
                saved.close()
    selection = fleet.selection
    coverage = Coverage.of(selection.describe_accounts(), selection.describe_regions(), reads, gaps, fleet.left_out,
                           reader=(fleet.caller()["Account"], fleet.home_region))
    evaluations.sort(key=lambda r: (r.account_id, r.region, r.rule, r.resource_id))
    return ScanReport("", "", now(), evaluations, used, coverage, sorted(waivers) if waivers is not None else None,
                      register_use(exceptions, evaluations, at) if exceptions is not None else None)
