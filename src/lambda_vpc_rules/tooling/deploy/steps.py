"""The steps `deploy` and `deploy --organization` share: options, clients per region, artifacts uploaded once,
stacks applied (create, update or leave alone), the conformance pack read as Config rules. `deploy.py` runs
them for one account, `org.py` for an organization."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from ...aws.snapshots import Location
from ...errors import PackError
from ..packaging import (
    build_bundles,
    conformance_pack,
    pack_parameter_name,
)
from .stacks import DEFAULT_RETENTION_DAYS, EVALUATOR_ROLE_NAME, HOOK_BUNDLE, HOOK_FAILURE_MODES

Progress = Callable[[str], None]
REGION_PLACEHOLDER = "{region}"
# The deployment's identity: every stack, StackSet, S3 object, Config rule and aggregator deploy creates carries it,
# and destroy removes only what carries its own (docs/deployment-trust.md).
DEPLOYMENT_TAG = "lambda-vpc-rules:deployment"
DEFAULT_STACK_NAME = "lambda-vpc-rules"
SETTLED_PACK_STATES = ("CREATE_COMPLETE", "CREATE_FAILED", "DELETE_FAILED")  # DescribeConformancePackStatus


class DeployError(PackError):
    """A deployment step that failed in a way the user must act on; the message says which and why."""


class RegionalClients:
    """One client per (service, region), made by `make(service, region)` the first time it is asked for."""

    def __init__(self, make: Callable[[str, str], Any], home_region: str):
        self._make = make
        self.home_region = home_region
        self._clients: dict[tuple[str, str], Any] = {}

    def __call__(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.home_region)
        if key not in self._clients:
            self._clients[key] = self._make(*key)
        return self._clients[key]


@dataclass
class DeployOptions:
    bucket: str  # a bucket name, or a pattern holding {region}: each region's code comes from a bucket in it
    regions: list[str] = field(default_factory=list)  # empty: the home region only
    key_prefix: str = "lambda-vpc-rules/"
    stack_name: str = "lambda-vpc-rules"  # the functions stack in each region; the IAM stack is <name>-iam
    pack_name: str = "lambda-vpc-rules"
    mode: str = "pack"  # one account: "pack" (conformance pack) or "rules" (plain Config rules)
    organization: bool = False
    delegated_admin: bool = False  # organization: run from a delegated administrator (StackSets CallAs)
    excluded_accounts: list[str] = field(default_factory=list)
    pack_parameters: dict[str, str] = field(default_factory=dict)  # conformance pack parameter overrides
    log_retention_days: int = DEFAULT_RETENTION_DAYS
    signing_profile: str | None = None  # AWS Signer profile (same name in each region): code signing enforced
    allow_unsigned: bool = False  # organization: deploy without code signing, said so by status and the record
    bucket_owner: str | None = None  # the account owning the buckets (ExpectedBucketOwner); None: the deploying one
    reserved_concurrency: int | None = None
    snapshots: str | None = None  # s3://BUCKET/PREFIX: each scheduled run's verdicts (aws/snapshots.py)
    snapshot_kms_key: str | None = None  # the KMS key that signs them
    alarm_topic: str | None = None  # SNS topic ARN the alarms notify ({region}: one per region); None: one per region
    max_concurrent_percentage: int = 25  # StackSet operations: accounts at a time, per region
    failure_tolerance_percentage: int = 0  # StackSet operations: accounts that may fail before a region stops
    region_concurrency: str = "sequential"  # StackSet operations: regions one after another, or all at once
    aggregator: str | None = "lambda-vpc-rules"  # organization: the aggregator created or reused (None: none)
    waiter_delay: float = 10
    timeout: float = 3600  # seconds to wait for one stack, StackSet operation or conformance pack
    dist: Path | None = None  # where the bundles are built (default: a temporary directory)
    hook: str | None = None  # the CloudFormation Lambda Hook's FailureMode, FAIL or WARN (None: no hook)

    @property
    def iam_stack_name(self) -> str:
        return f"{self.stack_name}-iam"

    @property
    def deployment(self) -> str:
        """The deployment's identity: its stack name (the value of its DEPLOYMENT_TAG)."""
        return self.stack_name

    @property
    def role_name(self) -> str:
        """The functions' role: IAM is global, so each deployment has its own (the default one keeps its name)."""
        return EVALUATOR_ROLE_NAME if self.stack_name == DEFAULT_STACK_NAME else f"{self.stack_name}-evaluator"[:64]

    @property
    def remediation_role_name(self) -> str:
        """The remediation documents' role, per deployment as the functions' role is."""
        from ..remediation_documents import REMEDIATION_ROLE_NAME

        return REMEDIATION_ROLE_NAME if self.stack_name == DEFAULT_STACK_NAME else f"{self.stack_name}-remediation"[:64]

    @property
    def pack_inputs(self) -> dict[str, str]:
        """The pack parameters deploy passes: the user's, and the deployment's own documents' role."""
        from ..remediation_documents import REMEDIATION_ROLE_PARAMETER

        return {**self.pack_parameters, REMEDIATION_ROLE_PARAMETER: self.remediation_role_name}

    @property
    def code_root(self) -> str:
        """The deployment's own key prefix in the buckets: nothing outside it is read, written or deleted."""
        return f"{self.key_prefix}{self.stack_name}/"


