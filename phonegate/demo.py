"""Demo phones for `make run`: a few simulated phones beside the server, so the walkthrough needs no hardware.

They are clearly not real: serials start with SIMULATED-PHONE, the model they report (and show in the ADB
banner) is "SIMULATED PHONE (<profile>)", and the server log names them the same way. They accept any ADB key
(as if someone tapped Allow). `PHONEGATE_DEMO_PHONES=0` turns them off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger("phonegate.demo")

FIRST_PORT = 5555
PROFILES = ("google-pixel-9", "samsung-galaxy-s24", "motorola-moto-g6")


@dataclass
class DemoPhones:
    simulator: object
    phones: list  # SimulatedPhone

    def lines(self) -> list[str]:
        return [f"SIMULATED PHONE {p.serial} listening on {p.endpoint} (ADB over TCP)" for p in self.phones]

    def stop(self) -> None:
        self.simulator.stop()


def start_demo_phones(count: int, *, host: str = "127.0.0.1", first_port: int = FIRST_PORT) -> DemoPhones | None:
    if count <= 0:
        return None
    from device_agent.simulator.phone import VirtualPhone
    from device_agent.simulator.profiles import PROFILE_NAMES
    from device_agent.simulator.server import SimulatorThread

    simulator = SimulatorThread(accept_on_prompt=True).start()
    profiles = [name for name in PROFILES if name in PROFILE_NAMES] or list(PROFILE_NAMES)
    phones = []
    try:
        for index in range(count):
            profile = profiles[index % len(profiles)]
            phone = VirtualPhone.from_profile(profile, serial=f"SIMULATED-PHONE-{index + 1:02d}")
            phone.properties["ro.product.model"] = f"SIMULATED PHONE ({profile})"
            try:
                phones.append(simulator.add_phone(phone, host=host, port=first_port + index))
            except OSError:  # the usual port is taken (a real adb, another demo): any free port will do
                phones.append(simulator.add_phone(phone, host=host, port=0))
    except Exception:
        simulator.stop()
        raise
    demo = DemoPhones(simulator, phones)
    for line in demo.lines():
        log.info("%s", line)
    return demo
