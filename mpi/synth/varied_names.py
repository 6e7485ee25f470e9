"""Name tables of the "varied" generator profile: transliterations, more traditions, twin names.

Kept apart from :mod:`mpi.synth.names` so the standard profile's tables (and so its output) never
change. Every table is a tuple or a dict built from tuples, so iteration order is fixed.
"""

from mpi.synth import names

# --- Two more naming traditions, whose names are written in Latin letters many ways ----------

SURNAMES_ARABIC = (
    "Hassan", "Ali", "Ahmed", "Mohamed", "Ibrahim", "Khalil", "Haddad", "Abdullah", "Rahman",
    "Saleh", "Mansour", "Yousef", "Nasser", "Hamdan", "Jaber", "Awad", "Farah", "Suleiman",
    "Bakri", "Qasim",
)
MALE_ARABIC = (
    "Mohammed", "Ahmed", "Ali", "Omar", "Yusuf", "Hussein", "Khaled", "Ibrahim", "Mustafa",
    "Hassan", "Karim", "Tariq", "Samir", "Walid", "Abdullah",
)
FEMALE_ARABIC = (
    "Fatima", "Aisha", "Mariam", "Layla", "Noor", "Zainab", "Amira", "Huda", "Rania", "Salma",
    "Yasmin", "Leila",
)
SURNAMES_RUSSIAN = (
    "Ivanov", "Smirnov", "Kuznetsov", "Popov", "Volkov", "Sokolov", "Petrov", "Morozov",
    "Novikov", "Fedorov", "Kozlov", "Lebedev", "Orlov", "Pavlov",
)
MALE_RUSSIAN = (
    "Aleksandr", "Dmitri", "Sergei", "Andrei", "Alexei", "Mikhail", "Yuri", "Nikolai", "Ivan",
    "Vladimir", "Pavel", "Maksim",
)
FEMALE_RUSSIAN = (
    "Natalia", "Yelena", "Tatiana", "Olga", "Irina", "Svetlana", "Anastasia", "Yekaterina",
    "Ludmila", "Galina", "Ksenia",
)

# --- Transliteration: one name, several Latin spellings ----------------------------------------

#: Canonical (the truth's spelling) -> other spellings source systems write down.
TRANSLITERATIONS = {
    "Mohammed": ("Muhammad", "Mohamed", "Mohammad", "Muhammed"), "Mohamed": ("Mohammed", "Muhammad"),
    "Yusuf": ("Youssef", "Yousef", "Yousif"), "Yousef": ("Yusuf", "Youssef"),
    "Ahmed": ("Ahmad",), "Omar": ("Umar",), "Hussein": ("Hussain", "Husain", "Hossein"),
    "Khaled": ("Khalid",), "Mustafa": ("Mostafa", "Moustafa"), "Hassan": ("Hasan",),
    "Tariq": ("Tarek", "Tarik"), "Fatima": ("Fatimah", "Fatma"), "Aisha": ("Aicha", "Ayesha"),
    "Mariam": ("Maryam", "Miriam"), "Layla": ("Leila", "Laila"), "Noor": ("Nour", "Nur"),
    "Zainab": ("Zaynab", "Zeinab"), "Yasmin": ("Yasmine", "Jasmin"), "Khalil": ("Khaleel",),
    "Abdullah": ("Abdallah", "Abdulla"), "Rahman": ("Rehman",), "Saleh": ("Salih", "Salah"),
    "Mansour": ("Mansur",), "Suleiman": ("Sulaiman", "Soliman"), "Qasim": ("Kassem", "Kasim"),
    "Aleksandr": ("Alexander", "Aleksander", "Alexandr"), "Dmitri": ("Dmitry", "Dmitriy"),
    "Sergei": ("Sergey", "Serguei"), "Andrei": ("Andrey",), "Alexei": ("Aleksey", "Alexey"),
    "Yuri": ("Yury", "Iouri", "Jurij"), "Nikolai": ("Nikolay",), "Maksim": ("Maxim",),
    "Natalia": ("Natalya", "Nataliya"), "Yelena": ("Elena", "Jelena"), "Tatiana": ("Tatyana",),
    "Yekaterina": ("Ekaterina", "Katerina"), "Ludmila": ("Lyudmila",), "Ksenia": ("Kseniya",),
    "Fedorov": ("Fyodorov", "Feodorov"), "Kuznetsov": ("Kuznetsoff",), "Smirnov": ("Smirnoff",),
    "Lebedev": ("Lebedeff",), "Nguyen": ("Nguyễn", "Nguyên"), "Tran": ("Trần", "Chan"),
    "Le": ("Lê",), "Pham": ("Phạm",), "Huynh": ("Huỳnh",), "Dang": ("Đặng",),
    "Park": ("Pak", "Bak"), "Choi": ("Choe",), "Lee": ("Yi", "Rhee"), "Jung": ("Chung", "Jeong"),
    "Kang": ("Gang",), "Cho": ("Jo",), "Lim": ("Im",), "Yoon": ("Yun",),
}

# --- Twins -------------------------------------------------------------------------------------

#: More near-identical twin names than the standard profile's (Brian/Bryan, Isabel/Isabella...).
TWIN_NAMES = dict(names.TWIN_NAMES)
TWIN_NAMES["M", "anglo"] = names.TWIN_NAMES["M", "anglo"] + (
    ("Brian", "Bryan"), ("Jon", "John"), ("Steven", "Stephen"), ("Eric", "Erik"),
    ("Christian", "Kristian"), ("Jayden", "Jaden"))
TWIN_NAMES["F", "anglo"] = names.TWIN_NAMES["F", "anglo"] + (
    ("Isabel", "Isabella"), ("Katherine", "Catherine"), ("Sara", "Sarah"), ("Alexa", "Alexis"),
    ("Ann", "Anna"), ("Kaitlyn", "Katelyn"))
TWIN_NAMES["M", "hispanic"] = names.TWIN_NAMES["M", "hispanic"] + (("José", "Jesús"),)
TWIN_NAMES["F", "hispanic"] = names.TWIN_NAMES["F", "hispanic"] + (("María", "Marina"),)