def functions_stack_set(options: DeployOptions, region: str) -> str:
    return f"{options.stack_name}-{region}"


def deployment_tags(options: DeployOptions) -> list[dict[str, str]]:
    return [{"Key": DEPLOYMENT_TAG, "Value": options.deployment}]


def tagged_by(tags: Any, options: DeployOptions) -> bool:
    """Whether `tags` (a list of Key/Value, or a mapping) carry this deployment's identity."""
    if isinstance(tags, dict):
        return tags.get(DEPLOYMENT_TAG) == options.deployment
    return any(t.get("Key") == DEPLOYMENT_TAG and t.get("Value") == options.deployment for t in tags or ())


@dataclass
class Artifacts:
    """What was uploaded: the key prefix (content hash) and, per region, where the code is and who signed it."""

    prefix: str
    code_prefix: dict[str, str]  # region -> key prefix of the functions' code (signed code under signed/)
    signing_arns: dict[str, str] = field(default_factory=dict)  # region -> signing profile version ARN
    owner: str = ""  # the buckets' owner (ExpectedBucketOwner on every S3 call)
    versions: dict[str, dict[str, str]] = field(default_factory=dict)  # region -> bundle name -> S3 version deployed
    digest: str = ""  # SHA-256 of the bundles, in rule order
    notes: list[str] = field(default_factory=list)  # objects found altered and replaced


@dataclass
class DeployResult:
    account_id: str
    code_prefix: str
    regions: list[str]
    function_arns: dict[str, str]  # home region
    config_rules: list[str]
    member_accounts: list[str] = field(default_factory=list)
    rows: list[Any] = field(default_factory=list)  # status.Placement, one per account and region
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "code_prefix": self.code_prefix, "regions": self.regions,
                "functions": self.function_arns, "config_rules": self.config_rules,
                "member_accounts": self.member_accounts, "placements": [row.as_json() for row in self.rows],
                "failures": self.failures, "notes": self.notes}


def bucket_name(pattern: str, region: str) -> str:
    return pattern.replace(REGION_PLACEHOLDER, region)


def resolve_regions(requested: list[str], clients: RegionalClients) -> list[str]:
    """The regions to deploy to: as given, `all` for every region enabled in this account (EC2 DescribeRegions
    lists only enabled ones), or the home region. The home region comes first."""
    if requested == ["all"]:
        answer = clients("ec2").describe_regions()
        requested = sorted(region["RegionName"] for region in answer["Regions"])
    regions = list(dict.fromkeys(requested or [clients.home_region]))
    if clients.home_region in regions:
        regions.remove(clients.home_region)
        regions.insert(0, clients.home_region)
    return regions


