"""The deployment contract a semantic ONNX must meet before ``edgeseg build`` writes anything.

``image`` uint8 N x H x W x C (C = the metadata's channels) in, ``labels``
uint8 N x H x W out, with the same H and W: one label per input pixel. A
graph from elsewhere whose labels come at another size (logits never resized
up) would build, then draw a misplaced overlay; this check names it first.
"""

from __future__ import annotations

from typing import Any

from edgeseg.errors import EdgesegError
from edgeseg.tasks import task_of

FIX = "re-import it with 'edgeseg import MODEL --classes FILE', which resizes low-resolution logits up before the argmax"


def check_semantic_contract(path: Any, metadata: Any, inputs: dict, outputs: dict) -> None:
    """Raise naming what breaks the contract; ``inputs``/``outputs``: name -> (type name, dims with None for dynamic)."""
    if "labels" not in task_of(metadata).output_names:  # the label contract is for tasks that output labels
        return
    if "image" not in inputs:
        raise EdgesegError(f"{path}: no input 'image' (inputs: {', '.join(inputs)}); {FIX}")
    if "labels" not in outputs:
        raise EdgesegError(f"{path}: no output 'labels' (outputs: {', '.join(outputs)}); {FIX}")
    (_, image), (_, labels) = inputs["image"], outputs["labels"]
    if len(image) != 4 or len(labels) != 3:
        raise EdgesegError(f"{path}: 'image' must be N x H x W x C and 'labels' N x H x W, got {image} and {labels}; {FIX}")
    for axis, name in ((1, "height"), (2, "width")):
        if labels[axis] is not None and image[axis] is not None and labels[axis] != image[axis]:
            raise EdgesegError(f"{path}: labels are {labels[1]}x{labels[2]} but the input is {image[1]}x{image[2]} "
                               f"(different {name}); the contract is one label per input pixel: {FIX}")
