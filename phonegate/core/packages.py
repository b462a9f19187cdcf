"""The messaging apps PhoneGate knows: WhatsApp and WhatsApp Business, by Android package name.

Every default that names them (the catalogue's allowed packages per role, the packages collection reads in
detail, the compliance rules' watch lists, provisioning's first check) starts from these constants.
"""

from __future__ import annotations

WHATSAPP = "com.whatsapp"
WHATSAPP_BUSINESS = "com.whatsapp.w4b"

# Every package that counts as "the messaging app" wherever it is found (an unapproved install included).
MESSAGING_PACKAGES: tuple[str, ...] = (WHATSAPP, WHATSAPP_BUSINESS)

# What the catalogue allows per phone role by default: a person's phone gets WhatsApp; the Broadcast phone may
# carry either (broadcast lists are a WhatsApp Business feature as well as a WhatsApp one).
DEFAULT_PACKAGES_BY_ROLE: dict[str, tuple[str, ...]] = {
    "individual": (WHATSAPP,),
    "broadcast": (WHATSAPP, WHATSAPP_BUSINESS),
}
