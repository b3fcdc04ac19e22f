"""The CloudFormation Lambda Hook: the rules before CloudFormation creates or updates a function."""
