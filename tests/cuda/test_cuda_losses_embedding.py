"""The losses of embeddings, rankings and likelihoods on the GPU (the simulator without one):
each module, a composition of the ops, gives the CPU's loss and the gradients of every
floating operand, float64, to 1e-12; MultiLabelSoftMarginLoss's weight moves with
``.to("cuda")`` (tests/test_losses_embedding.py checks them against torch)."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import nongate_np as ng  # noqa: E402
from nongate_np.kernels import gpu  # noqa: E402

if not gpu.probe().usable:
    pytest.skip("no GPU and not on the CUDA simulator", allow_module_level=True)


def host(a):
    return a.copy_to_host() if hasattr(a, "copy_to_host") else np.asarray(a)


RNG = np.random.default_rng(6)
A, P, N = RNG.standard_normal((3, 4, 3))
SIGNS = np.array([1.0, -1.0, -1.0, 1.0])
CASES = {
    "triplet-swap": (lambda: ng.nn.TripletMarginLoss(margin=2.0, swap=True), [A, P, N]),
    "cosine": (lambda: ng.nn.CosineEmbeddingLoss(margin=-0.3, reduction="none"),
               [A, P, SIGNS]),
    "ranking": (lambda: ng.nn.MarginRankingLoss(margin=0.5, reduction="sum"),
                [A[:, 0], P[:, 0], SIGNS]),
    "gaussian": (lambda: ng.nn.GaussianNLLLoss(full=True, eps=0.05),
                 [A, P, np.array([0.0, 0.5, 1.0, 2.0])]),
    # NOTE: no target 0 (whose masked Stirling term is 0 · −inf = NaN): the simulator's
    # threads do not inherit the ops' np.errstate, and the NaN would warn there
    "poisson": (lambda: ng.nn.PoissonNLLLoss(full=True, reduction="none"),
                [A, np.array([[0.5, 1.0, 3.0]] * 4)]),
    "soft-margin": (lambda: ng.nn.SoftMarginLoss(), [A, np.sign(P)]),
    "multilabel": (lambda: ng.nn.MultiLabelSoftMarginLoss(weight=np.array([0.5, 1.0, 2.0]),
                                                          reduction="none"),
                   [A, (P > 0) * 1.0]),
}


@pytest.mark.parametrize("make, inputs", CASES.values(), ids=CASES.keys())
def test_the_losses_give_the_cpus_values_and_gradients(make, inputs):
    results = []
    for device in ("cpu", "cuda"):
        loss_fn = make().to(device)
        assert all(hasattr(b, "copy_to_host") == (device == "cuda")
                   for b in loss_fn.buffers())
        args = [ng.tensor(a, requires_grad=True, device=device) for a in inputs]
        loss = loss_fn(*args)
        assert loss.device == device
        seed = np.random.default_rng(0).standard_normal(loss.shape)
        loss.backward(ng.tensor(seed, device=device))
        results.append([host(loss.data)] + [None if a.grad is None else host(a.grad)
                                            for a in args])
    for k, (got, want) in enumerate(zip(*results[::-1])):
        if want is None:        # cosine_embedding_loss's target: no gradient on either
            assert got is None, k
            continue
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12,
                                   err_msg="loss" if k == 0 else f"gradient of operand {k}")
