"""`check`: the pack's rules on the functions a template or a plan would create, before deployment.

One path for every input: a file is read (`load`), turned into the functions it would create and the facts
the rules read (`cloudformation.extract`, after the SAM transform; `terraform.extract`), completed from the
account when a reader is given (the same reads `scan` makes: `aws.facts.FactReader`), and judged by the
same rules with the same parameters (`core.engine`); what stays unknown is said in the verdict, never
COMPLIANT (`core.unknown`).
"""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..aws import parse
from ..aws.facts import FactReader
from ..core.egress import dependencies
from ..core.engine import parse_parameters
from ..core.exceptions import InForce, Subject, apply, subject_function
from ..core.iam_policy import remembered_matches
from ..core.model import EvaluationResult, Fact, Facts, LambdaFunction, role_name_from_arn
from ..core.rules import Rule
from ..core.rules.private_subnet_nat import INTERNET_ACCESS_TAG
from ..core.unknown import qualify
from . import cloudformation
from .resolve import Context, Resolver, TemplateError, partition_of
from .sam import is_sam, plain, transform
from .terraform import plan_template

OFFLINE = "offline: pass --region to read it"


@dataclass(frozen=True)
class CheckRow:
    """One verdict on one function of a file, with where the function is defined."""

    result: EvaluationResult
    path: str
    line: int | None
    logical_id: str
    established: bool = True
    unknown: tuple[str, ...] = ()  # what could not be established (or was narrowed), in full


@dataclass
class CheckReport:
    rows: list[CheckRow] = field(default_factory=list)
    generated_at: str = ""
    files: list[str] = field(default_factory=list)  # the templates and plans checked
    skipped: list[str] = field(default_factory=list)  # files found in a directory that are neither

    @property
    def complete(self) -> bool:
        return all(row.established for row in self.rows)

    @property
    def has_non_compliant(self) -> bool:
        """A NON_COMPLIANT verdict that no exception in force covers."""
        return any(row.result.failing for row in self.rows)


@dataclass
class Document:
    kind: str  # cloudformation | terraform
    data: Any
    lines: dict[str, int] = field(default_factory=dict)  # resource -> line (1-based)


class NotATemplate(TemplateError):
    """A file that was read, but is neither a CloudFormation template nor a Terraform plan (no Resources)."""


def load(path: str | pathlib.Path) -> Document:
    """A CloudFormation template (YAML or JSON, short-form intrinsics) or a Terraform plan (`terraform show
    -json`). Raises TemplateError for anything else, naming the file."""
    path = pathlib.Path(path)
    text = path.read_text(encoding="utf-8")
    is_json = text.lstrip().startswith("{")
    if is_json:
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, Mapping) and "format_version" in data and (
                "planned_values" in data or "resource_changes" in data):
            return Document("terraform", data)
        if isinstance(data, Mapping) and isinstance(data.get("Resources"), Mapping):
            # JSON (CDK's output) holds only long-form intrinsics: the json module reads it, many times faster
            # than cfn-lint's decoders; each resource's line is where its key opens within Resources.
            return Document("cloudformation", data, _json_lines(text, data["Resources"]))
        if data is not None:
            raise NotATemplate(f"{path}: not a CloudFormation template or Terraform plan (no Resources)")
    try:
        from cfnlint.decode import decode
    except ImportError:  # pragma: no cover - the `check` extra
        raise TemplateError("CloudFormation templates need cfn-lint: pip install 'lambda-vpc-rules[check]'") from None
    template, matches = decode(str(path))
    if template is None and "\n---" in text.strip():  # a YAML stream of several documents (Kubernetes manifests)
        raise NotATemplate(f"{path}: not a CloudFormation template (several YAML documents)")
    if matches or template is None:
        message = "; ".join(match.message for match in matches or []) or "cannot be read"
        raise TemplateError(f"{path}: not a CloudFormation template: {message}")
    if not isinstance(template, Mapping) or not isinstance(template.get("Resources"), Mapping):
        raise NotATemplate(f"{path}: not a CloudFormation template or Terraform plan (no Resources)")
    lines = {}
    for key in template["Resources"]:
        mark = getattr(key, "start_mark", None)
        lines[str(key)] = mark.line + 1 if mark is not None else None
    return Document("cloudformation", template, lines)


def _json_lines(text: str, resources: Mapping[str, Any]) -> dict[str, int | None]:
    start = re.search(r'"Resources"\s*:\s*\{', text)
    offset = start.end() if start else 0
    lines: dict[str, int | None] = {}
    line, position = 1, 0
    for found in re.finditer(r'"([A-Za-z0-9]+)"\s*:\s*\{', text[offset:]):  # one pass: the first time each opens
        name = found.group(1)
        if name in resources and name not in lines:
            line += text.count("\n", position, offset + found.start())
            position = offset + found.start()
            lines[name] = line
    return {name: lines.get(name) for name in resources}


