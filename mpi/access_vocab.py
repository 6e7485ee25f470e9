"""The access log's words: why a caller reads or changes PHI, and what a request did to what it names.

Stored as text, never as ordinals, like the rest of the vocabulary (``mpi/vocab.py``; docs/vocabulary.md).
"""

from enum import StrEnum


class PurposeOfUse(StrEnum):
    """Why a caller reads or changes PHI: HL7 v3 PurposeOfUse codes, sent in ``X-Purpose-Of-Use``."""

    TREAT = "TREAT"
    """Treatment."""
    ETREAT = "ETREAT"
    """Emergency treatment."""
    COC = "COC"
    """Coordination of care."""
    CAREMGT = "CAREMGT"
    """Care management (a coordinator working referrals)."""
    HPAYMT = "HPAYMT"
    """Healthcare payment."""
    HOPERAT = "HOPERAT"
    """Healthcare operations (identity stewardship)."""
    HSYSADMIN = "HSYSADMIN"
    """Health system administration."""
    HCOMPL = "HCOMPL"
    """Health compliance (auditing who saw what)."""
    HLEGAL = "HLEGAL"
    """Legal."""
    PUBHLTH = "PUBHLTH"
    """Public health."""
    HRESCH = "HRESCH"
    """Healthcare research."""
    PATRQT = "PATRQT"
    """The patient's own request."""


class AccessAction(StrEnum):
    """What a request did to the entities an access event names (the route says exactly how)."""

    READ = "read"
    """Read one entity."""
    SEARCH = "search"
    """Read a list or page naming several."""
    MATCH = "match"
    """Scored a record against the index without storing it: the candidates are what it saw."""
    SUBMIT = "submit"
    """Sent a source record: stored new, or an update of the record its key names."""
    CREATE = "create"
    """Created an entity (a referral, a merge)."""
    UPDATE = "update"
    """Changed an entity (a case action, a referral step, an unmerge)."""
    EXPORT = "export"
    """Read the whole index at once (the export's CSV, a backup of the store): every person and record, named by none."""
    ROUTE = "route"
    """A route no one has classified yet: logged by its method and route template only."""
