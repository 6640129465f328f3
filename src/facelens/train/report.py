"""A run folder's human-readable outputs: confusion matrix and learning-curve PNGs, report.md."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(metrics: dict, path: Path, title: str = "") -> None:
    plt = _pyplot()
    cm = np.asarray(metrics["confusion_matrix"], dtype=np.float64)
    classes = metrics["classes"]
    rows = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(classes), 0.8 + 0.8 * len(classes)))
    ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{int(cm[i, j])}\n{rows[i, j]:.0%}", ha="center", va="center", fontsize=7,
                    color="white" if rows[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or f"accuracy {metrics['accuracy']:.2%}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(rows: list[dict[str, float]], path: Path) -> None:
    plt = _pyplot()
    epochs = [r["epoch"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    for key in ("train_loss", "val_loss"):
        if rows and key in rows[0]:
            a.plot(epochs, [r[key] for r in rows], marker="o", label=key)
    for key in ("train_acc", "val_acc", "val_balanced_acc"):
        if rows and key in rows[0]:
            b.plot(epochs, [r[key] for r in rows], marker="o", label=key)
    a.set_xlabel("epoch"); a.set_title("loss"); a.legend()
    b.set_xlabel("epoch"); b.set_title("accuracy"); b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def metrics_table(metrics: dict) -> str:
    lines = ["| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for name, row in metrics["per_class"].items():
        lines.append(f"| {name} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} "
                     f"| {row['support']} |")
    return "\n".join(lines)


def write_report(run_dir: Path, config: dict, summary: dict, evaluations: dict[str, dict]) -> Path:
    """report.md: what was trained on what, accuracy and per-class precision/recall/F1 per split."""
    lines = [f"# Training run `{run_dir.name}`", ""]
    lines.append(f"- task: {config['task']}; architecture: `{config['arch']}` "
                 f"({summary.get('params', '?'):,} parameters)")
    lines.append(f"- data: `{config['data']}`; split: {summary.get('split', '?')}")
    lines.append(f"- epochs: {summary.get('epochs_done', '?')} of {config['epochs']}; batch {config['batch_size']}; "
                 f"seed {config['seed']}; threads {summary.get('threads', '?')}")
    lines.append(f"- training time: {summary.get('train_seconds', 0):.0f} s wall "
                 f"({summary.get('train_seconds', 0) / 60:.1f} min), {summary.get('train_cpu_seconds', 0):.0f} s "
                 "CPU time, on this shared 2-core CPU")
    if "selected_epoch" in summary:
        lines.append(f"- model kept: epoch {summary['selected_epoch']} (best validation accuracy)")
    lines.append(f"- command: `{config.get('command', '')}`")
    for split, metrics in evaluations.items():
        lines += ["", f"## {split}: accuracy {metrics['accuracy']:.2%}, balanced accuracy "
                      f"{metrics['balanced_accuracy']:.2%}, macro F1 {metrics['macro_f1']:.3f} (n = {metrics['n']})",
                  "", metrics_table(metrics), "",
                  f"![confusion matrix](confusion_{split}.png)"]
    lines += ["", "![learning curves](curves.png)", ""]
    path = run_dir / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
