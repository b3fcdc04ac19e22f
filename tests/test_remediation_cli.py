"""`lambda-vpc-rules remediate` end to end in moto (a fresh account per test): run, record, the evidence bundle;
and `deploy --remediation`."""

from __future__ import annotations

import json

import pytest

from aws_support import Estate
from conftest import REGION
from lambda_vpc_rules.core.remediation import ENI, IPV6, TENANCY
from lambda_vpc_rules.tooling.remediation_documents import automatic_parameter


def _dual_stack_function(session) -> str:
    """A function whose two subnets are dual-stack while Ipv6AllowedForDualStack is off."""
    ec2 = session.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
    block = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
    head, last = block.split("::")[0].rsplit(":", 1)
    subnets = []
    for index, zone in enumerate("ab", 1):
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{index}.0/24",
                                   AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
        ec2.associate_subnet_cidr_block(SubnetId=subnet, Ipv6CidrBlock=f"{head}:{int(last, 16) + index:x}::/64")
        subnets.append(subnet)
    Estate(session).function("cli-fn", subnets, ipv6=False)
    return "cli-fn"


def test_remediate_runs_the_plan_records_it_and_evidence_shows_it(aws, tmp_path, capsys):
    from lambda_vpc_rules.tooling.cli import main

    function = _dual_stack_function(aws)
    records = tmp_path / "records.jsonl"
    code = main(["remediate", "--rule", IPV6, "--executor", "direct", "--records", str(records), "--region", REGION])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "set Ipv6AllowedForDualStack to true" in out and "1 change(s) made, 0 failed" in err
    [record] = remediate_records(records)
    assert (record["function"], record["status"], record["executor"]) == (function, "Success", "direct")
    assert record["who"].startswith("arn:aws:") and record["account"] == "123456789012"
    assert (record["before"]["Ipv6AllowedForDualStack"], record["after"]["Ipv6AllowedForDualStack"]) == (False, True)
    # nothing left to do: a second run changes nothing and says so
    assert main(["remediate", "--rule", IPV6, "--dry-run", "--region", REGION]) == 0
    assert "0 planned" in capsys.readouterr().out
    bundle = tmp_path / "bundle"
    assert main(["evidence", "--out", str(bundle), "--remediation-records", str(records), "--region", REGION]) in (0, 2)
    capsys.readouterr()
    assert json.loads((bundle / "remediations.json").read_text()) == [record]
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["remediations"] == 1 and "remediations.json" in {f["path"] for f in manifest["files"]}
    report = (bundle / "report.html").read_text()
    assert 'id="remediations"' in report and function in report and record["who"] in report
    assert main(["verify-evidence", str(bundle)]) == 0


def remediate_records(path):
    from lambda_vpc_rules.tooling.remediate import read_records

    return read_records(path)


def test_deploy_turns_automatic_remediation_on_only_where_asked():
    from lambda_vpc_rules.tooling.cli import build_parser
    from lambda_vpc_rules.tooling.deploy.cli import CommandError, options_from

    def options(*extra):
        return options_from(build_parser().parse_args(["deploy", "--bucket", "b", *extra]))

    assert options().pack_parameters == {}  # manual: the pack's defaults
    assert options("--remediation", f"{ENI}=automatic").pack_parameters == {automatic_parameter(ENI): "true"}
    with pytest.raises(CommandError, match="only"):
        options("--remediation", f"{TENANCY}=automatic")


def test_a_function_an_exception_in_force_covers_is_never_remediated(aws, tmp_path, capsys):
    """`remediate --exceptions FILE`: the register the rules honour keeps the planner off the function."""
    import datetime as dt

    from lambda_vpc_rules.tooling.cli import main

    function = _dual_stack_function(aws)
    today = dt.datetime.now(dt.UTC).date()
    register = {"version": "1", "exceptions": [{
        "id": "EX-7", "rules": [IPV6], "scope": {"resources": [function]}, "reason": "vendor appliance",
        "owner": "platform", "approver": "ciso", "ticket": "https://tickets.example.com/7",
        "approved": today.isoformat(), "expires": (today + dt.timedelta(days=30)).isoformat()}]}
    path = tmp_path / "register.json"
    path.write_text(json.dumps(register))
    records = tmp_path / "records.jsonl"
    code = main(["remediate", "--rule", IPV6, "--executor", "direct", "--records", str(records), "--region", REGION,
                 "--exceptions", str(path)])
    out, err = capsys.readouterr()
    assert "excepted: never remediated" in out and "0 change(s) made" in err, (out, err)
    assert code in (0, 1) and not records.exists() or remediate_records(records) == []
    ipv6 = aws.client("lambda").get_function_configuration(FunctionName=function)["VpcConfig"]
    assert ipv6.get("Ipv6AllowedForDualStack") is False  # untouched
    assert code == 0  # the only finding is excepted: as in scan, it does not fail the run
    assert main(["remediate", "--rule", IPV6, "--dry-run", "--region", REGION, "--exceptions", str(path)]) == 0
    assert main(["remediate", "--rule", IPV6, "--dry-run", "--region", REGION]) == 1  # without the register
