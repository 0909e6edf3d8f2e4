"""Training-step speed of kvgg's VGG16 against keras.applications.VGG16, interleaved in one run.

    python benchmarks/train_step.py [--batch 16] [--size 224] [--rounds 5] [--steps 3]
    python benchmarks/train_step.py --size 64 --batch 8     # a quick CPU run

Both models get what the paper trains with: L2 weight decay 5e-4 (Caffe semantics, i.e.
``L2(2.5e-4)`` on every kernel), dropout 0.5 after FC-1 and FC-2, SGD with momentum 0.9,
soft-max cross-entropy, on the same backend and the same batch. kvgg's model is
``kvgg.build("D", weight_decay=5e-4)``; the peer is ``keras.applications.VGG16(weights=None)``
given the same regulariser and dropout by hand (it has neither), with its Caffe-style
preprocessing done outside the model as its users do. Each round times ``--steps`` calls
of ``train_on_batch`` per model, alternating models; the medians give the ratio
kvgg / peer (target >= 0.95). Then the same for kvgg with ``jit_compile`` on and off and
with mixed precision, where the backend supports them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kvgg  # noqa: E402

WEIGHT_DECAY = 5e-4


def peer_vgg16(shape, num_classes):
    """keras.applications.VGG16 with the paper's L2 and dropout added, same layer names."""
    base = keras.applications.VGG16(weights=None, input_shape=shape, classes=num_classes)
    regularizer = keras.regularizers.L2(WEIGHT_DECAY / 2)
    x = inputs = keras.Input(shape)
    for layer in base.layers[1:]:
        config = layer.get_config()
        if "kernel_regularizer" in config:
            config["kernel_regularizer"] = regularizer
        x = layer.__class__.from_config(config)(x)
        if layer.name in ("fc1", "fc2"):
            x = keras.layers.Dropout(0.5)(x)
    return keras.Model(inputs, x, name="keras_applications_vgg16")


def compiled(model, jit_compile="auto"):
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        jit_compile=jit_compile,
    )
    return model


def images_per_second(model, images, labels, steps, preprocess=None):
    start = time.perf_counter()
    for _ in range(steps):
        batch = preprocess(images.copy()) if preprocess else images
        model.train_on_batch(batch, labels)
    return steps * len(images) / (time.perf_counter() - start)


def race(contenders, images, labels, rounds, steps):
    """Median images/s of each (name, model, preprocess), in interleaved ABBA rounds."""
    for _, model, preprocess in contenders:  # warm-up: trace and compile each train step
        images_per_second(model, images, labels, 1, preprocess)
    runs = {name: [] for name, _, _ in contenders}
    for round_index in range(rounds):
        # Alternate the order (ABBA) so that no contender always runs first.
        order = contenders if round_index % 2 == 0 else contenders[::-1]
        for name, model, preprocess in order:
            runs[name].append(images_per_second(model, images, labels, steps, preprocess))
    return {name: statistics.median(values) for name, values in runs.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()

    shape = (args.size, args.size, 3)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (args.batch, *shape)).astype("float32")
    labels = rng.integers(0, args.classes, args.batch)
    backend = keras.backend.backend()
    print(
        f"backend: {backend}, batch {args.batch}, {args.size}x{args.size}, {args.classes} "
        f"classes, {args.rounds} interleaved rounds of {args.steps} steps (medians)"
    )

    def ours(**kwargs):
        model = kvgg.build(
            "D", input_shape=shape, num_classes=args.classes, weight_decay=WEIGHT_DECAY
        )
        return compiled(model, **kwargs)

    speeds = race(
        [
            ("kvgg", ours(), None),
            ("peer", compiled(peer_vgg16(shape, args.classes)), _peer_preprocess),
        ],
        images,
        labels,
        args.rounds,
        args.steps,
    )
    print(f"kvgg.build('D') train step               {speeds['kvgg']:8.2f} images/s")
    print(f"keras.applications.VGG16 (+L2, dropout)  {speeds['peer']:8.2f} images/s")
    print(f"ratio kvgg / keras.applications:         {speeds['kvgg'] / speeds['peer']:.3f}")

    if backend == "tensorflow":  # jax always compiles with XLA; torch has no jit_compile
        jit = race(
            [("xla", ours(jit_compile=True), None), ("graph", ours(jit_compile=False), None)],
            images,
            labels,
            args.rounds,
            args.steps,
        )
        print(f"jit_compile gain (XLA / tf.function):    {jit['xla'] / jit['graph']:.3f}")
    policy = "mixed_bfloat16" if backend != "torch" else "mixed_float16"
    keras.config.set_dtype_policy(policy)
    mixed = ours()
    keras.config.set_dtype_policy("float32")
    amp = race(
        [("mixed", mixed, None), ("float32", ours(), None)],
        images,
        labels,
        args.rounds,
        args.steps,
    )
    print(f"{policy} gain over float32:          {amp['mixed'] / amp['float32']:.3f}")


def _peer_preprocess(images):
    return keras.applications.vgg16.preprocess_input(images)


if __name__ == "__main__":
    main()
