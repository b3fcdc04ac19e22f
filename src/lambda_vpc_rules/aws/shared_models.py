"""Service models and client classes made once for all the clients of an organization scan.

botocore builds, for every client it makes, a new `ServiceModel` from the loaded JSON and a new client class
with a method per operation (about 650 for EC2, each with its docstring object), and then walks every
operation again to find endpoint-discovery ones. An organization scan makes three clients per account-region
(EC2, Lambda, Resource Groups Tagging) and two more per account (its sessions hold other credentials, so
clients cannot be shared): measured 10 ms of CPU for an EC2 client, 40% of the scanning CPU at 50 accounts x
3 regions x 200 functions (docs/organization-scale.md). The model and the class are the same for every
client of a service: made from the same JSON, by sessions made the same way.

`SharingLoader` is the data loader of the scan's account sessions (`organization.Fleet`; one per process
and data path, `sharing_loader`): clients made through it get the model and the class made first for their
service and API version. `warm` makes them before any is needed: the fork server of `organization.Shards`
does, so that the processes forked from it start with them. botocore's
`ClientCreator` is patched (once, at import) to ask the loader: any other loader (the caller's own session,
other code in the process) keeps botocore's behaviour unchanged. The first class of a service is made by
botocore itself, with its `creating-client-class` event; the sessions sharing it are boto3 sessions made
alike, whose handlers for that event are boto3's own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import boto3
import botocore.client
import botocore.loaders
import botocore.session


class _SearchPaths(list):
    """A loader's search paths, each once: every boto3 Session appends boto3's data directory to the loader it
    is given, so a loader shared by the sessions of 1,000 accounts would hold it 1,000 times."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


class SharingLoader(botocore.loaders.Loader):
    """A botocore data loader whose clients share one service model and one client class per service."""

    def __init__(self, data_path: str | None = None):
        super().__init__(extra_search_paths=data_path.split(os.pathsep) if data_path else None)
        self._search_paths = _SearchPaths(self._search_paths)
        self._lock = threading.Lock()
        self._models: dict[tuple[str, str | None], Any] = {}
        self._classes: dict[int, tuple[type, Any]] = {}

    def shared_model(self, service_name: str, api_version: str | None, make: Callable[[], Any]) -> Any:
        key = (service_name, api_version)
        with self._lock:
            if key not in self._models:
                self._models[key] = make()
            return self._models[key]

    def shared_class(self, service_model: Any, make: Callable[[], type]) -> type:
        with self._lock:  # keyed by the model's identity: the model is kept here, so the id is never reused
            if id(service_model) not in self._classes:
                self._classes[id(service_model)] = (make(), service_model)
            return self._classes[id(service_model)][0]

    def shares(self, service_model: Any) -> bool:
        with self._lock:  # another thread may be adding a model: iterating the dict then would raise
            return any(model is service_model for model in self._models.values())


# the services an organization scan's sessions make clients of
SCAN_SERVICES = ("ec2", "lambda", "resourcegroupstaggingapi", "iam", "sts", "organizations")
_LOADERS: dict[str | None, SharingLoader] = {}
_LOADERS_LOCK = threading.Lock()


def sharing_loader(data_path: str | None) -> SharingLoader:
    """This process's `SharingLoader` for botocore's `data_path` setting."""
    with _LOADERS_LOCK:
        if data_path not in _LOADERS:
            _LOADERS[data_path] = SharingLoader(data_path)
        return _LOADERS[data_path]


def warm(services: tuple[str, ...] = SCAN_SERVICES) -> None:
    """Load the models and make the client classes of `services` now (no AWS call is made)."""
    core = botocore.session.Session()
    core.register_component("data_loader", sharing_loader(core.get_config_variable("data_path")))
    session = boto3.Session(botocore_session=core, region_name="us-east-1", aws_access_key_id="unused",
                            aws_secret_access_key="unused")  # noqa: S106 - no call is made with them
    for service in services:
        session.client(service)


_load_service_model = botocore.client.ClientCreator._load_service_model  # noqa: SLF001
_create_client_class = botocore.client.ClientCreator._create_client_class  # noqa: SLF001


def _shared_load_service_model(self: Any, service_name: str, api_version: str | None = None) -> Any:
    loader = self._loader
    if isinstance(loader, SharingLoader):
        return loader.shared_model(service_name, api_version,
                                   lambda: _load_service_model(self, service_name, api_version))
    return _load_service_model(self, service_name, api_version)


def _shared_create_client_class(self: Any, service_name: str, service_model: Any) -> type:
    loader = self._loader
    if isinstance(loader, SharingLoader) and loader.shares(service_model):
        return loader.shared_class(service_model, lambda: _create_client_class(self, service_name, service_model))
    return _create_client_class(self, service_name, service_model)


if not getattr(botocore.client.ClientCreator, "_lambda_vpc_rules_shared", False):
    botocore.client.ClientCreator._load_service_model = _shared_load_service_model  # noqa: SLF001
    botocore.client.ClientCreator._create_client_class = _shared_create_client_class  # noqa: SLF001
    botocore.client.ClientCreator._lambda_vpc_rules_shared = True  # noqa: SLF001
