"""Writes timezone_prefixes.tsv: which IANA time zones a phone number may be in, by the longest
dialling prefix (country code and leading digits, no `+`) that libphonenumber's published
time-zone metadata lists. Data from the PyPI package `phonenumbers` (a port of Google's
libphonenumber; its `tzdata` is libphonenumber's geocoding/timezones map).

    python3 -m venv /tmp/pn && /tmp/pn/bin/pip install phonenumbers
    /tmp/pn/bin/python domain/src/leads/generate_timezone_prefixes.py

Each line: prefix, a tab, the zones separated by commas. The first line names the source.
"""

import os

import phonenumbers
from phonenumbers.tzdata import TIMEZONE_DATA

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "timezone_prefixes.tsv"), "w") as out:
    out.write(f"# phonenumbers {phonenumbers.__version__} tzdata (libphonenumber time zones)\n")
    for prefix in sorted(TIMEZONE_DATA):
        zones = ",".join(sorted(TIMEZONE_DATA[prefix]))
        out.write(f"{prefix}\t{zones}\n")
