"""core.pipeline: a plan starts at the first stage that accepts the input's contract."""

from __future__ import annotations

import numpy as np
import pytest

from rawlux.core.errors import ContractError
from rawlux.core.image import ColorSpace, Encoding, Image, RawImage, Referred
from rawlux.core.pipeline import RAW_DN, RAW_NORM, Contract
from rawlux.develop import DevelopOptions, build_pipeline, develop
from rawlux.isp.black_level import black_level
from rawlux.synth.sample import make_sample


@pytest.fixture(scope="module")
def sample() -> RawImage:
    return make_sample(96, 64)


def test_contract_of_real_images(sample: RawImage) -> None:
    assert Contract.of(sample) == RAW_DN
    assert Contract.of(black_level(sample)) == RAW_NORM
    with pytest.raises(ContractError, match="expected a RawImage or Image, got ndarray"):
        Contract.of(np.zeros((2, 2)))


def test_plan_enters_at_the_first_accepting_stage(sample: RawImage) -> None:
    pipe = build_pipeline(DevelopOptions())
    assert pipe.plan(Contract.of(sample)).names() == pipe.names()
    names = pipe.names()  # a normalised raw skips the DN stages (profile, black_level)
    assert pipe.plan(RAW_NORM).names() == names[names.index("black_level") + 1:]
    rgb = Image(np.zeros((4, 4, 3), np.float32), ColorSpace.SRGB, Encoding.SRGB, Referred.DISPLAY)
    with pytest.raises(ContractError, match="no stage of .*black_level -> .* takes Image/float32/srgb"):
        pipe.plan(Contract.of(rgb))


def test_normalised_raw_develops_like_its_dn_source(sample: RawImage) -> None:
    """A float32 normalised raw (e.g. a merged burst) flows into the ISP without re-quantisation
    and gives the pixels the uint16 source gives."""
    a = develop(sample, denoise=0.0, sharpen=0.0).data
    b = develop(black_level(sample), denoise=0.0, sharpen=0.0).data
    assert a.shape == b.shape
    assert float(np.abs(a - b).max()) < 1e-5
