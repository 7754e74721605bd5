"""DNG semantic masks (1.6) and enhanced images (1.5): recognised and reported by ``info``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rawlux.io.dcp import dng_extras


def test_proraw_sky_matte_is_reported(raw_dir: Path) -> None:
    rows = dict(dng_extras(raw_dir / "iphone12pro_proraw_metadata_only.dng"))
    assert "urn:com:apple:photo:2020:aux:semanticskymatte (2016x1512, 8-bit" in rows["semantic masks"]
    assert dng_extras(raw_dir / "pixel7_hdrplus_darkframe.dng") == []
    assert dng_extras(raw_dir / "nikon_d1.nef") == []


def test_synthetic_masks_and_enhanced_image(tmp_path: Path) -> None:
    import tifffile

    f = tmp_path / "m.dng"
    with tifffile.TiffWriter(f) as tw:
        tw.write(np.zeros((32, 48), np.uint16), photometric=32803, subifds=2, subfiletype=0,
                 extratags=[(50706, 1, 4, (1, 6, 0, 0), True), (33421, 3, 2, (2, 2), True),
                            (33422, 1, 4, (0, 1, 1, 2), True)], metadata=None)
        tw.write(np.zeros((8, 12), np.uint8), photometric="minisblack", subfiletype=1, metadata=None,
                 extratags=[(52526, 2, 0, "skin_mask", True), (52528, 2, 0, "person_a", True),
                            (52536, 4, 4, (2, 3, 24, 16), True)])
        tw.write(np.zeros((32, 48, 3), np.uint16), photometric="rgb", subfiletype=1, metadata=None,
                 extratags=[(51182, 2, 0, "Acme Enhance v2", True)])
    rows = dict(dng_extras(f))
    assert rows["semantic masks"].startswith("skin_mask [person_a] (12x8, 8-bit")
    assert "sub-area (2, 3, 24, 16)" in rows["semantic masks"]
    assert rows["enhanced image"].startswith("Acme Enhance v2 (48x32, 3 samples)")