def _account_reads(reader: FactReader, external: cloudformation.External, needs: set[Fact]) -> Facts:
    """What the template names but does not define, read as scan reads it."""
    facts: dict[str, dict] = {key: {} for key in ("vpcs", "subnets", "route_tables", "nat_gateways", "vpc_endpoints",
                                                   "prefix_lists", "roles", "policies")}

    def merge(read: Facts) -> None:
        for key in facts:
            facts[key].update(getattr(read, key))

    network_needs = needs - {Fact.IAM}
    if external.subnets and network_needs:
        probe = LambdaFunction("check", subnet_ids=tuple(sorted(external.subnets)))
        merge(reader.facts_for([probe], network_needs))
    vpc_ids = sorted(external.vpcs - set(facts["vpcs"]))
    if vpc_ids and network_needs:
        merge(reader.vpc_network(vpc_ids))
        if Fact.VPCS in needs:
            facts["vpcs"].update({v.vpc_id: v for v in reader.clients.pages(
                "ec2", "describe_vpcs", "Vpcs", parse.vpc, Filters=[{"Name": "vpc-id", "Values": vpc_ids}])})
    prefix_lists = sorted(t for t in external.targets if t.startswith("pl-"))
    if prefix_lists and Fact.PREFIX_LISTS in needs:
        facts["prefix_lists"].update(reader.prefix_lists(prefix_lists))
    if Fact.IAM in needs:
        if external.roles:
            roles, policies = reader.roles(external.roles)
            facts["roles"].update(roles)
            facts["policies"].update(policies)
        if external.policies:
            facts["policies"].update(reader.policies(external.policies))
    return Facts(**facts)


def _merged(template: Facts, account: Facts | None) -> Facts:
    if account is None:
        return template
    merged = {}
    for key in ("vpcs", "subnets", "route_tables", "nat_gateways", "vpc_endpoints", "prefix_lists", "roles",
                "policies"):
        merged[key] = {**getattr(account, key), **getattr(template, key)}
    return Facts(**merged, evaluated_at=dt.datetime.now(dt.UTC))


def _with_local_routes(facts: Facts, extraction: cloudformation.Extraction, account: Facts | None) -> Facts:
    """The template's route tables in a VPC it does not define get the `local` routes AWS gives every table
    of that VPC: those of the VPC's main route table, read from the account. Offline they are unknown."""
    tables = dict(facts.route_tables)
    for vpc_id, table_ids in extraction.external.tables_in.items():
        main = next((t for t in (account.route_tables.values() if account else ()) if t.vpc_id == vpc_id
                     and t.is_main), None)
        for table_id in table_ids:
            if main is None:
                extraction.unknown_ids.append((table_id, Fact.ROUTE_TABLES, f"the CIDR blocks of VPC {vpc_id} (the "
                                               f"local routes of route table {table_id}; {OFFLINE})"))
                continue
            local = tuple(route for route in main.routes if route.target_kind == "local")
            tables[table_id] = replace(tables[table_id], routes=local + tables[table_id].routes)
    if tables == dict(facts.route_tables):
        return facts
    fields = ("vpcs", "subnets", "nat_gateways", "vpc_endpoints", "prefix_lists", "roles", "policies")
    return Facts(route_tables=tables, evaluated_at=facts.evaluated_at, **{key: getattr(facts, key) for key in fields})


def _scopes(function: LambdaFunction, facts: Facts) -> set[str]:
    """The IDs a function's verdicts depend on: its subnets, their VPCs, everything on their way out, its
    role and the role's policies."""
    scopes = {"*"}
    for subnet_id in function.subnet_ids:
        scopes |= dependencies(facts, subnet_id)
        subnet = facts.subnets.get(subnet_id)
        if subnet is not None:
            scopes.add(subnet.vpc_id)
    if function.role_arn:
        name = role_name_from_arn(function.role_arn)
        scopes.add(name)
        role = facts.roles.get(name)
        if role is not None:
            scopes |= set(role.attached_policy_arns) | ({role.permissions_boundary_arn} - {None})
    return scopes


