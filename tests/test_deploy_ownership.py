"""Deployments own what they create, roll out region by region, and cover accounts that join - in an organization
in moto (tests/test_deploy_org.py's `Org`), AWS Config's organization packs answered as AWS documents them.

- two deployments (`--stack-name`) in one organization coexist, and destroying one leaves every part of the other
  (StackSets, stacks, pack, functions, role, objects, bucket policy statement, aggregator) in place;
- StackSet operations: safe preferences by default, the first region a canary awaited before the next;
- an account that joins gets the pack before its functions (the pack fails there), and the reconciler deploy put
  beside the pack - run from its deployed bundle, on the event CloudFormation sends when the functions arrive -
  re-submits the pack: the account's rules end CREATE_SUCCESSFUL with no re-run of deploy.
"""

from __future__ import annotations

import importlib.util
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from aws_support import REGION
from lambda_vpc_rules.core.rules import RULES
from org_support import ModelAnswers, functions_in, join_organization, organization_pack_statuses
from test_deploy_org import BUCKET, REGIONS, Org

B = "lambda-vpc-rules-prod"  # a second deployment whose name the first one's used to parse as a region


@pytest.fixture
def org_aws():
    from moto import mock_aws

    from org_support import stacksets_as_aws

    with mock_aws(), stacksets_as_aws():
        yield


def _objects(org: Org, region: str, deployment: str) -> list[str]:
    s3 = org.quiet.client("s3", region_name=region)
    listing = s3.list_objects_v2(Bucket=BUCKET.format(region=region), Prefix=f"lambda-vpc-rules/{deployment}/")
    return [item["Key"] for item in listing.get("Contents") or ()]


def _stack_set(org: Org, name: str) -> dict[str, Any] | None:
    cloudformation = org.quiet.client("cloudformation")
    try:
        return cloudformation.describe_stack_set(StackSetName=name)["StackSet"]
    except cloudformation.exceptions.StackSetNotFoundException:
        return None


def _org_pack(org: Org, region: str, name: str) -> bool:
    config = org.quiet.client("config", region_name=region)
    try:
        return bool(config.describe_organization_conformance_packs(OrganizationConformancePackNames=[name])[
            "OrganizationConformancePacks"])
    except config.exceptions.NoSuchOrganizationConformancePackException:
        return False


