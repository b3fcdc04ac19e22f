"""An organization scan at scale, in moto: IAM read once per account whatever its regions and workers,
work spread across accounts, one adaptive rate limit per account and service shared by every worker,
accounts read in processes with the same verdicts, resumable from a checkpoint, verdicts streamed as JSON
Lines, and progress (done / total, verdicts, gaps, throttles, ETA)."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading

import boto3
import pytest
from botocore.retries import standard
from moto import mock_aws
from moto.server import ThreadedMotoServer

from aws_support import REGION, AwsError, CallRecorder, Estate
from conftest import FAKE_ENVIRONMENT
from lambda_vpc_rules.aws import organization
from lambda_vpc_rules.aws.account import scan_session
from lambda_vpc_rules.aws.checkpoint import CheckpointError
from lambda_vpc_rules.aws.organization import ALL, CredentialsExpired, Fleet, Selection, scan_many
from lambda_vpc_rules.errors import PackError
from lambda_vpc_rules.tooling.cli import main
from lambda_vpc_rules.tooling.demo import moto_as_aws_answers
from lambda_vpc_rules.tooling.progress import ScanProgress, line
from test_organization import ROLE, InRegion, assumed, estate_in

EIGHT = ("us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2", "eu-central-1",
         "ap-southeast-2")
ORG_REGIONS = ("us-east-1", "eu-west-1")


@pytest.fixture(scope="module")
def estate():
    """The caller's own account with a VPC function in each of eight regions, and an organization of three
    ACTIVE accounts (the management account and two members) x two regions. Built once: the scans only read."""
    with pytest.MonkeyPatch.context() as patch, mock_aws(), moto_as_aws_answers():
        for key, value in FAKE_ENVIRONMENT.items():
            patch.setenv(key, value)
        org = boto3.client("organizations", region_name=REGION)
        org.create_organization(FeatureSet="ALL")
        members = [org.create_account(AccountName=f"member-{i}", Email=f"m{i}@example.com")["CreateAccountStatus"][
            "AccountId"] for i in range(2)]
        accounts = sorted(["123456789012", *members])
        for account in accounts:
            session = assumed(account)
            role = Estate(InRegion(session, REGION)).role()
            for region in EIGHT if account == "123456789012" else ORG_REGIONS:
                estate_in(session, region, dedicated=region == "us-west-2" or account == members[0], role=role)
        yield {"accounts": accounts, "members": members}


@pytest.fixture
def fast_retries(monkeypatch):
    """Retries without their exponential waits (standard mode's backoff), so a throttled test stays fast."""
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.001)


def verdicts(evaluations):
    return sorted((e.account_id, e.region, e.rule, e.resource_id, e.compliance.value, e.annotation)
                  for e in evaluations)


def coverage_of(report):
    return ([(c.account_id, c.region, c.items) for c in report.coverage.covered],
            [(g.account_id, g.region, g.reason) for g in report.coverage.gaps])


def test_one_iam_read_for_an_account_with_16_workers_over_8_regions(estate):
    recorder = CallRecorder()
    caller = boto3.Session(region_name=REGION)
    recorder.install(caller)
    report = scan_many(Fleet(caller, Selection(EIGHT)), concurrency=16)
    calls = recorder.by_operation()
    assert report.coverage.complete and len(report.coverage.covered) == 8
    assert calls["iam:GetAccountAuthorizationDetails"] == 1
    assert calls["lambda:ListFunctions"] == 8 and calls["ec2:DescribeSubnets"] == 8
    # the same verdicts as one-region scans, each reading IAM for itself (two of them: the time of a test)
    alone = []
    for region in ("us-west-2", "ap-southeast-2"):
        alone += scan_session(boto3.Session(region_name=region)).evaluations
    assert verdicts(alone) == verdicts(e for e in report.evaluations if e.region in ("us-west-2", "ap-southeast-2"))
    assert any(e.compliance.value == "NON_COMPLIANT" for e in alone)


