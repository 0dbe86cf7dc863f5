"""``Standardizer``: per-feature z-scores whose statistics come from the valid steps of the
training sequences only, never from the padding."""

from __future__ import annotations

import numpy as np

from .errors import DataError

__all__ = ["Standardizer"]


def _valid_steps(x, lengths, who: str) -> tuple[np.ndarray, np.ndarray]:
    """x as float (N, T, F) and its (N, T) mask of valid steps, or a DataError."""
    x, lengths = np.asarray(x), np.asarray(lengths)
    if x.ndim != 3 or x.dtype.kind not in "biuf":
        raise DataError(f"{who}: x has shape {x.shape} and dtype {x.dtype}; expected "
                        f"features (N, T, F) (token ids are not standardised)")
    if lengths.shape != (x.shape[0],) or lengths.dtype.kind not in "iu":
        raise DataError(f"{who}: lengths has shape {lengths.shape} and dtype "
                        f"{lengths.dtype}; expected ({x.shape[0]},) integers")
    if lengths.size and (lengths.min() < 0 or lengths.max() > x.shape[1]):
        raise DataError(f"{who}: lengths must lie in [0, T={x.shape[1]}], found "
                        f"{lengths.min()}..{lengths.max()}")
    mask = np.arange(x.shape[1])[None, :] < lengths[:, None]
    return x.astype(np.float64, copy=False), mask


class Standardizer:
    """Per-feature standardisation ``(x - mean) / std`` over the valid steps.

    ``mean`` and ``std`` (F,) float64 are the mean and the population standard deviation
    (ddof=0, as scikit-learn's ``StandardScaler``) of each feature over every valid step
    of every sequence given to :meth:`fit`; the padding past each length is never read,
    so the statistics do not depend on how the sequences were padded. A feature that is
    constant over those steps gets ``std = 1``: it is centred, not scaled.

    Fit it on the training split only, then transform every split with it; store it with
    the model through :meth:`to_dict` and :meth:`from_dict`.
    """

    def __init__(self):
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def fit(self, x, lengths) -> "Standardizer":
        """Compute ``mean`` and ``std`` from features x (N, T, F) and lengths (N,).

        Raises
        ------
        DataError
            Wrong shapes, no valid step, or NaN / infinity in a valid step.
        """
        x, mask = _valid_steps(x, lengths, "Standardizer.fit")
        steps = x[mask]                                   # (M, F): the valid steps only
        if len(steps) == 0:
            raise DataError("Standardizer.fit: no valid steps (every length is 0)")
        if not np.all(np.isfinite(steps)):
            raise DataError("Standardizer.fit: x holds NaN or infinity in a valid step")
        # NOTE: computed on steps / scale (|z| <= 1): features near the float range do not
        #       overflow in the sum or the square; std <= max|x| = scale, so it fits too
        scale = np.abs(steps).max(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        z = steps / scale
        mean_z = z.mean(axis=0)
        self.mean = mean_z * scale
        std = np.minimum(np.sqrt(((z - mean_z) ** 2).mean(axis=0)), 1.0) * scale
        # NOTE: constancy tested as min == max, exactly; a computed std of a constant
        #       column can be a rounding residue instead of 0
        constant = steps.min(axis=0) == steps.max(axis=0)
        self.std = np.where(constant, 1.0, std)
        return self

    def transform(self, x, lengths) -> np.ndarray:
        """Standardised copy (N, T, F) float64 of x; the padding stays 0.

        Raises
        ------
        DataError
            Not fitted, wrong shapes, or F differs from the one seen by :meth:`fit`.
        """
        if self.mean is None:
            raise DataError("Standardizer.transform: call fit (or from_dict) first")
        x, mask = _valid_steps(x, lengths, "Standardizer.transform")
        if x.shape[2] != len(self.mean):
            raise DataError(f"Standardizer.transform: x has {x.shape[2]} features; the "
                            f"statistics are for {len(self.mean)}")
        out = np.zeros(x.shape, np.float64)
        # NOTE: halved first, so x - mean cannot overflow where the standardised value fits;
        #       one beyond the float range (a tiny std) is ±inf, as IEEE division gives it
        with np.errstate(over="ignore"):
            out[mask] = (0.5 * x[mask] - 0.5 * self.mean) / self.std * 2.0
        return out

    def to_dict(self) -> dict:
        """``{"mean": [...], "std": [...]}``: plain lists of floats, ready for JSON."""
        if self.mean is None:
            raise DataError("Standardizer.to_dict: call fit first")
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d) -> "Standardizer":
        """The Standardizer :meth:`to_dict` described.

        Raises
        ------
        DataError
            Keys missing, lengths that differ, or a std that is not finite and positive.
        """
        if not isinstance(d, dict) or "mean" not in d or "std" not in d:
            raise DataError(f"Standardizer.from_dict: expected {{'mean': [...], 'std': "
                            f"[...]}}, got {d!r:.80}")
        mean = np.asarray(d["mean"], np.float64)
        std = np.asarray(d["std"], np.float64)
        if mean.ndim != 1 or mean.shape != std.shape:
            raise DataError(f"Standardizer.from_dict: mean {mean.shape} and std "
                            f"{std.shape} must be two lists of the same length")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
            raise DataError("Standardizer.from_dict: mean must be finite and std finite "
                            "and > 0")
        out = cls()
        out.mean, out.std = mean, std
        return out
