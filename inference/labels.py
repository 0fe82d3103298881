"""The two tasks and their default label lists (configs may override; bundles store their own)."""

STANCE = "stance"
SENTIMENT = "sentiment"
TASKS = (STANCE, SENTIMENT)  # per-actor tasks: one (sentence, actor) input
RELATION = "relation"  # directed dyad task: one (sentence, source, target) input

DEFAULT_LABELS: dict[str, list[str]] = {
    STANCE: ["cooperative", "adversarial", "neutral"],
    SENTIMENT: ["positive", "neutral", "negative"],
    RELATION: ["cooperative", "adversarial", "none"],
}
