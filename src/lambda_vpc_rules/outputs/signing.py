"""Who produced an evidence bundle: the manifest signed with an asymmetric AWS KMS key, and checked again.

The manifest lists the SHA-256 of every other file of the bundle, so a signature over the manifest covers the
whole bundle. Without one, a bundle whose rows and manifest are rewritten together still verifies: the
manifest proves integrity, not origin.

- Signing (`sign_manifest`, kms:Sign): KMS signs messages of up to 4096 bytes (KMS API reference, Sign); the
  message is the statement `lambda-vpc-rules evidence manifest sha256 <hex>` (`MessageType` RAW: KMS hashes
  it with the algorithm's digest and signs), so the signature names the manifest's digest, anyone can rebuild
  the message from the manifest, and the same check runs with kms:Verify or offline with the public key
  (openssl, or the `cryptography` library here). The key must be asymmetric with KeyUsage SIGN_VERIFY; the
  algorithm is the first of ECDSA_SHA_256, RSASSA_PSS_SHA_256, RSASSA_PKCS1_V1_5_SHA_256 the key supports
  (DescribeKey), and is recorded with the key's ARN, as the Sign reference asks ("be sure to record the KMS
  key and the signing algorithm").
- The signature file, `manifest.json.sig`, sits beside the manifest and is not listed in it (it cannot be).
- Verifying (`verify_signature`): the manifest's digest is recomputed, the statement rebuilt, and the
  signature checked with kms:Verify (the key recorded, or the one the verifier names) or with a public key
  file (PEM or DER, SubjectPublicKeyInfo, as kms:GetPublicKey returns it). A valid signature shows which key
  signed; that the key is the one the verifier expects is theirs to check (`--kms-key-id`, `--public-key`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PackError

SIGNATURE = "manifest.json.sig"
MANIFEST = "manifest.json"
ALGORITHMS = ("ECDSA_SHA_256", "RSASSA_PSS_SHA_256", "RSASSA_PKCS1_V1_5_SHA_256")


class SigningError(PackError):
    """A bundle that cannot be signed as asked (the key is not an asymmetric signing key, ...)."""


def statement(manifest_sha256: str) -> bytes:
    """The message signed: it names the manifest by its SHA-256."""
    return f"lambda-vpc-rules evidence manifest sha256 {manifest_sha256}".encode("ascii")


def manifest_digest(bundle: Path) -> str:
    return hashlib.sha256((bundle / MANIFEST).read_bytes()).hexdigest()


def sign_manifest(kms: Any, key_id: str, bundle: str | Path) -> dict[str, Any]:
    """Sign the bundle's manifest with `key_id` (kms:DescribeKey, kms:Sign); write and return the signature
    document."""
    bundle = Path(bundle)
    key = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    if key.get("KeyUsage") != "SIGN_VERIFY":
        raise SigningError(f"KMS key {key.get('Arn', key_id)} has KeyUsage {key.get('KeyUsage')}: signing evidence "
                           "needs an asymmetric key with KeyUsage SIGN_VERIFY (e.g. ECC_NIST_P256)")
    algorithm = next((a for a in ALGORITHMS if a in (key.get("SigningAlgorithms") or ())), None)
    if algorithm is None:
        raise SigningError(f"KMS key {key['Arn']} supports none of {', '.join(ALGORITHMS)}")
    digest = manifest_digest(bundle)
    answer = kms.sign(KeyId=key["Arn"], Message=statement(digest), MessageType="RAW", SigningAlgorithm=algorithm)
    document = {
        "manifest": MANIFEST,
        "manifest_sha256": digest,
        "message": statement(digest).decode("ascii"),
        "message_type": "RAW",
        "key_id": answer["KeyId"],
        "key_spec": key.get("KeySpec"),
        "signing_algorithm": answer["SigningAlgorithm"],
        "signature": base64.b64encode(answer["Signature"]).decode("ascii"),
        "signed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    (bundle / SIGNATURE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return document


@dataclass(frozen=True)
class SignatureCheck:
    """The outcome: `problems` (empty: valid), and what a valid signature shows."""

    problems: list[str]
    signed: bool  # the bundle holds a signature
    statement: str  # one line for the reader


def _signature_document(bundle: Path) -> tuple[dict[str, Any] | None, list[str]]:
    path = bundle / SIGNATURE
    if not path.exists():
        return None, []
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        base64.b64decode(document["signature"], validate=True)
        for name in ("manifest_sha256", "key_id", "signing_algorithm"):
            if not isinstance(document[name], str):
                raise ValueError(f"{name} is not a string")
    except (OSError, ValueError, KeyError, TypeError) as error:
        return None, [f"{SIGNATURE}: unreadable ({error})"]
    return document, []


def verify_signature(bundle: str | Path, kms: Any = None, public_key: bytes | None = None,
                     expected_key_id: str | None = None) -> SignatureCheck:
    """Check the manifest's signature with kms:Verify (`kms`) or offline (`public_key`, PEM or DER)."""
    bundle = Path(bundle)
    document, problems = _signature_document(bundle)
    if problems:
        return SignatureCheck(problems, True, "")
    if document is None:
        return SignatureCheck([], False, "integrity only: every file matches the manifest, but the bundle is not "
                              "signed, so who produced it was NOT checked (sign it: evidence --kms-key-id)")
    actual = manifest_digest(bundle)
    if document["manifest_sha256"] != actual:
        return SignatureCheck([f"{MANIFEST}: changed after it was signed (sha256 {actual}, signed "
                               f"{document['manifest_sha256']})"], True, "")
    message, signature = statement(actual), base64.b64decode(document["signature"])
    algorithm = document["signing_algorithm"]
    if public_key is not None:
        problem = _offline_problem(public_key, message, signature, algorithm)
        where = "the public key given"
    elif kms is None:
        return SignatureCheck([f"{SIGNATURE}: names no key to check it with: pass --public-key or --kms-key-id"],
                              True, "")
    else:
        key_id = expected_key_id or document["key_id"]
        problem = _kms_problem(kms, key_id, message, signature, algorithm)
        where = f"KMS key {key_id} (kms:Verify)"
    if problem:
        return SignatureCheck([f"{SIGNATURE}: signature does NOT verify with {where}: {problem}"], True, "")
    return SignatureCheck([], True, f"signature valid: the manifest (sha256 {actual}) was signed by KMS key "
                          f"{document['key_id']} ({algorithm}), checked with {where}")


def _kms_problem(kms: Any, key_id: str, message: bytes, signature: bytes, algorithm: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        answer = kms.verify(KeyId=key_id, Message=message, MessageType="RAW", Signature=signature,
                            SigningAlgorithm=algorithm)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "KMSInvalidSignatureException":
            return "the signature is not this key's over this manifest (KMSInvalidSignatureException)"
        raise
    return None if answer.get("SignatureValid") else "the signature is not this key's over this manifest " \
        "(SignatureValid false)"


def _offline_problem(public_key: bytes, message: bytes, signature: bytes, algorithm: str) -> str | None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    try:
        key = (serialization.load_pem_public_key(public_key) if public_key.lstrip().startswith(b"-----")
               else serialization.load_der_public_key(public_key))
    except ValueError as error:
        return f"the public key cannot be read ({error})"
    try:
        if algorithm == "ECDSA_SHA_256" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        elif algorithm == "RSASSA_PSS_SHA_256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
                       hashes.SHA256())
        elif algorithm == "RSASSA_PKCS1_V1_5_SHA_256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            return f"a {type(key).__name__} cannot check a {algorithm} signature"
    except InvalidSignature:
        return "the signature is not this key's over this manifest"
    return None
