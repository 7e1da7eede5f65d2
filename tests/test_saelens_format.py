"""SAELens' on-disk format: checked-in folders written by SAELens 6.5.3 load and encode as
SAELens encoded them; bad folders are refused. The comparisons with an installed SAELens
(folders of every kind, both ways) are in tests/test_conformance.py."""

import json
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sae import architectures, pipeline, saelens_format

FIXTURES = Path(__file__).parent / "fixtures"
EXPECTED = json.loads((FIXTURES / "saelens_expected_codes.json").read_text())


def _encode(loaded, x):
    hps = pipeline.stack([architectures.hparams(k=loaded.k or 1)])
    return np.asarray(pipeline.encode(loaded.arch, pipeline.stack([jax.tree.map(jnp.asarray, loaded.params)]), hps, x))[0]


@pytest.mark.parametrize("name, arch", [("saelens_topk", "topk"), ("saelens_standard", "relu"), ("saelens_jumprelu", "jumprelu")])
def test_folders_written_by_saelens_encode_as_saelens_encoded_them(name, arch):
    loaded = saelens_format.load(FIXTURES / name)
    assert loaded.arch == arch
    codes = _encode(loaded, np.asarray(EXPECTED["x"], np.float32))
    np.testing.assert_allclose(codes, np.asarray(EXPECTED[name]), atol=1e-5)
    assert (codes > 0).any() and not (codes > 0).all()  # a real test: some latents on, some off


def test_written_folder_has_saelens_fields_and_tensors(tmp_path):
    from safetensors.numpy import load_file

    params = jax.tree.map(np.asarray, saelens_format.load(FIXTURES / "saelens_jumprelu").params)
    folder = saelens_format.save(tmp_path / "jr", "batchtopk", params, k=3, extra={"seed": 1})
    cfg = json.loads((folder / "cfg.json").read_text())
    assert cfg["architecture"] == "jumprelu" and cfg["normalize_activations"] == "constant_norm_rescale"
    assert cfg["d_in"] == 8 and cfg["d_sae"] == 12 and cfg["apply_b_dec_to_input"] is True
    assert cfg["toylab"]["architecture"] == "batchtopk" and cfg["toylab"]["seed"] == 1
    tensors = load_file(str(folder / "sae_weights.safetensors"))
    assert {name: t.shape for name, t in tensors.items()} == {
        "W_enc": (8, 12),
        "b_enc": (12,),
        "W_dec": (12, 8),
        "b_dec": (8,),
        "threshold": (12,),
    }
    np.testing.assert_allclose(tensors["threshold"], np.exp(params.log_threshold), rtol=1e-6)


def _copy(tmp_path, name="saelens_topk"):
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target)
    return target


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: (f / "cfg.json").unlink(), "cfg.json: missing"),
        (lambda f: (f / "sae_weights.safetensors").write_bytes(b"\x00garbage"), "not a readable safetensors"),
        (lambda f: (f / "cfg.json").write_text("{not json"), "not valid JSON"),
        (lambda f: _edit(f, architecture="transcoder"), "architecture: got 'transcoder'"),
        (lambda f: _edit(f, d_in=9), "W_dec: got shape"),
        (lambda f: _edit(f, k=0), "k: got 0"),
        (lambda f: _edit(f, normalize_activations="layer_norm"), "normalize_activations"),
    ],
)
def test_bad_folders_are_refused_with_one_line(tmp_path, damage, message):
    folder = _copy(tmp_path)
    damage(folder)
    with pytest.raises(saelens_format.FormatError, match=message) as error:
        saelens_format.load(folder)
    assert "\n" not in str(error.value)


def _edit(folder, **changes):
    cfg = json.loads((folder / "cfg.json").read_text())
    cfg.update(changes)
    (folder / "cfg.json").write_text(json.dumps(cfg))


@pytest.mark.parametrize("arch", ["jumprelu", "batchtopk"])
def test_thresholds_survive_the_round_trip_bit_for_bit(arch, tmp_path):
    # SAELens stores θ, toylab log θ: the encoders must see the same θ after a save and a load,
    # or a latent sitting at its threshold flips (and a re-scored run differs from the run).
    params = jax.tree.map(lambda a: np.asarray(a[0]), pipeline.baseline("gaussian", jax.random.split(jax.random.key(0), 1), 8, 4096))
    log_threshold = (np.random.default_rng(1).normal(size=4096) * 3).astype(np.float32)
    params = params.replace(log_threshold=log_threshold)
    loaded = saelens_format.load(saelens_format.save(tmp_path / arch, arch, params, k=2))
    np.testing.assert_array_equal(np.asarray(jnp.exp(loaded.params.log_threshold)), np.asarray(jnp.exp(log_threshold)))