def test_two_deployments_coexist_and_destroying_one_leaves_the_other(org_aws, monkeypatch, capsys):
    org = Org(2)
    a = org.cli(monkeypatch, capsys, "deploy", "--organization", "--bucket", BUCKET, "--regions", REGION,
                "--allow-unsigned", "--wait-delay", "0")
    assert a[0] == 0, a[2]
    b = org.cli(monkeypatch, capsys, "deploy", "--organization", "--bucket", BUCKET, "--regions", "eu-west-1",
                "--stack-name", B, "--allow-unsigned", "--wait-delay", "0")
    assert b[0] == 0, b[2]
    # Every part carries its deployment's identity
    for name, deployment in (("lambda-vpc-rules-iam", "lambda-vpc-rules"), (f"lambda-vpc-rules-{REGION}",
                                                                            "lambda-vpc-rules"),
                             (f"{B}-iam", B), (f"{B}-eu-west-1", B)):
        tags = {t["Key"]: t["Value"] for t in _stack_set(org, name)["Tags"]}
        assert tags == {"lambda-vpc-rules:deployment": deployment}, name
    for region, deployment in ((REGION, "lambda-vpc-rules"), ("eu-west-1", B)):
        s3 = org.quiet.client("s3", region_name=region)
        for key in _objects(org, region, deployment):
            tags = s3.get_object_tagging(Bucket=BUCKET.format(region=region), Key=key)["TagSet"]
            assert tags == [{"Key": "lambda-vpc-rules:deployment", "Value": deployment}], key
    b_objects = {region: _objects(org, region, B) for region in REGIONS}
    assert b_objects[REGION] and b_objects["eu-west-1"]  # the record and reconciler at home; the bundles there

    code, _, err = org.cli(monkeypatch, capsys, "destroy", "--organization", "--bucket", BUCKET, "--regions", REGION,
                           "--wait-delay", "0")
    assert code == 0, err
    # A is gone ...
    assert _stack_set(org, "lambda-vpc-rules-iam") is None and _stack_set(org, f"lambda-vpc-rules-{REGION}") is None
    assert not _org_pack(org, REGION, "lambda-vpc-rules")
    assert _objects(org, REGION, "lambda-vpc-rules") == []
    assert not functions_in(org.members[0], REGION)
    # ... B is whole: its StackSets and instances, pack, functions and role in every member, objects, record,
    # bucket policy statement, aggregator, and the management account's own stacks
    for name in (f"{B}-iam", f"{B}-eu-west-1"):
        assert _stack_set(org, name)["Status"] == "ACTIVE"
        assert org.quiet.client("cloudformation").list_stack_instances(StackSetName=name)["Summaries"]
    assert _org_pack(org, "eu-west-1", B)
    from moto.iam.models import iam_backends

    for member in org.members:
        assert functions_in(member, "eu-west-1") >= {rule.function_name for rule in RULES}
        assert iam_backends[member]["global"].get_role(f"{B}-evaluator")
    assert {region: _objects(org, region, B) for region in REGIONS} == b_objects
    policy = json.loads(org.quiet.client("s3", region_name="eu-west-1").get_bucket_policy(
        Bucket=BUCKET.format(region="eu-west-1"))["Policy"])
    assert [s["Resource"] for s in policy["Statement"]] == [
        f"arn:aws:s3:::rule-artifacts-eu-west-1/lambda-vpc-rules/{B}/*"]
    assert org.quiet.client("config").describe_configuration_aggregators(ConfigurationAggregatorNames=[B])
    assert org.quiet.client("cloudformation", region_name="eu-west-1").describe_stacks(StackName=B)["Stacks"]
    assert "not this deployment's" not in err or B not in err.split("not this deployment's")[0][-200:]
    # and B still reads back whole, then goes on its own destroy
    code, out, err = org.cli(monkeypatch, capsys, "status", "--organization", "--stack-name", B, "--regions",
                             "eu-west-1", "--bucket", BUCKET)
    assert code == 0, err
    assert "code signing NOT enforced: deployed with --allow-unsigned" in json.loads(out)["code_signing"]
    code, _, err = org.cli(monkeypatch, capsys, "destroy", "--organization", "--stack-name", B, "--bucket", BUCKET,
                           "--regions", "eu-west-1", "--wait-delay", "0")
    assert code == 0, err
    assert _stack_set(org, f"{B}-eu-west-1") is None and not _org_pack(org, "eu-west-1", B)
    assert {region: _objects(org, region, B) for region in REGIONS} == {REGION: [], "eu-west-1": []}
    # every S3 call of the two deployments, their status and destroys named the buckets' owner
    s3_calls = [r for r in org.history.requests if r.service == "s3"]
    assert s3_calls and {r.params.get("ExpectedBucketOwner") for r in s3_calls} == {org.management}


def test_stackset_operations_roll_out_a_canary_region_first_with_safe_preferences(org_aws, monkeypatch, capsys):
    org = Org(3)
    code, _, err = org.deploy(monkeypatch, capsys)
    assert code == 0, err
    creates = org.log.of("CreateStackInstances")
    for request in creates:
        assert request.params["OperationPreferences"] == {
            "RegionConcurrencyType": "SEQUENTIAL", "MaxConcurrentPercentage": 25, "FailureTolerancePercentage": 0,
            "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE"}
    # the canary region's operation is awaited (DescribeStackSetOperation) before the next region starts
    order = [(r.operation, r.params.get("StackSetName")) for r in org.log.requests
             if r.operation in ("CreateStackInstances", "DescribeStackSetOperation")]
    first = order.index(("CreateStackInstances", f"lambda-vpc-rules-{REGIONS[0]}"))
    second = order.index(("CreateStackInstances", f"lambda-vpc-rules-{REGIONS[1]}"))
    assert ("DescribeStackSetOperation", f"lambda-vpc-rules-{REGIONS[0]}") in order[first:second]
    # how to go fast: all regions at once, every account at once
    org2_log_start = len(org.log.requests)
    code, _, err = org.deploy(monkeypatch, capsys, "--region-concurrency", "parallel", "--max-concurrent-percentage",
                              "100", "--failure-tolerance-percentage", "10", "--log-retention-days", "30")
    assert code == 0, err
    updates = [r for r in org.log.requests[org2_log_start:] if r.operation == "UpdateStackSet"]
    assert updates and all(r.params["OperationPreferences"]["RegionConcurrencyType"] == "PARALLEL"
                           and r.params["OperationPreferences"]["MaxConcurrentPercentage"] == 100 for r in updates)


