"""SMS texts per language (English and Chinese), with the amount formatted in its currency.

Amounts use grouping by thousands and the currency's minor units (two by default, none for
JPY and KRW). English writes the ISO code after the amount ("4,800.00 EUR"); Chinese writes
the currency's Chinese name where it is common ("4,800.00 欧元") and the ISO code otherwise.
A transaction without a merchant (a transfer) gets the transfer wording. An unknown
language falls back to the configured default.

Examples
--------
>>> format_amount(4800, "EUR", "en"), format_amount(4800, "EUR", "zh")
('4,800.00 EUR', '4,800.00 欧元')
>>> format_amount(120000, "JPY", "en")
'120,000 JPY'
>>> render("en", 4800, "EUR", "Shop X")
'Did you just pay 4,800.00 EUR at Shop X? Reply YES or NO.'
>>> render("zh", 4800, "EUR", "Shop X")
'您刚才是否在Shop X支付了4,800.00 欧元？请回复 YES（是）或 NO（否）。'
>>> render("fr", 25.5, "USD", None)
'Did you just make a transfer of 25.50 USD? Reply YES or NO.'
"""

from __future__ import annotations

__all__ = ["LANGUAGES", "TEMPLATES", "format_amount", "render"]

TEMPLATES: dict[str, dict[str, str]] = {
    "en": {
        "payment": "Did you just pay {amount} at {merchant}? Reply YES or NO.",
        "transfer": "Did you just make a transfer of {amount}? Reply YES or NO.",
    },
    "zh": {
        "payment": "您刚才是否在{merchant}支付了{amount}？请回复 YES（是）或 NO（否）。",
        "transfer": "您刚才是否转账{amount}？请回复 YES（是）或 NO（否）。",
    },
}
LANGUAGES: tuple[str, ...] = tuple(TEMPLATES)

_ZERO_DECIMALS = frozenset({"JPY", "KRW", "VND", "ISK", "CLP"})
_ZH_CURRENCY = {
    "EUR": "欧元",
    "USD": "美元",
    "CNY": "元",
    "GBP": "英镑",
    "JPY": "日元",
    "HKD": "港元",
    "CHF": "瑞士法郎",
    "SGD": "新加坡元",
}


def format_amount(amount: float, currency: str, language: str = "en") -> str:
    """The amount with thousands separators and the currency's decimals, then the currency."""
    decimals = 0 if currency in _ZERO_DECIMALS else 2
    number = f"{amount:,.{decimals}f}"
    name = _ZH_CURRENCY.get(currency, currency) if language == "zh" else currency
    return f"{number} {name}"


def render(
    language: str,
    amount: float,
    currency: str,
    merchant: str | None,
    default_language: str = "en",
) -> str:
    """The confirmation SMS text for one transaction, in ``language`` (or the default)."""
    if language not in TEMPLATES:
        language = default_language if default_language in TEMPLATES else "en"
    kind = "payment" if merchant else "transfer"
    return TEMPLATES[language][kind].format(
        amount=format_amount(amount, currency, language), merchant=merchant
    )
