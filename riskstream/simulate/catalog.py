"""Static reference tables of the simulated bank: countries, cities, currencies, MCCs, names.

Everything here is plain data (tuples of literals) turned into numpy arrays once at import; the
tables are part of the output format (their order fixes the integer codes used in memory), so
append, never reorder.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CHANNELS",
    "CITIES",
    "COUNTRIES",
    "CURRENCIES",
    "FRAUD_TYPES",
    "MCCS",
    "TYPES",
]

# -- enumerations written as strings ------------------------------------------------------------

#: Channel codes (index = in-memory code).
CHANNELS: tuple[str, ...] = ("pos", "ecom", "atm", "transfer", "deposit")
POS, ECOM, ATM, TRANSFER, DEPOSIT = range(5)

#: Transaction types (index = in-memory code).
TYPES: tuple[str, ...] = ("purchase", "withdrawal", "transfer", "deposit", "refund")
PURCHASE, WITHDRAWAL, T_TRANSFER, T_DEPOSIT, REFUND = range(5)

#: Fraud scenario names; code 0 is "genuine", scenario k has code k.
FRAUD_TYPES: tuple[str, ...] = (
    "genuine",
    "card_testing",
    "account_takeover",
    "impossible_travel",
    "compromised_merchant",
    "spending_spree",
    "money_mule",
)

# -- currencies ----------------------------------------------------------------------------------

#: (ISO 4217 code, units per EUR (fixed synthetic rate), ATM note unit in that currency).
CURRENCIES: tuple[tuple[str, float, float], ...] = (
    ("EUR", 1.0, 10.0),
    ("GBP", 0.85, 10.0),
    ("CHF", 0.94, 20.0),
    ("USD", 1.08, 20.0),
    ("CNY", 7.8, 100.0),
    ("JPY", 160.0, 1000.0),
    ("THB", 38.0, 500.0),
    ("TRY", 35.0, 100.0),
    ("AED", 4.0, 50.0),
    ("BRL", 5.9, 50.0),
    ("NGN", 1650.0, 1000.0),
    ("RUB", 98.0, 1000.0),
    ("RON", 4.97, 50.0),
    ("MXN", 18.5, 100.0),
)
CURRENCY_CODES = tuple(c[0] for c in CURRENCIES)
EUR_TO = np.array([c[1] for c in CURRENCIES], dtype=np.float64)
ATM_UNIT = np.array([c[2] for c in CURRENCIES], dtype=np.float64)

# -- countries -----------------------------------------------------------------------------------

#: (ISO alpha-2, currency code, UTC offset in hours (standard time, no DST), synthetic IPv4 /8,
#:  weight as a travel destination, weight as an e-commerce merchant country, phone prefix,
#:  mobile national-number pattern (leading digits, total national digits)).
COUNTRIES: tuple[tuple[str, str, int, int, float, float, str, str, int], ...] = (
    ("DE", "EUR", 1, 84, 5.0, 25.0, "+49", "15", 11),
    ("FR", "EUR", 1, 90, 6.0, 15.0, "+33", "6", 9),
    ("NL", "EUR", 1, 145, 3.0, 10.0, "+31", "6", 9),
    ("ES", "EUR", 1, 88, 8.0, 8.0, "+34", "6", 9),
    ("IT", "EUR", 1, 93, 7.0, 8.0, "+39", "3", 10),
    ("AT", "EUR", 1, 178, 4.0, 0.0, "+43", "66", 11),
    ("BE", "EUR", 1, 81, 2.0, 0.0, "+32", "47", 9),
    ("PT", "EUR", 0, 85, 4.0, 0.0, "+351", "91", 9),
    ("IE", "EUR", 0, 86, 2.0, 8.0, "+353", "8", 9),
    ("GR", "EUR", 2, 94, 4.0, 0.0, "+30", "69", 10),
    ("GB", "GBP", 0, 82, 5.0, 5.0, "+44", "7", 10),
    ("CH", "CHF", 1, 83, 3.0, 0.0, "+41", "7", 9),
    ("US", "USD", -5, 54, 3.0, 6.0, "+1", "2", 10),
    ("CN", "CNY", 8, 115, 1.0, 2.0, "+86", "13", 11),
    ("JP", "JPY", 9, 126, 1.0, 0.0, "+81", "90", 10),
    ("TH", "THB", 7, 49, 2.0, 0.0, "+66", "8", 9),
    ("TR", "TRY", 3, 78, 3.0, 0.0, "+90", "5", 10),
    ("AE", "AED", 4, 176, 1.0, 0.0, "+971", "5", 9),
    ("BR", "BRL", -3, 177, 0.0, 0.0, "+55", "11", 11),
    ("NG", "NGN", 1, 105, 0.0, 0.0, "+234", "80", 10),
    ("RU", "RUB", 3, 95, 0.0, 0.0, "+7", "9", 10),
    ("RO", "RON", 2, 79, 0.0, 0.0, "+40", "7", 9),
    ("MX", "MXN", -6, 189, 0.0, 0.0, "+52", "55", 10),
)
COUNTRY_CODES = tuple(c[0] for c in COUNTRIES)
COUNTRY_CURRENCY = np.array([CURRENCY_CODES.index(c[1]) for c in COUNTRIES], dtype=np.int8)
COUNTRY_TZ = np.array([c[2] for c in COUNTRIES], dtype=np.int64)
COUNTRY_IP8 = np.array([c[3] for c in COUNTRIES], dtype=np.uint32)
COUNTRY_TRAVEL_W = np.array([c[4] for c in COUNTRIES], dtype=np.float64)
COUNTRY_ECOM_W = np.array([c[5] for c in COUNTRIES], dtype=np.float64)
#: Where fraudsters' devices and IPs appear to be (indices into COUNTRIES).
FRAUD_COUNTRIES = np.array(
    [COUNTRY_CODES.index(c) for c in ("NG", "RU", "BR", "RO", "US", "CN", "MX")], dtype=np.int16
)

# -- cities --------------------------------------------------------------------------------------

#: (name, country, lat, lon, weight as a home city (0: never home), radius in km).
CITIES: tuple[tuple[str, str, float, float, float, float], ...] = (
    ("Berlin", "DE", 52.5200, 13.4050, 10.0, 12.0),
    ("Hamburg", "DE", 53.5511, 9.9937, 5.0, 10.0),
    ("Munich", "DE", 48.1372, 11.5755, 5.0, 9.0),
    ("Cologne", "DE", 50.9375, 6.9603, 3.0, 8.0),
    ("Frankfurt", "DE", 50.1109, 8.6821, 3.0, 7.0),
    ("Paris", "FR", 48.8566, 2.3522, 10.0, 10.0),
    ("Lyon", "FR", 45.7640, 4.8357, 3.0, 7.0),
    ("Marseille", "FR", 43.2965, 5.3698, 3.0, 8.0),
    ("Amsterdam", "NL", 52.3676, 4.9041, 4.0, 7.0),
    ("Rotterdam", "NL", 51.9244, 4.4777, 2.0, 6.0),
    ("Madrid", "ES", 40.4168, -3.7038, 5.0, 10.0),
    ("Barcelona", "ES", 41.3851, 2.1734, 4.0, 8.0),
    ("Rome", "IT", 41.9028, 12.4964, 4.0, 10.0),
    ("Milan", "IT", 45.4642, 9.1900, 4.0, 8.0),
    ("Vienna", "AT", 48.2082, 16.3738, 0.0, 8.0),
    ("Brussels", "BE", 50.8503, 4.3517, 0.0, 7.0),
    ("Lisbon", "PT", 38.7223, -9.1393, 0.0, 7.0),
    ("Dublin", "IE", 53.3498, -6.2603, 0.0, 7.0),
    ("Athens", "GR", 37.9838, 23.7275, 0.0, 8.0),
    ("London", "GB", 51.5074, -0.1278, 0.0, 14.0),
    ("Zurich", "CH", 47.3769, 8.5417, 0.0, 6.0),
    ("New York", "US", 40.7128, -74.0060, 0.0, 14.0),
    ("Shanghai", "CN", 31.2304, 121.4737, 0.0, 15.0),
    ("Beijing", "CN", 39.9042, 116.4074, 0.0, 15.0),
    ("Tokyo", "JP", 35.6762, 139.6503, 0.0, 15.0),
    ("Bangkok", "TH", 13.7563, 100.5018, 0.0, 12.0),
    ("Istanbul", "TR", 41.0082, 28.9784, 0.0, 14.0),
    ("Dubai", "AE", 25.2048, 55.2708, 0.0, 12.0),
    ("Sao Paulo", "BR", -23.5505, -46.6333, 0.0, 15.0),
    ("Lagos", "NG", 6.5244, 3.3792, 0.0, 12.0),
    ("Moscow", "RU", 55.7558, 37.6173, 0.0, 15.0),
    ("Bucharest", "RO", 44.4268, 26.1025, 0.0, 8.0),
    ("Mexico City", "MX", 19.4326, -99.1332, 0.0, 15.0),
)
CITY_NAMES = tuple(c[0] for c in CITIES)
CITY_COUNTRY = np.array([COUNTRY_CODES.index(c[1]) for c in CITIES], dtype=np.int16)
CITY_LAT = np.array([c[2] for c in CITIES], dtype=np.float64)
CITY_LON = np.array([c[3] for c in CITIES], dtype=np.float64)
CITY_HOME_W = np.array([c[4] for c in CITIES], dtype=np.float64)
CITY_RADIUS_KM = np.array([c[5] for c in CITIES], dtype=np.float64)
#: The first city of each country: e-commerce merchants are "located" at their country's HQ city.
COUNTRY_HQ_CITY = np.array(
    [CITY_NAMES.index(next(c[0] for c in CITIES if c[1] == code)) for code in COUNTRY_CODES],
    dtype=np.int16,
)

# -- merchant category codes ---------------------------------------------------------------------

STORE, ATM_KIND, ONLINE = 0, 1, 2

#: (MCC, kind, weight within its kind, amount factor vs the customer's median, name words).
MCCS: tuple[tuple[str, int, float, float, tuple[str, ...]], ...] = (
    ("5411", STORE, 30.0, 1.4, ("Market", "Grocery", "Foods", "Supermarket")),
    ("5812", STORE, 12.0, 1.2, ("Bistro", "Trattoria", "Kitchen", "Brasserie")),
    ("5814", STORE, 10.0, 0.4, ("Burger", "Snack Bar", "Noodle Bar", "Cafe")),
    ("5813", STORE, 4.0, 0.9, ("Bar", "Pub", "Tavern")),
    ("5541", STORE, 7.0, 1.8, ("Fuel", "Tank Stop", "Petrol")),
    ("5912", STORE, 6.0, 0.7, ("Pharmacy", "Chemist")),
    ("5311", STORE, 4.0, 2.2, ("Department Store", "Galleria")),
    ("5651", STORE, 5.0, 2.5, ("Fashion", "Clothing", "Outfitters")),
    ("5732", STORE, 2.0, 5.0, ("Electronics", "Tech Store")),
    ("5944", STORE, 0.6, 7.0, ("Jewellers", "Gold & Watches")),
    ("4111", STORE, 5.0, 0.3, ("Transit", "Metro Tickets")),
    ("4121", STORE, 3.0, 0.9, ("Taxi", "Cabs")),
    ("5999", STORE, 5.0, 1.0, ("Shop", "Store", "Corner Shop")),
    ("7011", STORE, 2.0, 5.0, ("Hotel", "Inn")),
    ("6011", ATM_KIND, 1.0, 1.0, ("Bank ATM", "Cash Point")),
    ("5969", ONLINE, 5.0, 1.5, ("Shop Online", "Direct")),
    ("4899", ONLINE, 4.0, 0.5, ("Stream", "Play+")),
    ("5816", ONLINE, 3.0, 0.6, ("Games", "Arcade Online")),
    ("5942", ONLINE, 3.0, 0.9, ("Books", "Reads")),
    ("4722", ONLINE, 2.0, 8.0, ("Travel", "Trips")),
    ("5732", ONLINE, 3.0, 5.0, ("Tech Online", "Gadgets")),
    ("5311", ONLINE, 6.0, 2.0, ("Marketplace", "Mall Online")),
    ("5691", ONLINE, 4.0, 2.5, ("Wear", "Style Online")),
)
MCC_CODE = np.array([int(m[0]) for m in MCCS], dtype=np.int16)
MCC_KIND = np.array([m[1] for m in MCCS], dtype=np.int8)
MCC_WEIGHT = np.array([m[2] for m in MCCS], dtype=np.float64)
MCC_FACTOR = np.array([m[3] for m in MCCS], dtype=np.float64)
#: MCC rows a thief prefers (easy to resell), by code.
LOOT_MCCS = (5732, 5944, 5311, 5651)

NAME_PREFIXES: tuple[str, ...] = (
    "Golden", "Green", "Blue", "Central", "Corner", "Royal", "City", "Metro", "Park", "River",
    "Star", "Sun", "Lucky", "Old Town", "North", "South", "Harbor", "Garden", "Silver", "Maple",
    "Oak", "Urban", "Happy", "Bright", "Lotus", "Panda", "Alpine", "Coastal", "Prime", "Nova",
)  # fmt: skip

# -- people --------------------------------------------------------------------------------------

FIRST_NAMES_EN: tuple[str, ...] = (
    "Anna", "Lukas", "Marie", "Jan", "Sophie", "Paul", "Emma", "Luca", "Julia", "Felix",
    "Laura", "Max", "Lea", "Tom", "Clara", "Hugo", "Ines", "Marco", "Elena", "Pablo",
    "Sara", "Daan", "Eva", "Noah", "Chloe", "Louis", "Giulia", "Mateo", "Nina", "Oscar",
)  # fmt: skip
LAST_NAMES_EN: tuple[str, ...] = (
    "Schmidt", "Mueller", "Schneider", "Fischer", "Weber", "Martin", "Bernard", "Dubois",
    "Moreau", "de Vries", "Jansen", "Bakker", "Garcia", "Lopez", "Martinez", "Rossi", "Russo",
    "Ferrari", "Bianchi", "Wagner", "Becker", "Hoffmann", "Laurent", "Petit", "Visser",
    "Sanchez", "Romano", "Colombo", "Klein", "Wolf",
)  # fmt: skip
SURNAMES_ZH: tuple[str, ...] = (
    "王",
    "李",
    "张",
    "刘",
    "陈",
    "杨",
    "黄",
    "赵",
    "吴",
    "周",
    "徐",
    "孙",
)
GIVEN_ZH: tuple[str, ...] = (
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
    "明", "超", "秀", "霞", "平", "刚", "玲", "华", "婷",
)  # fmt: skip
