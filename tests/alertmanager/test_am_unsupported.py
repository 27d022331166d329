"""SNS and WeChat: amtool's check-config accepts them, the running Alertmanager refuses them.

promethean cannot deliver to either; a server that loaded such a config would
fail that receiver at every flush, so the start (and a reload) stops with an
error naming the file, line, field and receiver instead.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from am_harness import ROOT

from promethean.alertmanager.check import check_file

CONFIG = """route: {receiver: ok}
receivers:
  - name: ok
  - name: chat
    wechat_configs: [{api_secret: s, corp_id: c}]
"""


def test_check_config_keeps_amtools_verdict(tmp_path: Path) -> None:
    path = tmp_path / "am.yml"
    path.write_text(CONFIG)
    out = io.StringIO()
    assert check_file(str(path), out)
    assert out.getvalue().startswith(f"Checking '{path}'  SUCCESS\n")


def test_server_refuses_to_start_naming_the_receiver(tmp_path: Path) -> None:
    path = tmp_path / "am.yml"
    path.write_text(CONFIG)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "promethean.cli",
            "alertmanager",
            f"--config.file={path}",
            f"--storage.path={tmp_path / 'data'}",
            "--web.listen-address=127.0.0.1:0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 1
    assert (
        f'err="{path}:5:5: receivers[1].wechat_configs: receiver \\"chat\\": WeChat notifications '
        "are not supported by promethean; remove this integration or route its alerts to "
        'another receiver"'
    ) in proc.stderr
