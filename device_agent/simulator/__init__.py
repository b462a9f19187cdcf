"""PhoneGate's phone simulator: virtual phones built from profiles, served over ADB by simulator.server."""

from device_agent.simulator.phone import FileStat, Faults, ShellOutcome, VirtualPhone

__all__ = ["FileStat", "Faults", "ShellOutcome", "VirtualPhone"]
