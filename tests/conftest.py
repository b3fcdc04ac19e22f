"""Shared test fixtures: an in-process moto AWS, estate builders, real-format AWS Config events, and a
capture of the two AWS Config calls moto does not implement for us (PutEvaluations without TestMode,
GetComplianceDetailsByConfigRule)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import boto3
import botocore.loaders
import botocore.session
import pytest
from moto import mock_aws

from lambda_vpc_rules.tooling.demo import moto_as_aws_answers

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from aws_support import ConfigCalls, Estate  # noqa: E402

REGION = "us-east-1"
ACCOUNT = "123456789012"

# One botocore data loader for every session the tests make, as `aws.organization.Fleet` shares one across the
# accounts it opens: each new session would otherwise parse the service models again (EC2's alone takes about
# half a second), in nearly every test. The loader caches what it parsed; sessions only read it.
_LOADERS: dict[str | None, botocore.loaders.Loader] = {}
_create_loader = botocore.loaders.create_loader


def _shared_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
    if search_path_string not in _LOADERS:
        _LOADERS[search_path_string] = _create_loader(search_path_string)
    return _LOADERS[search_path_string]


botocore.session.create_loader = _shared_loader
# moto's EC2 backend loads 1,300 default AMIs (with a volume and a snapshot each) every time it is reset, in
# every region a test touches: about 0.3 s per test. No test reads an AMI.
os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"


FAKE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@pytest.fixture(autouse=True)
def _aws_environment(monkeypatch):
    """Fake credentials and a region for every test, so nothing can reach a real account."""
    for key, value in FAKE_ENVIRONMENT.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def aws():
    """An in-process moto AWS; yields a session in the test region."""
    with mock_aws(), moto_as_aws_answers():
        yield boto3.Session(region_name=REGION)


@pytest.fixture
def estate(aws):
    return Estate(aws)


@pytest.fixture
def config_calls(aws):
    return ConfigCalls.on_default_session()


def load_rule_module(rdk_name: str):
    """Import rules/<RDK_NAME>/<RDK_NAME>.py the way the Lambda runtime does (a top-level module)."""
    path = ROOT / "rules" / rdk_name / f"{rdk_name}.py"
    spec = importlib.util.spec_from_file_location(rdk_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
