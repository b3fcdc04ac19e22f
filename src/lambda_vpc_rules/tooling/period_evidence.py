"""`evidence --from DATE --to DATE`: the evidence bundle of an audit period (outputs/period.py), from the
pack's snapshots (`--snapshots s3://BUCKET/PREFIX`, aws/snapshots.py) and, with `--config-history`, AWS
Config's compliance history of the caller's account and region (aws/history.py).

Scope: the snapshots of the account-regions `--accounts ID,ID` x `--regions R1,R2` name, or every one found
under the location (`--accounts all` is not needed: the snapshots of a whole organization sit in one bucket).
Config history is read with the caller's credentials, in its own account and region.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from ..aws.clients import Clients
from ..aws.history import read_history
from ..aws.snapshots import Location, read_snapshots
from ..core.rules import RULES
from ..core.timeline import Period, build_period
from ..errors import PackError
from ..outputs.evidence import MANIFEST, file_entry, identity
from ..outputs.period import PeriodSources, write_period_bundle

LOOKBACK = dt.timedelta(days=2)  # snapshots read before the period, for the state it starts in


class PeriodUsageError(PackError):
    """Arguments of a period bundle that do not fit together."""


def parse_moment(text: str, option: str) -> dt.datetime:
    """A date (midnight UTC) or an ISO 8601 time with a zone."""
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PeriodUsageError(f"{option} {text!r}: expected a date (2026-01-31) or an ISO 8601 time") from None
    if moment.tzinfo is None:
        if moment.time() != dt.time():
            raise PeriodUsageError(f"{option} {text!r}: a time needs a zone (Z or +00:00)")
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def add_period_arguments(evidence: argparse.ArgumentParser) -> None:
    evidence.add_argument("--from", dest="period_from", metavar="DATE",
                          help="an audit period's start (a date, midnight UTC, or an ISO 8601 time): write the "
                          "period's bundle (timelines, population, OSCAL) instead of the current state")
    evidence.add_argument("--to", dest="period_to", metavar="DATE",
                          help="with --from: the period's end (exclusive; default: now)")
    evidence.add_argument("--snapshots", metavar="s3://BUCKET/PREFIX",
                          help="with --from: where the deployed rules write their snapshots")
    evidence.add_argument("--snapshot-key", metavar="KMS_KEY",
                          help="with --from: verify the snapshots' signatures with this KMS key (kms:Verify); "
                          "unsigned or unverified snapshots are then rejected")
    evidence.add_argument("--config-history", action="store_true",
                          help="with --from: also read AWS Config's compliance history (AWS::Config::"
                          "ResourceCompliance) of the caller's account and region")


def period_evidence(args: argparse.Namespace, clients: Clients, now: dt.datetime | None = None,
                    deployment: dict[str, Any] | None = None) -> tuple[int, str]:
    """Write the period's bundle; (exit code, the manifest's SHA-256). Exit 2 when a day of an account-region-rule
    has no evidence or a snapshot was rejected (the bundle is written all the same). `deployment`: what the
    deployment enforces, as `evidence --deployment` read it (None: not read)."""
    now = now or dt.datetime.now(dt.UTC)
    if args.source != "scan" or args.aggregator or args.param:
        raise PeriodUsageError("--from/--to read the pack's snapshots and AWS Config's history: --source, "
                               "--aggregator and --param do not apply")
    if not args.snapshots and not args.config_history:
        raise PeriodUsageError("--from needs a source: --snapshots s3://BUCKET/PREFIX and/or --config-history")
    period = Period(parse_moment(args.period_from, "--from"),
                    parse_moment(args.period_to, "--to") if args.period_to else now)
    if period.end > now:
        raise PeriodUsageError(f"--to {args.period_to}: the period cannot end in the future")
    rules = [rule.config_rule_name for rule in RULES if not args.rule or rule.config_rule_name in args.rule]
    caller = identity(clients.caller_identity())
    snapshots, expected, notes, calls = [], set(), [], 0
    read = None
    if args.snapshots:
        location = Location.parse(args.snapshots)
        targets = _targets(args)
        read = read_snapshots(clients, location, period.start - LOOKBACK, period.end, targets, rules,
                              args.snapshot_key)
        snapshots, calls = read.snapshots, read.calls
        expected |= read.targets
        if targets is not None:
            expected |= {(account, region, rule) for account, region in targets for rule in rules}
    history = None
    if args.config_history:
        history = read_history(clients, caller["Account"], period.start, period.end, rules)
        calls += history.calls
        expected |= {(caller["Account"], clients.region, rule) for rule in rules}
        notes.append(f"AWS Config history: {history.calls} calls for {history.functions} functions "
                     f"(ceil({len(period.days())} days / 7) per function)")
    if not expected:
        raise PeriodUsageError(f"nothing found for the period under {args.snapshots}: no snapshot of any "
                               "account-region; check the location (the deployment's snapshot setting)")
    result = build_period(period, snapshots, history.observations if history else [], expected)
    sources = PeriodSources(
        args.snapshots, read.signed if read else 0, read.unsigned if read else 0,
        tuple(read.rejected) if read else (), args.snapshot_key, bool(history), history.functions if history else 0,
        calls, tuple(notes))
    generated_at = now.isoformat(timespec="seconds")
    manifest = write_period_bundle(args.out, result, sources, generated_at, caller, deployment)
    reporter = getattr(args, "reporter", None)
    if reporter is not None:
        reporter.wrote(f"{args.out}/", f"period evidence bundle: {len(result.population)} function-rule timelines, "
                                       f"{len(result.run_gaps)} account-region-rule days without evidence")
    if sources.snapshots_rejected:
        print(f"lambda-vpc-rules: {len(sources.snapshots_rejected)} snapshot(s) rejected (the report names them)",
              file=sys.stderr)
    return (2 if result.run_gaps or sources.snapshots_rejected else 0), file_entry(manifest, MANIFEST)["sha256"]


def _targets(args: argparse.Namespace) -> list[tuple[str, str]] | None:
    accounts: Any = args.accounts
    regions: Any = args.regions
    if accounts is None and regions is None:
        return None
    if not isinstance(accounts, list) or not isinstance(regions, list):
        raise PeriodUsageError("with --from, name both --accounts ID,ID and --regions R1,R2 (or neither: every "
                               "account-region found under --snapshots)")
    return [(account, region) for account in accounts for region in regions]
