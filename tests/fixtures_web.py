"""Fixtures for the web part."""
