"""Neural-network modules, as ``torch.nn``: Module, Parameter, layers, containers and losses.

Parameter and buffer names, their order and ``state_dict`` keys are torch's, so weights can
be exchanged with an equivalent PyTorch model (``{k: v.numpy() for k, v in
torch_model.state_dict().items()}`` loads unchanged).

Every savable class the library defines is imported here, so ``nongate_np.load`` rebuilds
any of them after ``import nongate_np`` alone.
"""

from . import functional, init, utils
from .activation import (
    CELU,
    GLU,
    SELU,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LogSigmoid,
    Mish,
    PReLU,
    ReLU6,
    Softshrink,
    Softsign,
    Tanhshrink,
    Threshold,
)
from .attention import AttentionPooling
from .containers import ModuleDict, ModuleList, Sequential
from .distance import CosineSimilarity, PairwiseDistance
from .functional_call import functional_call
from .gru import GRU, GRUCell
from .layers import (
    ELU,
    GELU,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    LayerNorm,
    LeakyReLU,
    Linear,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from .loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    GaussianNLLLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    MultiLabelSoftMarginLoss,
    NLLLoss,
    PoissonNLLLoss,
    SmoothL1Loss,
    SoftMarginLoss,
    TripletMarginLoss,
)
from .lstm import LSTM, LSTMCell
from .module import IncompatibleKeys, Module, Parameter, StateDictError, evaluating
from .multihead_attention import MultiheadAttention
from .multitask import MultiTaskSequenceModel
from .savable import register_savable

__all__ = ["Module", "Parameter", "StateDictError", "IncompatibleKeys", "Linear", "Embedding",
           "Dropout", "LSTM", "LSTMCell", "GRU", "GRUCell", "AttentionPooling", "Sequential",
           "ModuleList", "ModuleDict",
           "ReLU", "Tanh", "Sigmoid", "Identity", "Softmax", "LogSoftmax", "Flatten", "LeakyReLU",
           "SiLU", "GELU", "Softplus", "ELU", "LogSigmoid", "SELU", "CELU", "Hardtanh", "ReLU6",
           "Mish", "Softsign", "Hardsigmoid", "Hardswish", "Tanhshrink", "Softshrink",
           "Hardshrink", "Threshold", "GLU", "PReLU", "PairwiseDistance", "CosineSimilarity",
           "LayerNorm", "MultiTaskSequenceModel", "init", "functional",
           "utils", "register_savable", "functional_call", "evaluating", "CrossEntropyLoss",
           "NLLLoss", "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss", "HuberLoss",
           "SmoothL1Loss", "KLDivLoss", "TripletMarginLoss", "CosineEmbeddingLoss",
           "MarginRankingLoss", "GaussianNLLLoss", "PoissonNLLLoss", "SoftMarginLoss",
           "MultiLabelSoftMarginLoss", "MultiheadAttention"]
