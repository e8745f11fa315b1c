"""io_stream timing and FIFO depths against published hls4ml results, and their speed.

1. hls4ml's io_stream synthesis baselines (Apache-2.0, references.BASELINES_SOURCE): latency and interval;
2. the hls4ml tutorial's SVHN CNN (Vivado HLS 2020.1 report): latency and interval;
3. MLPerf Tiny v0.7 RN07 on a PYNQ-Z2 (board): latency per inference at the board's clock, per-layer cycles,
   FIFO depths against the co-simulation profile the build used and hls4ml's default;
4. speed of the schedule, the FIFO depths and the bounded-FIFO check on ResNet-20/110 (io_stream).

    python benchmarks/stream_timing.py            (-> benchmarks/results/stream_timing.json)
"""
from __future__ import annotations

import time

import numpy as np

from codesign.sim import hls_rules, load_device, references
from codesign.sim.estimate import zoo_network
from codesign.sim.fifo_depths import MIN_DEPTH, depths_from_schedule
from codesign.sim.stream_events import simulate
from codesign.sim.stream_graph import stream_graph, stream_network
from codesign.sim.stream_schedule import stream_schedule
from codesign.sim.stream_timing import StreamCal, layer_timing, process_profiles

from common import save

CAL = StreamCal.from_calibration(load_device("xcu250").calibration)


def _plan(net, rf: int, resource: bool):
    """Per-layer reuse factor (hls4ml's valid one under Resource) and strategy of one network-wide setting."""
    a = net.arrays
    compute = a.mask("conv", "dense")
    rfs = [hls_rules.closest_reuse_factor(int(i), int(o), rf) if c and resource else (rf if c else 1)
           for c, i, o in zip(compute, a.n_in, a.n_out)]
    return np.array(rfs), np.full(len(net), resource)


def _schedule(net, rf=1, resource=False, calls=2):
    sn = stream_network(net)
    rfs, res = _plan(sn.network, rf, resource)
    g = stream_graph(sn.network)
    profiles = process_profiles(g, rfs, res, CAL)
    return g, profiles, stream_schedule(g, profiles, calls, CAL)


def baselines() -> dict:
    rows = []
    for name, build in (("depthwise2d_io_stream", references.depthwise2d_baseline),
                        ("depthwise1d_io_stream", references.depthwise1d_baseline)):
        _, _, s = _schedule(build())
        for tool, (lat, ii) in references.STREAM_BASELINES[name].items():
            rows.append({"design": name, "tool": tool, "latency": [lat, s.latency], "interval": [ii, s.interval]})
    return {"source": references.BASELINES_SOURCE, "rows": rows}


def svhn() -> dict:
    _, _, s = _schedule(references.svhn_cnn())
    pub = references.SVHN_PUBLISHED
    return {"latency": [pub["latency_cycles"], s.latency], "interval": [pub["interval_cycles"], s.interval]}


def rn07() -> dict:
    net = references.rn07()
    rfs, res = _plan(net, references.RN07_SETTINGS["reuse_factor"], True)
    g = stream_graph(stream_network(net).network)
    profiles = process_profiles(g, rfs, res, CAL)
    sched = stream_schedule(g, profiles, 2, CAL)
    depths = depths_from_schedule(sched, CAL, min_depth=MIN_DEPTH)
    one = depths_from_schedule(stream_schedule(g, profiles, 1, CAL), CAL, min_depth=MIN_DEPTH)
    published = references.RN07_PUBLISHED["latency_s"]
    cycles, first, interval = layer_timing(net, rfs, res, CAL)
    fifos = {}
    for i in g.internal():
        f = g.fifos[i]
        fifos[f.name] = {"default": f.words, "cosim_max": references.RN07_FIFO_MAX[f.name],
                         "no_stall_1": int(one.no_stall[i]), "chosen_1": int(one.depth[i]),
                         "no_stall_2": int(depths.no_stall[i]), "chosen_2": int(depths.depth[i])}
    built = np.array([0 if f.external else references.RN07_FIFO_MAX[f.name] + 1 for f in g.fifos])
    check = simulate(g, profiles, depths.depth, 2, CAL)
    as_built = simulate(g, profiles, built, 2, CAL)
    out = {"source": references.RN07_SOURCE, "settings": references.RN07_SETTINGS,
           "latency_cycles": sched.latency, "interval_cycles": sched.interval,
           "latency_ms": {str(mhz): sched.latency / (mhz * 1e3) for mhz in (100, 150)},
           "published_ms": published * 1e3,
           "error_at_board_clock": sched.latency / (references.RN07_SETTINGS["clock_mhz"] * 1e6) / published - 1,
           "layers": {l.name: {"rf": int(r), "cycles": float(c), "first_output": float(fo)}
                      for l, r, c, fo in zip(net.layers, rfs, cycles, first)},
           "fifos": fifos,
           "check_chosen": {"deadlock": check.deadlock, "call_end": check.call_end.tolist(),
                            "free_running": sched.call_end().tolist()},
           "check_as_built": {"deadlock": as_built.deadlock, "call_end": as_built.call_end.tolist()}}
    return out


