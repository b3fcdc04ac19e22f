"""An organization rehearsed in moto, and AWS's documented behaviour where moto lacks it.

- `RequestLog` keeps every request a session sends (service, operation, parameters, account), to count calls and
  to check parameters (CallAs) and sizes AWS limits;
- `ModelAnswers` answers operations moto does not implement, each answer checked against botocore's output shape
  (the `ConfigCalls` pattern), the requests having been checked by botocore against the input shape;
- `stacksets_as_aws()` makes moto's service-managed StackSets do what the CloudFormation API reference says and
  moto does not: no instance in the management account (DeploymentTargets), AccountFilterType honoured, and
  instances deleted or updated by DeploymentTargets (moto only reads Accounts); and an organization conformance
  pack given by TemplateBody (moto insists on a TemplateS3Uri);
- `organization_pack_statuses()` answers GetOrganizationConformancePackDetailedStatus as AWS Config would for the
  organization in moto (moto answers one row, for the caller): one row per member account not excluded, the rules
  created where that account and region has the functions, CREATE_FAILED where it does not;
- `join_organization()` does what StackSets' automatic deployment does when an account joins (moto does nothing):
  each StackSet created with AutoDeployment enabled gets an instance in the new account in each of its regions,
  dependencies first (AutoDeployment.DependsOn), read from the requests deploy sent.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator

from aws_support import REGION
from lambda_vpc_rules.core.rules import RULES

IAM_PREFIX = {"config-service": "config", "resourcegroupstaggingapi": "tag"}


# Listings whose pages moto does not cut as AWS does: result key and AWS's largest page (API references).
AWS_PAGES = {
    "ListStackInstances": ("Summaries", 100),
    "ListStackSets": ("Summaries", 100),
    "ListAccounts": ("Accounts", 20),
    "GetOrganizationConformancePackDetailedStatus": ("OrganizationConformancePackDetailedStatuses", 100),
    "ListObjectsV2": ("Contents", 1000),
}


@dataclass
class Request:
    service: str  # IAM prefix: cloudformation, config, s3...
    operation: str
    params: dict[str, Any]
    region: str
    pages: int = 1  # the calls AWS would need for what moto answered in one

    @property
    def action(self) -> str:
        return f"{self.service}:{self.operation}"


@dataclass
class RequestLog:
    """Every request made through the sessions it is installed on, with the parameters as the caller gave them."""

    requests: list[Request] = field(default_factory=list)

    def install(self, session: boto3.Session) -> RequestLog:
        session.events.register("before-parameter-build", self._record)
        session.events.register("after-call", self._count)
        return self

    def _record(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.endpoint_prefix
        service = {"monitoring": "cloudwatch"}.get(service, service)
        context["lvr_params"] = dict(params)
        request = Request(service, model.name, dict(params), context.get("client_region", ""))
        context.setdefault("lvr_requests", []).append(request)
        self.requests.append(request)

    def _count(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        key, size = AWS_PAGES.get(model.name, (None, 0))
        mine = [r for r in context.get("lvr_requests", ()) if r in self.requests]
        if key and mine:
            mine[-1].pages = max(1, -(-len(parsed.get(key) or ()) // size))

    def aws_calls(self) -> int:
        return sum(request.pages for request in self.requests)

    def clear(self) -> None:
        self.requests.clear()

    @property
    def actions(self) -> set[str]:
        return {request.action for request in self.requests}

    def by_action(self) -> Counter:
        return Counter(request.action for request in self.requests)

    def of(self, operation: str) -> list[Request]:
        return [request for request in self.requests if request.operation == operation]


@dataclass
class ModelAnswers:
    """Answers to operations moto lacks: `handlers[(service, Operation)](params, region) -> response` (or an
    `error()`), the response checked against botocore's output shape before botocore returns it."""

    handlers: dict[tuple[str, str], Callable[[dict[str, Any], str], Any]] = field(default_factory=dict)

    def on(self, service: str, operation: str, handler: Callable[[dict[str, Any], str], Any]) -> ModelAnswers:
        self.handlers[(service, operation)] = handler
        return self

    def install(self, session: boto3.Session) -> ModelAnswers:
        session.events.register("before-parameter-build", _keep_params)
        for service, operation in self.handlers:
            service_id = session._session.get_service_model(service).service_id.hyphenize()
            session.events.register(f"before-call.{service_id}.{operation}", self._answer)
        return self

    def _answer(self, model: Any, context: dict[str, Any], **_: Any):
        params = context.get("lvr_params", {})
        answer = self.handlers[(model.service_model.service_name, model.name)](params, context.get("client_region"))
        if isinstance(answer, Exception):
            return AWSResponse("https://aws.test", 400, {}, None), {
                "Error": {"Code": type(answer).__name__, "Message": str(answer)},
                "ResponseMetadata": {"HTTPStatusCode": 400}}
        if model.output_shape is None:  # an operation that answers nothing
            assert answer == {}, f"{model.name} answers nothing, not {answer}"
            return AWSResponse("https://aws.test", 200, {}, None), {}
        report = ParamValidator().validate(answer, model.output_shape)
        if report.has_errors():
            raise AssertionError(f"test answer does not fit {model.name}: {report.generate_report()}")
        return AWSResponse("https://aws.test", 200, {}, None), answer


