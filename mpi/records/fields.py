"""The canonical person record's field names (docs/vocabulary.md).

One list, in CSV order, used by the API schema, the CSV loader and exporter, the
generator and the store, so a field is named in exactly one place.
"""

KEY_FIELDS = ("source_system", "source_record_id")

DEMOGRAPHIC_FIELDS = (
    "first_name",
    "middle_name",
    "last_name",
    "suffix",
    "birth_date",
    "sex",
    "ssn_last4",
    "medicaid_id",
    "phone",
    "email",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
)

RECORD_FIELDS = KEY_FIELDS + DEMOGRAPHIC_FIELDS

#: Column that labelled data sets carry and that matching must never read.
TRUTH_FIELD = "truth_person_id"
