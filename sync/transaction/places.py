"""Place codes for 2.020 POB, 2.021 CTZ and the first two characters of an ORI: NCIC State and
Country Data Codes.

One line per code in ``_TABLE`` (code, kind, name), so the table is maintained by editing text.
Kinds: ``state`` (the 50 states and DC), ``territory`` (US), ``province`` (Canada), ``country``,
and ``unknown`` (XX). 2.020 POB takes any code; 2.021 CTZ only countries.

Source: the NCIC code set as NIEM publishes it, ``xsd/codes/ncic-5.0.1.xsd`` of
github.com/NIEM/NIEM-Releases ("FBI National Crime and Information Center (NCIC) 5.0.1 domain
update codes"), whose types carry the NCIC Code Manual's section numbers: 2.1 Canadian Provinces
(``CanadianCodeSimpleType``), 2.2 Country Codes (``CountryCodeSimpleType``), 2.6 United States,
2.7 United States Territories. Every code here is from those four lists, the names shortened from
their descriptions. Cross-checked against the POB code list of the FBI's EBTS 10.0 XML schemas
(NIEM 2.0 ``fbi:POBCodeSimpleType``), which holds every code here except eight it predates or
lacks (HC, KV, TQ, UN, XA, XB, ZF, XN).

NCIC codes are neither ISO 3166 nor FIPS 10-4: NB is Nebraska and NK New Brunswick, GM Guam,
MM Mexico, CD Canada, UK Ukraine, UN the United Kingdom (EN, SS, WL and NI its parts), RC China.

Not here: the 64 other codes of the EBTS POB list, which neither source names: the Mexican states
(NCIC lists them apart; MM, "state not known", is the only Mexican code accepted here) and older
codes such as CZ (the Canal Zone). Add one with its source when a booking needs it.
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
NB state Nebraska
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
BK territory Baker Island
CG territory Caroline Islands
GM territory Guam
HO territory Howland Island
JI territory Johnston Atoll
JR territory Jarvis Island
KI territory Kingman Reef
MH territory Marshall Islands
MK territory Northern Mariana Islands
MW territory Midway Islands
PL territory Palmyra Atoll
PR territory Puerto Rico
VI territory Virgin Islands (U.S.)
VL territory Navassa Island
WK territory Wake Island
AB province Alberta
BC province British Columbia
MB province Manitoba
NK province New Brunswick
NF province Newfoundland and Labrador
NS province Nova Scotia
NT province Northwest Territories
XN province Nunavut
ON province Ontario
PE province Prince Edward Island
PQ province Quebec
SN province Saskatchewan
YT province Yukon
AA country Albania
AD country Andorra
AE country Anguilla
AF country Afghanistan
AH country Ashmore and Cartier Islands (Australia)
AI country Antigua and Barbuda
AJ country Aruba
AN country Algeria
AO country Angola
AP country Armenia
AQ country Azores Islands
AS country Australia
AT country Argentina
AU country Austria
AV country Azerbaijan
BB country Barbados
BD country Bahamas
BE country Bahrain
BF country Bassas da India (France)
BG country Belgium
BH country Belize
BI country Burundi
BL country Bangladesh
BM country Bermuda
BN country Bhutan
BO country British Indian Ocean Territory
BP country Bosnia and Herzegovina
BQ country Bouvet Island (Norway)
BR country Burma (Myanmar)
BS country Solomon Islands
BT country Botswana
BU country Bulgaria
BV country Bolivia
BW country Balearic Islands
BX country Brunei
BY country Belarus
BZ country Brazil
CB country Colombia
CC country Cuba
CD country Canada (province not known)
CF country Chad
CJ country Cambodia
CM country Cameroon
CP country Cayman Islands
CQ country Chile
CR country Costa Rica
CS country Cyprus
CV country Cape Verde
CW country Central African Republic
CY country Sri Lanka
DB country Clipperton Island (France)
DD country Cocos (Keeling) Islands
DG country Comoros
DH country Benin
DI country Cook Islands
DJ country Coral Sea Islands (Australia)
DK country Denmark
DM country Dominica
DN country Djibouti
DR country Dominican Republic
EK country Equatorial Guinea
EL country El Salvador
EN country England
EO country Ethiopia
ER country Europa Island (France)
ES country Estonia
ET country Eritrea
EU country Ecuador
EY country Egypt
EZ country Czech Republic
FA country Falkland Islands
FD country Finland
FG country French Guiana
FJ country Fiji
FN country France
FO country Faroe Islands
FP country French Polynesia
FR country French Southern and Antarctic Lands
FS country Micronesia (Federated States of)
GB country Gabon
GC country Greece
GD country Georgia (the country)
GE country Germany
GF country Guernsey
GG country Ghana
GI country Guinea
GJ country Grenada
GK country Gambia
GN country Greenland
GO country Glorioso Islands (France)
GP country Guadeloupe
GS country South Georgia and the South Sandwich Islands
GT country Guatemala
GY country Guyana
GZ country Gaza
HC country Herzegovina (reference only: use BP)
HD country Honduras
HE country Heard Island and McDonald Islands
HK country Hong Kong
HN country Vanuatu
HR country Christmas Island
HS country Saint Helena
HT country Haiti
HU country Hungary
IB country Isle of Man
IC country Iceland
IE country Ireland
II country India
IM country Madeira Islands
IO country Indonesia
IQ country Iraq
IR country Iran
IS country Israel
IT country Italy
IU country Niue
IY country Ivory Coast (Cote d'Ivoire)
JA country Japan
JE country Jersey
JM country Jamaica
JN country Jan Mayen (Norway)
JO country Jordan
JU country Juan de Nova Island
KB country Kiribati
KC country Croatia
KE country Kenya
KH country Manahiki Island
KN country North Korea
KO country South Korea
KT country Kazakhstan
KU country Kuwait
KV country Kosovo
KZ country Kyrgyzstan
LB country Liberia
LD country Moldova
LE country Lesotho
LF country Slovakia
LH country Lithuania
LI country Liechtenstein
LN country Lebanon
LO country Slovenia
LS country Laos
LT country Latvia
LU country Saint Lucia
LX country Luxembourg
LY country Libya
MF country Malawi
MG country Mongolia
MJ country Monaco
ML country Mali
MM country Mexico (Mexican state not known)
MP country Madagascar
MQ country Morocco
MU country Mauritania
MV country Maldives
MY country Malta
MZ country Malaysia
NE country Netherlands
NG country Nigeria
NI country Northern Ireland
NN country Niger
NO country Papua New Guinea
NP country Nepal
NQ country New Caledonia
NR country Nauru
NU country Nicaragua
NW country Norway
NX country Netherlands Antilles (Bonaire, Curacao)
NZ country New Zealand
OC country Macau
OF country Norfolk Island
OI country Okinawa
OM country Oman
PC country Pitcairn Islands
PD country Palau
PF country Paracel Islands
PG country Guinea-Bissau
PI country Philippines
PK country Pakistan
PM country Panama
PO country Poland
PS country Saint Pierre and Miquelon
PT country Portugal
PU country Peru
PV country Paraguay
QA country Qatar
RA country Russia (former USSR)
RB country Congo (Republic of, Brazzaville)
RC country China (People's Republic of)
RE country Reunion
RF country Russian Federation
RG country Gibraltar
RH country Zimbabwe
RR country Montserrat
RS country Western Sahara
RU country Romania
RV country Vietnam
RW country Rwanda
RY country Yemen
SA country Sierra Leone
SB country Saudi Arabia
SE country Seychelles
SF country South Africa
SG country Senegal
SH country San Marino
SJ country Namibia
SM country Somalia
SP country Spain
SQ country Sweden
SR country Singapore
SS country Scotland
SU country Sudan
SV country Svalbard (Norway)
SW country Swaziland (Eswatini)
SY country Syria
SZ country Switzerland
TC country United Arab Emirates
TD country Trust Territory of the Pacific Islands
TE country Spratly Islands
TF country Tuamotu Archipelago
TG country Tonga
TH country Thailand
TJ country Tajikistan
TK country Tokelau
TM country Tromelin Island (France)
TO country Togo
TP country Sao Tome and Principe
TQ country Tongareva
TR country Turks and Caicos Islands
TS country Saint Kitts and Nevis
TT country Trinidad and Tobago
TU country Tunisia
TV country Tuvalu
TW country Taiwan
TY country Turkey
TZ country Tanzania
UG country Uganda
UK country Ukraine
UM country Mauritius
UN country United Kingdom
UR country Turkmenistan
US country United States (state not known)
UV country Burkina Faso
UY country Uruguay
UZ country Uzbekistan
VB country British Virgin Islands
VV country Saint Vincent and the Grenadines
VY country Vatican City
VZ country Venezuela
WB country West Bank
WF country Wallis and Futuna
WL country Wales
WN country West Indies (islands not listed separately)
WS country Western Samoa
XA country Serbia
XB country Montenegro
YG country Yugoslavia
YO country Mayotte
YY country Other country (not in this list)
ZB country Martinique
ZC country Suriname
ZD country Macedonia
ZF country South Sudan
ZI country Canary Islands
ZM country Zambia
ZO country Mozambique
ZR country Congo (Democratic Republic of, Kinshasa)
XX unknown Place of birth unknown
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

#: 2.020 POB: any state, territory, province or country, or XX (unknown)
PLACE_OF_BIRTH = {code: name for code, (_, name) in _PLACES.items()}
#: 2.021 CTZ: countries only
COUNTRY = {code: name for code, (kind, name) in _PLACES.items() if kind == "country"}
