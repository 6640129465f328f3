"""Fuzz: seeded malformed (and some valid) input over every public verb and the CLI.

Every case must end in a result or a typed facelens error (CLI: a documented exit code and no
"internal error"): 0 untyped exceptions, 0 hangs, 0 process deaths. Cases run one after another
in a worker process (``python tests/test_fuzz.py --worker``) that rebuilds case N from the seed,
so the parent only sends numbers; the parent gives each case a time limit, watches the worker's
memory, and starts a fresh worker after a hang or a death. Real faces: tests/data/gallery.

Reproduce one case: ``python tests/test_fuzz.py --show N`` prints what case N is;
``python tests/test_fuzz.py --worker DIR`` then reads case numbers on stdin.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import select
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

SEED = 20261201
API_CASES = 1100  # facelens.detect/embed/verify/identify/analyze, load_image, Gallery
CLI_CASES = 90  # run_cli in the worker: argv built from the same malformed pieces
FIRST_CASE_LIMIT_S = 90.0  # the first case of a worker loads the models
CASE_LIMIT_S = 30.0  # a real hang is endless; this is generous for a loaded 2-core machine
MAX_RSS_BYTES = 4 << 30
REPO = Path(__file__).resolve().parent.parent
FACES = REPO / "tests" / "data" / "gallery"
REAL_IMAGES = ("amy1.png", "raj2.png", "penny1.png", "sheldon2.png", "bbt4.jpg")
EXIT_CODES = set(range(0, 11)) | {130}


# ====================================================================== the worker side


class Fixtures:
    """Files every case may point at, made once per working folder (deterministic content)."""

    def __init__(self, root: Path):
        import numpy as np
        from PIL import Image

        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        real = (FACES / "amy1.png").read_bytes()
        jpeg = (FACES / "bbt4.jpg").read_bytes()
        rng = np.random.default_rng(7)
        files = {
            "empty.png": b"",
            "noise.jpg": rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(),
            "truncated.png": real[: len(real) // 2],
            "truncated.jpg": jpeg[: len(jpeg) // 3],
            "text.png": b"hello, I am not an image\n" * 20,
            "header_only.png": real[:60],
        }
        for name, data in files.items():
            path = root / name
            if not path.exists():
                path.write_bytes(data)
        self._pil_file(root / "grey16.png", Image.fromarray(rng.integers(0, 65535, (64, 64), dtype=np.uint16)))
        self._pil_file(root / "tiny.png", Image.new("RGB", (4, 4)))
        self._pil_file(root / "cmyk.jpg", Image.open(FACES / "bbt4.jpg").convert("CMYK"))
        self._pil_file(root / "palette.gif", Image.open(FACES / "raj1.png").convert("P"))
        bomb = root / "bomb.png"  # a valid PNG header claiming 30000×30000 pixels
        if not bomb.exists():
            import struct
            import zlib

            def chunk(kind: bytes, body: bytes) -> bytes:
                return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

            bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0))
                             + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))
        (root / "folder.jpg").mkdir(exist_ok=True)
        self._link(root / "loop.jpg", root / "loop.jpg")
        self._link(root / "zero.jpg", Path("/dev/zero"))
        fifo = root / "fifo.jpg"
        if not fifo.exists():
            os.mkfifo(fifo)
        self.paths = {
            "real": [str(FACES / n) for n in REAL_IMAGES],
            "bad": [str(root / n) for n in (*files, "grey16.png", "tiny.png", "bomb.png", "folder.jpg", "loop.jpg",
                                             "zero.jpg", "fifo.jpg")] + [
                "/dev/zero", "/dev/urandom", "/dev/null", str(root / "missing.jpg"), "", "a" * 5000,
                str(root / ("b" * 300 + ".jpg")), str(root / "nul\x00byte.jpg"), str(root / "folder.jpg" / "x.jpg")],
            "odd_ok": [str(root / "cmyk.jpg"), str(root / "palette.gif")],
        }

    @staticmethod
    def _pil_file(path: Path, image) -> None:
        if not path.exists():
            image.save(path)

    @staticmethod
    def _link(link: Path, target: Path) -> None:
        if not link.is_symlink():
            link.symlink_to(target)


class Cases:
    """Case N = a label and a thunk, rebuilt from (SEED, N) alone."""

    def __init__(self, fixtures: Fixtures, workdir: Path):
        self.fx = fixtures
        self.workdir = workdir
        self._gallery = None
        self._real_embedding = None

    # ---------------------------------------------------------------- pieces

    def image(self, r: random.Random):
        import numpy as np
        from PIL import Image

        kind = r.choices(["real_path", "bad_path", "odd_path", "bytes", "pil", "array", "other"],
                         weights=[10, 25, 4, 12, 12, 30, 7])[0]
        if kind == "real_path":
            path = r.choice(self.fx.paths["real"])
            return f"path:{Path(path).name}", (Path(path) if r.random() < 0.3 else path)
        if kind == "bad_path":
            path = r.choice(self.fx.paths["bad"])
            return f"path:{path[-40:]!r}", path
        if kind == "odd_path":
            path = r.choice(self.fx.paths["odd_ok"])
            return f"path:{Path(path).name}", path
        if kind == "bytes":
            data = (FACES / r.choice(REAL_IMAGES)).read_bytes()
            choice = r.choice(["whole", "cut", "flip", "empty", "noise", "bytearray", "memoryview"])
            if choice == "cut":
                data = data[: r.randrange(0, len(data))]
            elif choice == "flip":
                data = bytearray(data)
                for _ in range(r.randrange(1, 50)):
                    data[r.randrange(len(data))] = r.randrange(256)
                data = bytes(data)
            elif choice == "empty":
                data = b""
            elif choice == "noise":
                data = r.randbytes(r.randrange(1, 3000))
            elif choice == "bytearray":
                data = bytearray(data)
            elif choice == "memoryview":
                data = memoryview(data)
            return f"bytes:{choice}", data
        if kind == "pil":
            choice = r.choice(["open", "closed", "lazy_truncated", "I;16", "F", "CMYK", "P", "1", "LA", "tiny"])
            source = FACES / r.choice(REAL_IMAGES)
            if choice == "open":
                image = Image.open(source)
            elif choice == "closed":
                image = Image.open(source)
                image.load()
                image.close()
            elif choice == "lazy_truncated":
                data = source.read_bytes()
                image = Image.open(io.BytesIO(data[: len(data) // 2]))
            elif choice == "tiny":
                image = Image.new("RGB", (2, 2))
            elif choice == "I;16":
                image = Image.fromarray(np.asarray(Image.open(source).convert("L"), np.uint16) * 257)
            elif choice == "F":
                image = Image.fromarray(np.asarray(Image.open(source).convert("L"), np.float32) / 255.0)
            else:
                image = Image.open(source).convert(choice)
            return f"pil:{choice}", image
        if kind == "array":
            return self.array(r)
        other = r.choice([None, 42, 3.5, [1, 2, 3], {"a": 1}, object(), "", True, (FACES / "amy1.png").as_uri()])
        return f"other:{type(other).__name__}", other

    def array(self, r: random.Random):
        import numpy as np

        choice = r.choices(["real", "random", "matrix", "huge", "noncontig", "nan", "structured", "fortran"],
                           weights=[8, 40, 5, 4, 5, 5, 4, 3])[0]
        if choice == "real":
            import cv2

            return "array:real", cv2.imread(str(FACES / r.choice(REAL_IMAGES)), r.choice([cv2.IMREAD_COLOR, cv2.IMREAD_GRAYSCALE]))
        if choice == "matrix":
            return "array:matrix", np.matrix(np.random.default_rng(r.randrange(99)).integers(0, 255, (64, 64)))
        if choice == "huge":
            shape = r.choice([(100000, 100000, 3), (1, 10**9), (50000, 50000), (10**6, 100, 3)])
            return f"array:huge{shape}", np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), shape=shape,
                                                                        strides=(0,) * len(shape))
        if choice == "noncontig":
            base = np.random.default_rng(r.randrange(99)).integers(0, 255, (200, 300, 3), dtype=np.uint8)
            return "array:noncontig", base[::r.choice([1, 2, 3]), ::-r.choice([1, 2]), r.choice([slice(None), slice(None, None, -1)])]
        if choice == "nan":
            array = np.random.default_rng(r.randrange(99)).random((64, 64, 3)).astype(np.float32)
            array[r.randrange(64), r.randrange(64), 0] = r.choice([np.nan, np.inf, -np.inf])
            return "array:nan", array
        if choice == "structured":
            return "array:structured", np.zeros((64, 64, 3), dtype=[("a", "u1"), ("b", "f4")])
        if choice == "fortran":
            return "array:fortran", np.asfortranarray(np.full((80, 60, 3), 128, np.uint8))
        dtype = r.choice(["uint8", "uint16", "int8", "int32", "int64", "float16", "float32", "float64", "bool",
                          "complex64", "object", "U1", "datetime64[s]"])
        shape = r.choice([(64, 64), (64, 64, 1), (64, 64, 2), (64, 64, 3), (64, 64, 4), (64, 64, 5), (64,), (),
                          (64, 64, 3, 1), (0, 64, 3), (64, 0), (3, 3, 3), (5000, 1, 3), (1, 64, 3)])
        size = int(np.prod(shape)) if shape else 1
        values = np.random.default_rng(r.randrange(99)).normal(100, 80, size)
        try:
            array = values.astype(dtype).reshape(shape)
        except (TypeError, ValueError):
            array = np.zeros(shape, dtype=dtype)
        return f"array:{dtype}{shape}", array

    def embedding(self, r: random.Random):
        import numpy as np

        real = self.real_embedding()
        choice = r.choice(["real", "nan", "inf", "zeros", "short", "long", "2d", "empty", "strings", "list",
                           "huge", "int"])
        values = {
            "real": real,
            "nan": np.full(192, np.nan, np.float32),
            "inf": np.where(np.arange(192) == 5, np.inf, real).astype(np.float32),
            "zeros": np.zeros(192, np.float32),
            "short": real[:10],
            "long": np.concatenate([real, real]),
            "2d": np.stack([real, real]),
            "empty": np.zeros(0, np.float32),
            "strings": np.array(["a"] * 192),
            "list": [float(v) for v in real],
            "huge": np.full(192, 1e39),
            "int": np.ones(192, np.int64),
        }[choice]
        return f"emb:{choice}", values

    def real_embedding(self):
        if self._real_embedding is None:
            import facelens

            self._real_embedding = facelens.embed(str(FACES / "amy1.png"), face="only")[0].embedding
        return self._real_embedding

    def gallery(self):
        if self._gallery is None:
            from facelens.gallery import Gallery

            from facelens.usecases.enrolment import enrol

            self._gallery = Gallery(self.workdir / "fuzz-gallery.db", create_key=True)
            if "amy" not in self._gallery:
                enrol(self._gallery, "amy", [str(FACES / "amy1.png")])
        return self._gallery

    @staticmethod
    def detector_options(r: random.Random) -> dict:
        options = {}
        for _ in range(r.choice([0, 0, 1, 2])):
            key = r.choice(["tile_size", "min_score", "iou_threshold", "max_faces", "near_fallback", "foo"])
            options[key] = r.choice([-5, 0, 1, 64, 640, 10**9, -0.5, 0.5, 7.0, float("nan"), "abc", None, [1], True])
        return options

    @staticmethod
    def pick(r: random.Random, good: list, bad: list):
        return r.choice(good) if r.random() < 0.6 else r.choice(bad)

    # ---------------------------------------------------------------- API cases

    def api_case(self, index: int):
        import facelens

        r = random.Random(SEED * 1_000_003 + index)
        verb = r.choices(["load_image", "detect", "embed", "verify", "analyze", "identify", "gallery"],
                         weights=[30, 20, 12, 12, 8, 3, 15])[0]
        label, image = self.image(r)
        detectors = ["blazeface", "blazeface_short", "haar", "skip"]
        if verb == "load_image":
            channels = self.pick(r, ["bgr", "rgb"], ["xyz", None, 3])
            return f"load_image({label}, channels={channels!r})", lambda: facelens.load_image(image, channels=channels)
        if verb == "detect":
            detector = self.pick(r, detectors, ["nope", 5, None])
            options = self.detector_options(r) if detector in ("blazeface", "blazeface_short", "nope") else {}
            return (f"detect({label}, {detector!r}, {options!r})",
                    lambda: facelens.detect(image, detector=detector, **options))
        if verb == "embed":
            model = self.pick(r, ["mobilefacenet"], ["zzz", None, ["mobilefacenet"]])
            face = self.pick(r, ["all", "largest", "only", 0], ["first", -1, 99, 1.5, None])
            return f"embed({label}, model={model!r}, face={face!r})", lambda: facelens.embed(image, model=model, face=face)
        if verb == "verify":
            other_label, other = self.embedding(r) if r.random() < 0.5 else self.image(r)
            if r.random() < 0.3:
                label, image = self.embedding(r)
            point = self.pick(r, [None, "far_1e-3"], ["nope", 3])
            return (f"verify({label}, {other_label}, operating_point={point!r})",
                    lambda: facelens.verify(image, other, operating_point=point))
        if verb == "analyze":
            actions = self.pick(r, [("emotion",), ("age", "gender"), ("emotion", "gender", "age")],
                                [("nope",), "emotion", (), None, 5])
            return f"analyze({label}, actions={actions!r})", lambda: facelens.analyze(image, actions=actions)
        if verb == "identify":
            self.gallery()
            db = self.pick(r, [str(self.workdir / "fuzz-gallery.db")],
                           [str(self.fx.root / "text.png"), "/dev/null", str(self.fx.root / "folder.jpg"), "x" * 5000])
            top_k = self.pick(r, [1, 5], [0, -3, "5", None])
            if r.random() < 0.4:
                label, image = self.embedding(r)
            return (f"identify({label}, db={db[-30:]!r}, top_k={top_k!r})",
                    lambda: facelens.identify(image, db=db, top_k=top_k))
        return self.gallery_case(r, label, image)

    def gallery_case(self, r: random.Random, label: str, image):
        """The gallery through its public use cases (images) and the Gallery object (embeddings)."""
        from datetime import datetime, timedelta

        from facelens.gallery import Consent
        from facelens.usecases.enrolment import enrol
        from facelens.usecases.identification import identify

        gallery = self.gallery()
        operation = r.choice(["enrol_images", "enrol_embeddings", "identify_image", "identify_vector", "show",
                              "export", "consent"])
        name = self.pick(r, [f"person{r.randrange(10**6)}"], ["", "   ", None, 42, "x" * 300, "amy", "pseudonym:" + "0" * 32])
        if operation == "enrol_images":
            return f"enrol(gallery, {name!r}, [{label}])", lambda: enrol(gallery, name, [image])
        if operation == "enrol_embeddings":
            emb_label, vectors = self.embedding(r)
            return f"Gallery.enrol({name!r}, embeddings={emb_label})", lambda: gallery.enrol(name, embeddings=vectors)
        top_k = self.pick(r, [1, 3], [0, -1, "3", None, 2.5])
        if operation == "identify_image":
            return f"identify(gallery, {label}, top_k={top_k!r})", lambda: identify(gallery, image, top_k=top_k)
        if operation == "identify_vector":
            label, vector = self.embedding(r)
            return f"Gallery.identify({label}, top_k={top_k!r})", lambda: gallery.identify(vector, top_k=top_k)
        if operation == "show":
            return f"Gallery.show({name!r})", lambda: gallery.show(name)
        if operation == "export":
            return f"Gallery.export({name!r})", lambda: gallery.export(name)
        now = datetime.utcnow()
        consent_value = r.choice(["yes", 1, {"by": "x"}, "past", "future", "aware", "string_dates", "before_at"])
        emb = self.real_embedding()

        def enrol_with_consent():
            consent = consent_value
            if consent_value == "past":
                consent = Consent(by="x", expires=now - timedelta(days=r.randrange(1, 999)))
            elif consent_value == "future":
                consent = Consent(by="x", expires=now + timedelta(days=30))
            elif consent_value == "aware":
                from datetime import timezone

                consent = Consent(by="x", expires=datetime.now(timezone.utc) + timedelta(days=1))
            elif consent_value == "string_dates":
                consent = Consent(by="x", at="2026-01-01", expires="2030-01-01")
            elif consent_value == "before_at":
                consent = Consent(by="x", at=now + timedelta(days=5), expires=now + timedelta(days=2))
            return gallery.enrol(f"consent{r.randrange(10**9)}", embeddings=emb, consent=consent)

        return f"Gallery.enrol(consent={consent_value!r})", enrol_with_consent

    # ---------------------------------------------------------------- CLI cases

    def cli_case(self, index: int):
        from facelens.cli.app import run_cli

        r = random.Random(SEED * 7_000_001 + index)
        paths = self.fx.paths
        db = str(self.workdir / "fuzz-cli.db")

        def path() -> str:
            return r.choice(paths["real"]) if r.random() < 0.3 else r.choice(paths["bad"] + paths["odd_ok"])

        def value() -> str:
            return r.choice(["-5", "0", "abc", "1e309", "", "x" * 3000, "nan", "3", "0.5", "-1", "largest"])

        bad_dbs = [str(self.fx.root / "text.png"), "/dev/null", str(self.fx.root / "folder.jpg"), "z" * 5000,
                   str(self.fx.root / "folder.jpg" / "sub" / "g.db")]
        command = r.choice(["detect", "embed", "verify", "analyze", "enrol", "identify", "show", "export",
                            "audit", "list"])
        if command == "detect":
            argv = ["detect", path(), "--json"] + r.choice([[], ["--tile-size", value()], ["--min-score", value()],
                                                            ["--detector", value()]])
        elif command == "embed":
            argv = ["embed", path()] + r.choice([[], ["--face", value()], ["--model", value()]])
        elif command == "verify":
            argv = ["verify", path(), path()] + r.choice([[], ["--operating-point", value()], ["--face", value()]])
        elif command == "analyze":
            argv = ["analyze", path(), "--json"] + r.choice(
                [[], ["--actions", value()], ["--actions", "emotion"]])
        elif command == "enrol":
            argv = ["gallery", "enrol", r.choice(["amy", value()]), path(), "--db", r.choice([db, *bad_dbs])] + r.choice(
                [[], ["--consent-expires", r.choice(["2020-01-01", "2099-01-01", value()])], ["--face", value()],
                 ["--meta", value()]])
        elif command == "identify":
            argv = ["gallery", "identify", path(), "--db", r.choice([db, *bad_dbs])] + r.choice(
                [[], ["--top-k", value()], ["--threshold", value()], ["--scoring", value()]])
        elif command == "show":
            argv = ["gallery", "show", value(), "--db", r.choice([db, *bad_dbs])]
        elif command == "export":
            out = r.choice([str(self.fx.root / "folder.jpg"), "e" * 5000, str(self.workdir / f"export{index}.json"),
                            str(self.fx.root / "zero.jpg")])
            argv = ["gallery", "export", r.choice(["amy", value()]), "--db", db, "--out", out]
        elif command == "audit":
            argv = ["audit", r.choice(["verify", "list"]), "--db", r.choice([db, *bad_dbs])]
        else:
            argv = ["gallery", "list", "--db", r.choice([db, *bad_dbs])]

        def run() -> tuple[int, str]:
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = run_cli(argv)
            return code, err.getvalue()

        shown = [a if len(a) < 60 else a[:20] + f"…({len(a)})" for a in argv]
        return "cli " + " ".join(repr(a) for a in shown), run


def classify(thunk, is_cli: bool) -> tuple[str, str]:
    from facelens.errors import FacelensError

    try:
        result = thunk()
    except FacelensError as exc:
        return "typed", f"{type(exc).__name__}: {str(exc)[:120]}"
    except Exception as exc:  # noqa: BLE001 - what the fuzz test exists to find
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return "untyped", f"{type(exc).__name__}: {str(exc)[:200]} (at {Path(where.filename).name}:{where.lineno})"
    if is_cli:
        code, err = result
        if code not in EXIT_CODES or "internal error" in err or "Traceback" in err:
            return "untyped", f"exit {code}: {err.strip()[-300:]}"
        return ("ok" if code == 0 else "typed"), f"exit {code}"
    return "ok", ""


def worker(workdir: Path) -> None:
    """Read case numbers on stdin (N: API case, cN: CLI case); answer one JSON line each."""
    import warnings

    warnings.simplefilter("ignore")
    cases = Cases(Fixtures(workdir / "files"), workdir)
    # Warm up (imports, model files, CLI modules) so no case is charged for it.
    cases.real_embedding()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        classify(lambda: __import__("facelens.cli.app", fromlist=["run_cli"]).run_cli(["gallery", "--help"]), False)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        token = line.strip()
        is_cli = token.startswith("c")
        index = int(token.lstrip("c"))
        try:
            label, thunk = (cases.cli_case if is_cli else cases.api_case)(index)
        except Exception as exc:  # noqa: BLE001 - a bug in the generator, not in facelens
            print(json.dumps({"case": token, "label": "?", "outcome": "generator", "detail": repr(exc)}), flush=True)
            continue
        started = time.perf_counter()
        outcome, detail = classify(thunk, is_cli)
        print(json.dumps({"case": token, "label": label, "outcome": outcome, "detail": detail,
                          "ms": round((time.perf_counter() - started) * 1000)}), flush=True)


# ====================================================================== the parent side


class Runner:
    """Feeds case numbers to a worker; a case over its time limit is a hang, a worker that dies
    (or grows past MAX_RSS_BYTES) is a death; either way a fresh worker takes over."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.fresh = True

    def _start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", str(self.workdir)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
                                     env=dict(os.environ, PYTHONFAULTHANDLER="0"))
        self.fresh = True
        if self._read_line(FIRST_CASE_LIMIT_S) is None:
            raise RuntimeError("fuzz worker did not start")

    def _rss(self) -> int:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def _read_line(self, limit: float) -> str | None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                return self.proc.stdout.readline() or None
            if self.proc.poll() is not None or self._rss() > MAX_RSS_BYTES:
                return None
        return "timeout"

    def _stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(timeout=30)
        self.proc = None

    def run(self, token: str) -> dict:
        if self.proc is None:
            self._start()
        limit = FIRST_CASE_LIMIT_S if self.fresh else CASE_LIMIT_S
        self.fresh = False
        try:
            self.proc.stdin.write(token + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass
        line = self._read_line(limit)
        if line == "timeout":
            self._stop()
            return {"case": token, "label": describe(token), "outcome": "hang", "detail": f"over {limit:.0f} s"}
        if line is None:
            rss = self._rss()
            code = self.proc.poll()
            self._stop()
            return {"case": token, "label": describe(token), "outcome": "death",
                    "detail": f"exit {code}, rss {rss >> 20} MiB"}
        return json.loads(line)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._stop()


def describe(token: str) -> str:
    """The label of a case without running it (for hangs and deaths)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        cases = Cases(Fixtures(Path(tmp) / "files"), Path(tmp))
        cases._real_embedding = __import__("numpy").ones(192, "float32")
        is_cli = token.startswith("c")
        try:
            return (cases.cli_case if is_cli else cases.api_case)(int(token.lstrip("c")))[0]
        except Exception as exc:  # noqa: BLE001
            return f"? ({exc!r})"


def subprocess_cli_cases(workdir: Path) -> list[dict]:
    """A few real `facelens` processes on the inputs that used to hang or kill the process."""
    files = workdir / "files"
    argvs = [["detect", "/dev/zero"], ["detect", str(files / "fifo.jpg")], ["embed", "/dev/urandom"],
             ["verify", "q" * 5000, str(FACES / "amy1.png")], ["gallery", "list", "--db", str(files / "text.png")],
             ["analyze", str(files / "zero.jpg")], ["detect", str(FACES / "bbt4.jpg"), "--tile-size", "-5"]]
    procs = [(argv, subprocess.Popen([sys.executable, "-m", "facelens", *argv], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)) for argv in argvs]
    results = []
    for argv, proc in procs:
        label = "process facelens " + " ".join(a[:40] for a in argv)
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            results.append({"label": label, "outcome": "hang", "detail": "over 120 s"})
            continue
        if proc.returncode < 0 or proc.returncode not in EXIT_CODES:
            results.append({"label": label, "outcome": "death", "detail": f"exit {proc.returncode}"})
        elif "Traceback" in err or "internal error" in err:
            results.append({"label": label, "outcome": "untyped", "detail": err.strip()[-300:]})
        else:
            results.append({"label": label, "outcome": "typed" if proc.returncode else "ok",
                            "detail": f"exit {proc.returncode}"})
    return results


def test_fuzz_every_public_verb_and_the_cli(tmp_path, isolated_env):
    started = time.monotonic()
    runner = Runner(tmp_path)
    results = []
    try:
        for token in [str(i) for i in range(API_CASES)] + [f"c{i}" for i in range(CLI_CASES)]:
            results.append(runner.run(token))
    finally:
        runner.close()
    results += subprocess_cli_cases(tmp_path)
    counts: dict[str, int] = {}
    for item in results:
        counts[item["outcome"]] = counts.get(item["outcome"], 0) + 1
    failures = [f"{r['outcome']}: {r['label']} → {r['detail']}" for r in results
                if r["outcome"] not in ("ok", "typed")]
    summary = f"{len(results)} cases in {time.monotonic() - started:.0f} s: {counts}"
    print(summary)
    assert len(results) >= API_CASES + CLI_CASES
    assert counts.get("ok", 0) >= 50 and counts.get("typed", 0) >= 500, summary  # both paths exercised
    assert not failures, summary + "\n" + "\n".join(failures[:25])


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--worker":
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        worker(Path(sys.argv[2]))
    elif len(sys.argv) >= 3 and sys.argv[1] == "--show":
        print(describe(sys.argv[2]))
    else:
        print(__doc__)
