"""The history bench.scale reads: links made over two years, most of them paid, the same every time.

Everything follows from the seed: who made each link, in which chat, its description, status and
payment. Ids, PayerMax link ids and order numbers are unique by construction (bijections of the
row number), so rows can be written in bulk without asking the database.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.services.links import MERCHANT_LINK_PREFIX
from storage.models import LinkStatus, PaymentSource

ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # as bot.services.links.new_merchant_link_id
ID_LENGTH = 12
VALIDITY_SECONDS = 86_400
PEOPLE, GROUPS = 4_000, 1_500
PRIVATE_SHARE = 0.35  # links made in the creator's private chat; the rest in groups
PAID_SHARE, CANCELLED_SHARE = 0.62, 0.05
FIRST_USER_ID = 50_000_001
FIRST_GROUP_ID = -1_001_000_000_001

# (currency, country, weight, smallest and largest amount in whole units)
MARKETS = (
    ("IDR", "ID", 45, 10_000, 5_000_000),
    ("PHP", "PH", 15, 100, 50_000),
    ("THB", "TH", 10, 100, 30_000),
    ("USD", "US", 10, 1, 900),
    ("TRY", "TR", 8, 50, 20_000),
    ("SAR", "SA", 7, 10, 5_000),
    ("BRL", "BR", 5, 10, 4_000),
)
# (payment method, target org or card org, weight)
METHODS = (
    ("CARD", "VISA", 30),
    ("CARD", "MASTERCARD", 25),
    ("WALLET", "DANA", 12),
    ("WALLET", "GCASH", 10),
    ("WALLET", "OVO", 6),
    ("ONLINE_BANKING", "BCA", 9),
    ("VA", "MANDIRI", 8),
)

# Real words people write, in the markets the bot serves, most common first; accents on purpose.
PRODUCT_WORDS = """
    size order shirt shoes dress bag coffee cake set blue black white red deposit rice pack box
    baju celana sepatu kopi kue tas hijab batik kaos gamis jaket topi merah hitam putih biru
    camiseta vestido zapatos café pastel bolsa regalo azul negro blanco rojo café-crème crème
    brûlée jalapeño piñata açaí pão queijo sapato camisa presente tênis chinelo maçã ação
    gömlek ayakkabı çanta kahve pasta hediye mavi siyah beyaz kırmızı lokum çay börek şal
    straße größe blumen kuchen geschenk müsli überraschung façade naïve fiancé résumé
    wool cotton linen silk leather denim canvas ceramic bamboo rattan teak walnut
    phone case charger cable earbuds watch strap lamp candle soap shampoo serum lipstick
    tutoring lesson class workshop course ticket booking rental delivery shipping invoice
""".split()  # noqa: SIM905
SYLLABLES = "ka ri mo ta su ne lo pa vi do ze ku ma ti ra no be si la go fu he ya wi".split()  # noqa: SIM905
SYNTHETIC_WORDS = 2_600  # brand and model names: the long tail of rare words
SIZES = ("XS", "S", "M", "L", "XL", "XXL", "36", "38", "40", "42", "44", "2kg", "500g", "1L")


@dataclass(frozen=True)
class Shape:
    """How big the history is and when it ends."""

    links: int
    ends: datetime  # the newest link was made just before this
    seed: int = 2026
    days: int = 730

    @property
    def starts(self) -> datetime:
        """When the oldest link was made."""
        return self.ends - timedelta(days=self.days)


def vocabulary(seed: int) -> list[str]:
    """Every description word, most common first: the real words, then made-up brand names."""
    rng = random.Random(seed)
    synthetic: list[str] = []
    seen = set(PRODUCT_WORDS)
    while len(synthetic) < SYNTHETIC_WORDS:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(3, 4)))
        if word not in seen:
            seen.add(word)
            synthetic.append(word)
    return [*PRODUCT_WORDS, *synthetic]


def _zipf_weights(count: int, exponent: float) -> list[float]:
    """Cumulative weights of ranks 1..count under Zipf's law."""
    return list(itertools.accumulate(1.0 / (rank**exponent) for rank in range(1, count + 1)))


def _encode(number: int, alphabet: str, length: int) -> str:
    digits = []
    for _ in range(length):
        number, digit = divmod(number, len(alphabet))
        digits.append(alphabet[digit])
    return "".join(reversed(digits))


def merchant_link_id(row: int, seed: int) -> str:
    """Our id of link ``row``: the bot's shape (PL + 12 of 32 characters), distinct for every row."""
    space = len(ID_ALPHABET) ** ID_LENGTH  # 2**60: any odd multiplier is a bijection
    return MERCHANT_LINK_PREFIX + _encode((row * 0x9E3779B97F4A7C15 + seed) % space, ID_ALPHABET, ID_LENGTH)


def payermax_link_id(row: int, seed: int) -> str:
    """PayerMax's id of link ``row``, distinct for every row."""
    return "PM" + f"{(row * 7_919_000_003 + seed) % 10**18:018d}"  # multiplier coprime to 10


def out_trade_no(row: int, seed: int, paid_at: datetime) -> str:
    """The order number of payment ``row``, distinct for every row."""
    return f"T{paid_at:%Y%m%d}{(row * 1_000_003 + seed) % 10**12:012d}"


