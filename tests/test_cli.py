"""`lambda-vpc-rules scan` against an in-process moto account: formats, exit codes, errors."""

from __future__ import annotations

import csv
import io
import json

import pytest

from lambda_vpc_rules.tooling.cli import main


@pytest.fixture
def account(estate):
    default_vpc = estate.vpc("10.0.0.0/16")
    dedicated_vpc = estate.vpc("10.1.0.0/16", tenancy="dedicated")
    estate.function("good", [estate.subnet(default_vpc, "10.0.1.0/24")])
    estate.function("plain")
    return {"dedicated_subnet": estate.subnet(dedicated_vpc, "10.1.1.0/24")}


TENANCY = ["--rule", "lambda-vpc-default-tenancy"]


def scan_json(capsys, *extra):
    code = main(["scan", "--region", "us-east-1", "--format", "json", *extra])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out else None, captured.err


def test_json_has_the_fields_aws_config_shows(account, capsys):
    code, report, _ = scan_json(capsys, *TENANCY)
    assert code == 0
    assert report["account_id"] == "123456789012"
    assert report["region"] == "us-east-1"
    assert report["generated_at"].endswith("+00:00")
    recorded = report["evaluations"][0]["recorded_at"]
    assert recorded.endswith("+00:00") and recorded <= report["generated_at"]  # the read time
    assert report["coverage"]["complete"] is True
    assert report["coverage"]["covered"] == [{"account_id": "123456789012", "region": "us-east-1",
                                              "read_at": recorded, "items": 2}]
    assert report["summary"] == {"evaluations": 2, "COMPLIANT": 1, "NON_COMPLIANT": 0, "NOT_APPLICABLE": 1}
    assert sorted(report["evaluations"], key=lambda e: e["resource_id"]) == [
        {
            "account_id": "123456789012",
            "region": "us-east-1",
            "rule": "lambda-vpc-default-tenancy",
            "resource_type": "AWS::Lambda::Function",
            "resource_id": "good",
            "resource_arn": "arn:aws:lambda:us-east-1:123456789012:function:good",
            "compliance": "COMPLIANT",
            "annotation": report["evaluations"][0]["annotation"],
            "recorded_at": recorded,
        },
        {
            "account_id": "123456789012",
            "region": "us-east-1",
            "rule": "lambda-vpc-default-tenancy",
            "resource_type": "AWS::Lambda::Function",
            "resource_id": "plain",
            "resource_arn": "arn:aws:lambda:us-east-1:123456789012:function:plain",
            "compliance": "NOT_APPLICABLE",
            "annotation": "Function is not attached to a VPC.",
            "recorded_at": recorded,
        },
    ]


def test_exit_code_1_when_something_is_non_compliant(account, estate, capsys):
    estate.function("bad", [account["dedicated_subnet"]])
    code, report, _ = scan_json(capsys, *TENANCY)
    assert code == 1
    bad = next(e for e in report["evaluations"] if e["resource_id"] == "bad")
    assert bad["compliance"] == "NON_COMPLIANT"


def test_csv_and_table_formats(account, capsys, tmp_path):
    assert main(["scan", "--region", "us-east-1", "--format", "csv", *TENANCY]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {row["resource_id"] for row in rows if row["record"] == "evaluation"} == {"good", "plain"}
    assert list(rows[0]) == ["record", "account_id", "region", "rule", "resource_type", "resource_id",
                             "resource_arn", "compliance", "annotation", "recorded_at"]
    assert [(r["account_id"], r["region"], r["annotation"]) for r in rows if r["record"] == "coverage"] == [
        ("123456789012", "us-east-1", "covered: 2 read")]

    out = tmp_path / "table.txt"
    assert (
        main(
            [
                "scan",
                "--region",
                "us-east-1",
                "--format",
                "table",
                "--output",
                str(out),
                "--rule",
                "lambda-vpc-default-tenancy",
            ]
        )
        == 0
    )
    text = out.read_text()
    assert "RULE" in text and "good" in text and "1 COMPLIANT" in text


def test_access_denied_exits_2_naming_the_permission(account, estate, capsys, monkeypatch):
    from moto.core import set_initial_no_auth_action_count

    estate.iam.create_user(UserName="auditor")
    estate.iam.put_user_policy(
        UserName="auditor",
        PolicyName="partial",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["lambda:ListFunctions", "ec2:DescribeSubnets", "sts:GetCallerIdentity"],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    key = estate.iam.create_access_key(UserName="auditor")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.delenv("AWS_SESSION_TOKEN")

    # moto 5.2 fails SigV4 checks of Lambda REST calls made with IAM-user keys (SignatureDoesNotMatch),
    # so its first two calls (GetCallerIdentity, ListFunctions) go unauthenticated; EC2 is checked.
    @set_initial_no_auth_action_count(2)
    def run():
        return scan_json(capsys, *TENANCY)

    code, report, err = run()
    assert code == 2
    assert report is None
    assert "access denied: ec2:DescribeVpcs was refused" in err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("lambda-vpc-rules:")]
    assert len(errors) == 1 and err.splitlines()[-1] == errors[0]  # one line, after the progress lines


def test_no_region_is_an_error(monkeypatch, capsys):
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    code = main(["scan", "--format", "json"])
    assert code == 2
    assert "no region" in capsys.readouterr().err


def test_unknown_profile_is_an_error(capsys, monkeypatch):
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert main(["scan", "--profile", "nope", "--region", "us-east-1"]) == 2
    assert "nope" in capsys.readouterr().err


def test_bad_arguments_exit_2(capsys):
    assert main(["scan", "--format", "yaml"]) == 2
    assert main(["scan", "--rule", "no-such-rule"]) == 2


def test_unknown_parameter_is_an_error(account, capsys):
    assert main(["scan", "--region", "us-east-1", "--param", "Nope=1"]) == 2
    assert "Nope" in capsys.readouterr().err


def test_endpoint_url_reaches_a_moto_server(capsys):
    """--endpoint-url talks to an emulator: a real moto server on loopback, outside the in-process mock."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        from aws_support import EndpointSession, Estate

        remote = Estate(EndpointSession(url))
        vpc = remote.vpc(tenancy="dedicated")
        remote.function("remote-fn", [remote.subnet(vpc, "10.0.1.0/24")])
        capsys.readouterr()  # the server's start-up banner
        code, report, _ = scan_json(capsys, "--endpoint-url", url, *TENANCY)
    finally:
        server.stop()
    assert code == 1
    assert [(e["resource_id"], e["compliance"]) for e in report["evaluations"]] == [("remote-fn", "NON_COMPLIANT")]
