"""The simulated account: mailboxes, their users and tags, derived from the seed."""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connector.simulator.settings import SimulatorSettings

logger = logging.getLogger(__name__)

_FIRST_NAMES = (
    "Emily", "Liam", "Priya", "Noah", "Olivia", "Arjun", "Sophie", "Mateo",
    "Chloe", "Hiroshi", "Amara", "Lucas", "Isla", "Ravi", "Hannah", "Diego",
    "Grace", "Kenji", "Zara", "Oscar", "Mia", "Tomas", "Leila", "Ethan",
)  # fmt: skip
_LAST_NAMES = (
    "Johnson", "Patel", "Nguyen", "Smith", "Garcia", "Kumar", "Brown", "Muller",
    "Tanaka", "Okafor", "Rossi", "Silva", "Walker", "Khan", "Dubois", "Larsen",
)  # fmt: skip
_MAILBOX_NAMES = (
    "Support", "Sales", "Billing", "Operations", "Claims", "Returns",
    "Partners", "Recruiting", "Facilities", "Legal", "Logistics", "Onboarding",
)  # fmt: skip
_TAGS = (("Priority", "Preset0"), ("Follow up", "Preset4"), ("VIP", "Preset10"))

UNKNOWN_USER_ID = "unknown"


@dataclass(frozen=True)
class User:
    """A member (current or past) of a mailbox.

    Attributes:
        index: Position in the mailbox's user list; events refer to it.
        joined_day: Proleptic ordinal of the first local day with activity.
        left_day: Ordinal of the first day without activity; None if active.
    """

    index: int
    user_id: str
    name: str
    email: str
    joined_day: int
    left_day: int | None

    @property
    def is_active(self) -> bool:
        """Whether the user is currently a member of the mailbox."""
        return self.left_day is None

    def works_on(self, day: int) -> bool:
        """Whether the user handles mail on local day `day` (an ordinal)."""
        return self.joined_day <= day and (self.left_day is None or day < self.left_day)


@dataclass(frozen=True)
class Mailbox:
    """A shared mailbox with its zone and users.

    Attributes:
        index: Position in the account; part of every event seed.
        closed_day: Ordinal of the first day without activity for an
            offboarded mailbox; None for an active one.
    """

    index: int
    mailbox_id: str
    name: str
    email: str
    time_zone: str
    zone: ZoneInfo
    users: tuple[User, ...]
    closed_day: int | None

    @property
    def is_active(self) -> bool:
        """Whether the mailbox is still onboarded."""
        return self.closed_day is None

    def user_by_id(self, user_id: str) -> User | None:
        """Returns the mailbox's user with this id, if any."""
        for user in self.users:
            if user.user_id == user_id:
                return user
        return None

    def to_json(self) -> dict[str, Any]:
        """Returns the mailbox as `GET /api/v1/admin/mailboxes` lists it."""
        return {
            "mailboxId": self.mailbox_id,
            "mailboxName": self.name,
            "mailboxEmail": self.email,
            "active": self.is_active,
            "timeZone": self.time_zone,
            "users": [
                {
                    "userId": u.user_id,
                    "userName": u.name,
                    "userEmail": u.email,
                    "active": u.is_active,
                }
                for u in self.users
            ],
            "tags": [
                {
                    "tagId": str(
                        uuid.uuid5(uuid.NAMESPACE_URL, f"{self.mailbox_id}/{n}")
                    ),
                    "tagName": n,
                    "tagColor": c,
                    "active": True,
                }
                for n, c in _TAGS
            ],
        }


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _build_users(rng: random.Random, count: int, first_day: int) -> tuple[User, ...]:
    users = []
    used: set[str] = set()
    for index in range(count):
        name = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"
        while name in used:
            name = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"
        used.add(name)

        # Roughly one user in five left some time ago, one in six joined late.
        joined = first_day
        left: int | None = None
        if index > 0 and rng.random() < 0.17:
            joined = first_day + rng.randint(30, 300)
        if index > 1 and rng.random() < 0.2:
            left = joined + rng.randint(60, 400)
        email = name.lower().replace(" ", ".") + "@company.example"
        users.append(User(index, _uuid(rng), name, email, joined, left))

    # Every mailbox has at least one inactive user, so that case always exists.
    if count > 2 and all(u.is_active for u in users):
        last = users[-1]
        users[-1] = User(
            last.index, last.user_id, last.name, last.email, last.joined_day,
            last.joined_day + 200,
        )  # fmt: skip
    return tuple(users)


def build_mailboxes(settings: SimulatorSettings) -> tuple[Mailbox, ...]:
    """Derives the account's mailboxes from the settings' seed.

    The last `inactive_mailbox_count` mailboxes are offboarded: listed with
    `active: false`, with activity that stopped some months after the start
    of history.
    """
    rng = random.Random(settings.seed)
    first_day = date.fromisoformat(settings.history_start).toordinal()
    mailboxes = []
    for index in range(settings.mailbox_count):
        zone_name = settings.time_zones[index % len(settings.time_zones)]
        base = _MAILBOX_NAMES[index % len(_MAILBOX_NAMES)]
        suffix = (
            ""
            if index < len(_MAILBOX_NAMES)
            else f" {index // len(_MAILBOX_NAMES) + 1}"
        )
        name = f"{base}{suffix}"
        mailbox_id = _uuid(rng)
        users = _build_users(rng, settings.users_per_mailbox, first_day)
        first_inactive = max(
            1, settings.mailbox_count - settings.inactive_mailbox_count
        )
        is_inactive = index >= first_inactive
        closed = first_day + 240 + 30 * index if is_inactive else None
        email = name.lower().replace(" ", "") + "@company.example"
        mailboxes.append(
            Mailbox(
                index, mailbox_id, name, email, zone_name, ZoneInfo(zone_name),
                users, closed,
            )
        )  # fmt: skip
    logger.info(
        "built %d mailboxes, first day %s",
        len(mailboxes),
        (date.min + timedelta(days=first_day - 1)).isoformat(),
    )
    return tuple(mailboxes)
