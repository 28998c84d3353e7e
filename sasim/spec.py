"""Spec files: one YAML file with ``architecture``, ``workload`` and ``mapping`` sections.

Each section is given in one of four forms (docs/reference.md has every field):

* **inline**: a mapping holding the section's fields (the long form);
* **a path** to a YAML file holding the section, relative to the directory of the
  file that names it (any string that is not a preset form is a path);
* **a preset name**: a plain identifier such as ``gemm`` or ``ws_systolic``, optionally
  followed by parameters as ``name:key=value,key=value`` (values are read as YAML
  scalars, so ``M=64`` is an integer);
* **a preset with parameters** as a mapping: ``{preset: gemm, M: 64, N: 64, K: 64}``.

The workload is resolved first, then the architecture, then the mapping (a mapping
preset is built for the workload and architecture). The command line's ``--workload``,
``--arch`` and ``--mapping`` replace whole sections and take the same string forms.

Every problem raises a :class:`~sasim.errors.SasimError` whose message names the file
(with its line for YAML syntax), the field path, the bad value and the rule.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml
from pydantic import BaseModel, ValidationError

from sasim.arch.architecture import Architecture
from sasim.arch.presets import build_architecture
from sasim.design import Design, lower
from sasim.errors import SasimError, SpecError
from sasim.examples import example_names, example_path
from sasim.mapping.presets import build_mapping
from sasim.mapping.spec import Mapping
from sasim.validation import field_path, parse_model
from sasim.workload.builders import build_workload
from sasim.workload.workload import Workload

__all__ = ["SECTIONS", "TOP_LEVEL_KEYS", "Spec", "load_spec", "spec_from_dict", "read_yaml", "parse_preset_string"]

log = logging.getLogger(__name__)

#: The three sections, in the order they are resolved (a mapping preset needs the other two).
SECTIONS = ("workload", "architecture", "mapping")
#: Every key a spec file may have at its top level.
TOP_LEVEL_KEYS = ("description", "architecture", "workload", "mapping")

_MAX_FILE_DEPTH = 8
_PRESET_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\s*:(.*))?$", re.DOTALL)
_PARAM_SPLIT = re.compile(r",(?=\s*[A-Za-z_][A-Za-z0-9_]*\s*=)")
_PARAM_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$", re.DOTALL)
_MAPPING_RESERVED = frozenset({"name", "workload", "architecture"})

_Section = Workload | Architecture | Mapping


@dataclass(frozen=True, kw_only=True)
class Spec:
    """A loaded spec: the three validated sections, ready to lower to a Design."""

    workload: Workload
    architecture: Architecture
    mapping: Mapping
    #: The spec file as given, or the example name; ``None`` when built only from overrides.
    source: str | None
    #: The spec's one-line ``description``, if it has one.
    description: str | None
    #: For each section, how it was given (``inline``, ``preset gemm(M=64)``, ``file.yaml: inline``).
    origins: MappingABC[str, str]

    def design(self) -> Design:
        """Lower the spec to the checked, frozen :class:`~sasim.design.Design`."""
        return lower(self.workload, self.architecture, self.mapping)


# --- YAML ------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """A safe YAML loader that rejects duplicate keys instead of keeping the last one."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable key: construct_mapping reports it
            continue
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first given on line {first})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _parse_yaml(text: str, display: str) -> tuple[Any, dict[str, int]]:
    """Parse one YAML document; return the data and the line of each top-level key."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{display}:{mark.line + 1}:{mark.column + 1}" if mark is not None else display
        problem = " ".join(str(exc.problem or exc.context or "malformed YAML").split())
        context = f" ({' '.join(str(exc.context).split())})" if exc.context and exc.problem else ""
        raise SpecError(f"{where}: invalid YAML: {problem}{context}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{display}: invalid YAML: {' '.join(str(exc).split())}") from None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                lines[str(key_node.value)] = key_node.start_mark.line + 1
    return data, lines


def read_yaml(path: Path, display: str | None = None) -> Any:
    """Read one YAML file; raise :class:`SpecError` with ``file:line`` for any problem."""
    return _read_yaml(path, display if display is not None else str(path))[0]


def _read_yaml(path: Path, display: str) -> tuple[Any, dict[str, int]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{display}: no such file") from None
    except IsADirectoryError:
        raise SpecError(f"{display}: is a directory, not a YAML file") from None
    except UnicodeDecodeError:
        raise SpecError(f"{display}: not a UTF-8 text file") from None
    except OSError as exc:
        raise SpecError(f"{display}: cannot read the file: {exc.strerror or exc}") from None
    return _parse_yaml(text, display)


# --- presets ---------------------------------------------------------------------------


def parse_preset_string(text: str) -> tuple[str, dict[str, Any]] | None:
    """Split ``"gemm:M=64,N=64"`` into ``("gemm", {"M": 64, "N": 64})``.

    Returns ``None`` when ``text`` is not a preset form (then it is a path). Values are
    read as YAML scalars (or flow collections such as ``{m: 4, k: 8}``); a comma
    separates parameters only where ``key=`` follows it, so ``equation=mk,kn->mn`` works.
    Raises ``ValueError`` for a malformed parameter list.
    """
    m = _PRESET_RE.match(text.strip())
    if m is None:
        return None
    name, rest = m.group(1), m.group(2)
    params: dict[str, Any] = {}
    if rest is not None and rest.strip():
        for piece in _PARAM_SPLIT.split(rest):
            pm = _PARAM_RE.match(piece)
            if pm is None:
                raise ValueError(
                    f"cannot read preset parameter {piece.strip()!r} in {text!r}: "
                    "write NAME:KEY=VALUE,KEY=VALUE, e.g. 'gemm:M=64,N=64,K=64'"
                )
            key, raw = pm.group(1), pm.group(2).strip()
            if key in params:
                raise ValueError(f"preset parameter {key!r} is given twice in {text!r}")
            try:
                value = yaml.safe_load(raw) if raw else ""
            except yaml.YAMLError:
                value = raw
            params[key] = raw if value is None else value
    return name, params


def _format_params(params: MappingABC[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in params.items())


def _validation_message(exc: ValidationError, root: str) -> str:
    first = exc.errors()[0]
    path = field_path(root, tuple(first.get("loc", ())))
    msg = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    value = first.get("input")
    shown = "" if isinstance(value, dict) or first.get("type") == "value_error" else f", not {value!r}"
    return f"{path}: {msg}{shown}"


def _build_preset(
    section: str,
    name: str,
    params: dict[str, Any],
    context: _Context,
    workload: Workload | None,
    architecture: Architecture | None,
) -> _Section:
    log.debug("%s: preset %s with %s", section, name, params)
    try:
        if section == "workload":
            return build_workload(name, params)
        if section == "architecture":
            return build_architecture(name, params)
        clash = sorted(_MAPPING_RESERVED & set(params))
        if clash:
            raise SpecError(f"mapping preset {name!r} cannot take parameter(s) {clash}: the names are reserved")
        assert workload is not None and architecture is not None  # resolved first, by construction
        return build_mapping(name, workload, architecture, **params)
    except SasimError as exc:
        raise type(exc)(f"{context.prefix}{context.root}: {exc}") from None
    except ValidationError as exc:
        message = _validation_message(exc, section)
        raise SpecError(f"{context.prefix}{context.root}: preset {name!r}: {message}") from None


# --- sections --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    """Where a section value came from: ``prefix`` names the file (``'arch.yaml: '``) or
    is empty; ``root`` is the field path's root (the section, or a flag such as ``--arch``)."""

    prefix: str
    root: str
    base_dir: Path
    base_display: str
    relative_to: str = "the directory of the file that names it"
    depth: int = 0


