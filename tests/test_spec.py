"""Spec loading: every section form, overrides, the bundled examples, every error path,
and that docs/reference.md names every spec field."""

from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from sasim.arch.architecture import DRAM, PE, Architecture, Buffer, BufferSemantics, LinkKind, PEArray
from sasim.arch.presets import ARCH_PRESETS
from sasim.design import Design
from sasim.errors import ArchitectureError, MappingError, SpecError, WorkloadError
from sasim.examples import EXAMPLES_DIR, example_names, example_path
from sasim.mapping.presets import MAPPING_PRESETS
from sasim.mapping.spec import Axis, LoopSpec, Mapping
from sasim.spec import TOP_LEVEL_KEYS, Spec, load_spec, parse_preset_string, spec_from_dict
from sasim.workload import WORKLOAD_BUILDERS, Role, TensorSpec, Workload, gemm

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "reference.md"

# Small inline sections (no presets), reused by the tests below.
WORKLOAD = {
    "name": "g",
    "dims": {"M": 8, "N": 4, "K": 4},
    "tensors": {
        "I": {"role": "input", "index": ["M", "K"], "bits": 8},
        "W": {"role": "weight", "index": ["K", "N"], "bits": 8},
        "O": {"role": "output", "index": ["M", "N"], "bits": 32},
    },
}
ARCH = {
    "name": "small",
    "buffers": [{"name": "GLB", "capacity": "4KiB", "banks": 2}],
    "array": {"rows": 4, "cols": 4},
}
MAPPING = {"temporal": {"GLB": "M=8"}, "spatial": {"Y": "K=4", "X": "N=4"}}


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def spec_file(tmp_path: Path, **sections: Any) -> Path:
    return write(tmp_path / "spec.yaml", sections)


def load_error(source: Any, overrides: dict[str, Any] | None = None, kind: type[Exception] = SpecError) -> str:
    with pytest.raises(kind) as info:
        load_spec(source, overrides)
    return str(info.value)


# --- section forms ---------------------------------------------------------------------


def test_inline_sections(tmp_path: Path) -> None:
    spec = load_spec(spec_file(tmp_path, workload=WORKLOAD, architecture=ARCH, mapping=MAPPING))
    assert spec.workload.dims == {"M": 8, "N": 4, "K": 4}
    assert spec.architecture.buffers[0].capacity == 4096
    assert spec.mapping.spatial[Axis.X] == (LoopSpec(dim="N", factor=4),)
    assert dict(spec.origins) == {"workload": "inline", "architecture": "inline", "mapping": "inline"}
    assert spec.description is None
    assert isinstance(spec.design(), Design)


def test_path_sections_are_relative_to_the_spec_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "specs" / "parts" / "wl.yaml", WORKLOAD)
    write(tmp_path / "specs" / "parts" / "arch.yaml", ARCH)
    write(tmp_path / "specs" / "map.yaml", MAPPING)
    write(tmp_path / "specs" / "s.yaml", {"workload": "parts/wl.yaml", "architecture": "parts/arch.yaml",
                                          "mapping": "./map.yaml"})
    monkeypatch.chdir(tmp_path)
    spec = load_spec("specs/s.yaml")
    assert spec.source == "specs/s.yaml"
    assert spec.origins["workload"] == "specs/parts/wl.yaml: inline"
    assert spec.origins["mapping"] == "specs/map.yaml: inline"
    assert spec.architecture.name == "small"


def test_path_section_may_hold_a_preset(tmp_path: Path) -> None:
    write(tmp_path / "wl.yaml", {"preset": "gemm", "M": 8, "N": 4, "K": 4})
    spec = load_spec(spec_file(tmp_path, workload="wl.yaml", architecture=ARCH, mapping=MAPPING))
    assert spec.workload == gemm(8, 4, 4)
    assert spec.origins["workload"].endswith("wl.yaml: preset gemm(M=8, N=4, K=4)")


def test_preset_string_with_parameters(tmp_path: Path) -> None:
    spec = load_spec(spec_file(tmp_path, workload="gemm:M=8,N=4,K=4", architecture=ARCH, mapping=MAPPING))
    assert spec.workload == gemm(8, 4, 4)
    assert spec.origins["workload"] == "preset gemm(M=8, N=4, K=4)"


def test_preset_dict_with_parameters(tmp_path: Path) -> None:
    spec = load_spec(
        spec_file(tmp_path, workload={"preset": "gemm", "M": 8, "N": 4, "K": 4, "bits": 4}, architecture=ARCH,
                  mapping=MAPPING)
    )
    assert spec.workload == gemm(8, 4, 4, bits=4)
    assert spec.origins["workload"] == "preset gemm(M=8, N=4, K=4, bits=4)"


