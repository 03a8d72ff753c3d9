"""Timeline pictures, contact sheets and poster frames (issue 19 item 2): drawn from real media, checked by reading pixels.

Sources are tiny generated files whose colour says the time (red then green), so a thumbnail in the wrong place, a
frame from the wrong time or a waveform at the wrong level shows up as a wrong pixel.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from mediagen import ffmpeg, make_image
from PIL import Image
from typer.testing import CliRunner

from nemoflow.cli import app
from nemoflow.draft.model import AUDIO, TEXT, VIDEO, Draft, Segment, Track
from nemoflow.pictures import sheet as sheet_mod
from nemoflow.pictures.png import PictureError, ours
from nemoflow.pictures.sheet import contact_sheet, poster_frame
from nemoflow.pictures.timeline import BAND_H, WAVE, db_height, draw_timeline, timeline_picture

RED, GREEN, BLUE, ORANGE = (255, 0, 0), (0, 128, 0), (0, 64, 255), (255, 136, 0)


def two_colours(path: Path, first: str, second: str, *, a: float, b: float, tone: int = 440) -> Path:
    """A 320x180 clip: `first` for `a` seconds, then `second` for `b`, with a sine tone throughout."""
    ffmpeg("-f", "lavfi", "-i", f"color=c={first}:s=320x180:r=30:d={a}", "-f", "lavfi", "-i", f"color=c={second}:s=320x180:r=30:d={b}",
           "-f", "lavfi", "-i", f"sine=frequency={tone}:sample_rate=48000:duration={a + b}",
           "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0[v]", "-map", "[v]", "-map", "2:a", "-c:v", "libx264",
           "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "15", "-c:a", "aac", str(path))
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("timeline_media")
    return {"two": two_colours(d / "two.mp4", "0xff0000", "0x008000", a=2, b=2),
            "pic": make_image(d / "blue.png", size=(160, 90), color="0x0040ff"),
            "late": two_colours(d / "late.mp4", "black", "0xff8800", a=2.5, b=3.5)}


RECIPE = """nemo 1
media two = "{two}"
media pic = "{pic}"
media hum = tone 330hz duration 10s

edit cut {{
  video two from 1s to 3s
  image pic for 1s
  video two from 3s to 4s
  title "Hello there" from 0s to 1s
  text "Lower" from 0.5s to 2s
  music hum volume 100% fade in 1s
}}

