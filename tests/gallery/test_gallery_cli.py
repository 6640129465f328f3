"""`facelens gallery …` and `facelens audit verify` end to end on real faces (SQLite)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


from facelens.cli.app import run_cli

DATA = Path(__file__).resolve().parent.parent / "data" / "gallery"


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = run_cli(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_gallery_commands(tmp_path, capsys, monkeypatch):
    db = str(tmp_path / "g.db")
    monkeypatch.delenv("FACELENS_KEY")  # first run: the CLI creates a key file and says so
    code, out, err = _run(capsys, "gallery", "enrol", "sheldon", str(DATA / "sheldon1.png"), str(DATA / "sheldon2.png"),
                          "--db", db, "--consent-by", "sheldon", "--consent-purpose", "door", "--meta", "team=physics")
    assert code == 0 and "enrolled sheldon: 2 template(s)" in out and "created a new gallery encryption key" in err
    # bulk mode: a folder of folders, one per person; re-running skips who is already there
    people = tmp_path / "people"
    for name in ("amy", "raj", "sheldon"):
        (people / name).mkdir(parents=True)
        for i in (1, 2):
            shutil.copy(DATA / f"{name}{i}.png", people / name)
    code, out, _ = _run(capsys, "gallery", "enrol", "--folders", str(people), "--db", db, "--json")
    summary = json.loads(out)
    assert code == 0 and summary["enrolled"] == ["amy", "raj"] and summary["skipped_existing"] == ["sheldon"]

    code, out, _ = _run(capsys, "gallery", "identify", str(DATA / "bbt4.jpg"), "--db", db, "--json", "--top-k", "2")
    result = json.loads(out)
    assert code == 0 and len(result["faces"]) == 6
    face = result["faces"][0]
    assert set(face) == {"box", "identity", "similarity", "candidates"} and len(face["box"]) == 4
    assert {f["identity"] for f in result["faces"]} >= {"sheldon", "amy", "raj"}
    assert all(len(f["candidates"]) <= 2 for f in result["faces"])
    code, out, _ = _run(capsys, "gallery", "identify", str(DATA / "howard1.png"), "--db", db, "--json")
    assert json.loads(out)["faces"][0]["identity"] is None

    code, out, _ = _run(capsys, "gallery", "list", "--db", db, "--json")
    assert [p["name"] for p in json.loads(out)["identities"]] == ["amy", "raj", "sheldon"]
    code, out, _ = _run(capsys, "gallery", "show", "sheldon", "--db", db, "--json")
    assert json.loads(out)["metadata"] == {"team": "physics"}
    export = tmp_path / "sheldon.json"
    code, _, _ = _run(capsys, "gallery", "export", "sheldon", "--db", db, "--out", str(export))
    assert code == 0 and len(json.loads(export.read_text())["templates"]) == 2
    code, out, _ = _run(capsys, "gallery", "delete", "raj", "--db", db)
    assert code == 0 and "erased raj" in out
    code, out, _ = _run(capsys, "gallery", "purge", "--db", db, "--json")
    assert code == 0 and json.loads(out)["identities_consent_expired"] == []

    # typed errors → one line and the documented exit code
    code, _, err = _run(capsys, "gallery", "enrol", "amy", str(DATA / "amy1.png"), "--db", db)
    assert code == 9 and err.startswith("facelens: error:") and len(err.strip().splitlines()) == 1
    code, _, err = _run(capsys, "gallery", "show", "raj", "--db", db)
    assert code == 8
    code, _, err = _run(capsys, "gallery", "enrol", "group", str(DATA / "bbt4.jpg"), "--db", db)
    assert code == 4

    code, out, _ = _run(capsys, "audit", "verify", "--db", db, "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    import sqlite3

    con = sqlite3.connect(db)
    con.execute("UPDATE audit_log SET subject='mallory' WHERE seq=1")
    con.commit()
    con.close()
    code, out, _ = _run(capsys, "audit", "verify", "--db", db)  # tampering exits 6 by default
    assert code == 6 and "TAMPERED" in out
    code, out, _ = _run(capsys, "audit", "verify", "--db", db, "--report-only")
    assert code == 0 and "TAMPERED" in out
    code, _, _ = _run(capsys, "audit", "verify", "--db", db, "--strict")  # kept as a no-op alias
    assert code == 6


def test_wrong_key_and_foreign_file_exit_codes(tmp_path, capsys, monkeypatch):
    db = str(tmp_path / "g.db")
    assert _run(capsys, "gallery", "enrol", "amy", str(DATA / "amy1.png"), "--db", db)[0] == 0
    monkeypatch.setenv("FACELENS_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    assert _run(capsys, "gallery", "list", "--db", db)[0] == 7
    junk = tmp_path / "junk.db"
    junk.write_text("hello")
    assert _run(capsys, "gallery", "list", "--db", str(junk))[0] == 6


def test_cluster_and_promote(tmp_path, capsys, fixture_embeddings):
    from facelens.gallery import Gallery

    db = str(tmp_path / "g.db")
    assert _run(capsys, "gallery", "enrol", "amy", str(DATA / "amy1.png"), "--db", db)[0] == 0
    _run(capsys, "gallery", "identify", str(DATA / "howard1.png"), "--db", db, "--record-unknown")
    with Gallery(db) as gallery:  # the other unmatched faces, as identify --record-unknown keeps them
        for name in ("stuart1", "penny1", "penny2", "raj1", "raj2"):
            assert gallery.identify(fixture_embeddings[name], record_unknown=True)[0].unknown
        assert len(gallery.unknowns()[0]) == 6
    code, out, _ = _run(capsys, "gallery", "cluster", "--db", db, "--distance", "0.5", "--json")
    clusters = json.loads(out)["clusters"]
    assert code == 0 and sorted(c["size"] for c in clusters) == [2, 2]
    code, out, _ = _run(capsys, "gallery", "cluster", "--db", db, "--method", "kmeans", "--k", "4", "--json")
    assert code == 0 and sum(c["size"] for c in json.loads(out)["clusters"]) == 6
    code, out, _ = _run(capsys, "gallery", "cluster", "--db", db, "--method", "agglomerative", "--distance", "0.5", "--json")
    assert code == 0 and sorted(c["size"] for c in json.loads(out)["clusters"]) == [2, 2]
    code, out, _ = _run(capsys, "gallery", "cluster", "--db", db, "--promote", "0", "--name", "newcomer", "--distance", "0.5")
    assert code == 0 and "promoted cluster 0 to newcomer: 2 template(s)" in out
    code, out, _ = _run(capsys, "gallery", "cluster", "--db", db, "--distance", "0.5", "--json")
    assert len(json.loads(out)["clusters"]) == 1


def test_enrol_refuses_two_people_and_duplicates_unless_forced(tmp_path, capsys):
    faces, db = DATA.parent / "faces", str(tmp_path / "g.db")
    obama, obama2, biden = (str(faces / p) for p in ("obama.jpg", "obama2.jpg", "biden.jpg"))
    code, out, err = _run(capsys, "gallery", "enrol", "obama", obama, biden, "--db", db)
    assert code == 9 and out == "" and len(err.strip().splitlines()) == 1
    assert "photo 2 (biden.jpg) does not match photo 1 (obama.jpg)" in err and "--force" in err
    code, out, err = _run(capsys, "gallery", "enrol", "obama", obama, biden, "--db", db, "--force", "--json")
    result = json.loads(out)
    assert code == 0 and result["templates"] == 2 and result["overridden"][0]["source"] == "photo 2 (biden.jpg)"
    assert "forced past: photo 2 (biden.jpg) disagrees" in err
    code, out, _ = _run(capsys, "audit", "list", "--db", db, "--event", "enrol.forced")
    (entry,) = [json.loads(line) for line in out.splitlines()]
    assert entry["subject"] == "obama" and entry["details"]["by"] == "cli"
    assert entry["details"]["overridden"][0]["check"] == "agreement"

    # the same face under a new name: a likely duplicate; --add checks against the stored templates
    code, _, err = _run(capsys, "gallery", "enrol", "barack", obama2, "--db", db)
    assert code == 9 and "matches the enrolled identity 'obama'" in err
    code, _, err = _run(capsys, "gallery", "enrol", "barack", obama2, "--db", db, "--force")
    assert code == 0 and "forced past: photo 1 (obama2.jpg) matches 'obama'" in err
    code, _, err = _run(capsys, "gallery", "enrol", "barack", str(DATA / "amy1.png"), "--db", db, "--add")
    assert code == 9 and "does not match the enrolled templates of 'barack'" in err
    code, _, err = _run(capsys, "gallery", "enrol", "barack", obama, "--db", db, "--add")  # still obama's face
    assert code == 9 and "matches the enrolled identity 'obama'" in err

    # bulk: refused folders are reported, not enrolled, and listed again with --force
    people = tmp_path / "people"
    for person, photos in {"amy": [DATA / "amy1.png", DATA / "amy2.png"], "mixed": [DATA / "raj1.png", DATA / "penny1.png"],
                           "president": [faces / "obama2.jpg"]}.items():
        (people / person).mkdir(parents=True)
        for photo in photos:
            shutil.copy(photo, people / person)
    code, out, err = _run(capsys, "gallery", "enrol", "--folders", str(people), "--db", db)
    assert code == 0 and "enrolled 1 people" in out and "refused 2 people" in out
    assert "mixed: photo 2 (raj1.png) disagrees" in err and "president: photo 1 (obama2.jpg) matches" in err
    code, out, _ = _run(capsys, "gallery", "enrol", "--folders", str(people), "--db", db, "--force", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["enrolled"] == ["mixed", "president"] and len(summary["forced"]) == 2