def test_an_accounts_scp_chain_is_read_once_for_all_its_regions(estate):
    """The chain is kept with the account (dropped when it is done), not by the run's reader: still one
    ListParents and one ListPoliciesForTarget per account, whatever its regions."""
    recorder = CallRecorder()
    caller = boto3.Session(region_name=REGION)
    recorder.install(caller)
    report = scan_many(Fleet(caller, Selection(ORG_REGIONS, ALL, ROLE)), concurrency=4)
    calls = recorder.by_operation()
    assert report.coverage.complete and len(report.coverage.covered) == 3 * 2
    eni = [e.annotation for e in report.evaluations if e.rule == "lambda-vpc-eni-permissions"]
    assert eni and all("Service control policies were not considered" not in a for a in eni), eni[:2]
    assert calls["organizations:ListParents"] == 3  # every account's parent is the root
    assert calls["organizations:ListPoliciesForTarget"] == 3 + 1  # each account's, and the root's once


def test_concurrent_workers_are_spread_across_accounts(estate, monkeypatch):
    """3 accounts x 2 regions, 3 workers: the first three reads, held until all three are in flight, are in
    three different accounts (queued account by account, two would be the regions of one account)."""
    barrier, lock, first = threading.Barrier(3, timeout=20), threading.Lock(), []
    real = organization.read_estate

    def held(reader, rules, progress=organization.quiet, **options):
        with lock:
            first.append(reader.clients("sts").get_caller_identity()["Account"])
            wait = len(first) <= 3
        if wait:
            barrier.wait()
        return real(reader, rules, progress, **options)

    monkeypatch.setattr(organization, "read_estate", held)
    report = scan_many(Fleet(boto3.Session(region_name=REGION), Selection(ORG_REGIONS, ALL, ROLE)), concurrency=3)
    assert report.coverage.complete and len(report.coverage.covered) == 6
    assert len(set(first[:3])) == 3


def test_no_more_accounts_are_open_at_once_than_workers(estate, monkeypatch):
    """Each open account holds its session, IAM cache and SCP chain: 3 accounts, 2 workers, at most 2 open
    (an account is open from its AssumeRole until its last region is read and its limiters forgotten)."""
    lock, open_now, most = threading.Lock(), [0], [0]
    real_open, real_forget = Fleet._open, organization.RateLimits.forget

    def opened(self, account_id):
        with lock:
            open_now[0] += 1
            most[0] = max(most[0], open_now[0])
        return real_open(self, account_id)

    def forgotten(self, account_id):
        with lock:
            open_now[0] -= 1
        return real_forget(self, account_id)

    monkeypatch.setattr(Fleet, "_open", opened)
    monkeypatch.setattr(organization.RateLimits, "forget", forgotten)
    report = scan_many(Fleet(boto3.Session(region_name=REGION), Selection(ORG_REGIONS, ALL, ROLE)), concurrency=2)
    assert report.coverage.complete and len(report.coverage.covered) == 3 * 2
    assert most[0] == 2 and open_now[0] == 0


def test_throttling_is_retried_through_one_rate_limit_per_account_and_service(estate, fast_retries, monkeypatch):
    """IAM answers Throttling twice: the read is retried (not a gap), the throttles are counted, and the
    account's IAM limiter - one for all its regions, IAM being global - is on; EC2's is per region (EC2
    throttles per account and Region), and stays off where nothing was throttled."""
    monkeypatch.setenv("LAMBDA_VPC_RULES_MAX_ATTEMPTS", "4")
    throttle = AwsError("iam", "GetAccountAuthorizationDetails", "Throttling", status=400, times=2)
    caller = boto3.Session(region_name=REGION)
    throttle.install(caller)
    fleet = Fleet(caller, Selection(EIGHT))
    limits, account = fleet.rate_limits, "123456789012"
    tallies, rates = [], []

    def observe(tally):  # while the account is read: its limiters are dropped once it is done
        tallies.append(tally)
        rates.append((limits.rate(account, "us-west-1", "iam"), limits.rate(account, "us-west-1", "ec2")))

    report = scan_many(fleet, concurrency=16, on_progress=observe)
    assert report.coverage.complete and throttle.attempts == 3
    assert tallies[-1].throttles == 2 and tallies[-1].gaps == 0
    assert rates[0][0] is not None  # on: every region's IAM calls go through it
    assert rates[0][1] is None
    assert limits.rate(account, "us-west-1", "iam") is None  # the account is read: its limiters are gone
    assert limits.limiter(account, "us-east-1", "iam") is limits.limiter(account, "eu-west-2", "iam")
    assert limits.limiter(account, "us-east-1", "ec2") is not limits.limiter(account, "eu-west-2", "ec2")


