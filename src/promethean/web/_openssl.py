"""The few OpenSSL calls the stdlib ``ssl`` module does not expose.

Go's ``RequestClientCert`` and ``RequireAnyClientCert`` ask for a client
certificate without verifying it, and Go takes a list of curves; Python's
``SSLContext`` can only verify-or-not and set one curve. Both are one call on
the ``SSL_CTX`` behind the ``SSLContext``: ``SSL_CTX_set_verify`` with a
callback that accepts any chain, and ``SSL_CTX_set1_groups_list``.

The ``SSL_CTX`` pointer is read from the ``SSLContext`` object (it is the first
field after the object header in CPython). Before anything is written, the
pointer is proved right: the library must be the very libssl the ``_ssl``
module runs on (same version number), and the verify mode and options read
through the pointer must equal what the ``SSLContext`` reports. If any of
that fails, :func:`available` is false and callers refuse the settings that
need it with a clear error instead of silently serving something weaker.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import ssl
import threading
from typing import Any

_SSL_VERIFY_PEER = 0x01
_SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 0x02
_SSL_CTRL_SET_GROUPS_LIST = 92

_VERIFY_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)


def _accept_any_chain(_preverify_ok: int, _store: int | None) -> int:
    return 1


# Module-level so the C callback outlives every SSL_CTX that points at it.
_ACCEPT_ANY = _VERIFY_CB(_accept_any_chain)

_lock = threading.Lock()
_lib: Any = None
_problem: str | None = None
_probed = False


def _libssl_path() -> str | None:
    try:
        with open("/proc/self/maps", encoding="ascii", errors="replace") as maps:
            for line in maps:
                parts = line.split()
                if len(parts) >= 6 and "/libssl." in parts[-1]:
                    return parts[-1]
    except OSError:
        pass
    return ctypes.util.find_library("ssl")


def _probe() -> None:
    global _lib, _problem, _probed
    import _ssl  # noqa: F401  (make sure libssl is loaded before looking for it)

    path = _libssl_path()
    if path is None:
        _problem = "libssl could not be located"
        return
    try:
        lib = ctypes.CDLL(path)
        lib.OpenSSL_version_num.restype = ctypes.c_ulong
        lib.SSL_CTX_get_verify_mode.argtypes = [ctypes.c_void_p]
        lib.SSL_CTX_get_verify_mode.restype = ctypes.c_int
        lib.SSL_CTX_get_options.argtypes = [ctypes.c_void_p]
        lib.SSL_CTX_get_options.restype = ctypes.c_uint64
        lib.SSL_CTX_set_verify.argtypes = [ctypes.c_void_p, ctypes.c_int, _VERIFY_CB]
        lib.SSL_CTX_set_verify.restype = None
        lib.SSL_CTX_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
        lib.SSL_CTX_ctrl.restype = ctypes.c_long
        lib.SSL_load_client_CA_file.argtypes = [ctypes.c_char_p]
        lib.SSL_load_client_CA_file.restype = ctypes.c_void_p
        lib.SSL_CTX_set_client_CA_list.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.SSL_CTX_set_client_CA_list.restype = None
    except (OSError, AttributeError) as exc:
        _problem = f"libssl functions unavailable: {exc}"
        return
    if lib.OpenSSL_version_num() != ssl.OPENSSL_VERSION_NUMBER:
        _problem = "the libssl found is not the one the ssl module uses"
        return
    _lib = lib
    try:
        probe = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        for mode, expected in ((ssl.CERT_OPTIONAL, 1), (ssl.CERT_REQUIRED, 3), (ssl.CERT_NONE, 0)):
            probe.verify_mode = mode
            ptr = _ctx_pointer_unchecked(probe)
            if lib.SSL_CTX_get_verify_mode(ptr) != expected:
                raise ValueError("verify mode mismatch")
            if lib.SSL_CTX_get_options(ptr) != int(probe.options):
                raise ValueError("options mismatch")
    except (ValueError, OSError):
        _lib = None
        _problem = "the SSL_CTX behind an SSLContext could not be located safely"


def _ctx_pointer_unchecked(ctx: ssl.SSLContext) -> int:
    value = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
    if not value:
        raise ValueError("null SSL_CTX")
    return value


def _ready() -> Any:
    global _probed
    with _lock:
        if not _probed:
            _probed = True
            _probe()
    return _lib


def available() -> bool:
    """Whether the calls below work in this process."""
    return _ready() is not None


def unavailable_reason() -> str:
    _ready()
    return _problem or ""


def _ctx_pointer(ctx: ssl.SSLContext) -> tuple[Any, int]:
    lib = _ready()
    if lib is None:
        raise OSError(f"OpenSSL access unavailable: {_problem}")
    ptr = _ctx_pointer_unchecked(ctx)
    # Re-check on this very object before writing through the pointer.
    if lib.SSL_CTX_get_options(ptr) != int(ctx.options):
        raise OSError("OpenSSL access unavailable: SSL_CTX pointer check failed")
    return lib, ptr


def request_any_client_cert(ctx: ssl.SSLContext, *, require: bool) -> None:
    """Ask for a client certificate and accept any chain (Go's Request/RequireAny)."""
    lib, ptr = _ctx_pointer(ctx)
    mode = _SSL_VERIFY_PEER | (_SSL_VERIFY_FAIL_IF_NO_PEER_CERT if require else 0)
    lib.SSL_CTX_set_verify(ptr, mode, _ACCEPT_ANY)
    if lib.SSL_CTX_get_verify_mode(ptr) != mode:
        raise OSError("OpenSSL did not take the client certificate mode")


def set_groups(ctx: ssl.SSLContext, groups: list[str]) -> None:
    """Set the key exchange groups in preference order (``P-256:X25519``)."""
    lib, ptr = _ctx_pointer(ctx)
    spec = ":".join(groups).encode("ascii")
    if lib.SSL_CTX_ctrl(ptr, _SSL_CTRL_SET_GROUPS_LIST, 0, ctypes.c_char_p(spec)) != 1:
        raise ValueError(f"OpenSSL rejected curve list {':'.join(groups)}")


def set_client_ca_names(ctx: ssl.SSLContext, ca_path: str) -> bool:
    """Advertise the CA names clients should pick a certificate for (best effort)."""
    lib, ptr = _ctx_pointer(ctx)
    names = lib.SSL_load_client_CA_file(ca_path.encode())
    if not names:
        return False
    lib.SSL_CTX_set_client_CA_list(ptr, names)  # takes ownership
    return True
