"""`lambda-vpc-rules deploy`: put the pack into an account, or into every account of an organization; in one
region or several. The design and the AWS limits behind it are in docs/deploying.md.

Each account runs its own rule functions, in two stacks from the package's templates (`stacks.py`): the role
once (home region; IAM is global), the functions in every region evaluated. One account (this module):

1. pre-flight (`preflight.py`): everything that can be checked before changing anything; a problem stops here;
2. the bundles built (handler, core, pinned rdklib) and uploaded to each region's bucket under a key named by
   their content hash (a code change always reaches the functions; the same code keeps its key and is not sent
   again), with the conformance pack template beside them; optionally signed with AWS Signer;
3. the IAM stack (home region), then the functions stack in each region: created, updated, or left alone;
4. the rules: the conformance pack (default) or plain Config rules read from the same template (`mode="rules"`),
   in each region; the pack's deployment status read back.

A whole organization (`organization=True`) is `org.py`: the same stacks through service-managed StackSets with
automatic deployment, and the organization conformance pack.
"""

from __future__ import annotations

from ...core.rules import RULES
from ..packaging import FUNCTIONS_TEMPLATE, IAM_TEMPLATE, PACK_TEMPLATE, conformance_pack, template_text
from .org import deploy_organization
from .preflight import preflight
from .record import write_record
from .status import account_placements
from .steps import (  # the steps; also what deploy's callers use of them
    DeployError,
    DeployOptions,
    DeployResult,
    Progress,
    RegionalClients,
    apply_stack,
    check_options,
    config_rules_from_pack,
    deployment_tags,
    functions_parameters,
    iam_parameters,
    resolve_regions,
    step,
    upload_artifacts,
    wait_for_pack,
)

# ------------------------------------------------------------------------------------------ one account


def deploy(clients: RegionalClients, options: DeployOptions, progress: Progress = lambda message: None) -> DeployResult:
    identity = clients("sts").get_caller_identity()
    account_id = identity["Account"]
    regions = resolve_regions(options.regions, clients)
    check_options(options, regions)
    report = preflight(clients, options, regions, identity, progress)
    if report.problems:
        raise PreflightFailed(report.problems)
    if options.organization:
        return deploy_organization(clients, options, regions, identity, report, progress)

    owner = options.bucket_owner or account_id
    artifacts = upload_artifacts(clients, options, regions, progress, owner)
    step(progress, f"stack {options.iam_stack_name} ({clients.home_region})",
         apply_stack(clients("cloudformation"), options.iam_stack_name, template_text(IAM_TEMPLATE),
                     iam_parameters(options), options)[0])
    functions: dict[str, str] = {}
    for region in regions:
        action, outputs = apply_stack(clients("cloudformation", region), options.stack_name,
                                      template_text(FUNCTIONS_TEMPLATE),
                                      functions_parameters(options, region, artifacts), options)
        step(progress, f"stack {options.stack_name} ({region})", action)
        if region == clients.home_region:
            functions = {rule.config_rule_name: outputs[f"{rule.logical_id}FunctionArn"] for rule in RULES}

    pack_inputs = options.pack_inputs
    for region in regions:
        config = clients("config", region)
        if options.mode == "rules":
            partition = identity["Arn"].split(":")[1]
            for rule in config_rules_from_pack(conformance_pack(), pack_inputs, partition, account_id, region):
                config.put_config_rule(ConfigRule=rule, Tags=deployment_tags(options))
            progress(f"{region}: registered {len(RULES)} Config rules")
        else:
            config.put_conformance_pack(  # the template itself: no S3 object anyone could replace meanwhile
                ConformancePackName=options.pack_name,
                TemplateBody=template_text(PACK_TEMPLATE),
                ConformancePackInputParameters=[{"ParameterName": k, "ParameterValue": v}
                                                for k, v in pack_inputs.items()],
            )
            progress(f"{region}: conformance pack {options.pack_name} submitted")
    if options.mode == "pack":
        for region in regions:
            wait_for_pack(clients("config", region), options, region, progress)
    write_record(clients, options, regions, artifacts, owner, identity, progress, extra={
        "organization": False, "pack_name": options.pack_name if options.mode == "pack" else None,
        "config_rules": [rule.config_rule_name for rule in RULES] if options.mode == "rules" else []})
    rows = account_placements(clients, options, regions, account_id)
    result = DeployResult(account_id, artifacts.prefix, regions, functions, [rule.config_rule_name for rule in RULES],
                          rows=rows, notes=report.notes + artifacts.notes)
    result.failures = [failure for row in rows for failure in row.failures()]
    return result


class PreflightFailed(DeployError):
    def __init__(self, problems: list[str]):
        super().__init__(f"pre-flight found {len(problems)} problem(s); nothing was changed")
        self.problems = problems
