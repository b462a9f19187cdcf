"""Parsers for what phones print. One module per kind of output; every function is pure and never raises.

Device output is untrusted: anything malformed becomes None (unknown) and, when the caller passes a
`problems` list, one short note saying which section could not be read. Notes never quote device text at
length, so a hostile phone cannot fill evidence logs.
"""

from device_agent.parsers.accounts import parse_account_types
from device_agent.parsers.device_policy import parse_device_admins
from device_agent.parsers.dumpsys_package import PackageDump, parse_dumpsys_package
from device_agent.parsers.getprop import parse_getprop
from device_agent.parsers.install_result import InstallResult, parse_install_result
from device_agent.parsers.lock_settings import parse_lock_settings
from device_agent.parsers.media import parse_media_listing
from device_agent.parsers.pm_list import parse_pm_list
from device_agent.parsers.settings import parse_settings_get, parse_settings_list
from device_agent.parsers.text import decode_output

__all__ = [
    "InstallResult", "PackageDump", "decode_output", "parse_account_types", "parse_device_admins",
    "parse_dumpsys_package", "parse_getprop", "parse_install_result", "parse_lock_settings",
    "parse_media_listing", "parse_pm_list", "parse_settings_get", "parse_settings_list",
]
