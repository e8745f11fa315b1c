"""Mapping.from_hls_config: hls4ml's own configuration form, as hls4ml reads it."""
import json

import pytest

from codesign.errors import ConfigError
from codesign.fixed_point import FixedType
from codesign.sim import Mapping, Network, estimate
from codesign.sim.mapping import AUTO
from codesign.sim.plan import resolve_plan

CONFIG = {"Model": {"Precision": "ap_fixed<16,6>", "ReuseFactor": 4, "Strategy": "Latency", "BramFactor": 10**9},
          "LayerName": {"fc1": {"ReuseFactor": 16, "Strategy": "Resource", "Trace": False,
                                "Precision": {"weight": "ap_fixed<8,3>", "bias": "ap_fixed<8,3>", "result": "auto",
                                              "accum": "auto"}},
                        "fc2": {"Precision": "ap_fixed<10,4,RND_CONV,SAT>"}}}


def _mlp(nets):
    return Network("m", (nets.dense("fc1", None, 16, 64), nets.simple("relu1", "act", ["fc1"], (64, 1, 1)),
                         nets.dense("fc2", "relu1", 64, 5)), (16, 1, 1))


def test_reads_model_and_layer_sections():
    m = Mapping.from_hls_config(CONFIG)
    assert (m.reuse_factor, m.strategy, m.precision.weight_bits, m.precision.act_bits) == (4, "Latency", 16, 16)
    assert m.accum == FixedType(16, 6)                       # hls4ml: not set per layer -> the Model default
    fc1, fc2 = m.layers["fc1"], m.layers["fc2"]
    assert (fc1.reuse_factor, fc1.strategy, fc1.weight, fc1.result, fc1.accum) == (16, "Resource", FixedType(8, 3),
                                                                                     AUTO, AUTO)
    assert fc2.weight == fc2.result == fc2.accum == FixedType(10, 4, True, "RND_CONV", "SAT")


def test_hlsconfig_wrapper_of_hls4ml_yml(nets):
    yml = {"Backend": "Vitis", "OutputDir": "prj", "ProjectName": "myproject", "Part": "xcu250-figd2104-2L-e",
           "ClockPeriod": 4, "IOType": "io_parallel", "HLSConfig": json.loads(json.dumps(CONFIG))}
    m = Mapping.from_hls_config(yml)
    assert m.clock_mhz == 250 and m.io_type == "io_parallel" and set(m.layers) == {"fc1", "fc2"}
    assert m.backend == "Vitis" and resolve_plan(_mlp(nets), m).backend == "Vitis"
    plan = resolve_plan(_mlp(nets), m)
    assert plan.rf.tolist() == [16, 1, 4] and plan.resource.tolist() == [True, False, False]
    assert plan.w_bits.tolist() == [8, 16, 10]
    assert plan.out_bits[0] == plan.acc_bits[0] == 8 + 16 + 4 + 1   # result 'auto' on a Dense: lossless
    assert plan.in_bits[1] == plan.out_bits[0]
    # fc1 reads its 8-bit weights from a ROM (Resource, RF 16): DSPs from 8 bits (dataflow_resources' fitted
    # rule), 1024 / 16 = 64 of them; fc2's 10-bit constant weights: 320 / 4 = 80
    assert estimate(_mlp(nets), "xcu250", m).totals["dsp"] == 64 + 64 * 5 // 4


def test_pipeline_style_of_hls4mls_model_section(nets):
    m = Mapping.from_hls_config({"Model": {"ReuseFactor": 4, "PipelineStyle": "DATAFLOW"}})
    assert m.pipeline_style == "dataflow" and resolve_plan(_mlp(nets), m).pipeline_style == "dataflow"
    assert Mapping.from_hls_config(CONFIG).pipeline_style == "auto" and "pipeline_style" in m.describe()


@pytest.mark.parametrize("config, message", [
    ({"Model": {"PipelineStyle": "serial"}}, "unknown pipeline style 'serial'"),
    ({"Model": {"ReuseFactr": 2}}, "unknown key 'ReuseFactr' (did you mean: ReuseFactor?)"),
    ({"Model": {"ReuseFactor": "2"}}, "reuse factor must be an integer"),
    ({"Model": {"ReuseFactor": True}}, "reuse factor must be an integer"),
    ({"Model": {"Strategy": "Unrolled"}}, "unknown strategy 'Unrolled'"),
    ({"Model": {"Precision": "fixed<16>"}}, "Model.Precision 'fixed<16>' not understood"),
    ({"LayerName": {"fc1": {"Precision": {"weight": "banana"}}}}, "LayerName.fc1.Precision.weight 'banana'"),
    ({"LayerName": {"fc1": {"ReuseFactor": 0}}}, "LayerName.fc1: reuse factor must be an integer >= 1"),
    ({"Backend": "Vitis"}, "no Model or LayerName section"),
    ({"Backend": "Quartus", **CONFIG}, "unknown backend 'Quartus'"),
])
def test_bad_configs_are_one_line_errors(config, message):
    with pytest.raises(ConfigError) as err:
        Mapping.from_hls_config(config)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("given, backend", [("Vivado", "Vivado"), ("VivadoAccelerator", "Vivado"), ("vitis", "Vitis"),
                                            ("VitisAcceleratorIPFlow", "Vitis")])
