"""The CPU array namespace is NumPy's (bit for bit) and implements the ArrayFunctions
protocol that every device's namespace implements (kernels/array_api.py)."""

import numpy as np

from nongate_np.kernels import reference as ref
from nongate_np.kernels.array_api import NUMPY, ArrayFunctions


def protocol_members():
    return [name for name, value in vars(ArrayFunctions).items()
            if callable(value) and not name.startswith("_")]


def test_the_numpy_namespace_has_every_member():
    missing = [name for name in protocol_members() if not callable(getattr(NUMPY, name, None))]
    assert not missing and NUMPY.name == "cpu"


def test_the_numpy_namespace_gives_numpys_results():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 1, 4)), rng.standard_normal((2, 4))
    np.testing.assert_array_equal(NUMPY.add(a, b), a + b)
    np.testing.assert_array_equal(NUMPY.divide(a, 2.0), a / 2.0)
    np.testing.assert_array_equal(NUMPY.sigmoid(a), ref.sigmoid(a))
    np.testing.assert_array_equal(NUMPY.softplus(a), ref.softplus(a))
    np.testing.assert_array_equal(NUMPY.sum(a, axis=(0, 2), keepdims=True),
                                  a.sum(axis=(0, 2), keepdims=True))
    np.testing.assert_array_equal(NUMPY.log_softmax(b, axis=1), ref.log_softmax(b, 1))
    np.testing.assert_array_equal(NUMPY.matmul(a, b.T), a @ b.T)
    np.testing.assert_array_equal(NUMPY.getitem(a, (slice(1, None), 0)), a[1:, 0])
    target = np.zeros((4, 2))
    NUMPY.add_at(target, np.array([1, 1, 3]), np.ones((3, 2)))
    np.testing.assert_array_equal(target[:, 0], [0, 2, 0, 1])
