"""``/ghapp <command> [args]``: only a comment whose first line starts with the prefix is a command."""

from __future__ import annotations

import pytest

from ghapp.sync.handlers.commands import parse


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/ghapp status", ("status", "")),
        ("/ghapp HOLD until Friday\nmore words", ("hold", "until Friday")),
        ("  /ghapp retry  \n", ("retry", "")),
        ("/ghapp", None),
        ("/ghappy status", None),
        ("please /ghapp status", None),
        ("first line\n/ghapp status", None),
        ("", None),
    ],
)
def test_a_command_is_the_first_line_only(body, expected):
    assert parse(body) == expected
