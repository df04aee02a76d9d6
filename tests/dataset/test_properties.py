"""Property tests: for random trajectories, labels and templates, the masks are exact.

Rows may be truncated (whole steps only). The oracle is independent of the builder's span logic: every turn's text carries a unique
marker (`S<n>K` for assistant text, `O<n>Q` for observations), so the trained text must show
the markers of exactly the trained steps and no observation, task or system marker.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srft.dataset.encoder import IGNORE_INDEX
from srft.dataset.policies import Decision

from .conftest import TEMPLATES, trajectory

# Text without the letters of `think`, so no random content forms a `</think>` tag.
_TEXT = st.text(alphabet="abcdefgxyz .,:;{}()[]<>/=\"'\n\t-éß中😀0123", max_size=30)


@st.composite
def turns(draw):
    n = draw(st.integers(min_value=1, max_value=6))
    out = []
    for i in range(n):
        turn = {"say": f"{draw(_TEXT)} S{i}K {draw(_TEXT)}"}
        if draw(st.booleans()):
            turn["think"] = f"R{i}V {draw(_TEXT)}"
        if draw(st.booleans()):
            turn["call"] = f"cmd{i} {draw(_TEXT)}"
        if i < n - 1 or draw(st.booleans()):
            turn["obs"] = f"O{i}Q {draw(_TEXT)}"
            if "call" not in turn or draw(st.booleans()):
                turn["obs_role"] = "user"
        out.append(turn)
    return out


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    spec=turns(),
    template=st.sampled_from(sorted(TEMPLATES)),
    mask_bits=st.lists(st.booleans(), min_size=6, max_size=6),
    max_length=st.one_of(st.just(10**6), st.integers(min_value=30, max_value=300)),
)
def test_masks_are_exact_for_random_trajectories_and_templates(
    encoders, tokenizer, spec, template, mask_bits, max_length
):
    traj = trajectory(spec, system="SYSMARK", task="TASKMARK")
    n = len(traj.steps)
    trained = tuple(not mask_bits[i] for i in range(n))
    decision = Decision(True, trained, ("good",) * n, "test")
    # encode() verifies the row (decode == rendered turn, labels, nothing stray) or raises
    encoded = encoders[template].encode(
        traj, decision, policy="test", max_length=max_length, overlong="truncate"
    )
    row = encoded.row
    if row is None:  # not even the first step with its observations fits
        assert encoded.skipped == "overlong"
        return
    ids, labels = row["input_ids"], row["labels"]
    kept = len(row["steps"])
    assert [s["index"] for s in row["steps"]] == list(range(kept))  # whole steps, from the start
    assert kept == n - encoded.truncated_steps and len(ids) <= max_length

    in_trained_spans = np.zeros(len(ids), dtype=bool)
    for step in row["steps"]:
        a, b = step["start"], step["end"]
        if step["trained"]:
            assert b > a, "a trained step without a trained token"
            in_trained_spans[a:b] = True
            assert np.array_equal(labels[a:b], ids[a:b])
        else:
            assert np.all(labels[a:b] == IGNORE_INDEX)
    assert np.array_equal(labels != IGNORE_INDEX, in_trained_spans)

    trained_text = tokenizer.decode(ids[labels != IGNORE_INDEX].tolist())
    for i in range(n):
        assert (f"S{i}K" in trained_text) == (trained[i] and i < kept)
        assert f"O{i}Q" not in trained_text
    assert "SYSMARK" not in trained_text and "TASKMARK" not in trained_text
