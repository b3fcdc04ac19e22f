"""AWS Config custom rule LAMBDA_VPC_IPV6_DUAL_STACK (Config rule lambda-vpc-ipv6-dual-stack).

Thin: the logic lives in the shared core, the lambda_vpc_rules package.
"""

from lambda_vpc_rules.rdk import evaluator_for

EVALUATOR = evaluator_for("LAMBDA_VPC_IPV6_DUAL_STACK")


def lambda_handler(event, context):
    return EVALUATOR.handle(event, context)