_MODELS: dict[str, type[BaseModel]] = {"workload": Workload, "architecture": Architecture, "mapping": Mapping}
_FORMS = (
    "a mapping of its fields, a preset name (optionally 'name:key=value,...'), a {'preset': name, ...} mapping "
    "or a path to a YAML file"
)


def _resolve(
    section: str,
    value: Any,
    context: _Context,
    workload: Workload | None = None,
    architecture: Architecture | None = None,
) -> tuple[_Section, str]:
    model = _MODELS[section]
    if isinstance(value, model):
        return cast(_Section, value), "object"
    where = f"{context.prefix}{context.root}"
    if isinstance(value, str):
        try:
            preset = parse_preset_string(value)
        except ValueError as exc:
            raise SpecError(f"{where}: {exc}") from None
        if preset is not None:
            name, params = preset
            built = _build_preset(section, name, params, context, workload, architecture)
            return built, f"preset {name}({_format_params(params)})" if params else f"preset {name}"
        return _resolve_file(section, value, context, workload, architecture)
    if isinstance(value, MappingABC):
        if "preset" in value:
            name = value["preset"]
            if not isinstance(name, str) or _PRESET_RE.match(name) is None or ":" in name:
                raise SpecError(f"{where}.preset: a preset name is a plain identifier such as 'gemm', not {name!r}")
            params = {str(k): v for k, v in value.items() if k != "preset"}
            built = _build_preset(section, name, params, context, workload, architecture)
            return built, f"preset {name}({_format_params(params)})" if params else f"preset {name}"
        try:
            return cast(_Section, parse_model(model, dict(value), context.root)), "inline"
        except SpecError as exc:
            raise SpecError(f"{context.prefix}{exc}") from None
    if value is None:
        raise SpecError(f"{where}: the section is empty; give {_FORMS}")
    raise SpecError(f"{where}: a section is {_FORMS}, not {value!r}")


