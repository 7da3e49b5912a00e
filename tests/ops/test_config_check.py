"""`sitechat check-config` and `sitechat serve` refuse a configuration they cannot run, as an
operator sees it: a real process, one plain line per problem naming the setting, exit 2, no
traceback, nothing started."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

STRONG = {
    "SITECHAT_AUTH_JWT_SECRET": "j" * 40,
    "SITECHAT_AUTH_API_KEY_PEPPER": "p" * 40,
}
PRODUCTION_ALLOWING_EVERYTHING = {
    "SITECHAT_ENV": "production",
    **STRONG,
    "SITECHAT_BILLING_ALLOW_SANDBOX_IN_PRODUCTION": "true",
    "SITECHAT_DB_ALLOW_EMBEDDED_IN_PRODUCTION": "true",
    "SITECHAT_HTTP_ALLOW_LOOPBACK_BASE_URL_IN_PRODUCTION": "true",
    "SITECHAT_MAIL_ALLOW_NO_SMTP_IN_PRODUCTION": "true",
}


def run_sitechat(
    tmp_path: Path, *args: str, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """`sitechat ARGS` in an empty folder (no `.env`), with only the given settings."""
    environment = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8", **env}
    return subprocess.run(
        [sys.executable, "-m", "sitechat.cli", *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def problem_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    assert "validation error" not in result.stderr  # no pydantic boilerplate
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("sitechat: ") for line in lines), lines
    return lines


def the_line_naming(lines: list[str], setting: str) -> str:
    matching = [line for line in lines if setting in line]
    assert len(matching) == 1, (setting, lines)
    return matching[0]


class TestProductionRefusals:
    @pytest.mark.parametrize("command", ["check-config", "serve"])
    def test_production_refuses_what_was_meant_for_a_laptop(
        self, tmp_path: Path, command: str
    ) -> None:
        lines = problem_lines(run_sitechat(tmp_path, command, SITECHAT_ENV="production"))
        the_line_naming(lines, "SITECHAT_AUTH_JWT_SECRET")
        the_line_naming(lines, "SITECHAT_AUTH_API_KEY_PEPPER")
        assert "test card" in the_line_naming(lines, "SITECHAT_BILLING_ALLOW_SANDBOX_IN_PRODUCTION")
        assert "embedded" in the_line_naming(lines, "SITECHAT_DB_ALLOW_EMBEDDED_IN_PRODUCTION")
        assert "loopback" in the_line_naming(
            lines, "SITECHAT_HTTP_ALLOW_LOOPBACK_BASE_URL_IN_PRODUCTION"
        )
        # Without SMTP, no reset or invitation mail would leave (and none is logged).
        assert "password-reset" in the_line_naming(
            lines, "SITECHAT_MAIL_ALLOW_NO_SMTP_IN_PRODUCTION"
        )
        assert len(lines) == 6
        # Refused before anything started: no embedded database, no generated secrets.
        assert not (tmp_path / ".sitechat").exists()

    def test_each_refusal_has_its_own_explicit_setting(self, tmp_path: Path) -> None:
        result = run_sitechat(tmp_path, "check-config", **PRODUCTION_ALLOWING_EVERYTHING)
        assert result.returncode == 0, result.stderr
        assert result.stderr.strip() == "sitechat: configuration OK"
        assert "j" * 40 not in result.stdout  # secrets are not printed

    def test_real_parts_need_no_allowance(self, tmp_path: Path) -> None:
        result = run_sitechat(
            tmp_path,
            "check-config",
            SITECHAT_ENV="production",
            **STRONG,
            DATABASE_URL="postgresql://sitechat@db.internal:5432/sitechat",
            SITECHAT_BILLING_GATEWAY="none",
            SITECHAT_HTTP_PUBLIC_BASE_URL="https://chat.example.com",
            SITECHAT_MAIL_SMTP_HOST="smtp.example.com",
        )
        assert result.returncode == 0, result.stderr

    def test_passwords_in_urls_are_not_printed(self, tmp_path: Path) -> None:
        """DATABASE_URL and REDIS_URL were printed with their passwords, other secrets masked."""
        result = run_sitechat(
            tmp_path,
            "check-config",
            **PRODUCTION_ALLOWING_EVERYTHING,
            DATABASE_URL="postgresql://sitechat:db-pass-1234@db.internal:5432/sitechat",
            REDIS_URL="redis://default:redis-pass-5678@cache.internal:6379/0?password=q-pass-90",
        )
        assert result.returncode == 0, result.stderr
        for password in ("db-pass-1234", "redis-pass-5678", "q-pass-90"):
            assert password not in result.stdout
        shown = json.loads(result.stdout)
        assert shown["db"]["url"] == "postgresql://sitechat:**********@db.internal:5432/sitechat"
        assert shown["redis"]["url"] == (
            "redis://default:**********@cache.internal:6379/0?password=**********"
        )
        assert shown["auth"]["api_key_pepper"] == "**********"

    def test_a_short_secret_is_refused(self, tmp_path: Path) -> None:
        env = {**PRODUCTION_ALLOWING_EVERYTHING, "SITECHAT_AUTH_JWT_SECRET": "short"}
        lines = problem_lines(run_sitechat(tmp_path, "check-config", **env))
        assert "too weak" in the_line_naming(lines, "SITECHAT_AUTH_JWT_SECRET")
        assert "short" not in "".join(lines)


class TestSeveralApiProcesses:
    """`serve --workers N` without Redis kept rate limits and lockouts per process: 5 failed
    logins became 5 x N, and production started silently."""

    # Unreachable: if the check let it through, `serve` would fail connecting, not start.
    NO_DATABASE = "postgresql://sitechat@127.0.0.1:1/sitechat"

    def test_production_serve_with_workers_needs_redis(self, tmp_path: Path) -> None:
        env = {**PRODUCTION_ALLOWING_EVERYTHING, "DATABASE_URL": self.NO_DATABASE}
        lines = problem_lines(run_sitechat(tmp_path, "serve", "--workers", "3", **env))
        line = the_line_naming(lines, "SITECHAT_REDIS_ALLOW_PER_PROCESS_LIMITS_IN_PRODUCTION")
        assert line.startswith("sitechat: REDIS_URL is not set") and "--workers 3" in line
        assert len(lines) == 1

    def test_check_config_checks_what_serve_will_run(self, tmp_path: Path) -> None:
        result = run_sitechat(
            tmp_path, "check-config", "--workers", "2", **PRODUCTION_ALLOWING_EVERYTHING
        )
        the_line_naming(problem_lines(result), "REDIS_URL")

    @pytest.mark.parametrize(
        "allowed",
        [
            {"REDIS_URL": "redis://cache.internal:6379/0"},
            {"SITECHAT_REDIS_ALLOW_PER_PROCESS_LIMITS_IN_PRODUCTION": "true"},
            {"SITECHAT_RATELIMIT_ENABLED": "false"},
            {"SITECHAT_ENV": "development"},
        ],
    )
    def test_shared_or_explicitly_per_process_limits_pass(
        self, tmp_path: Path, allowed: dict[str, str]
    ) -> None:
        env = {**PRODUCTION_ALLOWING_EVERYTHING, **allowed}
        result = run_sitechat(tmp_path, "check-config", "--workers", "4", **env)
        assert result.returncode == 0, result.stderr


class TestWhatServeWillNeed:
    def test_a_rate_limit_that_is_not_one(self, tmp_path: Path) -> None:
        lines = problem_lines(
            run_sitechat(tmp_path, "check-config", SITECHAT_RATELIMIT_CHAT="lots")
        )
        assert lines == [
            "sitechat: SITECHAT_RATELIMIT_CHAT: 'lots' is not a rate limit; "
            "write it like 60/minute, 10/hour or 1000/day"
        ]

    def test_serve_refuses_it_before_starting_anything(self, tmp_path: Path) -> None:
        lines = problem_lines(run_sitechat(tmp_path, "serve", SITECHAT_RATELIMIT_CHAT="lots"))
        the_line_naming(lines, "SITECHAT_RATELIMIT_CHAT")
        assert not (tmp_path / ".sitechat" / "postgres").exists()

    def test_an_openai_answerer_needs_its_endpoint(self, tmp_path: Path) -> None:
        lines = problem_lines(
            run_sitechat(tmp_path, "check-config", SITECHAT_LLM_ANSWERER="openai")
        )
        assert "SITECHAT_LLM_ANSWERER=openai" in the_line_naming(lines, "SITECHAT_LLM_BASE_URL")

    def test_openai_itself_needs_a_key(self, tmp_path: Path) -> None:
        result = run_sitechat(
            tmp_path,
            "check-config",
            SITECHAT_LLM_ANSWERER="openai",
            SITECHAT_LLM_BASE_URL="https://api.openai.com/v1",
        )
        the_line_naming(problem_lines(result), "SITECHAT_LLM_API_KEY")

    def test_an_openai_embedder_needs_its_endpoint(self, tmp_path: Path) -> None:
        result = run_sitechat(tmp_path, "check-config", SITECHAT_EMBEDDING_PROVIDER="openai")
        the_line_naming(problem_lines(result), "SITECHAT_EMBEDDING_BASE_URL")

    @pytest.mark.parametrize("seconds", ["0", "60"])
    def test_a_worker_heartbeat_out_of_range(self, tmp_path: Path, seconds: str) -> None:
        # Above 20 s a live worker could look dead to `ops.retry_stalled_jobs` (60 s).
        result = run_sitechat(tmp_path, "check-config", SITECHAT_WORKER_HEARTBEAT_SECONDS=seconds)
        the_line_naming(problem_lines(result), "SITECHAT_WORKER_HEARTBEAT_SECONDS")

    def test_a_metrics_folder_that_is_not_one(self, tmp_path: Path) -> None:
        # /metrics would fail at every scrape reading it (prometheus_client's ValueError).
        missing = str(tmp_path / "no-such-folder")
        result = run_sitechat(tmp_path, "check-config", PROMETHEUS_MULTIPROC_DIR=missing)
        assert "not point to a directory" in the_line_naming(
            problem_lines(result), "PROMETHEUS_MULTIPROC_DIR"
        )

    def test_an_unknown_answerer(self, tmp_path: Path) -> None:
        result = run_sitechat(tmp_path, "check-config", SITECHAT_LLM_ANSWERER="gpt")
        the_line_naming(problem_lines(result), "SITECHAT_LLM_ANSWERER")

    def test_urls(self, tmp_path: Path) -> None:
        result = run_sitechat(
            tmp_path,
            "check-config",
            DATABASE_URL="mysql://root@db/sitechat",
            REDIS_URL="http://cache:6379",
            SITECHAT_HTTP_PUBLIC_BASE_URL="chat.example.com",
            SITECHAT_HTTP_CORS_ORIGINS="https://www.example.com/app",
        )
        lines = problem_lines(result)
        for setting in (
            "DATABASE_URL",
            "REDIS_URL",
            "SITECHAT_HTTP_PUBLIC_BASE_URL",
            "SITECHAT_HTTP_CORS_ORIGINS",
        ):
            the_line_naming(lines, f" {setting}:")

    def test_a_value_of_the_wrong_type_names_its_variable(self, tmp_path: Path) -> None:
        result = run_sitechat(tmp_path, "check-config", SITECHAT_DB_POOL_SIZE="many")
        line = the_line_naming(problem_lines(result), "SITECHAT_DB_POOL_SIZE")
        assert "'many'" in line

    def test_a_number_nothing_could_run_with(self, tmp_path: Path) -> None:
        result = run_sitechat(tmp_path, "check-config", SITECHAT_WORKER_CONCURRENCY="0")
        line = the_line_naming(problem_lines(result), "SITECHAT_WORKER_CONCURRENCY")
        assert "greater than or equal to 1" in line

    def test_an_unspecified_public_address_is_no_public_url(self, tmp_path: Path) -> None:
        env = {
            **PRODUCTION_ALLOWING_EVERYTHING,
            "SITECHAT_HTTP_PUBLIC_BASE_URL": "http://0.0.0.0:8655",
        }
        del env["SITECHAT_HTTP_ALLOW_LOOPBACK_BASE_URL_IN_PRODUCTION"]
        lines = problem_lines(run_sitechat(tmp_path, "check-config", **env))
        assert "http://0.0.0.0:8655" in the_line_naming(lines, "SITECHAT_HTTP_PUBLIC_BASE_URL")

    def test_an_unknown_gateway(self, tmp_path: Path) -> None:
        result = run_sitechat(tmp_path, "check-config", SITECHAT_BILLING_GATEWAY="paypal")
        the_line_naming(problem_lines(result), "SITECHAT_BILLING_GATEWAY")

    def test_a_broken_plan_catalog(self, tmp_path: Path) -> None:
        plans = tmp_path / "plans.toml"
        plans.write_text('[[plans]]\nid = "gold"\nname = "Gold"\nrank = 1\n', encoding="utf-8")
        result = run_sitechat(tmp_path, "check-config", SITECHAT_BILLING_PLANS_FILE=str(plans))
        line = the_line_naming(problem_lines(result), "SITECHAT_BILLING_PLANS_FILE")
        assert "plans.0.prices" in line

    def test_a_good_configuration_passes_and_prints_the_effective_settings(
        self, tmp_path: Path
    ) -> None:
        result = run_sitechat(tmp_path, "check-config")
        assert result.returncode == 0, result.stderr
        assert '"gateway": "sandbox"' in result.stdout
        assert (tmp_path / ".sitechat" / "secrets.json").exists()
