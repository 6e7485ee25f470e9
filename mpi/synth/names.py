"""Invented name lists for the generator (``population.py``): surnames, given names by group, twins, nicknames.

Kept apart from the generator's logic so that module stays readable. Every list is a tuple, so
iteration order is fixed and a seed always gives the same people. Surname tuples are in rough
frequency order: the generator weights them by rank (Zipf-like), so the first few names of each
group are common and the tail is rare, as in a real population.
"""

# --- Surnames, most common first ------------------------------------------------------------

SURNAMES_HISPANIC = (
    "García", "Martínez", "Hernández", "López", "González", "Rodríguez", "Pérez", "Sánchez",
    "Ramírez", "Torres", "Flores", "Rivera", "Gómez", "Díaz", "Reyes", "Morales", "Cruz",
    "Ortiz", "Gutiérrez", "Chávez", "Ramos", "Ruiz", "Álvarez", "Mendoza", "Castillo",
    "Jiménez", "Vásquez", "Moreno", "Romero", "Herrera", "Medina", "Aguilar", "Vargas", "Castro",
    "Guzmán", "Fernández", "Muñoz", "Méndez", "Salazar", "Soto", "Delgado", "Peña", "Ríos",
    "Alvarado", "Sandoval", "Contreras", "Valdez", "Guerrero", "Ortega", "Estrada", "Núñez",
    "Maldonado", "Vega", "Espinoza", "Rojas", "Márquez", "Padilla", "Domínguez", "Cabrera",
    "Molina", "Acosta", "Campos", "Luna", "Ibarra", "Zamora", "Cervantes", "Navarro", "Fuentes",
    "Cortez", "Orozco", "Treviño", "Benítez", "Lucero", "Villanueva", "Salinas", "Rosales",
    "Cárdenas", "Ochoa", "Bautista", "Quintero", "Galindo", "Arellano", "Zúñiga", "Barrera",
)

SURNAMES_WHITE = (
    "Smith", "Johnson", "Miller", "Brown", "Jones", "Davis", "Wilson", "Anderson", "Taylor",
    "Thomas", "Moore", "Martin", "Thompson", "White", "Clark", "Lewis", "Walker", "Young",
    "Allen", "King", "Wright", "Scott", "Hill", "Green", "Adams", "Baker", "Nelson", "Mitchell",
    "Roberts", "Turner", "Phillips", "Campbell", "Parker", "Evans", "Edwards", "Collins",
    "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan", "Cooper", "Peterson", "Bailey",
    "Reed", "Kelly", "Howard", "Cox", "Ward", "Wood", "Watson", "Bennett", "Gray", "Hughes",
    "Price", "Sanders", "Myers", "Long", "Ross", "Foster", "Powell", "Perry", "Russell",
    "Sullivan", "Fisher", "Meyer", "Schmidt", "Müller", "Olson", "Larson", "Hansen", "O'Brien",
    "O'Connor", "McDonald", "McCarthy", "Kowalski", "Nowak", "Schultz", "Hoffman", "Wagner",
    "Becker", "Graham", "Hayes", "Wallace", "Cole", "West", "Reynolds", "Hamilton", "Ford",
    "Ellis", "Harrison", "Gibson", "McKenzie", "Stone", "Hawkins", "Dunn", "Palmer", "Keller",
    "Brennan", "Novak", "Lindqvist", "Dubois", "Fontaine",
)

SURNAMES_BLACK = (
    "Williams", "Johnson", "Smith", "Jones", "Brown", "Jackson", "Davis", "Harris", "Robinson",
    "Thomas", "Washington", "Taylor", "Wilson", "Moore", "White", "Jefferson", "Walker",
    "Coleman", "Jenkins", "Green", "Mitchell", "Carter", "Lewis", "Bryant", "Alexander",
    "Simmons", "Banks", "Dixon", "Freeman", "Gaines", "Booker", "Mosley", "Joseph", "Pierre",
    "Charles", "Battle", "Hairston", "Dorsey", "Singleton", "Ware", "Toussaint", "Baptiste",
    "Okafor", "Mensah", "Holmes", "Tucker", "Fields", "Graves", "Sims", "Terrell", "Nash",
    "Rucker", "Boykin", "Whitfield", "McNeil", "Abernathy", "Gadsden", "Oyelaran",
)

