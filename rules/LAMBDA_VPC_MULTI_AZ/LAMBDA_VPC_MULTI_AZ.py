"""AWS Config custom rule LAMBDA_VPC_MULTI_AZ (Config rule lambda-vpc-multi-az).

Thin: the logic lives in the shared core, the lambda_vpc_rules package.
"""

from lambda_vpc_rules.rdk import evaluator_for

EVALUATOR = evaluator_for("LAMBDA_VPC_MULTI_AZ")


def lambda_handler(event, context):
    return EVALUATOR.handle(event, context)
