"""Invented streets and contact details, real places, and source-system habits for the generator (``sources.py``).

Streets, shelters and phone numbers are invented; cities, states, ZIP codes and
area codes are real so that address and phone normalisers see realistic input.
Every list is a tuple, so iteration order is fixed and a seed always gives the
same records.
"""

from typing import NamedTuple

STREET_NAMES = (
    "Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Walnut", "Willow", "Washington", "Lincoln",
    "Jefferson", "Madison", "Monroe", "Jackson", "Franklin", "Park", "Lake", "Hill", "Forest",
    "River", "Church", "Spring", "Mill", "Center", "Ridge", "Sunset", "Meadow", "Highland",
    "Garden", "Orchard", "Magnolia", "Pecan", "Cypress", "Prairie", "Harbor", "Canyon", "Mesa",
    "Palm", "Olive", "Laurel", "Chestnut", "Hickory", "Sycamore", "Dogwood", "Juniper", "Birch",
    "Aspen", "Poplar", "Hawthorne", "Kensington", "Fairview", "Greenwood", "Brookside",
    "Riverside", "Lakeview", "Hillcrest", "Rosewood", "Ashford", "Belmont", "Clinton", "Grant",
    "Harrison", "Adams", "Kennedy", "Roosevelt", "Wilson", "Cleveland", "Tyler", "Polk",
    "Bluebonnet", "Mockingbird", "Sandpiper", "Quail Run", "Cottonwood", "Wren", "Briar Hollow",
    "Copper Creek", "Stonegate", "Whispering Pines", "Old Mill", "Bay Ridge", "Sierra Vista",
    "Las Flores", "Camino Real", "El Paseo", "Linden", "Thornton", "Delmar", "Crestview",
)

#: (full, USPS abbreviation, relative weight)
STREET_TYPES = (
    ("Street", "St", 30), ("Avenue", "Ave", 18), ("Road", "Rd", 10), ("Drive", "Dr", 12),
    ("Lane", "Ln", 6), ("Boulevard", "Blvd", 5), ("Court", "Ct", 5), ("Way", "Way", 4),
    ("Place", "Pl", 3), ("Circle", "Cir", 2), ("Parkway", "Pkwy", 2), ("Terrace", "Ter", 2),
    ("Trail", "Trl", 1),
)

DIRECTIONS = {"N": "North", "S": "South", "E": "East", "W": "West"}

