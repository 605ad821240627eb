"""监督查评 (center/sampling.py): the seeded per-window draw, repeatable for
audit whatever the row order, and the tablet/phone agreement per window."""
import random
from fractions import Fraction

import pytest
from hypothesis import given, settings, strategies as st

from center.sampling import (
    Agreement, Evaluated, SamplingError, Visit, WindowAgreement, as_share, compare, draw, draw_key,
    new_seed, sample_size, unconfirmed_good, window_agreement,
)


def ev(window, i, rating="satisfied", scale=3):
    return Evaluated(window, f"{window}-{i:05d}", scale, rating, case_no=f"CN{i}", ticket=f"A{i:03d}")


def population(counts, bad_every=7):
    return [ev(w, i, "dissatisfied" if i % bad_every == 0 else "satisfied")
            for w, n in counts.items() for i in range(n)]


# ------------------------------------------------------------------ the draw

def test_each_window_gets_its_share_rounded_up_and_at_least_one():
    d = draw(population({"01": 100, "02": 30, "03": 1, "04": 0}), seed=42, share=0.05)
    assert {w: len(c) for w, c in d.chosen.items()} == {"01": 5, "02": 2, "03": 1}
    assert d.population == {"01": 100, "02": 30, "03": 1}
    assert d.seed == 42 and d.share == Fraction(1, 20)


def test_sample_size_is_exact_for_decimal_shares():
    # 0.07 * 100 is 7.000000000000001 in floating point: that would draw 8
    assert sample_size(100, as_share(0.07)) == 7
    assert sample_size(100, as_share("0.29")) == 29
    assert sample_size(0, as_share(1)) == 0
    assert sample_size(3, as_share(0.01), min_per_window=5) == 3      # never more than all
    assert sample_size(10, as_share(0.01), min_per_window=0) == 1     # a share of something is ≥ 1


def test_good_ratings_are_drawn_too():
    d = draw(population({"01": 200}), seed=7, share=0.25)
    ratings = {e.rating for e in d.chosen["01"]}
    assert "satisfied" in ratings


def test_the_same_seed_and_records_give_the_same_draw_in_any_row_order():
    rows = population({"01": 80, "02": 40, "03": 9})
    first = draw(rows, seed=20261127, share=0.1)
    shuffled = rows[:]
    random.Random(1).shuffle(shuffled)
    assert draw(shuffled, seed=20261127, share=0.1) == first
    assert draw(rows, seed=20261128, share=0.1).chosen != first.chosen


def test_the_call_list_is_window_by_window():
    d = draw(population({"02": 10, "01": 10}), seed=3, share=0.2)
    assert [e.window_id for e in d.call_list()] == ["01", "01", "02", "02"]


def test_the_draw_is_pinned_for_audit():
    # Changing how keys are made would make old draws unrepeatable: this pins it.
    assert draw_key(1, "r1") == random.Random("1:r1").random() == 0.10799236012313473
    d = draw([ev("01", i) for i in range(10)], seed=1, share=0.2)
    assert [e.record_id for e in d.chosen["01"]] == sorted(
        sorted((f"01-{i:05d}" for i in range(10)), key=lambda r: draw_key(1, r))[:2])
    assert [e.record_id for e in d.chosen["01"]] == ["01-00007", "01-00009"]


def test_a_late_record_changes_a_window_only_at_its_edge():
    rows = population({"01": 100, "02": 50})
    before = draw(rows, seed=99, share=0.1)
    after = draw(rows + [ev("02", 777)], seed=99, share=0.1)
    assert after.chosen["01"] == before.chosen["01"]        # other windows untouched
    kept = set(before.chosen["02"]) & set(after.chosen["02"])
    assert len(kept) >= len(before.chosen["02"]) - 1


def test_bad_input_is_refused_with_the_reason():
    with pytest.raises(SamplingError, match="listed twice"):
        draw([ev("01", 1), ev("01", 1)], seed=1, share=0.1)
    for bad in (0, -0.1, 1.5, "abc", True):
        with pytest.raises(SamplingError, match="share"):
            draw([], seed=1, share=bad)
    for bad in (-1, 2 ** 63, "7", True, 1.5):
        with pytest.raises(SamplingError, match="seed"):
            draw([], seed=bad, share=0.1)
    with pytest.raises(SamplingError, match="min_per_window"):
        draw([], seed=1, share=0.1, min_per_window=-1)


def test_new_seeds_fit_the_column():
    seeds = {new_seed() for _ in range(20)}
    assert len(seeds) == 20 and all(1 <= s < 2 ** 63 for s in seeds)


ROWS = st.lists(st.tuples(st.sampled_from(["01", "02", "03", "07"]), st.integers(0, 10 ** 6)),
                max_size=120, unique_by=lambda t: t[1])


@settings(max_examples=150)
@given(ROWS, st.integers(0, 2 ** 63 - 1), st.sampled_from(["0.01", "0.05", "0.3", "1"]),
       st.integers(0, 3), st.randoms(use_true_random=False))