def _resolve_file(
    section: str,
    value: str,
    context: _Context,
    workload: Workload | None,
    architecture: Architecture | None,
) -> tuple[_Section, str]:
    where = f"{context.prefix}{context.root}"
    if context.depth >= _MAX_FILE_DEPTH:
        raise SpecError(f"{where}: more than {_MAX_FILE_DEPTH} nested file references at {value!r} (a cycle?)")
    rel = Path(value).expanduser()
    path = rel if rel.is_absolute() else context.base_dir / rel
    display = str(rel) if rel.is_absolute() or not context.base_display else str(Path(context.base_display) / rel)
    if not path.exists():
        raise SpecError(
            f"{where}: no such file {display!r} (a section string that is not a preset name is a path, relative "
            f"to {context.relative_to})"
        )
    data, _ = _read_yaml(path, display)
    inner = _Context(
        prefix=f"{display}: ",
        root=section,
        base_dir=path.parent,
        base_display=str(Path(display).parent),
        depth=context.depth + 1,
    )
    built, origin = _resolve(section, data, inner, workload, architecture)
    return built, f"{display}: {origin}"


# --- spec files ------------------------------------------------------------------------


def _sections_of(data: Any, display: str, lines: MappingABC[str, int]) -> dict[str, Any]:
    if data is None:
        raise SpecError(f"{display}: the spec is empty; it needs architecture, workload and mapping sections")
    if not isinstance(data, MappingABC):
        raise SpecError(
            f"{display}: a spec is a mapping with architecture, workload and mapping sections, "
            f"not a {type(data).__name__}"
        )
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            line = lines.get(str(key))
            where = f"{display}:{line}" if line else display
            close = difflib.get_close_matches(str(key), TOP_LEVEL_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            allowed = ", ".join(repr(k) for k in TOP_LEVEL_KEYS)
            raise SpecError(f"{where}: unknown top-level key {key!r}{hint}; a spec's keys are {allowed}")
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise SpecError(f"description: a spec's description is one line of text, not {description!r}")
    return dict(data)


def spec_from_dict(
    data: Any,
    *,
    base_dir: str | os.PathLike[str] | None = None,
    source: str | None = None,
    overrides: MappingABC[str, Any] | None = None,
    override_labels: MappingABC[str, str] | None = None,
) -> Spec:
    """Build a :class:`Spec` from already-parsed YAML data (a dict of sections).

    Paths inside ``data`` are relative to ``base_dir`` (default: the working directory).
    ``overrides`` replaces whole sections (any section form, or a ready-made
    ``Workload``/``Architecture``/``Mapping``); their paths are relative to the working
    directory. ``override_labels`` names each override in messages (the CLI passes
    ``--arch`` and friends); the default is the section name.
    """
    display = source or "spec"
    sections = _sections_of(data, display, {})
    return _build(sections, base_dir, source, overrides, override_labels)


def _build(
    sections: dict[str, Any],
    base_dir: str | os.PathLike[str] | None,
    source: str | None,
    overrides: MappingABC[str, Any] | None,
    override_labels: MappingABC[str, str] | None,
) -> Spec:
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    base_display = "" if base_dir is None else str(base_dir)
    relative_to = "the working directory" if base_dir is None else "the directory of the file that names it"
    values: dict[str, tuple[Any, _Context]] = {}
    for section in SECTIONS:
        if section in sections:
            values[section] = (sections[section], _Context("", section, base, base_display, relative_to))
    for section, value in (overrides or {}).items():
        if section not in SECTIONS:
            raise SpecError(f"overrides: unknown section {section!r}; the sections are {list(SECTIONS)}")
        if value is None:
            continue
        label = (override_labels or {}).get(section, section)
        values[section] = (value, _Context("", label, Path.cwd(), "", "the working directory"))
    for section in SECTIONS:
        if section not in values:
            raise SpecError(
                f"{section}: required section is missing; a spec needs architecture, workload and mapping "
                "(each inline, a path to a YAML file or a preset)"
            )
    resolved: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for section in SECTIONS:
        value, context = values[section]
        resolved[section], origins[section] = _resolve(
            section, value, context, resolved.get("workload"), resolved.get("architecture")
        )
    return Spec(
        workload=resolved["workload"],
        architecture=resolved["architecture"],
        mapping=resolved["mapping"],
        source=source,
        description=sections.get("description"),
        origins=origins,
    )


def _locate(spec: str | os.PathLike[str]) -> tuple[Path, str]:
    """The file of ``spec`` (a path or an example name) and the name to show in messages."""
    text = os.fspath(spec)
    path = Path(text).expanduser()
    if path.exists():
        return path, text
    example = example_path(text)
    if example is not None:
        return example, text
    names = ", ".join(example_names())
    close = difflib.get_close_matches(text, example_names(), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise SpecError(
        f"{text}: no such spec file or bundled example; {hint}the examples are {names} (see 'sasim examples')"
    )


def load_spec(
    spec: str | os.PathLike[str] | None = None,
    overrides: MappingABC[str, Any] | None = None,
    *,
    override_labels: MappingABC[str, str] | None = None,
) -> Spec:
    """Load a spec file or a bundled example by name, then apply ``overrides``.

    ``spec`` may be ``None`` when ``overrides`` gives all three sections. Each override
    replaces a whole section and takes any section form (see the module docstring).
    """
    if spec is None:
        return _build({}, None, None, overrides, override_labels)
    path, display = _locate(spec)
    data, lines = _read_yaml(path, display)
    sections = _sections_of(data, display, lines)
    log.debug("loading spec %s from %s", display, path)
    return _build(sections, path.parent, display, overrides, override_labels)
