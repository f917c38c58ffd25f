"""Arrow arrays from NumPy arrays and short Python lists, without ``pa.array``/``pa.scalar``.

Why not the usual constructors: in pyarrow 26 the first call of ``pa.array``, ``pa.scalar`` or
``Array.to_numpy`` in a process imports pandas (about 400 modules, 0.2-0.4 s), to check whether the
value is a pandas object. A process that cleans one week would spend a third of its time on that.
Building arrays from their buffers is also zero-copy for numbers.
"""

from collections.abc import Sequence
from datetime import date

import numpy as np
import pyarrow as pa


def numbers(values: np.ndarray, type: pa.DataType, valid: np.ndarray | None = None) -> pa.Array:
    """A fixed-width integer or timestamp array over ``values`` (converted to the type's width);
    null where ``valid`` is False."""
    width = type.bit_width // 8
    kind = "u" if pa.types.is_unsigned_integer(type) else "i"
    data = np.ascontiguousarray(values, dtype=np.dtype(f"{kind}{width}"))
    validity = None if valid is None or valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(type, len(data), [validity, pa.py_buffer(data)])


def dictionary(codes: np.ndarray, values: Sequence[str | None], valid: np.ndarray | None = None) -> pa.Array:
    """A dictionary-encoded string array: ``values[codes[i]]`` (null where ``valid`` is False).

    ``values`` may repeat (one entry per turnstile, say); the dictionary gets each value once, as
    readers such as pandas require. A None value gives a null, never a null dictionary entry. The
    codes must be valid indices into ``values`` (not checked: they come from the parser).
    """
    distinct: dict[str, int] = {}
    remap = np.array(
        [-1 if value is None else distinct.setdefault(value, len(distinct)) for value in values] or [0]
    )
    mapped = remap[codes] if len(codes) else np.zeros(0, np.int64)
    if (remap < 0).any():
        value_valid = mapped >= 0
        valid = value_valid if valid is None else valid & value_valid
        mapped = np.maximum(mapped, 0)
    indices = numbers(mapped, pa.int32(), valid)
    return pa.DictionaryArray.from_arrays(indices, strings(list(distinct)), safe=False)


def booleans(values: np.ndarray) -> pa.Array:
    """A bool array (Arrow packs booleans into bits, least significant first)."""
    bits = np.packbits(np.asarray(values, dtype=bool), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])


def strings(values: Sequence[str | None]) -> pa.Array:
    """A string array of ``values`` (None is null). Meant for short lists (a few thousand)."""
    encoded = [b"" if value is None else value.encode("utf-8") for value in values]
    offsets = np.zeros(len(encoded) + 1, np.int32)
    np.cumsum([len(item) for item in encoded], out=offsets[1:])
    validity = None
    nulls = np.array([value is None for value in values], dtype=bool)
    if nulls.any():
        validity = pa.py_buffer(np.packbits(~nulls, bitorder="little"))
    return pa.Array.from_buffers(
        pa.string(), len(encoded), [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    )


def repeat_date(value: date, count: int) -> pa.Array:
    days = (value - date(1970, 1, 1)).days
    return numbers(np.full(count, days, np.int32), pa.date32())


def numpy_view(array: pa.Array) -> np.ndarray:
    """A fixed-width Arrow array without nulls as a NumPy array over the same memory."""
    if array.null_count:
        raise ValueError("numpy_view needs an array without nulls")
    dtype = np.dtype(str(array.type))  # int32 -> int32 (to_pandas_dtype would import pandas too)
    return np.frombuffer(
        array.buffers()[1], dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize
    )
