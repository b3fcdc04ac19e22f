"""`rdk test-local` tests of LAMBDA_VPC_PRIVATE_SUBNET_NAT (lambda-vpc-private-subnet-nat): its handler, invoked
as AWS Config invokes it, on an account described as AWS answers it (rdk_test_support.Estate: every answer checked
against botocore's model). The rule's whole verdict table is tested in the repository's tests/; these run wherever
RDK runs."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # rules/: rdk_test_support

import LAMBDA_VPC_PRIVATE_SUBNET_NAT as handler  # noqa: E402  (RDK puts the rule folder on the path)
import rdk_test_support  # noqa: E402

RULE = "lambda-vpc-private-subnet-nat"


class PrivateSubnetNat(rdk_test_support.RuleTestCase):
    def test_a_function_outside_a_vpc_is_not_applicable_without_reading_the_network(self):
        self.aws.function_subnets = []
        self.assertEqual(self.aws.verdict(handler, RULE)[0], "NOT_APPLICABLE")
        self.assertEqual(self.aws.calls, ["PutEvaluations"])

    def test_private_subnets_behind_an_available_public_nat_gateway_are_compliant(self):
        self.assertEqual(self.aws.verdict(handler, RULE)[0], "COMPLIANT")

    def test_a_deleted_nat_gateway_is_not(self):
        self.aws.nat_gateways[0]["State"] = "deleted"
        compliance, annotation = self.aws.verdict(handler, RULE)
        self.assertEqual(compliance, "NON_COMPLIANT")
        self.assertIn("nat-0a1b2c3d", annotation)

    def test_a_subnet_routed_to_an_internet_gateway_is_public(self):
        self.aws.route_tables[1]["Routes"][1] = {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-0a1b2c3d",
                                                 "State": "active"}
        compliance, annotation = self.aws.verdict(handler, RULE, {"RequireInternetAccess": "false"})
        self.assertEqual(compliance, "NON_COMPLIANT")
        self.assertIn("subnet-private-a", annotation)


if __name__ == "__main__":
    unittest.main()
