"""sim.progress: a tqdm bar on a terminal, one plain line per finished item otherwise (both modes forced)."""

import io
import re

import pytest

from sim.progress import ProgressMode, choose_mode, track


class _Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.mark.parametrize("tty, environ, mode", [
    (True, {}, ProgressMode.BAR),
    (True, {"CI": ""}, ProgressMode.BAR),
    (True, {"CI": "true"}, ProgressMode.LINES),
    (False, {}, ProgressMode.LINES),
    (False, {"CI": "1"}, ProgressMode.LINES),
], ids=["terminal", "terminal-CI-empty", "terminal-CI", "pipe", "pipe-CI"])
def test_mode_follows_the_terminal_and_ci(tty, environ, mode):
    assert choose_mode(_Stream(tty), environ) is mode


def test_lines_one_per_finished_item_after_its_work():
    out = io.StringIO()
    seen = []
    for item in track(["conv1", "conv2", "fc"], "layers", mode=ProgressMode.LINES, stream=out):
        print(f"working on {item}", file=out)
        seen.append(item)
    assert seen == ["conv1", "conv2", "fc"]
    lines = out.getvalue().splitlines()
    assert lines[0::2] == ["working on conv1", "working on conv2", "working on fc"]
    pattern = r"layers: (\d)/3 (\w+) done \(\d+\.\d s, about \d+\.\d s left\)"
    assert [re.fullmatch(pattern, line).groups() for line in lines[1::2]] == [
        ("1", "conv1"), ("2", "conv2"), ("3", "fc")]
    assert lines[-1].endswith("about 0.0 s left)")


def test_lines_without_a_total_or_names():
    out = io.StringIO()
    assert list(track(iter(range(2)), "epochs", mode=ProgressMode.LINES, stream=out)) == [0, 1]
    assert [re.sub(r"\d+\.\d s", "T", s) for s in out.getvalue().splitlines()] == [
        "epochs: 1 done (T)", "epochs: 2 done (T)"]


def test_bar_shows_what_done_total_and_time_left():
    out = _Stream(tty=False)  # forced: the mode parameter wins over the stream
    assert list(track(["a", "b", "c"], "training qat4", mode=ProgressMode.BAR, stream=out)) == ["a", "b", "c"]
    text = out.getvalue()
    assert "\r" in text and "\n" not in text.splitlines()[0]  # redrawn in place
    final = text.split("\r")[-1]
    assert re.search(r"training qat4: 100%\|.*\| 3/3 \[\d\d:\d\d<\d\d:\d\d", final), final  # elapsed<left
    assert final.rstrip().endswith(", c]")  # the item's name beside the bar


def test_an_inner_bar_is_cleared_and_the_outer_one_kept():
    out = _Stream(tty=True)
    for _ in track(["x", "y"], "outer", mode=ProgressMode.BAR, stream=out):
        for _ in track(range(3), "inner", mode=ProgressMode.BAR, stream=out):
            pass
    text = out.getvalue()
    after_inner = text[text.rindex("inner"):]
    assert re.search(r"\r +\x1b\[A", after_inner)  # the inner bar's line blanked when it ended
    assert re.fullmatch(r"\router: 100%\|.*\| 2/2 \[.*, y\]\n", after_inner[after_inner.rindex("\r"):])


def test_bad_mode_is_a_clear_error():
    with pytest.raises(ValueError, match="'dots' is not a valid ProgressMode"):
        list(track([1], "x", mode="dots"))
