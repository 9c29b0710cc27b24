"""The EBTS fields this system reads and writes: record, field number and mnemonic, in one place.

Encoder and decoder use ``number``; problem reports use ``label`` ("2.018 NAM"). Type-14 uses the
ANSI/NIST-ITL 1-2011 mnemonics (FCD, THPS, TVPS); ITL 1-2007 calls the same fields TCD, HPS, VPS.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldId:
    record: int
    number: int
    mnemonic: str

    @property
    def label(self) -> str:
        return f"{self.record}.{self.number:03d} {self.mnemonic}"


# Type-1, transaction header
CNT = FieldId(1, 3, "CNT")
VER = FieldId(1, 2, "VER")
TOT = FieldId(1, 4, "TOT")
DAT = FieldId(1, 5, "DAT")
PRY = FieldId(1, 6, "PRY")
DAI = FieldId(1, 7, "DAI")
ORI = FieldId(1, 8, "ORI")
TCN = FieldId(1, 9, "TCN")
NSR = FieldId(1, 11, "NSR")
NTR = FieldId(1, 12, "NTR")
DOM = FieldId(1, 13, "DOM")
GMT = FieldId(1, 14, "GMT")

# Type-2, descriptive text
RET = FieldId(2, 5, "RET")
OCA = FieldId(2, 9, "OCA")
SOC = FieldId(2, 16, "SOC")
MNU = FieldId(2, 17, "MNU")
NAM = FieldId(2, 18, "NAM")
AKA = FieldId(2, 19, "AKA")
POB = FieldId(2, 20, "POB")
CTZ = FieldId(2, 21, "CTZ")
DOB = FieldId(2, 22, "DOB")
SEX = FieldId(2, 24, "SEX")
RAC = FieldId(2, 25, "RAC")
HGT = FieldId(2, 27, "HGT")
WGT = FieldId(2, 29, "WGT")
EYE = FieldId(2, 31, "EYE")
HAI = FieldId(2, 32, "HAI")
DOA = FieldId(2, 45, "DOA")
ASL = FieldId(2, 47, "ASL")
ICO = FieldId(2, 56, "ICO")
IMA = FieldId(2, 67, "IMA")
RAP = FieldId(2, 70, "RAP")
CRI = FieldId(2, 73, "CRI")
AMP = FieldId(2, 84, "AMP")
TAA = FieldId(2, 87, "TAA")

# Type-14, variable-resolution fingerprint image
IMP = FieldId(14, 3, "IMP")
SRC = FieldId(14, 4, "SRC")
FCD = FieldId(14, 5, "FCD")
HLL = FieldId(14, 6, "HLL")
VLL = FieldId(14, 7, "VLL")
SLC = FieldId(14, 8, "SLC")
THPS = FieldId(14, 9, "THPS")
TVPS = FieldId(14, 10, "TVPS")
CGA = FieldId(14, 11, "CGA")
BPX = FieldId(14, 12, "BPX")
FGP = FieldId(14, 13, "FGP")
FQM = FieldId(14, 24, "FQM")
DATA = FieldId(14, 999, "DATA")