def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["lvr_params"] = dict(params)


class AwsError(Exception):
    """An error answer with this code (the class name is the code)."""


def error(code: str, message: str) -> Exception:
    return type(code, (AwsError,), {})(message)


def all_allowed(params: dict[str, Any], region: str) -> dict[str, Any]:
    """SimulatePrincipalPolicy for an identity moto lets do everything (moto does not simulate)."""
    return {"EvaluationResults": [{"EvalActionName": action, "EvalResourceName": "*", "EvalDecision": "allowed"}
                                  for action in params["ActionNames"]], "IsTruncated": False}


def config_recording(session: boto3.Session, regions: list[str], iam_in: str | None = REGION) -> None:
    """AWS Config recording every supported type in each region, IAM types in `iam_in` only."""
    for region in regions:
        config = session.client("config", region_name=region)
        config.put_configuration_recorder(ConfigurationRecorder={
            "name": "default", "roleARN": f"arn:aws:iam::{_account(session)}:role/config-recorder",
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": region == iam_in}})
        config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "config-delivery"})
        config.start_configuration_recorder(ConfigurationRecorderName="default")


def _account(session: boto3.Session) -> str:
    return session.client("sts").get_caller_identity()["Account"]


def buckets(session: boto3.Session, pattern: str, regions: list[str], versioned: bool = False) -> None:
    for region in regions:
        s3 = session.client("s3", region_name=region)
        name = pattern.replace("{region}", region)
        configuration = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=name, **configuration)
        if versioned:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


# ------------------------------------------------------------------------------------------ StackSets as AWS


@contextlib.contextmanager
def stacksets_as_aws() -> Iterator[None]:
    """moto's service-managed StackSets, corrected to the CloudFormation API reference (DeploymentTargets): the
    management account never gets an instance; AccountFilterType INTERSECTION / DIFFERENCE with Accounts; delete
    and update by DeploymentTargets. moto parses each stack's template anew with PyYAML's pure-Python loader
    (60 ms for the functions template): here it is parsed once per template text (libyaml where present)."""
    import copy
    import functools

    import yaml
    from moto.cloudformation import models, responses

    original_parse = models.Stack.parse_template

    @functools.lru_cache(maxsize=16)
    def parsed(template: str) -> Any:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # moto's pure-Python loader: 60 ms a stack
        return yaml.load(template, Loader=loader)

    def parse_template(template: str) -> dict[str, Any]:
        try:
            return copy.deepcopy(parsed(template))
        except yaml.YAMLError:  # short-form tags (!Ref): moto's own loader knows them
            return original_parse(template)

    original_create = models.StackInstances.create_instances
    original_delete = responses.CloudFormationResponse.delete_stack_instances
    original_update = responses.CloudFormationResponse.update_stack_instances

    def create_instances(self, accounts, regions, parameters, deployment_targets, permission_model):
        if permission_model != "SERVICE_MANAGED":
            return original_create(self, accounts, regions, parameters, deployment_targets, permission_model)
        targets = _target_accounts(self.org_backend, deployment_targets)
        created = []
        for region in regions:
            for account in targets:
                if self.get_instance(account, region) is not None:
                    continue
                created.append(models.StackInstance(
                    account_id=account, region_name=region, stackset_id=self.stackset_id,
                    stack_name=self.stack_name, name=self.stackset_name, template=self.template,
                    parameters=parameters, permission_model=permission_model))
        self.stack_instances += created
        return [instance.to_dict() for instance in created]

    def by_targets(original):
        def handler(self):
            targets = self._get_params().get("DeploymentTargets")
            stack_set = self.cloudformation_backend.describe_stack_set(self._get_param("StackSetName"))
            if targets and stack_set.permission_model == "SERVICE_MANAGED":
                accounts = _target_accounts(stack_set.instances.org_backend, targets)
                present = {i.account_id for i in stack_set.instances.stack_instances}
                self.params = {**self.params, "Accounts": sorted(set(accounts) & present)}
            return original(self)
        return handler

    from moto.config import models as config_models

    original_put_pack = config_models.ConfigBackend.put_organization_conformance_pack

    def put_organization_conformance_pack(self, name, template_s3_uri, template_body, *args, **kwargs):
        # PutOrganizationConformancePack takes TemplateBody or TemplateS3Uri (API reference); moto insists on a URI
        if template_body and not template_s3_uri:
            template_s3_uri = "s3://template-body/given-inline.yaml"
        return original_put_pack(self, name, template_s3_uri, template_body, *args, **kwargs)

    config_models.ConfigBackend.put_organization_conformance_pack = put_organization_conformance_pack
    models.Stack.parse_template = staticmethod(parse_template)
    models.StackInstances.create_instances = create_instances
    responses.CloudFormationResponse.delete_stack_instances = by_targets(original_delete)
    responses.CloudFormationResponse.update_stack_instances = by_targets(original_update)
    try:
        yield
    finally:
        config_models.ConfigBackend.put_organization_conformance_pack = original_put_pack
        models.Stack.parse_template = staticmethod(original_parse)
        models.StackInstances.create_instances = original_create
        responses.CloudFormationResponse.delete_stack_instances = original_delete
        responses.CloudFormationResponse.update_stack_instances = original_update


