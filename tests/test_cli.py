"""The qconv command line: sub-commands run, bad input is one clear line and exit status 2."""

import pytest

from sim.cli import main


def test_bad_layer_is_a_clear_error(capsys):
    assert main(["sim", "--layer", "C=8,H=16", "--preset", "tiny"]) == 2
    err = capsys.readouterr().err
    assert "qconv sim: error:" in err and "missing field" in err and "Traceback" not in err


def test_bad_config_is_a_clear_error(capsys):
    assert main(["sim", "--bits", "17"]) == 2
    assert "bits must be in 1..16, not 17" in capsys.readouterr().err


def test_unknown_command_exits_with_usage():
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
