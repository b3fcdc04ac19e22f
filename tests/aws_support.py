"""Builders for test estates in moto, AWS Config events in the documented format, and the capture of
AWS Config calls that moto does not implement."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
from botocore import xform_name
from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator

from lambda_vpc_rules.aws.clients import PAGE_SIZES

REGION = "us-east-1"
ACCOUNT = "123456789012"
CAPTURE_TIME = "2026-11-24T12:00:00.000Z"
CONFIG_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/config-rule-role"
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


class CallRecorder:
    """Every AWS operation made through a session: as the IAM action it needs (service prefix:operation),
    and as the number of calls AWS itself would need. moto answers a listing in one page whatever its
    size, while AWS pages it (ListFunctions: 50 functions a page); `aws_calls` counts those pages from
    the number of items moto returned and AWS's largest page size."""

    IAM_PREFIX = {"resourcegroupstaggingapi": "tag"}  # botocore service name -> IAM service prefix
    RESULT_KEYS = {  # the listings the pack makes: what a page holds (page sizes: fetch.PAGE_SIZES)
        "ListFunctions": ("Functions",),
        "GetResources": ("ResourceTagMappingList",),
        "DescribeVpcs": ("Vpcs",),
        "DescribeSubnets": ("Subnets",),
        "DescribeRouteTables": ("RouteTables",),
        "DescribeNatGateways": ("NatGateways",),
        "DescribeVpcEndpoints": ("VpcEndpoints",),
        "DescribeManagedPrefixLists": ("PrefixLists",),
        "GetManagedPrefixListEntries": ("Entries",),
        "GetAccountAuthorizationDetails": ("RoleDetailList", "Policies"),
        "GetComplianceDetailsByConfigRule": ("EvaluationResults",),
        "SelectResourceConfig": ("Results",),
    }

    def __init__(self):
        self.calls: list[str] = []
        self.pages: list[int] = []  # calls AWS would need for each call made

    @property
    def actions(self) -> set[str]:
        return set(self.calls)

    def install(self, session) -> CallRecorder:
        session.events.register("after-call", self._record)
        return self

    def _record(self, model, parsed, **_):
        service = model.service_model.service_name
        self.calls.append(f"{self.IAM_PREFIX.get(service, service)}:{model.name}")
        keys, size = self.RESULT_KEYS.get(model.name, ()), PAGE_SIZES.get(xform_name(model.name), 0)
        items = sum(len(parsed.get(key) or ()) for key in keys)
        self.pages.append(max(1, -(-items // size)) if size else 1)

    def aws_calls(self, exclude: tuple[str, ...] = ()) -> int:
        return sum(pages for call, pages in zip(self.calls, self.pages, strict=True) if call not in exclude)

    def by_operation(self) -> Counter:
        """AWS calls (pages) by action."""
        counts: Counter = Counter()
        for call, pages in zip(self.calls, self.pages, strict=True):
            counts[call] += pages
        return counts


class _Body:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_):
        yield self.body


def aws_error_response(service: str, code: str, message: str, status: int) -> tuple[dict[str, str], bytes]:
    """Headers and body of an AWS error as the service's protocol sends it, for botocore to parse."""
    protocol = botocore.session.get_session().get_service_model(service).resolved_protocol  # the one botocore uses
    if protocol == "ec2":
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
                "<RequestID>11111111-2222-3333-4444-555555555555</RequestID></Response>")
        return {"Content-Type": "text/xml;charset=UTF-8"}, body.encode()
    if protocol == "query":
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
                "<RequestId>11111111-2222-3333-4444-555555555555</RequestId></ErrorResponse>")
        return {"Content-Type": "text/xml"}, body.encode()
    if protocol == "json":
        return {"Content-Type": "application/x-amz-json-1.1"}, json.dumps({"__type": code, "message": message}).encode()
    if protocol == "rest-json":
        return {"Content-Type": "application/json", "x-amzn-ErrorType": code}, json.dumps({"message": message}).encode()
    raise ValueError(f"no error format for protocol {protocol}")


