"""The spatial stream's deployable form: trunk maps then the TSN average, as one model on raw clips."""
import numpy as np

from course_utils import models, streams, training


def test_the_clip_model_equals_the_trunk_then_the_frame_average(tmp_path):
    backbone = models.build_backbone("mobilenet_v2", 32, None, alpha=0.35)
    trunk, stage = models.split_backbone(backbone, "mobilenet_v2")
    frame_model = models.frame_classifier(stage, models.classifier_head(int(stage.output_shape[-1]), 3))
    clips = np.random.default_rng(0).uniform(0, 255, (2, 4, 32, 32, 3)).astype(np.float32)

    maps = models.per_frame(trunk, (4, 32, 32, 3), "mobilenet_v2").predict(clips, verbose=0)
    expected = models.build_model("tsn", maps.shape[1:], 3, frame_model=frame_model).predict(maps, verbose=0)
    model = streams.clip_model(trunk, frame_model, 4, "mobilenet_v2")
    assert model.input_shape == (None, 4, 32, 32, 3)
    np.testing.assert_allclose(model.predict(clips, verbose=0), expected, atol=1e-5)

    saved = training.save_model(model, tmp_path / "spatial" / "best.keras")
    assert [p.name for p in saved.parent.iterdir()] == ["best.keras"]  # no temporary file left behind
    np.testing.assert_allclose(training.load_model(saved).predict(clips, verbose=0), expected, atol=1e-5)
