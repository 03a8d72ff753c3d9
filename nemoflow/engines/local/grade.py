"""Color: grade presets, `adjust`, and .cube LUTs, as the cheapest correct filters.

Measured (../shared/perf-baseline.md): at 4K an RGB round trip costs about
twice the whole x264 encode, so every preset is expressed with `eq` alone,
which works on the YUV planes in place (its gamma_r/gamma_b act on V and U).
All of a clip's grades and adjustments fold into ONE `eq`. Only a .cube LUT
needs RGB, and it is applied once; a LUT at less than 100% is blended with
the identity in Python and written once to the cache, not mixed per frame.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import attrs

from ...errors import MediaError
from ...media.escape import filter_value, lavfi_number


@attrs.frozen
class Eq:
    """The `eq` filter's parameters; identity by default. Composition multiplies factors and adds offsets."""

    contrast: float = 1.0
    brightness: float = 0.0
    saturation: float = 1.0
    gamma: float = 1.0
    gamma_r: float = 1.0
    gamma_b: float = 1.0

    def then(self, other: Eq) -> Eq:
        return Eq(self.contrast * other.contrast, self.brightness + other.brightness, self.saturation * other.saturation,
                  self.gamma * other.gamma, self.gamma_r * other.gamma_r, self.gamma_b * other.gamma_b)

    def scaled(self, amount: float) -> Eq:
        """Move `amount` (0..1) of the way from identity to this look."""
        def mix(value: float, ident: float) -> float:
            return ident + (value - ident) * amount

        return Eq(mix(self.contrast, 1), mix(self.brightness, 0), mix(self.saturation, 1), mix(self.gamma, 1),
                  mix(self.gamma_r, 1), mix(self.gamma_b, 1))

    @property
    def identity(self) -> bool:
        return all(abs(a - b) < 1e-6 for a, b in zip(attrs.astuple(self), attrs.astuple(Eq()), strict=True))

    def filter(self) -> str:
        parts = []
        for field in attrs.fields(Eq):
            value, default = getattr(self, field.name), field.default
            if abs(value - default) > 1e-6:
                parts.append(f"{field.name}={lavfi_number(value)}")
        return "eq=" + ":".join(parts)


# Looks at 100%. Warm/orange = more V (red), less U (blue); cool the reverse.
PRESETS: dict[str, Eq] = {
    "teal-orange": Eq(contrast=1.12, saturation=1.3, gamma_r=1.1, gamma_b=0.9),
    "warm": Eq(saturation=1.05, gamma_r=1.12, gamma_b=0.88),
    "cool": Eq(gamma_r=0.9, gamma_b=1.12),
    "vivid": Eq(contrast=1.15, saturation=1.5),
    "muted": Eq(contrast=0.9, saturation=0.65),
    "bw": Eq(contrast=1.1, saturation=0.0),
    "vintage": Eq(contrast=0.88, brightness=0.03, saturation=0.7, gamma=1.05, gamma_r=1.08, gamma_b=0.9),
    "film": Eq(contrast=1.08, saturation=0.9, gamma=0.95),
    "neutral": Eq(),
}


def adjust_eq(effect: dict[str, Any]) -> Eq:
    """`adjust brightness 10% contrast 110% saturation 120% gamma 1.1` as eq parameters."""
    return Eq(contrast=effect.get("contrast", 100.0) / 100.0, brightness=effect.get("brightness", 0.0) / 100.0,
              saturation=effect.get("saturation", 100.0) / 100.0, gamma=effect.get("gamma", 1.0))


def color_filters(effects: list[dict[str, Any]], cache_dir: Path) -> list[str]:
    """The filters for a clip's grade/adjust effects, in order, with runs of `eq` folded into one."""
    out: list[str] = []
    pending = Eq()
    for effect in effects:
        kind = effect.get("type")
        if kind == "grade" and "preset" in effect:
            pending = pending.then(PRESETS[effect["preset"]].scaled(effect.get("amount", 100.0) / 100.0))
        elif kind == "adjust":
            pending = pending.then(adjust_eq(effect))
        elif kind == "grade" and "lut" in effect:
            if not pending.identity:
                out.append(pending.filter())
                pending = Eq()
            lut = blended_lut(Path(effect["lut"]), effect.get("amount", 100.0) / 100.0, cache_dir)
            out.append(f"lut3d=file={filter_value(str(lut))}:interp=tetrahedral")
    if not pending.identity:
        out.append(pending.filter())
    return out


_SIZE = re.compile(r"^\s*LUT_3D_SIZE\s+(\d+)", re.M)


def read_cube(path: Path) -> tuple[int, list[tuple[float, float, float]]]:
    """Parse an Adobe/Resolve .cube 3D LUT; MediaError with the line for anything malformed."""
    try:
        text = path.read_text(encoding="utf-8-sig", errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise MediaError(f"cannot read the LUT {path}: {exc}") from None
    size_match = _SIZE.search(text)
    if not size_match:
        raise MediaError(f"{path} is not a 3D .cube LUT (no LUT_3D_SIZE line); export a 3D LUT in .cube format")
    size = int(size_match.group(1))
    if not 2 <= size <= 256:
        raise MediaError(f"{path}: LUT_3D_SIZE {size} is out of range (2..256)")
    rows: list[tuple[float, float, float]] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#") or line[0].isalpha():
            continue
        parts = line.split()
        try:
            r, g, b = (float(p) for p in parts)
        except ValueError:
            raise MediaError(f"{path}:{number}: expected three numbers in a .cube LUT, got `{line[:60]}`") from None
        rows.append((r, g, b))
    if len(rows) != size**3:
        raise MediaError(f"{path}: a {size}-point .cube LUT needs {size**3} rows, found {len(rows)} (is the file truncated?)")
    return size, rows


def blended_lut(path: Path, amount: float, cache_dir: Path) -> Path:
    """The LUT itself at 100%; otherwise a copy mixed with the identity, written once to the cache."""
    size, rows = read_cube(path)  # validates even at 100%, so a broken LUT fails before FFmpeg starts
    if amount >= 0.999:
        return path
    digest = hashlib.sha256(path.read_bytes() + f"{amount:.4f}".encode()).hexdigest()[:16]
    out = cache_dir / f"lut-{digest}.cube"
    if out.exists():
        return out
    lines = [f"# {path.name} at {amount * 100:g}% (nemoflow)", f"LUT_3D_SIZE {size}"]
    n = size - 1
    for i, (r, g, b) in enumerate(rows):  # .cube order: red fastest, then green, then blue
        ir, ig, ib = (i % size) / n, (i // size % size) / n, (i // (size * size)) / n
        lines.append(f"{ir + (r - ir) * amount:.6f} {ig + (g - ig) * amount:.6f} {ib + (b - ib) * amount:.6f}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(out)
    return out
