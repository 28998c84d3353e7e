"""The analytical model: exact access counts, estimated latency, energy, utilization."""

from sasim.model.evaluate import BatchResult, evaluate, evaluate_batch
from sasim.model.result import Accesses, Latency, ModelResult

__all__ = ["Accesses", "BatchResult", "Latency", "ModelResult", "evaluate", "evaluate_batch"]
