"""Input adapters for `check`: CloudFormation, SAM and Terraform plans -> the facts the rules read."""
