"""An independent scanner's view of the default TLS policy (sslyze, real handshakes)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme
from _webtest_support import running_server

sslyze = pytest.importorskip("sslyze")


@pytest.mark.timeout(120)
def test_default_policy_accepts_only_modern_tls(tmp_path: Path) -> None:
    ca = trustme.CA(key_type=trustme.KeyType.RSA)
    cert = ca.issue_cert("localhost", "127.0.0.1", key_type=trustme.KeyType.RSA)
    cert.cert_chain_pems[0].write_to_path(tmp_path / "server.pem")
    cert.private_key_pem.write_to_path(tmp_path / "server.key")
    config = tmp_path / "web.yml"
    config.write_text("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n")
    commands = {
        sslyze.ScanCommand.SSL_2_0_CIPHER_SUITES,
        sslyze.ScanCommand.SSL_3_0_CIPHER_SUITES,
        sslyze.ScanCommand.TLS_1_0_CIPHER_SUITES,
        sslyze.ScanCommand.TLS_1_1_CIPHER_SUITES,
        sslyze.ScanCommand.TLS_1_2_CIPHER_SUITES,
        sslyze.ScanCommand.TLS_1_3_CIPHER_SUITES,
    }
    with running_server(config) as srv:
        location = sslyze.ServerNetworkLocation("localhost", srv.port, ip_address="127.0.0.1")
        scanner = sslyze.Scanner(per_server_concurrent_connections_limit=4)
        scanner.queue_scans([sslyze.ServerScanRequest(location, scan_commands=commands)])
        results = list(scanner.get_results())
    assert len(results) == 1
    assert results[0].scan_status == sslyze.ServerScanStatusEnum.COMPLETED
    scan = results[0].scan_result
    assert scan is not None

    def accepted(attempt: object) -> list[str]:
        assert attempt.status == sslyze.ScanCommandAttemptStatusEnum.COMPLETED  # type: ignore[attr-defined]
        return [s.cipher_suite.name for s in attempt.result.accepted_cipher_suites]  # type: ignore[attr-defined]

    for old in ("ssl_2_0", "ssl_3_0", "tls_1_0", "tls_1_1"):
        assert accepted(getattr(scan, f"{old}_cipher_suites")) == [], old
    tls12 = accepted(scan.tls_1_2_cipher_suites)
    assert tls12, "TLS 1.2 must be served"
    for name in tls12:
        assert name.startswith("TLS_ECDHE_"), f"non-ECDHE key exchange accepted: {name}"
        assert "_CBC_" not in name, f"CBC suite accepted: {name}"
        assert name.endswith(("_GCM_SHA256", "_GCM_SHA384", "_POLY1305_SHA256")), name
    assert accepted(scan.tls_1_3_cipher_suites)
