"""The CTranslate2 reader and converter, on a hand-written miniature model and on the installed tiny.en."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import torch
from whisper.model import ModelDimensions, Whisper

from course_utils import ct2

DIMS = dict(n_mels=4, n_audio_ctx=6, n_audio_state=8, n_audio_head=2, n_audio_layer=2, n_vocab=51864,
            n_text_ctx=5, n_text_state=8, n_text_head=2, n_text_layer=2)


def _write_string(fp, text: str) -> None:
    fp.write(struct.pack("<H", len(text) + 1) + text.encode() + b"\0")


def write_ct2(path: Path, variables: dict[str, torch.Tensor], spec: str = "WhisperSpec") -> None:
    """Write tensors in CTranslate2's model.bin layout (binary version 6), as its converter does."""
    type_ids = {torch.float32: 0, torch.int8: 1, torch.int16: 2, torch.int32: 3, torch.float16: 4}
    with open(path, "wb") as fp:
        fp.write(struct.pack("<I", 6))
        _write_string(fp, spec)
        fp.write(struct.pack("<II", 3, len(variables)))
        for name, tensor in variables.items():
            _write_string(fp, name)
            fp.write(struct.pack("<B", tensor.dim()) + struct.pack(f"<{tensor.dim()}I", *tensor.shape))
            data = tensor.contiguous().numpy().tobytes()
            fp.write(struct.pack("<BI", type_ids[tensor.dtype], len(data)) + data)
        fp.write(struct.pack("<I", 1))
        _write_string(fp, "decoder/projection/weight")
        _write_string(fp, "decoder/embeddings/weight")


def ct2_variables_from(model: Whisper) -> dict[str, torch.Tensor]:
    """What CTranslate2's converter stores for a Whisper model: fused q/k/v rows, zero key bias."""
    sd, d, v = model.state_dict(), model.dims, {}

    def linear(src: str, dst: str) -> None:
        v[f"{dst}/weight"] = sd[f"{src}.weight"]
        v[f"{dst}/bias"] = sd[f"{src}.bias"]

    def norm(src: str, dst: str) -> None:
        v[f"{dst}/gamma"], v[f"{dst}/beta"] = sd[f"{src}.weight"], sd[f"{src}.bias"]

    def fused(src: str, parts: list[str], dst: str) -> None:
        v[f"{dst}/weight"] = torch.cat([sd[f"{src}.{p}.weight"] for p in parts])
        v[f"{dst}/bias"] = torch.cat([sd.get(f"{src}.{p}.bias", torch.zeros(sd[f"{src}.{p}.weight"].shape[0]))
                                      for p in parts])

    v["encoder/num_heads"] = torch.tensor([d.n_audio_head], dtype=torch.int16).reshape(())
    v["decoder/num_heads"] = torch.tensor([d.n_text_head], dtype=torch.int16).reshape(())
    linear("encoder.conv1", "encoder/conv1")
    linear("encoder.conv2", "encoder/conv2")
    v["encoder/position_encodings/encodings"] = sd["encoder.positional_embedding"]
    for i in range(d.n_audio_layer):
        s, t = f"encoder.blocks.{i}", f"encoder/layer_{i}"
        norm(f"{s}.attn_ln", f"{t}/self_attention/layer_norm")
        fused(f"{s}.attn", ["query", "key", "value"], f"{t}/self_attention/linear_0")
        linear(f"{s}.attn.out", f"{t}/self_attention/linear_1")
        norm(f"{s}.mlp_ln", f"{t}/ffn/layer_norm")
        linear(f"{s}.mlp.0", f"{t}/ffn/linear_0")
        linear(f"{s}.mlp.2", f"{t}/ffn/linear_1")
    norm("encoder.ln_post", "encoder/layer_norm")
    v["decoder/embeddings/weight"] = sd["decoder.token_embedding.weight"]
    v["decoder/position_encodings/encodings"] = sd["decoder.positional_embedding"]
    for i in range(d.n_text_layer):
        s, t = f"decoder.blocks.{i}", f"decoder/layer_{i}"
        norm(f"{s}.attn_ln", f"{t}/self_attention/layer_norm")
        fused(f"{s}.attn", ["query", "key", "value"], f"{t}/self_attention/linear_0")
        linear(f"{s}.attn.out", f"{t}/self_attention/linear_1")
        norm(f"{s}.cross_attn_ln", f"{t}/attention/layer_norm")
        linear(f"{s}.cross_attn.query", f"{t}/attention/linear_0")
        fused(f"{s}.cross_attn", ["key", "value"], f"{t}/attention/linear_1")
        linear(f"{s}.cross_attn.out", f"{t}/attention/linear_2")
        norm(f"{s}.mlp_ln", f"{t}/ffn/layer_norm")
        linear(f"{s}.mlp.0", f"{t}/ffn/linear_0")
        linear(f"{s}.mlp.2", f"{t}/ffn/linear_1")
    norm("decoder.ln", "decoder/layer_norm")
    return v


