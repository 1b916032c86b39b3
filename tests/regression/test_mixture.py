"""The latent class mixture (Gaussian and categorical margins, EM) against closed forms and peers."""

import numpy as np
import pytest
from scipy import stats
from sklearn.mixture import GaussianMixture

from analysis.errors import AnalysisError
from analysis.regression.mixture import PROBABILITY_CLIP, LatentClassMixture


def two_gaussians(seed=0, n=300):
    rng = np.random.default_rng(seed)
    cls = rng.random(n) < 0.4
    X = np.column_stack([rng.normal(np.where(cls, 3.0, 0.0), np.where(cls, 0.7, 1.2)),
                         rng.normal(np.where(cls, -2.0, 1.0), 1.0)])
    return X, cls


def test_continuous_only_equals_the_diagonal_gaussian_mixture_at_the_same_parameters():
    X, _ = two_gaussians()
    gm = GaussianMixture(2, covariance_type="diag", random_state=0).fit(X)
    m = LatentClassMixture(2, levels=[0, 0])
    m.weights_, m.means_, m.variances_, m.probabilities_ = (gm.weights_, gm.means_,
                                                           gm.covariances_, [])
    np.testing.assert_allclose(m.score_samples(X), gm.score_samples(X), rtol=1e-12)
    np.testing.assert_allclose(m.predict_proba(X), gm.predict_proba(X), atol=1e-12)


def test_continuous_only_fit_reaches_the_diagonal_gaussian_mixture_maximum():
    X, _ = two_gaussians()
    gm = GaussianMixture(2, covariance_type="diag", reg_covar=1e-9, tol=1e-10, max_iter=1000,
                         n_init=5, random_state=0).fit(X)
    m = LatentClassMixture(2, levels=[0, 0], min_variance=[1e-9, 1e-9], random_state=3).fit(X)
    assert m.converged_
    assert m.log_likelihood_ == pytest.approx(gm.score(X) * len(X), rel=1e-7)
    order = np.argsort(m.means_[:, 0])
    np.testing.assert_allclose(m.means_[order], gm.means_[np.argsort(gm.means_[:, 0])], atol=1e-4)
    # BIC: 1 weight + 2 x 2 means + 2 x 2 variances
    assert m.n_parameters_ == 9
    assert m.bic(X) == pytest.approx(gm.bic(X), rel=1e-7)


def test_categorical_m_step_is_the_weighted_frequencies():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 3, 50).astype(float)
    codes[[3, 7]] = np.nan  # missing values count for neither the numerator nor the denominator
    resp = rng.dirichlet([1.0, 1.0], 50)
    m = LatentClassMixture(2, levels=[3]).maximize(codes[:, None], resp)
    seen = ~np.isnan(codes)
    for c in range(2):
        w = resp[seen, c]
        expected = [w[codes[seen] == level].sum() / w.sum() for level in range(3)]
        np.testing.assert_allclose(m.probabilities_[0][c], expected, rtol=1e-12)
    np.testing.assert_allclose(m.weights_, resp.mean(axis=0))
    # and the categorical log density is the log of those probabilities
    dens = m.component_log_densities(codes[:, None])
    np.testing.assert_allclose(dens[0], np.log(m.probabilities_[0][:, int(codes[0])]))
    np.testing.assert_array_equal(dens[3], [0.0, 0.0])  # a missing value drops out


def test_gaussian_m_step_is_the_weighted_mean_and_variance_with_the_floor():
    rng = np.random.default_rng(2)
    x = rng.normal(size=40)
    resp = rng.dirichlet([1.0, 1.0], 40)
    m = LatentClassMixture(2, levels=[0], min_variance=[0.5]).maximize(x[:, None], resp)
    for c in range(2):
        mean = np.average(x, weights=resp[:, c])
        var = np.average((x - mean) ** 2, weights=resp[:, c])
        assert m.means_[c, 0] == pytest.approx(mean)
        assert m.variances_[c, 0] == pytest.approx(max(var, 0.5))


