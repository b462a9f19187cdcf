"""Talking to phones: the ADB layer, fact collection, compliance checks, sweeps and the phone simulator.

This package never imports `server`; it reaches the server only through its HTTP API (device_agent.client).
"""
