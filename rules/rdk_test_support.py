"""What the rule folders' tests (`rdk test-local`) share: an account described as AWS answers it, and AWS Config's
events.

`Estate` answers, through boto3's default session (rdklib builds its clients there), exactly the calls a rule's
handler makes for one function: EC2's subnets, VPCs, route tables and NAT gateways (filtered as asked), IAM's role
and its policies, and AWS Config's PutEvaluations, which it keeps. Each answer is checked against botocore's model
of the operation before botocore returns it; a call nobody expected fails the test. Out of the box every rule finds
the function compliant: two private subnets in two Availability Zones, routed to an available public NAT gateway, in
a VPC of default tenancy, without IPv6, and a role allowed the network-interface actions Lambda needs.

It needs boto3 and rdklib only (what `rdk test-local` runs with); the lambda_vpc_rules package comes from `make rdk`
(vendored into each folder) or an installed lambda-vpc-rules.
"""

from __future__ import annotations

import copy
import json
import unittest
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator

ACCOUNT = "123456789012"
REGION = "us-east-1"
CAPTURE_TIME = "2026-11-24T12:00:00.000Z"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/app-role"
ENI_ACTIONS = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
               "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]


def _subnet(subnet_id: str, cidr: str, zone: str, zone_id: str) -> dict[str, Any]:
    return {"SubnetId": subnet_id, "VpcId": "vpc-0a1b2c3d", "CidrBlock": cidr, "AvailabilityZone": zone,
            "AvailabilityZoneId": zone_id, "MapPublicIpOnLaunch": False, "State": "available",
            "Ipv6CidrBlockAssociationSet": []}


