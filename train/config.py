"""The training config: the schema of ``configs/*.toml``.

Top-level keys are the training loop's; ``[model]``, ``[data]`` and
``[augment]`` are tables. ``edgeseg train CONFIG --set key=value`` overrides
any key, nested ones with dots (``--set data.root=/data/camvid``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from edgeseg.ranges import AT_LEAST_ONE, FRACTION, NON_NEGATIVE, POSITIVE, SIDE, Range

# Each table's FIELD_RANGES: the allowed range of its numeric keys, checked by
# edgeseg.schema.build (through edgeseg.config) for the TOML file and every --set (lists: each entry).


@dataclass
class ModelConfig:
    """``name``: registry name (``edgeseg models``); ``args``: factory kwargs."""

    name: str = "enet"
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataConfig:
    """Where the data is and how the model sees it.

    ``kind`` is ``camvid`` (SegNet tutorial layout), ``folder`` (images +
    masks + classes file), ``cityscapes``, ``voc`` (``voc_aug`` with SBD) or
    ``ade20k`` in their official layouts. ``height``/``width`` is the evaluation and export
    size; ``mean``/``std`` are RGB in 0..255 units.

    ``rgbd`` is ``folder`` plus ``ROOT/{depth_dir}/SPLIT/STEM.png`` 16-bit depth
    in millimetres, fed to the model as a fourth 8-bit channel
    ``round(mm / depth_scale)`` (0 = no reading); ``mean``/``std`` then have four
    entries (R, G, B, depth).

    ``train_prefixes``/``val_prefixes``: keep only the samples whose image file
    name starts with one of these (empty: all). CamVid's names start with their
    drive (``0001TP``, ``0006R0``, ``0016E5``), so a recipe is validated on a
    drive it never trained on: ``train_prefixes = ["0001TP", "0016E5"]``,
    ``val_split = "train"``, ``val_prefixes = ["0006R0"]`` (docs/protocol.md).

    ``cache``: ``auto`` (default) decodes a split once and holds it in memory
    when its decoded size is at most a quarter of the RAM (CamVid's train
    split: about 190 MB), else decodes each sample when it is read;
    ``memory`` and ``disk`` force one or the other.

    ``coco`` (proposal models only):
    ``ROOT/images/SPLIT/`` and ``ROOT/annotations/SPLIT.json``.
    """

    kind: Literal["camvid", "folder", "cityscapes", "voc", "voc_aug", "ade20k", "rgbd", "coco"] = "camvid"
    root: str = "../shared/data/camvid"
    train_split: str = "train"
    val_split: str = "val"
    train_prefixes: list[str] = field(default_factory=list)
    val_prefixes: list[str] = field(default_factory=list)
    images_dir: str = "images"
    masks_dir: str = "masks"
    classes_file: str = "classes.txt"
    depth_dir: str = "depth"
    depth_scale: float = 40.0
    cache: Literal["auto", "memory", "disk"] = "auto"
    height: int = 360
    width: int = 480
    mean: list[float] = field(default_factory=lambda: [105.0, 108.0, 110.0])
    std: list[float] = field(default_factory=lambda: [78.0, 79.0, 78.0])

    FIELD_RANGES: ClassVar[dict[str, Range]] = {
        "height": SIDE, "width": SIDE, "depth_scale": POSITIVE, "mean": Range(0, 255), "std": POSITIVE,
    }


@dataclass
class AugmentConfig:
    """Training augmentation, applied identically to image and mask.

    ``fast`` (default true): scale, crop and flip as one warp computed at the
    crop, colour jitter by lookup tables (:func:`edgeseg.train.data.transforms.augment`);
    false: the step-by-step chain, same draws and geometry, about twice the cost.
    """

    scale_min: float = 0.75
    scale_max: float = 1.5
    crop_height: int = 360
    crop_width: int = 480
    hflip: bool = True
    brightness: float = 0.25
    contrast: float = 0.25
    saturation: float = 0.25
    hue_degrees: float = 5.0
    fast: bool = True

    FIELD_RANGES: ClassVar[dict[str, Range]] = {
        "scale_min": POSITIVE, "scale_max": POSITIVE, "crop_height": SIDE, "crop_width": SIDE,
        "brightness": FRACTION, "contrast": FRACTION, "saturation": FRACTION, "hue_degrees": Range(0, 180),
    }


@dataclass
class TrainConfig:
    """The training loop.

    ``max_train_images``/``max_val_images``: 0 means all. ``lr`` is the peak
    after ``warmup_epochs`` of linear warm-up; then poly decay to zero.
    ``score_weight`` (proposal models only): the weight of the objectness term of the
    DeepMask loss, the paper's 1/32 by default (docs/proposals.md: with a short
    schedule that weight leaves the score at chance). ``class_weighting``: ``median_frequency`` (SegNet), ``enet``
    (1 / ln(1.02 + p), the ENet paper) or ``none``. ``batch_size`` is the
    global batch (split across processes under torchrun). ``sync_bn``:
    synchronised batch norm across processes (CUDA only). ``freeze_bn``:
    batch norm uses and keeps its running statistics (fine-tuning).

    Speed (none changes what is trained beyond rounding; see
    :mod:`edgeseg.train.speed`, and ``metrics.jsonl`` records what a run used):

    - ``compile`` (true): ``torch.compile`` the model's forward and the loss
      as one graph (static shapes). Costs
      about 1-2 minutes once; TorchInductor caches the result on disk
      (``compile_cache_dir``, "" = torch's default ``/tmp/torchinductor_$USER``),
      so a resumed run on the same machine compiles from cache.
    - ``amp`` (true) and ``amp_dtype`` (``auto``): mixed precision. ``auto`` is
      bf16 autocast on a CPU with AVX-512 BF16 or AMX (FP32 on other CPUs) and
      on a CUDA GPU with bf16, fp16 with a grad scaler on older GPUs.
    - ``channels_last`` (``auto``): NHWC memory format. ``auto`` is on for CUDA,
      and on CPU per architecture as measured (``CHANNELS_LAST_FASTER_ON_CPU``).
    - ``fused_optimizer`` (``auto``): the optimizer's fused kernel (one pass over
      all parameters instead of a loop per tensor); ``auto`` is on where torch
      has one for the device (CPU and CUDA).
    - ``threads`` (0 = all cores): intra-op threads; ``interop_threads`` (1);
      ``prefetch_batches`` (``auto``): batches augmented ahead in a background thread
      (OpenCV releases the GIL), ``num_workers`` (0): data loader processes,
      which on a 2-core machine only compete with the model for the cores.
    """

    epochs: int = 100
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 1e-4
    optimizer: Literal["adamw", "sgd"] = "adamw"
    momentum: float = 0.9
    warmup_epochs: float = 2.0
    poly_power: float = 0.9
    seed: int = 0
    max_train_images: int = 0
    max_val_images: int = 0
    num_workers: int = 0
    threads: int = 0
    amp: bool = True
    amp_dtype: Literal["auto", "bf16", "fp16"] = "auto"
    compile: bool = True
    compile_cache_dir: str = ""
    channels_last: bool | Literal["auto"] = "auto"
    fused_optimizer: bool | Literal["auto"] = "auto"
    interop_threads: int = 1
    prefetch_batches: int | Literal["auto"] = "auto"
    class_weighting: Literal["median_frequency", "enet", "none"] = "median_frequency"
    score_weight: float = 1 / 32
    val_every: int = 1
    device: str = "auto"
    sync_bn: bool = False
    freeze_bn: bool = False
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    FIELD_RANGES: ClassVar[dict[str, Range]] = {
        "epochs": AT_LEAST_ONE, "batch_size": AT_LEAST_ONE,
        "lr": Range(0, low_open=True, hint="a learning rate is a positive number, e.g. 2e-3"),
        "weight_decay": NON_NEGATIVE, "momentum": Range(0, 1, high_open=True), "warmup_epochs": NON_NEGATIVE,
        "poly_power": NON_NEGATIVE, "seed": NON_NEGATIVE, "max_train_images": NON_NEGATIVE,
        "max_val_images": NON_NEGATIVE, "num_workers": NON_NEGATIVE, "threads": NON_NEGATIVE, "val_every": AT_LEAST_ONE,
        "interop_threads": NON_NEGATIVE, "prefetch_batches": NON_NEGATIVE, "score_weight": NON_NEGATIVE,
    }
