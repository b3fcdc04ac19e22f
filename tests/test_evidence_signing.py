"""Signed evidence (outputs/signing.py, outputs/archive.py): a bundle signed with a KMS key in moto verifies, with
kms:Verify and offline with the public key; one row and the manifest rewritten together fail with a clear line;
an unsigned bundle verifies with the "integrity only" statement; `--upload` keeps the bundle under Object Lock."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from botocore.stub import Stubber

from aws_support import REGION
from lambda_vpc_rules.core.model import Compliance, EvaluationResult
from lambda_vpc_rules.outputs.archive import ArchiveError, upload_bundle
from lambda_vpc_rules.outputs.evidence import Evidence, file_entry, write_bundle
from lambda_vpc_rules.outputs.signing import SIGNATURE, sign_manifest, statement, verify_signature
from lambda_vpc_rules.tooling.cli import main

NAT = "lambda-vpc-private-subnet-nat"


def _bundle(tmp_path):
    rows = [EvaluationResult(NAT, "fn-a", Compliance.NON_COMPLIANT, "public subnet", account_id="123456789012",
                             region=REGION),
            EvaluationResult(NAT, "fn-b", Compliance.COMPLIANT, "", account_id="123456789012", region=REGION)]
    bundle = tmp_path / "bundle"
    write_bundle(bundle, Evidence("2026-11-25T00:00:00+00:00", "scan", {"Account": "123456789012"}, rows, []))
    return bundle


def _rewrite_a_row_and_the_manifest(bundle) -> None:
    """What a forger does: one verdict changed, and the manifest's entry with it (consistent in itself)."""
    csv_file = bundle / "evaluations.csv"
    csv_file.write_text(csv_file.read_text().replace("NON_COMPLIANT", "COMPLIANT"))
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"] = [file_entry(csv_file, "evaluations.csv") if f["path"] == "evaluations.csv" else f
                         for f in manifest["files"]]
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


@pytest.fixture(params=[("ECC_NIST_P256", "ECDSA_SHA_256"), ("RSA_2048", "RSASSA_PSS_SHA_256")],
                ids=["ecdsa", "rsa-pss"])