def user_id(person: int) -> int:
    """The Telegram id of person ``person`` (person 0 is the owner, the busiest)."""
    return FIRST_USER_ID + person


def group_id(group: int) -> int:
    """The Telegram id of group ``group`` (group 0 is the busiest)."""
    return FIRST_GROUP_ID - group


def person_name(person: int) -> str:
    """A readable name for person ``person``."""
    return "Owner" if person == 0 else f"Agent {person}"


@dataclass
class Rows:
    """A chunk of rows for the links and payments tables, as dicts of column values."""

    links: list[dict[str, Any]]
    payments: list[dict[str, Any]]


def chats() -> Iterator[dict[str, Any]]:
    """The chats links are made in: every person's private chat and every group."""
    for person in range(PEOPLE):
        yield {"id": user_id(person), "type": "private", "title": None}
    for group in range(GROUPS):
        yield {"id": group_id(group), "type": "supergroup", "title": f"Shop {group}"}


class History:
    """Generates the links and payments of a :class:`Shape` in id order, a chunk at a time."""

    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.words = vocabulary(shape.seed)
        self._word_weights = _zipf_weights(len(self.words), 1.0)
        self._people = list(range(PEOPLE))
        self._person_weights = _zipf_weights(PEOPLE, 1.1)
        self._groups = list(range(GROUPS))
        self._group_weights = _zipf_weights(GROUPS, 1.0)
        self._market_weights = list(itertools.accumulate(weight for _, _, weight, _, _ in MARKETS))
        self._method_weights = list(itertools.accumulate(weight for _, _, weight in METHODS))

    def chunks(self, size: int) -> Iterator[Rows]:
        """Every row, ``size`` links (with their payments) at a time."""
        rng = random.Random(self.shape.seed)
        payment_row = 0
        for first in range(0, self.shape.links, size):
            rows = Rows([], [])
            for row in range(first + 1, min(first + size, self.shape.links) + 1):
                link, payment = self._link(rng, row, payment_row + 1)
                rows.links.append(link)
                if payment is not None:
                    payment_row += 1
                    rows.payments.append(payment)
            yield rows

    def _description(self, rng: random.Random) -> str:
        words = rng.choices(self.words, cum_weights=self._word_weights, k=rng.randint(1, 4))
        text = " ".join(dict.fromkeys(words)).capitalize()  # a word once
        if rng.random() < 0.3:
            text += f", size {rng.choice(SIZES)}"
        if rng.random() < 0.15:
            text += f" x{rng.randint(2, 12)}"
        return text

    def _link(self, rng: random.Random, row: int, payment_row: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
        shape = self.shape
        span = shape.ends - shape.starts
        created = shape.starts + span * ((row - 1 + rng.random()) / shape.links)
        person = rng.choices(self._people, cum_weights=self._person_weights)[0]
        private = rng.random() < PRIVATE_SHARE
        chat = user_id(person) if private else group_id(rng.choices(self._groups, cum_weights=self._group_weights)[0])
        currency, country, _, low, high = rng.choices(MARKETS, cum_weights=self._market_weights)[0]
        amount = Decimal(rng.randint(low, high))
        chance = rng.random()
        age = shape.ends - created
        paid_at: datetime | None = None
        if chance < PAID_SHARE:
            status = LinkStatus.PAID
            paid_at = created + min(age, timedelta(seconds=VALIDITY_SECONDS)) * rng.random()
        elif chance < PAID_SHARE + CANCELLED_SHARE:
            status = LinkStatus.CANCELLED
        else:
            status = LinkStatus.ACTIVE if age < timedelta(seconds=VALIDITY_SECONDS) else LinkStatus.EXPIRED
        link = {
            "id": row,
            "merchant_link_id": merchant_link_id(row, shape.seed),
            "request_key": None,
            "chat_id": chat,
            "creator_user_id": user_id(person),
            "creator_name": person_name(person),
            "amount": amount,
            "currency": currency,
            "country": country,
            "language": "en",
            "description": self._description(rng),
            "expires_seconds": VALIDITY_SECONDS,
            "status": status.value,
            "sandbox": False,
            "payermax_link_id": payermax_link_id(row, shape.seed),
            "link_url": f"https://pay.example/{row}",
            "expires_at": created + timedelta(seconds=VALIDITY_SECONDS),
            "card_message_id": row,
            "created_at": created,
            "updated_at": paid_at or created,
            "paid_at": paid_at,
            "next_check_at": None,
        }
        if paid_at is None:
            return link, None
        method, org, _ = rng.choices(METHODS, cum_weights=self._method_weights)[0]
        card = method == "CARD"
        payment = {
            "id": payment_row,
            "link_id": row,
            "out_trade_no": out_trade_no(payment_row, shape.seed, paid_at),
            "trade_token": None,
            "status": "SUCCESS",
            "amount": amount,
            "currency": currency,
            "payment_method": method,
            "target_org": None if card else org,
            "card_org": org if card else None,
            "card_number": f"4111********{rng.randint(0, 9999):04d}" if card else None,
            "source": PaymentSource.PAYBYLINK.value,
            "completed_at": paid_at,
            "created_at": paid_at,
        }
        return link, payment


def words_ranked(words: Sequence[str], first: int, last: int) -> list[str]:
    """The vocabulary's words of ranks ``first``..``last`` (1 is the most common)."""
    return list(words[first - 1 : last])
