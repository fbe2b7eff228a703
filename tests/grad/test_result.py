import numpy as np

import qtrain as qt


def circuit_and_observable():
    c = qt.Circuit(2).ry(0, qt.P(0)).cnot(0, 1).crx(0, 1, 2 * qt.P(1) + 0.3).rz(1, qt.P(0))
    return c, 0.5 * qt.Z(0) @ qt.Z(1) - qt.X(1), np.array([0.1, 0.2])


def test_sampled_gradient_repr_is_one_line_of_plain_floats():
    c, H, theta = circuit_and_observable()
    g = qt.grad(c, H, theta, method="param-shift", shots=100, seed=1)
    text = repr(g)
    assert "np.float64" not in text and "array(" not in text and "\n" not in text
    assert text.startswith(f"Gradient(value=[{g.value[0]:.4g}, {g.value[1]:.4g}], stderr=[")
    assert f"fun={g.fun:.4g} ± {float(g.fun_stderr):.4g}" in text
    assert text.endswith(f"method='param-shift', n_circuits={g.n_circuits}, shots={g.shots})")


def test_exact_gradient_and_jacobian_reprs():
    c, H, theta = circuit_and_observable()
    assert "stderr=None" in repr(qt.grad(c, H, theta, method="adjoint"))
    jac = repr(qt.jacobian(c, [H, qt.Z(0)], theta, method="param-shift"))
    assert jac.startswith("Gradient(value=[[") and "np." not in jac


def test_a_long_gradient_is_shortened():
    c = qt.ansatz.hardware_efficient(4, 10)
    g = qt.grad(c, qt.Z(0), np.full(c.n_params, 0.1), method="adjoint")
    assert f"value=({c.n_params},) [" in repr(g) and len(repr(g)) < 250


def test_gradient_html_is_a_table():
    c, H, theta = circuit_and_observable()
    html = qt.grad(c, H, theta, method="param-shift", shots=100, seed=1)._repr_html_()
    assert html.startswith("<table>") and "Gradient (param-shift)" in html and "stderr" in html