@pytest.fixture
def random_whisper() -> Whisper:
    torch.manual_seed(0)
    model = Whisper(ModelDimensions(**DIMS))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_()
    return model


def test_round_trip_recovers_every_tensor(tmp_path, random_whisper):
    write_ct2(tmp_path / "model.bin", ct2_variables_from(random_whisper))
    checkpoint = ct2.convert_ct2_to_whisper(tmp_path, dtype=torch.float32)
    assert checkpoint["dims"] == DIMS
    rebuilt = Whisper(ModelDimensions(**checkpoint["dims"]))
    rebuilt.load_state_dict(checkpoint["model_state_dict"], strict=True)
    for name, tensor in random_whisper.state_dict().items():
        assert torch.equal(rebuilt.state_dict()[name], tensor), name


def test_int8_weights_are_dequantised_with_their_scales(tmp_path, random_whisper):
    variables = ct2_variables_from(random_whisper)
    weight = variables["encoder/layer_0/ffn/linear_0/weight"]
    scale = 127.0 / weight.abs().amax(dim=1)
    variables["encoder/layer_0/ffn/linear_0/weight"] = torch.round(weight * scale[:, None]).to(torch.int8)
    variables["encoder/layer_0/ffn/linear_0/weight_scale"] = scale
    write_ct2(tmp_path / "model.bin", variables)
    state = ct2.whisper_state_dict(ct2.read_ct2_model(tmp_path))
    assert torch.allclose(state["encoder.blocks.0.mlp.0.weight"], weight, atol=weight.abs().max().item() / 100)


def test_key_bias_must_be_zero(tmp_path, random_whisper):
    variables = ct2_variables_from(random_whisper)
    variables["encoder/layer_1/self_attention/linear_0/bias"] = torch.ones(3 * DIMS["n_audio_state"])
    write_ct2(tmp_path / "model.bin", variables)
    with pytest.raises(ValueError, match="non-zero bias"):
        ct2.convert_ct2_to_whisper(tmp_path)


def test_other_specs_are_refused(tmp_path, random_whisper):
    write_ct2(tmp_path / "model.bin", ct2_variables_from(random_whisper), spec="TransformerSpec")
    with pytest.raises(ValueError, match="not a Whisper model"):
        ct2.convert_ct2_to_whisper(tmp_path)


def test_truncated_model_bin_names_the_problem(tmp_path, random_whisper):
    write_ct2(tmp_path / "full.bin", ct2_variables_from(random_whisper))
    data = (tmp_path / "full.bin").read_bytes()
    (tmp_path / "model.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated"):
        ct2.read_ct2_model(tmp_path)


def test_missing_model_bin(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.bin"):
        ct2.read_ct2_model(tmp_path)


def test_alignment_heads_dump_round_trips_through_whisper(random_whisper):
    heads = [[1, 0], [1, 1], [0, 1]]
    random_whisper.set_alignment_heads(ct2.alignment_heads_dump(heads, DIMS["n_text_layer"], DIMS["n_text_head"]))
    assert sorted(random_whisper.alignment_heads.indices().T.tolist()) == sorted(heads)
    with pytest.raises(ValueError, match="outside"):
        ct2.alignment_heads_dump([[5, 0]], DIMS["n_text_layer"], DIMS["n_text_head"])
