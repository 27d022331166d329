"""Go's names for TLS knobs, mapped to what OpenSSL calls the same things.

Operators copy web config files between Go exporters and promethean, so the
file speaks Go (``TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256``, ``CurveP256``,
``TLS12``, ``RequireAndVerifyClientCert``); the stdlib ``ssl`` module speaks
OpenSSL. Only names Go's ``tls.CipherSuites()`` knows are accepted, as
upstream does; Go's insecure list (RC4, 3DES, CBC-SHA256) is unknown there
and so is here.
"""

from __future__ import annotations

import ssl
from enum import Enum

# Go cipher suite name -> OpenSSL name. ``None``: a TLS 1.3 suite, which Go
# accepts in the list and then ignores (TLS 1.3 suites are not configurable
# in Go); promethean does the same and keeps OpenSSL's TLS 1.3 defaults.
CIPHER_SUITES: dict[str, str | None] = {
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_AES_128_GCM_SHA256": None,
    "TLS_AES_256_GCM_SHA384": None,
    "TLS_CHACHA20_POLY1305_SHA256": None,
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    # Go accepts the short aliases too.
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": "ECDHE-RSA-CHACHA20-POLY1305",
}

# The default TLS 1.2 policy, stricter than Go's defaults: forward secrecy
# (ECDHE) and AEAD only, so no RSA key exchange and no CBC-SHA1 suites.
DEFAULT_TLS12_CIPHERS: tuple[str, ...] = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
)

# Go curve name -> OpenSSL group name.
CURVES: dict[str, str] = {
    "CurveP256": "P-256",
    "CurveP384": "P-384",
    "CurveP521": "P-521",
    "X25519": "X25519",
}

TLS_VERSIONS: dict[str, ssl.TLSVersion] = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}


class ClientAuth(Enum):
    """Go's ``tls.ClientAuthType`` values, by the names the config file uses."""

    NO_CLIENT_CERT = "NoClientCert"
    REQUEST_CLIENT_CERT = "RequestClientCert"
    REQUIRE_ANY_CLIENT_CERT = "RequireAnyClientCert"
    VERIFY_CLIENT_CERT_IF_GIVEN = "VerifyClientCertIfGiven"
    REQUIRE_AND_VERIFY_CLIENT_CERT = "RequireAndVerifyClientCert"

    @classmethod
    def parse(cls, text: str) -> ClientAuth:
        if text in ("", "NoClientCert"):
            return cls.NO_CLIENT_CERT
        if text == "RequireClientCert":  # upstream keeps this old alias
            return cls.REQUIRE_ANY_CLIENT_CERT
        for member in cls:
            if member.value == text:
                return member
        raise ValueError(f"Invalid ClientAuth: {text}")

    @property
    def requires_cert(self) -> bool:
        return self in (
            ClientAuth.REQUIRE_ANY_CLIENT_CERT,
            ClientAuth.REQUIRE_AND_VERIFY_CLIENT_CERT,
        )

    @property
    def verifies(self) -> bool:
        return self in (
            ClientAuth.VERIFY_CLIENT_CERT_IF_GIVEN,
            ClientAuth.REQUIRE_AND_VERIFY_CLIENT_CERT,
        )