def key(aws, request):
    kms = aws.client("kms")
    metadata = kms.create_key(KeySpec=request.param[0], KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    return kms, metadata["Arn"], request.param[1]


def test_a_signed_bundle_verifies_with_kms_and_offline_and_a_rewrite_fails(key, tmp_path, capsys):
    kms, arn, algorithm = key
    bundle = _bundle(tmp_path)
    signed = sign_manifest(kms, arn, bundle)
    assert (signed["key_id"], signed["signing_algorithm"], signed["message_type"]) == (arn, algorithm, "RAW")
    assert signed["message"] == statement(file_entry(bundle / "manifest.json", "manifest.json")["sha256"]).decode()
    public_key = tmp_path / "key.der"
    public_key.write_bytes(kms.get_public_key(KeyId=arn)["PublicKey"])

    assert main(["verify-evidence", str(bundle), "--region", REGION]) == 0
    out = capsys.readouterr().out
    assert f"signature valid: the manifest (sha256 {signed['manifest_sha256']}) was signed by KMS key {arn}" in out
    assert "(kms:Verify)" in out
    assert main(["verify-evidence", str(bundle), "--public-key", str(public_key)]) == 0
    assert "checked with the public key given" in capsys.readouterr().out

    _rewrite_a_row_and_the_manifest(bundle)
    for extra in ([], ["--public-key", str(public_key)]):
        assert main(["verify-evidence", str(bundle), "--region", REGION, *extra]) == 1
        err = capsys.readouterr().err
        rewritten = file_entry(bundle / "manifest.json", "manifest.json")["sha256"]
        assert f"manifest.json: changed after it was signed (sha256 {rewritten}, signed {signed['manifest_sha256']})" \
            in err


def test_a_signature_rebuilt_for_the_rewritten_manifest_without_the_key_fails(key, tmp_path, capsys):
    """The forger also edits the signature file's digest: the signature itself no longer verifies."""
    kms, arn, _ = key
    bundle = _bundle(tmp_path)
    sign_manifest(kms, arn, bundle)
    _rewrite_a_row_and_the_manifest(bundle)
    document = json.loads((bundle / SIGNATURE).read_text())
    document["manifest_sha256"] = file_entry(bundle / "manifest.json", "manifest.json")["sha256"]
    (bundle / SIGNATURE).write_text(json.dumps(document))
    public_key = tmp_path / "key.der"
    public_key.write_bytes(kms.get_public_key(KeyId=arn)["PublicKey"])
    check = verify_signature(bundle, kms)  # moto answers SignatureValid false
    [problem] = check.problems
    assert problem.startswith(f"{SIGNATURE}: signature does NOT verify with KMS key {arn} (kms:Verify): the "
                              "signature is not this key's over this manifest")
    with Stubber(kms) as stub:  # what AWS KMS answers (Verify API reference): an error, not false
        stub.add_client_error("verify", "KMSInvalidSignatureException", http_status_code=400)
        assert verify_signature(bundle, kms).problems[0].endswith("(KMSInvalidSignatureException)")
    offline = verify_signature(bundle, public_key=public_key.read_bytes())
    assert offline.problems == [f"{SIGNATURE}: signature does NOT verify with the public key given: the signature "
                                "is not this key's over this manifest"]
    # and a bundle signed by another key does not pass for this one's
    spec = kms.describe_key(KeyId=arn)["KeyMetadata"]["KeySpec"]
    other = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    assert main(["verify-evidence", str(bundle), "--region", REGION, "--kms-key-id", other]) == 1


def test_an_unsigned_bundle_verifies_for_integrity_only(tmp_path, capsys):
    bundle = _bundle(tmp_path)
    assert main(["verify-evidence", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert "every file matches its manifest" in out
    assert "integrity only" in out and "who produced it was NOT checked" in out


def test_a_symmetric_key_cannot_sign_evidence(aws, tmp_path):
    from lambda_vpc_rules.outputs.signing import SigningError

    kms = aws.client("kms")
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    with pytest.raises(SigningError, match="needs an asymmetric key with KeyUsage SIGN_VERIFY"):
        sign_manifest(kms, arn, _bundle(tmp_path))


def test_upload_keeps_the_bundle_under_compliance_retention(aws, tmp_path):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="evidence-locked", ObjectLockEnabledForBucket=True)
    s3.create_bucket(Bucket="evidence-plain")
    bundle = _bundle(tmp_path)
    now = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    keys = upload_bundle(s3, "s3://evidence-locked/audits/2026-11", bundle, 365, now)
    assert keys == [f"s3://evidence-locked/audits/2026-11/{name}" for name in
                    ("evaluations.csv", "evaluations.json", "manifest.json", "report.html")]
    # (moto 5.2.5 answers GetObjectRetention with a 500: HeadObject reports the same retention)
    head = s3.head_object(Bucket="evidence-locked", Key="audits/2026-11/manifest.json")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"].date() == dt.date(2027, 11, 25)
    assert s3.get_object(Bucket="evidence-locked", Key="audits/2026-11/manifest.json")["Body"].read() == (
        bundle / "manifest.json").read_bytes()
    with pytest.raises(ArchiveError, match="does not have S3 Object Lock enabled"):
        upload_bundle(s3, "s3://evidence-plain/x", bundle, 30, now)
    assert "Contents" not in s3.list_objects_v2(Bucket="evidence-plain")
    with pytest.raises(ArchiveError, match="expected s3://BUCKET/PREFIX"):
        upload_bundle(s3, "https://evidence-locked/x", bundle, 30, now)


def test_evidence_signs_and_uploads_from_the_cli(aws, estate, tmp_path, capsys):
    estate.function("plain")  # one function outside a VPC: a verdict to evidence
    kms = boto3.client("kms", region_name=REGION)
    arn = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="evidence-locked", ObjectLockEnabledForBucket=True)
    bundle = tmp_path / "bundle"
    assert main(["evidence", "--out", str(bundle), "--region", REGION, "--rule", NAT, "--upload", "s3://x/y"]) == 2
    assert "--upload and --retain-days go together" in capsys.readouterr().err
    assert main(["evidence", "--out", str(bundle), "--region", REGION, "--rule", NAT, "--kms-key-id", arn,
                 "--upload", "s3://evidence-locked/run-1", "--retain-days", "30"]) == 0
    err = capsys.readouterr().err
    assert f"signed the manifest with {arn} (ECDSA_SHA_256)" in err and "uploaded 5 files" in err
    assert main(["verify-evidence", str(bundle), "--region", REGION]) == 0
    assert "signature valid" in capsys.readouterr().out


FUNCTIONS_STACK = json.dumps({
    "Parameters": {"SigningProfileVersionArns": {"Type": "String", "Default": ""},
                   "HookFailureMode": {"Type": "String", "Default": ""}},
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})


def test_evidence_states_the_deployments_code_signing_and_hook_or_that_they_were_not_read(aws, estate, tmp_path,
                                                                                          capsys, monkeypatch):
    """The deployment's trust (#22: code signing, the hook) in the bundle, read as `status` reads it: from the
    functions stack's own parameters; without --deployment the bundle says it was not read."""
    estate.function("plain")
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="lambda-vpc-rules", TemplateBody=FUNCTIONS_STACK,
        Parameters=[{"ParameterKey": "HookFailureMode", "ParameterValue": "FAIL"}])

    def collect(name, *options):
        assert main(["evidence", "--out", str(tmp_path / name), "--region", REGION, "--rule", NAT, "--quiet",
                     *options]) == 0
        return (json.loads((tmp_path / name / "manifest.json").read_text())["deployment"],
                (tmp_path / name / "report.html").read_text())

    deployment, report = collect("unread")
    assert deployment is None and 'id="deployment">Not read' in report
    deployment, report = collect("read", "--deployment", "lambda-vpc-rules")
    assert deployment == {"stack_name": "lambda-vpc-rules", "organization": False, "region": REGION,
                          "code_signing": "code signing NOT enforced",
                          "hook": deployment["hook"]} and deployment["hook"].startswith(
        "CloudFormation hook deployed, FailureMode FAIL")
    assert "<li>code signing NOT enforced</li>" in report
    deployment, _ = collect("absent", "--deployment", "another-deployment")
    assert deployment["code_signing"] == "code signing unknown (no functions stack or StackSet read)"
    capsys.readouterr()
    monkeypatch.setattr(boto3, "Session", lambda *a, **k: pytest.fail("a session was made"))  # said before any read
    assert main(["evidence", "--out", str(tmp_path / "x"), "--region", REGION, "--deployment-bucket", "b"]) == 2
    assert "describe --deployment STACK" in capsys.readouterr().err and not (tmp_path / "x").exists()
