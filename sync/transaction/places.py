"""Place codes for 2.020 POB, 2.021 CTZ and the first two characters of an ORI (NCIC style).

One line per code in ``_TABLE`` (code, kind, name), so the table is maintained by editing text:

* US states, DC and territories, and Canadian provinces: the NCIC State and Country Data Codes
  (EBTS Appendix O). NCIC keeps the older provincial codes (NF, PQ, SN), not Canada Post's.
* Countries: PROVISIONAL. The NCIC country codes are not in the project's reference material;
  these follow the FIPS 10-4 pattern NCIC resembles, and every country whose FIPS code would
  collide with a state or province code (Canada, Colombia, India, Indonesia, Argentina,
  Paraguay, Morocco, Laos, Peru, South Korea ...) is left out until checked. Verify every country
  line against the NCIC Code Manual (Part IV) before submitting to a real NCIC/EBTS receiver.
"""

from __future__ import annotations

_TABLE = """
AL state Alabama
AK state Alaska
AZ state Arizona
AR state Arkansas
CA state California
CO state Colorado
CT state Connecticut
DE state Delaware
DC state District of Columbia
FL state Florida
GA state Georgia
HI state Hawaii
ID state Idaho
IL state Illinois
IN state Indiana
IA state Iowa
KS state Kansas
KY state Kentucky
LA state Louisiana
ME state Maine
MD state Maryland
MA state Massachusetts
MI state Michigan
MN state Minnesota
MS state Mississippi
MO state Missouri
MT state Montana
NE state Nebraska
NV state Nevada
NH state New Hampshire
NJ state New Jersey
NM state New Mexico
NY state New York
NC state North Carolina
ND state North Dakota
OH state Ohio
OK state Oklahoma
OR state Oregon
PA state Pennsylvania
RI state Rhode Island
SC state South Carolina
SD state South Dakota
TN state Tennessee
TX state Texas
UT state Utah
VT state Vermont
VA state Virginia
WA state Washington
WV state West Virginia
WI state Wisconsin
WY state Wyoming
AM territory American Samoa
CZ territory Canal Zone (births before 1979)
GU territory Guam
PR territory Puerto Rico
VI territory Virgin Islands (U.S.)
AB province Alberta
BC province British Columbia
MB province Manitoba
NB province New Brunswick
NF province Newfoundland and Labrador
NS province Nova Scotia
NT province Northwest Territories
ON province Ontario
PE province Prince Edward Island
PQ province Quebec
SN province Saskatchewan
YT province Yukon
US country United States
AF country Afghanistan
AG country Algeria
AS country Australia
AU country Austria
BE country Belgium
BG country Bangladesh
BL country Bolivia
BM country Burma (Myanmar)
BR country Brazil
BU country Bulgaria
CB country Cambodia
CE country Sri Lanka
CH country China
CI country Chile
CS country Costa Rica
CU country Cuba
DA country Denmark
DR country Dominican Republic
EC country Ecuador
EG country Egypt
EI country Ireland
ES country El Salvador
ET country Ethiopia
FI country Finland
FR country France
GH country Ghana
GM country Germany
GR country Greece
GT country Guatemala
GY country Guyana
HA country Haiti
HK country Hong Kong
HO country Honduras
HU country Hungary
IR country Iran
IS country Israel
IT country Italy
IZ country Iraq
JA country Japan
JM country Jamaica
JO country Jordan
KE country Kenya
KN country North Korea
LE country Lebanon
LI country Liberia
MX country Mexico
NI country Nigeria
NL country Netherlands
NO country Norway
NU country Nicaragua
NZ country New Zealand
PK country Pakistan
PL country Poland
PM country Panama
PO country Portugal
RO country Romania
RP country Philippines
RS country Russia
SA country Saudi Arabia
SF country South Africa
SO country Somalia
SP country Spain
SU country Sudan
SW country Sweden
SY country Syria
SZ country Switzerland
TD country Trinidad and Tobago
TH country Thailand
TU country Turkey
TW country Taiwan
UG country Uganda
UK country United Kingdom
UP country Ukraine
UY country Uruguay
VE country Venezuela
VM country Vietnam
YM country Yemen
ZI country Zimbabwe
"""


def _load(table: str) -> dict[str, tuple[str, str]]:
    places: dict[str, tuple[str, str]] = {}
    for line in table.strip().splitlines():
        code, kind, name = line.split(" ", 2)
        if code in places:
            raise ValueError(f"place code {code} is listed twice")
        places[code] = (kind, name)
    return places


_PLACES = _load(_TABLE)

#: 2.020 POB: any state, territory, province or country
PLACE_OF_BIRTH = {code: name for code, (_, name) in _PLACES.items()}
#: 2.021 CTZ: countries only
COUNTRY = {code: name for code, (kind, name) in _PLACES.items() if kind == "country"}