def test_draw_properties(rows, seed, share, minimum, rnd):
    items = [Evaluated(w, f"r{i}", 3, "satisfied") for w, i in rows]
    d = draw(items, seed=seed, share=share, min_per_window=minimum)
    shuffled = items[:]
    rnd.shuffle(shuffled)
    assert draw(shuffled, seed=seed, share=share, min_per_window=minimum) == d   # order never matters
    for w, n in d.population.items():
        got = d.chosen[w]
        assert len(got) == sample_size(n, as_share(share), minimum)
        assert len(set(got)) == len(got) and all(e.window_id == w for e in got)
        assert [e.record_id for e in got] == sorted(e.record_id for e in got)
        assert got                  # a window with records always gives at least one
    assert sum(d.population.values()) == len(items)


# --------------------------------------------------------------- agreement

def test_exact_and_class_agreement():
    A = Agreement
    assert compare(3, "satisfied", 3, "satisfied") == A(True, True, False)
    assert compare(3, "satisfied", 3, "basically_satisfied") == A(False, True, False)
    assert compare(5, "very_satisfied", 3, "satisfied") == A(False, True, False)
    assert compare(3, "satisfied", 3, "dissatisfied") == A(False, False, True)       # induced?
    assert compare(3, "dissatisfied", 3, "satisfied") == A(False, False, False)      # not induced
    assert compare(5, "very_dissatisfied", 3, "dissatisfied") == A(False, True, False)


def test_compare_refuses_a_level_not_on_the_scale():
    with pytest.raises(SamplingError, match="phone rating='very_satisfied'"):
        compare(3, "satisfied", 3, "very_satisfied")
    with pytest.raises(SamplingError, match="tablet scale=4"):
        compare(4, "satisfied", 3, "satisfied")


def visit(window, tablet, phone, reached=True, i=[0]):
    i[0] += 1
    return Visit(f"r{i[0]}", window, 3, tablet, reached, phone)


def test_per_window_agreement_counts():
    visits = [
        visit("01", "satisfied", "satisfied"),
        visit("01", "satisfied", "basically_satisfied"),
        visit("01", "satisfied", "dissatisfied"),
        visit("01", "dissatisfied", "satisfied"),
        visit("01", "satisfied", None, reached=False),
        visit("01", "satisfied", None),                 # reached, would not rate
        visit("02", "satisfied", "satisfied"),
    ]
    stats = window_agreement(visits)
    assert list(stats) == ["01", "02"]
    w = stats["01"]
    assert (w.visits, w.reached, w.rated, w.exact, w.agree, w.disagree, w.induced) == (6, 5, 4, 1, 2, 2, 1)
    assert (w.good_checked, w.good_confirmed) == (3, 2)
    assert w.rate == 0.5 and w.exact_rate == 0.25 and w.good_confirmed_rate == pytest.approx(2 / 3)
    assert stats["02"].rate == 1.0


def test_a_window_with_nothing_compared_has_no_rates():
    w = window_agreement([visit("01", "satisfied", None, reached=False)])["01"]
    assert w.rate is None and w.exact_rate is None and w.good_confirmed_rate is None
    assert not unconfirmed_good(w)


def test_a_rating_needs_a_reached_citizen_and_remarks_are_bounded():
    with pytest.raises(SamplingError, match="未联系上"):
        window_agreement([Visit("r", "01", 3, "satisfied", False, "satisfied")])
    with pytest.raises(SamplingError, match="备注过长"):
        window_agreement([Visit("r", "01", 3, "satisfied", True, None, remarks="x" * 501)])


def test_unconfirmed_good_ratings_flag_a_window():
    honest = WindowAgreement("01", good_checked=10, good_confirmed=9)
    induced = WindowAgreement("02", good_checked=10, good_confirmed=6)
    few = WindowAgreement("03", good_checked=3, good_confirmed=0)
    assert not unconfirmed_good(honest) and unconfirmed_good(induced) and not unconfirmed_good(few)
    assert unconfirmed_good(few, min_checked=3)


LEVEL3 = st.sampled_from(["satisfied", "basically_satisfied", "dissatisfied"])


@given(st.lists(st.tuples(st.sampled_from(["01", "02"]), LEVEL3, st.booleans(), st.one_of(st.none(), LEVEL3)),
                max_size=60))
def test_agreement_statistics_recomputed_from_the_raw_visits(raw):
    visits = [Visit(f"r{i}", w, 3, t, reached, p if reached else None)
              for i, (w, t, reached, p) in enumerate(raw)]
    stats = window_agreement(visits)
    for w, s in stats.items():
        mine = [v for v in visits if v.window_id == w]
        compared = [v for v in mine if v.reached and v.phone_rating]
        bad = {"dissatisfied"}
        assert s.visits == len(mine) and s.reached == sum(v.reached for v in mine)
        assert s.rated == len(compared) == s.agree + s.disagree
        assert s.agree == sum((v.tablet_rating in bad) == (v.phone_rating in bad) for v in compared)
        assert s.exact == sum(v.tablet_rating == v.phone_rating for v in compared)
        assert s.induced == sum(v.tablet_rating not in bad and v.phone_rating in bad for v in compared)
        assert s.good_checked - s.good_confirmed == s.induced
