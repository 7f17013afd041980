"""Copy a run's checkpoint into models/ without optimizer or RNG state.

    python scripts/publish_checkpoint.py runs/camvid_enet/best.pt models/camvid_enet.pt
"""

from __future__ import annotations

import sys

from edgeseg.train.checkpoint import load_checkpoint, save_checkpoint, weights_only_copy


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    source, target = argv
    checkpoint = weights_only_copy(load_checkpoint(source))
    save_checkpoint(target, checkpoint)
    meta = checkpoint["metadata"]["training"]
    print(f"{target}: {checkpoint['metadata']['architecture']}, epoch {checkpoint['epoch']}, val mIoU {meta.get('val_miou')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
