"""Pure code that server, device_agent and provisioning may all import: no Flask, no database, no ADB, no network."""
