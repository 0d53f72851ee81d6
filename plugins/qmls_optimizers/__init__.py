"""Built-in optimizers of QML Studio, registered through the ``qmlstudio`` entry point like any plugin.

Every optimizer reports each iteration to the callback as an ``OptimizerStep`` (iteration
1, 2, 3..., the point, its loss, the gradient norm when known and the evaluations spent so
far) and stops as soon as the callback returns ``True``; an exception raised while
evaluating the loss (the engine raises to cancel) passes straight through.

Adam and SGD are numpy steppers over exact gradients; SPSA is gradient-free at two
evaluations per iteration, so it suits shot-based backends and hardware; COBYLA,
Nelder-Mead and L-BFGS-B are SciPy's. Listing them is cheap: SciPy is imported only when
one of its methods runs.
"""

from __future__ import annotations

from qmlstudio.plugins import Option, OptimizerSpec, hookimpl

__all__ = ["qmlstudio_optimizers"]


def _learning_rate(default: float, help: str = "Size of each step relative to the gradient") -> Option:
    return Option("learning_rate", "float", default, title="Learning rate", help=help, minimum=1e-9, maximum=100.0)


def _initial_step(help: str) -> Option:
    return Option("initial_step", "float", 0.5, title="Initial step", help=help, minimum=1e-6, maximum=10.0)


@hookimpl
def qmlstudio_optimizers() -> list[OptimizerSpec]:
    """The built-in optimizers."""
    return [
        OptimizerSpec(
            name="adam",
            title="Adam",
            factory="qmls_optimizers.gradient:Adam",
            description="Adaptive moments (Kingma & Ba): a robust default for gradient training",
            uses_gradient=True,
            options=(
                _learning_rate(0.05),
                Option("beta1", "float", 0.9, title="β₁", help="Decay of the running mean of gradients",
                       minimum=0.0, maximum=0.9999),
                Option("beta2", "float", 0.999, title="β₂", help="Decay of the running mean of squared gradients",
                       minimum=0.0, maximum=0.99999),
                Option("eps", "float", 1e-8, title="ε", help="Added to the denominator to avoid division by zero",
                       minimum=1e-15, maximum=1.0),
                Option("amsgrad", "bool", False, title="AMSGrad",
                       help="Use the running maximum of squared gradients (Reddi et al.)"),
            ),
        ),
        OptimizerSpec(
            name="sgd",
            title="Gradient descent (SGD)",
            factory="qmls_optimizers.gradient:SGD",
            description="Plain gradient descent, optionally with (Nesterov) momentum",
            uses_gradient=True,
            options=(
                _learning_rate(0.1),
                Option("momentum", "float", 0.0, title="Momentum",
                       help="Fraction of the previous step carried into the next (0 for plain descent)",
                       minimum=0.0, maximum=0.999),
                Option("nesterov", "bool", False, title="Nesterov",
                       help="Look-ahead momentum (has an effect only when momentum > 0)"),
            ),
        ),
        OptimizerSpec(
            name="spsa",
            title="SPSA",
            factory="qmls_optimizers.spsa:SPSA",
            description="Simultaneous perturbation (Spall): two loss evaluations per iteration whatever the "
            "number of parameters; copes with shot noise",
            uses_gradient=False,
            options=(
                _learning_rate(0.2, "a: the step size a_k = a / (A + k + 1)^α"),
                Option("perturbation", "float", 0.1, title="Perturbation",
                       help="c: the perturbation c_k = c / (k + 1)^γ used to estimate the gradient",
                       minimum=1e-6, maximum=10.0),
                Option("alpha", "float", 0.602, title="α", help="Decay exponent of the step size",
                       minimum=0.0, maximum=2.0),
                Option("gamma", "float", 0.101, title="γ", help="Decay exponent of the perturbation",
                       minimum=0.0, maximum=2.0),
                Option("stability", "float", 0.0, title="Stability constant A",
                       help="Slows the early decay of the step size; often about a tenth of the iterations",
                       minimum=0.0, maximum=1e6),
                Option("calibrate", "bool", False, title="Calibrate",
                       help="Choose the learning rate from 50 evaluations at the start so that the first "
                       "step moves each parameter by about 2π/10"),
                Option("seed", "int", 0, title="Random seed", help="Seed of the random perturbation directions",
                       minimum=0, maximum=2**32 - 1),
            ),
        ),
        OptimizerSpec(
            name="cobyla",
            title="COBYLA",
            factory="qmls_optimizers.scipy_methods:COBYLA",
            description="Powell's gradient-free trust-region method with linear models (SciPy)",
            uses_gradient=False,
            options=(
                _initial_step("Initial trust-region radius: how far the first trial points move"),
                Option("tolerance", "float", 1e-4, title="Tolerance",
                       help="Stop when the trust region shrinks below this radius",
                       minimum=1e-12, maximum=1.0),
            ),
        ),
        OptimizerSpec(
            name="nelder-mead",
            title="Nelder-Mead",
            factory="qmls_optimizers.scipy_methods:NelderMead",
            description="The gradient-free downhill simplex method (SciPy)",
            uses_gradient=False,
            options=(
                _initial_step("Side of the starting simplex around the initial point"),
                Option("x_tolerance", "float", 1e-6, title="Parameter tolerance",
                       help="Stop when every corner of the simplex lies this close to the best one "
                       "and the losses agree to within the loss tolerance", minimum=0.0, maximum=1.0),
                Option("f_tolerance", "float", 1e-8, title="Loss tolerance",
                       help="Stop when the losses at the simplex's corners differ by less than this "
                       "and it is smaller than the parameter tolerance", minimum=0.0, maximum=1.0),
                Option("adaptive", "bool", False, title="Adaptive",
                       help="Scale the simplex moves to the dimension (helps with many parameters)"),
            ),
        ),
        OptimizerSpec(
            name="l-bfgs-b",
            title="L-BFGS-B",
            factory="qmls_optimizers.scipy_methods:LBFGSB",
            description="Quasi-Newton with a line search, from exact gradients (SciPy); fast on smooth, "
            "noise-free losses",
            uses_gradient=True,
            options=(
                Option("memory", "int", 10, title="Memory", help="Number of past steps kept for the curvature model",
                       minimum=1, maximum=100),
                Option("f_tolerance", "float", 1e-10, title="Loss tolerance",
                       help="Stop when the relative decrease of the loss falls below this", minimum=0.0, maximum=1.0),
                Option("g_tolerance", "float", 1e-6, title="Gradient tolerance",
                       help="Stop when every component of the gradient is below this", minimum=0.0, maximum=1.0),
            ),
        ),
    ]
