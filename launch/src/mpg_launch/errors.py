"""Errors the launchers raise on purpose. The CLI prints the message as one line and exits with
the error's code, so every message names what is wrong *and* the fix.

Exit codes (launch/README.md, "Exit codes"): 0 done; 1 a job, execution or endpoint failed or
was stopped, AWS refused a request, or a tool failed; 2 a usage or validation error, nothing
sent; 130 interrupted (Ctrl-C); 143 terminated (SIGTERM; SIGHUP 129), cleaned up as Ctrl-C."""

from __future__ import annotations


class LaunchError(Exception):
    """Base of the launchers' deliberate errors."""

    exit_code = 1


class ConfigError(LaunchError):
    """Missing or malformed settings (role, region, bucket, config file, flags)."""

    exit_code = 2


class RequestInvalid(LaunchError):
    """A request that botocore's service model rejects; nothing was sent."""

    exit_code = 2


class JobFailed(LaunchError):
    """A job, execution or endpoint ended Failed (or Stopped); the message carries
    FailureReason."""

    exit_code = 1


class DockerError(LaunchError):
    """The Docker engine or CLI is missing, or a docker command failed."""

    exit_code = 1
