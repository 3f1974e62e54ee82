"""lsio's exceptions.

Every error lsio raises names the file, the chunk and the cause in its message. The classes
also derive from the built-in exception a Python user would expect, so existing ``except``
clauses keep working:

==========================  =====================================  ==========================
lsio class                  also a                                 raised for
==========================  =====================================  ==========================
``NotFoundError``           ``KeyError``                           unknown variable, dimension
``StoreNotFoundError``      ``NotFoundError``, ``FileNotFoundError`` no Zarr store at the path
``KeyNotFoundError``        ``NotFoundError``, ``FileNotFoundError`` a key (file, object) that
                                                                   a store does not hold
``InvalidArgumentError``    ``ValueError``                         malformed selection/option
``OutOfRangeError``         ``InvalidArgumentError``, ``IndexError`` index past a dimension
``NotSupportedError``       ``NotImplementedError``                codec, dtype, grid lsio lacks
``CorruptDataError``        ``Error``                              undecodable chunk, checksum
``ReadError``               ``OSError``                            the OS failed a read
``AccessError``             ``ReadError``, ``PermissionError``     permission denied
``ChangedError``            ``Error``                              the store was rewritten
                                                                   under an open handle
==========================  =====================================  ==========================

A cancelled call (Ctrl-C) raises ``KeyboardInterrupt``.
"""

from __future__ import annotations

import errno as _errno

__all__ = [
    "Error",
    "NotFoundError",
    "StoreNotFoundError",
    "KeyNotFoundError",
    "InvalidArgumentError",
    "OutOfRangeError",
    "NotSupportedError",
    "CorruptDataError",
    "ReadError",
    "AccessError",
    "ChangedError",
    "from_status",
]


class Error(Exception):
    """Base class of every lsio error."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class NotFoundError(Error, KeyError):
    """A variable, dimension or coordinate that does not exist."""


class StoreNotFoundError(NotFoundError, FileNotFoundError):
    """No Zarr store at the given path."""


class KeyNotFoundError(NotFoundError, FileNotFoundError):
    """A key (a file or an object) that a store does not hold (:mod:`lsio.store`)."""


class InvalidArgumentError(Error, ValueError):
    """A malformed selection, option or request."""


class OutOfRangeError(InvalidArgumentError, IndexError):
    """An index or range outside a dimension or a file."""


class NotSupportedError(Error, NotImplementedError):
    """Valid input that lsio does not implement (a codec, a data type, a chunk grid)."""


class CorruptDataError(Error):
    """Bytes that do not decode: a corrupt or truncated chunk, a checksum mismatch."""


class ReadError(Error, OSError):
    """The operating system failed a read."""


class AccessError(ReadError, PermissionError):
    """Permission denied."""


class ChangedError(Error):
    """The store no longer holds the array an open handle describes (another shape, dtype,
    dimensions, attributes or fill value, or the array is gone): open the dataset again."""


class InternalError(Error):
    """A broken invariant inside lsio: please report it."""


_BY_CODE = {
    "NotFound": NotFoundError,
    "PermissionDenied": AccessError,
    "InvalidArgument": InvalidArgumentError,
    "OutOfRange": OutOfRangeError,
    "IOError": ReadError,
    "CorruptData": CorruptDataError,
    "NotSupported": NotSupportedError,
    "ResourceExhausted": InvalidArgumentError,
    "Internal": InternalError,
    "Changed": ChangedError,
}


def from_status(code: str, message: str, sys_errno: int = 0, subject: str = "") -> BaseException:
    """The exception for a C++ Status (used by the extension; not part of the API).

    ``subject`` is "key" when the status is about a key of a store (lsio.store): a missing one
    is then a :class:`KeyNotFoundError` (a ``FileNotFoundError``, errno ENOENT).
    """
    if code == "Cancelled":
        return KeyboardInterrupt(message)
    if code == "NotFound" and subject == "key":
        exc = KeyNotFoundError(message)
        exc.errno = _errno.ENOENT
        exc.strerror = "ENOENT"
        return exc
    if code == "NotFound" and "no Zarr metadata" in message:
        return StoreNotFoundError(message)
    cls = _BY_CODE.get(code, Error)
    exc = cls(message)
    if sys_errno and isinstance(exc, OSError):
        exc.errno = sys_errno
        exc.strerror = _errno.errorcode.get(sys_errno, "")
    return exc
