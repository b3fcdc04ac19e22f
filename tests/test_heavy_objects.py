"""No botocore session, client or service model is built per function or per finding anywhere on the way from
an account to every output (scan, json, csv, table, ASFF findings, evidence bundle): the counts are the same for
3 functions as for 12. What once made the demo spend 16 of its 20 s in Security Hub output (a botocore session,
44 ms, twice per finding)."""

from __future__ import annotations

import contextlib
from collections import Counter

import boto3
import botocore.client
import botocore.loaders
import botocore.session

from lambda_vpc_rules.aws.account import scan_session
from lambda_vpc_rules.outputs import securityhub
from lambda_vpc_rules.outputs.evidence import Evidence, write_bundle
from lambda_vpc_rules.outputs.report import RENDERERS


@contextlib.contextmanager
def counting() -> Counter:
    """Count botocore sessions, clients and service models loaded meanwhile."""
    counts: Counter = Counter()
    patched = [(botocore.session.Session, "__init__", "sessions"), (botocore.client.BaseClient, "__init__", "clients"),
               (botocore.loaders.Loader, "load_service_model", "service models loaded")]
    originals = [(cls, name, getattr(cls, name)) for cls, name, _ in patched]

    def wrap(real, label):
        def counted(*args, **kwargs):
            counts[label] += 1
            return real(*args, **kwargs)
        return counted

    for (cls, name, label), (_, _, real) in zip(patched, originals, strict=True):
        setattr(cls, name, wrap(real, label))
    try:
        yield counts
    finally:
        for cls, name, real in originals:
            setattr(cls, name, real)


def _every_output(session, out) -> int:
    report = scan_session(session)
    for render in RENDERERS.values():
        render(report, width=120)
    write_bundle(out, Evidence.from_scan(report, "scan", {"Account": report.account_id}))
    return len(report.evaluations)


def test_sessions_clients_and_models_do_not_grow_with_functions_or_findings(estate, tmp_path):
    securityhub.partition_of.cache_clear()  # cold: the worst case
    vpc = estate.vpc()
    subnets = [estate.subnet(vpc, f"10.0.{i}.0/24", az) for i, az in ((1, "a"), (2, "b"))]
    for index in range(3):
        estate.function(f"fn-{index}", subnets)
    with counting() as few:
        evaluations = _every_output(boto3.Session(region_name="us-east-1"), tmp_path / "few")
    assert evaluations == 3 * 5
    for index in range(3, 12):
        estate.function(f"fn-{index}", subnets)
    securityhub.partition_of.cache_clear()
    with counting() as many:
        evaluations = _every_output(boto3.Session(region_name="us-east-1"), tmp_path / "many")
    assert evaluations == 12 * 5
    # the first run also warms caches (a paginator model, ...): the second may ask for less, never more
    assert all(many[label] <= few[label] for label in many), (few, many)
    assert (many["sessions"], many["clients"]) == (few["sessions"], few["clients"])
    assert few["sessions"] <= 2  # the caller's, and at most one for the partition lookup


def test_the_shared_loader_does_not_grow_with_the_sessions_given_it():
    """boto3 appends its data directory to the loader of every Session: the loader an organization scan's
    account sessions share keeps it once (it held it once per account: 1,000 copies at 1,000 accounts)."""
    from lambda_vpc_rules.aws.shared_models import sharing_loader

    loader = sharing_loader(None)
    for _ in range(3):
        core = botocore.session.Session()
        core.register_component("data_loader", loader)
        boto3.Session(botocore_session=core, region_name="us-east-1")
    paths = list(loader.search_paths)
    assert len(paths) == len(set(paths))
    assert any(path.endswith("boto3/data") for path in paths)