class Estate:
    def __init__(self) -> None:
        self.vpc = {"VpcId": "vpc-0a1b2c3d", "CidrBlock": "10.0.0.0/16", "InstanceTenancy": "default",
                    "State": "available"}
        self.subnets = {
            "subnet-private-a": _subnet("subnet-private-a", "10.0.1.0/24", "us-east-1a", "use1-az1"),
            "subnet-private-b": _subnet("subnet-private-b", "10.0.2.0/24", "us-east-1b", "use1-az2"),
            "subnet-public": _subnet("subnet-public", "10.0.0.0/24", "us-east-1a", "use1-az1"),
        }
        self.route_tables = [
            {"RouteTableId": "rtb-public", "VpcId": "vpc-0a1b2c3d",
             "Routes": [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"},
                        {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-0a1b2c3d", "State": "active"}],
             "Associations": [{"SubnetId": "subnet-public", "Main": False,
                               "AssociationState": {"State": "associated"}}]},
            {"RouteTableId": "rtb-private", "VpcId": "vpc-0a1b2c3d",
             "Routes": [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"},
                        {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-0a1b2c3d", "State": "active"}],
             "Associations": [{"SubnetId": s, "Main": False, "AssociationState": {"State": "associated"}}
                              for s in ("subnet-private-a", "subnet-private-b")]},
        ]
        self.nat_gateways = [{"NatGatewayId": "nat-0a1b2c3d", "SubnetId": "subnet-public", "VpcId": "vpc-0a1b2c3d",
                              "State": "available", "ConnectivityType": "public"}]
        self.inline_policies = {"eni": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ENI_ACTIONS, "Resource": "*"}]}}
        self.function_subnets = ["subnet-private-a", "subnet-private-b"]
        self.ipv6_allowed = False
        self.errors: dict[str, str] = {}  # operation -> error code to answer with
        self.calls: list[str] = []
        self.evaluations: list[dict[str, Any]] = []

    # ------------------------------------------------------------------------------------------ events

    def configuration_item(self) -> dict[str, Any]:
        """The function's AWS::Lambda::Function configuration item, as AWS Config sends it."""
        configuration: dict[str, Any] = {
            "functionName": "orders-api", "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-api",
            "runtime": "python3.12", "role": ROLE_ARN, "handler": "app.handler", "timeout": 3, "memorySize": 128,
            "version": "$LATEST", "packageType": "Zip", "layers": [], "architectures": ["x86_64"]}
        if self.function_subnets:
            configuration["vpcConfig"] = {"subnetIds": list(self.function_subnets), "securityGroupIds": ["sg-1"],
                                          "ipv6AllowedForDualStack": self.ipv6_allowed}
        return {
            "relatedEvents": [], "relationships": [], "configuration": configuration,
            "supplementaryConfiguration": {}, "tags": {}, "configurationItemVersion": "1.3",
            "configurationItemCaptureTime": CAPTURE_TIME, "configurationStateId": 1700000000000,
            "awsAccountId": ACCOUNT, "configurationItemStatus": "OK", "resourceType": "AWS::Lambda::Function",
            "resourceId": "orders-api", "resourceName": "orders-api", "ARN": configuration["functionArn"],
            "awsRegion": REGION, "availabilityZone": "Not Applicable", "configurationStateMd5Hash": "",
            "resourceCreationTime": CAPTURE_TIME,
        }

    def change_event(self, rule_name: str, parameters: dict[str, str] | None = None) -> dict[str, Any]:
        """The event AWS Config sends a custom rule when the function changes, with the pack's parameters."""
        invoking = {"configurationItemDiff": None, "configurationItem": self.configuration_item(),
                    "notificationCreationTime": CAPTURE_TIME, "messageType": "ConfigurationItemChangeNotification",
                    "recordVersion": "1.3"}
        return {"version": "1.0", "invokingEvent": json.dumps(invoking),
                "ruleParameters": json.dumps({"AssumeRoleMode": "false", **(parameters or {})}),
                "resultToken": "result-token-from-config", "eventLeftScope": False,
                "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/config-role",
                "configRuleArn": f"arn:aws:config:{REGION}:{ACCOUNT}:config-rule/config-rule-abc123",
                "configRuleName": rule_name, "configRuleId": "config-rule-abc123", "accountId": ACCOUNT,
                "evaluationMode": "DETECTIVE"}

    def verdict(self, handler: Any, rule_name: str, parameters: dict[str, str] | None = None) -> tuple[str, str]:
        """(compliance, annotation) the handler puts for the function on a change event."""
        response = handler.lambda_handler(self.change_event(rule_name, parameters), None)
        if isinstance(response, dict):
            raise AssertionError(f"the handler answered an error: {response}")
        [evaluation] = [e for e in self.evaluations if e["ComplianceResourceId"] == "orders-api"]
        return evaluation["ComplianceType"], evaluation.get("Annotation", "")

    # ------------------------------------------------------------------------------------------ AWS

    def install(self) -> Estate:
        boto3.setup_default_session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
        events = boto3.DEFAULT_SESSION.events
        events.register("before-parameter-build", _keep_params)
        events.register("before-call", self._answer)
        return self

    def uninstall(self) -> None:
        boto3.DEFAULT_SESSION = None

    def _answer(self, model: Any, context: dict[str, Any], **_: Any):
        params = context.get("rdk_test_params", {})
        name = model.name
        self.calls.append(name)
        if name in self.errors:
            return AWSResponse("https://aws.test", 400, {}, None), {
                "Error": {"Code": self.errors[name], "Message": "refused by the test"},
                "ResponseMetadata": {"HTTPStatusCode": 400}}
        handler = getattr(self, f"_{name}", None)
        if handler is None:
            raise AssertionError(f"a call the test does not answer: {model.service_model.service_name}:{name}")
        answer = handler(params)
        report = ParamValidator().validate(answer, model.output_shape)
        if report.has_errors():
            raise AssertionError(f"the test's answer does not fit {name}: {report.generate_report()}")
        return AWSResponse("https://aws.test", 200, {}, None), answer

    @staticmethod
    def _filtered(items: list[dict[str, Any]], params: dict[str, Any], keys: dict[str, str]) -> list[dict[str, Any]]:
        for selection in params.get("Filters") or params.get("Filter") or ():
            key = keys[selection["Name"]]
            items = [item for item in items if item.get(key) in selection["Values"]]
        return copy.deepcopy(items)

    def _DescribeSubnets(self, params):
        return {"Subnets": self._filtered(list(self.subnets.values()), params,
                                          {"subnet-id": "SubnetId", "vpc-id": "VpcId"})}

    def _DescribeVpcs(self, params):
        return {"Vpcs": self._filtered([self.vpc], params, {"vpc-id": "VpcId"})}

    def _DescribeRouteTables(self, params):
        return {"RouteTables": self._filtered(self.route_tables, params, {"vpc-id": "VpcId"})}

    def _DescribeNatGateways(self, params):
        return {"NatGateways": self._filtered(self.nat_gateways, params,
                                              {"nat-gateway-id": "NatGatewayId", "vpc-id": "VpcId"})}

    def _GetRole(self, params):
        return {"Role": {"Path": "/", "RoleName": params["RoleName"], "RoleId": "AROAEXAMPLEAPPROLE01", "Arn": ROLE_ARN,
                         "CreateDate": CAPTURE_TIME, "AssumeRolePolicyDocument": "{}"}}

    def _ListRolePolicies(self, params):
        return {"PolicyNames": sorted(self.inline_policies), "IsTruncated": False}

    def _GetRolePolicy(self, params):
        return {"RoleName": params["RoleName"], "PolicyName": params["PolicyName"],
                "PolicyDocument": json.dumps(self.inline_policies[params["PolicyName"]])}

    def _ListAttachedRolePolicies(self, params):
        return {"AttachedPolicies": [], "IsTruncated": False}

    def _PutEvaluations(self, params):
        self.evaluations += params["Evaluations"]
        return {"FailedEvaluations": []}


def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["rdk_test_params"] = dict(params)


class RuleTestCase(unittest.TestCase):
    """A rule folder's tests: each on a fresh `Estate`, answered as AWS answers (`self.aws`)."""

    def setUp(self):
        self.aws = Estate().install()

    def tearDown(self):
        self.aws.uninstall()