#: Metro areas: state, area codes, (city, weight, ZIP codes) and invented shelter addresses.
METROS = (
    {
        "name": "Houston", "state": "TX", "weight": 30,
        "area_codes": ("713", "281", "832", "346"),
        "cities": (
            ("Houston", 60, ("77002", "77004", "77006", "77007", "77008", "77009", "77011",
                             "77012", "77016", "77017", "77020", "77021", "77026", "77033",
                             "77036", "77040", "77057", "77072", "77074", "77081", "77083",
                             "77087", "77088", "77091", "77099")),
            ("Pasadena", 10, ("77502", "77503", "77504", "77506")),
            ("Sugar Land", 6, ("77478", "77479")), ("Pearland", 6, ("77581", "77584")),
            ("Katy", 6, ("77449", "77450", "77494")), ("Baytown", 5, ("77520", "77521")),
        ),
        "shelters": (("1410 Bayou Haven St", "Houston", "77002"),
                     ("2217 Canal Commons Ave", "Houston", "77003"),
                     ("815 Hope Harbor Dr", "Houston", "77020")),
    },
    {
        "name": "Chicago", "state": "IL", "weight": 26,
        "area_codes": ("312", "773", "872", "708", "847"),
        "cities": (
            ("Chicago", 62, ("60608", "60609", "60612", "60614", "60617", "60618", "60619",
                             "60620", "60623", "60624", "60628", "60629", "60632", "60636",
                             "60637", "60639", "60640", "60644", "60647", "60651", "60659",
                             "60660")),
            ("Cicero", 8, ("60804",)), ("Skokie", 6, ("60076", "60077")),
            ("Evanston", 6, ("60201", "60202")), ("Waukegan", 8, ("60085", "60087")),
            ("Aurora", 8, ("60505", "60506")),
        ),
        "shelters": (("1120 W Lakeside Mission St", "Chicago", "60607"),
                     ("3345 S Pilgrim Rest Ave", "Chicago", "60616"),
                     ("640 N Open Door Pl", "Chicago", "60654")),
    },
    {
        "name": "Los Angeles", "state": "CA", "weight": 28,
        "area_codes": ("213", "323", "310", "562", "714", "657", "626"),
        "cities": (
            ("Los Angeles", 45, ("90001", "90002", "90003", "90006", "90011", "90015", "90016",
                                 "90019", "90020", "90026", "90031", "90033", "90037", "90044",
                                 "90057", "90063", "90065")),
            ("Long Beach", 10, ("90804", "90805", "90806", "90813")),
            ("Anaheim", 10, ("92801", "92802", "92804", "92805")),
            ("Santa Ana", 10, ("92701", "92703", "92704", "92707")),
            ("Garden Grove", 8, ("92840", "92841", "92843", "92844")),
            ("Westminster", 6, ("92683",)), ("Buena Park", 5, ("90620", "90621")),
            ("Fullerton", 6, ("92831", "92832", "92833")),
        ),
        "shelters": (("520 E Fresh Start Blvd", "Los Angeles", "90013"),
                     ("1735 S Safe Haven St", "Los Angeles", "90021"),
                     ("902 Harbor Light Way", "Santa Ana", "92701")),
    },
    {
        "name": "Atlanta", "state": "GA", "weight": 16,
        "area_codes": ("404", "470", "678", "770"),
        "cities": (
            ("Atlanta", 50, ("30303", "30308", "30310", "30311", "30312", "30314", "30315",
                             "30316", "30318", "30331")),
            ("Decatur", 10, ("30030", "30032", "30034")), ("Marietta", 9, ("30060", "30064")),
            ("East Point", 7, ("30344",)), ("Lawrenceville", 8, ("30043", "30044", "30046")),
            ("Norcross", 8, ("30071", "30093")), ("Duluth", 8, ("30096", "30097")),
        ),
        "shelters": (("275 Peachstone Refuge Ave", "Atlanta", "30303"),
                     ("1480 Gateway Rest Pkwy", "Atlanta", "30310")),
    },
)

#: Metros only the "varied" profile adds (``mpi generate --metros`` picks among all of them).
VARIED_METROS = (
    {
        "name": "Phoenix", "state": "AZ", "weight": 18,
        "area_codes": ("602", "480", "623"),
        "cities": (
            ("Phoenix", 50, ("85003", "85006", "85008", "85009", "85015", "85017", "85019",
                             "85031", "85033", "85035", "85041")),
            ("Mesa", 12, ("85201", "85203", "85204", "85210")), ("Glendale", 9, ("85301", "85302")),
            ("Tempe", 8, ("85281", "85282")), ("Chandler", 7, ("85224", "85225")),
        ),
        "shelters": (("1210 W Open Door Way", "Phoenix", "85007"),
                     ("330 N Desert Haven St", "Mesa", "85201")),
    },
    {
        "name": "Miami", "state": "FL", "weight": 18,
        "area_codes": ("305", "786", "954"),
        "cities": (
            ("Miami", 45, ("33125", "33127", "33130", "33135", "33142", "33145", "33147",
                           "33150", "33161")),
            ("Hialeah", 15, ("33010", "33012", "33013")), ("Miami Gardens", 8, ("33054", "33056")),
            ("Homestead", 6, ("33030", "33033")), ("Fort Lauderdale", 10, ("33311", "33312")),
        ),
        "shelters": (("1550 NW Harbor Rest Ave", "Miami", "33136"),),
    },
    {
        "name": "Detroit", "state": "MI", "weight": 14,
        "area_codes": ("313", "248", "586"),
        "cities": (
            ("Detroit", 55, ("48201", "48204", "48205", "48206", "48209", "48210", "48213",
                             "48219", "48227", "48228", "48235")),
            ("Dearborn", 14, ("48120", "48126", "48128")), ("Hamtramck", 6, ("48212",)),
            ("Warren", 8, ("48089", "48091")), ("Southfield", 6, ("48075", "48076")),
        ),
        "shelters": (("4110 Cass Shelter Ave", "Detroit", "48201"),
                     ("77 E Fresh Start Pl", "Detroit", "48207")),
    },
)

