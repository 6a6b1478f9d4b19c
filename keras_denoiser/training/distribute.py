"""Choosing a tf.distribute strategy and this process's role in it.

`default` trains on one device, `mirrored` on all local GPUs, `multi_worker` on every worker listed
in the TF_CONFIG environment variable (one process per machine, all started with the same command).
The chief (task `chief`, or `worker` 0 when there is no chief) writes the models and logs.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import TYPE_CHECKING

from keras_denoiser.core.errors import UserError

if TYPE_CHECKING:  # imported where used: `train --help` lists STRATEGIES without loading TensorFlow
    import keras
    import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker")


@dataclasses.dataclass(frozen=True)
class WorkerRole:
    """Where this process sits in the cluster: its index among `count` workers and whether it is chief."""

    index: int = 0
    count: int = 1
    is_chief: bool = True


def worker_role_from_tf_config(tf_config: str | None) -> WorkerRole:
    """The role described by a TF_CONFIG JSON string; a single chief when it is unset."""
    if not tf_config:
        return WorkerRole()
    try:
        parsed = json.loads(tf_config)
        cluster, task = parsed["cluster"], parsed["task"]
        task_type, task_id = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError) as err:
        raise UserError(f"TF_CONFIG is not valid cluster JSON ({err})") from None
    ordered = [(kind, i) for kind in ("chief", "worker") for i in range(len(cluster.get(kind, [])))]
    if (task_type, task_id) not in ordered:
        raise UserError(f"TF_CONFIG task {task_type}:{task_id} is not in its cluster")
    index = ordered.index((task_type, task_id))
    return WorkerRole(index=index, count=len(ordered), is_chief=index == 0)


def make_strategy(name: str) -> tuple[tf.distribute.Strategy, WorkerRole]:
    """The strategy called `name` and this process's role; create it before any other TF work."""
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy(), WorkerRole()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(), WorkerRole()
    if name == "multi_worker":
        tf_config = os.environ.get("TF_CONFIG")
        if not tf_config:
            raise UserError("--strategy=multi_worker needs the TF_CONFIG environment variable (cluster and task)")
        role = worker_role_from_tf_config(tf_config)
        return tf.distribute.MultiWorkerMirroredStrategy(), role
    raise UserError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")


def unsharded(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """An infinite generated dataset that every worker draws in full (no file sharding to apply)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return dataset.with_options(options)


def work_around_keras_multi_worker(model: keras.Model, strategy: tf.distribute.Strategy) -> None:
    """Make `model.fit` work with MultiWorkerMirroredStrategy and two or more workers (Keras 3.15).

    Two Keras bugs, patched on this model instance only:
    - `_maybe_symbolic_build` reduces the whole distributed (x, y) batch with one `strategy.reduce`,
      which fails for a structure ("Attempt to convert a value (PerReplica...)"). The batch only
      gives shapes, so this worker's first local replica's values serve as well.
    - the step's logs are reduced across workers with `strategy.reduce("MEAN", v, axis=0)`, which
      fails on scalars ("Invalid reduction dimension 0", tensorflow/tensorflow#72388). The steps
      here return each log as a one-element vector, which that reduction turns back into a scalar.
    """
    import tensorflow as tf


    def local_value(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def maybe_symbolic_build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(local_value, next(batches))
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    def as_vectors(step):
        return lambda data: {name: tf.reshape(value, [1]) for name, value in step(data).items()}

    model._maybe_symbolic_build = maybe_symbolic_build
    model.train_step = as_vectors(model.train_step)
    model.test_step = as_vectors(model.test_step)