def test_preset_names_for_every_section(tmp_path: Path) -> None:
    arch = next(iter(ARCH_PRESETS))
    spec = load_spec(spec_file(tmp_path, workload="gemm:M=16,N=16,K=16", architecture=arch, mapping="ws"))
    assert spec.origins == {"workload": "preset gemm(M=16, N=16, K=16)", "architecture": f"preset {arch}",
                            "mapping": "preset ws"}
    spec.design()


@pytest.mark.parametrize("mapping", MAPPING_PRESETS)
def test_every_mapping_preset_by_name(mapping: str) -> None:
    spec = load_spec("conv_multicast", {"mapping": mapping})
    assert spec.origins["mapping"] == f"preset {mapping}"
    spec.design()


def test_description(tmp_path: Path) -> None:
    spec = load_spec(spec_file(tmp_path, description="one line", workload=WORKLOAD, architecture=ARCH,
                               mapping=MAPPING))
    assert spec.description == "one line"


def test_spec_from_dict_resolves_paths_against_base_dir(tmp_path: Path) -> None:
    write(tmp_path / "arch.yaml", ARCH)
    spec = spec_from_dict({"workload": WORKLOAD, "architecture": "arch.yaml", "mapping": MAPPING}, base_dir=tmp_path)
    assert spec.architecture.name == "small"
    assert spec.source is None


# --- preset strings --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gemm", ("gemm", {})),
        ("gemm:", ("gemm", {})),
        ("gemm:M=64,N=32,K=16", ("gemm", {"M": 64, "N": 32, "K": 16})),
        (" gemm : M = 64 , N=2 ", ("gemm", {"M": 64, "N": 2})),
        ("einsum:equation=mk,kn->mn,sizes={m: 4, k: 8, n: 2}",
         ("einsum", {"equation": "mk,kn->mn", "sizes": {"m": 4, "k": 8, "n": 2}})),
        ("ws_systolic:rows=8,capacity=64KiB,flag=true",
         ("ws_systolic", {"rows": 8, "capacity": "64KiB", "flag": True})),
        ("arch.yaml", None),
        ("./ws", None),
        ("parts/arch", None),
    ],
)
def test_parse_preset_string(text: str, expected: tuple[str, dict[str, Any]] | None) -> None:
    assert parse_preset_string(text) == expected


def test_parse_preset_string_repeated_key_wrong() -> None:
    with pytest.raises(ValueError, match=r"^preset parameter 'M' is given twice in 'gemm:M=1,M=2'$"):
        parse_preset_string("gemm:M=1,M=2")


# --- overrides -------------------------------------------------------------------------


def test_overrides_replace_sections() -> None:
    spec = load_spec("conv_multicast", {"workload": "gemm:M=32,N=32,K=32", "mapping": "is"})
    assert spec.workload.dims == {"M": 32, "N": 32, "K": 32}
    assert spec.origins["mapping"] == "preset is"
    assert spec.architecture == load_spec("conv_multicast").architecture
    spec.design()


def test_override_paths_are_relative_to_the_working_directory(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "here" / "wl.yaml", WORKLOAD)
    write(tmp_path / "specs" / "s.yaml", {"workload": "gemm:M=1,N=1,K=1", "architecture": ARCH, "mapping": MAPPING})
    monkeypatch.chdir(tmp_path / "here")
    spec = load_spec(tmp_path / "specs" / "s.yaml", {"workload": "wl.yaml"})
    assert spec.workload.name == "g"


def test_overrides_alone_need_no_spec() -> None:
    spec = load_spec(None, {"workload": WORKLOAD, "architecture": ARCH, "mapping": MAPPING})
    assert spec.source is None
    spec.design()


def test_override_with_objects() -> None:
    wl = gemm(8, 4, 4)
    spec = load_spec(None, {"workload": wl, "architecture": Architecture.model_validate(ARCH),
                            "mapping": Mapping.model_validate(MAPPING)})
    assert spec.workload is wl
    assert spec.origins["workload"] == "object"


def test_none_override_keeps_the_section() -> None:
    assert load_spec("gemm_ws", {"workload": None}).workload == load_spec("gemm_ws").workload


# --- the bundled examples --------------------------------------------------------------

