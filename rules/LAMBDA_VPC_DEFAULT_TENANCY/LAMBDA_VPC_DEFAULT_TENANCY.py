"""AWS Config custom rule LAMBDA_VPC_DEFAULT_TENANCY (Config rule lambda-vpc-default-tenancy).

Thin: the logic lives in the shared core, the lambda_vpc_rules package.
"""

from lambda_vpc_rules.rdk import evaluator_for

EVALUATOR = evaluator_for("LAMBDA_VPC_DEFAULT_TENANCY")


def lambda_handler(event, context):
    return EVALUATOR.handle(event, context)
