"""The analysis studies: barren plateaus against theory, gradients against finite
differences, the ad-hoc kernel against RBF, the encoding study and the HTML report."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest

from qmlstudio.core.analysis import (
    AnalysisError,
    barren_plateau_study,
    cost_observables,
    encoding_study,
    fit_decay_rate,
    gradient_heatmap,
    hardware_efficient,
    parse_range,
    project_kernel_study,
    sample_gradients,
    template_builder,
)
from qmlstudio.core.circuit import CircuitDesign, Gate
from qmlstudio.core.project import Preprocessing
from qmlstudio.core.report import render_report, write_report
from qmlstudio.core.statevector import StatevectorProgram
from qmlstudio.plugins.manager import load_plugins
from qmlstudio.workflow import build_run, new_project


@pytest.fixture(scope="module")
def registry():
    return load_plugins(disabled=[])


# ------------------------------------------------------------ barren plateaus
def test_global_cost_decays_as_two_to_the_minus_n_and_local_cost_slower() -> None:
    # Deep (20 layers) hardware-efficient circuits on 2..8 qubits, 200 samples, fixed seed.
    result = barren_plateau_study(hardware_efficient, range(2, 9), [2, 20], samples=200, seed=7)
    a_global = result.rate["global"]["20"]
    assert 0.7 < a_global < 1.3  # theory: Var ∝ 2^-n (measured 1.00)
    assert 0.7 < result.rate["global"]["2"] < 1.3  # a global cost has a plateau even when shallow (1.02)
    assert result.rate["local"]["2"] < 0.6 * a_global  # the local cost sees its light cone only (0.01)
    assert result.rate["local"]["20"] < 0.6 * a_global + 0.1  # and decays slower on a brick-work (0.57)
    variances = np.array(result.variance["global"]["20"])
    assert np.all(np.diff(variances) < 0)
    data = result.to_dict()
    assert data["rate"]["global"]["20"] == pytest.approx(a_global)


def test_deep_plugin_template_reaches_the_two_design_rate(registry) -> None:
    build = template_builder(registry, "efficient-su2")
    result = barren_plateau_study(build, range(2, 8), [16], samples=150, seed=3, template="efficient-su2")
    assert 0.7 < result.rate["global"]["16"] < 1.3


def test_sampled_gradients_match_finite_differences() -> None:
    design = hardware_efficient(3, 2)
    obs = cost_observables(3)
    rng = np.random.default_rng(1)
    grads = sample_gradients(design, obs, 3, np.random.default_rng(1))
    weights = rng.uniform(0, 2 * np.pi, size=(3, design.num_weights))  # the same draw
    program = StatevectorProgram(design)
    eps = 1e-6
    for s in range(3):
        for i in (0, 5, design.num_weights - 1):
            up, down = weights[s].copy(), weights[s].copy()
            up[i] += eps
            down[i] -= eps
            fd = (program.expectations(up, None, obs) - program.expectations(down, None, obs))[0] / (2 * eps)
            np.testing.assert_allclose(grads[s, :, i], fd, atol=1e-6)


def test_variance_interval_is_the_percentile_bootstrap() -> None:
    from scipy import stats

    from qmlstudio.core.analysis import variance_interval

    x = np.random.default_rng(0).standard_normal(400) * 0.3
    low, high = variance_interval(x, seed=1)
    # scipy's own percentile bootstrap (its resamples differ: agreement to a few per cent)
    ref = stats.bootstrap((x,), lambda a, axis: np.var(a, axis=axis, ddof=1), method="percentile",
                          n_resamples=4000, random_state=2).confidence_interval
    assert low == pytest.approx(ref.low, rel=0.04) and high == pytest.approx(ref.high, rel=0.04)
    # for normal data it is close to the chi-square interval (n-1)s²/χ²
    s2, n = np.var(x, ddof=1), len(x)
    assert low == pytest.approx((n - 1) * s2 / stats.chi2.ppf(0.975, n - 1), rel=0.08)
    assert high == pytest.approx((n - 1) * s2 / stats.chi2.ppf(0.025, n - 1), rel=0.08)
    assert variance_interval(x, seed=1) == [low, high]  # seeded


def test_barren_plateau_reports_an_interval_per_variance() -> None:
    result = barren_plateau_study(hardware_efficient, [2, 4], [2], samples=120, seed=5)
    for cost in ("global", "local"):
        for v, (low, high) in zip(result.variance[cost]["2"], result.variance_ci95[cost]["2"]):
            assert 0 <= low < v < high
    assert result.to_dict()["variance_ci95"] == result.variance_ci95


def test_the_decay_rate_has_a_bootstrap_interval_from_refits_of_the_resampled_variances() -> None:
    """The interval of a is the percentile interval of np.polyfit refitted to each resample of
    the variances (one independent resample per qubit count), and covers the fitted rate."""
    from qmlstudio.core.analysis import _variance_draws, barren_plateau_point

    result = barren_plateau_study(hardware_efficient, [2, 3, 4, 5], [2], samples=150, seed=11)
    for cost in ("global", "local"):
        low, high = result.rate_ci95[cost]["2"]
        assert low < result.rate[cost]["2"] < high
    # the independent construction: refit each bootstrap resample with np.polyfit
    points = [barren_plateau_point(hardware_efficient(n, 2), 150, [11, n, 2]) for n in (2, 3, 4, 5)]
    draws = np.column_stack([p["global"]["draws"] for p in points])
    rates = [-np.polyfit([2, 3, 4, 5], np.log2(row), 1)[0] for row in draws]
    assert result.rate_ci95["global"]["2"] == pytest.approx(list(np.percentile(rates, [2.5, 97.5])), rel=1e-9)
    assert result.to_dict()["rate_ci95"] == result.rate_ci95
    low, high, _ = _variance_draws(np.arange(10.0), seed=0)
    assert low < np.var(np.arange(10.0), ddof=1) < high


def test_fit_and_ranges() -> None:
    n = np.arange(2, 9)
    assert fit_decay_rate(n, 3 * 2.0 ** (-1.5 * n))[0] == pytest.approx(1.5)
    assert parse_range("2-8") == [2, 3, 4, 5, 6, 7, 8]
    assert parse_range("2,4, 6") == [2, 4, 6]
    assert parse_range("2-10:4") == [2, 6, 10]
    with pytest.raises(AnalysisError):
        parse_range("two")
    with pytest.raises(AnalysisError, match="two qubit counts"):
        barren_plateau_study(hardware_efficient, [3], [1])


def test_gradient_heatmap_places_each_weight_at_its_gate() -> None:
    design = CircuitDesign(2, [Gate("ry", (0,), ("θ[0]",), 0), Gate("cx", (0, 1), (), 1), Gate("ry", (1,), ("θ[1]",), 2)])
    heat = gradient_heatmap(design, samples=50)
    grid = heat.grid["global"]
    assert grid.shape == (2, 3)
    assert np.isfinite(grid[0, 0]) and np.isfinite(grid[1, 2])
    assert np.isnan(grid[0, 1]) and np.isnan(grid[1, 0])
    assert heat.per_weight["local"].shape == (2,)
    with pytest.raises(AnalysisError, match="no trainable weights"):
        gradient_heatmap(CircuitDesign(2, [Gate("h", (0,), (), 0)]))


# ------------------------------------------------------------------- kernels
def test_quantum_kernel_beats_rbf_on_ad_hoc_data(registry) -> None:
    project = new_project(registry, name="adhoc", dataset="ad-hoc",
                          dataset_options={"training_size": 20, "test_size": 10, "seed": 0},
                          encoding="zz-feature-map", model="kernel", seed=0)
    project.preprocessing = Preprocessing(scaling="none")
    result = project_kernel_study(project, registry, build_run=build_run)
    assert result.quantum_test_accuracy > result.rbf_test_accuracy + 0.2  # measured 1.00 against 0.50
    assert result.alignment > result.rbf_alignment
    assert result.gram.shape == (40, 40)
    np.testing.assert_allclose(np.diag(result.gram), 1.0)
    assert list(result.labels) == sorted(result.labels)


# ----------------------------------------------------------------- encodings
def test_encoding_study_trains_one_model_per_encoding(registry) -> None:
    project = new_project(registry, name="moons", dataset="moons", dataset_options={"samples": 80},
                          encoding="angle", epochs=2, seed=3)
    seen = []
    result = encoding_study(project, registry, ["angle", "zz-feature-map", "no-such-encoding"],
                            build_run=build_run, epochs=2, progress=lambda d, t, m: seen.append(m))
    rows = {r.encoding: r for r in result.rows}
    assert rows["angle"].qubits == 2 and rows["angle"].test_accuracy is not None
    assert rows["zz-feature-map"].depth > rows["angle"].depth
    assert rows["zz-feature-map"].two_qubit > rows["angle"].two_qubit
    assert rows["angle"].loss and all(v is not None for v in rows["angle"].loss)
    assert rows["no-such-encoding"].status == "failed"
    assert len(result.records) == 2 and not project.runs
    assert any("iteration" in m for m in seen)


# -------------------------------------------------------------------- report
def test_report_is_one_self_contained_page(registry, tmp_path) -> None:
    project = new_project(registry, name="report <demo>", dataset="moons", dataset_options={"samples": 60},
                          epochs=2, seed=3)
    project.add_run(build_run(project, registry).run())
    text = render_report(project)
    assert "report &lt;demo&gt;" in text and "<demo>" not in text
    assert project.runs[0].id in text
    assert "RBF SVM" in text and "qiskit" in text
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(images) >= 2
    assert base64.b64decode(images[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in text and "https://" not in text
    path = write_report(project, tmp_path / "r.html")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_encoding_study_is_fair_same_ansatz_and_transpiled_figures(registry) -> None:
    """The same ansatz (same weights) for every encoding, and figures after transpiling: IQP and
    ZZ look different drawn (RZZ against CX–P–CX) but are the same circuit transpiled."""
    from qiskit import transpile

    project = new_project(registry, name="moons", dataset="moons", dataset_options={"samples": 40},
                          encoding="angle", epochs=1, batch_size=0, seed=3)
    names = ["dense-angle", "angle", "iqp", "zz-feature-map"]
    result = encoding_study(project, registry, names, build_run=build_run, epochs=1)
    rows = {r.encoding: r for r in result.rows}
    assert all(r.status == "completed" for r in result.rows), [r.message for r in result.rows]
    assert rows["dense-angle"].encoding_qubits == 1 and rows["angle"].encoding_qubits == 2
    assert result.qubits == 2 and {r.qubits for r in result.rows} == {2}
    assert len({r.weights for r in result.rows}) == 1  # same ansatz, same weight count
    iqp, zz = rows["iqp"], rows["zz-feature-map"]
    assert iqp.drawn_depth != zz.drawn_depth  # what an untranspiled table would have shown
    assert (iqp.encoding_depth, iqp.encoding_two_qubit) == (zz.encoding_depth, zz.encoding_two_qubit)
    assert (iqp.depth, iqp.two_qubit) == (zz.depth, zz.two_qubit)
    assert iqp.encoding_two_qubit == 2 * 2  # one pair, two repetitions, a CX pair each
    assert rows["angle"].encoding_two_qubit == 0 and rows["angle"].two_qubit < zz.two_qubit
    # An independent count: qiskit's own transpile of the encoding circuit.
    encoder = registry.get("encodings", "zz-feature-map").create({})
    reference = transpile(encoder.circuit(2).to_circuit(), basis_gates=["rz", "sx", "x", "cx"],
                          optimization_level=1, seed_transpiler=0)
    assert zz.encoding_depth == reference.depth() and zz.encoding_two_qubit == reference.count_ops().get("cx", 0)
    own = encoding_study(project, registry, ["dense-angle", "angle"], build_run=build_run, epochs=1,
                         match_ansatz=False)
    assert own.qubits is None and own.rows[0].weights < own.rows[1].weights  # the confounded comparison


def test_encoding_study_transpiles_to_a_device(registry) -> None:
    from qmlstudio.workflow import create_backend

    project = new_project(registry, name="iris", dataset="iris", encoding="angle", epochs=1, batch_size=0, seed=3)
    device = create_backend(registry, "aer-noise:fake_manila,noise=false")
    result = encoding_study(project, registry, ["iqp", "zz-feature-map"], build_run=build_run, epochs=1,
                            device="fake_manila", device_pass_manager=device.pass_manager())
    iqp, zz = result.rows
    assert result.device == "fake_manila" and result.to_dict()["device"] == "fake_manila"
    assert (iqp.device_encoding_depth, iqp.device_encoding_two_qubit) == (zz.device_encoding_depth,
                                                                          zz.device_encoding_two_qubit)
    assert (iqp.device_depth, iqp.device_two_qubit) == (zz.device_depth, zz.device_two_qubit)
    # All-to-all ZZ terms on a line of 5 qubits need SWAPs: more two-qubit gates than the basis count.
    assert zz.device_two_qubit > zz.two_qubit and zz.device_encoding_two_qubit > zz.encoding_two_qubit
    page = render_report(project, [result])
    assert "the same ansatz on 4 qubits" in page and "transpiled to rz,sx,x,cx and to fake_manila" in page
    assert "fake_manila two-qubit" in page


# ------------------------------------------------------------ initialisation strategies (#19)
def test_an_identity_block_is_the_identity_for_mirrored_weights_against_statevector() -> None:
    """identity_block(D) with the mirror's weights equal to D's leaves any state as it was
    (qiskit's Statevector of the bound circuit, up to a global phase), for gates of every kind."""
    from qiskit.quantum_info import Statevector

    from qmlstudio.core.analysis import identity_block, initial_weight_samples, with_input_layer

    gates = [Gate("h", (0,), (), 0), Gate("ry", (1,), ("θ[0]",), 0), Gate("sx", (2,), (), 0),
             Gate("u", (0,), ("θ[1]", "θ[2] * 2", "0.3"), 1), Gate("crx", (0, 2), ("θ[3]",), 2), Gate("s", (1,), (), 3),
             Gate("t", (2,), (), 3), Gate("rzz", (1, 2), ("θ[0] + θ[4]",), 4), Gate("cx", (2, 0), (), 5),
             Gate("p", (1,), ("sin(θ[4])",), 6), Gate("sdg", (0,), (), 6), Gate("rx", (1,), ("pi/3",), 7)]
    design = with_input_layer(CircuitDesign(3, gates), "0.7")
    block = identity_block(design)
    assert block.num_weights == 2 * design.num_weights
    weights = initial_weight_samples("identity-blocks", np.random.default_rng(2), 3, block.num_weights)
    circuit = block.to_circuit()
    for row in weights:
        bound = circuit.assign_parameters({p: row[p.index] for p in circuit.parameters})
        state = Statevector(bound).data
        assert abs(state[0]) == pytest.approx(1.0, abs=1e-12)
    # and a mirror whose weights differ is not the identity
    row = weights[0].copy()
    row[-1] += 0.5
    state = Statevector(circuit.assign_parameters({p: row[p.index] for p in circuit.parameters})).data
    assert abs(state[0]) < 0.999


def test_the_strategies_draw_as_they_say() -> None:
    from qmlstudio.core.analysis import initial_weight_samples

    rng = np.random.default_rng(0)
    small = initial_weight_samples("small-angle", rng, 500, 6, epsilon=0.05)
    assert np.abs(small).max() <= 0.05 * np.pi and np.abs(small).max() > 0.04 * np.pi
    uniform = initial_weight_samples("uniform", rng, 500, 6)
    assert uniform.min() >= 0 and uniform.max() < 2 * np.pi and uniform.max() > 6
    mirrored = initial_weight_samples("identity-blocks", rng, 5, 8)
    np.testing.assert_array_equal(mirrored[:, :4], mirrored[:, 4:])
    with pytest.raises(AnalysisError, match="unknown initialisation"):
        initial_weight_samples("zeros", rng, 5, 8)


def test_identity_blocks_keep_the_local_gradient_and_give_the_global_one_its_exact_decay() -> None:
    """At the identity the gradient with respect to the first RY on qubit 0 (after the input
    layer RY(π/4) on every qubit) is the derivative of one rotation's expectation:
    sin(π/4)/2 for the local cost (1 − ⟨Z₀⟩)/2, whatever n, and sin(π/4)·cos(π/4)^(n−1)/2 for
    the global parity cost: E[g²] = 1/8 and 2^(−n)/4, so a = 0 and a = 1 exactly; uniform
    weights give the barren plateau of the global cost (a ≈ 1) and small angles sit between."""
    from qmlstudio.core.analysis import initialisation_study

    results = initialisation_study(hardware_efficient, [2, 3, 4, 5, 6], [6], samples=120, seed=4)
    identity = results["identity-blocks"]
    n = np.arange(2, 7)
    np.testing.assert_allclose(identity.mean_square["local"]["6"], 0.125, rtol=1e-9)
    np.testing.assert_allclose(identity.mean_square["global"]["6"], 2.0 ** -n / 4, rtol=1e-9)
    assert identity.mean_square_rate["local"]["6"] == pytest.approx(0, abs=1e-9)
    assert identity.mean_square_rate["global"]["6"] == pytest.approx(1, abs=1e-9)
    assert max(identity.variance["local"]["6"]) < 1e-20  # every draw: the same gradient
    uniform, small = results["uniform"], results["small-angle"]
    assert 0.75 < uniform.mean_square_rate["global"]["6"] < 1.3
    assert uniform.rate_ci95["global"]["6"][0] < uniform.rate["global"]["6"] < uniform.rate_ci95["global"]["6"][1]
    assert small.mean_square_rate["local"]["6"] < uniform.mean_square_rate["local"]["6"] + 0.05
    assert all(r.input_layer for r in results.values()) and uniform.to_dict()["init"] == "uniform"
    with pytest.raises(AnalysisError, match="unknown initialisation"):
        initialisation_study(hardware_efficient, [2, 3], [2], ["zeros"])