def _target_accounts(org_backend: Any, targets: dict[str, Any]) -> list[str]:
    """The accounts DeploymentTargets names: those under the OUs (recursively), filtered by AccountFilterType,
    never the management account."""
    ous = set(targets.get("OrganizationalUnitIds") or [])
    children = True
    while children:
        children = {ou.id for ou in org_backend.ou if ou.parent_id in ous} - ous
        ous |= children
    management = org_backend.org.master_account_id
    under = [a.id for a in org_backend.accounts if a.parent_id in ous and a.id != management and a.status == "ACTIVE"]
    accounts = set(targets.get("Accounts") or [])
    mode = targets.get("AccountFilterType") or ("UNION" if accounts else "NONE")
    if mode == "INTERSECTION":
        return [a for a in under if a in accounts]
    if mode == "DIFFERENCE":
        return [a for a in under if a not in accounts]
    if mode == "UNION":
        return sorted(set(under) | (accounts - {management}))
    return under


def join_organization(session: boto3.Session, log: RequestLog, name: str) -> str:
    """A new account joins the organization root; what StackSets' automatic deployment then does, from the
    CreateStackSet/UpdateStackSet requests deploy sent: an instance in each region the StackSet deploys to, in the
    order DependsOn gives. Returns the account ID."""
    organizations = session.client("organizations")
    account = organizations.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"][
        "AccountId"]
    cloudformation = session.client("cloudformation")
    auto = {}
    for request in log.requests:
        if request.operation in ("CreateStackSet", "UpdateStackSet") and "AutoDeployment" in request.params:
            auto[request.params["StackSetName"]] = request.params["AutoDeployment"]
    arns = {cloudformation.describe_stack_set(StackSetName=n)["StackSet"]["StackSetARN"]: n for n in auto}
    done: set[str] = set()

    def deploy(stack_set: str) -> None:
        if stack_set in done or not auto[stack_set].get("Enabled"):
            return
        for dependency in auto[stack_set].get("DependsOn") or ():
            deploy(arns[dependency])
        regions = sorted({i["Region"] for i in cloudformation.list_stack_instances(StackSetName=stack_set)[
            "Summaries"]})
        root = organizations.list_roots()["Roots"][0]["Id"]
        if regions:
            cloudformation.create_stack_instances(StackSetName=stack_set, Regions=regions, DeploymentTargets={
                "OrganizationalUnitIds": [root], "Accounts": [account], "AccountFilterType": "INTERSECTION"})
        done.add(stack_set)

    for stack_set in auto:
        deploy(stack_set)
    return account


# ------------------------------------------------------------------------------------------ AWS Config


def functions_in(account: str, region: str) -> set[str]:
    from moto.awslambda.models import lambda_backends

    return {fn.function_name for fn in lambda_backends[account][region].list_functions()}