def test_missing_values_drop_out_of_the_likelihood():
    X, _ = two_gaussians()
    m = LatentClassMixture(2, levels=[0, 0]).fit(X)
    row = np.array([[X[0, 0], np.nan]])
    one = LatentClassMixture(2, levels=[0])
    one.weights_, one.means_, one.variances_, one.probabilities_ = (
        m.weights_, m.means_[:, :1], m.variances_[:, :1], [])
    np.testing.assert_allclose(m.score_samples(row), one.score_samples(row[:, :1]))
    expected = np.log(np.sum(m.weights_ * stats.norm.pdf(X[0, 0], m.means_[:, 0],
                                                          np.sqrt(m.variances_[:, 0]))))
    assert m.score_samples(row)[0] == pytest.approx(expected)


def test_mixed_data_recover_the_classes_and_count_parameters():
    rng = np.random.default_rng(3)
    cls = rng.integers(0, 3, 400)
    X = np.column_stack([
        rng.normal(np.array([0.0, 2.5, 5.0])[cls], 1.0),
        rng.random(400) < np.array([0.1, 0.9, 0.5])[cls],
        [rng.choice(3, p=p) for p in np.array([[.8, .1, .1], [.1, .8, .1], [.1, .1, .8]])[cls]],
    ]).astype(float)
    m = LatentClassMixture(3, levels=[0, 2, 3], random_state=0).fit(X)
    assert m.n_parameters_ == 2 + 3 * 2 + 3 * 1 + 3 * 2
    table = np.zeros((3, 3), int)
    np.add.at(table, (cls, m.predict(X)), 1)
    assert table.max(axis=1).sum() / 400 > 0.85
    np.testing.assert_allclose(m.predict_proba(X).sum(axis=1), 1)
    again = LatentClassMixture(3, levels=[0, 2, 3], random_state=0).fit(X)
    assert again.log_likelihood_ == m.log_likelihood_
    assert m.log_likelihood_ == pytest.approx(m.score_samples(X).sum())


def test_an_unseen_category_keeps_a_finite_likelihood():
    X = np.array([[0.0], [0.0], [1.0], [1.0]])
    m = LatentClassMixture(1, levels=[3]).fit(X)
    np.testing.assert_allclose(m.probabilities_[0], [[0.5, 0.5, 0.0]])
    assert m.score_samples(np.array([[2.0]]))[0] == pytest.approx(np.log(PROBABILITY_CLIP))


def test_the_floor_stops_a_class_collapsing_on_one_value():
    # half the rows share one value: an unfloored class would put an infinite density there
    x = np.r_[np.zeros(50), np.random.default_rng(4).normal(3, 1, 50)]
    m = LatentClassMixture(2, levels=[0], min_variance=[0.05], random_state=0).fit(x[:, None])
    assert m.variances_.min() == pytest.approx(0.05)
    assert np.isfinite(m.log_likelihood_)


def test_input_is_checked():
    with pytest.raises(AnalysisError, match="columns"):
        LatentClassMixture(2, levels=[0]).fit(np.zeros((5, 2)))
    with pytest.raises(AnalysisError, match="category codes"):
        LatentClassMixture(2, levels=[2]).fit(np.array([[0.0], [2.0], [1.0]]))
    with pytest.raises(AnalysisError, match="levels"):
        LatentClassMixture(2, levels=[1]).fit(np.zeros((5, 1)))
    with pytest.raises(AnalysisError, match="cannot be fitted"):
        LatentClassMixture(6, levels=[0]).fit(np.zeros((5, 1)))
    with pytest.raises(AnalysisError, match="min_variance"):
        LatentClassMixture(2, levels=[0], min_variance=[0.0]).fit(np.arange(6.0)[:, None])
    with pytest.raises(AnalysisError, match="fit"):
        LatentClassMixture(2, levels=[0]).predict(np.zeros((2, 1)))
