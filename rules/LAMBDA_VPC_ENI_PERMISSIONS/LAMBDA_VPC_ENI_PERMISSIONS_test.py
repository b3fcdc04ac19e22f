"""`rdk test-local` tests of LAMBDA_VPC_ENI_PERMISSIONS (lambda-vpc-eni-permissions): its handler, invoked as AWS Config
invokes it, on an account described as AWS answers it (rdk_test_support.Estate: every answer checked
against botocore's model). The rule's whole verdict table is tested in the repository's tests/; these run wherever
RDK runs."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # rules/: rdk_test_support

import LAMBDA_VPC_ENI_PERMISSIONS as handler  # noqa: E402  (RDK puts the rule folder on the path)
import rdk_test_support  # noqa: E402

RULE = "lambda-vpc-eni-permissions"


class EniPermissions(rdk_test_support.RuleTestCase):
    def test_a_function_outside_a_vpc_is_not_applicable_without_reading_the_network(self):
        self.aws.function_subnets = []
        self.assertEqual(self.aws.verdict(handler, RULE)[0], "NOT_APPLICABLE")
        self.assertEqual(self.aws.calls, ["PutEvaluations"])

    def test_a_role_allowed_the_six_actions_is_compliant(self):
        self.assertEqual(self.aws.verdict(handler, RULE)[0], "COMPLIANT")
        self.assertIn("GetRole", self.aws.calls)

    def test_a_role_without_them_is_not(self):
        self.aws.inline_policies = {}
        compliance, annotation = self.aws.verdict(handler, RULE)
        self.assertEqual(compliance, "NON_COMPLIANT")
        self.assertIn("cannot manage ENIs", annotation)

    def test_a_deny_wins(self):
        self.aws.inline_policies["deny"] = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Action": "ec2:DeleteNetworkInterface", "Resource": "*"}]}
        compliance, annotation = self.aws.verdict(handler, RULE)
        self.assertEqual(compliance, "NON_COMPLIANT")
        self.assertIn("ec2:DeleteNetworkInterface", annotation)


if __name__ == "__main__":
    unittest.main()
