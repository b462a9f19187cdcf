"""Shared pytest set-up. Fixtures live in one module per part, loaded as plugins, so each part owns its own."""

pytest_plugins = [
    "fixtures_server",
    "fixtures_phones",
    "fixtures_adb_server",
    "fixtures_apks",
    "fixtures_split_apks",
    "fixtures_web",
    "fixtures_enrolment",
    "fixtures_compliance",
    "fixtures_oidc",
]