#: Medicaid id layouts of the varied profile's states (AHCCCS ids begin with a letter).
VARIED_MEDICAID_FORMATS = {"AZ": ("A{n}", 8), "FL": ("{n}", 10), "MI": ("{n}", 10)}

EMAIL_DOMAINS = (("gmail.com", 45), ("yahoo.com", 20), ("hotmail.com", 10), ("outlook.com", 8),
                 ("icloud.com", 7), ("aol.com", 4), ("comcast.net", 3), ("att.net", 3))

#: Common misspellings of email domains, used for mistyped emails.
EMAIL_DOMAIN_TYPOS = {"gmail.com": ("gmial.com", "gmail.co", "gmai.com"),
                      "yahoo.com": ("yaho.com", "yahooo.com"), "hotmail.com": ("hotmial.com",),
                      "outlook.com": ("outlok.com",), "icloud.com": ("iclod.com",)}

#: Letters next to each other on a QWERTY keyboard, for realistic one-character typos.
KEY_NEIGHBOURS = {
    "a": "sqz", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj",
    "i": "uo", "j": "hk", "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o",
    "q": "w", "r": "et", "s": "ad", "t": "ry", "u": "yi", "v": "cb", "w": "qe", "x": "zc",
    "y": "tu", "z": "x",
}

# --- Source systems -----------------------------------------------------------------------------

PHONE_FORMATS = ("({0}) {1}-{2}", "{0}-{1}-{2}", "{0}.{1}.{2}", "+1 {0} {1} {2}", "{0}{1}{2}")


class SourceHabits(NamedTuple):
    """How one source system captures a person. Each float is a per-record probability."""

    weight: float  # share of records before eligibility (MCO: members only; housing: adults)
    id_format: str  # "{n}" is a minted number zero-padded to id_width; MCO adds "{member}"
    id_width: int
    upper: float  # whole record upper case
    lower: float  # names lower case
    strip_accents: float
    mojibake: float  # UTF-8 read as Latin-1 ("GarcÃ\xada") or "?" for the accented letter
    middle_full: float
    middle_initial: float
    nickname: float
    typo: float
    swap_order: float  # Vietnamese/Korean given and family name swapped
    truncate_compound: float  # "Fernández Ramírez" -> "Fernández"
    suffix_missing: float
    suffix_in_last: float  # "GONZALEZ JR"
    dob_missing: float
    dob_estimate: float  # YYYY-01-01
    dob_error: float  # day/month swap, a digit or the year off
    dob_placeholder: float  # 1900-01-01
    sex_missing: float  # half empty, half "U"
    ssn: float
    ssn_placeholder: float
    medicaid: float  # medicaid_id sent when the person has one
    phone: float
    phone_formats: tuple
    email: float
    address_missing: float
    abbreviate: float  # Street -> St, North -> N
    zip4: float
    unit_inline: float  # "12 Oak St, Apt 4" in line 1
    old: float  # record from before a move or a marriage
    homeless: float  # a homeless person recorded with a homeless address


