"""Fixtures for the server: app per test, databases (SQLite and PostgreSQL), clients, tokens."""
