"""Synthetic fingerprints (issue 3): a deterministic population of master prints and R307 impressions.

    from biometrics.synthetic import SyntheticPrints
    prints = SyntheticPrints(seed=0)              # cache: $LIVESCAN_CACHE/synthetic or ~/.cache/...
    prints.pattern_class("S0001", 2)              # PatternClass.RIGHT_LOOP, ...
    prints.master("S0001", 2)                     # uint8 400 x 320, 500 ppi
    prints.impression("S0001", 2, index=0)        # uint8 288 x 256, 16 grey levels (v·17)

Masters follow SFinGe (Cappelli, Maio, Maltoni): an orientation field from singular points
(Sherlock–Monro zero-pole model) with smooth perturbation, a varying ridge period, and ridges grown
from noise by iterated, per-pixel steered band-pass filtering, so minutiae arise where ridges
split or end. Impressions add placement, skin distortion, pressure, dryness, noise and partial
contact.
"""

from biometrics.synthetic.generator import GENERATOR_VERSION, SyntheticPrints, default_cache_dir
from biometrics.synthetic.impression import FRAME_SHAPE
from biometrics.synthetic.master import MASTER_SHAPE
from biometrics.synthetic.pattern import PatternClass, class_probabilities

__all__ = [
    "FRAME_SHAPE",
    "GENERATOR_VERSION",
    "MASTER_SHAPE",
    "PatternClass",
    "SyntheticPrints",
    "class_probabilities",
    "default_cache_dir",
]
