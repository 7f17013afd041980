"""SYNTHETIC RGB-D scenes: a procedural, seeded, pure-numpy ray caster with per-pixel labels.

No labelled RGB-D data set is available, so this renders one that tests what
LSTM-CF claims (depth context helps segmentation): some classes differ only
in depth, at the same appearance distribution.

Each scene is a room seen by a pinhole camera (random height, downward pitch,
field of view): a floor plane, a back wall and two side walls, and 3 to 6
floating objects (boxes, spheres, vertical-axis-free cylinders, each at a
random 3-D rotation). Every surface (floor and walls included) draws its
texture from one shared distribution (value noise, stripes or checks in two
random colours), textured in the surface's own coordinates divided by its
size, so a texture looks the same at any distance. Shading is Lambertian under
one random directional light plus ambient (no shadows), with a little pixel
noise.

Classes (``CLASSES``): ``floor``, ``wall``, ``near_box``, ``far_box``,
``near_sphere``, ``far_sphere``, ``cylinder``. A near object's centre is 1.5
to 3 m from the camera, a far one's 4 to 6 m; both are drawn at the same
*apparent* size (their physical size is scaled by their distance) with the
same textures, so near versus far is decided by depth alone (up to weak
monocular cues: occlusion order and where in the frame an object can float
clear of the floor). Box versus sphere versus cylinder is shape (shading
and the depth map's relief).

Depth is the same render's z-buffer (distance along the optical axis) in
millimetres, with sensor-like noise (sigma 1.5 mm x z^2, z in metres, as a
structured-light sensor), quantisation to whole millimetres, and holes (0 = no
reading) at a random 1 % of pixels, in small dropout blobs, and on half of
the pixels where one surface occludes another (a depth jump between two
primitives), as a real sensor loses them.

Output layout is what :func:`edgeseg.datasets.rgbd_samples` reads:
``ROOT/images/SPLIT/STEM.png`` (8-bit BGR), ``ROOT/masks/SPLIT/STEM.png``
(uint8 class ids), ``ROOT/depth/SPLIT/STEM.png`` (uint16 mm), ``ROOT/classes.txt``.
Scene ``i`` of a split depends only on (seed, split, i): the same seed gives
the same files byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CLASSES = ("floor", "wall", "near_box", "far_box", "near_sphere", "far_sphere", "cylinder")
FLOOR, WALL, NEAR_BOX, FAR_BOX, NEAR_SPHERE, FAR_SPHERE, CYLINDER = range(len(CLASSES))
NEAR_RANGE_M = (1.5, 3.0)
FAR_RANGE_M = (4.0, 6.0)
# The object kinds a scene draws from, uniformly: (shape, class id, centre-depth range in metres).
_OBJECT_KINDS = (("box", NEAR_BOX, NEAR_RANGE_M), ("box", FAR_BOX, FAR_RANGE_M),
                 ("sphere", NEAR_SPHERE, NEAR_RANGE_M), ("sphere", FAR_SPHERE, FAR_RANGE_M),
                 ("cylinder", CYLINDER, (1.5, 6.0)))
_SPLIT_SALT = {"train": 1, "val": 2, "test": 3}


@dataclass
class Scene:
    """One rendered frame: ``image`` uint8 H x W x 3 BGR, ``mask`` uint8 H x W class ids,
    ``depth`` uint16 H x W millimetres (0 = no reading), ``true_depth`` float32 H x W
    metres (noise-free z-buffer), ``objects`` list of dicts (kind, class, centre and half-extent in metres,
    camera frame: x right, y down, z forward), ``camera`` its parameters (focal length in pixels, height above
    the floor, downward pitch, back-wall distance, half room width)."""

    image: np.ndarray
    mask: np.ndarray
    depth: np.ndarray
    true_depth: np.ndarray
    objects: list[dict]
    camera: dict


# --- procedural textures -----------------------------------------------------------------------------------------

def _value_noise(p: np.ndarray, seed: int) -> np.ndarray:
    """Smooth lattice value noise in [0, 1] at float N x 3 points ``p`` (unit lattice), trilinear + smoothstep."""
    cell = np.floor(p).astype(np.int64)
    frac = p - cell
    frac = frac * frac * (3.0 - 2.0 * frac)

    def corner(dx: int, dy: int, dz: int) -> np.ndarray:
        h = ((cell[:, 0] + dx) * 73856093) ^ ((cell[:, 1] + dy) * 19349663) ^ ((cell[:, 2] + dz) * 83492791) ^ seed
        h = (h ^ (h >> 13)) * 1274126177
        return ((h ^ (h >> 16)) & 0xFFFF).astype(np.float64) / 65535.0

    out = np.zeros(len(p))
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                w = ((frac[:, 0] if dx else 1 - frac[:, 0]) * (frac[:, 1] if dy else 1 - frac[:, 1])
                     * (frac[:, 2] if dz else 1 - frac[:, 2]))
                out += w * corner(dx, dy, dz)
    return out


def _draw_texture(rng: np.random.Generator) -> Callable[[np.ndarray], np.ndarray]:
    """A texture from the one distribution every class shares: float N x 3 local coords -> float N x 3 RGB 0..1."""
    kind = rng.choice(["noise", "stripes", "checks"])
    colours = rng.uniform(0.1, 0.95, (2, 3))
    frequency = rng.uniform(1.5, 5.0)
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    phase = rng.uniform(0, 2 * np.pi)
    noise_seed = int(rng.integers(0, 2**31))

    def texture(p: np.ndarray) -> np.ndarray:
        if kind == "noise":
            t = _value_noise(p * frequency, noise_seed)
        elif kind == "stripes":
            t = 0.5 + 0.5 * np.sin(2 * np.pi * frequency * (p @ axis) + phase)
        else:
            q = np.floor(p * frequency * 0.7).astype(np.int64)
            t = ((q[:, 0] + q[:, 1] + q[:, 2]) & 1).astype(np.float64)
        return colours[0] * (1 - t[:, None]) + colours[1] * t[:, None]

    return texture


# --- geometry: ray hits in the camera frame (x right, y down, z forward) -----------------------------------------
# Rays are d = ((u - cx) / f, (v - cy) / f, 1) from the origin, so a hit's ray parameter t is its z-depth.

def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    a, b, c, d = q / np.linalg.norm(q)
    return np.array([[a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
                     [2 * (b * c + a * d), a * a - b * b + c * c - d * d, 2 * (c * d - a * b)],
                     [2 * (b * d - a * c), 2 * (c * d + a * b), a * a - b * b - c * c + d * d]])


def _hit_plane(d: np.ndarray, normal: np.ndarray, offset: float) -> np.ndarray:
    """t where rays d (N x 3) meet the plane p . normal = offset (inf where they do not, or behind)."""
    denom = d @ normal
    with np.errstate(divide="ignore", invalid="ignore"):
        t = offset / denom
    return np.where((denom * offset > 0) & np.isfinite(t), t, np.inf)


def _hit_sphere(d: np.ndarray, centre: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """(t, unit normal N x 3) of the nearer hit of rays d with the sphere."""
    a = np.einsum("ij,ij->i", d, d)
    b = -2 * (d @ centre)
    c = centre @ centre - radius * radius
    disc = b * b - 4 * a * c
    t = np.where(disc >= 0, (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a), np.inf)
    t = np.where(t > 0, t, np.inf)
    normal = (d * np.where(np.isfinite(t), t, 0)[:, None] - centre) / radius
    return t, normal


def _hit_box(d: np.ndarray, centre: np.ndarray, rotation: np.ndarray, half: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """(t, unit normal) of rays d with the box ``centre + rotation @ [-half, half]`` (slab method, local frame)."""
    o = rotation.T @ (-centre)
    dl = d @ rotation  # rows: rotation.T @ d
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-half - o) / dl
        t2 = (half - o) / dl
    t_near = np.nanmax(np.minimum(t1, t2), axis=1)
    t_far = np.nanmin(np.maximum(t1, t2), axis=1)
    hit = (t_near <= t_far) & (t_near > 0)
    t = np.where(hit, t_near, np.inf)
    entry = np.minimum(t1, t2)
    face = np.argmax(np.where(np.isnan(entry), -np.inf, entry), axis=1)  # the slab whose entry is the hit
    local = np.zeros_like(d)
    local[np.arange(len(d)), face] = -np.sign(dl[np.arange(len(d)), face])
    return t, local @ rotation.T


def _hit_cylinder(d: np.ndarray, centre: np.ndarray, rotation: np.ndarray, radius: float, half_height: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(t, unit normal) of rays d with the capped cylinder of local axis y (side and both caps)."""
    o = rotation.T @ (-centre)
    dl = d @ rotation
    a = dl[:, 0] ** 2 + dl[:, 2] ** 2
    b = 2 * (o[0] * dl[:, 0] + o[2] * dl[:, 2])
    c = o[0] ** 2 + o[2] ** 2 - radius * radius
    disc = b * b - 4 * a * c
    with np.errstate(divide="ignore", invalid="ignore"):
        t_side = (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a)
    y_side = o[1] + t_side * dl[:, 1]
    t_side = np.where((disc >= 0) & (a > 1e-12) & (t_side > 0) & (np.abs(y_side) <= half_height), t_side, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_cap = (np.where(o[1] > 0, half_height, -half_height) - o[1]) / dl[:, 1]
    pc = o + t_cap[:, None] * dl
    t_cap = np.where((t_cap > 0) & (pc[:, 0] ** 2 + pc[:, 2] ** 2 <= radius * radius), t_cap, np.inf)
    t = np.minimum(t_side, t_cap)
    p = o + np.where(np.isfinite(t), t, 0)[:, None] * dl
    local = np.where((t_cap <= t_side)[:, None], np.array([0.0, 1.0, 0.0]) * np.sign(p[:, 1:2]),
                     np.stack([p[:, 0], np.zeros(len(d)), p[:, 2]], axis=1) / radius)
    return t, local @ rotation.T


# --- the scene -----------------------------------------------------------------------------------------------------

def render_scene(seed: int, height: int, width: int) -> Scene:
    """Render one synthetic RGB-D scene, a pure function of (seed, height, width)."""
    rng = np.random.default_rng(seed)
    fov = np.radians(rng.uniform(55, 70))
    f = 0.5 * width / np.tan(0.5 * fov)
    cam_height = rng.uniform(1.2, 1.8)
    pitch = np.radians(rng.uniform(5, 20))  # looking down
    up = np.array([0.0, -np.cos(pitch), -np.sin(pitch)])  # world up in camera coordinates
    forward = np.array([0.0, -np.sin(pitch), np.cos(pitch)])  # world horizontal forward
    wall_distance = rng.uniform(6.8, 9.0)
    half_room = rng.uniform(3.0, 5.0)

    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    d = np.stack([(u + 0.5 - width / 2) / f, (v + 0.5 - height / 2) / f, np.ones_like(u)], -1).reshape(-1, 3)
    n = len(d)
    best_t = np.full(n, np.inf)
    label = np.zeros(n, np.uint8)
    surface = np.zeros(n, np.int32)  # which primitive each pixel sees, for the sensor's edge dropouts
    normal = np.zeros((n, 3))
    colour = np.zeros((n, 3))
    side = np.array([1.0, 0.0, 0.0])

    def composite(t: np.ndarray, surface_normal: np.ndarray, cls: int, local: Callable[[np.ndarray], np.ndarray],
                  texture: Callable[[np.ndarray], np.ndarray]) -> None:
        win = t < best_t
        if not win.any():
            return
        best_t[win] = t[win]
        label[win] = cls
        surface[win] = surface.max() + 1
        sn = surface_normal if surface_normal.ndim == 2 else np.broadcast_to(surface_normal, (n, 3))
        normal[win] = sn[win]
        colour[win] = texture(local(d[win] * t[win, None]))

    # Floor (y = -cam_height in world), back wall, side walls; textured in metres / a random tile size.
    floor_scale = rng.uniform(0.6, 1.5)
    composite(_hit_plane(d, up, -cam_height), up, FLOOR,
              lambda p: np.stack([p @ side, p @ forward, np.zeros(len(p))], 1) / floor_scale, _draw_texture(rng))
    wall_texture, wall_scale = _draw_texture(rng), rng.uniform(0.6, 1.5)
    composite(_hit_plane(d, forward, wall_distance), -forward, WALL,
              lambda p: np.stack([p @ side, p @ up, np.zeros(len(p))], 1) / wall_scale, wall_texture)
    for sign in (-1.0, 1.0):
        composite(_hit_plane(d, side, sign * half_room), -sign * side, WALL,
                  lambda p: np.stack([p @ forward, p @ up, np.full(len(p), 7.0)], 1) / wall_scale, wall_texture)

    objects = []
    for _ in range(int(rng.integers(3, 7))):
        shape, cls, depth_range = _OBJECT_KINDS[int(rng.integers(len(_OBJECT_KINDS)))]
        texture = _draw_texture(rng)
        rotation = _random_rotation(rng)
        for _attempt in range(20):  # an object floats clear of floor and walls; redraw its place until it does
            z = rng.uniform(*depth_range)
            size = rng.uniform(0.07, 0.16) * min(height, width) * z / f  # same apparent size at any depth
            centre = np.array([rng.uniform(-0.45, 0.45) * width * z / f, rng.uniform(-0.45, 0.45) * height * z / f, z])
            reach = size * np.sqrt(3)  # bounds every shape's extent (box corners, cylinder rims)
            clear = (centre @ up + cam_height > reach and wall_distance - centre @ forward > reach
                     and half_room - abs(centre[0]) > reach)
            if clear:
                break
        else:
            continue
        if shape == "box":
            half = size * rng.uniform(0.55, 1.0, 3)
            t, sn = _hit_box(d, centre, rotation, half)
            extent = half
        elif shape == "sphere":
            t, sn = _hit_sphere(d, centre, size)
            extent = np.full(3, size)
        else:
            radius, half_height = size * rng.uniform(0.45, 0.8), size * rng.uniform(0.8, 1.1)
            t, sn = _hit_cylinder(d, centre, rotation, radius, half_height)
            extent = np.array([radius, half_height, radius])
        def local(p: np.ndarray, c: np.ndarray = centre, r: np.ndarray = rotation, s: float = size) -> np.ndarray:
            return ((p - c) @ r) / s

        composite(t, sn, cls, local, texture)
        objects.append({"kind": shape, "class": CLASSES[cls], "centre_m": centre.round(4).tolist(),
                        "extent_m": extent.round(4).tolist()})

    # Lambertian shading: one directional light from above and behind the camera, plus ambient.
    light = up * rng.uniform(0.5, 1.0) + np.array([0.0, 0.0, -0.5]) + rng.normal(0, 0.5, 3)  # toward the light
    light /= np.linalg.norm(light)
    ambient = rng.uniform(0.25, 0.45)
    facing = np.where((np.einsum("ij,ij->i", normal, d) > 0)[:, None], -normal, normal)  # normals toward the camera
    shade = ambient + (1 - ambient) * np.clip(facing @ light, 0, 1)
    rgb = colour * shade[:, None] * rng.uniform(0.8, 1.1)
    rgb = rgb.reshape(height, width, 3) * 255 + rng.normal(0, 2.0, (height, width, 3))
    image = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)[:, :, ::-1].copy()  # BGR

    true_depth = best_t.reshape(height, width)
    depth = _sensor_depth(true_depth, surface.reshape(height, width), rng)
    camera = {"focal_px": f, "height_m": cam_height, "pitch_rad": pitch, "wall_distance_m": wall_distance,
              "half_room_m": half_room}
    return Scene(image, label.reshape(height, width), depth, true_depth.astype(np.float32), objects, camera)


