"""The two tasks and their default label lists (configs may override; bundles store their own)."""

STANCE = "stance"
SENTIMENT = "sentiment"
TASKS = (STANCE, SENTIMENT)

DEFAULT_LABELS: dict[str, list[str]] = {
    STANCE: ["cooperative", "adversarial", "neutral"],
    SENTIMENT: ["positive", "neutral", "negative"],
}
