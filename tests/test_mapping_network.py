"""Networks: the bundled layer lists, loading network files, mapping every layer."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import buffer, make_arch

from sasim.errors import SpecError
from sasim.mapping.network import load_network, map_network
from sasim.networks import network_names


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def test_bundled_networks() -> None:
    assert network_names() == ("bert_base", "resnet50")


def test_resnet50_layers() -> None:
    net = load_network("resnet50")
    layers = {lay.name: lay for lay in net.layers}
    convs = [lay for lay in net.layers if "P" in lay.workload.dims]
    assert sum(lay.repeat for lay in convs) == 53
    assert net.macs == 4_089_184_256  # ResNet-50: 4.09 GMACs at 224x224
    conv1 = layers["conv1"].workload.dims
    assert (conv1["K"], conv1["C"], conv1["P"], conv1["Q"], conv1["R"]) == (64, 3, 112, 112, 7)
    down = layers["s2b1_conv2"].workload  # v1.5: the stride-2 is in the 3x3 convolution
    assert (down.dims["P"], down.dims["C"], down.dims["R"]) == (28, 128, 3)
    assert layers["s3bN_conv2"].repeat == 5
    assert layers["s4bN_conv3"].workload.dims["K"] == 2048
    assert layers["fc"].workload.dims == {"M": 1, "N": 1000, "K": 2048}


def test_bert_base_layers() -> None:
    net = load_network("bert_base")
    assert sum(lay.repeat for lay in net.layers) == 96
    assert net.macs == 11_173_625_856
    layers = {lay.name: lay.workload.dims for lay in net.layers}
    assert layers["ffn1"] == {"M": 128, "N": 3072, "K": 768}
    assert layers["attn_scores"] == {"B": 12, "M": 128, "N": 128, "K": 64}


def test_load_network_file_forms(tmp_path: Path) -> None:
    path = write(tmp_path / "net.yaml", """\
        name: tiny
        layers:
          - {name: a, workload: "gemm:M=8,N=8,K=8"}
          - {name: b, workload: {preset: gemm, M: 8, N: 8, K: 8}, repeat: 3}
          - name: c
            workload:
              dims: {M: 4, K: 4}
              tensors:
                I: {role: input, index: [M, K], bits: 8}
                W: {role: weight, index: [K], bits: 8}
                O: {role: output, index: [M], bits: 32}
        """)
    net = load_network(path)
    assert [(lay.name, lay.repeat) for lay in net.layers] == [("a", 1), ("b", 3), ("c", 1)]
    assert net.macs == 512 * 4 + 16


def test_map_network_shares_layers_of_one_shape(tmp_path: Path) -> None:
    path = write(tmp_path / "net.yaml", """\
        name: tiny
        layers:
          - {name: a, workload: "gemm:M=8,N=8,K=8"}
          - {name: b, workload: "gemm:M=8,N=8,K=8,name=other", repeat: 3}
          - {name: c, workload: "gemm:M=4,N=8,K=2"}
        """)
    arch = make_arch(4, 4, (buffer("GLB", capacity=4096),), input_registers=2, weight_registers=2,
                     output_registers=2)
    result = map_network(load_network(path), arch, objective="latency")
    a, b, c = result.layers
    assert b.shared_with == "a" and b.result is a.result
    assert a.shared_with is None and c.shared_with is None
    assert result.cycles == a.result.best.cycles * 4 + c.result.best.cycles
    assert result.energy_pj == pytest.approx(a.result.best.energy_pj * 4 + c.result.best.energy_pj)
    assert result.edp == result.cycles * result.energy_pj


@pytest.mark.parametrize(("text", "message"), [
    ("name: n\nlayers: []\n", "{p}: network.layers: List should have at least 1 item after validation, not 0"),
    ("name: n\nlayers:\n  - {name: a, workload: 'gemm:M=2,N=2,K=2'}\n  - {name: a, workload: 'gemm:M=2,N=2,K=2'}\n",
     "{p}: layers[1].name: layer name 'a' is used twice; names must be unique"),
    ("name: n\nlayers:\n  - {name: a, workload: 'gem:M=2'}\n",
     "{p}: layers[0].workload: unknown workload preset 'gem'; choose one of ['batched_gemm', 'conv2d', "
     "'depthwise_conv2d', 'einsum', 'gemm']"),
    ("name: n\nlayers:\n  - {name: a, workload: 'gemm:M=2,N=2,K=2', repeat: 0}\n",
     "{p}: network.layers[0].repeat: Input should be greater than or equal to 1, not 0"),
    ("name: n\nlayers:\n  - {name: a, workload: 'gemm:M=2,N=2,K=2', size: 3}\n",
     "{p}: network.layers[0].size: unknown key (check the spelling; see docs/reference.md for the allowed keys)"),
])
def test_load_network_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "bad.yaml", text)
    with pytest.raises(SpecError) as info:
        load_network(path)
    assert str(info.value) == message.format(p=path)


def test_unknown_network_wrong() -> None:
    with pytest.raises(SpecError) as info:
        load_network("resnet18")
    assert str(info.value) == ("resnet18: no such network file or bundled network; the bundled networks are "
                               "bert_base, resnet50")