@dataclass
class AwsError:
    """Answers one operation with a real AWS error, on top of moto: a `before-send` hook (so botocore parses
    it, and retries it if it is throttling, exactly as an answer from AWS) returns the error in the
    service's wire format for the first `times` attempts (every attempt if None). `attempts` counts them."""

    service: str  # botocore service name, e.g. "ec2", "resourcegroupstaggingapi"
    operation: str  # e.g. "DescribeSubnets"
    code: str
    status: int = 400
    times: int | None = None
    message: str = "injected by the test"
    attempts: int = 0
    match: bytes | None = None  # only requests whose body holds this (e.g. one account's role ARN)

    @property
    def event(self) -> str:
        model = botocore.session.get_session().get_service_model(self.service)
        return f"before-send.{model.service_id.hyphenize()}.{self.operation}"

    def install(self, session) -> AwsError:
        session.events.register(self.event, self._send)
        return self

    def uninstall(self, session) -> None:
        session.events.unregister(self.event, self._send)

    def _send(self, request, **_):
        body = request.body.encode() if isinstance(request.body, str) else (request.body or b"")
        if self.match is not None and self.match not in body:
            return None
        self.attempts += 1
        if self.times is not None and self.attempts > self.times:
            return None
        headers, body = aws_error_response(self.service, self.code, self.message, self.status)
        return AWSResponse(request.url, self.status, headers, _Body(body))


# What a TLS-inspecting proxy or a captive portal answers with status 200: HTML, not well-formed XML.
PROXY_PAGE = (b'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Blocked</title></head>'
              b"<body><p>This site is blocked by your organization's web proxy.<br></p></body></html>")
# A marker that makes the page before a garbled one announce a next page, in each protocol's own place.
def _json_marker(body: bytes, key: str) -> bytes:
    return json.dumps({**json.loads(body), key: "page-2"}).encode()


def _query_marker(body: bytes, key: str) -> bytes:
    body = re.sub(rb"<IsTruncated>\w+</IsTruncated>|<Marker>[^<]*</Marker>", b"", body)
    return re.sub(rb"(</\w+Result>)", rb"<IsTruncated>true</IsTruncated><Marker>page-2</Marker>\1", body, count=1)


_NEXT_PAGE_MARKERS = {
    "rest-json": _json_marker,
    "json": _json_marker,
    "ec2": lambda body, key: re.sub(rb"(</\w+>\s*)$", rb"<nextToken>page-2</nextToken>\1", body.strip()),
    "query": _query_marker,
}
_CONTENT_TYPES = {"rest-json": "application/json", "json": "application/x-amz-json-1.1", "ec2": "text/xml",
                  "query": "text/xml"}


