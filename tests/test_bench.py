"""The benchmark's own measurements leave nothing running behind them."""

import threading

import pytest

pytestmark = pytest.mark.kernel


def test_the_trivial_notebook_runs_leave_no_heartbeat_thread_behind(tmp_path):
    # papermill's stock engine leaves open the client it makes for each notebook; their
    # heartbeat threads used to load every later section of the bench.
    from relief_kit.tools.bench import _trivial_runs

    before = {thread.ident for thread in threading.enumerate()}
    for reuse in (False, True):
        seconds = _trivial_runs(["R1", "R2", "R3"], 2, reuse=reuse, sockets_in=tmp_path)
        assert seconds > 0
    left = [thread for thread in threading.enumerate() if thread.ident not in before]
    assert left == []
