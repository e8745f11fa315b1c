"""Reader for the IDX format of MNIST and Fashion-MNIST (optionally gzip-compressed)."""
from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DataError

if TYPE_CHECKING:
    import numpy as np

MAX_DIMS = 4
_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> "np.ndarray":
    """The array of an IDX file; a damaged file (bad magic, header, compression or length) is a one-line
    DataError that says to fetch the dataset again."""
    import numpy as np

    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path} cannot be read ({type(err).__name__}: {err}); delete it and fetch the dataset "
                        f"again") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES or not 1 <= raw[3] <= MAX_DIMS:
        raise DataError(f"{path} is not an IDX file; delete it and fetch the dataset again")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path} is truncated inside its header; delete it and fetch the dataset again")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = 4 + 4 * ndim + math.prod(dims) * dtype.itemsize
    if len(raw) != expected:
        state = "is truncated" if len(raw) < expected else "is longer than its header says"
        raise DataError(f"{path} {state} ({len(raw)} of {expected} bytes); delete it and fetch the dataset again")
    return np.frombuffer(raw, dtype=dtype, offset=4 + 4 * ndim).reshape(dims)


def find_idx(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.exists():
            return candidate
    return None
