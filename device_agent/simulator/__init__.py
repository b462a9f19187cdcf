"""PhoneGate's phone simulator: virtual phones built from profiles, served over ADB by simulator.server.

Only tests, bench/, the demo and `phonegate simulate` import it; production code paths never do.
"""

from device_agent.simulator.phone import FileStat, ShellOutcome, VirtualPhone
from device_agent.simulator.profiles import Faults

__all__ = ["FileStat", "Faults", "ShellOutcome", "VirtualPhone"]
