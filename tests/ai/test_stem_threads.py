"""Stemming from several threads at once (clustering jobs run in a thread pool, two at a time
on one server): Snowball's stemmer object keeps the word it is stemming as its own state, so
one shared between threads mixed two words up and raised IndexError mid-job (seen in the
two-servers drill)."""

from __future__ import annotations

import itertools
import threading

from igny8d.ai import text


def test_threads_stemming_at_once_get_each_words_own_stem() -> None:
    words = ["".join(p) + suffix for p in itertools.product("abcdefghij", repeat=3)
             for suffix in ("ings", "ational", "iveness", "ers")]
    text.stem.cache_clear()
    want = {w: text._new_stemmer().stemWord(w) for w in words}
    got: list[dict[str, str]] = [{} for _ in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work(k: int) -> None:
        start.wait()
        try:
            for w in words[k % 2::2] + words[1 - k % 2::2]:
                got[k][w] = text.stem(w)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for seen in got:
        assert seen == {w: want[w] for w in seen} and len(seen) == len(words)
