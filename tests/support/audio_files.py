"""Real audio files made by the tests (stdlib ``wave``)."""

from __future__ import annotations

import io
import math
import struct
import wave


def wav_bytes(seconds: float, *, rate: int = 8000, tone_hz: float = 440.0) -> bytes:
    """A mono 16-bit WAV of ``seconds`` of a sine tone."""
    frames = round(seconds * rate)
    samples = (int(8000 * math.sin(2 * math.pi * tone_hz * i / rate)) for i in range(frames))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return buf.getvalue()