@dataclass
class GarbledAnswer:
    """A complete HTTP 200 whose body is not the API's answer, for one page of one operation, on top of moto,
    where a proxy's page would arrive: `kind` "html" (a proxy's page), "truncated" (moto's body cut in half),
    "empty" (a well-formed body without the result: `{}`, or an XML root holding only a request ID). With
    `page` 2, the first page is moto's answer plus a next-page marker, so that the listing asks for the garbled
    page, which is then answered here (`before-send`) instead of by moto."""

    service: str
    operation: str
    kind: str
    page: int = 1
    calls: int = 0
    _first_body: bytes = b""

    def _event(self, stage: str) -> str:
        model = botocore.session.get_session().get_service_model(self.service)
        return f"{stage}.{model.service_id.hyphenize()}.{self.operation}"

    def install(self, session) -> GarbledAnswer:
        session.events.register(self._event("before-send"), self._send)
        session.events.register(self._event("before-parse"), self._rewrite)
        return self

    def uninstall(self, session) -> None:
        session.events.unregister(self._event("before-send"), self._send)
        session.events.unregister(self._event("before-parse"), self._rewrite)

    @property
    def _protocol(self) -> str:
        return botocore.session.get_session().get_service_model(self.service).resolved_protocol

    def _garbled(self, body: bytes) -> bytes:
        if self.kind == "html":
            return PROXY_PAGE
        if self.kind == "truncated":
            return body[: len(body) // 2]
        if self._protocol in ("json", "rest-json"):
            return b"{}"
        return f"<{self.operation}Response><requestId>1</requestId></{self.operation}Response>".encode()

    def _send(self, request, **_):
        self.calls += 1
        if self.calls == self.page > 1:
            content_type = "text/html; charset=utf-8" if self.kind == "html" else _CONTENT_TYPES[self._protocol]
            return AWSResponse(request.url, 200, {"Content-Type": content_type}, _Body(self._garbled(self._first_body)))
        return None

    def _rewrite(self, response_dict, **_):
        if self.calls < self.page:
            self._first_body = response_dict["body"]
            token = botocore.session.get_session().get_paginator_model(self.service).get_paginator(
                self.operation)["output_token"]
            response_dict["body"] = _NEXT_PAGE_MARKERS[self._protocol](response_dict["body"], token)
        elif self.calls == self.page == 1:
            if self.kind == "html":
                response_dict["headers"]["content-type"] = "text/html; charset=utf-8"
            response_dict["body"] = self._garbled(response_dict["body"])


class EndpointSession:
    """A boto3 session whose clients all talk to one endpoint (a moto server): for the Estate helpers."""

    def __init__(self, endpoint_url: str, region: str = REGION):
        self.session = boto3.Session(region_name=region)
        self.endpoint_url = endpoint_url

    def client(self, service: str):
        return self.session.client(service, endpoint_url=self.endpoint_url)


class Estate:
    """Small helpers over moto clients; each returns the new resource's ID."""

    def __init__(self, session: boto3.Session):
        self.session = session
        self.ec2 = session.client("ec2")
        self.iam = session.client("iam")
        self.lam = session.client("lambda")
        self._role_arn: str | None = None

    def vpc(self, cidr: str = "10.0.0.0/16", tenancy: str = "default") -> str:
        return self.ec2.create_vpc(CidrBlock=cidr, InstanceTenancy=tenancy)["Vpc"]["VpcId"]

    def subnet(self, vpc_id: str, cidr: str, az: str = "a") -> str:
        return self.ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=f"{REGION}{az}")["Subnet"][
            "SubnetId"
        ]

    def internet_gateway(self, vpc_id: str) -> str:
        igw = self.ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        self.ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
        return igw

    def route_table(self, vpc_id: str, subnets: list[str], **route: str) -> str:
        """A route table for these subnets, with one route (`DestinationCidrBlock=..., GatewayId=...`) if given."""
        table = self.ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
        if route:
            self.ec2.create_route(RouteTableId=table, **route)
        for subnet in subnets:
            self.ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
        return table

    def nat_gateway(self, subnet_id: str) -> str:
        eip = self.ec2.allocate_address(Domain="vpc")["AllocationId"]
        return self.ec2.create_nat_gateway(SubnetId=subnet_id, AllocationId=eip)["NatGateway"]["NatGatewayId"]

    def prefix_list(self, name: str, cidrs: list[str]) -> str:
        """A customer-managed prefix list."""
        family = "IPv6" if ":" in cidrs[0] else "IPv4"
        return self.ec2.create_managed_prefix_list(
            PrefixListName=name, AddressFamily=family, MaxEntries=max(len(cidrs), 5),
            Entries=[{"Cidr": cidr, "Description": name} for cidr in cidrs])["PrefixList"]["PrefixListId"]

    def aws_prefix_list(self, name: str) -> str:
        """An AWS-managed prefix list by name (`com.amazonaws.us-east-1.s3`)."""
        return self.ec2.describe_managed_prefix_lists(
            Filters=[{"Name": "prefix-list-name", "Values": [name]}])["PrefixLists"][0]["PrefixListId"]

    def gateway_endpoint(self, vpc_id: str, service: str, route_tables: list[str]) -> str:
        """A gateway endpoint (Amazon S3, DynamoDB): AWS adds a route to its prefix list in each table."""
        return self.ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName=f"com.amazonaws.{REGION}.{service}",
                                            VpcEndpointType="Gateway", RouteTableIds=route_tables)["VpcEndpoint"][
            "VpcEndpointId"]

    def gwlb_endpoint(self, vpc_id: str, subnet_id: str) -> str:
        """A Gateway Load Balancer endpoint in a subnet (what an AWS Network Firewall endpoint is, too)."""
        return self.ec2.create_vpc_endpoint(
            VpcId=vpc_id, ServiceName=f"com.amazonaws.vpce.{REGION}.vpce-svc-0a1b2c3d4e5f60718",
            VpcEndpointType="GatewayLoadBalancer", SubnetIds=[subnet_id])["VpcEndpoint"]["VpcEndpointId"]

    def role(self, name: str = "fn-role") -> str:
        return self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]

    def default_role(self) -> str:
        if self._role_arn is None:
            self._role_arn = self.role("default-fn-role")
        return self._role_arn

    def function(
        self,
        name: str,
        subnets: list[str] | None = None,
        role: str | None = None,
        ipv6: bool | None = None,
        tags: dict[str, str] | None = None,
        security_groups: list[str] | None = None,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if subnets is not None:
            vpc: dict[str, Any] = {"SubnetIds": subnets, "SecurityGroupIds": security_groups or []}
            if ipv6 is not None:
                vpc["Ipv6AllowedForDualStack"] = ipv6
            kwargs["VpcConfig"] = vpc
        if tags:
            kwargs["Tags"] = tags
        return self.lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role or self.default_role(),
            Handler="index.handler",
            Code={"ZipFile": _zip()},
            **kwargs,
        )