REQUIRED_EXAMPLES = {"gemm_ws", "gemm_os", "conv_multicast", "eyeriss_conv", "tpu_gemm", "gemmini_gemm", "depthwise",
                     "gemm_inline"}


def test_required_examples_are_bundled() -> None:
    assert REQUIRED_EXAMPLES <= set(example_names())


@pytest.mark.parametrize("name", example_names())
def test_every_example_loads_and_lowers(name: str) -> None:
    spec = load_spec(name)
    assert spec.source == name
    assert spec.description and "\n" not in spec.description
    design = spec.design()
    assert design.workload.macs > 0


def test_inline_example_uses_every_long_form() -> None:
    path = example_path("gemm_inline")
    assert path is not None
    data = yaml.safe_load(path.read_text())
    assert set(data) == set(TOP_LEVEL_KEYS)
    assert all(isinstance(data[s], dict) and "preset" not in data[s] for s in ("workload", "architecture", "mapping"))
    assert set(data["mapping"]) == set(Mapping.model_fields)
    assert {"dram", "buffers", "array", "pe"} <= set(data["architecture"])


def test_a_file_path_wins_over_an_example_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "gemm_ws", {"workload": WORKLOAD, "architecture": ARCH, "mapping": MAPPING})
    monkeypatch.chdir(tmp_path)
    assert load_spec("gemm_ws").workload.name == "g"


def test_examples_are_package_data() -> None:
    assert EXAMPLES_DIR.name == "examples" and (EXAMPLES_DIR / "gemm_ws.yaml").is_file()


# --- errors ----------------------------------------------------------------------------


