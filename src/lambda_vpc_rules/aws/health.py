"""The rule functions' own record of their runs: Lambda's CloudWatch metrics (AWS/Lambda Errors per function,
hourly sums), read in one GetMetricData call per account-region. What `status` shows as each rule's last
failure; its last successful run is the newest ResultRecordedTime of its evaluations (aws/config.py).

CloudWatch keeps hourly data points for 63 days (CloudWatch user guide, "Metrics retention"); the pack looks
back `LOOKBACK_DAYS`. A failure older than that is "none in the last N days", never "never".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from .config import _iso

LOOKBACK_DAYS = 14
PERIOD_SECONDS = 3600


def last_failures(cloudwatch: Any, function_names: Iterable[str], now: dt.datetime) -> Mapping[str, str | None]:
    """Function name -> the start of the newest hour in which it had Errors (ISO 8601, UTC), None if none in
    the look-back."""
    names = list(function_names)
    queries = [{"Id": f"e{index}", "ReturnData": True,
                "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Errors",
                                          "Dimensions": [{"Name": "FunctionName", "Value": name}]},
                               "Period": PERIOD_SECONDS, "Stat": "Sum"}} for index, name in enumerate(names)]
    found: dict[str, str | None] = dict.fromkeys(names)
    if not queries:
        return found
    # hour-aligned, so each data point is one clock hour (GetMetricData aligns periods to StartTime)
    end = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    token = None
    while True:
        arguments: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": end - dt.timedelta(days=LOOKBACK_DAYS),
                                     "EndTime": end, "ScanBy": "TimestampDescending"}
        if token:
            arguments["NextToken"] = token
        answer = cloudwatch.get_metric_data(**arguments)
        for result in answer.get("MetricDataResults") or ():
            name = names[int(result["Id"][1:])]
            for timestamp, value in zip(result.get("Timestamps") or (), result.get("Values") or (), strict=False):
                when = _iso(timestamp)
                if value > 0 and when and (found[name] is None or when > found[name]):
                    found[name] = when
        token = answer.get("NextToken")
        if not token:
            return found