def test_a_failed_canary_region_stops_the_rollout(org_aws, monkeypatch, capsys):
    """The first region's operation fails (moto's never do: DescribeStackSetOperation answered as the API reference
    documents a failed one): no other region is touched, no pack is put, exit 2 with the reason."""
    org = Org(2)
    canary = f"lambda-vpc-rules-{REGIONS[0]}"
    real = org.quiet.client("cloudformation")

    def operation(params, region):
        answer = real.describe_stack_set_operation(StackSetName=params["StackSetName"],
                                                   OperationId=params["OperationId"])
        answer.pop("ResponseMetadata", None)
        if params["StackSetName"] == canary:
            answer["StackSetOperation"].update(Status="FAILED", StatusReason="The operation failed in 1 account")
        return answer

    ModelAnswers().on("cloudformation", "DescribeStackSetOperation", operation).install(org.session)
    code, out, err = org.deploy(monkeypatch, capsys)
    assert code == 2
    assert (f"lambda-vpc-rules: FAILED rollout stopped in {REGIONS[0]} (the canary region): {REGIONS[1]} left as "
            "they were") in err
    assert [r.params["StackSetName"] for r in org.log.of("CreateStackSet")] == ["lambda-vpc-rules-iam", canary]
    assert not org.log.of("PutOrganizationConformancePack")
    assert all(not functions_in(member, REGIONS[1]) for member in org.members)


def test_an_organization_without_signing_needs_allow_unsigned(org_aws, monkeypatch, capsys):
    org = Org(1)
    code, out, err = org.cli(monkeypatch, capsys, "deploy", "--organization", "--bucket", BUCKET, "--regions", REGION)
    assert code == 2 and out == "" and "--allow-unsigned" in err and "--signing-profile" in err
    assert {r.operation for r in org.log.requests} <= {"GetCallerIdentity"}  # refused on the arguments alone


def test_an_organization_needs_versioned_buckets(org_aws, monkeypatch, capsys):
    org = Org(1)
    org.quiet.client("s3").create_bucket(Bucket="plain-us-east-1")
    code, _, err = org.cli(monkeypatch, capsys, "deploy", "--organization", "--bucket", "plain-{region}", "--regions",
                           REGION, "--allow-unsigned", "--wait-delay", "0")
    assert code == 2
    assert "FAILED bucket plain-us-east-1: versioning is not enabled; with --organization" in err


# ------------------------------------------------------------------------------------------ new accounts


