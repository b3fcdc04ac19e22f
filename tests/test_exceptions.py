"""The exceptions register, pure: parsing with errors that name the entry, the maximum duration, matching
(fields ANDed, values ORed), applying with time as an input, and the published JSON Schema agreeing with the
parser on every example."""

from __future__ import annotations

import copy
import datetime as dt

import jsonschema
import pytest
import yaml

from lambda_vpc_rules.core.engine import evaluate_functions
from lambda_vpc_rules.core.exceptions import (
    InForce,
    RegisterError,
    State,
    Subject,
    Undecidable,
    _jsonable,
    apply,
    document_sha256,
    expiry_lines,
    parse_register,
    register_use,
    schema,
)
from lambda_vpc_rules.core.model import (
    ANNOTATION_LIMIT,
    Compliance,
    Facts,
    LambdaFunction,
    Route,
    RouteTable,
    Subnet,
    TargetKind,
    Vpc,
    non_compliant,
)
from lambda_vpc_rules.core.rules import RULES, get_rule

RULE_NAMES = [rule.config_rule_name for rule in RULES]
NAT = "lambda-vpc-private-subnet-nat"
ACCOUNT, OTHER = "111122223333", "444455556666"
ARN = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:legacy-billing"
BEFORE = dt.datetime(2027, 2, 27, 12, tzinfo=dt.UTC)
LAST_DAY = dt.datetime(2027, 3, 1, 23, 59, tzinfo=dt.UTC)
AFTER = dt.datetime(2027, 3, 2, 0, 0, tzinfo=dt.UTC)

EXAMPLE = """
version: "2026-12-01.1"
max_duration_days: 365
exceptions:
  - id: EX-12
    rules: [lambda-vpc-private-subnet-nat]
    scope:
      accounts: ["111122223333"]
      regions: [eu-*]
      resources: [legacy-*]
    reason: Vendor appliance needs a public subnet until the migration
    owner: payments-platform
    approver: ciso@example.com
    ticket: https://jira.example.com/browse/SEC-42
    compensating_control: Security group allows egress to the vendor only
    approved: 2026-03-02
    expires: 2027-03-01
"""


def example() -> dict:
    return yaml.safe_load(EXAMPLE)


def register(document=None):
    return parse_register(document if document is not None else example(), RULE_NAMES)


def subject(**changes) -> Subject:
    values = {"rule": NAT, "account_id": ACCOUNT, "region": "eu-west-1", "name": "legacy-billing", "arn": ARN,
              "tags": {}}
    return Subject(**{**values, **changes})


def problems_of(document) -> list[str]:
    with pytest.raises(RegisterError) as raised:
        parse_register(document, RULE_NAMES)
    return raised.value.problems


def schema_accepts(document) -> bool:
    validator = jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.FormatChecker())
    return not list(validator.iter_errors(_jsonable(document)))


# Parsing ---------------------------------------------------------------------------------------------------

def test_a_good_register_parses_and_its_hash_is_the_same_from_yaml_and_json():
    parsed = register()
    assert [e.id for e in parsed.entries] == ["EX-12"]
    assert parsed.entries[0].expires == dt.date(2027, 3, 1)
    assert parsed.sha256 == document_sha256(_jsonable(example()))
    assert register(parsed.canonical()).sha256 == document_sha256(parsed.canonical())
    assert register(parsed.canonical()).entries == parsed.entries
    assert schema_accepts(example())


@pytest.mark.parametrize("field", ["expires", "owner", "approver", "ticket", "reason", "approved", "scope", "rules"])
def test_an_entry_missing_a_required_field_is_an_error_naming_the_entry(field):
    document = example()
    del document["exceptions"][0][field]
    problems = problems_of(document)
    assert problems == [f"exceptions[0] (EX-12): missing required field(s) {field}"]
    assert not schema_accepts(document)


def test_an_entry_over_the_maximum_duration_is_an_error_naming_the_entry():
    document = example()
    document["max_duration_days"] = 90
    problems = problems_of(document)
    assert problems == ["exceptions[0] (EX-12): expires 2027-03-01 is 364 days after approved 2026-03-02, over the "
                        "register's maximum of 90 days"]


def test_the_default_maximum_is_365_days():
    document = example()
    del document["max_duration_days"]
    document["exceptions"][0]["approved"] = dt.date(2026, 2, 28)
    assert "366 days after approved" in problems_of(document)[0]