SURNAMES_VIETNAMESE = (
    "Nguyen", "Tran", "Le", "Pham", "Huynh", "Hoang", "Phan", "Vu", "Vo", "Dang", "Bui", "Do",
    "Ho", "Ngo", "Duong", "Ly", "Truong", "Dinh", "Lam", "Cao", "Mai", "Ha", "Luu", "Trinh",
)

SURNAMES_KOREAN = (
    "Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim", "Han", "Oh",
    "Seo", "Shin", "Kwon", "Hwang", "Ahn", "Song", "Hong", "Yoo", "Ko", "Moon", "Baek", "Nam",
)

#: Alternative romanisations of Korean family names, used as record-level variants.
KOREAN_ROMANISATIONS = {
    "Park": ("Pak", "Bak"), "Lee": ("Yi", "Rhee"), "Choi": ("Choe",), "Jung": ("Chung", "Jeong"),
    "Kang": ("Gang",), "Cho": ("Jo",), "Lim": ("Im", "Rim"), "Shin": ("Sin",), "Yoon": ("Yun",),
    "Jang": ("Chang",), "Oh": ("O",), "Hwang": ("Whang",), "Yoo": ("Yu",), "Kwon": ("Kwan",),
}

# --- Given names ------------------------------------------------------------------------------

MALE_ANGLO = (
    "James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas",
    "Charles", "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven",
    "Paul", "Andrew", "Joshua", "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald",
    "Edward", "Jason", "Jeffrey", "Ryan", "Jacob", "Gary", "Nicholas", "Eric", "Jonathan",
    "Stephen", "Larry", "Justin", "Scott", "Brandon", "Benjamin", "Samuel", "Gregory",
    "Alexander", "Frank", "Patrick", "Raymond", "Jack", "Dennis", "Jerry", "Tyler", "Aaron",
    "Henry", "Douglas", "Peter", "Adam", "Nathan", "Zachary", "Walter", "Kyle", "Harold",
    "Carl", "Jeremy", "Gerald", "Keith", "Roger", "Arthur", "Terry", "Lawrence", "Sean",
    "Christian", "Austin", "Albert", "Jesse", "Bruce", "Jordan",
    "Eugene", "Isaac", "Willie", "Russell", "Philip", "Craig", "Randy", "Vincent",
)

#: Given names mostly given since about 2000; the generator uses them for younger people only.
MALE_MODERN = (
    "Liam", "Noah", "Mason", "Elijah", "Logan", "Lucas", "Jayden", "Aiden", "Caden", "Grayson",
    "Carter", "Owen", "Wyatt", "Hunter", "Connor", "Gavin", "Chase", "Ethan", "Dylan", "Landon",
    "Brayden", "Jackson", "Levi", "Hudson", "Easton",
)

FEMALE_ANGLO = (
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica",
    "Sarah", "Karen", "Nancy", "Lisa", "Margaret", "Betty", "Sandra", "Ashley", "Dorothy",
    "Kimberly", "Emily", "Donna", "Michelle", "Carol", "Amanda", "Melissa", "Deborah",
    "Stephanie", "Rebecca", "Laura", "Sharon", "Cynthia", "Kathleen", "Amy", "Shirley",
    "Angela", "Helen", "Anna", "Brenda", "Pamela", "Nicole", "Samantha", "Katherine", "Emma",
    "Ruth", "Christine", "Catherine", "Debra", "Rachel", "Carolyn", "Janet", "Virginia",
    "Heather", "Diane", "Julie", "Joyce", "Victoria", "Kelly", "Christina", "Joan", "Evelyn",
    "Lauren", "Judith", "Olivia", "Martha", "Cheryl", "Megan", "Hannah", "Jacqueline", "Ann",
    "Alice", "Kathryn", "Gloria", "Theresa", "Denise", "Amber", "Danielle", "Abigail",
    "Brittany", "Rose", "Diana", "Natalie", "Grace", "Tiffany", "Crystal", "Wendy", "Tammy",
    "Connie", "Peggy", "Lorraine",
)

