"""The local engine: FFmpeg (from the imageio-ffmpeg wheel) and PyAV on this machine."""
