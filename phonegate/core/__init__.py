"""PhoneGate's shared core: pure code that the server, the device agent and provisioning all need.

No Flask, no database, no ADB, no network: APK verification (`apk`), the compliance rules document's schema and
the device rules' metadata (`rules`, `device_rules`), the device lifecycle's vocabulary (`lifecycle`), the
messaging packages (`packages`), making untrusted text printable (`text`), the WhatsApp chat-export scanner
(`chat`) and the exit-code errors (`errors`). Anything here may be imported from anywhere; nothing here imports
`server`, `device_agent` or `provisioning`.
"""