class PackState:
    """AWS Config's organization pack as AWS documents it, with state: each member account's status is decided when
    the pack reaches it - at PutOrganizationConformancePack for the members then, at `arrive` for an account that
    joins - and stays so until the pack is submitted again (AWS Config documents no retry for a rule whose function
    does not exist)."""

    def __init__(self, org: Org):
        self.org = org
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}  # (region, account) -> status row
        self.live = organization_pack_statuses(org.quiet, org.no_recorder)
        org.answers.handlers[("config", "GetOrganizationConformancePackDetailedStatus")] = self.detailed
        org.answers.handlers[("config", "DescribeOrganizationConformancePackStatuses")] = self.overall
        org.session.events.register("after-call.config-service.PutOrganizationConformancePack", self._put)

    def _put(self, context: dict[str, Any], **_: Any) -> None:
        self.arrive(context.get("client_region") or REGION)

    def arrive(self, region: str, account: str | None = None) -> None:
        """The pack deployed (again) in `region`: to every member, or to `account` only."""
        now = self.live({"OrganizationConformancePackName": self.pack_name(region), "Limit": 10_000}, region)
        for row in now.get("OrganizationConformancePackDetailedStatuses") or ():
            if account is None or row["AccountId"] == account:
                self.rows[(region, row["AccountId"])] = row

    def pack_name(self, region: str) -> str:
        return "lambda-vpc-rules"

    def detailed(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        rows = [row for (where, _), row in sorted(self.rows.items()) if where == region]
        return {"OrganizationConformancePackDetailedStatuses": rows[:params.get("Limit") or 100]}

    def overall(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        rows = self.detailed({"Limit": 10_000}, region)["OrganizationConformancePackDetailedStatuses"]
        failed = [row for row in rows if row["Status"].endswith("FAILED")]
        return {"OrganizationConformancePackStatuses": [{
            "OrganizationConformancePackName": name, "Status": "CREATE_FAILED" if failed else "CREATE_SUCCESSFUL",
            "LastUpdateTime": "2026-11-24T12:00:00Z"} for name in params["OrganizationConformancePackNames"]]}

    def status(self, region: str, account: str) -> str:
        return self.rows[(region, account)]["Status"]


def _deployed_reconciler(org: Org, tmp_path) -> tuple[Any, dict[str, Any], str, dict[str, Any]]:
    """The reconciler as deployed: its stack's parameters, its bundle read at the pinned version, the module
    imported from it, and the instance-event rule's pattern."""
    cloudformation = org.quiet.client("cloudformation")
    [stack] = cloudformation.describe_stacks(StackName="lambda-vpc-rules-reconciler")["Stacks"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert parameters["CodeObjectVersion"]  # pinned
    body = org.quiet.client("s3").get_object(Bucket=parameters["CodeBucket"], Key=parameters["CodeKey"],
                                              VersionId=parameters["CodeObjectVersion"])["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        archive.extractall(tmp_path)
    spec = importlib.util.spec_from_file_location("pack_reconciler", tmp_path / "pack_reconciler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = json.loads((tmp_path / "reconciler.json").read_text())
    template = (tmp_path / "conformance-pack.yaml").read_text()
    resources = {r["LogicalResourceId"]: r for r in cloudformation.describe_stack_resources(
        StackName="lambda-vpc-rules-reconciler")["StackResources"]}
    assert {"ReconcilerFunction", "InstanceEventRule", "ScheduleRule"} <= set(resources)
    from lambda_vpc_rules.tooling.packaging import RECONCILER_TEMPLATE, templates

    pattern = templates()[RECONCILER_TEMPLATE]["Resources"]["InstanceEventRule"]["Properties"]["EventPattern"]
    return module, config, template, pattern


def _instance_event(org: Org, account: str, region: str, status: str = "SUCCEEDED") -> dict[str, Any]:
    """What CloudFormation sends EventBridge when a stack instance changes (CloudFormation User Guide, "StackSet
    Stack Instance Status Change event detail")."""
    arn = org.quiet.client("cloudformation").describe_stack_set(StackSetName=f"lambda-vpc-rules-{region}")[
        "StackSet"]["StackSetARN"]
    return {"version": "0", "id": "42h6hb90-hg0w-11op-b01v-0xhnh0934z09",
            "detail-type": "CloudFormation StackSet StackInstance Status Change", "source": "aws.cloudformation",
            "account": org.management, "time": "2026-11-24T12:00:00Z", "region": REGION, "resources": [arn],
            "detail": {"stack-set-arn": arn, "stack-id": f"arn:aws:cloudformation:{region}:{account}:stack/"
                       f"StackSet-lambda-vpc-rules-{region}-1/e5f54eea", "action": "CREATE",
                       "status-details": {"status": "CURRENT", "detailed-status": status}}}


def _matches(pattern: dict[str, Any], event: dict[str, Any], org: Org) -> bool:
    from moto.events.models import EventPattern

    def resolve(node: Any) -> Any:  # the template's Fn::Sub, as CloudFormation resolves it in this account
        if isinstance(node, dict) and set(node) == {"Fn::Sub"}:
            return node["Fn::Sub"].replace("${AWS::Partition}", "aws").replace("${AWS::Region}", REGION).replace(
                "${AWS::AccountId}", org.management).replace("${DeploymentName}", "lambda-vpc-rules")
        if isinstance(node, dict):
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return EventPattern.load(json.dumps(resolve(pattern))).matches_event(event)


def test_a_new_account_gets_the_pack_before_its_functions_and_the_reconciler_repairs_it(
        org_aws, monkeypatch, capsys, tmp_path):
    org = Org(2)
    packs = PackState(org)
    code, _, err = org.deploy(monkeypatch, capsys)
    assert code == 0, err
    assert all(packs.status(region, member) == "CREATE_SUCCESSFUL" for region in REGIONS for member in org.members)
    reconciler, config, template, pattern = _deployed_reconciler(org, tmp_path)
    assert config["stack_sets"] == {region: f"lambda-vpc-rules-{region}" for region in REGIONS}

    org.log.clear()
    # An account joins. AWS Config deploys the organization pack to it first: no functions there yet, so each
    # region's rules fail. Then StackSets' automatic deployment gives it its role and functions.
    organizations = org.quiet.client("organizations")
    created = []
    original = organizations.create_account

    def create_account(**kwargs):
        answer = original(**kwargs)
        created.append(answer["CreateAccountStatus"]["AccountId"])
        for region in REGIONS:
            packs.arrive(region, created[-1])
        return answer

    organizations.create_account = create_account
    newcomer = _join_with(org, organizations)
    assert created == [newcomer]
    for region in REGIONS:
        assert packs.status(region, newcomer) == "CREATE_FAILED"  # the pack came first
        assert functions_in(newcomer, region) >= {rule.function_name for rule in RULES}  # the functions after
        assert packs.status(region, newcomer) == "CREATE_FAILED"  # and nothing retries on its own
    # CloudFormation announces each new instance; the deployed rule matches it and the deployed reconciler runs
    for region in REGIONS:
        event = _instance_event(org, newcomer, region)
        assert _matches(pattern, event, org)
        assert reconciler.reconcile(event, lambda service, where: org.session.client(service, region_name=where),
                                    config, template) == {region: [newcomer]}
        assert packs.status(region, newcomer) == "CREATE_SUCCESSFUL"
    # the pack was re-submitted as it was: the same template, parameters and excluded accounts; deploy never ran
    puts = org.log.of("PutOrganizationConformancePack")
    assert len(puts) == len(REGIONS)
    assert all(p.params["TemplateBody"] == template and p.params["ExcludedAccounts"] == [] for p in puts)
    assert not [r for r in org.log.requests if r.operation in ("CreateStackSet", "UpdateStackSet", "CreateStack",
                                                                 "UpdateStack", "PutObject")]
    # status reads the account whole
    code, out, err = org.cli(monkeypatch, capsys, "status", "--organization", "--regions", ",".join(REGIONS))
    assert code == 0, err
    rows = [row for row in json.loads(out)["placements"] if row["account"] == newcomer]
    assert [row["pack"] for row in rows] == ["CREATE_SUCCESSFUL"] * len(REGIONS)


def test_the_reconciler_ignores_what_is_not_its_own_and_sweeps_on_schedule(org_aws, monkeypatch, capsys, tmp_path):
    org = Org(2)
    packs = PackState(org)
    assert org.deploy(monkeypatch, capsys)[0] == 0
    reconciler, config, template, pattern = _deployed_reconciler(org, tmp_path)
    clients = lambda service, where: org.session.client(service, region_name=where)  # noqa: E731
    # a failed or running instance, or another deployment's StackSet: nothing is done
    failed = _instance_event(org, org.members[0], "eu-west-1", status="FAILED")
    assert not _matches(pattern, failed, org) and reconciler.reconcile(failed, clients, config, template) == {}
    other = _instance_event(org, org.members[0], "eu-west-1")
    other["detail"]["stack-set-arn"] = other["detail"]["stack-set-arn"].replace(
        "stackset/lambda-vpc-rules-", "stackset/lambda-vpc-rules-prod-")
    assert reconciler.reconcile(other, clients, config, template) == {}
    # a pack that failed where the functions are there (an event missed): the scheduled sweep re-submits it
    packs.rows[("eu-west-1", org.members[1])] = {**packs.rows[("eu-west-1", org.members[1])],
                                                 "Status": "CREATE_FAILED"}
    org.log.clear()
    scheduled = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
    assert reconciler.reconcile(scheduled, clients, config, template) == {"eu-west-1": [org.members[1]]}
    assert packs.status("eu-west-1", org.members[1]) == "CREATE_SUCCESSFUL"
    assert [r.region for r in org.log.of("PutOrganizationConformancePack")] == ["eu-west-1"]


def _join_with(org: Org, organizations: Any) -> str:
    """join_organization, with the test's Organizations client (whose create_account lets the pack arrive first)."""
    session = org.quiet
    original = session.client

    def client(service, *args, **kwargs):
        return organizations if service == "organizations" else original(service, *args, **kwargs)

    session.client = client
    try:
        return join_organization(session, org.history, "newcomer")
    finally:
        session.client = original


def test_the_reconciler_runs_on_its_own():
    """Its bundle holds the module alone (with the template and its configuration): it imports nothing of the
    package, only the standard library and boto3 (the Lambda runtime's)."""
    import ast
    import sys

    from lambda_vpc_rules.tooling.deploy import reconciler
    from lambda_vpc_rules.tooling.deploy.reconciler_deploy import reconciler_bundle
    from lambda_vpc_rules.tooling.deploy.steps import DeployOptions

    tree = ast.parse(Path(reconciler.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                 and not node.level}
    assert not any(isinstance(node, ast.ImportFrom) and node.level for node in ast.walk(tree))
    assert imported - set(sys.stdlib_module_names) <= {"boto3", "__future__"}
    bundle = reconciler_bundle(DeployOptions("b-{region}", stack_name="x"), REGION, REGIONS)
    assert bundle == reconciler_bundle(DeployOptions("b-{region}", stack_name="x"), REGION, REGIONS)  # reproducible
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        assert archive.namelist() == ["pack_reconciler.py", "conformance-pack.yaml", "reconciler.json"]
        assert json.loads(archive.read("reconciler.json"))["stack_sets"] == {r: f"x-{r}" for r in REGIONS}
