"""The compiled training step (``RunConfig.compile``) against the eager one, on the CPU.

Tiny stand-in models, two source domains (one size of D_φ, so one graph per pass): a few
iterations of Algorithm 1 (both forms) and of ERM must give the eager step's losses, weights and
BatchNorm statistics within float tolerance. A cold inductor cache makes the first test slow
(about a minute on two busy cores); later runs read the cache (seconds).
"""

from __future__ import annotations

import pytest
import torch
from standins import TinyPhi, TinyTheta, tiny_config, tiny_loss
from test_trainer import Batches

from mpfas_lib.training.algorithm1 import LossChecks, NonFiniteLossError
from mpfas_lib.training.compiled import CompileError, check_compile, compiled_erm_pass
from mpfas_lib.training.erm import Pipeline
from mpfas_lib.training.trainer import Trainer

DOMAINS = ["C", "I"]
ITERATIONS = 3


def _last_line(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


@pytest.fixture(scope="module")
def inductor() -> None:
    """Skip (with the reason) where torch.compile's CPU backend cannot build a kernel."""
    torch._dynamo.reset()
    try:
        torch.compile(lambda x: torch.sin(x) + 1)(torch.ones(4))
    except Exception as error:  # no C++ compiler, an unsupported CPU, ...
        pytest.skip(f"torch.compile does not run on this CPU: {_last_line(error)}")


def run(algorithm: str, mode: str, compile: str) -> tuple[list[list[float]], dict]:
    """Losses of ITERATIONS steps and the final state of Φ and Θ (parameters and buffers)."""
    torch.manual_seed(0)
    config = tiny_config(algorithm, mode, k=2).replace(compile=compile)
    trainer = Trainer(config, TinyPhi(), TinyTheta(), Batches(seed=0), DOMAINS,
                      loss_fn=tiny_loss)
    losses = []
    for _ in range(ITERATIONS):
        stats = trainer.step()
        losses.append([*stats.inner_losses, stats.theta_loss])
    return losses, trainer.model_state()


@pytest.mark.parametrize("algorithm,mode", [("algorithm1", "paper"), ("algorithm1", "official"),
                                            ("erm", "paper")])
def test_compiled_step_matches_eager(inductor, algorithm: str, mode: str) -> None:
    from torch._dynamo.utils import counters

    eager_losses, eager_state = run(algorithm, mode, "none")
    torch._dynamo.reset()
    counters.clear()
    losses, state = run(algorithm, mode, "default")
    assert counters["stats"]["unique_graphs"] >= (2 if algorithm == "algorithm1" else 1)
    assert len(losses) == ITERATIONS and len(losses[0]) == (3 if algorithm == "algorithm1" else 1)
    torch.testing.assert_close(torch.tensor(losses), torch.tensor(eager_losses))
    for part in ("phi", "theta"):
        assert state[part].keys() == eager_state[part].keys()
        for name, value in state[part].items():  # parameters and BatchNorm statistics
            torch.testing.assert_close(value, eager_state[part][name], msg=f"{part}.{name}")
    moved = eager_state["theta"]["bn.num_batches_tracked"]
    # the paper's form leaves Θ's statistics to the Θ steps alone; the code's form lets the
    # K inner batches move them too
    assert int(moved) == ITERATIONS * (3 if mode == "official" else 1)


def test_compile_failure_is_one_line(inductor, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch._inductor.compile_fx as compile_fx

    def broken(*args, **kwargs):
        raise RuntimeError("the C++ compiler failed\ng++: fatal error: no input files")

    torch._dynamo.reset()
    monkeypatch.setattr(compile_fx, "compile_fx", broken)
    pass_ = compiled_erm_pass(Pipeline(TinyPhi(), TinyTheta()), tiny_loss, "default")
    with pytest.raises(CompileError) as caught:
        pass_(torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 0, 1]))
    message = str(caught.value)
    assert "\n" not in message and message.startswith("compile='default' failed on the ERM pass")
    assert "no input files" in message and message.endswith("train with compile='none'")
    assert caught.value.exit_code == 1
    torch._dynamo.reset()


@pytest.mark.parametrize("mode", ["reduce-overhead", "cudagraphs"])
def test_cuda_graph_modes_refused_on_the_cpu(mode: str) -> None:
    config = tiny_config().replace(compile=mode)
    with pytest.raises(ValueError, match=f"compile='{mode}' captures CUDA graphs and needs a "
                                         "CUDA device, not cpu"):
        Trainer(config, TinyPhi(), TinyTheta(), Batches(), DOMAINS, loss_fn=tiny_loss)
    with pytest.raises(ValueError, match="not supported with DistributedDataParallel"):
        check_compile("default", torch.device("cpu"), distributed=True)
    check_compile("default", torch.device("cpu"))
    with pytest.raises(ValueError, match=r"compile must be one of \['none', 'default'"):
        tiny_config().replace(compile="fast")


def test_deferred_checks_name_the_first_non_finite_loss() -> None:
    now = LossChecks(5)
    now.add(torch.tensor(0.5), "inner loss (k=1, D_phi)")
    with pytest.raises(NonFiniteLossError, match=r"iteration 5: inner loss \(k=2, D_phi\) = nan"):
        now.add(torch.tensor(float("nan")), "inner loss (k=2, D_phi)")  # before the update
    later = LossChecks(6, deferred=True)
    values = [torch.tensor(0.25), torch.tensor(float("inf")), torch.tensor(float("nan"))]
    for k, value in enumerate(values):
        later.add(value, f"inner loss (k={k + 1}, D_phi)")
    values[0].fill_(9.0)  # a copy was kept: a reused output buffer cannot change it
    with pytest.raises(NonFiniteLossError, match=r"iteration 6: inner loss \(k=2, D_phi\) = inf"):
        later.values()
    fine = LossChecks(7, deferred=True)
    fine.add(torch.tensor(0.25, dtype=torch.bfloat16), "theta loss (D_theta)")
    assert fine.values() == [0.25]
