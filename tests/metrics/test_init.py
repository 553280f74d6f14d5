"""The emseg.metrics package: what it exports and what importing it costs."""
import emseg.metrics as metrics

# every public name of the one-module emseg.metrics before it became a package
BEFORE = ["BINARY_METRICS", "accuracy_from_confusion", "adjusted_rand_index", "ari_from_confusion",
          "average_precision", "binary_metrics", "check_labels", "check_mask", "check_positive_int",
          "check_same_shape", "compare_reports", "confusion_matrix", "dice_from_confusion",
          "format_report", "hd95", "iou_from_confusion", "math", "mean_iou", "np",
          "segmentation_report"]


def test_every_earlier_public_name_is_still_importable():
    missing = [name for name in BEFORE if not hasattr(metrics, name)]
    assert not missing, f"no longer importable from emseg.metrics: {missing}"
    assert all(hasattr(metrics, name) for name in metrics.__all__)
    assert "report_from_confusion" in metrics.__all__


def test_the_modules_hold_what_the_docstring_says():
    from emseg import report
    from emseg.metrics import binary, multiclass

    assert metrics.segmentation_report is multiclass.segmentation_report
    assert metrics.report_from_confusion is multiclass.report_from_confusion
    assert metrics.binary_metrics is binary.binary_metrics and metrics.hd95 is binary.hd95
    assert metrics.average_precision is binary.average_precision
    assert metrics.format_report is report.format_report
    assert metrics.compare_reports is report.compare_reports


def test_import_does_not_pull_in_data_module():
    import subprocess
    import sys
    code = "import sys, emseg.metrics; assert 'emseg.data' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)