def test_unknown_top_level_key_wrong(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", "description: x\nworklaod: gemm\n")
    assert load_error(path) == (
        f"{path}:2: unknown top-level key 'worklaod' (did you mean 'workload'?); "
        "a spec's keys are 'description', 'architecture', 'workload', 'mapping'"
    )


def test_unknown_top_level_key_without_suggestion_wrong() -> None:
    with pytest.raises(SpecError) as info:
        spec_from_dict({"workload": WORKLOAD, "architecture": ARCH, "mapping": MAPPING, "zzz": 1})
    assert str(info.value) == (
        "spec: unknown top-level key 'zzz'; a spec's keys are 'description', 'architecture', 'workload', 'mapping'"
    )


def test_missing_section_wrong(tmp_path: Path) -> None:
    assert load_error(spec_file(tmp_path, workload=WORKLOAD, architecture=ARCH)) == (
        "mapping: required section is missing; a spec needs architecture, workload and mapping "
        "(each inline, a path to a YAML file or a preset)"
    )


def test_bad_yaml_wrong(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", "workload:\n  dims: {M: 4\n  bad: [\n")
    assert load_error(path) == (
        f"{path}:3:6: invalid YAML: expected ',' or '}}', but got ':' (while parsing a flow mapping)"
    )


def test_bad_yaml_indentation_wrong(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", "workload:\n  name: a\n   dims: 3\n")
    assert load_error(path) == f"{path}:3:8: invalid YAML: mapping values are not allowed here"


def test_duplicate_key_wrong(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", "workload: gemm\narchitecture: x\nworkload: conv2d\n")
    assert load_error(path) == f"{path}:3:1: invalid YAML: duplicate key 'workload' (first given on line 1)"


def test_missing_spec_file_wrong(tmp_path: Path) -> None:
    message = load_error(str(tmp_path / "nope.yaml"))
    assert message.startswith(f"{tmp_path / 'nope.yaml'}: no such spec file or bundled example; the examples are ")
    assert "gemm_ws" in message and message.endswith("(see 'sasim examples')")


def test_misspelled_example_wrong() -> None:
    assert load_error("gemm_wss").startswith(
        "gemm_wss: no such spec file or bundled example; did you mean 'gemm_ws'? the examples are "
    )


def test_spec_is_a_directory_wrong(tmp_path: Path) -> None:
    assert load_error(tmp_path) == f"{tmp_path}: is a directory, not a YAML file"


def test_empty_spec_wrong(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", "# nothing\n")
    assert load_error(path) == f"{path}: the spec is empty; it needs architecture, workload and mapping sections"


def test_spec_not_a_mapping_wrong(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", "- workload\n")
    assert load_error(path) == (
        f"{path}: a spec is a mapping with architecture, workload and mapping sections, not a list"
    )


def test_missing_section_file_wrong(tmp_path: Path) -> None:
    path = spec_file(tmp_path, workload="parts/wl.yaml", architecture=ARCH, mapping=MAPPING)
    assert load_error(path) == (
        "workload: no such file "
        f"{str(tmp_path / 'parts' / 'wl.yaml')!r} (a section string that is not a preset name is a path, relative "
        "to the directory of the file that names it)"
    )


def test_error_in_a_section_file_names_the_file_wrong(tmp_path: Path) -> None:
    bad = {**ARCH, "buffers": [{"name": "GLB", "capacity": 0}]}
    write(tmp_path / "arch.yaml", bad)
    path = spec_file(tmp_path, workload=WORKLOAD, architecture="arch.yaml", mapping=MAPPING)
    assert load_error(path) == (
        f"{tmp_path / 'arch.yaml'}: architecture.buffers[0].capacity: Input should be greater than or equal to 1, not 0"
    )


def test_bad_yaml_in_a_section_file_wrong(tmp_path: Path) -> None:
    write(tmp_path / "arch.yaml", "name: [\n")
    path = spec_file(tmp_path, workload=WORKLOAD, architecture="arch.yaml", mapping=MAPPING)
    assert load_error(path).startswith(f"{tmp_path / 'arch.yaml'}:2:1: invalid YAML: ")


def test_inline_field_error_names_the_path_wrong(tmp_path: Path) -> None:
    arch = {**ARCH, "array": {"rows": 0, "cols": 4}}
    assert load_error(spec_file(tmp_path, workload=WORKLOAD, architecture=arch, mapping=MAPPING)) == (
        "architecture.array.rows: Input should be greater than or equal to 1, not 0"
    )


def test_inline_unknown_key_wrong(tmp_path: Path) -> None:
    arch = {**ARCH, "arry": {"rows": 4, "cols": 4}}
    assert load_error(spec_file(tmp_path, workload=WORKLOAD, architecture=arch, mapping=MAPPING)) == (
        "architecture.arry: unknown key (check the spelling; see docs/reference.md for the allowed keys)"
    )


def test_section_of_wrong_type_wrong(tmp_path: Path) -> None:
    assert load_error(spec_file(tmp_path, workload=[1, 2], architecture=ARCH, mapping=MAPPING)) == (
        "workload: a section is a mapping of its fields, a preset name (optionally 'name:key=value,...'), "
        "a {'preset': name, ...} mapping or a path to a YAML file, not [1, 2]"
    )


def test_empty_section_wrong(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", "workload:\narchitecture: x\nmapping: y\n")
    assert load_error(path).startswith("workload: the section is empty; give a mapping of its fields, ")


def test_description_not_text_wrong(tmp_path: Path) -> None:
    path = spec_file(tmp_path, description=[1], workload=WORKLOAD, architecture=ARCH, mapping=MAPPING)
    assert load_error(path) == "description: a spec's description is one line of text, not [1]"


def test_unknown_workload_preset_wrong(tmp_path: Path) -> None:
    path = spec_file(tmp_path, workload="gem", architecture=ARCH, mapping=MAPPING)
    assert load_error(path, kind=WorkloadError) == (
        "workload: unknown workload preset 'gem'; choose one of "
        "['batched_gemm', 'conv2d', 'depthwise_conv2d', 'einsum', 'gemm']"
    )


def test_unknown_architecture_preset_wrong(tmp_path: Path) -> None:
    message = load_error(spec_file(tmp_path, workload=WORKLOAD, architecture="nosuch", mapping=MAPPING),
                         kind=ArchitectureError)
    assert message.startswith("architecture: ") and "'nosuch'" in message


def test_unknown_mapping_preset_wrong() -> None:
    message = load_error("gemm_ws", {"mapping": "xs"}, kind=MappingError)
    assert message.startswith("mapping: ") and "'xs'" in message


def test_unknown_preset_parameter_wrong(tmp_path: Path) -> None:
    path = spec_file(tmp_path, workload={"preset": "gemm", "M": 4, "N": 4, "K": 4, "Q": 1}, architecture=ARCH,
                     mapping=MAPPING)
    assert load_error(path, kind=WorkloadError) == (
        "workload: workload preset 'gemm' has no parameter(s) ['Q']; "
        "its parameters are ['M', 'N', 'K', 'bits', 'acc_bits', 'name']"
    )


def test_bad_preset_parameter_value_wrong() -> None:
    assert load_error("gemm_ws", {"workload": "gemm:M=0,N=4,K=4"}, kind=WorkloadError) == (
        "workload: M must be a positive integer, not 0"
    )


def test_bad_architecture_preset_parameter_wrong() -> None:
    arch = next(iter(ARCH_PRESETS))
    message = load_error("gemm_ws", {"architecture": f"{arch}:no_such_parameter=1"})
    assert message.startswith("architecture: ") and "no_such_parameter" in message


def test_malformed_preset_parameters_wrong() -> None:
    assert load_error("gemm_ws", {"workload": "gemm:M64"}) == (
        "workload: cannot read preset parameter 'M64' in 'gemm:M64': write NAME:KEY=VALUE,KEY=VALUE, "
        "e.g. 'gemm:M=64,N=64,K=64'"
    )


def test_preset_name_not_an_identifier_wrong(tmp_path: Path) -> None:
    path = spec_file(tmp_path, workload={"preset": 3}, architecture=ARCH, mapping=MAPPING)
    assert load_error(path) == "workload.preset: a preset name is a plain identifier such as 'gemm', not 3"


def test_reserved_mapping_preset_parameter_wrong() -> None:
    assert load_error("gemm_ws", {"mapping": "ws:workload=1"}) == (
        "mapping: mapping preset 'ws' cannot take parameter(s) ['workload']: the names are reserved"
    )


def test_override_labels_name_the_flag() -> None:
    with pytest.raises(WorkloadError) as info:
        load_spec("gemm_ws", {"workload": "gem"}, override_labels={"workload": "--workload"})
    assert str(info.value).startswith("--workload: unknown workload preset 'gem'")


def test_unknown_override_section_wrong() -> None:
    assert load_error("gemm_ws", {"arch": "x"}) == (
        "overrides: unknown section 'arch'; the sections are ['workload', 'architecture', 'mapping']"
    )


def test_nested_file_cycle_wrong(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "b.yaml")
    write(tmp_path / "b.yaml", "a.yaml")
    message = load_error(spec_file(tmp_path, workload="a.yaml", architecture=ARCH, mapping=MAPPING))
    assert "more than 8 nested file references" in message


def test_lowering_error_keeps_its_field_path() -> None:
    spec = load_spec("gemm_ws", {"workload": WORKLOAD, "mapping": {"temporal": {"NOPE": "M=8"}}})
    with pytest.raises(MappingError, match=r"^mapping\.temporal\.NOPE: unknown level 'NOPE'"):
        spec.design()


def test_spec_is_frozen() -> None:
    spec = load_spec("gemm_ws")
    with pytest.raises(AttributeError):
        spec.workload = gemm(1, 1, 1)  # type: ignore[misc]
    assert isinstance(spec, Spec)


# --- docs/reference.md covers every field ----------------------------------------------

SPEC_MODELS = (Workload, TensorSpec, Architecture, DRAM, Buffer, PEArray, PE, Mapping, LoopSpec)


def _reference() -> str:
    return REFERENCE.read_text()


@pytest.mark.parametrize("model", SPEC_MODELS, ids=lambda m: m.__name__)
def test_reference_documents_every_field(model: type) -> None:
    text = _reference()
    missing = [name for name in model.model_fields if f"`{name}`" not in text]
    assert not missing, f"docs/reference.md does not mention {model.__name__} field(s) {missing}"


def test_reference_documents_every_preset_and_parameter() -> None:
    text = _reference()
    names = [*WORKLOAD_BUILDERS, *ARCH_PRESETS, *MAPPING_PRESETS, *TOP_LEVEL_KEYS, "preset"]
    for builder in WORKLOAD_BUILDERS.values():
        names += list(inspect.signature(builder).parameters)
    missing = sorted({n for n in names if f"`{n}`" not in text})
    assert not missing, f"docs/reference.md does not mention {missing}"


def test_reference_documents_every_enum_value() -> None:
    text = _reference()
    values = [m.value for enum in (Role, BufferSemantics, LinkKind, Axis) for m in enum]
    values += ["systolic-x", "systolic-y", "multicast-x", "multicast-y", "stationary", "chain-x", "chain-y",
               "tree-x", "tree-y", "systolic-diagonal", "multicast-diagonal", "direct"]
    missing = sorted({v for v in values if f"`{v}`" not in text})
    assert not missing, f"docs/reference.md does not mention {missing}"


def test_reference_example_spec_loads(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", _reference(), flags=re.DOTALL)
    full = [b for b in blocks if all(re.search(rf"^{s}:", b, flags=re.M) for s in ("workload", "architecture",
                                                                                     "mapping"))]
    assert full, "docs/reference.md has no complete example spec"
    for block in full:
        load_spec(write(tmp_path / "ref.yaml", textwrap.dedent(block))).design()
