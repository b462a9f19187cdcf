"""Fixtures for APKs: real signed test APKs built with Debian aapt/apksigner."""
