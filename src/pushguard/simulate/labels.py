"""The ground truth a simulation writes beside its logs (``labels.json``), and its manifest."""

from __future__ import annotations

from pathlib import Path

import msgspec

from pushguard.model import InputError
from pushguard.simulate.rates import AttackRates, BenignRates


class CampaignLabel(msgspec.Struct, kw_only=True):
    id: str
    kind: str
    identity: str  # canonical, lower-case; ``ip:<address>`` for a spray
    provider: str
    source_ips: list[str]
    start: str  # RFC 3339, first record of the campaign
    end: str  # RFC 3339, last record
    techniques: list[str]
    event_ids: list[str]  # Okta uuid / Entra id / Duo txid (admin records: the parser's record_id)
    prompts: int  # push prompts the attacker caused
    prompt_times: list[str]  # RFC 3339, one per prompt
    targets: list[str] = []  # the accounts tried (spray)
    outcome: str = ""  # what the attacker got: access | none
    infrastructure: str = ""  # where the attacker came from: residential | local_vps | foreign
    # Events of the same operation that are not this campaign's own (the spray around a victim): a
    # finding on them only is related to the attack, neither a detection of this campaign nor a false
    # positive.
    context_event_ids: list[str] = []
    approved_prompt_at: str = ""  # RFC 3339: the first of the attacker's prompts that was approved


class BenignEpisode(msgspec.Struct, kw_only=True):
    """A stretch of ordinary life that looks like an attack (a flaky phone, a gateway abroad, a helpdesk
    reset): a false positive about ``identity`` inside ``start``..``end`` is put down to ``behaviour``."""

    identity: str  # canonical, lower-case; ``ip:<address>`` for a shared egress (office rush)
    behaviour: str  # e.g. missed_prompts, double_denial, far_gateway, office_rush, lost_phone_reset
    start: str  # RFC 3339, first record of the episode
    end: str  # RFC 3339, last record
    provider: str = ""  # the IdP it happened on ("" when several or none)


class Labels(msgspec.Struct, kw_only=True):
    seed: int
    users: int
    days: int  # scored days
    start: str  # RFC 3339, first scored day (UTC midnight)
    benign_users: list[str]  # people never targeted by a campaign (canonical identities)
    service_accounts: list[str]
    campaigns: list[CampaignLabel]
    history_days: int = 0  # days of ordinary life before ``start``, written under history/
    history_start: str = ""  # RFC 3339, first history day ("" without history)
    benign_episodes: list[BenignEpisode] = []  # look-alikes in the scored period (some began before it)
    benign_rates: BenignRates | None = None  # what this seed drew
    attack_rates: AttackRates | None = None
    # logins with an approved exception to MFA (a shared mailbox on IMAP): the operator's config lists them
    assurance_exceptions: list[str] = []


class Manifest(msgspec.Struct, kw_only=True):
    out_dir: str
    labels: Labels
    files: dict[str, int]  # log file (relative) → records

    @property
    def labels_path(self) -> Path:
        return Path(self.out_dir) / "labels.json"


LABELS_FILE = "labels.json"


def write_labels(path: Path, labels: Labels) -> None:
    path.write_bytes(msgspec.json.format(msgspec.json.encode(labels), indent=2) + b"\n")


def read_labels(path: Path) -> Labels:
    """The labels file, or an InputError naming it and what is wrong."""
    try:
        return msgspec.json.decode(path.read_bytes(), type=Labels)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (msgspec.DecodeError, RecursionError) as exc:
        raise InputError(f"{path}: not a labels file: {exc}") from None
