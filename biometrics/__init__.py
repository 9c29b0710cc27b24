"""Print pipeline: quality, minutiae, WSQ, sequence check, synthetic prints (issue 3).

Modules (import what you need; only ``extractor``, ``matching`` and ``worker`` load nbis-python):

* ``worker.Processor``: ``submit(frame, fgp)`` -> Future[ProcessedPrint], off the caller's thread
* ``extractor.Extractor``: ``process(frame, fgp)`` -> ``ProcessedPrint`` (NFIQ 2, feedback,
  minutiae, ISO/IEC 19794-2:2011 template, WSQ)
* ``quality``: the gate (``QualityReport``) and the officer feedback strings
* ``matching``: bozorth3 ``compare`` / ``compare_many``, ``MATCH_THRESHOLD``
* ``sequence.find_duplicates``: the same finger captured at two positions
* ``iso``: parse / build / fix ISO/IEC 19794-2:2011 records
* ``compression``: ``encode_wsq`` / ``decode_wsq``
* ``frames``, ``positions``, ``errors``: input checks, FGP codes, named exceptions
* ``calibration``, ``ridge_pattern``: how thresholds were measured; a cheap test pattern
* ``synthetic``: realistic synthetic prints
"""

from biometrics.nbis_loading import load_nbis_off_this_thread

load_nbis_off_this_thread()  # before any submodule imports nbis on the importing thread