def check_options(options: DeployOptions, regions: list[str]) -> None:
    """What the arguments alone say is wrong, before any AWS call but the region list."""
    check_key_prefix(options)
    if options.hook is not None and options.hook not in HOOK_FAILURE_MODES:
        raise DeployError(f"--hook {options.hook}: give {' or '.join(HOOK_FAILURE_MODES)}")
    if options.organization and not options.signing_profile and not options.allow_unsigned:
        raise DeployError("--organization needs --signing-profile (Lambda then runs only code your profile signed), "
                          "or --allow-unsigned to deploy unsigned code on purpose (status and the deployment record "
                          "say so)")
    if options.signing_profile and options.allow_unsigned:
        raise DeployError("--signing-profile and --allow-unsigned exclude each other")
    unknown = sorted(set(options.pack_parameters) - set(conformance_pack()["Parameters"]))
    if unknown:
        raise DeployError(f"the conformance pack has no parameter {', '.join(unknown)} (its parameters: "
                          f"{', '.join(conformance_pack()['Parameters'])})")
    register = options.pack_parameters.get("ExceptionsRegister")
    if register:
        from ...aws.register import parse_location
        from ...core.exceptions import RegisterError

        try:
            parse_location(register)
        except RegisterError as error:
            raise DeployError(str(error).removeprefix("exceptions register: ")) from None
    if options.pack_parameters.get("ScpChains"):
        from ...aws.scp_chains import parse_location as scp_location
        from ...core.scp import ScpDocumentError

        try:
            scp_location(options.pack_parameters["ScpChains"])
        except ScpDocumentError as error:
            raise DeployError(str(error)) from None
    check_bucket_pattern(options, regions)


def check_key_prefix(options: DeployOptions) -> None:
    """A prefix that names a place of its own: never empty or the whole bucket (destroy deletes under it)."""
    prefix = options.key_prefix
    if not prefix.strip("/") or prefix.startswith("/") or not prefix.endswith("/") or "//" in prefix:
        raise DeployError(f"--key-prefix {prefix!r}: give a folder of its own, such as lambda-vpc-rules/ (not empty, "
                          "not the bucket's root, ending in /)")


def check_bucket_pattern(options: DeployOptions, regions: list[str]) -> None:
    if len(regions) > 1 and REGION_PLACEHOLDER not in options.bucket:
        raise DeployError(f"--bucket {options.bucket}: a function's code must come from a bucket in its own region "
                          f"(Lambda CreateFunction); with several regions name the buckets with {REGION_PLACEHOLDER}, "
                          f"e.g. my-artifacts-{REGION_PLACEHOLDER}")


def step(progress: Progress, what: str, action: str) -> None:
    progress(f"{what}: {action}")


def wait_for_pack(config: Any, options: DeployOptions, region: str, progress: Progress) -> None:
    """Until the conformance pack's deployment settles (DescribeConformancePackStatus)."""
    deadline = time.monotonic() + options.timeout
    while True:
        answer = config.describe_conformance_pack_status(ConformancePackNames=[options.pack_name])
        states = [s["ConformancePackState"] for s in answer.get("ConformancePackStatusDetails") or ()]
        if states and all(state in SETTLED_PACK_STATES for state in states):
            progress(f"{region}: conformance pack {options.pack_name}: {', '.join(states)}")
            return
        if time.monotonic() > deadline:
            raise DeployError(f"{region}: conformance pack {options.pack_name} still {', '.join(states) or 'absent'} "
                              f"after {options.timeout:.0f} s; see lambda-vpc-rules status")
        time.sleep(options.waiter_delay)


# ------------------------------------------------------------------------------------------ artifacts


