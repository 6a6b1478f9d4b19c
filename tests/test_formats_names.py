"""Names and formats a newcomer meets first: UserError at the top, float rates, mp3 output, the serving name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from keras_denoiser.export import mixture
from tests import cli_runner
from tests.enhance_helpers import save_tiny_unet


def test_user_error_is_importable_from_the_package() -> None:
    from keras_denoiser import UserError
    from keras_denoiser.core.errors import UserError as core_user_error

    assert UserError is core_user_error


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return save_tiny_unet(tmp_path_factory.mktemp("names") / "tiny.keras")


def test_an_integer_valued_float_rate_is_a_rate(tiny: Path) -> None:
    from keras_denoiser import Denoiser, UserError

    denoiser = Denoiser.load(tiny)
    wave = mixture.generated_mixture(0.5, 16000, seed=2)
    np.testing.assert_array_equal(denoiser.denoise(wave, 16000.0), denoiser.denoise(wave, 16000))
    with pytest.raises(UserError, match="whole number of Hz, got 16000.5"):
        denoiser.denoise(wave, 16000.5)


def test_output_format_takes_what_libsndfile_writes_mp3_included(tiny: Path, tmp_path: Path) -> None:
    from keras_denoiser.core.audio import output_formats

    assert {"wav", "flac", "ogg", "mp3", "aiff", "w64", "caf"} <= set(output_formats())
    sf.write(tmp_path / "in.wav", mixture.generated_mixture(0.5, 16000, seed=3), 16000)
    result = cli_runner.run("denoise", f"--model={tiny}", "--output_format=mp3", f"--output_dir={tmp_path / 'out'}",
                            tmp_path / "in.wav")
    assert result.returncode == 0, result.stderr
    assert sf.info(str(tmp_path / "out" / "in.mp3")).format == "MP3"


def test_the_export_default_serving_name_is_the_one_the_docs_use() -> None:
    from keras_denoiser.export.choices import SERVING_NAME

    root = Path(__file__).resolve().parents[1]
    assert SERVING_NAME == "denoiser"
    for page in ("docs/serving.md", "docs/export_serving.md", "export/serving/docker-compose.yml"):
        assert f"/v1/models/{SERVING_NAME}" in (root / page).read_text(), page
