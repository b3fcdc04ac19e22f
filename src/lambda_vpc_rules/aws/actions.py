"""The IAM actions behind every AWS call the rule functions make, by the module that makes them.

The roles in rdk_config/ grant exactly `READ_ACTIONS | RDKLIB_ACTIONS` (plus sts:AssumeRole for rdklib's
cross-account role); tests/test_permissions.py checks them against the calls the code really makes, and
that each module below calls exactly the operations listed for it. sts:GetCallerIdentity needs no grant.
"""

from __future__ import annotations

ACTIONS_BY_MODULE = {
    "facts": frozenset({
        "ec2:DescribeNatGateways", "ec2:DescribeRouteTables", "ec2:DescribeSubnets", "ec2:DescribeVpcs",
        "ec2:DescribeVpcEndpoints", "ec2:DescribeManagedPrefixLists", "ec2:GetManagedPrefixListEntries",
        "iam:GetAccountAuthorizationDetails", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:GetRole",
        "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies",
        "lambda:ListFunctions", "tag:GetResources",
    }),
    "drift": frozenset({"config:SelectResourceConfig", "iam:ListEntitiesForPolicy", "ec2:DescribeRouteTables"}),
    "config": frozenset({
        "config:GetComplianceDetailsByConfigRule", "config:DescribeConfigRules",
        "config:DescribeAggregateComplianceByConfigRules", "config:GetAggregateComplianceDetailsByConfigRule",
        "config:DescribeConfigRuleEvaluationStatus",
    }),
    # an audit period's AWS Config compliance history (evidence --from --to --config-history): not granted to the
    # rule roles
    "history": frozenset({"config:ListDiscoveredResources", "config:GetResourceConfigHistory"}),
    # many accounts and regions in one run (scan/evidence --accounts/--regions): not granted to the rule roles
    "organization": frozenset({"organizations:ListAccounts", "sts:AssumeRole", "ec2:DescribeRegions"}),
    # the SCP chain of each account, in a scan over the organization's accounts (the caller's, not the rule roles)
    "organization_policies": frozenset({
        "organizations:DescribeOrganization", "organizations:ListParents", "organizations:ListPoliciesForTarget",
        "organizations:DescribePolicy",
    }),
    # the exceptions register: the handlers read the published object (granted on the register's bucket only,
    # REGISTER_ACTIONS); publish and scan resolve OUs (not granted to the rule roles)
    "register": frozenset({"s3:GetObject", "organizations:ListAccountsForParent",
                           "organizations:ListOrganizationalUnitsForParent"}),
    # the published SCP chains: the ENI rule's handler reads the object (granted on its bucket only,
    # SCP_CHAINS_ACTIONS); `scps publish` reads them with organization_policies and writes with s3:PutObject
    "scp_chains": frozenset({"s3:GetObject"}),
}
# What the rule functions read: the facts, the drift queries, and of AWS Config's view only what the
# scheduled clean-up reads (the other Config reads serve `evidence` and `scan --skip-config-rules`; the
# organization reads serve a scan or evidence over many accounts and regions).
READ_ACTIONS = ACTIONS_BY_MODULE["facts"] | ACTIONS_BY_MODULE["drift"] | {"config:GetComplianceDetailsByConfigRule"}
# The AWS Config calls the handler makes through rdklib's clients: evaluations out, and the configuration
# history of an oversized item (read by rdklib's init_event).
RDKLIB_ACTIONS = frozenset({"config:PutEvaluations", "config:GetResourceConfigHistory"})
# What the rule functions' role is granted on the exceptions register's bucket only, when one is named
# (templates/account-iam.yaml, parameter ExceptionsRegisterBucket).
REGISTER_ACTIONS = frozenset({"s3:GetObject"})
# ... and on the published SCP chains' bucket only (parameter ScpChainsBucket).
SCP_CHAINS_ACTIONS = frozenset({"s3:GetObject"})


def action_for(operation_name: str) -> str:
    """The IAM action behind an operation the rules call (for messages naming a missing permission)."""
    every = frozenset().union(*ACTIONS_BY_MODULE.values()) | RDKLIB_ACTIONS | REGISTER_ACTIONS | {"sts:AssumeRole"}
    known = {action.split(":")[1]: action for action in every}
    return known.get(operation_name, operation_name)