SOURCE_HABITS = {
    "st-marys-ehr": SourceHabits(
        weight=22, id_format="{n}", id_width=8, upper=1, lower=0, strip_accents=1, mojibake=0,
        middle_full=.75, middle_initial=.1, nickname=.02, typo=.04, swap_order=.02,
        truncate_compound=.2, suffix_missing=.3, suffix_in_last=.05, dob_missing=0,
        dob_estimate=0, dob_error=.03, dob_placeholder=.002, sex_missing=.002, ssn=.5,
        ssn_placeholder=.03, medicaid=.2, phone=.8, phone_formats=PHONE_FORMATS[1::3],
        email=.3, address_missing=.04, abbreviate=.95, zip4=.4, unit_inline=.3, old=.2,
        homeless=.3),
    "county-general-ehr": SourceHabits(
        weight=28, id_format="CG{n}", id_width=7, upper=0, lower=0, strip_accents=.5,
        mojibake=0, middle_full=.5, middle_initial=.1, nickname=.05, typo=.03, swap_order=.04,
        truncate_compound=.25, suffix_missing=.35, suffix_in_last=.05, dob_missing=.01,
        dob_estimate=.01, dob_error=.03, dob_placeholder=.003, sex_missing=.005, ssn=.55,
        ssn_placeholder=.04, medicaid=.45, phone=.85, phone_formats=PHONE_FORMATS[:1] * 2
        + PHONE_FORMATS[1:2], email=.2, address_missing=.02, abbreviate=.35, zip4=.2,
        unit_inline=.05, old=.25, homeless=.5),
    "bluepath-mco": SourceHabits(
        weight=40, id_format="BPM{n}-{member:02d}", id_width=9, upper=1, lower=0,
        strip_accents=1, mojibake=0, middle_full=0, middle_initial=.7, nickname=.01, typo=.02,
        swap_order=.02, truncate_compound=.1, suffix_missing=.1, suffix_in_last=.75,
        dob_missing=0, dob_estimate=0, dob_error=.01, dob_placeholder=0, sex_missing=0,
        ssn=.45, ssn_placeholder=.02, medicaid=1, phone=.9, phone_formats=PHONE_FORMATS[1::3],
        email=.15, address_missing=0, abbreviate=1, zip4=.8, unit_inline=.8, old=.35,
        homeless=.2),
    "fqhc-eastside": SourceHabits(
        weight=20, id_format="EF{n}", id_width=6, upper=.3, lower=0, strip_accents=.1,
        mojibake=0, middle_full=.45, middle_initial=.2, nickname=.04, typo=.03, swap_order=.05,
        truncate_compound=.2, suffix_missing=.3, suffix_in_last=.1, dob_missing=.005,
        dob_estimate=.01, dob_error=.03, dob_placeholder=.002, sex_missing=.01, ssn=.45,
        ssn_placeholder=.03, medicaid=.55, phone=.85, phone_formats=PHONE_FORMATS[:3],
        email=.12, address_missing=.02, abbreviate=.5, zip4=.3, unit_inline=.05, old=.2,
        homeless=.4),
    "foodbank-cbo": SourceHabits(
        weight=17, id_format="FB-{year}-{n}", id_width=5, upper=.4, lower=.03,
        strip_accents=.5, mojibake=.03, middle_full=.05, middle_initial=.2, nickname=.3,
        typo=.08, swap_order=.2, truncate_compound=.6, suffix_missing=.5, suffix_in_last=.2,
        dob_missing=.3, dob_estimate=.15, dob_error=.06, dob_placeholder=.02, sex_missing=.35,
        ssn=.35, ssn_placeholder=.2, medicaid=.05, phone=.75,
        phone_formats=PHONE_FORMATS + ("{1}-{2}",), email=.1, address_missing=.05,
        abbreviate=.6, zip4=.05, unit_inline=.15, old=.3, homeless=.4),
    "housing-first-cbo": SourceHabits(
        weight=3, id_format="{n}", id_width=6, upper=.3, lower=.02, strip_accents=.6,
        mojibake=.01, middle_full=.05, middle_initial=.15, nickname=.3, typo=.06,
        swap_order=.15, truncate_compound=.5, suffix_missing=.6, suffix_in_last=.1,
        dob_missing=.1, dob_estimate=.12, dob_error=.05, dob_placeholder=.02, sex_missing=.2,
        ssn=.5, ssn_placeholder=.2, medicaid=.25, phone=.45, phone_formats=PHONE_FORMATS,
        email=.1, address_missing=.2, abbreviate=.6, zip4=.02, unit_inline=.3, old=.2,
        homeless=.85),
}

#: Medicaid id layout by state: format and minimum digits (Medi-Cal's CIN ends in a letter).
MEDICAID_FORMATS = {"TX": ("{n}", 9), "IL": ("{n}", 9), "CA": ("{n}{letter}", 8), "GA": ("{n}", 12)}
