"""Input checks every pure statistics module shares: numeric arrays of the right shape with NaN for missing
values and nothing infinite, and label vectors with one label per conversation. Each raises ``ValueError``
with a message naming the argument and what is wrong (scikit-learn's ``check_array`` is the model)."""

import numpy as np


def numeric_array(
    values: object, *, name: str, ndim: int, shape: str = "", missing: str = "a missing value", min_columns: int = 0
) -> np.ndarray:
    """``values`` as a float array of ``ndim`` dimensions; NaN (or None) marks ``missing``, infinity is refused.

    ``shape`` describes the axes for the message ("units × raters"); ``min_columns`` the columns a 2-D array
    needs at least.
    """
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numeric (NaN for {missing}): {error}") from None
    if array.ndim != ndim:
        axes = f", {shape}" if shape else ""
        raise ValueError(f"{name} must be {ndim}-D{axes}; got {array.ndim}-D with shape {array.shape}")
    if ndim == 2 and array.shape[1] < min_columns:
        raise ValueError(f"{name} must have at least {min_columns} column{'s' if min_columns > 1 else ''}")
    if np.isinf(array).any():
        raise ValueError(f"{name} contains an infinite value; use NaN for {missing}")
    return array


def vector_of_length(values: object, *, name: str, n: int, what: str, missing: str) -> np.ndarray:
    """A float vector with exactly ``n`` entries, ``what`` saying what each one is ("one score per conversation")."""
    array = numeric_array(values, name=name, ndim=1, missing=missing) if np.ndim(values) == 1 else None
    if array is None or array.shape != (n,):
        raise ValueError(f"{name} must give {what} ({n}); got shape {np.shape(values)}")
    return array


def labels(values: object, *, name: str, n: int | None = None) -> np.ndarray:
    """One non-empty string label per conversation (as an object array)."""
    array = np.asarray(values, dtype=object)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, one label per conversation; got shape {array.shape}")
    if n is not None and array.size != n:
        raise ValueError(f"{name} must give one label per conversation ({n}); got {array.size}")
    if any(value is None or value == "" for value in array):
        raise ValueError(f"{name} has a missing label: every conversation needs one")
    return np.array([str(value) for value in array], dtype=object)
