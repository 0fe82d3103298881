"""Actor dictionary and mention finding.

A dictionary is a set of YAML files (`configs/actors/*.yaml`) with two lists:

```yaml
actors:   # states, organisations, armed groups
  - {id: RUS, name: Russia, type: state, aliases: [Russia, Russian, Moscow, the Kremlin]}
people:   # resolved to the actor they act for
  - {name: Sergey Lavrov, actor: RUS, role: foreign minister, years: [2004, null], aliases: [Lavrov]}
ignore:   # phrases that contain an alias but name no actor ("Latin American", "South China Sea")
  - Latin American
```

Matching is case-sensitive (an alias also matches with its first letter capitalised and in
all capitals, for sentence starts and headlines), word-bounded, and longest-first without overlaps,
on one Aho-Corasick automaton (pyahocorasick), so cost grows with text length, not dictionary size.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick
import yaml

from .errors import ConfigError

# libyaml's safe loader where PyYAML was built with it: the world dictionary loads in 0.1 s instead of 1.4 s
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Actor:
    id: str
    name: str
    type: str


@dataclass(frozen=True)
class Mention:
    actor_id: str
    start: int
    end: int
    text: str
    person: str | None = None


@dataclass
class ActorDictionary:
    actors: dict[str, Actor] = field(default_factory=dict)
    aliases: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # alias -> (actor id, person)
    ignored: set[str] = field(default_factory=set)  # consumed by longest match, then dropped
    _automaton: ahocorasick.Automaton | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ building

    def add_actor(self, actor: Actor, aliases: Iterable[str], source: str = "") -> None:
        if actor.id in self.actors and self.actors[actor.id] != actor:
            raise ConfigError(f"{source}: actor id {actor.id!r} defined twice with different name or type")
        self.actors[actor.id] = actor
        for alias in [actor.name, *aliases]:
            self._add_alias(alias, actor.id, None, source)

    def add_person(self, name: str, actor_id: str, aliases: Iterable[str], source: str = "") -> None:
        for alias in [name, *aliases]:
            self._add_alias(alias, actor_id, name, source)

    def _add_alias(self, alias: str, actor_id: str, person: str | None, source: str) -> None:
        alias = alias.strip()
        if not alias:
            raise ConfigError(f"{source}: empty alias for actor {actor_id!r}")
        previous = self.aliases.get(alias)
        if previous is not None and previous[0] != actor_id:
            raise ConfigError(
                f"{source}: alias {alias!r} is given to both {previous[0]!r} and {actor_id!r}; "
                "an alias must name one actor"
            )
        if previous is None or person is None:  # an actor's own alias wins over a person's
            self.aliases[alias] = (actor_id, person)
        self._automaton = None

    @classmethod
    def from_paths(cls, paths: Iterable[str | Path]) -> ActorDictionary:
        files: list[Path] = []
        for raw in paths:
            path = Path(raw)
            if path.is_dir():
                files.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")))
            elif path.is_file():
                files.append(path)
            else:
                raise ConfigError(f"actors.paths: {raw!r} does not exist (expected a YAML file or a directory)")
        if not files:
            raise ConfigError(f"actors.paths: no .yaml files found in {[str(p) for p in paths]}")
        dictionary = cls()
        people: list[tuple[dict, str]] = []
        for file in files:
            try:
                data = yaml.load(file.read_text(encoding="utf-8"), Loader=SAFE_LOADER) or {}
            except yaml.YAMLError as err:
                raise ConfigError(f"{file}: not valid YAML ({err})") from None
            if not isinstance(data, dict) or set(data) - {"actors", "people", "ignore"}:
                raise ConfigError(f"{file}: expected top-level keys 'actors', 'people' and/or 'ignore'")
            ignore = data.get("ignore") or []
            if not isinstance(ignore, list) or not all(isinstance(p, str) and p.strip() for p in ignore):
                raise ConfigError(f"{file}: 'ignore' must be a list of non-empty phrases")
            dictionary.ignored.update(p.strip() for p in ignore)
            dictionary._automaton = None
            for i, entry in enumerate(data.get("actors") or []):
                where = f"{file}: actors[{i}]"
                _require(entry, ("id", "name", "type"), where)
                dictionary.add_actor(
                    Actor(str(entry["id"]), str(entry["name"]), str(entry["type"])),
                    _aliases(entry, where),
                    where,
                )
            people.extend((entry, f"{file}: people[{i}]") for i, entry in enumerate(data.get("people") or []))
        for entry, where in people:  # after all actors, so a person may point to any file's actor
            _require(entry, ("name", "actor"), where)
            if entry["actor"] not in dictionary.actors:
                raise ConfigError(f"{where}: actor {entry['actor']!r} of {entry['name']!r} is not a known actor id")
            dictionary.add_person(str(entry["name"]), str(entry["actor"]), _aliases(entry, where), where)
        return dictionary

    # ------------------------------------------------------------------ matching

    def _build(self) -> ahocorasick.Automaton:
        automaton = ahocorasick.Automaton()
        for alias, (actor_id, person) in self.aliases.items():
            for variant in {alias, alias[0].upper() + alias[1:], alias.upper()}:
                existing = automaton.get(variant, None)
                if existing is None or variant == alias:  # exact spellings win over case variants
                    automaton.add_word(variant, (len(variant), actor_id, person))
        for phrase in self.ignored:
            automaton.add_word(phrase, (len(phrase), None, None))
        automaton.make_automaton()
        return automaton

    def find(self, text: str) -> list[Mention]:
        """All mentions in `text`, word-bounded, longest first, non-overlapping, in text order."""
        if not (self.aliases or self.ignored) or not text:
            return []
        if self._automaton is None:
            self._automaton = self._build()
        candidates = []
        for end_index, (length, actor_id, person) in self._automaton.iter(text):
            start, end = end_index - length + 1, end_index + 1
            if (start > 0 and _is_word(text[start - 1])) or (end < len(text) and _is_word(text[end])):
                continue
            candidates.append((start, end, actor_id, person))
        candidates.sort(key=lambda c: (c[0] - c[1], c[0]))  # longest first, then leftmost
        taken: list[tuple[int, int, str, str | None]] = []
        occupied = bytearray(len(text))
        for start, end, actor_id, person in candidates:
            if any(occupied[start:end]):
                continue
            occupied[start:end] = b"\x01" * (end - start)
            taken.append((start, end, actor_id, person))
        taken.sort()
        mentions = [Mention(a, s, e, text[s:e], p) for s, e, a, p in taken if a is not None]
        return _merge_titles(mentions, text)

    def name(self, actor_id: str) -> str:
        actor = self.actors.get(actor_id)
        return actor.name if actor else actor_id

    def type(self, actor_id: str) -> str:
        actor = self.actors.get(actor_id)
        return actor.type if actor else "unknown"


_TITLE_GAP = re.compile(r"^(?:\s+(?:[A-Z][\w.'-]*|of|the|for|and)){1,5}\s+$")


def _merge_titles(mentions: list[Mention], text: str) -> list[Mention]:
    """Join a mention and the next one of the same actor when only title words lie between them.

    "Russian Foreign Minister Sergey Lavrov" becomes one mention rather than "Russian" and
    "Sergey Lavrov", as annotators mark it in the corpus the model learns from.
    """
    merged: list[Mention] = []
    for mention in mentions:
        last = merged[-1] if merged else None
        if (last is not None and last.actor_id == mention.actor_id
                and _TITLE_GAP.match(text[last.end : mention.start])
                and not text[last.end : mention.start].strip().startswith("and")):
            merged[-1] = Mention(last.actor_id, last.start, mention.end, text[last.start : mention.end],
                                 mention.person or last.person)
        else:
            merged.append(mention)
    return merged


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _require(entry, keys: tuple[str, ...], where: str) -> None:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping, got {entry!r}")
    missing = [k for k in keys if not entry.get(k)]
    if missing:
        raise ConfigError(f"{where}: missing {', '.join(missing)} in {entry!r}")


def _aliases(entry: dict, where: str) -> list[str]:
    aliases = entry.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise ConfigError(f"{where}: aliases must be a list of strings, got {aliases!r}")
    return aliases