def _note_unknowns(item: cloudformation.TemplateFunction, extraction: cloudformation.Extraction, facts: Facts,
                   read_account: bool) -> None:
    """Add to the function's notes what its verdicts depend on and nobody could establish."""
    function, notes = item.function, item.unknowns
    scopes = _scopes(function, facts)
    for scope, kind, what in extraction.unknown_ids:
        if scope in scopes or scope.removeprefix("own:") in function.subnet_ids:
            notes.add(kind, what)
    if read_account:
        return  # what the account does not hold is missing, as scan says it
    for subnet_id in function.subnet_ids:
        if subnet_id not in facts.subnets and subnet_id != "subnet-unknown":
            notes.add(Fact.SUBNETS, f"subnet {subnet_id} is not defined in the file ({OFFLINE})")
        subnet = facts.subnets.get(subnet_id)
        if subnet is not None and subnet.vpc_id not in facts.vpcs:
            notes.add(Fact.VPCS, f"VPC {subnet.vpc_id} is not defined in the file ({OFFLINE})")
            if facts.route_table_for_subnet(subnet_id) is None:
                notes.add(Fact.ROUTE_TABLES, f"the main route table of VPC {subnet.vpc_id} ({OFFLINE})")
    for target in sorted(scopes & extraction.external.targets):
        kind = {"nat-": Fact.NAT_GATEWAYS, "vpce-": Fact.VPC_ENDPOINTS, "pl-": Fact.PREFIX_LISTS}.get(
            target.split("-", 1)[0] + "-")
        if kind is not None:
            notes.add(kind, f"{target} is not defined in the file ({OFFLINE})")
    if function.role_arn:
        name = role_name_from_arn(function.role_arn)
        role = facts.roles.get(name)
        if role is None:
            notes.add(Fact.IAM, f"role {name} is not defined in the file ({OFFLINE})")
        else:
            for arn in [*role.attached_policy_arns, role.permissions_boundary_arn]:
                if arn and arn not in facts.policies:
                    aws = ":iam::aws:policy/" in arn
                    notes.add(Fact.IAM, f"{'AWS managed ' if aws else ''}policy {arn.rsplit('/', 1)[-1]} "
                                        f"({OFFLINE})")
            if role.arn.split(":")[4] == "000000000000" and _mentions_account(role, facts):
                notes.add(Fact.IAM, "the account ID, which a policy condition or variable of the role reads "
                                    "(pass --account or --region)")


def _mentions_account(role: Any, facts: Facts) -> bool:
    documents = [*role.inline_policies.values(), *(facts.policies[arn].document for arn in role.attached_policy_arns
                                                   if arn in facts.policies)]
    text = json.dumps(documents, default=str)
    return any(key in text for key in ("aws:PrincipalAccount", "aws:PrincipalArn", "${aws:"))


def check_template(template: Mapping[str, Any], lines: Mapping[str, int], path: str, rules: Sequence[Rule],
                   parameters: Mapping[str, Mapping[str, Any]], context: Context, reader: FactReader | None = None,
                   iam_client: Any = None, exceptions: InForce | None = None) -> list[CheckRow]:
    """The rows of one CloudFormation (or SAM) template."""
    if is_sam(template):
        template = transform(template, context.parameters, context.region, iam_client)
    else:
        template = plain(template)
    return check_translated(template, lines, path, rules, parameters, context, reader, exceptions)


def check_translated(template: Mapping[str, Any], lines: Mapping[str, int], path: str, rules: Sequence[Rule],
                     parameters: Mapping[str, Mapping[str, Any]], context: Context, reader: FactReader | None = None,
                     exceptions: InForce | None = None) -> list[CheckRow]:
    """The rows of a plain CloudFormation template (SAM transformed, or a Terraform plan translated)."""
    extraction = cloudformation.extract(template, Resolver(template, context), lines)
    for role, what in extraction.narrowed_roles.items():
        for item in extraction.functions:
            if item.function.role_arn and role_name_from_arn(item.function.role_arn) == role:
                item.unknowns.add_narrowed(Fact.IAM, what)
    needs = set().union(*(rule.needs for rule in rules))
    account = _account_reads(reader, extraction.external, needs) if reader is not None and extraction.external \
        else None
    facts = _with_local_routes(_merged(extraction.facts, account), extraction, account)
    return judge(extraction.functions, facts, rules, parameters, path, context,
                 lambda item: _note_unknowns(item, extraction, facts, reader is not None), exceptions)


