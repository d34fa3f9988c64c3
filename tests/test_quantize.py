"""int8 Whisper (course_utils.quantize) and shorter encoder windows (course_utils.encoder_ctx) on tiny.en."""

import pytest
import torch
import whisper
from whisper.audio import N_FFT, N_FRAMES

from course_utils.corpus import jfk
from course_utils.encoder_ctx import audio_ctx, ctx_for, encode_short, transcribe_batch_short
from course_utils.longform.fast_decoding import fast_decoding
from course_utils.models import load_model
from course_utils.quantize import PARTS, RECOMMENDED, Int8Linear, expand_parts, int8_layers, quantize
from course_utils.scoring import wer

OPTIONS = whisper.DecodingOptions(language="en", without_timestamps=True, temperature=0.0, fp16=False)


@pytest.fixture(scope="module")
def model():
    """tiny.en on CPU, loaded once for this module."""
    return load_model("tiny.en", device="cpu")


@pytest.fixture(scope="module")
def clip_mel():
    """(30-s log-mel window, audio seconds, reference) of the JFK clip."""
    clip = jfk()
    audio = torch.from_numpy(clip.audio())
    mel = whisper.pad_or_trim(whisper.log_mel_spectrogram(audio, 80, padding=N_FFT), N_FRAMES)
    return mel, len(audio) / 16000, clip.transcript


@pytest.fixture(scope="module")
def int8(model):
    """tiny.en with the recommended parts in int8."""
    return quantize(model, RECOMMENDED)


def _whisper_linears(module: torch.nn.Module) -> list[torch.nn.Module]:
    return [m for m in module.modules() if isinstance(m, whisper.model.Linear)]


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_stock_quantize_dynamic_misses_whispers_linear_subclass(model):
    """The reason this module exists: the exact-type mapping of quantize_dynamic skips whisper.model.Linear."""
    stock = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    assert int8_layers(stock) == 0


def test_every_linear_layer_becomes_int8_and_the_original_is_untouched(model):
    before = len(_whisper_linears(model))
    q = quantize(model, "all")
    n_enc, n_dec = model.dims.n_audio_layer, model.dims.n_text_layer
    assert int8_layers(q) == 6 * n_enc + 10 * n_dec + 1  # attn 4 + mlp 2; + cross 4; + logits head
    assert _whisper_linears(q) == []
    assert q.int8_parts == PARTS
    assert len(_whisper_linears(model)) == before and int8_layers(model) == 0  # a copy by default
    assert isinstance(q.decoder.blocks[0].cross_attn.key, Int8Linear)


def test_parts_are_chosen_separately(model):
    q = quantize(model, "encoder.mlp")
    assert int8_layers(q.encoder) == 2 * model.dims.n_audio_layer
    assert int8_layers(q.decoder) == 0
    assert expand_parts("decoder") == ("decoder.attn", "decoder.cross_attn", "decoder.mlp")
    with pytest.raises(ValueError, match="unknown part 'decoderr'"):
        quantize(model, "decoderr")


def test_int8_keeps_the_jfk_transcript(model, int8, clip_mel):
    mel, _, reference = clip_mel
    fp32 = whisper.decode(model, mel, OPTIONS)
    quantized = whisper.decode(int8, mel, OPTIONS)
    assert quantized.text.strip()
    assert wer(reference, quantized.text) <= wer(reference, fp32.text) + 0.05
    # transcribe (with timestamps and kv cache hooks on the swapped layers) works on the int8 model too
    text = int8.transcribe(jfk().audio(), language="en", fp16=False, temperature=0.0)["text"]
    assert wer(reference, text) <= 0.1


def test_audio_ctx_restores_the_model_and_rejects_bad_sizes(model):
    embedding = model.encoder.positional_embedding
    with audio_ctx(model, 700):
        assert model.dims.n_audio_ctx == 700
        assert model.encoder.positional_embedding.shape[0] == 700
    assert model.dims.n_audio_ctx == 1500 and model.encoder.positional_embedding is embedding
    with pytest.raises(ValueError, match="n_ctx must be"):
        with audio_ctx(model, 1501):
            pass


