"""A block writer killed with SIGKILL at a random moment leaves only whole blocks visible."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from promethean.model.matchers import Matcher, MatchType
from promethean.tsdb.block import Block, cleanup_tmp_dirs, list_block_dirs

_WRITER = """
import sys
import numpy as np
from promethean.model.labels import Labels
from promethean.tsdb.block import write_block

ts = np.arange(0, 7_200_000, 15_000, dtype=np.int64)
for k in range(10_000):
    series = (
        (Labels.from_dict({"__name__": "m", "i": f"{i:04d}"}), ts, np.random.random(ts.size))
        for i in range(200)
    )
    meta = write_block(sys.argv[1], series)
    print(meta.ulid, flush=True)
"""


def test_sigkill_during_block_writes(tmp_path: Path) -> None:
    rng = random.Random(1234)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src}
    committed: list[str] = []
    for _round in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(tmp_path)],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert proc.stdout is not None
        committed.append(proc.stdout.readline().strip())  # at least one block finished
        time.sleep(rng.uniform(0.0, 0.15))
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
        committed += [line for line in rest.splitlines() if line.strip()]
        cleanup_tmp_dirs(tmp_path)  # what start-up does
        visible = [p.name for p in list_block_dirs(tmp_path)]
        assert set(committed) <= set(visible)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(visible)
        for name in visible:  # every visible block is whole and readable
            with Block.open(tmp_path / name) as block:
                got = list(
                    block.querier(0, 7_200_000).select([Matcher("i", MatchType.REGEX, ".+")])
                )
                assert len(got) == 200 and all(s.timestamps.size == 480 for s in got)