def speed(name: str) -> dict:
    net = zoo_network(name)
    out = {"layers": len(net)}
    for label, rf, resource in (("Latency RF 1", 1, False), ("Resource RF 16", 16, True)):
        t0 = time.perf_counter()
        sn = stream_network(net)
        rfs, res = _plan(sn.network, rf, resource)
        g = stream_graph(sn.network)
        t1 = time.perf_counter()
        layer_timing(sn.network, rfs, res, CAL)
        t2 = time.perf_counter()
        profiles = process_profiles(g, rfs, res, CAL)
        one = stream_schedule(g, profiles, 1, CAL)
        t3 = time.perf_counter()
        two = stream_schedule(g, profiles, 2, CAL)
        depths = depths_from_schedule(two, CAL, min_depth=MIN_DEPTH)
        t4 = time.perf_counter()
        check = simulate(g, profiles, depths.depth, 2, CAL)
        t5 = time.perf_counter()
        out[label] = {"processes": len(g.processes), "fifos": len(g.internal()), "latency": one.latency,
                      "interval": one.interval, "graph_s": t1 - t0, "layer_timing_s": t2 - t1,
                      "schedule_s": t3 - t2, "fifo_depths_s": t4 - t3, "check_s": t5 - t4,
                      "check_keeps": bool(not check.deadlock and np.array_equal(check.call_end, two.call_end())),
                      "words_default": int(depths.default.sum()), "words_no_stall": int(depths.no_stall.sum()),
                      "words_chosen": int(depths.depth.sum())}
    return out


def main():
    payload = {"baselines": baselines(), "svhn": svhn(), "rn07": rn07(),
               "speed": {name: speed(name) for name in ("resnet20", "resnet110")}}
    path = save("stream_timing", payload)
    b = payload["baselines"]["rows"]
    for r in b:
        print(f"{r['design']:24s} {r['tool']:14s} latency {r['latency'][0]:5d} -> {r['latency'][1]:7.0f}   "
              f"interval {r['interval'][0]:5d} -> {r['interval'][1]:7.0f}")
    s = payload["svhn"]
    print(f"SVHN latency {s['latency'][0]} -> {s['latency'][1]:.0f}, "
          f"interval {s['interval'][0]} -> {s['interval'][1]:.0f}")
    r = payload["rn07"]
    print(f"RN07 {r['latency_cycles']:.0f} cycles: {r['latency_ms']['100']:.2f} ms at 100 MHz "
          f"({r['error_at_board_clock']:+.1%} vs {r['published_ms']:.2f} ms), "
          f"{r['latency_ms']['150']:.2f} ms at 150 MHz")
    print("  FIFO (words)                 default  co-sim max | one inference: no-stall chosen | back to back: "
          "no-stall chosen")
    for name, f in r["fifos"].items():
        print(f"  {name:28s} {f['default']:7d} {f['cosim_max']:11d} | {f['no_stall_1']:23d} {f['chosen_1']:6d} | "
              f"{f['no_stall_2']:22d} {f['chosen_2']:6d}")
    print(f"  chosen depths: {r['check_chosen']}; as built: {r['check_as_built']}")
    for name, sp in payload["speed"].items():
        for label, v in sp.items():
            if isinstance(v, dict):
                print(f"{name} {label}: {v['processes']} processes, layer timing {v['layer_timing_s'] * 1e3:.1f} ms, "
                      f"schedule {v['schedule_s'] * 1e3:.0f} ms, FIFO depths {v['fifo_depths_s'] * 1e3:.0f} ms, "
                      f"check {v['check_s'] * 1e3:.0f} ms (keeps: {v['check_keeps']}); FIFO words default "
                      f"{v['words_default']}, no-stall {v['words_no_stall']}, chosen {v['words_chosen']}")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
