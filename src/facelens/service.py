"""The REST service: a thin FastAPI shell over the same library calls the CLI makes.

    facelens serve --host 127.0.0.1 --port 8000      # or: uvicorn facelens.service:app

Endpoints take images as multipart uploads and answer the same JSON the CLI's ``--json`` prints.
Errors map the typed exceptions to HTTP codes with ``{"error": message, "exit_code": n}``: no
traceback ever reaches a client. The gallery opens per request from ``FACELENS_DB`` (or the
``db`` given to ``create_app``), so several workers can share one database.
"""


from typing import Any, Optional

from . import errors
from .cli.common import parse_face_choice

HTTP_STATUS = {
    errors.BadInputError: 400,
    errors.NoFaceError: 422,
    errors.MultipleFacesError: 422,
    errors.NotFoundError: 404,
    errors.ConflictError: 409,
    errors.KeyMaterialError: 500,
    errors.ModelError: 500,
    errors.StorageError: 503,
    errors.SourceError: 400,
}
MAX_UPLOAD_BYTES = 30 * 1024 * 1024


def create_app(db: Optional[str] = None):
    from fastapi import FastAPI, File, Form, Request, UploadFile
    from fastapi.responses import JSONResponse

    import facelens

    app = FastAPI(title="facelens", version=facelens.__version__,
                  description="Offline face detection, verification, identification and attributes.")

    @app.exception_handler(errors.FacelensError)
    async def facelens_error(_: Request, exc: errors.FacelensError) -> JSONResponse:
        status = HTTP_STATUS.get(type(exc), 500)
        return JSONResponse(status_code=status, content={"error": str(exc), "exit_code": exc.exit_code})

    async def read(upload: UploadFile) -> bytes:
        data = await upload.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise errors.BadInputError(f"{upload.filename}: upload larger than {MAX_UPLOAD_BYTES:,} bytes")
        return data

    @app.get("/health")
    def health() -> dict[str, Any]:
        from .models.registry import MODELS, check

        states = {name: check(spec) for name, spec in MODELS.items()}
        healthy = all(s == "ok" or (s == "missing" and not MODELS[n].bundled) for n, s in states.items())
        return {"status": "ok" if healthy else "degraded", "version": facelens.__version__, "models": states}

    @app.post("/detect")
    async def detect(image: UploadFile = File(...), detector: str = Form("blazeface")) -> dict[str, Any]:
        faces = facelens.detect(await read(image), detector=detector)
        return {"faces": [f.to_dict() for f in faces]}

    @app.post("/embed")
    async def embed(image: UploadFile = File(...), model: str = Form("mobilefacenet"),
                    face: str = Form("all")) -> dict[str, Any]:
        faces = facelens.embed(await read(image), model=model, face=parse_face_choice(face))
        return {"model": model, "faces": [f.to_dict(include_embedding=True) for f in faces]}

    @app.post("/verify")
    async def verify(a: UploadFile = File(...), b: UploadFile = File(...), model: str = Form("mobilefacenet"),
                     face: str = Form("largest")) -> dict[str, Any]:
        result = facelens.verify(await read(a), await read(b), model=model, face=parse_face_choice(face))
        return result.to_dict()

    @app.post("/analyze")
    async def analyze(image: UploadFile = File(...), actions: str = Form("emotion,gender,age")) -> dict[str, Any]:
        from .attributes.analyze import analyze as run_analyze

        faces = run_analyze(await read(image), actions)
        return {"faces": [f.to_dict() for f in faces]}

    @app.post("/identify")
    async def identify(image: UploadFile = File(...), top_k: int = Form(5),
                       model: str = Form("mobilefacenet")) -> dict[str, Any]:
        from .gallery import Gallery

        data = await read(image)
        with Gallery(db) as gallery:
            results = gallery.identify(data, top_k=top_k, model=model)
        return {"model": model, "faces": [r.to_dict() for r in results]}

    return app


def __getattr__(name: str):
    if name == "app":  # `uvicorn facelens.service:app`
        return create_app()
    raise AttributeError(name)
