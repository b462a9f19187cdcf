"""Logs never hold personal data, passwords or tokens, even at DEBUG level (SQL statements included)."""

from __future__ import annotations

import logging


def test_nothing_personal_or_secret_reaches_the_logs(app, client, runner, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")  # as if someone ran with SQL echo on
    runner.invoke(["service", "add", "Adults"])
    runner.invoke(["team", "add", "Duty", "--service", "Adults"])
    added = runner.invoke(["user", "add", "pat.tech@example.test", "--role", "it", "--password-stdin"],
                          input="pat's own password 42\n")
    assert added.exit_code == 0, added.output
    created = runner.invoke(["token", "create", "--user", "pat.tech@example.test", "--scope", "provision"])
    token = created.stdout.strip()
    runner.invoke(["staff", "add", "jo.holder@example.test", "--name", "Jo Holder", "--team", "Duty"])
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/devices", json={"serial": "LOG1"}, headers=headers).status_code == 201
    assert client.post("/api/v1/enrolments", json={"serial": "LOG1", "staff_email": "jo.holder@example.test"},
                       headers=headers).status_code == 201
    client.get("/api/v1/devices", headers={"Authorization": "Bearer pgt_guessed-token-value"})
    logged = caplog.text
    assert "INSERT INTO devices" in logged  # logging really was on, SQL included
    for secret in (token, "pat's own password 42", "pat.tech@example.test", "jo.holder@example.test", "Jo Holder",
                   "pgt_guessed-token-value"):
        assert secret not in logged, f"{secret!r} was logged"
