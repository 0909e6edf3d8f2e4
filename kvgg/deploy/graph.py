"""The serving graph every format is made from: one image input, named outputs, no captures.

Keras's Normalization layer keeps the mean and variance given to it as eager tensors,
which a traced function *captures*; converters that freeze only variables (tf2onnx) then
turn them into extra graph inputs. `weightless_graph` makes the captured tensors
constants, so the artifact's one input is the RGB image in [0, 255], and each weight read
an input, for a converter too wasteful of memory to be given the weights (tf2onnx).
"""

from __future__ import annotations

import keras
import tensorflow as tf

INPUT_NAME = "image"


def require_tensorflow() -> None:
    """Export traces the model with TensorFlow: refuse other Keras backends with a clear line."""
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "kvgg export traces the model with TensorFlow; run it with KERAS_BACKEND=tensorflow. "
            f"Received: backend {keras.backend.backend()!r}"
        )


def output_names(model: keras.Model) -> list[str]:
    """Each output named after its layer: ``predictions`` (class scores) or ``boxes``.

    Example:
        >>> import kvgg
        >>> output_names(kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3)))
        ['predictions']
    """
    return [tensor._keras_history.operation.name for tensor in model.outputs]


def serving_function(
    model: keras.Model, names: list[str] | None = None
) -> tf.types.experimental.ConcreteFunction:
    """The model's inference pass as a concrete function: ``image`` in, a dict of outputs.

    The batch is free, and so are height and width when the model takes any size (a
    fully-convolutional net): ``(None, None, None, 3)``. The outputs are named ``names``
    (default: `output_names`).
    """
    require_tensorflow()
    height, width = model.inputs[0].shape[1:3]
    spec = tf.TensorSpec([None, height, width, 3], tf.float32, name=INPUT_NAME)
    names = names or output_names(model)

    @tf.function(input_signature=[spec], autograph=False)
    def serve(image):
        outputs = model(image, training=False)
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        return {
            name: tf.cast(value, tf.float32) for name, value in zip(names, outputs, strict=True)
        }

    return serve.get_concrete_function()


def weightless_graph(function) -> tuple[tf.compat.v1.GraphDef, list[str], dict[str, str], dict]:
    """`function`'s graph with every weight read turned into an input of its own.

    Converters that copy each constant many times (tf2onnx held about 40 times the
    weights at its peak) then see a graph without weights; the caller puts the weights
    back into the converted model, once.

    Returns:
        The graph, the image input's tensor name, each output's tensor name, and the
        weights: ``{input tensor name: value}``.
    """
    graph_def = function.graph.as_graph_def()
    captures = {internal.op.name: external for external, internal in function.graph.captures}
    variables = {id(variable.handle): variable for variable in function.variables}
    weights = {}
    kept = []
    for node in graph_def.node:
        if node.name in captures and captures[node.name].dtype == tf.resource:
            continue  # a variable's handle: its reads become inputs below
        if node.op == "ReadVariableOp" and node.input[0] in captures:
            value = variables[id(captures[node.input[0]])].numpy()
            node.op = "Placeholder"
            del node.input[:]
            dtype = node.attr["dtype"].type
            node.attr.clear()
            node.attr["dtype"].type = dtype
            node.attr["shape"].shape.CopyFrom(tf.TensorShape(value.shape).as_proto())
            weights[node.name + ":0"] = value
        elif node.name in captures:  # a captured eager tensor (the Normalization's mean)
            value = tf.make_tensor_proto(captures[node.name].numpy())
            node.op = "Const"
            node.attr.clear()
            node.attr["dtype"].type = value.dtype
            node.attr["value"].tensor.CopyFrom(value)
        kept.append(node)
    del graph_def.node[:]
    graph_def.node.extend(kept)
    inputs = [tensor.name for tensor in function.inputs if tensor.op.name not in captures]
    outputs = dict(
        zip(sorted(function.structured_outputs), [t.name for t in function.outputs], strict=True)
    )
    return graph_def, inputs, outputs, weights
