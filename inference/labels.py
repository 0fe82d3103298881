"""The two tasks and their default label lists (configs may override; bundles store their own)."""

STANCE = "stance"
SENTIMENT = "sentiment"
TASKS = (STANCE, SENTIMENT)  # per-actor tasks: one (sentence, actor) input
RELATION = "relation"  # directed dyad task: one (sentence, source, target) input



def no_relation(relation_labels: list[str]) -> str:
    """The relation label meaning "no relation": the last of the list, by the config's contract."""
    return relation_labels[-1]


def actor_tasks(labels) -> list[str]:
    """The per-actor tasks among a bundle's label lists (or task names), in their order."""
    return [task for task in labels if task in TASKS]


DEFAULT_LABELS: dict[str, list[str]] = {
    STANCE: ["cooperative", "adversarial", "neutral"],
    SENTIMENT: ["positive", "neutral", "negative"],
    RELATION: ["cooperative", "adversarial", "none"],
}
