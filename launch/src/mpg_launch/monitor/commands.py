"""``monitor ACTION``'s parser and table, so the CLI module adds them in two lines."""

from __future__ import annotations

import argparse
from typing import Any

from mpg_launch.monitor.settings import add_flags

# The actions that submit a job (so need the execution role).
SUBMITS = ("monitor run", "monitor schedule")


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    help_text = "model monitor: drift and quality of an endpoint's captured traffic"
    actions = sub.add_parser("monitor", help=help_text, description=help_text).add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )

    def action(name: str, text: str) -> argparse.ArgumentParser:
        p = actions.add_parser(name, parents=[common], help=text, description=text)
        p.add_argument("--endpoint", help="endpoint name (default: 'endpoint_name' setting)")
        add_flags(p)
        return p

    p = action("run", "run the monitoring job now over the last window (and create the alarms)")
    p.add_argument("--job-name")
    action("schedule", "run it on a schedule (EventBridge Scheduler), with the alarms")
    action("list", "the monitor's schedules and alarms, with their states")
    action("delete", "delete the endpoint's monitor schedule and alarms")


def table() -> dict[str, Any]:
    from mpg_launch.monitor import run

    return {
        "monitor run": run.run,
        "monitor schedule": run.schedule,
        "monitor list": run.list_monitors,
        "monitor delete": run.delete,
    }
