"""Names and lists that more than one package needs, defined once.

Model names are the registry's (``facelens.models.registry``): the same string on the command
line, in the Python API, in JSON output and as the weights folder name (the one exception, the
folder a fetched dlib model is kept in, is recorded in ``registry.FORMER_NAMES``).
"""

from __future__ import annotations

DEFAULT_DETECTOR = "blazeface"
DEFAULT_MODEL = "mobilefacenet"  # the embedding model
DEFAULT_EMOTION_MODEL = "emotion_mini_xception"
DEFAULT_GENDER_MODEL = "gender_cydral"
DEFAULT_AGE_MODEL = "age_cydral"
GENDER_EYES_MODEL = "gender_eyes_facelens"  # trained by `facelens train gender-eyes`

# File suffixes read as still images wherever a folder is scanned (compare lower-cased).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".pgm", ".ppm", ".tif", ".tiff"})
# File suffixes read as video (OpenCV's FFmpeg backend opens them); a folder of frames is one too.
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})

# Class orders shared by the shipped models, the training toolkit and the evaluations: FER2013's
# emotion column 0…6, and dlib-models' gender output (female, male).
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
GENDERS: tuple[str, ...] = ("female", "male")