FEMALE_MODERN = (
    "Sophia", "Alexis", "Kayla", "Madison", "Ava", "Mia", "Harper", "Chloe", "Zoey", "Lily",
    "Addison", "Brooklyn", "Avery", "Ella", "Alexa", "Hailey", "Isabella", "Emma", "Olivia",
    "Abigail", "Aubrey", "Peyton", "Paisley", "Scarlett", "Madeline",
)

MALE_BLACK = (
    "DeShawn", "Jamal", "Malik", "Darnell", "Tyrone", "Terrell", "Marcus", "Andre", "Demetrius",
    "Jermaine", "Darius", "Xavier", "Isaiah", "Jalen", "Cedric", "Reginald", "Lamar", "Dwayne",
    "Marquis", "Kendrick", "DeAndre", "Tremaine", "Willie", "Curtis", "Cornelius", "Jaylen",
)

FEMALE_BLACK = (
    "Keisha", "Tamika", "Latoya", "Ebony", "Aaliyah", "Imani", "Jasmine", "Destiny", "Tiana",
    "Monique", "Latasha", "Shanice", "Kiara", "Precious", "Tanisha", "Dominique", "Ayana", "Nia",
    "Jada", "Shaniqua", "Lakisha", "Tameka", "Janelle", "Brianna",
)

MALE_HISPANIC = (
    "José", "Juan", "Luis", "Carlos", "Jorge", "Miguel", "Jesús", "Francisco", "Antonio",
    "Alejandro", "Manuel", "Pedro", "Ricardo", "Fernando", "Javier", "Roberto", "Rubén", "Raúl",
    "Sergio", "Eduardo", "Héctor", "Mario", "Arturo", "Óscar", "Martín", "Andrés", "Diego",
    "Mateo", "Santiago", "Emiliano", "Julián", "Ángel", "Adrián", "Iván", "Rafael", "Ramón",
    "Enrique", "Gerardo", "Alberto", "Víctor", "Gabriel", "Guillermo", "Ignacio", "José Luis",
    "Juan Carlos", "Luis Ángel", "Joaquín", "Tomás",
)

FEMALE_HISPANIC = (
    "María", "Guadalupe", "Ana", "Rosa", "Carmen", "Juana", "Margarita", "Verónica", "Leticia",
    "Gabriela", "Alejandra", "Adriana", "Claudia", "Sofía", "Valentina", "Camila", "Ximena",
    "Daniela", "Mariana", "Lucía", "Mónica", "Yesenia", "Araceli", "Esperanza", "Dolores",
    "Silvia", "Teresa", "Elena", "Natalia", "Paola", "Fernanda", "Valeria", "Karla", "Yolanda",
    "Beatriz", "Graciela", "Lourdes", "Maribel", "Rosario", "Concepción", "María Guadalupe",
    "María José", "Ana María", "María Elena", "Marina",
)

MALE_VIETNAMESE = (
    "Long", "Minh", "Tuan", "Hung", "Dung", "Thanh", "Hai", "Nam", "Son", "Quang", "Duc",
    "Phuc", "Khoa", "Bao", "Huy", "Vinh", "Tien", "Cuong", "Trung", "Hieu", "Khang", "Dat",
    "Phong", "Binh", "Tri",
)

FEMALE_VIETNAMESE = (
    "Lan", "Mai", "Hoa", "Linh", "Nga", "Huong", "Thao", "Trang", "Hanh", "Thuy", "Phuong",
    "Ngoc", "Anh", "Hien", "Loan", "Tam", "Nhung", "Yen", "Vy", "Uyen", "Thu", "Diem", "Hang",
    "Kim Ngan",
)

