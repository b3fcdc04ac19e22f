"""`rdk test-local` tests of LAMBDA_VPC_MULTI_AZ (lambda-vpc-multi-az): its handler, invoked as AWS Config
invokes it, on an account described as AWS answers it (rdk_test_support.Estate: every answer checked
against botocore's model). The rule's whole verdict table is tested in the repository's tests/; these run wherever
RDK runs."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # rules/: rdk_test_support

import LAMBDA_VPC_MULTI_AZ as handler  # noqa: E402  (RDK puts the rule folder on the path)
import rdk_test_support  # noqa: E402

RULE = "lambda-vpc-multi-az"


class MultiAz(rdk_test_support.RuleTestCase):
    def test_a_function_outside_a_vpc_is_not_applicable_without_reading_the_network(self):
        self.aws.function_subnets = []
        self.assertEqual(self.aws.verdict(handler, RULE)[0], "NOT_APPLICABLE")
        self.assertEqual(self.aws.calls, ["PutEvaluations"])

    def test_subnets_in_two_zones_are_compliant(self):
        self.assertEqual(self.aws.verdict(handler, RULE)[0], "COMPLIANT")

    def test_subnets_in_one_zone_are_not(self):
        self.aws.subnets["subnet-private-b"].update(AvailabilityZone="us-east-1a", AvailabilityZoneId="use1-az1")
        compliance, annotation = self.aws.verdict(handler, RULE)
        self.assertEqual(compliance, "NON_COMPLIANT")
        self.assertIn("use1-az1", annotation)

    def test_the_minimum_is_a_parameter(self):
        compliance, _ = self.aws.verdict(handler, RULE, {"MinAvailabilityZones": "3"})
        self.assertEqual(compliance, "NON_COMPLIANT")


if __name__ == "__main__":
    unittest.main()
