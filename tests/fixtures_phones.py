"""Fixtures for phones: simulated phones, adb keys, test APKs."""
