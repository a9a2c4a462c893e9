"""The ``cloudwatch`` client's alarm calls on the local engine: alarms are records in the state
folder, which a local rollout reads and evaluates against the metrics the local router
records (:mod:`mpg_launch.local.engine.rollout`). Same method names and shapes as boto3's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mpg_launch.local.state import ALARMS, LocalState


class LocalCloudWatch:
    def __init__(self, state: LocalState, region: str = "us-east-1", account: str = "0") -> None:
        self.state = state
        self.arn_prefix = f"arn:aws:cloudwatch:{region}:{account}:alarm:"

    def put_metric_alarm(self, **request: Any) -> dict[str, Any]:
        record = {
            **request,
            "AlarmArn": self.arn_prefix + request["AlarmName"],
            "StateValue": "INSUFFICIENT_DATA",
            "AlarmConfigurationUpdatedTimestamp": datetime.now(UTC).isoformat(),
        }
        self.state.put(ALARMS, request["AlarmName"], record)
        return {}

    def describe_alarms(
        self, AlarmNames: list[str] | None = None, AlarmNamePrefix: str = "", **_: Any
    ) -> dict[str, Any]:
        names = self.state.names(ALARMS) if AlarmNames is None else AlarmNames
        names = [n for n in names if n.startswith(AlarmNamePrefix)]
        found = [
            self.state.get(ALARMS, n, "DescribeAlarms")
            for n in names
            if self.state.exists(ALARMS, n)
        ]
        return {"MetricAlarms": found, "CompositeAlarms": []}

    def delete_alarms(self, AlarmNames: list[str]) -> dict[str, Any]:
        for name in AlarmNames:
            self.state.delete(ALARMS, name)
        return {}

    def list_tags_for_resource(self, ResourceARN: str) -> dict[str, Any]:
        name = ResourceARN.removeprefix(self.arn_prefix)
        return {"Tags": list(self.state.get(ALARMS, name, "ListTagsForResource").get("Tags", []))}
