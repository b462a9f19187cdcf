"""Compliance checks: one small unit per rule over DeviceFacts (see base.Check), listed in registry.CHECKS."""

from device_agent.checks.base import ApprovedApp, Check, CheckResult, DeviceExpectation
from device_agent.checks.registry import ALL_CHECKS, CHECKS

__all__ = ["ALL_CHECKS", "CHECKS", "ApprovedApp", "Check", "CheckResult", "DeviceExpectation"]