@remembered_matches()  # the functions share roles, subnets and security groups: matches repeat
def judge(functions: Iterable[cloudformation.TemplateFunction], facts: Facts, rules: Sequence[Rule],
          parameters: Mapping[str, Mapping[str, Any]], path: str, context: Context, note=None,
          exceptions: InForce | None = None) -> list[CheckRow]:
    """Each function under each rule, qualified by what could not be established, then the exceptions register
    applied as the deployed rules apply it (`core.exceptions.apply`: an excepted verdict stays NON_COMPLIANT and
    names its exception, and does not fail the run)."""
    rows = []
    register = exceptions.register if exceptions else None
    account, region = context.account_id or "", context.region or ""
    for item in functions:
        if note is not None:
            note(item)
        for rule in rules:
            function = subject_function(item.function, register, INTERNET_ACCESS_TAG)
            verdict = rule.evaluate(function, facts, parameters[rule.config_rule_name])
            unknown, narrowed = item.unknowns.affecting(rule.config_rule_name, rule.needs)
            verdict, established = qualify(verdict, unknown, narrowed)
            exception_id = state = None
            if exceptions is not None:
                applied = apply(verdict, Subject.of(rule.config_rule_name, item.function, account, region), register,
                                exceptions.now)
                verdict, exception_id = applied.verdict, applied.exception.id if applied.exception else None
                state = applied.state.value if applied.state else None
            result = EvaluationResult(rule.config_rule_name, item.function.name, verdict.compliance,
                                      verdict.annotation, resource_arn=item.function.arn, account_id=account,
                                      region=region, exception_id=exception_id, exception_state=state)
            rows.append(CheckRow(result, path, item.line, item.logical_id, established,
                                 () if established else tuple(unknown + narrowed)))
    return rows


def check_plan(plan: Mapping[str, Any], path: str, rules: Sequence[Rule], parameters: Mapping[str, Any],
               context: Context, reader: FactReader | None = None, exceptions: InForce | None = None
               ) -> list[CheckRow]:
    """The rows of a Terraform plan: its resources as CloudFormation ones, named by their addresses."""
    template, addresses = plan_template(plan)
    rows = check_translated(template, {}, path, rules, parameters, context, reader, exceptions)
    return [replace(row, line=None, logical_id=addresses.get(row.logical_id, row.logical_id)) for row in rows]


# What a directory is searched for: CloudFormation and SAM (YAML, JSON, `.template`), CDK's
# `cdk.out/*.template.json`, Terraform plans saved as JSON. Hidden directories (.git, .terraform, and .aws-sam,
# SAM's build copies) and dependency trees are not searched.
TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json", ".template")
SKIPPED_DIRECTORIES = ("node_modules", "__pycache__")


def expand(paths: Sequence[str]) -> tuple[list[str], list[str]]:
    """The files to check: each file named, and the files under each directory named whose suffix is a
    template's (TEMPLATE_SUFFIXES; sorted, hidden directories and SKIPPED_DIRECTORIES left out). Also the files
    found in directories, which `check_paths` may skip when they are neither template nor plan."""
    files, found = [], []
    for path in paths:
        root = pathlib.Path(path)
        if not root.is_dir():
            files.append(path)
            continue
        under = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in TEMPLATE_SUFFIXES
                       and not any(part.startswith(".") or part in SKIPPED_DIRECTORIES
                                   for part in p.relative_to(root).parts[:-1]))
        if not under:
            raise TemplateError(f"{path}: no file that could be a template or plan ({', '.join(TEMPLATE_SUFFIXES)})")
        files += [str(p) for p in under]
        found += [str(p) for p in under]
    return files, found


def check_paths(paths: Sequence[str], rules: Sequence[Rule], raw_parameters: Mapping[str, str],
                context: Context, reader: FactReader | None = None, iam_client: Any = None,
                exceptions: InForce | None = None) -> CheckReport:
    """Every file's rows; a directory stands for the files under it (`expand`). Raises TemplateError (or
    OSError) for a file that cannot be read: an error is never a verdict. A file found in a directory that
    is read but is neither template nor plan (a CDK manifest, a workflow) is skipped and listed in
    `report.skipped`; named on its own, it is an error, as is a directory with no template or plan at all."""
    parameters = parse_parameters(rules, raw_parameters)
    if context.region:
        context = replace(context, partition=partition_of(context.region))
    files, found = expand(paths)
    in_directories = set(found)
    report = CheckReport(generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    for path in files:
        try:
            document = load(path)
        except NotATemplate:
            if path not in in_directories:
                raise
            report.skipped.append(path)
            continue
        report.files.append(path)
        if document.kind == "terraform":
            report.rows += check_plan(document.data, path, rules, parameters, context, reader, exceptions)
        else:
            report.rows += check_template(document.data, document.lines, path, rules, parameters, context, reader,
                                          iam_client, exceptions)
    if found and not report.files:
        raise TemplateError(f"{', '.join(p for p in paths if pathlib.Path(p).is_dir())}: no CloudFormation "
                            f"template or Terraform plan among {len(found)} file(s) found")
    return report
