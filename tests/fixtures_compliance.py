"""Fixtures for the compliance part."""