def configuration_item(function: dict[str, Any], status: str = "OK", tags: dict[str, str] | None = None) -> dict:
    """An AWS::Lambda::Function configuration item as AWS Config sends it, from a Lambda API answer."""
    vpc = function.get("VpcConfig") or {}
    configuration = {
        "functionName": function["FunctionName"],
        "functionArn": function["FunctionArn"],
        "runtime": function.get("Runtime"),
        "role": function["Role"],
        "handler": function.get("Handler"),
        "codeSize": function.get("CodeSize", 0),
        "timeout": function.get("Timeout", 3),
        "memorySize": function.get("MemorySize", 128),
        "lastModified": function.get("LastModified"),
        "version": "$LATEST",
        "tracingConfig": {"mode": "PassThrough"},
        "layers": [],
        "packageType": "Zip",
        "architectures": ["x86_64"],
    }
    if vpc.get("SubnetIds"):
        configuration["vpcConfig"] = {
            "subnetIds": vpc["SubnetIds"],
            "securityGroupIds": vpc.get("SecurityGroupIds", []),
        }
        if "Ipv6AllowedForDualStack" in vpc:
            configuration["vpcConfig"]["ipv6AllowedForDualStack"] = vpc["Ipv6AllowedForDualStack"]
    return {
        "relatedEvents": [],
        "relationships": [
            {"resourceId": sid, "resourceType": "AWS::EC2::Subnet", "name": "Is associated with Subnet"}
            for sid in vpc.get("SubnetIds") or []
        ],
        "configuration": configuration if status != "ResourceDeleted" else None,
        "supplementaryConfiguration": {},
        "tags": tags or {},
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": CAPTURE_TIME,
        "configurationStateId": 1700000000000,
        "awsAccountId": ACCOUNT,
        "configurationItemStatus": status,
        "resourceType": "AWS::Lambda::Function",
        "resourceId": function["FunctionName"],
        "resourceName": function["FunctionName"],
        "ARN": function["FunctionArn"],
        "awsRegion": REGION,
        "availabilityZone": "Not Applicable",
        "configurationStateMd5Hash": "",
        "resourceCreationTime": CAPTURE_TIME,
    }


def related_item(resource_type: str, resource_id: str, configuration: dict | None, arn: str | None = None,
                 vpc_id: str | None = None, status: str = "OK") -> dict:
    """A configuration item of a resource the rules depend on (subnet, route table, role...), as AWS Config
    sends it; a deleted resource's item has no configuration but keeps its relationships."""
    relationships = [{"resourceId": vpc_id, "resourceType": "AWS::EC2::VPC", "name": "Is contained in Vpc"}] if vpc_id \
        else []
    return {
        "relatedEvents": [],
        "relationships": relationships,
        "configuration": configuration if status == "OK" else None,
        "supplementaryConfiguration": {},
        "tags": {},
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": CAPTURE_TIME,
        "configurationStateId": 1700000000001,
        "awsAccountId": ACCOUNT,
        "configurationItemStatus": status,
        "resourceType": resource_type,
        "resourceId": resource_id,
        "resourceName": resource_id,
        "ARN": arn or f"arn:aws:ec2:{REGION}:{ACCOUNT}:{resource_type.split('::')[-1].lower()}/{resource_id}",
        "awsRegion": REGION,
        "availabilityZone": "Not Applicable",
        "configurationStateMd5Hash": "",
        "resourceCreationTime": CAPTURE_TIME,
    }


