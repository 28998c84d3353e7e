"""The one exception hierarchy of sasim.

Every error a user can cause derives from :class:`SasimError`. Messages name the
parameter, show the bad value with ``!r``, state the rule and say where (a field
path such as ``architecture.buffers[0].capacity``). The CLI prints ``str(error)`` as
one line and exits with status 2.
"""

from __future__ import annotations

__all__ = [
    "SasimError",
    "SpecError",
    "WorkloadError",
    "ArchitectureError",
    "MappingError",
    "ElaborationError",
    "CapacityError",
    "SimulationError",
    "ToolNotFoundError",
    "GenerationError",
    "VerificationError",
    "SynthesisError",
]


class SasimError(Exception):
    """Base class of every error sasim raises for bad input or an impossible request."""


class SpecError(SasimError):
    """A specification file or object is malformed (unknown key, wrong type, bad value)."""


class WorkloadError(SpecError):
    """A workload is inconsistent (unknown dimension, bad projection, bad datatype)."""


class ArchitectureError(SpecError):
    """An architecture is inconsistent (bad level, unknown tensor, impossible size)."""


class MappingError(SpecError):
    """A mapping does not fit its workload or architecture."""


class ElaborationError(SasimError):
    """Lowering a valid spec to a Design found an impossible combination."""


class CapacityError(ElaborationError):
    """A tile does not fit the storage that must hold it."""


class SimulationError(SasimError):
    """The simulator refused or could not complete a run."""


class ToolNotFoundError(SasimError):
    """An external tool (simulator, synthesizer) is not installed."""


class GenerationError(SasimError):
    """The RTL generator cannot build this configuration (the message says why)."""


class VerificationError(SasimError):
    """An RTL run could not be carried out (tool failure, testbench protocol violation)."""


class SynthesisError(SasimError):
    """A synthesis or place-and-route run could not be carried out (tool failure, timeout,
    unwritable work directory); the message says which tool, why, and where its log is."""