def test_ctx_for_rounds_up_to_whole_seconds():
    assert ctx_for(11.0, 2.0) == 13 * 50
    assert ctx_for(11.01, 2.0) == 14 * 50
    assert ctx_for(29.5, 2.0) == 1500  # capped at the full window
    with pytest.raises(ValueError):
        ctx_for(-1.0)


def test_short_encoder_window_keeps_the_jfk_transcript(model, clip_mel):
    mel, seconds, reference = clip_mel
    n_ctx = ctx_for(seconds)
    features = encode_short(model, mel, n_ctx)
    assert features.shape == (n_ctx, model.dims.n_audio_state)
    with audio_ctx(model, n_ctx):
        short = whisper.decode(model, features, OPTIONS)
    full = whisper.decode(model, mel, OPTIONS)
    assert wer(reference, short.text) <= wer(reference, full.text) + 0.05


def test_course_decoding_patch_uses_the_int8_logits(int8, clip_mel):
    mel = clip_mel[0]
    stock = whisper.decode(int8, mel, OPTIONS)
    calls = []
    hook = int8.decoder.logits_head.register_forward_hook(lambda *_: calls.append(1))
    try:
        with fast_decoding(int8) as on:
            fast = whisper.decode(int8, mel, OPTIONS)
    finally:
        hook.remove()
    assert on, "the decoding speed-ups fell back on the int8 model"
    assert calls and fast.tokens == stock.tokens


def test_batched_short_encoder_transcribes_every_file_in_order(model):
    clip = jfk()
    audio = clip.audio()
    texts = transcribe_batch_short(model, [audio, audio[: 16000 * 4]], batch_size=2, language="en", verbose=False)
    assert len(texts) == 2
    assert wer(clip.transcript, texts[0]) <= 0.1
    assert "fellow americans" in texts[1].lower()
    with pytest.raises(ValueError, match="more than Whisper's 30-s"):
        transcribe_batch_short(model, [audio.repeat(3)], verbose=False)


def test_measure_throughput_routes_short_encoder_to_the_short_batch(model, monkeypatch):
    import course_utils.evaluation as evaluation

    seen = []
    monkeypatch.setattr(
        evaluation, "transcribe_batch_short", lambda m, items, **kw: seen.append(kw) or ["x"] * len(items)
    )
    result = evaluation.measure_throughput(
        model, [jfk().audio()], mode="batched", batch_size=4, short_encoder=True, warmup=False, verbose=False
    )
    assert result.texts == ["x"] and seen and seen[0]["batch_size"] == 4


def test_precision_comparison_has_an_int8_openai_whisper_row(model, monkeypatch):
    from course_utils import engines

    monkeypatch.setattr(engines, "timed_call", lambda run, audio, **kw: (_FakeTiming(), run(audio)))
    audio = jfk().audio()[: 16000 * 4]
    rows = engines.compare_inference_options(
        model, audio, "and so my fellow americans", faster_whisper=False, int8=True
    )
    int8_rows = [row for row in rows if row.precision == "int8" and row.engine == "openai-whisper"]
    assert len(int8_rows) == 1 and "fellow americans" in int8_rows[0].text.lower()


class _FakeTiming:
    compute_s = 1.0
    rtf = 0.25


def test_transcribe_long_runs_on_the_int8_model(int8):
    """The long-form path takes a quantize()d model: several windows, int8 logits used, nothing dropped."""
    from course_utils.longform import transcribe_long
    from course_utils.mixes import mixed_long_form
    from course_utils.scoring import dropped_utterances

    mix = mixed_long_form(0, duration_s=40.0)  # seed 0: 85 s, 7 clips; the first 5 end at 62.8 s
    last = max(i for i, (_, end) in enumerate(mix.boundaries_s) if end <= 65.0)
    audio = mix.audio[: round((mix.boundaries_s[last][1] + 0.2) * 16000)]
    references = mix.references[: last + 1]
    calls = []
    hook = int8.decoder.logits_head.register_forward_hook(lambda *_: calls.append(1))
    try:
        result = transcribe_long(int8, audio, batch_size=4, verbose=False)
    finally:
        hook.remove()
    assert len(audio) > 60 * 16000 and calls, "the long-form decode did not use the int8 logits head"
    assert dropped_utterances(references, result.text) == []
    assert wer(" ".join(references), result.text) <= 0.15


