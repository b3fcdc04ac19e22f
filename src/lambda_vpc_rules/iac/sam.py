"""SAM templates (`Transform: AWS::Serverless-2016-10-31`), transformed by AWS's own SAM translator
(`aws-sam-translator`, what CloudFormation's transform runs), never by hand.

A managed policy that a SAM function names by its short name (`AWSLambdaVPCAccessExecutionRole`) becomes
its ARN through the translator's bundled name map, or IAM's list of AWS managed policies when the account is
read; only the name is resolved this way, the policy's document is read like any other (or unknown offline).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .resolve import TemplateError, partition_of

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"


def is_sam(template: Mapping[str, Any]) -> bool:
    transform = template.get("Transform")
    transforms = transform if isinstance(transform, list) else [transform]
    return SAM_TRANSFORM in transforms


def plain(value: Any) -> Any:
    """cfn-lint's nodes (dict/str subclasses with line marks) as plain dicts, lists and strings."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value


def transform(template: Mapping[str, Any], parameters: Mapping[str, Any], region: str | None,
              iam_client: Any = None) -> dict[str, Any]:
    """The CloudFormation template the SAM transform makes of this one. Raises TemplateError with the
    translator's messages for a template it rejects."""
    try:
        from samtranslator.model.exceptions import InvalidDocumentException
        from samtranslator.parser.parser import Parser
        from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
        from samtranslator.translator.translator import Translator
    except ImportError:  # pragma: no cover - the `check` extra
        raise TemplateError("SAM templates need the aws-sam-translator package: pip install "
                            "'lambda-vpc-rules[check]'") from None
    loader = ManagedPolicyLoader(iam_client) if iam_client is not None else None

    def policy_map() -> dict[str, str]:
        return loader.load() if loader is not None else {}

    import boto3

    values = dict(parameters)
    # The translator insists on a region (for the partition); offline, `Ref: AWS::Region` stays a Ref in
    # its output, resolved (to unknown) like any other.
    values.setdefault("AWS::Region", region or {"Ref": "AWS::Region"})
    values.setdefault("AWS::Partition", partition_of(region))
    # the translator reads only the session's region (for the partition); it makes no call with it
    session = boto3.session.Session(region_name=region or "us-east-1", aws_access_key_id="unused",
                                    aws_secret_access_key="unused")
    translator = Translator(None, Parser(), boto_session=session)
    try:
        return translator.translate(copy.deepcopy(plain(template)), values, get_managed_policy_map=policy_map)
    except InvalidDocumentException as error:
        messages = "; ".join(cause.message for cause in error.causes) or str(error)
        raise TemplateError(f"SAM transform: {messages}") from None