def _toylab_folder(tmp_path, arch="topk"):
    params = jax.tree.map(lambda a: np.asarray(a[0]), pipeline.baseline("gaussian", jax.random.split(jax.random.key(0), 1), 8, 16))
    return saelens_format.save(tmp_path / arch, arch, params, k=3, extra={"k": 3, "hparams": {"k": 3}})


@pytest.mark.parametrize("where", ["k", "hparams"])
def test_a_hyperparameter_written_twice_must_say_one_thing(tmp_path, where):
    folder = _toylab_folder(tmp_path)
    assert saelens_format.load(folder).k == 3
    cfg = json.loads((folder / "cfg.json").read_text())
    if where == "k":
        cfg["toylab"]["k"] = 5
    else:
        cfg["toylab"]["hparams"]["k"] = 5
    (folder / "cfg.json").write_text(json.dumps(cfg))
    with pytest.raises(saelens_format.FormatError, match="a dictionary has one k") as error:
        saelens_format.load(folder)
    assert "\n" not in str(error.value)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.integers(10**18, 10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e300, "true", "topk", "none", "1e999"])
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner, max_size=2),
    max_leaves=4,
)


@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["saelens_topk", "saelens_standard", "saelens_jumprelu"]), st.data(), JSON_VALUES)
def test_a_saelens_cfg_with_any_value_loads_or_is_refused_in_one_line(tmp_path_factory, name, data, value):
    """Fuzz of a SAELens folder's cfg.json (no toylab fields): any key given any JSON value (huge numbers, text
    for numbers, lists for names) loads or raises FormatError with one line; nothing else escapes."""
    folder = _copy(tmp_path_factory.mktemp("fuzz"), name)
    cfg = json.loads((folder / "cfg.json").read_text())
    key = data.draw(st.sampled_from(sorted(cfg) + ["max_iterations", "residual_threshold"]), label="key")
    cfg[key] = value
    (folder / "cfg.json").write_text(json.dumps(cfg))
    try:
        saelens_format.load(folder)
        event("loaded")
    except saelens_format.FormatError as error:
        event("refused")
        assert "\n" not in str(error)


def _header(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    size = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + size]), raw[8 + size :]


def _write_header(path: Path, header, data: bytes, declared: int | None = None):
    text = json.dumps(header).encode()
    path.write_bytes((len(text) if declared is None else declared).to_bytes(8, "little") + text + data)


HEADER_EDITS = {
    "dtype F64 on float32 bytes": lambda h, d: ({**h, "W_dec": {**h["W_dec"], "dtype": "F64"}}, d, None),
    "dtype I8": lambda h, d: ({**h, "W_dec": {**h["W_dec"], "dtype": "I8"}}, d, None),
    "shape past the data": lambda h, d: ({**h, "W_dec": {**h["W_dec"], "shape": [10**9, 10**9]}}, d, None),
    "offsets past the data": lambda h, d: ({**h, "W_dec": {**h["W_dec"], "data_offsets": [0, 10**12]}}, d, None),
    "header length 2^63": lambda h, d: (h, d, 2**63 - 1),
    "header length 0": lambda h, d: (h, d, 0),
    "data cut in half": lambda h, d: (h, d[: len(d) // 2], None),
    "tensor missing": lambda h, d: ({k: v for k, v in h.items() if k != "W_dec"}, d, None),
    "header a list": lambda h, d: ([1, 2], d, None),
}


@settings(max_examples=len(HEADER_EDITS) * 2, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(HEADER_EDITS)), st.sampled_from(["saelens_topk", "saelens_jumprelu"]))
def test_a_damaged_safetensors_header_is_refused_in_one_line(tmp_path_factory, edit, name):
    """Fuzz of the weights file's header (dtype, shape, offsets, declared length, truncation): refused with
    one line naming the file, never an allocation of what the header claims, never another exception."""
    folder = _copy(tmp_path_factory.mktemp("header"), name)
    path = folder / "sae_weights.safetensors"
    header, data = _header(path)
    header, data, declared = HEADER_EDITS[edit](header, data)
    _write_header(path, header, data, declared)
    with pytest.raises(saelens_format.FormatError) as error:
        saelens_format.load(folder)
    assert "\n" not in str(error.value)
