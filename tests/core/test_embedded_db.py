"""The embedded PostgreSQL is found through its data folder, so `sitechat serve --workers N`
hands its URL to the worker processes without writing the environment."""

from __future__ import annotations

from pathlib import Path

from sitechat.core.embedded_db import EmbeddedPostgres


def test_a_running_server_is_found_from_its_data_folder(tmp_path: Path) -> None:
    assert EmbeddedPostgres(tmp_path).running_url() is None
    server = EmbeddedPostgres(tmp_path)
    started_url = server.start()
    try:
        assert EmbeddedPostgres(tmp_path).running_url() == started_url
    finally:
        server.stop()
    assert EmbeddedPostgres(tmp_path).running_url() is None