export final = cut {{
  size 320x180
  save "{saved}"
}}
"""


@pytest.fixture(scope="module")
def project(media, tmp_path_factory):
    d = tmp_path_factory.mktemp("timeline_project")
    saved = d / "saved.mp4"
    (d / "r.nemo").write_text(RECIPE.format(two=media["two"], pic=media["pic"], saved=saved), encoding="utf-8")
    return d / "r.nemo"


@pytest.fixture(scope="module")
def draft(project) -> Draft:
    result = CliRunner().invoke(app, ["draft", str(project), "--step", "edit.cut"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return Draft.from_json(json.loads(result.stdout)["edit.cut"]["draft"])


@pytest.fixture(scope="module")
def drawn(draft):
    return draw_timeline(draft, width=1200)


def near(pixel, colour, tol=40) -> bool:
    return all(abs(int(p) - int(c)) <= tol for p, c in zip(pixel[:3], colour, strict=True))


def box(drawn, kind, row, index):
    return next(b for b in drawn.boxes if (b.kind, b.row, b.index) == (kind, row, index))


def test_clips_show_their_source_at_each_tile(drawn):
    img = drawn.image
    first, still, last = (box(drawn, "clip", "V1", i) for i in range(3))
    y = first.y1 - 12  # below the name band, above the transition labels
    # `two from 1s to 3s`: red until the source's 2 s (the clip's middle), green after: the tiles follow the source time
    assert near(img.getpixel((first.x0 + 10, y)), RED)
    assert near(img.getpixel((first.x1 - 6, y)), GREEN)
    assert near(img.getpixel(((still.x0 + still.x1) // 2, y)), BLUE)
    # the cut into `two from 3s`: its first thumbnail is the frame at its in-point (green), not the file's start (red)
    assert near(img.getpixel((last.x0 + 8, y)), GREEN)
    # clips sit where their times say: 1 s at the picture's scale
    span = last.end_ms
    assert (first.start_ms, first.end_ms, still.end_ms, span) == (0, 2000, 3000, 4000)
    per_ms = (last.x1 - first.x0) / span
    assert abs((still.x0 - first.x0) - 2000 * per_ms) <= 2
    assert "two" in first.label and "from 1s" in first.label


def test_titles_are_labelled_bars_in_lanes(drawn):
    title, lower = box(drawn, "text", "T1", 0), box(drawn, "text", "T1", 1)
    assert title.label == "title: Hello there" and lower.label == "Lower"
    assert lower.y0 > title.y0  # they overlap in time, so the second is in a lane below the first
    px = drawn.image.getpixel(((title.x0 + title.x1) // 2, title.y0 + 2))
    assert near(px, (176, 98, 204), 30)
    assert abs((title.x1 - title.x0) * 1.5 - (lower.x1 - lower.x0)) <= 3


def wave_extent(img: Image.Image, x: int, y0: int, y1: int) -> int:
    return sum(1 for y in range(y0, y1) if near(img.getpixel((x, y)), WAVE, 6))


def test_sound_is_a_waveform_at_its_mixed_level(drawn):
    img = drawn.image
    music = box(drawn, "sound", "A1", 0)
    per_s = (music.x1 - music.x0) / (music.end_ms - music.start_ms) * 1000
    early, halfway, late = (wave_extent(img, round(music.x0 + x), music.y0, music.y1) for x in (3, per_s / 2, per_s * 2))
    # FFmpeg's sine is 1/8 of full scale (-18 dBFS): on the dB scale, that much of the lane under the name band
    half = (music.y1 - 1 - (music.y0 + BAND_H + 1)) / 2
    assert abs(late - 2 * db_height(1 / 8) * half) <= 2, late
    assert early <= 2 < halfway < late - 2  # the 1 s fade in rises from silence (a silent column: a 1-2 px line)
    own = box(drawn, "clip-sound", "V1 sound", 0)
    assert wave_extent(img, (own.x0 + own.x1) // 2, own.y0, own.y1) >= 6  # the clips' own tone
    assert not any(b.kind == "clip-sound" and b.index == 1 for b in drawn.boxes)  # a still has no sound


def test_transitions_layers_and_the_end(tmp_path, media):
    blue = {"kind": "image", "path": str(media["pic"]), "w": 160, "h": 90, "codec": "png"}
    red = {"kind": "video", "d": 4000, "w": 320, "h": 180, "fps": 30.0,
           "gen": {"name": "color", "w": 320, "h": 180, "fps": 30.0, "color": "#ff0000"}}
    fade = {"type": "crossfade", "d": 1000}
    draft = Draft(t=(Track(VIDEO, (Segment(0, 3000, {"src": "red"}), Segment(2000, 2000, {"src": "pic"}, tr=fade))),
                     Track(VIDEO, (Segment(1000, 1000, {"src": "pic"}),), {"layer": 1}),
                     Track(TEXT, (Segment(0, 6000, {"text": "runs past the end"}),)),
                     Track(AUDIO, ())),
                  m={"name": "edit.t", "canvas": {"w": 320, "h": 180, "fps": 30.0}, "media": {"red": red, "pic": blue}})
    drawn = draw_timeline(draft, width=800)
    tr = box(drawn, "transition", "V1", 1)
    assert tr.label == "crossfade 1s" and (tr.start_ms, tr.end_ms) == (2000, 3000)
    assert near(drawn.image.getpixel((box(drawn, "clip", "V1", 0).x0 + 10, tr.y1 - 12)), RED)
    layer = box(drawn, "clip", "V2", 0)
    assert near(drawn.image.getpixel((layer.x0 + 20, layer.y1 - 12)), BLUE)
    # the programme ends at 4 s; the title running to 6 s is dimmed after that line
    text = box(drawn, "text", "T1", 0)
    end_x = box(drawn, "clip", "V1", 1).x1
    inside, after = drawn.image.getpixel((end_x - 20, text.y0 + 4)), drawn.image.getpixel((end_x + 20, text.y0 + 4))
    assert sum(after) < sum(inside) * 0.75
    out = timeline_picture(draft, tmp_path / "t.png", width=800)
    with Image.open(out) as back:
        assert back.size == drawn.image.size and ours(out)
        assert list(back.convert("RGB").get_flattened_data()) == list(drawn.image.get_flattened_data())


def test_missing_media_and_bad_requests(tmp_path):
    gone = {"kind": "video", "path": str(tmp_path / "gone.mp4"), "d": 2000, "w": 320, "h": 180, "fps": 30.0}
    draft = Draft(t=(Track(VIDEO, (Segment(0, 2000, {"src": "gone"}),)),), m={"media": {"gone": gone}})
    drawn = draw_timeline(draft, width=600)  # drawn, with the clip saying why it has no picture
    assert box(drawn, "clip", "V1", 0).x1 > 500
    with pytest.raises(PictureError, match="480 to 8000 pixels wide"):
        draw_timeline(draft, width=100)
    with pytest.raises(PictureError, match="empty"):
        draw_timeline(Draft(t=(Track(VIDEO, ()),)), width=600)
    foreign = tmp_path / "mine.png"
    Image.new("RGB", (4, 4), (1, 2, 3)).save(foreign)
    before = foreign.read_bytes()
    with pytest.raises(PictureError, match="nemoflow did not write it"):
        timeline_picture(draft, foreign, width=600)
    assert foreign.read_bytes() == before
    timeline_picture(draft, foreign, width=600, overwrite=True)
    timeline_picture(draft, foreign, width=640)  # now it is ours: replaced without asking
    with Image.open(foreign) as img:
        assert img.size[0] == 640
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]  # no partial files left


def cell(index: int, columns: int, width: int, aspect: float) -> tuple[int, int, int, int]:
    cell_w = (width - 2 * sheet_mod.PAD - (columns - 1) * sheet_mod.GAP) // columns
    cell_h = round(cell_w * aspect)
    r, c = divmod(index, columns)
    x, y = sheet_mod.PAD + c * (cell_w + sheet_mod.GAP), sheet_mod.HEADER_H + r * (cell_h + sheet_mod.CAPTION_H + sheet_mod.GAP)
    return x, y, cell_w, cell_h


def test_contact_sheet_frames_in_order(tmp_path, media):
    out = contact_sheet(media["two"], tmp_path / "sheet.png", frames=6, columns=3, width=700)
    with Image.open(out) as img:
        rgb = img.convert("RGB")
        rows = 2
        assert rgb.size == (700, sheet_mod.HEADER_H + rows * (cell(0, 3, 700, 9 / 16)[3] + sheet_mod.CAPTION_H + sheet_mod.GAP)
                            + sheet_mod.PAD)
    # frames at 1/12, 3/12, … of 4 s: 0.33, 1, 1.67 s red; 2.33, 3, 3.67 s green
    for i in range(6):
        x, y, w, h = cell(i, 3, 700, 9 / 16)
        assert near(rgb.getpixel((x + w // 2, y + h // 2)), RED if i < 3 else GREEN), i
    assert ours(out)


def test_poster_frame_avoids_a_dark_start(tmp_path, media):
    out = poster_frame(media["late"], tmp_path / "poster.png")  # black for 2.5 s of 6: the frame at 1/3 (2 s) is black
    with Image.open(out) as img:
        assert img.size == (320, 180) and near(img.convert("RGB").getpixel((160, 90)), ORANGE)
    chosen = poster_frame(media["late"], tmp_path / "black.png", at_s=1.0)
    with Image.open(chosen) as img:
        assert near(img.convert("RGB").getpixel((160, 90)), (0, 0, 0), 20)
    with pytest.raises(PictureError, match="no frame at 7s"):
        poster_frame(media["late"], tmp_path / "p.png", at_s=7)


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_cli(tmp_path, project, media, drawn, draft):
    out = tmp_path / "t.png"
    result = run("timeline", str(project), "cut", "-o", str(out), "--width", "1200")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == str(out)
    with Image.open(out) as img:  # the written file is the picture drawn from the same Draft
        assert list(img.convert("RGB").get_flattened_data()) == list(drawn.image.get_flattened_data())
    # a sound alone (a media step) is drawn as one audio track: its waveform fills the lane past the name band
    result = run("timeline", str(project), "hum", "-o", str(tmp_path / "hum.png"), "--width", "600")
    assert result.exit_code == 0, result.stderr
    with Image.open(tmp_path / "hum.png") as img:
        rgb = img.convert("RGB")
        column = [rgb.getpixel((300, y)) for y in range(rgb.size[1])]
        assert sum(near(px, WAVE, 6) for px in column) >= 10 and ours(tmp_path / "hum.png")
    # the default step is the first export; it draws the same Draft
    assert run("timeline", str(project), "-o", str(tmp_path / "e.png"), "--width", "1200").exit_code == 0
    # --sheet of the export before it exists, then of the file it saves (here: a copy of a source), then of a video
    result = run("timeline", str(project), "--sheet", "-o", str(tmp_path / "s.png"))
    assert result.exit_code == 2 and "has not been rendered" in result.stderr
    saved = project.parent / "saved.mp4"
    saved.write_bytes(media["two"].read_bytes())
    try:
        result = run("timeline", str(project), "final", "--sheet", "-n", "4", "--columns", "2", "-o", str(tmp_path / "s.png"))
        assert result.exit_code == 0, result.stderr
        with Image.open(tmp_path / "s.png") as img:
            assert near(img.convert("RGB").getpixel(tuple(v + 20 for v in cell(3, 2, 1600, 9 / 16)[:2])), GREEN)
    finally:
        saved.unlink()
    assert run("timeline", str(media["two"]), "--sheet", "-o", str(tmp_path / "v.png"), "-n", "2").exit_code == 0
    # user errors: a clear message and exit 2, never a traceback
    for args, said in [(("timeline", str(project), "nope", "-o", str(tmp_path / "x.png")), "is not an edit, ask, media or export"),
                       (("timeline", str(project), "-o", str(tmp_path / "x.jpg")), "saved as PNG"),
                       (("timeline", str(project), "-o", str(tmp_path / "x.png"), "-w", "50"), "pixels wide"),
                       (("timeline", str(tmp_path / "none.mp4"), "--sheet", "-o", str(tmp_path / "x.png")), "does not exist"),
                       (("timeline", str(project), "--sheet", "-o", str(tmp_path / "x.png"), "-n", "0"), "1 to 200 frames"),
                       (("timeline", str(media["two"]), "-o", str(tmp_path / "x.png")), "add --sheet"),
                       (("timeline", str(project), "-o", str(media["pic"])), "nemoflow did not write it")]:
        result = run(*args)
        assert result.exit_code == 2 and said in result.stderr, (args, result.stderr)
    assert not (tmp_path / "x.png").exists()


def test_a_source_cut_many_times_is_heard_once_and_drawn_everywhere(media, monkeypatch):
    """Three or more cuts of one file read its sound once (not per cut); every cut still shows its own stretch."""
    from nemoflow.pictures import timeline as timeline_mod

    reads = []
    real_pcm = timeline_mod.pcm
    monkeypatch.setattr(timeline_mod, "pcm", lambda *a, **k: reads.append(a[1:3]) or real_pcm(*a, **k))
    monkeypatch.setattr(timeline_mod, "waveform", lambda *a, **k: pytest.fail("a cut read its sound on its own"))
    two = {"kind": "video", "path": str(media["two"]), "d": 4000, "w": 320, "h": 180, "fps": 30.0, "audio": True}
    cuts = tuple(Segment(i * 1000, 1000, {"src": "two", "in": 3000 - i * 1000, "volume": 100.0 if i != 1 else 0.0})
                 for i in range(4))
    drawn = draw_timeline(Draft(t=(Track(VIDEO, cuts),), m={"canvas": {"w": 320, "h": 180, "fps": 30.0}, "media": {"two": two}}),
                          width=600)
    sounds = {b.index: b for b in drawn.boxes if b.kind == "clip-sound"}
    assert sorted(sounds) == [0, 1, 2, 3] and reads == [(0, 4000)]
    extents = {i: wave_extent(drawn.image, (b.x0 + b.x1) // 2, b.y0, b.y1) for i, b in sounds.items()}
    assert extents[1] <= 2 < 6 <= min(extents[0], extents[2], extents[3])  # the muted cut is flat, the others carry the tone
    assert [b.label for b in sorted(sounds.values(), key=lambda b: b.index)][1] == "muted"
    # thumbnails follow each cut's in-point: 3 s and 2 s are green, 1 s and 0 s red
    clips = sorted((b for b in drawn.boxes if b.kind == "clip"), key=lambda b: b.index)
    colours = [drawn.image.getpixel((b.x0 + 6, b.y1 - 12)) for b in clips]
    assert [near(c, GREEN) for c in colours] == [True, True, False, False]
    assert [near(c, RED) for c in colours] == [False, False, True, True]
