"""The media toolkit both engines stand on: FFmpeg runs, probing and validation, media entries, encoding, conversion."""