#: Vietnamese middle names by sex (Van and Thi dominate).
MIDDLE_VIETNAMESE = {"M": ("Van", "Van", "Van", "Duc", "Minh", "Quoc", "Huu"),
                     "F": ("Thi", "Thi", "Thi", "Ngoc", "Thu", "Kim")}

MALE_KOREAN = (
    "Min-jun", "Ji-hoon", "Seo-jun", "Do-yun", "Jae-won", "Hyun-woo", "Sung-min", "Dong-hyun",
    "Jun-ho", "Young-ho", "Sang-woo", "Jin-woo", "Tae-yang", "Kyung-soo", "Seung-hyun",
)

FEMALE_KOREAN = (
    "Seo-yeon", "Ji-woo", "Ha-eun", "Min-seo", "Su-bin", "Ji-yeon", "Eun-ji", "Hye-jin", "Yu-na",
    "So-yeon", "Mi-young", "Jung-hee", "Eun-young", "Soo-jin", "Ji-min",
)

#: Near-identical given names that parents pick for twins, by sex and naming tradition.
TWIN_NAMES = {
    ("M", "anglo"): (("Jayden", "Jaden"), ("Aiden", "Aidan"), ("Brandon", "Brendan"),
                     ("Caden", "Cayden"), ("Isaac", "Isaiah"), ("Jalen", "Jaylen"),
                     ("Kevin", "Kelvin"), ("Daniel", "David")),
    ("F", "anglo"): (("Alexa", "Alexis"), ("Kayla", "Kaylee"), ("Madison", "Madeline"),
                     ("Hailey", "Haley"), ("Ashley", "Ashlyn"), ("Brianna", "Breanna")),
    ("M", "hispanic"): (("Mateo", "Marco"), ("Julián", "Julio"), ("Adrián", "Adán")),
    ("F", "hispanic"): (("Gabriela", "Graciela"), ("Mariana", "Marina"), ("Daniela", "Gabriela")),
    ("M", "vietnamese"): (("Minh", "Manh"), ("Khang", "Khanh"), ("Bao", "Bach")),
    ("F", "vietnamese"): (("Lan", "Lien"), ("Vy", "Vi"), ("Thao", "Thu")),
    ("M", "korean"): (("Min-jun", "Min-jae"), ("Ji-hoon", "Ji-hwan")),
    ("F", "korean"): (("Ji-woo", "Ji-yoo"), ("Seo-yeon", "Seo-yun")),
}

