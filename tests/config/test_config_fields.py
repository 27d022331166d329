"""Shared config field types: durations parse as upstream and render back canonically."""

from __future__ import annotations

import pytest

from promethean.config import ConfigError, ConfigModel, parse_config, render_yaml
from promethean.config.fields import Duration, GoDuration


class Cfg(ConfigModel):
    interval: Duration = 60.0
    timeout: GoDuration = 10.0


def test_durations_parse_and_render_canonically() -> None:
    cfg = parse_config(Cfg, "interval: 90s\ntimeout: 1.5s\n", "c.yml")
    assert (cfg.interval, cfg.timeout) == (90.0, 1.5)
    assert render_yaml(cfg) == "interval: 1m30s\ntimeout: 1.5s\n"


def test_go_durations_take_a_bare_integer_as_nanoseconds_like_go_yaml() -> None:
    assert parse_config(Cfg, "timeout: 1500000000\n", "c.yml").timeout == 1.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("interval: 15\n", 'c.yml:1:1: interval: not a valid duration string: "15"'),
        ("interval: 1.5m\n", 'c.yml:1:1: interval: not a valid duration string: "1.5m"'),
        ("timeout: 1x\n", 'c.yml:1:1: timeout: time: invalid duration "1x"'),
    ],
)
def test_bad_durations_name_the_value_and_place(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(Cfg, text, "c.yml")
    assert str(info.value) == message