def test_backend_is_the_hls_tool_of_hls4mls_backend(given, backend):
    # hls4ml's accelerator backends wrap the same HLS tool (VivadoAccelerator: Vivado HLS)
    assert Mapping.from_hls_config({"Backend": given, **CONFIG}).backend == backend
    assert Mapping(backend=given).describe()["backend"] == backend


def test_fifo_depths_of_a_projects_config(nets):
    """``FifoDepth`` (codesign's key, which the export writes into hls4ml_config.yml): one depth, or a cloned
    output's [own, copy 1, ...], priced at the deepest; the entry of hls4ml's ZeroPadding before a convolution
    (zp2d_<conv>) names no layer under io_parallel and is skipped there."""
    net = Network("c", (nets.conv("c1", None, 1, 8, 4, pad=1), nets.simple("r", "act", ["c1"], (4, 8, 8))), (1, 8, 8))
    m = Mapping.from_hls_config({"LayerName": {"c1": {"FifoDepth": [3, 40, 5]}, "zp2d_c1": {"FifoDepth": 6},
                                               "r": {"FifoDepth": 2}}})
    assert m.layers["c1"].fifo_depth == 40 and m.layers["zp2d_c1"].fifo_depth == 6
    stream = resolve_plan(estimate(net, "xcu250", m.with_(io_type="io_stream")).network, m.with_(io_type="io_stream"))
    assert stream.fifo_depth.tolist() == [6, 40, 2]
    assert resolve_plan(net, m.with_(io_type="io_parallel")).fifo_depth.tolist() == [40, 2]
    for bad in (0, [2, 0], "deep", []):
        with pytest.raises(ConfigError, match="LayerName.c1: FifoDepth: a FIFO depth is an integer >= 1"):
            Mapping.from_hls_config({"LayerName": {"c1": {"FifoDepth": bad}}})


@pytest.mark.parametrize("layers, setting", [
    ({"c1": {"ReuseFactor": 9}, "Conv2D_c1": {"ReuseFactor": 3}}, "ReuseFactor to 3 and 9"),
    # a layer's value equal to the Model's is still the layer's own where another name of it says otherwise
    ({"c1": {"ReuseFactor": 4}, "Conv2D_c1": {"ReuseFactor": 3}}, "ReuseFactor to 3 and 4"),
    ({"fc": {"Precision": "fixed<8,3>"}, "dense_fc": {"Precision": {"weight": "ap_fixed<10,3>"}}},
     "Precision.weight to fixed<10,3,TRN,WRAP> and fixed<8,3,TRN,WRAP>"),
    ({"c1": {"FifoDepth": 2}, "Conv2D_c1": {"FifoDepth": [2, 5]}}, "FifoDepth to [2, 5] and 2"),
])
def test_two_names_of_one_layer_that_disagree_are_one_line_naming_both(layers, setting):
    """R6: the export wrote a layer's entry twice (c1 and hls4ml's Conv2D_c1); simulate obeyed one, export and
    hls4ml the other. Two entries of one layer that disagree are refused, naming both, before any network is
    read; the message says which one hls4ml reads."""
    with pytest.raises(ConfigError) as err:
        Mapping.from_hls_config({"Model": {"ReuseFactor": 4}, "LayerName": layers})
    own = next(n for n in layers if "_" not in n or n == "c1")
    assert setting in str(err.value) and f"hls4ml reads '{own}'" in str(err.value) and "\n" not in str(err.value)
    assert all(f"'{name}'" in str(err.value) for name in layers)


def test_two_names_of_one_layer_that_agree_merge(nets):
    """Entries that agree (a project written by an earlier codesign has both) merge; 'auto' yields to a type; a
    name of the layer that disagrees is refused (simulate obeyed the hls4ml-made name, hls4ml the other)."""
    net = _mlp(nets)
    layers = {"fc1": {"ReuseFactor": 8, "Precision": {"result": "auto"}},
              "Dense_fc1": {"ReuseFactor": 8, "Precision": {"result": "fixed<9,2>"}, "Strategy": "Resource"}}
    settings, _ = Mapping.from_hls_config({"LayerName": layers}).layer_settings([layer.name for layer in net.layers])
    assert (settings[0].reuse_factor, settings[0].strategy, settings[0].result.width) == (8, "Resource", 9)
    with pytest.raises(ConfigError, match="'Dense_fc1' and 'fc1' are one layer"):
        Mapping.from_hls_config({"LayerName": {**layers, "fc1": {"ReuseFactor": 2}}})




def test_a_sequentials_padding_is_named_as_the_export_names_it(nets):
    """nn.Sequential's conv '0' is the export's l_0, and its io_stream padding the export's zp2d_l_0 (simulate
    named it zp2d_0, so a project's FifoDepth for it was silently dropped: models D6)."""
    from codesign.sim.mapping import match_layers

    found, _ = match_layers({"zp2d_l_0": Mapping.from_hls_config({"LayerName": {"x": {"FifoDepth": 6}}}).layers["x"]},
                            ["zp2d_0", "0"])
    assert found[0].fifo_depth == 6