#: Formal given name -> nicknames and short forms seen on intake forms.
NICKNAMES = {
    "Robert": ("Bob", "Rob", "Bobby", "Robbie"), "William": ("Bill", "Will", "Billy", "Willie"),
    "Elizabeth": ("Liz", "Beth", "Betty", "Lizzie"), "Katherine": ("Kate", "Katie", "Kathy"),
    "Catherine": ("Cathy", "Kate", "Cat"), "Kathleen": ("Kathy", "Kate"),
    "Kathryn": ("Kathy", "Kate"), "James": ("Jim", "Jimmy", "Jamie"), "John": ("Johnny", "Jack"),
    "Michael": ("Mike", "Mikey"), "Richard": ("Rick", "Rich", "Dick", "Richie"),
    "Joseph": ("Joe", "Joey"), "Thomas": ("Tom", "Tommy"), "Charles": ("Charlie", "Chuck"),
    "Christopher": ("Chris",), "Daniel": ("Dan", "Danny"), "Matthew": ("Matt",),
    "Anthony": ("Tony",), "Steven": ("Steve",), "Stephen": ("Steve",), "Andrew": ("Andy", "Drew"),
    "Joshua": ("Josh",), "Kenneth": ("Ken", "Kenny"), "Timothy": ("Tim", "Timmy"),
    "Ronald": ("Ron", "Ronnie"), "Edward": ("Ed", "Eddie", "Ted"), "Jeffrey": ("Jeff",),
    "Jacob": ("Jake",), "Nicholas": ("Nick",), "Jonathan": ("Jon",), "Lawrence": ("Larry",),
    "Benjamin": ("Ben",), "Samuel": ("Sam", "Sammy"), "Gregory": ("Greg",),
    "Alexander": ("Alex",), "Patrick": ("Pat",), "Raymond": ("Ray",), "Dennis": ("Denny",),
    "Gerald": ("Jerry",), "Douglas": ("Doug",), "Peter": ("Pete",), "Zachary": ("Zach",),
    "Walter": ("Walt",), "Albert": ("Al",), "Donald": ("Don", "Donnie"), "Eugene": ("Gene",),
    "Frank": ("Frankie",), "Harold": ("Hal",), "Jennifer": ("Jen", "Jenny"),
    "Patricia": ("Pat", "Patty", "Trish"), "Margaret": ("Peggy", "Maggie", "Meg"),
    "Susan": ("Sue", "Suzy"), "Deborah": ("Deb", "Debbie"), "Debra": ("Deb", "Debbie"),
    "Rebecca": ("Becky",), "Pamela": ("Pam",), "Samantha": ("Sam", "Sammy"),
    "Jessica": ("Jess", "Jessie"), "Kimberly": ("Kim",), "Christine": ("Chris", "Chrissy"),
    "Christina": ("Tina", "Chris"), "Victoria": ("Vicky", "Tori"), "Abigail": ("Abby",),
    "Cynthia": ("Cindy",), "Judith": ("Judy",), "Dorothy": ("Dot", "Dottie"),
    "Barbara": ("Barb",), "Sandra": ("Sandy",), "Melissa": ("Missy", "Mel"),
    "Stephanie": ("Steph",), "Amanda": ("Mandy",), "Theresa": ("Terri", "Tess"),
    "Jacqueline": ("Jackie",), "Nicole": ("Nikki",), "Danielle": ("Dani",),
    "Alexis": ("Lexi",), "Madison": ("Maddie",), "Natalie": ("Nat",), "Megan": ("Meg",),
    "Isabella": ("Bella", "Izzy"), "Olivia": ("Liv",), "Carolyn": ("Carol",),
    "Virginia": ("Ginny",), "Martha": ("Marty",), "Terrell": ("Terry",),
    "Demetrius": ("Meech",), "Reginald": ("Reggie",), "Cornelius": ("Neil",),
    "José": ("Pepe", "Joe"), "Francisco": ("Pancho", "Paco", "Frank"), "Guadalupe": ("Lupe",),
    "María Guadalupe": ("Lupe",), "Jesús": ("Chuy",), "Alejandro": ("Alex",),
    "Roberto": ("Beto", "Robert"), "Alberto": ("Beto",), "Enrique": ("Kike", "Henry"),
    "Ignacio": ("Nacho",), "Dolores": ("Lola",), "Concepción": ("Concha", "Connie"),
    "Rosario": ("Chayo",), "Eduardo": ("Lalo", "Eddie"), "Antonio": ("Toño", "Tony"),
    "Manuel": ("Manny",), "Margarita": ("Margie",), "Guillermo": ("Memo",), "Rafael": ("Rafa",),
    "Gabriela": ("Gaby",), "Alejandra": ("Ale",), "Fernando": ("Nando",), "Ricardo": ("Rick",),
    "Juan Carlos": ("JC",), "Javier": ("Javi",), "María José": ("Majo",),
    "Min-jun": ("Mike",), "Ji-hoon": ("Jay",), "Seo-yeon": ("Sarah",), "Tuan": ("Tony",),
    "Hung": ("Henry",), "Minh": ("Mike",), "Ngoc": ("Nancy",),
}

# --- Places -------------------------------------------------------------------------------------
