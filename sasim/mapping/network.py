"""Networks: a list of layers (workloads) mapped (``sasim map``) or simulated (``sasim run``,
:mod:`sasim.sim.network`) one by one, with per-layer and total results.

A network file is YAML (docs/mapper.md#networks)::

    name: my_net
    description: two layers
    layers:
      - {name: conv1, workload: "conv2d:K=64,C=3,H=224,W=224,R=7,S=7,stride=2,padding=3"}
      - {name: fc, workload: {preset: gemm, M: 1, K: 2048, N: 1000}, repeat: 2, mapping: os}

``workload`` takes any workload-section form of a spec except a path (a preset
string, a ``{preset: ...}`` mapping, or inline fields). ``repeat`` (default 1)
counts identical layers; the totals multiply by it. ``mapping`` (optional) takes any
mapping-section form of a spec (a preset such as ``ws``, inline fields, a path
relative to the network file): ``sasim run --network`` simulates the layer with it,
``sasim map --network`` reads it as constraints. Layers with the same workload shape
(and mapping) are searched once. ``sasim/networks/`` bundles ``resnet50`` and
``bert_base``; :func:`network_yaml` writes a network file back, with each layer's mapping.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, Strict

from sasim.arch.architecture import Architecture
from sasim.errors import SasimError, SpecError
from sasim.mapping.constraints import Constraints
from sasim.mapping.search import MapperResult, Objective, Progress, ProgressCallback, search
from sasim.mapping.spec import Mapping
from sasim.networks import network_names, network_path
from sasim.validation import parse_model
from sasim.workload.builders import build_workload
from sasim.workload.workload import Identifier, Workload

__all__ = ["Layer", "LayerResult", "Network", "NetworkResult", "layer_mapping", "layer_mapping_error", "load_network",
           "map_network", "network_yaml", "shape_key"]


class _LayerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Identifier
    workload: Any
    repeat: Annotated[int, Strict()] = Field(default=1, ge=1, le=1_000_000)
    mapping: Any = None


class _NetworkSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Identifier = "network"
    description: str | None = None
    layers: list[_LayerSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Layer:
    name: str
    workload: Workload
    repeat: int
    #: the layer's own mapping section as written (any spec form), or ``None``
    mapping: Any = None
    #: the workload as written in the network file (written back as given); ``None``: built in Python
    workload_source: Any = None


@dataclass(frozen=True)
class Network:
    name: str
    description: str | None
    layers: tuple[Layer, ...]
    source: str
    #: the directory that paths in layers' ``mapping`` fields are relative to (``None``: the working directory)
    base_dir: Path | None = None

    @property
    def macs(self) -> int:
        return sum(layer.workload.macs * layer.repeat for layer in self.layers)


def _workload(value: Any, where: str) -> Workload:
    from sasim.spec import parse_preset_string

    try:
        if isinstance(value, str):
            try:
                parsed = parse_preset_string(value)
            except ValueError as exc:
                raise SpecError(f"{where}: {exc}") from None
            if parsed is None:
                raise SpecError(f"{where}: a layer's workload is a preset such as 'gemm:M=64,N=64,K=64', "
                                f"a {{preset: ...}} mapping or inline fields, not {value!r}")
            return build_workload(*parsed)
        if isinstance(value, dict):
            if "preset" in value:
                params = {str(k): v for k, v in value.items() if k != "preset"}
                return build_workload(str(value["preset"]), params)
            return parse_model(Workload, value, where)
    except SpecError as exc:
        if str(exc).startswith(where):
            raise
        raise SpecError(f"{where}: {exc}") from None
    raise SpecError(f"{where}: a layer's workload is a preset string, a {{preset: ...}} mapping or inline fields, "
                    f"not {value!r}")


def load_network(network: str | os.PathLike[str]) -> Network:
    """Load a bundled network by name or a network YAML file."""
    from sasim.spec import read_yaml

    text = os.fspath(network)
    path = Path(text).expanduser()
    if not path.exists():
        bundled = network_path(text)
        if bundled is None:
            raise SpecError(f"{text}: no such network file or bundled network; the bundled networks are "
                            f"{', '.join(network_names())}")
        path = bundled
    data = read_yaml(path, text)
    if not isinstance(data, dict):
        raise SpecError(f"{text}: a network file is a mapping with 'name' and 'layers', not {type(data).__name__}")
    try:
        spec = parse_model(_NetworkSpec, data, "network")
    except SpecError as exc:
        raise SpecError(f"{text}: {exc}") from None
    layers = []
    seen: set[str] = set()
    for i, lay in enumerate(spec.layers):
        if lay.name in seen:
            raise SpecError(f"{text}: layers[{i}].name: layer name {lay.name!r} is used twice; names must be unique")
        seen.add(lay.name)
        if "mapping" in lay.model_fields_set and lay.mapping is None:
            raise SpecError(f"{text}: layers[{i}].mapping: the mapping is empty; give a preset such as 'ws', "
                            "inline fields or a path, or leave the key out")
        layers.append(Layer(lay.name, _workload(lay.workload, f"{text}: layers[{i}].workload"), lay.repeat,
                            lay.mapping, lay.workload))
    return Network(spec.name, spec.description, tuple(layers), text, path.parent)


def layer_mapping(network: Network, index: int, architecture: Architecture) -> Mapping | None:
    """Layer ``index``'s own ``mapping`` section resolved for ``architecture`` (a preset is built
    for the layer's workload), or ``None`` when it has none. Not lowered: a mapping may hold
    ``*`` factors when it is read as constraints.

    Raises :class:`~sasim.errors.SpecError` (or a subclass) naming the network file and the
    layer (``net.yaml: layers[2].mapping.spatial.Y: ...``)."""
    from sasim.spec import spec_from_dict

    layer = network.layers[index]
    if layer.mapping is None:
        return None
    if isinstance(layer.mapping, Mapping):
        return layer.mapping
    try:
        spec = spec_from_dict({"mapping": layer.mapping}, base_dir=network.base_dir, source=network.source,
                              overrides={"workload": layer.workload, "architecture": architecture})
    except SasimError as exc:
        raise layer_mapping_error(network, index, exc) from None
    return spec.mapping


def layer_mapping_error(network: Network, index: int, exc: SasimError) -> SasimError:
    """``exc``, about layer ``index``'s own mapping, with the network file and the layer in
    front of its message (``net.yaml: layers[2].mapping: ...``)."""
    where, message = f"{network.source}: layers[{index}]", str(exc)
    return type(exc)(f"{where}.{message}" if message.startswith("mapping") else f"{where}.mapping: {message}")


def network_yaml(network: Network, mappings: Sequence[Mapping], header: str = "") -> str:
    """``network`` as a network file (docs/reference.md#network-files), layer ``i`` with
    ``mappings[i]`` as its ``mapping`` (inline fields). ``header`` becomes comment lines at
    the top. Reads back with :func:`load_network`."""
    if len(mappings) != len(network.layers):
        raise SpecError(f"network_yaml: {len(network.layers)} layers but {len(mappings)} mappings")
    layers = []
    for layer, mapping in zip(network.layers, mappings, strict=True):
        workload = layer.workload_source
        if workload is None:
            workload = layer.workload.model_dump(mode="json", exclude_defaults=True)
        layers.append({"name": layer.name, "workload": workload, "repeat": layer.repeat,
                       "mapping": mapping.to_yaml_dict()})
    data: dict[str, Any] = {"name": network.name}
    if network.description is not None:
        data["description"] = network.description
    data["layers"] = layers
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comments + yaml.safe_dump(data, sort_keys=False, width=120)


@dataclass(frozen=True)
class LayerResult:
    layer: Layer
    result: MapperResult
    shared_with: str | None  # the earlier layer of the same shape whose search this reuses


@dataclass(frozen=True)
class NetworkResult:
    network: Network
    objective: Objective
    layers: tuple[LayerResult, ...]

    @property
    def cycles(self) -> int:
        return sum(lr.result.best.cycles * lr.layer.repeat for lr in self.layers)

    @property
    def energy_pj(self) -> float:
        return sum(lr.result.best.energy_pj * lr.layer.repeat for lr in self.layers)

    @property
    def edp(self) -> float:
        return self.cycles * self.energy_pj


def shape_key(workload: Workload) -> str:
    """Equal for workloads that differ at most in their name (same dimensions, tensors, projections)."""
    return workload.model_dump_json(exclude={"name"})


def map_network(
    network: Network,
    architecture: Architecture,
    *,
    objective: Objective | str = Objective.EDP,
    top: int = 1,
    time_budget: float | None = None,
    seed: int = 0,
    jobs: int = 1,
    min_utilization: float = 0.0,
    ignore_mapping: bool = False,
    progress: ProgressCallback | None = None,
) -> NetworkResult:
    """Map every layer (``time_budget`` is per distinct layer shape); totals multiply by ``repeat``.

    A layer's own ``mapping`` constrains its search (as a spec's mapping section does for
    ``sasim map``) unless ``ignore_mapping``."""
    objective = Objective(objective)
    done: dict[str, tuple[str, MapperResult]] = {}
    out = []
    for index, layer in enumerate(network.layers):
        own = None if ignore_mapping else layer_mapping(network, index, architecture)
        key = shape_key(layer.workload) + (own.model_dump_json() if own is not None else "")
        if key in done:
            first, res = done[key]
            out.append(LayerResult(layer, res, first))
            continue

        def report(p: Progress, name: str = layer.name) -> None:
            if progress is not None:
                progress(Progress(f"{name}: {p.phase}", p.done, p.total, p.best))

        try:
            cons = Constraints.from_mapping(own, layer.workload, architecture, min_utilization)
        except SasimError as exc:
            where = f"{network.source}: layers[{index}]."
            raise type(exc)(f"layer {layer.name!r}: {where if own is not None else ''}{exc}") from None
        try:
            res = search(layer.workload, architecture, objective=objective, constraints=cons, top=top,
                         time_budget=time_budget, seed=seed, jobs=jobs, progress=report)
        except SasimError as exc:
            raise type(exc)(f"layer {layer.name!r}: {exc}") from None
        done[key] = (layer.name, res)
        out.append(LayerResult(layer, res, None))
    return NetworkResult(network, objective, tuple(out))
