"""A small LFW look-alike made of real faces (tests/data/gallery), shared by the evaluation tests."""

from __future__ import annotations

import cv2
import pytest


@pytest.fixture(scope="module")
def lfw_like(data_dir, tmp_path_factory):
    """NAME/NAME_000i.jpg folders, a faceless image, and a 2-fold pairs file (3 + 3 per fold)."""
    root = tmp_path_factory.mktemp("lfw")
    for path in sorted((data_dir / "gallery").glob("*.png")):
        person, index = path.stem[:-1], int(path.stem[-1])
        if person == "howard":
            index = 2  # howard1.png is the second image of that face-api.js folder
        (root / person).mkdir(exist_ok=True)
        cv2.imwrite(str(root / person / f"{person}_{index:04d}.jpg"), cv2.imread(str(path)),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
    table = cv2.imread(str(data_dir / "faces" / "bbt1.jpg"))[450:]  # hands and table, no head
    (root / "table").mkdir()
    cv2.imwrite(str(root / "table" / "table_0001.jpg"), table)
    lines = ["2\t3",
             "amy\t1\t2", "bernadette\t1\t2", "leonard\t1\t2",
             "amy\t1\tpenny\t1", "raj\t1\tsheldon\t2", "leonard\t2\tstuart\t1",
             "penny\t1\t2", "raj\t1\t2", "sheldon\t1\t2",
             "bernadette\t2\tsheldon\t1", "penny\t2\ttable\t1", "amy\t2\traj\t2"]
    (root / "pairs.txt").write_text("\n".join(lines) + "\n")
    return root
