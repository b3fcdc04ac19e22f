"""lambda-vpc-rules: AWS Config rules for Lambda functions attached to a VPC."""

__version__ = "0.1.0"