def test_throttling_that_outlasts_the_retries_is_a_gap_not_a_verdict(estate, fast_retries, monkeypatch):
    monkeypatch.setenv("LAMBDA_VPC_RULES_MAX_ATTEMPTS", "2")
    throttle = AwsError("ec2", "DescribeSubnets", "RequestLimitExceeded", status=503)
    caller = boto3.Session(region_name=REGION)
    throttle.install(caller)
    report = scan_many(Fleet(caller, Selection(("us-west-1",))), concurrency=2)
    assert not report.evaluations
    assert [g.reason.split(":")[0] for g in report.coverage.gaps] == ["DescribeSubnets failed"]


@pytest.fixture(scope="module")
def served(estate):
    """The estate's moto answering over HTTP too, so that the processes of a sharded scan reach it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_accounts_read_in_processes_give_the_same_verdicts_and_coverage(estate, served):
    """`--processes 2`: each account read by one of two processes (forked from the fork server, reaching moto
    over HTTP): the verdicts, the coverage and the waivers are those of the threads."""
    selection = Selection(ORG_REGIONS, ALL, ROLE)
    threads = scan_many(Fleet(boto3.Session(region_name=REGION), selection, served), concurrency=4)
    tallies = []
    processes = scan_many(Fleet(boto3.Session(region_name=REGION), selection, served), concurrency=4, processes=2,
                          on_progress=tallies.append)
    assert len(threads.coverage.covered) == 6 and threads.evaluations
    assert verdicts(processes.evaluations) == verdicts(threads.evaluations)
    assert coverage_of(processes) == coverage_of(threads) and processes.waivers == threads.waivers
    assert tallies[-1].done == 6 and tallies[-1].total == 6 and tallies[-1].worker_cpu_s > 0


def test_a_sharded_scan_resumes_from_a_checkpoint_written_by_threads(estate, served, tmp_path, monkeypatch):
    selection = Selection(ORG_REGIONS, ALL, ROLE)
    whole = scan_many(Fleet(boto3.Session(region_name=REGION), selection, served), concurrency=3)
    real, reads = organization.read_estate, []

    def breaks_on_the_third(reader, rules, progress=organization.quiet, **options):
        reads.append(1)
        if len(reads) == 3:
            raise KeyboardInterrupt
        return real(reader, rules, progress, **options)

    saved = tmp_path / "scan.checkpoint.jsonl"
    monkeypatch.setattr(organization, "read_estate", breaks_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        scan_many(Fleet(boto3.Session(region_name=REGION), selection, served), concurrency=1, checkpoint=saved)
    monkeypatch.setattr(organization, "read_estate", real)
    assert len(saved.read_text().splitlines()) == 1 + 2
    resumed = scan_many(Fleet(boto3.Session(region_name=REGION), selection, served), concurrency=4, processes=2,
                        checkpoint=saved)
    assert verdicts(resumed.evaluations) == verdicts(whole.evaluations)
    assert coverage_of(resumed) == coverage_of(whole)
    assert len(saved.read_text().splitlines()) == 1 + 6  # what the processes read is recorded as it comes


def _work_that_ends_the_process(fleet):
    def work(clients, target, account):
        os._exit(3)  # a process killed mid-read (out of memory, a signal)

    return work


def test_a_process_that_ends_mid_scan_ends_the_run_with_an_error_not_a_report(estate, served):
    fleet = Fleet(boto3.Session(region_name=REGION), Selection(ORG_REGIONS, ALL, ROLE), served)
    with pytest.raises(PackError, match="a scanning process ended unexpectedly"):
        list(fleet.run(lambda *_: None, 2, shards=organization.Shards(2, _work_that_ends_the_process)))


def test_processes_share_one_list_of_accounts_each_taken_once():
    context = multiprocessing.get_context("forkserver")
    counter, accounts = context.Value("i", 0), [f"{n:012d}" for n in range(7)]
    first, second = organization._Accounts(accounts, counter), organization._Accounts(accounts, counter)
    taken = []
    while first or second:
        for source in (first, second):
            if source:
                taken.append(source.popleft())
    assert taken == accounts and not first and not second
    with pytest.raises(IndexError):
        first.popleft()


def test_an_interrupted_scan_resumes_from_its_checkpoint_as_if_uninterrupted(estate, tmp_path, monkeypatch):
    selection = Selection(ORG_REGIONS, ALL, ROLE)
    whole = scan_many(Fleet(boto3.Session(region_name=REGION), selection), concurrency=3)
    assert len(whole.coverage.covered) == 6

    real, reads = organization.read_estate, []

    def breaks_on_the_fourth(reader, rules, progress=organization.quiet, **options):
        reads.append(1)
        if len(reads) == 4:
            raise KeyboardInterrupt  # a worker raises: not a gap, the run stops
        return real(reader, rules, progress, **options)

    saved = tmp_path / "scan.checkpoint.jsonl"
    monkeypatch.setattr(organization, "read_estate", breaks_on_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        scan_many(Fleet(boto3.Session(region_name=REGION), selection), concurrency=1, checkpoint=saved)
    monkeypatch.setattr(organization, "read_estate", real)
    lines = saved.read_text().splitlines()
    assert json.loads(lines[0])["format"] == "lambda-vpc-rules scan checkpoint" and len(lines) == 1 + 3

    recorder = CallRecorder()
    fleet = Fleet(boto3.Session(region_name=REGION), selection, prepare_session=recorder.install)
    resumed = scan_many(fleet, concurrency=3, checkpoint=saved)
    assert recorder.by_operation()["lambda:ListFunctions"] == 6 - 3  # only what was missing
    assert verdicts(resumed.evaluations) == verdicts(whole.evaluations)
    assert coverage_of(resumed) == coverage_of(whole) and resumed.waivers == whole.waivers
    first = {(e.account_id, e.region) for e in resumed.evaluations if e.recorded_at == json.loads(lines[1])["read_at"]}
    assert (json.loads(lines[1])["account_id"], json.loads(lines[1])["region"]) in first  # kept its time
    assert len(saved.read_text().splitlines()) == 1 + 6

    # a checkpoint of another scan is refused, never mixed in
    with pytest.raises(CheckpointError, match="written for another scan .*regions"):
        scan_many(Fleet(boto3.Session(region_name=REGION), Selection(("us-east-1",), ALL, ROLE)), checkpoint=saved)


def test_a_checkpoint_line_cut_short_is_read_again(estate, tmp_path):
    selection = Selection(("us-east-1",), None)
    saved = tmp_path / "cp.jsonl"
    first = scan_many(Fleet(boto3.Session(region_name=REGION), selection), checkpoint=saved)
    text = saved.read_text()
    saved.write_text(text[: len(text) - 20])  # killed mid-write
    recorder = CallRecorder()
    caller = boto3.Session(region_name=REGION)
    recorder.install(caller)
    again = scan_many(Fleet(caller, selection), checkpoint=saved)
    assert recorder.by_operation()["lambda:ListFunctions"] == 1
    assert verdicts(again.evaluations) == verdicts(first.evaluations)
    assert all(json.loads(line) for line in saved.read_text().splitlines())


def test_expired_credentials_end_the_run_with_the_checkpoint_written(estate, tmp_path):
    """An ExpiredToken answer (credentials that can no longer be renewed) ends the run instead of turning
    every remaining account-region into a gap; the rerun with fresh credentials finishes it."""
    member = max(estate["accounts"])  # read last at concurrency 1
    expired = AwsError("lambda", "ListFunctions", "ExpiredTokenException", status=403,
                       message="The security token included in the request is expired")
    selection = Selection(ORG_REGIONS, ALL, ROLE)

    def prepare(session):
        if session.client("sts").get_caller_identity()["Account"] == member:
            expired.install(session)

    saved = tmp_path / "cp.jsonl"
    with pytest.raises(CredentialsExpired, match="ExpiredTokenException"):
        scan_many(Fleet(boto3.Session(region_name=REGION), selection, prepare_session=prepare), concurrency=1,
                  checkpoint=saved)
    assert len(saved.read_text().splitlines()) == 1 + 4  # every other account's account-regions
    resumed = scan_many(Fleet(boto3.Session(region_name=REGION), selection), checkpoint=saved)
    assert resumed.coverage.complete and len(resumed.coverage.covered) == 6


def test_jsonl_streams_verdicts_and_keeps_none(estate, capsys, monkeypatch, tmp_path):
    kept = []
    real = organization.scan_many

    def spy(*args, **kwargs):
        report = real(*args, **kwargs)
        kept.append(report)
        return report

    monkeypatch.setattr("lambda_vpc_rules.tooling.cli.scan_many", spy)
    out = tmp_path / "verdicts.jsonl"
    code = main(["scan", "--region", REGION, "--rule", "lambda-vpc-default-tenancy", "--accounts", "all",
                 "--role-name", ROLE, "--regions", ",".join(ORG_REGIONS), "--format", "jsonl",
                 "--output", str(out), "--quiet", "--checkpoint", str(tmp_path / "cp.jsonl")])
    records = [json.loads(text) for text in out.read_text().splitlines()]
    assert code == 1  # NON_COMPLIANT functions (dedicated VPCs)
    assert kept[0].evaluations == []  # streamed, none kept
    assert [r["record"] for r in records[-2:]] == ["coverage", "summary"]
    rows = [r for r in records if r["record"] == "evaluation"]
    assert len(rows) == records[-1]["evaluations"] == 3 * 2 * 2  # accounts x regions x functions
    assert records[-1]["NON_COMPLIANT"] == 2 == sum(r["compliance"] == "NON_COMPLIANT" for r in rows)
    assert records[-2]["complete"] is True
    assert capsys.readouterr().err == ""


def test_progress_line_and_silence_off_a_terminal(estate):
    tallies = []
    scan_many(Fleet(boto3.Session(region_name=REGION), Selection(ORG_REGIONS, ALL, ROLE)), concurrency=2,
              on_progress=tallies.append)
    last = tallies[-1]
    assert (last.done, last.total, last.unopened, last.gaps) == (6, 6, 0, 0)
    assert last.verdicts == 3 * 2 * 2 * 5
    assert line(last, now=last.started + 10) == "6/6 account-regions, 60 verdicts, 0 gaps, 0 throttled, ETA 0:00:00"
    assert ScanProgress(stream=open("/dev/null", "w")).enabled is False  # noqa: SIM115 - not a terminal


def test_a_scan_freezes_what_existed_before_it_and_unfreezes_it_after():
    """`fewer_collections` (every scan's) hides the objects made before the scan from the collector, so that
    the collections after finished accounts walk only the scan's own; it leaves the process as it found it,
    and leaves frozen what someone else froze (the fork server's preload)."""
    import gc

    from lambda_vpc_rules.aws.account import SCAN_GC_THRESHOLDS, fewer_collections

    thresholds = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    with fewer_collections():
        assert gc.get_freeze_count() > 0 and gc.get_threshold() == SCAN_GC_THRESHOLDS
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == thresholds
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with fewer_collections():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