def _event(invoking_event: dict, rule_name: str, parameters: dict | None, left_scope: bool = False) -> dict:
    """The Lambda event AWS Config sends a custom rule (documented example shape)."""
    return {
        "version": "1.0",
        "invokingEvent": json.dumps(invoking_event),
        "ruleParameters": json.dumps(parameters or {}),
        "resultToken": "result-token-from-config",
        "eventLeftScope": left_scope,
        "executionRoleArn": CONFIG_ROLE_ARN,
        "configRuleArn": f"arn:aws:config:{REGION}:{ACCOUNT}:config-rule/config-rule-abc123",
        "configRuleName": rule_name,
        "configRuleId": "config-rule-abc123",
        "accountId": ACCOUNT,
        "evaluationMode": "DETECTIVE",
    }


def change_event(item: dict, rule_name: str, parameters: dict | None = None, left_scope: bool = False) -> dict:
    invoking = {
        "configurationItemDiff": None,
        "configurationItem": item,
        "notificationCreationTime": CAPTURE_TIME,
        "messageType": "ConfigurationItemChangeNotification",
        "recordVersion": "1.3",
    }
    return _event(invoking, rule_name, parameters, left_scope)


def oversized_event(item: dict, rule_name: str, parameters: dict | None = None) -> dict:
    invoking = {
        "configurationItemSummary": {
            "changeType": "UPDATE",
            "configurationItemVersion": "1.3",
            "configurationItemCaptureTime": item["configurationItemCaptureTime"],
            "configurationStateId": item["configurationStateId"],
            "awsAccountId": item["awsAccountId"],
            "configurationItemStatus": item["configurationItemStatus"],
            "resourceType": item["resourceType"],
            "resourceId": item["resourceId"],
            "resourceName": item["resourceName"],
            "ARN": item["ARN"],
            "awsRegion": item["awsRegion"],
            "availabilityZone": item["availabilityZone"],
            "configurationStateMd5Hash": "",
            "resourceCreationTime": item["resourceCreationTime"],
        },
        "s3DeliverySummary": {"s3BucketLocation": "config-bucket/AWSLogs/oversized.json.gz", "errorCode": None},
        "notificationCreationTime": CAPTURE_TIME,
        "messageType": "OversizedConfigurationItemChangeNotification",
        "recordVersion": "1.0",
    }
    return _event(invoking, rule_name, parameters)


def scheduled_event(rule_name: str, parameters: dict | None = None) -> dict:
    invoking = {
        "awsAccountId": ACCOUNT,
        "notificationCreationTime": CAPTURE_TIME,
        "messageType": "ScheduledNotification",
        "recordVersion": "1.0",
    }
    return _event(invoking, rule_name, parameters)


def earlier_evaluations(rule_name: str, names: list[str]) -> list[dict]:
    """What AWS Config holds after an earlier run of a rule: one evaluation per function, which rdklib's
    clean-up on a scheduled run reads back (GetComplianceDetailsByConfigRule, 100 a page)."""
    return [{"EvaluationResultIdentifier": {"EvaluationResultQualifier": {
                "ConfigRuleName": rule_name, "ResourceType": "AWS::Lambda::Function", "ResourceId": name},
             "OrderingTimestamp": "2026-11-01T00:00:00Z"},
             "ComplianceType": "COMPLIANT", "ResultRecordedTime": "2026-11-01T00:00:00Z",
             "ConfigRuleInvokedTime": "2026-11-01T00:00:00Z"} for name in names]


def history_item(item: dict) -> dict:
    """The same item as GetResourceConfigHistory returns it (configuration as a JSON string)."""
    return {
        "version": "1.3",
        "accountId": item["awsAccountId"],
        "configurationItemCaptureTime": item["configurationItemCaptureTime"],
        "configurationItemStatus": item["configurationItemStatus"],
        "configurationStateId": str(item["configurationStateId"]),
        "configurationItemMD5Hash": "",
        "arn": item["ARN"],
        "resourceType": item["resourceType"],
        "resourceId": item["resourceId"],
        "resourceName": item["resourceName"],
        "awsRegion": item["awsRegion"],
        "availabilityZone": item["availabilityZone"],
        "resourceCreationTime": item["resourceCreationTime"],
        "tags": item["tags"],
        "relatedEvents": [],
        "relationships": [
            {"resourceType": r["resourceType"], "resourceId": r["resourceId"], "relationshipName": r["name"]}
            for r in item["relationships"]
        ],
        "configuration": json.dumps(item["configuration"]),
        "supplementaryConfiguration": {},
    }