def _sensor_depth(true_depth: np.ndarray, surface: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint16 mm: z^2-scaled noise, whole millimetres, 0 (no reading) in dropout blobs and on half the pixels
    where one surface occludes another (``surface``: int H x W primitive ids; a depth jump over 5 %)."""
    h, w = true_depth.shape
    noisy = true_depth + rng.normal(0, 1.0, true_depth.shape) * 0.0015 * true_depth ** 2
    mm = np.clip(np.rint(noisy * 1000), 1, 65535).astype(np.uint16)
    holes = rng.random((h, w)) < 0.01 / 5  # blob seeds; each grows to a plus of 5 pixels
    holes = holes | np.roll(holes, 1, 0) | np.roll(holes, -1, 0) | np.roll(holes, 1, 1) | np.roll(holes, -1, 1)
    edge = np.zeros((h, w), bool)
    edge[:, 1:] |= (np.diff(surface, axis=1) != 0) & (np.abs(np.diff(true_depth, axis=1)) > 0.05 * true_depth[:, 1:])
    edge[1:, :] |= (np.diff(surface, axis=0) != 0) & (np.abs(np.diff(true_depth, axis=0)) > 0.05 * true_depth[1:, :])
    holes |= edge & (rng.random((h, w)) < 0.5)
    mm[holes] = 0
    return mm


def scene_seed(seed: int, split: str, index: int) -> int:
    """The render seed of scene ``index`` of ``split``: independent streams per (seed, split, index)."""
    return int(np.random.SeedSequence([seed, _SPLIT_SALT.get(split, 9), index]).generate_state(1)[0])


def write_dataset(root: str | Path, splits: dict[str, int], height: int, width: int, seed: int,
                  zero_depth: bool = False) -> dict:
    """Render and write ``splits`` ({split: count}) under ``root``; return the manifest it writes.

    ``root`` must be absent or an empty folder (a data set is never
    overwritten). Every file is written to a temporary name and renamed.
    ``zero_depth``: write every depth map as all 0 (no reading), the same
    scenes otherwise, for the RGB-only ablation.
    """
    import cv2

    from edgeseg.atomic import atomic_path, atomic_write_text
    from edgeseg.errors import EdgesegError

    root = Path(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise EdgesegError(f"{root} exists and is not an empty folder; choose a new folder for the synthetic data set "
                           "(an existing data set is never overwritten)")
    if height % 8 or width % 8 or height < 16 or width < 16:
        raise EdgesegError(f"size {height}x{width}: height and width must be multiples of 8 and at least 16")
    counts = {name: [0] * len(CLASSES) for name in splits}
    for split, count in splits.items():
        for sub in ("images", "masks", "depth"):
            (root / sub / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            scene = render_scene(scene_seed(seed, split, i), height, width)
            depth = np.zeros_like(scene.depth) if zero_depth else scene.depth
            stem = f"synth_{split}_{i:05d}.png"
            for sub, array in (("images", scene.image), ("masks", scene.mask), ("depth", depth)):
                with atomic_path(root / sub / split / stem, keep_suffix=True) as tmp:
                    if not cv2.imwrite(str(tmp), array):
                        raise EdgesegError(f"cannot write {root / sub / split / stem}: OpenCV's PNG writer failed")
            for cls, n in zip(*np.unique(scene.mask, return_counts=True)):
                counts[split][int(cls)] += int(n)
    atomic_write_text(root / "classes.txt", "\n".join(CLASSES) + "\n")
    manifest = {"synthetic": True, "generator": "edgeseg.train.data.synthetic_rgbd", "seed": seed,
                "height": height, "width": width, "splits": splits, "zero_depth": zero_depth,
                "classes": list(CLASSES), "pixels_per_class": counts}
    atomic_write_text(root / "SYNTHETIC.json", json.dumps(manifest, indent=1) + "\n")
    return manifest
