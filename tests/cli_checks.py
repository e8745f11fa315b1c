"""Checks on a CLI run (tests/conftest.py's ``cli`` fixture) shared by the test folders."""


def assert_one_line_error(result, needle):
    """Bad input: exit code 2, no traceback, exactly one stderr line `error: ...` containing ``needle``."""
    lines = result.err.rstrip("\n").split("\n")     # an empty line before the error is a second line
    assert result.code == 2, (result.code, result.err)
    assert "Traceback" not in result.err + result.out
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert needle in lines[0], lines[0]
