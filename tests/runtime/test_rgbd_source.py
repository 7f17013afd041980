"""The RGB-D frame source: a real colour video (mp4v) paired with 16-bit PNG depth or an 8-bit depth video."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers import write_video

from edgeseg.errors import EdgesegError
from edgeseg.preprocess import depth_to_u8
from edgeseg.runtime.rgbd_source import RGBDSource

H, W = 48, 64



def colour_frames(n):
    return [np.full((H, W, 3), 30 * i, np.uint8) for i in range(n)]


def test_colour_video_with_depth_png_sequence(tmp_path):
    video = write_video(tmp_path / "colour.mp4", colour_frames(5))
    folder = tmp_path / "depth"
    folder.mkdir()
    expected = []
    for i in range(4):  # one frame fewer than the video: the source stops at the shorter stream
        depth = np.zeros((H // 2, W // 2), np.uint16)  # half size: resized (nearest) to the colour frame
        depth[:, : W // 4] = 1000 * (i + 1)
        depth[:, W // 4:] = 12000  # beyond 255 * 40 mm: clipped
        cv2.imwrite(str(folder / f"{i:06d}.png"), depth)
        expected.append(depth_to_u8(cv2.resize(depth, (W, H), interpolation=cv2.INTER_NEAREST), 40.0))
    with RGBDSource(video, folder, depth_scale=40.0) as source:
        frames = list(source)
        assert source.frames == 4
    assert len(frames) == 4
    for i, frame in enumerate(frames):
        assert frame.shape == (H, W, 4) and frame.dtype == np.uint8
        assert np.array_equal(frame[..., 3], expected[i])
        assert frame[..., 3][0, 0] == 25 * (i + 1) and frame[..., 3][0, -1] == 255
        assert abs(int(frame[..., :3].mean()) - 30 * i) <= 3  # the colour frame, up to codec loss


def test_colour_video_with_8bit_depth_video(tmp_path):
    video = write_video(tmp_path / "colour.mp4", colour_frames(3))
    depth_video = write_video(tmp_path / "depth.avi", [np.full((H, W, 3), 50 + 40 * i, np.uint8) for i in range(3)],
                              fourcc="MJPG")
    frames = list(RGBDSource(video, depth_video, depth_scale=40.0))
    assert len(frames) == 3
    for i, frame in enumerate(frames):
        assert abs(float(frame[..., 3].mean()) - (50 + 40 * i)) <= 3  # taken as already-8-bit depth (MJPG loss)


def test_errors(tmp_path):
    video = write_video(tmp_path / "colour.mp4", colour_frames(2))
    with pytest.raises(EdgesegError, match="colour video .*missing.mp4 does not exist"):
        RGBDSource(tmp_path / "missing.mp4", tmp_path, depth_scale=40.0)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EdgesegError, match="holds no .png depth maps"):
        RGBDSource(video, empty, depth_scale=40.0)
    with pytest.raises(EdgesegError, match="depth_scale must be positive"):
        RGBDSource(video, empty, depth_scale=0)
    bad = tmp_path / "bad"
    bad.mkdir()
    cv2.imwrite(str(bad / "0.png"), np.zeros((H, W), np.uint8))
    with pytest.raises(EdgesegError, match="must be single-channel 16-bit PNGs in millimetres"):
        RGBDSource(video, bad, depth_scale=40.0).read()
    (tmp_path / "notvideo.mp4").write_text("hello")
    with pytest.raises(EdgesegError, match="cannot open depth video"):
        RGBDSource(video, tmp_path / "notvideo.mp4", depth_scale=40.0)


def test_runtime_modules_of_part_b_import_without_torch():
    import subprocess
    import sys

    code = ("import sys; import edgeseg.runtime.proposals, edgeseg.runtime.rgbd_source; "
            "bad = [m for m in ('torch', 'edgeseg.train', 'edgeseg.export') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
