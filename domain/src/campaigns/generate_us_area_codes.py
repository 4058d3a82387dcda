"""Writes us_area_codes.tsv: the US state (USPS code) of each North American area code that
libphonenumber's geocoding data places in one state. Data from the PyPI package `phonenumbers`
(a port of Google's libphonenumber; `geodata` is libphonenumber's English geocoding map, whose
four-digit prefixes `1AAA` name a state, or a city and its state).

    python3 -m venv /tmp/pn && /tmp/pn/bin/pip install phonenumbers
    /tmp/pn/bin/python domain/src/campaigns/generate_us_area_codes.py

Each line: the area code, a tab, the state. The first line names the source. Area codes of
Canada and the Caribbean, and any whose description names no US state, are left out.
"""

import os

import phonenumbers
from phonenumbers.geodata import GEOCODE_DATA

STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA",
    "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS",
    "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV",
    "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY",
    "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK",
    "Oregon": "OR", "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC",
    "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT",
    "Virginia": "VA", "Washington": "WA", "Washington State": "WA", "West Virginia": "WV",
    "Wisconsin": "WI", "Wyoming": "WY", "Washington D.C.": "DC",
}
CODES = set(STATES.values())


def state_of(description):
    if description in STATES:
        return STATES[description]
    # "San Antonio, TX"
    tail = description.rsplit(", ", 1)[-1]
    return tail if tail in CODES else None


here = os.path.dirname(os.path.abspath(__file__))
rows = {}
for prefix, names in GEOCODE_DATA.items():
    if len(prefix) != 4 or not prefix.startswith("1"):
        continue
    number = phonenumbers.parse("+" + prefix + "5550100")
    if phonenumbers.region_code_for_number(number) not in (None, "US"):
        continue
    state = state_of(names.get("en", ""))
    if state:
        rows[prefix[1:]] = state
with open(os.path.join(here, "us_area_codes.tsv"), "w") as out:
    out.write(f"# phonenumbers {phonenumbers.__version__} geodata (libphonenumber geocoding, en)\n")
    for code in sorted(rows):
        out.write(f"{code}\t{rows[code]}\n")