def upload_artifacts(clients: RegionalClients, options: DeployOptions, regions: list[str], progress: Progress,
                     owner: str) -> Artifacts:
    """The bundles into each region's bucket, under the deployment's prefix and their content hash. An object
    already at a key is reused only once its content is proven to be the bundle built here (its SHA-256 checksum,
    S3's own, read with ChecksumMode; or, when it has none, the object read and compared); otherwise it is replaced
    and said so. Every call names the buckets' owner (ExpectedBucketOwner). The version of each object is kept:
    the functions are pinned to it (S3ObjectVersion), so a later write to the key changes nothing deployed. With a
    signing profile, each bundle is signed in each region (AWS Signer signs an object version in its own region)
    and the signed copy kept under `signed/`."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        bundles = build_bundles(options.dist or Path(scratch), hook=options.hook is not None)
        contents = {path.name: path.read_bytes() for path in bundles}
    digest = hashlib.sha256(b"".join(contents.values())).hexdigest()
    prefix = f"{options.code_root}{digest[:16]}/"
    artifacts = Artifacts(prefix, {region: prefix for region in regions}, owner=owner, digest=digest)
    for region in regions:
        s3, bucket = clients("s3", region), bucket_name(options.bucket, region)
        actions = {}
        versions = {}
        for name, body in contents.items():
            versions[name], actions[name] = put_verified(s3, bucket, prefix + name, body, owner, options)
            if actions[name] == "replaced":
                note = (f"s3://{bucket}/{prefix}{name} held other bytes than the bundle built here: replaced (someone "
                        "with write access to the prefix changed it; see docs/deployment-trust.md)")
                artifacts.notes.append(note)
                progress(f"{region}: WARNING {note}")
        counts = {action: list(actions.values()).count(action) for action in ("uploaded", "verified", "replaced")}
        progress(f"{region}: s3://{bucket}/{prefix}: {counts['uploaded']} of {len(contents)} bundles uploaded, "
                 f"{counts['verified']} there already and proven the same, {counts['replaced']} replaced")
        artifacts.versions[region] = {name: version for name, version in versions.items() if version}
        if options.signing_profile:
            artifacts.code_prefix[region], artifacts.signing_arns[region], signed = _sign(
                clients("signer", region), s3, bucket, prefix, versions, list(contents), options, region, progress,
                owner)
            artifacts.versions[region] = {name: version for name, version in signed.items() if version}
    return artifacts


def sha256_b64(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def put_verified(s3: Any, bucket: str, key: str, body: bytes, owner: str, options: DeployOptions
                 ) -> tuple[str | None, str]:
    """(the version holding `body` at `key`, "uploaded" | "verified" | "replaced")."""
    existing = _head(s3, bucket, key, owner)
    if existing is not None and same_content(s3, bucket, key, existing, body, owner):
        return existing.get("VersionId"), "verified"
    answer = s3.put_object(Bucket=bucket, Key=key, Body=body, ChecksumSHA256=sha256_b64(body),
                           ExpectedBucketOwner=owner, Tagging=f"{DEPLOYMENT_TAG}={options.deployment}")
    return answer.get("VersionId"), "uploaded" if existing is None else "replaced"


def same_content(s3: Any, bucket: str, key: str, head: dict[str, Any], body: bytes, owner: str) -> bool:
    """Whether the object `head` describes holds exactly `body`: S3's SHA-256 checksum of the whole object when it
    has one (S3 computes and checks it on upload; a multipart object's `-N` composite is not a whole-object one),
    else the object itself, read at that version, compared."""
    checksum = head.get("ChecksumSHA256")
    if checksum and "-" not in checksum:
        return checksum == sha256_b64(body)
    version = {"VersionId": head["VersionId"]} if head.get("VersionId") not in (None, "null") else {}
    stored = s3.get_object(Bucket=bucket, Key=key, ExpectedBucketOwner=owner, **version)["Body"].read()
    return hashlib.sha256(stored).digest() == hashlib.sha256(body).digest()


def _head(s3: Any, bucket: str, key: str, owner: str) -> dict[str, Any] | None:
    try:
        return s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED", ExpectedBucketOwner=owner)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def _sign(signer: Any, s3: Any, bucket: str, prefix: str, versions: dict[str, str | None], names: list[str],
          options: DeployOptions, region: str, progress: Progress, owner: str
          ) -> tuple[str, str, dict[str, str | None]]:
    profile = signer.get_signing_profile(profileName=options.signing_profile)
    if profile.get("status") != "Active":
        raise DeployError(f"{region}: signing profile {options.signing_profile} is {profile.get('status')}, "
                          "not Active")
    signed_prefix = f"{prefix}signed/"
    jobs = {}
    signed_versions: dict[str, str | None] = {}
    for name in names:
        existing = _head(s3, bucket, signed_prefix + name, owner)
        if existing is not None:  # signed by an earlier run; Lambda accepts it only if the profile signed it
            signed_versions[name] = existing.get("VersionId")
            continue
        if not versions.get(name):
            raise DeployError(f"{region}: s3://{bucket} has no versioning; AWS Signer signs an object version: "
                              f"aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration "
                              "Status=Enabled")
        job = signer.start_signing_job(
            source={"s3": {"bucketName": bucket, "key": prefix + name, "version": versions[name]}},
            destination={"s3": {"bucketName": bucket, "prefix": f"{signed_prefix}job-"}},
            profileName=options.signing_profile)
        jobs[name] = job["jobId"]
    for name, job_id in jobs.items():
        try:
            signer.get_waiter("successful_signing_job").wait(
                jobId=job_id, WaiterConfig={"Delay": max(1, int(options.waiter_delay)), "MaxAttempts": 60})
        except WaiterError as error:
            raise DeployError(f"{region}: signing {name} failed: {error}") from None
        signed = signer.describe_signing_job(jobId=job_id)["signedObject"]["s3"]["key"]
        answer = s3.copy_object(Bucket=bucket, Key=signed_prefix + name, CopySource={"Bucket": bucket, "Key": signed},
                                ExpectedBucketOwner=owner, ExpectedSourceBucketOwner=owner,
                                Tagging=f"{DEPLOYMENT_TAG}={options.deployment}", TaggingDirective="REPLACE")
        signed_versions[name] = answer.get("VersionId")
    progress(f"{region}: {len(jobs)} bundle(s) signed with {options.signing_profile} "
             f"({len(names) - len(jobs)} signed already)")
    return signed_prefix, profile["profileVersionArn"], signed_versions


# ------------------------------------------------------------------------------------------ stacks


def iam_parameters(options: DeployOptions) -> dict[str, str]:
    """The IAM stack's parameters: the role may read the exceptions register's bucket when the pack parameter
    ExceptionsRegister names one (`--pack-param ExceptionsRegister=s3://bucket/key`, docs/exceptions.md), and
    write snapshots where `--snapshots` says (docs/audit-period.md)."""
    register = options.pack_parameters.get("ExceptionsRegister") or ""
    bucket = register.removeprefix("s3://").split("/", 1)[0] if register.startswith("s3://") else ""
    scps = options.pack_parameters.get("ScpChains") or ""
    snapshots = Location.parse(options.snapshots) if options.snapshots else None
    return {"RoleName": options.role_name, "RemediationRoleName": options.remediation_role_name,
            "ExceptionsRegisterBucket": bucket,
            "ScpChainsBucket": scps.removeprefix("s3://").split("/", 1)[0] if scps.startswith("s3://") else "",
            "SnapshotBucket": snapshots.bucket if snapshots else "", "SnapshotPrefix": snapshots.prefix if snapshots
            else "", "SnapshotKmsKeyArn": options.snapshot_kms_key or ""}


def functions_parameters(options: DeployOptions, region: str, artifacts: Artifacts) -> dict[str, str]:
    from ...core.rules import RULES

    versions = artifacts.versions.get(region, {})
    pinned = [versions.get(f"{rule.rdk_name}.zip") for rule in RULES]
    return {
        "CodeBucket": bucket_name(options.bucket, region),
        "CodeKeyPrefix": artifacts.code_prefix[region],
        "CodeObjectVersions": ",".join(pinned) if all(pinned) else "",  # type: ignore[arg-type]
        "RoleName": options.role_name,
        "LogRetentionInDays": str(options.log_retention_days),
        "SigningProfileVersionArns": artifacts.signing_arns.get(region, ""),
        "ReservedConcurrency": "" if options.reserved_concurrency is None else str(options.reserved_concurrency),
        "SnapshotLocation": str(Location.parse(options.snapshots)) if options.snapshots else "",
        "SnapshotKmsKeyArn": options.snapshot_kms_key or "",
        "AlarmTopicArn": (options.alarm_topic or "").replace("{region}", region),
        **hook_parameters(options, versions),
    }


def hook_parameters(options: DeployOptions, versions: dict[str, str]) -> dict[str, str]:
    """The functions stack's hook parameters: its FailureMode (empty: no hook), the version of its bundle deploy
    uploaded and proved, and the rule parameters the user set for the pack (`--pack-param`), so the hook judges
    as the rules do."""
    from ...core.rules import RULES

    raw = {parameter.name: options.pack_parameters[pack_parameter_name(rule, parameter.name)]
           for rule in RULES for parameter in rule.parameters
           if pack_parameter_name(rule, parameter.name) in options.pack_parameters}
    register = options.pack_parameters.get("ExceptionsRegister") or ""  # the hook applies it as the rules do
    if register:
        raw["ExceptionsRegister"] = register
    bucket = register.removeprefix("s3://").split("/", 1)[0] if register.startswith("s3://") and options.hook else ""
    return {"HookFailureMode": options.hook or "",
            "HookCodeObjectVersion": versions.get(HOOK_BUNDLE, "") if options.hook else "",
            "HookRuleParameters": json.dumps(raw, sort_keys=True), "HookRegisterBucket": bucket}


def apply_stack(cloudformation: Any, name: str, body: str, parameters: dict[str, str], options: DeployOptions
                ) -> tuple[str, dict[str, str]]:
    """Create or update a stack and wait for it: ("created" | "updated" | "unchanged", its outputs). A stack whose
    template and parameters are those given is left alone (no UpdateStack)."""
    arguments = dict(
        StackName=name,
        TemplateBody=body,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Tags=deployment_tags(options),
    )
    exists = stack_exists(cloudformation, name)
    if exists and _stack_is(cloudformation, name, body, parameters, options):
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        return "unchanged", {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs") or ()}
    action = "updated" if exists else "created"
    attempts = max(1, int(options.timeout / max(options.waiter_delay, 1)))
    try:
        if exists:
            cloudformation.update_stack(**arguments)
            waiter = "stack_update_complete"
        else:
            cloudformation.create_stack(**arguments)
            waiter = "stack_create_complete"
        cloudformation.get_waiter(waiter).wait(
            StackName=name, WaiterConfig={"Delay": max(1, int(options.waiter_delay)), "MaxAttempts": attempts})
    except ClientError as error:
        if "No updates are to be performed" not in error.response["Error"].get("Message", ""):
            raise
        action = "unchanged"
    except WaiterError as error:  # the stack failed or rolled back
        raise DeployError(f"stack {name} did not complete: {error}; see its events in CloudFormation") from None
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return action, {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs") or ()}


def _stack_is(cloudformation: Any, name: str, body: str, parameters: dict[str, str], options: DeployOptions
              ) -> bool:
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    if stack.get("StackStatus") not in ("CREATE_COMPLETE", "UPDATE_COMPLETE") or not tagged_by(stack.get("Tags"),
                                                                                              options):
        return False
    current = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters") or ()}
    if current != parameters:
        return False
    return cloudformation.get_template(StackName=name, TemplateStage="Original").get("TemplateBody") == body


def stack_exists(cloudformation: Any, name: str) -> bool:
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if "does not exist" not in error.response["Error"].get("Message", ""):
            raise
        return False
    return any(stack.get("StackStatus") != "DELETE_COMPLETE" for stack in stacks)


# ------------------------------------------------------------------- the pack template, read as rules


def config_rules_from_pack(template: dict[str, Any], inputs: dict[str, str], partition: str, account_id: str,
                           region: str) -> list[dict[str, Any]]:
    """The PutConfigRule requests a conformance pack template stands for: its parameters (defaults, then
    `inputs`), conditions and the intrinsic functions it uses (Ref, Fn::Sub, Fn::If, Fn::Not, Fn::Equals)."""
    values = {name: spec.get("Default", "") for name, spec in template.get("Parameters", {}).items()}
    values.update(inputs)
    missing = [name for name, value in values.items() if value == "" and "Default" not in
               template["Parameters"].get(name, {})]
    if missing:
        raise DeployError(f"conformance pack parameter(s) without a value: {', '.join(missing)}")
    unknown = sorted(set(inputs) - set(template.get("Parameters", {})))
    if unknown:
        raise DeployError(f"the conformance pack has no parameter {', '.join(unknown)}")
    pseudo = {"AWS::Partition": partition, "AWS::AccountId": account_id, "AWS::Region": region}
    conditions: dict[str, bool] = {}
    resolve = _resolver({**values, **pseudo}, conditions)
    for name, expression in template.get("Conditions", {}).items():
        conditions[name] = bool(resolve(expression))
    rules = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Config::ConfigRule":
            continue
        properties = resolve(resource["Properties"])
        properties["InputParameters"] = json.dumps(properties.get("InputParameters", {}))
        rules.append(properties)
    return rules


_NO_VALUE = object()


def _resolver(values: dict[str, str], conditions: dict[str, bool]) -> Callable[[Any], Any]:
    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in map(resolve, node) if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, argument), = node.items()
            if key == "Ref":
                return _NO_VALUE if argument == "AWS::NoValue" else values[argument]
            if key == "Fn::Sub":
                return re.sub(r"\$\{([^}]+)\}", lambda match: values[match.group(1)], argument)
            if key == "Fn::If":
                name, when_true, when_false = argument
                return resolve(when_true if conditions[name] else when_false)
            if key == "Fn::Not":
                return not resolve(argument[0])
            if key == "Fn::Equals":
                left, right = (resolve(item) for item in argument)
                return left == right
        return {k: v for k, v in ((k, resolve(v)) for k, v in node.items()) if v is not _NO_VALUE}

    return resolve