@dataclass
class ConfigCalls:
    """Answers the AWS Config calls moto cannot answer, after checking them against botocore's model.

    moto 5.2 implements PutEvaluations only with TestMode, and has no GetComplianceDetailsByConfigRule,
    DescribeConfigRuleEvaluationStatus or Lambda resource history; everything else goes to moto.
    DescribeConfigRuleEvaluationStatus answers the `statuses` given for the rules asked, and none by default:
    AWS documents that it "does not return status information about AWS Config Custom Lambda rules".
    """

    put: list[dict] = field(default_factory=list)  # every PutEvaluations request
    previous_results: list[dict] = field(default_factory=list)  # what GetComplianceDetails... returns
    history: dict[str, dict] = field(default_factory=dict)  # resourceId -> history item
    refusals: list[list[dict]] = field(default_factory=list)  # FailedEvaluations of the next PutEvaluations
    queries: list[str] = field(default_factory=list)  # every SelectResourceConfig expression
    statuses: dict[str, dict] = field(default_factory=dict)  # rule name -> its ConfigRuleEvaluationStatus
    errors: dict[str, tuple[str, str]] = field(default_factory=dict)  # operation -> (code, message) to answer
    # operation -> a parsed answer sent as it is, unchecked: what botocore makes of a body that is not the API's
    # (for a JSON protocol, `{"message": body}`)
    unchecked: dict[str, dict] = field(default_factory=dict)

    @property
    def evaluations(self) -> list[dict]:
        return [evaluation for request in self.put for evaluation in request["Evaluations"]]

    def by_resource(self) -> dict[str, dict]:
        return {e["ComplianceResourceId"]: e for e in self.evaluations}

    @classmethod
    def on_default_session(cls) -> ConfigCalls:
        """Capture Config calls of every boto3 client made from now on through the default session
        (rdklib builds its clients with boto3.client)."""
        boto3.setup_default_session(region_name=REGION)
        calls = cls()
        calls.install(boto3.DEFAULT_SESSION)
        return calls

    def install(self, session: boto3.Session) -> None:
        session.events.register("before-call.config.PutEvaluations", self._put_evaluations)
        session.events.register("before-call.config.GetComplianceDetailsByConfigRule", self._compliance_details)
        session.events.register("before-call.config.GetResourceConfigHistory", self._history)
        session.events.register("before-call.config.SelectResourceConfig", self._select)
        session.events.register("before-call.config.DescribeConfigRuleEvaluationStatus", self._statuses)

    @staticmethod
    def _error(code: str, message: str):
        """An AWS error answer, parsed (an answer from before-call is never retried: not for throttling)."""
        return AWSResponse("https://config.test", 400, {}, None), {
            "Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}

    def _answer(self, model, response: dict):
        if model.name in self.errors:
            return self._error(*self.errors[model.name])
        if model.name in self.unchecked:
            return AWSResponse("https://config.test", 200, {}, None), self.unchecked[model.name]
        report = ParamValidator().validate(response, model.output_shape)
        if report.has_errors():
            raise AssertionError(f"test response does not fit {model.name}: {report.generate_report()}")
        return AWSResponse("https://config.test", 200, {}, None), response

    def _put_evaluations(self, model, params, **_):
        request = json.loads(params["body"]) if isinstance(params.get("body"), (str, bytes)) else params["body"]
        self.put.append(request)
        refused = self.refusals.pop(0) if self.refusals else []
        return self._answer(model, {"FailedEvaluations": refused})

    def _statuses(self, model, params, **_):
        request = json.loads(params["body"]) if isinstance(params.get("body"), (str, bytes)) else params["body"]
        names = request.get("ConfigRuleNames") or list(self.statuses)
        return self._answer(model, {"ConfigRulesEvaluationStatus": [
            {"ConfigRuleName": name, **self.statuses[name]} for name in names if name in self.statuses]})

    def _compliance_details(self, model, params, **_):
        return self._answer(model, {"EvaluationResults": self.previous_results})

    def _history(self, model, params, **_):
        request = json.loads(params["body"]) if isinstance(params.get("body"), (str, bytes)) else params["body"]
        if request["resourceId"] not in self.history and model.name not in self.errors:
            # what AWS Config answers for a resource it never recorded
            return self._error("ResourceNotDiscoveredException", f"Resource {request['resourceId']} is not discovered.")
        item = self.history[request["resourceId"]]
        return self._answer(model, {"configurationItems": [item] if item is not None else []})


    _QUERY = re.compile(
        r"^SELECT resourceName, arn, configuration\.functionName, configuration\.role, configuration\.vpcConfig, tags "
        r"WHERE resourceType = 'AWS::Lambda::Function' AND (configuration\.vpcConfig\.subnetIds|configuration\.role) "
        r"IN \(('[^']*'(?:, '[^']*')*)\)$"
    )

    def _select(self, model, params, **_):
        """moto cannot run advanced queries: answer the two the pack asks (functions by subnet, by role) from
        moto's Lambda functions, as the Config recorder would have recorded them. Any other query fails."""
        request = json.loads(params["body"]) if isinstance(params.get("body"), (str, bytes)) else params["body"]
        self.queries.append(request["Expression"])
        match = self._QUERY.match(request["Expression"])
        if match is None:
            raise AssertionError(f"query the test does not answer: {request['Expression']}")
        field, values = match.group(1), set(re.findall(r"'([^']*)'", match.group(2)))
        lam = boto3.Session(region_name=REGION).client("lambda")  # not the recorded default session
        rows = []
        for page in lam.get_paginator("list_functions").paginate():
            for function in page["Functions"]:
                vpc = function.get("VpcConfig") or {}
                keys = set(vpc.get("SubnetIds") or ()) if field.endswith("subnetIds") else {function["Role"]}
                if not keys & values:
                    continue
                tags = lam.list_tags(Resource=function["FunctionArn"]).get("Tags") or {}
                rows.append(json.dumps({
                    "resourceName": function["FunctionName"],
                    "arn": function["FunctionArn"],
                    "configuration": {
                        "functionName": function["FunctionName"],
                        "role": function["Role"],
                        "vpcConfig": {"subnetIds": vpc.get("SubnetIds") or [],
                                      "securityGroupIds": vpc.get("SecurityGroupIds") or [],
                                      **({"ipv6AllowedForDualStack": vpc["Ipv6AllowedForDualStack"]}
                                         if "Ipv6AllowedForDualStack" in vpc else {})},
                    },
                    "tags": [{"key": k, "value": v} for k, v in tags.items()],
                }))
        return self._answer(model, {"Results": rows, "QueryInfo": {"SelectFields": [{"Name": "resourceName"}]}})


def build_network(estate: Estate) -> dict[str, str]:
    """A VPC with every routing situation the network rules tell apart, built in moto.

    public (0.0.0.0/0 -> igw) holds the NAT gateways; private-a/-b -> available NAT gateway, with the
    Amazon S3 gateway endpoint's prefix-list route and a customer prefix list (`partner`) to the NAT gateway
    too; isolated uses the main table (no default route); dead-nat -> a NAT gateway since deleted;
    via-tgw -> transit gateway; dual-a/-b have IPv6 CIDRs, dual-a with ::/0 -> egress-only gateway.
    The -b subnets are in Availability Zone b, every other one in a.
    AWS Network Firewall's design with a Gateway Load Balancer endpoint standing in for the firewall
    endpoint (moto has no Network Firewall): inspected -> NAT gateway in nat-fw, whose table sends
    0.0.0.0/0 to the endpoint in firewall, whose table sends it to the internet gateway; bypass -> the
    endpoint directly (no NAT gateway on the way).
    """
    ec2 = estate.ec2
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
    vpc_ipv6 = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
    prefix = vpc_ipv6.split("::")[0]  # e.g. 2600:1f18:abcd:1200
    ids = {"vpc": vpc}
    for name, cidr in [
        ("public", "10.0.0.0/24"),
        ("private-a", "10.0.1.0/24"),
        ("private-b", "10.0.2.0/24"),
        ("isolated", "10.0.3.0/24"),
        ("dead-nat", "10.0.4.0/24"),
        ("via-tgw", "10.0.5.0/24"),
        ("dual-a", "10.0.6.0/24"),
        ("dual-b", "10.0.7.0/24"),
        ("inspected", "10.0.8.0/24"),
        ("nat-fw", "10.0.9.0/24"),
        ("firewall", "10.0.10.0/24"),
        ("bypass", "10.0.11.0/24"),
    ]:
        ids[name] = estate.subnet(vpc, cidr, az="b" if name.endswith("-b") else "a")
    for index, name in enumerate(("dual-a", "dual-b")):
        head, last = prefix.rsplit(":", 1)
        block = f"{head}:{int(last, 16) + index + 1:x}::/64"
        ec2.associate_subnet_cidr_block(SubnetId=ids[name], Ipv6CidrBlock=block)

    ids["igw"] = igw = estate.internet_gateway(vpc)

    def table(subnets: list[str], **route) -> str:
        return estate.route_table(vpc, [ids[subnet] for subnet in subnets], **route)

    table(["public"], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)

    def nat_gateway() -> str:
        return estate.nat_gateway(ids["public"])

    ids["nat"], ids["dead-nat-gw"] = nat_gateway(), nat_gateway()
    ids["private-rtb"] = table(["private-a", "private-b"], DestinationCidrBlock="0.0.0.0/0", NatGatewayId=ids["nat"])
    table(["dead-nat"], DestinationCidrBlock="0.0.0.0/0", NatGatewayId=ids["dead-nat-gw"])
    ec2.delete_nat_gateway(NatGatewayId=ids["dead-nat-gw"])
    tgw = ec2.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]
    table(["via-tgw"], DestinationCidrBlock="0.0.0.0/0", TransitGatewayId=tgw)
    ids["tgw"] = tgw
    eigw = ec2.create_egress_only_internet_gateway(VpcId=vpc)["EgressOnlyInternetGateway"][
        "EgressOnlyInternetGatewayId"
    ]
    dual_rtb = table(["dual-a"], DestinationCidrBlock="0.0.0.0/0", NatGatewayId=ids["nat"])
    ec2.create_route(RouteTableId=dual_rtb, DestinationIpv6CidrBlock="::/0", EgressOnlyInternetGatewayId=eigw)
    table(["dual-b"], DestinationCidrBlock="0.0.0.0/0", NatGatewayId=ids["nat"])
    ids["s3-endpoint"] = estate.gateway_endpoint(vpc, "s3", [ids["private-rtb"]])
    ids["partner-list"] = estate.prefix_list("partner", ["52.94.0.0/22", "35.71.64.0/22"])
    ec2.create_route(RouteTableId=ids["private-rtb"], DestinationPrefixListId=ids["partner-list"],
                     NatGatewayId=ids["nat"])
    ids["firewall-endpoint"] = estate.gwlb_endpoint(vpc, ids["firewall"])
    ids["firewall-rtb"] = table(["firewall"], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ids["nat-fw-gw"] = estate.nat_gateway(ids["nat-fw"])
    ids["nat-fw-rtb"] = table(["nat-fw"], DestinationCidrBlock="0.0.0.0/0", VpcEndpointId=ids["firewall-endpoint"])
    ids["inspected-rtb"] = table(["inspected"], DestinationCidrBlock="0.0.0.0/0", NatGatewayId=ids["nat-fw-gw"])
    table(["bypass"], DestinationCidrBlock="0.0.0.0/0", VpcEndpointId=ids["firewall-endpoint"])
    return ids


def failed_invocation(handler, event: dict, context=None) -> dict:
    """The error response an invocation that failed carries: the handler raises (Lambda records a function
    error: the Errors metric, the asynchronous retries, the on-failure destination see it)."""
    import pytest

    from lambda_vpc_rules.rdk.handler import InvocationFailed

    with pytest.raises(InvocationFailed) as failed:
        handler(event, context)
    return failed.value.response


@dataclass
class LambdaContext:
    """What the Lambda runtime passes as `context`, as far as the handler reads it."""

    remaining_ms: int = 900_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