def test_int8_linear_scales_each_row_so_a_loud_row_does_not_flatten_the_others():
    """One row 1000x louder than the rest: per-row scales keep the quiet rows, one scale per call would not."""
    from course_utils.quantize import PER_TENSOR_MAX_ROWS, _dynamic_linear

    torch.manual_seed(0)
    weight, bias = torch.randn(256, 128) / 10, torch.randn(256)
    x = torch.randn(PER_TENSOR_MAX_ROWS + 100, 128)
    x[0] *= 1000.0
    exact = x @ weight.T + bias
    layer = Int8Linear(weight, bias)
    rows = layer(x.reshape(2, -1, 128)).reshape(len(x), -1)  # batched input keeps its shape

    def quiet_error(y):
        return ((y[1:] - exact[1:]).norm() / (exact[1:] - bias).norm()).item()

    assert quiet_error(rows) < 0.02
    assert quiet_error(_dynamic_linear(weight, bias)(x)) > 5 * quiet_error(rows)
    small = x[1 : PER_TENSOR_MAX_ROWS + 1]  # a decoding step: fbgemm's per-call kernel, same result within int8
    assert (
        (layer(small) - exact[1 : PER_TENSOR_MAX_ROWS + 1]).norm() / exact[1 : PER_TENSOR_MAX_ROWS + 1].norm()
    ).item() < 0.02


def test_activation_scales_follow_the_model_width_unless_asked(model):
    """tiny.en (width 384) gets per-call scales under "auto"; "row" and "call" are honoured; bad values raise."""
    from course_utils.quantize import ROW_SCALES_MIN_WIDTH, row_scales_pay

    assert model.dims.n_audio_state < ROW_SCALES_MIN_WIDTH and not row_scales_pay(model)
    auto = quantize(model, "encoder.mlp")
    row = quantize(model, "encoder.mlp", activations="row")
    assert auto.int8_activations == "call" and row.int8_activations == "row"
    assert not auto.encoder.blocks[0].mlp[0].per_row and row.encoder.blocks[0].mlp[0].per_row
    with pytest.raises(ValueError, match="already has 'row' activation scales"):
        quantize(row, "decoder", activations="call")
    with pytest.raises(ValueError, match="activations must be"):
        quantize(model, activations="token")


def test_layers_reading_one_tensor_quantise_it_once_and_see_in_place_changes(monkeypatch):
    """query, key and value read the same tensor: one quantisation serves all; an in-place change is seen."""
    import importlib

    quantize_module = importlib.import_module("course_utils.quantize")  # the package's `quantize` is the function

    torch.manual_seed(1)
    layers = [Int8Linear(torch.randn(32, 16), torch.randn(32)) for _ in range(3)]
    x = torch.randn(4, 100, 16)
    calls = []
    real_get = quantize_module._QuantizedRows.get

    def counting_get(self, tensor):
        before = self.values
        values, scales = real_get(self, tensor)
        if values is not before:
            calls.append(1)
        return values, scales

    monkeypatch.setattr(quantize_module._QuantizedRows, "get", counting_get)
    outs = [layer(x) for layer in layers]
    assert len(calls) == 1
    x.mul_(2.0)  # same object, new values: quantised again, outputs follow
    again = layers[0](x)
    assert len(calls) == 2
    exact = [x / 2.0 @ layer.weight_int8.float().T * layer.weight_scale + layer.bias for layer in layers]
    for out, want in zip(outs, exact, strict=True):
        assert ((out - want).norm() / want.norm()).item() < 0.02
    assert ((again - (2 * exact[0] - layers[0].bias)).norm() / again.norm()).item() < 0.02
