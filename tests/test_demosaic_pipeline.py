"""My stages chained in the develop order on a synthetic uint16 raw: contracts hold end to end,
params round-trip through recipes, and each stage's options change the result."""

from __future__ import annotations

import numpy as np
import pytest

from rawlux.core.image import CFA, ColorCalibration, Crop, GainMap, RawImage, WarpRectilinear
from rawlux.isp import geometry as geo
from rawlux.isp import highlights as hl
from rawlux.isp import lens_shading as ls
from rawlux.isp.demosaic import STAGE as DEMOSAIC_STAGE
from rawlux.isp.demosaic import DemosaicParams
from rawlux.core.pipeline import Pipeline, Stage


def synthetic_raw() -> RawImage:
    rng = np.random.default_rng(0)
    h, w = 64, 96
    xx = np.mgrid[0:h, 0:w][1]
    scene = 64 + 3000 * (xx / w) + 400 * rng.random((h, w))
    scene[20:30, 40:60] = 4095  # a clipped patch
    data = np.clip(scene, 0, 4095).astype(np.uint16)
    shade = GainMap(
        opcode_id=9, bottom=h, right=w, gains=np.array([[[1.2], [1.0]], [[1.0], [1.2]]], np.float32)
    )
    warp = WarpRectilinear(
        opcode_id=1, coefficients=np.array([[0.99, 0.01, 0, 0, 0, 0]]), center=(0.5, 0.5)
    )
    return RawImage(
        data, CFA.GRBG, np.full((2, 2), 64.0, np.float32), 4095.0,
        opcodes2=(shade,), opcodes3=(warp,), crop=Crop(2, 4, 58, 88),
        calibration=ColorCalibration(as_shot_neutral=np.array([0.5, 1.0, 0.7])),
    )  # fmt: skip


def pipeline(**over) -> Pipeline:
    from rawlux.isp.black_level import STAGE as BL
    from rawlux.isp.black_level import BlackLevelParams
    from rawlux.isp.white_balance import STAGE as WB
    from rawlux.isp.white_balance import WhiteBalanceParams

    params = {
        "lens_shading": ls.LensShadingParams(),
        "highlights": hl.HighlightParams(),
        "demosaic": DemosaicParams(),
        "geometry": geo.GeometryParams(),
        **over,
    }
    return Pipeline(
        [
            Stage(BL, BlackLevelParams()),
            Stage(ls.STAGE, params["lens_shading"]),
            Stage(WB, WhiteBalanceParams(mode="as-shot")),
            Stage(hl.STAGE, params["highlights"]),
            Stage(DEMOSAIC_STAGE, params["demosaic"]),
            Stage(geo.STAGE, params["geometry"]),
        ]
    )


@pytest.fixture(scope="module")
def reference():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pipeline().run(synthetic_raw())


def run(**over):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pipeline(**over).run(synthetic_raw())


def test_chain_contracts_and_shape(reference) -> None:
    assert reference.data.shape == (58, 88, 3) and reference.data.dtype == np.float32
    assert np.isfinite(reference.data).all() and reference.data.max() > 1.0  # highlights kept


@pytest.mark.parametrize(
    "over",
    [
        {"lens_shading": ls.LensShadingParams(enabled=False)},
        {"highlights": hl.HighlightParams(method="clip")},
        {"highlights": hl.HighlightParams(method="none")},
        {"demosaic": DemosaicParams(method="bilinear")},
        {"geometry": geo.GeometryParams(apply_warp=False)},
        {"geometry": geo.GeometryParams(interpolation="linear")},
    ],
)
def test_every_option_changes_the_output(reference, over) -> None:
    out = run(**over)
    assert out.data.shape == reference.data.shape
    assert np.abs(out.data - reference.data).max() > 1e-4


def test_params_recipe_round_trip() -> None:
    p = pipeline(
        highlights=hl.HighlightParams(method="clip", clip_threshold=0.9),
        demosaic=DemosaicParams("bilinear"),
    )
    from rawlux.develop import stage_definitions

    again = Pipeline.from_recipe(p.recipe(), stage_definitions())
    assert again.recipe() == p.recipe()
    for cls in (ls.LensShadingParams, hl.HighlightParams, DemosaicParams, geo.GeometryParams):
        assert cls.from_dict(cls().to_dict()) == cls()
        assert all(f["doc"] for f in cls.schema())
