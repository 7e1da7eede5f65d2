"""Every network toy has one shape: `train(task, keys, runtime) → network` (the network carries its
task), `layer_names(config)`, and `layer(network, name, index=0) → Toy` (toys.protocol); a name not
among the layers is one line naming the allowed ones."""

import inspect

import jax
import numpy as np
import pytest

from toys import circuits, modular, protocol, quanta, semantic, tms

KEY = jax.random.key(0)
TASKS = {
    "modular": lambda: modular.ModularConfig(p=11, embed_dim=8, hidden=16, steps=5),
    "semantic": lambda: semantic.task(semantic.SemanticConfig(d=6, hidden=8, n_layers=2, steps=5), KEY),
    "tms": lambda: tms.Task(
        tms.TMSTrainConfig(n_features=5, n_hidden=2, steps=5, batch_size=16, eval_samples=64), np.full(2, 0.2), np.ones((2, 5)), KEY
    ),
    "circuits": lambda: circuits.task(circuits.CircuitConfig(n_inputs=4, width=3, depth=2, n_layers=2, hidden=8, steps=5), KEY),
    "quanta": lambda: quanta.task(quanta.QuantaConfig(n_tasks=3, n_bits=6, k=2, hidden=8, steps=5, batch_size=16), KEY),
}
MODULES = {"modular": modular, "semantic": semantic, "tms": tms, "circuits": circuits, "quanta": quanta}


def _config(task):
    return task if isinstance(task, modular.ModularConfig) else task.config


@pytest.mark.parametrize("name", sorted(MODULES))
def test_one_shape_train_task_keys_runtime_then_layer_by_name(name):
    module, task = MODULES[name], TASKS[name]()
    assert list(inspect.signature(module.train).parameters) == ["task", "keys", "runtime"]
    network = module.train(task, jax.random.split(jax.random.key(1), 2))
    assert network.task is task
    names = module.layer_names(_config(task))
    assert names and all(isinstance(n, str) for n in names)
    for layer_name in names:
        for index in (0, 1):
            toy = module.layer(network, layer_name, index)
            assert isinstance(toy, protocol.Toy)
            assert toy.sample(jax.random.key(2), 5).x.shape == (5, toy.d)
    # the two networks differ (their own keys), so index reads the one asked for
    first, second = (np.asarray(module.layer(network, names[-1], i).sample(jax.random.key(3), 16).x) for i in (0, 1))
    assert not np.allclose(first, second)
    with pytest.raises(ValueError, match="layer: got 'nowhere', allowed"):
        module.layer(network, "nowhere")
