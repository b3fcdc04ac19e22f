"""Annotations stay within AWS Config's 256 characters and name as many findings as fit."""

from lambda_vpc_rules.core.model import Compliance, Facts, RouteTable, Subnet, Verdict, join_findings


def test_join_findings_names_all_when_they_fit():
    assert join_findings(["a", "b"]) == "a; b"


def test_join_findings_counts_what_does_not_fit():
    findings = [f"subnet subnet-{i:017x} has no default route" for i in range(20)]
    text = join_findings(findings)
    assert len(text) <= 256
    assert text.startswith(findings[0])
    shown = text.count("has no default route")
    assert text.endswith(f"+{20 - shown} more")


def test_single_long_finding_is_cut_to_the_limit():
    assert len(join_findings(["x" * 400])) == 256


def test_verdict_cuts_long_annotations():
    assert len(Verdict(Compliance.NON_COMPLIANT, "y" * 300).annotation) == 256


def test_route_table_for_subnet_prefers_explicit_association_over_main():
    facts = Facts(
        subnets={"s1": Subnet("s1", "v"), "s2": Subnet("s2", "v")},
        route_tables={
            "main": RouteTable("main", "v", is_main=True),
            "own": RouteTable("own", "v", subnet_ids=("s1",)),
        },
    )
    assert facts.route_table_for_subnet("s1").route_table_id == "own"
    assert facts.route_table_for_subnet("s2").route_table_id == "main"
    assert facts.route_table_for_subnet("unknown") is None
