"""Template encryption at rest: AES-256-GCM with a key that never lives beside the data.

Key sources, first match wins (read through ``facelens.config``):
  FACELENS_KEY       the key itself, base64 of 32 random bytes
  FACELENS_KEY_FILE  a file holding that base64 text
  <config_dir>/gallery.key  the default file; a first run may create it (mode 0600) and says so
The data directory never holds the key: a key file placed there is refused, so copying the
data directory (a backup, a stolen laptop folder) never copies the key with it.

Every ciphertext is ``nonce (12 bytes) || AES-GCM(ciphertext + tag)`` with associated data that
binds it to its place (e.g. the identity it belongs to), so a template moved to another
identity no longer decrypts. A wrong key fails the GCM tag check → KeyMaterialError.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import sys
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .. import config
from ..errors import BadInputError, KeyMaterialError

KEY_BYTES = 32
NONCE_BYTES = 12
DEFAULT_KEY_NAME = "gallery.key"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def default_key_path() -> Path:
    return config.config_dir() / DEFAULT_KEY_NAME


def generate_key() -> str:
    """A fresh key as base64 text (what FACELENS_KEY or a key file holds)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def _decode(text: str, origin: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyMaterialError(f"{origin} is not valid base64 ({exc})") from None
    if len(raw) != KEY_BYTES:
        raise KeyMaterialError(f"{origin} must decode to {KEY_BYTES} bytes, got {len(raw)}")
    return raw


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _write_new_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # O_EXCL: two first runs racing must not overwrite each other's key (and never follows a
    # symlink planted at the key's path); 0600 whatever the umask.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(generate_key() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    print(
        f"facelens: created a new gallery encryption key at {path} (mode 0600). "
        "Back it up: without it the stored templates cannot be read.",
        file=sys.stderr,
    )


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only (0600), atomically.

    For files that hold secrets or decrypted personal data (exports). A symlink or a folder at
    ``path`` is refused: following a link planted there would write the data where the link
    points. The bytes go to a fresh 0600 file beside ``path``, then replace it in one rename,
    so an existing world-readable file is never left holding them."""
    path = Path(path)
    if path.is_symlink():
        raise BadInputError(f"{path}: is a symbolic link; refusing to write personal data through it")
    if path.is_dir():
        raise BadInputError(f"{path}: is a directory")
    folder = path.parent if str(path.parent) else Path(".")
    temporary = folder / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
    except OSError as exc:
        raise BadInputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise BadInputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def load_key(create: bool = False, data_dirs: tuple[Path, ...] = ()) -> bytes:
    """The 32-byte key. ``create``: make the key file when no key exists anywhere.

    ``data_dirs``: folders holding gallery files; the key may not sit directly in one of them,
    nor anywhere under ``config.data_dir()``.
    """
    value = config.key_value()
    if value:
        return _decode(value, "FACELENS_KEY")
    path = config.key_file() or default_key_path()
    beside_data = any(path.resolve().parent == folder.resolve() for folder in data_dirs)
    if beside_data or _inside(path, config.data_dir()):
        raise KeyMaterialError(
            f"refusing key file {path}: it is inside the data directory; keep keys apart from data"
        )
    if not path.exists():
        if not create:
            raise KeyMaterialError(
                f"no encryption key: set FACELENS_KEY or FACELENS_KEY_FILE (looked for {path})"
            )
        try:
            _write_new_key(path)
        except FileExistsError:
            pass  # another process created it a moment ago: use theirs
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyMaterialError(f"cannot read key file {path}: {exc}") from None
    return _decode(text, f"key file {path}")


class Cipher:
    """AES-GCM with associated data; one instance per key."""

    def __init__(self, key: bytes):
        if len(key) != KEY_BYTES:
            raise KeyMaterialError(f"key must be {KEY_BYTES} bytes, got {len(key)}")
        self._aead = AESGCM(key)
        # Audit keys are derived from the template key (HKDF, one label each), so the audit
        # seal needs no key file of its own and never lives in the database.
        self._mac_key = HKDF(SHA256(), 32, salt=None, info=b"facelens-audit-v1").derive(key)
        self._mac_state = hmac.new(self._mac_key, digestmod=hashlib.sha256)
        pseudonym_key = HKDF(SHA256(), 32, salt=None, info=b"facelens-audit-pseudonym-v1").derive(key)
        # keyed BLAKE2b (a keyed hash / PRF in its own right): ~3× cheaper per call than HMAC
        # here, and every string of every audit entry is hashed once on append and on verify.
        self._pseudonym_state = hashlib.blake2b(key=pseudonym_key, digest_size=16)
        self.fingerprint = hashlib.sha256(b"facelens-key-id-v1" + key).hexdigest()[:16]

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        blob = bytes(blob)
        if len(blob) < NONCE_BYTES + 16:
            raise KeyMaterialError("stored ciphertext is truncated")
        try:
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except InvalidTag:
            raise KeyMaterialError(
                "the encryption key does not decrypt this gallery's data (wrong key, or the data was altered)"
            ) from None

    def mac(self, data: bytes) -> str:
        """Keyed hash (HMAC-SHA256, hex) used to seal the audit chain."""
        state = self._mac_state.copy()  # keyed once in __init__, not per call
        state.update(data)
        return state.hexdigest()

    def pseudonym(self, text: str) -> str:
        """Keyed hash of a personal value (keyed BLAKE2b, 128 bits, hex, under its own derived
        key): stands in for a name in the audit log. Without the key it cannot be linked back
        to the name; with the key, "is this erased entry about X?" can still be answered."""
        state = self._pseudonym_state.copy()
        state.update(text.encode("utf-8", "surrogatepass"))
        return state.hexdigest()
