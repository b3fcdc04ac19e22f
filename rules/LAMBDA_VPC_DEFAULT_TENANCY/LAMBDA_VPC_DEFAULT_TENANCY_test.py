"""`rdk test-local` tests of LAMBDA_VPC_DEFAULT_TENANCY (lambda-vpc-default-tenancy): its handler, invoked as AWS Config
invokes it, on an account described as AWS answers it (rdk_test_support.Estate: every answer checked
against botocore's model). The rule's whole verdict table is tested in the repository's tests/; these run wherever
RDK runs."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # rules/: rdk_test_support

import LAMBDA_VPC_DEFAULT_TENANCY as handler  # noqa: E402  (RDK puts the rule folder on the path)
import rdk_test_support  # noqa: E402

RULE = "lambda-vpc-default-tenancy"


class DefaultTenancy(rdk_test_support.RuleTestCase):
    def test_a_function_outside_a_vpc_is_not_applicable_without_reading_the_network(self):
        self.aws.function_subnets = []
        self.assertEqual(self.aws.verdict(handler, RULE)[0], "NOT_APPLICABLE")
        self.assertEqual(self.aws.calls, ["PutEvaluations"])

    def test_a_vpc_of_default_tenancy_is_compliant(self):
        self.assertEqual(self.aws.verdict(handler, RULE)[0], "COMPLIANT")

    def test_a_dedicated_vpc_is_not(self):
        self.aws.vpc["InstanceTenancy"] = "dedicated"
        compliance, annotation = self.aws.verdict(handler, RULE)
        self.assertEqual(compliance, "NON_COMPLIANT")
        self.assertIn("vpc-0a1b2c3d", annotation)
        self.assertIn("dedicated", annotation)

    def test_an_ec2_error_is_no_verdict_and_fails_the_invocation(self):
        self.aws.errors["DescribeVpcs"] = "UnauthorizedOperation"
        with self.assertRaises(RuntimeError) as failed:  # lambda_vpc_rules.rdk.handler.InvocationFailed
            handler.lambda_handler(self.aws.change_event(RULE), None)
        self.assertEqual(failed.exception.response["customerErrorCode"], "UnauthorizedOperation")
        self.assertEqual(self.aws.evaluations, [])


if __name__ == "__main__":
    unittest.main()
