"""center/pagecache.py: values fresh for ttl_s, one computation per key at a
time (a burst waits for the first), nothing cached from a failure."""
import threading

import pytest

from center.pagecache import PageCache


class Ticks:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_a_value_is_reused_until_it_is_ttl_old():
    now = Ticks()
    cache, calls = PageCache(60, now=now), []
    compute = lambda: calls.append(1) or len(calls)    # noqa: E731
    assert cache.get("a", compute) == 1
    now.t += 59.9
    assert cache.get("a", compute) == 1
    now.t += 0.1
    assert cache.get("a", compute) == 2
    assert cache.get("b", compute) == 3 and cache.computed == 3
    cache.clear()
    assert cache.get("a", compute) == 4


def test_a_failed_computation_is_not_cached():
    cache = PageCache(60, now=Ticks())

    def boom():
        raise RuntimeError("db down")
    with pytest.raises(RuntimeError):
        cache.get("a", boom)
    assert cache.get("a", lambda: "ok") == "ok"


def test_the_number_of_entries_is_bounded():
    cache = PageCache(60, max_entries=3, now=Ticks())
    for k in range(10):
        cache.get(k, lambda k=k: k)
    assert len(cache._entries) == 3 and set(cache._entries) == {7, 8, 9}


def test_a_burst_for_a_cold_key_computes_once():
    cache = PageCache(60)
    started, release = threading.Event(), threading.Event()
    calls, results = [], []

    def slow():
        calls.append(1)
        started.set()
        assert release.wait(10)
        return "page"

    first = threading.Thread(target=lambda: results.append(cache.get("m", slow)))
    first.start()
    assert started.wait(10)
    others = [threading.Thread(target=lambda: results.append(cache.get("m", slow))) for _ in range(8)]
    for t in others:
        t.start()
    release.set()
    for t in [first, *others]:
        t.join(10)
    assert results == ["page"] * 9 and len(calls) == 1