@pytest.mark.parametrize(("change", "expected"), [
    ({"id": "EX 12!"}, "id must be"),
    ({"rules": ["lambda-vpc-nope"]}, "unknown rule(s) lambda-vpc-nope"),
    ({"rules": []}, 'rules must be "*"'),
    ({"scope": {}}, "scope must set at least one of"),
    ({"scope": {"accounts": ["12"]}}, "scope.accounts (12-digit IDs or *): not valid: '12'"),
    ({"scope": {"ous": ["engineering"]}}, "scope.ous"),
    ({"scope": {"tags": ["no-equals-sign"]}}, "scope.tags (key=value)"),
    ({"scope": {"functions": ["x"]}}, "scope: unknown field(s) functions"),
    ({"ticket": "SEC-42"}, "ticket must be an http(s) URL"),
    ({"owner": " "}, "owner must be a non-empty string"),
    ({"owner": "x" * 49}, "owner is longer than 48 characters"),
    ({"expires": "next year"}, "expires must be a date, YYYY-MM-DD"),
    ({"expires": "2026-02-30"}, "expires must be a date"),
    ({"expires": "2026-01-01"}, "expires 2026-01-01 is before approved 2026-03-02"),
    ({"comment": "x"}, "unknown field(s) comment"),
])
def test_each_malformed_entry_is_an_error_naming_it(change, expected):
    document = example()
    document["exceptions"][0].update(change)
    problems = problems_of(document)
    name = change.get("id", "EX-12")
    assert len(problems) == 1 and problems[0].startswith(f"exceptions[0] ({name}): ") and expected in problems[0]
    if "before approved" not in expected and "unknown rule" not in expected:  # beyond the schema: the parser's
        assert not schema_accepts(document)


def test_every_problem_is_listed_and_duplicates_are_named():
    document = example()
    second = copy.deepcopy(document["exceptions"][0])
    third = copy.deepcopy(second)
    del third["expires"]
    third["id"] = "EX-13"
    document["exceptions"] += [second, third]
    problems = problems_of(document)
    assert problems == ["exceptions[2] (EX-13): missing required field(s) expires",
                        "exceptions[1] (EX-12): id already used by exceptions[0]"]


@pytest.mark.parametrize("document", [None, [], "text", {"exceptions": []}, {"version": "1"},
                                      {"version": "1", "exceptions": [], "max_duration_days": 5000},
                                      {"version": "1", "exceptions": [], "surprise": 1}])
def test_a_malformed_document_is_an_error(document):
    assert problems_of(document)
    assert not schema_accepts(document) or document is None


def test_an_empty_register_is_valid():
    assert register({"version": "1", "exceptions": []}).entries == ()


# Matching: fields ANDed, values ORed -------------------------------------------------------------------------

@pytest.mark.parametrize(("scope", "changes", "covered"), [
    ({"accounts": ["*"]}, {}, True),
    ({"accounts": [OTHER, ACCOUNT]}, {}, True),  # values ORed
    ({"accounts": [OTHER]}, {}, False),
    ({"regions": ["eu-*"]}, {}, True),
    ({"regions": ["us-east-1"]}, {}, False),
    ({"resources": ["legacy-*"]}, {}, True),
    ({"resources": ["legacy"]}, {}, False),  # anchored: not a substring match
    ({"resources": [f"arn:aws:lambda:*:{ACCOUNT}:function:legacy-*"]}, {}, True),
    ({"resources": ["arn:aws:lambda:*:*:function:other"]}, {}, False),
    ({"tags": ["team=payments", "legacy=yes"]}, {"tags": {"legacy": "yes"}}, True),  # values ORed
    ({"tags": ["team=pay*"]}, {"tags": {"team": "payments"}}, True),
    ({"tags": ["team=payments"]}, {"tags": {"team": "search"}}, False),
    ({"accounts": [ACCOUNT], "regions": ["us-*"]}, {}, False),  # fields ANDed
    ({"accounts": [ACCOUNT], "regions": ["eu-*"], "resources": ["legacy-*"]}, {}, True),
    ({"ous": ["ou-ab12-cdefgh34"]}, {}, True),
    ({"ous": ["ou-ab12-cdefgh34"]}, {"account_id": OTHER}, False),
])
def test_matching(scope, changes, covered):
    document = example()
    document["exceptions"][0]["scope"] = scope
    document["ou_accounts"] = {"ou-ab12-cdefgh34": [ACCOUNT]}
    applied = apply(non_compliant("public subnet"), subject(**changes), register(document), BEFORE)
    assert (applied.state is State.EXCEPTED) is covered


def test_an_exception_covers_only_its_rules():
    applied = apply(non_compliant("x"), subject(rule="lambda-vpc-multi-az"), register(), BEFORE)
    assert applied.state is None and applied.verdict.annotation == "x"
    document = example()
    document["exceptions"][0]["rules"] = "*"
    assert apply(non_compliant("x"), subject(rule="lambda-vpc-multi-az"), register(document), BEFORE).state


def test_a_scope_the_register_cannot_decide_is_an_error_not_a_guess():
    document = example()
    document["exceptions"][0]["scope"] = {"tags": ["team=payments"]}
    with pytest.raises(Undecidable, match="EX-12 is scoped by tags and the tags of legacy-billing were not read"):
        apply(non_compliant("x"), subject(tags=None), register(document), BEFORE)
    document["exceptions"][0]["scope"] = {"ous": ["ou-ab12-cdefgh34"]}
    with pytest.raises(Undecidable, match="EX-12 is scoped by OU"):
        apply(non_compliant("x"), subject(), register(document), BEFORE)


# Applying, time moved --------------------------------------------------------------------------------------

