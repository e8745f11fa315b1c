import pytest

from codesign.memo import Memo


def test_a_value_is_made_once_and_then_read_back():
    cache, made = Memo(4), []
    make = lambda: made.append(1) or len(made)       # noqa: E731
    assert cache.get_or_make("a", make) == 1
    assert cache.get_or_make("a", make) == 1
    assert made == [1]


def test_the_least_recently_used_entry_is_forgotten_when_full():
    cache = Memo(2)
    cache.get_or_make("a", lambda: 1)
    cache.get_or_make("b", lambda: 2)
    cache.get_or_make("a", lambda: 0)                  # used: now the most recent
    cache.get_or_make("c", lambda: 3)
    assert list(cache) == ["a", "c"]


def test_a_failure_keeps_nothing():
    cache = Memo(2)
    with pytest.raises(ZeroDivisionError):
        cache.get_or_make("a", lambda: 1 / 0)
    assert "a" not in cache


def test_a_cache_holds_at_least_one_entry():
    with pytest.raises(ValueError):
        Memo(0)
