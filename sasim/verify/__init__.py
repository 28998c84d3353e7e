"""Cross-check generated RTL against the simulator under cocotb (``sasim verify``)."""

from sasim.verify.run import SIMULATORS, VerifyResult, verify

__all__ = ["SIMULATORS", "VerifyResult", "verify"]
