"""Config loading: errors name file, line, column and field; secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field, field_validator

from promethean.config import (
    MASK,
    ConfigError,
    ConfigModel,
    Secret,
    load_config,
    parse_config,
    read_secret_file,
    render_yaml,
)


class Auth(ConfigModel):
    username: str = ""
    password: Secret | None = None
    password_file: str | None = None


class Job(ConfigModel):
    job_name: str
    scrape_interval_s: int = 15
    basic_auth: Auth | None = None

    @field_validator("job_name")
    @classmethod
    def _not_empty(cls, v: str) -> str:
        if not v:
            raise ValueError("job_name must not be empty")
        return v


class Root(ConfigModel):
    scrape_configs: list[Job] = Field(default_factory=list)


GOOD = """\
scrape_configs:
  - job_name: a
    basic_auth:
      username: alice
      password: hunter2-very-secret
  - job_name: b
    scrape_interval_s: 30
"""


def test_valid_config_loads_and_secret_is_usable() -> None:
    cfg = parse_config(Root, GOOD, "p.yml")
    auth = cfg.scrape_configs[0].basic_auth
    assert auth is not None and auth.password is not None
    assert auth.password.reveal() == "hunter2-very-secret"
    assert str(auth.password) == MASK
    assert "hunter2" not in repr(cfg)


def test_unknown_field_error_names_file_line_and_field() -> None:
    text = "scrape_configs:\n  - job_name: a\n    scrape_intervall: 5s\n"
    with pytest.raises(ConfigError) as info:
        parse_config(Root, text, "p.yml")
    assert str(info.value) == "p.yml:3:5: scrape_configs[0].scrape_intervall: unknown field"


def test_wrong_type_error_names_position() -> None:
    text = "scrape_configs:\n  - job_name: a\n  - job_name: b\n    scrape_interval_s: soon\n"
    with pytest.raises(ConfigError) as info:
        parse_config(Root, text, "p.yml")
    msg = str(info.value)
    assert msg.startswith("p.yml:4:5: scrape_configs[1].scrape_interval_s: ")
    assert "integer" in msg


def test_custom_validator_message_and_missing_field() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(Root, "scrape_configs:\n  - job_name: ''\n  - {}\n", "p.yml")
    lines = str(info.value).splitlines()
    assert lines == [
        "p.yml:2:5: scrape_configs[0].job_name: job_name must not be empty",
        "p.yml:3:5: scrape_configs[1].job_name: field is required",
    ]


def test_wrong_type_for_secret_does_not_echo_value() -> None:
    text = "scrape_configs:\n  - job_name: a\n    basic_auth:\n      password: [topsecret-list]\n"
    with pytest.raises(ConfigError) as info:
        parse_config(Root, text, "p.yml")
    assert "topsecret" not in str(info.value)
    assert "p.yml:4:7: scrape_configs[0].basic_auth.password" in str(info.value)


def test_invalid_yaml_and_duplicate_keys() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(Root, "scrape_configs:\n  - job_name: [a\n", "p.yml")
    assert str(info.value) == "p.yml:3:1: invalid YAML: did not find expected ',' or ']'"
    with pytest.raises(ConfigError) as info:
        parse_config(Root, "scrape_configs:\n  - job_name: a\n    job_name: b\n", "p.yml")
    assert str(info.value) == "p.yml:3:5: duplicate key 'job_name'"


def test_duplicate_top_level_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(Auth, "username: x\nusername: y\n", "p.yml")
    assert str(info.value) == "p.yml:2:1: duplicate key 'username'"


def test_top_level_must_be_mapping_and_empty_file_is_defaults() -> None:
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        parse_config(Root, "- 1\n", "p.yml")
    assert parse_config(Root, "", "p.yml") == Root()


def test_render_round_trips_everything_but_secrets() -> None:
    cfg = parse_config(Root, GOOD, "p.yml")
    out = render_yaml(cfg)
    assert "hunter2" not in out
    assert f"password: {MASK}\n" in out
    again = parse_config(Root, out, "rendered.yml")
    assert again.model_dump(exclude={"scrape_configs": {0: {"basic_auth": {"password"}}}}) == (
        cfg.model_dump(exclude={"scrape_configs": {0: {"basic_auth": {"password"}}}})
    )


def test_load_config_reads_file_and_reports_missing(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(GOOD)
    assert len(load_config(Root, path).scrape_configs) == 2
    with pytest.raises(ConfigError) as info:
        load_config(Root, tmp_path / "absent.yml")
    assert str(info.value).endswith("cannot read config file: No such file or directory")


def test_secret_file_content_never_shown(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_text("file-secret-value\n")
    secret = read_secret_file(path)
    assert secret.reveal() == "file-secret-value"
    assert f"{secret}" == MASK and str(secret) == MASK
    with pytest.raises(ValueError) as info:
        read_secret_file(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(info.value)
