"""`scps publish` and the deployed ENI rule reading the published chains (rule parameter ScpChains), in moto's
Organizations with SCPs at the root, an OU and an account (the organization of test_organization_policies):
the handler, run in a member account, names the SCP that denies ec2:CreateNetworkInterface, lets through the
account whose chain exempts its role, and says why SCPs were not considered where the document is stale or
lacks the account; a malformed document is an error response, never a verdict (docs/scp.md)."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest

from aws_support import REGION, ConfigCalls, change_event, configuration_item, scheduled_event
from conftest import load_rule_module
from lambda_vpc_rules.aws.clients import Clients, session_clients
from lambda_vpc_rules.core.scp import (
    ScpChain,
    ScpDocumentError,
    ScpLevel,
    chains_document,
    chains_from_document,
    published_chain,
)
from lambda_vpc_rules.tooling.cli import main
from test_organization import assumed
from test_organization_policies import MANAGEMENT, organization  # noqa: F401 - the module-scoped fixture

ENI = "lambda-vpc-eni-permissions"
BUCKET, KEY = "org-scps", "lambda-vpc-rules/scp-chains.json"
LOCATION = f"s3://{BUCKET}/{KEY}"


@pytest.fixture(scope="module")
def published(organization):  # noqa: F811
    """`scps publish --accounts all` from the management account; the document as written."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    code = main(["scps", "publish", "--to", LOCATION, "--region", REGION])
    assert code == 0
    return json.loads(s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read())


def _write(document: dict) -> None:
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=KEY, Body=json.dumps(document).encode())


def _run(account: str, kind: str, at: dt.datetime, parameters: dict | None = None):
    """The deployed ENI handler in `account` (its role's credentials as boto3's default session), on a change
    to its function or a scheduled run at `at`: the response and the function's evaluation."""
    session = assumed(account)
    credentials = session.get_credentials()
    boto3.setup_default_session(aws_access_key_id=credentials.access_key, aws_secret_access_key=credentials.secret_key,
                                aws_session_token=credentials.token, region_name=REGION)
    calls = ConfigCalls()
    calls.install(boto3.DEFAULT_SESSION)
    try:
        parameters = {"AssumeRoleMode": "false",  # as the conformance pack passes it: the function's own role
                      **({"ScpChains": LOCATION} if parameters is None else parameters)}
        if kind == "change":
            function = session.client("lambda").get_function(FunctionName="fn")["Configuration"]
            event = change_event(configuration_item(function), ENI, parameters)
        else:
            event = scheduled_event(ENI, parameters)
        invoking = json.loads(event["invokingEvent"])
        invoking["notificationCreationTime"] = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        event = {**event, "accountId": account, "invokingEvent": json.dumps(invoking)}
        response = load_rule_module("LAMBDA_VPC_ENI_PERMISSIONS").lambda_handler(event, None)
    finally:
        boto3.setup_default_session(region_name=REGION)
    return response, calls.by_resource().get("fn")


def _generated(document: dict) -> dt.datetime:
    return dt.datetime.strptime(document["generated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def test_publish_writes_every_accounts_chain_root_ou_account(organization, published):  # noqa: F811
    chains = chains_from_document(published)
    assert set(chains.chains) == {MANAGEMENT, organization["denied"], organization["exempt"],
                                  organization["perimeter"]}
    denied = chains.chains[organization["denied"]]
    assert [level.target for level in denied.levels] == [
        f"root {organization['root']}", f"OU {organization['prod']}", f"account {organization['denied']}"]
    assert "no-enis" in [name for name, _ in denied.levels[2].policies]
    assert chains.chains[MANAGEMENT].management
    assert published["organization_id"].startswith("o-") and denied.organization_id == published["organization_id"]
    assert len(published["policies"]) == 4  # FullAWSAccess, perimeter, approved-regions, no-enis: once each


@pytest.mark.parametrize("kind", ["change", "scheduled"])
def test_the_deployed_rule_names_the_scp_that_denies_and_passes_the_exempt_account(organization, published,  # noqa: F811
                                                                                  kind):
    at = _generated(published) + dt.timedelta(hours=1)
    response, denied = _run(organization["denied"], kind, at)
    assert denied["ComplianceType"] == "NON_COMPLIANT", response
    assert (f"ec2:CreateNetworkInterface denied by SCP no-enis/NoNetworkInterfaces (account "
            f"{organization['denied']})") in denied["Annotation"]
    _, exempt = _run(organization["exempt"], kind, at)
    assert exempt["ComplianceType"] == "COMPLIANT", exempt
    assert "The SCP chain (3 levels) allows them." in exempt["Annotation"]
    # without the parameter: the role alone, and the annotation says so
    _, alone = _run(organization["denied"], kind, at, parameters={})
    assert alone["ComplianceType"] == "COMPLIANT"
    assert "Service control policies were not considered (not read)." in alone["Annotation"]


def test_a_stale_document_keeps_its_deny_but_proves_no_allow(organization, published):  # noqa: F811
    at = _generated(published) + dt.timedelta(hours=49)
    _, denied = _run(organization["denied"], "scheduled", at)
    assert denied["ComplianceType"] == "NON_COMPLIANT"  # never COMPLIANT on a Deny the document shows
    assert "over 48 h old" in denied["Annotation"] and "no-enis/NoNetworkInterfaces" in denied["Annotation"]
    _, exempt = _run(organization["exempt"], "scheduled", at)
    assert exempt["ComplianceType"] == "COMPLIANT"
    assert "Service control policies were not considered (chains published" in exempt["Annotation"]
    assert "over 48 h old: re-run `lambda-vpc-rules scps publish`)" in exempt["Annotation"]


def test_an_account_missing_from_the_document_is_not_considered(organization, published):  # noqa: F811
    document = chains_from_document(published)
    without = chains_document([chain for account, chain in document.chains.items()
                               if account != organization["exempt"]], document.generated_at)
    _write(without)
    try:
        _, exempt = _run(organization["exempt"], "change", document.generated_at + dt.timedelta(hours=1))
    finally:
        _write(published)
    assert exempt["ComplianceType"] == "COMPLIANT"
    assert "Service control policies were not considered (account not in the chains published" in \
        exempt["Annotation"]


@pytest.mark.parametrize(("body", "words"), [
    (b"{not json", "not JSON"),
    (json.dumps({"format": "something else"}).encode(), "not an SCP chains document"),
    ("edited", "sha256 does not match"),
    ("cut", "malformed"),
])
def test_a_malformed_document_is_an_error_response_not_a_verdict(organization, published, body, words):  # noqa: F811
    if body == "edited":  # an SCP removed by hand after publication
        document = json.loads(json.dumps(published))
        document["policies"][0]["document"] = "{}"
        body = json.dumps(document).encode()
    elif body == "cut":  # a level that names a policy the document lacks, with a digest that matches
        document = json.loads(json.dumps(published))
        document.pop("sha256")
        document["levels"][next(iter(document["levels"]))] = [99]
        import hashlib

        digest = hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":"),
                                           ensure_ascii=False).encode()).hexdigest()
        body = json.dumps({**document, "sha256": digest}).encode()
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=KEY, Body=body)
    try:
        for kind in ("change", "scheduled"):
            response, verdict = _run(organization["denied"], kind, _generated(published))
            assert isinstance(response, dict) and response["customerErrorCode"] == "ScpDocumentError", response
            assert words in response["customerErrorMessage"] and LOCATION in response["customerErrorMessage"]
            assert verdict is None  # nothing put
    finally:
        _write(published)


