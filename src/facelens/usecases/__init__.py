"""The operations a user runs, one function each, with typed inputs and results.

The CLI (`facelens.cli`), the REST server (`facelens.server`) and the
Python verbs in `facelens/__init__.py` call these and only parse their own input format and
format the results (``result.to_dict()`` is the JSON every interface answers); no logic lives
in those shells.

    faces.py           detect, embed, verify                     → Detection, Embedding, VerifyResult
    enrolment.py       enrol, enrol_folders                      → dict summaries
    identification.py  identify                                  → IdentifyResult
    analysis.py        analyze_image, analyze_video, analyze_file, happiness_report
                                                                 → ImageAnalysis, VideoAnalysis, Report
    watch.py           watch(WatchRequest), timeline             → WatchResult, Timeline
    access.py          check_access, update_policy, show_policies → Decision, Policy
    gallery.py         cluster_unknowns                          → Clustering
    evaluation.py      evaluate_identification, _fairness, _adaptation, _blink, _pad, _emotion,
                       _gender                                   → report dicts
    inputs.py          option text → typed values (face choice, ISO times, KEY=VALUE, consent)

Names are re-exported here lazily (``from facelens.usecases import verify``): importing one use
case does not load the libraries of the others (video, databases, plotting). ``watch`` is the
module's name, so its function is ``facelens.usecases.watch.watch``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "faces": ("detect", "embed", "verify", "Detection", "Embedding", "VerifyResult"),
    "enrolment": ("enrol", "enrol_folders"),
    "identification": ("identify", "IdentifyResult"),
    "analysis": ("analyze_image", "analyze_video", "analyze_file", "happiness_report", "ImageAnalysis",
                 "VideoAnalysis"),
    "watch": ("timeline", "WatchRequest", "WatchResult", "Timeline"),  # watch(): usecases.watch.watch
    "access": ("check_access", "update_policy", "show_policies"),
    "gallery": ("cluster_unknowns", "Clustering"),
    "evaluation": ("evaluate_identification", "evaluate_fairness", "evaluate_adaptation", "evaluate_blink",
                   "evaluate_pad", "evaluate_emotion", "evaluate_gender"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
