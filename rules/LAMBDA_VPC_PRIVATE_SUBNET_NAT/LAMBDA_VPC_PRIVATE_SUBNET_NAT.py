"""AWS Config custom rule LAMBDA_VPC_PRIVATE_SUBNET_NAT (Config rule lambda-vpc-private-subnet-nat).

Thin: the logic lives in the shared core, lambda_vpc_rules.rules.private_subnet_nat.
"""

from lambda_vpc_rules.rdk import evaluator_for

EVALUATOR = evaluator_for("LAMBDA_VPC_PRIVATE_SUBNET_NAT")


def lambda_handler(event, context):
    return EVALUATOR.handle(event, context)
