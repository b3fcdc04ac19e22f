"""`rdk test-local` tests of LAMBDA_VPC_IPV6_DUAL_STACK (lambda-vpc-ipv6-dual-stack): its handler, invoked as AWS Config
invokes it, on an account described as AWS answers it (rdk_test_support.Estate: every answer checked
against botocore's model). The rule's whole verdict table is tested in the repository's tests/; these run wherever
RDK runs."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # rules/: rdk_test_support

import LAMBDA_VPC_IPV6_DUAL_STACK as handler  # noqa: E402  (RDK puts the rule folder on the path)
import rdk_test_support  # noqa: E402

RULE = "lambda-vpc-ipv6-dual-stack"


class Ipv6DualStack(rdk_test_support.RuleTestCase):
    def test_a_function_outside_a_vpc_is_not_applicable_without_reading_the_network(self):
        self.aws.function_subnets = []
        self.assertEqual(self.aws.verdict(handler, RULE)[0], "NOT_APPLICABLE")
        self.assertEqual(self.aws.calls, ["PutEvaluations"])

    def test_ipv4_subnets_without_dual_stack_are_compliant(self):
        self.assertEqual(self.aws.verdict(handler, RULE)[0], "COMPLIANT")

    def test_dual_stack_subnets_unused_by_the_function_are_not(self):
        for number, subnet in enumerate(("subnet-private-a", "subnet-private-b")):
            self.aws.subnets[subnet]["Ipv6CidrBlockAssociationSet"] = [{
                "AssociationId": f"subnet-cidr-assoc-{number}", "Ipv6CidrBlock": f"2600:1f18:abcd:12{number}0::/64",
                "Ipv6CidrBlockState": {"State": "associated"}}]
        self.assertEqual(self.aws.verdict(handler, RULE)[0], "NON_COMPLIANT")
        self.aws.evaluations.clear()
        self.assertEqual(self.aws.verdict(handler, RULE, {"RequireDualStackWhenAvailable": "false"})[0], "COMPLIANT")

    def test_dual_stack_asked_of_ipv4_subnets_is_not(self):
        self.aws.ipv6_allowed = True
        compliance, annotation = self.aws.verdict(handler, RULE)
        self.assertEqual(compliance, "NON_COMPLIANT")
        self.assertIn("subnet-private-a", annotation)


if __name__ == "__main__":
    unittest.main()
