"""What a rule is: a pure check over a function and facts, its parameters, and the facts it needs.

A rule has one name, its AWS Config rule name (`lambda-vpc-default-tenancy`); every other spelling derives
from it: the RDK folder (`LAMBDA_VPC_DEFAULT_TENANCY`), the rule function, the CloudFormation logical ID
(`LambdaVpcDefaultTenancy`), and the module and metadata file beside it (`default_tenancy.py`,
`default_tenancy.json`: title, description, severity, risk, remediation, references, controls).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import PackError
from ..model import LAMBDA_RESOURCE_TYPE, Fact, Facts, LambdaFunction, Subnet, Verdict, not_applicable
from .metadata import RuleMetadata, load

NAME_PREFIX = "lambda-vpc-"


class InvalidParameter(PackError, ValueError):
    """A rule parameter with a value the rule cannot use; the message names the parameter."""


@dataclass(frozen=True)
class Parameter:
    name: str
    default: str
    description: str
    parse: Callable[[str], Any]

    @property
    def kind(self) -> str:
        """What the value is (boolean, integer, comma-separated list, string), as `typed` marked its parser."""
        return getattr(self.parse, "kind", "string")

    @property
    def allowed(self) -> tuple[str, ...]:
        """The values it accepts, when they are few (empty: any the description allows)."""
        return getattr(self.parse, "allowed", ())


def typed(kind: str, allowed: tuple[str, ...] = ()) -> Callable[[Callable[[str], Any]], Callable[[str], Any]]:
    """Mark a parameter's parser with the type and allowed values `lambda-vpc-rules rules` lists."""

    def mark(parse: Callable[[str], Any]) -> Callable[[str], Any]:
        parse.kind, parse.allowed = kind, allowed  # type: ignore[attr-defined]
        return parse

    return mark


@typed("boolean", ("true", "false"))
def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false"):
        raise ValueError("expected true or false")
    return value == "true"


def choice_list(allowed: tuple[str, ...]) -> Callable[[str], frozenset[str]]:
    @typed("comma-separated list", allowed)
    def parse(text: str) -> frozenset[str]:
        values = {item.strip().lower() for item in text.split(",") if item.strip()}
        unknown = sorted(values - set(allowed))
        if unknown:
            raise ValueError(f"unknown {', '.join(unknown)}; allowed: {', '.join(allowed)}")
        return frozenset(values)

    return parse


Check = Callable[[LambdaFunction, Facts, Mapping[str, Any]], Verdict]


@dataclass(frozen=True)
class Rule:
    name: str  # the AWS Config rule name, e.g. lambda-vpc-default-tenancy: every other spelling derives from it
    needs: frozenset[Fact]
    check: Check
    parameters: tuple[Parameter, ...] = ()
    tag_keys: frozenset[str] = frozenset()  # function tags the check reads
    scope: tuple[str, ...] = (LAMBDA_RESOURCE_TYPE,)  # resource types whose changes trigger the rule

    @property
    def config_rule_name(self) -> str:
        return self.name

    @property
    def rdk_name(self) -> str:
        """The RDK rule folder, rules/LAMBDA_VPC_DEFAULT_TENANCY."""
        return self.name.upper().replace("-", "_")

    @property
    def function_name(self) -> str:
        """The name of the Lambda function that hosts the rule (in each account and region: templates/)."""
        return self.name

    @property
    def logical_id(self) -> str:
        """CloudFormation logical ID: LambdaVpcDefaultTenancy."""
        return "".join(part.capitalize() for part in self.name.split("-"))

    @property
    def module(self) -> str:
        """The module (and metadata file) beside this one: default_tenancy."""
        return self.name.removeprefix(NAME_PREFIX).replace("-", "_")

    @property
    def metadata(self) -> RuleMetadata:
        return load(self.module)

    @property
    def description(self) -> str:
        return self.metadata.description

    def parse_parameters(self, raw: Mapping[str, Any] | None) -> dict[str, Any]:
        """Typed parameters from AWS Config's strings; keys this rule does not define (rdklib's
        ExecutionRoleName, AssumeRoleMode...) are left alone."""
        parsed, values = {}, self.parameter_values(raw)
        for parameter in self.parameters:
            text = values[parameter.name]
            try:
                parsed[parameter.name] = parameter.parse(text)
            except ValueError as error:
                raise InvalidParameter(f"{parameter.name}: invalid value {text!r}: {error}") from None
        return parsed

    def parameter_values(self, raw: Mapping[str, Any] | None) -> dict[str, str]:
        """The parameter strings an evaluation uses: the given ones, the default where none (or blank) is
        given. What the evidence manifest records."""
        raw = raw or {}
        values = {}
        for parameter in self.parameters:
            value = raw.get(parameter.name)
            values[parameter.name] = parameter.default if value is None or str(value).strip() == "" else str(value)
        return values

    def evaluate(self, function: LambdaFunction, facts: Facts, parameters: Mapping[str, Any]) -> Verdict:
        if not function.in_vpc:
            return not_applicable("Function is not attached to a VPC.")
        return self.check(function, facts, parameters)


def function_subnets(function: LambdaFunction, facts: Facts) -> tuple[list[Subnet], list[str]]:
    """The function's subnets that exist, and the IDs of those that could not be found."""
    found = [facts.subnets[sid] for sid in function.subnet_ids if sid in facts.subnets]
    missing = [sid for sid in function.subnet_ids if sid not in facts.subnets]
    return found, missing
