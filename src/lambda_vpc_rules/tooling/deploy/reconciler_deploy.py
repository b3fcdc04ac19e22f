"""The organization pack's reconciler (`reconciler.py`) deployed with the pack: its bundle built (the module, the
pack template, its configuration), uploaded and proven like the rule bundles, and the stack `<stack>-reconciler`
(`pack-reconciler.yaml`) in the home region, where the StackSets and their events are."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from ..packaging import PACK_TEMPLATE, RECONCILER_TEMPLATE, template_text
from .steps import (
    Artifacts,
    DeployOptions,
    Progress,
    RegionalClients,
    apply_stack,
    bucket_name,
    functions_stack_set,
    put_verified,
)

RECONCILER_BUNDLE = "pack-reconciler.zip"
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)


def reconciler_stack(options: DeployOptions) -> str:
    return f"{options.stack_name}-reconciler"


def reconciler_config(options: DeployOptions, home_region: str, regions: list[str]) -> dict[str, object]:
    return {"pack_name": options.pack_name, "home_region": home_region, "delegated_admin": options.delegated_admin,
            "stack_sets": {region: functions_stack_set(options, region) for region in regions}}


def reconciler_bundle(options: DeployOptions, home_region: str, regions: list[str]) -> bytes:
    """The reconciler's zip, byte for byte the same for the same sources and configuration."""
    files = {
        "pack_reconciler.py": (Path(__file__).with_name("reconciler.py")).read_bytes(),
        "conformance-pack.yaml": template_text(PACK_TEMPLATE).encode(),
        "reconciler.json": json.dumps(reconciler_config(options, home_region, regions), sort_keys=True).encode(),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, _FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def deploy_reconciler(clients: RegionalClients, options: DeployOptions, regions: list[str], artifacts: Artifacts,
                      owner: str, progress: Progress) -> str:
    home = clients.home_region
    body = reconciler_bundle(options, home, regions)
    bucket = bucket_name(options.bucket, home)
    key = f"{artifacts.prefix}{RECONCILER_BUNDLE}"
    version, action = put_verified(clients("s3", home), bucket, key, body, owner, options)
    parameters = {
        "CodeBucket": bucket, "CodeKey": key, "CodeObjectVersion": version or "",
        "FunctionName": f"{options.stack_name}-pack-reconciler"[:64], "DeploymentName": options.deployment,
    }
    name = reconciler_stack(options)
    stack_action, _ = apply_stack(clients("cloudformation", home), name, template_text(RECONCILER_TEMPLATE),
                                  parameters, options)
    progress(f"stack {name} ({home}): {stack_action} (bundle {action})")
    return name
