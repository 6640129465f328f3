"""Model runtimes with one thread setting (``config.threads()``, i.e. FACELENS_THREADS).

.tflite files run on ai-edge-litert (Google's LiteRT, with XNNPACK); .onnx files on onnxruntime.
Sessions are cached per (model, threads) so every stage shares one loaded copy.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading

from .. import config
from ..errors import ModelError
from .registry import model_path


@functools.lru_cache(maxsize=None)
def _tflite(name: str, threads: int):
    from ai_edge_litert.interpreter import Interpreter

    path = model_path(name)
    try:
        with _quiet_native_stderr():
            interpreter = Interpreter(model_path=str(path), num_threads=threads)
            interpreter.allocate_tensors()
    except Exception as exc:  # the runtime raises plain RuntimeError/ValueError on bad files
        raise ModelError(f"cannot load {path}: {exc}") from exc
    return TFLiteModel(interpreter)


@contextlib.contextmanager
def _quiet_native_stderr():
    """Silence C-level stderr while a model loads.

    LiteRT's C++ core prints "INFO: Created TensorFlow Lite XNNPACK delegate" for every model and
    ignores TF_CPP_MIN_LOG_LEVEL; CLI users should only see facelens's own messages.
    """
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr replaced by an object without a file
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


class TFLiteModel:
    """One interpreter; ``run`` is serialised because a TFLite interpreter is not thread-safe."""

    def __init__(self, interpreter) -> None:
        self._interpreter = interpreter
        self.inputs = interpreter.get_input_details()
        self.outputs = interpreter.get_output_details()
        self._lock = threading.Lock()

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self.inputs[0]["shape"])

    def run(self, tensor):
        with self._lock:
            self._interpreter.set_tensor(self.inputs[0]["index"], tensor)
            self._interpreter.invoke()
            return [self._interpreter.get_tensor(o["index"]).copy() for o in self.outputs]


def tflite(name: str, threads: int | None = None) -> TFLiteModel:
    return _tflite(name, threads or config.threads())


@functools.lru_cache(maxsize=None)
def _onnx(name: str, threads: int):
    import onnxruntime as ort

    path = model_path(name)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelError(f"cannot load {path}: {exc}") from exc


def onnx(name: str, threads: int | None = None):
    return _onnx(name, threads or config.threads())


def clear_cache() -> None:
    """Drop the loaded sessions (the registry's ``clear_cache`` calls this)."""
    _tflite.cache_clear()
    _onnx.cache_clear()