def test_a_missing_object_or_a_bad_location_is_an_error_response(organization, published):  # noqa: F811
    for location, words in ((f"s3://{BUCKET}/nothing-here.json", "no such object (NoSuchKey)"),
                            ("https://example.com/chains.json", "ScpChains must be s3://bucket/key")):
        response, verdict = _run(organization["denied"], "scheduled", _generated(published),
                                 {"ScpChains": location})
        assert response["customerErrorCode"] == "ScpDocumentError" and words in response["customerErrorMessage"]
        assert verdict is None


def test_chains_round_trip_and_stale_or_missing_accounts():
    full = ("FullAWSAccess", {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*",
                                                                        "Resource": "*"}]})
    chains = [ScpChain("111111111111", (ScpLevel("root r-1", (full,)), ScpLevel("account 111111111111", (full,)))),
              ScpChain("222222222222", unread="SCPs not read: access denied")]
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    document = chains_document(chains, at)
    back = chains_from_document(json.loads(json.dumps(document)))
    assert back.chains["111111111111"] == chains[0] and back.chains["222222222222"] == chains[1]
    assert back.generated_at == at and back.sha256 == document["sha256"]
    fresh = published_chain(back, "111111111111", at + dt.timedelta(hours=47), dt.timedelta(hours=48), "s3://b/k")
    assert fresh == chains[0]
    stale = published_chain(back, "111111111111", at + dt.timedelta(hours=49), dt.timedelta(hours=48), "s3://b/k")
    assert stale.stale == "chains published 2026-12-01T00:00:00Z, over 48 h old" and stale.levels == chains[0].levels
    missing = published_chain(back, "333333333333", at, dt.timedelta(hours=48), "s3://b/k")
    assert missing.unread.startswith("account not in the chains published 2026-12-01T00:00:00Z") and not missing.levels
    with pytest.raises(ScpDocumentError):
        chains_from_document([])


def test_publish_says_what_it_could_not_read_and_exits_2(organization, published, capsys):  # noqa: F811
    # a listed account that is no member: its chain cannot be read; it is written as not read, exit 2
    code = main(["scps", "publish", "--to", f"s3://{BUCKET}/partial.json", "--accounts", "999999999999",
                 "--region", REGION])
    assert code == 2
    assert "account 999999999999: SCPs not read" in capsys.readouterr().err
    clients = Clients(session_clients(boto3.Session(region_name=REGION)))
    body = json.loads(clients("s3").get_object(Bucket=BUCKET, Key="partial.json")["Body"].read())
    assert chains_from_document(body).chains["999999999999"].unread


def test_deploy_grants_the_chains_bucket_only_and_refuses_a_bad_location():
    from lambda_vpc_rules.tooling.deploy.steps import DeployError, DeployOptions, check_options, iam_parameters

    options = DeployOptions(bucket="code-bucket", pack_parameters={"ScpChains": LOCATION})
    assert iam_parameters(options)["ScpChainsBucket"] == BUCKET
    assert iam_parameters(DeployOptions(bucket="code-bucket"))["ScpChainsBucket"] == ""  # no read granted
    check_options(options, [REGION])
    with pytest.raises(DeployError, match="ScpChains must be s3://bucket/key"):
        check_options(DeployOptions(bucket="code-bucket", pack_parameters={"ScpChains": "org-scps/chains.json"}),
                      [REGION])
