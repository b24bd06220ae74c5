"""sim.fanout on real engines: a spawned process pool, a distributed.LocalCluster of two worker processes,
and an existing scheduler reached by its address. Workers are really killed (os._exit) mid-item."""

import argparse
import functools
import io
import re

import pytest
import fanout_items
from sim.fanout import Engine, FanOut, add_fanout_args, fan_out, fanout_from_args, local_cluster
from sim.progress import ProgressMode, track

ENGINES = [FanOut(engine=Engine.POOL, workers=2), FanOut(engine=Engine.DASK_LOCAL, workers=2)]
IDS = ["pool", "dask-local"]


def _tries(folder, x) -> int:
    marker = folder / f"item{x}"
    return len(marker.read_text()) if marker.exists() else 0


def test_values_in_item_order_and_the_same_on_every_engine():
    items = list(range(13))[::-1]
    expected = [x * x for x in items]
    with local_cluster(2) as cluster:  # a cluster already running, reached by its address
        remote = FanOut(engine=Engine.DASK, address=cluster.scheduler_address)
        for how in (*ENGINES, remote):
            outcomes = fan_out(fanout_items.square, items, how)
            assert [o.value for o in outcomes] == expected, how
            assert [o.item for o in outcomes] == items and all(o.ok for o in outcomes)


@pytest.mark.parametrize("how", ENGINES, ids=IDS)
def test_a_worker_killed_mid_item_gets_the_item_retried_once(how, tmp_path):
    jobs = [(x, str(tmp_path), 1 if x == 3 else 0) for x in range(6)]
    outcomes = fan_out(fanout_items.die_on_first_tries, jobs, how)
    assert [o.value for o in outcomes] == [x * x for x in range(6)]
    assert _tries(tmp_path, 3) == 2  # killed once, run once more
    # the others ran once; on the pool, those running beside the dead worker once more
    assert all(1 <= _tries(tmp_path, x) <= 2 for x in range(6) if x != 3)


@pytest.mark.parametrize("how", ENGINES, ids=IDS)
def test_a_worker_killed_twice_is_reported_and_the_rest_still_run(how, tmp_path):
    jobs = [(x, str(tmp_path), 5 if x == 2 else 0) for x in range(6)]
    outcomes = fan_out(fanout_items.die_on_first_tries, jobs, how)
    assert [o.ok for o in outcomes] == [True, True, False, True, True, True]
    assert [o.value for o in outcomes if o.ok] == [0, 1, 9, 16, 25]
    assert outcomes[2].item == jobs[2] and outcomes[2].value is None
    assert re.search(r"died|KilledWorker", outcomes[2].error)
    assert _tries(tmp_path, 2) == 2  # tried, retried once, then given up: never a third time


@pytest.mark.parametrize("how", ENGINES, ids=IDS)
def test_an_exception_is_the_items_error(how):
    outcomes = fan_out(fanout_items.fail_for_odd, range(4), how)
    assert [o.value for o in outcomes] == [0, None, 2, None]
    assert outcomes[1].error == "ArithmeticError: odd item 1" and outcomes[3].error == "ArithmeticError: odd item 3"


def test_progress_one_line_per_finished_item():
    out = io.StringIO()
    lines_track = functools.partial(track, mode=ProgressMode.LINES, stream=out)
    fan_out(fanout_items.square, range(5), FanOut(workers=2), what="squares", label=lambda x: f"item{x}",
            track=lines_track)
    lines = out.getvalue().splitlines()
    assert [re.match(r"squares: (\d)/5 item\d done", s).group(1) for s in lines] == ["1", "2", "3", "4", "5"]
    assert sorted(s.split()[2] for s in lines) == [f"item{x}" for x in range(5)]


def _parse(*argv):
    parser = argparse.ArgumentParser()
    add_fanout_args(parser)
    return fanout_from_args(parser.parse_args(argv))


def test_command_line_options():
    assert _parse() == FanOut()
    assert _parse("--workers", "3") == FanOut(workers=3)
    assert _parse("--dask", "local") == FanOut(engine=Engine.DASK_LOCAL)
    assert _parse("--address", "tcp://node7:8786") == FanOut(engine=Engine.DASK, address="tcp://node7:8786")
    with pytest.raises(ValueError, match="exclude each other"):
        _parse("--dask", "local", "--address", "tcp://node7:8786")
    with pytest.raises(ValueError, match="has its own"):
        _parse("--address", "tcp://node7:8786", "--workers", "2")


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match=r"address must be a Dask scheduler tcp://HOST:PORT, not None"):
        FanOut(engine=Engine.DASK)
    with pytest.raises(ValueError, match=r"not 'node7:8786'"):
        FanOut(engine=Engine.DASK, address="node7:8786")
    with pytest.raises(ValueError, match="address is for engine 'dask' only, not 'pool'"):
        FanOut(address="tcp://node7:8786")
    with pytest.raises(ValueError, match="workers must be in >= 1, not 0"):
        FanOut(workers=0)
    with pytest.raises(ValueError, match="'ray' is not a valid Engine"):
        FanOut(engine="ray")


@pytest.mark.parametrize("command", ["regress", "faults", "synth-sweep", "map"])
def test_every_fan_out_command_takes_the_options(command):
    from sim.cli import build_parser

    parse = build_parser().parse_args
    assert fanout_from_args(parse([command])) == FanOut()
    assert fanout_from_args(parse([command, "--dask", "local", "--workers", "2"])) == FanOut(
        engine=Engine.DASK_LOCAL, workers=2)
    assert fanout_from_args(parse([command, "--address", "tcp://127.0.0.1:8786"])) == FanOut(
        engine=Engine.DASK, address="tcp://127.0.0.1:8786")
