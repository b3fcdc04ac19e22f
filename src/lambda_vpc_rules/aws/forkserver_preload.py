"""Imported by the fork server of `organization.Shards` before it forks the scan's processes: the pack, and the
service models and client classes of the scan's services (`shared_models.warm`), so that each process starts
with them instead of parsing and building them again; then everything the fork server holds is moved out of
the cyclic collector's sight (`gc.freeze`, as Python's documentation advises before forking), so that a forked
process's collections do not touch, and copy, every page it shares with the fork server (measured:
docs/organization-scale.md)."""

import gc

from . import organization  # noqa: F401 - imported here, once, for every process forked
from .shared_models import warm

warm()
gc.freeze()
