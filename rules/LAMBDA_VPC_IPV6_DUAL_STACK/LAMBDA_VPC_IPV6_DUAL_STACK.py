"""AWS Config custom rule LAMBDA_VPC_IPV6_DUAL_STACK (Config rule lambda-vpc-ipv6-dual-stack).

Thin: the logic lives in the shared core, lambda_vpc_rules.rules.ipv6_dual_stack.
"""

from lambda_vpc_rules.rdk import evaluator_for

EVALUATOR = evaluator_for("LAMBDA_VPC_IPV6_DUAL_STACK")


def lambda_handler(event, context):
    return EVALUATOR.handle(event, context)
