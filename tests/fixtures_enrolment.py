"""Fixtures for the enrolment part."""