def organization_pack_statuses(session: boto3.Session, no_recorder: set[tuple[str, str]] | None = None,
                               organization: boto3.Session | None = None) -> Callable[[dict[str, Any], str], Any]:
    """GetOrganizationConformancePackDetailedStatus as AWS Config answers it for the organization in moto: the
    pack's rules are created in each member account not excluded where the functions they invoke exist and AWS
    Config records (`no_recorder`: the (account, region) pairs without a recorder, which moto does not model
    across accounts)."""
    no_recorder = no_recorder if no_recorder is not None else set()
    organization = organization or session  # the management account's view of the organization
    wanted = {rule.function_name for rule in RULES}

    def answer(params: dict[str, Any], region: str) -> dict[str, Any] | Exception:
        config = session.client("config", region_name=region)
        name = params["OrganizationConformancePackName"]
        try:
            [pack] = config.describe_organization_conformance_packs(
                OrganizationConformancePackNames=[name])["OrganizationConformancePacks"]
        except config.exceptions.NoSuchOrganizationConformancePackException as missing:
            return error("NoSuchOrganizationConformancePackException", str(missing))
        accounts = [a["Id"] for page in organization.client("organizations").get_paginator("list_accounts").paginate()
                    for a in page["Accounts"] if a["Status"] == "ACTIVE"]
        rows = []
        for account in sorted(set(accounts) - set(pack.get("ExcludedAccounts") or ())):
            row = {"AccountId": account, "ConformancePackName": f"OrgConformsPack-{name}-abcdefgh",
                   "Status": "CREATE_SUCCESSFUL", "LastUpdateTime": pack["LastUpdateTime"]}
            missing_functions = sorted(wanted - functions_in(account, region))
            if (account, region) in no_recorder:
                row.update(Status="CREATE_FAILED", ErrorCode="NoAvailableConfigurationRecorderException",
                           ErrorMessage="There is no configuration recorder available to record resources.")
            elif missing_functions:
                row.update(Status="CREATE_FAILED", ErrorCode="InsufficientPermissionsException",
                           ErrorMessage=f"The AWS Lambda function arn:aws:lambda:{region}:{account}:function:"
                           f"{missing_functions[0]} cannot be invoked.")
            rows.append(row)
        start = int(params.get("NextToken") or 0)
        limit = params.get("Limit") or 100
        page = {"OrganizationConformancePackDetailedStatuses": rows[start:start + limit]}
        if start + limit < len(rows):
            page["NextToken"] = str(start + limit)
        return page

    return answer


def organization_pack_overall(session: boto3.Session, no_recorder: set[tuple[str, str]] | None = None,
                              organization: boto3.Session | None = None) -> Callable[[dict[str, Any], str], Any]:
    """DescribeOrganizationConformancePackStatuses as AWS Config answers it (moto: always successful):
    CREATE_FAILED when the pack failed in one or more member accounts (OrganizationConformancePackStatus)."""
    detailed = organization_pack_statuses(session, no_recorder, organization)

    def answer(params: dict[str, Any], region: str) -> Any:
        config = session.client("config", region_name=region)
        try:
            statuses = config.describe_organization_conformance_pack_statuses(**params)[
                "OrganizationConformancePackStatuses"]
        except config.exceptions.NoSuchOrganizationConformancePackException as missing:
            return error("NoSuchOrganizationConformancePackException", str(missing))
        for status in statuses:
            rows = detailed({"OrganizationConformancePackName": status["OrganizationConformancePackName"],
                             "Limit": 10_000}, region)["OrganizationConformancePackDetailedStatuses"]
            failed = [row for row in rows if row["Status"].endswith("FAILED")]
            if failed:
                status.update(Status="CREATE_FAILED", ErrorCode=failed[0]["ErrorCode"],
                              ErrorMessage=f"{len(failed)} member account(s) failed")
        return {"OrganizationConformancePackStatuses": statuses}

    return answer


def policy_sizes(accounts: list[str], regions: list[str]) -> dict[str, list[int]]:
    """Function name -> the size of its resource policy in every account and region (moto's GetPolicy)."""
    from moto.awslambda.models import lambda_backends

    sizes: dict[str, list[int]] = {rule.function_name: [] for rule in RULES}
    for account in accounts:
        for region in regions:
            backend = lambda_backends[account][region]
            for rule in RULES:
                policy = json.loads(backend.get_policy(rule.function_name, None))["Policy"]  # GetPolicy's Policy
                sizes[rule.function_name].append(len(policy.encode()))
    return sizes


def json_size(value: Any) -> int:
    return len(json.dumps(value).encode())


def forwarded(session: boto3.Session, service: str, operation: str, require_call_as: bool = False
              ) -> Callable[[dict[str, Any], str], Any]:
    """The answer `session` (the management account) gets to the same request: what a delegated administrator is
    answered (Organizations reads; StackSets with service-managed permissions, which live in the management
    account, CallAs=DELEGATED_ADMIN required - CloudFormation API reference)."""
    from botocore import xform_name
    from botocore.exceptions import ClientError

    def answer(params: dict[str, Any], region: str) -> Any:
        params = dict(params)
        if require_call_as and params.pop("CallAs", None) != "DELEGATED_ADMIN":
            return error("ValidationError", "Account used is not a delegated administrator of the StackSet")
        client = session.client(service, region_name=region)
        try:
            response = getattr(client, xform_name(operation))(**params)
        except ClientError as failure:
            return error(failure.response["Error"]["Code"], failure.response["Error"].get("Message", ""))
        response.pop("ResponseMetadata", None)
        return response

    return answer
