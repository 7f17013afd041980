"""Property-based tests of the parsers edgeseg writes itself: config overrides, metadata."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from edgeseg.config import apply_overrides, build_dataclass, parse_override
from edgeseg.errors import EdgesegError
from edgeseg.metadata import ModelMetadata

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_parse_override_never_crashes(text):
    try:
        keys, _ = parse_override(text)
    except EdgesegError as exc:
        assert "--set" in str(exc)
    else:
        assert keys and all(keys)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_train_config_rejects_or_builds(tree):
    from edgeseg.train.config import TrainConfig

    try:
        cfg = build_dataclass(TrainConfig, tree)
    except EdgesegError as exc:
        assert str(exc)  # a message, never another exception type
    else:
        assert isinstance(cfg, TrainConfig)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="abc.=", max_size=10), max_size=5))
def test_apply_overrides_is_total(overrides):
    try:
        apply_overrides({"a": {"b": 1}, "c": 2}, overrides)
    except EdgesegError:
        pass


VALID = ModelMetadata.from_dict({
    "schema_version": 1, "architecture": "enet", "classes": ["a", "b"], "palette": [[0, 0, 0], [1, 2, 3]],
    "input": {"height": 8, "width": 8},
}).to_dict()


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(VALID)), json_values)
def test_metadata_with_any_field_replaced_is_accepted_or_rejected_cleanly(key, value):
    data = json.loads(json.dumps(VALID))
    data[key] = value
    try:
        meta = ModelMetadata.from_dict(data)
    except EdgesegError as exc:
        assert str(exc).startswith("metadata")
    else:
        meta.validate()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_metadata_json_text_never_crashes(text):
    try:
        ModelMetadata.from_json(text)
    except EdgesegError:
        pass
