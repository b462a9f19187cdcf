"""`cmd SERVICE ...` and `dumpsys SERVICE ...`, the front-ends to Android's system services, and the dumps of
the services that no other family owns (account, lock_settings). A family that owns a service registers it in
the table's cmd_services / dumpsys_services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from device_agent.simulator.commands.table import CommandTable, Result, fail, no_such_service, ok

if TYPE_CHECKING:
    from device_agent.simulator.phone import VirtualPhone

CREDENTIAL_TYPES = {"none": "None", "swipe": "None", "pin": "Pin", "password": "Password", "pattern": "Pattern"}
# Before Android 9 lock_settings shows only the password quality (DevicePolicyManager.PASSWORD_QUALITY_*).
PASSWORD_QUALITY = {"None": 0, "Pattern": 65536, "Pin": 131072, "Password": 262144}


def register(table: CommandTable, phone: VirtualPhone) -> None:
    def cmd(argv: list[str], stdin: bytes) -> Result:
        if "cmd" not in phone.features():  # adbd advertises `cmd` exactly when the phone has the binary
            return fail("/system/bin/sh: cmd: inaccessible or not found\n", 127)
        service = argv[1] if len(argv) > 1 else ""
        handler = table.cmd_services.get(service)
        return handler(argv[2:], stdin) if handler is not None else fail(f"Can't find service: {service}\n", 20)

    def dumpsys(argv: list[str], stdin: bytes) -> Result:
        service = argv[1] if len(argv) > 1 else ""
        handler = table.dumpsys_services.get(service)
        return handler(argv[2:], stdin) if handler is not None else no_such_service(service)

    table["cmd"] = cmd
    table["dumpsys"] = dumpsys
    table.dumpsys_services["account"] = lambda args, stdin: ok(dumpsys_account(phone))
    table.dumpsys_services["lock_settings"] = lambda args, stdin: ok(dumpsys_lock_settings(phone))


def dumpsys_account(phone: VirtualPhone) -> str:
    accounts = phone.profile.accounts
    lines = ["User UserInfo{0:Owner:c13}:", f"  Accounts: {len(accounts)}"]
    lines += [f"    Account {{name={a.name}, type={a.type}}}" for a in accounts]
    lines += ["", "  Active Sessions: 0", "", "  RegisteredServicesCache: 3 services"]
    lines += [f"    ServiceInfo: AuthenticatorDescription {{type={t}}}, ComponentInfo{{{t}/.Authenticator}}, uid 10{i:03d}"
              for i, t in enumerate(sorted({a.type for a in accounts}))]
    return "\n".join(lines) + "\n"


def dumpsys_lock_settings(phone: VirtualPhone) -> str:
    credential = CREDENTIAL_TYPES[phone.lock]
    lines = ["Current lock settings service state:", "", "User State:", " User 0"]
    if phone.sdk >= 28:
        lines += [f" CredentialType: {credential}", f" SeparateChallenge: {str(credential != 'None').lower()}"]
    else:
        lines += [f"  Quality: {PASSWORD_QUALITY[credential]}"]
    lines += ["", "StrongAuth:", "PrimaryAuthFlags state:", " userId=0, primaryAuthFlags=0"]
    return "\n".join(lines) + "\n"
