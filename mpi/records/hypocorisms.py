"""Spanish given names and the short forms they go by (PANCHO for FRANCISCO, CHUY for JESUS, LUPE for GUADALUPE).

The ``nicknames`` package the matcher uses for the rest is an English table: it relates BOB and
ROBERT, but not PACO and FRANCISCO, so a record written ``Pancho Reyes`` was "another established
first name" beside ``Francisco Reyes`` on the same birth date (the twin signal, a conflict against
the whole person) rather than a nickname of it. In U.S. referral networks a quarter or more of the
people may carry Spanish given names, and intake at a food bank or a shelter writes down the name a
person gives.

The table holds the common hypocorisms of Spanish and Mexican usage, upper-case ASCII as the
normaliser leaves names (TONO for TOÑO). A short form serving several formal names (BETO: ALBERTO,
ROBERTO, HUMBERTO) is listed under each; as with the English table, the matcher relates a short
form to each of its formal names directly, never two formal names through a shared short form.
"""

from __future__ import annotations

from types import MappingProxyType

_FORMAL_TO_SHORT = {
    "JOSE": ("PEPE", "PEPITO", "CHEPE", "JOE"),
    "FRANCISCO": ("PANCHO", "PACO", "PAQUITO", "CURRO", "FRANK"),
    "JESUS": ("CHUY", "CHUCHO", "CHUS"),
    "GUADALUPE": ("LUPE", "LUPITA"),
    "ALBERTO": ("BETO",),
    "ROBERTO": ("BETO",),
    "HUMBERTO": ("BETO",),
    "ALEJANDRO": ("ALEX", "ALE", "JANDRO"),
    "ALEJANDRA": ("ALEX", "ALE", "JANDRA"),
    "EDUARDO": ("LALO",),
    "GUILLERMO": ("MEMO", "WILLY"),
    "IGNACIO": ("NACHO",),
    "ANTONIO": ("TONO", "TONY", "TONITO"),
    "ANTONIA": ("TONA", "TONI"),
    "RAFAEL": ("RAFA",),
    "ENRIQUE": ("KIKE", "QUIQUE"),
    "MANUEL": ("MANNY", "MANOLO", "MANU"),
    "RAMON": ("MONCHO",),
    "GONZALO": ("CHALO",),
    "JAVIER": ("JAVI",),
    "SANTIAGO": ("SANTI", "CHAGO"),
    "FERNANDO": ("NANDO", "FER"),
    "RODOLFO": ("RUDY", "FITO"),
    "ADOLFO": ("FITO",),
    "RICARDO": ("RICKY", "RICHI"),
    "LUIS": ("LUCHO", "WICHO"),
    "ALFREDO": ("FREDDY", "FREDO"),
    "ERNESTO": ("NETO",),
    "VICENTE": ("CHENTE",),
    "SALVADOR": ("CHAVA", "CHAVO"),
    "ROSARIO": ("CHARO", "CHAYO"),
    "CONCEPCION": ("CONCHA", "CONCHITA"),
    "CONSUELO": ("CHELO",),
    "GRACIELA": ("CHELA",),
    "DOLORES": ("LOLA", "LOLITA"),
    "MARGARITA": ("MARGIE", "MAGGIE", "RITA"),
    "GABRIELA": ("GABY", "GABI"),
    "ISABEL": ("CHABELA", "ISA"),
    "MERCEDES": ("MECHE",),
    "SOCORRO": ("COCO",),
    "REFUGIO": ("CUCO", "CUQUITA"),
    "TERESA": ("TERE",),
    "PATRICIA": ("PATY", "PATI"),
    "BEATRIZ": ("BETY", "BEA"),
    "LETICIA": ("LETY",),
    "YOLANDA": ("YOLI",),
    "ARACELI": ("CELI",),
    "JOSEFINA": ("JOSIE", "FINA", "PEPA"),
    "ROSA": ("ROSITA",),
    "ANA": ("ANITA",),
    "JUANA": ("JUANITA",),
    "JUAN": ("JUANITO",),
    "CARLOS": ("CARLITOS",),
}

#: Short form -> the formal names it stands for.
FORMAL_NAMES = MappingProxyType({
    short: tuple(sorted(formal for formal, shorts in _FORMAL_TO_SHORT.items() if short in shorts))
    for short in sorted({s for shorts in _FORMAL_TO_SHORT.values() for s in shorts})
})
#: Formal name -> its short forms.
SHORT_FORMS = MappingProxyType(dict(_FORMAL_TO_SHORT))
