"""Push URL parsing: the cases observed on the Go Pushgateway, and the poisoning fix."""

from __future__ import annotations

import pytest

from promethean.pushgateway.groupkey import GroupKeyError, group_path, parse_group_path


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        ("job/j1/instance/i1", {"job": "j1", "instance": "i1"}),
        ("job@base64/YS9i", {"job": "a/b"}),
        ("job/j11/path@base64/L3Zhci90bXA", {"job": "j11", "path": "/var/tmp"}),
        ("job/j12/empty@base64/=", {"job": "j12", "empty": ""}),
        ("job/j12b/empty/", {"job": "j12b", "empty": ""}),
        ("job/j17/instance/i/instance/k", {"job": "j17", "instance": "k"}),
        (
            "job/pyjob/empty@base64/=/instance/box1/path@base64/L2EvYg==",
            {"job": "pyjob", "empty": "", "instance": "box1", "path": "/a/b"},
        ),
    ],
)
def test_valid_paths(tail: str, expected: dict[str, str]) -> None:
    assert dict(parse_group_path(tail)) == expected


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        ("job@base64/=", "job name is required"),
        ("job/a/b", 'odd number of components in label string "/b"'),
        ("job/j16/a/1/b", 'odd number of components in label string "/a/1/b"'),
        ("job/j13/bad-label/x", 'improper label name "bad-label"'),
        ("job/j14/__name__/x", 'improper label name "__name__"'),
        (
            "job/j15/x@base64/!!!notb64",
            'invalid base64 encoding for label x="!!!notb64"',
        ),
        # Decodes to b"\xfb\xff": the Go gateway stored this and broke; we refuse it.
        ("job/x/v@base64/-_8=", "invalid base64 encoding for label v: value is not valid UTF-8"),
        ("job@base64/_w==", "invalid base64 encoding for label job: value is not valid UTF-8"),
    ],
)
def test_invalid_paths(tail: str, message: str) -> None:
    with pytest.raises(GroupKeyError) as info:
        parse_group_path(tail)
    assert str(info.value).startswith(message)


def test_group_path_round_trips() -> None:
    for tail in ("job/a/instance/b", "job@base64/YS9i/x@base64/="):
        key = parse_group_path(tail)
        assert parse_group_path(group_path(key).removeprefix("/metrics/")) == key
