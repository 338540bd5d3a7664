"""Hand-made motion measures of notebook 01: what they count and what they ignore."""
import numpy as np
import pytest

from course_utils import features


def _moving_square(frames: int = 12, size: int = 64, step: int = 2, noise: float = 0.0, seed: int = 0):
    """A bright square moving right on a grey background, with optional sensor noise."""
    rng = np.random.default_rng(seed)
    clip = np.full((frames, size, size), 90.0)
    for t in range(frames):
        clip[t, 24:40, 8 + step * t:24 + step * t] = 220
    clip += rng.normal(0, noise, clip.shape)
    return np.clip(clip, 0, 255).astype(np.uint8)


def test_naive_energy_counts_noise_the_robust_energy_does_not():
    still_noisy = np.repeat(_moving_square(step=0, noise=0)[:1], 12, axis=0).astype(np.float64)
    still_noisy = np.clip(still_noisy + np.random.default_rng(1).normal(0, 4, still_noisy.shape), 0, 255).astype(np.uint8)
    moving = _moving_square(noise=0)
    assert features.frame_difference_energy(still_noisy).mean() > 2.0  # noise alone looks like motion
    assert features.motion_energy(still_noisy).mean() < 0.1 * features.motion_energy(moving).mean()


def test_energy_of_a_reversed_clip_is_the_reversed_energy():
    clip = _moving_square()
    forward, backward = features.frame_difference_energy(clip), features.frame_difference_energy(clip[::-1])
    np.testing.assert_allclose(backward, forward[::-1])


def test_a_region_keeps_only_the_motion_inside_it():
    clip = _moving_square()
    nowhere = np.zeros(clip.shape, bool)
    everywhere = np.ones(clip.shape, bool)
    assert features.motion_energy(clip, region=nowhere).max() == 0
    np.testing.assert_allclose(features.motion_energy(clip, region=everywhere), features.motion_energy(clip))
    with pytest.raises(ValueError, match="region must be"):
        features.motion_energy(clip, region=everywhere[:-1])


def test_resampled_curves_of_any_length_compare():
    short, long = np.linspace(0, 1, 10), np.linspace(0, 1, 70)
    np.testing.assert_allclose(features.resample_curve(short, 16), features.resample_curve(long, 16))
    assert features.resample_curve(np.array([3.0]), 5).tolist() == [3.0] * 5
    with pytest.raises(ValueError):
        features.resample_curve(np.array([]), 5)
