"""One adaptive rate limit per account and service, shared by every client that calls it.

botocore's `adaptive` retry mode limits the rate of one client: a token bucket whose rate follows CUBIC (cut
on a throttling answer, grown back on successes), off until the first throttling answer (boto3 guide,
"Retries": adaptive mode adds "client-side rate limiting" to standard mode). An organization scan makes a
client per account-region and service, in many threads at once: per-client limits would each learn the
account's limit alone, and together keep exceeding it. Throttling quotas are per account (and region, for
regional services), so the pack shares one of botocore's own limiters (`botocore.retries.adaptive`'s
ClientRateLimiter, token bucket and CUBIC calculator, thread-safe) between all the clients of one account,
region and service: the first throttling answer slows every worker calling that API in that account, and
retries (standard mode, `clients.max_attempts`) wait for their token, so throttling slows the scan instead of
outlasting the retries and becoming coverage gaps. IAM is global: its limiter is per account.

`throttles` counts the throttling answers seen (for progress and the report's figures).
"""

from __future__ import annotations

import threading
from typing import Any

from botocore.retries import adaptive, bucket, standard, throttling

GLOBAL_SERVICES = frozenset({"iam", "organizations"})


class RateLimits:
    """Shared limiters by (account, region, service); `attach` hooks one onto a client."""

    def __init__(self) -> None:
        self._limiters: dict[tuple[str, str, str], adaptive.ClientRateLimiter] = {}
        self._lock = threading.Lock()
        self._detector = standard.ThrottlingErrorDetector(standard.RetryEventAdapter())
        self.throttles = 0

    def limiter(self, account_id: str, region: str, service: str) -> adaptive.ClientRateLimiter:
        key = (account_id, "" if service in GLOBAL_SERVICES else region, service)
        with self._lock:
            if key not in self._limiters:
                clock = bucket.Clock()
                self._limiters[key] = adaptive.ClientRateLimiter(
                    rate_adjustor=throttling.CubicCalculator(starting_max_rate=0, start_time=clock.current_time()),
                    rate_clocker=adaptive.RateClocker(clock),
                    token_bucket=bucket.TokenBucket(max_rate=1, clock=clock),
                    throttling_detector=standard.ThrottlingErrorDetector(standard.RetryEventAdapter()),
                    clock=clock)
            return self._limiters[key]

    def forget(self, account_id: str) -> None:
        """Drop an account's limiters once it is read (its clients are gone): memory does not grow with accounts."""
        with self._lock:
            for key in [key for key in self._limiters if key[0] == account_id]:
                del self._limiters[key]

    def attach(self, client: Any, account_id: str, region: str) -> Any:
        """Make `client` send through the shared limiter of its account, region and service (as botocore's
        adaptive mode registers its own per-client limiter)."""
        service = client.meta.service_model.service_name
        limiter = self.limiter(account_id, region, service)
        service_id = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"before-send.{service_id}", limiter.on_sending_request)
        client.meta.events.register(f"needs-retry.{service_id}", limiter.on_receiving_response)
        client.meta.events.register(f"needs-retry.{service_id}", self._count)
        return client

    def _count(self, **kwargs: Any) -> None:
        try:
            throttled = self._detector.is_throttling_error(**kwargs)
        except Exception:  # noqa: BLE001 - an observer never breaks a call
            return None
        if throttled:
            with self._lock:
                self.throttles += 1
        return None

    def rate(self, account_id: str, region: str, service: str) -> float | None:
        """The limiter's current rate (requests a second) once throttling enabled it; None before."""
        limiter = self._limiters.get((account_id, "" if service in GLOBAL_SERVICES else region, service))
        if limiter is None or not limiter._enabled:  # noqa: SLF001 - botocore keeps it private
            return None
        return limiter._token_bucket.max_rate  # noqa: SLF001
