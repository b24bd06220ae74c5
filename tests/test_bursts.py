"""model/bursts.py: the burst rule, on hand-worked cases and against a naive beat-by-beat splitter."""

import re

import numpy as np
import pytest

from model.bursts import Burst, split_run, split_transfer


def _naive(addr: int, nbytes: int, beat: int) -> list[tuple[int, int, int]]:
    """(addr, beats, last_bytes) of each burst, walking beat by beat: a new burst starts at a 4 KiB
    boundary or after 256 beats."""
    bursts = []
    for k in range(-(-nbytes // beat)):
        a = addr + k * beat
        if not bursts or a % 4096 == 0 or bursts[-1][1] == 256:
            bursts.append([a, 0, beat])
        bursts[-1][1] += 1
    bursts[-1][2] = nbytes - (-(-nbytes // beat) - 1) * beat
    return [tuple(b) for b in bursts]


def _tuples(bursts: list[Burst]) -> list[tuple[int, int, int]]:
    return [(b.addr, b.beats, b.last_bytes) for b in bursts]


# Worked by hand. 64-bit beats: 256 beats = 2 KiB. From 0x0F00, 256 bytes (32 beats) reach the
# 4 KiB boundary at 0x1000; then 256 beats to 0x1800, then the 3 bytes left: one partial beat.
HAND = [
    (0x0000, 8, 8, [(0x0000, 1, 8)]),
    (0x0000, 3, 8, [(0x0000, 1, 3)]),
    (0x0000, 4096, 8, [(0x0000, 256, 8), (0x0800, 256, 8)]),
    (0x0F00, 256 + 2048 + 3, 8, [(0x0F00, 32, 8), (0x1000, 256, 8), (0x1800, 1, 3)]),
    (0x0FF8, 16, 8, [(0x0FF8, 1, 8), (0x1000, 1, 8)]),
    # 32-bit beats: 256 beats = 1 KiB, the beat limit cuts first
    (0x0000, 1025, 4, [(0x0000, 256, 4), (0x0400, 1, 1)]),
    # 128-bit beats: 256 beats = 4 KiB, the boundary cuts at 0x1000 and the limit never does
    (0x0010, 4096, 16, [(0x0010, 255, 16), (0x1000, 1, 16)]),
]


@pytest.mark.parametrize("addr, nbytes, beat, expected", HAND, ids=[f"{a:#x}+{n}@{b}" for a, n, b, _ in HAND])
def test_hand_worked_runs(addr, nbytes, beat, expected):
    assert _tuples(split_run(addr, nbytes, beat)) == expected


def test_strobes_and_bytes_of_a_partial_last_beat():
    burst = split_run(0x40, 21, 8)[0]
    assert burst.strobes == [0xFF, 0xFF, 0x1F] and burst.nbytes == 21
    assert split_run(0, 16, 8)[0].strobes == [0xFF, 0xFF]


@pytest.mark.parametrize("beat", [4, 8, 16])
def test_random_runs_match_the_naive_splitter(beat):
    rng = np.random.default_rng(beat)
    for _ in range(300):
        addr = int(rng.integers(0, 2**20)) * beat
        nbytes = int(rng.integers(1, 20000))
        bursts = split_run(addr, nbytes, beat)
        assert _tuples(bursts) == _naive(addr, nbytes, beat)
        assert sum(b.nbytes for b in bursts) == nbytes
        for b in bursts:
            assert b.beats <= 256 and b.addr // 4096 == (b.addr + b.beats * beat - 1) // 4096


def test_strided_transfer_is_each_run_split_alone():
    # three rows of 20 bytes, 4096 bytes apart, the second straddling nothing: one burst each
    got = _tuples(split_transfer(0x0FF0, 20, 3, 0x1000, 8))
    assert got == [(0x0FF0, 2, 8), (0x1000, 1, 4), (0x1FF0, 2, 8), (0x2000, 1, 4), (0x2FF0, 2, 8), (0x3000, 1, 4)]
    assert _tuples(split_transfer(0x100, 8, 2, 0, 8)) == [(0x100, 1, 8), (0x100, 1, 8)]


@pytest.mark.parametrize("call, message", [
    (lambda: split_run(4, 8, 8), "addr must be a multiple of beat_bytes=8 (aligned transfers), not 0x4"),
    (lambda: split_run(0, 0, 8), "nbytes must be in 1..16777215, not 0"),
    (lambda: split_run(0, 8, 2), "beat_bytes must be one of 4, 8, 16, not 2"),
    (lambda: split_run(2**32 - 8, 16, 8), "ends past the 32-bit address space"),
    (lambda: split_transfer(0, 8, 0, 8, 8), "count must be in 1..65535, not 0"),
    (lambda: split_transfer(0, 8, 2, 12, 8), "stride must be a multiple of beat_bytes=8"),
    (lambda: split_transfer(0, 8, 3, 2**31, 8), "run 2 of the transfer ends at 0x100000008"),
])
def test_bad_input_names_the_field_and_range(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