def test_an_excepted_verdict_stays_non_compliant_named_until_it_expires():
    parsed = register()
    for now in (BEFORE, LAST_DAY):  # in force through the whole expiry day (UTC)
        applied = apply(non_compliant("subnet-1 is public"), subject(), parsed, now)
        assert applied.verdict.compliance is Compliance.NON_COMPLIANT and applied.state is State.EXCEPTED
        assert applied.verdict.annotation == ("excepted by EX-12 until 2027-03-01 (payments-platform, "
                                              "https://jira.example.com/browse/SEC-42): subnet-1 is public")
    applied = apply(non_compliant("subnet-1 is public"), subject(), parsed, AFTER)
    assert applied.state is State.EXPIRED and applied.verdict.compliance is Compliance.NON_COMPLIANT
    assert applied.verdict.annotation.startswith("exception EX-12 expired 2027-03-01 (payments-platform, ")


def test_the_annotation_keeps_the_exception_whole_within_256_characters():
    document = example()
    document["exceptions"][0].update(id="EX-" + "9" * 29, owner="o" * 48, ticket="https://t.example/" + "x" * 82)
    applied = apply(non_compliant("reason " * 80), subject(), register(document), BEFORE)
    assert len(applied.verdict.annotation) == ANNOTATION_LIMIT
    assert applied.verdict.annotation.startswith(f"excepted by EX-{'9' * 29} until 2027-03-01 ({'o' * 48}, https://")
    assert applied.verdict.annotation.endswith("...")


def test_compliant_verdicts_are_left_alone_and_the_longest_in_force_wins():
    parsed = register()
    assert apply(get_rule(NAT).evaluate(LambdaFunction("f"), Facts(), {}), subject(), parsed, BEFORE).state is None
    document = example()
    later = copy.deepcopy(document["exceptions"][0])
    later.update(id="EX-20", expires=dt.date(2027, 3, 2))
    expired = copy.deepcopy(later)
    expired.update(id="EX-01", expires=dt.date(2026, 3, 5))
    document["exceptions"] += [later, expired]
    assert apply(non_compliant("x"), subject(), register(document), BEFORE).exception.id == "EX-20"


def test_require_exception_for_tags_the_tag_alone_no_longer_waives_internet_access():
    rule = get_rule(NAT)
    isolated = Facts(vpcs={"vpc-1": Vpc("vpc-1", "default")},
                     subnets={"subnet-1": Subnet("subnet-1", "vpc-1", ipv4_cidr_block="10.0.1.0/24")},
                     route_tables={"rtb-1": RouteTable("rtb-1", "vpc-1", routes=(
                         Route("10.0.0.0/16", "local", TargetKind.LOCAL, "active", "CreateRouteTable"),),
                         subnet_ids=("subnet-1",))})
    tagged = LambdaFunction("legacy-billing", ARN, subnet_ids=("subnet-1",),
                            tags={"lambda-vpc-rules:internet-access": "none"})
    parameters = rule.parse_parameters({})

    def verdict(document):
        return evaluate_functions(rule, [tagged], isolated, parameters, ACCOUNT, "eu-west-1",
                                  InForce(register(document), BEFORE))[0]

    document = example()
    assert verdict(document).compliance is Compliance.COMPLIANT  # the tag waives internet access
    document["require_exception_for_tags"] = True
    excepted = verdict(document)  # the tag alone no longer does: the exception covering it does
    assert excepted.excepted and excepted.annotation.startswith("excepted by EX-12 until 2027-03-01")
    assert "no route for 0.0.0.0/0" in excepted.annotation
    document["exceptions"][0]["scope"] = {"accounts": [OTHER]}  # no exception for it: it fails
    failing = verdict(document)
    assert failing.failing and failing.exception_id is None


def test_register_use_reports_covered_expired_expiring_and_stale():
    document = example()
    unused = copy.deepcopy(document["exceptions"][0])
    unused.update(id="EX-30", scope={"resources": ["nothing-*"]})
    elsewhere = copy.deepcopy(unused)
    elsewhere.update(id="EX-31", scope={"accounts": [OTHER]})
    document["exceptions"] += [unused, elsewhere]
    rule = get_rule(NAT)
    function = LambdaFunction("legacy-billing", ARN, subnet_ids=("subnet-1",))
    parsed = register(document)
    for now, state in ((BEFORE, "expiring"), (AFTER, "expired")):
        results = evaluate_functions(rule, [function], Facts(), rule.parse_parameters({}), ACCOUNT, "eu-west-1",
                                     InForce(parsed, now))
        use = register_use(parsed, results, now)
        by_id = {u.entry.id: u for u in use.uses}
        assert [c.resource_id for c in by_id["EX-12"].covered] == ["legacy-billing"]
        assert by_id["EX-30"].stale is (now == BEFORE) and by_id["EX-31"].stale is False  # EX-31: not this run's
        states = {e["id"]: e["state"] for e in use.as_dict()["exceptions"]}
        assert states["EX-12"] == state
        lines = "\n".join(expiry_lines(use))
        assert (("EXPIRED EX-12 on 2027-03-01" in lines) if now == AFTER else ("expiring EX-12 on 2027-03-01" in lines))
