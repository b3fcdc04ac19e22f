"""`--endpoint-url` (an emulator such as a moto server, or a VPC endpoint) checked before any call: a refused
connection is said at once, in the user's terms, instead of after botocore's retries (ten attempts with
back-off: about 10 s for a refused loopback port) and as a generic AWS error.

One TCP connection is opened and closed; nothing is sent. A check that passes proves only that something
listens there: what answers is judged by the calls themselves (`aws.clients.guard`)."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

from ..errors import PackError

CONNECT_TIMEOUT = 3.0  # seconds; a refused connection answers at once, this bounds a silent one


class EndpointUnreachable(PackError):
    """Nothing accepts connections at the --endpoint-url given."""


def check_endpoint(url: str, timeout: float = CONNECT_TIMEOUT) -> None:
    parsed = urlparse(url)
    host = parsed.hostname or ""
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except ConnectionRefusedError:
        raise EndpointUnreachable(f"cannot connect to --endpoint-url {url}: connection refused (nothing listens on "
                                  f"{host}:{port}; is the emulator running?)") from None
    except TimeoutError:
        raise EndpointUnreachable(f"cannot connect to --endpoint-url {url}: no answer within {timeout:g} s "
                                  "(a firewall, or a wrong host?)") from None
    except socket.gaierror as error:
        raise EndpointUnreachable(f"cannot connect to --endpoint-url {url}: unknown host {host!r} "
                                  f"({error.strerror})") from None
    except OSError as error:
        raise EndpointUnreachable(f"cannot connect to --endpoint-url {url}: {error.strerror or error}") from None


def describe_connection_error(error: Exception) -> str:
    """botocore's EndpointConnectionError / ConnectTimeoutError, in the user's terms (a network problem, not an
    answer from AWS)."""
    endpoint = getattr(error, "kwargs", {}).get("endpoint_url", "")
    return (f"cannot connect to {endpoint or 'the AWS endpoint'} (network, proxy or endpoint problem; "
            f"no AWS answer was received): {error}")
