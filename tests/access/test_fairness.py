"""Per-group error rates, intervals and ratios; the `facelens eval fairness` command on real faces."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from access_support import ACCESS_DATA

from facelens.access import fairness as fx
from facelens.cli.app import run_cli
from facelens.errors import BadInputError
from facelens.evaluation.verification import Pair


def test_wilson_interval():
    low, high = fx.wilson(0, 100)
    assert low == 0.0 and 0.03 < high < 0.04  # the "rule of three" region
    low, high = fx.wilson(50, 100)
    assert low < 0.5 < high and abs((low + high) / 2 - 0.5) < 1e-9
    assert all(np.isnan(fx.wilson(0, 0)))


def test_groups_rates_and_ratio():
    groups = {"a1_0001.jpg": "f", "a1_0002.jpg": "f", "a2_0001.jpg": "f", "b1_0001.jpg": "m", "b1_0002.jpg": "m",
              "b2_0001.jpg": "m"}
    pairs = [Pair("a1/a1_0001.jpg", "a1/a1_0002.jpg", True, 0), Pair("b1/b1_0001.jpg", "b1/b1_0002.jpg", True, 0),
             Pair("a1/a1_0001.jpg", "a2/a2_0001.jpg", False, 0), Pair("b1/b1_0001.jpg", "b2/b2_0001.jpg", False, 0),
             Pair("a1/a1_0001.jpg", "b1/b1_0001.jpg", False, 0)]
    info = fx.pair_groups(pairs, groups)
    assert [i.group for i in info] == ["f", "m", "f", "m", fx.MIXED]
    table = fx.rates(np.array([0.9, 0.2, 0.6, 0.1, 0.7]), info, 0.5)
    assert table["f"]["fnmr"] == 0.0 and table["m"]["fnmr"] == 1.0
    assert table["f"]["fmr"] == 1.0 and table["m"]["fmr"] == 0.0 and table[fx.MIXED]["fmr"] == 1.0
    ratios = fx.ratio_ci(np.array([0.9, 0.2, 0.6, 0.1, 0.7]), info, 0.5, "f", "m", rounds=50)
    assert ratios["fnmr"]["ratio"] is None and "f had no errors" in ratios["fnmr"]["note"]
    assert ratios["fmr"]["ratio"] is None and "m had no errors" in ratios["fmr"]["note"]
    scores = np.array([0.2, 0.2, 0.6, 0.6, 0.7])  # both groups: 1 false match, 1 false non-match
    even = fx.ratio_ci(scores, info, 0.5, "f", "m", rounds=50)
    assert even["fmr"]["ratio"] == 1.0 and even["fnmr"]["ratio"] == 1.0


def test_groups_csv(tmp_path):
    (tmp_path / "f.txt").write_text("A_0001.jpg\nA_0002.jpg\n")
    (tmp_path / "m.txt").write_text("B_0001.jpg\nA_0002.jpg\nC_0001.jpg\n")
    written, conflicts = fx.groups_from_lists({"female": tmp_path / "f.txt", "male": tmp_path / "m.txt"}, tmp_path / "g.csv")
    assert written == 3 and conflicts == ["A_0002.jpg"]
    assert fx.read_groups(tmp_path / "g.csv") == {"A_0001.jpg": "female", "B_0001.jpg": "male", "C_0001.jpg": "male"}
    (tmp_path / "bad.csv").write_text("file,label\nx,y\n")
    with pytest.raises(BadInputError):
        fx.read_groups(tmp_path / "bad.csv")


def test_fairness_command_on_real_faces(tmp_path, capsys):
    """ORL subjects laid out like LFW; two arbitrary groups; the command writes table, JSON, PNG."""
    images = tmp_path / "images"
    people = ("s12", "s19", "s33")
    for person in people:
        (images / person).mkdir(parents=True)
        for i in range(1, 5):
            grey = cv2.imread(str(ACCESS_DATA / "orl" / person / f"{i}.pgm"), cv2.IMREAD_GRAYSCALE)
            cv2.imwrite(str(images / person / f"{person}_{i:04d}.jpg"), cv2.resize(grey, None, fx=2, fy=2))
    same = [f"{p} 1 {j}" for p in people for j in (2, 3, 4)][:6]
    different = [f"{a} {i} {b} {i}" for (a, b), i in itertools.product(itertools.combinations(people, 2), (1, 2))]
    (tmp_path / "pairs.txt").write_text("1 6\n" + "\n".join(same + different) + "\n")
    (tmp_path / "a.txt").write_text("\n".join(f"s12_{i:04d}.jpg" for i in range(1, 5)))
    (tmp_path / "b.txt").write_text("\n".join(f"{p}_{i:04d}.jpg" for p in ("s19", "s33") for i in range(1, 5)))
    assert run_cli(["eval", "fairness-groups", "--list", f"a={tmp_path / 'a.txt'}", "--list", f"b={tmp_path / 'b.txt'}",
                    "--out", str(tmp_path / "groups.csv")]) == 0
    out = tmp_path / "out"
    code = run_cli(["eval", "fairness", "--pairs", str(tmp_path / "pairs.txt"), "--images", str(images),
                    "--groups", str(tmp_path / "groups.csv"), "--threshold", "0.434", "--out", str(out), "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    groups = report["operating_points"]["given"]["groups"]
    assert groups["a"]["genuine_pairs"] == 3 and groups["b"]["genuine_pairs"] == 3
    assert all(Path(out / f).is_file() for f in ("report.json", "table.md", "fairness.png"))
