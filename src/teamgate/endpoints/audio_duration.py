"""The length of an uploaded audio file, read with mutagen (WAV, MP3, FLAC, OGG, M4A, …).

>>> import io
>>> audio_duration_s(io.BytesIO(b"not audio")) is None
True
"""

from __future__ import annotations

import logging
import math
from typing import IO

import mutagen

log = logging.getLogger("teamgate.audio")


def audio_duration_s(file: IO[bytes]) -> float | None:
    """Seconds of audio in ``file`` (read from its headers), or None if unknown.

    Blocking (it may read from disk): call it in a thread.
    """
    try:
        file.seek(0)
        audio = mutagen.File(file)
    except Exception as exc:
        log.debug("could not read audio metadata: %s", type(exc).__name__)
        return None
    finally:
        file.seek(0)
    length = getattr(getattr(audio, "info", None), "length", None)
    if not isinstance(length, int | float) or not math.isfinite(length) or length <= 0:
        return None
    return float(length)
