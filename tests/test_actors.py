import pytest

from inference.actors import ActorDictionary
from inference.errors import ConfigError


@pytest.fixture
def dictionary(actors_dir):
    return ActorDictionary.from_paths([actors_dir])


def found(dictionary, text):
    return [(m.actor_id, m.text) for m in dictionary.find(text)]


def test_people_resolve_to_their_actor(dictionary):
    assert found(dictionary, "Lavrov and Kerry met.") == [("RUS", "Lavrov"), ("USA", "Kerry")]


def test_longest_match_wins(dictionary):
    text = "The Russian Federation said Sergey Lavrov would go."
    assert found(dictionary, text) == [("RUS", "Russian Federation"), ("RUS", "Sergey Lavrov")]


def test_word_boundaries_and_case(dictionary):
    assert found(dictionary, "Iranians and Iranian-backed groups; USA? us. Usability") == [("IRN", "Iranian")]
    assert found(dictionary, "RUSSIA WARNS NATO") == [("RUS", "RUSSIA"), ("NATO", "NATO")]
    assert found(dictionary, "the Kremlin said. The Kremlin said.") == [("RUS", "the Kremlin"), ("RUS", "The Kremlin")]


def test_mentions_carry_offsets(dictionary):
    text = "Fighting near Damascus; US-backed rebels advanced."
    for mention in dictionary.find(text):
        assert text[mention.start : mention.end] == mention.text


def test_ambiguous_alias_is_rejected(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "actors:\n  - {id: A, name: Alpha, type: state, aliases: [Georgia]}\n"
        "  - {id: B, name: Beta, type: state, aliases: [Georgia]}\n"
    )
    with pytest.raises(ConfigError, match="'Georgia' is given to both 'A' and 'B'"):
        ActorDictionary.from_paths([tmp_path])


def test_person_of_unknown_actor_is_rejected(tmp_path):
    (tmp_path / "a.yaml").write_text("people:\n  - {name: Nobody, actor: XYZ}\n")
    with pytest.raises(ConfigError, match="'XYZ' of 'Nobody' is not a known actor id"):
        ActorDictionary.from_paths([tmp_path])


def test_missing_path_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        ActorDictionary.from_paths([tmp_path / "nope"])


def test_title_words_between_mentions_of_one_actor_join_them(dictionary):
    assert found(dictionary, "Russian Foreign Minister Sergey Lavrov and US Secretary of State John Kerry met.") == [
        ("RUS", "Russian Foreign Minister Sergey Lavrov"), ("USA", "US Secretary of State John Kerry")
    ]
    # a conjunction or a lower-case word between them keeps two mentions
    assert found(dictionary, "Russia and Lavrov") == [("RUS", "Russia"), ("RUS", "Lavrov")]
    assert found(dictionary, "Russian troops and Lavrov") == [("RUS", "Russian"), ("RUS", "Lavrov")]


def test_ignored_phrases_hide_the_alias_inside_them(dictionary):
    assert found(dictionary, "Latin American leaders met American officials.") == [("USA", "American")]
